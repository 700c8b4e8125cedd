//! Errors of the machine are I/O errors naming the path, never "a bug in poolscreen":
//! a file-size limit that makes every output write fail (a full disk, as the writer
//! sees it), an output folder that cannot be written, an output folder whose parent
//! cannot be written (the run stages inside the folder instead), and inputs that
//! change while they are read.
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
    // Written a moment later (a clock of coarse ticks could show the same time).
    std::fs::File::options()
        .write(true)
        .open(&roster)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
        .unwrap();
    // The first person's row reads as it did, but the file is not the one read.
    let err = people.details(vec![0]).unwrap_err().to_string();
    assert!(
        err.contains("roster.csv: the file changed while it was read"),
        "{err}"
    );
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

/// A round of samples of several megabytes: blocks of one mebibyte are read one after
/// another.
fn several_blocks(dir: &Workdir) -> Vec<u8> {
    dir.run(
        &[
            "generate", "--out", "in", "--people", "60000", "--seed", "3",
        ],
        0,
    );
    let whole = std::fs::read(dir.join("in/samples.csv")).unwrap();
    assert!(whole.len() > 3 << 20, "a file of several blocks");
    whole
}

/// Runs the round into `out` with `env`, and `change`s samples.csv once the run has
/// opened it and before it reads it. Returns the run's status and standard error.
fn change_samples_while_run(
    dir: &Workdir,
    out: &str,
    env: &[(&str, &str)],
    change: impl FnOnce(&Path),
) -> (Option<i32>, Vec<String>) {
    let args = run_args(out);
    let mut command = dir.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    command
        .env(poolscreen::ingest::mapped::TEST_MAP_PAUSE, "1500")
        .stderr(std::process::Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok);
    assert!(
        lines.any(|line| line.contains("samples.csv opened")),
        "the run never opened the samples"
    );
    change(&dir.join("in/samples.csv"));
    let rest: Vec<String> = lines.collect();
    (child.wait().unwrap().code(), rest)
}

/// Asserts that the run failed with `message` and wrote no output into `out`.
fn failed_without_output(dir: &Workdir, out: &str, run: (Option<i32>, Vec<String>), message: &str) {
    let (status, stderr) = run;
    assert_eq!(status, Some(1), "{stderr:?}");
    assert!(stderr.iter().any(|l| l.contains(message)), "{stderr:?}");
    assert!(
        output_bytes(&dir.join(out)).iter().all(Option::is_none),
        "no output is written"
    );
}

const NO_MAP: (&str, &str) = (poolscreen::ingest::mapped::NO_MAP, "1");

/// Read without a mapping (`POOLSCREEN_NO_MAP=1`), a round gives the outputs it gives
/// mapped; an input shortened while the run reads it through its mapping (past the
/// page being read: `SIGBUS`) ends the run with an error saying so and status 1, and no
/// output.
#[test]
fn an_input_shortened_while_it_is_mapped_stops_the_run_without_output() {
    let dir = Workdir::new();
    let whole = several_blocks(&dir);
    let args = run_args("out");
    dir.run(&args.iter().map(String::as_str).collect::<Vec<_>>(), 0);
    let unmapped = dir
        .command(
            &run_args("unmapped")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .env(NO_MAP.0, NO_MAP.1)
        .output()
        .unwrap();
    expect(&unmapped, 0);
    let tables = |out: &str| {
        let mut bytes = output_bytes(&dir.join(out));
        bytes.pop(); // The manifest, whose times differ.
        bytes
    };
    assert_eq!(tables("unmapped"), tables("out"));

    // Cut inside the first block: the next page read is past the end.
    let run = change_samples_while_run(&dir, "cut", &[], |samples| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(samples)
            .unwrap();
        file.set_len(5000).unwrap();
    });
    failed_without_output(
        &dir,
        "cut",
        run,
        "an input file was shortened while it was read",
    );
    std::fs::write(dir.join("in/samples.csv"), whole).unwrap();
}

/// A file changed without a fault while the run reads it, mapped or not, fails the
/// run as its reading ends, with no output: shortened within its last page (a mapping
/// shows the rest of that page as zeros), or rewritten in place with as many bytes
/// (`cp` over it). The same file left alone reads as before.
#[test]
fn an_input_changed_while_it_is_read_fails_the_run_mapped_or_not() {
    let dir = Workdir::new();
    let whole = several_blocks(&dir);
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    // Past the start of the last page, so that no page is lost to the mapping.
    let cut = whole.len() - 1 - ((whole.len() - 1) % page) + 1;
    assert!(cut < whole.len() - 1);
    let mut rewritten = whole.clone();
    let line = rewritten.len() / 2 + memchr_line(&rewritten[rewritten.len() / 2..]);
    rewritten[line] = if rewritten[line] == b'0' { b'1' } else { b'0' };
    for env in [&[][..], &[NO_MAP]] {
        let run = change_samples_while_run(&dir, "shorter", env, |samples| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(samples)
                .unwrap();
            file.set_len(cut as u64).unwrap();
        });
        failed_without_output(
            &dir,
            "shorter",
            run,
            "samples.csv: the file changed while it was read",
        );
        std::fs::write(dir.join("in/samples.csv"), &whole).unwrap();

        // As `cp` writes over a file; a moment later than the last write (a clock of
        // coarse ticks could show the same time).
        let run = change_samples_while_run(&dir, "rewritten", env, |samples| {
            std::fs::write(samples, &rewritten).unwrap();
            std::fs::File::options()
                .write(true)
                .open(samples)
                .unwrap()
                .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
                .unwrap();
        });
        failed_without_output(
            &dir,
            "rewritten",
            run,
            "samples.csv: the file changed while it was read",
        );
        std::fs::write(dir.join("in/samples.csv"), &whole).unwrap();

        let run = change_samples_while_run(&dir, "alone", env, |_| ());
        assert_eq!(run.0, Some(0), "{:?}", run.1);
    }
}

/// The offset in `text` of the first byte after its first line feed.
fn memchr_line(text: &[u8]) -> usize {
    text.iter().position(|&b| b == b'\n').unwrap() + 1
}

/// Every output's bytes, in the contract's order, the manifest last.
fn output_bytes(out: &Path) -> Vec<Option<Vec<u8>>> {
    OUTPUT_FILES
        .iter()
        .map(|f| std::fs::read(out.join(f)).ok())
        .collect()
}
