//! Stage 2: matching tubes to people and results to tubes, and finding anomalies.
//!
//! Samples are grouped into tubes per round; a tube's members are the distinct people
//! swabbed into it. Results join tubes by (round, tube_id) when the results file has a
//! round column, otherwise by tube_id. Every finding that does not stop the run is an
//! [`Anomaly`]. No I/O here.

use crate::buckets;
use crate::classify::{self, RowClass};
use crate::ingest::roster::Roster;
use crate::ingest::samples::SampleSet;
use crate::order::{natural_cmp, prefix, prefix_bytes};
use crate::pieces::{self, pieces_mut};
use crate::record::{Class, InputKind, LabResult, Micros, ResultColumns, Sample, Status, NONE};
use crate::rules::Rules;
use crate::strings::Interner;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::atomic::{self, AtomicI64, AtomicU32, AtomicU64};

/// The kinds of anomaly, as the contract names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnomalyKind {
    /// Sampled, but not on the roster.
    UnregisteredPerson,
    /// One person in two or more tubes in a round.
    DuplicateSample,
    /// The same person twice in one tube.
    DuplicateRow,
    /// More people in a tube than `--pool-size`.
    OverfullTube,
    /// A result for a tube never sampled.
    OrphanResult,
    /// Several result rows for one tube that differ in any value (the contract's rule).
    ConflictingResults,
    /// Ct values and the lab's call disagree.
    LabCallMismatch,
    /// One tube_id in two rounds.
    TubeReused,
    /// A person on leave was sampled.
    SampledOnLeave,
    /// A pool whose people live in more than one building.
    MixedBuildings,
    /// A retest for a person on no retest list.
    RetestUnlisted,
    /// A positive pool whose people were all cleared by their retests.
    PoolAllNegative,
    /// A person of a priority group (isolated, or a roster group) sampled into a pool.
    PriorityPooled,
}

impl AnomalyKind {
    /// The contract's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::UnregisteredPerson => "unregistered_person",
            AnomalyKind::DuplicateSample => "duplicate_sample",
            AnomalyKind::DuplicateRow => "duplicate_row",
            AnomalyKind::OverfullTube => "overfull_tube",
            AnomalyKind::OrphanResult => "orphan_result",
            AnomalyKind::ConflictingResults => "conflicting_results",
            AnomalyKind::LabCallMismatch => "lab_call_mismatch",
            AnomalyKind::TubeReused => "tube_reused",
            AnomalyKind::SampledOnLeave => "sampled_on_leave",
            AnomalyKind::MixedBuildings => "mixed_buildings",
            AnomalyKind::RetestUnlisted => "retest_unlisted",
            AnomalyKind::PoolAllNegative => "pool_all_negative",
            AnomalyKind::PriorityPooled => "priority_pooled",
        }
    }
}

/// One finding; the run goes on.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// Index into [`Reconciled::rounds`].
    pub round: u32,
    /// What was found.
    pub kind: AnomalyKind,
    /// The tube concerned, if any.
    pub tube_id: Option<Box<str>>,
    /// The person concerned, if any.
    pub person_id: Option<Box<str>>,
    /// The file the line is in.
    pub file: InputKind,
    /// The line, starting at `1`, of the row that shows the finding.
    pub line: Option<u64>,
    /// The finding in words. Never holds names or phones. Borrowed when it is the same
    /// for every finding of its kind (a lab's whole file against one district's round
    /// makes millions of `orphan_result`s).
    pub detail: Cow<'static, str>,
}

/// A finding about one person's row in a tube, of a kind a whole file can make for
/// every row: a `duplicate_row` (the file saved twice), a `duplicate_sample` (a round
/// sampled twice), an `unregistered_person` (another district's people) or a
/// `sampled_on_leave`. Held in 24 bytes, its strings made only as
/// `anomalies.parquet` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowFinding {
    /// One of the four kinds above.
    pub kind: AnomalyKind,
    /// The tube (an index into [`Reconciled::tubes`]).
    pub tube: u32,
    /// The person key.
    pub person: u32,
    /// The line of the row in the samples file.
    pub line: u32,
    /// The line the finding cites: the row kept (`duplicate_row`), the row in the
    /// first tube (`duplicate_sample`), the roster's row (`sampled_on_leave`); 0 for
    /// none.
    pub cited: u32,
    /// The first tube of a `duplicate_sample`; [`NONE`] for the other kinds.
    pub first_tube: u32,
}

impl RowFinding {
    /// The finding's words.
    pub fn detail<'a>(&self, rec: &'a Reconciled) -> Cow<'a, str> {
        Cow::Owned(match self.kind {
            AnomalyKind::DuplicateRow => format!(
                "the same person is already in this tube at line {}",
                self.cited
            ),
            AnomalyKind::DuplicateSample => format!(
                "the person was also sampled into tube {} (line {}) in this round",
                rec.tube_id(&rec.tubes[self.first_tube as usize]),
                self.cited
            ),
            AnomalyKind::SampledOnLeave => format!(
                "the roster (line {}) says the person is on leave",
                self.cited
            ),
            // The same words for every row: not made again for each.
            _ => return Cow::Borrowed("the person is not on the roster"),
        })
    }
}

/// The findings about one person's row in a tube ([`RowFinding`]), by kind
/// (`duplicate_row`, `duplicate_sample`, `sampled_on_leave`, then
/// `unregistered_person`), then tube (so round, then tube_id), person_id and line. The
/// last kind is held as its tube, person and line alone, 12 bytes a finding, not 24: a
/// district's roster against a city's samples makes one of nearly every sample row.
#[derive(Debug, Default)]
pub struct RowFindings {
    /// The findings of the other kinds.
    others: Vec<RowFinding>,
    /// Each `unregistered_person`'s tube, person and line.
    unregistered: Vec<[u32; 3]>,
}

impl RowFindings {
    /// How many findings.
    pub fn len(&self) -> usize {
        self.others.len() + self.unregistered.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finding `i`, in order.
    pub fn get(&self, i: usize) -> RowFinding {
        match i.checked_sub(self.others.len()) {
            None => self.others[i],
            Some(u) => {
                let [tube, person, line] = self.unregistered[u];
                RowFinding {
                    kind: AnomalyKind::UnregisteredPerson,
                    tube,
                    person,
                    line,
                    cited: 0,
                    first_tube: NONE,
                }
            }
        }
    }

    /// The findings in order.
    pub fn iter(&self) -> impl Iterator<Item = RowFinding> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Sorts the findings of one tube (of one kind) by person_id, then line, where they
/// are not so already: a tube's members are by person key (building, room, person_id).
/// `of` gives a finding's person and line.
fn sort_by_person_id<T>(
    rows: &mut [T],
    roster: &Roster,
    rec: &Reconciled,
    of: impl Fn(&T) -> (u32, u32),
) {
    let by_id = |a: &T, b: &T| {
        let ((pa, la), (pb, lb)) = (of(a), of(b));
        rec.person_id(roster, pa)
            .cmp(rec.person_id(roster, pb))
            .then_with(|| la.cmp(&lb))
    };
    if !rows.is_sorted_by(|a, b| by_id(a, b).is_le()) {
        rows.sort_by(by_id);
    }
}

/// A person in a tube.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// A person key: below the roster's length, an index into the roster; from it on,
    /// an unregistered person (see [`Reconciled::person_id`]).
    pub person: u32,
    /// Index into the samples of the row that stands for the person in this tube: the
    /// earliest, then the one with the smallest site, when the person was swabbed into
    /// it more than once.
    pub sample: u32,
}

/// A tube of one round, with its people and its class, in 32 bytes (a round of single
/// tubes has ten million).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tube {
    /// Index into the rounds.
    pub round: u32,
    /// Index of the tube_id in the samples' tube table.
    pub tube_id: u32,
    /// Where the tube's members start in [`Reconciled::members`].
    pub first: u32,
    /// How many distinct people were sampled into the tube (the low 29 bits: at most
    /// [`MAX_TUBE_SIZE`]) and its class (the high 3): see [`Tube::size`] and
    /// [`Tube::class`].
    size_class: u32,
    /// The result row that gave the class ([`Tube::result`]), or [`NONE`].
    result: u32,
    /// The earliest sample time of the tube.
    pub first_sampled_at: Micros,
    /// The tube's site: the most frequent among its people's rows, the smallest name on
    /// a tie; [`NONE`] when no row names one.
    pub site: u32,
}

const _: () = assert!(std::mem::size_of::<Tube>() == 32);

/// The most people a tube may hold: 536,870,911, far more than a samples file's rows
/// of one tube could be (each person's row is at least a few bytes; 500 million rows
/// of one tube would be a file of over 20 GB).
pub const MAX_TUBE_SIZE: u32 = (1 << 29) - 1;

impl Tube {
    /// A pending tube without members, until [`fill_tubes`] gives it its own, and
    /// without a first sampling time ([`Micros::MAX`]) until [`reconcile`] gives it one.
    fn new(round: u32, tube_id: u32) -> Tube {
        Tube {
            round,
            tube_id,
            first: 0,
            size_class: (Class::Pending as u32) << 29,
            result: NONE,
            first_sampled_at: Micros::MAX,
            site: NONE,
        }
    }

    /// How many distinct people were sampled into the tube.
    pub fn size(&self) -> u32 {
        self.size_class & MAX_TUBE_SIZE
    }

    /// The class: the most severe of its result rows, or pending without any.
    pub fn class(&self) -> Class {
        Class::ALL[(self.size_class >> 29) as usize]
    }

    /// The result row that gave the class, if any: the most severe, then the lowest Ct
    /// (see [`result_order`]).
    pub fn result(&self) -> Option<u32> {
        (self.result != NONE).then_some(self.result)
    }

    fn set_size(&mut self, size: usize) {
        assert!(
            size <= MAX_TUBE_SIZE as usize,
            "a tube of more than {MAX_TUBE_SIZE} people"
        );
        self.size_class = self.size_class & !MAX_TUBE_SIZE | size as u32;
    }

    fn set_result(&mut self, class: Class, row: u32) {
        debug_assert_ne!(row, NONE);
        self.size_class = self.size() | (class as u32) << 29;
        self.result = row;
    }
}

