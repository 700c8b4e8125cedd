//! Property tests for the invariants: rows are conserved through ingest, and the tables
//! do not depend on the order of input rows or on the thread count.

mod common;

use common::{read_parquet, read_spreadsheet_csv};
use poolscreen::generate::{generate, GenerateOptions};
use poolscreen::ingest::{self, results};
use poolscreen::pipeline::{self, RunOptions};
use proptest::prelude::*;
use std::collections::BTreeMap;
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

    /// The cutter's scan, which reports only the first and last boundary of a piece
    /// without quotes and takes a piece with quotes 64 bytes at a time, reports
    /// boundaries the full scan reports, with the same line counts, and always the first
    /// and the last of them, whatever the pieces (three, some empty).
    #[test]
    fn scan_ends_agrees_with_scan(text in prop::collection::vec(prop::sample::select(vec![b'a', b',', b'"', b'\n', b'\r']), 0..200), a in 0usize..200, b in 0usize..200) {
        let (a, b) = (a.min(b).min(text.len()), a.max(b).min(text.len()));
        let (mut every, mut ends) = (Vec::new(), Vec::new());
        let mut full = ingest::split::Scanner::default();
        let mut short = ingest::split::Scanner::default();
        for (base, piece) in [(0, &text[..a]), (a, &text[a..b]), (b, &text[b..])] {
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
        let mut again = poolscreen::ingest::reread::RawReader::default();
        for (i, r) in rejects.iter().enumerate() {
            let id = &ids[(r.line - 2) as usize];
            let raw = again.text(&r.raw, "roster.csv").unwrap();
            prop_assert_eq!(raw.as_ref(), format!("{id},某人,公寓1"), "a duplicate's reject carries its own raw line");
            prop_assert!(people.find(id).is_some());
            prop_assert!(i == 0 || rejects[i - 1].line < r.line);
        }
        for id in &distinct {
            let p = people.find(id).unwrap();
            prop_assert_eq!(people.id(p), id.as_str());
        }
    }

    /// Whatever the file's order, the roster numbers its people in output order
    /// (building, room, person_id; no room last), and each keeps every value of their
    /// own row: the first row of their ID.
    #[test]
    fn the_roster_numbers_people_in_output_order_with_their_own_rows(
        rows in prop::collection::vec((0u32..40, 0u32..12, prop::option::of(0u32..30), 0u8..3), 0..300),
        even in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut body = String::new();
        let mut first: BTreeMap<String, (u64, String, String, Option<String>, &str)> = BTreeMap::new();
        let mut cells: BTreeMap<String, (&str, &str)> = BTreeMap::new();
        for (i, &(id, building, room, status)) in rows.iter().enumerate() {
            // IDs of both kinds: numbers (packed in the index) and text; shorter than
            // 16 bytes (moved with their place in the order), of 16 and longer. Or all
            // of one length, as a school's student numbers (held without their ends).
            let id = match if even { 2 } else { id % 4 } {
                0 => format!("{}", 1000 + id),
                1 => format!("S{id}"),
                2 => format!("{:016}", id),
                _ => format!("resident-{:015}", id),
            };
            let (building, room) = (format!("公寓{building}"), room.map(|r| format!("{}", 101 + r)));
            let status = ["在校", "离校", "隔离"][status as usize];
            let name = format!("某{i}");
            // Cells many people share (read again as codes of one table), some empty.
            let (college, counselor) = (["", "化工学院", "机械学院"][i % 3], ["辅导员1", "", "辅导员2", "辅导员1"][i % 4]);
            body.push_str(&format!("{id},{name},{building},{},{status},{college},{counselor}\n", room.as_deref().unwrap_or("")));
            cells.entry(id.clone()).or_insert((college, counselor));
            first.entry(id).or_insert((i as u64 + 2, name, building, room, status));
        }
        let path = dir.path().join("roster.csv");
        fs::write(&path, format!("学号,姓名,楼栋,宿舍号,状态,学院,辅导员\n{body}")).unwrap();
        let (roster, _, _) = pipeline::load_roster_for_plan(&path, None).unwrap();
        prop_assert_eq!(roster.len(), first.len());
        let place = |p: u32| {
            (roster.building_name(p).to_string(), roster.room_name(p).map(str::to_string), roster.id(p).to_string())
        };
        for p in 1..roster.len() as u32 {
            let (a, b) = (place(p - 1), place(p));
            let order = poolscreen::order::natural_cmp(&a.0, &b.0)
                .then_with(|| poolscreen::order::natural_cmp_opt(a.1.as_deref(), b.1.as_deref()))
                .then_with(|| a.2.cmp(&b.2));
            prop_assert_eq!(order, std::cmp::Ordering::Less, "{:?} before {:?}", a, b);
        }
        for p in 0..roster.len() as u32 {
            let (line, name, building, room, status) = &first[roster.id(p)];
            prop_assert_eq!(roster.find(roster.id(p)), Some(p));
            prop_assert_eq!(u64::from(roster.line[p as usize]), *line);
            prop_assert_eq!(roster.name(p), Some(name.as_str()));
            prop_assert_eq!(roster.building_name(p), building.as_str());
            prop_assert_eq!(roster.room_name(p), room.as_deref());
            let on_leave = roster.status[p as usize] == poolscreen::record::Status::OnLeave;
            prop_assert_eq!(on_leave, *status == "离校");
            prop_assert_eq!(roster.priority[p as usize], *status == "隔离");
        }
        // The rows are read again from where each person's row is, whatever the order
        // the people are asked for in, some twice.
        let n = roster.len() as u32;
        let asked: Vec<u32> = (0..n).rev().chain((0..n).step_by(3)).collect();
        let details = roster.details(asked).unwrap();
        prop_assert_eq!(details.len(), n as usize);
        for p in 0..n {
            let (_, name, _, room, _) = &first[roster.id(p)];
            let (college, counselor) = cells[roster.id(p)];
            let d = details.get(p).unwrap();
            prop_assert_eq!(d.name, name.as_str());
            prop_assert_eq!(d.room, room.as_deref());
            prop_assert_eq!(d.college, Some(college).filter(|c| !c.is_empty()));
            prop_assert_eq!(d.counselor, Some(counselor).filter(|c| !c.is_empty()));
            prop_assert_eq!(d.class, None);
        }
        prop_assert!(details.get(n).is_none());
        // The lists' order: building, room, then the person_id shown (here a text that
        // orders roommates otherwise than their IDs do); people off the roster (keys
        // past its end) last, by the person_id shown.
        let shown_of: Vec<String> = (0..n + 3)
            .map(|p| match p < n {
                true => roster.id(p).chars().rev().collect(),
                false => format!("off{}", 9 - p % 10),
            })
            .collect();
        let shown = |p: u32| shown_of[p as usize].as_str();
        for p in 0..n + 3 {
            for q in 0..n + 3 {
                use std::cmp::Ordering::{Greater, Less};
                let expected = match (p < n, q < n) {
                    (true, true) => poolscreen::order::natural_cmp(roster.building_name(p), roster.building_name(q))
                        .then_with(|| poolscreen::order::natural_cmp_opt(roster.room_name(p), roster.room_name(q)))
                        .then_with(|| shown(p).cmp(shown(q))),
                    (true, false) => Less,
                    (false, true) => Greater,
                    (false, false) => shown(p).cmp(shown(q)),
                };
                prop_assert_eq!(poolscreen::order::listed_cmp(&roster, &shown, p, q), expected, "{} and {}", p, q);
            }
        }
    }
}

