//! A province round: `generate --shards 3` splits one round into districts with planted
//! cross-border cases; poolscreen runs per district and publishes each as a shard; the
//! Spark job (`scaleout/province.py`, Spark in local mode, 2 threads, a 2 GB driver)
//! totals them. The province's totals must equal those of one `run` over the unsplit
//! round, and every planted case must be found. Needs Java 17 and pyspark:
//! `.ci/run` installs them (Debian's openjdk-17-jre-headless, pyspark from PyPI into
//! target/ci-spark/venv); `POOLSCREEN_SPARK_SUBMIT` names another spark-submit.

mod common;

use common::*;
use polars::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// spark-submit, or a panic that says how to get it.
fn spark_submit() -> PathBuf {
    let path = std::env::var_os("POOLSCREEN_SPARK_SUBMIT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ci-spark/venv/bin/spark-submit"),
        PathBuf::from,
    );
    let java = Command::new("java").arg("-version").output();
    if !path.exists() || !java.is_ok_and(|o| o.status.success()) {
        panic!(
            "this test needs Java 17 (Debian package openjdk-17-jre-headless) and pyspark's \
             spark-submit at {} (or POOLSCREEN_SPARK_SUBMIT); .ci/run installs both",
            path.display()
        );
    }
    path
}

/// Runs the province job; returns its status, standard output and standard error.
fn province(dir: &Workdir, history: &str, label: &str, out: &str) -> (i32, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scaleout/province.py");
    let submit = spark_submit();
    // spark-submit finds Spark through the Python beside it (its virtual environment).
    let bin = submit.parent().expect("a folder").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let output = Command::new(&submit)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("PYSPARK_PYTHON", bin.join("python"))
        .args(["--master", "local[2]", "--driver-memory", "2g"])
        .args(["--conf", "spark.ui.enabled=false"])
        .arg(script)
        .args(["--history", history, "--round", label, "--out", out])
        .output()
        .expect("spark-submit runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The sum of an integer column.
fn sum(frame: &DataFrame, column: &str) -> i64 {
    frame
        .column(column)
        .unwrap()
        .as_materialized_series()
        .sum::<i64>()
        .unwrap()
}

/// A value of the row of `frame` where `shard` is null (the province's row).
fn province_value(totals: &DataFrame, column: &str) -> String {
    let shard = totals.column("shard").unwrap();
    let row = (0..totals.height())
        .find(|&i| shard.get(i).unwrap().is_null())
        .expect("a province row");
    cell(totals.column(column).unwrap().get(row).unwrap())
}

/// Concatenates the shards' `name` files (the header once) into `all/name`.
fn concatenate(dir: &Workdir, shards: &[&str], name: &str) {
    let mut text = String::new();
    for (k, shard) in shards.iter().enumerate() {
        let body = std::fs::read_to_string(dir.join(&format!("gen/{shard}/{name}"))).unwrap();
        let skip = if k == 0 {
            0
        } else {
            body.find('\n').unwrap() + 1
        };
        text.push_str(&body[skip..]);
    }
    dir.write(&format!("all/{name}"), text);
}

fn run_shard(dir: &Workdir, shard: &str) {
    let input = |f: &str| format!("gen/{shard}/{f}");
    dir.run(
        &[
            "run",
            "--roster",
            &input("roster.csv"),
            "--samples",
            &input("samples.csv"),
            "--results",
            &input("results.csv"),
            "--retests",
            &input("retests.csv"),
            "--out",
            &format!("out/{shard}"),
            "--history",
            "history",
            "--shard",
            shard,
            "--quiet",
        ],
        0,
    );
}

#[test]
fn a_province_from_three_districts_totals_as_the_whole_round() {
    let submit = spark_submit();
    assert!(submit.exists());
    let dir = Workdir::new();
    let shards = ["d1", "d2", "d3"];
    dir.run(
        &[
            "generate",
            "--out",
            "gen",
            "--people",
            "9000",
            "--buildings",
            "12",
            "--shards",
            "3",
            "--prevalence",
            "0.01",
            "--seed",
            "8",
        ],
        0,
    );
    for shard in shards {
        run_shard(&dir, shard);
    }
    // A shard published twice replaces itself.
    run_shard(&dir, "d2");
    std::fs::create_dir_all(dir.join("all")).unwrap();
    for name in ["roster.csv", "samples.csv", "results.csv", "retests.csv"] {
        concatenate(&dir, &shards, name);
    }
    dir.run(
        &[
            "run",
            "--roster",
            "all/roster.csv",
            "--samples",
            "all/samples.csv",
            "--results",
            "all/results.csv",
            "--retests",
            "all/retests.csv",
            "--out",
            "whole",
            "--quiet",
        ],
        0,
    );
    let whole = dir.parquet("whole/buildings.parquet");
    let label = cell(whole.column("round").unwrap().get(0).unwrap());
    // A folder left by an interrupted publication: no manifest, skipped, counted.
    let round = dir.join(&format!("history/rounds/{label}"));
    std::fs::create_dir_all(round.join("shard=d4")).unwrap();
    std::fs::copy(
        round.join("shard=d3/buildings.parquet"),
        round.join("shard=d4/buildings.parquet"),
    )
    .unwrap();

    let (status, stdout, stderr) = province(&dir, "history", &label, "province");
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("3 shards published, 1 missing"), "{stdout}");
    // spark-submit passes the job's standard error on with its standard output.
    assert!(
        format!("{stdout}{stderr}").contains("shard d4: no manifest.json"),
        "{stdout}"
    );

    let totals = dir.parquet("province/province_totals.parquet");
    for column in [
        "expected",
        "sampled",
        "missing",
        "to_retest",
        "confirmed_positive",
    ] {
        assert_eq!(
            province_value(&totals, column),
            sum(&whole, column).to_string(),
            "{column}"
        );
    }
    let tubes = dir.parquet("whole/tubes.parquet");
    let class = tubes.column("tube_class").unwrap();
    for c in ["positive", "suspect", "invalid", "pending", "negative"] {
        let n = (0..tubes.height())
            .filter(|&i| cell(class.get(i).unwrap()) == c)
            .count();
        assert_eq!(
            province_value(&totals, &format!("{c}_tubes")),
            n.to_string(),
            "{c}"
        );
    }
    assert_eq!(province_value(&totals, "tubes"), tubes.height().to_string());
    assert_eq!(province_value(&totals, "shards_missing"), "1");
    assert!(sum(&whole, "to_retest") > 0 && sum(&whole, "confirmed_positive") > 0);
    // Per shard: the shard's own run.
    let shard_col = totals.column("shard").unwrap();
    for shard in shards {
        let own = dir.parquet(&format!("out/{shard}/buildings.parquet"));
        let row = (0..totals.height())
            .find(|&i| cell(shard_col.get(i).unwrap()) == shard)
            .unwrap();
        for column in ["expected", "sampled", "missing", "to_retest"] {
            let got = cell(totals.column(column).unwrap().get(row).unwrap());
            assert_eq!(got, sum(&own, column).to_string(), "{shard} {column}");
        }
        let own_tubes = dir.parquet(&format!("out/{shard}/tubes.parquet"));
        let got = cell(totals.column("tubes").unwrap().get(row).unwrap());
        assert_eq!(got, own_tubes.height().to_string(), "{shard} tubes");
        // One person of each district is swabbed only in the next.
        let got = cell(
            totals
                .column("sampled_elsewhere")
                .unwrap()
                .get(row)
                .unwrap(),
        );
        assert_eq!(got, "1", "{shard} sampled_elsewhere");
    }
    // The skipped shard has a row, unpublished, without figures; rows in shard order.
    let order: Vec<String> = (0..totals.height())
        .map(|i| cell(shard_col.get(i).unwrap()))
        .collect();
    assert_eq!(order, ["d1", "d2", "d3", "d4", ""]);
    let published = totals.column("published").unwrap();
    assert_eq!(cell(published.get(3).unwrap()), "false");
    assert_eq!(cell(totals.column("expected").unwrap().get(3).unwrap()), "");
    let buildings = dir.parquet("province/province_buildings.parquet");
    assert_eq!(buildings.height(), whole.height());

    // Every planted cross-border case is found.
    let cross = dir.parquet("province/cross_shard.parquet");
    let found: BTreeSet<(String, String, String, String)> = (0..cross.height())
        .map(|i| {
            let c = |name: &str| cell(cross.column(name).unwrap().get(i).unwrap());
            (c("kind"), c("person_id"), c("tube_id"), c("shards"))
        })
        .collect();
    let planted = std::fs::read_to_string(dir.join("gen/cross_border.csv")).unwrap();
    let mut cases = 0;
    for line in planted.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (kind, person, tube, roster, sampled) = (f[0], f[1], f[2], f[3], f[4]);
        let pair = {
            let mut both = [roster, sampled];
            both.sort();
            both.join(",")
        };
        let wanted: Vec<(String, String, String, String)> = match kind {
            "sampled_outside_roster" => {
                vec![(kind.into(), person.into(), String::new(), sampled.into())]
            }
            "sampled_in_two_shards" => vec![
                (kind.into(), person.into(), String::new(), pair),
                (
                    "sampled_outside_roster".into(),
                    person.into(),
                    String::new(),
                    sampled.into(),
                ),
            ],
            "tube_in_two_shards" => vec![(kind.into(), String::new(), tube.into(), pair)],
            other => panic!("unknown planted kind {other}"),
        };
        for w in wanted {
            assert!(
                found.contains(&w),
                "planted {line} not found as {w:?} in {found:?}"
            );
        }
        cases += 1;
    }
    assert_eq!(cases, 7, "two people per district pair and one barcode");
    // Nothing found that was not planted.
    assert_eq!(found.len(), 3 + 3 + 3 + 1, "{found:?}");

    // Shards that disagree on the pool size stop the job before anything is written.
    let manifest = round.join("shard=d2/manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let changed = text
        .replace("\"pool_size\": 10", "\"pool_size\": 20")
        .replace(
            &format!("\"round\": \"{label}\""),
            "\"round\": \"2022-04-11\"",
        );
    assert_ne!(changed, text);
    std::fs::write(&manifest, changed).unwrap();
    let (status, stdout, stderr) = province(&dir, "history", &label, "again");
    let said = format!("{stdout}{stderr}");
    assert_eq!(status, 2, "{said}");
    assert!(said.contains("disagree on pool_size"), "{said}");
    assert!(said.contains("disagree on round"), "{said}");
    assert!(!dir.join("again/province_totals.parquet").exists());
}
