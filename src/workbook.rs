//! The retest and missing lists as Excel workbooks (`retest.xlsx`, `missing.xlsx`), for
//! the people who work in Excel and WPS: Chinese headers and labels, IDs and phones as
//! text, a frozen header row, autofilter, set widths, and an "全部" sheet followed by
//! one sheet per building, so each building manager can be sent their own sheet.
//! Every text cell is written as a string, never as a formula.

use crate::error::{Error, Result};
use crate::export::{MissingRow, RetestRow};
use crate::order::natural_cmp;
use crate::record::Micros;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

/// One cell of a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Text, written as a string cell.
    Text(&'a str),
    /// A number.
    Number(f64),
    /// A local date and time.
    Time(Micros),
    /// Nothing.
    Empty,
}

/// A column: its Chinese header and width in characters.
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// The width, in Excel's character units.
    pub width: f64,
}

const fn col(header: &'static str, width: f64) -> Column {
    Column { header, width }
}

/// The columns of `retest.xlsx`, in the order of `retest.parquet`.
pub const RETEST_COLUMNS: [Column; 18] = [
    col("轮次", 12.0),
    col("处置", 16.0),
    col("原因", 12.0),
    col("学号/工号", 14.0),
    col("姓名", 10.0),
    col("楼栋", 10.0),
    col("宿舍号", 8.0),
    col("学院", 16.0),
    col("班级", 12.0),
    col("手机号", 14.0),
    col("辅导员", 10.0),
    col("试管编号", 18.0),
    col("混管人数", 9.0),
    col("试管结果", 9.0),
    col("ORF1ab Ct", 10.0),
    col("N Ct", 8.0),
    col("采样时间", 19.0),
    col("采样点", 14.0),
];

/// The columns of `missing.xlsx`, in the order of `missing.parquet`.
pub const MISSING_COLUMNS: [Column; 10] = [
    col("轮次", 12.0),
    col("学号/工号", 14.0),
    col("姓名", 10.0),
    col("楼栋", 10.0),
    col("宿舍号", 8.0),
    col("学院", 16.0),
    col("班级", 12.0),
    col("手机号", 14.0),
    col("辅导员", 10.0),
    col("状态", 8.0),
];

/// The Chinese label of an action, reason, class or status code.
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
        other => other,
    }
}

/// The cells of one retest row, in [`RETEST_COLUMNS`] order.
pub fn retest_cells<'a>(r: &'a RetestRow) -> Vec<Cell<'a>> {
    let text = |v: Option<&'a str>| v.map_or(Cell::Empty, Cell::Text);
    let number = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Number);
    vec![
        Cell::Text(r.round),
        Cell::Text(label(r.action)),
        Cell::Text(label(r.reason)),
        Cell::Text(&r.person_id),
        text(r.contact.name.as_deref()),
        text(r.building),
        text(r.contact.room),
        text(r.contact.college),
        text(r.contact.class),
        text(r.contact.phone.as_deref()),
        text(r.contact.counselor),
        Cell::Text(r.tube_id),
        Cell::Number(r.tube_size as f64),
        Cell::Text(label(r.tube_class)),
        number(r.ct_orf1ab),
        number(r.ct_n),
        Cell::Time(r.sampled_at),
        text(r.site),
    ]
}

/// The cells of one missing row, in [`MISSING_COLUMNS`] order.
pub fn missing_cells<'a>(r: &'a MissingRow) -> Vec<Cell<'a>> {
    let text = |v: Option<&'a str>| v.map_or(Cell::Empty, Cell::Text);
    vec![
        Cell::Text(r.round),
        Cell::Text(&r.person_id),
        text(r.contact.name.as_deref()),
        Cell::Text(r.building),
        text(r.contact.room),
        text(r.contact.college),
        text(r.contact.class),
        text(r.contact.phone.as_deref()),
        text(r.contact.counselor),
        Cell::Text(label(r.status)),
    ]
}

fn xlsx(e: XlsxError) -> Error {
    Error::Internal(format!("writing a workbook failed: {e}"))
}

/// A valid, unique sheet name for `wanted`: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(wanted: &str, taken: &mut Vec<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect::<String>()
        .trim_matches('\'')
        .chars()
        .take(31)
        .collect();
    let base = if clean.is_empty() {
        "Sheet".to_string()
    } else {
        clean
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken
        .iter()
        .any(|t| t.to_lowercase() == name.to_lowercase())
    {
        let suffix = format!(" ({n})");
        name = base
            .chars()
            .take(31 - suffix.chars().count())
            .collect::<String>()
            + &suffix;
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// A workbook: an "全部" sheet with every row, then one sheet per building (natural
/// order) with that building's rows. `building_of` gives each row's building.
pub fn write_lists<'a>(
    columns: &[Column],
    rows: &[Vec<Cell<'a>>],
    building_of: impl Fn(usize) -> Option<&'a str>,
) -> Result<Vec<u8>> {
    const MAX_ROWS: usize = 1_048_575;
    if rows.len() > MAX_ROWS {
        return Err(Error::Usage(format!(
            "{} rows do not fit in an Excel sheet; use the Parquet or CSV list",
            rows.len()
        )));
    }
    let mut book = Workbook::new();
    // A fixed creation time keeps the bytes the same for the same round.
    let created = ExcelDateTime::from_ymd(2020, 1, 1).map_err(xlsx)?;
    book.set_properties(&DocProperties::new().set_creation_datetime(&created));
    book.set_zip_compression_level(3);
    let header = Format::new().set_bold();
    let time = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let mut taken = Vec::new();
    let mut buildings: Vec<&str> = (0..rows.len()).filter_map(&building_of).collect();
    buildings.sort_by(|a, b| natural_cmp(a, b));
    buildings.dedup();
    let all: Vec<usize> = (0..rows.len()).collect();
    let mut sheets = vec![("全部", all)];
    for b in buildings {
        sheets.push((
            b,
            (0..rows.len())
                .filter(|&i| building_of(i) == Some(b))
                .collect(),
        ));
    }
    for (name, picked) in sheets {
        // Rows go to a temporary file as they are written, so a city's lists do not
        // have to fit in memory twice.
        let sheet = book.add_worksheet_with_constant_memory().map_err(xlsx)?;
        sheet.set_name(sheet_name(name, &mut taken)).map_err(xlsx)?;
        fill(sheet, columns, rows, &picked, &header, &time).map_err(xlsx)?;
    }
    book.save_to_buffer().map_err(xlsx)
}

/// The China Standard Time (UTC+8, no daylight saving since 1991) of a timestamp, to the
/// second, as Excel shows it.
fn excel_time(micros: Micros) -> std::result::Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_timestamp(micros.div_euclid(1_000_000) + 8 * 3600)
}

fn fill(
    sheet: &mut Worksheet,
    columns: &[Column],
    rows: &[Vec<Cell>],
    picked: &[usize],
    header: &Format,
    time: &Format,
) -> std::result::Result<(), XlsxError> {
    for (c, column) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, column.header, header)?;
        sheet.set_column_width(c as u16, column.width)?;
    }
    for (r, &i) in picked.iter().enumerate() {
        let row = r as u32 + 1;
        for (c, cell) in rows[i].iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(t) => {
                    sheet.write_string(row, c, *t)?;
                }
                Cell::Number(v) => {
                    sheet.write_number(row, c, *v)?;
                }
                Cell::Time(micros) => {
                    let dt = excel_time(*micros)?;
                    sheet.write_datetime_with_format(row, c, &dt, time)?;
                }
                Cell::Empty => {}
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, picked.len() as u32, columns.len() as u16 - 1)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::values::format_local;

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
    }
}
