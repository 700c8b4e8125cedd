//! Planning pools. `plan`'s hierarchical and array figures, for which no published table
//! is at hand, are checked against a seeded Monte Carlo simulation of the algorithms
//! themselves, within four standard errors; Dorfman's check values of the contract are
//! unit tests of `poolscreen::plan`. `assign`'s plan keeps its promises on rosters of
//! any shape and row order. Out-of-range arguments are usage errors naming the range.

mod common;

use common::*;
use poolscreen::assign::{assign, Slot};
use poolscreen::plan::{self, Accuracy, Operating};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// A small seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One test of a group holding `positives` infected people.
fn test(rng: &mut Rng, positives: usize, a: Accuracy) -> bool {
    if positives > 0 {
        rng.chance(a.se)
    } else {
        !rng.chance(a.sp)
    }
}

/// Tests, infected found, infected, clear found, clear, over `groups` groups.
#[derive(Default)]
struct Tally {
    tests: f64,
    people: f64,
    true_pos: f64,
    infected: f64,
    true_neg: f64,
    clear: f64,
}

impl Tally {
    fn person(&mut self, infected: bool, found: bool) {
        self.people += 1.0;
        if infected {
            self.infected += 1.0;
            self.true_pos += f64::from(u8::from(found));
        } else {
            self.clear += 1.0;
            self.true_neg += f64::from(u8::from(!found));
        }
    }

    /// Checks `o` against the simulation within four standard errors.
    fn check(&self, o: &Operating, what: &str, per_group: f64) {
        let groups = self.people / per_group;
        let tests = self.tests / self.people;
        // The tests of a group are at most per_group + 2 × its root: a bound of the
        // standard deviation of tests per person.
        let sd_tests = (per_group + 2.0 * per_group.sqrt()) / per_group / groups.sqrt();
        assert!(
            (tests - o.tests_per_person).abs() < 4.0 * sd_tests,
            "{what}: tests per person {tests} simulated, {} computed",
            o.tests_per_person
        );
        let se = self.true_pos / self.infected;
        let se_sd = (o.sensitivity * (1.0 - o.sensitivity) / self.infected)
            .sqrt()
            .max(1e-4);
        assert!(
            (se - o.sensitivity).abs() < 4.0 * se_sd,
            "{what}: sensitivity {se} simulated, {} computed",
            o.sensitivity
        );
        let sp = self.true_neg / self.clear;
        let sp_sd = (o.specificity * (1.0 - o.specificity) / self.clear)
            .sqrt()
            .max(1e-5);
        assert!(
            (sp - o.specificity).abs() < 4.0 * sp_sd,
            "{what}: specificity {sp} simulated, {} computed",
            o.specificity
        );
    }
}

fn simulate_hierarchical(
    p: f64,
    k: usize,
    m: usize,
    a: Accuracy,
    groups: usize,
    seed: u64,
) -> Tally {
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    let subs = plan::sub_pool_sizes(k, m);
    for _ in 0..groups {
        hierarchical_pool(&mut rng, &mut t, p, &subs, a);
    }
    t
}

/// One hierarchical pool of sub-pools `subs`, tallied into `t`.
fn hierarchical_pool(rng: &mut Rng, t: &mut Tally, p: f64, subs: &[usize], a: Accuracy) {
    let people: Vec<bool> = (0..subs.iter().sum()).map(|_| rng.chance(p)).collect();
    let total = people.iter().filter(|&&x| x).count();
    t.tests += 1.0;
    let pool = test(rng, total, a);
    let mut at = 0;
    for &s in subs {
        let sub = &people[at..at + s];
        at += s;
        let found_sub = if pool {
            t.tests += 1.0;
            test(rng, sub.iter().filter(|&&x| x).count(), a)
        } else {
            false
        };
        for &infected in sub {
            let found = if s == 1 {
                found_sub
            } else if found_sub {
                t.tests += 1.0;
                test(rng, usize::from(infected), a)
            } else {
                false
            };
            t.person(infected, found);
        }
    }
}

fn simulate_array(p: f64, k: usize, a: Accuracy, grids: usize, seed: u64) -> Tally {
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    for _ in 0..grids {
        grid(&mut rng, &mut t, p, k, k * k, a);
    }
    t
}

