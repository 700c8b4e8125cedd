//! The round pipeline end to end: ingest → reconcile → classify → retest → summarize →
//! export. This is what `poolscreen run` calls; the stages are public so benchmarks
//! can time each.

use crate::error::{Error, Result};
use crate::export::{self, Staging, OUTPUT_FILES};
use crate::ingest::roster::{Roster, RosterParser};
use crate::ingest::samples::{SampleParser, SampleSet};
use crate::ingest::{self, results, roster, samples, values, InputReport, Reject};
use crate::manifest::{InputEntry, Manifest, OutputEntry, RulesEntry, Totals};
use crate::privacy::Privacy;
use crate::progress::Progress;
use crate::reconcile::{self, Reconciled, Settings, Source};
use crate::record::{Class, Details, LabResult, ResultColumns};
use crate::retest;
use crate::rules::Rules;
use crate::summarize::{self, BuildingRow, MissingEntry};
use crate::workbook;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `poolscreen run` was asked to do.
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
    /// The most people a tube may hold.
    pub pool_size: usize,
    /// A TOML rules file overriding the default cutoffs.
    pub rules: Option<PathBuf>,
    /// Print nothing but errors.
    pub quiet: bool,
    /// The sheet to read in workbook inputs (the first sheet when `None`).
    pub sheet: Option<String>,
    /// Mask names, phones and ID card numbers in every output.
    pub mask: bool,
    /// Replace person_id by a keyed pseudonym, with the key in this file.
    pub pseudonymize: Option<PathBuf>,
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
            rules: None,
            quiet: true,
            sheet: None,
            mask: false,
            pseudonymize: None,
        }
    }
}

/// What a finished run produced, for the command line to report.
#[derive(Debug)]
pub struct RunSummary {
    /// The manifest as written.
    pub manifest: Manifest,
    /// The round labels.
    pub rounds: Vec<String>,
    /// The per-building table with names resolved: (round, building, row).
    pub buildings: Vec<(String, String, BuildingRow)>,
    /// Rows rejected over all inputs.
    pub rejected: u64,
}

/// Every input, read and checked.
#[derive(Debug)]
pub struct Loaded {
    /// The roster.
    pub roster: Roster,
    /// The samples with their tables.
    pub samples: SampleSet,
    /// The result rows.
    pub results: Vec<LabResult>,
    /// Which columns the results file has.
    pub result_columns: ResultColumns,
    /// The retest rows and columns, with `--retests`.
    pub retests: Option<(Vec<LabResult>, ResultColumns)>,
    /// Each input's role and report, in command-line order.
    pub reports: Vec<(&'static str, InputReport)>,
    /// Every rejected row with its file, sorted by file then line.
    pub rejects: Vec<(String, Reject)>,
}

/// Everything the outputs are made of.
#[derive(Debug)]
pub struct Analysis {
    /// Tubes, members, classes and anomalies.
    pub rec: Reconciled,
    /// The retest list, sorted.
    pub retests: Vec<retest::Entry>,
    /// The per-building table, sorted.
    pub buildings: Vec<BuildingRow>,
    /// The missing list, sorted.
    pub missing: Vec<MissingEntry>,
    /// The roster cells of everyone on the two lists.
    pub details: FxHashMap<u32, Details>,
}

/// Reads the roster (a CSV file, or sheet `sheet` of a workbook).
pub fn load_roster(path: &Path, sheet: Option<&str>) -> Result<(Roster, InputReport, Vec<Reject>)> {
    roster::finish(ingest::read_input(
        path,
        &name(path),
        &roster::COLUMNS,
        &RosterParser,
        sheet,
    )?)
}

/// Reads the samples file, resolving people against `roster`.
pub fn load_samples(
    path: &Path,
    roster: &Roster,
    round: Option<&str>,
    today: i64,
    sheet: Option<&str>,
) -> Result<(SampleSet, InputReport, Vec<Reject>)> {
    let parsed = ingest::read_input(
        path,
        &name(path),
        &samples::COLUMNS,
        &SampleParser { roster },
        sheet,
    )?;
    Ok(samples::finish(parsed, roster.len() as u32, round, today))
}

/// Reads a results file (or, with `retests`, a retests file).
pub fn load_results(
    path: &Path,
    retests: bool,
    sheet: Option<&str>,
) -> Result<(Vec<LabResult>, ResultColumns, InputReport, Vec<Reject>)> {
    let specs = if retests {
        results::retest_columns()
    } else {
        results::COLUMNS
    };
    let mut parsed = ingest::read_input(path, &name(path), &specs, &results::ResultParser, sheet)?;
    let columns = results::columns(&parsed)?;
    let report = parsed.report.clone();
    let rejects = std::mem::take(&mut parsed.rejects);
    Ok((parsed.into_rows(), columns, report, rejects))
}

/// Reads every input of `opts`.
pub fn load(opts: &RunOptions, today: i64) -> Result<Loaded> {
    let log = |report: &InputReport| {
        if !opts.quiet {
            eprintln!(
                "poolscreen: {}: {} rows read, {} accepted, {} rejected ({})",
                report.path,
                report.rows_read,
                report.rows_accepted,
                report.rows_rejected,
                report.encoding.as_str()
            );
        }
    };
    let mut rejects: Vec<(String, Reject)> = Vec::new();
    let mut reports = Vec::new();
    let mut keep = |role: &'static str, report: InputReport, list: Vec<Reject>| {
        log(&report);
        let file = report.display();
        rejects.extend(list.into_iter().map(|r| (file.clone(), r)));
        reports.push((role, report));
    };
    let progress = Progress::new(opts.quiet);
    let stage = progress.stage("roster");
    let sheet = opts.sheet.as_deref();
    let (roster, report, list) = load_roster(&opts.roster, sheet)?;
    drop(stage);
    keep("roster", report, list);
    let stage = progress.stage("samples");
    let (samples, report, list) =
        load_samples(&opts.samples, &roster, opts.round.as_deref(), today, sheet)?;
    keep("samples", report, list);
    drop(stage);
    let stage = progress.stage("results");
    let (results, result_columns, report, list) = load_results(&opts.results, false, sheet)?;
    drop(stage);
    keep("results", report, list);
    let retests = match &opts.retests {
        Some(path) => {
            let (rows, columns, report, list) = load_results(path, true, sheet)?;
            keep("retests", report, list);
            Some((rows, columns))
        }
        None => None,
    };
    rejects.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.line.cmp(&b.1.line)));
    Ok(Loaded {
        roster,
        samples,
        results,
        result_columns,
        retests,
        reports,
        rejects,
    })
}

