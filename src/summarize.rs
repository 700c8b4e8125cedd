//! Stage 5: per-building figures and the missing list. No I/O here.

use crate::ingest::roster::Roster;
use crate::order::{natural_cmp, natural_cmp_opt};
use crate::reconcile::Reconciled;
use crate::record::{Class, Details, Status};
use crate::retest::Entry;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The figures of one building in one round (see the contract for each definition).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildingRow {
    /// Index into the rounds.
    pub round: u32,
    /// Index into [`Roster::buildings`].
    pub building: u32,
    /// People not on leave.
    pub expected: i64,
    /// People on leave.
    pub on_leave: i64,
    /// Expected people with at least one sample row.
    pub sampled: i64,
    /// Expected people without a sample row.
    pub missing: i64,
    /// sampled / expected, `None` when nobody is expected.
    pub coverage: Option<f64>,
    /// Distinct tubes holding at least one roster person of the building.
    pub tubes: i64,
    /// Those tubes by class.
    pub positive_tubes: i64,
    /// Suspect tubes.
    pub suspect_tubes: i64,
    /// Invalid tubes.
    pub invalid_tubes: i64,
    /// Tubes without a result.
    pub pending_tubes: i64,
    /// Negative tubes.
    pub negative_tubes: i64,
    /// Distinct roster persons of the building on the retest list.
    pub to_retest: i64,
    /// Persons of the building whose individual retest was positive.
    pub confirmed_positive: i64,
}

/// The per-building table: every roster building in every round, sorted by round then
/// building in natural order.
pub fn buildings(roster: &Roster, rec: &Reconciled, retests: &[Entry]) -> Vec<BuildingRow> {
    let nb = roster.buildings.len();
    let mut order: Vec<u32> = (0..nb as u32).collect();
    order.sort_by(|&a, &b| {
        natural_cmp(&roster.buildings[a as usize], &roster.buildings[b as usize])
    });
    // Expected and on-leave people do not depend on the round.
    let mut people = vec![(0i64, 0i64); nb];
    for (b, s) in roster.building.iter().zip(&roster.status) {
        let row = &mut people[*b as usize];
        if *s == Status::OnLeave {
            row.1 += 1;
        } else {
            row.0 += 1;
        }
    }
    let mut rows: Vec<Vec<BuildingRow>> = rec
        .sampled
        .par_iter()
        .enumerate()
        .map(|(round, sampled)| {
            let mut table: Vec<BuildingRow> = (0..nb)
                .map(|b| BuildingRow {
                    round: round as u32,
                    building: b as u32,
                    expected: people[b].0,
                    on_leave: people[b].1,
                    ..BuildingRow::default()
                })
                .collect();
            for ((b, s), was) in roster.building.iter().zip(&roster.status).zip(sampled) {
                if *was && *s != Status::OnLeave {
                    table[*b as usize].sampled += 1;
                }
            }
            for &p in &rec.confirmed[round] {
                table[roster.building[p as usize] as usize].confirmed_positive += 1;
            }
            table
        })
        .collect();
    // Tubes per building: each tube counts once for each building it holds people of.
    let mut seen: Vec<u32> = Vec::new();
    for tube in &rec.tubes {
        seen.clear();
        seen.extend(
            rec.members_of(tube)
                .iter()
                .filter(|m| m.person < rec.roster_len)
                .map(|m| roster.building[m.person as usize]),
        );
        seen.sort_unstable();
        seen.dedup();
        for &b in &seen {
            let row = &mut rows[tube.round as usize][b as usize];
            row.tubes += 1;
            *match tube.class {
                Class::Positive => &mut row.positive_tubes,
                Class::Suspect => &mut row.suspect_tubes,
                Class::Invalid => &mut row.invalid_tubes,
                Class::Pending => &mut row.pending_tubes,
                Class::Negative => &mut row.negative_tubes,
            } += 1;
        }
    }
    // The retest list holds each person once per round already.
    for e in retests {
        if e.person < rec.roster_len {
            rows[e.round as usize][roster.building[e.person as usize] as usize].to_retest += 1;
        }
    }
    let mut out = Vec::with_capacity(rec.sampled.len() * nb);
    for table in rows {
        for &b in &order {
            let mut row = table[b as usize].clone();
            row.missing = row.expected - row.sampled;
            row.coverage = (row.expected > 0).then(|| row.sampled as f64 / row.expected as f64);
            out.push(row);
        }
    }
    out
}

/// One expected person never sampled in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingEntry {
    /// Index into the rounds.
    pub round: u32,
    /// Index into the roster.
    pub person: u32,
}

/// The missing list (漏采): expected people without a sample row, in no particular
/// order (see [`sort_missing`]).
pub fn missing(roster: &Roster, rec: &Reconciled) -> Vec<MissingEntry> {
    let mut list = Vec::new();
    for (round, sampled) in rec.sampled.iter().enumerate() {
        for (i, (was, status)) in sampled.iter().zip(&roster.status).enumerate() {
            if !was && *status != Status::OnLeave {
                list.push(MissingEntry {
                    round: round as u32,
                    person: i as u32,
                });
            }
        }
    }
    list
}

/// Sorts the missing list by round, building, room and person_id as the outputs show
/// it (`shown`); `details` holds every listed person.
pub fn sort_missing<'a>(
    list: &mut [MissingEntry],
    roster: &Roster,
    details: &FxHashMap<u32, Details>,
    shown: &(dyn Fn(u32) -> &'a str + Sync),
) {
    let room = |p: u32| details.get(&p).and_then(|d| d.room.as_deref());
    list.par_sort_unstable_by(|a, b| {
        a.round
            .cmp(&b.round)
            .then_with(|| {
                natural_cmp(
                    roster.building_name(a.person),
                    roster.building_name(b.person),
                )
            })
            .then_with(|| natural_cmp_opt(room(a.person), room(b.person)))
            .then_with(|| shown(a.person).cmp(shown(b.person)))
    });
}
