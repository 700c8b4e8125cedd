//! Closing the retest list (the contract's "Stage 2"; in the pipeline, stage 4b, run
//! once the retest list is made). Every person on a round's retest list gets a closure
//! state from the individual retests (复核结果):
//!
//! | state | when |
//! |---|---|
//! | open | no retest row for the person in that round yet |
//! | resampled | swabbed again, no result yet (a retest row whose call is `pending`, later than any result) |
//! | cleared | the latest retest with a result (by tested_at, then sampled_at) is negative |
//! | confirmed | a retest is positive (positive wins over any later negative) |
//! | inconclusive | the latest retest with a result is suspect or invalid: swab again |
//!
//! A retest row matches the person's entry in the round its `round` column names, or,
//! without one, in the latest round (by earliest sample) whose retest list holds the
//! person. Deadlines come from the rules (`resample_within`, `result_within`, in hours)
//! and are judged at the run's as-of time, never the wall clock. No I/O here.

use crate::classify;
use crate::ingest::roster::Roster;
use crate::reconcile::{result_order, Anomaly, AnomalyKind, Reconciled};
use crate::record::{Class, InputKind, LabResult, Micros, ResultColumns, NONE};
use crate::retest::Entry;
use crate::rules::Rules;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

/// Where a person on the retest list stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// No retest row yet.
    Open,
    /// Swabbed again; no result yet.
    Resampled,
    /// The latest retest is negative.
    Cleared,
    /// A retest is positive.
    Confirmed,
    /// The latest retest is suspect or invalid: swab again.
    Inconclusive,
}

impl State {
    /// The contract's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Resampled => "resampled",
            State::Cleared => "cleared",
            State::Confirmed => "confirmed",
            State::Inconclusive => "inconclusive",
        }
    }

    /// Whether the entry is closed: cleared or confirmed.
    pub fn is_closed(self) -> bool {
        matches!(self, State::Cleared | State::Confirmed)
    }
}

/// The closure of one retest-list entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Closure {
    /// Where the person stands.
    pub state: State,
    /// The deciding retest row (an index into the retest rows), if any.
    pub retest: Option<u32>,
    /// The deciding retest row's class.
    pub retest_class: Option<Class>,
    /// When the lab tested the pool (or single tube) that put the person on the list.
    pub pool_tested_at: Option<Micros>,
    /// When the step the entry is at is due: the swab for open and inconclusive entries,
    /// the result for resampled ones, the result's deadline for closed ones.
    pub due_at: Option<Micros>,
    /// Whether that deadline has passed at the as-of time with the step not done;
    /// `None` without the timestamps it needs. Closed entries are never overdue.
    pub overdue: Option<bool>,
    /// Hours from the pool's test to the deciding retest's test.
    pub hours_to_result: Option<f64>,
}

/// The closure of a round's retest list.
#[derive(Debug, Default)]
pub struct Closed {
    /// One closure per retest-list entry, in the list's order.
    pub closures: Vec<Closure>,
    /// For each round, the roster people whose individual retest was positive.
    pub confirmed: Vec<FxHashSet<u32>>,
    /// `retest_unlisted`, `pool_all_negative` and the retests' own findings.
    pub anomalies: Vec<Anomaly>,
}

/// An hour, in microseconds.
const HOUR: f64 = 3_600_000_000.0;

/// The retest rows with their columns, as read from the retests file.
pub struct Retests<'a> {
    /// The rows, in file order.
    pub rows: &'a [LabResult],
    /// Which columns the file has.
    pub columns: ResultColumns,
    /// Each row's roster person, or [`NONE`] when the person is not on the roster.
    pub people: &'a [u32],
}

