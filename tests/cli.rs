//! Runs the real binary on temporary folders and reads its outputs back: schema and
//! types of every Parquet file, exit statuses, atomic replacement of outputs.

mod common;

use common::*;
use polars::prelude::*;
use poolscreen::export::OUTPUT_FILES;
use std::fs;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn run_basic(out: &Path, extra: &[&str]) -> std::process::Output {
    run_round(&fixture("basic"), &out.display().to_string(), extra)
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn parquet_schemas_follow_the_contract() {
    let out = tempfile::tempdir().unwrap();
    expect(&run_basic(out.path(), &[]), 0);
    let tz = Some(
        TimeZone::opt_try_new(Some("Asia/Shanghai"))
            .unwrap()
            .unwrap(),
    );
    let ts = DataType::Datetime(TimeUnit::Microseconds, tz);
    let expect: [(&str, Vec<(&str, DataType)>); 7] = [
        (
            "buildings",
            [("round", DataType::String), ("building", DataType::String)]
                .into_iter()
                .chain(["expected", "on_leave", "sampled", "missing"].map(|c| (c, DataType::Int64)))
                .chain([("coverage", DataType::Float64)])
                .chain(
                    [
                        "tubes",
                        "positive_tubes",
                        "suspect_tubes",
                        "invalid_tubes",
                        "pending_tubes",
                        "negative_tubes",
                        "to_retest",
                        "confirmed_positive",
                        "cleared",
                        "open_retests",
                        "overdue_retests",
                    ]
                    .map(|c| (c, DataType::Int64)),
                )
                .chain([("median_turnaround_hours", DataType::Float64)])
                .collect(),
        ),
        (
            "people",
            vec![
                ("round", DataType::String),
                ("person_id", DataType::String),
                ("building", DataType::String),
                ("room", DataType::String),
                ("status", DataType::String),
                ("expected", DataType::Boolean),
                ("sampled", DataType::Boolean),
                ("tube_id", DataType::String),
                ("tube_class", DataType::String),
                ("outcome", DataType::String),
            ],
        ),
        (
            "closure",
            vec![
                ("round", DataType::String),
                ("person_id", DataType::String),
                ("building", DataType::String),
                ("room", DataType::String),
                ("action", DataType::String),
                ("tube_id", DataType::String),
                ("tube_class", DataType::String),
                ("pool_tested_at", ts.clone()),
                ("state", DataType::String),
                ("retest_tube_id", DataType::String),
                ("retest_sampled_at", ts.clone()),
                ("retest_tested_at", ts.clone()),
                ("retest_class", DataType::String),
                ("retest_ct_orf1ab", DataType::Float64),
                ("retest_ct_n", DataType::Float64),
                ("due_at", ts.clone()),
                ("overdue", DataType::Boolean),
                ("hours_to_result", DataType::Float64),
            ],
        ),
        (
            "retest",
            [
                "round",
                "action",
                "reason",
                "person_id",
                "name",
                "building",
                "room",
                "college",
                "class",
                "phone",
                "counselor",
                "tube_id",
            ]
            .map(|c| (c, DataType::String))
            .into_iter()
            .chain([
                ("tube_size", DataType::Int64),
                ("tube_class", DataType::String),
                ("ct_orf1ab", DataType::Float64),
                ("ct_n", DataType::Float64),
                ("sampled_at", ts.clone()),
                ("site", DataType::String),
            ])
            .collect(),
        ),
        (
            "missing",
            [
                "round",
                "person_id",
                "name",
                "building",
                "room",
                "college",
                "class",
                "phone",
                "counselor",
                "status",
            ]
            .map(|c| (c, DataType::String))
            .to_vec(),
        ),
        (
            "tubes",
            vec![
                ("round", DataType::String),
                ("tube_id", DataType::String),
                ("tube_size", DataType::Int64),
                ("tube_class", DataType::String),
                ("ct_orf1ab", DataType::Float64),
                ("ct_n", DataType::Float64),
                ("ct_ic", DataType::Float64),
                ("buildings", DataType::String),
                ("first_sampled_at", ts.clone()),
                ("site", DataType::String),
            ],
        ),
        (
            "anomalies",
            vec![
                ("round", DataType::String),
                ("kind", DataType::String),
                ("tube_id", DataType::String),
                ("person_id", DataType::String),
                ("file", DataType::String),
                ("line", DataType::Int64),
                ("detail", DataType::String),
            ],
        ),
    ];
    for (table, columns) in expect {
        let path = out.path().join(format!("{table}.parquet"));
        let df = read_parquet(&path);
        let got: Vec<(String, DataType)> = df
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.dtype().clone()))
            .collect();
        let want: Vec<(String, DataType)> = columns
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect();
        assert_eq!(got, want, "{table}.parquet schema");
        let bytes = fs::read(&path).unwrap();
        let zstd_magic = [0x28, 0xB5, 0x2F, 0xFD];
        if df.height() > 0 {
            assert!(
                bytes.windows(4).any(|w| w == zstd_magic),
                "{table}.parquet holds zstd frames"
            );
        }
    }
    // A timestamp is stored as UTC microseconds: 08:00 in Shanghai is 00:00 UTC.
    let tubes = read_parquet(&out.path().join("tubes.parquet"));
    let first = tubes.column("first_sampled_at").unwrap().get(0).unwrap();
    let utc = match first {
        AnyValue::Datetime(v, _, _) | AnyValue::DatetimeOwned(v, _, _) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(utc, 1_649_548_800_000_000, "2022-04-10 08:00 +08:00");
}

