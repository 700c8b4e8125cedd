//! Stage 6: writing the outputs, the only stage that writes files.
//!
//! - [`staging`]: outputs appear whole or not at all;
//! - [`rows`]: the lists' rows with the protections of personal data applied, and one
//!   column table per list ([`columns`]) that the Parquet ([`parquet`]), CSV
//!   ([`csv`]) and workbook ([`workbook`]) writers all walk;
//! - [`tables`]: the per-building, per-tube and anomaly tables;
//! - [`manifest`]: what a run read and wrote.
//!
//! [`write_round`] is the list of output files of a round: each one a task, written side
//! by side, with its row count for the manifest.

pub mod archive;
pub mod columns;
pub mod csv;
pub mod manifest;
pub mod parquet;
pub mod people;
pub mod plan_file;
pub mod rows;
pub mod staging;
pub mod tables;
pub mod workbook;

use crate::closure::{Closed, State};
use crate::error::{Error, Result};
use crate::history::publish::Publication;
use crate::ingest::roster::Roster;
use crate::ingest::{InputReport, Reject};
use crate::privacy::Privacy;
use crate::reconcile::Reconciled;
use crate::record::{Contacts, InputKind, LabResult};
use crate::retest::Entry;
use crate::summarize::{BuildingRow, MissingEntry};
use manifest::OutputEntry;
use parquet::ArrayRef;
use polars::prelude::DataFrame;
use rayon::prelude::*;
use rows::EntryRow;
use rustc_hash::FxHashMap;
use staging::Staging;
use std::io::Write;

/// The output files of a round, in the order the manifest lists them; `manifest.json`
/// last, as it is switched in last.
pub const OUTPUT_FILES: [&str; 13] = [
    "buildings.parquet",
    "retest.parquet",
    "retest.csv",
    "retest.xlsx",
    "missing.parquet",
    "missing.xlsx",
    "tubes.parquet",
    "anomalies.parquet",
    "people.parquet",
    "closure.parquet",
    "rejects.csv",
    "report.html",
    "manifest.json",
];

/// Everything the outputs of a round are made of.
pub struct RoundOutputs<'a> {
    /// The roster.
    pub roster: &'a Roster,
    /// Tubes, members, classes and anomalies.
    pub rec: &'a Reconciled,
    /// The retest list, sorted.
    pub retests: &'a [Entry],
    /// The closure of each retest-list entry.
    pub closed: &'a Closed,
    /// The rows of the retests file.
    pub retest_rows: &'a [LabResult],
    /// The moment deadlines were judged at.
    pub as_of: crate::record::Micros,
    /// The per-building table, sorted.
    pub buildings: &'a [BuildingRow],
    /// The missing list, sorted.
    pub missing: &'a [MissingEntry],
    /// The roster cells of everyone on the lists.
    pub details: &'a Contacts,
    /// Each roster person's pseudonym as a number, by person key, with
    /// `--pseudonymize` (see [`crate::pipeline::Analysis::pseudonyms`]).
    pub pseudonyms: Option<&'a [u64]>,
    /// Each input's kind and report.
    pub inputs: &'a [(InputKind, InputReport)],
    /// Every rejected row with the kind of its file, sorted by file then line.
    pub rejects: &'a [(InputKind, Reject)],
    /// The protections to apply.
    pub privacy: &'a Privacy,
    /// The history folder's staged rounds, with `--history`: every Parquet table is
    /// written there too, a round a folder.
    pub publication: Option<&'a Publication>,
}

/// One output file to write: its name, its rows, and how.
struct Task<'a> {
    file: &'static str,
    rows: usize,
    write: Box<dyn FnOnce() -> Result<()> + Send + 'a>,
    /// A file written after this one by the same worker, not beside it.
    then: Option<Box<Task<'a>>>,
}

impl<'a> Task<'a> {
    fn new(
        file: &'static str,
        rows: usize,
        write: impl FnOnce() -> Result<()> + Send + 'a,
    ) -> Self {
        Task {
            file,
            rows,
            write: Box::new(write),
            then: None,
        }
    }

    /// This task, then `next` by the same worker.
    fn then(mut self, next: Task<'a>) -> Self {
        self.then = Some(Box::new(next));
        self
    }
}

/// Writes a list's Parquet table a row group at a time: its name, its empty frame (the
/// columns' types), its rows, each row's round, and the columns of a range of rows.
type ListWriter<'a> = dyn Fn(
        &'static str,
        Result<DataFrame>,
        usize,
        &(dyn Fn(usize) -> u32 + Sync),
        &(dyn Fn(std::ops::Range<usize>) -> Vec<ArrayRef> + Sync),
    ) -> Result<()>
    + Sync
    + 'a;