/// Everything matched up, ready for the retest list and the summaries.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Accepted samples and the tables their indexes point into (rounds, tube IDs,
    /// sites, unregistered people). The tube IDs are read by index only: the table
    /// that finds one by its text is freed once the result rows are matched.
    pub set: SampleSet,
    /// The result rows that decide a tube's class ([`Tube::result`] points into them),
    /// in file order. The others (a tube's other rows, rows for no tube sampled) are
    /// not held: a lab's whole file against one district's round is mostly such rows.
    pub results: Vec<LabResult>,
    /// Tubes, sorted by round then tube_id.
    pub tubes: Vec<Tube>,
    /// The members of every tube, tube after tube, each tube's by person key.
    pub members: Vec<Member>,
    /// The roster's length: the first unregistered person key.
    pub roster_len: u32,
    /// For each round and roster person, the tube (an index into `tubes`) of the
    /// smallest tube_id they were sampled into, or [`NONE`] when they were not.
    pub tube_of: Vec<Vec<u32>>,
    /// The latest sampling time of any accepted sample, for the as-of time.
    pub latest_sample: Option<Micros>,
    /// The latest test time of any accepted result row, for the as-of time.
    pub latest_result: Option<Micros>,
    /// Findings, sorted by round, kind, tube_id, person_id, then line; those about one
    /// person's row are in `row_findings`.
    pub anomalies: Vec<Anomaly>,
    /// The findings about one person's row in a tube.
    pub row_findings: RowFindings,
    /// For each round, the result rows that call a tube positive but match no tube
    /// sampled (`orphan_result`s): a positive the lab reported that no list follows.
    pub positive_orphans: Vec<u64>,
}

impl Reconciled {
    /// The round labels, in natural order.
    pub fn rounds(&self) -> &[Box<str>] {
        &self.set.rounds
    }

    /// Whether roster person `person` was sampled in `round`.
    pub fn was_sampled(&self, round: usize, person: u32) -> bool {
        self.tube_of[round][person as usize] != NONE
    }

    /// The earliest sampling time of each round (`None` for a round without tubes).
    pub fn round_starts(&self) -> Vec<Option<Micros>> {
        let mut starts = vec![None; self.rounds().len()];
        for t in &self.tubes {
            let s: &mut Option<Micros> = &mut starts[t.round as usize];
            *s = Some(s.map_or(t.first_sampled_at, |v| v.min(t.first_sampled_at)));
        }
        starts
    }

    /// The rank of each round in time: by its earliest sample, then by label in
    /// natural order; rounds without samples first, so that none becomes the latest.
    pub fn round_order(&self) -> Vec<u32> {
        let starts = self.round_starts();
        let mut order: Vec<u32> = (0..self.rounds().len() as u32).collect();
        order.sort_by(|&a, &b| {
            let key = |r: u32| starts[r as usize];
            key(a)
                .cmp(&key(b))
                .then_with(|| natural_cmp(&self.rounds()[a as usize], &self.rounds()[b as usize]))
        });
        let mut rank = vec![0; order.len()];
        for (i, &r) in order.iter().enumerate() {
            rank[r as usize] = i as u32;
        }
        rank
    }

    /// The person_id of a person key.
    pub fn person_id<'a>(&'a self, roster: &'a Roster, key: u32) -> &'a str {
        if key < self.roster_len {
            roster.id(key)
        } else {
            self.set.unregistered.get(key - self.roster_len)
        }
    }

    /// The tube_id of a tube.
    pub fn tube_id(&self, tube: &Tube) -> &str {
        self.set.tubes.name(tube.tube_id)
    }

    /// The members of a tube.
    pub fn members_of(&self, tube: &Tube) -> &[Member] {
        &self.members[tube.first as usize..(tube.first + tube.size()) as usize]
    }

    /// The site name of a site index.
    pub fn site(&self, site: u32) -> Option<&str> {
        (site != NONE).then(|| &*self.set.sites[site as usize])
    }

    /// The buildings of the roster people in `tube`, each once, in natural order. A tube
    /// of one building, the common case, is answered without allocating.
    pub fn buildings_of<'a>(&self, roster: &'a Roster, tube: &Tube) -> TubeBuildings<'a> {
        let mut registered = self
            .members_of(tube)
            .iter()
            .filter(|m| m.person < self.roster_len)
            .map(|m| roster.building.get(m.person as usize));
        let name = |b: &u32| &*roster.buildings[*b as usize];
        let Some(first) = registered.next() else {
            return TubeBuildings::None;
        };
        if registered.clone().all(|b| b == first) {
            return TubeBuildings::One(name(&first));
        }
        let mut found: Vec<u32> = std::iter::once(first).chain(registered).collect();
        found.sort_unstable();
        found.dedup();
        let mut names: Vec<&str> = found.iter().map(name).collect();
        names.sort_by(|a, b| natural_cmp(a, b));
        TubeBuildings::Several(names)
    }
}

/// The buildings of a tube's people on the roster.
pub enum TubeBuildings<'a> {
    /// Nobody in the tube is on the roster.
    None,
    /// Everyone on the roster in the tube lives in this building.
    One(&'a str),
    /// Two or more buildings, in natural order: a pool across buildings.
    Several(Vec<&'a str>),
}

/// What reconciliation needs besides the records.
pub struct Settings<'a> {
    /// The most people a tube may hold.
    pub pool_size: usize,
    /// The interpretation rules.
    pub rules: &'a Rules,
}

/// Matches samples to people and tubes and results to tubes (retests are matched to
/// people when the retest list is closed, in `closure`). Each step is a function of
/// its own; every choice between competing rows is made by their
/// values, never by their order in a file, so the outcome is the same for any order of
/// rows and any thread count.
pub fn reconcile(
    roster: &Roster,
    set: SampleSet,
    results: Vec<LabResult>,
    result_columns: ResultColumns,
    settings: &Settings,
) -> Reconciled {
    let mut rec = Reconciled {
        roster_len: roster.len() as u32,
        set,
        ..Reconciled::default()
    };
    let mut anomalies = Vec::new();
    let (keys, numbers) = number_tubes(&mut rec.set);
    let site_rank = site_ranks(&rec.set.sites);
    // The tubes are made from their keys, then given their first sampling times, before
    // the rows are grouped by tube, so that neither is held beside the groups; and the
    // keys go before the times are found, so that the two are not held beside the tubes
    // together (with single tubes, ten million of each, where memory peaks).
    let mut tubes = new_tubes(&keys);
    drop(keys);
    // Each sample's tube number: its tube_id's own number where the tubes are numbered
    // as their tube_ids are (every tube_id used, in one round, as nearly always); otherwise
    // looked up once, since rows in no order find their tubes all over a city's table.
    // (Looked up always, the numbers were 40 MB more at reconcile's peak at 10 M rows.)
    let looked_up: Option<Vec<u32>> = (!numbers.are_tube_ids())
        .then(|| rec.set.samples.par_iter().map(|s| numbers.of(s)).collect());
    drop(numbers);
    // The keys and numbers go back to the system before the times are found beside the
    // tubes, not a moment after.
    crate::memory::give_back();
    let samples = &rec.set.samples;
    // Both passes are made for either source of tube numbers, not through one closure
    // that asks which at every row: that cost time-10m's reconcile 0.02-0.06 s more
    // (0.324-0.347 s against 0.266-0.318 s, three interleaved runs each).
    let first_sampled_at = match &looked_up {
        Some(tube_of) => first_sampled(samples, tubes.len(), |i| tube_of[i]),
        None => first_sampled(samples, tubes.len(), |i| samples[i].tube),
    };
    tubes
        .par_iter_mut()
        .zip(first_sampled_at)
        .for_each(|(tube, at)| tube.first_sampled_at = at);
    // The times given back before the rows are grouped: the allocator would keep them a
    // moment longer, at the peak.
    crate::memory::give_back();
    let mut entries = match &looked_up {
        Some(tube_of) => rows_by_tube(&rec.set, tubes.len(), |i| tube_of[i]),
        None => rows_by_tube(&rec.set, tubes.len(), |i| samples[i].tube),
    };
    drop(looked_up);
    let repeats = one_row_per_person(roster, &rec, &site_rank, &mut entries);
    let members = fill_tubes(&mut tubes, &site_rank, entries);
    rec.tubes = tubes;
    rec.members = members;
    rec.latest_sample = rec.set.samples.par_iter().map(|s| s.sampled_at).max();
    tube_anomalies(roster, &rec, settings.pool_size, &mut anomalies);
    match_results(&mut rec, results, result_columns, settings, &mut anomalies);
    // Who was sampled is listed once the result rows are matched, so that the lists
    // (one slot per person and round) are not held beside the matches.
    let Marked {
        tube_of,
        twice,
        on_leave,
        unregistered,
    } = mark_sampled(roster, &rec);
    rec.tube_of = tube_of;
    // By kind: duplicate_row, duplicate_sample, sampled_on_leave, unregistered_person.
    // Joined from the pieces each kind was found in, each freed as it is moved.
    let mut parts = vec![repeats];
    parts.extend(twice.into_iter().chain(on_leave));
    rec.row_findings = RowFindings {
        others: pieces::concat(parts),
        unregistered,
    };
    sort_anomalies(&mut anomalies);
    rec.anomalies = anomalies;
    rec
}

/// Sorts findings by round, kind, tube_id, person_id, file, line and detail.
pub fn sort_anomalies(anomalies: &mut [Anomaly]) {
    anomalies.par_sort_unstable_by(|a, b| {
        a.round
            .cmp(&b.round)
            .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
            .then_with(|| a.tube_id.cmp(&b.tube_id))
            .then_with(|| a.person_id.cmp(&b.person_id))
            .then_with(|| a.file.cmp(&b.file))
            .then_with(|| a.line.cmp(&b.line))
            .then_with(|| a.detail.cmp(&b.detail))
    });
}

/// A (round, tube_id) pair: the round index in the high half, the tube_id index low.
type TubeKey = u64;

fn tube_key(s: &Sample) -> TubeKey {
    (s.round as u64) << 32 | s.tube as u64
}

/// The tube number of each sample: tubes are numbered in output order, by round, then
/// tube_id.
struct TubeNumbers {
    /// The tube number of each tube_id used in one round; [`TubeNumbers::SEVERAL`] for
    /// a tube_id used in several.
    of_id: Vec<u32>,
    /// The tube number of each (round, tube_id) pair of a tube_id used in several rounds.
    shared: FxHashMap<TubeKey, u32>,
}

