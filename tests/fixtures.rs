//! Data-driven fixture tests: every folder in `fixtures/` (but `fixtures/bad/` and
//! `fixtures/fuzz/`) is one case. Its inputs are `roster.*`, `samples.*`, `results.*` and optionally
//! `retests.*`; extra command-line arguments go in `args`, one per line. The expected
//! outcome sits in `expected/`:
//!
//! - `status`: the exit status (0 when absent);
//! - `stderr`: lines that must each appear in standard error;
//! - `buildings.csv`, `retest.csv`, `missing.csv`, `tubes.csv`, `anomalies.csv`,
//!   `people.csv`, `closure.csv`: the
//!   Parquet tables as CSV (null empty, timestamps in local time);
//! - `rejects.csv`: `rejects.csv` without its BOM, with LF line ends;
//! - `retest-file.csv`: `retest.csv` the same way (formula guard, local times);
//! - `inputs.csv`: role, encoding and row counts per input, from the manifest.
//!
//! Whenever a case writes its outputs, the manifest's totals of tubes and of tubes by
//! class must also be those of its `tubes.parquet`.
//!
//! With `BLESS=1` the run writes the actual outputs over the expected files that
//! exist, for review in the diff.

mod common;

use common::*;
use std::fs;
use std::path::Path;

const TABLES: [&str; 7] = [
    "buildings",
    "retest",
    "missing",
    "tubes",
    "anomalies",
    "people",
    "closure",
];

fn input_args(case: &Path) -> Vec<String> {
    let mut args = vec!["run".to_string()];
    for role in ["roster", "samples", "results", "retests"] {
        let found = fs::read_dir(case)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with(&format!("{role}.")))
            .min();
        if let Some(file) = found {
            args.push(format!("--{role}"));
            args.push(file);
        }
    }
    if let Ok(extra) = fs::read_to_string(case.join("args")) {
        args.extend(
            extra
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    args
}

fn inputs_table(manifest: &serde_json::Value) -> String {
    let mut text = String::from("role,encoding,rows_read,rows_accepted,rows_rejected\n");
    for input in manifest["inputs"].as_array().unwrap() {
        text.push_str(&format!(
            "{},{},{},{},{}\n",
            input["role"].as_str().unwrap(),
            input["encoding"].as_str().unwrap(),
            input["rows_read"],
            input["rows_accepted"],
            input["rows_rejected"]
        ));
    }
    text
}

/// Runs one case; returns what differs from the expectation.
fn check(case: &Path) -> Vec<String> {
    let bless = std::env::var("BLESS").is_ok();
    let expected = case.join("expected");
    let out = tempfile::tempdir().unwrap();
    let mut args = input_args(case);
    args.push("--out".into());
    args.push(out.path().display().to_string());
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = poolscreen(case, &args_ref);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let mut problems = Vec::new();

    let want_status: i32 =
        fs::read_to_string(expected.join("status")).map_or(0, |s| s.trim().parse().unwrap());
    let status = output.status.code().unwrap_or(-1);
    if status != want_status {
        problems.push(format!(
            "exit status {status}, expected {want_status}; stderr:\n{stderr}"
        ));
    }
    if let Ok(want) = fs::read_to_string(expected.join("stderr")) {
        for line in want.lines().filter(|l| !l.is_empty()) {
            if !stderr.contains(line) {
                problems.push(format!("stderr lacks {line:?}; it was:\n{stderr}"));
            }
        }
    }
    let compare = |problems: &mut Vec<String>, file: &str, actual: String| {
        let path = expected.join(file);
        if !path.exists() {
            return;
        }
        if bless {
            fs::write(&path, &actual).unwrap();
            return;
        }
        let want = fs::read_to_string(&path).unwrap();
        if want != actual {
            problems.push(format!(
                "{file} differs.\n--- expected\n{want}--- actual\n{actual}"
            ));
        }
    };
    for table in TABLES {
        let parquet = out.path().join(format!("{table}.parquet"));
        if expected.join(format!("{table}.csv")).exists() {
            if parquet.exists() {
                compare(
                    &mut problems,
                    &format!("{table}.csv"),
                    frame_to_csv(&read_parquet(&parquet)),
                );
            } else {
                problems.push(format!("{table}.parquet was not written"));
            }
        }
    }
    // The manifest's totals count what the tables hold: every tube of tubes.parquet,
    // and those of each class.
    let tubes = out.path().join("tubes.parquet");
    if tubes.exists() && out.path().join("manifest.json").exists() {
        let totals = &manifest(out.path())["totals"];
        let frame = read_parquet(&tubes);
        let classes = frame.column("tube_class").unwrap().str().unwrap();
        let count = |class: &str| {
            (0..frame.height())
                .filter(|&i| classes.get(i) == Some(class))
                .count()
        };
        for (field, held) in [
            ("tubes", frame.height()),
            ("positive_tubes", count("positive")),
            ("suspect_tubes", count("suspect")),
            ("invalid_tubes", count("invalid")),
            ("pending_tubes", count("pending")),
        ] {
            if totals[field].as_u64() != Some(held as u64) {
                problems.push(format!(
                    "manifest totals.{field} is {}, but tubes.parquet holds {held}",
                    totals[field]
                ));
            }
        }
    }
    // An expected file whose output was not written is a failure, never a skip.
    for (expected_file, output, read) in [
        (
            "retest-file.csv",
            "retest.csv",
            read_spreadsheet_csv as fn(&Path) -> String,
        ),
        ("rejects.csv", "rejects.csv", read_spreadsheet_csv),
        ("inputs.csv", "manifest.json", |out: &Path| {
            inputs_table(&manifest(out.parent().expect("a folder")))
        }),
    ] {
        if !expected.join(expected_file).exists() {
            continue;
        }
        let path = out.path().join(output);
        if path.exists() {
            compare(&mut problems, expected_file, read(&path));
        } else {
            problems.push(format!(
                "{output} was not written, but {expected_file} is expected"
            ));
        }
    }
    if want_status == 1 || want_status == 2 {
        let left: Vec<_> = fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        if !left.is_empty() {
            problems.push(format!("a failed run left files behind: {left:?}"));
        }
    }
    problems
}

#[test]
fn every_fixture_case() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut cases: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n != "bad" && n != "fuzz" && n != "history")
        })
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "expected the full fixture set, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            case.join("expected").is_dir(),
            "{} has no expected/ folder",
            case.display()
        );
        let problems = check(case);
        if !problems.is_empty() {
            failures.push(format!(
                "== {}\n{}",
                case.file_name().unwrap().to_string_lossy(),
                problems.join("\n")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
