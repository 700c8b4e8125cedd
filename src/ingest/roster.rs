//! The roster (花名册): one row per person.

use super::header::ColumnSpec;
use super::values::{self, MAX_PERSON_ID};
use super::{Ingested, Reject, Row};
use crate::error::Result;
use crate::record::{Person, Roster};
use rustc_hash::FxHashMap;
use std::path::Path;

const PERSON_ID: usize = 0;
const NAME: usize = 1;
const BUILDING: usize = 2;
const ROOM: usize = 3;
const COLLEGE: usize = 4;
const CLASS: usize = 5;
const ROLE: usize = 6;
const PHONE: usize = 7;
const COUNSELOR: usize = 8;
const STATUS: usize = 9;
const ID_CARD: usize = 10;

/// The roster's columns.
pub const COLUMNS: [ColumnSpec; 11] = [
    ColumnSpec {
        name: "person_id",
        aliases: &["学号", "工号", "学号/工号", "人员编号"],
        required: true,
    },
    ColumnSpec {
        name: "name",
        aliases: &["姓名"],
        required: true,
    },
    ColumnSpec {
        name: "building",
        aliases: &["楼栋", "宿舍楼", "公寓", "楼号"],
        required: true,
    },
    ColumnSpec {
        name: "room",
        aliases: &["宿舍号", "寝室号", "房间号", "宿舍"],
        required: false,
    },
    ColumnSpec {
        name: "college",
        aliases: &["学院", "部门", "单位"],
        required: false,
    },
    ColumnSpec {
        name: "class",
        aliases: &["班级"],
        required: false,
    },
    ColumnSpec {
        name: "role",
        aliases: &["身份", "人员类别"],
        required: false,
    },
    ColumnSpec {
        name: "phone",
        aliases: &["手机号", "联系电话", "电话"],
        required: false,
    },
    ColumnSpec {
        name: "counselor",
        aliases: &["辅导员"],
        required: false,
    },
    ColumnSpec {
        name: "status",
        aliases: &["状态", "在校状态"],
        required: false,
    },
    ColumnSpec {
        name: "id_card",
        aliases: &["身份证号", "证件号码"],
        required: false,
    },
];

/// A roster row before its building is interned.
pub struct RosterRow {
    person: Person,
    building: Box<str>,
}

/// Parses one roster row.
pub fn parse(row: &mut Row) -> Option<RosterRow> {
    let id = row.text(PERSON_ID);
    let id_ok = row
        .parse(PERSON_ID, |v| values::id(v, MAX_PERSON_ID))
        .is_some();
    let name = row.text(NAME);
    if name.is_empty() {
        row.fail(NAME, "is empty; every person needs a name");
    }
    let building = row.text(BUILDING);
    if building.is_empty() {
        row.fail(BUILDING, "is empty; every person needs a building");
    }
    let role = row.parse(ROLE, values::role);
    let status = row.parse(STATUS, values::status);
    let id_card = row.text(ID_CARD);
    if !id_card.is_empty() {
        row.parse(ID_CARD, values::id_card);
    }
    let (role, status) = (role?, status?);
    if !id_ok || name.is_empty() || building.is_empty() {
        return None;
    }
    Some(RosterRow {
        person: Person {
            id: id.into(),
            name: name.into(),
            building: 0,
            room: row.optional(ROOM),
            college: row.optional(COLLEGE),
            class: row.optional(CLASS),
            role,
            phone: row.optional(PHONE),
            counselor: row.optional(COUNSELOR),
            status,
            line: row.line(),
        },
        building: building.into(),
    })
}

/// Turns parsed roster rows into the roster: rejects every later duplicate of a
/// person_id (citing the first line), then interns buildings.
pub fn finish(mut ingested: Ingested<RosterRow>, path: &Path) -> Result<(Roster, Ingested<()>)> {
    let header = ingested.layout.header_of(PERSON_ID).to_string();
    let mut first: FxHashMap<Box<str>, u64> = FxHashMap::default();
    first.reserve(ingested.rows.len());
    let mut duplicates = Vec::new();
    for r in &ingested.rows {
        let at = *first.entry(r.person.id.clone()).or_insert(r.person.line);
        if at != r.person.line {
            duplicates.push((r.person.line, at));
        }
    }
    if !duplicates.is_empty() {
        let lines: Vec<u64> = duplicates.iter().map(|d| d.0).collect();
        let raws = super::fetch_raw(path, &ingested.report.path, &lines)?;
        let first_of: FxHashMap<u64, u64> = duplicates.into_iter().collect();
        ingested.reject_where(|r| {
            let at = first_of.get(&r.person.line)?;
            Some(Reject {
                line: r.person.line,
                column: header.clone(),
                reason: format!("{header} repeats the person of line {at}; each person may appear once in the roster"),
                raw: raws.get(&r.person.line).cloned().unwrap_or_default(),
            })
        });
    }
    let mut roster = Roster::default();
    let mut building_index: FxHashMap<Box<str>, u32> = FxHashMap::default();
    for mut r in std::mem::take(&mut ingested.rows) {
        let next = roster.buildings.len() as u32;
        let b = *building_index.entry(r.building).or_insert_with_key(|name| {
            roster.buildings.push(name.clone());
            next
        });
        r.person.building = b;
        roster.people.push(r.person);
    }
    let rest = Ingested {
        rows: Vec::new(),
        rejects: ingested.rejects,
        report: ingested.report,
        layout: ingested.layout,
    };
    Ok((roster, rest))
}
