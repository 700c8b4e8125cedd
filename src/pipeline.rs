//! The round pipeline end to end: ingest → reconcile → classify → retest → closure →
//! summarize → export. This is what `poolscreen run` calls; the stages are public so
//! benchmarks can time each.

use crate::closure::{self, Closed, Retests};
use crate::error::{Error, Result};
use crate::export::manifest::{self, InputEntry, Manifest, RulesEntry};
use crate::export::staging::Staging;
use crate::export::{self, RoundOutputs, OUTPUT_FILES};
use crate::history::publish::{Publication, RoundFacts};
use crate::history::PrivacyRecord;
use crate::ingest::roster::{Roster, RosterParser};
use crate::ingest::samples::{SampleParser, SamplePart, SampleSet};
use crate::ingest::{self, results, roster, samples, InputReport, Lines, Reject};
use crate::privacy::Privacy;
use crate::progress::Progress;
use crate::reconcile::{self, Reconciled, Settings};
use crate::record::{Contacts, InputKind, LabResult, Micros, ResultColumns, Sample};
use crate::retest;
use crate::rules::Rules;
use crate::summarize::{self, BuildingRow, MissingEntry};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `poolscreen run` was asked to do, checked: every value here is usable (see
/// [`crate::cmd::run::RunArgs::check`]).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The roster file.
    pub roster: PathBuf,
    /// The samples file.
    pub samples: PathBuf,
    /// The results file.
    pub results: PathBuf,
    /// The individual retests file, if any.
    pub retests: Option<PathBuf>,
    /// The output folder.
    pub out: PathBuf,
    /// The round label for samples without one.
    pub round: Option<String>,
    /// The most people a tube may hold, at least 1.
    pub pool_size: usize,
    /// The interpretation rules.
    pub rules: Rules,
    /// The rules file they came from, as named on the command line.
    pub rules_file: Option<String>,
    /// Print nothing but errors.
    pub quiet: bool,
    /// The sheet to read in workbook inputs (the first sheet when `None`).
    pub sheet: Option<String>,
    /// The protections of personal data.
    pub privacy: Privacy,
    /// The moment deadlines are judged at (`--as-of`); by default the latest timestamp
    /// of the inputs.
    pub as_of: Option<Micros>,
    /// The history folder to publish the round into (`--history`).
    pub history: Option<PathBuf>,
    /// The district this run publishes as (`--shard`), within the history.
    pub shard: Option<String>,
}

impl RunOptions {
    /// A quiet run of the `roster.csv`, `samples.csv` and `results.csv` in `inputs` into
    /// `out`, with every other option at its default (10-in-1 pools, default rules, no
    /// protections).
    pub fn for_folder(inputs: &Path, out: &Path) -> RunOptions {
        RunOptions {
            roster: inputs.join("roster.csv"),
            samples: inputs.join("samples.csv"),
            results: inputs.join("results.csv"),
            retests: None,
            out: out.to_path_buf(),
            round: None,
            pool_size: 10,
            rules: Rules::default(),
            rules_file: None,
            quiet: true,
            sheet: None,
            privacy: Privacy::default(),
            as_of: None,
            history: None,
            shard: None,
        }
    }

    /// The input files, each with its kind, in command-line order.
    pub fn inputs(&self) -> Vec<(InputKind, &Path)> {
        let mut list = vec![
            (InputKind::Roster, self.roster.as_path()),
            (InputKind::Samples, self.samples.as_path()),
            (InputKind::Results, self.results.as_path()),
        ];
        if let Some(r) = &self.retests {
            list.push((InputKind::Retests, r.as_path()));
        }
        list
    }
}

/// What a finished run produced, for the command line to report.
#[derive(Debug)]
pub struct RunSummary {
    /// The manifest as written.
    pub manifest: Manifest,
    /// The round labels.
    pub rounds: Vec<String>,
    /// The per-building table: each row's round indexes `rounds`, its building
    /// `building_names` ([`RunSummary::buildings`] gives both names).
    pub building_rows: Vec<BuildingRow>,
    /// The roster's buildings' names, by code.
    pub building_names: Vec<Box<str>>,
    /// Rows rejected over all inputs.
    pub rejected: u64,
    /// Result rows that call a tube positive but match no tube sampled.
    pub positive_orphans: u64,
}

