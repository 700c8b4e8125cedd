//! Stage 2: matching tubes to people and results to tubes, and finding anomalies.
//!
//! Samples are grouped into tubes per round; a tube's members are the distinct people
//! swabbed into it. Results join tubes by (round, tube_id) when the results file has a
//! round column, otherwise by tube_id. Every finding that does not stop the run is an
//! [`Anomaly`]. No I/O here.

use crate::classify::{self, RowClass};
use crate::ingest::roster::Roster;
use crate::ingest::samples::SampleSet;
use crate::order::natural_cmp;
use crate::record::{Class, LabResult, Micros, ResultColumns, Status, NONE};
use crate::rules::Rules;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

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
    /// Several result rows for one tube with different classes.
    ConflictingResults,
    /// Ct values and the lab's call disagree.
    LabCallMismatch,
    /// One tube_id in two rounds.
    TubeReused,
    /// A person on leave was sampled.
    SampledOnLeave,
    /// A pool whose people live in more than one building.
    MixedBuildings,
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
        }
    }
}

/// Which input a finding points into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The roster file.
    Roster,
    /// The samples file.
    Samples,
    /// The results file.
    Results,
    /// The retests file.
    Retests,
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
    pub source: Source,
    /// The line, starting at `1`, of the row that shows the finding.
    pub line: Option<u64>,
    /// The finding in words. Never holds names or phones.
    pub detail: String,
}

/// A person in a tube.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// A person key: below the roster's length, an index into the roster; from it on,
    /// an unregistered person (see [`Reconciled::person_id`]).
    pub person: u32,
    /// Index into [`Reconciled::samples`] of the person's first row in this tube.
    pub sample: u32,
}

/// A tube of one round, with its people and its class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tube {
    /// Index into the rounds.
    pub round: u32,
    /// Index of the tube_id in the samples' tube table.
    pub name: u32,
    /// Where the tube's members start in [`Reconciled::members`].
    pub first: u32,
    /// How many distinct people were sampled into the tube.
    pub size: u32,
    /// The class: the most severe of its result rows, or pending without any.
    pub class: Class,
    /// The result row that gave the class (the first of them), if any.
    pub result: Option<u32>,
    /// The earliest sample time of the tube.
    pub first_sampled_at: Micros,
    /// The site of that earliest sample, or [`NONE`].
    pub site: u32,
}

/// Everything matched up, ready for the retest list and the summaries.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Accepted samples and the tables their indexes point into (rounds, tube IDs,
    /// sites, unregistered people).
    pub set: SampleSet,
    /// Accepted result rows, in file order.
    pub results: Vec<LabResult>,
    /// Tubes, sorted by round then tube_id.
    pub tubes: Vec<Tube>,
    /// The members of every tube, tube after tube, each tube's in the order of their
    /// first rows.
    pub members: Vec<Member>,
    /// The roster's length: the first unregistered person key.
    pub roster_len: u32,
    /// For each round, which roster people have at least one sample row.
    pub sampled: Vec<Vec<bool>>,
    /// For each round, the roster people whose individual retest was positive.
    pub confirmed: Vec<FxHashSet<u32>>,
    /// Findings, sorted by round, kind, tube_id, person_id, then line.
    pub anomalies: Vec<Anomaly>,
}

impl Reconciled {
    /// The round labels, in natural order.
    pub fn rounds(&self) -> &[Box<str>] {
        &self.set.rounds
    }

    /// The person_id of a person key.
    pub fn person_id<'a>(&'a self, roster: &'a Roster, key: u32) -> &'a str {
        if key < self.roster_len {
            roster.id(key)
        } else {
            &self.set.unregistered[(key - self.roster_len) as usize]
        }
    }

    /// The tube_id of a tube.
    pub fn tube_id(&self, tube: &Tube) -> &str {
        self.set.tubes.name(tube.name)
    }