/// Every output of a run, by file name, as bytes; `manifest.json` without what
/// differs by nature between two runs (the clock, and the inputs' hashes when their
/// rows were shuffled).
fn outputs(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    for entry in fs::read_dir(out).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let mut bytes = fs::read(entry.path()).unwrap();
        if name == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            m["started_at"] = serde_json::Value::Null;
            m["finished_at"] = serde_json::Value::Null;
            for input in m["inputs"].as_array_mut().unwrap() {
                input["sha256"] = serde_json::Value::Null;
            }
            bytes = serde_json::to_vec_pretty(&m).unwrap();
        }
        all.insert(name, bytes);
    }
    all
}

fn run_on(dir: &Path, out: &str, threads: usize) -> BTreeMap<String, Vec<u8>> {
    let mut opts = RunOptions::for_folder(dir, &dir.join(out));
    opts.retests = Some(dir.join("retests.csv"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| pipeline::run(&opts)).unwrap();
    outputs(&dir.join(out))
}

/// The lines of a generated file (one record a line), as bytes, numbered from 1.
fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect()
}

/// `text` with every "line N" replaced by the text of line N of `file`, or of the
/// roster where the text says so: what a line number points to, whatever the order of
/// the rows.
fn lines_to_text(text: &str, file: &[Vec<u8>], roster: &[Vec<u8>]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("line ") {
        let (before, after) = rest.split_at(at + 5);
        out.push_str(before);
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            rest = after;
            continue;
        }
        let source = if before.ends_with("roster (line ") {
            roster
        } else {
            file
        };
        let line: usize = digits.parse().unwrap();
        out.push_str(&format!("<{}>", String::from_utf8_lossy(&source[line - 1])));
        rest = &after[digits.len()..];
    }
    out + rest
}

