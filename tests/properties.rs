//! Property tests for the invariants: rows are conserved through ingest, and the tables
//! do not depend on the order of input rows or on the thread count.

use poolscreen::generate::{generate, GenerateOptions};
use poolscreen::ingest::{self, results};
use poolscreen::pipeline::{self, RunOptions};
use proptest::prelude::*;
use std::fs;
use std::path::Path;

/// A cell drawn from values that are valid, invalid, empty, quoted or multi-line.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{1,8}",
        Just(String::new()),
        Just("1.10101E+17".to_string()),
        Just("\"a,b\"".to_string()),
        Just("\"two\nlines\"".to_string()),
        Just("张三".to_string()),
        Just("2022-04-10 08:00".to_string()),
        Just("2022-02-30 08:00".to_string()),
        Just(" ".to_string()),
    ]
}

fn row(width: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(cell(), width).prop_map(|cells| cells.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every non-blank row is read, and read = accepted + rejected, for any mix of good,
    /// bad, short, long, quoted and multi-line rows.
    #[test]
    fn rows_are_conserved(rows in prop::collection::vec(row(1..6), 0..60), crlf in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let end = if crlf { "\r\n" } else { "\n" };
        let body: String = rows.iter().map(|r| format!("{r}{end}")).collect();
        let path = dir.path().join("results.csv");
        fs::write(&path, format!("tube_id,ct_orf1ab,ct_n,tested_at{end}{body}")).unwrap();
        let got = ingest::read_csv(&path, "results.csv", &results::COLUMNS, &results::ResultParser).unwrap();
        let r = &got.report;
        prop_assert_eq!(r.rows_read, r.rows_accepted + r.rows_rejected);
        prop_assert_eq!(r.rows_accepted as usize, got.parts.iter().map(|p| p.rows.len()).sum::<usize>());
        prop_assert_eq!(r.rows_rejected as usize, got.rejects.len());
        // The csv crate's own count of non-blank records is the number read.
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_path(&path).unwrap();
        let records = reader.byte_records().filter(|rec| rec.as_ref().unwrap().iter().any(|f| !f.iter().all(u8::is_ascii_whitespace))).count();
        prop_assert_eq!(r.rows_read as usize, records);
        // Lines of rejects are in file order and within the file.
        let lines = fs::read_to_string(&path).unwrap().lines().count() as u64;
        prop_assert!(got.rejects.windows(2).all(|w| w[0].line < w[1].line));
        prop_assert!(got.rejects.iter().all(|rj| rj.line >= 2 && rj.line <= lines));
    }

    /// Cutting at any boundary the scanner reports gives the records the csv parser
    /// finds in the whole text, however quotes, commas and line ends are mixed.
    #[test]
    fn cuts_agree_with_the_csv_parser(text in prop::collection::vec(prop::sample::select(vec![b'a', b',', b'"', b'\n', b'\r', b' ']), 0..200)) {
        let records = |bytes: &[u8]| -> Vec<Vec<Vec<u8>>> {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
            reader.byte_records().map(|r| r.unwrap().iter().map(<[u8]>::to_vec).collect()).collect()
        };
        let whole = records(&text);
        let mut cuts = Vec::new();
        ingest::split::Scanner::default().scan(&text, |b, _| cuts.push(b));
        for cut in cuts {
            let mut parts = records(&text[..cut]);
            parts.extend(records(&text[cut..]));
            prop_assert_eq!(&parts, &whole, "cut at {}", cut);
        }
    }

    /// The cutter's shortcut, which reports only the first and last boundary of each
    /// run without quotes, reports boundaries the full scan reports, with the same line
    /// counts, and always the first and the last of them, whatever the pieces.
    #[test]
    fn scan_ends_agrees_with_scan(text in prop::collection::vec(prop::sample::select(vec![b'a', b',', b'"', b'\n', b'\r']), 0..200), split in 0usize..200) {
        let split = split.min(text.len());
        let (mut every, mut ends) = (Vec::new(), Vec::new());
        let mut full = ingest::split::Scanner::default();
        let mut short = ingest::split::Scanner::default();
        for (base, piece) in [(0, &text[..split]), (split, &text[split..])] {
            full.scan(piece, |b, lines| every.push((base + b, lines)));
            short.scan_ends(piece, |b, lines| ends.push((base + b, lines)));
        }
        prop_assert!(ends.iter().all(|e| every.contains(e)), "{:?} not within {:?}", ends, every);
        prop_assert_eq!(ends.first(), every.first());
        prop_assert_eq!(ends.last(), every.last());
        prop_assert_eq!(short.lines(), full.lines());
        prop_assert_eq!(short.in_quotes(), full.in_quotes());
    }

    /// Roster rows are conserved too, duplicates included.
    #[test]
    fn roster_rows_are_conserved(ids in prop::collection::vec("[A-C][0-2]", 0..40)) {
        let dir = tempfile::tempdir().unwrap();
        let body: String = ids.iter().map(|id| format!("{id},某人,公寓1\n")).collect();
        let path = dir.path().join("roster.csv");
        fs::write(&path, format!("学号,姓名,楼栋\n{body}")).unwrap();
        let (people, report, rejects) = pipeline::load_roster(&path, None).unwrap();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        prop_assert_eq!(people.len(), distinct.len());
        prop_assert_eq!(report.rows_read as usize, ids.len());
        prop_assert_eq!(report.rows_accepted + report.rows_rejected, report.rows_read);
        prop_assert_eq!(report.rows_rejected as usize, rejects.len());
        for (i, r) in rejects.iter().enumerate() {
            let id = &ids[(r.line - 2) as usize];
            prop_assert_eq!(&r.raw, &format!("{id},某人,公寓1"), "a duplicate's reject carries its own raw line");
            prop_assert!(people.find(id).is_some());
            prop_assert!(i == 0 || rejects[i - 1].line < r.line);
        }
        for id in &distinct {
            let p = people.find(id).unwrap();
            prop_assert_eq!(people.id(p), id.as_str());
        }
    }
}

fn tables(out: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "buildings.parquet",
        "retest.parquet",
        "retest.csv",
        "missing.parquet",
        "tubes.parquet",
    ]
    .iter()
    .map(|f| (f.to_string(), fs::read(out.join(f)).unwrap()))
    .collect()
}