    /// The members of a tube.
    pub fn members_of(&self, tube: &Tube) -> &[Member] {
        &self.members[tube.first as usize..(tube.first + tube.size) as usize]
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
            .map(|m| roster.building[m.person as usize]);
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

/// Matches samples to people and tubes, results to tubes, and retests to people.
pub fn reconcile(
    roster: &Roster,
    set: SampleSet,
    results: Vec<LabResult>,
    result_columns: ResultColumns,
    retests: Option<(Vec<LabResult>, ResultColumns)>,
    settings: &Settings,
) -> Reconciled {
    let roster_len = roster.len() as u32;
    let mut rec = Reconciled {
        roster_len,
        set,
        ..Reconciled::default()
    };
    let samples = &rec.set.samples;

    // Tubes are (round, tube_id) pairs, numbered in output order: round, then tube_id.
    let mut keys: Vec<u64> = samples
        .iter()
        .map(|s| (s.round as u64) << 32 | s.tube as u64)
        .collect();
    keys.par_sort_unstable();
    keys.dedup();
    keys.shrink_to_fit();
    let names = &rec.set.tubes;
    keys.par_sort_unstable_by(|a, b| {
        (a >> 32)
            .cmp(&(b >> 32))
            .then_with(|| names.name(*a as u32).cmp(names.name(*b as u32)))
    });
    let tube_of: FxHashMap<u64, u32> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u32))
        .collect();

