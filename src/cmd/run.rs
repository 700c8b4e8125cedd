//! `poolscreen run`.

use crate::error::Result;
use crate::pipeline::{self, RunOptions};
use crate::privacy::Privacy;
use crate::rules::Rules;
use clap::Args;
use std::path::PathBuf;

/// Reconcile one round: read the roster, samples and results (CSV or Excel), and write the retest
/// list, the missing list, tubes, per-building figures, anomalies, rejects and a manifest
/// into --out.
///
/// Exit status: 0 outputs written; 1 fatal error (no outputs changed); 2 usage error;
/// 3 outputs written but --strict was given and some input rows were rejected.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The roster (花名册): one row per person.
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// The sampling records (采样记录): one row per person swabbed into a tube.
    #[arg(long, value_name = "FILE")]
    pub samples: PathBuf,
    /// The lab results (检测结果): one row per tube, Ct values and/or the lab's call.
    #[arg(long, value_name = "FILE")]
    pub results: PathBuf,
    /// Individual retest results (复核结果), with person_id: close the retest list
    /// (closure.parquet; cleared, confirmed, overdue). A call may be pending (待检).
    #[arg(long, value_name = "FILE")]
    pub retests: Option<PathBuf>,
    /// The folder for the outputs; created if needed. Earlier outputs are replaced whole
    /// or not at all.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The round label for samples without a round column [default: the date of the
    /// earliest sample, YYYY-MM-DD; with no sample, of the earliest result or retest
    /// time, else "undated"].
    #[arg(long, value_name = "ID", value_parser = round_label)]
    pub round: Option<String>,
    /// The most people a tube may hold in this round (10 for 10合1, 20 for 20合1; 1 to
    /// 1,000).
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: u32,
    /// A TOML file overriding the rules: cutoff (default 40), grey_above (unset),
    /// ic_cutoff (default 40), each a Ct; resample_within (default 6) and result_within
    /// (default 12), each in hours.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Worker threads [default: the machine's cores]. Outputs are identical for any
    /// value.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Exit with status 3 when any input row was rejected (outputs are still written).
    #[arg(long)]
    pub strict: bool,
    /// The sheet to read in Excel inputs [default: the first visible sheet of each
    /// workbook].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Mask names (张*三), phones (138****1234) and ID card numbers (first 6 and last 4)
    /// in every output, rejects.csv's raw rows included.
    #[arg(long)]
    pub mask: bool,
    /// Replace person_id in every output by HMAC-SHA256 under the secret key in KEYFILE
    /// (hex, at least 32 bytes), 16 hex characters: the same key gives the same
    /// pseudonyms in every round.
    #[arg(long, value_name = "KEYFILE")]
    pub pseudonymize: Option<PathBuf>,
    /// Judge the retest deadlines at this local time, "YYYY-MM-DD HH:MM" [default: the
    /// latest timestamp in any input, never the clock, so a rerun gives the same bytes].
    #[arg(long, value_name = "TIME", value_parser = local_time)]
    pub as_of: Option<i64>,
    /// Also publish the round into DIR/rounds/<round>/ for `poolscreen history`; a rerun
    /// replaces the round there in one step, other rounds are never touched.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Publish as district NAME of a larger area: into
    /// DIR/rounds/<round>/shard=<NAME>/, every table with a shard column. Needs --history.
    #[arg(long, value_name = "NAME", requires = "history")]
    pub shard: Option<String>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// A local China Standard Time from the command line, in any of the inputs' timestamp
/// forms.
pub fn local_time(text: &str) -> std::result::Result<i64, String> {
    crate::time::timestamp(text.trim()).map_err(|_| {
        "expected a local time like \"2022-04-10 18:00\" (YYYY-MM-DD HH:MM[:SS], China Standard Time)".to_string()
    })
}

impl RunArgs {
    /// Checks the arguments once and turns them into the options of a run: the rules
    /// file is read and checked, the key read, the input files' kinds and the output
    /// folder checked, before any input is read.
    pub fn check(self) -> Result<RunOptions> {
        let rules = match &self.rules {
            Some(path) => Rules::from_file(path, &pipeline::name(path))?,
            None => Rules::default(),
        };
        let opts = RunOptions {
            privacy: Privacy::new(self.mask, self.pseudonymize.as_deref())?,
            rules,
            rules_file: self.rules.as_deref().map(pipeline::name),
            roster: self.roster,
            samples: self.samples,
            results: self.results,
            retests: self.retests,
            out: self.out,
            round: self.round,
            pool_size: self.pool_size as usize,
            quiet: self.quiet,
            sheet: self.sheet,
            as_of: self.as_of,
            history: self.history,
            shard: self.shard,
        };
        if let Some(shard) = &opts.shard {
            crate::history::check_shard_name(shard)?;
        }
        pipeline::check_inputs(&opts.inputs(), &opts.out, &crate::export::OUTPUT_FILES)?;
        pipeline::check_out_folder(&opts.out, opts.history.as_deref())?;
        Ok(opts)
    }
}

/// Runs `poolscreen run`.
pub fn run(args: RunArgs) -> Result<i32> {
    let (threads, strict) = (args.threads, args.strict);
    let opts = args.check()?;
    // The budget is the inputs' bytes: the peak a city round is held to.
    let input_bytes = opts
        .inputs()
        .iter()
        .filter_map(|(_, path)| std::fs::metadata(path).ok())
        .map(|m| m.len())
        .sum();
    let summary = super::with_budget(threads.map(usize::from), Some(input_bytes), || {
        pipeline::run(&opts)
    })?;
    if !opts.quiet {
        let t = &summary.manifest.totals;
        crate::say!(
            "poolscreen: {} round(s), {} tubes ({} positive, {} suspect, {} invalid, {} pending); {} to retest, {} missing, {} anomalies, {} rejected rows; outputs in {}",
            summary.rounds.len(),
            t.tubes,
            t.positive_tubes,
            t.suspect_tubes,
            t.invalid_tubes,
            t.pending_tubes,
            t.to_retest,
            t.missing,
            t.anomalies,
            t.rejected_rows,
            opts.out.display()
        );
    }
    if summary.positive_orphans > 0 && !opts.quiet {
        crate::say!(
            "poolscreen: warning: {} result row(s) call a tube positive that no accepted sample row has (orphan_result in anomalies.parquet); nobody is on the retest list for them: check the tube IDs, and rejects.csv",
            summary.positive_orphans
        );
    }
    Ok(if strict && summary.rejected > 0 { 3 } else { 0 })
}

/// A `--round` label, trimmed and normalised as every value of a file is (so that it
/// matches a results file's round column); not blank.
fn round_label(text: &str) -> std::result::Result<String, String> {
    let label = crate::normalize::clean(text);
    if label.is_empty() {
        return Err("a round label cannot be empty".into());
    }
    Ok(label.into_owned())
}
