//! The rows of the output lists, each value read as the row is written with the
//! protections of personal data applied (`--mask`, `--pseudonymize`), and each list's
//! column table: the one place where a listed person's roster cells are taken and
//! masked.

use super::columns::{column, Column, Kind, Value};
use crate::assign::Slot;
use crate::closure::{Closed, Closure, State};
use crate::ingest::roster::Roster;
use crate::ingest::Reject;
use crate::privacy::{guard_ids, pseudonym_text, Privacy};
use crate::reconcile::{Reconciled, Tube};
use crate::record::{Contacts, LabResult, Micros, NONE};
use crate::retest::Entry;
use crate::strings::{Interner, Strings};
use crate::summarize::MissingEntry;
use rayon::prelude::*;
use std::borrow::Cow;

/// The listed people's roster cells as the lists print them: read from the
/// [`Contacts`] when a row is written, except the texts printed otherwise (a name,
/// phone or counselor masked with `--mask`; anything shaped like an ID card number,
/// masked in every cell always), made once here. A city's missing list at midday is
/// millions of rows: six texts made for each row beforehand took more than the
/// roster's bytes.
pub struct Shown<'a> {
    roster: &'a Roster,
    contacts: &'a Contacts,
    /// Each cell's texts printed otherwise, by the person's place in `contacts`; empty
    /// for the shared cells.
    replaced: Vec<Replaced>,
    /// The shared cells (college, class, counselor; [`Contacts::is_shared`]) as
    /// printed, worked out once a value rather than once a person: by cell and value
    /// of `contacts`, the number in `printed` of the text it prints as, [`NONE`] for an
    /// empty cell (empty for the other cells).
    printed_of: Vec<Vec<u32>>,
    /// The distinct texts the shared cells and the rooms print as.
    printed: Interner,
    /// By room of the roster (`Roster::rooms`), the number in `printed` of the text it
    /// prints as (an ID number typed into a room masked); [`NONE`] for a room no one
    /// listed is in.
    room_printed: Vec<u32>,
    /// The person_ids printed otherwise (pseudonyms, masked ID numbers), by place.
    ids: Replaced,
}