/// Closes the retest list `list` (sorted, see [`crate::retest::sort`]) with `retests`,
/// judging deadlines at `as_of`.
pub fn close(
    roster: &Roster,
    rec: &Reconciled,
    list: &[Entry],
    retests: Option<Retests>,
    rules: &Rules,
    as_of: Micros,
) -> Closed {
    let rounds = rec.rounds().len();
    let mut closed = Closed {
        closures: Vec::with_capacity(list.len()),
        confirmed: vec![FxHashSet::default(); rounds],
        anomalies: Vec::new(),
    };
    let order = rec.round_order();
    let empty: &[LabResult] = &[];
    let (rows, columns, people) = match &retests {
        Some(r) => (r.rows, r.columns, r.people),
        None => (empty, ResultColumns::default(), &[][..]),
    };
    // Each listed person's entries, by person_id then round; only retest rows look
    // them up, and without any (the morning after a round, an outbreak's million
    // people listed) the table is not made.
    // Each entry's retest rows, likewise made only when there are retest rows.
    let mut by_person: FxHashMap<&str, Vec<(u32, usize)>> = FxHashMap::default();
    let mut rows_of: Vec<Vec<u32>> = Vec::new();
    if !rows.is_empty() {
        by_person.reserve(list.len());
        for (i, e) in list.iter().enumerate() {
            by_person
                .entry(rec.person_id(roster, e.person))
                .or_default()
                .push((e.round, i));
        }
        rows_of.resize(list.len(), Vec::new());
    }
    let classes: Vec<Class> = rows.iter().map(|r| class_of(r, columns, rules)).collect();
    let round_of: FxHashMap<&str, u32> = rec
        .rounds()
        .iter()
        .enumerate()
        .map(|(i, r)| (&**r, i as u32))
        .collect();
    let latest_round = (0..rounds as u32).max_by_key(|&r| order[r as usize]);
    for (k, r) in rows.iter().enumerate() {
        let Some(person_id) = r.person_id() else {
            continue;
        };
        let finding = |round: u32, kind: AnomalyKind, detail: String| Anomaly {
            round,
            kind,
            tube_id: Some(r.tube_id.to_text()),
            person_id: Some(person_id.into()),
            file: InputKind::Retests,
            line: Some(r.line.into()),
            detail: detail.into(),
        };
        let entries = by_person.get(person_id).map_or(&[][..], Vec::as_slice);
        let named = match (columns.round, r.round()) {
            (true, Some(label)) => match round_of.get(label) {
                Some(&round) => Some(round),
                None => {
                    closed.anomalies.push(finding(
                        latest_round.unwrap_or(0),
                        AnomalyKind::OrphanResult,
                        "the retest names a round that no sample has".into(),
                    ));
                    continue;
                }
            },
            _ => None,
        };
        let entry = match named {
            Some(round) => entries.iter().find(|(r, _)| *r == round),
            None => entries.iter().max_by_key(|(r, _)| order[*r as usize]),
        };
        let round = entry.map(|e| e.0).or(named).or(latest_round).unwrap_or(0);
        let rc = classify::row_class(r, columns, rules);
        if rc.mismatch() && r.lab_call != Some(Class::Pending) {
            closed.anomalies.push(finding(
                round,
                AnomalyKind::LabCallMismatch,
                crate::reconcile::mismatch_detail(&rc, "retest"),
            ));
        }
        let on_roster = Some(people[k]).filter(|&p| p != NONE);
        if classes[k] == Class::Positive {
            if let Some(p) = on_roster {
                closed.confirmed[round as usize].insert(p);
            }
        }
        match entry {
            Some(&(_, i)) => rows_of[i].push(k as u32),
            None => {
                if on_roster.is_none() && entries.is_empty() {
                    closed.anomalies.push(finding(
                        round,
                        AnomalyKind::UnregisteredPerson,
                        "the retested person is not on the roster".into(),
                    ));
                }
                closed.anomalies.push(finding(
                    round,
                    AnomalyKind::RetestUnlisted,
                    match named {
                        Some(_) => "the person is not on this round's retest list".into(),
                        None => "the person is on no round's retest list".into(),
                    },
                ));
            }
        }
    }
    list.par_iter()
        .enumerate()
        .map(|(i, e)| {
            let mine = rows_of.get(i).map_or(&[][..], Vec::as_slice);
            let tube = &rec.tubes[e.tube as usize];
            let pool_tested_at = tube
                .result()
                .and_then(|r| rec.results[r as usize].tested_at.get());
            closure_of(mine, rows, &classes, pool_tested_at, rules, as_of)
        })
        .collect_into_vec(&mut closed.closures);
    pools_all_negative(rec, list, &mut closed);
    closed
}

/// The class of a retest row: a `pending` call is pending whatever the Ct cells hold
/// (nothing has been measured yet).
fn class_of(row: &LabResult, columns: ResultColumns, rules: &Rules) -> Class {
    if row.lab_call == Some(Class::Pending) {
        Class::Pending
    } else {
        classify::row_class(row, columns, rules).class
    }
}

/// When a retest row happened, for "the latest": its test, then its swab; unknown times
/// come first.
fn when(row: &LabResult) -> (Micros, Micros) {
    (
        row.tested_at.get().unwrap_or(Micros::MIN),
        row.sampled_at().unwrap_or(Micros::MIN),
    )
}