fn run_on(dir: &Path, out: &str, threads: usize) -> Vec<(String, Vec<u8>)> {
    let opts = RunOptions::for_folder(dir, &dir.join(out));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| pipeline::run(&opts)).unwrap();
    tables(&dir.join(out))
}

/// Shuffles the data lines of a generated file (one line per record), keeping the
/// header and any BOM in place.
fn shuffle_lines(path: &Path, seed: u64) {
    let bytes = fs::read(path).unwrap();
    let (bom, text) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (&b"\xEF\xBB\xBF"[..], rest),
        None => (&b""[..], &bytes[..]),
    };
    let text = std::str::from_utf8(text).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let header = lines.remove(0);
    let mut state = seed | 1;
    for i in (1..lines.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        lines.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut out = bom.to_vec();
    out.extend_from_slice(header.as_bytes());
    for l in lines {
        out.extend_from_slice(l.as_bytes());
    }
    fs::write(path, out).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// The same round gives byte-identical tables for 1, 2 and 4 threads and for any
    /// order of sample and result rows.
    #[test]
    fn tables_ignore_row_order_and_thread_count(seed in 1u64..1000, shuffle in any::<u64>(), dirty in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        generate(&GenerateOptions {
            out: dir.path().to_path_buf(),
            people: 3000,
            buildings: 6,
            pool_size: 10,
            prevalence: 0.01,
            rounds: 2,
            seed,
            dirty,
        }).unwrap();
        let reference = run_on(dir.path(), "out1", 1);
        prop_assert!(reference == run_on(dir.path(), "out2", 2));
        prop_assert!(reference == run_on(dir.path(), "out4", 4));
        shuffle_lines(&dir.path().join("samples.csv"), shuffle);
        shuffle_lines(&dir.path().join("results.csv"), shuffle.rotate_left(17));
        prop_assert!(reference == run_on(dir.path(), "shuffled", 2), "shuffled rows changed a table");
    }
}