impl<'a> Shown<'a> {
    /// The cells of `contacts`, people of `roster`, as printed under `privacy`, with
    /// `--pseudonymize` each roster person's pseudonym as a number in `pseudonyms`, by
    /// person key.
    pub fn new(
        roster: &'a Roster,
        contacts: &'a Contacts,
        privacy: &Privacy,
        pseudonyms: Option<&[u64]>,
    ) -> Shown<'a> {
        let ids = Replaced::new(contacts.len(), |at| {
            let p = contacts.person(at as u32);
            match pseudonyms {
                Some(numbers) => Cow::Owned(pseudonym_text(numbers[p as usize])),
                None => privacy.person_id(roster.id(p)),
            }
        });
        let replaced = (0..Contacts::CELLS)
            .into_par_iter()
            .map(|c| {
                if Contacts::is_shared(c) {
                    return Replaced::default();
                }
                Replaced::new(contacts.len(), |at| {
                    let Some(text) = contacts.cell(at as u32, c) else {
                        // A name is printed, even an empty one, and masked as one.
                        return match c == Contacts::NAME {
                            true => guard_ids(privacy.name("")),
                            false => Cow::Borrowed(""),
                        };
                    };
                    guard_ids(match c {
                        // The counselor's name is a name too.
                        Contacts::NAME | Contacts::COUNSELOR => privacy.name(text),
                        Contacts::PHONE => privacy.phone(text),
                        _ => Cow::Borrowed(text),
                    })
                })
            })
            .collect();
        let mut printed = Interner::default();
        let printed_of = (0..Contacts::CELLS)
            .map(|c| match Contacts::is_shared(c) {
                false => Vec::new(),
                true => {
                    let values = contacts.values();
                    (0..values.len() as u32)
                        .map(|v| match values.name(v) {
                            "" => NONE,
                            text => printed.intern(&guard_ids(match c {
                                // The counselor's name is a name too.
                                Contacts::COUNSELOR => privacy.name(text),
                                _ => Cow::Borrowed(text),
                            })),
                        })
                        .collect()
                }
            })
            .collect();
        // Only the rooms of the people listed are printed: a city whose rooms name
        // their building (`3号楼-302`) has millions, and a list a few thousand of them.
        let mut listed = vec![false; roster.rooms.len()];
        for place in 0..contacts.len() as u32 {
            let p = contacts.person(place) as usize;
            if p < roster.len() && roster.room.get(p) != NONE {
                listed[roster.room.get(p) as usize] = true;
            }
        }
        let room_printed = (0..roster.rooms.len() as u32)
            .map(|r| match listed[r as usize] {
                true => printed.intern(roster.room_shown(r)),
                false => NONE,
            })
            .collect();
        Shown {
            roster,
            contacts,
            replaced,
            printed_of,
            printed,
            room_printed,
            ids,
        }
    }

    /// The person_id of roster person `p`, at `place`, as printed.
    pub fn person_id(&self, place: u32, p: u32) -> &str {
        match self.ids.get(place as usize) {
            Some(id) => id,
            None => self.roster.id(p),
        }
    }

    /// The place of each of `n` people, `person(i)` the i-th, [`NONE`] for one not
    /// listed ([`Contacts::places`]).
    pub fn places(&self, n: usize, person: impl Fn(usize) -> u32 + Sync) -> Vec<u32> {
        self.contacts.places(n, person)
    }

    /// Cell `c` ([`Contacts::NAME`] … [`Contacts::COUNSELOR`]) of the person at
    /// `place` as printed: `None` when it is empty, or the place is [`NONE`] (a person
    /// not on the roster).
    pub fn cell(&self, place: u32, c: usize) -> Option<&str> {
        if place == NONE {
            return None;
        }
        if Contacts::is_shared(c) {
            return match self.cell_code(place, c) {
                NONE => None,
                code => Some(self.printed.name(code)),
            };
        }
        let text = match self.replaced[c].get(place as usize) {
            Some(text) => Some(text),
            None => self.contacts.cell(place, c),
        };
        match c == Contacts::NAME {
            true => Some(text.unwrap_or("")),
            false => text,
        }
    }

    /// Roster person `p`'s room as a number: the same for the same room printed,
    /// [`NONE`] without a room or off the roster (`p` past its people). Only the
    /// rooms of the people listed are numbered: `p` must be one of them.
    pub fn room_code(&self, p: u32) -> u32 {
        match (p as usize) < self.roster.len() {
            true => match self.roster.room.get(p as usize) {
                NONE => NONE,
                room => {
                    let code = self.room_printed[room as usize];
                    debug_assert!(code != NONE, "the room of a person not listed");
                    code
                }
            },
            false => NONE,
        }
    }

    /// Shared cell `c` ([`Contacts::is_shared`]) of the person at `place` as a number:
    /// the same for the same text printed, [`NONE`] when the cell is empty or the place
    /// is [`NONE`].
    pub fn cell_code(&self, place: u32, c: usize) -> u32 {
        debug_assert!(Contacts::is_shared(c), "cell {c} is not a shared one");
        match place {
            NONE => NONE,
            place => self.printed_of[c][self.contacts.shared_code(place, c) as usize],
        }
    }
}

/// A row that lists a person: the columns every such list shares come from here.
pub trait Listed {
    /// The person (a pseudonym with `--pseudonymize`).
    fn person_id(&self) -> &str;
    /// The person's building, if on the roster.
    fn building(&self) -> Option<&str>;
    /// The person's roster cell `c` ([`Contacts::NAME`] … [`Contacts::COUNSELOR`]) as
    /// printed, `None` when empty or when the person is not on the roster.
    fn cell(&self, c: usize) -> Option<&str>;
    /// The person's building's number on the roster, [`NONE`] when not on it.
    fn building_code(&self) -> u32;
    /// The person's room as a number (see [`Shown::room_code`]).
    fn room_code(&self) -> u32;
    /// Shared roster cell `c` ([`Contacts::is_shared`]) as a number (see
    /// [`Shown::cell_code`]).
    fn cell_code(&self, c: usize) -> u32;
}