/// The task writing the workbook `name` of the list `rows` with `columns`, a sheet per
/// building too.
fn workbook_task<'a, R: rows::Listed + Sync>(
    name: &'static str,
    staging: &'a Staging,
    columns: &'a [columns::Column<R>],
    rows: &'a [R],
) -> Task<'a> {
    Task::new(name, rows.len(), move || {
        staging.write(name, |out| {
            workbook::write_list(out, columns, rows, Some(R::building))
        })
    })
}

/// The task writing the Parquet table `name` of the list `rows` with `columns` by
/// `list`, each row's round given by `round_of`.
fn list_task<'a, R: Sync>(
    name: &'static str,
    columns: &'a [columns::Column<R>],
    rows: &'a [R],
    round_of: impl Fn(usize) -> u32 + Send + Sync + 'a,
    list: &'a ListWriter<'a>,
) -> Task<'a> {
    Task::new(name, rows.len(), move || {
        list(
            name,
            parquet::list_frame(columns, &[]),
            rows.len(),
            &round_of,
            &|range| parquet::list_columns(columns, &rows[range]),
        )
    })
}

/// The rows each round's copy of each table got, for the history manifests.
pub type RoundRows = Vec<Vec<(String, u64)>>;

/// Writes every output of a round but the manifest into `staging`, side by side (the
/// slowest first), and returns each file with its row count, in [`OUTPUT_FILES`] order,
/// and the rows of each round's copies in the history.
pub fn write_round(
    staging: &Staging,
    round: &RoundOutputs,
) -> Result<(Vec<OutputEntry>, RoundRows)> {
    let (roster, rec, privacy) = (round.roster, round.rec, round.privacy);
    privacy.check_pseudonyms(round.pseudonyms, roster.len())?;
    let people = people::People::new(roster, rec, round.retests, privacy, round.pseudonyms);
    if let Some(numbers) = people.pseudonyms() {
        // Every roster person's pseudonym was made once, before the lists were sorted;
        // the other IDs that the outputs name are checked against them and each other.
        let named = rec
            .set
            .unregistered
            .iter()
            .chain(rec.anomalies.iter().filter_map(|a| a.person_id.as_deref()));
        if crate::privacy::pseudonyms_collide(numbers, |p| roster.id(p), named, privacy) {
            return Err(Error::Usage(
                "two person IDs got the same pseudonym under this key; choose another key".into(),
            ));
        }
    }
    let shown = rows::Shown::new(roster, round.details, privacy, round.pseudonyms);
    let entries = rows::Entries::new(
        roster,
        rec,
        round.retests,
        round.closed,
        round.retest_rows,
        &shown,
        privacy,
    );
    // One row an entry serves the retest list and its closure alike.
    let listed = entries.rows();
    let missing_entries = rows::Missing::new(rec, round.missing, &shown);
    let missing = missing_entries.rows();
    let files: Vec<(InputKind, String)> = round
        .inputs
        .iter()
        .map(|(k, r)| (*k, r.display()))
        .collect();
    let file_of = |kind: InputKind| {
        files
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or("", |(_, f)| f.as_str())
    };
    let mut rejects_by_file: Vec<(String, usize)> = Vec::new();
    for (kind, _) in round.rejects {
        match rejects_by_file
            .iter_mut()
            .find(|(f, _)| f == file_of(*kind))
        {
            Some(entry) => entry.1 += 1,
            None => rejects_by_file.push((file_of(*kind).to_string(), 1)),
        }
    }
    let (retest_columns, missing_columns) = (rows::retest_columns(), rows::missing_columns());
    let copied: std::sync::Mutex<RoundRows> =
        std::sync::Mutex::new(vec![Vec::new(); rec.rounds().len()]);
    let note = |r: usize, name: &str, rows: usize| {
        copied.lock().unwrap_or_else(|e| e.into_inner())[r].push((name.to_string(), rows as u64));
    };
    // A list's table is written a row group at a time: a city's missing list at midday
    // is millions of rows, and a table of them all was several times their bytes.
    let list: &ListWriter = &|name: &'static str,
                              like: Result<DataFrame>,
                              rows: usize,
                              round_of: &(dyn Fn(usize) -> u32 + Sync),
                              columns: &(dyn Fn(std::ops::Range<usize>) -> Vec<ArrayRef>
                                    + Sync)| {
        let table = Batched {
            name,
            like: like?,
            rows,
            round_of,
            columns,
            distinct: (None, None),
            // Text each person has of their own, nearly every value new, where zstd's
            // default level finds no more than its level 1: names and phones, unless
            // masked (张*三 and 138****1234 repeat), and person_ids that are pseudonyms
            // (random text). Plain person_ids stay at the default: at level 1 the
            // closure's (a person_id and no name) grew by a fifth (BENCHMARKS.md).
            fast: match (privacy.pseudonymizes(), privacy.mask) {
                (true, false) => &["person_id", "name", "phone"],
                (false, false) => &["name", "phone"],
                (true, true) => &["person_id"],
                (false, true) => &[],
            },
        };
        write_batched(staging, round.publication, rec.rounds().len(), table, &note)
    };
    let closure_columns = rows::closure_columns();
    let tasks: Vec<Task> = vec![
        // The two tables of a row per person or per tube, each a few row groups of
        // arrays at a time, one after the other: side by side, they added their
        // batches to the run's peak (ten million single tubes in GB18030 went past the
        // input's size).
        Task::new("people.parquet", people.rows(), || {
            write_people(staging, round.publication, rec, &people, &note)
        })
        .then(Task::new("tubes.parquet", rec.tubes.len(), || {
            write_tubes(staging, round.publication, roster, rec, &note)
        })),
        workbook_task("retest.xlsx", staging, &retest_columns, &listed),
        workbook_task("missing.xlsx", staging, &missing_columns, &missing),
        list_task(
            "retest.parquet",
            &retest_columns,
            &listed,
            |i| round.retests[i].round,
            list,
        ),
        Task::new("retest.csv", listed.len(), || {
            staging.write("retest.csv", |out| {
                csv::write_list(out, &retest_columns, &listed)
            })
        }),
        list_task(
            "missing.parquet",
            &missing_columns,
            &missing,
            |i| round.missing[i].round,
            list,
        ),
        Task::new("buildings.parquet", round.buildings.len(), || {
            write_buildings(
                staging,
                round.publication,
                roster,
                rec,
                round.buildings,
                &note,
            )
        }),
        Task::new(
            "anomalies.parquet",
            rec.anomalies.len() + rec.row_findings.len(),
            || {
                write_anomalies(
                    staging,
                    round.publication,
                    roster,
                    rec,
                    &file_of,
                    (privacy, people.pseudonyms()),
                    &note,
                )
            },
        ),
        list_task(
            "closure.parquet",
            &closure_columns,
            &listed,
            |i| round.retests[i].round,
            list,
        ),
        Task::new("report.html", 1, || {
            let page = round_report(round, &listed, &rejects_by_file);
            staging.write("report.html", |out| {
                out.write_all(page.as_bytes())
                    .map_err(|e| Error::io(&staging.target("report.html"), e))
            })
        }),
        Task::new("rejects.csv", round.rejects.len(), || {
            staging.write("rejects.csv", |out| {
                csv::write_rejects(
                    out,
                    round.rejects,
                    |r| reject_listed(round.inputs, &files, r),
                    privacy,
                )
            })
        }),
    ];
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for task in &tasks {
        let mut next = Some(task);
        while let Some(t) = next {
            counts.push((t.file, t.rows));
            next = t.then.as_deref();
        }
    }
    // With POOLSCREEN_TIMINGS, each file's time too (they are written side by side).
    let timing = crate::progress::Progress::new(true);
    tasks
        .into_par_iter()
        .with_max_len(1)
        .map(|task| {
            let mut next = Some(task);
            while let Some(t) = next {
                let _file = timing.stage(t.file);
                (t.write)()?;
                next = t.then.map(|t| *t);
            }
            Ok(())
        })
        .collect::<Result<()>>()?;
    let outputs = OUTPUT_FILES
        .iter()
        .filter(|f| **f != "manifest.json")
        .map(|f| {
            let rows = counts
                .iter()
                .find(|(file, _)| file == f)
                .map(|(_, n)| *n)
                .ok_or_else(|| Error::Internal(format!("{f} has no writer")))?;
            Ok(OutputEntry {
                file: f.to_string(),
                rows: rows as u64,
            })
        })
        .collect::<Result<_>>()?;
    let mut copies = copied.into_inner().unwrap_or_else(|e| e.into_inner());
    for files in &mut copies {
        files.sort();
    }
    Ok((outputs, copies))
}