impl TubeNumbers {
    const SEVERAL: u32 = NONE - 1;

    /// Whether every sample's tube number is its tube_id's index: no tube_id used in
    /// several rounds, and each numbered as its tube.
    fn are_tube_ids(&self) -> bool {
        self.shared.is_empty()
            && self
                .of_id
                .par_iter()
                .enumerate()
                .all(|(id, &t)| t as usize == id)
    }

    /// The number of the tube of `s`.
    fn of(&self, s: &Sample) -> u32 {
        match self.of_id[s.tube as usize] {
            Self::SEVERAL => self.shared[&tube_key(s)],
            t => t,
        }
    }
}

/// The tubes of the round in output order (by round, then tube_id), and their numbers.
///
/// A tube_id is nearly always used in one round only: such a tube is found by its
/// tube_id index, and only the samples of tube_ids used in several rounds are sorted
/// to find their tubes. The tubes are sorted only when the tube_ids' numbers are not
/// in their order already (they are when the samples stage numbered them, in the
/// order of their bytes, and every tube_id is in one round, the rounds' one after
/// another).
fn number_tubes(set: &mut SampleSet) -> (Vec<TubeKey>, TubeNumbers) {
    const SEVERAL: u32 = TubeNumbers::SEVERAL;
    // The round of each tube_id, SEVERAL when it has more than one, NONE when unused,
    // found on the workers: a slot only ever moves from NONE to a round to SEVERAL, so
    // the outcome does not depend on which sample gets there first.
    let slots: Vec<AtomicU32> = (0..set.tubes.len())
        .into_par_iter()
        .map(|_| AtomicU32::new(NONE))
        .collect();
    set.samples
        .par_iter()
        .for_each(|s| mark(&slots[s.tube as usize], s.round, SEVERAL));
    let round_of: Vec<u32> = slots.into_iter().map(AtomicU32::into_inner).collect();
    // Only the samples of tube_ids used in several rounds are gathered, and only when
    // there are any (a single round has none).
    let mut shared: Vec<TubeKey> = if round_of.par_iter().any(|&r| r == SEVERAL) {
        let several = |s: &&Sample| round_of[s.tube as usize] == SEVERAL;
        set.samples
            .par_iter()
            .filter(several)
            .map(tube_key)
            .collect()
    } else {
        Vec::new()
    };
    shared.par_sort_unstable();
    shared.dedup();
    // Each key carries the first bytes of its tube_id (see `order::prefix`): when the
    // tubes are sorted (rounds whose tube_ids interleave), the sort would otherwise
    // read two tube_ids, far apart, at every comparison.
    let names = &set.tubes;
    let entry = |key: TubeKey| (key, prefix(names.name(key as u32)));
    let one_each = shared.is_empty() && round_of.par_iter().all(|&r| r != NONE);
    // The samples stage numbers tube_ids in the order of their bytes: with every
    // tube_id in one round, and the rounds' tube_ids one after another (one round, as
    // nearly always), the tubes are in output order already, and nothing is sorted.
    let in_order = one_each
        && (1..names.len()).into_par_iter().all(|n| {
            let (a, b) = (n as u32 - 1, n as u32);
            (round_of[a as usize], names.name(a)) < (round_of[b as usize], names.name(b))
        });
    let mut keys: Vec<TubeKey> = if in_order {
        round_of
            .par_iter()
            .enumerate()
            .map(|(n, &r)| (r as u64) << 32 | n as u64)
            .collect()
    } else {
        // Every tube_id in one round: one entry each, written in place. (Filtered, the
        // entries would be collected in pieces and then joined, both held for a
        // moment: 24 bytes a tube each, with single tubes where reconcile peaks.)
        let mut sortable: Vec<(TubeKey, [u64; 2])> = if one_each {
            round_of
                .par_iter()
                .enumerate()
                .map(|(n, &r)| entry((r as u64) << 32 | n as u64))
                .collect()
        } else {
            round_of
                .par_iter()
                .enumerate()
                .filter(|&(_, &r)| r != NONE && r != SEVERAL)
                .map(|(n, &r)| (r as u64) << 32 | n as u64)
                .chain(shared)
                .map(entry)
                .collect()
        };
        sortable.par_sort_unstable_by(|(a, pa), (b, pb)| {
            (a >> 32, pa)
                .cmp(&(b >> 32, pb))
                .then_with(|| names.name(*a as u32).cmp(names.name(*b as u32)))
        });
        sortable.into_par_iter().map(|(key, _)| key).collect()
    };
    // In order, the tube_ids keep their numbers (without a pass to find that they do).
    let round_of = if in_order {
        round_of
    } else {
        renumber_tube_ids(set, &mut keys, round_of)
    };
    // Tube numbers stay below SEVERAL: a samples file has fewer than 2^32 - 1 rows.
    let mut numbers = TubeNumbers {
        of_id: round_of,
        shared: FxHashMap::default(),
    };
    for (t, &key) in keys.iter().enumerate() {
        let n = key as u32 as usize;
        if numbers.of_id[n] == SEVERAL {
            numbers.shared.insert(key, t as u32);
        } else {
            numbers.of_id[n] = t as u32;
        }
    }
    (keys, numbers)
}

/// Numbers the tube_ids of `set` in the order of their first tube in `keys` (the tubes
/// in output order), rewriting the samples and `keys` to match, and returns `round_of`
/// (each tube_id's round) in the new numbering. With several rounds, the order of the
/// tube_ids' bytes (in which the samples stage numbers them) is not always the tubes'
/// order, and every later step that goes tube by tube (the results matched to their
/// tubes, the tables written) would then read each tube_id's text and slots out of
/// order. Tube_ids without a tube, if any (a run interns a tube_id with an accepted
/// row), keep their order after the others. Nothing is moved when the tube_ids are in
/// that order already.
fn renumber_tube_ids(set: &mut SampleSet, keys: &mut [TubeKey], round_of: Vec<u32>) -> Vec<u32> {
    let ids = set.tubes.len();
    let mut new_of_old = vec![NONE; ids];
    let mut order: Vec<u32> = Vec::with_capacity(ids);
    for &key in keys.iter() {
        let old = key as u32;
        if new_of_old[old as usize] == NONE {
            new_of_old[old as usize] = order.len() as u32;
            order.push(old);
        }
    }
    for (old, new) in new_of_old.iter_mut().enumerate() {
        if *new == NONE {
            *new = order.len() as u32;
            order.push(old as u32);
        }
    }
    if order
        .par_iter()
        .enumerate()
        .all(|(new, &old)| new as u32 == old)
    {
        return round_of;
    }
    set.tubes.renumber(&order, &new_of_old);
    set.samples
        .par_iter_mut()
        .for_each(|s| s.tube = new_of_old[s.tube as usize]);
    keys.par_iter_mut()
        .for_each(|key| *key = *key >> 32 << 32 | new_of_old[*key as u32 as usize] as u64);
    drop(new_of_old);
    order
        .par_iter()
        .map(|&old| round_of[old as usize])
        .collect()
}

/// Marks `slot` with `value`: from [`NONE`] to `value`, from any other value to
/// `several`. A slot only ever moves that way, so the outcome does not depend on which
/// worker gets there first.
fn mark(slot: &AtomicU32, value: u32, several: u32) {
    let mut seen = slot.load(atomic::Ordering::Relaxed);
    while seen != value && seen != several {
        let next = if seen == NONE { value } else { several };
        match slot.compare_exchange_weak(
            seen,
            next,
            atomic::Ordering::Relaxed,
            atomic::Ordering::Relaxed,
        ) {
            Ok(_) => break,
            Err(now) => seen = now,
        }
    }
}

/// The rank of each name (a site's, a collector's) in plain order, the smallest first,
/// to break ties by value.
fn site_ranks(sites: &[Box<str>]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..sites.len() as u32).collect();
    order.sort_by(|&a, &b| sites[a as usize].cmp(&sites[b as usize]));
    let mut rank = vec![0; sites.len()];
    for (r, &s) in order.iter().enumerate() {
        rank[s as usize] = r as u32;
    }
    rank
}

/// The rank of `site` (or a collector) for ties: by name, rows without one last.
fn rank_of(site_rank: &[u32], site: u32) -> u32 {
    if site == NONE {
        NONE
    } else {
        site_rank[site as usize]
    }
}

/// A sample row as the tubes are built: its tube number, person and index, with its
/// site copied so that building the tubes need not go back to the samples, whose file
/// order may interleave the tubes.
#[derive(Clone, Copy)]
struct Entry {
    tube: u32,
    person: u32,
    sample: u32,
    site: u32,
}

/// An entry for every sample row, sorted by tube, person and row. A counting sort puts
/// the rows in stretches of tubes (at most 256 stretches: a counting sort straight
/// to a city's million tubes would scatter its writes over the whole table when the
/// rows come in no order, and 4,096 stretches were slower than 256, each writing on a
/// page of its own), and each stretch is then sorted on its own, in cache.
fn rows_by_tube(
    set: &SampleSet,
    tubes: usize,
    tube_of: impl Fn(usize) -> u32 + Sync,
) -> Vec<Entry> {
    const STRETCHES: u32 = 8;
    let samples = &set.samples;
    let shift = (tubes.max(1).next_power_of_two().trailing_zeros()).saturating_sub(STRETCHES);
    let (mut entries, counts) = buckets::sort_into_counted(
        samples.len(),
        (tubes >> shift) + 1,
        |i| tube_of(i) >> shift,
        |i| {
            let s = &samples[i];
            Entry {
                tube: tube_of(i),
                person: s.person,
                sample: i as u32,
                site: set.site(s),
            }
        },
    );
    pieces_mut(&mut entries, &counts)
        .into_par_iter()
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(scratch, counts), stretch| sort_stretch(stretch, shift, scratch, counts),
        );
    entries
}

/// Sorts a stretch of entries, in row order, by tube, person and row: a counting sort
/// (`buckets`) by tube (the tubes of a stretch differ only in their last `shift` bits), which keeps
/// each tube's rows in row order, then each tube's rows by person where they are not
/// already. Rows by sampling time interleave the tubes; a comparison sort of a
/// stretch would cost several times as much.
fn sort_stretch(
    stretch: &mut [Entry],
    shift: u32,
    scratch: &mut Vec<Entry>,
    counts: &mut Vec<u32>,
) {
    let key = |e: &Entry| (e.tube, e.person, e.sample);
    if stretch.is_sorted_by_key(key) {
        return;
    }
    buckets::sort_by_low_bits(stretch, shift, |e| e.tube, scratch, counts);
    for tube in stretch.chunk_by_mut(|a, b| a.tube == b.tube) {
        if !tube.is_sorted_by_key(key) {
            sort_by_person(tube);
        }
    }
}

