//! `people.parquet`: every roster person in every round (on leave included) with their
//! outcome, the table a person's own result is looked up in and history is built
//! from. A city round has ten million rows a round, so the rows are made and written in
//! batches, never held as one table.

use super::columns::Column;
use super::parquet::{self, dictionary, ArrayRef, ROW_GROUP};
use super::rows::{person_outcome_columns, PersonRow};
use crate::error::Result;
use crate::ingest::roster::Roster;
use crate::order::roster_order;
use crate::privacy::{pseudonym_text, Privacy};
use crate::reconcile::Reconciled;
use crate::record::{Class, Status, NONE};
use crate::retest::Entry;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// The values of the outcome column, by [`Outcome::outcome`].
const OUTCOMES: [&str; 5] = ["to_retest", "on_leave", "missing", "pending", "negative"];

/// The building column of `n` roster people, `person(i)` the i-th: a dictionary of the
/// roster's building names.
pub(super) fn building_column(
    roster: &Roster,
    n: usize,
    person: impl Fn(usize) -> usize,
) -> ArrayRef {
    dictionary(
        n,
        roster.buildings.len(),
        |i| roster.building.get(person(i)),
        |b| &roster.buildings[b as usize],
    )
}

/// The room column of `n` roster people, `person(i)` the i-th (null without a room); an
/// ID number typed into a room is masked, as in every list ([`Roster::room_shown`]).
pub(super) fn room_column(roster: &Roster, n: usize, person: impl Fn(usize) -> usize) -> ArrayRef {
    dictionary(
        n,
        roster.rooms.len(),
        |i| roster.room.get(person(i)),
        |r| roster.room_shown(r),
    )
}

/// The status column of `n` rows, `status(i)` the i-th.
pub(super) fn status_column(n: usize, status: impl Fn(usize) -> Status) -> ArrayRef {
    dictionary(
        n,
        Status::ALL.len(),
        |i| status(i) as u32,
        |s| Status::ALL[s as usize].as_str(),
    )
}

/// A person's row in a round, but for what the columns read from the roster.
struct Outcome {
    status: Status,
    sampled: bool,
    /// The tube shown: the retest list's, or the first the person was sampled into.
    tube: u32,
    /// Index into [`OUTCOMES`].
    outcome: u8,
}

/// What a person's outcome in a round is made of.
pub struct People<'a> {
    roster: &'a Roster,
    rec: &'a Reconciled,
    list: &'a [Entry],
    privacy: &'a Privacy,
    /// Roster people in output order: building, room, person_id as shown.
    order: Vec<u32>,
    /// Each person's pseudonym as a number, with `--pseudonymize`.
    pseudonyms: Option<&'a [u64]>,
    /// The retest-list entry of a (round, person), by index into `list`.
    entry_of: FxHashMap<(u32, u32), u32>,
    /// Whether a (round, person) has an entry, bit `round * roster + person`: a few in a
    /// thousand have one, so nearly every person is settled without a lookup.
    listed: Vec<u64>,
}