/// A reject of `rejects.csv`: its file as `files` name it and the protected columns of
/// its input.
fn reject_listed<'a>(
    inputs: &'a [(InputKind, InputReport)],
    files: &'a [(InputKind, String)],
    (kind, reject): &'a (InputKind, Reject),
) -> csv::Listed<'a> {
    let file = files.iter().find(|(k, _)| k == kind).map_or("", |(_, f)| f);
    let report = inputs.iter().find(|(k, _)| k == kind).map(|(_, r)| r);
    (file, report.map_or(&[], |r| &r.columns), reject)
}

/// The daily report of the run's latest round (by earliest sample), from the same rows
/// as the other outputs; `rejects` counts the rejected rows by file.
fn round_report(round: &RoundOutputs, entries: &[EntryRow], rejects: &[(String, usize)]) -> String {
    use crate::report::{BuildingFigures, NamedPerson, RoundReport};
    let rec = round.rec;
    let order = rec.round_order();
    let Some(r) = (0..rec.rounds().len()).max_by_key(|&r| order[r]) else {
        return crate::report::round_page(&RoundReport {
            round: "",
            other_rounds: Vec::new(),
            as_of: 0,
            buildings: Vec::new(),
            tubes: [0; 5],
            anomalies: Vec::new(),
            rejects: Vec::new(),
            people: Vec::new(),
            earlier_overdue: Vec::new(),
            closure: [0; 4],
            off_roster: [0; 4],
            positive_orphans: rec.positive_orphans.iter().sum(),
            privacy: round.privacy.describe(),
        });
    };
    let label = &*rec.rounds()[r];
    let mut tubes = [0i64; 5];
    for t in rec.tubes.iter().filter(|t| t.round as usize == r) {
        let k = match t.class() {
            crate::record::Class::Positive => 0,
            crate::record::Class::Suspect => 1,
            crate::record::Class::Invalid => 2,
            crate::record::Class::Pending => 3,
            crate::record::Class::Negative => 4,
        };
        tubes[k] += 1;
    }
    let mut anomalies: Vec<(&'static str, usize)> = Vec::new();
    let kinds = rec
        .anomalies
        .iter()
        .filter(|a| a.round as usize == r)
        .map(|a| a.kind.as_str())
        .chain(
            rec.row_findings
                .iter()
                .filter(|x| rec.tubes[x.tube as usize].round as usize == r)
                .map(|x| x.kind.as_str()),
        );
    for kind in kinds {
        match anomalies.iter_mut().find(|(k, _)| *k == kind) {
            Some(entry) => entry.1 += 1,
            None => anomalies.push((kind, 1)),
        }
    }
    anomalies.sort();
    // Every entry of the round's retest list counts, a person sampled but not on the
    // roster too: the buildings' rows leave such people out, the page must not.
    let (mut counts, mut off_roster) = ([0i64; 4], [0i64; 4]);
    for c in entries.iter().filter(|c| c.round() == label) {
        let k = match c.state() {
            State::Cleared => 0,
            State::Confirmed => 1,
            _ => 2,
        };
        let overdue = i64::from(k == 2 && c.overdue() == Some(true));
        counts[k] += 1;
        counts[3] += overdue;
        if c.building().is_none() {
            off_roster[k] += 1;
            off_roster[3] += overdue;
        }
    }
    // An overdue retest of an earlier round of the run is still due as the page is read,
    // unless the person has an entry in a later round: a retest without a round closes
    // the latest entry only (its earlier ones stay open), and a later entry is the one
    // to follow.
    let mut latest_entry: FxHashMap<u32, u32> = FxHashMap::default();
    for e in round.retests {
        let at = latest_entry
            .entry(e.person)
            .or_insert(order[e.round as usize]);
        *at = (*at).max(order[e.round as usize]);
    }
    let still_due = |c: &EntryRow| {
        let e = c.entry();
        !matches!(c.state(), State::Cleared | State::Confirmed)
            && c.overdue() == Some(true)
            && latest_entry[&e.person] == order[e.round as usize]
    };
    let mut earlier_overdue: Vec<(&str, i64)> = Vec::new();
    for c in entries {
        if c.round() != label && still_due(c) {
            match earlier_overdue.iter_mut().find(|(r, _)| *r == c.round()) {
                Some(entry) => entry.1 += 1,
                None => earlier_overdue.push((c.round(), 1)),
            }
        }
    }
    let named = |c: &EntryRow| match c.round() == label {
        true => c.state() == State::Confirmed || c.overdue() == Some(true),
        false => still_due(c),
    };
    let (this, earlier): (Vec<_>, Vec<_>) = entries
        .iter()
        .filter(|c| named(c))
        .map(|c| NamedPerson {
            person_id: c.person_id(),
            name: c.cell(Contacts::NAME),
            building: c.building(),
            room: c.cell(Contacts::ROOM),
            state: c.state().as_str(),
            due_at: c.due_at(),
            earlier_round: (c.round() != label).then_some(c.round()),
        })
        .partition(|p| p.earlier_round.is_none());
    let people = this.into_iter().chain(earlier).collect();
    crate::report::round_page(&RoundReport {
        round: label,
        other_rounds: rec
            .rounds()
            .iter()
            .filter(|x| ***x != *label)
            .map(|x| &**x)
            .collect(),
        as_of: round.as_of,
        buildings: round
            .buildings
            .iter()
            .filter(|b| b.round as usize == r)
            .map(|b| BuildingFigures {
                name: &round.roster.buildings[b.building as usize],
                row: b,
            })
            .collect(),
        tubes,
        anomalies,
        rejects: rejects.to_vec(),
        people,
        earlier_overdue,
        closure: counts,
        off_roster,
        positive_orphans: rec.positive_orphans.get(r).copied().unwrap_or(0),
        privacy: round.privacy.describe(),
    })
}

/// A table written a row group at a time ([`parquet::ArrowBatches`]), each group
/// made on the workers while the one before is written.
struct Batched<'a> {
    name: &'static str,
    /// The table's columns, for its schema.
    like: DataFrame,
    rows: usize,
    /// The round of each row: each round's rows are a stretch of the table.
    round_of: &'a (dyn Fn(usize) -> u32 + Sync),
    /// The columns of a stretch of rows.
    columns: &'a (dyn Fn(std::ops::Range<usize>) -> Vec<ArrayRef> + Sync),
    /// A column whose values are all distinct, marked so in the whole file's batches,
    /// then in a round copy's ([`parquet::ArrowBatches::distinct`]).
    distinct: (Option<&'static str>, Option<&'static str>),
    /// Columns of text that is nearly all new (pseudonyms, names, phones), compressed
    /// at zstd's level 1 in the file and its copies ([`parquet::ArrowBatches::fast`]).
    fast: &'static [&'static str],
}