impl RunSummary {
    /// The per-building table with names resolved: (round, building, row).
    pub fn buildings(&self) -> impl Iterator<Item = (&str, &str, &BuildingRow)> {
        self.building_rows.iter().map(|b| {
            (
                self.rounds[b.round as usize].as_str(),
                &*self.building_names[b.building as usize],
                b,
            )
        })
    }
}

/// The inputs read by [`load`], checked.
#[derive(Debug)]
pub struct Loaded {
    /// The roster.
    pub roster: Roster,
    /// The records of the other inputs.
    pub records: Records,
    /// Each input's kind and report, in command-line order (a retests file read
    /// later is reported after them).
    pub reports: Vec<(InputKind, InputReport)>,
    /// Every rejected row with its file's kind, sorted by file then line.
    pub rejects: Vec<(InputKind, Reject)>,
}

/// The records of the inputs other than the roster, read and checked.
#[derive(Clone, Debug)]
pub struct Records {
    /// The samples with their tables.
    pub samples: SampleSet,
    /// The result rows.
    pub results: Vec<LabResult>,
    /// Which columns the results file has.
    pub result_columns: ResultColumns,
    /// The retest rows, with `--retests` when [`load`] read them (see [`analyse`]).
    pub retests: Option<RetestRows>,
}

/// The rows of a retests file, which columns it has, and each row's roster person.
#[derive(Clone, Debug)]
pub struct RetestRows {
    /// The rows, in file order.
    pub rows: Vec<LabResult>,
    /// Which columns the file has.
    pub columns: ResultColumns,
    /// Each row's person: an index into the roster, or [`NONE`] when the person is not
    /// on it. Found by one pass over the roster's IDs ([`Roster::find_by_scan`]).
    pub people: Vec<u32>,
}

/// Everything the outputs are made of.
#[derive(Debug)]
pub struct Analysis {
    /// Tubes, members, classes and anomalies.
    pub rec: Reconciled,
    /// The retest list, sorted.
    pub retests: Vec<retest::Entry>,
    /// The closure of each retest-list entry, in the list's order.
    pub closed: Closed,
    /// The rows of the retests file (empty without `--retests`).
    pub retest_rows: Vec<LabResult>,
    /// The moment deadlines were judged at.
    pub as_of: Micros,
    /// The per-building table, sorted.
    pub buildings: Vec<BuildingRow>,
    /// The missing list, sorted.
    pub missing: Vec<MissingEntry>,
    /// The roster cells of everyone on the two lists.
    pub details: Contacts,
    /// Each roster person's pseudonym as a number (its 16 hex digits are the
    /// pseudonym), by person key, with `--pseudonymize`: made once, for the lists'
    /// order and every output that shows a roster person.
    pub pseudonyms: Option<Vec<u64>>,
}

/// Reads the roster (a CSV file, or sheet `sheet` of a workbook).
pub fn load_roster(path: &Path, sheet: Option<&str>) -> Result<(Roster, InputReport, Vec<Reject>)> {
    let parser = RosterParser {
        names: false,
        digest: true,
    };
    read_roster(path, sheet, parser)
}

/// The roster as `assign` reads it: [`load_roster`], keeping every person's name
/// ([`Roster::name`]), without the SHA-256 of a UTF-8 CSV file (only a run's manifest
/// states it; the report's `sha256` is then empty).
pub fn load_roster_for_plan(
    path: &Path,
    sheet: Option<&str>,
) -> Result<(Roster, InputReport, Vec<Reject>)> {
    let parser = RosterParser {
        names: true,
        digest: false,
    };
    read_roster(path, sheet, parser)
}

fn read_roster(
    path: &Path,
    sheet: Option<&str>,
    parser: RosterParser,
) -> Result<(Roster, InputReport, Vec<Reject>)> {
    roster::finish(ingest::read_input(
        path,
        &name(path),
        &roster::COLUMNS,
        &parser,
        sheet,
    )?)
}