#[test]
fn retest_csv_has_a_bom_and_matches_the_parquet() {
    let out = tempfile::tempdir().unwrap();
    expect(&run_basic(out.path(), &[]), 0);
    let bytes = fs::read(out.path().join("retest.csv")).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
    let csv_text = read_spreadsheet_csv(&out.path().join("retest.csv"));
    let parquet_text = frame_to_csv(&read_parquet(&out.path().join("retest.parquet")));
    assert_eq!(csv_text, parquet_text);
}

#[test]
fn manifest_counts_and_hashes_inputs() {
    let out = tempfile::tempdir().unwrap();
    expect(&run_basic(out.path(), &[]), 0);
    let m = manifest(out.path());
    let roster = &m["inputs"][0];
    assert_eq!(roster["role"], "roster");
    let bytes = fs::read(fixture("basic").join("roster.csv")).unwrap();
    assert_eq!(roster["bytes"], bytes.len() as u64);
    assert_eq!(roster["sha256"].as_str().unwrap().len(), 64);
    for input in m["inputs"].as_array().unwrap() {
        let read = input["rows_read"].as_u64().unwrap();
        assert_eq!(
            read,
            input["rows_accepted"].as_u64().unwrap() + input["rows_rejected"].as_u64().unwrap()
        );
    }
    assert_eq!(m["rounds"], serde_json::json!(["2022-04-10"]));
    assert_eq!(m["rules"]["cutoff"], 40.0);
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        outputs,
        [
            "buildings.parquet",
            "retest.parquet",
            "retest.csv",
            "retest.xlsx",
            "missing.parquet",
            "missing.xlsx",
            "tubes.parquet",
            "anomalies.parquet",
            "people.parquet",
            "closure.parquet",
            "rejects.csv",
            "report.html"
        ]
    );
    assert_eq!(m["outputs"][1]["rows"], 4);
}

