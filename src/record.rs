//! The typed records every stage shares: people, samples, lab results and the
//! classes and actions derived from them.

use crate::ingest::keys;
use crate::strings::{Interner, Strings};
use rayon::prelude::*;
use std::sync::Arc;

/// Microseconds since 1970-01-01 00:00:00 UTC.
pub type Micros = i64;

/// A Ct value, in cycles; `None` when the target was not detected (or not reported).
pub type Ct = Option<f64>;

/// What a person does on campus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A student (the default).
    Student,
    /// A member of staff or a teacher.
    Staff,
}

/// Whether a person is on campus for a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// On campus (the default); expected in every round.
    OnCampus,
    /// Away from campus; not expected in a round.
    OnLeave,
    /// Under isolation or observation on campus; still expected.
    Isolated,
}

impl Status {
    /// Every status, by its number (`status as usize`).
    pub const ALL: [Status; 3] = [Status::OnCampus, Status::OnLeave, Status::Isolated];

    /// The contract's English name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnCampus => "on_campus",
            Status::OnLeave => "on_leave",
            Status::Isolated => "isolated",
        }
    }
}

/// The kind of an input file: what anomalies and rejects point into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputKind {
    /// The roster (花名册).
    Roster,
    /// The sampling records (采样记录).
    Samples,
    /// The lab results (检测结果).
    Results,
    /// The individual retests (复核结果).
    Retests,
}

impl InputKind {
    /// The kind's name, as the manifest's `role` and the command line's options name it.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Roster => "roster",
            InputKind::Samples => "samples",
            InputKind::Results => "results",
            InputKind::Retests => "retests",
        }
    }
}

/// The roster fields needed only for the people on an output list, read again from the
/// roster file at the end of a run (see [`crate::ingest::roster::Roster::details`]):
/// one listed person's cells, borrowed from their [`Contacts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Details<'a> {
    /// The person's name.
    pub name: &'a str,
    /// Dormitory room.
    pub room: Option<&'a str>,
    /// College or department.
    pub college: Option<&'a str>,
    /// Class.
    pub class: Option<&'a str>,
    /// Phone number.
    pub phone: Option<&'a str>,
    /// The counselor (辅导员) responsible for the person.
    pub counselor: Option<&'a str>,
}

/// The [`Details`] of every listed person, in one buffer: a city's missing list at
/// midday is millions of people, and six strings of their own each, in a hash map,
/// took several times the roster's bytes. A person's name, room and phone are kept as
/// text; their college, class and counselor, which many people share, as codes of one
/// table of distinct values.
#[derive(Debug, Default)]
pub struct Contacts {
    /// The people, ascending, each once.
    people: Vec<u32>,
    /// Where each person's cells are in `own` and `shared`, in the order of `people`;
    /// `None` when they are in that order.
    slots: Option<Vec<u32>>,
    /// Name, room and phone, three strings a person; an empty string for a cell that
    /// is empty or has no column.
    own: Strings,
    /// College, class and counselor, a code into `values` each.
    shared: Vec<[u32; 3]>,
    /// The distinct values of the shared cells.
    values: Interner,
}

/// Where `p` is in `sorted` (ascending), searched from its start in steps that double,
/// then by halves within the last step: as fast as the distance to `p`, not the
/// length of `sorted`.
fn gallop(sorted: &[u32], p: u32) -> Option<usize> {
    let mut bound = 1;
    while bound < sorted.len() && sorted[bound] < p {
        bound *= 2;
    }
    // Everything before `bound / 2` is below `p`, and `sorted[bound]` (if any) is not.
    let (lo, hi) = (bound / 2, (bound + 1).min(sorted.len()));
    sorted[lo..hi].binary_search(&p).ok().map(|at| lo + at)
}

