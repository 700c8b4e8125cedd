//! Excel workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`) through calamine: one sheet is
//! turned into rows of text cells, which then go through the same validation as CSV.
//!
//! Line numbers are the sheet's row numbers. Cells become text by these rules:
//! text as it is; whole numbers of at most 15 significant digits as their digits (an ID
//! typed as a number); other numbers in shortest form, and numbers of more than 15
//! significant digits in scientific notation, which every ID rule rejects (Excel keeps
//! only 15 digits, so such an ID has already lost some); date-time cells (1900 and 1904
//! date systems) as `YYYY-MM-DD HH:MM:SS`, a time alone as `HH:MM:SS` and a date alone
//! as `YYYY-MM-DD` (both then rejected where a date and time is needed); formula cells
//! by their cached value.

use super::encoding::{hex, Census, Encoding};
use super::fields::Fields;
use super::header::{self, ColumnSpec};
use super::reread::TextSource;
use super::row::{accept, Known, Raw};
use super::xlsx;
use super::{ChunkOut, Ingested, Lines, Pass, RowParser};
use crate::error::{Error, Position, Result};
use crate::time::{days_from_civil, format_local};
use calamine::{open_workbook_auto, Data, Reader};
use rayon::iter::{IndexedParallelIterator, ParallelIterator};
use rayon::slice::ParallelSlice;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// Whether `path` names a workbook, by its extension.
pub fn is_workbook(path: &Path) -> bool {
    matches!(extension(path).as_str(), "xlsx" | "xlsm" | "xlsb" | "xls")
}

/// Whether `path` names an Office Open XML workbook (`.xlsx`, `.xlsm`), which
/// [`xlsx::rows`] may read without calamine.
fn is_open_xml(path: &Path) -> bool {
    matches!(extension(path).as_str(), "xlsx" | "xlsm")
}

/// The extension of `path`, in lower case.
fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A sheet's name and its non-empty rows, each with its sheet row number (from `1`).
pub(super) type SheetRows = (String, Vec<(u64, csv::ByteRecord)>);

/// The rows of one sheet.
#[derive(Debug)]
pub struct Sheet {
    /// The sheet's name.
    pub name: String,
    /// Non-empty rows with their sheet row numbers (starting at `1`), cells as text.
    pub rows: Vec<(u64, csv::ByteRecord)>,
    /// SHA-256 of the workbook file.
    pub sha256: String,
    /// Size of the workbook file in bytes.
    pub bytes: u64,
}

/// Reads sheet `wanted` (or the first visible sheet) of the workbook at `path`.
pub fn read_sheet(path: &Path, name: &str, wanted: Option<&str>) -> Result<Sheet> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let sha256 = hex(&Sha256::digest(&data));
    let bytes = data.len() as u64;
    let fast = is_open_xml(path)
        .then(|| xlsx::rows(&data, wanted))
        .flatten();
    drop(data);
    let (sheet, rows) = match fast {
        Some(read) => read,
        None => calamine_sheet(path, name, wanted)?,
    };
    Ok(Sheet {
        name: sheet,
        rows,
        sha256,
        bytes,
    })
}