/// Reconciles, classifies, lists and summarises; reads the roster again for the people
/// on the lists.
pub fn analyse(
    progress: &Progress,
    roster: &Roster,
    samples: SampleSet,
    results: Vec<LabResult>,
    result_columns: ResultColumns,
    retests: Option<(Vec<LabResult>, ResultColumns)>,
    settings: &Settings,
) -> Result<Analysis> {
    let stage = progress.stage("reconcile");
    let rec = reconcile::reconcile(roster, samples, results, result_columns, retests, settings);
    drop(stage);
    let stage = progress.stage("lists");
    let lists = lists(roster, &rec)?;
    // Every list is made: the sample rows are not needed any more, and at city scale
    // they are the largest thing held while the outputs are written.
    let mut rec = rec;
    rec.set.samples = Vec::new();
    drop(stage);
    Ok(Analysis {
        rec,
        retests: lists.retests,
        buildings: lists.buildings,
        missing: lists.missing,
        details: lists.details,
    })
}

/// The lists and the per-building table of a reconciled round.
pub struct Lists {
    /// The retest list, sorted.
    pub retests: Vec<retest::Entry>,
    /// The per-building table, sorted.
    pub buildings: Vec<BuildingRow>,
    /// The missing list, sorted.
    pub missing: Vec<MissingEntry>,
    /// The roster cells of everyone on the two lists.
    pub details: FxHashMap<u32, Details>,
}

/// Makes the retest and missing lists and the per-building table, reading the roster
/// again for the people on the lists.
pub fn lists(roster: &Roster, rec: &Reconciled) -> Result<Lists> {
    let mut retests = retest::retest_list(rec);
    let buildings = summarize::buildings(roster, rec, &retests);
    let mut missing = summarize::missing(roster, rec);
    let mut people: Vec<u32> = retests
        .iter()
        .map(|e| e.person)
        .filter(|&p| p < rec.roster_len)
        .chain(missing.iter().map(|m| m.person))
        .collect();
    people.sort_unstable();
    people.dedup();
    let details: FxHashMap<u32, Details> = people
        .iter()
        .copied()
        .zip(roster.details(&people)?)
        .collect();
    retest::sort(&mut retests, roster, rec, &details);
    summarize::sort_missing(&mut missing, roster, &details);
    Ok(Lists {
        retests,
        buildings,
        missing,
        details,
    })
}