/// A person's cells as read again, before they join a [`Contacts`]: the cells of one
/// batch of people, their shared cells as codes of the batch's own table.
pub struct ContactBatch {
    own: Strings,
    shared: Vec<[u32; 3]>,
    values: Interner,
    /// The shared cells' codes of the person before ([`NONE`] at first), the hints of
    /// [`Interner::intern_hinted`]: people who follow each other in a roster mostly
    /// share their college, class and counselor.
    last: [u32; 3],
}

impl ContactBatch {
    /// Room for `people` people.
    pub fn with_capacity(people: usize) -> ContactBatch {
        ContactBatch {
            own: Strings::with_capacity(people * 3, people * 32),
            shared: Vec::with_capacity(people),
            values: Interner::default(),
            last: [NONE; 3],
        }
    }

    /// Adds a person's cells, in the order of the fields of [`Details`] (empty for a
    /// cell that is empty or has no column).
    pub fn push(&mut self, cells: [&str; Contacts::CELLS]) {
        for c in [Contacts::NAME, Contacts::ROOM, Contacts::PHONE] {
            self.own.push(cells[c]);
        }
        let shared: [u32; 3] = std::array::from_fn(|k| {
            let cell = cells[[Contacts::COLLEGE, Contacts::CLASS, Contacts::COUNSELOR][k]];
            self.values.intern_hinted(cell, self.last[k])
        });
        self.last = shared;
        self.shared.push(shared);
    }

    /// The bytes of its text.
    pub fn text_len(&self) -> usize {
        self.own.text_len() + self.values.text_len()
    }
}

impl Contacts {
    /// The cells each person has: name, room, college, class, phone, counselor.
    pub const CELLS: usize = 6;
    /// The name's cell.
    pub const NAME: usize = 0;
    /// The room's cell.
    pub const ROOM: usize = 1;
    /// The college's cell.
    pub const COLLEGE: usize = 2;
    /// The class's cell.
    pub const CLASS: usize = 3;
    /// The phone's cell.
    pub const PHONE: usize = 4;
    /// The counselor's cell.
    pub const COUNSELOR: usize = 5;

    /// The cells of `people` (ascending, each once), read in `batches` one after the
    /// other: those of `people[i]` at slot `slots[i]` (at slot `i` when `slots` is
    /// `None`). Each batch is given back to the system as it is joined, past every
    /// `give_back_every` bytes.
    pub fn new(
        people: Vec<u32>,
        slots: Option<Vec<u32>>,
        batches: Vec<ContactBatch>,
        give_back_every: usize,
    ) -> Contacts {
        debug_assert!(people.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(slots.as_ref().is_none_or(|s| s.len() == people.len()));
        let (count, bytes) = batches
            .iter()
            .fold((0, 0), |(n, b), x| (n + x.own.len(), b + x.own.text_len()));
        let mut own = Strings::with_capacity(count, bytes);
        let mut shared = Vec::with_capacity(people.len());
        let mut values = Interner::default();
        let mut joined = 0;
        for batch in batches {
            own.append(&batch.own);
            let code: Vec<u32> = batch.values.iter().map(|v| values.intern(v)).collect();
            shared.extend(
                batch
                    .shared
                    .iter()
                    .map(|s| s.map(|local| code[local as usize])),
            );
            joined += batch.text_len();
            drop(batch);
            if joined >= give_back_every {
                crate::memory::give_back();
                joined = 0;
            }
        }
        debug_assert_eq!(shared.len(), people.len());
        Contacts {
            people,
            slots,
            own,
            shared,
            values,
        }
    }

    /// The person at `place`.
    pub fn person(&self, place: u32) -> u32 {
        self.people[place as usize]
    }

    /// Person `p`'s cells, if `p` is listed (the lists read them cell by cell, by
    /// place: [`Contacts::cell`]).
    pub fn get(&self, p: u32) -> Option<Details<'_>> {
        let at = self.place(p)?;
        let cell = |c: usize| self.cell(at, c);
        Some(Details {
            name: cell(Self::NAME).unwrap_or(""),
            room: cell(Self::ROOM),
            college: cell(Self::COLLEGE),
            class: cell(Self::CLASS),
            phone: cell(Self::PHONE),
            counselor: cell(Self::COUNSELOR),
        })
    }

