//! `poolscreen generate`.

use crate::error::Result;
use crate::generate::{generate, GenerateOptions, Order, RosterOrder};
use clap::Args;
use std::path::PathBuf;

/// Write a synthetic round: roster.csv, samples.csv, results.csv, retests.csv (the
/// individual retests of positive and suspect tubes: most cleared, some pending, some
/// late, some invalid, some not yet swabbed), and the truth behind them: truth.csv (per
/// round, every person infected or not sampled), closure.csv (each retested person's
/// closure state) and streaks.csv (rounds missed running). The same seed gives the same
/// files.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The folder to write into; created if needed.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// People on the roster.
    #[arg(long, value_name = "N", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub people: u64,
    /// Dormitory buildings (公寓1…); with 25 or more, 公寓25 is a small isolation
    /// building with single tubes [default: 28 up to 30,000 people (a campus), else one
    /// building for about 1,000 people (a city)].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub buildings: Option<u32>,
    /// The order of the sample rows: by sampling time as a city platform exports them
    /// (tubes of many buildings interleave), grouped by tube, or shuffled.
    #[arg(long, value_enum, default_value_t = Order::Time)]
    pub order: Order,
    /// The order of the roster's rows: building by building, or shuffled (as an export
    /// sorted by something else comes).
    #[arg(long, value_enum, default_value_t = RosterOrder::Building, conflicts_with = "shards")]
    pub roster_order: RosterOrder,
    /// People per pooled tube.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: u32,
    /// The share of people infected, between 0 and 1.
    #[arg(long, value_name = "P", default_value_t = 0.0005)]
    pub prevalence: f64,
    /// Rounds; with more than one, samples and results carry a round column.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// The random seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Messy files (GB18030 roster with shuffled Chinese headers, BOM samples with mixed
    /// timestamp forms, every no-Ct spelling) with bad rows and ten kinds of anomaly,
    /// each listed in faults.csv (docs/formats.md lists them).
    #[arg(long, conflicts_with = "shards")]
    pub dirty: bool,
    /// Split one round into N districts, an input folder each (DIR/d1, DIR/d2, …:
    /// roster, samples, results, retests; buildings dealt out in order), with the
    /// frictions of real borders: per pair of neighbouring districts a person swabbed
    /// only in the next district and one swabbed in both, and one tube barcode used in
    /// d1 and d2, all listed in DIR/cross_border.csv; the whole round's truth.csv,
    /// closure.csv and streaks.csv stay in DIR.
    #[arg(long, value_name = "N", conflicts_with = "rounds",
          value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub shards: Option<u32>,
    /// Worker threads [default: the machine's cores]. Files are identical for any value.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// Runs `poolscreen generate`.
pub fn run(args: GenerateArgs) -> Result<i32> {
    let opts = GenerateOptions {
        out: args.out,
        people: args.people as usize,
        buildings: args
            .buildings
            .map_or_else(|| default_buildings(args.people as usize), |b| b as usize),
        pool_size: args.pool_size as usize,
        prevalence: args.prevalence,
        rounds: args.rounds as usize,
        seed: args.seed,
        dirty: args.dirty,
        retest_rounds: usize::MAX,
        order: args.order,
        shards: args.shards.map_or(1, |n| n as usize),
        roster_order: args.roster_order,
    };
    let generated = super::with_threads(args.threads.map(usize::from), || generate(&opts))?;
    let districts = if opts.shards > 1 {
        format!(" in {} districts (d1 to d{})", opts.shards, opts.shards)
    } else {
        String::new()
    };
    crate::say!(
        "poolscreen: wrote {} people ({} infected) in {} building(s), {} round(s){districts} to {}",
        generated.people,
        generated.infected,
        opts.buildings,
        opts.rounds,
        opts.out.display()
    );
    Ok(0)
}

/// The buildings of a generated round of `people`: the seed's 28 for a campus, about a
/// thousand people a building for a city.
pub fn default_buildings(people: usize) -> usize {
    if people <= 30_000 {
        28.min(people.max(1))
    } else {
        people.div_ceil(1000)
    }
}