/// Runs the whole pipeline on the current rayon pool and writes the outputs.
pub fn run(opts: &RunOptions) -> Result<RunSummary> {
    let started = now_micros();
    check_inputs(&input_list(opts), &opts.out)?;
    let rules = match &opts.rules {
        Some(path) => Rules::from_file(path, &name(path))?,
        None => Rules::default(),
    };
    if opts.pool_size == 0 {
        return Err(Error::Usage("--pool-size must be at least 1".into()));
    }
    let privacy = Privacy::new(opts.mask, opts.pseudonymize.as_deref())?;
    let mut loaded = load(opts, started)?;
    for (_, report) in &loaded.reports {
        let file = report.display();
        for (_, reject) in loaded.rejects.iter_mut().filter(|(f, _)| *f == file) {
            reject.raw = privacy.raw(&reject.raw, &report.columns);
        }
    }
    let default_round = loaded.samples.default_round.clone();
    let settings = Settings {
        pool_size: opts.pool_size,
        rules: &rules,
    };
    let roster = loaded.roster;
    let progress = Progress::new(opts.quiet);
    let analysis = analyse(
        &progress,
        &roster,
        loaded.samples,
        loaded.results,
        loaded.result_columns,
        loaded.retests,
        &settings,
    )?;
    let rejects = std::mem::take(&mut loaded.rejects);

    let reports = &loaded.reports;
    let file_of = |source: Source| -> String {
        let role = match source {
            Source::Roster => "roster",
            Source::Samples => "samples",
            Source::Results => "results",
            Source::Retests => "retests",
        };
        reports
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, report)| report.display())
            .unwrap_or_default()
    };
    let rec = &analysis.rec;
    let counts = [
        analysis.buildings.len(),
        analysis.retests.len(),
        analysis.retests.len(),
        analysis.retests.len(),
        analysis.missing.len(),
        analysis.missing.len(),
        rec.tubes.len(),
        rec.anomalies.len(),
        rejects.len(),
    ];
    let stage = progress.stage("export");
    let staging = Staging::new(&opts.out)?;
    write_tables(&staging, &roster, &analysis, &rejects, &file_of, &privacy)?;
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: iso_local(started),
        finished_at: iso_local(now_micros()),
        rounds: rec.rounds().iter().map(|r| r.to_string()).collect(),
        inputs: loaded
            .reports
            .iter()
            .map(|(role, r)| InputEntry::new(role, r))
            .collect(),
        rules: RulesEntry::new(
            &rules,
            opts.rules.as_deref().map(name),
            opts.pool_size,
            &default_round,
        ),
        privacy: privacy.describe(),
        outputs: OUTPUT_FILES[..9]
            .iter()
            .zip(counts)
            .map(|(f, n)| OutputEntry {
                file: f.to_string(),
                rows: n as u64,
            })
            .collect(),
        totals: totals(
            &roster,
            rec,
            &analysis.buildings,
            analysis.retests.len(),
            rejects.len(),
        ),
    };
    staging.write("manifest.json", |out| {
        serde_json::to_writer_pretty(&mut *out, &manifest)
            .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
        std::io::Write::write_all(out, b"\n").map_err(|e| Error::io(&opts.out, e))
    })?;
    staging.commit()?;
    drop(stage);

    let buildings = analysis
        .buildings
        .into_iter()
        .map(|b| {
            (
                rec.rounds()[b.round as usize].to_string(),
                roster.buildings[b.building as usize].to_string(),
                b,
            )
        })
        .collect();
    Ok(RunSummary {
        rounds: manifest.rounds.clone(),
        rejected: rejects.len() as u64,
        manifest,
        buildings,
    })
}

