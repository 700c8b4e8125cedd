//! Following every person across the published rounds: `people_history.parquet`,
//! `persistent_missing.parquet` and `.xlsx` (应检未检: people missing round after
//! round), and `trend.parquet` (every building's figures, round after round).
//!
//! The rounds are read one at a time, only the columns needed, so memory stays near
//! one round's people table.

use super::read::Round;
use crate::error::{Error, Result};
use crate::export::columns::{column, Column as ListColumn, Kind, Value};
use crate::order::{natural_cmp, natural_cmp_opt};
use crate::privacy::Privacy;
use polars::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// One person across the rounds.
#[derive(Clone, Debug, Default)]
pub struct PersonHistory {
    /// The person (as the history shows it: a pseudonym where the rounds or the run
    /// say so).
    pub person_id: String,
    /// Building of the latest round that lists the person.
    pub building: String,
    /// Status there.
    pub status: String,
    /// Rounds in which the person was expected.
    pub rounds_expected: i64,
    /// Rounds in which the person was sampled.
    pub rounds_sampled: i64,
    /// Consecutive latest rounds expected and missing; a round where the person is
    /// not expected (off the roster or on leave) neither breaks nor extends it.
    pub missed_streak: i64,
    /// The longest such run.
    pub longest_streak: i64,
    /// The latest round in which the person was sampled.
    pub last_sampled_round: Option<String>,
    /// The outcome in the latest round that lists the person.
    pub last_outcome: String,
    /// Whether an entry of the person's on a retest list is neither cleared nor
    /// confirmed.
    pub open_retest: bool,
    /// Whether the latest round lists the person.
    pub in_latest: bool,
    /// The index of the latest round in which the person was missing.
    pub last_missing: Option<usize>,
}

/// What `poolscreen history` makes of the rounds.
pub struct Histories {
    /// Every person seen, sorted by person_id.
    pub people: Vec<PersonHistory>,
    /// The people of the latest round's roster with a streak of at least N, with
    /// their contact cells, sorted by building, room, person_id.
    pub persistent: Vec<Persistent>,
    /// Every round's building table, rounds in order.
    pub trend: DataFrame,
}

/// A person missing round after round, with the cells of their latest missing row.
#[derive(Clone, Debug, Default)]
pub struct Persistent {
    /// The person.
    pub person_id: String,
    /// Name, room, college, class, phone, counselor, from the missing list.
    pub contact: [Option<String>; 6],
    /// Building.
    pub building: String,
    /// Status in the latest round.
    pub status: String,
    /// The streak.
    pub missed_streak: i64,
    /// The longest streak.
    pub longest_streak: i64,
    /// The latest round sampled.
    pub last_sampled_round: Option<String>,
}

impl Persistent {
    /// The person's building, for the workbook's sheet per building.
    pub fn building_of(&self) -> Option<&str> {
        Some(&self.building)
    }
}

/// How a history turns the rounds' person_ids into the ones it shows.
pub struct Ids<'a> {
    /// The protections asked of `history`.
    pub privacy: &'a Privacy,
    /// For each round, whether its person_ids are still plain (to be pseudonymised
    /// when the history pseudonymises).
    pub plain: Vec<bool>,
}

impl Ids<'_> {
    fn shown<'a>(&self, round: usize, id: &'a str) -> Cow<'a, str> {
        if self.plain[round] {
            self.privacy.person_id(id)
        } else {
            Cow::Borrowed(id)
        }
    }
}

fn strings<'a>(frame: &'a DataFrame, name: &str, round: &Round) -> Result<&'a StringChunked> {
    frame
        .column(name)
        .and_then(|c| c.str())
        .map_err(|e| bad_column(round, name, e))
}

fn bools<'a>(frame: &'a DataFrame, name: &str, round: &Round) -> Result<&'a BooleanChunked> {
    frame
        .column(name)
        .and_then(|c| c.bool())
        .map_err(|e| bad_column(round, name, e))
}

fn bad_column(round: &Round, name: &str, e: PolarsError) -> Error {
    Error::input(
        &round.label,
        crate::error::Position::default(),
        format!(
            "round {:?} of the history has no usable column {name} ({e}); publish it again",
            round.label
        ),
    )
}