/// Writes `table` in row groups as polars would cut the whole table; with a
/// publication, each round's rows into its copy too.
fn write_batched(
    staging: &Staging,
    publication: Option<&Publication>,
    rounds: usize,
    table: Batched,
    note: &(dyn Fn(usize, &str, usize) + Sync),
) -> Result<()> {
    let batches = |range: std::ops::Range<usize>,
                   write: &mut (dyn FnMut(&[ArrayRef]) -> Result<()> + Send)| {
        let start = range.start;
        parquet::pipelined(
            parquet::row_groups(range.len()),
            |group| (table.columns)(start + group.start..start + group.end),
            write,
        )
    };
    staging.write(table.name, |out| {
        let mut all = parquet::ArrowBatches::new(out, &table.like)?
            .distinct(table.distinct.0)
            .fast(table.fast);
        batches(0..table.rows, &mut |batch| all.write(batch))?;
        all.finish()
    })?;
    let Some(p) = publication else {
        return Ok(());
    };
    let like = match p.shard() {
        Some(shard) => parquet::with_shard(&table.like, shard)?,
        None => table.like,
    };
    let mut ranges = vec![0..0; rounds];
    let mut start = 0;
    while start < table.rows {
        let round = (table.round_of)(start);
        let mut end = start + 1;
        while end < table.rows && (table.round_of)(end) == round {
            end += 1;
        }
        match ranges.get_mut(round as usize) {
            Some(range) if range.start == range.end => *range = start..end,
            _ => {
                return Err(Error::Internal(format!(
                    "{}: a round's rows are not one stretch of the table",
                    table.name
                )))
            }
        }
        start = end;
    }
    for (r, range) in ranges.into_iter().enumerate() {
        let rows = range.len();
        p.round(r).write(table.name, |copy| {
            let mut copy = parquet::ArrowBatches::new(copy, &like)?
                .distinct(table.distinct.1)
                .fast(table.fast);
            batches(range, &mut |batch| write_copy(&mut copy, p.shard(), batch))?;
            copy.finish()
        })?;
        note(r, table.name, rows);
    }
    Ok(())
}

