//! The roster (花名册): one row per person.
//!
//! At city scale most roster cells are needed for a few people only (those on the
//! retest and missing lists), so the roster keeps in memory just what every stage needs
//! (ID, building, status, line) and where each row starts; [`Roster::details`] reads
//! the other cells again for the people who need them. `assign`, which prints every
//! name, keeps the names too, read in the same pass ([`RosterParser::names`]).

use super::header::{ColumnSpec, Layout};
use super::index::Index;
use super::keys::{self, UNPACKED};
use super::reread::{each_row_at, raw_text, records_at, TextSource};
use super::row::Row;
use super::values::{self, MAX_PERSON_ID};
use super::{Ingested, InputReport, Part, RawText, Reject, RowParser};
use crate::buckets::{gather, AHEAD};
use crate::error::{Error, Position, Result};
use crate::order::{in_roster_order, invert, roster_places, Placed, Ranks};
use crate::pieces::{move_parts, pieces_mut};
use crate::privacy::guard_ids;
use crate::record::{ContactBatch, Contacts, Status, NONE};
use crate::strings::{same_bytes, ChunkNames, Interner, Strings};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::sync::Arc;

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
const GROUP: usize = 11;

/// The roster's columns.
pub const COLUMNS: [ColumnSpec; 12] = [
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
    ColumnSpec {
        name: "group",
        aliases: &["重点人群", "人员分类"],
        required: false,
    },
];

/// One accepted roster row, in 20 bytes (a city's ten million are held by their chunks
/// until merged); its person_id is the same-numbered string of its chunk's
/// [`RosterPart`].
#[derive(Clone, Copy, Debug)]
pub struct RosterRecord {
    building: u32,
    room: u32,
    /// The row's line (a roster with a row past line 4,294,967,295 is refused:
    /// [`RosterPart::past_lines`]).
    line: u32,
    /// Where the row starts, from the chunk's first row ([`RosterPart::start`]): a
    /// chunk is a few megabytes of text, or a sheet's rows.
    offset: u32,
    status: Status,
    priority: bool,
}

const _: () = assert!(std::mem::size_of::<RosterRecord>() == 20);

/// A chunk's IDs (and names, when kept), interned buildings and rooms.
#[derive(Debug, Default)]
pub struct RosterPart {
    ids: Strings,
    names: Strings,
    buildings: ChunkNames,
    rooms: ChunkNames,
    /// Where the chunk's first row starts, which its records' offsets count from.
    start: Option<u64>,
    /// The first line of a row past line 4,294,967,295, which refuses the roster.
    past_lines: Option<u64>,
    /// Whether a row's status, or priority, is not the [`Common`] one: the merged
    /// roster then holds the column, which it leaves out otherwise.
    uncommon: (bool, bool),
}

/// Parses roster rows.
pub struct RosterParser {
    /// Keep every person's name ([`Roster::name`]): `assign` prints them all, so it
    /// reads them in the same pass instead of reading the roster again.
    pub names: bool,
    /// Hash the file ([`RowParser::digest`]).
    pub digest: bool,
}

impl RowParser for RosterParser {
    fn digest(&self) -> bool {
        self.digest
    }

    type Record = RosterRecord;
    type Part = RosterPart;

    fn parse(&self, row: &mut Row, part: &mut RosterPart) -> Option<RosterRecord> {
        let id = row.text(PERSON_ID);
        let id_ok = row
            .check(PERSON_ID, values::id(&id, MAX_PERSON_ID))
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
        let group = row.parse(GROUP, values::group);
        if !row.text(ID_CARD).is_empty() {
            row.parse(ID_CARD, values::id_card);
        }
        if !id_ok || !row.failures.is_empty() {
            return None;
        }
        part.ids.push(&id);
        if self.names {
            part.names.push(&row.text(NAME));
        }
        let status = status?;
        let Ok(line) = u32::try_from(row.line()) else {
            part.past_lines = part.past_lines.or(Some(row.line()));
            return None;
        };
        let start = *part.start.get_or_insert(row.offset());
        let offset = u32::try_from(row.offset() - start).expect("a chunk spans less than 4 GiB");
        let room = row
            .cell(ROOM)
            .filter(|r| !r.is_empty())
            .map_or(NONE, |r| part.rooms.number(&r));
        let priority = status == Status::Isolated || group?.is_some();
        part.uncommon.0 |= status != *Status::COMMON;
        part.uncommon.1 |= priority != *bool::COMMON;
        Some(RosterRecord {
            building: part.buildings.number(&building),
            room,
            line,
            offset,
            status,
            priority,
        })
    }
}

/// The roster: every person's ID, building, status and line, and where to read the
/// rest. People are numbered from `0` in output order, whatever the file's order:
/// building, room (both in natural order, people without a room last) and person_id,
/// as [`crate::order::roster_order`] orders them. Every stage after it then reads its people building
/// by building from neighbouring memory, as when the file lists them so.
#[derive(Debug)]
pub struct Roster {
    ids: Ids,
    /// Every person's name when the roster was read with [`RosterParser::names`];
    /// empty otherwise.
    names: Strings,
    /// Each person's building, an index into `buildings`.
    pub building: Codes,
    /// Each person's room, an index into `rooms`, or [`NONE`].
    pub room: Codes,
    /// Room names, by code: in natural order (a room's code its rank among all rooms)
    /// once the people were numbered anew ([`Roster::renumber`]), else in order of
    /// first appearance, which for rooms of several buildings is seldom natural order
    /// (the stages that need their ranks work them out, `order::Ranks`).
    pub rooms: Vec<Box<str>>,
    /// The rooms whose names hold something shaped like a resident ID number, by room,
    /// each with the name the outputs show instead ([`Roster::room_shown`]): worked
    /// out once, as the roster is read, rather than by every table that shows rooms
    /// (a city whose rooms name their building, `3号楼-302`, has millions).
    rooms_guarded: Vec<(u32, Box<str>)>,
    /// Each person's status.
    pub status: Defaulted<Status>,
    /// Whether each person belongs to a priority group (isolated, or a `group` of the
    /// roster): swabbed alone, never into a pool.
    pub priority: Defaulted<bool>,
    /// Each person's line in the roster file, in 4 bytes (a roster with rows past line
    /// 4,294,967,295 is refused); empty after [`Roster::drop_rereading`].
    pub line: Vec<u32>,
    offset: Offsets,
    /// Building names, by code: in natural order (a building's code its rank) once the
    /// people were numbered anew ([`Roster::renumber`]), else in order of first
    /// appearance (nearly always natural order too; a rejected duplicate row may name a
    /// building first): [`Roster::building_rank`] gives their ranks either way.
    pub buildings: Vec<Box<str>>,
    /// Each building's rank in natural order (`公寓2` before `公寓10`): the order the
    /// people are numbered in, and the per-building table's, worked out once while the
    /// roster is read (a city that reports by household has a million buildings).
    pub building_rank: Vec<u32>,
    index: Index,
    /// Where the rows are read again; `None` once [`Roster::drop_rereading`] freed it.
    source: Option<TextSource>,
    name: String,
    layout: Layout,
}

