//! `poolscreen generate`.

use crate::error::Result;
use crate::generate::{generate, GenerateOptions};
use clap::Args;
use std::path::PathBuf;

/// Write a synthetic round: roster.csv, samples.csv, results.csv and truth.csv (per
/// round, every person infected or not sampled). The same seed gives the same files.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The folder to write into; created if needed.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// People on the roster.
    #[arg(long, value_name = "N", default_value_t = 30_000)]
    pub people: usize,
    /// Dormitory buildings (公寓1…); with 25 or more, 公寓25 is a small isolation
    /// building with single tubes.
    #[arg(long, value_name = "N", default_value_t = 28)]
    pub buildings: usize,
    /// People per pooled tube.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub pool_size: usize,
    /// The share of people infected, between 0 and 1.
    #[arg(long, value_name = "P", default_value_t = 0.0005)]
    pub prevalence: f64,
    /// Rounds; with more than one, samples and results carry a round column.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub rounds: usize,
    /// The random seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Messy files (GB18030 roster with shuffled Chinese headers, BOM samples with mixed
    /// timestamp forms, every no-Ct spelling) with one of each bad row and anomaly,
    /// listed in faults.csv.
    #[arg(long)]
    pub dirty: bool,
    /// Worker threads [default: the machine's cores]. Files are identical for any value.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Runs `poolscreen generate`.
pub fn run(args: GenerateArgs) -> Result<i32> {
    let opts = GenerateOptions {
        out: args.out,
        people: args.people,
        buildings: args.buildings,
        pool_size: args.pool_size,
        prevalence: args.prevalence,
        rounds: args.rounds,
        seed: args.seed,
        dirty: args.dirty,
    };
    let generated = super::with_threads(args.threads, || generate(&opts))?;
    eprintln!(
        "poolscreen: wrote {} people ({} infected) in {} building(s), {} round(s) to {}",
        generated.people,
        generated.infected,
        opts.buildings,
        opts.rounds,
        opts.out.display()
    );
    Ok(0)
}