/// The columns of a listed person, in the order every list has them: person_id, name,
/// building, room, college, class, phone, counselor.
pub fn person_columns<R: Listed>() -> Vec<Column<R>> {
    use Kind::*;
    vec![
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(r.person_id()))
        }),
        column("name", "姓名", 10.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::NAME))
        }),
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(r.building())
        })
        .coded(|r: &R| r.building_code()),
        column("room", "宿舍号", 8.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::ROOM))
        })
        .coded(|r: &R| r.room_code()),
        column("college", "学院", 16.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::COLLEGE))
        })
        .coded(|r: &R| r.cell_code(Contacts::COLLEGE)),
        column("class", "班级", 12.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::CLASS))
        })
        .coded(|r: &R| r.cell_code(Contacts::CLASS)),
        column("phone", "手机号", 14.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::PHONE))
        }),
        column("counselor", "辅导员", 10.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::COUNSELOR))
        })
        .coded(|r: &R| r.cell_code(Contacts::COUNSELOR)),
    ]
}

/// The retest list's entries, each a row of `retest.*` and of `closure.parquet` (one
/// row an entry in both, in the list's order), and what a row's cells are read from
/// as it is written: an outbreak's list is a million rows, and their cells made
/// beforehand took 440 bytes a row. Only the texts printed otherwise are made here,
/// once an entry: the person_ids of people not on the roster (pseudonyms, masked ID
/// numbers) and the deciding retests' tube_ids.
pub struct Entries<'a> {
    roster: &'a Roster,
    rec: &'a Reconciled,
    list: &'a [Entry],
    closures: &'a [Closure],
    retests: &'a [LabResult],
    shown: &'a Shown<'a>,
    /// Each entry's person's place in `shown`, [`NONE`] for people not on the roster.
    places: Vec<u32>,
    /// The person_ids of the entries of people without a place in `shown`, printed
    /// otherwise than `rec` has them, by entry.
    others: Replaced,
    /// The tube_ids of the deciding retests, by entry: each made here as text (none
    /// is the retest row's own), so each is held.
    retest_ids: Replaced,
}

impl<'a> Entries<'a> {
    /// The entries of `list` (sorted, see [`crate::retest::sort`]) with their
    /// closures in `closed` and the retest rows these point into; `shown` holds every
    /// listed roster person.
    pub fn new(
        roster: &'a Roster,
        rec: &'a Reconciled,
        list: &'a [Entry],
        closed: &'a Closed,
        retests: &'a [LabResult],
        shown: &'a Shown<'a>,
        privacy: &Privacy,
    ) -> Entries<'a> {
        let closures = &closed.closures[..];
        assert_eq!(closures.len(), list.len(), "one closure per entry");
        let places = shown.places(list.len(), |at| list[at].person);
        let others = Replaced::new(list.len(), |at| match places[at] {
            NONE => privacy.person_id(rec.person_id(roster, list[at].person)),
            _ => Cow::Borrowed(""),
        });
        let retest_ids = Replaced::new(list.len(), |at| match closures[at].retest {
            Some(k) => Cow::Owned(retests[k as usize].tube_id.to_text().into_string()),
            None => Cow::Borrowed(""),
        });
        Entries {
            roster,
            rec,
            list,
            closures,
            retests,
            shown,
            places,
            others,
            retest_ids,
        }
    }

    /// The rows, one an entry, in the list's order.
    pub fn rows(&self) -> Vec<EntryRow<'_>> {
        (0..self.list.len() as u32)
            .map(|at| EntryRow { entries: self, at })
            .collect()
    }
}

/// One entry of the retest list, a row of `retest.*` and of `closure.parquet`: its
/// cells are read from [`Entries`] when it is written.
#[derive(Clone, Copy)]
pub struct EntryRow<'a> {
    entries: &'a Entries<'a>,
    /// The entry, by index into the list.
    at: u32,
}

// An outbreak's retest list is a million rows: a row is where to read and a number.
const _: () = assert!(std::mem::size_of::<EntryRow>() <= 16);

