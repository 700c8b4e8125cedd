//! `poolscreen assign`: the sampling plan of a round, from the roster. A tube holds
//! people of one building only; each building uses ⌈n/K⌉ pooled tubes for its `n`
//! people to pool; people fill the tubes in room order (rooms in natural order, people
//! by person_id within a room), so roommates share a tube and a room of at most K
//! people is split over at most two tubes; people of a priority group (status
//! `isolated`, or a roster `group`) get a tube of their own, after the pools; people on
//! leave are left out. The same roster in any row order gives the same plan. No I/O
//! here.

use crate::ingest::roster::Roster;
use crate::order::roster_order;
use crate::record::Status;

/// One person's place in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The roster person.
    pub person: u32,
    /// The tube's number within its building, from 1: pools first, then singles.
    pub tube: u32,
    /// The person's place in the tube, from 1.
    pub position: u32,
    /// Whether the tube is a single tube (a priority person's).
    pub single: bool,
}

/// The plan's names of a tube's kind: a pooled tube, or a priority person's own.
pub const KINDS: [&str; 2] = ["pool", "single"];

impl Slot {
    /// The kind of the slot's tube, as the plan names it (one of [`KINDS`]).
    pub fn kind(&self) -> &'static str {
        KINDS[usize::from(self.single)]
    }
}

/// Where person `p` of `roster` goes in a plan: `None` when on leave (left out),
/// `Some(true)` into a tube of their own (a priority group), `Some(false)` into a pool.
pub fn own_tube(roster: &Roster, p: u32) -> Option<bool> {
    (roster.status[p as usize] != Status::OnLeave).then_some(roster.priority[p as usize])
}

/// The plan for pools of at most `k`, sorted by building (natural order), tube and
/// position.
pub fn assign(roster: &Roster, k: usize) -> Vec<Slot> {
    let k = k.max(1);
    // Within a building: the people to pool (in room order), then the priority people;
    // people on leave are left out.
    let people = roster_order(roster, 2, |p| own_tube(roster, p).map(u32::from), None);
    let mut slots = Vec::with_capacity(people.len());
    let mut start = 0;
    while start < people.len() {
        let b = roster.building.get(people[start] as usize);
        let mut end = start;
        while end < people.len() && roster.building.get(people[end] as usize) == b {
            end += 1;
        }
        let building = &people[start..end];
        let pooled = building
            .iter()
            .take_while(|&&p| !roster.priority[p as usize])
            .count();
        for (i, &person) in building[..pooled].iter().enumerate() {
            slots.push(Slot {
                person,
                tube: (i / k) as u32 + 1,
                position: (i % k) as u32 + 1,
                single: false,
            });
        }
        let tubes = pooled.div_ceil(k) as u32;
        for (i, &person) in building[pooled..].iter().enumerate() {
            slots.push(Slot {
                person,
                tube: tubes + i as u32 + 1,
                position: 1,
                single: true,
            });
        }
        start = end;
    }
    slots
}