    // (tube, person, sample) for every row; repeats of a person in a tube are duplicate rows.
    let mut entries: Vec<(u32, u32, u32)> = samples
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            (
                tube_of[&((s.round as u64) << 32 | s.tube as u64)],
                s.person,
                i as u32,
            )
        })
        .collect();
    drop(tube_of);
    entries.par_sort_unstable();
    let mut anomalies = Vec::new();
    let person_id = |key: u32| -> Box<str> {
        if key < roster_len {
            roster.id(key).into()
        } else {
            rec.set.unregistered[(key - roster_len) as usize].clone()
        }
    };
    let tube_name = |t: u32| -> Box<str> { names.name(keys[t as usize] as u32).into() };
    let round_of_tube = |t: u32| (keys[t as usize] >> 32) as u32;
    let mut kept = 0;
    for i in 0..entries.len() {
        let e = entries[i];
        if kept > 0 && entries[kept - 1].0 == e.0 && entries[kept - 1].1 == e.1 {
            let first = entries[kept - 1].2;
            anomalies.push(Anomaly {
                round: round_of_tube(e.0),
                kind: AnomalyKind::DuplicateRow,
                tube_id: Some(tube_name(e.0)),
                person_id: Some(person_id(e.1)),
                source: Source::Samples,
                line: Some(samples[e.2 as usize].line),
                detail: format!(
                    "the same person is already in this tube at line {}",
                    samples[first as usize].line
                ),
            });
        } else {
            entries[kept] = e;
            kept += 1;
        }
    }
    entries.truncate(kept);

    // Members, tube after tube, in the order of their first rows.
    let mut tubes: Vec<Tube> = Vec::with_capacity(keys.len());
    let mut members: Vec<Member> = entries
        .iter()
        .map(|&(_, person, sample)| Member { person, sample })
        .collect();
    let mut start = 0;
    while start < entries.len() {
        let t = entries[start].0;
        let mut end = start + 1;
        while end < entries.len() && entries[end].0 == t {
            end += 1;
        }
        let group = &mut members[start..end];
        group.sort_unstable_by_key(|m| m.sample);
        let earliest = group
            .iter()
            .min_by_key(|m| (samples[m.sample as usize].sampled_at, m.sample))
            .expect("a tube has members");
        let s = &samples[earliest.sample as usize];
        tubes.push(Tube {
            round: round_of_tube(t),
            name: keys[t as usize] as u32,
            first: start as u32,
            size: (end - start) as u32,
            class: Class::Pending,
            result: None,
            first_sampled_at: s.sampled_at,
            site: s.site,
        });
        start = end;
    }

    // Who was sampled in which round, and in how many tubes.
    let rounds = rec.set.rounds.len();
    let mut sampled = vec![vec![false; roster_len as usize]; rounds];
    entries.par_sort_unstable_by_key(|&(t, person, sample)| (round_of_tube(t), person, sample));
    let mut i = 0;
    while i < entries.len() {
        let (first_tube, person, first_sample) = entries[i];
        let round = round_of_tube(first_tube);
        let mut j = i + 1;
        while j < entries.len() && round_of_tube(entries[j].0) == round && entries[j].1 == person {
            let s = &samples[entries[j].2 as usize];
            anomalies.push(Anomaly {
                round,
                kind: AnomalyKind::DuplicateSample,
                tube_id: Some(tube_name(entries[j].0)),
                person_id: Some(person_id(person)),
                source: Source::Samples,
                line: Some(s.line),
                detail: format!(
                    "the person was also sampled into tube {} (line {}) in this round",
                    tube_name(first_tube),
                    samples[first_sample as usize].line
                ),
            });
            j += 1;
        }
        let s = &samples[first_sample as usize];
        if person < roster_len {
            sampled[round as usize][person as usize] = true;
            if roster.status[person as usize] == Status::OnLeave {
                anomalies.push(Anomaly {
                    round,
                    kind: AnomalyKind::SampledOnLeave,
                    tube_id: Some(tube_name(first_tube)),
                    person_id: Some(person_id(person)),
                    source: Source::Samples,
                    line: Some(s.line),
                    detail: format!(
                        "the roster (line {}) says the person is on leave",
                        roster.line[person as usize]
                    ),
                });
            }
        } else {
            // One finding per tube the unregistered person is in.
            for &(t, _, sample) in &entries[i..j] {
                anomalies.push(Anomaly {
                    round,
                    kind: AnomalyKind::UnregisteredPerson,
                    tube_id: Some(tube_name(t)),
                    person_id: Some(person_id(person)),
                    source: Source::Samples,
                    line: Some(samples[sample as usize].line),
                    detail: "the person is not on the roster".into(),
                });
            }
        }
        i = j;
    }
    drop(entries);
    drop(keys);
    rec.tubes = tubes;
    rec.members = members;
    rec.sampled = sampled;

    tube_anomalies(roster, &rec, settings.pool_size, &mut anomalies);
    rec.confirmed = vec![FxHashSet::default(); rec.set.rounds.len()];
    match_results(&mut rec, results, result_columns, settings, &mut anomalies);
    if let Some((retests, columns)) = retests {
        match_retests(
            &mut rec,
            roster,
            &retests,
            columns,
            settings,
            &mut anomalies,
        );
    }
    anomalies.par_sort_unstable_by(|a, b| {
        a.round
            .cmp(&b.round)
            .then_with(|| a.kind.as_str().cmp(b.kind.as_str()))
            .then_with(|| a.tube_id.cmp(&b.tube_id))
            .then_with(|| a.person_id.cmp(&b.person_id))
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.line.cmp(&b.line))
    });
    rec.anomalies = anomalies;
    rec
}