impl<'a> EntryRow<'a> {
    /// The entry.
    pub fn entry(&self) -> &'a Entry {
        &self.entries.list[self.at as usize]
    }

    /// Where the entry stands.
    fn closure(&self) -> &'a Closure {
        &self.entries.closures[self.at as usize]
    }

    /// The tube that put the person on the list.
    fn tube(&self) -> &'a Tube {
        &self.entries.rec.tubes[self.entry().tube as usize]
    }

    /// The deciding retest row, if any.
    fn retest(&self) -> Option<&'a LabResult> {
        let retests = self.entries.retests;
        self.closure().retest.map(|k| &retests[k as usize])
    }

    /// The round.
    pub fn round(&self) -> &'a str {
        &self.entries.rec.rounds()[self.entry().round as usize]
    }

    /// The person's place in the shown cells, [`NONE`] for people not on the roster.
    fn place(&self) -> u32 {
        self.entries.places[self.at as usize]
    }

    /// The person (a pseudonym with `--pseudonymize`).
    pub fn person_id(&self) -> &'a str {
        let (entries, person) = (self.entries, self.entry().person);
        match self.place() {
            NONE => match entries.others.get(self.at as usize) {
                Some(id) => id,
                None => entries.rec.person_id(entries.roster, person),
            },
            place => entries.shown.person_id(place, person),
        }
    }

    /// The building; `None` for people not on the roster.
    pub fn building(&self) -> Option<&'a str> {
        let person = self.entry().person;
        (person < self.entries.rec.roster_len).then(|| self.entries.roster.building_name(person))
    }

    /// The person's roster cell `c` as printed (see [`Shown::cell`]).
    pub fn cell(&self, c: usize) -> Option<&'a str> {
        self.entries.shown.cell(self.place(), c)
    }

    /// Where the entry stands.
    pub fn state(&self) -> State {
        self.closure().state
    }

    /// Whether the step the entry is at is overdue (see [`Closure::overdue`]).
    pub fn overdue(&self) -> Option<bool> {
        self.closure().overdue
    }

    /// When the step the entry is at is due.
    pub fn due_at(&self) -> Option<Micros> {
        self.closure().due_at
    }

    /// The tube's deciding result, if any.
    fn result(&self) -> Option<&'a LabResult> {
        let rec = self.entries.rec;
        self.tube().result().map(|r| &rec.results[r as usize])
    }
}

impl Listed for EntryRow<'_> {
    fn person_id(&self) -> &str {
        EntryRow::person_id(self)
    }
    fn building(&self) -> Option<&str> {
        EntryRow::building(self)
    }
    fn cell(&self, c: usize) -> Option<&str> {
        EntryRow::cell(self, c)
    }
    fn building_code(&self) -> u32 {
        let person = self.entry().person;
        match person < self.entries.rec.roster_len {
            true => self.entries.roster.building.get(person as usize),
            false => NONE,
        }
    }
    fn room_code(&self) -> u32 {
        self.entries.shown.room_code(self.entry().person)
    }
    fn cell_code(&self, c: usize) -> u32 {
        self.entries.shown.cell_code(self.place(), c)
    }
}

/// The columns of `retest.parquet`, `retest.csv` and `retest.xlsx`.
pub fn retest_columns<'r>() -> Vec<Column<EntryRow<'r>>> {
    use Kind::*;
    type R<'r> = EntryRow<'r>;
    let mut columns = vec![
        column("round", "轮次", 12.0, Text, |r: &R| {
            Value::Text(Some(r.round()))
        })
        .coded(|r: &R| r.entry().round),
        column("action", "处置", 16.0, Code, |r: &R| {
            Value::Code(Some(r.entry().action.as_str()))
        })
        .coded(|r: &R| r.entry().action as u32),
        column("reason", "原因", 12.0, Code, |r: &R| {
            Value::Code(Some(r.entry().reason))
        }),
    ];
    columns.extend(person_columns());
    let tube: Vec<Column<R<'r>>> = vec![
        column("tube_id", "试管编号", 18.0, Text, |r: &R| {
            Value::Text(Some(r.entries.rec.tube_id(r.tube())))
        }),
        column("tube_size", "混管人数", 9.0, Int, |r| {
            Value::Int(Some(r.tube().size() as i64))
        }),
        column("tube_class", "试管结果", 9.0, Code, |r: &R| {
            Value::Code(Some(r.tube().class().as_str()))
        })
        .coded(|r: &R| r.tube().class() as u32),
        column("ct_orf1ab", "ORF1ab Ct", 10.0, Float, |r| {
            Value::Float(r.result().and_then(|x| x.ct_orf1ab.get()))
        }),
        column("ct_n", "N Ct", 8.0, Float, |r| {
            Value::Float(r.result().and_then(|x| x.ct_n.get()))
        }),
        column("sampled_at", "采样时间", 19.0, Time, |r| {
            Value::Time(Some(r.entry().sampled_at))
        }),
        column("site", "采样点", 14.0, Text, |r: &R| {
            Value::Text(r.entries.rec.site(r.entry().site))
        }),
    ];
    columns.extend(tube);
    columns
}

