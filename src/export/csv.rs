//! The CSV outputs (`retest.csv`, `rejects.csv`, `plan.csv`): the machine copies of their lists,
//! UTF-8 with a BOM, CRLF line ends, every cell formula-guarded, times in local China
//! Standard Time.

use super::columns::{Column, Kind};
use super::staging::Output;
use crate::error::{Error, Result};
use crate::time::format_local;
use rayon::prelude::*;
use std::borrow::Cow;
use std::fmt::Write as _;
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
    // A failed write is reported by the staging as an I/O error naming the file.
    let failed = |e: std::io::Error| Error::Internal(format!("writing a CSV file: {e}"));
    out.write_all(b"\xEF\xBB\xBF").map_err(failed)?;
    let mut header = writer();
    header
        .write_record(columns.iter().map(|c| c.name))
        .map_err(csv_failed)?;
    out.write_all(&finished(header)?).map_err(failed)?;
    let window = BLOCK_ROWS * 4 * rayon::current_num_threads();
    for rows in rows.chunks(window) {
        let blocks = rows
            .par_chunks(BLOCK_ROWS)
            .map(|block| encode(columns, block))
            .collect::<Result<Vec<_>>>()?;
        for block in blocks {
            out.write_all(&block).map_err(failed)?;
        }
    }
    Ok(())
}

/// Rows a block of CSV.
const BLOCK_ROWS: usize = 16_384;

fn writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn csv_failed(e: ::csv::Error) -> Error {
    Error::Internal(format!("writing a CSV file: {e}"))
}

fn finished(writer: ::csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing a CSV file: {}", e.error())))
}

/// The CSV of `rows`, a line each.
fn encode<R>(columns: &[Column<R>], rows: &[R]) -> Result<Vec<u8>> {
    let mut writer = writer();
    let mut number = String::new();
    for row in rows {
        for c in columns {
            let value = (c.value)(row);
            number.clear();
            let text: Cow<str> = match c.kind {
                Kind::Text | Kind::Code => guard(value.text().unwrap_or("")),
                Kind::Int => {
                    if let Some(v) = value.int() {
                        number.push_str(itoa::Buffer::new().format(v));
                    }
                    Cow::Borrowed(number.as_str())
                }
                Kind::Float => {
                    if let Some(v) = value.float() {
                        write!(number, "{v}").expect("writing to a String");
                    }
                    Cow::Borrowed(number.as_str())
                }
                Kind::Time => value.time().map(format_local).unwrap_or_default().into(),
                Kind::Bool => Cow::Borrowed(match value.bool() {
                    Some(true) => "true",
                    Some(false) => "false",
                    None => "",
                }),
            };
            writer.write_field(text.as_bytes()).map_err(csv_failed)?;
        }
        writer.write_record(None::<&[u8]>).map_err(csv_failed)?;
    }
    finished(writer)
}

#[cfg(test)]
mod tests {
    use super::guard;

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
