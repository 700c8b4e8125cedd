//! The fuzz targets' checks, run on every committed seed (`fuzz/corpus/*/seed-*`) and on
//! every input that ever crashed a target (`fixtures/fuzz/<target>/*`).

use std::fs;
use std::path::Path;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 10] = [
    ("ingest_roster", poolscreen::fuzzing::roster),
    ("ingest_samples", poolscreen::fuzzing::samples),
    ("ingest_results", poolscreen::fuzzing::results),
    ("ingest_retests", poolscreen::fuzzing::retests),
    ("reject_raw", poolscreen::fuzzing::reject_raw),
    ("encoding", poolscreen::fuzzing::encoding),
    ("timestamp", poolscreen::fuzzing::timestamp),
    ("ct", poolscreen::fuzzing::ct),
    ("header", poolscreen::fuzzing::header),
    ("rules", poolscreen::fuzzing::rules),
];

fn inputs(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files
}

#[test]
fn seeds_and_past_crashes_pass_every_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for (target, check) in TARGETS {
        let seeds = inputs(&root.join("fuzz/corpus").join(target), "seed-");
        assert!(!seeds.is_empty(), "target {target} has no committed seed");
        for input in seeds
            .iter()
            .chain(&inputs(&root.join("fixtures/fuzz").join(target), ""))
        {
            check(&fs::read(input).unwrap());
            ran += 1;
        }
    }
    assert!(ran >= 30, "{ran} inputs");
}