    /// Person `p`'s place among the listed people, if `p` is listed.
    pub fn place(&self, p: u32) -> Option<u32> {
        self.people.binary_search(&p).ok().map(|at| at as u32)
    }

    /// The place of each of `n` people, `person(i)` the i-th ([`NONE`] for one not
    /// listed), found on the workers. A list sorted as the roster numbers its people
    /// (everyone's on a missing list, unless IDs are pseudonyms) names them in
    /// ascending order: each search then starts at the place before it and widens
    /// from there, a few steps in memory just read, instead of a search of the whole
    /// table (a city's missing list at midday is millions of people).
    pub fn places(&self, n: usize, person: impl Fn(usize) -> u32 + Sync) -> Vec<u32> {
        const BLOCK: usize = 1 << 14;
        let mut places = vec![NONE; n];
        places
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, block)| {
                // Where the search may start: past the last place found.
                let mut from = 0;
                for (k, slot) in block.iter_mut().enumerate() {
                    let p = person(b * BLOCK + k);
                    let after = from > 0 && self.people[from - 1] < p;
                    let found = match after {
                        true => gallop(&self.people[from..], p).map(|at| from + at),
                        false => self.people.binary_search(&p).ok(),
                    };
                    if let Some(at) = found {
                        *slot = at as u32;
                        from = at + 1;
                    }
                }
            });
        places
    }

    /// Cell `c` ([`Contacts::NAME`] … [`Contacts::COUNSELOR`]) of the person at
    /// `place`; `None` when it is empty.
    pub fn cell(&self, place: u32, c: usize) -> Option<&str> {
        let slot = self.slots.as_ref().map_or(place, |s| s[place as usize]);
        let text = match c {
            Self::NAME => self.own.get(slot * 3),
            Self::ROOM => self.own.get(slot * 3 + 1),
            Self::PHONE => self.own.get(slot * 3 + 2),
            Self::COLLEGE => self.values.name(self.shared[slot as usize][0]),
            Self::CLASS => self.values.name(self.shared[slot as usize][1]),
            _ => self.values.name(self.shared[slot as usize][2]),
        };
        Some(text).filter(|t| !t.is_empty())
    }

    /// Whether cell `c` is one many people share (college, class, counselor), held as a
    /// code of [`Contacts::values`].
    pub fn is_shared(c: usize) -> bool {
        matches!(c, Self::COLLEGE | Self::CLASS | Self::COUNSELOR)
    }

    /// The code in [`Contacts::values`] of shared cell `c` (see [`Contacts::is_shared`])
    /// of the person at `place`; its value is the empty string when the cell is empty.
    pub fn shared_code(&self, place: u32, c: usize) -> u32 {
        debug_assert!(Self::is_shared(c), "cell {c} is not a shared one");
        let slot = self.slots.as_ref().map_or(place, |s| s[place as usize]);
        let k = match c {
            Self::COLLEGE => 0,
            Self::CLASS => 1,
            _ => 2,
        };
        self.shared[slot as usize][k]
    }

    /// The distinct values of the shared cells.
    pub fn values(&self) -> &Interner {
        &self.values
    }

    /// How many people are listed.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    /// Whether nobody is listed.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }
}

/// One accepted row of the samples file: a person swabbed into a tube, in 24 bytes (a
/// city's file has ten million). Strings are interned; see
/// [`crate::ingest::samples::SampleSet`] for the tables, and for the row's line and its
/// site and collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Index of the round label.
    pub round: u32,
    /// Index of the tube_id.
    pub tube: u32,
    /// The person key: below the roster's length, a roster index; from it on, an
    /// unregistered person.
    pub person: u32,
    /// Index of the row's site and collector together ([`Post`]), or [`NONE`] without
    /// either.
    pub post: u32,
    /// When the swab was taken.
    pub sampled_at: Micros,
}