#[test]
fn exit_statuses() {
    let out = tempfile::tempdir().unwrap();
    expect(&run_basic(out.path(), &[]), 0);
    assert_eq!(
        run_basic(out.path(), &["--strict"]).status.code(),
        Some(0),
        "no rejects, --strict is fine"
    );
    let usage = poolscreen(&fixture("basic"), &["run", "--roster", "roster.csv"]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "missing arguments are a usage error"
    );
    let threads = run_basic(out.path(), &["--threads", "0"]);
    expect(&threads, 2);
    // Every file named on the command line that is not there is a usage error, as an
    // input is: the key, the rules.
    for (flag, file) in [
        ("--pseudonymize", "no-such-key.hex"),
        ("--rules", "no-such.toml"),
    ] {
        let got = run_basic(out.path(), &[flag, file]);
        expect(&got, 2);
        assert!(String::from_utf8_lossy(&got.stderr).contains(&format!("{file}: no such file")));
        let got = run_basic(out.path(), &[flag, "."]);
        expect(&got, 2);
        assert!(String::from_utf8_lossy(&got.stderr).contains(".: a folder, not a file"));
    }
    let missing = poolscreen(
        &fixture("basic"),
        &[
            "run",
            "--roster",
            "nope.csv",
            "--samples",
            "samples.csv",
            "--results",
            "results.csv",
            "--out",
            &out.path().display().to_string(),
        ],
    );
    expect(&missing, 2);
    // A history folder that is not there is one too; one without rounds holds none.
    let o = out.path().join("h").display().to_string();
    let history = |dir: &str| poolscreen(out.path(), &["history", "--history", dir, "--out", &o]);
    let got = history("no-such-history");
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr).contains("no-such-history: no such folder"));
    fs::write(out.path().join("a-file"), "").unwrap();
    let got = history("a-file");
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr).contains("a-file: a file, not a folder"));
    // Every command that writes a folder says so of a file in its place.
    let got = poolscreen(
        out.path(),
        &["generate", "--people", "10", "--out", "a-file"],
    );
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr)
        .contains("a-file: the output path is a file, not a folder"));
    let got = poolscreen(out.path(), &["demo", "--out", "a-file"]);
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr)
        .contains("a-file: the output path is a file, not a folder"));
    fs::create_dir(out.path().join("empty")).unwrap();
    let got = history("empty");
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr).contains("the history holds no round"));
    // A folder given as an input is named so; `plan --roster` takes its roster as `run`.
    let folder = tempfile::tempdir().unwrap();
    fs::create_dir(folder.path().join("roster.csv")).unwrap();
    let f = |n: &str| fixture("basic").join(n).display().to_string();
    let (samples, results) = (f("samples.csv"), f("results.csv"));
    let args = [
        "run",
        "--roster",
        "roster.csv",
        "--samples",
        &samples,
        "--results",
        &results,
        "--out",
        "out",
    ];
    let got = poolscreen(folder.path(), &args);
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr).contains("roster.csv: a folder, not a file"));
    let plan = ["plan", "--roster", "nope.csv", "--prevalence", "0.01"];
    expect(&poolscreen(folder.path(), &plan), 2);
    // A folder without a file's extension is named a folder too, not a file of the
    // wrong kind.
    let plan = ["plan", "--roster", ".", "--prevalence", "0.01"];
    let got = poolscreen(folder.path(), &plan);
    expect(&got, 2);
    assert!(String::from_utf8_lossy(&got.stderr).contains(".: a folder, not a file"));
}

/// A NUL byte in a rejected row is written as `\x00` in rejects.csv, never raw: a
/// spreadsheet cuts a cell at a NUL.
#[test]
fn a_nul_byte_is_escaped_in_rejects() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["samples.csv", "results.csv"] {
        fs::copy(fixture("basic").join(f), dir.path().join(f)).unwrap();
    }
    let mut roster = fs::read(fixture("basic").join("roster.csv")).unwrap();
    roster.extend_from_slice(b"S099,\xE4\xB8\x81\0,\xE5\x85\xAC\xE5\xAF\x931,101,\n");
    fs::write(dir.path().join("roster.csv"), roster).unwrap();
    expect(&run_round(dir.path(), "out", &[]), 0);
    let rejects = fs::read(dir.path().join("out/rejects.csv")).unwrap();
    assert!(!rejects.contains(&0), "a raw NUL in rejects.csv");
    let text = String::from_utf8_lossy(&rejects);
    assert!(text.contains("S099,丁\\x00,公寓1,101,"), "{text}");
}

#[test]
fn a_failed_run_leaves_earlier_outputs_untouched() {
    let out = tempfile::tempdir().unwrap();
    expect(&run_basic(out.path(), &[]), 0);
    let before = snapshot(out.path());
    let bad = fixture("fatal_two_aliases");
    let failed = run_round(&bad, &out.path().display().to_string(), &[]);
    expect(&failed, 1);
    assert_eq!(
        snapshot(out.path()),
        before,
        "outputs and nothing else, byte for byte"
    );
}