/// Where [`Roster::next_to`] looks: after the last person found, while that
/// keeps finding people.
#[derive(Clone, Copy, Debug, Default)]
pub struct Near {
    last: u32,
    score: u8,
    /// Lookups left before the next anchoring lookup in the index.
    wait: u32,
    /// The wait after the last anchoring lookup: doubled by each anchor, back to the
    /// first when the neighbours pay off.
    interval: u32,
}

/// The lookups between anchoring lookups of [`Roster::next_to`], at first and at most.
const ANCHOR_INTERVALS: (u32, u32) = (64, 4096);

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

    /// The name of person `i`'s room, if the roster gives one.
    pub fn room_name(&self, i: u32) -> Option<&str> {
        let r = self.room.get(i as usize);
        (r != NONE).then(|| &*self.rooms[r as usize])
    }

    /// Room `r`'s name as every output shows it: anything in it shaped like a resident
    /// ID number masked ([`guard_ids`]).
    pub fn room_shown(&self, r: u32) -> &str {
        match self
            .rooms_guarded
            .binary_search_by_key(&r, |&(room, _)| room)
        {
            Ok(k) => &self.rooms_guarded[k].1,
            Err(_) => &self.rooms[r as usize],
        }
    }

    /// The name of person `i`'s building.
    pub fn building_name(&self, i: u32) -> &str {
        &self.buildings[self.building.get(i as usize) as usize]
    }

    /// The person with this person_id.
    pub fn find(&self, id: &str) -> Option<u32> {
        self.find_keyed(Roster::key_of(id), Some(id))
    }

    /// The key the index holds an ID under: the ID packed ([`keys::pack`]), or its
    /// [`keys::fingerprint`].
    pub fn key_of(id: &str) -> u64 {
        match keys::pack(id) {
            UNPACKED => keys::fingerprint(id),
            key => key,
        }
    }

    /// The person whose ID has `key` ([`Roster::key_of`]). A packed key is the ID
    /// itself; a fingerprint may be another ID's too, and is checked against `id`
    /// when it is given. Without it, the person found is a candidate only, the first
    /// with that fingerprint: when their ID ([`Roster::id`]) is not the one looked
    /// for, [`Roster::find`] gives the answer. Lookups made in a batch
    /// ([`Roster::find_each`]) check their candidates afterwards, in their own order,
    /// so that the probes read nothing but the index.
    pub fn find_keyed(&self, key: u64, id: Option<&str>) -> Option<u32> {
        // Without its index (freed by `drop_index`) the roster would find nobody:
        // a lookup then is a mistake, never an answer.
        assert!(!self.index.is_empty(), "the roster's index was freed");
        match id {
            Some(id) if keys::is_text(key) => self
                .index
                .find(key, |i| same_bytes(self.ids.bytes(i), id.as_bytes())),
            _ => self.index.find(key, |_| true),
        }
    }

    /// [`Roster::find_keyed`] of each key without an ID (a fingerprint's person is a
    /// candidate), or [`NONE`]: the memory is asked for each lookup's slot
    /// [`AHEAD`] lookups before it is made, so that a batch of lookups in no order
    /// waits for the memory a few times at once rather than once a lookup.
    pub fn find_each(&self, keys: &[u64]) -> Vec<u32> {
        assert!(!self.index.is_empty(), "the roster's index was freed");
        for &key in keys.iter().take(AHEAD) {
            self.index.prefetch(key);
        }
        keys.iter()
            .enumerate()
            .map(|(i, &key)| {
                if let Some(&ahead) = keys.get(i + AHEAD) {
                    self.index.prefetch(ahead);
                }
                self.index.find(key, |_| true).unwrap_or(NONE)
            })
            .collect()
    }

    /// The person with each of `ids` (or [`NONE`]), found by one pass over every
    /// person's ID on the workers rather than by the index: for the IDs read after the
    /// index is freed (a retests file's), so that it is not held through the samples
    /// stage's peak for them. A pass over a city's ten million IDs costs a few tens of
    /// milliseconds, as many lookups in the index would.
    pub fn find_by_scan(&self, ids: &[Option<&str>]) -> Vec<u32> {
        let wanted: FxHashSet<&str> = ids.iter().flatten().copied().collect();
        let found: FxHashMap<&str, u32> = if wanted.is_empty() {
            FxHashMap::default()
        } else {
            (0..self.len() as u32)
                .into_par_iter()
                .filter_map(|p| {
                    let id = self.id(p);
                    wanted.contains(id).then_some((id, p))
                })
                .collect::<Vec<_>>()
                .into_iter()
                .collect()
        };
        ids.iter()
            .map(|id| id.and_then(|id| found.get(id).copied()).unwrap_or(NONE))
            .collect()
    }

    /// Frees the ID index once no more people are looked up in it (once the samples
    /// are read, before their chunks are merged, where memory peaks); [`Roster::find`]
    /// must not be called after it, [`Roster::find_by_scan`] may.
    pub fn drop_index(&mut self) {
        self.index = Index::default();
    }

    /// Frees what only reading the rows again takes (each person's line and place in
    /// the file, and a workbook's rows) once
    /// the listed people's cells are read: 8 bytes a person (12 past 4 GiB), some 80
    /// megabytes in a city, held while the outputs are written otherwise.
    /// [`Roster::details`] must not be called after it, nor anything that cites a
    /// person's line.
    pub fn drop_rereading(&mut self) {
        self.line = Vec::new();
        self.offset = Widths::Wide(Vec::new());
        self.source = None;
    }

    /// The person with this person_id when they follow the last one found, without a
    /// lookup in the index otherwise (`None` then means "look them up", in a batch: see
    /// [`Roster::find_each`]). Samples taken in roster order (building by building,
    /// room by room) mostly hold the next row's person; interleaved samples (a city
    /// platform's export, by sampling time) rarely do, and reading the neighbours' IDs
    /// would only cost cache misses, so they are tried while they keep paying off. Now
    /// and then a lookup in the index anchors the search again: at the first lookup,
    /// then 64 lookups after the neighbours stop paying off, and twice as many again
    /// each time an anchor's neighbours did not pay off (at most 4,096), so that a file
    /// in no roster order makes few such lookups.
    pub fn next_to(&self, id: &str, near: &mut Near) -> Option<u32> {
        if near.score > 0 {
            let last = near.last;
            for p in last.saturating_add(1)..last.saturating_add(3).min(self.len() as u32) {
                if same_bytes(self.ids.bytes(p), id.as_bytes()) {
                    near.last = p;
                    near.score = (near.score + 1).min(16);
                    // Paying off: when they stop, the next anchor comes soon again.
                    near.interval = 0;
                    near.wait = near.wait.min(ANCHOR_INTERVALS.0);
                    return Some(p);
                }
            }
            near.score = near.score.saturating_sub(2);
        } else if near.wait > 0 {
            near.wait -= 1;
        } else {
            let (first, most) = ANCHOR_INTERVALS;
            near.interval = (near.interval * 2).clamp(first, most);
            near.wait = near.interval;
            if let Some(p) = self.find(id) {
                near.last = p;
                near.score = 1;
                return Some(p);
            }
        }
        None
    }

    /// The other cells of `people` (name, room, college, class, phone, counselor; in
    /// any order, some more than once: sorted here, once), read again from the roster
    /// file; batches of people are read on the workers.
    /// Each row read again must still hold the person's ID: a roster changed while it
    /// was read is an error, never a name given to the wrong person.
    pub fn details(&self, mut people: Vec<u32>) -> Result<Contacts> {
        let source = self
            .source
            .as_ref()
            .expect("the roster is read again after drop_rereading");
        const CELLS: [usize; Contacts::CELLS] = [NAME, ROOM, COLLEGE, CLASS, PHONE, COUNSELOR];
        // Sorted and each once, by a bit a roster person: a city's missing list at
        // midday is millions of people, which a sort put in the order they mostly
        // came in already.
        let mut listed = vec![0u64; self.len().div_ceil(64)];
        for &p in &people {
            listed[p as usize / 64] |= 1 << (p % 64);
        }
        people.clear();
        for (w, &word) in listed.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                people.push(w as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        drop(listed);
        // Read in file order, whatever the order asked for: a roster listed in no order
        // has the people of one building all over the file. `in_file` holds positions
        // in `people`; a roster listed in output order has them in file order already.
        let mut in_file: Vec<u32> = (0..people.len() as u32).collect();
        let offset = |i: &u32| self.offset.get(people[*i as usize] as usize);
        if !in_file
            .par_windows(2)
            .all(|w| offset(&w[0]) <= offset(&w[1]))
        {
            in_file.par_sort_unstable_by_key(offset);
        }
        let batches: Vec<ContactBatch> = in_file
            .par_chunks(8192)
            .map(|batch| {
                let offsets: Vec<u64> = batch
                    .iter()
                    .map(|&i| self.offset.get(people[i as usize] as usize))
                    .collect();
                // A read that fails is an I/O error; a row that reads but holds another
                // person (or nothing: a shorter file) is a roster that changed.
                let mut cells = ContactBatch::with_capacity(batch.len());
                each_row_at(source, &self.name, &self.layout, &offsets, |k, row| {
                    let p = people[batch[k] as usize];
                    if row.text(PERSON_ID) != self.id(p) {
                        return Err(self.changed(p));
                    }
                    cells.push(CELLS.map(|c| row.text(c)).each_ref().map(|c| &**c));
                    Ok(())
                })?;
                Ok(cells)
            })
            .collect::<Result<_>>()?;
        // Joined a batch at a time, each given back as it is copied: a city's missing
        // list at midday is millions of people, and all batches beside their join were
        // twice their bytes. The cells stay in file order; a person finds theirs by
        // slot when that is not the order of `people`.
        let slots = (!in_file.is_sorted()).then(|| invert(&in_file));
        Ok(Contacts::new(
            people,
            slots,
            batches,
            crate::pieces::GIVE_BACK,
        ))
    }

    /// Person `p`'s name, when the roster was read with [`RosterParser::names`].
    pub fn name(&self, p: u32) -> Option<&str> {
        (self.names.len() == self.len()).then(|| self.names.get(p))
    }

    /// Numbers the people in output order (see [`Roster`]) when the file does not list
    /// them so: each person's values are gathered into their new place on the workers,
    /// and the index's entries renumbered. A person's building and room, and an ID of
    /// fewer than 16 bytes, come with their place in the order ([`roster_places`]);
    /// only the other values are read where the person was, in no order.
    fn renumber(&mut self) {
        let ranks = Ranks::of(self);
        if in_roster_order(self, &ranks) {
            self.building_rank = ranks.building;
            return;
        }
        let Placed {
            places,
            counts,
            ranks,
        } = roster_places(self, ranks, 1, |_| Some(0), None);
        let order: Vec<u32> = places.par_iter().map(|p| p.person).collect();
        // IDs hold no NUL byte (`values::id`), as `gather_prefixed` needs.
        self.ids = Ids::Varied(self.ids.strings().gather_prefixed(&order, |i| places[i].id));
        if !self.names.is_empty() {
            self.names = self.names.gather(&order);
        }
        // The order holds the buildings one after another, by rank. Each building is
        // numbered by its rank from here on, its name moved to that place, so that
        // the stages after read the buildings' names and rows in the order they meet
        // them (a roster in no order named a million households in no order).
        assert_eq!(counts.iter().sum::<usize>(), order.len());
        assert_eq!(counts.len(), ranks.building.len());
        let mut building = Codes::for_codes(order.len(), self.buildings.len());
        building
            .pieces(&counts)
            .into_par_iter()
            .enumerate()
            .for_each(|(rank, piece)| piece.write(std::iter::repeat(rank as u32)));
        // SAFETY: the pieces tile the people (asserted above), each written whole.
        unsafe { building.set_len(order.len()) };
        self.building = building;
        self.buildings = in_rank_order(std::mem::take(&mut self.buildings), &ranks.building);
        self.building_rank = (0..self.buildings.len() as u32).collect();
        // Rooms too: numbered by their rank (a city whose rooms name their building has
        // millions), people without a room still without.
        self.room = Codes::collect(
            self.rooms.len(),
            places.par_iter().map(|p| match p.room {
                u32::MAX => NONE,
                rank => rank,
            }),
        );
        self.rooms = in_rank_order(std::mem::take(&mut self.rooms), &ranks.room);
        drop(places);
        self.status = self.status.gather(&order);
        self.priority = self.priority.gather(&order);
        self.line = gather(&self.line, &order);
        self.offset = self.offset.gather(&order);
        let new_of_old = invert(&order);
        self.index.renumber(&new_of_old);
    }

    /// The error for a roster whose row of person `p` no longer reads as it did.
    fn changed(&self, p: u32) -> Error {
        Error::input(
            &self.name,
            Position::line(self.line[p as usize].into()),
            "the roster changed while it was read (this row no longer holds the person it held); run again once the file is no longer being written",
        )
    }
}

