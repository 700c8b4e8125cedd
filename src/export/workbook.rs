//! The lists as Excel workbooks (`retest.xlsx`, `missing.xlsx`, …), for the people who
//! work in Excel and WPS: Chinese headers and labels, IDs and phones as text cells, a
//! frozen header row, an autofilter, set widths, and a page setup for printing
//! (landscape A4, one page wide, the header row on every page).
//!
//! Sheets: an "全部" sheet with every row, then, for up to [`MAX_BUILDING_SHEETS`]
//! buildings, one sheet per building so that each building manager can be sent their
//! own; a city's lists get the one sheet with its autofilter instead. A sheet that would
//! pass Excel's 1,048,576 rows continues on a new sheet ("全部 (2)"), so a workbook never
//! fails a run. Every text cell is written as a string, never as a formula.

use super::columns::{Column, Kind};
use crate::error::{Error, Result};
use crate::order::natural_cmp;
use crate::record::Micros;
use rayon::prelude::*;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use std::path::Path;

/// The most buildings for which a workbook gets a sheet per building.
pub const MAX_BUILDING_SHEETS: usize = 100;

/// The most data rows of one sheet: Excel's 1,048,576 rows, less the header row.
pub const MAX_SHEET_ROWS: usize = 1_048_575;

/// The Chinese label of an action, reason, class, status or outcome code.
pub fn label(code: &str) -> &str {
    match code {
        "report" => "上报",
        "isolate_and_retest" => "隔离并单采复核",
        "retest" => "复核",
        "resample" => "重新采样",
        "pool_positive" => "混管阳性",
        "pool_suspect" => "混管可疑",
        "pool_invalid" => "混管无效",
        "single_positive" => "单管阳性",
        "single_suspect" => "单管可疑",
        "single_invalid" => "单管无效",
        "positive" => "阳性",
        "suspect" => "可疑",
        "invalid" => "无效",
        "negative" => "阴性",
        "pending" => "待检",
        "on_campus" => "在校",
        "isolated" => "隔离",
        "on_leave" => "离校",
        "missing" => "漏采",
        "to_retest" => "待复核",
        "open" => "未复核",
        "resampled" => "已单采待结果",
        "cleared" => "已排除",
        "confirmed" => "确诊阳性",
        "inconclusive" => "需再采",
        "overdue" => "超时",
        "pool" => "混采",
        "single" => "单采",
        other => other,
    }
}

/// A workbook of `rows` with `columns`: an "全部" sheet, then one sheet per building
/// (by `building_of`, in natural order) when there are at most
/// [`MAX_BUILDING_SHEETS`]. The constant-memory writer keeps its temporary files in
/// `tempdir`.
pub fn write_list<R: Sync>(
    columns: &[Column<R>],
    rows: &[R],
    building_of: Option<fn(&R) -> Option<&str>>,
    tempdir: &Path,
) -> Result<Vec<u8>> {
    write_list_paged(columns, rows, building_of, tempdir, MAX_SHEET_ROWS)
}

/// The message rust_xlsxwriter panics with when a write to one of its temporary files
/// fails (a full disk): its constant-memory writer has no way to return the error.
const WRITE_PANIC: &str = "Couldn't write to xml file";

/// Keeps the panics of a failed workbook write (see [`WRITE_PANIC`]) off standard
/// error: [`write_list`] turns them into I/O errors naming the folder. Every other
/// panic is reported as before. Called once, by the binary.
pub fn quiet_write_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !message.starts_with(WRITE_PANIC) {
            report(info);
        }
    }));
}

