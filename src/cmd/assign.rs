//! `poolscreen assign`.

use crate::assign;
use crate::error::{Error, Position, Result};
use crate::export::rows::{plan_columns, Plan, PlanRow};
use crate::export::staging::Staging;
use crate::export::{csv, plan_file, workbook};
use crate::pipeline;
use crate::privacy::Privacy;
use crate::progress::Progress;
use clap::Args;
use std::path::PathBuf;

/// Write the sampling plan of a round from the roster: a tube holds one building's
/// people; each building uses ⌈n/K⌉ pooled tubes, filled in room order so that
/// roommates share a tube and a room is split over at most two tubes; people of a
/// priority group (status isolated, or a group column: key_area 重点地区, close_contact
/// 密接, fever 发热) get a tube of their own; people on leave are left out. Writes
/// plan.csv, plan.parquet and plan.xlsx (a sheet per building, a column for the tube's
/// barcode label) into --out, with rejects.csv: the roster rows rejected, whose people
/// the plan leaves out until their rows are fixed.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The roster (花名册).
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// The most people a pooled tube holds (10 for 10合1, 20 for 20合1; 2 to 1,000).
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub pool_size: u32,
    /// The folder for the plan; created if needed.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The sheet to read in an Excel roster [default: the first visible one].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Mask names in the plan (张*三).
    #[arg(long)]
    pub mask: bool,
    /// Replace person_id by HMAC-SHA256 under the key in KEYFILE.
    #[arg(long, value_name = "KEYFILE")]
    pub pseudonymize: Option<PathBuf>,
    /// Worker threads [default: the machine's cores]. The plan is identical for any
    /// value.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// The plan's files: the plan, and the roster rows rejected (people the plan leaves
/// out until their rows are fixed).
pub const PLAN_FILES: [&str; 4] = ["plan.parquet", "plan.csv", "plan.xlsx", "rejects.csv"];

/// Runs `poolscreen assign`.
pub fn run(args: AssignArgs) -> Result<i32> {
    let privacy = Privacy::new(args.mask, args.pseudonymize.as_deref())?;
    pipeline::check_inputs(
        &[(crate::record::InputKind::Roster, &args.roster)],
        &args.out,
        &PLAN_FILES,
    )?;
    pipeline::check_out_folder(&args.out, None)?;
    let k = args.pool_size as usize;
    // Stages are timed with POOLSCREEN_TIMINGS, as a run's are.
    let progress = Progress::new(args.quiet);
    let (tubes, people) = super::with_threads(args.threads.map(usize::from), || {
        let stage = progress.stage("roster");
        // Every name is printed: they are kept in the same pass.
        let (roster, report, rejects) =
            pipeline::load_roster_for_plan(&args.roster, args.sheet.as_deref())?;
        debug_assert!(roster.is_empty() || roster.name(0).is_some(), "names kept");
        drop(stage);
        // Rejected rows are people the plan leaves out: said, and listed in rejects.csv.
        if !args.quiet {
            pipeline::say_counts(&report);
        }
        let file = report.display();
        let stage = progress.stage("assignment");
        let slots = assign::assign(&roster, k);
        drop(stage);
        if slots.is_empty() {
            // No plan is written, so no rejects.csv: the first reasons are said here.
            let reasons: Vec<String> = rejects
                .iter()
                .take(3)
                .map(|r| {
                    let at = Position {
                        line: Some(r.line),
                        column: Some(r.column().to_string()).filter(|c| !c.is_empty()),
                        byte: None,
                    };
                    format!("{file}{at}: {}", r.reason())
                })
                .collect();
            let first = match reasons.len() {
                0 => String::new(),
                n => format!(
                    "; {} rows rejected, the first {n}:\n  {}",
                    rejects.len(),
                    reasons.join("\n  ")
                ),
            };
            return Err(Error::Usage(format!(
                "{}: the roster has nobody to sample (everyone is on leave, or nobody was accepted){first}",
                args.roster.display()
            )));
        }
        let people = slots.len();
        let stage = progress.stage("rows");
        let plan = Plan::new(&roster, &slots, &privacy);
        let rows = plan.rows();
        drop(stage);
        let columns = plan_columns();
        // The files are written side by side: one spinner for all, each file timed.
        let _writing = progress.stage("files");
        let files = Progress::new(true);
        let staging = Staging::new(&args.out, &PLAN_FILES)?;
        // The workbook is the slowest: it is written beside the other two.
        let (book, others) = rayon::join(
            || {
                let _stage = files.stage("plan.xlsx");
                staging.write("plan.xlsx", |out| {
                    workbook::write_list(out, &columns, &rows, Some(PlanRow::building_of))
                })
            },
            || -> Result<()> {
                let stage = files.stage("plan.parquet");
                staging.write("plan.parquet", |out| plan_file::write(out, &plan))?;
                drop(stage);
                let stage = files.stage("plan.csv");
                staging.write("plan.csv", |out| csv::write_list(out, &columns, &rows))?;
                drop(stage);
                staging.write("rejects.csv", |out| {
                    csv::write_rejects(out, &rejects, |r| (&file, &report.columns, r), &privacy)
                })
            },
        );
        book?;
        others?;
        staging.commit()?;
        // Slots come by building and tube.
        let tubes = slots
            .chunk_by(|a, b| {
                a.tube == b.tube
                    && roster.building.get(a.person as usize)
                        == roster.building.get(b.person as usize)
            })
            .count();
        Ok((tubes, people))
    })?;
    if !args.quiet {
        crate::say!(
            "poolscreen: {people} people in {tubes} tubes ({k} a pooled tube at most); plan in {}",
            args.out.display()
        );
    }
    Ok(0)
}