/// Sorts the rows of one tube (in row order) by person and row. A pool's rows come in
/// no order of person when the file interleaves tubes, and an insertion sort of ten
/// rows mispredicts a branch at nearly every step: a tube of up to [`SMALL_TUBE`] rows
/// is ranked instead, each row by how many rows sort before it (comparisons without
/// branches), and put in its place.
fn sort_by_person(tube: &mut [Entry]) {
    let n = tube.len();
    if n > SMALL_TUBE {
        tube.sort_unstable_by_key(|e| (e.person, e.sample));
        return;
    }
    // The row numbers are distinct, so the keys are, and the ranks a permutation.
    let mut keys = [0u64; SMALL_TUBE];
    for (k, e) in keys.iter_mut().zip(tube.iter()) {
        *k = u64::from(e.person) << 32 | u64::from(e.sample);
    }
    let keys = &keys[..n];
    let mut sorted = [tube[0]; SMALL_TUBE];
    for (e, &k) in tube.iter().zip(keys) {
        sorted[keys.iter().filter(|&&other| other < k).count()] = *e;
    }
    tube.copy_from_slice(&sorted[..n]);
}

/// The most rows a tube may have for [`sort_by_person`] to rank them (a 20-in-1 pool
/// with a few repeats).
const SMALL_TUBE: usize = 32;

/// The earliest sampling time of each tube (`tube_of` gives each sample's), the
/// samples shared out among the workers: that of its earliest row, which is always kept.
fn first_sampled(
    samples: &[Sample],
    tubes: usize,
    tube_of: impl Fn(usize) -> u32 + Sync,
) -> Vec<Micros> {
    let first: Vec<AtomicI64> = (0..tubes)
        .into_par_iter()
        .map(|_| AtomicI64::new(Micros::MAX))
        .collect();
    samples.par_iter().enumerate().for_each(|(i, s)| {
        let t = tube_of(i);
        // Read first: rows by sampling time (or by tube, sampled in turn) rarely lower
        // a tube's time once it has one, and a read costs less than a locked write.
        let first = &first[t as usize];
        if s.sampled_at < first.load(atomic::Ordering::Relaxed) {
            first.fetch_min(s.sampled_at, atomic::Ordering::Relaxed);
        }
    });
    first.into_iter().map(AtomicI64::into_inner).collect()
}

/// Keeps one entry per person and tube: the earliest row, then the one with the
/// smallest site, then the smallest collector, then (rows alike in every value) the
/// first line. Every other row of the person in the tube is a `duplicate_row`,
/// returned as [`RowFinding`]s in their order in `anomalies.parquet` (by tube,
/// person_id and line).
fn one_row_per_person(
    roster: &Roster,
    rec: &Reconciled,
    site_rank: &[u32],
    entries: &mut Vec<Entry>,
) -> Vec<RowFinding> {
    let samples = &rec.set.samples;
    let collector_rank = site_ranks(&rec.set.collectors);
    let order = |e: &Entry| {
        let s = &samples[e.sample as usize];
        (
            s.sampled_at,
            rank_of(site_rank, rec.set.site(s)),
            rank_of(&collector_rank, rec.set.collector(s)),
            // Samples are in file order: the first line is the first sample.
            e.sample,
        )
    };
    // Pieces of whole tubes, each kept in place on a worker; the pieces then close up,
    // which moves nothing when no row was dropped.
    let ranges = pieces::between_runs(entries, PIECE, |a, b| a.tube != b.tube);
    let counts: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
    // A file saved twice has a repeat of every row: each piece's repeats are counted
    // first, then written straight into their place.
    let same = |a: &Entry, b: &Entry| (a.tube, a.person) == (b.tube, b.person);
    let repeats: Vec<usize> = ranges
        .par_iter()
        .map(|r| {
            entries[r.clone()]
                .windows(2)
                .filter(|w| same(&w[0], &w[1]))
                .count()
        })
        .collect();
    let (found, kept) = pieces::fill(
        pieces_mut(entries, &counts),
        &repeats,
        |piece, found: &mut pieces::Slots<RowFinding>| {
            let mut kept = 0;
            let mut start = 0;
            let mut tube_found = 0;
            while start < piece.len() {
                let (tube, person) = (piece[start].tube, piece[start].person);
                let mut end = start + 1;
                while end < piece.len() && same(&piece[end], &piece[start]) {
                    end += 1;
                }
                let mut best = piece[start];
                if end - start > 1 {
                    best = *piece[start..end]
                        .iter()
                        .min_by_key(|e| order(e))
                        .expect("a run holds an entry");
                    for e in &piece[start..end] {
                        if e.sample != best.sample {
                            found.push(RowFinding {
                                kind: AnomalyKind::DuplicateRow,
                                tube,
                                person,
                                line: rec.set.line(e.sample),
                                cited: rec.set.line(best.sample),
                                first_tube: NONE,
                            });
                        }
                    }
                }
                piece[kept] = best;
                kept += 1;
                start = end;
                if piece.get(start).is_none_or(|e| e.tube != tube) {
                    sort_by_person_id(found.written_mut(tube_found), roster, rec, |r| {
                        (r.person, r.line)
                    });
                    tube_found = found.len();
                }
            }
            kept
        },
    );
    let mut at = 0;
    for (range, count) in ranges.into_iter().zip(kept) {
        if range.start != at {
            entries.copy_within(range.start..range.start + count, at);
        }
        at += count;
    }
    entries.truncate(at);
    found
}

/// Adds the findings of the pieces, in order: moved into place on the workers, into
/// room made once, not pushed one by one into a list that grows.
fn add_found(anomalies: &mut Vec<Anomaly>, found: Vec<Vec<Anomaly>>) {
    let mut found = pieces::concat(found);
    if anomalies.is_empty() {
        *anomalies = found;
    } else {
        anomalies.append(&mut found);
    }
}

/// About the rows a worker takes at a time in [`one_row_per_person`], [`fill_tubes`]
/// and [`match_results`] (a piece ends with a run of rows that belong together).
const PIECE: usize = 1 << 12;

/// The tubes of `keys`, in order, as [`Tube::new`] makes them: their first sampling
/// times come from [`first_sampled`], their members from [`fill_tubes`].
fn new_tubes(keys: &[TubeKey]) -> Vec<Tube> {
    keys.par_iter()
        .map(|&key| Tube::new((key >> 32) as u32, key as u32))
        .collect()
}

/// The members of `tubes` from the entries, one per person and tube, and each tube's
/// first member, size and site.
fn fill_tubes(tubes: &mut [Tube], site_rank: &[u32], entries: Vec<Entry>) -> Vec<Member> {
    fill_from(tubes, site_rank, &entries);
    members_over(entries)
}

/// Each tube's first member, size and site, from the entries.
fn fill_from(tubes: &mut [Tube], site_rank: &[u32], entries: &[Entry]) {
    // Pieces of whole tubes, each filled on a worker: tubes are numbered densely and
    // each has rows, so tube `t` is the `t`-th.
    let ranges = pieces::between_runs(entries, PIECE, |a, b| a.tube != b.tube);
    let counts: Vec<usize> = ranges
        .iter()
        .map(|r| (entries[r.end - 1].tube - entries[r.start].tube) as usize + 1)
        .collect();
    // Were a tube number skipped, the pieces would not tile the tubes: stop instead.
    assert!(
        counts.iter().sum::<usize>() == tubes.len() && entries.first().is_none_or(|e| e.tube == 0),
        "tube numbers without rows"
    );
    pieces_mut(tubes, &counts)
        .into_par_iter()
        .zip(ranges)
        .for_each(|(out, range)| {
            let mut sites: Vec<u32> = Vec::new();
            let (mut made, mut start) = (0, range.start);
            for rows in entries[range].chunk_by(|a, b| a.tube == b.tube) {
                sites.clear();
                sites.extend(rows.iter().filter(|e| e.site != NONE).map(|e| e.site));
                let tube = &mut out[made];
                tube.first = start as u32;
                tube.set_size(rows.len());
                tube.site = most_frequent(&mut sites, |s| site_rank[s as usize]);
                made += 1;
                start += rows.len();
            }
            assert_eq!(made, out.len(), "tube numbers without rows");
        });
}

// A member is half an entry, and aligned as one: the members can be written over the
// entries' own memory.
const _: () = assert!(
    std::mem::size_of::<Entry>() == 2 * std::mem::size_of::<Member>()
        && std::mem::align_of::<Entry>() == std::mem::align_of::<Member>()
);

/// The members of the entries, in their order, written over the front of the entries'
/// own memory and the rest given back: with single tubes the entries are 160 MB, and
/// the members (80 MB) made beside them would be held with them and every tube, at the
/// peak of reconcile.
fn members_over(entries: Vec<Entry>) -> Vec<Member> {
    let mut entries = std::mem::ManuallyDrop::new(entries);
    let (len, capacity) = (entries.len(), entries.capacity());
    let at = entries.as_mut_ptr();
    let out = at.cast::<Member>();
    // One after another: member `i` lies over entry `i / 2`, which was read before it,
    // and never over a later entry. (On workers, a block would overwrite the entries
    // another block has yet to read.)
    for i in 0..len {
        // SAFETY: entry `i` is initialized and not yet overwritten (see above); member
        // `i` lies within the allocation, which holds `2 * capacity` members.
        unsafe {
            let e = at.add(i).read();
            out.add(i).write(Member {
                person: e.person,
                sample: e.sample,
            });
        }
    }
    // SAFETY: the allocation of `capacity` entries is, in size and alignment (checked
    // above), that of `2 * capacity` members, of which the first `len` were written;
    // `Entry` has no drop to skip.
    let mut members = unsafe { Vec::from_raw_parts(out, len, 2 * capacity) };
    crate::memory::release_spare(&mut members);
    members
}