/// Writes `tubes.parquet`.
fn write_tubes(
    staging: &Staging,
    publication: Option<&Publication>,
    roster: &Roster,
    rec: &Reconciled,
    note: &(dyn Fn(usize, &str, usize) + Sync),
) -> Result<()> {
    let tubes = &rec.tubes[..];
    // Within a round a tube_id is one tube: its column is plain, as polars would find.
    // Across rounds a tube_id can come back, and a row group of the whole table may
    // then hold it twice: polars decides.
    let reused = rec.tubes.len() != rec.set.tubes.len();
    let table = Batched {
        name: "tubes.parquet",
        like: tables::tubes_like(roster, rec)?,
        rows: tubes.len(),
        round_of: &|i| tubes[i].round,
        columns: &|range| tables::tube_columns(roster, rec, &tubes[range]),
        distinct: ((!reused).then_some("tube_id"), Some("tube_id")),
        fast: &[],
    };
    write_batched(staging, publication, rec.rounds().len(), table, note)
}

/// Writes `buildings.parquet` of `rows` (a row per round and building).
fn write_buildings(
    staging: &Staging,
    publication: Option<&Publication>,
    roster: &Roster,
    rec: &Reconciled,
    rows: &[BuildingRow],
    note: &(dyn Fn(usize, &str, usize) + Sync),
) -> Result<()> {
    let table = Batched {
        name: "buildings.parquet",
        like: tables::buildings(roster, rec, &[])?,
        rows: rows.len(),
        round_of: &|i| rows[i].round,
        columns: &|range| tables::building_columns(roster, rec, &rows[range]),
        distinct: (None, None),
        fast: &[],
    };
    write_batched(staging, publication, rec.rounds().len(), table, note)
}

