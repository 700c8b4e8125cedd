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
use crate::strings::Interner;
use polars::prelude::*;
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// One person across the rounds, as the outputs show it.
#[derive(Clone, Debug, Default)]
pub struct PersonHistory<'a> {
    /// The person (as the history shows it: a pseudonym where the rounds or the run
    /// say so; with `--mask`, an ID shaped like a resident ID number masked).
    pub person_id: Cow<'a, str>,
    /// Building of the latest round that lists the person.
    pub building: &'a str,
    /// Status there.
    pub status: &'a str,
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
    pub last_sampled_round: Option<&'a str>,
    /// The outcome in the latest round that lists the person.
    pub last_outcome: &'a str,
    /// Whether an entry of the person's on a retest list is neither cleared nor
    /// confirmed.
    pub open_retest: bool,
}

/// One person across the rounds while the rounds are read: small numbers only, so
/// that a city's million people fit in some tens of megabytes.
#[derive(Clone, Copy, Debug)]
struct Track {
    building: u32,
    status: u32,
    outcome: u32,
    rounds_expected: u32,
    rounds_sampled: u32,
    missed_streak: u32,
    longest_streak: u32,
    last_sampled: u32,
    last_missing: u32,
    latest: u32,
    open_retest: bool,
}

const NONE: u32 = u32::MAX;

impl Default for Track {
    fn default() -> Track {
        Track {
            building: NONE,
            status: NONE,
            outcome: NONE,
            rounds_expected: 0,
            rounds_sampled: 0,
            missed_streak: 0,
            longest_streak: 0,
            last_sampled: NONE,
            last_missing: NONE,
            latest: NONE,
            open_retest: false,
        }
    }
}

/// Every person seen: their IDs once, an index over them, and their tracks.
#[derive(Default)]
struct People {
    ids: Interner,
    tracks: Vec<Track>,
}

impl People {
    fn index(&mut self, id: &str) -> usize {
        let k = self.ids.intern(id) as usize;
        if k == self.tracks.len() {
            self.tracks.push(Track::default());
        }
        k
    }
}

/// What `poolscreen history` makes of the rounds.
pub struct Histories {
    /// Every person seen.
    people: People,
    /// Building, status and outcome names.
    names: Interner,
    /// The people in output order: by person_id.
    order: Vec<u32>,
    /// The rounds' labels, in order.
    labels: Vec<String>,
    /// The people of the latest round's roster with a streak of at least N, with
    /// their contact cells, sorted by building, room, person_id.
    pub persistent: Vec<Persistent>,
    /// Every round's building table, rounds in order.
    pub trend: DataFrame,
    /// Whether the person_ids shown are masked where they are resident ID numbers:
    /// with `--mask`, and only when they are the rounds' own IDs, never pseudonyms.
    mask_ids: bool,
}

/// A person missing round after round, with the cells of their latest missing row.
#[derive(Clone, Debug, Default)]
pub struct Persistent {
    /// The person, by the ID that joins the rounds (masked only when written).
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
            self.privacy.joined_id(id)
        } else {
            Cow::Borrowed(id)
        }
    }
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

/// Reads one column of a round's table and calls `each` with its row index and value;
/// one column at a time, so that memory holds one column of a round, not the table.
fn each_string(
    round: &Round,
    file: &str,
    name: &str,
    mut each: impl FnMut(usize, Option<&str>),
) -> Result<()> {
    let frame = round.table(file, &[name])?;
    let column = frame
        .column(name)
        .and_then(|c| c.str())
        .map_err(|e| bad_column(round, name, e))?;
    for (i, value) in column.iter().enumerate() {
        each(i, value);
    }
    Ok(())
}

fn each_bool(
    round: &Round,
    file: &str,
    name: &str,
    mut each: impl FnMut(usize, bool),
) -> Result<()> {
    let frame = round.table(file, &[name])?;
    let column = frame
        .column(name)
        .and_then(|c| c.bool())
        .map_err(|e| bad_column(round, name, e))?;
    for (i, value) in column.iter().enumerate() {
        each(i, value == Some(true));
    }
    Ok(())
}

/// The outcomes of `people.parquet`, the one that says most of the round first (a
/// person several districts of a round list takes the first of their rows'). A value
/// not here (a round published by a later version) ranks after them all.
const ROW_OUTCOMES: [&str; 5] = ["to_retest", "pending", "negative", "missing", "on_leave"];

/// The rank of `outcome` in [`ROW_OUTCOMES`]; after them all when it is not there.
fn outcome_rank(outcome: &str) -> usize {
    ROW_OUTCOMES
        .iter()
        .position(|&o| o == outcome)
        .unwrap_or(ROW_OUTCOMES.len())
}

