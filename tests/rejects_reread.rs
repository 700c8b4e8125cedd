//! A rejected row of a file keeps only where it is; `rejects.csv` reads its raw text
//! again when it is written. These rosters reject every row, over several chunks, in
//! every shape a row's bytes can take (quotes, commas and a line feed inside a value,
//! Chinese text, carriage returns, a byte-order mark, GB18030), so that a raw text read
//! from the wrong place, cut at the wrong length or decoded the wrong way shows.

mod common;

use common::*;
use std::fs;
use std::path::Path;

/// Rows of the roster: a status no roster takes (`在读`), so every row is rejected;
/// every seventh row quotes a value holding a comma, a doubled quote and a line feed.
fn rows(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 7 {
            0 => format!("R{i:06},\"王,\"\"小\"\"\n{i}\",公寓{},101,在读", i % 5),
            3 => format!("R{i:06},  李四{i}  ,公寓{},1{:02},在读", i % 5, i % 50),
            _ => format!("R{i:06},张三{i},公寓{},{},在读", i % 5, 100 + i % 9),
        })
        .collect()
}

/// Writes `rows` under a header into `dir/roster.csv`: with `bom`, `eol` ending every
/// line (inside quoted values too), encoded as GB18030 with `gb`.
fn write_roster(dir: &Path, rows: &[String], bom: bool, eol: &str, gb: bool) {
    let mut text = format!("person_id,name,building,room,status{eol}");
    for row in rows {
        text.push_str(&row.replace('\n', eol));
        text.push_str(eol);
    }
    let mut bytes = if gb {
        encoding_rs::GB18030.encode(&text).0.into_owned()
    } else {
        text.into_bytes()
    };
    if bom {
        bytes.splice(0..0, *b"\xEF\xBB\xBF");
    }
    fs::write(dir.join("roster.csv"), bytes).unwrap();
}

#[test]
fn every_rejected_row_is_listed_as_the_file_holds_it() {
    // Forty thousand rows of some 50 bytes: a roster of several chunks of a mebibyte.
    let rows = rows(40_000);
    for (bom, eol, gb) in [
        (false, "\n", false),
        (true, "\r\n", false),
        (false, "\r\n", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let basic = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/basic");
        for f in ["samples.csv", "results.csv"] {
            fs::copy(basic.join(f), dir.path().join(f)).unwrap();
        }
        write_roster(dir.path(), &rows, bom, eol, gb);
        let threads = ["--threads", "2"];
        expect(&run_round(dir.path(), "out", &threads), 0);
        let mut reader = csv::Reader::from_path(dir.path().join("out/rejects.csv")).unwrap();
        let listed: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let case = format!("bom {bom}, eol {eol:?}, gb18030 {gb}");
        assert_eq!(listed.len(), rows.len(), "{case}");
        // Every row takes one line, and the quoted ones two: the header is line 1.
        let mut line = 2;
        for (row, reject) in rows.iter().zip(&listed) {
            assert_eq!(reject[1], line.to_string(), "{case}: the line of {row:?}");
            assert_eq!(reject[2], *"status", "{case}");
            let raw = row.replace('\n', eol);
            assert_eq!(reject[4], raw, "{case}: the raw text of line {line}");
            line += 1 + row.matches('\n').count();
        }
        // The same bytes, read on one thread.
        expect(&run_round(dir.path(), "one", &["--threads", "1"]), 0);
        assert_eq!(
            fs::read(dir.path().join("out/rejects.csv")).unwrap(),
            fs::read(dir.path().join("one/rejects.csv")).unwrap(),
            "{case}"
        );
    }
}
