//! `people.parquet`: every roster person in every round (on leave included) with their
//! outcome, the table a person's own result is looked up in and history is built
//! from. A city round has ten million rows a round, so the rows are made and written in
//! batches, never held as one table.

use super::columns::Column;
use super::parquet;
use super::rows::{person_outcome_columns, PersonRow};
use crate::closure::Closed;
use crate::error::Result;
use crate::ingest::roster::Roster;
use crate::order::roster_order;
use crate::privacy::Privacy;
use crate::reconcile::Reconciled;
use crate::record::{Class, Status, NONE};
use crate::retest::Entry;
use polars::prelude::DataFrame;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// Rows a batch: a row group of `people.parquet`.
const BATCH: usize = 1 << 20;

/// What a person's outcome in a round is made of.
pub struct People<'a> {
    roster: &'a Roster,
    rec: &'a Reconciled,
    list: &'a [Entry],
    privacy: &'a Privacy,
    /// Roster people in output order: building, room, person_id as shown.
    order: Vec<u32>,
    /// Each person's pseudonym, with `--pseudonymize`.
    pseudonyms: Option<Vec<u64>>,
    /// The retest-list entry of a (round, person), by index into `list`.
    entry_of: FxHashMap<(u32, u32), u32>,
}

impl<'a> People<'a> {
    /// Prepares the rows: sorts the roster by building, room and person_id (natural
    /// order; rooms missing last; the pseudonym with `--pseudonymize`).
    pub fn new(
        roster: &'a Roster,
        rec: &'a Reconciled,
        list: &'a [Entry],
        _closed: &Closed,
        privacy: &'a Privacy,
    ) -> People<'a> {
        let pseudonyms = privacy.pseudonymizes().then(|| {
            (0..roster.len() as u32)
                .into_par_iter()
                .map(|p| privacy.pseudonym_number(roster.id(p)))
                .collect::<Vec<u64>>()
        });
        let order = roster_order(roster, 1, |_| Some(0), pseudonyms.as_deref());
        let entry_of = list
            .iter()
            .enumerate()
            .filter(|(_, e)| e.person < rec.roster_len)
            .map(|(i, e)| ((e.round, e.person), i as u32))
            .collect();
        People {
            roster,
            rec,
            list,
            privacy,
            order,
            pseudonyms,
            entry_of,
        }
    }

    /// Whether two people got one pseudonym (a run stops then: choose another key).
    pub fn pseudonyms_collide(&self) -> bool {
        let Some(ps) = &self.pseudonyms else {
            return false;
        };
        let mut sorted = ps.clone();
        sorted.par_sort_unstable();
        sorted.windows(2).any(|w| w[0] == w[1])
    }

    /// How many rows the table has: every roster person in every round.
    pub fn rows(&self) -> usize {
        self.order.len() * self.rec.rounds().len()
    }

    /// The columns.
    pub fn columns() -> Vec<Column<PersonRow<'static>>> {
        person_outcome_columns()
    }

    /// Calls `write` with each batch of rows of round `round`, as a data frame, in order.
    /// The next batch is made while one is written.
    pub fn batches(
        &self,
        round: u32,
        mut write: impl FnMut(&DataFrame) -> Result<()> + Send,
    ) -> Result<()> {
        let columns = person_outcome_columns();
        if self.order.is_empty() {
            return write(&parquet::list_frame(&columns, &[])?);
        }
        let frame = |chunk: &[u32]| {
            let rows: Vec<PersonRow> = chunk.par_iter().map(|&p| self.row(round, p)).collect();
            parquet::list_frame(&columns, &rows)
        };
        let mut written: Option<DataFrame> = None;
        for chunk in self.order.chunks(BATCH) {
            let (next, done) = rayon::join(
                || frame(chunk),
                || written.as_ref().map_or(Ok(()), &mut write),
            );
            done?;
            written = Some(next?);
        }
        written.as_ref().map_or(Ok(()), &mut write)
    }

    /// The row of person `p` in `round`.
    fn row(&self, round: u32, p: u32) -> PersonRow<'a> {
        let (roster, rec) = (self.roster, self.rec);
        let status = roster.status[p as usize];
        let expected = status != Status::OnLeave;
        let first = rec.tube_of[round as usize][p as usize];
        let sampled = first != NONE;
        let entry = self
            .entry_of
            .get(&(round, p))
            .map(|&i| &self.list[i as usize]);
        let tube = entry
            .map(|e| e.tube)
            .or(sampled.then_some(first))
            .map(|t| &rec.tubes[t as usize]);
        let outcome = if entry.is_some() {
            "to_retest"
        } else if !expected {
            "on_leave"
        } else if !sampled {
            "missing"
        } else if tube.is_some_and(|t| t.class == Class::Pending) {
            "pending"
        } else {
            "negative"
        };
        let person_id = match &self.pseudonyms {
            Some(ps) => Cow::Owned(format!("{:016x}", ps[p as usize])),
            None => self.privacy.person_id(roster.id(p)),
        };
        PersonRow {
            round: &rec.rounds()[round as usize],
            person_id,
            building: roster.building_name(p),
            room: roster.room_name(p),
            status: status.as_str(),
            expected,
            sampled,
            tube_id: tube.map(|t| rec.tube_id(t)),
            tube_class: tube.map(|t| t.class.as_str()),
            outcome,
        }
    }
}