/// The outcome a tube of class `class` gives the people swabbed into it (a tube of no
/// known class: pending): `to_retest`, `pending` or `negative`, which rank in that
/// order, as a person's entry goes under the tube whose action ranks first.
fn tube_outcome(class: Option<&str>) -> &'static str {
    match class {
        Some("negative") => "negative",
        Some("positive" | "suspect" | "invalid") => "to_retest",
        _ => "pending",
    }
}

/// Calls `each` with the person_id of every `unregistered_person` finding of district
/// `part` of `round` that its samples file made (not its retests file: a retest is no
/// sample of the round), and the outcome its tube gives: `negative`, `pending`, or
/// `to_retest` (a positive, suspect or invalid tube puts everyone in it on the list).
fn each_sampled_elsewhere(
    round: &Round,
    part: usize,
    mut each: impl FnMut(&str, &'static str),
) -> Result<()> {
    let manifest = &round.parts[part].1;
    let Some(samples) = manifest.inputs.iter().find(|i| i.role == "samples") else {
        return Ok(());
    };
    // A finding names its file as the run's report shows it: the path, and the sheet
    // of a workbook after it.
    let of_samples = |file: &str| {
        file.strip_prefix(samples.path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(" (sheet"))
    };
    let columns = ["kind", "person_id", "file", "tube_id"];
    let findings = round.part_table(part, "anomalies.parquet", &columns)?;
    let column = |frame: &'_ DataFrame, name: &str| -> Result<StringChunked> {
        frame
            .column(name)
            .and_then(|c| c.str().cloned())
            .map_err(|e| bad_column(round, name, e))
    };
    let [kinds, people, files, tube_ids] = columns.map(|name| column(&findings, name));
    let (kinds, people, files, tube_ids) = (kinds?, people?, files?, tube_ids?);
    let found: Vec<(&str, &str)> = kinds
        .iter()
        .zip(people.iter())
        .zip(files.iter().zip(tube_ids.iter()))
        .filter_map(|((kind, id), (file, tube))| match (kind, id, file, tube) {
            (Some("unregistered_person"), Some(id), Some(file), Some(tube)) if of_samples(file) => {
                Some((id, tube))
            }
            _ => None,
        })
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    let tubes = round.part_table(part, "tubes.parquet", &["tube_id", "tube_class"])?;
    let (tube_ids, classes) = (column(&tubes, "tube_id")?, column(&tubes, "tube_class")?);
    let class: FxHashMap<&str, &str> = tube_ids
        .iter()
        .zip(classes.iter())
        .filter_map(|(tube, class)| Some((tube?, class?)))
        .collect();
    for (id, tube) in found {
        each(id, tube_outcome(class.get(tube).copied()));
    }
    Ok(())
}