impl<'a> People<'a> {
    /// Prepares the rows: the roster by building, room and person_id (natural order;
    /// rooms missing last), as it numbers its people; sorted again by pseudonym within
    /// each room with `--pseudonymize` (`pseudonyms`: each roster person's, as a
    /// number, by person key).
    pub fn new(
        roster: &'a Roster,
        rec: &'a Reconciled,
        list: &'a [Entry],
        privacy: &'a Privacy,
        pseudonyms: Option<&'a [u64]>,
    ) -> People<'a> {
        // The roster numbers its people in this order already, unless the IDs shown
        // are pseudonyms.
        let order = match pseudonyms {
            Some(pseudonyms) => roster_order(roster, 1, |_| Some(0), Some(pseudonyms)),
            None => (0..roster.len() as u32).collect(),
        };
        let entry_of: FxHashMap<(u32, u32), u32> = list
            .iter()
            .enumerate()
            .filter(|(_, e)| e.person < rec.roster_len)
            .map(|(i, e)| ((e.round, e.person), i as u32))
            .collect();
        let mut listed = vec![0u64; (rec.rounds().len() * roster.len()).div_ceil(64)];
        for &(round, person) in entry_of.keys() {
            let bit = round as usize * roster.len() + person as usize;
            listed[bit / 64] |= 1 << (bit % 64);
        }
        People {
            roster,
            rec,
            list,
            privacy,
            order,
            pseudonyms,
            entry_of,
            listed,
        }
    }

    /// Each roster person's pseudonym as a number (shown as 16 hex digits), by person
    /// key, with `--pseudonymize`.
    pub fn pseudonyms(&self) -> Option<&[u64]> {
        self.pseudonyms
    }

    /// Whether a round's person_ids are all distinct, as shown.
    pub fn shows_distinct_ids(&self) -> bool {
        self.privacy.shows_distinct_ids()
    }

    /// How many rows the table has: every roster person in every round.
    pub fn rows(&self) -> usize {
        self.order.len() * self.rec.rounds().len()
    }

    /// The columns: the file's names and types; [`People::batches`] gives their values
    /// in this order.
    pub fn columns() -> Vec<Column<PersonRow<'static>>> {
        person_outcome_columns()
    }

    /// Calls `write` with each batch of rows of round `round`, in order, as Arrow
    /// arrays in the order of [`People::columns`]: strings with few values (round,
    /// building, room, status, tube, class, outcome) as dictionaries of the values the
    /// batch uses, in order of first use. The next batch is made while one is written.
    /// An empty roster gives no batch: the file then has its columns and no row group.
    pub fn batches(
        &self,
        round: u32,
        write: impl FnMut(&[ArrayRef]) -> Result<()> + Send,
    ) -> Result<()> {
        parquet::pipelined(
            self.order.chunks(ROW_GROUP),
            |chunk| self.batch(round, chunk),
            write,
        )
    }

    /// The columns of `people` in `round`.
    fn batch(&self, round: u32, people: &[u32]) -> Vec<ArrayRef> {
        let (roster, rec) = (self.roster, self.rec);
        let rows: Vec<Outcome> = people.par_iter().map(|&p| self.outcome(round, p)).collect();
        let n = rows.len();
        let tube_code = |i: usize| {
            let t = rows[i].tube;
            if t == NONE {
                NONE
            } else {
                rec.tubes[t as usize].tube_id
            }
        };
        let class_code = |i: usize| {
            let t = rows[i].tube;
            if t == NONE {
                NONE
            } else {
                rec.tubes[t as usize].class() as u32
            }
        };
        let person = |i: usize| people[i] as usize;
        let makers: Vec<Box<dyn Fn() -> ArrayRef + Sync + '_>> = vec![
            Box::new(|| dictionary(n, 1, |_| 0, |_| &rec.rounds()[round as usize])),
            Box::new(|| {
                parquet::strings(n, |i| {
                    Some(match &self.pseudonyms {
                        Some(ps) => Cow::Owned(pseudonym_text(ps[person(i)])),
                        None => self.privacy.person_id(roster.id(people[i])),
                    })
                })
            }),
            Box::new(|| building_column(roster, n, person)),
            Box::new(|| room_column(roster, n, person)),
            Box::new(|| status_column(n, |i| rows[i].status)),
            Box::new(|| parquet::booleans(n, |i| rows[i].status != Status::OnLeave)),
            Box::new(|| parquet::booleans(n, |i| rows[i].sampled)),
            Box::new(|| dictionary(n, rec.set.tubes.len(), tube_code, |t| rec.set.tubes.name(t))),
            Box::new(|| {
                dictionary(n, Class::ALL.len(), class_code, |c| {
                    Class::ALL[c as usize].as_str()
                })
            }),
            Box::new(|| {
                dictionary(
                    n,
                    OUTCOMES.len(),
                    |i| rows[i].outcome as u32,
                    |o| OUTCOMES[o as usize],
                )
            }),
        ];
        parquet::on_workers(&makers)
    }

    /// The outcome of person `p` in `round`.
    fn outcome(&self, round: u32, p: u32) -> Outcome {
        let (roster, rec) = (self.roster, self.rec);
        let status = roster.status[p as usize];
        let first = rec.tube_of[round as usize][p as usize];
        let sampled = first != NONE;
        let bit = round as usize * roster.len() + p as usize;
        let entry = (self.listed[bit / 64] >> (bit % 64) & 1 == 1)
            .then(|| self.entry_of.get(&(round, p)))
            .flatten()
            .map(|&i| &self.list[i as usize]);
        let tube = entry.map_or(first, |e| e.tube);
        let outcome = if entry.is_some() {
            0
        } else if status == Status::OnLeave {
            1
        } else if !sampled {
            2
        } else if tube != NONE && rec.tubes[tube as usize].class() == Class::Pending {
            3
        } else {
            4
        };
        Outcome {
            status,
            sampled,
            tube,
            outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_are_those_the_batches_give() {
        let columns = People::columns();
        let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "round",
                "person_id",
                "building",
                "room",
                "status",
                "expected",
                "sampled",
                "tube_id",
                "tube_class",
                "outcome"
            ]
        );
    }
}