/// The rows of the outputs that cite input lines (`anomalies.parquet`,
/// `rejects.csv`), with each line number replaced by the line's text, sorted.
fn cited(dir: &Path, out: &str) -> Vec<String> {
    let input = |name: &str| lines_of(&dir.join(name));
    let roster = input("roster.csv");
    let file = |name: &str| {
        let base = Path::new(name)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        input(&base)
    };
    let mut rows = Vec::new();
    let anomalies = read_parquet(&dir.join(out).join("anomalies.parquet"));
    for i in 0..anomalies.height() {
        let v = |c: &str| common::cell(anomalies.column(c).unwrap().get(i).unwrap());
        let lines = file(&v("file"));
        let cited_line = format!("line {}", v("line"));
        rows.push(format!(
            "{} {} {} {} {} {} {}",
            v("round"),
            v("kind"),
            v("tube_id"),
            v("person_id"),
            v("file"),
            lines_to_text(&cited_line, &lines, &roster),
            lines_to_text(&v("detail"), &lines, &roster)
        ));
    }
    let rejects = read_spreadsheet_csv(&dir.join(out).join("rejects.csv"));
    for record in csv::Reader::from_reader(rejects.as_bytes()).records() {
        let r = record.unwrap();
        let lines = file(&r[0]);
        rows.push(format!(
            "{} {} {} {}",
            &r[0],
            lines_to_text(&format!("line {}", &r[1]), &lines, &roster),
            &r[2],
            lines_to_text(&r[3], &lines, &roster),
        ));
    }
    rows.sort();
    rows
}

/// Shuffles the data lines of a generated file (one line per record), keeping the
/// header and any BOM in place. Rows for which `keep_order` gives the same key keep
/// their order among themselves (the roster: the first of a person's rows is the one
/// kept, by the contract).
fn shuffle_lines(path: &Path, seed: u64, keep_order: impl Fn(&[u8]) -> Option<Vec<u8>>) {
    let bytes = fs::read(path).unwrap();
    let (bom, text) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (&b"\xEF\xBB\xBF"[..], rest),
        None => (&b""[..], &bytes[..]),
    };
    let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
    let header = lines.remove(0);
    let mut state = seed | 1;
    for i in (1..lines.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        lines.swap(i, (state % (i as u64 + 1)) as usize);
    }
    // Put rows of one key back in their first order, in the places the key's rows took.
    let original: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').skip(1).collect();
    let mut by_key: BTreeMap<Vec<u8>, std::collections::VecDeque<&[u8]>> = BTreeMap::new();
    for line in &original {
        if let Some(k) = keep_order(line) {
            by_key.entry(k).or_default().push_back(line);
        }
    }
    for line in lines.iter_mut() {
        if let Some(k) = keep_order(line) {
            *line = by_key.get_mut(&k).unwrap().pop_front().unwrap();
        }
    }
    let mut out = bom.to_vec();
    out.extend_from_slice(header);
    for l in lines {
        out.extend_from_slice(l);
    }
    fs::write(path, out).unwrap();
}