/// Follows every person across `rounds` (in order) and keeps the people of the latest
/// round with a missed streak of at least `streak`.
pub fn build(rounds: &[Round], ids: &Ids, streak: i64) -> Result<Histories> {
    let mut people = People::default();
    let mut names = Interner::default();
    for (r, round) in rounds.iter().enumerate() {
        let r32 = r as u32;
        // Each row's person, then the other columns one at a time.
        let mut rows: Vec<u32> = Vec::new();
        let mut masked = false;
        each_string(round, "people.parquet", "person_id", |_, id| {
            masked |= id.is_some_and(|id| id.contains('*'));
            let k = id.map_or(NONE, |id| people.index(&ids.shown(r, id)) as u32);
            rows.push(k);
        })?;
        // A person_id holds no `*` but where `--mask` masked a resident ID number:
        // people masked alike cannot be told apart.
        if masked {
            return Err(Error::Usage(format!(
                "round {:?} of the history was published with --mask and its person_ids are resident ID numbers, masked: its people cannot be told apart across rounds; publish it again with --pseudonymize instead of --mask",
                round.label
            )));
        }
        let tracks = &mut people.tracks;
        for &k in &rows {
            if k != NONE {
                tracks[k as usize].latest = r32;
            }
        }
        // Each row's building, status and outcome are its person's; a person listed by
        // several districts of a sharded round (more than one row) is settled below,
        // from the cells kept of their rows.
        let mut count: Vec<u8> = vec![0; tracks.len()];
        for &k in &rows {
            if k != NONE {
                count[k as usize] = count[k as usize].saturating_add(1);
            }
        }
        let many = |i: usize| rows[i] != NONE && count[rows[i] as usize] > 1;
        let shared: Vec<u32> = (0..rows.len() as u32)
            .filter(|&i| many(i as usize))
            .collect();
        let place = |i: usize| shared.binary_search(&(i as u32)).ok();
        // Building, status, outcome and tube class of each shared row, and its flags.
        let mut kept: Vec<([u32; 4], u8)> = vec![([0; 4], 0); shared.len()];
        for (field, column) in ["building", "status", "outcome", "tube_class"]
            .into_iter()
            .enumerate()
        {
            if field == 3 && shared.is_empty() {
                break;
            }
            each_string(round, "people.parquet", column, |i, value| {
                let k = rows[i];
                if k == NONE || (field == 3 && !many(i)) {
                    return;
                }
                let v = names.intern(value.unwrap_or(""));
                if let Some(j) = place(i) {
                    kept[j].0[field] = v;
                }
                let t = &mut tracks[k as usize];
                match field {
                    0 => t.building = v,
                    1 => t.status = v,
                    2 => t.outcome = v,
                    _ => {}
                }
            })?;
        }
        // A person's rows of one round (in two districts of a sharded round, say) are
        // one round: expected in any, sampled in any.
        const EXPECTED: u8 = 1;
        const SAMPLED: u8 = 2;
        const SEEN: u8 = 4;
        let mut flags: Vec<u8> = vec![0; tracks.len()];
        let mut seen: Vec<u32> = Vec::new();
        for &k in &rows {
            if k != NONE && flags[k as usize] & SEEN == 0 {
                flags[k as usize] |= SEEN;
                seen.push(k);
            }
        }
        for (column, flag) in [("sampled", SAMPLED), ("expected", EXPECTED)] {
            each_bool(round, "people.parquet", column, |i, v| {
                let k = rows[i];
                if v && k != NONE {
                    flags[k as usize] |= flag;
                    if let Some(j) = place(i) {
                        kept[j].1 |= flag;
                    }
                }
            })?;
        }
        // A person several districts list is one person of the round. Their outcome is
        // the round's: sampled in any district, the first in `ROW_OUTCOMES` of their
        // sampled rows' (a row on leave but swabbed gives its tube's: negative, pending,
        // or to_retest); else missing, expected in any; else on leave. Their building and
        // status are those of their row expected, then sampled, then of the outcome first
        // in `ROW_OUTCOMES`, then by text: never by the districts' order or names.
        let mut by_person: Vec<usize> = (0..shared.len()).collect();
        by_person.sort_unstable_by_key(|&j| (rows[shared[j] as usize], shared[j]));
        let person = |j: usize| rows[shared[j] as usize] as usize;
        for group in by_person.chunk_by(|&a, &b| person(a) == person(b)) {
            let k = person(group[0]);
            let row_key = |j: usize| {
                let ([building, status, outcome, _], f) = kept[j];
                (
                    f & EXPECTED == 0,
                    f & SAMPLED == 0,
                    outcome_rank(names.name(outcome)),
                    names.name(building),
                    names.name(status),
                )
            };
            let swabbed = |j: usize| -> &'static str {
                let ([_, _, outcome, class], _) = kept[j];
                match names.name(outcome) {
                    "to_retest" => "to_retest",
                    "pending" => "pending",
                    "negative" => "negative",
                    _ => tube_outcome(Some(names.name(class))),
                }
            };
            let first = *group
                .iter()
                .min_by(|&&a, &&b| row_key(a).cmp(&row_key(b)))
                .expect("chunk_by gives no empty group");
            let outcome = if flags[k] & SAMPLED != 0 {
                group
                    .iter()
                    .filter(|&&j| kept[j].1 & SAMPLED != 0)
                    .map(|&j| swabbed(j))
                    .min_by_key(|&o| outcome_rank(o))
                    .unwrap_or("pending")
            } else if flags[k] & EXPECTED != 0 {
                "missing"
            } else {
                "on_leave"
            };
            let ([building, status, _, _], _) = kept[first];
            let outcome = names.intern(outcome);
            let t = &mut tracks[k];
            (t.building, t.status, t.outcome) = (building, status, outcome);
        }
        drop(kept);
        // Someone a district samples without listing them (its unregistered_person
        // findings of the samples file) is sampled in the round when another district
        // lists them, as `scaleout/province.py` counts them.
        // Listed as missing where they are listed, their outcome is that of the tube
        // they were sampled into; of several, the one that ranks first (to_retest, then
        // pending, then negative), whatever order the districts and tubes come in.
        const ELSEWHERE: u8 = 8;
        let missing = names.intern("missing");
        for part in 0..round.parts.len() {
            each_sampled_elsewhere(round, part, |id, outcome| {
                let Some(k) = people.ids.get(&ids.shown(r, id)) else {
                    return;
                };
                let f = &mut flags[k as usize];
                if *f & SEEN == 0 {
                    return;
                }
                *f |= SAMPLED;
                let t = &mut tracks[k as usize];
                let ranks_first = *f & ELSEWHERE != 0
                    && outcome_rank(outcome) < outcome_rank(names.name(t.outcome));
                if t.outcome == missing || ranks_first {
                    t.outcome = names.intern(outcome);
                    *f |= ELSEWHERE;
                }
            })?;
        }
        seen.sort_unstable();
        for k in seen {
            let (f, t) = (flags[k as usize], &mut tracks[k as usize]);
            let sampled = f & SAMPLED != 0;
            if f & EXPECTED != 0 {
                t.rounds_expected += 1;
                if sampled {
                    t.missed_streak = 0;
                } else {
                    t.missed_streak += 1;
                    t.longest_streak = t.longest_streak.max(t.missed_streak);
                    t.last_missing = r32;
                }
            }
            if sampled {
                t.rounds_sampled += 1;
                t.last_sampled = r32;
            }
        }
        // Entries still open: the person_ids of the closure rows not closed.
        let mut open = Vec::new();
        each_string(round, "closure.parquet", "state", |_, state| {
            open.push(!matches!(state, Some("cleared" | "confirmed")));
        })?;
        each_string(round, "closure.parquet", "person_id", |i, id| {
            if let (true, Some(id)) = (open[i], id) {
                if let Some(k) = people.ids.get(&ids.shown(r, id)) {
                    people.tracks[k as usize].open_retest = true;
                }
            }
        })?;
    }
    let last = rounds.len().saturating_sub(1) as u32;
    let mut order: Vec<u32> = (0..people.tracks.len() as u32).collect();
    order.sort_by(|&a, &b| people.ids.name(a).cmp(people.ids.name(b)));
    let mut histories = Histories {
        people,
        names,
        order,
        labels: rounds.iter().map(|r| r.label.clone()).collect(),
        persistent: Vec::new(),
        trend: DataFrame::empty(),
        mask_ids: ids.privacy.mask
            && !ids.privacy.pseudonymizes()
            && ids.plain.iter().all(|&plain| plain),
    };
    // The people of the latest round's roster with the streak, by the round in which
    // they were last missing.
    let chosen: Vec<(u32, &str, PersonHistory)> = histories
        .order
        .iter()
        .filter(|&&k| {
            let t = &histories.people.tracks[k as usize];
            t.latest == last && i64::from(t.missed_streak) >= streak && t.last_missing != NONE
        })
        .map(|&k| {
            (
                histories.people.tracks[k as usize].last_missing,
                histories.people.ids.name(k),
                histories.row(k),
            )
        })
        .collect();
    let persistent = persistent(rounds, ids, &chosen)?;
    histories.persistent = persistent;
    histories.trend = trend(rounds)?;
    Ok(histories)
}

