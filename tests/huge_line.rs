//! A 100 MB line is an error with its line number, not an exhaustion of memory. In a
//! test binary of its own, so that the peak memory of children is this run's alone.

mod common;

use common::*;
use std::io::Write;

#[test]
fn a_100_mb_line_is_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let basic = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    for f in ["roster.csv", "results.csv"] {
        std::fs::copy(basic.join(f), dir.path().join(f)).unwrap();
    }
    let mut samples =
        std::io::BufWriter::new(std::fs::File::create(dir.path().join("samples.csv")).unwrap());
    samples
        .write_all(b"tube_id,person_id,sampled_at\nT1,S001,2022-04-10 08:00\nT1,")
        .unwrap();
    let block = vec![b'7'; 1 << 20];
    for _ in 0..100 {
        samples.write_all(&block).unwrap();
    }
    samples.write_all(b",2022-04-10 08:00\n").unwrap();
    drop(samples);

    let run = run_round(dir.path(), "out", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("samples.csv:3: a row longer than 1048576 bytes"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists());
    // SAFETY: getrusage only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let peak_mb = usage.ru_maxrss / 1024;
    assert!(
        peak_mb < 64,
        "the child peaked at {peak_mb} MB reading a 100 MB line"
    );
}
