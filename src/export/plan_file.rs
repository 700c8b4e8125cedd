//! `plan.parquet`, made from the plan's slots as Arrow arrays: building, room, kind and
//! status are dictionaries built from the codes the roster already holds (see
//! [`ArrowBatches`]); the other columns are those of [`plan_columns`], with the same
//! values as `plan.csv` and `plan.xlsx`, which are written from the plan's rows.

use super::parquet::{
    booleans, dictionary, list_frame, on_workers, strings, ArrayRef, ArrowBatches, ROW_GROUP,
};
use super::people::{building_column, room_column, status_column};
use super::rows::plan_columns;
use super::staging::Output;
use crate::assign::Slot;
use crate::error::Result;
use crate::ingest::roster::Roster;
use crate::privacy::{guard_ids, Privacy};
use crate::record::NONE;
use polars_arrow::array::PrimitiveArray;

/// The values of the kind column: a pooled tube, or a priority person's own.
const KINDS: [&str; 2] = ["pool", "single"];

/// Writes the plan of `slots` as `plan.parquet`.
pub fn write(out: &mut Output, roster: &Roster, slots: &[Slot], privacy: &Privacy) -> Result<()> {
    let mut file = ArrowBatches::new(out, &list_frame(&plan_columns(), &[])?)?;
    for batch in slots.chunks(ROW_GROUP) {
        file.write(&columns(roster, batch, privacy))?;
    }
    file.finish()
}

/// The columns of `slots`, in [`plan_columns`] order, made on the workers.
fn columns(roster: &Roster, slots: &[Slot], privacy: &Privacy) -> Vec<ArrayRef> {
    let n = slots.len();
    let person = |i: usize| slots[i].person as usize;
    let number = |value: fn(&Slot) -> u32| {
        PrimitiveArray::from_vec(slots.iter().map(|s| i64::from(value(s))).collect()).boxed()
    };
    let makers: Vec<Box<dyn Fn() -> ArrayRef + Sync + '_>> = vec![
        Box::new(|| building_column(roster, n, person)),
        Box::new(|| number(|s| s.tube)),
        Box::new(|| {
            dictionary(
                n,
                KINDS.len(),
                |i| u32::from(slots[i].single),
                |k| KINDS[k as usize],
            )
        }),
        Box::new(|| number(|s| s.position)),
        Box::new(|| strings(n, |i| Some(privacy.person_id(roster.id(slots[i].person))))),
        Box::new(|| {
            strings(n, |i| {
                roster
                    .name(slots[i].person)
                    .map(|name| guard_ids(privacy.name(name)))
            })
        }),
        Box::new(|| room_column(roster, n, person)),
        Box::new(|| status_column(n, |i| roster.status[person(i)])),
        Box::new(|| booleans(n, |i| roster.priority[person(i)])),
        // The barcode is stuck on the printed plan: empty here.
        Box::new(|| dictionary(n, 0, |_| NONE, |_| "")),
    ];
    on_workers(&makers)
}
