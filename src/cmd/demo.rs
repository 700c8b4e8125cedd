//! `poolscreen demo`: a campus like the seed's, end to end.

use crate::error::Result;
use crate::export::OUTPUT_FILES;
use crate::generate::{generate, GenerateOptions};
use crate::pipeline::{self, RunOptions};
use clap::Args;
use std::path::PathBuf;

/// Generate a campus like the seed's (28 buildings, about 30,000 people, 10-in-1 pools,
/// isolation building 公寓25 with single tubes, a few positive and suspect pools), run
/// the pipeline on it, and print the per-building figures.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The folder for the generated inputs (in input/) and the outputs.
    #[arg(long, value_name = "DIR", default_value = "poolscreen-demo")]
    pub out: PathBuf,
}

/// Runs `poolscreen demo`.
pub fn run(args: DemoArgs) -> Result<i32> {
    let input = args.out.join("input");
    let gen = GenerateOptions {
        out: input.clone(),
        people: 30_000,
        buildings: 28,
        pool_size: 10,
        prevalence: 0.0005,
        rounds: 1,
        seed: 20_220_427,
        dirty: false,
    };
    let opts = RunOptions::for_folder(&input, &args.out);
    let summary = super::with_threads(None, || {
        generate(&gen)?;
        pipeline::run(&opts)
    })?;
    println!("poolscreen demo: round {}", summary.rounds.join(", "));
    println!();
    println!(
        "{}  {:>8} {:>8} {:>8} {:>9} {:>6} {:>9} {:>8} {:>9}",
        pad("building", 10),
        "expected",
        "sampled",
        "missing",
        "coverage",
        "tubes",
        "positive",
        "suspect",
        "to_retest"
    );
    for (_, building, b) in &summary.buildings {
        println!(
            "{}  {:>8} {:>8} {:>8} {:>8.1}% {:>6} {:>9} {:>8} {:>9}",
            pad(building, 10),
            b.expected,
            b.sampled,
            b.missing,
            b.coverage.unwrap_or(0.0) * 100.0,
            b.tubes,
            b.positive_tubes,
            b.suspect_tubes,
            b.to_retest
        );
    }
    let t = &summary.manifest.totals;
    println!();
    println!(
        "{} people, {} tubes: {} positive, {} suspect; {} to retest, {} missing, {} anomalies",
        t.people, t.tubes, t.positive_tubes, t.suspect_tubes, t.to_retest, t.missing, t.anomalies
    );
    println!();
    println!("inputs:  {}", input.display());
    for file in OUTPUT_FILES {
        println!("output:  {}", args.out.join(file).display());
    }
    Ok(0)
}

/// Pads `text` to `width` terminal columns; CJK characters take two.
fn pad(text: &str, width: usize) -> String {
    let used: usize = text
        .chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}
