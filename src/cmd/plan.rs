//! `poolscreen plan`.

use crate::error::{Error, Result};
use crate::plan::{self, Accuracy, Algorithm};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Choose the pool size of the next round: for Dorfman two-stage, hierarchical
/// three-stage and square-array testing, the expected tests per person (and in all,
/// each building pooled apart) and the scheme's
/// sensitivity, specificity and positive predictive value at every pool size, the best
/// size of each, and the Ct shift a pool adds (log2 k: a person at --weak-ct reads that
/// much later in the pool). Formulas and their sources: `cargo doc`, module `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// People to test.
    #[arg(long, value_name = "N", conflicts_with = "roster", required_unless_present = "roster",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub people: Option<u64>,
    /// The roster: its expected people (not on leave) are the people to test.
    #[arg(long, value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// The sheet to read in an Excel roster [default: the first visible one].
    #[arg(long, value_name = "NAME", requires = "roster")]
    pub sheet: Option<String>,
    /// The share of people infected, in (0, 1).
    #[arg(long, value_name = "P", conflicts_with = "history", required_unless_present = "history",
          value_parser = open_unit)]
    pub prevalence: Option<f64>,
    /// Estimate the prevalence from the latest round of this history folder: from the
    /// share r of its pools that were positive and their mean size k,
    /// p = 1 − (1 − r)^(1/k), with a 95% interval.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// The test's sensitivity, in (0.5, 1].
    #[arg(long, value_name = "SE", default_value_t = 0.99, value_parser = accuracy)]
    pub se: f64,
    /// The test's specificity, in (0.5, 1].
    #[arg(long, value_name = "SP", default_value_t = 0.99, value_parser = accuracy)]
    pub sp: f64,
    /// The pool sizes to compare: "A..B" or a list "5,10,20"; each 2 to 1,000.
    #[arg(long, value_name = "SIZES", default_value = "2..32", value_parser = sizes)]
    pub sizes: Sizes,
    /// The Ct of a weakly positive person the round must not miss: sizes whose shift
    /// puts them past the rules' cutoff (40) are flagged.
    #[arg(long, value_name = "CT", default_value_t = 35.0, value_parser = ct_value)]
    pub weak_ct: f64,
    /// The Ct cutoff of the rules (a target is detected at Ct at most this).
    #[arg(long, value_name = "CT", default_value_t = 40.0, value_parser = ct_value)]
    pub cutoff: f64,
    /// Print JSON for programs instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Pool sizes from the command line.
#[derive(Clone, Debug)]
pub struct Sizes(pub Vec<usize>);

fn sizes(text: &str) -> std::result::Result<Sizes, String> {
    let bad = || {
        format!(
            "{text:?}: write the pool sizes as A..B (2..32) or a list (5,10,20), each at least 2"
        )
    };
    let list: Vec<usize> = match text.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse::<usize>(), b.trim().parse::<usize>());
            match (a, b) {
                // The range is listed up to 1001 at most, which the bounds below
                // refuse: `2..1e18` would not fit in memory.
                (Ok(a), Ok(b)) if a <= b => (a..=b.min(1001)).collect(),
                _ => return Err(bad()),
            }
        }
        None => text
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad())?,
    };
    if list.is_empty() || list.iter().any(|&k| !(2..=1000).contains(&k)) {
        return Err(format!(
            "{text:?}: every pool size must be at least 2 (and at most 1000)"
        ));
    }
    // Each size once, in order: a size named twice is one row of the table.
    let mut list = list;
    list.sort_unstable();
    list.dedup();
    Ok(Sizes(list))
}

fn ct_value(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 50.0 => Ok(v),
        _ => Err(format!(
            "{text:?}: a Ct value is a number above 0 and at most 50, such as 35"
        )),
    }
}

fn open_unit(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err(format!(
            "{text:?}: a prevalence is a share strictly between 0 and 1, such as 0.01 for 1%"
        )),
    }
}

fn accuracy(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.5 && v <= 1.0 => Ok(v),
        _ => Err(format!(
            "{text:?}: a sensitivity or specificity is above 0.5 and at most 1, such as 0.99"
        )),
    }
}

/// What `plan --json` prints.
#[derive(Serialize)]
struct Report {
    people: u64,
    /// Of `people`, those of a priority group (isolated, key area, close contact,
    /// fever), who get a tube of their own as `assign` plans it: a test each, whatever
    /// the pool size.
    single_tubes: u64,
    prevalence: f64,
    prevalence_interval: Option<(f64, f64)>,
    se: f64,
    sp: f64,
    algorithms: Vec<AlgorithmReport>,
    ct_shift: Vec<Shift>,
}

#[derive(Serialize)]
struct AlgorithmReport {
    algorithm: Algorithm,
    best_size: Option<usize>,
    sizes: Vec<SizeReport>,
}

/// An algorithm at one size: its figures, and the tests the whole round expects.
#[derive(Serialize)]
struct SizeReport {
    #[serde(flatten)]
    operating: plan::Operating,
    /// The expected tests of the round: a test for each person in a tube of their own,
    /// and the pools of each building's other people, a last one of the people left
    /// ([`plan::tests_in_all`]).
    tests_in_all: f64,
}

#[derive(Serialize)]
struct Shift {
    size: usize,
    ct_shift: f64,
    weak_ct_reads: f64,
    may_miss_weak: bool,
}