/// A value most rosters give every person: the status when the roster has no status
/// column, no priority when it has no group column and nobody is isolated.
pub trait Common: Copy + PartialEq + Send + Sync + 'static {
    /// The value.
    const COMMON: &'static Self;
}

impl Common for Status {
    const COMMON: &'static Status = &Status::OnCampus;
}

impl Common for bool {
    const COMMON: &'static bool = &false;
}

/// A column of each person's status or priority, indexed by person, held empty while
/// every person has the [`Common`] value: a roster without those columns keeps none
/// of their bytes (20 MB in a city, held until the outputs are written). An index
/// past the people panics either way.
#[derive(Clone, Debug, Default)]
pub struct Defaulted<T> {
    values: Vec<T>,
    len: usize,
}

impl<T: Common> Defaulted<T> {
    /// The column of `values`, empty when each is the common value.
    pub fn of(values: Vec<T>) -> Defaulted<T> {
        let len = values.len();
        if values.iter().all(|v| v == T::COMMON) {
            Defaulted {
                values: Vec::new(),
                len,
            }
        } else {
            Defaulted { values, len }
        }
    }

    /// Whether every person has the common value (nothing is held).
    pub fn is_common(&self) -> bool {
        self.values.is_empty()
    }

    /// Every person's value, or `None` when each has the common one.
    pub fn values(&self) -> Option<&[T]> {
        (!self.is_common()).then_some(&self.values[..])
    }

