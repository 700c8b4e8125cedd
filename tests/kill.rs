//! Kill safety: a run killed with SIGKILL at any moment leaves the output folder with
//! the complete previous outputs or the complete new ones, never a mix; the next run
//! removes what the killed one left.

mod common;

use common::*;
use poolscreen::export::staging::TEST_SWITCH_PAUSE;
use poolscreen::export::OUTPUT_FILES;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn run_args(data: &Path, out: &Path) -> Vec<String> {
    let f = |n: &str| data.join(n).display().to_string();
    vec![
        "run".into(),
        "--roster".into(),
        f("roster.csv"),
        "--samples".into(),
        f("samples.csv"),
        "--results".into(),
        f("results.csv"),
        "--out".into(),
        out.display().to_string(),
        "--quiet".into(),
    ]
}

/// Every output but the manifest, whose times differ from run to run.
fn tables(out: &Path) -> Vec<Option<Vec<u8>>> {
    OUTPUT_FILES[..OUTPUT_FILES.len() - 1]
        .iter()
        .map(|t| fs::read(out.join(t)).ok())
        .collect()
}

fn manifest_hash(out: &Path) -> Option<String> {
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("manifest.json")).ok()?).ok()?;
    Some(m["inputs"][0]["sha256"].as_str()?.to_string())
}

#[test]
fn a_killed_run_leaves_old_or_new_outputs_never_a_mix() {
    let root = tempfile::tempdir().unwrap();
    for (name, seed) in [("old", "1"), ("new", "2")] {
        let gen = poolscreen(
            root.path(),
            &[
                "generate", "--out", name, "--people", "400000", "--seed", seed,
            ],
        );
        expect(&gen, 0);
    }
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    // Reference outputs of both inputs, and how long a whole run takes.
    let reference = |data: &Path, out: &str| {
        let out = root.path().join(out);
        let started = Instant::now();
        let run = Command::new(bin())
            .args(run_args(data, &out))
            .output()
            .unwrap();
        expect(&run, 0);
        (tables(&out), manifest_hash(&out), started.elapsed())
    };
    let (old_tables, old_hash, _) = reference(&old, "ref-old");
    let (new_tables, new_hash, took) = reference(&new, "ref-new");
    assert_ne!(old_tables, new_tables);

    let out = root.path().join("out");
    let mut outcomes = (0, 0);
    for step in 0..12 {
        // Fill the folder with complete old outputs, then start the new run and kill it
        // at a moment spread over the run, most of them in its last part (the writing).
        let prepared = Command::new(bin())
            .args(run_args(&old, &out))
            .output()
            .unwrap();
        expect(&prepared, 0);
        let mut child = Command::new(bin())
            .args(run_args(&new, &out))
            .spawn()
            .unwrap();
        // The last kill comes well after the run would have ended.
        let at = took.mul_f64(if step == 11 {
            2.0
        } else {
            0.6 + 0.04 * step as f64
        });
        std::thread::sleep(at);
        let _ = child.kill();
        child.wait().unwrap();

        let now = tables(&out);
        let hash = manifest_hash(&out);
        if now == old_tables && hash == old_hash {
            outcomes.0 += 1;
        } else if now == new_tables && hash == new_hash {
            outcomes.1 += 1;
        } else {
            panic!("after a kill at {at:?} the output folder holds a mix of old and new outputs");
        }
        let names: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert!(
            names.iter().all(|n| OUTPUT_FILES.contains(&n.as_str())),
            "{names:?}"
        );
    }
    // Kills inside the switch itself: the test-only pause holds the run between its
    // last staged file and the switch, where a kill must leave the old outputs whole.
    for _ in 0..3 {
        let prepared = Command::new(bin())
            .args(run_args(&old, &out))
            .output()
            .unwrap();
        expect(&prepared, 0);
        let mut child = Command::new(bin())
            .args(run_args(&new, &out))
            .env(TEST_SWITCH_PAUSE, "5000")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let staged = std::io::BufRead::lines(std::io::BufReader::new(stderr))
            .map_while(Result::ok)
            .any(|line| line.contains("outputs staged"));
        assert!(staged, "the run never reached its switch");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            tables(&out),
            old_tables,
            "a kill inside the switch changed the outputs"
        );
        assert_eq!(manifest_hash(&out), old_hash);
    }
    // The next complete run removes what killed runs left beside the folder.
    let done = Command::new(bin())
        .args(run_args(&new, &out))
        .output()
        .unwrap();
    expect(&done, 0);
    let leftovers: Vec<String> = fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("poolscreen-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(tables(&out), new_tables);
    // The kills were spread over the run: some before its switch, some after.
    assert!(
        outcomes.0 >= 1 && outcomes.1 >= 1,
        "kills that left the old outputs: {}, the new ones: {}",
        outcomes.0,
        outcomes.1
    );
}

/// A folder that holds a file of the user's is switched file by file, `manifest.json`
/// last: a kill between two renames leaves some new files beside old ones, but every
/// file whole, and the manifest still the old one until every table is new.
#[test]
fn a_kill_between_renames_leaves_whole_files_and_the_old_manifest() {
    let root = tempfile::tempdir().unwrap();
    for (name, seed) in [("old", "1"), ("new", "2")] {
        let gen = poolscreen(
            root.path(),
            &[
                "generate", "--out", name, "--people", "20000", "--seed", seed,
            ],
        );
        expect(&gen, 0);
    }
    let (old, new) = (root.path().join("old"), root.path().join("new"));
    let out = root.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "the user's own file").unwrap();
    let reference = |data: &Path, name: &str| {
        let folder = root.path().join(name);
        let run = Command::new(bin())
            .args(run_args(data, &folder))
            .output()
            .unwrap();
        expect(&run, 0);
        tables(&folder)
    };
    let (old_tables, new_tables) = (reference(&old, "ref-old"), reference(&new, "ref-new"));
    let prepared = Command::new(bin())
        .args(run_args(&old, &out))
        .output()
        .unwrap();
    expect(&prepared, 0);
    let old_hash = manifest_hash(&out);
    let mut child = Command::new(bin())
        .args(run_args(&new, &out))
        .env(TEST_SWITCH_PAUSE, "3000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let switched = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .map_while(Result::ok)
        .filter(|line| line.contains("switched in"))
        .take(3)
        .count();
    assert_eq!(switched, 3, "the run never switched three files in");
    child.kill().unwrap();
    child.wait().unwrap();
    let now = tables(&out);
    let mut mixed = (0, 0);
    for ((file, now), (old, new)) in OUTPUT_FILES
        .iter()
        .zip(&now)
        .zip(old_tables.iter().zip(&new_tables))
    {
        if now == old {
            mixed.0 += 1;
        } else if now == new {
            mixed.1 += 1;
        } else {
            panic!("{file} is neither the old nor the new one: a file half-written");
        }
    }
    assert!(
        mixed.0 >= 1 && mixed.1 >= 1,
        "the kill landed between renames: {mixed:?}"
    );
    assert_eq!(manifest_hash(&out), old_hash, "the manifest goes last");
    assert!(out.join("notes.txt").exists(), "the user's file stays");
    let done = Command::new(bin())
        .args(run_args(&new, &out))
        .output()
        .unwrap();
    expect(&done, 0);
    assert_eq!(tables(&out), new_tables);
    assert!(out.join("notes.txt").exists());
}