/// The most frequent of `values`, the one of smallest `rank` on a tie; [`NONE`] when
/// there are none. Sorts `values`.
fn most_frequent(values: &mut [u32], rank: impl Fn(u32) -> u32) -> u32 {
    values.sort_unstable_by_key(|&v| rank(v));
    let mut best = (0usize, NONE);
    let mut i = 0;
    while i < values.len() {
        let mut j = i + 1;
        while j < values.len() && values[j] == values[i] {
            j += 1;
        }
        // Ranks ascend, so a later run wins only with strictly more rows.
        if j - i > best.0 {
            best = (j - i, values[i]);
        }
        i = j;
    }
    best.1
}

/// Who was sampled in each round, into which tube (the smallest tube_id); a person in
/// two or more tubes of a round is a `duplicate_sample` (the tube of the smallest
/// tube_id counts as the first), a sampled person on leave `sampled_on_leave`, a
/// sampled person not on the roster `unregistered_person` (once per tube): each kind's
/// findings by tube, person_id and line, in pieces (of a few tubes each); the
/// `unregistered_person`s in one list, as [`RowFindings`] holds them.
///
/// Tubes are numbered by round, then tube_id, so a person's first tube in a round is
/// the smallest number that holds them: each member lowers their entry to its tube, on
/// the workers, then each member whose entry is another tube is a repeat. Two passes
/// over the members, whatever order the roster and the samples come in.
fn mark_sampled(roster: &Roster, rec: &Reconciled) -> Marked {
    let roster_len = rec.roster_len;
    let persons = roster_len as usize + rec.set.unregistered.len();
    let first: Vec<Vec<AtomicU32>> = (0..rec.set.rounds.len())
        .map(|_| {
            (0..persons)
                .into_par_iter()
                .map(|_| AtomicU32::new(NONE))
                .collect()
        })
        .collect();
    rec.tubes.par_iter().enumerate().for_each(|(t, tube)| {
        let first = &first[tube.round as usize];
        for m in rec.members_of(tube) {
            first[m.person as usize].fetch_min(t as u32, atomic::Ordering::Relaxed);
        }
    });
    let first: Vec<Vec<u32>> = first
        .into_iter()
        .map(|round| round.into_iter().map(AtomicU32::into_inner).collect())
        .collect();
    let line = |m: &Member| rec.set.line(m.sample);
    // Pieces of tubes on the workers, each kind's findings of a tube by person_id.
    const TUBES: usize = 1 << 10;
    let chunks: Vec<(usize, &[Tube])> = rec.tubes.chunks(TUBES).enumerate().collect();
    // The unregistered_person findings are written straight into their place: counted
    // first, they are not made in pieces and then copied (a district's roster against
    // a city's samples makes one of nearly every sample row).
    let counts: Vec<usize> = chunks
        .par_iter()
        .map(|(_, tubes)| {
            let members = |tube: &Tube| rec.members_of(tube).iter();
            let others = |m: &&Member| m.person >= roster_len;
            tubes
                .iter()
                .map(|t| members(t).filter(others).count())
                .sum()
        })
        .collect();
    let (unregistered, pieces) = pieces::fill(
        chunks,
        &counts,
        |(c, tubes), unregistered: &mut pieces::Slots<[u32; 3]>| {
            let mut out: [Vec<RowFinding>; 2] = Default::default();
            for (k, tube) in tubes.iter().enumerate() {
                let (t, round) = ((c * TUBES + k) as u32, tube.round);
                let starts = out.each_ref().map(Vec::len);
                let unregistered_start = unregistered.len();
                for m in rec.members_of(tube) {
                    let finding = |kind, cited, first_tube| RowFinding {
                        kind,
                        tube: t,
                        person: m.person,
                        line: line(m),
                        cited,
                        first_tube,
                    };
                    let first_tube = first[round as usize][m.person as usize];
                    if first_tube != t {
                        // A tube's members are sorted by person.
                        let first_members = rec.members_of(&rec.tubes[first_tube as usize]);
                        let first_line = first_members
                            .binary_search_by_key(&m.person, |f| f.person)
                            .map_or(0, |k| line(&first_members[k]));
                        out[0].push(finding(
                            AnomalyKind::DuplicateSample,
                            first_line,
                            first_tube,
                        ));
                    }
                    if m.person >= roster_len {
                        unregistered.push([t, m.person, line(m)]);
                    } else if first_tube == t && roster.status[m.person as usize] == Status::OnLeave
                    {
                        let cited = roster.line[m.person as usize];
                        out[1].push(finding(AnomalyKind::SampledOnLeave, cited, NONE));
                    }
                }
                for (rows, start) in out.iter_mut().zip(starts) {
                    sort_by_person_id(&mut rows[start..], roster, rec, |r| (r.person, r.line));
                }
                sort_by_person_id(
                    unregistered.written_mut(unregistered_start),
                    roster,
                    rec,
                    |&[_, person, line]| (person, line),
                );
            }
            out
        },
    );
    let mut kinds: [Vec<Vec<RowFinding>>; 2] = Default::default();
    for piece in pieces {
        for (kind, rows) in kinds.iter_mut().zip(piece) {
            kind.push(rows);
        }
    }
    // Kept for the roster's people only, without the room of the others: a district's
    // roster against a city's samples names nine others for each of its own.
    let tube_of = first
        .into_iter()
        .map(|mut round| {
            round.truncate(roster_len as usize);
            round.shrink_to_fit();
            round
        })
        .collect();
    let [twice, on_leave] = kinds;
    Marked {
        tube_of,
        twice,
        on_leave,
        unregistered,
    }
}

/// What [`mark_sampled`] finds.
struct Marked {
    /// Each round's first tube of each roster person, or [`NONE`].
    tube_of: Vec<Vec<u32>>,
    /// The `duplicate_sample` findings, in pieces.
    twice: Vec<Vec<RowFinding>>,
    /// The `sampled_on_leave` findings, in pieces.
    on_leave: Vec<Vec<RowFinding>>,
    /// Each `unregistered_person`'s tube, person and line.
    unregistered: Vec<[u32; 3]>,
}

/// Overfull tubes, pools across buildings, and tube IDs reused across rounds. The line
/// cited is that of a member chosen by value: the earliest swab, then the smallest
/// person_id.
fn tube_anomalies(
    roster: &Roster,
    rec: &Reconciled,
    pool_size: usize,
    anomalies: &mut Vec<Anomaly>,
) {
    let samples = &rec.set.samples;
    // The member a tube's `n`-th by value: by sampling time, then person_id, then
    // place among the members (as a stable sort would place them). Only one is
    // wanted, so the members are not sorted: a pool whose people live in several
    // buildings (a site's queue past a building's last door) is common in a city.
    let nth_by_value = |tube: &Tube, n: usize| -> Member {
        let mut members: Vec<(usize, &Member)> = rec.members_of(tube).iter().enumerate().collect();
        let (_, &mut (_, nth), _) = members.select_nth_unstable_by(n, |(i, a), (j, b)| {
            samples[a.sample as usize]
                .sampled_at
                .cmp(&samples[b.sample as usize].sampled_at)
                .then_with(|| {
                    rec.person_id(roster, a.person)
                        .cmp(rec.person_id(roster, b.person))
                })
                .then(i.cmp(j))
        });
        *nth
    };
    let line_of = |m: &Member| u64::from(rec.set.line(m.sample));
    // Tubes are checked on the workers: their members' roster rows lie anywhere in the
    // roster when it is not in building order. The anomalies are sorted afterwards.
    let found: Vec<Anomaly> = rec
        .tubes
        .par_iter()
        .flat_map_iter(|tube| {
            let mut anomalies = Vec::new();
            let size = tube.size() as usize;
            if size >= 2 {
                for m in rec.members_of(tube) {
                    if m.person < rec.roster_len && roster.priority[m.person as usize] {
                        anomalies.push(Anomaly {
                            round: tube.round,
                            kind: AnomalyKind::PriorityPooled,
                            tube_id: Some(rec.tube_id(tube).into()),
                            person_id: Some(rec.person_id(roster, m.person).into()),
                            file: InputKind::Samples,
                            line: Some(line_of(m)),
                            detail: format!(
                                "the roster (line {}) puts the person in a priority group (isolated, or a group of 重点人群); call them back for a single-tube swab",
                                roster.line[m.person as usize]
                            ).into(),
                        });
                    }
                }
            }
            if size > pool_size {
                anomalies.push(Anomaly {
                    round: tube.round,
                    kind: AnomalyKind::OverfullTube,
                    tube_id: Some(rec.tube_id(tube).into()),
                    person_id: None,
                    file: InputKind::Samples,
                    line: Some(line_of(&nth_by_value(tube, pool_size))),
                    detail: format!("{size} people in the tube; the pool size is {pool_size}").into(),
                });
            }
            if let TubeBuildings::Several(names) = rec.buildings_of(roster, tube) {
                anomalies.push(Anomaly {
                    round: tube.round,
                    kind: AnomalyKind::MixedBuildings,
                    tube_id: Some(rec.tube_id(tube).into()),
                    person_id: None,
                    file: InputKind::Samples,
                    line: Some(line_of(&nth_by_value(tube, 0))),
                    detail: format!(
                        "the pool holds people of {} buildings: {}",
                        names.len(),
                        names.join(", ")
                    ).into(),
                });
            }
            anomalies
        })
        .collect();
    anomalies.extend(found);
    // The same tube_id in several rounds, flagged in each later round: only the tubes
    // of a tube_id counted more than once are sorted (tubes come in output order, by
    // round and tube_id, so a reused tube_id's tubes lie in different rounds, far
    // apart).
    let mut uses = vec![0u8; rec.set.tubes.len()];
    for tube in &rec.tubes {
        let n = &mut uses[tube.tube_id as usize];
        *n = n.saturating_add(1);
    }
    let mut by_id: Vec<u32> = (0..rec.tubes.len() as u32)
        .into_par_iter()
        .filter(|&t| uses[rec.tubes[t as usize].tube_id as usize] > 1)
        .collect();
    drop(uses);
    // "Later" is in time: rounds by their earliest sample, whatever their labels say
    // (第二轮 sorts before 第一轮).
    let rank = rec.round_order();
    by_id.par_sort_unstable_by_key(|&t| {
        let tube = &rec.tubes[t as usize];
        (tube.tube_id, rank[tube.round as usize])
    });
    for pair in by_id.windows(2) {
        let (first, next) = (&rec.tubes[pair[0] as usize], &rec.tubes[pair[1] as usize]);
        if first.tube_id == next.tube_id {
            anomalies.push(Anomaly {
                round: next.round,
                kind: AnomalyKind::TubeReused,
                tube_id: Some(rec.tube_id(next).into()),
                person_id: None,
                file: InputKind::Samples,
                line: Some(line_of(&nth_by_value(next, 0))),
                detail: format!(
                    "the tube ID was already used in round {}",
                    rec.set.rounds[first.round as usize]
                )
                .into(),
            });
        }
    }
}

