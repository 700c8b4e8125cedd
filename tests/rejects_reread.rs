//! A rejected row of a file keeps only where it is; `rejects.csv` reads its raw text
//! again when it is written. These rosters reject every row, over several chunks, in
//! every shape a row's bytes can take (quotes, commas and a line feed inside a value,
//! Chinese text, LF and CRLF line ends, a byte-order mark, GB18030, UTF-16), or mix
//! rows rejected as read with duplicates found later, so that a raw text read from the
//! wrong place, cut at the wrong length or decoded the wrong way shows.

mod common;

use common::*;
use sha2::Digest;
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

/// How a test roster's text is written.
#[derive(Clone, Copy, Debug)]
enum Coding {
    Utf8,
    Gb18030,
    /// UTF-16LE with its byte-order mark, decoded a chunk at a time: its rows are
    /// found by their code units, and read again from the file.
    Utf16,
    /// UTF-16BE with its byte-order mark.
    Utf16Be,
}

/// Writes `rows` under a header into `dir/roster.csv`: with `bom` (UTF-8), `eol` ending
/// every line (inside quoted values too), in `coding`.
fn write_roster(dir: &Path, rows: &[String], bom: bool, eol: &str, coding: Coding) {
    let mut text = format!("person_id,name,building,room,status{eol}");
    for row in rows {
        text.push_str(&row.replace('\n', eol));
        text.push_str(eol);
    }
    let mut bytes = match coding {
        Coding::Utf8 => text.into_bytes(),
        Coding::Gb18030 => encoding_rs::GB18030.encode(&text).0.into_owned(),
        Coding::Utf16 => [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect(),
        Coding::Utf16Be => [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect(),
    };
    if bom {
        bytes.splice(0..0, *b"\xEF\xBB\xBF");
    }
    fs::write(dir.join("roster.csv"), bytes).unwrap();
}

/// The rows of `rejects.csv` in `out`.
fn rejects(out: &Path) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(out.join("rejects.csv")).unwrap();
    reader.records().map(Result::unwrap).collect()
}

#[test]
fn every_rejected_row_is_listed_as_the_file_holds_it() {
    // Forty thousand rows of some 50 bytes: a roster of several chunks of a mebibyte.
    let rows = rows(40_000);
    for (bom, eol, coding) in [
        (false, "\n", Coding::Utf8),
        (true, "\r\n", Coding::Utf8),
        (false, "\r\n", Coding::Gb18030),
        (false, "\n", Coding::Utf16),
        (false, "\r\n", Coding::Utf16Be),
    ] {
        let dir = beside_basic_samples_and_results();
        write_roster(dir.path(), &rows, bom, eol, coding);
        let threads = ["--threads", "2"];
        expect(&run_round(dir.path(), "out", &threads), 0);
        let listed = rejects(&dir.path().join("out"));
        let case = format!("bom {bom}, eol {eol:?}, {coding:?}");
        assert_eq!(listed.len(), rows.len(), "{case}");
        // The manifest's hash and size are the whole file's, its byte-order mark too.
        let file = fs::read(dir.path().join("roster.csv")).unwrap();
        let sha: String = sha2::Sha256::digest(&file)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let m = manifest(&dir.path().join("out"));
        let input = m["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["role"] == "roster")
            .unwrap();
        assert_eq!(input["sha256"], sha, "{case}");
        assert_eq!(input["bytes"], file.len() as u64, "{case}");
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

/// A roster's duplicates, found once it is read, are rejects among the rows rejected as
/// they were read: each lists its own raw row, in line order.
#[test]
fn duplicates_and_rows_rejected_as_read_each_list_their_own_row() {
    // Rows of three kinds in turn: a wrong status, a person, the same person again.
    let rows: Vec<String> = (0..30_000)
        .map(|i| match i % 3 {
            0 => format!("R{i:06},张三{i},公寓1,101,在读"),
            1 => format!("R{i:06},李四{i},公寓1,102,在校"),
            _ => format!("R{:06},李四{i},公寓2,103,", i - 1),
        })
        .collect();
    for coding in [Coding::Utf8, Coding::Utf16, Coding::Utf16Be] {
        duplicates_listed(&rows, coding);
    }
}

/// The roster of `rows` in `coding` lists each duplicate and each row rejected as read
/// with its own raw row, in line order, and the report counts them.
fn duplicates_listed(rows: &[String], coding: Coding) {
    let dir = beside_basic_samples_and_results();
    write_roster(dir.path(), rows, false, "\n", coding);
    expect(&run_round(dir.path(), "out", &[]), 0);
    let listed = rejects(&dir.path().join("out"));
    let expected: Vec<(usize, &String)> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 1)
        .map(|(i, row)| (i + 2, row))
        .collect();
    assert_eq!(listed.len(), expected.len(), "{coding:?}");
    for ((line, row), reject) in expected.into_iter().zip(&listed) {
        assert_eq!(reject[1], line.to_string(), "{coding:?}");
        assert_eq!(reject[4], **row, "line {line}, {coding:?}");
    }
    // The report counts them by file, as the manifest does.
    let out = dir.path().join("out");
    let rejected = manifest(&out)["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rows_rejected"].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(rejected, listed.len() as u64);
    let page = fs::read_to_string(out.join("report.html")).unwrap();
    let row = format!(
        "<tr><td class=\"name\">{}</td><td>{}</td></tr>",
        &listed[0][0],
        listed.len()
    );
    assert!(page.contains(&row), "the report lacks {row}");
}