/// Where a swab was taken: the site and the collector (采样员) of a sample, each an
/// index, or [`NONE`] without one. A site has few collectors, so a city's samples name
/// a few thousand of these, which its rows point at instead of holding both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Post {
    /// Index of the site, or [`NONE`].
    pub site: u32,
    /// Index of the collector, or [`NONE`]: rows that differ only in it are still told
    /// apart by value.
    pub collector: u32,
}

/// The last line of a samples file that poolscreen reads: a sample's line
/// ([`crate::ingest::samples::SampleSet::line`]) is given in 32 bits. A file this long
/// would hold some hundred gigabytes.
pub const MAX_SAMPLE_LINE: u64 = u32::MAX as u64;

/// The index that stands for "none".
pub const NONE: u32 = u32::MAX;

/// One row of a lab results file (or of a retests file, which adds `person_id`). A
/// round of single tubes has ten million, so the row is kept small: Ct values and the
/// test time in 8 bytes each, the cells most results files leave out boxed apart.
#[derive(Clone, Debug, PartialEq)]
pub struct LabResult {
    /// The tube barcode.
    pub tube_id: TubeId,
    /// Ct of the ORF1ab gene.
    pub ct_orf1ab: PackedCt,
    /// Ct of the N gene.
    pub ct_n: PackedCt,
    /// Ct of the internal control.
    pub ct_ic: PackedCt,
    /// When the lab tested the tube.
    pub tested_at: PackedTime,
    /// The cells most results files leave out or repeat on every row (the round, the
    /// lab), when the row has any; shared with the row before when it has the same.
    pub more: Option<Arc<ResultMore>>,
    /// The line, starting at `1`, of the row (a row past line 4,294,967,295 is
    /// rejected, as in the samples file).
    pub line: u32,
    /// The lab's own call, when given.
    pub lab_call: Option<Class>,
}

// Ten million result rows in a round of single tubes: every byte counts ten megabytes.
const _: () = assert!(std::mem::size_of::<LabResult>() <= 64);

/// A result row's tube_id, in 16 bytes: packed into a number when it has one of the
/// usual shapes (digits, a short code: [`keys::pack`]), so that ten million rows of a
/// lab's file hold no text of their own; as text otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TubeId {
    /// The ID packed.
    Packed(u64),
    /// The ID as text.
    Text(Box<str>),
}

const _: () = assert!(std::mem::size_of::<TubeId>() == 16);

impl TubeId {
    /// `id`, packed when it can be.
    pub fn new(id: &str) -> TubeId {
        match keys::pack(id) {
            keys::UNPACKED => TubeId::Text(id.into()),
            key => TubeId::Packed(key),
        }
    }

    /// The ID, written into `room` when it is packed.
    pub fn text<'a>(&'a self, room: &'a mut [u8; 18]) -> &'a str {
        match self {
            TubeId::Packed(key) => keys::unpack(*key, room),
            TubeId::Text(text) => text,
        }
    }

    /// The ID as text of its own.
    pub fn to_text(&self) -> Box<str> {
        self.text(&mut [0; 18]).into()
    }
}

/// The cells of a result row that most results files leave out (a retests file has
/// person_id; a results file may have person_id and the lab too). A row that has any
/// holds them apart, shared with the row before it when that has the same (the lab,
/// named on every row of a lab's export, is held once a chunk).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultMore {
    /// The round label, when the file has a round column and the cell is not empty.
    pub round: Option<Box<str>>,
    /// The person: an individual retest's, or a single-person tube's when the results
    /// file names them.
    pub person_id: Option<Box<str>>,
    /// The lab (检测机构), when given.
    pub lab: Option<Box<str>>,
    /// When the person was swabbed again, for individual retests that say so.
    pub sampled_at: Option<Micros>,
}

