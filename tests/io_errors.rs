//! Errors of the machine are I/O errors naming the path, never "a bug in poolscreen":
//! a file-size limit that makes every output write fail (a full disk, as the writer
//! sees it), an output folder that cannot be written, an output folder whose parent
//! cannot be written (the run stages inside the folder instead), and a roster that
//! changes while it is read.
//!
//! Permissions do not bind root, so when the tests run as root the runs that need a
//! read-only folder drop to the `nobody` user first.

mod common;

use common::*;
use poolscreen::export::OUTPUT_FILES;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// A round big enough for outputs of some hundred kilobytes.
fn round(dir: &Workdir) {
    dir.run(
        &[
            "generate", "--out", "in", "--people", "20000", "--seed", "3",
        ],
        0,
    );
}

fn run_args(out: &str) -> Vec<String> {
    generated_args(out).into_iter().map(String::from).collect()
}

/// Runs `command` with files limited to `bytes`: writes past the limit fail with
/// EFBIG, as a full disk makes them fail with ENOSPC.
fn with_file_limit(command: &mut std::process::Command, bytes: u64) {
    // SAFETY: between fork and exec, only async-signal-safe calls: setrlimit and
    // signal. SIGXFSZ is ignored so that the write fails instead of the process.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
}

#[test]
fn a_full_disk_is_an_io_error_naming_the_file() {
    let dir = Workdir::new();
    round(&dir);
    let args = run_args("out");
    let mut command = dir.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // Less than the largest outputs of this round (its workbooks, about 30-40 KB).
    with_file_limit(&mut command, 16 * 1024);
    let output = command.output().unwrap();
    expect(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("bug"), "{stderr}");
    assert!(
        stderr.contains("File too large")
            && stderr.contains(&format!("{}", dir.join("out").display())),
        "the error names the output and what the system said: {stderr}"
    );
    assert!(!dir.join("out").exists(), "nothing is left half-written");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("poolscreen-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A workbook is written a deflated block at a time, from every worker: a full disk
/// while writing it is an I/O error naming the workbook too.
#[test]
fn a_full_disk_under_a_workbook_is_an_io_error_naming_it() {
    let dir = Workdir::new();
    // Nobody sampled: of all outputs only the missing list's workbook is large.
    let mut roster = String::from("person_id,name,building,room,college,class,phone,counselor\n");
    for i in 0..20_000 {
        roster.push_str(&format!(
            "P{i:06},某某某,公寓{},{},信息工程学院,2022级{}班,13800000000,辅导员{}\n",
            i % 5,
            i % 300,
            i % 9,
            i % 7
        ));
    }
    dir.write("roster.csv", roster);
    dir.write("samples.csv", "tube_id,person_id,sampled_at\n");
    dir.write("results.csv", "tube_id,ct_orf1ab,ct_n\n");
    let mut command = dir.command(&round_args("out", &["--round", "R1", "--quiet"]));
    // The workbook is some 480 KB, every other output under 20 KB.
    with_file_limit(&mut command, 1 << 18);
    let output = command.output().unwrap();
    expect(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("bug") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(
        stderr.contains("missing.xlsx") && stderr.contains("File too large"),
        "{stderr}"
    );
}

/// Runs `command` as `nobody` when the test runs as root, so that permissions bind.
fn as_unprivileged(command: &mut std::process::Command) {
    // SAFETY: getuid is async-signal-safe; the uid and gid are set before exec.
    if unsafe { libc::getuid() } == 0 {
        command.uid(65534).gid(65534);
    }
}

fn open_to_all(path: &Path) {
    for entry in walk(path) {
        let mode = if entry.is_dir() { 0o777 } else { 0o666 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn walk(path: &Path) -> Vec<std::path::PathBuf> {
    let mut all = vec![path.to_path_buf()];
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            all.extend(walk(&entry.path()));
        }
    }
    all
}

#[test]
fn a_read_only_output_folder_is_an_io_error_naming_it() {
    let dir = Workdir::new();
    round(&dir);
    open_to_all(dir.path());
    std::fs::create_dir(dir.join("locked")).unwrap();
    std::fs::write(dir.join("locked/notes.txt"), "not poolscreen's").unwrap();
    std::fs::set_permissions(dir.join("locked"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let args = run_args("locked");
    let mut command = dir.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    as_unprivileged(&mut command);
    let output = command.output().unwrap();
    expect(&output, 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("bug"), "{stderr}");
    assert!(
        stderr.contains("Permission denied") && stderr.contains("locked"),
        "{stderr}"
    );
}

#[test]
fn an_output_folder_whose_parent_is_read_only_is_written_in_place() {
    let dir = Workdir::new();
    round(&dir);
    std::fs::create_dir_all(dir.join("shared/out")).unwrap();
    open_to_all(dir.path());
    std::fs::set_permissions(dir.join("shared"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let args = run_args("shared/out");
    let mut command = dir.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    as_unprivileged(&mut command);
    let output = command.output().unwrap();
    expect(&output, 0);
    let m = manifest(&dir.join("shared/out"));
    assert_eq!(
        m["outputs"].as_array().unwrap().len(),
        OUTPUT_FILES.len() - 1
    );
    let names: Vec<String> = std::fs::read_dir(dir.join("shared/out"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("poolscreen-tmp")),
        "the staging inside the folder is removed: {names:?}"
    );
    assert!(dir.join("shared/out/retest.xlsx").exists());
}

#[test]
fn a_roster_that_changes_while_it_is_read_stops_the_run() {
    let dir = Workdir::new();
    let roster = dir.write(
        "roster.csv",
        "person_id,name,building\nS1,张一,公寓1\nS2,张二,公寓1\n",
    );
    let (people, _, _) = poolscreen::pipeline::load_roster(&roster, None).unwrap();
    // The same bytes for the first person, another person in the second's place.
    std::fs::write(
        &roster,
        "person_id,name,building\nS1,张一,公寓1\nS3,李三,公寓1\n",
    )
    .unwrap();
    assert!(people.details(vec![0]).is_ok());
    let err = people.details(vec![0, 1]).unwrap_err().to_string();
    assert!(
        err.contains("the roster changed while it was read"),
        "{err}"
    );
    assert!(err.contains("roster.csv:3"), "{err}");
    assert!(!err.contains("李三") && !err.contains("S3"), "{err}");
    // Shorter than it was: the row is gone.
    std::fs::write(&roster, "person_id,name,building\n").unwrap();
    let err = people.details(vec![1]).unwrap_err().to_string();
    assert!(
        err.contains("the roster changed while it was read"),
        "{err}"
    );
}

/// An input shortened while the run reads it through its mapping ends the run with an
/// error saying so and status 1, the outputs of the run before left as they were;
/// read without a mapping (`POOLSCREEN_NO_MAP=1`), the same round gives the same
/// outputs as mapped.
#[test]
fn an_input_shortened_while_it_is_mapped_stops_the_run_and_changes_no_output() {
    use poolscreen::ingest::mapped::{NO_MAP, TEST_MAP_PAUSE};
    let dir = Workdir::new();
    // Samples of several megabytes: blocks of one mebibyte are read one after another.
    dir.run(
        &[
            "generate", "--out", "in", "--people", "60000", "--seed", "3",
        ],
        0,
    );
    let args = run_args("out");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    dir.run(&args, 0);
    let before = output_bytes(&dir.join("out"));
    let unmapped = dir
        .command(
            &run_args("unmapped")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .env(NO_MAP, "1")
        .output()
        .unwrap();
    expect(&unmapped, 0);
    let tables = |out: &str| {
        let mut bytes = output_bytes(&dir.join(out));
        bytes.pop(); // The manifest, whose times differ.
        bytes
    };
    assert_eq!(tables("unmapped"), tables("out"));

    let samples = dir.join("in/samples.csv");
    let whole = std::fs::read(&samples).unwrap();
    assert!(whole.len() > 3 << 20, "a file of several blocks");
    let mut child = dir
        .command(&args)
        .env(TEST_MAP_PAUSE, "2000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok);
    assert!(
        lines.any(|line| line.contains("samples.csv mapped")),
        "the run never mapped the samples"
    );
    // Cut inside the first block: the next page read is past the end.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&samples)
        .unwrap();
    file.set_len(5000).unwrap();
    let rest: Vec<String> = lines.collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("an input file was shortened while it was read")),
        "{rest:?}"
    );
    assert_eq!(output_bytes(&dir.join("out")), before, "outputs changed");
    std::fs::write(&samples, whole).unwrap();
}

/// Every output's bytes, in the contract's order, the manifest last.
fn output_bytes(out: &Path) -> Vec<Option<Vec<u8>>> {
    OUTPUT_FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).ok())
        .collect()
}