/// The missing list's entries, each a row of `missing.*` whose cells are read from
/// the round's tables when it is written: a city's missing list at midday is millions
/// of rows.
pub struct Missing<'a> {
    rec: &'a Reconciled,
    list: &'a [MissingEntry],
    shown: &'a Shown<'a>,
}

impl<'a> Missing<'a> {
    /// The entries of `list` (sorted, see [`crate::summarize::sort_missing`]); `shown`
    /// holds every listed person.
    pub fn new(rec: &'a Reconciled, list: &'a [MissingEntry], shown: &'a Shown<'a>) -> Self {
        Missing { rec, list, shown }
    }

    /// The rows, one an entry, in the list's order.
    pub fn rows(&self) -> Vec<MissingRow<'_>> {
        let places = self
            .shown
            .places(self.list.len(), |at| self.list[at].person);
        (0..self.list.len() as u32)
            .into_par_iter()
            .zip(places)
            .map(|(at, place)| MissingRow {
                missing: self,
                at,
                place,
            })
            .collect()
    }
}

/// One row of the missing list: a roster person in a round.
pub struct MissingRow<'a> {
    missing: &'a Missing<'a>,
    /// The entry, by index into the list.
    at: u32,
    /// The person's place in the shown cells.
    place: u32,
}

// A city's missing list at midday is millions of rows.
const _: () = assert!(std::mem::size_of::<MissingRow>() <= 16);

impl<'a> MissingRow<'a> {
    /// The entry.
    fn entry(&self) -> &'a MissingEntry {
        &self.missing.list[self.at as usize]
    }

    /// The round.
    pub fn round(&self) -> &'a str {
        &self.missing.rec.rounds()[self.entry().round as usize]
    }

    /// `on_campus` or `isolated`.
    pub fn status(&self) -> &'static str {
        self.missing.shown.roster.status[self.entry().person as usize].as_str()
    }
}

impl Listed for MissingRow<'_> {
    fn person_id(&self) -> &str {
        self.missing
            .shown
            .person_id(self.place, self.entry().person)
    }
    fn building(&self) -> Option<&str> {
        Some(self.missing.shown.roster.building_name(self.entry().person))
    }
    fn cell(&self, c: usize) -> Option<&str> {
        self.missing.shown.cell(self.place, c)
    }
    fn building_code(&self) -> u32 {
        self.missing
            .shown
            .roster
            .building
            .get(self.entry().person as usize)
    }
    fn room_code(&self) -> u32 {
        self.missing.shown.room_code(self.entry().person)
    }
    fn cell_code(&self, c: usize) -> u32 {
        self.missing.shown.cell_code(self.place, c)
    }
}

/// The columns of `missing.parquet` and `missing.xlsx`.
pub fn missing_columns<'r>() -> Vec<Column<MissingRow<'r>>> {
    let mut columns = vec![column("round", "轮次", 12.0, Kind::Text, |r: &MissingRow| {
        Value::Text(Some(r.round()))
    })
    .coded(|r: &MissingRow| r.entry().round)];
    columns.extend(person_columns());
    columns.push(
        column("status", "状态", 8.0, Kind::Code, |r: &MissingRow| {
            Value::Code(Some(r.status()))
        })
        .coded(|r: &MissingRow| r.missing.shown.roster.status[r.entry().person as usize] as u32),
    );
    columns
}