/// The order in which result rows of one tube compete, the winner first: the most
/// severe class, then the lowest ORF1ab Ct, then the lowest N Ct (not detected counting
/// as highest), then every other value, so that the winner never depends on the order
/// of rows.
pub fn result_order(a: (&LabResult, Class), b: (&LabResult, Class)) -> std::cmp::Ordering {
    b.1.cmp(&a.1)
        .then_with(|| ct_order(a.0.ct_orf1ab.get(), b.0.ct_orf1ab.get()))
        .then_with(|| ct_order(a.0.ct_n.get(), b.0.ct_n.get()))
        .then_with(|| value_order(a.0, b.0))
}

/// Ct values in ascending order, not detected last.
fn ct_order(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// Every value of a result row but its line, in a fixed order: equal when the rows say
/// the same thing.
fn value_order(a: &LabResult, b: &LabResult) -> std::cmp::Ordering {
    ct_order(a.ct_orf1ab.get(), b.ct_orf1ab.get())
        .then_with(|| ct_order(a.ct_n.get(), b.ct_n.get()))
        .then_with(|| ct_order(a.ct_ic.get(), b.ct_ic.get()))
        .then_with(|| a.lab_call.cmp(&b.lab_call))
        .then_with(|| a.tested_at.get().cmp(&b.tested_at.get()))
        .then_with(|| a.lab().cmp(&b.lab()))
        .then_with(|| a.sampled_at().cmp(&b.sampled_at()))
}

/// Gives each tube the class of its deciding result row ([`result_order`]); a tube whose
/// rows differ in any value is `conflicting_results`, a row whose Ct values and lab
/// call disagree `lab_call_mismatch`, a row for no sampled tube `orphan_result`.
fn match_results(
    rec: &mut Reconciled,
    results: Vec<LabResult>,
    columns: ResultColumns,
    settings: &Settings,
    anomalies: &mut Vec<Anomaly>,
) {
    let round_of: FxHashMap<&str, u32> = rec
        .set
        .rounds
        .iter()
        .enumerate()
        .map(|(i, r)| (&**r, i as u32))
        .collect();
    let default_round = round_of
        .get(rec.set.default_round.as_str())
        .copied()
        .unwrap_or(0);
    let positive_orphans: Vec<AtomicU64> = (0..rec.set.rounds.len().max(1))
        .map(|_| AtomicU64::new(0))
        .collect();
    let by_id = TubesById::new(rec.set.tubes.len(), &rec.tubes);
    let id_of_row = result_tube_ids(&results, &rec.set.tubes, ORDERED_BLOCK);
    // No tube_id is looked up by its text from here on: the table that finds them, if
    // several rounds' renumbering made one (ten million entries with single tubes), is
    // freed and given back to the system before the matches are made.
    rec.set.tubes.drop_lookups();
    crate::memory::give_back();
    let classes: Vec<RowClass> = results
        .par_iter()
        .map(|r| classify::row_class(r, columns, settings.rules))
        .collect();
    let found = &*rec;
    let matched = |i: usize, r| matched_tubes(found, &by_id, id_of_row[i], r, columns.round);
    // (tube, result row) for every match, written into place piece by piece on the
    // workers once each piece's matches are counted: with single tubes the list is ten
    // million, at the peak of the run, and pieces joined afterwards would hold it twice.
    let counts: Vec<usize> = results
        .par_chunks(PIECE)
        .enumerate()
        .map(|(piece, rows)| {
            (piece * PIECE..)
                .zip(rows)
                .map(|(i, r)| matched(i, r).count())
                .sum()
        })
        .collect();
    let pieces: Vec<_> = results
        .chunks(PIECE)
        .zip(classes.chunks(PIECE))
        .enumerate()
        .collect();
    let (mut matches, noted) = pieces::fill(
        pieces,
        &counts,
        |(piece, (results, classes)), out: &mut pieces::Slots<(u32, u32)>| {
            let mut anomalies = Vec::new();
            let first = piece * PIECE;
            for (i, (r, rc)) in (first..).zip(results.iter().zip(classes)) {
                let mut matched_any = false;
                for t in matched(i, r) {
                    matched_any = true;
                    out.push((t, i as u32));
                    if rc.mismatch() {
                        anomalies.push(Anomaly {
                            round: found.tubes[t as usize].round,
                            kind: AnomalyKind::LabCallMismatch,
                            tube_id: Some(r.tube_id.to_text()),
                            person_id: None,
                            file: InputKind::Results,
                            line: Some(r.line.into()),
                            detail: mismatch_detail(rc, "tube").into(),
                        });
                    }
                }
                if !matched_any {
                    let round = r
                        .round()
                        .and_then(|l| round_of.get(l).copied())
                        .unwrap_or(default_round);
                    if rc.class == Class::Positive {
                        positive_orphans[round as usize].fetch_add(1, atomic::Ordering::Relaxed);
                    }
                    anomalies.push(Anomaly {
                        round,
                        kind: AnomalyKind::OrphanResult,
                        tube_id: Some(r.tube_id.to_text()),
                        person_id: None,
                        file: InputKind::Results,
                        line: Some(r.line.into()),
                        detail: match (r.round(), columns.round) {
                            (Some(label), true) => format!(
                                "no tube with this ID was sampled in round {label} (or every sample row of it was rejected: see rejects.csv)"
                            )
                            .into(),
                            _ => Cow::Borrowed("no tube with this ID was sampled (or every sample row of it was rejected: see rejects.csv)"),
                        },
                    });
                }
            }
            anomalies
        },
    );
    drop((id_of_row, by_id));
    add_found(anomalies, noted);
    matches.par_sort_unstable();
    let row = |i: u32| (&results[i as usize], classes[i as usize].class);
    // Each tube's deciding row, tube by tube on the workers, written over the front of
    // its piece of the matches (a tube's first match is read before it is written
    // over), so that no second list of ten million is made; the tubes take them after.
    let tubes = &rec.tubes;
    let lens: Vec<usize> = pieces::between_runs(&matches, PIECE, |a, b| a.0 != b.0)
        .iter()
        .map(ExactSizeIterator::len)
        .collect();
    let (decided, noted): (Vec<usize>, Vec<Vec<Anomaly>>) = pieces_mut(&mut matches, &lens)
        .into_par_iter()
        .map(|piece| {
            let mut decided = 0;
            let mut anomalies = Vec::new();
            let mut start = 0;
            while start < piece.len() {
                let t = piece[start].0;
                let end = start + piece[start..].partition_point(|m| m.0 == t);
                let rows = &piece[start..end];
                let best = rows
                    .iter()
                    .map(|&(_, i)| i)
                    .min_by(|&a, &b| {
                        result_order(row(a), row(b))
                            .then_with(|| results[a as usize].line.cmp(&results[b as usize].line))
                    })
                    .expect("a tube with matches");
                // A tube of one row (nearly every tube) reads no row: rows in no order
                // lie anywhere in the file.
                let differ = rows.len() > 1
                    && rows.iter().any(|&(_, i)| {
                        value_order(&results[i as usize], &results[best as usize]).is_ne()
                    });
                if differ {
                    anomalies.push(conflicting_results(
                        rec,
                        &tubes[t as usize],
                        rows.iter().map(|&(_, i)| classes[i as usize].class),
                        rows.len(),
                        classes[best as usize].class,
                        results[best as usize].line.into(),
                    ));
                }
                piece[decided] = (t, best);
                decided += 1;
                start = end;
            }
            (decided, anomalies)
        })
        .unzip();
    for (piece, decided) in pieces_mut(&mut matches, &lens).into_iter().zip(decided) {
        for &(t, best) in &piece[..decided] {
            let tube = &mut rec.tubes[t as usize];
            tube.set_result(classes[best as usize].class, best);
        }
    }
    drop(matches);
    add_found(anomalies, noted);
    rec.latest_result = results.par_iter().filter_map(|r| r.tested_at.get()).max();
    rec.results = deciding_rows(results, &mut rec.tubes);
    rec.positive_orphans = positive_orphans
        .into_iter()
        .map(AtomicU64::into_inner)
        .collect();
}

/// The tubes that result row `r`, of tube_id number `id` (see [`result_tube_ids`]),
/// matches: those of its tube_id, and of its round when the file names rounds (`rounds`).
fn matched_tubes<'a>(
    rec: &'a Reconciled,
    by_id: &'a TubesById,
    id: u32,
    r: &'a LabResult,
    rounds: bool,
) -> impl Iterator<Item = u32> + 'a {
    let label = r.round().unwrap_or(rec.set.default_round.as_str());
    by_id.of(id).filter(move |&t| {
        !rounds || *rec.set.rounds[rec.tubes[t as usize].round as usize] == *label
    })
}

