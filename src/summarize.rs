//! Stage 5: per-building figures and the missing list. No I/O here.

use crate::order::{natural_cmp, natural_cmp_opt};
use crate::reconcile::Reconciled;
use crate::record::{Class, Roster, Status};
use crate::retest::Entry;
use rayon::slice::ParallelSliceMut;

/// The figures of one building in one round (see the contract for each definition).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildingRow {
    /// Index into [`Reconciled::rounds`].
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
    let mut rows = Vec::with_capacity(rec.rounds.len() * nb);
    for round in 0..rec.rounds.len() {
        let mut table = vec![BuildingRow::default(); nb];
        for (b, row) in table.iter_mut().enumerate() {
            row.round = round as u32;
            row.building = b as u32;
        }
        let sampled = &rec.sampled[round];
        for (i, p) in roster.people.iter().enumerate() {
            let row = &mut table[p.building as usize];
            if p.status == Status::OnLeave {
                row.on_leave += 1;
            } else {
                row.expected += 1;
                row.sampled += sampled[i] as i64;
            }
        }
        for &p in &rec.confirmed[round] {
            table[roster.people[p as usize].building as usize].confirmed_positive += 1;
        }
        rows.push(table);
    }
    // Tubes per building: each tube counts once for each building it holds people of.
    let mut seen: Vec<u32> = Vec::new();
    for tube in &rec.tubes {
        seen.clear();
        seen.extend(
            tube.members
                .iter()
                .filter(|m| m.person < rec.roster_len)
                .map(|m| roster.people[m.person as usize].building),
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
            rows[e.round as usize][roster.people[e.person as usize].building as usize].to_retest +=
                1;
        }
    }
    let mut out = Vec::with_capacity(rec.rounds.len() * nb);
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
    /// Index into [`Reconciled::rounds`].
    pub round: u32,
    /// Index into [`Roster::people`].
    pub person: u32,
}

/// The missing list (漏采): expected people without a sample row, sorted by round,
/// building, room and person_id.
pub fn missing(roster: &Roster, rec: &Reconciled) -> Vec<MissingEntry> {
    let mut list = Vec::new();
    for (round, sampled) in rec.sampled.iter().enumerate() {
        for (i, p) in roster.people.iter().enumerate() {
            if p.status != Status::OnLeave && !sampled[i] {
                list.push(MissingEntry {
                    round: round as u32,
                    person: i as u32,
                });
            }
        }
    }
    list.par_sort_unstable_by(|a, b| {
        let (pa, pb) = (
            &roster.people[a.person as usize],
            &roster.people[b.person as usize],
        );
        a.round
            .cmp(&b.round)
            .then_with(|| {
                natural_cmp(
                    &roster.buildings[pa.building as usize],
                    &roster.buildings[pb.building as usize],
                )
            })
            .then_with(|| natural_cmp_opt(pa.room.as_deref(), pb.room.as_deref()))
            .then_with(|| pa.id.cmp(&pb.id))
    });
    list
}