impl LabResult {
    /// The round label, when the file has a round column and the cell is not empty.
    pub fn round(&self) -> Option<&str> {
        self.more.as_ref().and_then(|m| m.round.as_deref())
    }

    /// The person: an individual retest's, or a single-person tube's when the results
    /// file names them.
    pub fn person_id(&self) -> Option<&str> {
        self.more.as_ref().and_then(|m| m.person_id.as_deref())
    }

    /// The lab (检测机构), when given.
    pub fn lab(&self) -> Option<&str> {
        self.more.as_ref().and_then(|m| m.lab.as_deref())
    }

    /// When the person was swabbed again, for individual retests that say so.
    pub fn sampled_at(&self) -> Option<Micros> {
        self.more.as_ref().and_then(|m| m.sampled_at)
    }
}

/// A [`Ct`] in 8 bytes: NaN stands for `None` (a Ct value read from a file is a number
/// above 0 and at most 50, never NaN).
#[derive(Clone, Copy, Debug)]
pub struct PackedCt(f64);

impl PackedCt {
    /// `ct`, packed.
    pub fn new(ct: Ct) -> PackedCt {
        debug_assert!(!ct.is_some_and(f64::is_nan));
        PackedCt(ct.unwrap_or(f64::NAN))
    }

    /// The Ct value.
    pub fn get(self) -> Ct {
        (!self.0.is_nan()).then_some(self.0)
    }
}

impl PartialEq for PackedCt {
    fn eq(&self, other: &PackedCt) -> bool {
        self.get() == other.get()
    }
}

/// An optional [`Micros`] in 8 bytes: `i64::MIN` stands for `None` (no time poolscreen
/// reads is that early).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedTime(Micros);

impl PackedTime {
    /// `time`, packed.
    pub fn new(time: Option<Micros>) -> PackedTime {
        debug_assert!(time != Some(Micros::MIN));
        PackedTime(time.unwrap_or(Micros::MIN))
    }

    /// The time.
    pub fn get(self) -> Option<Micros> {
        (self.0 != Micros::MIN).then_some(self.0)
    }
}

/// Which columns a results file has; interpretation depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResultColumns {
    /// Both `ct_orf1ab` and `ct_n` are present.
    pub ct_pair: bool,
    /// `ct_ic` is present.
    pub ct_ic: bool,
    /// `lab_call` is present.
    pub lab_call: bool,
    /// `round` is present.
    pub round: bool,
}

/// The class of a tube, ordered by severity: a greater class is more severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// No target detected and the control worked.
    Negative,
    /// Sampled, no result yet.
    Pending,
    /// Neither target nor the internal control detected: the swab must be repeated.
    Invalid,
    /// One target detected, or both in the grey zone.
    Suspect,
    /// Both targets detected.
    Positive,
}

impl Class {
    /// Every class, by its number (`class as usize`).
    pub const ALL: [Class; 5] = [
        Class::Negative,
        Class::Pending,
        Class::Invalid,
        Class::Suspect,
        Class::Positive,
    ];

    /// The contract's name of the class.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Negative => "negative",
            Class::Pending => "pending",
            Class::Invalid => "invalid",
            Class::Suspect => "suspect",
            Class::Positive => "positive",
        }
    }
}

/// What must happen to a person on the retest list, in the order the list ranks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// A single tube was positive: report the case.
    Report,
    /// A positive pool: isolate everyone in it and retest one by one.
    IsolateAndRetest,
    /// A suspect tube: retest.
    Retest,
    /// An invalid tube: swab again.
    Resample,
}

