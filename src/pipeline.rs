//! The round pipeline end to end: ingest → reconcile → classify → retest → summarize →
//! export. This is what `poolscreen run` calls.

use crate::error::{Error, Result};
use crate::export::{self, Staging, OUTPUT_FILES};
use crate::ingest::{self, results, roster, samples, values, InputReport, Reject};
use crate::manifest::{InputEntry, Manifest, OutputEntry, RulesEntry, Totals};
use crate::reconcile::{self, Reconciled, Settings, Source};
use crate::record::{Class, LabResult, ResultColumns, Roster};
use crate::rules::Rules;
use crate::summarize::{self, BuildingRow};
use crate::{retest, summarize::MissingEntry};
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

/// Runs the whole pipeline on the current rayon pool and writes the outputs.
pub fn run(opts: &RunOptions) -> Result<RunSummary> {
    let started = now_micros();
    let inputs = input_list(opts);
    check_inputs(&inputs, &opts.out)?;
    let rules = match &opts.rules {
        Some(path) => Rules::from_file(path, &name(path))?,
        None => Rules::default(),
    };
    if opts.pool_size == 0 {
        return Err(Error::Usage("--pool-size must be at least 1".into()));
    }

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
    let roster_in = ingest::read_csv(
        &opts.roster,
        &name(&opts.roster),
        &roster::COLUMNS,
        &roster::parse,
    )?;
    let (roster, roster_in) = roster::finish(roster_in, &opts.roster)?;
    log(&roster_in.report);
    let samples_in = ingest::read_csv(
        &opts.samples,
        &name(&opts.samples),
        &samples::COLUMNS,
        &samples::parse,
    )?;
    log(&samples_in.report);
    let results_in = ingest::read_csv(
        &opts.results,
        &name(&opts.results),
        &results::COLUMNS,
        &results::parse,
    )?;
    let result_columns = results::columns(&results_in)?;
    log(&results_in.report);
    let retest_specs = results::retest_columns();
    let retests_in = match &opts.retests {
        Some(path) => {
            let r = ingest::read_csv(path, &name(path), &retest_specs, &results::parse)?;
            let columns = results::columns(&r)?;
            log(&r.report);
            Some((r, columns))
        }
        None => None,
    };

    let default_round = match &opts.round {
        Some(r) => r.clone(),
        None => samples_in
            .rows
            .iter()
            .map(|s| s.sampled_at)
            .min()
            .map_or_else(|| values::local_date(started), values::local_date),
    };

    let mut reports = vec![
        ("roster", roster_in.report.clone()),
        ("samples", samples_in.report.clone()),
        ("results", results_in.report.clone()),
    ];
    let mut rejects: Vec<(String, Reject)> = Vec::new();
    let mut add_rejects = |report: &InputReport, list: Vec<Reject>| {
        rejects.extend(list.into_iter().map(|r| (report.path.clone(), r)));
    };
    add_rejects(&roster_in.report, roster_in.rejects);
    add_rejects(&samples_in.report, samples_in.rejects);
    add_rejects(&results_in.report, results_in.rejects);
    let retests: Option<(Vec<LabResult>, ResultColumns)> = retests_in.map(|(r, columns)| {
        reports.push(("retests", r.report.clone()));
        add_rejects(&r.report, r.rejects);
        (r.rows, columns)
    });
    rejects.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.line.cmp(&b.1.line)));

    let settings = Settings {
        default_round: &default_round,
        pool_size: opts.pool_size,
        rules: &rules,
    };
    let rec = reconcile::reconcile(
        &roster,
        samples_in.rows,
        results_in.rows,
        result_columns,
        retests,
        &settings,
    );
    let retest_list = retest::retest_list(&roster, &rec);
    let building_rows = summarize::buildings(&roster, &rec, &retest_list);
    let missing = summarize::missing(&roster, &rec);

    let file_of = |source: Source| -> String {
        match source {
            Source::Roster => name(&opts.roster),
            Source::Samples => name(&opts.samples),
            Source::Results => name(&opts.results),
            Source::Retests => opts.retests.as_deref().map(name).unwrap_or_default(),
        }
    };
    let counts = [
        building_rows.len(),
        retest_list.len(),
        retest_list.len(),
        missing.len(),
        rec.tubes.len(),
        rec.anomalies.len(),
        rejects.len(),
    ];
    let mut staging = Staging::new(&opts.out)?;
    write_tables(
        &mut staging,
        &roster,
        &rec,
        &retest_list,
        &building_rows,
        &missing,
        &rejects,
        &file_of,
    )?;
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: iso_local(started),
        finished_at: iso_local(now_micros()),
        rounds: rec.rounds.iter().map(|r| r.to_string()).collect(),
        inputs: reports
            .iter()
            .map(|(role, r)| InputEntry::new(role, r))
            .collect(),
        rules: RulesEntry::new(
            &rules,
            opts.rules.as_deref().map(name),
            opts.pool_size,
            &default_round,
        ),
        outputs: OUTPUT_FILES[..7]
            .iter()
            .zip(counts)
            .map(|(f, n)| OutputEntry {
                file: f.to_string(),
                rows: n as u64,
            })
            .collect(),
        totals: totals(
            &roster,
            &rec,
            &building_rows,
            retest_list.len(),
            rejects.len(),
        ),
    };
    staging.write("manifest.json", |out| {
        serde_json::to_writer_pretty(&mut *out, &manifest)
            .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
        std::io::Write::write_all(out, b"\n").map_err(|e| Error::io(&opts.out, e))
    })?;
    staging.commit()?;

    let buildings = building_rows
        .into_iter()
        .map(|b| {
            (
                rec.rounds[b.round as usize].to_string(),
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

#[allow(clippy::too_many_arguments)]
fn write_tables(
    staging: &mut Staging,
    roster: &Roster,
    rec: &Reconciled,
    retest_list: &[retest::Entry],
    building_rows: &[BuildingRow],
    missing: &[MissingEntry],
    rejects: &[(String, Reject)],
    file_of: &dyn Fn(Source) -> String,
) -> Result<()> {
    staging.write("buildings.parquet", |out| {
        export::write_parquet(out, export::buildings_frame(roster, rec, building_rows)?)
    })?;
    let rows = export::retest_rows(roster, rec, retest_list);
    staging.write("retest.parquet", |out| {
        export::write_parquet(out, export::retest_frame(&rows)?)
    })?;
    staging.write("retest.csv", |out| export::write_retest_csv(out, &rows))?;
    staging.write("missing.parquet", |out| {
        export::write_parquet(out, export::missing_frame(roster, rec, missing)?)
    })?;
    staging.write("tubes.parquet", |out| {
        export::write_parquet(out, export::tubes_frame(roster, rec)?)
    })?;
    staging.write("anomalies.parquet", |out| {
        export::write_parquet(out, export::anomalies_frame(rec, file_of)?)
    })?;
    staging.write("rejects.csv", |out| export::write_rejects_csv(out, rejects))?;
    Ok(())
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
        people: roster.people.len() as u64,
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
            "csv" => {}
            "xlsx" | "xls" => {
                return Err(Error::Usage(format!(
                    "{}: Excel files are not supported yet; in Excel or WPS use Save As → \"CSV UTF-8\" and pass the .csv file",
                    name(path)
                )))
            }
            _ => return Err(Error::Usage(format!("{}: poolscreen reads .csv files; this file's extension is not .csv", name(path)))),
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

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn iso_local(micros: i64) -> String {
    values::format_local(micros).replacen(' ', "T", 1) + "+08:00"
}