impl Histories {
    /// A person_id as the history's tables show it (see `mask_ids`).
    pub fn shown_id<'a>(&self, id: &'a str) -> Cow<'a, str> {
        if self.mask_ids {
            crate::privacy::mask_resident_id(id)
        } else {
            Cow::Borrowed(id)
        }
    }

    /// How many people were seen.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether nobody was seen.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The rows of `people_history.parquet` from place `from` on, at most `count`.
    pub fn rows(&self, from: usize, count: usize) -> Vec<PersonHistory<'_>> {
        let end = (from + count).min(self.order.len());
        self.order[from..end].iter().map(|&k| self.row(k)).collect()
    }

    fn row(&self, k: u32) -> PersonHistory<'_> {
        let t = &self.people.tracks[k as usize];
        let name = |v: u32| if v == NONE { "" } else { self.names.name(v) };
        PersonHistory {
            person_id: self.shown_id(self.people.ids.name(k)),
            building: name(t.building),
            status: name(t.status),
            rounds_expected: t.rounds_expected.into(),
            rounds_sampled: t.rounds_sampled.into(),
            missed_streak: t.missed_streak.into(),
            longest_streak: t.longest_streak.into(),
            last_sampled_round: (t.last_sampled != NONE)
                .then(|| self.labels[t.last_sampled as usize].as_str()),
            last_outcome: name(t.outcome),
            open_retest: t.open_retest,
        }
    }
}