    /// Room for `len` values when `held`; none otherwise (everyone has the common
    /// value).
    fn with_capacity(len: usize, held: bool) -> Defaulted<T> {
        // Room of none is what marks the values not held, which takes values of some size.
        const { assert!(std::mem::size_of::<T>() > 0) };
        Defaulted {
            values: Vec::with_capacity(if held { len } else { 0 }),
            len: 0,
        }
    }

    /// The unwritten room of [`Defaulted::with_capacity`], cut into consecutive pieces
    /// of the lengths `counts`; pieces of nothing when the values are not held.
    fn pieces(&mut self, counts: &[usize]) -> Vec<Option<&mut [MaybeUninit<T>]>> {
        if self.values.capacity() == 0 {
            return counts.iter().map(|_| None).collect();
        }
        let total = counts.iter().sum();
        pieces_mut(&mut self.values.spare_capacity_mut()[..total], counts)
            .into_iter()
            .map(Some)
            .collect()
    }

    /// Sets the number of people.
    ///
    /// # Safety
    /// When the values are held, their first `len` slots must have been written
    /// ([`Defaulted::pieces`]).
    unsafe fn set_len(&mut self, len: usize) {
        if self.values.capacity() > 0 {
            self.values.set_len(len);
        }
        self.len = len;
    }

    /// The values but those marked in `drop`.
    fn without(self, drop: &[bool]) -> Defaulted<T> {
        let len = drop.iter().filter(|&&d| !d).count();
        if self.is_common() {
            Defaulted {
                values: Vec::new(),
                len,
            }
        } else {
            Defaulted::of(without(self.values, drop))
        }
    }

    /// The values in `order` (item `i` is that of person `order[i]`).
    fn gather(&self, order: &[u32]) -> Defaulted<T> {
        if self.is_common() {
            Defaulted {
                values: Vec::new(),
                len: order.len(),
            }
        } else {
            Defaulted::of(gather(&self.values, order))
        }
    }
}

impl<T: Common> std::ops::Index<usize> for Defaulted<T> {
    type Output = T;

    /// Person `p`'s value: the common one when the column holds none.
    fn index(&self, p: usize) -> &T {
        assert!(p < self.len, "person {p} of {}", self.len);
        if self.is_common() {
            T::COMMON
        } else {
            &self.values[p]
        }
    }
}

/// A column of numbers, one a person, each held narrow (`N`) when every one fits and
/// wide (`W`) otherwise: 20 to 40 MB less a column in a city.
#[derive(Clone, Debug)]
pub enum Widths<N, W> {
    /// Every value in its narrow form.
    Narrow(Vec<N>),
    /// The values as they are.
    Wide(Vec<W>),
}

/// A number's narrow form, for [`Widths`].
pub trait Narrow<W>: Copy + Send + Sync {
    /// The narrow form of `w`, which fits.
    fn narrow(w: W) -> Self;
    /// The number it was made of ([`Narrow::narrow`] loses nothing of what fits).
    fn widen(self) -> W;
}

/// A building's or a room's index in 2 bytes, [`NONE`] as `u16::MAX`.
impl Narrow<u32> for u16 {
    fn narrow(c: u32) -> u16 {
        debug_assert!(c == NONE || c < u32::from(u16::MAX), "a code past 2 bytes");
        if c == NONE {
            u16::MAX
        } else {
            c as u16
        }
    }

    #[inline]
    fn widen(self) -> u32 {
        match self {
            u16::MAX => NONE,
            c => u32::from(c),
        }
    }
}

/// A place in a roster file below 4 GiB, in 4 bytes.
impl Narrow<u64> for u32 {
    fn narrow(p: u64) -> u32 {
        debug_assert!(p <= u64::from(u32::MAX), "a place past 4 bytes");
        p as u32
    }

    #[inline]
    fn widen(self) -> u64 {
        u64::from(self)
    }
}

impl<N: Narrow<W>, W: Copy + Send + Sync> Widths<N, W> {
    /// Room for `len` numbers, held narrow when they will `fit`.
    fn with_capacity(len: usize, fit: bool) -> Widths<N, W> {
        match fit {
            true => Widths::Narrow(Vec::with_capacity(len)),
            false => Widths::Wide(Vec::with_capacity(len)),
        }
    }

