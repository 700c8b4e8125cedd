//! The typed records every stage shares: people, samples, lab results and the
//! classes and actions derived from them.

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
    /// The contract's English name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnCampus => "on_campus",
            Status::OnLeave => "on_leave",
            Status::Isolated => "isolated",
        }
    }
}

/// Many strings in one buffer: no allocation per string, 8 bytes of overhead each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Strings {
    text: String,
    ends: Vec<usize>,
}

impl Strings {
    /// Room for `count` strings of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Strings {
        Strings {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(count),
        }
    }

    /// The bytes of all strings together.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Appends `s` and returns its index.
    pub fn push(&mut self, s: &str) -> u32 {
        self.text.push_str(s);
        self.ends.push(self.text.len());
        (self.ends.len() - 1) as u32
    }

    /// All strings of `parts`, in order: the first of `parts[k]` gets the index after
    /// the last of `parts[k - 1]`. The indexes are rebased on the workers.
    pub fn concat(parts: Vec<&Strings>) -> Strings {
        use rayon::prelude::*;
        let counts: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let mut text = String::with_capacity(parts.iter().map(|p| p.text.len()).sum());
        let mut bases = Vec::with_capacity(parts.len());
        for part in &parts {
            bases.push(text.len());
            text.push_str(&part.text);
        }
        let mut ends = vec![0usize; counts.iter().sum()];
        pieces_mut(&mut ends, &counts)
            .into_par_iter()
            .zip(parts)
            .zip(bases)
            .for_each(|((ends, part), base)| {
                for (end, e) in ends.iter_mut().zip(&part.ends) {
                    *end = e + base;
                }
            });
        Strings { text, ends }
    }

    /// The string at `index`.
    #[inline]
    pub fn get(&self, index: u32) -> &str {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// How many strings there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends every string of `other`, keeping their order; the first gets index
    /// `self.len()` as it was.
    pub fn append(&mut self, other: &Strings) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }
}

/// `slice` cut into consecutive pieces of the lengths `counts`, which must add up to at
/// most its length: each chunk's rows can then be written into place on a worker.
pub fn pieces_mut<'a, T>(mut slice: &'a mut [T], counts: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(counts.len());
    for &count in counts {
        let (piece, rest) = std::mem::take(&mut slice).split_at_mut(count);
        pieces.push(piece);
        slice = rest;
    }
    pieces
}

/// Interns strings: each distinct string gets the next index, in first-seen order.
/// Strings are stored once, back to back.
#[derive(Clone, Default)]
pub struct Interner {
    names: Strings,
    index: hashbrown::HashTable<u32>,
    /// The index returned last: rows of one tube or site come together, so most
    /// lookups are answered without hashing.
    last: u32,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("len", &self.names.len())
            .finish()
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(s)
}

impl Interner {
    /// An interner with room for `count` strings of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Interner {
        Interner {
            names: Strings::with_capacity(count, bytes),
            index: hashbrown::HashTable::with_capacity(count),
            last: 0,
        }
    }

    /// The bytes of all strings together.
    pub fn text_len(&self) -> usize {
        self.names.text_len()
    }

    /// The index of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if (self.last as usize) < self.names.len() && self.names.get(self.last) == s {
            return self.last;
        }
        let hash = hash_str(s);
        let i = match self.index.find(hash, |&i| self.names.get(i) == s) {
            Some(&i) => i,
            None => {
                let i = self.names.push(s);
                let names = &self.names;
                self.index
                    .insert_unique(hash, i, |&j| hash_str(names.get(j)));
                i
            }
        };
        self.last = i;
        i
    }

    /// The index of `s`, if interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.index
            .find(hash_str(s), |&i| self.names.get(i) == s)
            .copied()
    }

    /// The string of index `i`.
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i)
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The strings, by index.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.names.len() as u32).map(|i| self.names.get(i))
    }

    /// The strings, by index, as a list.
    pub fn into_names(self) -> Vec<Box<str>> {
        self.iter().map(Box::from).collect()
    }
}

/// The roster fields needed only for the people on an output list, read again from the
/// roster file at the end of a run (see [`crate::ingest::roster::Roster::details`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    /// The person's name.
    pub name: Box<str>,
    /// Dormitory room.
    pub room: Option<Box<str>>,
    /// College or department.
    pub college: Option<Box<str>>,
    /// Class.
    pub class: Option<Box<str>>,
    /// Phone number.
    pub phone: Option<Box<str>>,
    /// The counselor (辅导员) responsible for the person.
    pub counselor: Option<Box<str>>,
}

/// One accepted row of the samples file: a person swabbed into a tube. Strings are
/// interned; see [`crate::ingest::samples::SampleSet`] for the tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Index of the round label.
    pub round: u32,
    /// Index of the tube_id.
    pub tube: u32,
    /// The person key: below the roster's length, a roster index; from it on, an
    /// unregistered person.
    pub person: u32,
    /// Index of the site, or [`NONE`] without one.
    pub site: u32,
    /// When the swab was taken.
    pub sampled_at: Micros,
    /// The line, starting at `1`, of the row in the samples file.
    pub line: u64,
}

/// The index that stands for "none".
pub const NONE: u32 = u32::MAX;

/// One row of a lab results file (or of a retests file, which adds `person_id`).
#[derive(Clone, Debug, PartialEq)]
pub struct LabResult {
    /// The round label, when the file has a round column and the cell is not empty.
    pub round: Option<Box<str>>,
    /// The tube barcode.
    pub tube_id: Box<str>,
    /// The person, for individual retests only.
    pub person_id: Option<Box<str>>,
    /// Ct of the ORF1ab gene.
    pub ct_orf1ab: Ct,
    /// Ct of the N gene.
    pub ct_n: Ct,
    /// Ct of the internal control.
    pub ct_ic: Ct,
    /// The lab's own call, when given.
    pub lab_call: Option<Class>,
    /// When the lab tested the tube.
    pub tested_at: Option<Micros>,
    /// The line, starting at `1`, of the row.
    pub line: u64,
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
