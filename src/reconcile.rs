//! Stage 2: matching tubes to people and results to tubes, and finding anomalies.
//!
//! Samples are grouped into tubes per round; a tube's members are the distinct people
//! swabbed into it. Results join tubes by (round, tube_id) when the results file has a
//! round column, otherwise by tube_id. Every finding that does not stop the run is an
//! [`Anomaly`]. No I/O here.

use crate::classify::{self, RowClass};
use crate::order::natural_cmp;
use crate::record::{Class, LabResult, Micros, ResultColumns, Roster, Sample, Status};
use crate::rules::Rules;
use rayon::slice::ParallelSliceMut;
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
    /// A person key: below the roster's length, an index into the roster; above, an
    /// unregistered person (see [`Reconciled::person_id`]).
    pub person: u32,
    /// Index into [`Reconciled::samples`] of the person's first row in this tube.
    pub sample: u32,
}

/// A tube of one round, with its people and its class.
#[derive(Clone, Debug, PartialEq)]
pub struct Tube {
    /// Index into [`Reconciled::rounds`].
    pub round: u32,
    /// The tube barcode.
    pub tube_id: Box<str>,
    /// The distinct people sampled into the tube, in the order of their first rows.
    pub members: Vec<Member>,
    /// The class: the most severe of its result rows, or pending without any.
    pub class: Class,
    /// The result row that gave the class (the first of them), if any.
    pub result: Option<u32>,
    /// The earliest sample time of the tube.
    pub first_sampled_at: Micros,
    /// The site of that earliest sample.
    pub site: Option<Box<str>>,
}

/// Everything matched up, ready for the retest list and the summaries.
#[derive(Debug, Default)]
pub struct Reconciled {
    /// Round labels, in natural order.
    pub rounds: Vec<Box<str>>,
    /// Accepted sample rows, in file order.
    pub samples: Vec<Sample>,
    /// Accepted result rows, in file order.
    pub results: Vec<LabResult>,
    /// Tubes, sorted by round then tube_id.
    pub tubes: Vec<Tube>,
    /// IDs of people sampled but not on the roster; person key `roster_len + i`.
    pub unregistered: Vec<Box<str>>,
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
    /// The person_id of a person key.
    pub fn person_id<'a>(&'a self, roster: &'a Roster, key: u32) -> &'a str {
        if key < self.roster_len {
            &roster.people[key as usize].id
        } else {
            &self.unregistered[(key - self.roster_len) as usize]
        }
    }
}

/// What reconciliation needs besides the records.
pub struct Settings<'a> {
    /// The round label for rows without one.
    pub default_round: &'a str,
    /// The most people a tube may hold.
    pub pool_size: usize,
    /// The interpretation rules.
    pub rules: &'a Rules,
}

