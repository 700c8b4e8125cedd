//! The bad-input corpus: every file in `fixtures/bad/` is one hazard, run in place of
//! the input its `.expect` file names (the other inputs come from `fixtures/basic/`),
//! and must give exactly the outcome written there:
//!
//! - `role:` roster, samples or results;
//! - `status:` the exit status;
//! - `stderr:` text standard error must contain; `stderr-lacks:` text it must not;
//! - `encoding:` and `rows: READ ACCEPTED REJECTED` for the hazard file, from the manifest;
//! - `reject: LINE COLUMN REASON`: a row of `rejects.csv` (`-` for no column), the reason
//!   given by its beginning; the rejects are exactly these;
//! - `building: NAME EXPECTED SAMPLED`: figures of `buildings.parquet`.
//!
//! A file without an `.expect` fails the test.

mod common;

use common::*;
use sha2::Digest;
use std::fs;
use std::path::Path;

fn check(hazard: &Path, expect: &str) -> Vec<String> {
    let field = |key: &str| -> Vec<&str> {
        expect
            .lines()
            .filter_map(|l| l.strip_prefix(key).map(str::trim))
            .collect()
    };
    let role = field("role:")[0];
    let dir = tempfile::tempdir().unwrap();
    let basic = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    for f in ["roster.csv", "samples.csv", "results.csv"] {
        fs::copy(basic.join(f), dir.path().join(f)).unwrap();
    }
    fs::copy(hazard, dir.path().join(format!("{role}.csv"))).unwrap();
    let run = run_round(dir.path(), "out", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    let mut problems = Vec::new();
    let status: i32 = field("status:")[0].parse().unwrap();
    if run.status.code() != Some(status) {
        problems.push(format!(
            "status {:?}, expected {status}: {stderr}",
            run.status.code()
        ));
    }
    for text in field("stderr:") {
        if !stderr.contains(text) {
            problems.push(format!("stderr lacks {text:?}: {stderr}"));
        }
    }
    for text in field("stderr-lacks:") {
        if stderr.contains(text) {
            problems.push(format!("stderr shows {text:?}: {stderr}"));
        }
    }
    let out = dir.path().join("out");
    if status == 0 || status == 3 {
        let m = manifest(&out);
        let input = m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["role"] == role)
            .unwrap()
            .clone();
        for enc in field("encoding:") {
            if input["encoding"] != enc {
                problems.push(format!("encoding {}, expected {enc}", input["encoding"]));
            }
        }
        for rows in field("rows:") {
            let got = format!(
                "{} {} {}",
                input["rows_read"], input["rows_accepted"], input["rows_rejected"]
            );
            if got != rows {
                problems.push(format!("rows {got}, expected {rows}"));
            }
        }
        let rejects = read_spreadsheet_csv(&out.join("rejects.csv"));
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(rejects.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let wanted = field("reject:");
        if rows.len() != wanted.len() {
            problems.push(format!(
                "{} rejects, expected {}: {rejects}",
                rows.len(),
                wanted.len()
            ));
        }
        for (want, got) in wanted.iter().zip(&rows) {
            let mut parts = want.splitn(3, ' ');
            let (line, column, reason) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let column = if column == "-" { "" } else { column };
            if got[1] != line || got[2] != column || !got[3].starts_with(reason) {
                problems.push(format!("reject {got:?}, expected {want}"));
            }
        }
        let buildings = read_parquet(&out.join("buildings.parquet"));
        for want in field("building:") {
            let parts: Vec<&str> = want.split(' ').collect();
            let row = (0..buildings.height())
                .find(|&i| cell(buildings.column("building").unwrap().get(i).unwrap()) == parts[0]);
            let got = row.map(|i| {
                let v = |c: &str| cell(buildings.column(c).unwrap().get(i).unwrap());
                format!("{} {} {}", parts[0], v("expected"), v("sampled"))
            });
            if got.as_deref() != Some(want) {
                problems.push(format!("building {got:?}, expected {want}"));
            }
        }
    } else if out.exists() {
        problems.push("a failed run wrote outputs".into());
    }
    problems
}

#[test]
fn every_hazard_has_its_outcome() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad");
    let mut files: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let hazards: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_none_or(|e| e != "expect"))
        .collect();
    assert!(
        hazards.len() >= 18,
        "the corpus has {} hazards",
        hazards.len()
    );
    let mut failures = Vec::new();
    for hazard in hazards {
        let expect = hazard.with_extension("expect");
        let Ok(text) = fs::read_to_string(&expect) else {
            failures.push(format!(
                "{} has no asserted outcome ({})",
                hazard.display(),
                expect.display()
            ));
            continue;
        };
        let problems = check(hazard, &text);
        if !problems.is_empty() {
            failures.push(format!(
                "== {}\n{}",
                hazard.file_name().unwrap().to_string_lossy(),
                problems.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A roster with a plain ASCII header, rows in GB18030 over several chunks, and a byte
/// that is not GB18030 either, far on: the UTF-8 pass stops at the first chunk (more
/// rows break UTF-8 than a UTF-8 file may hold), and the error still names the first
/// byte that breaks UTF-8 and the first that breaks GB18030.
#[test]
fn a_file_neither_utf8_nor_gb18030_names_both_first_bad_bytes() {
    let dir = beside_basic_samples_and_results();
    let mut roster = b"person_id,name,building\n".to_vec();
    roster.extend_from_slice(b"1,Li,A\n2,Wang,A\n");
    let first_utf8 = roster.len() + 2;
    for i in 3..260_000 {
        let (name, _, _) = encoding_rs::GB18030.encode("张三");
        roster.extend_from_slice(format!("{i},").as_bytes());
        roster.extend_from_slice(&name);
        roster.extend_from_slice(b",A\n");
    }
    let first_gb = roster.len() + "260000,".len();
    roster.extend_from_slice(b"260000,\xFF\xFF,A\n");
    assert!(roster.len() > 3 << 20, "several chunks");
    fs::write(dir.path().join("roster.csv"), &roster).unwrap();
    let run = run_round(dir.path(), "out", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("(byte offset {first_utf8})"))
            && stderr.contains(&format!("not GB18030 from byte offset {first_gb}")),
        "{stderr}"
    );
}

/// A roster in UTF-8 with a header of Chinese and too many rows broken by a byte that
/// is neither UTF-8 nor GB18030: read as GB18030, its header names none of the columns,
/// and the error says what is wrong with the file (not that columns are missing),
/// naming the first byte that breaks UTF-8.
#[test]
fn a_file_with_a_utf8_header_and_rows_in_no_encoding_names_the_first_bad_byte() {
    let dir = beside_basic_samples_and_results();
    let mut roster = "学号,姓名,楼栋\n".as_bytes().to_vec();
    let mut first_bad = None;
    for i in 1..=60 {
        roster.extend_from_slice(format!("{i},张三,公寓1\n").as_bytes());
        if i % 30 == 0 {
            let before = format!("{i}x,张");
            first_bad.get_or_insert(roster.len() + before.len());
            roster.extend_from_slice(before.as_bytes());
            roster.extend_from_slice(b"\xFF");
            roster.extend_from_slice("三,公寓1\n".as_bytes());
        }
    }
    fs::write(dir.path().join("roster.csv"), &roster).unwrap();
    let run = run_round(dir.path(), "out", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let first_bad = first_bad.unwrap();
    assert!(
        stderr.contains(&format!("(byte offset {first_bad})"))
            && stderr.contains("neither UTF-8 nor GB18030")
            && !stderr.contains("missing"),
        "{stderr}"
    );
}

/// A workbook saved under a `.csv` name is named for what it is, not as a file in no
/// text encoding.
#[test]
fn a_workbook_named_csv_is_told_to_take_its_name_back() {
    let dir = beside_basic_samples_and_results();
    let mut zip = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
    zip.extend(std::iter::repeat_n(0xFFu8, 200));
    fs::write(dir.path().join("roster.csv"), &zip).unwrap();
    let run = run_round(dir.path(), "out", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("roster.csv (byte offset 0): the file is an Excel workbook"),
        "{stderr}"
    );
}

/// A roster of no one is read (the run goes on, everyone sampled unregistered), but the
/// run says so, unless asked to be quiet.
#[test]
fn a_roster_of_no_one_is_warned_of() {
    let dir = beside_basic_samples_and_results();
    fs::write(dir.path().join("roster.csv"), "person_id,name,building\n").unwrap();
    let warning = "the roster has no person accepted";
    let run = run_round(dir.path(), "out", &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(warning), "{stderr}");
    let quiet = run_round(dir.path(), "out", &["--quiet"]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains(warning));
}

/// A samples file with no row labels its round by the earliest time of the results,
/// or `undated`: never by the clock, so that a rerun gives the same bytes.
#[test]
fn a_round_without_samples_is_labelled_by_the_inputs_not_the_clock() {
    let dir = beside_basic_samples_and_results();
    let basic = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
    fs::copy(basic.join("roster.csv"), dir.path().join("roster.csv")).unwrap();
    fs::write(
        dir.path().join("samples.csv"),
        "tube_id,person_id,sampled_at\n",
    )
    .unwrap();
    let rounds = |results: &str| {
        fs::write(dir.path().join("results.csv"), results).unwrap();
        expect(&run_round(dir.path(), "out", &["--quiet"]), 0);
        manifest(&dir.path().join("out"))["rounds"].clone()
    };
    let timed = "tube_id,lab_call,tested_at\nT8,阴性,2022-04-11 09:00\nT9,阴性,2022-04-10 23:30\n";
    assert_eq!(rounds(timed), serde_json::json!(["2022-04-10"]));
    let untimed = "tube_id,lab_call\nT8,阴性\n";
    assert_eq!(rounds(untimed), serde_json::json!(["undated"]));
}

/// A UTF-8 byte-order mark settles the encoding: however many rows break UTF-8, every
/// row of the file is read (each bad one rejected) and the whole file hashed, over
/// several chunks.
#[test]
fn a_file_with_a_utf8_bom_is_read_whole_however_many_rows_break_utf8() {
    let dir = beside_basic_samples_and_results();
    let mut roster = b"\xEF\xBB\xBFperson_id,name,building\n".to_vec();
    for i in 0..150 {
        roster.extend_from_slice(format!("B{i},").as_bytes());
        roster.extend_from_slice(b"\xFF,A\n");
    }
    let good = 300_000;
    for i in 0..good {
        roster.extend_from_slice(format!("S{i},Wang,A\n").as_bytes());
    }
    assert!(roster.len() > 3 << 20, "several chunks");
    fs::write(dir.path().join("roster.csv"), &roster).unwrap();
    expect(&run_round(dir.path(), "out", &["--quiet"]), 0);
    let input = &manifest(&dir.path().join("out"))["inputs"][0];
    assert_eq!(input["encoding"], "UTF-8 with BOM");
    assert_eq!(input["rows_read"], 150 + good);
    assert_eq!(input["rows_accepted"], good);
    assert_eq!(input["rows_rejected"], 150);
    assert_eq!(input["bytes"], roster.len() as u64);
    let sha: String = sha2::Sha256::digest(&roster)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(input["sha256"], sha);
}

/// A formula's error (`#N/A`) in a naming column is rejected in whichever chunk of a
/// roster it lies, in UTF-8 and in GB18030, read in place or, after a doubled quote,
/// through the CSV parser: each chunk is searched for a '#' once, and only a chunk
/// that holds one has its rows looked at.
#[test]
fn formula_errors_are_found_in_every_chunk_and_encoding() {
    let people = 200_000;
    // Two errors in later chunks; the second after a doubled quote in its chunk.
    let errors = [70_000, 150_002];
    let mut text = String::from("person_id,name,building\n");
    for i in 0..people {
        let building = match i {
            _ if errors.contains(&i) => "#N/A".to_string(),
            _ => format!("公寓{}", i % 5),
        };
        let name = match i {
            150_001 => "\"王\"\"五\"\"\"".to_string(),
            _ => format!("王{i}"),
        };
        text.push_str(&format!("S{i},{name},{building}\n"));
    }
    let (gb, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable);
    for (encoding, bytes) in [("UTF-8", text.as_bytes()), ("GB18030", &gb[..])] {
        assert!(bytes.len() > 3 << 20, "several chunks");
        let dir = beside_basic_samples_and_results();
        fs::write(dir.path().join("roster.csv"), bytes).unwrap();
        expect(&run_round(dir.path(), "out", &["--quiet"]), 0);
        let out = dir.path().join("out");
        assert_eq!(manifest(&out)["inputs"][0]["encoding"], encoding);
        assert_eq!(manifest(&out)["inputs"][0]["rows_rejected"], errors.len());
        let rejects = read_spreadsheet_csv(&out.join("rejects.csv"));
        let rows: Vec<Vec<String>> = csv::Reader::from_reader(rejects.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let got: Vec<(String, String, bool)> = rows
            .iter()
            .map(|r| {
                let reason = r[3].starts_with("building holds #N/A, a spreadsheet formula's error");
                (r[1].clone(), r[2].clone(), reason)
            })
            .collect();
        let want: Vec<(String, String, bool)> = errors
            .iter()
            .map(|i| ((i + 2).to_string(), "building".to_string(), true))
            .collect();
        assert_eq!(got, want, "{encoding}: {rejects}");
    }
}
