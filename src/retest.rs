//! Stage 4: the retest list. Every person in a positive, suspect or invalid tube is
//! listed once per round, under the tube whose action ranks first (report,
//! isolate_and_retest, retest, resample), the smallest tube_id on a tie. No I/O here.

use crate::classify::consequence;
use crate::order::natural_cmp_opt;
use crate::reconcile::Reconciled;
use crate::record::{Action, Roster};
use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

/// One person to act on in one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Index into [`Reconciled::rounds`].
    pub round: u32,
    /// What to do.
    pub action: Action,
    /// Why, as the contract names it (`pool_positive`, …).
    pub reason: &'static str,
    /// The person key (see [`crate::reconcile::Member::person`]).
    pub person: u32,
    /// Index into [`Reconciled::tubes`].
    pub tube: u32,
    /// Index into [`Reconciled::samples`] of the person's row in that tube.
    pub sample: u32,
}

/// Builds the retest list, sorted by round, action, building, room and person_id
/// (buildings and rooms in natural order, people not on the roster last).
pub fn retest_list(roster: &Roster, rec: &Reconciled) -> Vec<Entry> {
    // Tubes are in (round, tube_id) order, so the first tube seen wins a tie.
    let mut best: FxHashMap<(u32, u32), Entry> = FxHashMap::default();
    for (t, tube) in rec.tubes.iter().enumerate() {
        let Some((action, reason)) = consequence(tube.class, tube.members.len()) else {
            continue;
        };
        for m in &tube.members {
            let entry = Entry {
                round: tube.round,
                action,
                reason,
                person: m.person,
                tube: t as u32,
                sample: m.sample,
            };
            best.entry((tube.round, m.person))
                .and_modify(|e| {
                    if action < e.action {
                        *e = entry;
                    }
                })
                .or_insert(entry);
        }
    }
    let mut list: Vec<Entry> = best.into_values().collect();
    let person = |key: u32| (key < rec.roster_len).then(|| &roster.people[key as usize]);
    list.par_sort_unstable_by(|a, b| {
        let (pa, pb) = (person(a.person), person(b.person));
        a.round
            .cmp(&b.round)
            .then(a.action.cmp(&b.action))
            .then_with(|| {
                natural_cmp_opt(
                    pa.map(|p| &*roster.buildings[p.building as usize]),
                    pb.map(|p| &*roster.buildings[p.building as usize]),
                )
            })
            .then_with(|| {
                natural_cmp_opt(
                    pa.and_then(|p| p.room.as_deref()),
                    pb.and_then(|p| p.room.as_deref()),
                )
            })
            .then_with(|| {
                rec.person_id(roster, a.person)
                    .cmp(rec.person_id(roster, b.person))
            })
    });
    list
}