    /// The unwritten room of a column made by [`Widths::with_capacity`], cut into
    /// consecutive pieces of the lengths `counts`, to be written on the workers.
    fn pieces(&mut self, counts: &[usize]) -> Vec<WidthSlots<'_, N, W>> {
        let total = counts.iter().sum();
        match self {
            Widths::Narrow(values) => pieces_mut(&mut values.spare_capacity_mut()[..total], counts)
                .into_iter()
                .map(WidthSlots::Narrow)
                .collect(),
            Widths::Wide(values) => pieces_mut(&mut values.spare_capacity_mut()[..total], counts)
                .into_iter()
                .map(WidthSlots::Wide)
                .collect(),
        }
    }

    /// Sets the number of values.
    ///
    /// # Safety
    /// The first `len` slots must have been written ([`Widths::pieces`]).
    unsafe fn set_len(&mut self, len: usize) {
        match self {
            Widths::Narrow(values) => values.set_len(len),
            Widths::Wide(values) => values.set_len(len),
        }
    }

    /// The values but those marked in `drop`.
    fn without(self, drop: &[bool]) -> Widths<N, W> {
        match self {
            Widths::Narrow(values) => Widths::Narrow(without(values, drop)),
            Widths::Wide(values) => Widths::Wide(without(values, drop)),
        }
    }

    /// The values in `order` (item `i` is that of person `order[i]`).
    fn gather(&self, order: &[u32]) -> Widths<N, W> {
        match self {
            Widths::Narrow(values) => Widths::Narrow(gather(values, order)),
            Widths::Wide(values) => Widths::Wide(gather(values, order)),
        }
    }

    /// Calls `f` with each value, in order.
    fn each(&self, mut f: impl FnMut(W)) {
        match self {
            Widths::Narrow(values) => values.iter().for_each(|v| f(v.widen())),
            Widths::Wide(values) => values.iter().for_each(|&v| f(v)),
        }
    }

    /// The value of person `i`.
    #[inline]
    pub fn get(&self, i: usize) -> W {
        match self {
            Widths::Narrow(values) => values[i].widen(),
            Widths::Wide(values) => values[i],
        }
    }

    /// How many people.
    pub fn len(&self) -> usize {
        match self {
            Widths::Narrow(values) => values.len(),
            Widths::Wide(values) => values.len(),
        }
    }

    /// Whether there is nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A piece of a [`Widths`] column being written.
enum WidthSlots<'a, N, W> {
    Narrow(&'a mut [MaybeUninit<N>]),
    Wide(&'a mut [MaybeUninit<W>]),
}

impl<N: Narrow<W>, W: Copy> WidthSlots<'_, N, W> {
    /// Writes every slot of the piece with the values of `values`, each one the column
    /// was made to hold; `values` must give at least as many as the piece has slots.
    fn write(self, values: impl Iterator<Item = W>) {
        let (slots, written) = match self {
            WidthSlots::Narrow(slots) => (
                slots.len(),
                slots
                    .iter_mut()
                    .zip(values)
                    .map(|(slot, v)| slot.write(N::narrow(v)))
                    .count(),
            ),
            WidthSlots::Wide(slots) => (
                slots.len(),
                slots
                    .iter_mut()
                    .zip(values)
                    .map(|(slot, v)| slot.write(v))
                    .count(),
            ),
        };
        assert_eq!(written, slots, "a piece of a column left unwritten");
    }
}

/// A column of indexes (each person's building, or room), each in 2 bytes while every
/// index is below 65,535, `u16::MAX` being none (a city of 25,700 buildings; rooms
/// named alike in every building, `101`, share one), and in 4 otherwise. [`NONE`] is
/// kept as it is.
pub type Codes = Widths<u16, u32>;

/// The indexes [`Codes`] hold in 2 bytes: below 65,535. The unit tests hold only
/// indexes below 3 so, so that most of their rosters hold them in 4.
#[cfg(not(test))]
const SHORT_CODES: usize = u16::MAX as usize;
#[cfg(test)]
const SHORT_CODES: usize = 3;

impl Codes {
    /// Room for `len` codes below `universe`.
    fn for_codes(len: usize, universe: usize) -> Codes {
        Widths::with_capacity(len, universe <= SHORT_CODES)
    }

    /// The codes `codes` gives, all below `universe`.
    fn collect(universe: usize, codes: impl IndexedParallelIterator<Item = u32>) -> Codes {
        match universe <= SHORT_CODES {
            true => Widths::Narrow(codes.map(u16::narrow).collect()),
            false => Widths::Wide(codes.collect()),
        }
    }

    /// Replaces each code `c` but [`NONE`] by `f(c)`, which must be no larger.
    fn map(&mut self, f: impl Fn(u32) -> u32) {
        match self {
            Widths::Narrow(codes) => {
                for c in codes.iter_mut().filter(|c| **c != u16::MAX) {
                    *c = u16::narrow(f(c.widen()));
                }
            }
            Widths::Wide(codes) => {
                for c in codes.iter_mut().filter(|c| **c != NONE) {
                    *c = f(*c);
                }
            }
        }
    }
}

/// The roster's person_ids, person by person: in a [`Strings`] until the roster is
/// read, then, when every ID has the same length (a school's student numbers, resident
/// ID numbers), their text alone, without the ends: 4 bytes a person, 40 MB in a city.
#[derive(Debug)]
enum Ids {
    Varied(Strings),
    Even { text: String, width: usize },
}

impl Ids {
    /// The IDs without their ends when they all have the same length.
    fn compact(self) -> Ids {
        match self {
            Ids::Varied(ids) => match ids.even_len() {
                Some(width) => Ids::Even {
                    text: ids.into_text(),
                    width,
                },
                None => Ids::Varied(ids),
            },
            even => even,
        }
    }

    /// The IDs as they are read, before [`Ids::compact`].
    fn strings(&self) -> &Strings {
        match self {
            Ids::Varied(ids) => ids,
            Ids::Even { .. } => unreachable!("the IDs are in a Strings until the roster is read"),
        }
    }

    #[inline]
    fn get(&self, i: u32) -> &str {
        match self {
            Ids::Varied(ids) => ids.get(i),
            Ids::Even { text, width } => &text[i as usize * width..(i as usize + 1) * width],
        }
    }

    /// The bytes of ID `i`: to compare with, without the checks of character
    /// boundaries a `str` slice makes (a lookup a sample row).
    #[inline]
    fn bytes(&self, i: u32) -> &[u8] {
        match self {
            Ids::Varied(ids) => ids.bytes(i),
            Ids::Even { text, width } => {
                &text.as_bytes()[i as usize * width..(i as usize + 1) * width]
            }
        }
    }
}

/// Each person's place in the roster file (a byte offset, or a row of a workbook): 4
/// bytes when every place is below 4 GiB, as in any roster of fewer than some forty
/// million people, 8 otherwise.
type Offsets = Widths<u32, u64>;

/// The last place [`Offsets`] keep in 4 bytes. The unit tests keep only places in the
/// first 4 KB so, so that their larger rosters keep their places in 8.
#[cfg(not(test))]
const NARROW_MAX: u64 = u32::MAX as u64;
#[cfg(test)]
const NARROW_MAX: u64 = 1 << 12;