/// One row of `rejects.csv`, its raw text protected.
pub struct RejectRow<'a> {
    /// The file as rejects name it.
    pub file: &'a str,
    /// The reject.
    pub reject: &'a Reject,
    /// The raw text with personal cells masked as [`Privacy::raw`] says.
    pub raw: Cow<'a, str>,
}

/// The columns of `rejects.csv`.
pub fn reject_columns<'r>() -> Vec<Column<RejectRow<'r>>> {
    use Kind::*;
    vec![
        column("file", "文件", 24.0, Text, |r| Value::Text(Some(r.file))),
        column("line", "行号", 8.0, Int, |r| {
            Value::Int(Some(r.reject.line as i64))
        }),
        column("column", "列", 12.0, Text, |r| {
            Value::Text(Some(r.reject.column()))
        }),
        column("reason", "原因", 40.0, Text, |r| {
            Value::Text(Some(r.reject.reason()))
        }),
        column("raw", "原始行", 60.0, Text, |r| {
            Value::Text(Some(&r.raw))
        }),
    ]
}

/// The columns of `closure.parquet`.
pub fn closure_columns<'r>() -> Vec<Column<EntryRow<'r>>> {
    use Kind::*;
    type R<'r> = EntryRow<'r>;
    vec![
        column("round", "轮次", 12.0, Text, |r: &R| {
            Value::Text(Some(r.round()))
        })
        .coded(|r: &R| r.entry().round),
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(r.person_id()))
        }),
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(r.building())
        })
        .coded(|r: &R| r.building_code()),
        column("room", "宿舍号", 8.0, Text, |r: &R| {
            Value::Text(r.cell(Contacts::ROOM))
        }),
        column("action", "处置", 16.0, Code, |r: &R| {
            Value::Code(Some(r.entry().action.as_str()))
        })
        .coded(|r: &R| r.entry().action as u32),
        column("tube_id", "试管编号", 18.0, Text, |r: &R| {
            Value::Text(Some(r.entries.rec.tube_id(r.tube())))
        })
        .coded(|r: &R| r.tube().tube_id),
        column("tube_class", "试管结果", 9.0, Code, |r: &R| {
            Value::Code(Some(r.tube().class().as_str()))
        })
        .coded(|r: &R| r.tube().class() as u32),
        column(
            "pool_tested_at",
            "混管检测时间",
            19.0,
            Time,
            |r: &R| Value::Time(r.closure().pool_tested_at),
        ),
        column("state", "复核状态", 12.0, Code, |r: &R| {
            Value::Code(Some(r.state().as_str()))
        })
        .coded(|r: &R| r.state() as u32),
        column("retest_tube_id", "单管编号", 18.0, Text, |r: &R| {
            Value::Text(r.entries.retest_ids.get(r.at as usize))
        }),
        column("retest_sampled_at", "单采时间", 19.0, Time, |r: &R| {
            Value::Time(r.retest().and_then(|x| x.sampled_at()))
        }),
        column("retest_tested_at", "单检时间", 19.0, Time, |r: &R| {
            Value::Time(r.retest().and_then(|x| x.tested_at.get()))
        }),
        column("retest_class", "单检结果", 9.0, Code, |r: &R| {
            Value::Code(r.closure().retest_class.map(|k| k.as_str()))
        })
        .coded(|r: &R| r.closure().retest_class.map_or(NONE, |k| k as u32)),
        column(
            "retest_ct_orf1ab",
            "单检 ORF1ab Ct",
            10.0,
            Float,
            |r: &R| Value::Float(r.retest().and_then(|x| x.ct_orf1ab.get())),
        ),
        column("retest_ct_n", "单检 N Ct", 8.0, Float, |r: &R| {
            Value::Float(r.retest().and_then(|x| x.ct_n.get()))
        }),
        column("due_at", "截止时间", 19.0, Time, |r: &R| {
            Value::Time(r.due_at())
        }),
        column("overdue", "超时", 6.0, Bool, |r: &R| {
            Value::Bool(r.overdue())
        }),
        column(
            "hours_to_result",
            "出结果用时(小时)",
            10.0,
            Float,
            |r: &R| Value::Float(r.closure().hours_to_result),
        ),
    ]
}