/// The tube_id number of each row of `results` ([`NONE`] for a tube_id no sample
/// holds), looked up in the order of the rows' tube_ids. The tube_ids are numbered in
/// the tubes' order (`renumber_tube_ids`: by round, then tube_id), so that rows taken
/// in tube_id order find each tube_id of a round at the number of the row before or
/// the next, without hashing, whatever the order of the file: a lab lists its rows by
/// testing time, or in no order, and rows looked up as they come would read the
/// table's slots and texts at random (0.27 s against 0.02 s for the million rows of a
/// 10 M round). A row whose guess misses (tube_ids of several rounds interleaved, a
/// tube_id no sample holds) is looked up by hash. The rows are sorted in blocks of
/// `block` rows ([`ORDERED_BLOCK`]), which bounds the sort's memory.
fn result_tube_ids(results: &[LabResult], tubes: &Interner, block: usize) -> Vec<u32> {
    let mut ids = vec![NONE; results.len()];
    for (rows, ids) in results.chunks(block).zip(ids.chunks_mut(block)) {
        // By tube_id, as the tubes are sorted, then by row. Each entry carries the
        // tube_id's first 16 bytes and its length, so that a tube_id of up to 16 bytes
        // is compared and read from its entry, not from its row again; longer ones that
        // share their first 16 bytes are compared whole.
        let mut order: Vec<([u64; 2], u32, u8)> = rows
            .par_iter()
            .enumerate()
            .map(|(i, r)| {
                let mut digits = [0; 18];
                let text = r.tube_id.text(&mut digits);
                (prefix(text), i as u32, text.len().min(255) as u8)
            })
            .collect();
        let by_tube_id = |a: &([u64; 2], u32, u8), b: &([u64; 2], u32, u8)| {
            a.0.cmp(&b.0)
                .then_with(|| match (a.2 > 16, b.2 > 16) {
                    (true, true) => {
                        let (mut x, mut y) = ([0; 18], [0; 18]);
                        let text = |i: u32, buf| rows[i as usize].tube_id.text(buf);
                        text(a.1, &mut x).cmp(text(b.1, &mut y))
                    }
                    _ => a.2.cmp(&b.2),
                })
                .then(a.1.cmp(&b.1))
        };
        if !order.is_sorted_by(|a, b| by_tube_id(a, b).is_le()) {
            order.par_sort_by(by_tube_id);
        }
        let found: Vec<Vec<u32>> = order
            .par_chunks(PIECE)
            .map(|piece| {
                let mut last = NONE;
                let mut digits = [0; 18];
                piece
                    .iter()
                    .map(|&(first, i, len)| {
                        let bytes;
                        let text = if len <= 16 {
                            bytes = prefix_bytes(first);
                            std::str::from_utf8(&bytes[..len as usize])
                                .expect("whole bytes of a tube_id")
                        } else {
                            rows[i as usize].tube_id.text(&mut digits)
                        };
                        match tubes.get_near(text, last) {
                            Some(n) => {
                                last = n;
                                n
                            }
                            None => NONE,
                        }
                    })
                    .collect()
            })
            .collect();
        for (&(_, i, _), id) in order.iter().zip(found.into_iter().flatten()) {
            ids[i as usize] = id;
        }
    }
    ids
}

/// How many result rows [`result_tube_ids`] sorts at a time: 24 MB of sort entries,
/// the rows of a million tubes.
const ORDERED_BLOCK: usize = 1 << 20;

/// The rows of `results` that decide a tube of `tubes`, in file order, the tubes'
/// [`Tube::result`] numbered into them. Rows are dropped in place; the room they took
/// is given back when they were most of it.
fn deciding_rows(mut results: Vec<LabResult>, tubes: &mut [Tube]) -> Vec<LabResult> {
    // Each row's number among the rows kept; NONE for a row dropped.
    let mut number = vec![NONE; results.len()];
    for r in tubes.iter().filter_map(Tube::result) {
        number[r as usize] = 0;
    }
    let kept = number
        .iter_mut()
        .filter(|n| **n != NONE)
        .enumerate()
        .map(|(k, n)| *n = k as u32)
        .count();
    // Every row decides a tube (one result row a tube, the usual file): nothing moves.
    if kept == results.len() {
        return results;
    }
    let mut row = 0;
    results.retain(|_| {
        row += 1;
        number[row - 1] != NONE
    });
    if results.len() < results.capacity() / 2 {
        results.shrink_to_fit();
    }
    for t in tubes.iter_mut() {
        if let Some(r) = t.result() {
            t.result = number[r as usize];
        }
    }
    results
}

/// The tubes of each tube_id. A tube_id is nearly always used in one round only: its
/// one tube is held in a slot of its own (4 bytes a tube_id, where a list of every
/// tube_id's tubes would take 12), and the tubes of tube_ids used in several rounds in
/// a list of their own.
struct TubesById {
    /// The tube of each tube_id used in one round; [`NONE`] for a tube_id without a
    /// tube, [`TubesById::SEVERAL`] for one used in several rounds. Empty when tube_id
    /// `n` is tube `n` for every `n` (a single round), whose slots would all say so.
    one: Vec<u32>,
    /// The tube_ids used in several rounds, once for each of their tubes, in order;
    /// `tubes` holds those tubes, side by side.
    several: Vec<u32>,
    /// The tubes of `several`, each tube_id's in output order.
    tubes: Vec<u32>,
}

impl TubesById {
    const SEVERAL: u32 = NONE - 1;

    /// The tubes of `ids` tube_ids, found on the workers: a slot only ever moves from
    /// NONE to a tube to SEVERAL, so the outcome does not depend on which tube gets
    /// there first.
    fn new(ids: usize, tubes: &[Tube]) -> TubesById {
        const SEVERAL: u32 = TubesById::SEVERAL;
        // Every tube_id used in one round, numbered as its tube (`renumber_tube_ids`):
        // the tube of tube_id `n` is tube `n`, and no slot is needed.
        if tubes.len() == ids
            && tubes
                .par_iter()
                .enumerate()
                .all(|(t, tube)| tube.tube_id == t as u32)
        {
            return TubesById {
                one: Vec::new(),
                several: Vec::new(),
                tubes: Vec::new(),
            };
        }
        let slots: Vec<AtomicU32> = (0..ids)
            .into_par_iter()
            .map(|_| AtomicU32::new(NONE))
            .collect();
        tubes
            .par_iter()
            .enumerate()
            .for_each(|(t, tube)| mark(&slots[tube.tube_id as usize], t as u32, SEVERAL));
        let one: Vec<u32> = slots.into_iter().map(AtomicU32::into_inner).collect();
        let mut several: Vec<(u32, u32)> = tubes
            .par_iter()
            .enumerate()
            .filter(|(_, tube)| one[tube.tube_id as usize] == SEVERAL)
            .map(|(t, tube)| (tube.tube_id, t as u32))
            .collect();
        several.par_sort_unstable();
        let (several, tubes) = several.into_iter().unzip();
        TubesById {
            one,
            several,
            tubes,
        }
    }

    /// The tubes of tube_id `n`, in output order; none for [`NONE`].
    fn of(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        let (one, several) = match self.one.get(n as usize) {
            _ if n == NONE => (None, &[][..]),
            None => (Some(n), &[][..]),
            Some(&NONE) => (None, &[][..]),
            Some(&Self::SEVERAL) => {
                let start = self.several.partition_point(|&id| id < n);
                let end = self.several.partition_point(|&id| id <= n);
                (None, &self.tubes[start..end])
            }
            Some(&t) => (Some(t), &[][..]),
        };
        one.into_iter().chain(several.iter().copied())
    }
}

