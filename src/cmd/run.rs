//! `poolscreen run`.

use crate::error::Result;
use crate::pipeline::{self, RunOptions};
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
    /// Individual retest results (复核结果), with person_id; fills confirmed_positive.
    #[arg(long, value_name = "FILE")]
    pub retests: Option<PathBuf>,
    /// The folder for the outputs; created if needed. Earlier outputs are replaced whole
    /// or not at all.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The round label for samples without a round column [default: the date of the
    /// earliest sample, YYYY-MM-DD].
    #[arg(long, value_name = "ID")]
    pub round: Option<String>,
    /// The most people a tube may hold in this round (10 for 10合1, 20 for 20合1).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub pool_size: usize,
    /// A TOML file overriding the Ct rules: cutoff (default 40), grey_above (unset),
    /// ic_cutoff (default 40).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Worker threads [default: the machine's cores]. Outputs are identical for any
    /// value.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Exit with status 3 when any input row was rejected (outputs are still written).
    #[arg(long)]
    pub strict: bool,
    /// The sheet to read in Excel inputs [default: the first sheet of each workbook].
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
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `poolscreen run`.
pub fn run(args: RunArgs) -> Result<i32> {
    let opts = RunOptions {
        roster: args.roster,
        samples: args.samples,
        results: args.results,
        retests: args.retests,
        out: args.out,
        round: args.round,
        pool_size: args.pool_size,
        rules: args.rules,
        quiet: args.quiet,
        sheet: args.sheet,
        mask: args.mask,
        pseudonymize: args.pseudonymize,
    };
    let summary = super::with_threads(args.threads, || pipeline::run(&opts))?;
    if !args.quiet {
        let t = &summary.manifest.totals;
        eprintln!(
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
    Ok(if args.strict && summary.rejected > 0 {
        3
    } else {
        0
    })
}