/// One row of `people.parquet`: a roster person in a round, and their outcome.
pub struct PersonRow<'a> {
    /// The round.
    pub round: &'a str,
    /// The person (a pseudonym with `--pseudonymize`).
    pub person_id: Cow<'a, str>,
    /// Building.
    pub building: &'a str,
    /// Room.
    pub room: Option<&'a str>,
    /// `on_campus`, `on_leave` or `isolated`.
    pub status: &'static str,
    /// Expected in the round (not on leave).
    pub expected: bool,
    /// Sampled in the round.
    pub sampled: bool,
    /// The tube of the person's retest-list entry, else the smallest tube_id they were
    /// sampled into; `None` when not sampled.
    pub tube_id: Option<&'a str>,
    /// That tube's class.
    pub tube_class: Option<&'static str>,
    /// `negative`, `pending`, `to_retest`, `missing` or `on_leave`.
    pub outcome: &'static str,
}

/// The columns of `people.parquet`.
pub fn person_outcome_columns<'r>() -> Vec<Column<PersonRow<'r>>> {
    use Kind::*;
    type R<'r> = PersonRow<'r>;
    vec![
        column("round", "轮次", 12.0, Text, |r: &R| {
            Value::Text(Some(r.round))
        }),
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(&r.person_id))
        }),
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(Some(r.building))
        }),
        column("room", "宿舍号", 8.0, Text, |r: &R| Value::Text(r.room)),
        column("status", "状态", 8.0, Code, |r: &R| {
            Value::Code(Some(r.status))
        }),
        column("expected", "应检", 6.0, Bool, |r: &R| {
            Value::Bool(Some(r.expected))
        }),
        column("sampled", "已采", 6.0, Bool, |r: &R| {
            Value::Bool(Some(r.sampled))
        }),
        column("tube_id", "试管编号", 18.0, Text, |r: &R| {
            Value::Text(r.tube_id)
        }),
        column("tube_class", "试管结果", 9.0, Code, |r: &R| {
            Value::Code(r.tube_class)
        }),
        column("outcome", "结果", 10.0, Code, |r: &R| {
            Value::Code(Some(r.outcome))
        }),
    ]
}

/// The sampling plan as its lists print it. A row's cells are read from the roster
/// when the row is written, except the texts the plan prints otherwise (a pseudonym,
/// a masked name or ID, an ID number typed into a name masked), which are made once
/// here (a room's, once a run by the roster: [`Roster::room_shown`]): a city's plan is
/// ten million rows, and every row's texts made beforehand were 1.4 GB.
pub struct Plan<'a> {
    roster: &'a Roster,
    slots: &'a [Slot],
    /// By row.
    ids: Replaced,
    /// By row.
    names: Replaced,
}

impl<'a> Plan<'a> {
    /// The plan of `slots` as printed under `privacy`.
    pub fn new(roster: &'a Roster, slots: &'a [Slot], privacy: &Privacy) -> Plan<'a> {
        let person = |at: usize| slots[at].person;
        let n = slots.len();
        let (ids, names) = rayon::join(
            || Replaced::new(n, |at| privacy.person_id(roster.id(person(at)))),
            || {
                Replaced::new(n, |at| match roster.name(person(at)) {
                    Some(name) => guard_ids(privacy.name(name)),
                    None => Cow::Borrowed(""),
                })
            },
        );
        Plan {
            roster,
            slots,
            ids,
            names,
        }
    }

    /// The roster the plan is of.
    pub fn roster(&self) -> &'a Roster {
        self.roster
    }

    /// The plan's slots, in its order.
    pub fn slots(&self) -> &'a [Slot] {
        self.slots
    }

    /// The rows, in the plan's order.
    pub fn rows(&self) -> Vec<PlanRow<'_>> {
        (0..self.slots.len())
            .map(|at| PlanRow { plan: self, at })
            .collect()
    }

    /// The person_id of row `at`: a pseudonym with `--pseudonymize`, else, with
    /// `--mask`, an ID shaped like a resident ID number masked.
    pub fn person_id(&self, at: usize) -> &str {
        let id = self.roster.id(self.slots[at].person);
        self.ids.get(at).unwrap_or(id)
    }

    /// The name of row `at`: masked with `--mask`, and an ID number typed into it
    /// masked always.
    pub fn name(&self, at: usize) -> Option<&str> {
        let name = self.roster.name(self.slots[at].person)?;
        Some(self.names.get(at).unwrap_or(name))
    }

    /// The room of row `at` (an ID number typed into it masked).
    pub fn room(&self, at: usize) -> Option<&str> {
        match self.roster.room.get(self.slots[at].person as usize) {
            NONE => None,
            room => Some(self.roster.room_shown(room)),
        }
    }
}