/// Follows every person across `rounds` (in order) and keeps the people of the latest
/// round with a missed streak of at least `streak`.
pub fn build(rounds: &[Round], ids: &Ids, streak: i64) -> Result<Histories> {
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut people: Vec<PersonHistory> = Vec::new();
    let last = rounds.len().saturating_sub(1);
    for (r, round) in rounds.iter().enumerate() {
        let frame = round.table(
            "people.parquet",
            &[
                "person_id",
                "building",
                "status",
                "expected",
                "sampled",
                "outcome",
            ],
        )?;
        let (id, building, status) = (
            strings(&frame, "person_id", round)?,
            strings(&frame, "building", round)?,
            strings(&frame, "status", round)?,
        );
        let (expected, sampled, outcome) = (
            bools(&frame, "expected", round)?,
            bools(&frame, "sampled", round)?,
            strings(&frame, "outcome", round)?,
        );
        for i in 0..frame.height() {
            let Some(pid) = id.get(i) else { continue };
            let pid = ids.shown(r, pid);
            let k = match index.get(pid.as_ref()) {
                Some(&k) => k,
                None => {
                    index.insert(pid.to_string(), people.len());
                    people.push(PersonHistory {
                        person_id: pid.to_string(),
                        ..PersonHistory::default()
                    });
                    people.len() - 1
                }
            };
            let p = &mut people[k];
            p.building = building.get(i).unwrap_or_default().to_string();
            p.status = status.get(i).unwrap_or_default().to_string();
            p.last_outcome = outcome.get(i).unwrap_or_default().to_string();
            p.in_latest = r == last;
            if expected.get(i) == Some(true) {
                p.rounds_expected += 1;
                if sampled.get(i) == Some(true) {
                    p.missed_streak = 0;
                } else {
                    p.missed_streak += 1;
                    p.longest_streak = p.longest_streak.max(p.missed_streak);
                    p.last_missing = Some(r);
                }
            }
            if sampled.get(i) == Some(true) {
                p.rounds_sampled += 1;
                p.last_sampled_round = Some(round.label.clone());
            }
        }
        let closure = round.table("closure.parquet", &["person_id", "state"])?;
        let (id, state) = (
            strings(&closure, "person_id", round)?,
            strings(&closure, "state", round)?,
        );
        for i in 0..closure.height() {
            let (Some(pid), Some(state)) = (id.get(i), state.get(i)) else {
                continue;
            };
            if !matches!(state, "cleared" | "confirmed") {
                if let Some(&k) = index.get(ids.shown(r, pid).as_ref()) {
                    people[k].open_retest = true;
                }
            }
        }
    }
    people.sort_by(|a, b| a.person_id.cmp(&b.person_id));
    let persistent = persistent(rounds, ids, &people, streak)?;
    let trend = trend(rounds)?;
    Ok(Histories {
        people,
        persistent,
        trend,
    })
}

/// The people of the latest round with a streak of at least `streak`, with the cells
/// of the missing list of the latest round in which they were missing.
fn persistent(
    rounds: &[Round],
    ids: &Ids,
    people: &[PersonHistory],
    streak: i64,
) -> Result<Vec<Persistent>> {
    let chosen: Vec<&PersonHistory> = people
        .iter()
        .filter(|p| p.in_latest && p.missed_streak >= streak)
        .collect();
    let mut by_round: FxHashMap<usize, FxHashMap<&str, &PersonHistory>> = FxHashMap::default();
    for p in &chosen {
        if let Some(r) = p.last_missing {
            by_round.entry(r).or_default().insert(&p.person_id, p);
        }
    }
    let mut list = Vec::with_capacity(chosen.len());
    let mut rounds_needed: Vec<usize> = by_round.keys().copied().collect();
    rounds_needed.sort_unstable();
    for r in rounds_needed {
        let wanted = &by_round[&r];
        let round = &rounds[r];
        let names = [
            "person_id",
            "name",
            "room",
            "college",
            "class",
            "phone",
            "counselor",
        ];
        let frame = round.table("missing.parquet", &names)?;
        let columns: Vec<&StringChunked> = names
            .iter()
            .map(|n| strings(&frame, n, round))
            .collect::<Result<_>>()?;
        for i in 0..frame.height() {
            let Some(pid) = columns[0].get(i) else {
                continue;
            };
            let pid = ids.shown(r, pid);
            let Some(p) = wanted.get(pid.as_ref()) else {
                continue;
            };
            let cell = |c: usize| columns[c].get(i).map(str::to_string);
            list.push(Persistent {
                person_id: p.person_id.clone(),
                contact: [cell(1), cell(2), cell(3), cell(4), cell(5), cell(6)],
                building: p.building.clone(),
                status: p.status.clone(),
                missed_streak: p.missed_streak,
                longest_streak: p.longest_streak,
                last_sampled_round: p.last_sampled_round.clone(),
            });
        }
    }
    list.sort_by(|a, b| {
        natural_cmp(&a.building, &b.building)
            .then_with(|| natural_cmp_opt(a.contact[1].as_deref(), b.contact[1].as_deref()))
            .then_with(|| a.person_id.cmp(&b.person_id))
    });
    list.dedup_by(|a, b| a.person_id == b.person_id);
    Ok(list)
}