/// Matches samples to people and tubes, results to tubes, and retests to people.
pub fn reconcile(
    roster: &Roster,
    samples: Vec<Sample>,
    results: Vec<LabResult>,
    result_columns: ResultColumns,
    retests: Option<(Vec<LabResult>, ResultColumns)>,
    settings: &Settings,
) -> Reconciled {
    let roster_len = roster.people.len() as u32;
    let person_index: FxHashMap<&str, u32> = roster
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| (&*p.id, i as u32))
        .collect();
    let mut rec = Reconciled {
        roster_len,
        ..Reconciled::default()
    };
    rec.rounds = round_labels(&samples, settings.default_round);
    let round_of: FxHashMap<&str, u32> = rec
        .rounds
        .iter()
        .enumerate()
        .map(|(i, r)| (&**r, i as u32))
        .collect();
    let label = |r: &Option<Box<str>>| -> Box<str> {
        r.clone().unwrap_or_else(|| settings.default_round.into())
    };

    // Person keys for every sample row; unregistered people are interned after the roster.
    let mut unregistered_index: FxHashMap<Box<str>, u32> = FxHashMap::default();
    let mut entries: Vec<(u32, u32, u32)> = Vec::with_capacity(samples.len());
    let mut tube_index: FxHashMap<(u32, Box<str>), u32> = FxHashMap::default();
    let mut tube_keys: Vec<(u32, Box<str>)> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let person = match person_index.get(&*s.person_id) {
            Some(&p) => p,
            None => {
                let next = roster_len + rec.unregistered.len() as u32;
                *unregistered_index
                    .entry(s.person_id.clone())
                    .or_insert_with(|| {
                        rec.unregistered.push(s.person_id.clone());
                        next
                    })
            }
        };
        let round = round_of[&*label(&s.round)];
        let key = (round, s.tube_id.clone());
        let tube = match tube_index.get(&key) {
            Some(&t) => t,
            None => {
                let t = tube_keys.len() as u32;
                tube_index.insert(key.clone(), t);
                tube_keys.push(key);
                t
            }
        };
        entries.push((tube, person, i as u32));
    }
    drop(tube_index);

    // Tubes in output order: by round, then tube_id.
    let mut order: Vec<u32> = (0..tube_keys.len() as u32).collect();
    order.par_sort_unstable_by(|&a, &b| {
        let (ra, ta) = &tube_keys[a as usize];
        let (rb, tb) = &tube_keys[b as usize];
        ra.cmp(rb).then_with(|| ta.cmp(tb))
    });
    let mut rank = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    for e in &mut entries {
        e.0 = rank[e.0 as usize];
    }
    rec.tubes = order
        .iter()
        .map(|&old| {
            let (round, tube_id) = &tube_keys[old as usize];
            Tube {
                round: *round,
                tube_id: tube_id.clone(),
                members: Vec::new(),
                class: Class::Pending,
                result: None,
                first_sampled_at: Micros::MAX,
                site: None,
            }
        })
        .collect();
    drop(tube_keys);

    // Distinct people per tube; repeats are duplicate rows.
    entries.par_sort_unstable();
    let mut anomalies = Vec::new();
    let mut distinct: Vec<(u32, u32, u32)> = Vec::with_capacity(entries.len());
    for e in entries {
        match distinct.last() {
            Some(&(t, p, first)) if t == e.0 && p == e.1 => {
                let s = &samples[e.2 as usize];
                anomalies.push(Anomaly {
                    round: rec.tubes[t as usize].round,
                    kind: AnomalyKind::DuplicateRow,
                    tube_id: Some(s.tube_id.clone()),
                    person_id: Some(s.person_id.clone()),
                    source: Source::Samples,
                    line: Some(s.line),
                    detail: format!(
                        "the same person is already in this tube at line {}",
                        samples[first as usize].line
                    ),
                });
            }
            _ => distinct.push(e),
        }
    }

    // Members in the order of their first rows, and the tube's earliest sample.
    for &(t, person, sample) in &distinct {
        rec.tubes[t as usize]
            .members
            .push(Member { person, sample });
    }
    for tube in &mut rec.tubes {
        tube.members.sort_unstable_by_key(|m| m.sample);
        let first = tube
            .members
            .iter()
            .min_by_key(|m| (samples[m.sample as usize].sampled_at, m.sample))
            .expect("a tube has at least one member");
        let s = &samples[first.sample as usize];
        tube.first_sampled_at = s.sampled_at;
        tube.site = s.site.clone();
    }

    // Who was sampled, in which round, and in how many tubes.
    rec.sampled = vec![vec![false; roster_len as usize]; rec.rounds.len()];
    let mut by_person: Vec<(u32, u32, u32, u32)> = distinct
        .iter()
        .map(|&(t, p, s)| (rec.tubes[t as usize].round, p, s, t))
        .collect();
    by_person.par_sort_unstable();
    let mut i = 0;
    while i < by_person.len() {
        let (round, person, first_sample, first_tube) = by_person[i];
        let mut j = i + 1;
        while j < by_person.len() && by_person[j].0 == round && by_person[j].1 == person {
            let s = &samples[by_person[j].2 as usize];
            anomalies.push(Anomaly {
                round,
                kind: AnomalyKind::DuplicateSample,
                tube_id: Some(s.tube_id.clone()),
                person_id: Some(s.person_id.clone()),
                source: Source::Samples,
                line: Some(s.line),
                detail: format!(
                    "the person was also sampled into tube {} (line {}) in this round",
                    rec.tubes[first_tube as usize].tube_id, samples[first_sample as usize].line
                ),
            });
            j += 1;
        }
        let s = &samples[first_sample as usize];
        if person < roster_len {
            rec.sampled[round as usize][person as usize] = true;
            if roster.people[person as usize].status == Status::OnLeave {
                anomalies.push(Anomaly {
                    round,
                    kind: AnomalyKind::SampledOnLeave,
                    tube_id: Some(s.tube_id.clone()),
                    person_id: Some(s.person_id.clone()),
                    source: Source::Samples,
                    line: Some(s.line),
                    detail: format!(
                        "the roster (line {}) says the person is on leave",
                        roster.people[person as usize].line
                    ),
                });
            }
        }
        i = j;
    }
    for &(t, p, s) in &distinct {
        if p >= roster_len {
            let s = &samples[s as usize];
            anomalies.push(Anomaly {
                round: rec.tubes[t as usize].round,
                kind: AnomalyKind::UnregisteredPerson,
                tube_id: Some(s.tube_id.clone()),
                person_id: Some(s.person_id.clone()),
                source: Source::Samples,
                line: Some(s.line),
                detail: "the person is not on the roster".into(),
            });
        }
    }
    drop(distinct);

    tube_anomalies(roster, &rec, &samples, settings.pool_size, &mut anomalies);
    rec.confirmed = vec![FxHashSet::default(); rec.rounds.len()];
    rec.samples = samples;
    match_results(&mut rec, results, result_columns, settings, &mut anomalies);
    if let Some((retests, columns)) = retests {
        match_retests(
            &mut rec,
            &person_index,
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

/// The rounds of a run: every label in the samples (rows without one take the
/// default), in natural order; just the default when there are no samples.
fn round_labels(samples: &[Sample], default_round: &str) -> Vec<Box<str>> {
    let mut seen: FxHashSet<&str> = FxHashSet::default();
    for s in samples {
        seen.insert(s.round.as_deref().unwrap_or(default_round));
    }
    if seen.is_empty() {
        seen.insert(default_round);
    }
    let mut rounds: Vec<Box<str>> = seen.into_iter().map(Box::from).collect();
    rounds.sort_by(|a, b| natural_cmp(a, b));
    rounds
}

/// Overfull tubes, pools across buildings, and tube IDs reused across rounds.
fn tube_anomalies(
    roster: &Roster,
    rec: &Reconciled,
    samples: &[Sample],
    pool_size: usize,
    anomalies: &mut Vec<Anomaly>,
) {
    let roster_len = rec.roster_len;
    for tube in &rec.tubes {
        let line_of = |m: &Member| samples[m.sample as usize].line;
        if tube.members.len() > pool_size {
            anomalies.push(Anomaly {
                round: tube.round,
                kind: AnomalyKind::OverfullTube,
                tube_id: Some(tube.tube_id.clone()),
                person_id: None,
                source: Source::Samples,
                line: Some(line_of(&tube.members[pool_size])),
                detail: format!(
                    "{} people in the tube; the pool size is {pool_size}",
                    tube.members.len()
                ),
            });
        }
        if tube.members.len() >= 2 {
            let mut buildings: Vec<u32> = tube
                .members
                .iter()
                .filter(|m| m.person < roster_len)
                .map(|m| roster.people[m.person as usize].building)
                .collect();
            buildings.sort_unstable();
            buildings.dedup();
            if buildings.len() > 1 {
                let mut names: Vec<&str> = buildings
                    .iter()
                    .map(|&b| &*roster.buildings[b as usize])
                    .collect();
                names.sort_by(|a, b| natural_cmp(a, b));
                anomalies.push(Anomaly {
                    round: tube.round,
                    kind: AnomalyKind::MixedBuildings,
                    tube_id: Some(tube.tube_id.clone()),
                    person_id: None,
                    source: Source::Samples,
                    line: Some(line_of(&tube.members[0])),
                    detail: format!(
                        "the pool holds people of {} buildings: {}",
                        names.len(),
                        names.join(", ")
                    ),
                });
            }
        }
    }
    // Tubes are sorted by round first; group the same tube_id across rounds.
    let mut by_id: Vec<u32> = (0..rec.tubes.len() as u32).collect();
    by_id.par_sort_unstable_by(|&a, &b| {
        let (x, y) = (&rec.tubes[a as usize], &rec.tubes[b as usize]);
        x.tube_id.cmp(&y.tube_id).then(x.round.cmp(&y.round))
    });
    for pair in by_id.windows(2) {
        let (first, next) = (&rec.tubes[pair[0] as usize], &rec.tubes[pair[1] as usize]);
        if first.tube_id == next.tube_id {
            anomalies.push(Anomaly {
                round: next.round,
                kind: AnomalyKind::TubeReused,
                tube_id: Some(next.tube_id.clone()),
                person_id: None,
                source: Source::Samples,
                line: Some(samples[next.members[0].sample as usize].line),
                detail: format!(
                    "the tube ID was already used in round {}",
                    rec.rounds[first.round as usize]
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
        .rounds
        .iter()
        .enumerate()
        .map(|(i, r)| (&**r, i as u32))
        .collect();
    let mut tubes_of: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
    for (i, t) in rec.tubes.iter().enumerate() {
        tubes_of.entry(&t.tube_id).or_default().push(i as u32);
    }
    let default_round = *round_of.get(settings.default_round).unwrap_or(&0);
    // Per tube: the distinct classes seen, with the first line of each.
    let mut seen: FxHashMap<u32, Vec<(Class, u64)>> = FxHashMap::default();
    let mut updates: Vec<(u32, Class, u32)> = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let rc: RowClass = classify::row_class(r, columns, settings.rules);
        let candidates: Vec<u32> = match (&tubes_of.get(&*r.tube_id), columns.round) {
            (Some(ts), true) => {
                let label = r.round.as_deref().unwrap_or(settings.default_round);
                ts.iter()
                    .copied()
                    .filter(|&t| *rec.rounds[rec.tubes[t as usize].round as usize] == *label)
                    .collect()
            }
            (Some(ts), false) => ts.to_vec(),
            (None, _) => Vec::new(),
        };
        if candidates.is_empty() {
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
            continue;
        }
        for t in candidates {
            if rc.mismatch() {
                anomalies.push(Anomaly {
                    round: rec.tubes[t as usize].round,
                    kind: AnomalyKind::LabCallMismatch,
                    tube_id: Some(r.tube_id.clone()),
                    person_id: None,
                    source: Source::Results,
                    line: Some(r.line),
                    detail: format!(
                        "the Ct values say {} but the lab call is {}; the tube takes {}",
                        rc.by_ct.map_or("", Class::as_str),
                        rc.by_lab.map_or("", Class::as_str),
                        rc.class.as_str()
                    ),
                });
            }
            let classes = seen.entry(t).or_default();
            if !classes.iter().any(|(c, _)| *c == rc.class) {
                classes.push((rc.class, r.line));
            }
            updates.push((t, rc.class, i as u32));
        }
    }
    for (t, class, i) in updates {
        let tube = &mut rec.tubes[t as usize];
        if tube.result.is_none() || class > tube.class {
            tube.class = class;
            tube.result = Some(i);
        }
    }
    let mut conflicts: Vec<(u32, Vec<(Class, u64)>)> =
        seen.into_iter().filter(|(_, c)| c.len() > 1).collect();
    conflicts.sort_unstable_by_key(|(t, _)| *t);
    for (t, classes) in conflicts {
        let tube = &rec.tubes[t as usize];
        anomalies.push(Anomaly {
            round: tube.round,
            kind: AnomalyKind::ConflictingResults,
            tube_id: Some(tube.tube_id.clone()),
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

/// Marks people whose individual retest was positive.
fn match_retests(
    rec: &mut Reconciled,
    person_index: &FxHashMap<&str, u32>,
    retests: &[LabResult],
    columns: ResultColumns,
    settings: &Settings,
    anomalies: &mut Vec<Anomaly>,
) {
    let round_of: FxHashMap<&str, u32> = rec
        .rounds
        .iter()
        .enumerate()
        .map(|(i, r)| (&**r, i as u32))
        .collect();
    let default_round = *round_of.get(settings.default_round).unwrap_or(&0);
    for r in retests {
        let Some(person_id) = r.person_id.as_deref() else {
            continue;
        };
        let rounds: Vec<u32> = match (columns.round, r.round.as_deref()) {
            (true, Some(label)) => round_of.get(label).copied().into_iter().collect(),
            _ => (0..rec.rounds.len() as u32).collect(),
        };
        let rc = classify::row_class(r, columns, settings.rules);
        let Some(&person) = person_index.get(person_id) else {
            anomalies.push(Anomaly {
                round: rounds.first().copied().unwrap_or(default_round),
                kind: AnomalyKind::UnregisteredPerson,
                tube_id: Some(r.tube_id.clone()),
                person_id: Some(person_id.into()),
                source: Source::Retests,
                line: Some(r.line),
                detail: "the retested person is not on the roster".into(),
            });
            continue;
        };
        if rounds.is_empty() {
            anomalies.push(Anomaly {
                round: default_round,
                kind: AnomalyKind::OrphanResult,
                tube_id: Some(r.tube_id.clone()),
                person_id: Some(person_id.into()),
                source: Source::Retests,
                line: Some(r.line),
                detail: "the retest names a round that no sample has".into(),
            });
        }
        for &round in &rounds {
            if rc.mismatch() {
                anomalies.push(Anomaly {
                    round,
                    kind: AnomalyKind::LabCallMismatch,
                    tube_id: Some(r.tube_id.clone()),
                    person_id: Some(person_id.into()),
                    source: Source::Retests,
                    line: Some(r.line),
                    detail: format!(
                        "the Ct values say {} but the lab call is {}; the retest takes {}",
                        rc.by_ct.map_or("", Class::as_str),
                        rc.by_lab.map_or("", Class::as_str),
                        rc.class.as_str()
                    ),
                });
            }
            if rc.class == Class::Positive {
                rec.confirmed[round as usize].insert(person);
            }
        }
    }
}