#[test]
fn stale_temporary_files_are_removed() {
    let out = tempfile::tempdir().unwrap();
    fs::write(
        out.path().join(".poolscreen-tmp-99999-tubes.parquet"),
        b"half written",
    )
    .unwrap();
    expect(&run_basic(out.path(), &[]), 0);
    let names: Vec<String> = snapshot(out.path()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), OUTPUT_FILES.len(), "{names:?}");
    assert!(
        names.iter().all(|n| !n.starts_with(".poolscreen-tmp-")),
        "{names:?}"
    );
}

#[test]
fn an_output_folder_that_would_overwrite_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["roster.csv", "samples.csv", "results.csv"] {
        fs::copy(fixture("basic").join(f), dir.path().join(f)).unwrap();
    }
    fs::copy(
        fixture("basic").join("results.csv"),
        dir.path().join("rejects.csv"),
    )
    .unwrap();
    let before = fs::read(dir.path().join("rejects.csv")).unwrap();
    let run = poolscreen(
        dir.path(),
        &[
            "run",
            "--roster",
            "roster.csv",
            "--samples",
            "samples.csv",
            "--results",
            "rejects.csv",
            "--out",
            ".",
        ],
    );
    expect(&run, 2);
    assert!(String::from_utf8_lossy(&run.stderr).contains("would overwrite"));
    assert_eq!(fs::read(dir.path().join("rejects.csv")).unwrap(), before);
}

#[test]
fn thread_counts_give_identical_bytes() {
    let data = tempfile::tempdir().unwrap();
    let gen = poolscreen(
        data.path(),
        &[
            "generate",
            "--out",
            ".",
            "--people",
            "60000",
            "--rounds",
            "2",
            "--dirty",
            "--prevalence",
            "0.002",
            "--seed",
            "11",
        ],
    );
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let mut outputs = Vec::new();
    for threads in ["1", "2", "4"] {
        let out = data.path().join(format!("out{threads}"));
        let run = run_round(
            data.path(),
            &out.display().to_string(),
            &["--threads", threads],
        );
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let files: Vec<_> = snapshot(&out)
            .into_iter()
            .filter(|(n, _)| n != "manifest.json")
            .collect();
        assert_eq!(files.len(), OUTPUT_FILES.len() - 1);
        outputs.push(files);
    }
    assert!(
        outputs[0] == outputs[1] && outputs[1] == outputs[2],
        "tables differ between thread counts"
    );
}

#[test]
fn the_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let run = poolscreen(dir.path(), &["demo", "--out", "demo"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        stdout.contains("公寓25") && stdout.contains("公寓28"),
        "{stdout}"
    );
    // Three rounds of 28 buildings; the figures below are of the first.
    let buildings = read_parquet(&dir.path().join("demo/buildings.parquet"));
    assert_eq!(buildings.height(), 3 * 28);
    let buildings = buildings.slice(0, 28);
    assert!(
        stdout.contains("missed the last two rounds or more running"),
        "{stdout}"
    );
    let persistent = read_parquet(
        &dir.path()
            .join("demo/history-out/persistent_missing.parquet"),
    );
    assert!(persistent.height() > 10, "{} people", persistent.height());
    let closure = read_parquet(&dir.path().join("demo/closure.parquet"));
    let states: std::collections::BTreeSet<String> = (0..closure.height())
        .map(|i| cell(closure.column("state").unwrap().get(i).unwrap()))
        .collect();
    assert!(
        states.contains("cleared") && states.contains("open"),
        "{states:?}"
    );
    let expected: i64 = buildings
        .column("expected")
        .unwrap()
        .i64()
        .unwrap()
        .sum()
        .unwrap();
    assert!((29_000..=30_000).contains(&expected), "{expected}");
    let tubes = read_parquet(&dir.path().join("demo/tubes.parquet"));
    let classes: Vec<String> = (0..tubes.height())
        .map(|i| cell(tubes.column("tube_class").unwrap().get(i).unwrap()))
        .collect();
    let count = |c: &str| classes.iter().filter(|v| *v == c).count();
    assert!(
        count("positive") >= 1 && count("suspect") >= 1,
        "a few positive and suspect pools"
    );
    // The isolation building has single tubes only.
    let iso = (0..buildings.height())
        .position(|i| cell(buildings.column("building").unwrap().get(i).unwrap()) == "公寓25")
        .unwrap();
    let row = |c: &str| {
        buildings
            .column(c)
            .unwrap()
            .i64()
            .unwrap()
            .get(iso)
            .unwrap()
    };
    assert_eq!(row("tubes"), row("sampled"));
}