/// Reads the samples file, resolving people against `roster`.
pub fn load_samples(
    path: &Path,
    roster: &Roster,
    round: Option<&str>,
    sheet: Option<&str>,
) -> Result<(SampleSet, InputReport, Vec<Reject>)> {
    let parsed = read_samples(path, roster, sheet)?;
    Ok(samples::finish(parsed, roster, round))
}

/// Parses the samples file's rows, every person looked up in `roster`, before the
/// chunks are merged ([`samples::finish`]).
fn read_samples(
    path: &Path,
    roster: &Roster,
    sheet: Option<&str>,
) -> Result<ingest::Ingested<Sample, SamplePart>> {
    ingest::read_input(
        path,
        &name(path),
        &samples::COLUMNS,
        &SampleParser { roster },
        sheet,
    )
}

/// The rows of a results or retests file, which columns it has, its report and rejects.
pub type ResultRows = (Vec<LabResult>, ResultColumns, InputReport, Vec<Reject>);

/// Reads a results file.
pub fn load_results(path: &Path, sheet: Option<&str>) -> Result<ResultRows> {
    let parsed = ingest::read_input(
        path,
        &name(path),
        &results::COLUMNS,
        &results::ResultParser,
        sheet,
    )?;
    results::finish(parsed)
}

/// Reads a retests file: a results file with `person_id` (and `sampled_at`).
pub fn load_retests(path: &Path, sheet: Option<&str>) -> Result<ResultRows> {
    let parsed = ingest::read_input(
        path,
        &name(path),
        &results::RETEST_COLUMNS,
        &results::RetestParser,
        sheet,
    )?;
    results::finish(parsed)
}

/// Dates the one round of a run without any sample (and without `--round`), labelled
/// [`samples::UNDATED`], by the earliest time a result or retest row gives, if any.
fn date_without_samples(samples: &mut SampleSet, results: &[LabResult], retests: &[LabResult]) {
    let earliest = results
        .iter()
        .chain(retests)
        .flat_map(|r| [r.tested_at.get(), r.sampled_at()])
        .flatten()
        .min();
    let Some(earliest) = earliest else {
        return;
    };
    let label = crate::time::local_date(earliest);
    for round in samples.rounds.iter_mut() {
        if **round == *samples.default_round {
            *round = label.as_str().into();
        }
    }
    samples.default_round = label;
}

/// Prints an input's rows read, accepted and rejected, and its encoding.
pub fn say_counts(report: &InputReport) {
    crate::say!(
        "poolscreen: {}: {} rows read, {} accepted, {} rejected ({})",
        report.path,
        report.rows_read,
        report.rows_accepted,
        report.rows_rejected,
        report.encoding.as_str()
    );
}

/// Reads the inputs of `opts`: the roster, samples and results, and the retests file
/// only when it dates a round without samples (else [`analyse`] has it read once the
/// round is reconciled).
pub fn load(opts: &RunOptions) -> Result<Loaded> {
    let mut rejects: Vec<(InputKind, Reject)> = Vec::new();
    let mut reports = Vec::new();
    let mut keep = |kind: InputKind, report: InputReport, list: Vec<Reject>| {
        if !opts.quiet {
            say_counts(&report);
        }
        rejects.extend(list.into_iter().map(|r| (kind, r)));
        reports.push((kind, report));
    };
    let progress = Progress::new(opts.quiet);
    let sheet = opts.sheet.as_deref();
    let stage = progress.stage("roster");
    let (mut roster, report, list) = load_roster(&opts.roster, sheet)?;
    drop(stage);
    if roster.is_empty() && !opts.quiet {
        crate::say!(
            "poolscreen: warning: {}: the roster has no person accepted, so everyone sampled is an unregistered_person and nobody is missing",
            report.path
        );
    }
    keep(InputKind::Roster, report, list);
    let stage = progress.stage("samples");
    let parsed = read_samples(&opts.samples, &roster, sheet)?;
    // Every sample's person is looked up as its chunk is read: nobody is looked up in
    // the index any more (a retests file's people are found by a pass over the IDs), and
    // it (16 bytes a person) goes back to the system before the chunks are merged, when
    // the samples stage peaks.
    roster.drop_index();
    crate::memory::give_back();
    let (mut samples, report, list) = samples::finish(parsed, &roster, opts.round.as_deref());
    drop(stage);
    keep(InputKind::Samples, report, list);
    let stage = progress.stage("results");
    let (results, result_columns, report, list) = load_results(&opts.results, sheet)?;
    drop(stage);
    keep(InputKind::Results, report, list);
    // The retests are read once the round is reconciled ([`read_retests`]), when
    // memory has peaked, unless they date a round without samples.
    let undated = samples.samples.is_empty() && opts.round.is_none();
    let retests = match undated {
        true => read_retests(opts, &roster, &mut keep)?,
        false => None,
    };
    // What loading freed on every worker goes back to the system before the round is
    // reconciled, when memory peaks.
    crate::memory::give_back();
    if undated {
        let retest_rows = retests.as_ref().map_or(&[][..], |r| r.rows.as_slice());
        date_without_samples(&mut samples, &results, retest_rows);
    }
    sort_rejects(&mut rejects, &reports);
    Ok(Loaded {
        roster,
        records: Records {
            samples,
            results,
            result_columns,
            retests,
        },
        reports,
        rejects,
    })
}