/// Writes `anomalies.parquet`; `file_of` names each input as rejects and anomalies
/// name it; `shown` is the privacy, and the roster's pseudonyms with `--pseudonymize`.
fn write_anomalies<'f>(
    staging: &Staging,
    publication: Option<&Publication>,
    roster: &'f Roster,
    rec: &'f Reconciled,
    file_of: &(dyn Fn(InputKind) -> &'f str + Sync),
    shown: (&Privacy, Option<&[u64]>),
    note: &(dyn Fn(usize, &str, usize) + Sync),
) -> Result<()> {
    let rows = tables::anomaly_rows(roster, rec, shown.0, shown.1)?;
    let table = Batched {
        name: "anomalies.parquet",
        like: tables::anomalies_like()?,
        rows: rows.len(),
        round_of: &|i| rows.get(i).round(rec),
        columns: &|range| {
            let batch = rows.range(range);
            tables::anomaly_columns(roster, rec, &batch, file_of, shown.0, shown.1)
        },
        distinct: (None, None),
        fast: &[],
    };
    write_batched(staging, publication, rec.rounds().len(), table, note)
}

/// Writes a batch into a round's copy in the history, with the shard column of a
/// district's publication.
fn write_copy(
    copy: &mut parquet::ArrowBatches,
    shard: Option<&str>,
    batch: &[ArrayRef],
) -> Result<()> {
    match shard {
        Some(shard) => {
            let mut with_shard = batch.to_vec();
            let height = batch.first().map_or(0, |c| c.len());
            with_shard.push(parquet::dictionary(height, 1, |_| 0, |_| shard));
            copy.write(&with_shard)
        }
        None => copy.write(batch),
    }
}