/// Writes every table of `analysis` into `staging`, with `privacy` applied. The files
/// are written side by side, the slowest (the workbooks, the tubes) first.
pub fn write_tables(
    staging: &Staging,
    roster: &Roster,
    analysis: &Analysis,
    rejects: &[(String, Reject)],
    file_of: &(dyn Fn(Source) -> String + Sync),
    privacy: &Privacy,
) -> Result<()> {
    let rec = &analysis.rec;
    if privacy.pseudonymizes() {
        let ids = analysis
            .retests
            .iter()
            .map(|e| rec.person_id(roster, e.person))
            .chain(analysis.missing.iter().map(|m| roster.id(m.person)))
            .chain(rec.anomalies.iter().filter_map(|a| a.person_id.as_deref()));
        crate::privacy::check_collisions(ids, privacy)?;
    }
    let rows = export::retest_rows(roster, rec, &analysis.retests, &analysis.details, privacy);
    let missing = export::missing_rows(roster, rec, &analysis.missing, &analysis.details, privacy);
    let book = |name: &str, bytes: Result<Vec<u8>>| {
        let bytes = bytes?;
        staging.write(name, |out| {
            out.write_all(&bytes)
                .map_err(|e| Error::io(Path::new(name), e))
        })
    };
    type Task<'a> = Box<dyn FnOnce() -> Result<()> + Send + 'a>;
    let tasks: Vec<Task> = vec![
        Box::new(|| {
            let cells: Vec<_> = rows.iter().map(workbook::retest_cells).collect();
            book(
                "retest.xlsx",
                workbook::write_lists(&workbook::RETEST_COLUMNS, &cells, |i| rows[i].building),
            )
        }),
        Box::new(|| {
            staging.write("tubes.parquet", |out| {
                export::write_parquet(out, export::tubes_frame(roster, rec)?)
            })
        }),
        Box::new(|| {
            let cells: Vec<_> = missing.iter().map(workbook::missing_cells).collect();
            book(
                "missing.xlsx",
                workbook::write_lists(&workbook::MISSING_COLUMNS, &cells, |i| {
                    Some(missing[i].building)
                }),
            )
        }),
        Box::new(|| {
            staging.write("retest.parquet", |out| {
                export::write_parquet(out, export::retest_frame(&rows)?)
            })?;
            staging.write("retest.csv", |out| export::write_retest_csv(out, &rows))
        }),
        Box::new(|| {
            staging.write("missing.parquet", |out| {
                export::write_parquet(out, export::missing_frame(&missing)?)
            })
        }),
        Box::new(|| {
            staging.write("buildings.parquet", |out| {
                export::write_parquet(
                    out,
                    export::buildings_frame(roster, rec, &analysis.buildings)?,
                )
            })?;
            staging.write("anomalies.parquet", |out| {
                export::write_parquet(out, export::anomalies_frame(rec, file_of, privacy)?)
            })?;
            staging.write("rejects.csv", |out| export::write_rejects_csv(out, rejects))
        }),
    ];
    tasks
        .into_par_iter()
        .with_max_len(1)
        .map(|task| task())
        .collect::<Result<()>>()
}

fn totals(
    roster: &Roster,
    rec: &Reconciled,
    buildings: &[BuildingRow],
    to_retest: usize,
    rejected: usize,
) -> Totals {
    let sum = |f: fn(&BuildingRow) -> i64| buildings.iter().map(f).sum::<i64>() as u64;
    let class = |c: Class| rec.tubes.iter().filter(|t| t.class == c).count() as u64;
    Totals {
        people: roster.len() as u64,
        expected: sum(|b| b.expected),
        sampled: sum(|b| b.sampled),
        missing: sum(|b| b.missing),
        tubes: rec.tubes.len() as u64,
        positive_tubes: class(Class::Positive),
        suspect_tubes: class(Class::Suspect),
        invalid_tubes: class(Class::Invalid),
        pending_tubes: class(Class::Pending),
        to_retest: to_retest as u64,
        anomalies: rec.anomalies.len() as u64,
        rejected_rows: rejected as u64,
    }
}

/// The file as the user named it.
fn name(path: &Path) -> String {
    path.display().to_string()
}

fn input_list(opts: &RunOptions) -> Vec<&Path> {
    let mut list = vec![
        opts.roster.as_path(),
        opts.samples.as_path(),
        opts.results.as_path(),
    ];
    list.extend(opts.retests.as_deref());
    list
}

/// Refuses, before reading anything, inputs poolscreen cannot read and an output
/// folder whose files would overwrite an input.
fn check_inputs(inputs: &[&Path], out: &Path) -> Result<()> {
    for path in inputs {
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
        for file in OUTPUT_FILES {
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

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn iso_local(micros: i64) -> String {
    values::format_local(micros).replacen(' ', "T", 1) + "+08:00"
}