/// The person_id of a roster line of a dirty round (GB18030, columns shuffled: the
/// ID is the second cell).
fn roster_id(line: &[u8]) -> Option<Vec<u8>> {
    line.split(|&b| b == b',').nth(1).map(<[u8]>::to_vec)
}

/// A round of `people` in `buildings` gives byte-identical outputs, every file of them
/// (tables, lists, workbooks, CSV files, people and closure, manifest), for 1, 2 and 4
/// threads and for any order of the rows of every input, retests included. Outputs
/// that cite input lines cite the same rows.
fn outputs_ignore_row_order_and_threads(
    people: usize,
    buildings: usize,
    seed: u64,
    shuffle: u64,
    dirty: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    generate(&GenerateOptions {
        out: dir.path().to_path_buf(),
        people,
        buildings,
        pool_size: 10,
        prevalence: 0.01,
        rounds: 2,
        seed,
        dirty,
        retest_rounds: usize::MAX,
        order: Default::default(),
        shards: 1,
        roster_order: Default::default(),
    })
    .unwrap();
    let reference = run_on(dir.path(), "out1", 1);
    assert!(reference.len() >= 10, "{:?}", reference.keys());
    assert!(
        reference == run_on(dir.path(), "out2", 2),
        "2 threads changed the outputs"
    );
    assert!(
        reference == run_on(dir.path(), "out4", 4),
        "4 threads changed the outputs"
    );
    let cites = cited(dir.path(), "out1");
    let roster_key = if dirty {
        roster_id
    } else {
        |l: &[u8]| l.split(|&b| b == b',').next().map(<[u8]>::to_vec)
    };
    shuffle_lines(
        &dir.path().join("roster.csv"),
        shuffle.rotate_left(31),
        roster_key,
    );
    shuffle_lines(&dir.path().join("samples.csv"), shuffle, |_| None);
    shuffle_lines(
        &dir.path().join("results.csv"),
        shuffle.rotate_left(17),
        |_| None,
    );
    shuffle_lines(
        &dir.path().join("retests.csv"),
        shuffle.rotate_left(43),
        |_| None,
    );
    let shuffled = run_on(dir.path(), "shuffled", 2);
    for (name, bytes) in &reference {
        if name == "anomalies.parquet" || name == "rejects.csv" {
            continue;
        }
        assert!(
            shuffled.get(name) == Some(bytes),
            "shuffled rows changed {name}"
        );
    }
    assert_eq!(reference.len(), shuffled.len());
    assert_eq!(
        cites,
        cited(dir.path(), "shuffled"),
        "the cited rows changed"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn outputs_ignore_row_order_and_thread_count(seed in 1u64..1000, shuffle in any::<u64>(), dirty in any::<bool>()) {
        outputs_ignore_row_order_and_threads(3000, 6, seed, shuffle, dirty);
    }
}

/// The same at a size where tubes are grouped in stretches of several (over 4,096
/// tubes a round: 12,000 here, in 400 buildings), with the dirty round's repeated,
/// unregistered and ragged rows, every input shuffled.
#[test]
fn outputs_ignore_row_order_and_thread_count_past_4096_tubes() {
    outputs_ignore_row_order_and_threads(60_000, 400, 17, 0x9E37_79B9_7F4A_7C15, true);
}