/// One square array of `r` people (at most k²) filling rows of `k` in turn, tallied
/// into `t`.
fn grid(rng: &mut Rng, t: &mut Tally, p: f64, k: usize, r: usize, a: Accuracy) {
    let people: Vec<bool> = (0..r).map(|_| rng.chance(p)).collect();
    let rows = r.div_ceil(k);
    let columns = r.min(k);
    let row_tests: Vec<bool> = (0..rows)
        .map(|row| {
            let infected = (0..r).filter(|&i| i / k == row && people[i]).count();
            test(rng, infected, a)
        })
        .collect();
    let column_tests: Vec<bool> = (0..columns)
        .map(|column| {
            let infected = (0..r).filter(|&i| i % k == column && people[i]).count();
            test(rng, infected, a)
        })
        .collect();
    t.tests += (rows + columns) as f64;
    for (i, &infected) in people.iter().enumerate() {
        let found = if row_tests[i / k] && column_tests[i % k] {
            t.tests += 1.0;
            test(rng, usize::from(infected), a)
        } else {
            false
        };
        t.person(infected, found);
    }
}

/// One Dorfman pool of `s` people: the pool, then everyone alone when it is positive
/// (a pool of one is the person's own test).
fn dorfman_pool(rng: &mut Rng, t: &mut Tally, p: f64, s: usize, a: Accuracy) {
    let people: Vec<bool> = (0..s).map(|_| rng.chance(p)).collect();
    t.tests += 1.0;
    let pool = test(rng, people.iter().filter(|&&x| x).count(), a);
    for &infected in &people {
        let found = pool
            && (s == 1 || {
                t.tests += 1.0;
                test(rng, usize::from(infected), a)
            });
        t.person(infected, found);
    }
}

#[test]
fn hierarchical_figures_agree_with_a_simulation() {
    for (p, k, m, se, sp, seed) in [
        (0.01, 10, 2, 0.99, 0.99, 1),
        (0.05, 12, 3, 0.95, 0.98, 2),
        (0.02, 7, 3, 0.9, 0.97, 3),
    ] {
        let a = Accuracy { se, sp };
        let o = plan::hierarchical_with(p, k, m, a);
        let sim = simulate_hierarchical(p, k, m, a, 400_000, seed);
        sim.check(&o, &format!("hierarchical p={p} k={k} m={m}"), k as f64);
    }
}

#[test]
fn array_figures_agree_with_a_simulation() {
    for (p, k, se, sp, seed) in [(0.01, 10, 0.99, 0.99, 4), (0.03, 6, 0.95, 0.98, 5)] {
        let a = Accuracy { se, sp };
        let o = plan::array(p, k, a);
        let sim = simulate_array(p, k, a, 60_000, seed);
        sim.check(&o, &format!("array p={p} k={k}"), (k * k) as f64);
    }
}

#[test]
fn the_simulation_can_tell_a_wrong_formula() {
    // A Dorfman figure is not a hierarchical one: the check must fail on it.
    let a = Accuracy { se: 0.99, sp: 0.99 };
    let wrong = plan::dorfman(0.05, 12, a);
    let sim = simulate_hierarchical(0.05, 12, 3, a, 200_000, 9);
    let caught = std::panic::catch_unwind(|| sim.check(&wrong, "a wrong formula", 12.0));
    assert!(caught.is_err(), "the check let a wrong formula pass");
}

/// "Tests in all" of `plan`: buildings pooled apart, each with a last pool (or grid)
/// of the people left, against a simulation of those very pools, within four standard
/// errors of the simulated mean.
#[test]
fn tests_in_all_agree_with_a_simulation_of_each_buildings_pools() {
    let a = Accuracy { se: 0.97, sp: 0.98 };
    let p = 0.03;
    for (algorithm, k, buildings) in [
        (plan::Algorithm::Dorfman, 10, vec![3, 23, 47]),
        (plan::Algorithm::Hierarchical, 10, vec![3, 23, 47]),
        (plan::Algorithm::Array, 5, vec![47, 12]),
    ] {
        let computed = plan::tests_in_all(algorithm, p, &[k], &buildings, a)[0];
        let mut rng = Rng(k as u64 + buildings.len() as u64);
        let rounds = 40_000;
        let (mut sum, mut squares) = (0.0, 0.0);
        for _ in 0..rounds {
            let mut t = Tally::default();
            for &n in &buildings {
                let per_pool = if algorithm == plan::Algorithm::Array {
                    k * k
                } else {
                    k
                };
                let mut left = n as usize;
                while left > 0 {
                    let m = left.min(per_pool);
                    left -= m;
                    match algorithm {
                        plan::Algorithm::Dorfman => dorfman_pool(&mut rng, &mut t, p, m, a),
                        plan::Algorithm::Hierarchical if m >= 3 => {
                            let best = plan::hierarchical(p, m, a).unwrap();
                            let subs = plan::sub_pool_sizes(m, best.sub_pools.unwrap());
                            hierarchical_pool(&mut rng, &mut t, p, &subs, a);
                        }
                        plan::Algorithm::Hierarchical => dorfman_pool(&mut rng, &mut t, p, m, a),
                        plan::Algorithm::Array => grid(&mut rng, &mut t, p, k, m, a),
                    }
                }
            }
            sum += t.tests;
            squares += t.tests * t.tests;
        }
        let mean = sum / rounds as f64;
        let sd = ((squares / rounds as f64 - mean * mean) / rounds as f64).sqrt();
        assert!(
            (mean - computed).abs() < 4.0 * sd,
            "{algorithm:?} k={k} {buildings:?}: {mean} ± {sd} simulated, {computed} computed"
        );
    }
}

