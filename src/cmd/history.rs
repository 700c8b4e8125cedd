//! `poolscreen history`.

use crate::error::Result;
use crate::history::{self, HistoryOptions};
use crate::privacy::Privacy;
use clap::Args;
use std::path::PathBuf;

/// Follow every person across the rounds published with `run --history DIR`: who has
/// missed rounds running (应检未检), who still has an open retest, and how each building
/// did round after round. Writes people_history.parquet, persistent_missing.parquet and
/// .xlsx, trend.parquet and a manifest into --out.
///
/// Rounds are ordered by their earliest sample. A round that is damaged (a file whose
/// SHA-256 does not match its manifest) or written in another history format is an
/// error naming the round.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The history folder: the DIR given to `run --history`.
    #[arg(long, value_name = "DIR")]
    pub history: PathBuf,
    /// The folder for the outputs; created if needed.
    #[arg(long, value_name = "OUT")]
    pub out: PathBuf,
    /// The fewest rounds missed running that put a person on persistent_missing.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub streak: u32,
    /// The history as it stood at this local time, "YYYY-MM-DD HH:MM": rounds whose
    /// earliest sample is later are left out [default: every round].
    #[arg(long, value_name = "TIME", value_parser = super::run::local_time)]
    pub as_of: Option<i64>,
    /// Mask names, phones, counselors and person_ids that are resident ID numbers in
    /// the outputs (people are joined by the whole ID first).
    #[arg(long)]
    pub mask: bool,
    /// Replace person_id by HMAC-SHA256 under the key in KEYFILE: the key the rounds
    /// were published with, or the key to pseudonymise plain rounds with.
    #[arg(long, value_name = "KEYFILE")]
    pub pseudonymize: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `poolscreen history`.
pub fn run(args: HistoryArgs) -> Result<i32> {
    crate::pipeline::check_out_folder(&args.out, Some(&args.history))?;
    let opts = HistoryOptions {
        privacy: Privacy::new(args.mask, args.pseudonymize.as_deref())?,
        history: args.history,
        out: args.out,
        streak: i64::from(args.streak),
        as_of: args.as_of,
    };
    let summary = super::with_threads(None, || history::run(&opts))?;
    if !args.quiet {
        crate::say!(
            "poolscreen: {} round(s); {} people missed {} or more rounds running; outputs in {}",
            summary.manifest.rounds.len(),
            summary.persistent,
            opts.streak,
            opts.out.display()
        );
    }
    Ok(0)
}