/// [`write_list`] with at most `per_sheet` rows a sheet; a failed write of the
/// workbook's temporary files is an I/O error on `tempdir`.
fn write_list_paged<R: Sync>(
    columns: &[Column<R>],
    rows: &[R],
    building_of: Option<fn(&R) -> Option<&str>>,
    tempdir: &Path,
    per_sheet: usize,
) -> Result<Vec<u8>> {
    let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        build(columns, rows, building_of, tempdir, per_sheet)
    }));
    written.unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !message.starts_with(WRITE_PANIC) {
            std::panic::resume_unwind(panic);
        }
        // "…: Os { code: 28, kind: StorageFull, … }": the system's own error.
        let code = message
            .split("code: ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok());
        let source = code.map_or_else(
            || std::io::Error::other("a write to a temporary file failed"),
            std::io::Error::from_raw_os_error,
        );
        Err(Error::io(tempdir, source))
    })
}

fn build<R: Sync>(
    columns: &[Column<R>],
    rows: &[R],
    building_of: Option<fn(&R) -> Option<&str>>,
    tempdir: &Path,
    per_sheet: usize,
) -> Result<Vec<u8>> {
    let mut book = Workbook::new();
    book.set_tempdir(tempdir).map_err(|e| xlsx(e, tempdir))?;
    // A fixed creation time keeps the bytes the same for the same round.
    let created = ExcelDateTime::from_ymd(2020, 1, 1).map_err(|e| xlsx(e, tempdir))?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&created));
    book.set_zip_compression_level(2);
    let formats = Formats {
        header: Format::new().set_bold(),
        time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
    };
    let mut taken = Vec::new();
    let mut parts = Vec::new();
    let listed = sheets(rows, building_of);
    for (name, picked) in &listed {
        for part in picked.chunks(per_sheet.max(1)) {
            // Rows go to a temporary file as they are written, so a city's lists do not
            // have to fit in memory twice.
            let mut sheet = book
                .new_worksheet_with_constant_memory()
                .map_err(|e| xlsx(e, tempdir))?;
            let wanted = sheet_name(name, &mut taken);
            if sheet.set_name(&wanted).is_err() {
                // A name Excel still refuses: the sheet keeps its number.
                let fallback = sheet_name(&format!("Sheet{}", taken.len()), &mut taken);
                sheet.set_name(fallback).map_err(|e| xlsx(e, tempdir))?;
            }
            parts.push((sheet, part));
        }
    }
    // Sheets are filled on the workers (a city's list spans several), then added in
    // order.
    parts
        .par_iter_mut()
        .try_for_each(|(sheet, part)| fill(sheet, columns, rows, part, &formats))
        .map_err(|e| xlsx(e, tempdir))?;
    for (sheet, _) in parts {
        book.push_worksheet(sheet);
    }
    book.save_to_buffer().map_err(|e| xlsx(e, tempdir))
}

/// The sheets of a list: their names and the rows each holds, in order.
fn sheets<R>(rows: &[R], building_of: Option<fn(&R) -> Option<&str>>) -> Vec<(&str, Vec<usize>)> {
    let mut sheets = vec![("全部", (0..rows.len()).collect::<Vec<_>>())];
    let Some(building_of) = building_of else {
        return sheets;
    };
    let mut by_building: Vec<(&str, usize)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| building_of(r).map(|b| (b, i)))
        .collect();
    // Stable: rows keep the list's order within a building.
    by_building.sort_by(|a, b| natural_cmp(a.0, b.0));
    let mut buildings: Vec<&str> = by_building.iter().map(|(b, _)| *b).collect();
    buildings.dedup();
    if buildings.len() > MAX_BUILDING_SHEETS {
        return sheets;
    }
    let mut start = 0;
    while start < by_building.len() {
        let b = by_building[start].0;
        let end = start + by_building[start..].partition_point(|(x, _)| *x == b);
        sheets.push((b, by_building[start..end].iter().map(|(_, i)| *i).collect()));
        start = end;
    }
    sheets
}