#[test]
fn arguments_out_of_range_are_usage_errors_naming_the_range() {
    let dir = Workdir::new();
    for (args, says) in [
        (vec!["--prevalence", "0"], "strictly between 0 and 1"),
        (vec!["--prevalence", "1"], "strictly between 0 and 1"),
        (
            vec!["--prevalence", "0.01", "--se", "0.5"],
            "above 0.5 and at most 1",
        ),
        (
            vec!["--prevalence", "0.01", "--sp", "1.2"],
            "above 0.5 and at most 1",
        ),
        (
            vec!["--prevalence", "0.01", "--sizes", "1..10"],
            "at least 2",
        ),
        // A range too long to list is refused before it is listed.
        (
            vec!["--prevalence", "0.01", "--sizes", "2..18446744073709551615"],
            "at most 1000",
        ),
        (
            vec!["--prevalence", "0.01", "--sizes", "5000..10000000000"],
            "at most 1000",
        ),
        (
            vec!["--prevalence", "0.01", "--weak-ct", "60"],
            "above 0 and at most 50",
        ),
        (
            vec!["--prevalence", "0.01", "--cutoff", "NaN"],
            "above 0 and at most 50",
        ),
    ] {
        let mut all = vec!["plan", "--people", "1000"];
        all.extend(args.iter().copied());
        let out = dir.run(&all, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    dir.write(
        "roster.csv",
        "person_id,name,building,status\nS1,张一,公寓1,离校\n",
    );
    let out = dir.run(
        &["plan", "--roster", "roster.csv", "--prevalence", "0.01"],
        2,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody expected"));
    let json = dir.run(
        &[
            "plan",
            "--people",
            "30000",
            "--prevalence",
            "0.01",
            "--json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["algorithms"][0]["algorithm"], "dorfman");
    assert_eq!(v["algorithms"][0]["best_size"], 11);
    // A size named twice is one row.
    let json = dir.run(
        &[
            "plan",
            "--people",
            "1000",
            "--prevalence",
            "0.01",
            "--sizes",
            "10,5,10",
            "--json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let sizes: Vec<u64> = v["algorithms"][0]["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [5, 10]);
}

/// `poolscreen assign` of `roster` in tubes of 10 into `plan/`, with `extra` arguments;
/// it must succeed.
fn run_assign(dir: &Workdir, roster: &str, extra: &[&str]) -> std::process::Output {
    assign_into(dir, roster, "plan", extra)
}

/// `poolscreen assign` of `roster` in tubes of 10 into `out`, with `extra` arguments;
/// it must succeed.
fn assign_into(dir: &Workdir, roster: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "assign",
        "--roster",
        roster,
        "--pool-size",
        "10",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    dir.run(&args, 0)
}

/// Roster rows `assign` rejects are people its plan leaves out: it says how many and
/// lists them in rejects.csv, never drops them unseen.
#[test]
fn assign_lists_the_roster_rows_it_rejects() {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        "学号,姓名,楼栋\nA1,甲,B1\nA2,乙,B1\nA2,丙,B1\nA 4,丁,B1\n",
    );
    let out = run_assign(&dir, "roster.csv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 rows read, 2 accepted, 2 rejected"),
        "{stderr}"
    );
    let rejects = read_spreadsheet_csv(&dir.path().join("plan/rejects.csv"));
    let lines: Vec<&str> = rejects.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{rejects}");
    assert!(
        lines[0].starts_with("roster.csv,4,") && lines[1].starts_with("roster.csv,5,"),
        "{rejects}"
    );
    assert_eq!(dir.parquet("plan/plan.parquet").height(), 2);
}

/// `assign` never writes its plan over its own roster: a roster named like one of the
/// plan's files in the output folder is refused before anything is read or written.
#[test]
fn assign_refuses_to_overwrite_its_roster() {
    let dir = Workdir::new();
    let roster = "person_id,name,building\nS1,张一,公寓1\nS2,张二,公寓1\n";
    // plan.parquet is no input poolscreen reads: refused for its extension already.
    for name in ["plan.csv", "plan.xlsx", "rejects.csv"] {
        dir.write(&format!("plan/{name}"), roster);
        let path = format!("plan/{name}");
        let out = dir.run(
            &[
                "assign",
                "--roster",
                &path,
                "--pool-size",
                "2",
                "--out",
                "plan",
            ],
            2,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("would overwrite this input"),
            "{name}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&path)).unwrap(),
            roster,
            "{name}"
        );
        std::fs::remove_file(dir.path().join(&path)).unwrap();
    }
}

/// When no roster row is accepted there is no plan, and so no rejects.csv: the error
/// gives the first rows' reasons (line and column, never a value).
#[test]
fn assign_of_a_roster_with_every_row_rejected_says_why() {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        "person_id,name,building\nS1,张\u{0}三,公寓1\nS2,李四,公寓1,多余\n,王五,公寓1\n",
    );
    let out = dir.run(
        &[
            "assign",
            "--roster",
            "roster.csv",
            "--pool-size",
            "2",
            "--out",
            "plan",
        ],
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 rows rejected, the first 3"), "{stderr}");
    assert!(
        stderr.contains("roster.csv:2: the row holds a NUL"),
        "{stderr}"
    );
    assert!(
        stderr.contains("roster.csv:3: the row has 4 fields"),
        "{stderr}"
    );
    assert!(
        stderr.contains("roster.csv:4 column \"person_id\""),
        "{stderr}"
    );
    for value in ["张", "李四", "王五", "S1", "S2", "多余"] {
        assert!(!stderr.contains(value), "{value} in {stderr}");
    }
    assert!(!dir.path().join("plan").exists());
}

/// An ID card number typed into the name or room column is masked in the plan as in
/// `run`'s lists, with `--mask` or without.
#[test]
fn assign_masks_id_numbers_in_names_and_rooms() {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        "person_id,name,building,room\nS1,张三11010519491231002X,公寓1,101\nS2,11010519491231002X,公寓1,11010519491231002X\n",
    );
    run_assign(&dir, "roster.csv", &[]);
    let csv = read_spreadsheet_csv(&dir.path().join("plan/plan.csv"));
    assert!(csv.contains("张三110105********002X"), "{csv}");
    assert!(!csv.contains("19491231"), "{csv}");
    let plan = dir.parquet("plan/plan.parquet");
    let names: Vec<String> = (0..plan.height())
        .map(|i| cell(plan.column("name").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(names, ["张三110105********002X", "110105********002X"]);
    let rooms: Vec<String> = (0..plan.height())
        .map(|i| cell(plan.column("room").unwrap().get(i).unwrap()))
        .collect();
    assert_eq!(rooms, ["101", "110105********002X"], "a room is masked too");
    let sheet = zipped_part(
        &dir.path().join("plan/plan.xlsx"),
        "xl/worksheets/sheet1.xml",
    );
    assert!(!sheet.contains("19491231"), "{sheet}");
    assert!(sheet.contains("张三110105********002X"), "{sheet}");
    assert!(sheet.contains("<t>110105********002X</t>"), "{sheet}");
}

/// With `--pseudonymize` every person_id of the plan is the keyed pseudonym of the
/// roster's ID (HMAC-SHA256, 16 hex digits, worked out here apart from poolscreen's
/// code), in every file, while a plain name and room stay as they are and an ID number
/// typed into a name or a room is still masked; the other rows keep their own cells.
#[test]
fn assign_with_a_key_prints_pseudonyms_and_keeps_the_other_cells() {
    use hmac::{Hmac, Mac};
    let dir = Workdir::new();
    let key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    dir.write("key.hex", key);
    let mut roster = String::from("person_id,name,building,room\n");
    let mut expected = BTreeMap::new();
    for i in 0..30 {
        let (name, room) = match i {
            7 => ("张三11010519491231002X".to_string(), "101".to_string()),
            13 => ("李四".to_string(), "11010519491231002X".to_string()),
            _ => (format!("某人{i}"), format!("{}", 101 + i / 4)),
        };
        let id = if i == 21 {
            "11010519491231002X".to_string()
        } else {
            format!("S{i:03}")
        };
        roster.push_str(&format!("{id},{name},公寓{},{room}\n", 1 + i % 2));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(
            &(0..32)
                .map(|k| u8::from_str_radix(&key[2 * k..2 * k + 2], 16).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let pseudonym: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let shown = |text: &str| text.replace("11010519491231002X", "110105********002X");
        expected.insert(pseudonym, (shown(&name), shown(&room)));
    }
    dir.write("roster.csv", &roster);
    run_assign(
        &dir,
        "roster.csv",
        &["--pseudonymize", "key.hex", "--quiet"],
    );
    let csv = read_spreadsheet_csv(&dir.path().join("plan/plan.csv"));
    let mut from_csv = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        from_csv.insert(
            cells[4].to_string(),
            (cells[5].to_string(), cells[6].to_string()),
        );
    }
    assert_eq!(from_csv, expected, "plan.csv");
    let plan = dir.parquet("plan/plan.parquet");
    let column = |name: &str| -> Vec<String> {
        (0..plan.height())
            .map(|i| cell(plan.column(name).unwrap().get(i).unwrap()))
            .collect()
    };
    let (ids, names, rooms) = (column("person_id"), column("name"), column("room"));
    let from_parquet: BTreeMap<String, (String, String)> = (0..ids.len())
        .map(|i| (ids[i].clone(), (names[i].clone(), rooms[i].clone())))
        .collect();
    assert_eq!(from_parquet, expected, "plan.parquet");
    let sheet = zipped_part(
        &dir.path().join("plan/plan.xlsx"),
        "xl/worksheets/sheet1.xml",
    );
    for (pseudonym, (name, room)) in &expected {
        for text in [pseudonym, name, room] {
            assert!(
                sheet.contains(&format!("<t>{text}</t>")),
                "plan.xlsx shows {text}"
            );
        }
    }
    assert!(
        !sheet.contains("S001") && !sheet.contains("19491231"),
        "{sheet}"
    );
}

/// `plan --roster` says how many roster rows it read and rejected, and counts the
/// people of a priority group as a test each, since `assign` gives them tubes of their
/// own.
#[test]
fn plan_of_a_roster_counts_its_rejects_and_its_single_tubes() {
    let dir = Workdir::new();
    let mut roster = String::from("person_id,name,building,status\n");
    for i in 0..20 {
        let status = if i % 2 == 0 { "isolated" } else { "on_campus" };
        roster.push_str(&format!("S{i},某人,公寓1,{status}\n"));
    }
    roster.push_str("S0,重复,公寓1,on_campus\n");
    dir.write("roster.csv", &roster);
    let out = dir.run(
        &[
            "plan",
            "--roster",
            "roster.csv",
            "--prevalence",
            "0.01",
            "--se",
            "1",
            "--sp",
            "1",
            "--sizes",
            "10",
        ],
        0,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("21 rows read, 20 accepted, 1 rejected"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("20 people (10 of them in tubes of their own"),
        "{stdout}"
    );
    // Dorfman at k = 10, p = 1%, a perfect test: 1/10 + 1 − 0.99^10 tests a person.
    let per_person = 0.1 + 1.0 - 0.99f64.powi(10);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("10 "))
        .unwrap();
    let in_all: f64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(in_all, (10.0 + 10.0 * per_person).round(), "{line}");
    let json = dir.run(
        &[
            "plan",
            "--roster",
            "roster.csv",
            "--prevalence",
            "0.01",
            "--json",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["single_tubes"], 10);
    assert_eq!(v["people"], 20);
}

/// With nobody infected and a perfect test, every pool is one test: `plan`'s tests in
/// all are then the tubes `assign` makes of the same roster, building by building, the
/// last tube of a building partly filled and the priority people's own tubes counted;
/// whatever the order of the roster's rows (by building, or buildings interleaved).
#[test]
fn tests_in_all_count_the_tubes_assign_makes() {
    let mut rows = Vec::new();
    for (b, (building, people)) in [("公寓1", 3), ("公寓2", 23), ("公寓10", 47)]
        .into_iter()
        .enumerate()
    {
        for i in 0..people {
            let status = match i {
                0 if building == "公寓2" => "isolated",
                1 => "on_leave",
                _ => "on_campus",
            };
            rows.push(format!("B{b}-{i},某人,{building},{status}\n"));
        }
    }
    // 73 rows: taking every 37th (37 and 73 share no factor) visits each once, the
    // buildings interleaved.
    let interleaved: Vec<usize> = (0..rows.len()).map(|i| i * 37 % rows.len()).collect();
    for order in [(0..rows.len()).collect::<Vec<_>>(), interleaved] {
        let dir = Workdir::new();
        let mut roster = String::from("person_id,name,building,status\n");
        for &i in &order {
            roster.push_str(&rows[i]);
        }
        dir.write("roster.csv", &roster);
        run_assign(&dir, "roster.csv", &[]);
        let csv = read_spreadsheet_csv(&dir.path().join("plan/plan.csv"));
        let tubes: BTreeSet<(String, String)> = csv
            .lines()
            .skip(1)
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                (cells[0].to_string(), cells[1].to_string())
            })
            .collect();
        assert_eq!(
            tubes.len(),
            1 + (3 + 1) + 5,
            "tubes of 2, 21 + 1 own and 46 people"
        );
        let args = "plan --roster roster.csv --prevalence 1e-9 --se 1 --sp 1 --sizes 10 --json";
        let json = dir.run(&args.split(' ').collect::<Vec<_>>(), 0);
        let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let dorfman = &v["algorithms"][0]["sizes"][0];
        let in_all = dorfman["tests_in_all"].as_f64().unwrap();
        assert!((in_all - tubes.len() as f64).abs() < 1e-6, "{dorfman}");
    }
}

/// A roster of `rooms` (building, room size, priority flags) as CSV, rows in `order`.
fn roster_csv(people: &[(String, String, String, String, String)], order: &[usize]) -> String {
    let mut text = String::from("person_id,name,building,room,status,group\n");
    for &i in order {
        let (id, building, room, status, group) = &people[i];
        text.push_str(&format!("{id},某人,{building},{room},{status},{group}\n"));
    }
    text
}

fn plan_of(text: &str, k: usize) -> (Vec<Slot>, poolscreen::ingest::roster::Roster) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, text).unwrap();
    let (roster, _, _) = poolscreen::pipeline::load_roster(&path, None).unwrap();
    (assign(&roster, k), roster)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_plan_keeps_its_promises(
        rooms in prop::collection::vec((0usize..4, 1usize..9, 0u8..12), 1..40),
        k in 2usize..13,
        seed in any::<u64>(),
    ) {
        // Rooms of at most k people (a bigger room cannot fit in two tubes).
        let mut people = Vec::new();
        for (r, &(b, size, flags)) in rooms.iter().enumerate() {
            for j in 0..size.min(k) {
                let flag = (flags as usize + j) % 12;
                let status = match flag { 0 => "离校", 1 => "隔离", _ => "" };
                let group = if flag == 2 { "密接" } else { "" };
                people.push((format!("P{r:03}{j}"), format!("楼{b}"), format!("{}{:02}", b + 1, r), status.to_string(), group.to_string()));
            }
        }
        let order: Vec<usize> = (0..people.len()).collect();
        let mut shuffled = order.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let (slots, roster) = plan_of(&roster_csv(&people, &order), k);
        let (again, other) = plan_of(&roster_csv(&people, &shuffled), k);
        let ids = |s: &[Slot], r: &poolscreen::ingest::roster::Roster| -> Vec<(String, u32, u32)> {
            s.iter().map(|x| (r.id(x.person).to_string(), x.tube, x.position)).collect()
        };
        prop_assert_eq!(ids(&slots, &roster), ids(&again, &other), "the row order changed the plan");

        let expected: BTreeSet<String> = people.iter().filter(|p| p.3 != "离校").map(|p| p.0.clone()).collect();
        let placed: Vec<String> = slots.iter().map(|s| roster.id(s.person).to_string()).collect();
        prop_assert_eq!(placed.len(), expected.len(), "everyone expected once");
        prop_assert_eq!(placed.iter().cloned().collect::<BTreeSet<_>>(), expected);

        let mut tubes: BTreeMap<(u32, u32), Vec<&Slot>> = BTreeMap::new();
        for s in &slots {
            tubes.entry((roster.building.get(s.person as usize), s.tube)).or_default().push(s);
        }
        let mut rooms_in: BTreeMap<(u32, u32), BTreeSet<u32>> = BTreeMap::new();
        for ((b, tube), members) in &tubes {
            prop_assert!(members.len() <= k, "a tube over k");
            if members.iter().any(|s| roster.priority[s.person as usize]) {
                prop_assert_eq!(members.len(), 1, "a priority person shares a tube");
            }
            for s in members {
                prop_assert_eq!(roster.building.get(s.person as usize), *b, "a tube of two buildings");
                if !s.single {
                    rooms_in.entry((*b, roster.room.get(s.person as usize))).or_default().insert(*tube);
                }
            }
        }
        for tubes_of_room in rooms_in.values() {
            prop_assert!(tubes_of_room.len() <= 2, "a room's pooled people over two tubes");
        }
        // Pooled tubes per building: ⌈pooled / k⌉.
        let mut pooled: BTreeMap<u32, usize> = BTreeMap::new();
        for s in slots.iter().filter(|s| !s.single) {
            *pooled.entry(roster.building.get(s.person as usize)).or_default() += 1;
        }
        for (b, n) in pooled {
            let pool_tubes = tubes.iter().filter(|((bb, _), m)| *bb == b && !m[0].single).count();
            prop_assert_eq!(pool_tubes, n.div_ceil(k), "building {}", b);
        }
    }
}

#[test]
fn a_plan_for_collectors_to_print() {
    let dir = Workdir::new();
    dir.run(
        &[
            "generate",
            "--out",
            "in",
            "--people",
            "2000",
            "--buildings",
            "3",
        ],
        0,
    );
    run_assign(&dir, "in/roster.csv", &["--mask", "--quiet"]);
    let frame = dir.parquet("plan/plan.parquet");
    let names: Vec<String> = (0..frame.height())
        .map(|i| cell(frame.column("name").unwrap().get(i).unwrap()))
        .collect();
    assert!(names.iter().all(|n| n.contains('*')), "names masked");
    use calamine::Reader;
    let book: calamine::Xlsx<_> = calamine::open_workbook(dir.join("plan/plan.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), ["全部", "公寓1", "公寓2", "公寓3"]);
    let csv = read_spreadsheet_csv(&dir.join("plan/plan.csv"));
    assert!(
        csv.starts_with("building,tube,kind,position,person_id,name,room,status,priority,barcode")
    );
    // plan.parquet is written apart from plan.csv (Arrow arrays a row group at a time,
    // the CSV a block of rows at a time, both reading the same plan): the same cells,
    // row by row.
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(lines.len(), frame.height());
    for (i, line) in lines.iter().enumerate() {
        let cells: Vec<String> = frame
            .columns()
            .iter()
            .map(|c| cell(c.get(i).unwrap()))
            .collect();
        assert_eq!(cells.join(","), *line, "row {i}");
    }
}

/// Every kind of gap between rows (CRLF, LF and CR line ends, blank lines, a rejected
/// row, a quoted name over two lines) must still give each person their own name: in
/// the plan (names kept while the roster is read) and on `run`'s lists (names read back
/// from the roster in one pass where the people on a list follow each other).
#[test]
fn every_name_is_its_own_persons_in_a_ragged_roster() {
    let dir = Workdir::new();
    let mut text = String::from("person_id,name,building,room\r\n");
    let mut expected = BTreeMap::new();
    for i in 0..3000 {
        let id = format!("S{i:05}");
        let name = match i % 7 {
            0 => format!("\"张,{i}\""),
            1 => format!("\"李\n{i}\""),
            _ => format!("王{i}"),
        };
        let shown = name.trim_matches('"').to_string();
        text.push_str(&format!("{id},{name},公寓{},{}", i % 3 + 1, 100 + i / 4));
        text.push_str(match i % 5 {
            0 => "\n",
            1 => "\r",
            2 => "\r\n\r\n",
            3 => "\r\n,,,\r\n", // a row without an ID: rejected
            _ => "\r\n",
        });
        expected.insert(id, shown);
    }
    dir.write("roster.csv", &text);
    run_assign(&dir, "roster.csv", &["--quiet"]);
    // Nobody sampled: everyone is on the missing list.
    dir.write("samples.csv", "tube_id,person_id,sampled_at\n");
    dir.write("results.csv", "tube_id,ct_orf1ab,ct_n\n");
    dir.run(&round_args("out", &["--round", "R1", "--quiet"]), 0);
    for file in ["plan/plan.parquet", "out/missing.parquet"] {
        let frame = dir.parquet(file);
        let got: BTreeMap<String, String> = (0..frame.height())
            .map(|i| {
                let cell_of = |c: &str| cell(frame.column(c).unwrap().get(i).unwrap());
                (cell_of("person_id"), cell_of("name"))
            })
            .collect();
        assert_eq!(got, expected, "{file}");
    }
}

/// `plan --roster` reads the sheet `--sheet` names in a workbook whose first sheet is a
/// cover; a size list that suits no hierarchical pool says so instead of an empty table.
#[test]
fn plan_reads_a_named_sheet_and_explains_an_empty_table() {
    let dir = Workdir::new();
    let mut book = rust_xlsxwriter::Workbook::new();
    book.add_worksheet()
        .set_name("封面")
        .unwrap()
        .write_string(0, 0, "2022 年春季核酸筛查")
        .unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("花名册").unwrap();
    for (c, h) in ["学号", "姓名", "楼栋"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=3u32 {
        sheet.write_string(r, 0, format!("S{r}")).unwrap();
        sheet.write_string(r, 1, "某人").unwrap();
        sheet.write_string(r, 2, "公寓1").unwrap();
    }
    book.save(dir.path().join("roster.xlsx")).unwrap();
    let plan = |extra: &[&str], status| {
        let mut args = vec!["plan", "--roster", "roster.xlsx", "--prevalence", "0.01"];
        args.extend_from_slice(extra);
        dir.run(&args, status)
    };
    // The cover sheet has no roster header.
    plan(&[], 1);
    let out = plan(&["--sheet", "花名册", "--sizes", "2"], 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("3 people"), "{stdout}");
    assert!(stdout.contains("no size of --sizes suits it"), "{stdout}");
}

/// A roster of `people` in `buildings` buildings, its rows in file order `order`: rooms
/// of up to six, people of a priority group and on leave among them, ID numbers typed
/// into some names and one room, a quoted name with a comma, CRLF and LF line ends.
fn varied_roster(buildings: usize, order: &[usize]) -> String {
    let mut text = String::from("person_id,name,building,room,status\r\n");
    for &i in order {
        let name = match i % 997 {
            5 => format!("张{i}号11010519491231002X"),
            9 => format!("\"王,{i}\""),
            _ => format!("某人{i}"),
        };
        let room = match i % 1499 {
            7 => "110105 19491231 002X".to_string(),
            _ => format!("{}", 101 + (i / buildings) / 6),
        };
        let status = match i % 53 {
            3 => "isolated",
            8 => "on_leave",
            _ => "on_campus",
        };
        let end = if i % 2 == 0 { "\r\n" } else { "\n" };
        text.push_str(&format!(
            "P{i:07},{name},楼{},{room},{status}{end}",
            i % buildings + 1
        ));
    }
    text
}

/// The same roster in another row order, planned on one thread or on three, gives the
/// same bytes in every file of the plan: with a sheet per building and with one sheet,
/// with no text replaced but the ID numbers typed in and with every ID and name
/// replaced, past every block size the writers cut the rows in (65,536 rows the
/// replaced texts, 16,384 the CSV, 8,192 the workbook).
#[test]
fn the_plan_is_the_same_bytes_for_any_row_order_and_thread_count() {
    let dir = Workdir::new();
    dir.write(
        "key.hex",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    );
    for (people, buildings, flags) in [
        (70_000, 60, &[][..]),
        (70_000, 60, &["--mask", "--pseudonymize", "key.hex"][..]),
        (20_000, 150, &[][..]),
    ] {
        let order: Vec<usize> = (0..people).collect();
        let mut shuffled = order.clone();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for i in (1..people).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        dir.write("ordered.csv", varied_roster(buildings, &order));
        dir.write("shuffled.csv", varied_roster(buildings, &shuffled));
        let mut plans = Vec::new();
        for (roster, threads) in [
            ("ordered.csv", "2"),
            ("shuffled.csv", "1"),
            ("shuffled.csv", "3"),
        ] {
            let out = format!("plan-{roster}-{threads}");
            let mut extra = vec!["--threads", threads, "--quiet"];
            extra.extend_from_slice(flags);
            assign_into(&dir, roster, &out, &extra);
            plans.push(out);
        }
        for file in ["plan.csv", "plan.parquet", "plan.xlsx"] {
            let first = std::fs::read(dir.join(&plans[0]).join(file)).unwrap();
            for other in &plans[1..] {
                let bytes = std::fs::read(dir.join(other).join(file)).unwrap();
                assert!(
                    bytes == first,
                    "{file} of {other} differs ({people} people, {buildings} buildings, {flags:?})"
                );
            }
        }
        // For Excel: a BOM, and CRLF line ends whatever the roster's.
        let raw = std::fs::read(dir.join(&plans[0]).join("plan.csv")).unwrap();
        assert!(
            raw.starts_with(b"\xEF\xBB\xBFbuilding,tube,"),
            "a BOM, then the header"
        );
        let lines = raw.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        assert!(
            lines.into_iter().all(|l| l.ends_with(b"\r")),
            "CRLF line ends"
        );
        let csv = read_spreadsheet_csv(&dir.join(&plans[0]).join("plan.csv"));
        assert!(!csv.contains("19491231"), "ID numbers masked");
        let expected = people - (0..people).filter(|i| i % 53 == 8).count();
        assert_eq!(csv.lines().count(), 1 + expected, "everyone expected, once");
    }
}
