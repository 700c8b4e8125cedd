//! `plan.parquet`, made from the plan's slots as Arrow arrays: building, room, kind and
//! status are dictionaries built from the codes the roster already holds (see
//! [`ArrowBatches`]); the other columns are those of [`plan_columns`], with the same
//! values as `plan.csv` and `plan.xlsx`, read from the same [`Plan`].

use super::parquet::{
    booleans, dictionary, list_frame, on_workers, strings, ArrayRef, ArrowBatches, ROW_GROUP,
};
use super::people::{building_column, room_column, status_column};
use super::rows::{plan_columns, Plan};
use super::staging::Output;
use crate::assign::{Slot, KINDS};
use crate::error::Result;
use crate::record::NONE;
use polars_arrow::array::PrimitiveArray;
use std::borrow::Cow;

/// Writes `plan` as `plan.parquet`.
pub fn write(out: &mut Output, plan: &Plan) -> Result<()> {
    let mut file = ArrowBatches::new(out, &list_frame(&plan_columns(), &[])?)?;
    for from in (0..plan.slots().len()).step_by(ROW_GROUP) {
        file.write(&columns(plan, from))?;
    }
    file.finish()
}

/// The columns of a row group of `plan` from row `from`, in [`plan_columns`] order,
/// made on the workers.
fn columns(plan: &Plan, from: usize) -> Vec<ArrayRef> {
    let roster = plan.roster();
    let slots = &plan.slots()[from..plan.slots().len().min(from + ROW_GROUP)];
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
        Box::new(|| strings(n, |i| Some(plan.person_id(from + i).into()))),
        Box::new(|| strings(n, |i| plan.name(from + i).map(Cow::Borrowed))),
        Box::new(|| room_column(roster, n, person)),
        Box::new(|| status_column(n, |i| roster.status[person(i)])),
        Box::new(|| booleans(n, |i| roster.priority[person(i)])),
        // The barcode is stuck on the printed plan: empty here.
        Box::new(|| dictionary(n, 0, |_| NONE, |_| "")),
    ];
    on_workers(&makers)
}
