//! Stage 4: the retest list. Every person in a positive, suspect or invalid tube is
//! listed once per round, under the tube whose action ranks first (report,
//! isolate_and_retest, retest, resample), the smallest tube_id on a tie. No I/O here.

use crate::classify::consequence;
use crate::ingest::roster::Roster;
use crate::order::listed_cmp;
use crate::reconcile::Reconciled;
use crate::record::{Action, Micros};
use rayon::slice::ParallelSliceMut;
use rustc_hash::FxHashMap;

/// One person to act on in one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Index into the rounds.
    pub round: u32,
    /// What to do.
    pub action: Action,
    /// Why, as the contract names it (`pool_positive`, …).
    pub reason: &'static str,
    /// The person key (see [`crate::reconcile::Member::person`]).
    pub person: u32,
    /// Index into [`Reconciled::tubes`].
    pub tube: u32,
    /// When the person was swabbed into that tube.
    pub sampled_at: Micros,
    /// Where, as an index into the sites (or [`crate::record::NONE`]).
    pub site: u32,
}

/// Builds the retest list, in no particular order (see [`sort`]).
pub fn retest_list(rec: &Reconciled) -> Vec<Entry> {
    // Tubes are in (round, tube_id) order, so the first tube seen wins a tie.
    let mut best: FxHashMap<(u32, u32), Entry> = FxHashMap::default();
    for (t, tube) in rec.tubes.iter().enumerate() {
        let Some((action, reason)) = consequence(tube.class(), tube.size() as usize) else {
            continue;
        };
        for m in rec.members_of(tube) {
            let entry = Entry {
                round: tube.round,
                action,
                reason,
                person: m.person,
                tube: t as u32,
                sampled_at: rec.set.samples[m.sample as usize].sampled_at,
                site: rec.set.site(&rec.set.samples[m.sample as usize]),
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
    best.into_values().collect()
}

/// Sorts the list by round, action, building, room and person_id as the outputs show
/// it (`shown`: with `--pseudonymize` the pseudonym's number), buildings and rooms in natural
/// order, people not on the roster last ([`listed_cmp`]).
pub fn sort<K: Ord>(list: &mut [Entry], roster: &Roster, shown: &(dyn Fn(u32) -> K + Sync)) {
    list.par_sort_unstable_by(|a, b| {
        a.round
            .cmp(&b.round)
            .then(a.action.cmp(&b.action))
            .then_with(|| listed_cmp(roster, shown, a.person, b.person))
    });
}