/// The `conflicting_results` of `tube`, whose `rows` result rows of `classes` differ,
/// and which takes `class` from the row on `line`.
fn conflicting_results(
    rec: &Reconciled,
    tube: &Tube,
    classes: impl Iterator<Item = Class>,
    rows: usize,
    class: Class,
    line: u64,
) -> Anomaly {
    let mut seen: Vec<Class> = classes.collect();
    seen.sort_unstable_by(|a, b| b.cmp(a));
    seen.dedup();
    Anomaly {
        round: tube.round,
        kind: AnomalyKind::ConflictingResults,
        tube_id: Some(rec.tube_id(tube).into()),
        person_id: None,
        file: InputKind::Results,
        line: Some(line),
        detail: format!(
            "{rows} result rows for the tube differ ({}); the tube takes {} from line {line}",
            match seen.as_slice() {
                [one] => format!("all {}", one.as_str()),
                many => many
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            class.as_str(),
        )
        .into(),
    }
}

/// The detail of a `lab_call_mismatch` of a tube or a retest (`what`).
pub fn mismatch_detail(rc: &RowClass, what: &str) -> String {
    format!(
        "the Ct values say {} but the lab call is {}; the {what} takes {}",
        rc.by_ct.map_or("", Class::as_str),
        rc.by_lab.map_or("", Class::as_str),
        rc.class.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tube_ids are numbered in the order of their tubes, and every sample, tube key
    /// and lookup by text still finds its own tube_id, however the tube_ids were
    /// numbered before.
    #[test]
    fn tubes_are_in_output_order_however_their_tube_ids_were_numbered() {
        // Each case: the tube_ids as interned, the rows (tube_id, round), the tubes in
        // output order, and the tube_ids in their order afterwards. The samples stage
        // numbers tube_ids in the order of their bytes (nothing is sorted nor moved
        // then); a set made otherwise may hold them in no order. One pair shares its
        // first 16 bytes.
        let (a1, a2) = ("A-0000000000000001", "A-0000000000000002");
        type Case<'a> = (
            Vec<&'a str>,
            Vec<(&'a str, u32)>,
            Vec<(u32, &'a str)>,
            Vec<&'a str>,
        );
        let one_round = vec![
            ("T02", 0),
            (a2, 0),
            ("T10", 0),
            ("T01", 0),
            ("T02", 0),
            (a1, 0),
        ];
        let tubes = vec![(0, a1), (0, a2), (0, "T01"), (0, "T02"), (0, "T10")];
        let ids = vec![a1, a2, "T01", "T02", "T10"];
        let cases: Vec<Case> = vec![
            // One round, in order, and in no order.
            (ids.clone(), one_round.clone(), tubes.clone(), ids.clone()),
            (vec!["T10", a2, "T01", a1, "T02"], one_round, tubes, ids),
            // Two rounds whose tube_ids follow one another: in order.
            (
                vec!["A1", "A2", "B1"],
                vec![("B1", 1), ("A2", 0), ("A1", 0)],
                vec![(0, "A1"), (0, "A2"), (1, "B1")],
                vec!["A1", "A2", "B1"],
            ),
            // Two rounds whose tube_ids do not: sorted, and numbered anew.
            (
                vec!["T1", "T2", "T3"],
                vec![("T1", 1), ("T2", 0), ("T3", 1)],
                vec![(0, "T2"), (1, "T1"), (1, "T3")],
                vec!["T2", "T1", "T3"],
            ),
            // Tube_ids in several rounds, one no sample holds (it comes last), samples
            // in no order.
            (
                vec!["T09", "T03", "T00", "T07", "T01", "T05", "T02"],
                vec![
                    ("T07", 1),
                    ("T03", 0),
                    ("T09", 0),
                    ("T01", 1),
                    ("T03", 1),
                    ("T05", 0),
                    ("T02", 1),
                    ("T09", 0),
                    ("T01", 0),
                ],
                vec![
                    (0, "T01"),
                    (0, "T03"),
                    (0, "T05"),
                    (0, "T09"),
                    (1, "T01"),
                    (1, "T02"),
                    (1, "T03"),
                    (1, "T07"),
                ],
                vec!["T01", "T03", "T05", "T09", "T02", "T07", "T00"],
            ),
        ];
        for (interned, rows, tubes, ids) in cases {
            let mut set = SampleSet {
                rounds: vec!["R1".into(), "R2".into()],
                ..SampleSet::default()
            };
            for name in &interned {
                set.tubes.intern(name);
            }
            set.samples = rows
                .iter()
                .map(|&(name, round)| Sample {
                    round,
                    tube: set.tubes.get(name).unwrap(),
                    ..Sample::default()
                })
                .collect();
            let before: Vec<u32> = set.samples.iter().map(|s| s.tube).collect();
            let (keys, numbers) = number_tubes(&mut set);
            let named: Vec<(u32, &str)> = keys
                .iter()
                .map(|&k| ((k >> 32) as u32, set.tubes.name(k as u32)))
                .collect();
            assert_eq!(named, tubes, "{interned:?}");
            assert_eq!(set.tubes.iter().collect::<Vec<_>>(), ids, "{interned:?}");
            for (i, name) in ids.iter().enumerate() {
                assert_eq!(set.tubes.get(name), Some(i as u32), "{interned:?}: {name}");
            }
            if interned == ids {
                // Nothing moved.
                let after: Vec<u32> = set.samples.iter().map(|s| s.tube).collect();
                assert_eq!(after, before, "{interned:?}");
            }
            for (s, &(name, round)) in set.samples.iter().zip(&rows) {
                assert_eq!(
                    (s.round, set.tubes.name(s.tube)),
                    (round, name),
                    "{interned:?}"
                );
                assert_eq!(keys[numbers.of(s) as usize], tube_key(s), "{interned:?}");
            }
        }
    }

    /// Result rows find their tube_ids whatever their order, in blocks of any size:
    /// rows in no order, a tube_id on several rows, tube_ids no sample holds, tube_ids
    /// packed and as text, longer than the 16 bytes sorted on and sharing them.
    #[test]
    fn result_rows_find_their_tube_ids_in_any_order() {
        use crate::record::{PackedCt, PackedTime, TubeId};
        let long = "LAB-2022-04-10-PLATE-0001";
        // Digits, short codes, 16 and 17 bytes (on either side of the bytes an entry
        // carries), and long tube_ids sharing their first 16 bytes.
        let names: Vec<String> = (0..50)
            .map(|k| match k % 5 {
                0 => format!("2201001{k:07}"),
                1 => format!("T{k:03}"),
                2 => format!("AB-CD-EF-GH-IJ{k:02}"),
                3 => format!("AB-CD-EF-GH-IJ{k:03}"),
                _ => format!("{long}-{k:02}"),
            })
            .collect();
        let mut tubes = Interner::default();
        for name in &names {
            tubes.intern(name);
        }
        // Tube_ids in the interner's order, some twice, some not interned, then the
        // rows scrambled.
        let mut wanted: Vec<String> = names.iter().step_by(2).cloned().collect();
        wanted.extend(names.iter().take(9).cloned());
        wanted.extend(["2201001999999", "T999", &format!("{long}-99")].map(String::from));
        let mut x = 11u64;
        for i in (1..wanted.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            wanted.swap(i, (x >> 33) as usize % (i + 1));
        }
        let results: Vec<LabResult> = wanted
            .iter()
            .enumerate()
            .map(|(i, id)| LabResult {
                tube_id: TubeId::new(id),
                ct_orf1ab: PackedCt::new(None),
                ct_n: PackedCt::new(None),
                ct_ic: PackedCt::new(None),
                lab_call: None,
                tested_at: PackedTime::new(None),
                line: i as u32 + 2,
                more: None,
            })
            .collect();
        let expected: Vec<u32> = wanted
            .iter()
            .map(|id| tubes.get(id).unwrap_or(NONE))
            .collect();
        assert!(expected.contains(&NONE) && expected.iter().filter(|&&n| n != NONE).count() > 20);
        for block in [1, 2, 7, 1000] {
            assert_eq!(
                result_tube_ids(&results, &tubes, block),
                expected,
                "blocks of {block}"
            );
        }
    }

    /// A stretch sorted by counting is sorted as a comparison sort sorts it, whatever
    /// the rows' order: tubes interleaved, a tube's people out of order, a person twice.
    #[test]
    fn stretches_sort_as_by_comparison() {
        let mut x = 5u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        // One scratch for every stretch, as a worker keeps it.
        let (mut scratch, mut counts) = (Vec::new(), Vec::new());
        for shift in [0, 1, 5, 8] {
            for len in [0, 1, 2, 17, 300, 5000] {
                // The stretch's tubes share their bits above `shift`.
                let base = 7u32 << shift;
                let mut rows: Vec<Entry> = (0..len)
                    .map(|i| Entry {
                        tube: base + next(1 << shift) as u32,
                        person: next(40) as u32,
                        sample: i,
                        site: next(3) as u32,
                    })
                    .collect();
                let mut expected = rows.clone();
                expected.sort_unstable_by_key(|e| (e.tube, e.person, e.sample));
                sort_stretch(&mut rows, shift, &mut scratch, &mut counts);
                let key = |e: &Entry| (e.tube, e.person, e.sample, e.site);
                assert_eq!(
                    rows.iter().map(key).collect::<Vec<_>>(),
                    expected.iter().map(key).collect::<Vec<_>>(),
                    "shift {shift}, {len} rows"
                );
            }
        }
    }

    /// A tube keeps its size, class and result row apart in its packed cells, at every
    /// class and up to the largest size; a larger tube stops the run.
    #[test]
    fn a_tube_keeps_its_size_class_and_result() {
        for class in Class::ALL {
            for size in [0, 1, 10, 20, 1 << 28, MAX_TUBE_SIZE as usize] {
                let mut tube = Tube::new(3, 4);
                tube.first_sampled_at = -5;
                assert_eq!(
                    (tube.size(), tube.class(), tube.result()),
                    (0, Class::Pending, None)
                );
                tube.set_size(size);
                assert_eq!((tube.size() as usize, tube.class()), (size, Class::Pending));
                tube.set_result(class, 7);
                tube.set_size(size);
                assert_eq!(
                    (tube.size() as usize, tube.class(), tube.result()),
                    (size, class, Some(7))
                );
                assert_eq!(
                    (tube.round, tube.tube_id, tube.first_sampled_at),
                    (3, 4, -5)
                );
            }
        }
        let too_large =
            std::panic::catch_unwind(|| Tube::new(0, 0).set_size(MAX_TUBE_SIZE as usize + 1));
        assert!(too_large.is_err());
    }

    /// Tube_ids numbered as their tubes (one round) are found without slots, and the
    /// same as with them: a tube_id of several rounds, one without a tube, NONE.
    #[test]
    fn tubes_are_found_by_tube_id_with_and_without_slots() {
        let tube = |round, tube_id| Tube::new(round, tube_id);
        let one_round: Vec<Tube> = (0..4).map(|n| tube(0, n)).collect();
        let by_id = TubesById::new(4, &one_round);
        assert!(by_id.one.is_empty());
        for n in 0..4 {
            assert_eq!(by_id.of(n).collect::<Vec<_>>(), [n]);
        }
        assert_eq!(by_id.of(NONE).count(), 0);
        // Tube_id 1 in rounds 0 and 1, tube_id 2 in round 1 only, tube_id 3 in none.
        let rounds = [tube(0, 0), tube(0, 1), tube(1, 1), tube(1, 2)];
        let by_id = TubesById::new(4, &rounds);
        let found: Vec<Vec<u32>> = (0..4).map(|n| by_id.of(n).collect()).collect();
        assert_eq!(found, [vec![0], vec![1, 2], vec![3], vec![]]);
        assert_eq!(by_id.of(NONE).count(), 0);
        // As many tubes as tube_ids, but not tube_id `n` at tube `n`.
        let swapped = [tube(0, 1), tube(0, 0)];
        let by_id = TubesById::new(2, &swapped);
        assert_eq!(by_id.of(0).collect::<Vec<_>>(), [1]);
        assert_eq!(by_id.of(1).collect::<Vec<_>>(), [0]);
    }

    /// Members written over their entries' memory are the entries' people and rows, in
    /// order, for lengths around a page and none; the vector still grows.
    #[test]
    fn members_written_over_their_entries_are_theirs() {
        for len in [0u32, 1, 2, 3, 255, 256, 257, 1000, 100_003] {
            let entries: Vec<Entry> = (0..len)
                .map(|i| Entry {
                    tube: i / 3,
                    person: i.wrapping_mul(2_654_435_761),
                    sample: len - i,
                    site: i % 7,
                })
                .collect();
            let expected: Vec<Member> = entries
                .iter()
                .map(|e| Member {
                    person: e.person,
                    sample: e.sample,
                })
                .collect();
            let capacity = entries.capacity();
            let mut members = members_over(entries);
            assert_eq!(members, expected, "{len} entries");
            assert_eq!(members.capacity(), 2 * capacity);
            members.extend_from_slice(&expected);
            assert_eq!(members.len(), 2 * len as usize);
            assert_eq!(&members[len as usize..], expected);
        }
    }

    /// Each tube is first sampled at the earliest of its rows, whatever their order in
    /// the file and however the workers share the rows out.
    #[test]
    fn a_tube_is_first_sampled_at_its_earliest_row() {
        let rows = 100_003;
        let tubes = 10_007;
        // Rows in no order of tube or time.
        let samples: Vec<Sample> = (0..rows)
            .map(|i: u64| Sample {
                round: 0,
                tube: ((i * 2_654_435_761) % tubes) as u32,
                person: i as u32,
                post: NONE,
                sampled_at: ((i as i64 * 48_271) % 1_000_003) - 500_000,
            })
            .collect();
        let mut expected = vec![Micros::MAX; tubes as usize];
        for s in &samples {
            let first = &mut expected[s.tube as usize];
            *first = (*first).min(s.sampled_at);
        }
        assert!(
            expected.iter().all(|&t| t != Micros::MAX),
            "every tube has rows"
        );
        for threads in [1, 2, 4] {
            let pool = crate::testing::pool(threads);
            let found =
                pool.install(|| first_sampled(&samples, tubes as usize, |i| samples[i].tube));
            assert_eq!(found, expected, "{threads} threads");
        }
    }
}