/// Reads the retests file of `opts`, if any, and finds its people on `roster`; `keep`
/// takes its report and rejected rows.
fn read_retests(
    opts: &RunOptions,
    roster: &Roster,
    keep: &mut impl FnMut(InputKind, InputReport, Vec<Reject>),
) -> Result<Option<RetestRows>> {
    let Some(path) = &opts.retests else {
        return Ok(None);
    };
    let (rows, columns, report, list) = load_retests(path, opts.sheet.as_deref())?;
    keep(InputKind::Retests, report, list);
    let ids: Vec<Option<&str>> = rows.iter().map(LabResult::person_id).collect();
    let people = roster.find_by_scan(&ids);
    Ok(Some(RetestRows {
        rows,
        columns,
        people,
    }))
}

/// Sorts rejected rows by their file as reported, then line.
fn sort_rejects(rejects: &mut [(InputKind, Reject)], reports: &[(InputKind, InputReport)]) {
    let display: FxHashMap<InputKind, String> =
        reports.iter().map(|(k, r)| (*k, r.display())).collect();
    rejects.sort_by(|a, b| {
        display[&a.0]
            .cmp(&display[&b.0])
            .then(a.1.line.cmp(&b.1.line))
    });
}

/// Reconciles, classifies, lists, closes the retest list and summarises; reads the
/// roster again for the people on the lists, then frees what reading it again takes
/// ([`Roster::drop_rereading`]). Deadlines are judged at `as_of`, or at the
/// latest timestamp of the inputs. Without retest rows in `records`, `late_retests`
/// gives them once the round is reconciled.
pub fn analyse(
    progress: &Progress,
    roster: &mut Roster,
    records: Records,
    settings: &Settings,
    privacy: &Privacy,
    as_of: Option<Micros>,
    late_retests: impl FnOnce(&Roster) -> Result<Option<RetestRows>>,
) -> Result<Analysis> {
    let stage = progress.stage("reconcile");
    let rec = reconcile::reconcile(
        roster,
        records.samples,
        records.results,
        records.result_columns,
        settings,
    );
    drop(stage);
    // A retests file not read with the other inputs is read now, past reconcile's peak:
    // its rows are needed from here on only.
    let retests = match records.retests {
        Some(retests) => Some(retests),
        None => late_retests(roster)?,
    };
    let stage = progress.stage("lists");
    let (retest_rows, retests) = match retests {
        Some(RetestRows {
            rows,
            columns,
            people,
        }) => (rows, Some((columns, people))),
        None => (Vec::new(), None),
    };
    let as_of = as_of.unwrap_or_else(|| latest_time(&rec, &retest_rows));
    let retests = retests.as_ref().map(|(columns, people)| Retests {
        rows: &retest_rows,
        columns: *columns,
        people,
    });
    let pseudonyms = privacy.pseudonymizes().then(|| {
        (0..roster.len() as u32)
            .into_par_iter()
            .map(|p| privacy.pseudonym_number(roster.id(p)))
            .collect::<Vec<u64>>()
    });
    let shown = ShownIds {
        privacy,
        pseudonyms: pseudonyms.as_deref(),
    };
    let lists = lists(roster, &rec, retests, settings.rules, as_of, &shown)?;
    // Every list is made and the listed people's cells are read: the sample rows and
    // what reading the roster again takes are not needed any more, and at city scale
    // the samples are the largest thing held while the outputs are written. They go
    // back to the system at once: the allocator would keep them a moment longer,
    // beside the outputs' first batches, where they could set the run's peak.
    let mut rec = rec;
    rec.set.samples = Vec::new();
    rec.set.lines = Lines::default();
    roster.drop_rereading();
    crate::memory::give_back();
    let Lists {
        retests,
        mut closed,
        buildings,
        missing,
        details,
    } = lists;
    rec.anomalies.append(&mut closed.anomalies);
    reconcile::sort_anomalies(&mut rec.anomalies);
    drop(stage);
    Ok(Analysis {
        rec,
        retests,
        closed,
        retest_rows,
        as_of,
        buildings,
        missing,
        details,
        pseudonyms,
    })
}