/// The name and non-empty rows of sheet `wanted` (or the first visible sheet) of the
/// workbook at `path`, read by calamine.
pub(super) fn calamine_sheet(path: &Path, name: &str, wanted: Option<&str>) -> Result<SheetRows> {
    let broken = |e: calamine::Error| {
        Error::input(
            name,
            Position::default(),
            format!("the workbook cannot be read: it is password-protected, damaged, or not an Excel file ({}); save it again from Excel or WPS without a password", kind(&e)),
        )
    };
    let mut book = open_workbook_auto(path).map_err(broken)?;
    let names = book.sheet_names();
    let sheet = match wanted {
        Some(w) => names
            .iter()
            .find(|n| n.as_str() == w)
            .cloned()
            .ok_or_else(|| {
                Error::input(
                    name,
                    Position::default(),
                    format!(
                        "the workbook has no sheet named \"{w}\"; its sheets are: {}",
                        names
                            .iter()
                            .map(|n| format!("\"{n}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
        // The first sheet a user sees: a hidden sheet (an old list kept out of sight)
        // is never read unless --sheet names it.
        None => {
            let shown = book
                .sheets_metadata()
                .iter()
                .find(|s| {
                    s.visible == calamine::SheetVisible::Visible
                        && s.typ == calamine::SheetType::WorkSheet
                })
                .map(|s| s.name.clone());
            shown.or_else(|| names.first().cloned()).ok_or_else(|| {
                Error::input(name, Position::default(), "the workbook has no sheet")
            })?
        }
    };
    let range = book.worksheet_range(&sheet).map_err(broken)?;
    let first_row = range.start().map_or(0, |(r, _)| r as u64);
    let mut rows = Vec::with_capacity(range.height());
    for (i, cells) in range.rows().enumerate() {
        let texts: Vec<String> = cells.iter().map(cell_text).collect();
        if texts.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        rows.push((first_row + i as u64 + 1, csv::ByteRecord::from(texts)));
    }
    Ok((sheet, rows))
}

/// The kind of a calamine error, without any cell content.
fn kind(e: &calamine::Error) -> &'static str {
    match e {
        calamine::Error::Io(_) => "read error",
        calamine::Error::Xlsx(_)
        | calamine::Error::Xlsb(_)
        | calamine::Error::Xls(_)
        | calamine::Error::Ods(_) => "not a readable workbook",
        _ => "unreadable",
    }
}

/// One cell as text, by the rules in the module documentation.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => number_text(*i as f64),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_string(),
        // As Excel shows it (#N/A, #DIV/0!), as a CSV export holds it: rejected alike.
        Data::Error(e) => e.to_string(),
        Data::DateTime(dt) if dt.is_datetime() => {
            // A time of day alone (a serial below 1: Excel puts it on 1899-12-31) and a
            // date alone (a whole serial) are written as such, so that they are rejected
            // as the same text in a CSV file is, never read as a day in 1899 or a swab
            // at midnight.
            let serial = dt.as_f64();
            if serial < 0.0 {
                return number_text(serial);
            }
            if serial < 1.0 {
                let second = (serial * 86_400.0).round() as i64;
                return format!(
                    "{:02}:{:02}:{:02}",
                    second / 3600,
                    second / 60 % 60,
                    second % 60
                );
            }
            let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
            if serial.fract() == 0.0 {
                return format!("{y:04}-{mo:02}-{d:02}");
            }
            let local = days_from_civil(y as i64, mo as u32, d as u32) * 86_400
                + h as i64 * 3600
                + mi as i64 * 60
                + s as i64
                + i64::from(ms >= 500);
            format_local((local - 8 * 3600) * 1_000_000)
        }
        Data::DateTime(dt) => number_text(dt.as_f64()),
    }
}

/// A number as text, as Excel shows it and as its CSV export writes it: rounded to 15
/// significant digits (a computed Ct of 40.00000000000001 is 40, as on the screen and
/// in the CSV, not above a cutoff of 40); whole numbers of at most 15 digits as digits,
/// larger ones in scientific notation (they are no longer exact); others in shortest
/// form.
pub(super) fn number_text(v: f64) -> String {
    let v = if v.is_finite() && v != 0.0 {
        format!("{v:.14e}").parse::<f64>().unwrap_or(v)
    } else {
        v
    };
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v.fract() == 0.0 {
        format!("{v:E}")
    } else {
        format!("{v}")
    }
}

/// Reads one sheet of a workbook: the first non-empty row is the header; every other
/// row goes through the same checks and parser as a CSV row, its line being its sheet
/// row number.
pub(super) fn read_workbook<P: RowParser>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
    sheet: Option<&str>,
) -> Result<Ingested<P::Record, P::Part>> {
    let mut book = read_sheet(path, name, sheet)?;
    let Some((header_line, header)) = book.rows.first() else {
        return Err(Error::input(
            name,
            Position::default(),
            format!(
                "sheet \"{}\" is empty; its first row must be the header",
                book.name
            ),
        ));
    };
    let headers: Vec<String> = header
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let layout = header::match_header(name, *header_line, &headers, specs)?;
    let (lines, rows): (Vec<u64>, Vec<csv::ByteRecord>) = book.rows.drain(1..).unzip();
    const ROWS_PER_CHUNK: usize = 4096;
    let outs: Vec<ChunkOut<P::Record, P::Part>> = rows
        .par_chunks(ROWS_PER_CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut out = ChunkOut {
                index: c,
                rows: Vec::with_capacity(chunk.len()),
                state: P::Part::default(),
                lines: Lines::default(),
                rejects: Vec::new(),
                read: 0,
                census: Census::default(),
                runaway_quote: None,
                not_decoded: None,
                shared: Default::default(),
            };
            let mut ranges = Vec::new();
            for (k, record) in chunk.iter().enumerate() {
                let i = c * ROWS_PER_CHUNK + k;
                out.read += 1;
                let fields = Fields::of_record(record, &mut ranges);
                let text = std::str::from_utf8(fields.bytes).unwrap_or("");
                accept(
                    &mut out,
                    lines[i],
                    i as u64,
                    Raw::Record(record),
                    fields,
                    (text, Known::NOTHING),
                    &layout,
                    parser,
                );
            }
            parser.finish_part(&mut out.state, &mut out.rows);
            out
        })
        .collect();
    let pass = Pass {
        outs,
        layout,
        source: TextSource::Sheet(Arc::new(rows)),
        census: Census::default(),
        header_not_utf8: None,
        not_decoded: None,
        sha256: book.sha256,
        bytes: book.bytes,
    };
    let mut ingested = pass.finish(Encoding::Workbook, name)?;
    ingested.report.sheet = Some(book.name);
    Ok(ingested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_ids_only_when_exact() {
        assert_eq!(number_text(2021000123.0), "2021000123");
        assert_eq!(number_text(123456789012345.0), "123456789012345");
        // Excel keeps 15 significant digits: the 18-digit number has lost the rest.
        assert_eq!(number_text(110105194912310021.0), "1.1010519491231E17");
        assert_eq!(number_text(38.5), "38.5");
        // As Excel shows a computed value, and its CSV export writes it.
        assert_eq!(number_text(13.3 * 3.0 + 0.1), "40");
        assert_eq!(number_text(31.499999999999996), "31.5");
        assert_eq!(number_text(0.1 + 0.2), "0.3");
        assert_eq!(number_text(-2.5), "-2.5");
    }

    #[test]
    fn date_cells_in_both_systems() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        // 2022-04-10 08:05:00 is serial 44661.336805… in the 1900 system, 1462 days less in 1904.
        let serial = 44661.0 + (8.0 * 3600.0 + 5.0 * 60.0) / 86_400.0;
        for (value, is_1904) in [(serial, false), (serial - 1462.0, true)] {
            let cell = Data::DateTime(ExcelDateTime::new(
                value,
                ExcelDateTimeType::DateTime,
                is_1904,
            ));
            assert_eq!(cell_text(&cell), "2022-04-10 08:05:00");
        }
        let cell = |value: f64| {
            cell_text(&Data::DateTime(ExcelDateTime::new(
                value,
                ExcelDateTimeType::DateTime,
                false,
            )))
        };
        // A time alone, a date alone and a negative serial are not dates and times.
        assert_eq!(cell((8.0 * 3600.0 + 5.0 * 60.0) / 86_400.0), "08:05:00");
        assert_eq!(cell(44661.0), "2022-04-10");
        assert_eq!(cell(-1.0), "-1");
        for text in ["08:05:00", "2022-04-10", "-1"] {
            assert!(crate::time::timestamp(text).is_err(), "{text}");
        }
    }
}