/// Overfull tubes, pools across buildings, and tube IDs reused across rounds.
fn tube_anomalies(
    roster: &Roster,
    rec: &Reconciled,
    pool_size: usize,
    anomalies: &mut Vec<Anomaly>,
) {
    let samples = &rec.set.samples;
    for tube in &rec.tubes {
        let members = rec.members_of(tube);
        let line_of = |m: &Member| samples[m.sample as usize].line;
        if members.len() > pool_size {
            anomalies.push(Anomaly {
                round: tube.round,
                kind: AnomalyKind::OverfullTube,
                tube_id: Some(rec.tube_id(tube).into()),
                person_id: None,
                source: Source::Samples,
                line: Some(line_of(&members[pool_size])),
                detail: format!(
                    "{} people in the tube; the pool size is {pool_size}",
                    members.len()
                ),
            });
        }
        if let TubeBuildings::Several(names) = rec.buildings_of(roster, tube) {
            anomalies.push(Anomaly {
                round: tube.round,
                kind: AnomalyKind::MixedBuildings,
                tube_id: Some(rec.tube_id(tube).into()),
                person_id: None,
                source: Source::Samples,
                line: Some(line_of(&members[0])),
                detail: format!(
                    "the pool holds people of {} buildings: {}",
                    names.len(),
                    names.join(", ")
                ),
            });
        }
    }
    // The same tube_id in several rounds.
    let mut by_name: Vec<u32> = (0..rec.tubes.len() as u32).collect();
    by_name
        .par_sort_unstable_by_key(|&t| (rec.tubes[t as usize].name, rec.tubes[t as usize].round));
    for pair in by_name.windows(2) {
        let (first, next) = (&rec.tubes[pair[0] as usize], &rec.tubes[pair[1] as usize]);
        if first.name == next.name {
            anomalies.push(Anomaly {
                round: next.round,
                kind: AnomalyKind::TubeReused,
                tube_id: Some(rec.tube_id(next).into()),
                person_id: None,
                source: Source::Samples,
                line: Some(samples[rec.members_of(next)[0].sample as usize].line),
                detail: format!(
                    "the tube ID was already used in round {}",
                    rec.set.rounds[first.round as usize]
                ),
            });
        }
    }
}