/// The latest timestamp of the inputs: samples, results and retests. Deadlines are
/// judged at it when no `--as-of` is given, never at the wall clock, so that a rerun
/// gives the same bytes.
pub fn latest_time(rec: &Reconciled, retests: &[LabResult]) -> Micros {
    rec.latest_sample
        .into_iter()
        .chain(rec.latest_result)
        .chain(
            retests
                .iter()
                .flat_map(|r| [r.tested_at.get(), r.sampled_at()])
                .flatten(),
        )
        .max()
        .unwrap_or(0)
}

/// The lists, the closure of the retest list and the per-building table of a
/// reconciled round.
pub struct Lists {
    /// The retest list, sorted.
    pub retests: Vec<retest::Entry>,
    /// The closure of each retest-list entry, in the list's order.
    pub closed: Closed,
    /// The per-building table, sorted.
    pub buildings: Vec<BuildingRow>,
    /// The missing list, sorted.
    pub missing: Vec<MissingEntry>,
    /// The roster cells of everyone on the two lists.
    pub details: Contacts,
}

/// How the lists show person_ids: `privacy`, and with `--pseudonymize` each roster
/// person's pseudonym as a number, by person key.
#[derive(Clone, Copy)]
pub struct ShownIds<'a> {
    /// The protections applied.
    pub privacy: &'a Privacy,
    /// The roster's pseudonyms, as [`Analysis::pseudonyms`].
    pub pseudonyms: Option<&'a [u64]>,
}

/// Makes the retest and missing lists, closes the retest list with `retests` at
/// `as_of`, and makes the per-building table, reading the roster again for the people
/// on the lists.
pub fn lists(
    roster: &Roster,
    rec: &Reconciled,
    retests: Option<Retests>,
    rules: &Rules,
    as_of: Micros,
    shown: &ShownIds,
) -> Result<Lists> {
    shown
        .privacy
        .check_pseudonyms(shown.pseudonyms, roster.len())?;
    let (mut list, mut missing) = rayon::join(
        || retest::retest_list(rec),
        || summarize::missing(roster, rec),
    );
    let people: Vec<u32> = list
        .iter()
        .map(|e| e.person)
        .filter(|&p| p < rec.roster_len)
        .chain(missing.iter().map(|m| m.person))
        .collect();
    // The listed people's cells are read again from the roster while the lists are
    // sorted and closed: in an outbreak or at midday the lists are millions of people,
    // and each of the two is mostly one thread's work.
    let (details, (list, missing, closed, buildings)) = rayon::join(
        || roster.details(people),
        || {
            sort_lists(roster, rec, shown, &mut list, &mut missing);
            let closed = closure::close(roster, rec, &list, retests, rules, as_of);
            let buildings = summarize::buildings(roster, rec, &list, &closed);
            (list, missing, closed, buildings)
        },
    );
    Ok(Lists {
        retests: list,
        closed,
        buildings,
        missing,
        details: details?,
    })
}