/// The chosen people (each with their latest missing round), with the cells of the
/// missing list of that round.
fn persistent(
    rounds: &[Round],
    ids: &Ids,
    chosen: &[(u32, &str, PersonHistory)],
) -> Result<Vec<Persistent>> {
    // By the ID that joins the rounds (the one shown may be masked).
    let mut by_round: FxHashMap<u32, FxHashMap<&str, (&str, &PersonHistory)>> =
        FxHashMap::default();
    for (r, id, p) in chosen {
        by_round.entry(*r).or_default().insert(id, (id, p));
    }
    let mut list = Vec::with_capacity(chosen.len());
    let mut needed: Vec<u32> = by_round.keys().copied().collect();
    needed.sort_unstable();
    for r in needed {
        let wanted = &by_round[&r];
        let round = &rounds[r as usize];
        let names = [
            "person_id",
            "name",
            "room",
            "college",
            "class",
            "phone",
            "counselor",
            "building",
        ];
        let frame = round.table("missing.parquet", &names)?;
        let columns: Vec<&StringChunked> = names
            .iter()
            .map(|n| {
                frame
                    .column(n)
                    .and_then(|c| c.str())
                    .map_err(|e| bad_column(round, n, e))
            })
            .collect::<Result<_>>()?;
        for i in 0..frame.height() {
            let Some(pid) = columns[0].get(i) else {
                continue;
            };
            let pid = ids.shown(r as usize, pid);
            let Some(&(id, p)) = wanted.get(pid.as_ref()) else {
                continue;
            };
            let cell = |c: usize| columns[c].get(i).map(str::to_string);
            // Listed as missing by two districts of the round, a person's cells are
            // those of the district in the building history gives them.
            let elsewhere = columns[7].get(i) != Some(p.building);
            list.push((
                elsewhere,
                Persistent {
                    person_id: id.to_string(),
                    contact: [cell(1), cell(2), cell(3), cell(4), cell(5), cell(6)],
                    building: p.building.to_string(),
                    status: p.status.to_string(),
                    missed_streak: p.missed_streak,
                    longest_streak: p.longest_streak,
                    last_sampled_round: p.last_sampled_round.map(str::to_string),
                },
            ));
        }
    }
    // A person's row from their building's district first, then by room, then by the
    // other cells (two districts may name a building alike): one a person, whatever the
    // order the districts are read in.
    list.sort_by(|(a_far, a), (b_far, b)| {
        (a.person_id.as_str(), a_far)
            .cmp(&(b.person_id.as_str(), b_far))
            .then_with(|| natural_cmp_opt(a.contact[1].as_deref(), b.contact[1].as_deref()))
            .then_with(|| a.contact.cmp(&b.contact))
    });
    list.dedup_by(|a, b| a.1.person_id == b.1.person_id);
    let mut list: Vec<Persistent> = list.into_iter().map(|(_, p)| p).collect();
    list.sort_by(|a, b| {
        natural_cmp(&a.building, &b.building)
            .then_with(|| natural_cmp_opt(a.contact[1].as_deref(), b.contact[1].as_deref()))
            .then_with(|| a.person_id.cmp(&b.person_id))
    });
    Ok(list)
}

/// Every round's building table, stacked in the rounds' order, with each round's
/// place in it (`round_index`, from 1) and its district (`shard`, null for a round
/// published whole) after the label: districts' buildings are told apart, since two
/// districts may each have a 1号楼.
fn trend(rounds: &[Round]) -> Result<DataFrame> {
    let mut all: Option<DataFrame> = None;
    let parts = rounds
        .iter()
        .enumerate()
        .flat_map(|(r, round)| (0..round.parts.len()).map(move |k| (r, round, k)));
    for (r, round, k) in parts {
        let mut frame = round.part_table(k, "buildings.parquet", &BUILDING_COLUMNS)?;
        let n = frame.height();
        let index = polars::prelude::Column::new("round_index".into(), vec![r as i64 + 1; n]);
        let shard = round.parts[k].1.shard.as_deref();
        let shard = polars::prelude::Column::new("shard".into(), vec![shard; n]);
        frame
            .insert_column(1, index)
            .and_then(|f| f.insert_column(2, shard))
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
pub fn history_columns<'r>() -> Vec<ListColumn<PersonHistory<'r>>> {
    use Kind::*;
    type R<'r> = PersonHistory<'r>;
    vec![
        column("person_id", "学号/工号", 14.0, Text, |r: &R| {
            Value::Text(Some(&r.person_id))
        }),
        column("building", "楼栋", 10.0, Text, |r: &R| {
            Value::Text(Some(r.building))
        }),
        column("status", "状态", 8.0, Code, |r: &R| {
            Value::Text(Some(r.status))
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
            |r: &R| Value::Text(r.last_sampled_round),
        ),
        column("last_outcome", "最近结果", 10.0, Code, |r: &R| {
            Value::Text(Some(r.last_outcome))
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