impl Action {
    /// The contract's name of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Report => "report",
            Action::IsolateAndRetest => "isolate_and_retest",
            Action::Retest => "retest",
            Action::Resample => "resample",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ContactBatch, Contacts};

    #[test]
    fn every_persons_cells_come_back_as_read_whatever_their_neighbours() {
        // Shared cells (college, class, counselor) the same as the row before, changed
        // in one column only, equal to another column's value, empty, and back to an
        // earlier value; in two batches, the second starting mid-run.
        let rows: [[&str; Contacts::CELLS]; 8] = [
            ["甲", "101", "理学院", "1班", "13800000000", "王"],
            ["乙", "101", "理学院", "1班", "13800000001", "王"],
            ["丙", "102", "理学院", "2班", "", "王"],
            ["丁", "", "王", "2班", "13800000003", "王"],
            ["戊", "103", "", "", "13800000004", ""],
            ["己", "103", "理学院", "1班", "13800000005", "李"],
            ["庚", "104", "理学院", "1班", "", "李"],
            ["辛", "104", "文学院", "理学院", "13800000007", "文学院"],
        ];
        for cut in [0, 1, 3, 6, 8] {
            let batches = [&rows[..cut], &rows[cut..]].map(|part| {
                let mut batch = ContactBatch::with_capacity(part.len());
                for row in part {
                    batch.push(*row);
                }
                batch
            });
            let contacts = Contacts::new((0..8).collect(), None, batches.into(), usize::MAX);
            for (p, row) in rows.iter().enumerate() {
                for (c, &expected) in row.iter().enumerate() {
                    let found = contacts.cell(p as u32, c).unwrap_or("");
                    assert_eq!(found, expected, "person {p}, cell {c}, cut at {cut}");
                }
            }
        }
    }

    /// The places found a block of a list at a time, each search from the place
    /// before, are those a search of the whole table finds, whatever the list's order:
    /// runs ascending with people between them not listed, listed people some way
    /// apart, a person twice in a row (on a retest list, the last of one round and the
    /// first of the next), runs
    /// that go back, people past the last listed and before the first, and blocks that
    /// start anywhere in a run.
    #[test]
    fn places_are_found_whatever_order_the_people_come_in() {
        let people: Vec<u32> = (0..60_000).map(|i| 5 + 3 * i).collect();
        let batches = vec![ContactBatch::with_capacity(0)];
        let contacts = Contacts {
            people: people.clone(),
            ..Contacts::new(Vec::new(), None, batches, usize::MAX)
        };
        let mut asked: Vec<u32> = (0..200_000).collect();
        asked.extend((0..30_000).flat_map(|i| [7 + 3 * i, 8 + 3 * i, 8 + 3 * i]));
        asked.extend((0..40_000).rev().map(|i| 2 + 3 * i));
        asked.extend((0..5_000).flat_map(|i| [200_000 - i, 5 + 3 * (i * 7 % 60_000)]));
        // Listed people a power of two and one apart: each is found where the steps
        // that double stop, at the step's last place.
        for stride in [2, 3, 5, 9, 17, 33, 1025] {
            asked.extend(people.iter().step_by(stride));
        }
        asked.extend([0, 4, 5, u32::MAX - 1, 180_002, 179_999, 5]);
        let places = contacts.places(asked.len(), |i| asked[i]);
        assert_eq!(places.len(), asked.len());
        for (i, (&p, &place)) in asked.iter().zip(&places).enumerate() {
            let expected = people.binary_search(&p).map_or(super::NONE, |at| at as u32);
            assert_eq!(place, expected, "person {p}, asked at {i}");
        }
    }

    #[test]
    fn statuses_and_classes_are_listed_by_their_numbers() {
        for (i, status) in super::Status::ALL.iter().enumerate() {
            assert_eq!(*status as usize, i);
        }
        for (i, class) in super::Class::ALL.iter().enumerate() {
            assert_eq!(*class as usize, i);
        }
    }

    #[test]
    fn a_sample_is_24_bytes() {
        // Ten million samples a city round: every byte here is ten megabytes.
        assert_eq!(std::mem::size_of::<super::Sample>(), 24);
    }
}