/// Sorts the retest and missing lists by the person_ids the lists show
/// ([`retest::sort`], [`summarize::sort_missing`]).
fn sort_lists(
    roster: &Roster,
    rec: &Reconciled,
    shown: &ShownIds,
    list: &mut [retest::Entry],
    missing: &mut [MissingEntry],
) {
    // Lists sort by the person_id they show: with --pseudonymize, the pseudonym, so
    // that the order tells nothing of the real IDs. Its number sorts as its hex digits.
    match shown.pseudonyms {
        Some(numbers) => {
            // People not on the roster are only on the retest list, and few.
            let off: FxHashMap<u32, u64> = list
                .iter()
                .filter(|e| e.person >= rec.roster_len)
                .map(|e| {
                    let id = rec.person_id(roster, e.person);
                    (e.person, shown.privacy.pseudonym_number(id))
                })
                .collect();
            let number = |p: u32| match p < rec.roster_len {
                true => numbers[p as usize],
                false => off[&p],
            };
            rayon::join(
                || retest::sort(list, roster, &number),
                || summarize::sort_missing(missing, roster, &number),
            );
        }
        None => {
            let id = |p: u32| rec.person_id(roster, p);
            rayon::join(
                || retest::sort(list, roster, &id),
                || summarize::sort_missing(missing, roster, &id),
            );
        }
    }
}

/// Runs the whole pipeline on the current rayon pool and writes the outputs.
pub fn run(opts: &RunOptions) -> Result<RunSummary> {
    let started = now_micros();
    check_inputs(&opts.inputs(), &opts.out, &OUTPUT_FILES)?;
    let loaded = load(opts)?;
    let default_round = loaded.records.samples.default_round.clone();
    let settings = Settings {
        pool_size: opts.pool_size,
        rules: &opts.rules,
    };
    let mut roster = loaded.roster;
    let (mut reports, mut rejects) = (loaded.reports, loaded.rejects);
    let read_late = loaded.records.retests.is_none();
    let progress = Progress::new(opts.quiet);
    let analysis = analyse(
        &progress,
        &mut roster,
        loaded.records,
        &settings,
        &opts.privacy,
        opts.as_of,
        |roster| match read_late {
            true => read_retests(opts, roster, &mut |kind, report, list| {
                if !opts.quiet {
                    say_counts(&report);
                }
                rejects.extend(list.into_iter().map(|r| (kind, r)));
                reports.push((kind, report));
            }),
            false => Ok(None),
        },
    )?;
    sort_rejects(&mut rejects, &reports);
    let rec = &analysis.rec;

    let stage = progress.stage("export");
    let staging = Staging::new(&opts.out, &OUTPUT_FILES)?;
    let publication = match &opts.history {
        Some(dir) => Some(Publication::new(dir, rec.rounds(), opts.shard.as_deref())?),
        None => None,
    };
    let (outputs, copies) = export::write_round(
        &staging,
        &RoundOutputs {
            roster: &roster,
            rec,
            retests: &analysis.retests,
            closed: &analysis.closed,
            retest_rows: &analysis.retest_rows,
            as_of: analysis.as_of,
            publication: publication.as_ref(),
            buildings: &analysis.buildings,
            missing: &analysis.missing,
            details: &analysis.details,
            pseudonyms: analysis.pseudonyms.as_deref(),
            inputs: &reports,
            rejects: &rejects,
            privacy: &opts.privacy,
        },
    )?;
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: iso_local(started),
        finished_at: iso_local(now_micros()),
        rounds: rec.rounds().iter().map(|r| r.to_string()).collect(),
        inputs: reports
            .iter()
            .map(|(kind, r)| InputEntry::new(kind.as_str(), r))
            .collect(),
        rules: RulesEntry::new(
            &opts.rules,
            opts.rules_file.clone(),
            opts.pool_size,
            &default_round,
            iso_local(analysis.as_of),
        ),
        privacy: opts.privacy.describe(),
        outputs,
        totals: manifest::totals(
            &roster,
            rec,
            &analysis.buildings,
            analysis.retests.len(),
            rejects.len(),
        ),
    };
    manifest::write(&staging, &manifest)?;
    if let Some(publication) = publication {
        let starts = rec.round_starts();
        let record = PrivacyRecord {
            masked: opts.privacy.mask,
            pseudonymized: opts.privacy.pseudonymizes(),
            key_check: opts.privacy.key_check(),
        };
        let facts: Vec<RoundFacts> = rec
            .rounds()
            .iter()
            .zip(&starts)
            .map(|(label, start)| RoundFacts {
                label,
                first_sampled_at: *start,
                as_of: analysis.as_of,
                pool_size: opts.pool_size,
                privacy: record.clone(),
                inputs: &manifest.inputs,
            })
            .collect();
        publication.commit(&facts, &copies)?;
    }
    staging.commit()?;
    drop(stage);

    // The table is handed over as it is, its names resolved only when read: a city
    // that reports by household has a million rows, two names each, which `run` never
    // reads (0.15 s on one thread, copying them).
    Ok(RunSummary {
        building_rows: analysis.buildings,
        building_names: std::mem::take(&mut roster.buildings),
        rounds: manifest.rounds.clone(),
        rejected: rejects.len() as u64,
        positive_orphans: rec.positive_orphans.iter().sum(),
        manifest,
    })
}