/// Runs `poolscreen plan`.
pub fn run(args: PlanArgs) -> Result<i32> {
    // The people to pool of each building: pools hold one building only.
    let (people, single_tubes, pooled) = match (&args.roster, args.people) {
        (Some(path), _) => {
            // A roster that is not there, or not a CSV file or workbook, is a usage
            // error, as in `run` and `assign`.
            let roster_input = [(crate::record::InputKind::Roster, path.as_path())];
            crate::pipeline::check_inputs(&roster_input, Path::new(""), &[])?;
            let (roster, report, _) = super::with_threads(None, || {
                crate::pipeline::load_roster(path, args.sheet.as_deref())
            })?;
            // Rejected rows are people the plan leaves out: said, as `assign` says it.
            crate::pipeline::say_counts(&report);
            // Counted as `assign` places them, in one pass.
            let mut pooled = vec![0u64; roster.buildings.len()];
            let (expected, singles) = (0..roster.len() as u32)
                .filter_map(|p| Some((p, crate::assign::own_tube(&roster, p)?)))
                .fold((0u64, 0u64), |(expected, singles), (p, own)| {
                    if !own {
                        pooled[roster.building.get(p as usize) as usize] += 1;
                    }
                    (expected + 1, singles + u64::from(own))
                });
            if expected == 0 {
                return Err(Error::Usage(format!(
                    "{}: the roster has nobody expected (everyone on leave, or no row accepted); plan needs at least one person",
                    path.display()
                )));
            }
            (expected, singles, pooled)
        }
        (None, Some(n)) => (n, 0, vec![n]),
        (None, None) => return Err(Error::Usage("give --people N or --roster FILE".into())),
    };
    let (prevalence, interval) = match (&args.history, args.prevalence) {
        (Some(dir), _) => {
            let (p, lo, hi) = crate::history::latest_prevalence(dir)?;
            (p, Some((lo, hi)))
        }
        (None, Some(p)) => (p, None),
        (None, None) => return Err(Error::Usage("give --prevalence P or --history DIR".into())),
    };
    if prevalence <= 0.0 || prevalence >= 1.0 {
        return Err(Error::Usage(format!(
            "the estimated prevalence is {prevalence}: no pool of the latest round was positive (or every one was); give --prevalence P in (0, 1)"
        )));
    }
    let a = Accuracy {
        se: args.se,
        sp: args.sp,
    };
    let algorithms: Vec<AlgorithmReport> = Algorithm::ALL
        .iter()
        .map(|&algorithm| {
            let (sizes, best_size) = plan::table(algorithm, prevalence, &args.sizes.0, a);
            let ks: Vec<usize> = sizes.iter().map(|o| o.size).collect();
            let in_all = plan::tests_in_all(algorithm, prevalence, &ks, &pooled, a);
            let sizes = sizes
                .into_iter()
                .zip(in_all)
                .map(|(operating, in_pools)| SizeReport {
                    operating,
                    tests_in_all: single_tubes as f64 + in_pools,
                })
                .collect();
            AlgorithmReport {
                algorithm,
                best_size,
                sizes,
            }
        })
        .collect();
    let ct_shift: Vec<Shift> = args
        .sizes
        .0
        .iter()
        .map(|&k| Shift {
            size: k,
            ct_shift: plan::ct_shift(k),
            weak_ct_reads: args.weak_ct + plan::ct_shift(k),
            may_miss_weak: args.weak_ct + plan::ct_shift(k) > args.cutoff,
        })
        .collect();
    let report = Report {
        people,
        single_tubes,
        prevalence,
        prevalence_interval: interval,
        se: args.se,
        sp: args.sp,
        algorithms,
        ct_shift,
    };
    if args.json {
        crate::tell!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?
        );
        return Ok(0);
    }
    print_table(&report, args.weak_ct, args.cutoff);
    Ok(0)
}

fn print_table(r: &Report, weak: f64, cutoff: f64) {
    let singles = if r.single_tubes > 0 {
        format!(
            " ({} of them in tubes of their own, a test each; the rest pooled)",
            r.single_tubes
        )
    } else {
        String::new()
    };
    crate::tell!(
        "{} people{singles}; prevalence {:.4}%{}; Se {}, Sp {}",
        r.people,
        r.prevalence * 100.0,
        r.prevalence_interval
            .map_or(String::new(), |(lo, hi)| format!(
                " (95% interval {:.4}%–{:.4}%)",
                lo * 100.0,
                hi * 100.0
            )),
        r.se,
        r.sp
    );
    for a in &r.algorithms {
        crate::tell!();
        crate::tell!("{}", a.algorithm.title());
        if a.sizes.is_empty() {
            // Sub-pools need a pool of three or more: two people and another.
            crate::tell!("  no size of --sizes suits it: a pool must hold at least 3 people");
            continue;
        }
        crate::tell!("  size  tests/person  tests in all  sensitivity  specificity     PPV");
        for size in &a.sizes {
            let o = &size.operating;
            let mark = if Some(o.size) == a.best_size {
                "  ← best"
            } else {
                ""
            };
            let people = if a.algorithm == Algorithm::Array {
                format!("{}x{}", o.size, o.size)
            } else {
                o.size.to_string()
            };
            crate::tell!(
                "  {:>5} {:>13.4} {:>13.0} {:>12.4} {:>12.4} {:>7.4}{mark}",
                people,
                o.tests_per_person,
                size.tests_in_all,
                o.sensitivity,
                o.specificity,
                o.ppv
            );
        }
    }
    crate::tell!();
    crate::tell!("Dilution: a pool of k shifts a person's Ct by about log2 k cycles.");
    let flagged: Vec<String> = r
        .ct_shift
        .iter()
        .filter(|s| s.may_miss_weak)
        .map(|s| format!("{} (+{:.1})", s.size, s.ct_shift))
        .collect();
    if flagged.is_empty() {
        crate::tell!("No size pushes a person at Ct {weak} past the cutoff {cutoff}.");
    } else {
        crate::tell!(
            "Sizes that push a person at Ct {weak} past the cutoff {cutoff} (may miss them): {}",
            flagged.join(", ")
        );
    }
}