/// Gives each tube the class of its most severe result row.
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
    // Tubes by tube_id: `by_name[name_start[n]..name_start[n + 1]]` are the tubes of name n.
    let names = rec.set.tubes.len();
    let mut name_start = vec![0u32; names + 1];
    for t in &rec.tubes {
        name_start[t.name as usize + 1] += 1;
    }
    for n in 0..names {
        name_start[n + 1] += name_start[n];
    }
    let mut fill = name_start.clone();
    let mut by_name = vec![0u32; rec.tubes.len()];
    for (i, t) in rec.tubes.iter().enumerate() {
        by_name[fill[t.name as usize] as usize] = i as u32;
        fill[t.name as usize] += 1;
    }
    let classes: Vec<RowClass> = results
        .par_iter()
        .map(|r| classify::row_class(r, columns, settings.rules))
        .collect();
    // Per tube: the first class seen with its line, and any other distinct classes
    // (rare: only tubes whose result rows disagree), each with its first line.
    let mut first_seen: Vec<Option<(Class, u64)>> = vec![None; rec.tubes.len()];
    let mut more_seen: FxHashMap<u32, Vec<(Class, u64)>> = FxHashMap::default();
    for (i, (r, rc)) in results.iter().zip(&classes).enumerate() {
        let tubes: &[u32] = match rec.set.tubes.get(&r.tube_id) {
            Some(n) => {
                &by_name[name_start[n as usize] as usize..name_start[n as usize + 1] as usize]
            }
            None => &[],
        };
        let label = r.round.as_deref().unwrap_or(rec.set.default_round.as_str());
        let mut matched = false;
        for &t in tubes {
            let tube = rec.tubes[t as usize];
            if columns.round && *rec.set.rounds[tube.round as usize] != *label {
                continue;
            }
            matched = true;
            if rc.mismatch() {
                anomalies.push(Anomaly {
                    round: tube.round,
                    kind: AnomalyKind::LabCallMismatch,
                    tube_id: Some(r.tube_id.clone()),
                    person_id: None,
                    source: Source::Results,
                    line: Some(r.line),
                    detail: mismatch_detail(rc, "tube"),
                });
            }
            let tube = &mut rec.tubes[t as usize];
            if tube.result.is_none() || rc.class > tube.class {
                tube.class = rc.class;
                tube.result = Some(i as u32);
            }
            match first_seen[t as usize] {
                None => first_seen[t as usize] = Some((rc.class, r.line)),
                Some((c, _)) if c == rc.class => {}
                Some(_) => {
                    let more = more_seen.entry(t).or_default();
                    if !more.iter().any(|(c, _)| *c == rc.class) {
                        more.push((rc.class, r.line));
                    }
                }
            }
        }
        if !matched {
            let round = r
                .round
                .as_deref()
                .and_then(|l| round_of.get(l).copied())
                .unwrap_or(default_round);
            anomalies.push(Anomaly {
                round,
                kind: AnomalyKind::OrphanResult,
                tube_id: Some(r.tube_id.clone()),
                person_id: None,
                source: Source::Results,
                line: Some(r.line),
                detail: match (&r.round, columns.round) {
                    (Some(label), true) => {
                        format!("no tube with this ID was sampled in round {label}")
                    }
                    _ => "no tube with this ID was sampled".into(),
                },
            });
        }
    }
    let mut conflicts: Vec<(u32, Vec<(Class, u64)>)> = more_seen
        .into_iter()
        .map(|(t, more)| {
            let first = first_seen[t as usize].into_iter();
            (t, first.chain(more).collect())
        })
        .collect();
    conflicts.sort_unstable_by_key(|(t, _)| *t);
    for (t, classes) in conflicts {
        let tube = &rec.tubes[t as usize];
        anomalies.push(Anomaly {
            round: tube.round,
            kind: AnomalyKind::ConflictingResults,
            tube_id: Some(rec.tube_id(tube).into()),
            person_id: None,
            source: Source::Results,
            line: classes.iter().map(|c| c.1).min(),
            detail: format!(
                "result rows disagree: {}; the tube takes {}",
                classes
                    .iter()
                    .map(|(c, l)| format!("{} (line {l})", c.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
                tube.class.as_str()
            ),
        });
    }
    rec.results = results;
}

fn mismatch_detail(rc: &RowClass, what: &str) -> String {
    format!(
        "the Ct values say {} but the lab call is {}; the {what} takes {}",
        rc.by_ct.map_or("", Class::as_str),
        rc.by_lab.map_or("", Class::as_str),
        rc.class.as_str()
    )
}

/// Marks people whose individual retest was positive.
fn match_retests(
    rec: &mut Reconciled,
    roster: &Roster,
    retests: &[LabResult],
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
    for r in retests {
        let Some(person_id) = r.person_id.as_deref() else {
            continue;
        };
        let rounds: Vec<u32> = match (columns.round, r.round.as_deref()) {
            (true, Some(label)) => round_of.get(label).copied().into_iter().collect(),
            _ => (0..rec.set.rounds.len() as u32).collect(),
        };
        let rc = classify::row_class(r, columns, settings.rules);
        let finding = |round: u32, kind: AnomalyKind, detail: String| Anomaly {
            round,
            kind,
            tube_id: Some(r.tube_id.clone()),
            person_id: Some(person_id.into()),
            source: Source::Retests,
            line: Some(r.line),
            detail,
        };
        let Some(person) = roster.find(person_id) else {
            let round = rounds.first().copied().unwrap_or(default_round);
            anomalies.push(finding(
                round,
                AnomalyKind::UnregisteredPerson,
                "the retested person is not on the roster".into(),
            ));
            continue;
        };
        if rounds.is_empty() {
            anomalies.push(finding(
                default_round,
                AnomalyKind::OrphanResult,
                "the retest names a round that no sample has".into(),
            ));
        }
        for &round in &rounds {
            if rc.mismatch() {
                anomalies.push(finding(
                    round,
                    AnomalyKind::LabCallMismatch,
                    mismatch_detail(&rc, "retest"),
                ));
            }
            if rc.class == Class::Positive {
                rec.confirmed[round as usize].insert(person);
            }
        }
    }
}
