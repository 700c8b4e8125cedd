//! The CSV outputs (`retest.csv`, `rejects.csv`): the machine copies of their lists,
//! UTF-8 with a BOM, CRLF line ends, every cell formula-guarded, times in local China
//! Standard Time.

use super::columns::{Column, Kind};
use super::staging::Output;
use crate::error::{Error, Result};
use crate::time::format_local;
use std::borrow::Cow;
use std::io::Write;

/// Prefixes `'` to a cell a spreadsheet would run as a formula.
pub fn guard(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes `rows` as CSV with the names of `columns` as the header.
pub fn write_list<R>(out: &mut Output, columns: &[Column<R>], rows: &[R]) -> Result<()> {
    // A failed write is reported by the staging as an I/O error naming the file.
    let failed = |e: std::io::Error| Error::Internal(format!("writing a CSV file: {e}"));
    out.write_all(b"\xEF\xBB\xBF").map_err(failed)?;
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(out);
    let csv_failed = |e: ::csv::Error| Error::Internal(format!("writing a CSV file: {e}"));
    writer
        .write_record(columns.iter().map(|c| c.name))
        .map_err(csv_failed)?;
    let mut cells: Vec<String> = Vec::with_capacity(columns.len());
    for row in rows {
        cells.clear();
        for c in columns {
            let value = (c.value)(row);
            let text = match c.kind {
                Kind::Text | Kind::Code => guard(value.text().unwrap_or("")).into_owned(),
                Kind::Int => value.int().map(|v| v.to_string()).unwrap_or_default(),
                Kind::Float => value.float().map(|v| v.to_string()).unwrap_or_default(),
                Kind::Time => value.time().map(format_local).unwrap_or_default(),
                Kind::Bool => value.bool().map(|v| v.to_string()).unwrap_or_default(),
            };
            cells.push(text);
        }
        writer.write_record(&cells).map_err(csv_failed)?;
    }
    writer.flush().map_err(failed)?;
    Ok(())
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
