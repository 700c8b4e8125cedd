//! The CSV outputs (`retest.csv`, `rejects.csv`, `plan.csv`): the machine copies of their lists,
//! UTF-8 with a BOM, CRLF line ends, every cell formula-guarded, times in local China
//! Standard Time.

use super::columns::{Column, Kind};
use super::rows::{reject_columns, RejectRow};
use super::staging::Output;
use crate::error::{Error, Result};
use crate::ingest::reread::RawReader;
use crate::ingest::Reject;
use crate::privacy::Privacy;
use crate::time::format_local;
use rayon::prelude::*;
use std::borrow::Cow;
use std::io::Write;

/// Prefixes `'` to a cell a spreadsheet would run as a formula.
pub fn guard(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes `rows` as CSV with the names of `columns` as the header. Blocks of rows are
/// written on the workers, a window of them at a time, and put out in order: a city's
/// plan is ten million rows.
pub fn write_list<R: Sync>(out: &mut Output, columns: &[Column<R>], rows: &[R]) -> Result<()> {
    write_header(out, columns)?;
    write_rows(out, columns, rows)
}

/// A failed write, reported by the staging as an I/O error naming the file.
fn failed(e: std::io::Error) -> Error {
    Error::Internal(format!("writing a CSV file: {e}"))
}

/// Starts a CSV file: the byte-order mark and the header line of `columns`.
fn write_header<R>(out: &mut Output, columns: &[Column<R>]) -> Result<()> {
    out.write_all(b"\xEF\xBB\xBF").map_err(failed)?;
    out.write_all(&header(columns)).map_err(failed)
}

/// Writes `rows`, blocks of them on the workers, a window of blocks at a time.
fn write_rows<R: Sync>(out: &mut Output, columns: &[Column<R>], rows: &[R]) -> Result<()> {
    let window = BLOCK_ROWS * 4 * rayon::current_num_threads();
    for rows in rows.chunks(window) {
        let blocks: Vec<Vec<u8>> = rows
            .par_chunks(BLOCK_ROWS)
            .map(|block| encode(columns, block))
            .collect();
        for block in blocks {
            out.write_all(&block).map_err(failed)?;
        }
    }
    Ok(())
}

/// Rejects a window of `rejects.csv`, and a part of one: a window's parts are read
/// again and masked on the workers, each part's rows one after another through one
/// reader, then the window is written.
const REJECT_WINDOW: usize = 65_536;
const REJECT_PART: usize = 4_096;

/// A reject as `rejects.csv` lists it: the file as rejects name it, the protected
/// columns of that file (see [`Privacy::raw`]) and the reject.
pub type Listed<'a> = (&'a str, &'a [Option<&'static str>], &'a Reject);

