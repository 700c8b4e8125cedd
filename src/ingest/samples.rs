//! The samples file (采样记录): one row per person swabbed into a tube.

use super::header::ColumnSpec;
use super::values::{self, MAX_PERSON_ID, MAX_TUBE_ID};
use super::Row;
use crate::record::Sample;

const TUBE_ID: usize = 0;
const PERSON_ID: usize = 1;
const SAMPLED_AT: usize = 2;
const ROUND: usize = 3;
const SITE: usize = 4;

/// The aliases of `tube_id`, shared with the results and retests files.
pub const TUBE_ALIASES: &[&str] = &["试管编号", "试管条码", "试管码", "管码", "混管码"];

/// The samples file's columns.
pub const COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec {
        name: "tube_id",
        aliases: TUBE_ALIASES,
        required: true,
    },
    ColumnSpec {
        name: "person_id",
        aliases: &["学号", "工号", "学号/工号", "人员编号"],
        required: true,
    },
    ColumnSpec {
        name: "sampled_at",
        aliases: &["采样时间", "采集时间"],
        required: true,
    },
    ColumnSpec {
        name: "round",
        aliases: &["轮次"],
        required: false,
    },
    ColumnSpec {
        name: "site",
        aliases: &["采样点", "采集地点"],
        required: false,
    },
    ColumnSpec {
        name: "collector",
        aliases: &["采样员", "采集员"],
        required: false,
    },
];

/// Parses one samples row.
pub fn parse(row: &mut Row) -> Option<Sample> {
    let tube = row.parse(TUBE_ID, |v| values::id(v, MAX_TUBE_ID));
    let person = row.parse(PERSON_ID, |v| values::id(v, MAX_PERSON_ID));
    let sampled_at = row.parse(SAMPLED_AT, values::timestamp);
    tube?;
    person?;
    Some(Sample {
        round: row.optional(ROUND),
        tube_id: row.text(TUBE_ID).into(),
        person_id: row.text(PERSON_ID).into(),
        sampled_at: sampled_at?,
        site: row.optional(SITE),
        line: row.line(),
    })
}