/// Every round's building table, stacked in the rounds' order, with each round's
/// place in it (`round_index`, from 1) after the label.
fn trend(rounds: &[Round]) -> Result<DataFrame> {
    let mut all: Option<DataFrame> = None;
    for (r, round) in rounds.iter().enumerate() {
        let mut frame = round.table("buildings.parquet", &BUILDING_COLUMNS)?;
        let index =
            polars::prelude::Column::new("round_index".into(), vec![r as i64 + 1; frame.height()]);
        frame
            .insert_column(1, index)
            .map_err(|e| bad_column(round, "round_index", e))?;
        all = Some(match all {
            None => frame,
            Some(mut stacked) => {
                stacked
                    .vstack_mut(&frame)
                    .map_err(|e| bad_column(round, "buildings", e))?;
                stacked
            }
        });
    }
    match all {
        Some(frame) => Ok(frame),
        None => Err(Error::Usage(
            "the history holds no round; publish rounds with `poolscreen run … --history DIR`"
                .into(),
        )),
    }
}

/// The columns of `buildings.parquet` that `trend.parquet` carries, in order.
pub const BUILDING_COLUMNS: [&str; 19] = [
    "round",
    "building",
    "expected",
    "on_leave",
    "sampled",
    "missing",
    "coverage",
    "tubes",
    "positive_tubes",
    "suspect_tubes",
    "invalid_tubes",
    "pending_tubes",
    "negative_tubes",
    "to_retest",
    "confirmed_positive",
    "cleared",
    "open_retests",
    "overdue_retests",
    "median_turnaround_hours",
];

/// The columns of `people_history.parquet`.
pub fn history_columns() -> Vec<ListColumn<PersonHistory>> {
    use Kind::*;
    type R = PersonHistory;
    vec![
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(&r.person_id))
        }),
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(Some(&r.building))
        }),
        column("status", "状态", 8.0, Code, |r: &R| {
            Value::Text(Some(&r.status))
        }),
        column("rounds_expected", "应检轮数", 8.0, Int, |r: &R| {
            Value::Int(Some(r.rounds_expected))
        }),
        column("rounds_sampled", "已采轮数", 8.0, Int, |r: &R| {
            Value::Int(Some(r.rounds_sampled))
        }),
        column("missed_streak", "连续漏采", 8.0, Int, |r: &R| {
            Value::Int(Some(r.missed_streak))
        }),
        column("longest_streak", "最长连续漏采", 8.0, Int, |r: &R| {
            Value::Int(Some(r.longest_streak))
        }),
        column(
            "last_sampled_round",
            "最近采样轮次",
            12.0,
            Text,
            |r: &R| Value::Text(r.last_sampled_round.as_deref()),
        ),
        column("last_outcome", "最近结果", 10.0, Code, |r: &R| {
            Value::Text(Some(&r.last_outcome))
        }),
        column("open_retest", "复核未闭环", 8.0, Bool, |r: &R| {
            Value::Bool(Some(r.open_retest))
        }),
    ]
}

/// The columns of `persistent_missing.parquet` and `.xlsx`.
pub fn persistent_columns() -> Vec<ListColumn<Persistent>> {
    use Kind::*;
    type R = Persistent;
    vec![
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(&r.person_id))
        }),
        column("name", "姓名", 10.0, Text, |r: &R| {
            Value::Text(r.contact[0].as_deref())
        }),
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(Some(&r.building))
        }),
        column("room", "宿舍号", 8.0, Text, |r: &R| {
            Value::Text(r.contact[1].as_deref())
        }),
        column("college", "学院", 16.0, Text, |r: &R| {
            Value::Text(r.contact[2].as_deref())
        }),
        column("class", "班级", 12.0, Text, |r: &R| {
            Value::Text(r.contact[3].as_deref())
        }),
        column("phone", "手机号", 14.0, Text, |r: &R| {
            Value::Text(r.contact[4].as_deref())
        }),
        column("counselor", "辅导员", 10.0, Text, |r: &R| {
            Value::Text(r.contact[5].as_deref())
        }),
        column("status", "状态", 8.0, Code, |r: &R| {
            Value::Text(Some(&r.status))
        }),
        column("missed_streak", "连续漏采轮数", 10.0, Int, |r: &R| {
            Value::Int(Some(r.missed_streak))
        }),
        column(
            "longest_streak",
            "最长连续漏采",
            10.0,
            Int,
            |r: &R| Value::Int(Some(r.longest_streak)),
        ),
        column(
            "last_sampled_round",
            "最近采样轮次",
            12.0,
            Text,
            |r: &R| Value::Text(r.last_sampled_round.as_deref()),
        ),
    ]
}
