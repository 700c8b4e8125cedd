//! `manifest.json`: what a run read, with which rules, and what it wrote.

use super::staging::Staging;
use crate::error::{Error, Result};
use crate::ingest::roster::Roster;
use crate::ingest::InputReport;
use crate::reconcile::Reconciled;
use crate::record::Class;
use crate::rules::Rules;
use crate::summarize::BuildingRow;
use serde::Serialize;

/// The manifest of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// poolscreen's version.
    pub version: String,
    /// When the run started, ISO 8601 in China Standard Time.
    pub started_at: String,
    /// When the run finished writing, ISO 8601 in China Standard Time.
    pub finished_at: String,
    /// The rounds of the run, in natural order.
    pub rounds: Vec<String>,
    /// Every input file.
    pub inputs: Vec<InputEntry>,
    /// The interpretation rules in force.
    pub rules: RulesEntry,
    /// The protections of personal data applied to the outputs.
    pub privacy: Vec<String>,
    /// Every output file with its row count.
    pub outputs: Vec<OutputEntry>,
    /// Totals over all rounds.
    pub totals: Totals,
}

/// One input file in the manifest.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct InputEntry {
    /// `roster`, `samples`, `results` or `retests`.
    pub role: String,
    /// The file as named on the command line.
    pub path: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The detected encoding.
    pub encoding: String,
    /// Rows after the header, blank rows not counted.
    pub rows_read: u64,
    /// Rows used.
    pub rows_accepted: u64,
    /// Rows written to `rejects.csv`.
    pub rows_rejected: u64,
    /// The sheet read, for a workbook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
}

impl InputEntry {
    /// The manifest entry of an ingested file.
    pub fn new(role: &str, report: &InputReport) -> InputEntry {
        InputEntry {
            role: role.to_string(),
            path: report.path.clone(),
            sha256: report.sha256.clone(),
            bytes: report.bytes,
            encoding: report.encoding.as_str().to_string(),
            rows_read: report.rows_read,
            rows_accepted: report.rows_accepted,
            rows_rejected: report.rows_rejected,
            sheet: report.sheet.clone(),
        }
    }
}

/// The rules in force, with where they came from.
#[derive(Clone, Debug, Serialize)]
pub struct RulesEntry {
    /// The rules file, or `null` for the defaults.
    pub file: Option<String>,
    /// Ct cutoff for a detected target, in cycles.
    pub cutoff: f64,
    /// Ct above which two detected targets are only suspect, if set.
    pub grey_above: Option<f64>,
    /// Ct cutoff for the internal control.
    pub ic_cutoff: f64,
    /// Hours from a pool's test to the individual swabs.
    pub resample_within: f64,
    /// Hours from an individual swab to its result.
    pub result_within: f64,
    /// The moment deadlines were judged at: `--as-of`, or the latest timestamp of the
    /// inputs; ISO 8601 in China Standard Time.
    pub as_of: String,
    /// The most people a tube may hold.
    pub pool_size: usize,
    /// The round label used for rows without one.
    pub default_round: String,
}

impl RulesEntry {
    /// The manifest entry for `rules`.
    pub fn new(
        rules: &Rules,
        file: Option<String>,
        pool_size: usize,
        default_round: &str,
        as_of: String,
    ) -> RulesEntry {
        RulesEntry {
            file,
            cutoff: rules.cutoff,
            grey_above: rules.grey_above,
            ic_cutoff: rules.ic_cutoff,
            resample_within: rules.resample_within,
            result_within: rules.result_within,
            as_of,
            pool_size,
            default_round: default_round.to_string(),
        }
    }
}

/// One output file and its rows.
#[derive(Clone, Debug, Serialize)]
pub struct OutputEntry {
    /// The file name in the output folder.
    pub file: String,
    /// Data rows (header not counted).
    pub rows: u64,
}

/// Totals over every round of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// People on the roster.
    pub people: u64,
    /// Expected person-rounds (people not on leave, times rounds).
    pub expected: u64,
    /// Expected person-rounds with a sample.
    pub sampled: u64,
    /// Expected person-rounds without a sample.
    pub missing: u64,
    /// Tubes (round × tube).
    pub tubes: u64,
    /// Positive tubes.
    pub positive_tubes: u64,
    /// Suspect tubes.
    pub suspect_tubes: u64,
    /// Invalid tubes.
    pub invalid_tubes: u64,
    /// Tubes without a result.
    pub pending_tubes: u64,
    /// Rows of the retest list.
    pub to_retest: u64,
    /// Findings in `anomalies.parquet`.
    pub anomalies: u64,
    /// Rows in `rejects.csv`.
    pub rejected_rows: u64,
}

/// The totals of a round's figures.
pub fn totals(
    roster: &Roster,
    rec: &Reconciled,
    buildings: &[BuildingRow],
    to_retest: usize,
    rejected: usize,
) -> Totals {
    let sum = |f: fn(&BuildingRow) -> u32| buildings.iter().map(|b| u64::from(f(b))).sum::<u64>();
    // The tubes of each class, counted in one pass: a round of single tubes has ten
    // million, which a pass a class read four times over.
    let mut by_class = [0u64; Class::ALL.len()];
    for tube in &rec.tubes {
        by_class[tube.class() as usize] += 1;
    }
    let class = |c: Class| by_class[c as usize];
    Totals {
        people: roster.len() as u64,
        expected: sum(|b| b.expected),
        sampled: sum(|b| b.sampled),
        missing: sum(BuildingRow::missing),
        tubes: rec.tubes.len() as u64,
        positive_tubes: class(Class::Positive),
        suspect_tubes: class(Class::Suspect),
        invalid_tubes: class(Class::Invalid),
        pending_tubes: class(Class::Pending),
        to_retest: to_retest as u64,
        anomalies: (rec.anomalies.len() + rec.row_findings.len()) as u64,
        rejected_rows: rejected as u64,
    }
}

/// Writes `manifest.json` into `staging`.
pub fn write(staging: &Staging, manifest: &Manifest) -> Result<()> {
    staging.write("manifest.json", |out| {
        serde_json::to_writer_pretty(&mut *out, manifest)
            .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
        std::io::Write::write_all(out, b"\n").map_err(|e| Error::Internal(format!("manifest: {e}")))
    })
}