/// Writes `rejects.csv`: each of `rejects` as `listed` gives it, in order, its raw
/// text read again from its input ([`RawReader`]) and masked as `privacy` says, a
/// window at a time: a roster with a wrong word in one column is a row rejected a
/// person, whose raw texts would be the roster again in memory.
pub fn write_rejects<'a, T: Sync>(
    out: &mut Output,
    rejects: &'a [T],
    listed: impl Fn(&'a T) -> Listed<'a> + Sync,
    privacy: &Privacy,
) -> Result<()> {
    let columns = reject_columns();
    write_header(out, &columns)?;
    for window in rejects.chunks(REJECT_WINDOW) {
        let parts = window
            .par_chunks(REJECT_PART)
            .map(|part| {
                let mut reader = RawReader::default();
                let rows = part
                    .iter()
                    .map(|r| {
                        let (file, protected, reject) = listed(r);
                        let raw = reader.text(&reject.raw, file)?;
                        Ok(RejectRow {
                            file,
                            reject,
                            raw: privacy.raw(&raw, protected).into(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                reader.finish()?;
                Ok(rows)
            })
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<RejectRow> = parts.into_iter().flatten().collect();
        write_rows(out, &columns, &rows)?;
    }
    Ok(())
}

/// The header line: the columns' names.
fn header<R>(columns: &[Column<R>]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        push_cell(&mut line, c.name);
    }
    end_record(&mut line, 0, columns.len());
    line
}

/// Rows a block of CSV.
const BLOCK_ROWS: usize = 16_384;

/// The CSV of `rows`, a line each.
fn encode<R>(columns: &[Column<R>], rows: &[R]) -> Vec<u8> {
    let mut csv = Vec::with_capacity(rows.len() * 64);
    for row in rows {
        let start = csv.len();
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                csv.push(b',');
            }
            // Numbers, times and truth values hold nothing to quote.
            let value = (c.value)(row);
            match c.kind {
                Kind::Text | Kind::Code => push_cell(&mut csv, &guard(value.text().unwrap_or(""))),
                Kind::Int => {
                    if let Some(v) = value.int() {
                        csv.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                    }
                }
                Kind::Float => {
                    if let Some(v) = value.float() {
                        write!(csv, "{v}").expect("writing to memory");
                    }
                }
                Kind::Time => {
                    if let Some(t) = value.time() {
                        csv.extend_from_slice(format_local(t).as_bytes());
                    }
                }
                Kind::Bool => csv.extend_from_slice(match value.bool() {
                    Some(true) => b"true",
                    Some(false) => b"false",
                    None => b"",
                }),
            }
        }
        end_record(&mut csv, start, columns.len());
    }
    csv
}

/// Appends `cell` to `csv`, quoted, its quotes doubled, when it holds a comma, a quote
/// or a line break.
fn push_cell(csv: &mut Vec<u8>, cell: &str) {
    let cell = cell.as_bytes();
    if cell
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        csv.push(b'"');
        for &b in cell {
            if b == b'"' {
                csv.push(b'"');
            }
            csv.push(b);
        }
        csv.push(b'"');
    } else {
        csv.extend_from_slice(cell);
    }
}

/// Ends the record of `cells` cells that started at `start` of `csv` with CRLF; a record
/// of one empty cell is written `""`, so that it is not an empty line.
fn end_record(csv: &mut Vec<u8>, start: usize, cells: usize) {
    if cells == 1 && csv.len() == start {
        csv.extend_from_slice(b"\"\"");
    }
    csv.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::{encode, guard, header};
    use crate::export::columns::{column, Column, Kind, Value};
    use crate::record::Micros;
    use crate::time::format_local;

    type Row = (
        String,
        Option<i64>,
        Option<f64>,
        Option<bool>,
        Option<Micros>,
    );

    fn columns() -> Vec<Column<Row>> {
        vec![
            column("text", "", 1.0, Kind::Text, |r: &Row| {
                Value::Text(Some(&r.0))
            }),
            column("int", "", 1.0, Kind::Int, |r: &Row| Value::Int(r.1)),
            column("float", "", 1.0, Kind::Float, |r: &Row| Value::Float(r.2)),
            column("bool", "", 1.0, Kind::Bool, |r: &Row| Value::Bool(r.3)),
            column("time", "", 1.0, Kind::Time, |r: &Row| Value::Time(r.4)),
            column("code", "", 1.0, Kind::Code, |r: &Row| {
                Value::Code(r.3.map(|b| if b { "positive" } else { "=odd,code" }))
            }),
        ]
    }

    /// The lines as the csv crate writes them: the reference the encoder must match.
    fn reference(lines: &[Vec<String>]) -> Vec<u8> {
        let mut writer = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::CRLF)
            .from_writer(Vec::new());
        for line in lines {
            writer.write_record(line).unwrap();
        }
        writer.into_inner().unwrap()
    }

    #[test]
    fn lines_are_what_the_csv_crate_writes() {
        let texts = [
            "",
            "张三",
            "a,b",
            "say \"hi\"",
            "\"",
            "two\nlines",
            "cr\rhere",
            "=1+1",
            "-3",
            " lead",
            "tail ",
            "semi;colon",
            "tab\there",
            "#hash",
            "'quoted'",
        ];
        let rows: Vec<Row> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let i = i as i64;
                let n = (i % 3 != 0).then_some(i * 7919 - 40_000);
                let f = (i % 4 != 0).then_some(i as f64 / 3.0 - 2.0);
                let at = (i % 2 == 0).then_some(1_649_548_800_000_000 + i * 61_000_123);
                (t.to_string(), n, f, (i % 5 != 0).then_some(i % 2 == 0), at)
            })
            .collect();
        let lines: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    guard(&r.0).into_owned(),
                    r.1.map(|v| v.to_string()).unwrap_or_default(),
                    r.2.map(|v| v.to_string()).unwrap_or_default(),
                    r.3.map(|v| v.to_string()).unwrap_or_default(),
                    r.4.map(format_local).unwrap_or_default(),
                    guard(r.3.map_or("", |b| if b { "positive" } else { "=odd,code" }))
                        .into_owned(),
                ]
            })
            .collect();
        assert_eq!(
            String::from_utf8(encode(&columns(), &rows)).unwrap(),
            String::from_utf8(reference(&lines)).unwrap()
        );
        // A line of one empty cell is not an empty line.
        let one = &columns()[..1];
        let empty = (String::new(), None, None, None, None);
        assert_eq!(encode(one, &[empty]), reference(&[vec![String::new()]]));
        // The header: the names, quoted as cells are.
        let names = ["person_id", "a,b", "say \"hi\""];
        let named: Vec<Column<Row>> = names
            .iter()
            .map(|&name| column(name, "", 1.0, Kind::Text, |_: &Row| Value::Text(None)))
            .collect();
        assert_eq!(
            header(&named),
            reference(&[names.map(String::from).to_vec()])
        );
        assert_eq!(header(&named[..1]), b"person_id\r\n");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_get_a_quote() {
        for cell in ["=1+1", "+86", "-3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["张三", "2021000123", "", " =x"] {
            assert_eq!(guard(cell), cell, "{cell:?}");
        }
    }
}
