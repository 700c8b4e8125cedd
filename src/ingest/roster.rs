//! The roster (花名册): one row per person.
//!
//! At city scale most roster cells are needed for a few people only (those on the
//! retest and missing lists), so the roster keeps in memory just what every stage needs
//! (ID, building, status, line) and where each row starts; [`Roster::details`] reads
//! the other cells again for the people who need them.

use super::header::{ColumnSpec, Layout};
use super::values::{self, MAX_PERSON_ID};
use super::{records_at, reparse, Ingested, InputReport, Reject, Row, RowParser, Source};
use crate::error::Result;
use crate::record::{Details, Interner, Status, Strings};
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;

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

/// One accepted roster row; strings live in its chunk's [`RosterPart`].
#[derive(Clone, Copy, Debug)]
pub struct RosterRecord {
    id: u32,
    building: u32,
    status: Status,
    line: u64,
    offset: u64,
}

/// A chunk's interned IDs and buildings.
#[derive(Debug, Default)]
pub struct RosterPart {
    ids: Strings,
    buildings: Interner,
}

/// Parses roster rows.
pub struct RosterParser;

impl RowParser for RosterParser {
    type Record = RosterRecord;
    type Part = RosterPart;

    fn parse(&self, row: &mut Row, part: &mut RosterPart) -> Option<RosterRecord> {
        let id = row.text(PERSON_ID);
        let id_ok = row
            .parse(PERSON_ID, |v| values::id(v, MAX_PERSON_ID))
            .is_some();
        if row.text(NAME).is_empty() {
            row.fail(NAME, "is empty; every person needs a name");
        }
        let building = row.text(BUILDING);
        if building.is_empty() {
            row.fail(BUILDING, "is empty; every person needs a building");
        }
        row.parse(ROLE, values::role);
        let status = row.parse(STATUS, values::status);
        if !row.text(ID_CARD).is_empty() {
            row.parse(ID_CARD, values::id_card);
        }
        if !id_ok || !row.failures.is_empty() {
            return None;
        }
        Some(RosterRecord {
            id: part.ids.push(&id),
            building: part.buildings.intern(&building),
            status: status?,
            line: row.line(),
            offset: row.offset(),
        })
    }
}

/// The roster: every person's ID, building, status and line, and where to read the
/// rest. People are numbered in file order from `0`.
#[derive(Debug)]
pub struct Roster {
    ids: Strings,
    /// Each person's building, an index into `buildings`.
    pub building: Vec<u32>,
    /// Each person's status.
    pub status: Vec<Status>,
    /// Each person's line in the roster file.
    pub line: Vec<u64>,
    offset: Vec<u64>,
    /// Building names, in order of first appearance.
    pub buildings: Vec<Box<str>>,
    index: HashTable<u32>,
    source: Source,
    name: String,
    layout: Layout,
}

impl Roster {
    /// How many people.
    pub fn len(&self) -> usize {
        self.building.len()
    }

    /// Whether the roster has nobody.
    pub fn is_empty(&self) -> bool {
        self.building.is_empty()
    }

    /// The person_id of person `i`.
    pub fn id(&self, i: u32) -> &str {
        self.ids.get(i)
    }

    /// The name of person `i`'s building.
    pub fn building_name(&self, i: u32) -> &str {
        &self.buildings[self.building[i as usize] as usize]
    }

    /// The person with this person_id.
    pub fn find(&self, id: &str) -> Option<u32> {
        let hash = FxBuildHasher.hash_one(id);
        self.index.find(hash, |&i| self.ids.get(i) == id).copied()
    }

    /// The other cells of `people`, read again from the roster file, in the order given.
    pub fn details(&self, people: &[u32]) -> Result<Vec<Details>> {
        let offsets: Vec<u64> = people.iter().map(|&p| self.offset[p as usize]).collect();
        let records = records_at(&self.source, &self.name, &offsets)?;
        Ok(records
            .iter()
            .map(|(record, _)| {
                reparse(record, &self.layout, |row| Details {
                    name: row.text(NAME).into(),
                    room: row.optional(ROOM),
                    college: row.optional(COLLEGE),
                    class: row.optional(CLASS),
                    phone: row.optional(PHONE),
                    counselor: row.optional(COUNSELOR),
                })
            })
            .collect())
    }
}

/// Merges the parsed chunks into the roster: interns buildings, indexes IDs, and
/// rejects every later duplicate of a person_id (citing the first line).
pub fn finish(
    mut ingested: Ingested<RosterRecord, RosterPart>,
) -> Result<(Roster, InputReport, Vec<Reject>)> {
    let total: usize = ingested.parts.iter().map(|p| p.rows.len()).sum();
    let mut ids = Strings::default();
    let mut buildings = Interner::default();
    let mut building = Vec::with_capacity(total);
    let mut status = Vec::with_capacity(total);
    let mut line = Vec::with_capacity(total);
    let mut offset = Vec::with_capacity(total);
    let mut index: HashTable<u32> = HashTable::with_capacity(total);
    let mut duplicates: Vec<(u64, u64, u64)> = Vec::new();
    for part in std::mem::take(&mut ingested.parts) {
        let remap: Vec<u32> = part
            .state
            .buildings
            .names()
            .iter()
            .map(|b| buildings.intern(b))
            .collect();
        for r in &part.rows {
            let id = part.state.ids.get(r.id);
            let hash = FxBuildHasher.hash_one(id);
            if let Some(&first) = index.find(hash, |&i| ids.get(i) == id) {
                duplicates.push((r.line, r.offset, line[first as usize]));
                continue;
            }
            let i = ids.push(id);
            index.insert_unique(hash, i, |&j| FxBuildHasher.hash_one(ids.get(j)));
            building.push(remap[r.building as usize]);
            status.push(r.status);
            line.push(r.line);
            offset.push(r.offset);
        }
    }
    let header = ingested.layout.header_of(PERSON_ID).to_string();
    let offsets: Vec<u64> = duplicates.iter().map(|d| d.1).collect();
    let raws = records_at(&ingested.source, &ingested.report.path, &offsets)?;
    for ((dup_line, _, first), (_, raw)) in duplicates.iter().zip(raws) {
        ingested.reject_late(Reject {
            line: *dup_line,
            column: header.clone(),
            reason: format!("{header} repeats the person of line {first}; each person may appear once in the roster"),
            raw,
        });
    }
    let roster = Roster {
        ids,
        building,
        status,
        line,
        offset,
        buildings: buildings.into_names(),
        index,
        source: ingested.source,
        name: ingested.report.path.clone(),
        layout: ingested.layout,
    };
    Ok((roster, ingested.report, ingested.rejects))
}