/// Writes `people.parquet`, round after round and batch after batch, and each round's
/// copy into the history.
fn write_people(
    staging: &Staging,
    publication: Option<&Publication>,
    rec: &Reconciled,
    people: &people::People,
    note: &(dyn Fn(usize, &str, usize) + Sync),
) -> Result<()> {
    let name = "people.parquet";
    let empty = parquet::list_frame(&people::People::columns(), &[])?;
    // A batch holds people of one round, each once: their person_ids (or pseudonyms,
    // random text) are compressed at zstd's level 1, whatever their shape.
    fn plain<'a>(
        file: parquet::ArrowBatches<'a>,
        people: &people::People,
    ) -> parquet::ArrowBatches<'a> {
        let file = file.fast(&["person_id"]);
        match people.shows_distinct_ids() {
            true => file.distinct(Some("person_id")),
            false => file,
        }
    }
    staging.write(name, |out| {
        let mut all = plain(parquet::ArrowBatches::new(out, &empty)?, people);
        for r in 0..rec.rounds().len() {
            match publication {
                Some(p) => {
                    let like = match p.shard() {
                        Some(shard) => parquet::with_shard(&empty, shard)?,
                        None => empty.clone(),
                    };
                    let mut rows = 0;
                    p.round(r).write(name, |copy| {
                        let mut copy = plain(parquet::ArrowBatches::new(copy, &like)?, people);
                        people.batches(r as u32, |batch| {
                            all.write(batch)?;
                            let height = batch.first().map_or(0, |c| c.len());
                            rows += height;
                            write_copy(&mut copy, p.shard(), batch)
                        })?;
                        copy.finish()
                    })?;
                    note(r, name, rows);
                }
                None => people.batches(r as u32, |batch| all.write(batch))?,
            }
        }
        all.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GenerateOptions};
    use crate::pipeline;
    use crate::reconcile::Settings;
    use crate::rules::Rules;

    /// `tubes.parquet` and `buildings.parquet` as written batch by batch against
    /// polars' files of the whole tables, on the rounds in `dir` (a `generate` folder).
    fn same_as_polars(dir: &std::path::Path) {
        let input = |f: &str| dir.join(f);
        let (roster, _, _) = pipeline::load_roster(&input("roster.csv"), None).unwrap();
        let (set, _, _) =
            pipeline::load_samples(&input("samples.csv"), &roster, None, None).unwrap();
        let (results, columns, _, _) = pipeline::load_results(&input("results.csv"), None).unwrap();
        let rules = Rules::default();
        let settings = Settings {
            pool_size: 20,
            rules: &rules,
        };
        let rec = crate::reconcile::reconcile(&roster, set, results, columns, &settings);
        let out = dir.join("out");
        let staging = Staging::new(&out, &[]).unwrap();
        write_tubes(&staging, None, &roster, &rec, &|_, _, _| {}).unwrap();
        staging
            .write("polars.parquet", |o| {
                parquet::write(o, tables::tubes(&roster, &rec, &rec.tubes)?)
            })
            .unwrap();
        staging.commit().unwrap();
        let read = |f: &str| std::fs::read(out.join(f)).unwrap();
        assert!(read("tubes.parquet") == read("polars.parquet"));
        // `buildings.parquet` too, its rows as the lists stage makes them, and each
        // round's copy published into a history, whole and as a district.
        let shown = pipeline::ShownIds {
            privacy: &crate::privacy::Privacy::default(),
            pseudonyms: None,
        };
        let lists = pipeline::lists(&roster, &rec, None, &rules, 0, &shown).unwrap();
        let rows = &lists.buildings;
        let whole = tables::buildings(&roster, &rec, rows).unwrap();
        for shard in [None, Some("d1")] {
            let out = dir.join("buildings");
            let _ = std::fs::remove_dir_all(&out);
            let history = tempfile::tempdir().unwrap();
            let publication = Publication::new(history.path(), rec.rounds(), shard).unwrap();
            let staging = Staging::new(&out, &[]).unwrap();
            let noted = std::sync::Mutex::new(vec![0; rec.rounds().len()]);
            let note = |r: usize, _: &str, n: usize| noted.lock().unwrap()[r] += n;
            write_buildings(&staging, Some(&publication), &roster, &rec, rows, &note).unwrap();
            let mut start = 0;
            for (r, &n) in noted.lock().unwrap().iter().enumerate() {
                let mut part = whole.slice(start as i64, n);
                if let Some(shard) = shard {
                    part = parquet::with_shard(&part, shard).unwrap();
                }
                staging
                    .write(&format!("polars-{r}.parquet"), |o| parquet::write(o, part))
                    .unwrap();
                let copy = publication.round(r).folder().join("buildings.parquet");
                let polars = staging.folder().join(format!("polars-{r}.parquet"));
                assert!(
                    std::fs::read(copy).unwrap() == std::fs::read(polars).unwrap(),
                    "round {r}'s copy, district {shard:?}"
                );
                start += n;
            }
            assert_eq!(start, rows.len());
            staging
                .write("polars.parquet", |o| parquet::write(o, whole.clone()))
                .unwrap();
            staging.commit().unwrap();
            let read = |f: &str| std::fs::read(out.join(f)).unwrap();
            assert!(read("buildings.parquet") == read("polars.parquet"));
        }
    }

    /// A generated round of 3,000 people over `rounds` rounds, dirty or not, with
    /// `prevalence`.
    fn generated(rounds: usize, dirty: bool, prevalence: f64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        generate(&GenerateOptions {
            out: dir.path().to_path_buf(),
            people: 3000,
            rounds,
            dirty,
            prevalence,
            ..GenerateOptions::default()
        })
        .unwrap();
        dir
    }

    #[test]
    fn tubes_and_buildings_parquet_are_the_files_polars_makes_of_the_whole_tables() {
        // A dirty round over three rounds (every fault of `generate --dirty`).
        let dirty = generated(3, true, GenerateOptions::default().prevalence);
        same_as_polars(dirty.path());
        // Every tube_id in two rounds: in the whole table each comes back, and polars
        // gives the column a dictionary.
        let reused = tempfile::tempdir().unwrap();
        generate(&GenerateOptions {
            out: reused.path().to_path_buf(),
            people: 3000,
            ..GenerateOptions::default()
        })
        .unwrap();
        let samples = std::fs::read_to_string(reused.path().join("samples.csv")).unwrap();
        let mut lines = samples.lines();
        let mut twice = format!("{},轮次\n", lines.next().unwrap());
        for round in ["R1", "R2"] {
            for line in samples.lines().skip(1) {
                twice.push_str(&format!("{line},{round}\n"));
            }
        }
        std::fs::write(reused.path().join("samples.csv"), twice).unwrap();
        same_as_polars(reused.path());
        // A building for every person over three rounds: `buildings.parquet` of two
        // row groups (polars cuts 512² rows), the second starting within round 2.
        let households = tempfile::tempdir().unwrap();
        generate(&GenerateOptions {
            out: households.path().to_path_buf(),
            people: 200_000,
            buildings: 200_000,
            rounds: 3,
            ..GenerateOptions::default()
        })
        .unwrap();
        same_as_polars(households.path());
    }

    /// Every numbered column ([`columns::Column::code`]) of the retest, closure and
    /// missing lists numbers its texts one to one: the same number for the same text
    /// shown, another for another, none exactly where the cell is empty. A dirty round
    /// of three rounds with retests (people off the roster, a roster without some
    /// cells), plain, masked (counselors whose names mask alike) and pseudonymised.
    #[test]
    fn numbered_columns_number_their_texts_one_to_one() {
        fn one_to_one<R>(list: &str, columns: &[columns::Column<R>], rows: &[R]) -> usize {
            let mut checked = 0;
            for column in columns {
                let Some(code) = column.code else { continue };
                let mut text_of: FxHashMap<u32, &str> = FxHashMap::default();
                let mut code_of: FxHashMap<&str, u32> = FxHashMap::default();
                for row in rows {
                    let (c, text) = (code(row), (column.value)(row).text());
                    let name = column.name;
                    match text {
                        None => assert_eq!(c, crate::record::NONE, "{list}.{name}"),
                        Some(text) => {
                            assert_ne!(c, crate::record::NONE, "{list}.{name}: {text}");
                            assert_eq!(*text_of.entry(c).or_insert(text), text, "{list}.{name}");
                            assert_eq!(*code_of.entry(text).or_insert(c), c, "{list}.{name}");
                        }
                    }
                }
                checked += code_of.len();
            }
            checked
        }
        let dirty = generated(3, true, 0.05);
        // Every other person's counselor renamed so that the two names mask alike
        // (辅导员1 and 辅佐员1 both show as 辅**1).
        let alike = generated(2, false, 0.05);
        let roster = std::fs::read_to_string(alike.path().join("roster.csv")).unwrap();
        assert!(roster.contains(",辅导员1,"), "the generator's counselors");
        let renamed: String = roster
            .lines()
            .enumerate()
            .map(|(i, line)| match i % 2 {
                0 => format!("{line}\n"),
                _ => format!("{}\n", line.replace(",辅导员1,", ",辅佐员1,")),
            })
            .collect();
        std::fs::write(alike.path().join("roster.csv"), renamed).unwrap();
        let runs = [(false, false), (true, false), (true, true)]
            .map(|(mask, key)| (dirty.path(), mask, key))
            .into_iter()
            .chain([(alike.path(), true, false)]);
        for (dir, mask, key) in runs {
            std::fs::write(dir.join("key.hex"), "ab".repeat(32)).unwrap();
            let mut opts = pipeline::RunOptions::for_folder(dir, &dir.join("out"));
            opts.retests = Some(dir.join("retests.csv"));
            let key_file = dir.join("key.hex");
            opts.privacy = Privacy::new(mask, key.then_some(key_file.as_path())).unwrap();
            let loaded = pipeline::load(&opts).unwrap();
            let mut roster = loaded.roster;
            let settings = Settings {
                pool_size: opts.pool_size,
                rules: &opts.rules,
            };
            let progress = crate::progress::Progress::new(true);
            let analysis = pipeline::analyse(
                &progress,
                &mut roster,
                loaded.records,
                &settings,
                &opts.privacy,
                None,
                |_| Ok(None),
            )
            .unwrap();
            let shown = rows::Shown::new(
                &roster,
                &analysis.details,
                &opts.privacy,
                analysis.pseudonyms.as_deref(),
            );
            let entries = rows::Entries::new(
                &roster,
                &analysis.rec,
                &analysis.retests,
                &analysis.closed,
                &analysis.retest_rows,
                &shown,
                &opts.privacy,
            );
            let listed = entries.rows();
            let missing = rows::Missing::new(&analysis.rec, &analysis.missing, &shown);
            let missing = missing.rows();
            assert!(!listed.is_empty() && !missing.is_empty());
            let checked = one_to_one("retest", &rows::retest_columns(), &listed)
                + one_to_one("closure", &rows::closure_columns(), &listed)
                + one_to_one("missing", &rows::missing_columns(), &missing);
            assert!(checked > 100, "{checked} values numbered");
        }
    }
}