/// `values` without the positions marked in `drop`.
fn without<T>(values: Vec<T>, drop: &[bool]) -> Vec<T> {
    values
        .into_iter()
        .zip(drop)
        .filter(|(_, d)| !**d)
        .map(|(v, _)| v)
        .collect()
}

/// The buildings some person lives in, in order of first appearance, with each
/// person's building index renumbered to match.
fn used_buildings(mut building: Codes, names: Vec<Box<str>>) -> (Codes, Vec<Box<str>>) {
    let mut used = vec![false; names.len()];
    building.each(|b| used[b as usize] = true);
    if used.iter().all(|&u| u) {
        return (building, names);
    }
    let mut renumber = vec![0u32; names.len()];
    let mut kept = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        if used[i] {
            renumber[i] = kept.len() as u32;
            kept.push(name);
        }
    }
    // Fewer buildings: the codes keep their width.
    building.map(|b| renumber[b as usize]);
    (building, kept)
}

/// `names` moved into the order of their ranks, `rank[i]` the place of `names[i]`
/// (`rank` a permutation, as [`crate::order::natural_ranks`] gives).
fn in_rank_order(names: Vec<Box<str>>, rank: &[u32]) -> Vec<Box<str>> {
    assert_eq!(rank.len(), names.len(), "a rank for each name");
    let mut ordered: Vec<Box<str>> = vec![Box::default(); names.len()];
    for (name, &k) in names.into_iter().zip(rank) {
        ordered[k as usize] = name;
    }
    ordered
}

/// The last place of a row of `parts` in its file: its chunk's start and its own
/// offset from there. A chunk's rows are in file order, their places rising, so its
/// last row's is its largest.
fn last_place(parts: &[Part<RosterRecord, RosterPart>]) -> u64 {
    parts
        .iter()
        .filter_map(|p| {
            debug_assert!(p.rows.is_sorted_by_key(|r| r.offset));
            Some(p.state.start? + u64::from(p.rows.last()?.offset))
        })
        .max()
        .unwrap_or(0)
}

/// Merges the parsed chunks into the roster: interns buildings, indexes IDs, and
/// rejects every later duplicate of a person_id (citing the first line). Each chunk's
/// rows are copied into place on the workers.
pub fn finish(
    mut ingested: Ingested<RosterRecord, RosterPart>,
) -> Result<(Roster, InputReport, Vec<Reject>)> {
    let parts = std::mem::take(&mut ingested.parts);
    let counts: Vec<usize> = parts.iter().map(|p| p.rows.len()).collect();
    let total: usize = counts.iter().sum();
    // Rows are in file order: the first part with a row past the last line a record
    // holds has the first such row.
    if let Some(line) = parts.iter().find_map(|p| p.state.past_lines) {
        return Err(Error::input(
            &ingested.report.path,
            Position::line(line),
            "the roster has more than 4,294,967,295 lines; split it into rosters of fewer lines",
        ));
    }
    // Parts are merged a part after another, each in its own order: the buildings and
    // rooms of the merged roster are numbered as a roster read whole would number them.
    let ((buildings, building_remaps), (rooms, room_remaps)) = rayon::join(
        || Interner::merge_strings_of(&parts, |p| p.state.buildings.names()),
        || Interner::merge_strings_of(&parts, |p| p.state.rooms.names()),
    );
    let remaps: Vec<(Vec<u32>, Vec<u32>)> = building_remaps.into_iter().zip(room_remaps).collect();
    let mut ids = Strings::concat(parts.iter().map(|p| &p.state.ids).collect());
    let mut names = Strings::concat(parts.iter().map(|p| &p.state.names).collect());
    // The columns are written in the widths they are held in (2-byte codes for at most
    // 65,535 buildings or rooms, 4-byte places in a file under 4 GiB, no status or
    // priority while everyone has the common one): some 10 bytes a person less memory
    // to fault in than writing them wide and narrowing them after (250 MB in a city of
    // 25 million).
    let uncommon = |of: fn(&RosterPart) -> bool| parts.iter().any(|p| of(&p.state));
    let mut building = Codes::for_codes(total, buildings.len());
    let mut room = Codes::for_codes(total, rooms.len());
    let mut status = Defaulted::with_capacity(total, uncommon(|p| p.uncommon.0));
    let mut priority = Defaulted::with_capacity(total, uncommon(|p| p.uncommon.1));
    let mut line: Vec<u32> = Vec::with_capacity(total);
    let mut offset = Offsets::with_capacity(total, last_place(&parts) <= NARROW_MAX);
    // Written in place on the workers, each slot once, without being filled first: a
    // city's columns are hundreds of megabytes, which one thread would fill and fault
    // in while the others wait. The parts are freed as they are written, and given back
    // to the system a few at a time: left to the allocator's delay, a city's rows (32
    // bytes a person) were all still held beside the whole when the index was built,
    // the stage's peak.
    move_parts(
        building
            .pieces(&counts)
            .into_iter()
            .zip(room.pieces(&counts))
            .zip(status.pieces(&counts))
            .zip(priority.pieces(&counts))
            .zip(pieces_mut(&mut line.spare_capacity_mut()[..total], &counts))
            .zip(offset.pieces(&counts)),
        parts.into_iter().zip(remaps),
        |(part, _)| {
            part.rows.capacity() * std::mem::size_of::<RosterRecord>()
                + part.state.ids.text_len()
                + part.state.names.text_len()
        },
        |(((((building, room), status), priority), line), offset), (part, remap)| {
            let rows = &part.rows;
            building.write(rows.iter().map(|r| remap.0[r.building as usize]));
            room.write(rows.iter().map(|r| match r.room {
                NONE => NONE,
                room => remap.1[room as usize],
            }));
            for (slot, r) in status.into_iter().flatten().zip(rows) {
                slot.write(r.status);
            }
            for (slot, r) in priority.into_iter().flatten().zip(rows) {
                slot.write(r.priority);
            }
            // Checked above: every line fits.
            for (slot, r) in line.iter_mut().zip(rows) {
                slot.write(r.line);
            }
            let start = part.state.start.unwrap_or(0);
            offset.write(rows.iter().map(|r| start + u64::from(r.offset)));
        },
    );
    // SAFETY: the pieces tile the first `total` slots of each column, each piece as
    // long as its part's rows, and every row wrote its slot of every column above (a
    // status or priority column not held has no slots: only its length is set).
    unsafe {
        building.set_len(total);
        room.set_len(total);
        status.set_len(total);
        priority.set_len(total);
        line.set_len(total);
        offset.set_len(total);
    }
    let (mut index, duplicates) = Index::build(&ids, Roster::key_of);
    if !duplicates.is_empty() {
        let header = ingested.layout.header_of(PERSON_ID).to_string();
        let offsets: Vec<u64> = duplicates
            .iter()
            .map(|&(d, _)| offset.get(d as usize))
            .collect();
        let ends = records_at(&ingested.source, &ingested.report.path, &offsets)?;
        // A duplicate's row in a file is read again when rejects.csv is written; one of
        // a sheet keeps its text, which would otherwise keep the sheet's rows whole.
        let in_file = matches!(
            ingested.source,
            TextSource::File(_) | TextSource::Decoded(..)
        );
        let source = Arc::new(ingested.source.clone());
        for (&(d, first), (_, end)) in duplicates.iter().zip(ends) {
            let start = offset.get(d as usize);
            let raw = match in_file {
                // A record is at most a mebibyte.
                true => RawText::At {
                    source: source.clone(),
                    offset: start,
                    len: (end - start) as u32,
                },
                false => RawText::Text(
                    raw_text(&ingested.source, &ingested.report.path, start, end)?.into(),
                ),
            };
            ingested.reject_late(Reject::new(
                line[d as usize].into(),
                &header,
                &format!("{header} repeats the person of line {}; each person may appear once in the roster", line[first as usize]),
                raw,
            ));
        }
        // Keep the first of each person only, then index again.
        let mut drop = vec![false; total];
        for &(d, _) in &duplicates {
            drop[d as usize] = true;
        }
        let keep = |i: &usize| !drop[*i];
        let without_strings = |all: &Strings| {
            let mut kept = Strings::with_capacity(all.len(), all.text_len());
            for (_, s) in all.iter().enumerate().filter(|(i, _)| keep(i)) {
                kept.push(s);
            }
            kept
        };
        ids = without_strings(&ids);
        names = without_strings(&names);
        building = building.without(&drop);
        room = room.without(&drop);
        status = status.without(&drop);
        priority = priority.without(&drop);
        line = without(line, &drop);
        offset = offset.without(&drop);
        index = Index::build(&ids, Roster::key_of).0;
    }
    // A building named only by rejected duplicates is no building of the roster.
    let (building, buildings) = used_buildings(building, buildings.into_names());
    let mut roster = Roster {
        ids: Ids::Varied(ids),
        names,
        building,
        room,
        rooms: rooms.into_names(),
        rooms_guarded: Vec::new(),
        status,
        priority,
        line,
        offset,
        buildings,
        building_rank: Vec::new(),
        index,
        source: Some(ingested.source),
        name: ingested.report.path.clone(),
        layout: ingested.layout,
    };
    roster.renumber();
    roster.rooms_guarded = roster
        .rooms
        .par_iter()
        .enumerate()
        .filter_map(|(r, room)| match guard_ids(Cow::Borrowed(room)) {
            Cow::Owned(shown) => Some((r as u32, shown.into_boxed_str())),
            Cow::Borrowed(_) => None,
        })
        .collect();
    // The IDs compacted once in order, as the rest of the run reads them.
    roster.ids = std::mem::replace(&mut roster.ids, Ids::Varied(Strings::default())).compact();
    Ok((roster, ingested.report, ingested.rejects))
}