/// The file as the user named it.
pub fn name(path: &Path) -> String {
    path.display().to_string()
}

/// Refuses, before reading anything, inputs poolscreen cannot read and an output
/// folder whose files (`outputs`, the command's) would overwrite an input.
pub fn check_inputs(inputs: &[(InputKind, &Path)], out: &Path, outputs: &[&str]) -> Result<()> {
    for (_, path) in inputs {
        if path.is_dir() {
            return Err(Error::Usage(format!(
                "{}: a folder, not a file",
                name(path)
            )));
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" | "xlsx" | "xlsm" | "xlsb" | "xls" => {}
            _ => {
                return Err(Error::Usage(format!(
                    "{}: poolscreen reads .csv files and Excel workbooks (.xlsx, .xlsm, .xlsb, .xls); this file's extension is neither",
                    name(path)
                )))
            }
        }
        if !path.is_file() {
            return Err(Error::Usage(format!("{}: no such file", name(path))));
        }
        let input = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        for file in outputs {
            let target = out.join(file);
            if std::fs::canonicalize(&target).is_ok_and(|t| t == input) || (target == *path) {
                return Err(Error::Usage(format!(
                    "{}: the output folder would overwrite this input with its {file}; choose another --out",
                    name(path)
                )));
            }
        }
    }
    Ok(())
}

/// Refuses an output folder inside a history folder (`history`, or any folder whose
/// `rounds/` holds a published round) or that is one: the outputs would be written over
/// published rounds, which are never touched once published. The folder is resolved
/// first (links, `..`), as the file system will resolve it.
pub fn check_out_folder(out: &Path, history: Option<&Path>) -> Result<()> {
    let out_at = resolved(out);
    let named = history.filter(|h| out_at.starts_with(resolved(h)));
    // Any folder above the output (or the output itself) whose rounds/ holds a round.
    let found = out_at
        .ancestors()
        .find(|a| crate::history::read::holds_rounds(&a.join("rounds")))
        .map(Path::to_path_buf);
    if named.is_none() && found.is_none() {
        return Ok(());
    }
    let history = named.map_or_else(|| found.unwrap_or_default(), Path::to_path_buf);
    Err(Error::Usage(format!(
        "--out {}: the output folder is inside the history folder {}, and published rounds are never written over; choose an --out outside it",
        name(out),
        name(&history)
    )))
}

/// `path` made absolute as the file system resolves it: each part that exists with its
/// links resolved, `..` taking the resolved folder's parent, `.` dropped; the parts that
/// do not exist yet appended as written.
fn resolved(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut at = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::Prefix(_) | Component::RootDir => at.push(part.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(name) => {
                at.push(name);
                if let Ok(real) = std::fs::canonicalize(&at) {
                    at = real;
                }
            }
        }
    }
    at
}

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> Micros {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A moment as ISO 8601 in China Standard Time: `2022-04-10T08:00:00+08:00`.
pub fn iso_local(micros: Micros) -> String {
    crate::time::format_local(micros).replacen(' ', "T", 1) + "+08:00"
}