/// The pipe whose reader goes away before poolscreen writes to it (`… | head -1`).
#[derive(PartialEq)]
enum Closed {
    Stdout,
    Stderr,
}

/// Runs `poolscreen ARGS` in `dir` with the reader of one pipe gone; returns the exit
/// status and what the other pipe received.
fn run_with_closed(closed: Closed, dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(bin())
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    match closed {
        Closed::Stdout => drop(child.stdout.take()),
        Closed::Stderr => drop(child.stderr.take()),
    }
    let output = child.wait_with_output().unwrap();
    let other = match closed {
        Closed::Stdout => &output.stderr,
        Closed::Stderr => &output.stdout,
    };
    (
        output.status.code(),
        String::from_utf8_lossy(other).into_owned(),
    )
}

#[test]
fn a_closed_stderr_does_not_stop_a_run() {
    // `poolscreen run … 2>&1 | head -1`: the reader goes away before the run's summary
    // lines are written. The run still writes every output and succeeds.
    let out = tempfile::tempdir().unwrap();
    let args = round_args(out.path().to_str().unwrap(), &[]);
    let (status, _) = run_with_closed(Closed::Stderr, &fixture("basic"), &args);
    assert_eq!(status, Some(0), "the run stopped");
    for file in OUTPUT_FILES {
        assert!(out.path().join(file).exists(), "{file} was not written");
    }
}

#[test]
fn a_closed_stdout_ends_the_printing_not_in_a_panic() {
    // `poolscreen plan … | head -1`: the reader goes away before the table is printed.
    let dir = tempfile::tempdir().unwrap();
    let args = ["plan", "--people", "1000", "--prevalence", "0.01"];
    let (status, stderr) = run_with_closed(Closed::Stdout, dir.path(), &args);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn round_labels_that_cannot_name_a_folder_are_usage_errors() {
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("o");
    let out = out.to_str().unwrap();
    // Blank once trimmed and normalised: spaces, or a zero-width space only.
    for blank in [" ", "\u{200b}", "\u{3000}"] {
        let empty = run_round(&fixture("basic"), out, &["--round", blank]);
        assert_eq!(empty.status.code(), Some(2), "{blank:?}");
        assert!(String::from_utf8_lossy(&empty.stderr).contains("cannot be empty"));
    }
    let history = tempfile::tempdir().unwrap();
    let long = "轮".repeat(100);
    let args = [
        "--round",
        long.as_str(),
        "--history",
        history.path().to_str().unwrap(),
    ];
    let refused = run_round(&fixture("basic"), out, &args);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("too long"), "{stderr}");
    assert!(!Path::new(out).join("retest.parquet").exists());
}

/// `--round` is trimmed and normalised as the cells of a file are: typed with a
/// full-width digit or a trailing space, it still matches the results' round column,
/// and the positive pool of the round is on the retest list.
#[test]
fn a_round_label_typed_full_width_matches_the_results_round_column() {
    let dir = Workdir::new();
    dir.write(
        "roster.csv",
        "person_id,name,building\nA1,甲,东1\nA2,乙,东1\n",
    );
    dir.write(
        "samples.csv",
        "tube_id,person_id,sampled_at\nT1,A1,2022-04-10 08:00\nT1,A2,2022-04-10 08:00\n",
    );
    dir.write(
        "results.csv",
        "tube_id,ct_orf1ab,ct_n,round\nT1,30,31,第1轮\n",
    );
    for label in ["第１轮", " 第1轮 "] {
        dir.run_round(&["--round", label, "--quiet"], 0);
        let retest = dir.parquet("out/retest.parquet");
        assert_eq!(retest.height(), 2, "--round {label:?}");
        let rounds = retest.column("round").unwrap().str().unwrap();
        assert!(rounds.iter().all(|r| r == Some("第1轮")), "{label:?}");
    }
}
