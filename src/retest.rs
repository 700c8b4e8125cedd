//! Stage 4: the retest list. Every person in a positive, suspect or invalid tube is
//! listed once per round, under the tube whose action ranks first (report,
//! isolate_and_retest, retest, resample), the smallest tube_id on a tie. No I/O here.

use crate::classify::consequence;
use crate::ingest::roster::Roster;
use crate::order::sort_listed;
use crate::reconcile::Reconciled;
use crate::record::{Action, Micros};
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
    let flagged = |tube: &crate::reconcile::Tube| consequence(tube.class(), tube.size() as usize);
    // Sized for every member of a flagged tube: in an outbreak they are a tenth of a
    // city, and the table grown step by step spent as long rehashing as inserting.
    let members: usize = rec
        .tubes
        .iter()
        .filter(|tube| flagged(tube).is_some())
        .map(|tube| tube.size() as usize)
        .sum();
    let mut best: FxHashMap<(u32, u32), Entry> =
        FxHashMap::with_capacity_and_hasher(members, Default::default());
    // Tubes are in (round, tube_id) order, so the first tube seen wins a tie.
    for (t, tube) in rec.tubes.iter().enumerate() {
        let Some((action, reason)) = flagged(tube) else {
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
/// order, people not on the roster last ([`crate::order::listed_cmp`]).
pub fn sort<K: Ord>(list: &mut [Entry], roster: &Roster, shown: &(dyn Fn(u32) -> K + Sync)) {
    sort_listed(list, roster, shown, |e| (e.round, e.action), |e| e.person);
}