fn xlsx(e: XlsxError, tempdir: &Path) -> Error {
    match e {
        XlsxError::IoError(e) => Error::io(tempdir, e),
        // A temporary file that cannot be made (a full disk, no inodes left) or a zip
        // that cannot be written is the machine's failure, not a bug.
        XlsxError::TempFileError(_, e) => Error::io(tempdir, e),
        XlsxError::ZipError(::zip::result::ZipError::Io(e)) => Error::io(tempdir, e),
        other => Error::Internal(format!("writing a workbook failed: {other}")),
    }
}

/// The longest sheet name Excel takes, in UTF-16 code units.
const MAX_SHEET_NAME: usize = 31;

/// `text` cut to at most `units` UTF-16 code units, at a character boundary, without
/// an apostrophe at either end (Excel refuses those).
fn cut(text: &str, units: usize) -> String {
    let mut used = 0;
    let kept: String = text
        .chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= units
        })
        .collect();
    kept.trim_matches('\'').to_string()
}

/// A valid, unique sheet name for `wanted`: at most 31 UTF-16 code units, none of
/// `[]:*?/\`, no apostrophe at either end.
fn sheet_name(wanted: &str, taken: &mut Vec<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let mut base = cut(clean.trim_matches('\''), MAX_SHEET_NAME);
    if base.is_empty() {
        base = "Sheet".to_string();
    }
    let mut name = base.clone();
    let mut n = 2;
    while taken
        .iter()
        .any(|t| t.to_lowercase() == name.to_lowercase())
    {
        let suffix = format!(" ({n})");
        name = cut(&base, MAX_SHEET_NAME - suffix.len()) + &suffix;
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// The China Standard Time (UTC+8, no daylight saving since 1991) of a timestamp, to the
/// second, as Excel shows it.
fn excel_time(micros: Micros) -> std::result::Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_timestamp(micros.div_euclid(1_000_000) + 8 * 3600)
}

struct Formats {
    header: Format,
    time: Format,
}

fn fill<R>(
    sheet: &mut Worksheet,
    columns: &[Column<R>],
    rows: &[R],
    picked: &[usize],
    formats: &Formats,
) -> std::result::Result<(), XlsxError> {
    for (c, column) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, column.header, &formats.header)?;
        sheet.set_column_width(c as u16, column.width)?;
    }
    for (r, &i) in picked.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, column) in columns.iter().enumerate() {
            let c = c as u16;
            let value = (column.value)(&rows[i]);
            match column.kind {
                Kind::Text => {
                    if let Some(t) = value.text() {
                        sheet.write_string(row, c, t)?;
                    }
                }
                Kind::Code => {
                    if let Some(t) = value.text() {
                        sheet.write_string(row, c, label(t))?;
                    }
                }
                Kind::Int => {
                    if let Some(v) = value.int() {
                        sheet.write_number(row, c, v as f64)?;
                    }
                }
                Kind::Float => {
                    if let Some(v) = value.float() {
                        sheet.write_number(row, c, v)?;
                    }
                }
                Kind::Time => {
                    if let Some(micros) = value.time() {
                        let dt = excel_time(micros)?;
                        sheet.write_datetime_with_format(row, c, &dt, &formats.time)?;
                    }
                }
                Kind::Bool => {
                    if let Some(v) = value.bool() {
                        sheet.write_string(row, c, if v { "是" } else { "否" })?;
                    }
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, picked.len() as u32, columns.len() as u16 - 1)?;
    // Printing: landscape A4, every column on one page's width, as many pages down as
    // needed, the header row repeated on each, page numbers in the footer.
    sheet.set_landscape();
    sheet.set_paper_size(9);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(0, 0)?;
    sheet.set_footer("&C第 &P 页，共 &N 页");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::columns::{column, Value};
    use crate::time::format_local;

    #[test]
    fn times_are_china_standard_time_to_the_second() {
        // 2022-04-10 07:00:00.5 +08:00, and instants around the epoch and leap days.
        for micros in [
            1_649_545_200_500_000i64,
            0,
            951_782_400_000_000,
            1_709_164_799_999_999,
        ] {
            let expected = ExcelDateTime::parse_from_str(&format_local(micros)).unwrap();
            assert_eq!(
                excel_time(micros).unwrap().to_excel(),
                expected.to_excel(),
                "{micros}"
            );
        }
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let mut taken = vec![];
        assert_eq!(sheet_name("全部", &mut taken), "全部");
        assert_eq!(sheet_name("全部", &mut taken), "全部 (2)");
        assert_eq!(sheet_name("A/B:C", &mut taken), "A_B_C");
        assert_eq!(sheet_name(&"楼".repeat(40), &mut taken).chars().count(), 31);
        // Characters outside the basic plane take two UTF-16 units each.
        let wide = sheet_name(&"𠀀".repeat(20), &mut taken);
        assert_eq!(wide.encode_utf16().count(), 30);
        assert_eq!(sheet_name("'公寓'", &mut taken), "公寓");
        assert_eq!(
            sheet_name(&format!("{}'x", "a".repeat(30)), &mut taken),
            "a".repeat(30)
        );
    }

    type Row = (String, usize);

    fn columns() -> Vec<Column<Row>> {
        vec![
            column("building", "楼栋", 10.0, Kind::Text, |r: &Row| {
                Value::Text(Some(&r.0))
            }),
            column("n", "序号", 8.0, Kind::Int, |r: &Row| {
                Value::Int(Some(r.1 as i64))
            }),
        ]
    }

    fn building(r: &Row) -> Option<&str> {
        Some(&r.0)
    }

    /// Sheet names and the `n` of every row on each, read back.
    fn read_back(bytes: &[u8]) -> Vec<(String, Vec<i64>)> {
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let names = book.sheet_names();
        names
            .iter()
            .map(|name| {
                let range = book.worksheet_range(name).unwrap();
                let ns = range
                    .rows()
                    .skip(1)
                    .map(|r| match &r[1] {
                        Data::Float(f) => *f as i64,
                        Data::Int(i) => *i,
                        other => panic!("{other:?}"),
                    })
                    .collect();
                (name.clone(), ns)
            })
            .collect()
    }

    #[test]
    fn a_sheet_per_building_up_to_the_limit_then_one_sheet() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Row> = (0..12).map(|i| (format!("公寓{}", 3 - i % 3), i)).collect();
        let got = read_back(&write_list(&columns(), &rows, Some(building), dir.path()).unwrap());
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["全部", "公寓1", "公寓2", "公寓3"]);
        assert_eq!(got[1].1, vec![2, 5, 8, 11]);
        assert_eq!(got[0].1, (0..12).collect::<Vec<_>>());

        let many: Vec<Row> = (0..=MAX_BUILDING_SHEETS)
            .map(|i| (format!("楼{i}"), i))
            .collect();
        let got = read_back(&write_list(&columns(), &many, Some(building), dir.path()).unwrap());
        assert_eq!(
            got.len(),
            1,
            "past {MAX_BUILDING_SHEETS} buildings, one sheet"
        );
        assert_eq!(got[0].1.len(), many.len());
    }

    #[test]
    fn a_full_sheet_continues_on_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Row> = (0..7).map(|i| ("公寓1".to_string(), i)).collect();
        let bytes = write_list_paged(&columns(), &rows, Some(building), dir.path(), 3).unwrap();
        let got = read_back(&bytes);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "全部",
                "全部 (2)",
                "全部 (3)",
                "公寓1",
                "公寓1 (2)",
                "公寓1 (3)"
            ]
        );
        assert_eq!(got[0].1, vec![0, 1, 2]);
        assert_eq!(got[2].1, vec![6]);
        let all: Vec<i64> = got[..3].iter().flat_map(|(_, n)| n.clone()).collect();
        assert_eq!(all, (0..7).collect::<Vec<_>>(), "nothing lost or repeated");
    }
}
