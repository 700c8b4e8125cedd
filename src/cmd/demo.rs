//! `poolscreen demo`: a campus like the seed's, a whole campaign end to end.

use crate::error::{Error, Result};
use crate::export::OUTPUT_FILES;
use crate::generate::{generate, GenerateOptions};
use crate::history::{self, HistoryOptions, HISTORY_FILES};
use crate::pipeline::{self, RunOptions};
use crate::privacy::Privacy;
use clap::Args;
use std::path::PathBuf;

/// Generate a campus like the seed's (28 buildings, about 30,000 people, 10-in-1 pools,
/// isolation building 公寓25 with single tubes) over three rounds, with the individual
/// retests of the first two; reconcile the rounds, publish them into a history, and
/// print the per-building figures of the latest round and who has missed two rounds
/// running.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The folder for the generated inputs (in input/), the outputs, the history (in
    /// history/) and its outputs (in history-out/).
    #[arg(long, value_name = "DIR", default_value = "poolscreen-demo")]
    pub out: PathBuf,
}

/// Runs `poolscreen demo`.
pub fn run(args: DemoArgs) -> Result<i32> {
    // Said of the folder asked for, not of the `input/` folder that could not be made
    // in a file.
    if args.out.is_file() {
        return Err(Error::output_is_file(&args.out));
    }
    let input = args.out.join("input");
    let gen = GenerateOptions {
        out: input.clone(),
        people: 30_000,
        buildings: 28,
        pool_size: 10,
        prevalence: 0.0005,
        rounds: 3,
        seed: 20_220_427,
        dirty: false,
        retest_rounds: 2,
        order: Default::default(),
        shards: 1,
        roster_order: Default::default(),
    };
    let mut opts = RunOptions::for_folder(&input, &args.out);
    opts.retests = Some(input.join("retests.csv"));
    let history_dir = args.out.join("history");
    opts.history = Some(history_dir.clone());
    let history_opts = HistoryOptions {
        history: history_dir.clone(),
        out: args.out.join("history-out"),
        streak: 2,
        as_of: None,
        privacy: Privacy::default(),
    };
    let (summary, campaign) = super::with_threads(None, || {
        generate(&gen)?;
        let summary = pipeline::run(&opts)?;
        let campaign = history::run(&history_opts)?;
        Ok((summary, campaign))
    })?;
    let latest = summary.rounds.last().cloned().unwrap_or_default();
    crate::tell!(
        "poolscreen demo: rounds {}; figures of round {latest}",
        summary.rounds.join(", ")
    );
    crate::tell!();
    crate::tell!(
        "{}  {:>8} {:>8} {:>8} {:>9} {:>6} {:>9} {:>8} {:>9} {:>7} {:>5}",
        pad("building", 10),
        "expected",
        "sampled",
        "missing",
        "coverage",
        "tubes",
        "positive",
        "suspect",
        "to_retest",
        "cleared",
        "open"
    );
    for (_, building, b) in summary.buildings().filter(|(r, _, _)| *r == latest) {
        crate::tell!(
            "{}  {:>8} {:>8} {:>8} {:>8.1}% {:>6} {:>9} {:>8} {:>9} {:>7} {:>5}",
            pad(building, 10),
            b.expected,
            b.sampled,
            b.missing(),
            b.coverage().unwrap_or(0.0) * 100.0,
            b.tubes,
            b.positive_tubes,
            b.suspect_tubes,
            b.to_retest,
            b.cleared,
            b.open_retests
        );
    }
    let t = &summary.manifest.totals;
    crate::tell!();
    crate::tell!(
        "over {} rounds: {} people, {} tubes ({} positive, {} suspect); {} to retest, {} missing, {} anomalies",
        summary.rounds.len(),
        t.people,
        t.tubes,
        t.positive_tubes,
        t.suspect_tubes,
        t.to_retest,
        t.missing,
        t.anomalies
    );
    crate::tell!(
        "{} people missed the last two rounds or more running (应检未检): see {}",
        campaign.persistent,
        history_opts.out.join("persistent_missing.xlsx").display()
    );
    crate::tell!();
    crate::tell!("inputs:   {}", input.display());
    for file in OUTPUT_FILES {
        crate::tell!("output:   {}", args.out.join(file).display());
    }
    crate::tell!("history:  {}", history_dir.join("rounds").display());
    for file in HISTORY_FILES {
        crate::tell!("campaign: {}", history_opts.out.join(file).display());
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
