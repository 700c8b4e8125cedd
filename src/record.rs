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

/// One person of the roster.
#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    /// The student or staff number.
    pub id: Box<str>,
    /// The person's name.
    pub name: Box<str>,
    /// Index of the person's building in [`Roster::buildings`].
    pub building: u32,
    /// Dormitory room.
    pub room: Option<Box<str>>,
    /// College or department.
    pub college: Option<Box<str>>,
    /// Class.
    pub class: Option<Box<str>>,
    /// Student or staff.
    pub role: Role,
    /// Phone number.
    pub phone: Option<Box<str>>,
    /// The counselor (辅导员) responsible for the person.
    pub counselor: Option<Box<str>>,
    /// On campus, on leave or isolated.
    pub status: Status,
    /// The line, starting at `1`, of the person's row in the roster file.
    pub line: u64,
}

/// The roster: every person, and the buildings they live in.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    /// People in the order of the roster file.
    pub people: Vec<Person>,
    /// Building names, interned; [`Person::building`] indexes this.
    pub buildings: Vec<Box<str>>,
}

/// One row of the samples file: a person swabbed into a tube.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The round label from the file, or `None` when the file has no round column or
    /// the cell is empty (the run's default round applies).
    pub round: Option<Box<str>>,
    /// The tube barcode.
    pub tube_id: Box<str>,
    /// The person swabbed.
    pub person_id: Box<str>,
    /// When the swab was taken.
    pub sampled_at: Micros,
    /// Where the swab was taken.
    pub site: Option<Box<str>>,
    /// The line, starting at `1`, of the row in the samples file.
    pub line: u64,
}

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