/// The closure of one entry from its retest rows `mine`.
fn closure_of(
    mine: &[u32],
    rows: &[LabResult],
    classes: &[Class],
    pool_tested_at: Option<Micros>,
    rules: &Rules,
    as_of: Micros,
) -> Closure {
    let row = |k: u32| (&rows[k as usize], classes[k as usize]);
    // Ties between rows of one moment go to the more severe, then by value.
    let later = |a: u32, b: u32| {
        when(&rows[a as usize])
            .cmp(&when(&rows[b as usize]))
            .then_with(|| result_order(row(b), row(a)))
            .then_with(|| rows[b as usize].line.cmp(&rows[a as usize].line))
    };
    let first_positive = mine
        .iter()
        .copied()
        .filter(|&k| classes[k as usize] == Class::Positive)
        .max_by(|&a, &b| later(b, a));
    let latest_result = mine
        .iter()
        .copied()
        .filter(|&k| classes[k as usize] != Class::Pending)
        .max_by(|&a, &b| later(a, b));
    let latest_pending = mine
        .iter()
        .copied()
        .filter(|&k| classes[k as usize] == Class::Pending)
        .max_by(|&a, &b| {
            rows[a as usize]
                .sampled_at()
                .cmp(&rows[b as usize].sampled_at())
                .then_with(|| rows[b as usize].line.cmp(&rows[a as usize].line))
        });
    // A pending row counts when no result came after it was swabbed.
    let pending_after = |pending: u32, result: u32| {
        let (p, r) = (&rows[pending as usize], &rows[result as usize]);
        match (p.sampled_at(), r.sampled_at().or(r.tested_at.get())) {
            (Some(p), Some(r)) => p > r,
            _ => false,
        }
    };
    let (state, deciding) = match (first_positive, latest_result, latest_pending) {
        (Some(k), _, _) => (State::Confirmed, Some(k)),
        (None, Some(r), Some(p)) if pending_after(p, r) => (State::Resampled, Some(p)),
        (None, Some(r), _) if classes[r as usize] == Class::Negative => (State::Cleared, Some(r)),
        (None, Some(r), _) => (State::Inconclusive, Some(r)),
        (None, None, Some(p)) => (State::Resampled, Some(p)),
        (None, None, None) => (State::Open, None),
    };
    let hours = |h: f64| (h * HOUR) as Micros;
    let deciding_row = deciding.map(|k| &rows[k as usize]);
    let due_at = match state {
        State::Open => pool_tested_at.map(|t| t + hours(rules.resample_within)),
        State::Inconclusive => deciding_row
            .and_then(|r| r.tested_at.get())
            .map(|t| t + hours(rules.resample_within)),
        State::Resampled | State::Cleared | State::Confirmed => deciding_row
            .and_then(|r| r.sampled_at())
            .map(|t| t + hours(rules.result_within)),
    };
    let overdue = if state.is_closed() {
        Some(false)
    } else {
        due_at.map(|due| as_of > due)
    };
    let hours_to_result = match (pool_tested_at, deciding_row.and_then(|r| r.tested_at.get())) {
        (Some(pool), Some(retest)) if state != State::Resampled => {
            Some((retest - pool) as f64 / HOUR)
        }
        _ => None,
    };
    Closure {
        state,
        retest: deciding,
        retest_class: deciding.map(|k| classes[k as usize]),
        pool_tested_at,
        due_at,
        overdue,
        hours_to_result,
    }
}

/// A positive pool all of whose people were cleared by their individual retests: a
/// mix-up of tubes or a contaminated pool.
fn pools_all_negative(rec: &Reconciled, list: &[Entry], closed: &mut Closed) {
    // Without a cleared person no pool can be all cleared.
    if !closed.closures.iter().any(|c| c.state == State::Cleared) {
        return;
    }
    let state_of: FxHashMap<(u32, u32), State> = list
        .iter()
        .zip(&closed.closures)
        .map(|(e, c)| ((e.round, e.person), c.state))
        .collect();
    for tube in &rec.tubes {
        if tube.class() != Class::Positive || tube.size() < 2 {
            continue;
        }
        let all_cleared = rec
            .members_of(tube)
            .iter()
            .all(|m| state_of.get(&(tube.round, m.person)) == Some(&State::Cleared));
        if all_cleared {
            closed.anomalies.push(Anomaly {
                round: tube.round,
                kind: AnomalyKind::PoolAllNegative,
                tube_id: Some(rec.tube_id(tube).into()),
                person_id: None,
                file: InputKind::Results,
                line: tube.result().map(|r| rec.results[r as usize].line.into()),
                detail: format!(
                    "all {} people of the positive pool were cleared by their individual retests: a mix-up of tubes or a contaminated pool",
                    tube.size()
                ).into(),
            });
        }
    }
}
