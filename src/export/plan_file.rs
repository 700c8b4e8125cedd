//! `plan.parquet`, made from the plan's slots as Arrow arrays: building, room, kind and
//! status are dictionaries built from the codes the roster already holds (see
//! [`ArrowBatches`]); the other columns are those of [`plan_columns`], with the same
//! values as `plan.csv` and `plan.xlsx`, which are written from the plan's rows.

use super::parquet::{dictionary, list_frame, ArrayRef, ArrowBatches};
use super::rows::plan_columns;
use super::staging::Output;
use crate::assign::Slot;
use crate::error::Result;
use crate::ingest::roster::Roster;
use crate::privacy::Privacy;
use crate::record::{Status, NONE};
use polars_arrow::array::{BooleanArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray};
use rayon::prelude::*;
use std::borrow::Cow;

/// Rows a row group, as the other lists have them.
const BATCH: usize = 1 << 20;

/// The values of the kind column: a pooled tube, or a priority person's own.
const KINDS: [&str; 2] = ["pool", "single"];

/// Writes the plan of `slots` as `plan.parquet`.
pub fn write(out: &mut Output, roster: &Roster, slots: &[Slot], privacy: &Privacy) -> Result<()> {
    let mut file = ArrowBatches::new(out, &list_frame(&plan_columns(), &[])?)?;
    for batch in slots.chunks(BATCH) {
        file.write(&columns(roster, batch, privacy))?;
    }
    file.finish()
}

/// The columns of `slots`, in [`plan_columns`] order, made on the workers.
fn columns(roster: &Roster, slots: &[Slot], privacy: &Privacy) -> Vec<ArrayRef> {
    let n = slots.len();
    let person = |i: usize| slots[i].person as usize;
    let makers: Vec<Box<dyn Fn() -> ArrayRef + Sync + '_>> = vec![
        Box::new(|| {
            dictionary(
                n,
                roster.buildings.len(),
                |i| roster.building[person(i)],
                |b| &roster.buildings[b as usize],
            )
        }),
        Box::new(|| {
            PrimitiveArray::from_vec(slots.iter().map(|s| i64::from(s.tube)).collect()).boxed()
        }),
        Box::new(|| {
            dictionary(
                n,
                KINDS.len(),
                |i| u32::from(slots[i].single),
                |k| KINDS[k as usize],
            )
        }),
        Box::new(|| {
            PrimitiveArray::from_vec(slots.iter().map(|s| i64::from(s.position)).collect()).boxed()
        }),
        Box::new(|| strings(slots, |p| Some(privacy.person_id(roster.id(p))))),
        Box::new(|| strings(slots, |p| roster.name(p).map(|name| privacy.name(name)))),
        Box::new(|| {
            dictionary(
                n,
                roster.rooms.len(),
                |i| roster.room[person(i)],
                |r| &roster.rooms[r as usize],
            )
        }),
        Box::new(|| {
            let statuses = Status::ALL;
            dictionary(
                n,
                statuses.len(),
                |i| roster.status[person(i)] as u32,
                |s| statuses[s as usize].as_str(),
            )
        }),
        Box::new(|| {
            let priority: Vec<bool> = slots
                .iter()
                .map(|s| roster.priority[s.person as usize])
                .collect();
            BooleanArray::from_slice(priority).boxed()
        }),
        // The barcode is stuck on the printed plan: empty here.
        Box::new(|| dictionary(n, 0, |_| NONE, |_| "")),
    ];
    makers
        .par_iter()
        .with_max_len(1)
        .map(|make| make())
        .collect()
}

/// A string column of each slot's `value` (null for `None`).
fn strings<'a>(slots: &[Slot], value: impl Fn(u32) -> Option<Cow<'a, str>>) -> ArrayRef {
    let mut column = MutableBinaryViewArray::<str>::with_capacity(slots.len());
    for s in slots {
        column.push(value(s.person).as_deref());
    }
    let column: Utf8ViewArray = column.into();
    column.boxed()
}
