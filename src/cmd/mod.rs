//! The command line: one module per subcommand, each a small layer over the library.

pub mod assign;
pub mod demo;
pub mod generate;
pub mod history;
pub mod plan;
pub mod run;

use crate::error::{Error, Result};
use clap::{Parser, Subcommand};

/// Reconciles pooled nucleic-acid screening rounds (混采核酸检测): roster + samples + lab
/// results in; retest list, missing list (漏采) and per-building figures out.
#[derive(Debug, Parser)]
#[command(name = "poolscreen", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Reconcile one round's files and write the outputs.
    Run(run::RunArgs),
    /// Follow every person across the rounds of a history folder.
    History(history::HistoryArgs),
    /// Choose the next round's pool size from the group-testing science.
    Plan(plan::PlanArgs),
    /// Write the next round's sampling plan from the roster: tubes by building and room.
    Assign(assign::AssignArgs),
    /// Generate a campus like the seed's (28 buildings, about 30,000 people) and run it end to end.
    Demo(demo::DemoArgs),
    /// Write a synthetic round (roster, samples, results, truth) from a seed.
    Generate(generate::GenerateArgs),
}

/// Runs a parsed command line; returns the exit status.
pub fn main(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::History(args) => history::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Assign(args) => assign::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Generate(args) => generate::run(args),
    }
}

/// Runs `work` on a rayon pool of `threads` threads (default: the machine's cores).
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    with_budget(threads, None, work)
}

/// [`with_threads`], within a memory budget for reading `input_bytes` when given
/// ([`crate::memory::Budget`]).
pub fn with_budget<T: Send>(
    threads: Option<usize>,
    input_bytes: Option<u64>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Internal(format!("cannot start {threads} threads: {e}")))?;
    let pool = std::sync::Arc::new(pool);
    let budget = input_bytes.and_then(|bytes| crate::memory::Budget::start(bytes, pool.clone()));
    let done = pool.install(work);
    drop(budget);
    done
}