#[cfg(test)]
mod tests {
    use super::{last_place, Part, RosterPart, RosterRecord};
    use crate::record::{Status, NONE};

    #[test]
    fn plain_rosters_read_the_cells_cleaning_reads() {
        // The same roster twice: all plain (ASCII and ideographs), and with one building
        // written with a full-width digit, so that its chunk's cells all go through
        // `clean`. Cells with white space inside their quotes, a quote written twice
        // (a row the CSV parser reads, not in place), tabs, CRLF line ends, a room of
        // spaces only.
        let roster = |three: &str| {
            format!(
                "person_id,name,building,room,status\r\n\
                 \" 2021001 \",\" 张三 \",公寓1,\"10\t\",在校\r\n\
                 2021002,\"李\"\"四\",\t公寓2 ,\" 101\",\" 在校\"\r\n\
                 2021003,王五 ,公寓{three},  ,on_leave\r\n\
                 \tS-7 ,赵六,\"公寓1 \",A-3 ,在校\r\n"
            )
        };
        let (plain, other) = (roster("3"), roster("３"));
        assert!(crate::normalize::all_plain(&plain));
        assert!(!crate::normalize::all_plain(&other));
        let dir = tempfile::tempdir().unwrap();
        let read = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let (roster, _, rejects) = crate::pipeline::load_roster(&path, None).unwrap();
            assert!(rejects.is_empty(), "{name}: {rejects:?}");
            (0..roster.len() as u32)
                .map(|p| {
                    (
                        roster.id(p).to_string(),
                        roster.building_name(p).to_string(),
                        roster.room_name(p).map(str::to_string),
                        roster.status[p as usize],
                    )
                })
                .collect::<Vec<_>>()
        };
        let people = read("plain.csv", &plain);
        assert_eq!(people, read("other.csv", &other));
        let ids: Vec<&str> = people.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(ids, ["2021001", "S-7", "2021002", "2021003"]);
        let rooms: Vec<Option<&str>> = people.iter().map(|p| p.2.as_deref()).collect();
        assert_eq!(rooms, [Some("10"), Some("A-3"), Some("101"), None]);
        assert_eq!(people[2].1, "公寓2");
        assert_eq!(people[3].1, "公寓3");
    }

    #[test]
    fn statuses_and_priorities_follow_their_people_and_take_no_room_when_common() {
        // Rosters in no building order (their people are renumbered): without status or
        // group columns, with them but every cell common, and with a few people on
        // leave, isolated or in a group.
        let n = 5_000u32;
        let building = |i: u32| (i * 7919) % 37;
        let write = |header: &str, cells: &dyn Fn(u32) -> String| {
            let mut text = format!("person_id,name,building{header}\n");
            for i in 0..n {
                text.push_str(&format!(
                    "{},N,B{}{}\n",
                    4_000_000 + i,
                    building(i),
                    cells(i)
                ));
            }
            text
        };
        let dir = tempfile::tempdir().unwrap();
        let read = |text: String| {
            let path = dir.path().join("roster.csv");
            std::fs::write(&path, text).unwrap();
            let (roster, _, rejects) = crate::pipeline::load_roster(&path, None).unwrap();
            assert!(rejects.is_empty(), "{rejects:?}");
            roster
        };
        let none = read(write("", &|_| String::new()));
        let common = read(write(",status,group", &|_| ",在校,".to_string()));
        for roster in [&none, &common] {
            assert!(roster.status.is_common() && roster.priority.is_common());
            assert!((0..n as usize)
                .all(|p| roster.status[p] == Status::OnCampus && !roster.priority[p]));
            // Nobody past the roster, held or not.
            let past = std::panic::catch_unwind(|| roster.status[n as usize]);
            assert!(past.is_err());
        }
        let status = |i: u32| match i % 101 {
            3 => "离校",
            5 => "隔离",
            _ => "在校",
        };
        let group = |i: u32| if i % 103 == 7 { "密接" } else { "" };
        let varied = read(write(",status,group", &|i| {
            format!(",{},{}", status(i), group(i))
        }));
        assert!(!varied.status.is_common() && !varied.priority.is_common());
        for p in 0..n {
            let i = varied.id(p).parse::<u32>().unwrap() - 4_000_000;
            let expected = match status(i) {
                "离校" => Status::OnLeave,
                "隔离" => Status::Isolated,
                _ => Status::OnCampus,
            };
            assert_eq!(varied.status[p as usize], expected, "person {i}");
            assert_eq!(
                varied.priority[p as usize],
                expected == Status::Isolated || !group(i).is_empty(),
                "person {i}"
            );
        }
    }

    #[test]
    fn the_last_place_counts_from_its_chunks_start() {
        let record = |offset: u32| RosterRecord {
            building: 0,
            room: NONE,
            line: 2,
            offset,
            status: Status::OnCampus,
            priority: false,
        };
        let part = |start: Option<u64>, offsets: &[u32]| Part {
            rows: offsets.iter().map(|&o| record(o)).collect(),
            state: RosterPart {
                start,
                ..RosterPart::default()
            },
            lines: Default::default(),
        };
        assert_eq!(last_place(&[]), 0);
        let parts = [
            part(Some(0), &[0, 900, 5_000]),
            part(Some(1 << 32), &[0, 7]),
            part(Some(1 << 20), &[40]),
            part(None, &[]),
        ];
        assert_eq!(last_place(&parts), (1 << 32) + 7);
    }

    #[test]
    fn columns_of_either_width_keep_each_person_without_their_duplicates() {
        // The unit tests hold codes below 3 and places in the first 4 KB narrow: a
        // small roster of two buildings and three rooms holds its buildings, rooms and
        // places narrow, a larger one of 40 buildings and 41 rooms wide. Both list
        // their people in no building order, with a few on leave and some without a
        // room, and repeat people: the first repeat names a building of its own,
        // "Gone", before the second building first appears, so that building is
        // numbered anew once the repeats are dropped.
        for (n, buildings) in [(24u32, 2u32), (3_000, 40)] {
            let building = |i: u32| (i * 7) % buildings;
            let room = |i: u32| (!i.is_multiple_of(5)).then(|| format!("R{}", i % (buildings + 1)));
            let status = |i: u32| if i % 13 == 4 { "离校" } else { "在校" };
            let mut text = String::from("person_id,name,building,room,status\n");
            let mut lines = Vec::new();
            for i in 0..n {
                lines.push(i);
                let cells = format!(
                    "P{i},N{i},B{},{},{}\n",
                    building(i),
                    room(i).unwrap_or_default(),
                    status(i)
                );
                text.push_str(&cells);
                if i % 9 == 0 {
                    text.push_str(&format!("P{i},Other,Gone,,在校\n"));
                    lines.push(u32::MAX);
                }
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("roster.csv");
            std::fs::write(&path, &text).unwrap();
            let (roster, _, rejects) = crate::pipeline::load_roster(&path, None).unwrap();
            let repeats = (0..n).filter(|i| i % 9 == 0).count();
            assert_eq!(rejects.len(), repeats);
            assert_eq!(roster.len(), n as usize);
            let narrow = buildings as usize <= super::SHORT_CODES;
            assert_eq!(matches!(roster.building, super::Widths::Narrow(_)), narrow);
            assert_eq!(matches!(roster.room, super::Widths::Narrow(_)), narrow);
            assert_eq!(matches!(roster.offset, super::Widths::Narrow(_)), narrow);
            assert!(!roster.buildings.iter().any(|b| &**b == "Gone"));
            let contacts = roster.details((0..n).collect()).unwrap();
            for p in 0..n {
                let i: u32 = roster.id(p)[1..].parse().unwrap();
                assert_eq!(roster.building_name(p), format!("B{}", building(i)));
                assert_eq!(roster.room_name(p), room(i).as_deref());
                assert_eq!(
                    roster.status[p as usize] == Status::OnLeave,
                    status(i) == "离校"
                );
                let line = 2 + lines.iter().position(|&l| l == i).unwrap() as u32;
                assert_eq!(roster.line[p as usize], line, "person {i}");
                assert_eq!(contacts.get(p).unwrap().name, format!("N{i}"));
            }
        }
    }

    #[test]
    fn a_scan_of_the_ids_finds_whom_the_index_finds() {
        // IDs of digits, codes and text, in no building order; asked for: everyone
        // once, some twice, some not on the roster, and rows without an ID.
        let n = 3_000u32;
        let id = |i: u32| match i % 3 {
            0 => format!("{}", 7_000_000 + i),
            1 => format!("C-{i}"),
            _ => format!("student-number-{i:06}"),
        };
        let mut text = String::from("person_id,name,building\n");
        for i in 0..n {
            text.push_str(&format!("{},N,B{}\n", id(i), (i * 31) % 17));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.csv");
        std::fs::write(&path, text).unwrap();
        let (roster, _, _) = crate::pipeline::load_roster(&path, None).unwrap();
        let mut asked: Vec<Option<String>> = (0..n).rev().map(|i| Some(id(i))).collect();
        asked.extend((0..n).step_by(7).map(|i| Some(id(i))));
        asked.extend([None, Some(id(n + 1)), Some("visitor-1".to_string()), None]);
        let asked: Vec<Option<&str>> = asked.iter().map(Option::as_deref).collect();
        let expected: Vec<u32> = asked
            .iter()
            .map(|id| {
                id.and_then(|id| roster.find(id))
                    .unwrap_or(crate::record::NONE)
            })
            .collect();
        assert_eq!(
            expected
                .iter()
                .filter(|&&p| p == crate::record::NONE)
                .count(),
            4
        );
        assert_eq!(roster.find_by_scan(&asked), expected);
        assert!(roster
            .find_by_scan(&[None, None])
            .iter()
            .all(|&p| p == crate::record::NONE));
    }
}