/// The texts printed otherwise than the roster has them (by row), and what is printed
/// instead.
#[derive(Default)]
struct Replaced {
    /// A row's place in `texts`, or [`NONE`]; empty when no text is replaced.
    at: Vec<u32>,
    texts: Strings,
}

impl Replaced {
    /// The texts of rows `0..n` that `text` gives back changed (owned), gathered a
    /// block of rows at a time on the workers.
    fn new<'t>(n: usize, text: impl Fn(usize) -> Cow<'t, str> + Sync) -> Replaced {
        const BLOCK: usize = 1 << 16;
        let blocks: Vec<(Vec<u32>, Strings)> = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let (mut rows, mut texts) = (Vec::new(), Strings::with_capacity(0, 0));
                for at in b * BLOCK..n.min((b + 1) * BLOCK) {
                    if let Cow::Owned(changed) = text(at) {
                        rows.push(at as u32);
                        texts.push(&changed);
                    }
                }
                (rows, texts)
            })
            .collect();
        let mut at = Vec::new();
        if blocks.iter().any(|(rows, _)| !rows.is_empty()) {
            at = vec![NONE; n];
            for (i, &row) in blocks.iter().flat_map(|(rows, _)| rows).enumerate() {
                at[row as usize] = i as u32;
            }
        }
        Replaced {
            at,
            texts: Strings::concat(blocks.iter().map(|(_, texts)| texts).collect()),
        }
    }

    /// The replaced text of row `at`, if it is.
    fn get(&self, at: usize) -> Option<&str> {
        match self.at.get(at) {
            Some(&i) if i != NONE => Some(self.texts.get(i)),
            _ => None,
        }
    }
}

/// One row of the sampling plan: a person's tube.
#[derive(Clone, Copy)]
pub struct PlanRow<'a> {
    plan: &'a Plan<'a>,
    at: usize,
}

impl PlanRow<'_> {
    fn slot(&self) -> &Slot {
        &self.plan.slots[self.at]
    }

    fn person(&self) -> usize {
        self.slot().person as usize
    }

    /// The row's building, for the workbook's sheet per building.
    pub fn building_of(&self) -> Option<&str> {
        Some(self.plan.roster.building_name(self.slot().person))
    }
}

/// The columns of `plan.parquet`, `plan.csv` and `plan.xlsx`: the last, empty, is where
/// the collector sticks the tube's barcode label.
pub fn plan_columns<'r>() -> Vec<Column<PlanRow<'r>>> {
    use Kind::*;
    type R<'r> = PlanRow<'r>;
    vec![
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(r.building_of())
        }),
        column("tube", "管号", 6.0, Int, |r: &R| {
            Value::Int(Some(i64::from(r.slot().tube)))
        }),
        column("kind", "方式", 8.0, Code, |r: &R| {
            Value::Code(Some(r.slot().kind()))
        }),
        column("position", "管内序号", 8.0, Int, |r: &R| {
            Value::Int(Some(i64::from(r.slot().position)))
        }),
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(r.plan.person_id(r.at)))
        }),
        column("name", "姓名", 10.0, Text, |r: &R| {
            Value::Text(r.plan.name(r.at))
        }),
        column("room", "宿舍号", 8.0, Text, |r: &R| {
            Value::Text(r.plan.room(r.at))
        }),
        column("status", "状态", 8.0, Code, |r: &R| {
            Value::Code(Some(r.plan.roster.status[r.person()].as_str()))
        }),
        column("priority", "重点人群", 8.0, Bool, |r: &R| {
            Value::Bool(Some(r.plan.roster.priority[r.person()]))
        }),
        column(
            "barcode",
            "试管条码（贴标处）",
            26.0,
            Text,
            |_: &R| Value::Text(None),
        ),
    ]
}
