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

use super::archive::{Archive, Entry, Piece};
use super::columns::{Column, Kind};
use crate::error::{Error, Result};
use crate::order::natural_cmp;
use crate::record::{Micros, NONE};
use rayon::prelude::*;
use std::io::Write;

/// The most buildings for which a workbook gets a sheet per building.
pub const MAX_BUILDING_SHEETS: usize = 100;

/// The name of the sheet of every row (and, numbered, of its continuations).
const ALL: &str = "全部";

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

/// Writes a workbook of `rows` with `columns` to `out`: an "全部" sheet, then one sheet
/// per building (by `building_of`, in natural order) when there are at most
/// [`MAX_BUILDING_SHEETS`].
pub fn write_list<R: Sync>(
    out: &mut impl Write,
    columns: &[Column<R>],
    rows: &[R],
    building_of: Option<fn(&R) -> Option<&str>>,
) -> Result<()> {
    write_list_paged(out, columns, rows, building_of, MAX_SHEET_ROWS)
}

/// [`write_list`] with at most `per_sheet` rows a sheet.
fn write_list_paged<R: Sync>(
    out: &mut impl Write,
    columns: &[Column<R>],
    rows: &[R],
    building_of: Option<fn(&R) -> Option<&str>>,
    per_sheet: usize,
) -> Result<()> {
    let by_building = building_of.and_then(|of| buildings(rows, of));
    let listed = std::iter::once((ALL, Picked::Span(0, rows.len()))).chain(
        by_building
            .iter()
            .flatten()
            .map(|(name, picked)| (*name, Picked::Listed(picked))),
    );
    let mut taken = Vec::new();
    let mut planned = Vec::new();
    for (i, (name, picked)) in listed.enumerate() {
        // An empty list still gets its sheet, with the header row; a long one goes on
        // over as many sheets as it needs.
        let per_sheet = per_sheet.max(1);
        for part in 0..picked.len().div_ceil(per_sheet).max(1) {
            planned.push(Sheet {
                name: sheet_name(name, i == 0, &mut taken),
                rows: picked.part(part * per_sheet, per_sheet),
            });
        }
    }
    let (shared, texts) = shared_strings(columns, rows);
    let layout = Layout::new(columns, shared);
    let failed = |e: std::io::Error| Error::Internal(format!("writing a workbook: {e}"));
    let mut archive = Archive::new(out);
    for entry in package(&planned, columns.len()) {
        archive.add(entry).map_err(failed)?;
    }
    archive
        .add(Entry::whole("xl/sharedStrings.xml", &texts))
        .map_err(failed)?;
    // A sheet is cut into blocks of rows, written and deflated on the workers and put
    // back in order; only one sheet's deflated blocks are held at a time.
    for (s, sheet) in planned.iter().enumerate() {
        let blocks = sheet.rows.len().div_ceil(BLOCK_ROWS).max(1);
        let pieces: Vec<Piece> = (0..blocks)
            .into_par_iter()
            .map(|b| {
                XML.with_borrow_mut(|xml| {
                    xml.clear();
                    let last = b + 1 == blocks;
                    if b == 0 {
                        sheet_head(xml, &layout, sheet.rows.len(), s == 0);
                    }
                    let first = b * BLOCK_ROWS;
                    let end = sheet.rows.len().min(first + BLOCK_ROWS);
                    for at in first..end {
                        // Row 1 is the header.
                        write_row(xml, &layout, at + 2, &rows[sheet.rows.at(at)]);
                    }
                    if last {
                        sheet_tail(xml, &layout, sheet.rows.len());
                    }
                    Piece::new(xml, last)
                })
            })
            .collect();
        let name = format!("xl/worksheets/sheet{}.xml", s + 1);
        archive.add(Entry { name, pieces }).map_err(failed)?;
    }
    archive.finish().map_err(failed)
}

/// Rows a block: a few megabytes of XML a worker at a time.
const BLOCK_ROWS: usize = 8192;

thread_local! {
    /// A worker's block of sheet XML, kept from block to block: a city's workbook is
    /// gigabytes of XML, and fresh memory for each block would be zeroed by the system
    /// page by page.
    static XML: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A sheet of the workbook: its name and the rows of the list on it.
struct Sheet<'a> {
    name: String,
    rows: Picked<'a>,
}

/// Rows of a list: a span of it, or the rows listed (indices into it).
#[derive(Clone, Copy)]
enum Picked<'a> {
    Span(usize, usize),
    Listed(&'a [usize]),
}

impl Picked<'_> {
    fn len(&self) -> usize {
        match self {
            Picked::Span(start, end) => end - start,
            Picked::Listed(rows) => rows.len(),
        }
    }

    /// The index into the list of the `at`th row picked.
    fn at(&self, at: usize) -> usize {
        match self {
            Picked::Span(start, _) => start + at,
            Picked::Listed(rows) => rows[at],
        }
    }

    /// At most `len` of the rows picked, from the `from`th.
    fn part(&self, from: usize, len: usize) -> Self {
        let end = self.len().min(from.saturating_add(len));
        let from = from.min(end);
        match *self {
            Picked::Span(start, _) => Picked::Span(start + from, start + end),
            Picked::Listed(rows) => Picked::Listed(&rows[from..end]),
        }
    }
}

/// The rows of each building (by `building_of`; rows without one are on no building's
/// sheet), buildings in natural order and rows in the list's order; `None` past
/// [`MAX_BUILDING_SHEETS`] buildings. One pass: a city's list of ten million rows and
/// thousands of buildings is given up on at its 101st building, without a sort.
fn buildings<R>(
    rows: &[R],
    building_of: fn(&R) -> Option<&str>,
) -> Option<Vec<(&str, Vec<usize>)>> {
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    // Lists mostly come in building order: the last building is tried first.
    let mut last: Option<usize> = None;
    for (i, row) in rows.iter().enumerate() {
        let Some(b) = building_of(row) else { continue };
        let g = match last {
            Some(g) if groups[g].0 == b => g,
            _ => match index.get(b) {
                Some(&g) => g,
                None if groups.len() == MAX_BUILDING_SHEETS => return None,
                None => {
                    index.insert(b, groups.len());
                    groups.push((b, Vec::new()));
                    groups.len() - 1
                }
            },
        };
        groups[g].1.push(i);
        last = Some(g);
    }
    // Names are distinct and natural order is total: the order is the names' alone.
    groups.sort_unstable_by(|a, b| natural_cmp(a.0, b.0));
    Some(groups)
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
/// `[]:*?/\` or control characters, no apostrophe at either end, not "History"; 全部
/// (and 全部 (2) …) only for the sheet of every row (`every_row`).
fn sheet_name(wanted: &str, every_row: bool, taken: &mut Vec<String>) -> String {
    let clean: String = wanted
        .chars()
        .map(|c| {
            // Characters XML cannot hold in the workbook's list of sheets, too.
            let unfit = c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}';
            if unfit || "[]:*?/\\".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut base = cut(clean.trim_matches('\''), MAX_SHEET_NAME);
    if base.is_empty() {
        base = "Sheet".to_string();
    }
    // Only the sheet of every row is named 全部, and only its continuations 全部 (2) …:
    // a building named so gets 楼栋 全部.
    let of_all = base == ALL
        || base
            .strip_prefix(ALL)
            .is_some_and(|rest| rest.trim_start().starts_with('('));
    if of_all && !every_row {
        base = cut(&format!("楼栋 {base}"), MAX_SHEET_NAME);
    }
    let mut name = base.clone();
    let mut n = 2;
    // Excel keeps "History" for itself.
    while name.to_lowercase() == "history"
        || taken
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

/// The Excel serial date (days since 1899-12-30, the day's fraction after the point)
/// of a timestamp's China Standard Time (UTC+8, no daylight saving since 1991), to the
/// second. Excel's day 60 (a 1900-02-29 that never was) only shifts days before March
/// 1900, which no round has.
fn excel_time(micros: Micros) -> f64 {
    let seconds = micros.div_euclid(1_000_000) + 8 * 3600;
    let (days, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // 1970-01-01 is Excel's day 25,569.
    (days + 25_569) as f64 + second as f64 / 86_400.0
}

/// Excel's longest cell text, in UTF-16 code units.
const MAX_CELL_TEXT: usize = 32_767;

/// The style numbers of `styles.xml`'s cell formats.
const STYLE_HEADER: u8 = 1;
const STYLE_TIME: u8 = 2;

/// What every block of a list's sheets shares: the columns, their letters and the
/// shared strings of the columns numbered by their rows.
struct Layout<'c, R> {
    columns: &'c [Column<R>],
    letters: Vec<String>,
    /// By column, the shared string of each of its values' numbers ([`Column::code`]);
    /// empty for a column whose cells hold their text.
    shared: Vec<Vec<u32>>,
}

impl<'c, R> Layout<'c, R> {
    fn new(columns: &'c [Column<R>], shared: Vec<Vec<u32>>) -> Self {
        Layout {
            columns,
            letters: (0..columns.len()).map(column_letters).collect(),
            shared,
        }
    }

    fn last_letters(&self) -> &str {
        self.letters.last().map_or("A", String::as_str)
    }
}

/// The letters of column `c` (from 0): A … Z, AA, AB, …
fn column_letters(c: usize) -> String {
    let mut n = c + 1;
    let mut letters = Vec::new();
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).expect("ASCII letters")
}

/// Excel's stored column width for `width` characters of the default font (Calibri
/// 11: 7 pixels a character, 5 pixels of padding), as Excel itself writes it.
fn stored_width(width: f64) -> f64 {
    let pixels = (width * 7.0 + 0.5).floor() + 5.0;
    (pixels / 7.0 * 256.0).trunc() / 256.0
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// The start of a sheet: its settings, the column widths and the header row.
fn sheet_head<R>(xml: &mut Vec<u8>, layout: &Layout<R>, rows: usize, selected: bool) {
    let last = layout.last_letters();
    let end = rows + 1;
    let mut head = format!(
        "{XML_HEAD}<worksheet xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\"><sheetPr><pageSetUpPr \
         fitToPage=\"1\"/></sheetPr><dimension ref=\"A1:{last}{end}\"/><sheetViews><sheetView \
         {}workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" \
         state=\"frozen\"/><selection pane=\"bottomLeft\"/></sheetView></sheetViews>\
         <sheetFormatPr defaultRowHeight=\"15\"/><cols>",
        if selected { "tabSelected=\"1\" " } else { "" }
    );
    for (c, column) in layout.columns.iter().enumerate() {
        head.push_str(&format!(
            "<col min=\"{n}\" max=\"{n}\" width=\"{}\" customWidth=\"1\"/>",
            stored_width(column.width),
            n = c + 1
        ));
    }
    head.push_str("</cols><sheetData><row r=\"1\">");
    xml.extend_from_slice(head.as_bytes());
    for column in layout.columns {
        text_cell(xml, None, Some(STYLE_HEADER), column.header);
    }
    xml.extend_from_slice(b"</row>");
}

/// The end of a sheet: the autofilter over every row and the page setup for printing
/// (landscape A4, every column on one page's width, as many pages down as needed, page
/// numbers in the footer; the header row on every page is a defined name of the
/// workbook).
fn sheet_tail<R>(xml: &mut Vec<u8>, layout: &Layout<R>, rows: usize) {
    xml.extend_from_slice(
        format!(
            "</sheetData><autoFilter ref=\"A1:{}{}\"/><pageMargins left=\"0.7\" right=\"0.7\" \
             top=\"0.75\" bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/><pageSetup \
             paperSize=\"9\" fitToHeight=\"0\" orientation=\"landscape\"/><headerFooter>\
             <oddFooter>&amp;C第 &amp;P 页，共 &amp;N 页</oddFooter></headerFooter></worksheet>",
            layout.last_letters(),
            rows + 1
        )
        .as_bytes(),
    );
}

/// Row `n` (from 1) of a sheet, holding `row`. A cell right after the row's previous
/// cell (or first in the row, in column A) goes without its reference (`r="B7"`), which
/// is optional (ECMA-376 Part 1, 18.3.1.4) and which Excel, LibreOffice and the
/// readers docs/formats.md names infer from the cell's place; a cell after an empty one
/// names its own. A city's plan is
/// ten million rows: the references were a fifth of its sheet XML and half of what was
/// left once deflated.
fn write_row<R>(xml: &mut Vec<u8>, layout: &Layout<R>, n: usize, row: &R) {
    let mut digits = itoa::Buffer::new();
    let n = digits.format(n).as_bytes();
    xml.extend_from_slice(b"<row r=\"");
    xml.extend_from_slice(n);
    xml.extend_from_slice(b"\">");
    // Whether the previous column's cell was written (column A follows the row start).
    let mut follows = true;
    for (c, column) in layout.columns.iter().enumerate() {
        let at = (!follows).then(|| (layout.letters[c].as_str(), n));
        follows = true;
        if let (Some(code), false) = (column.code, layout.shared[c].is_empty()) {
            match code(row) {
                NONE => follows = false,
                code => shared_cell(xml, at, layout.shared[c][code as usize]),
            }
            continue;
        }
        let value = (column.value)(row);
        match column.kind {
            Kind::Text => match value.text() {
                Some(t) => text_cell(xml, at, None, t),
                None => follows = false,
            },
            Kind::Code => match value.text() {
                Some(t) => text_cell(xml, at, None, label(t)),
                None => follows = false,
            },
            Kind::Bool => match value.bool() {
                Some(v) => text_cell(xml, at, None, if v { "是" } else { "否" }),
                None => follows = false,
            },
            Kind::Int => match value.int() {
                Some(v) => number_cell(xml, at, None, itoa::Buffer::new().format(v)),
                None => follows = false,
            },
            Kind::Float => match value.float().filter(|v| v.is_finite()) {
                Some(v) => number_cell(xml, at, None, ryu::Buffer::new().format_finite(v)),
                None => follows = false,
            },
            Kind::Time => match value.time() {
                Some(micros) => {
                    let mut serial = ryu::Buffer::new();
                    let serial = serial.format_finite(excel_time(micros));
                    number_cell(xml, at, Some(STYLE_TIME), serial);
                }
                None => follows = false,
            },
        }
    }
    xml.extend_from_slice(b"</row>");
}

/// Where a cell is, when it must say: its column's letters and its row's number.
type At<'a> = Option<(&'a str, &'a [u8])>;

fn cell_start(xml: &mut Vec<u8>, at: At, style: Option<u8>) {
    xml.extend_from_slice(b"<c");
    if let Some((letters, row)) = at {
        xml.extend_from_slice(b" r=\"");
        xml.extend_from_slice(letters.as_bytes());
        xml.extend_from_slice(row);
        xml.push(b'"');
    }
    if let Some(s) = style {
        xml.extend_from_slice(b" s=\"");
        xml.push(b'0' + s);
        xml.push(b'"');
    }
}

fn number_cell(xml: &mut Vec<u8>, at: At, style: Option<u8>, number: &str) {
    cell_start(xml, at, style);
    xml.extend_from_slice(b"><v>");
    xml.extend_from_slice(number.as_bytes());
    xml.extend_from_slice(b"</v></c>");
}

/// The shared strings of the columns of few values (text and codes numbered by their
/// rows, [`Column::code`]): by column, the string of each number (empty for the other
/// columns), and `sharedStrings.xml`, each text once, as its cells would show it. A
/// city's missing list repeats its round, building, college, class, counselor and
/// status on millions of rows: written once and referred to by number, they no longer
/// make a third of its sheets' XML, which is deflated. The columns are numbered on the
/// workers, each string taken from the first row with its number.
fn shared_strings<R: Sync>(columns: &[Column<R>], rows: &[R]) -> (Vec<Vec<u32>>, Vec<u8>) {
    let firsts: Vec<Vec<(u32, usize)>> = columns
        .par_iter()
        .map(|column| {
            let Some(code) = column
                .code
                .filter(|_| matches!(column.kind, Kind::Text | Kind::Code))
            else {
                return Vec::new();
            };
            let mut seen: Vec<bool> = Vec::new();
            let mut firsts = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let c = code(row);
                if c == NONE {
                    continue;
                }
                if seen.len() <= c as usize {
                    seen.resize(c as usize + 1, false);
                }
                if !std::mem::replace(&mut seen[c as usize], true) {
                    firsts.push((c, i));
                }
            }
            firsts
        })
        .collect();
    let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let mut xml = Vec::new();
    let mut texts = 0u32;
    // The columns of fewest values are numbered first, so that the values most rows
    // repeat get the shortest numbers: numbered in column order, a city's missing list
    // gave its ten thousand buildings the first numbers, and the rooms, colleges,
    // classes, counselors and statuses after them five digits a cell where one to
    // three now do (5% of its sheets' XML). Columns of as many values keep their
    // order, and a text two columns share keeps the number it got first.
    let mut by_values: Vec<usize> = (0..columns.len()).collect();
    by_values.sort_by_key(|&c| firsts[c].len());
    let mut shared = vec![Vec::new(); columns.len()];
    for c in by_values {
        let (column, firsts) = (&columns[c], &firsts[c]);
        let mut of_code = vec![
            NONE;
            firsts
                .iter()
                .map(|&(c, _)| c as usize + 1)
                .max()
                .unwrap_or(0)
        ];
        for &(c, i) in firsts {
            let text = (column.value)(&rows[i]).text().unwrap_or_default();
            let text = match column.kind {
                Kind::Code => label(text),
                _ => text,
            };
            of_code[c as usize] = *index.entry(text).or_insert_with(|| {
                xml.extend_from_slice(b"<si>");
                string_element(&mut xml, text);
                xml.extend_from_slice(b"</si>");
                texts += 1;
                texts - 1
            });
        }
        shared[c] = of_code;
    }
    let mut part =
        format!("{XML_HEAD}<sst xmlns=\"{MAIN_NS}\" uniqueCount=\"{texts}\">").into_bytes();
    part.extend_from_slice(&xml);
    part.extend_from_slice(b"</sst>");
    (shared, part)
}

/// A cell holding shared string `index`.
fn shared_cell(xml: &mut Vec<u8>, at: At, index: u32) {
    cell_start(xml, at, None);
    xml.extend_from_slice(b" t=\"s\"><v>");
    xml.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
    xml.extend_from_slice(b"</v></c>");
}

/// A text cell, always a string (never a formula, whatever it starts with), cut to
/// Excel's 32,767 characters.
fn text_cell(xml: &mut Vec<u8>, at: At, style: Option<u8>, text: &str) {
    cell_start(xml, at, style);
    xml.extend_from_slice(b" t=\"inlineStr\"><is>");
    string_element(xml, text);
    xml.extend_from_slice(b"</is></c>");
}

/// A string's `<t>` element, cut to Excel's 32,767 characters, its spaces at either end
/// kept.
fn string_element(xml: &mut Vec<u8>, text: &str) {
    // Excel counts UTF-16 code units; a cut never splits a character.
    let text = if text.len() <= MAX_CELL_TEXT {
        text
    } else {
        let mut units = 0;
        let end = text
            .char_indices()
            .find(|(_, c)| {
                units += c.len_utf16();
                units > MAX_CELL_TEXT
            })
            .map_or(text.len(), |(at, _)| at);
        &text[..end]
    };
    // Excel drops spaces at either end unless told to keep them.
    let edges = |c: Option<char>| c.is_some_and(char::is_whitespace);
    if edges(text.chars().next()) || edges(text.chars().next_back()) {
        xml.extend_from_slice(b"<t xml:space=\"preserve\">");
    } else {
        xml.extend_from_slice(b"<t>");
    }
    escape_text(xml, text);
    xml.extend_from_slice(b"</t>");
}

/// `text` as the content of an element: `&`, `<` and `>` escaped; characters XML
/// cannot hold (controls but tab and line feed, U+FFFE, U+FFFF) and carriage returns
/// written as Excel's `_xHHHH_`, and an underscore that would start such an escape
/// written as `_x005F_`, so that the cell reads back as it was.
fn escape_text(xml: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let plain = |b: u8| !matches!(b, b'&' | b'<' | b'>' | b'_' | 0..=0x1F | 0xEF);
    if bytes.iter().all(|&b| plain(b)) {
        xml.extend_from_slice(bytes);
        return;
    }
    for (at, c) in text.char_indices() {
        match c {
            '&' => xml.extend_from_slice(b"&amp;"),
            '<' => xml.extend_from_slice(b"&lt;"),
            '>' => xml.extend_from_slice(b"&gt;"),
            '\t' | '\n' => xml.push(c as u8),
            '\u{0}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}' => {
                xml.extend_from_slice(format!("_x{:04X}_", c as u32).as_bytes());
            }
            '_' if is_escape(&bytes[at..]) => xml.extend_from_slice(b"_x005F_"),
            _ => {
                let mut utf8 = [0; 4];
                xml.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
}

/// Whether `bytes` start with Excel's escape of a character, `_xHHHH_`.
fn is_escape(bytes: &[u8]) -> bool {
    bytes.len() >= 7
        && bytes[0] == b'_'
        && bytes[1] == b'x'
        && bytes[2..6].iter().all(u8::is_ascii_hexdigit)
        && bytes[6] == b'_'
}

/// A sheet's name as a formula refers to it. Excel leaves a name bare only when it
/// cannot be read as anything else; a name of letters and digits with a letter
/// outside ASCII first (全部, 公寓3) cannot be a cell reference, like `A1` or `R1C1`, and
/// stays bare, as Excel writes it. Any other name is quoted, an apostrophe doubled,
/// which Excel reads for every name.
fn in_formula(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| !c.is_ascii() && c.is_alphanumeric())
        && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    if bare {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// `text` escaped for an attribute value.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every part of the package but the sheets and the shared strings (made by
/// [`shared_strings`], which this names): content types, relationships, document
/// properties, the workbook (its sheets, each sheet's filter and print titles as
/// defined names) and the styles.
fn package(sheets: &[Sheet], columns: usize) -> Vec<Entry> {
    let n = sheets.len();
    let last = column_letters(columns.max(1) - 1);
    let mut types = format!(
        "{XML_HEAD}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
         <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
         <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
         <Override PartName=\"/docProps/app.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/>\
         <Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>\
         <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
         <Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>\
         <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>"
    );
    for s in 1..=n {
        types.push_str(&format!(
            "<Override PartName=\"/xl/worksheets/sheet{s}.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
        ));
    }
    types.push_str("</Types>");
    let rels = format!(
        "{XML_HEAD}<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
         <Relationship Id=\"rId1\" Type=\"{REL_NS}/officeDocument\" Target=\"xl/workbook.xml\"/>\
         <Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>\
         <Relationship Id=\"rId3\" Type=\"{REL_NS}/extended-properties\" Target=\"docProps/app.xml\"/></Relationships>"
    );
    let app = format!(
        "{XML_HEAD}<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\" \
         xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\">\
         <Application>Microsoft Excel</Application></Properties>"
    );
    // A fixed creation time keeps the bytes the same for the same round.
    let core = format!(
        "{XML_HEAD}<cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <dcterms:created xsi:type=\"dcterms:W3CDTF\">2020-01-01T00:00:00Z</dcterms:created>\
         <dcterms:modified xsi:type=\"dcterms:W3CDTF\">2020-01-01T00:00:00Z</dcterms:modified></cp:coreProperties>"
    );
    let mut book = format!(
        "{XML_HEAD}<workbook xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\"><bookViews><workbookView/></bookViews><sheets>"
    );
    let mut book_rels = format!(
        "{XML_HEAD}<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    );
    let mut filters = String::new();
    let mut titles = String::new();
    for (i, sheet) in sheets.iter().enumerate() {
        let id = i + 1;
        book.push_str(&format!(
            "<sheet name=\"{}\" sheetId=\"{id}\" r:id=\"rId{id}\"/>",
            attribute(&sheet.name)
        ));
        book_rels.push_str(&format!(
            "<Relationship Id=\"rId{id}\" Type=\"{REL_NS}/worksheet\" Target=\"worksheets/sheet{id}.xml\"/>"
        ));
        let quoted = attribute(&in_formula(&sheet.name));
        filters.push_str(&format!(
            "<definedName name=\"_xlnm._FilterDatabase\" localSheetId=\"{i}\" hidden=\"1\">{quoted}!$A$1:${last}${}</definedName>",
            sheet.rows.len() + 1
        ));
        titles.push_str(&format!(
            "<definedName name=\"_xlnm.Print_Titles\" localSheetId=\"{i}\">{quoted}!$1:$1</definedName>"
        ));
    }
    book.push_str(&format!(
        "</sheets><definedNames>{filters}{titles}</definedNames><calcPr calcId=\"124519\"/></workbook>"
    ));
    book_rels.push_str(&format!(
        "<Relationship Id=\"rId{}\" Type=\"{REL_NS}/styles\" Target=\"styles.xml\"/>\
         <Relationship Id=\"rId{}\" Type=\"{REL_NS}/sharedStrings\" Target=\"sharedStrings.xml\"/>\
         </Relationships>",
        n + 1,
        n + 2
    ));
    let styles = format!(
        "{XML_HEAD}<styleSheet xmlns=\"{MAIN_NS}\"><numFmts count=\"1\"><numFmt numFmtId=\"164\" \
         formatCode=\"yyyy-mm-dd hh:mm:ss\"/></numFmts><fonts count=\"2\"><font><sz val=\"11\"/>\
         <name val=\"Calibri\"/><family val=\"2\"/></font><font><b/><sz val=\"11\"/><name \
         val=\"Calibri\"/><family val=\"2\"/></font></fonts><fills count=\"2\"><fill><patternFill \
         patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>\
         <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
         <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/>\
         </cellStyleXfs><cellXfs count=\"3\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" \
         borderId=\"0\" xfId=\"0\"/><xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" \
         xfId=\"0\" applyFont=\"1\"/><xf numFmtId=\"164\" fontId=\"0\" fillId=\"0\" borderId=\"0\" \
         xfId=\"0\" applyNumberFormat=\"1\"/></cellXfs><cellStyles count=\"1\"><cellStyle \
         name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles></styleSheet>"
    );
    vec![
        Entry::whole("[Content_Types].xml", types.as_bytes()),
        Entry::whole("_rels/.rels", rels.as_bytes()),
        Entry::whole("docProps/app.xml", app.as_bytes()),
        Entry::whole("docProps/core.xml", core.as_bytes()),
        Entry::whole("xl/workbook.xml", book.as_bytes()),
        Entry::whole("xl/_rels/workbook.xml.rels", book_rels.as_bytes()),
        Entry::whole("xl/styles.xml", styles.as_bytes()),
    ]
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
            // rust_xlsxwriter's reading of the local time is the oracle.
            let expected = rust_xlsxwriter::ExcelDateTime::parse_from_str(&format_local(micros));
            assert_eq!(excel_time(micros), expected.unwrap().to_excel(), "{micros}");
        }
    }

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let mut taken = vec![];
        assert_eq!(sheet_name("全部", true, &mut taken), "全部");
        assert_eq!(sheet_name("全部", true, &mut taken), "全部 (2)");
        assert_eq!(sheet_name("'全部'", false, &mut taken), "楼栋 全部");
        assert_eq!(sheet_name("A/B:C", false, &mut taken), "A_B_C");
        assert_eq!(
            sheet_name(&"楼".repeat(40), false, &mut taken)
                .chars()
                .count(),
            31
        );
        // Characters outside the basic plane take two UTF-16 units each.
        let wide = sheet_name(&"𠀀".repeat(20), false, &mut taken);
        assert_eq!(wide.encode_utf16().count(), 30);
        assert_eq!(sheet_name("'公寓'", false, &mut taken), "公寓");
        assert_eq!(sheet_name("楼\n1\t\u{1}", false, &mut taken), "楼_1__");
        assert_eq!(sheet_name("History", false, &mut taken), "History (2)");
        assert_eq!(
            sheet_name(&format!("{}'x", "a".repeat(30)), false, &mut taken),
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

    fn written(rows: &[Row], per_sheet: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_list_paged(&mut bytes, &columns(), rows, Some(building), per_sheet).unwrap();
        bytes
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

    /// A building named as the sheet of every row, or as one of its continuations, gets
    /// a sheet of its own that cannot be taken for either.
    #[test]
    fn a_building_named_all_is_not_a_continuation_of_all() {
        let rows: Vec<Row> = ["全部", "公寓1", "全部 (2)", "全部"]
            .iter()
            .enumerate()
            .map(|(i, b)| (b.to_string(), i))
            .collect();
        let got = read_back(&written(&rows, 3));
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        // Buildings in natural order: 全部 and 全部 (2) sort before 公寓1.
        assert_eq!(
            names,
            ["全部", "全部 (2)", "楼栋 全部", "楼栋 全部 (2)", "公寓1"]
        );
        assert_eq!(got[0].1, [0, 1, 2]);
        assert_eq!(got[1].1, [3]);
        assert_eq!(got[2].1, [0, 3]);
        assert_eq!(got[3].1, [2]);
        assert_eq!(got[4].1, [1]);
    }

    #[test]
    fn a_sheet_per_building_up_to_the_limit_then_one_sheet() {
        let rows: Vec<Row> = (0..12).map(|i| (format!("公寓{}", 3 - i % 3), i)).collect();
        let got = read_back(&written(&rows, MAX_SHEET_ROWS));
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["全部", "公寓1", "公寓2", "公寓3"]);
        assert_eq!(got[1].1, vec![2, 5, 8, 11]);
        assert_eq!(got[0].1, (0..12).collect::<Vec<_>>());

        // Exactly the limit, the rows of every building interleaved and the buildings
        // first seen out of natural order (楼99 before 楼10 before 楼9).
        let m = MAX_BUILDING_SHEETS;
        let rows: Vec<Row> = (0..3 * m)
            .map(|i| (format!("楼{}", m - 1 - i % m), i))
            .collect();
        let got = read_back(&written(&rows, MAX_SHEET_ROWS));
        assert_eq!(got.len(), 1 + MAX_BUILDING_SHEETS);
        for (b, (name, ns)) in got[1..].iter().enumerate() {
            assert_eq!(name, &format!("楼{b}"), "natural order");
            let first = (m - 1 - b) as i64;
            let m = m as i64;
            assert_eq!(ns, &[first, first + m, first + 2 * m], "the list's order");
        }

        let many: Vec<Row> = (0..=MAX_BUILDING_SHEETS)
            .map(|i| (format!("楼{i}"), i))
            .collect();
        let got = read_back(&written(&many, MAX_SHEET_ROWS));
        assert_eq!(
            got.len(),
            1,
            "past {MAX_BUILDING_SHEETS} buildings, one sheet"
        );
        assert_eq!(got[0].1.len(), many.len());
    }

    #[test]
    fn text_reads_back_as_it_was_written() {
        let long = "楼".repeat(MAX_CELL_TEXT + 10);
        // Characters outside the basic plane count two units each.
        let wide = "𠀀".repeat(MAX_CELL_TEXT);
        let texts = [
            "a & b < c > d \"e\" 'f'",
            "  spaces at both ends ",
            "\ttab first",
            "line\nbreak",
            "carriage\r\nreturn",
            "bell\u{7} and nul\u{0}",
            "_x0041_ is not A",
            "_x00_ _x12345_ _",
            "not a char \u{FFFE}",
            "𠀀 emoji 😀 全角１２３",
            "=1+1",
            &long,
            &wide,
        ];
        let rows: Vec<Row> = texts.iter().map(|t| (t.to_string(), 0)).collect();
        let bytes = written(&rows, MAX_SHEET_ROWS);
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("全部").unwrap();
        let got: Vec<String> = range
            .rows()
            .skip(1)
            .map(|r| match &r[0] {
                Data::String(s) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        let mut expected: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        // Cut at Excel's longest cell text.
        expected[texts.len() - 2] = "楼".repeat(MAX_CELL_TEXT);
        expected[texts.len() - 1] = "𠀀".repeat(MAX_CELL_TEXT / 2);
        assert_eq!(got, expected);
    }

    /// The cell references (`r="B3"`) written in the first sheet of workbook `bytes`.
    fn references(bytes: Vec<u8>) -> Vec<String> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
            &mut xml,
        )
        .unwrap();
        xml.match_indices("<c r=\"")
            .map(|(at, _)| xml[at + 6..].split('"').next().unwrap().to_string())
            .collect()
    }

    /// Cells right after the row's previous one go without their reference; a cell
    /// after an empty one names its place, and every value reads back in its column.
    #[test]
    fn cells_after_an_empty_one_name_their_place() {
        type Gappy = [Option<&'static str>; 4];
        let columns: Vec<Column<Gappy>> = (0..4)
            .map(|c| {
                let value: for<'a> fn(&'a Gappy) -> Value<'a> = match c {
                    0 => |r| Value::Text(r[0]),
                    1 => |r| Value::Text(r[1]),
                    2 => |r| Value::Text(r[2]),
                    _ => |r| Value::Text(r[3]),
                };
                column("x", "列", 8.0, Kind::Text, value)
            })
            .collect();
        let rows: Vec<Gappy> = vec![
            [Some("a"), Some("b"), Some("c"), Some("d")],
            [None, Some("b"), None, Some("d")],
            [Some("a"), None, None, Some("d")],
            [None, None, Some("c"), None],
            [None, None, None, None],
        ];
        let mut bytes = Vec::new();
        write_list(&mut bytes, &columns, &rows, None).unwrap();
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let range = book.worksheet_range("全部").unwrap();
        let (top, _) = range.start().unwrap();
        assert_eq!(top, 0);
        for (i, row) in rows.iter().enumerate() {
            for (c, want) in row.iter().enumerate() {
                let got = range.get_value((i as u32 + 1, c as u32));
                let got = match got {
                    Some(Data::String(s)) => Some(s.as_str()),
                    Some(Data::Empty) | None => None,
                    other => panic!("{other:?}"),
                };
                assert_eq!(got, *want, "row {i} column {c}");
            }
        }
        // Only the cells after a gap carry a reference: B3 and D3 (A3 and C3 are
        // empty), D4 (after B4 and C4), C5 (after A5 and B5); row 6 has no cell.
        let refs = references(bytes);
        assert_eq!(refs, ["B3", "D3", "D4", "C5"]);
    }

    /// Every kind of cell leaves a gap when empty, a float that is not finite too, and
    /// the cell after it names its place.
    #[test]
    fn every_kind_of_gap_is_named_after() {
        type Mixed = (
            Option<i64>,
            Option<f64>,
            Option<bool>,
            Option<Micros>,
            Option<&'static str>,
        );
        let columns: Vec<Column<Mixed>> = vec![
            column("i", "整数", 8.0, Kind::Int, |r: &Mixed| Value::Int(r.0)),
            column("f", "小数", 8.0, Kind::Float, |r: &Mixed| {
                Value::Float(r.1)
            }),
            column("b", "是否", 8.0, Kind::Bool, |r: &Mixed| Value::Bool(r.2)),
            column("t", "时间", 8.0, Kind::Time, |r: &Mixed| Value::Time(r.3)),
            column("c", "代码", 8.0, Kind::Code, |r: &Mixed| Value::Code(r.4)),
        ];
        let at = 1_649_548_800_000_000; // 2022-04-10 08:00 in China
        let rows: Vec<Mixed> = vec![
            (Some(1), Some(2.5), Some(true), Some(at), Some("positive")),
            (None, Some(f64::NAN), Some(false), None, Some("negative")),
            (Some(3), Some(f64::INFINITY), None, Some(at), None),
        ];
        let mut bytes = Vec::new();
        write_list(&mut bytes, &columns, &rows, None).unwrap();
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let range = book.worksheet_range("全部").unwrap();
        let shown = |r: u32, c: u32| match range.get_value((r, c)) {
            None | Some(Data::Empty) => String::new(),
            Some(Data::Float(f)) => f.to_string(),
            Some(Data::String(s)) => s.clone(),
            Some(Data::DateTime(_)) => "time".to_string(),
            Some(other) => format!("{other:?}"),
        };
        let got: Vec<Vec<String>> = (1..=3)
            .map(|r| (0..5).map(|c| shown(r, c)).collect())
            .collect();
        assert_eq!(
            got,
            [
                ["1", "2.5", "是", "time", "阳性"],
                ["", "", "否", "", "阴性"],
                ["3", "", "", "time", ""],
            ]
        );
        let refs = references(bytes);
        assert_eq!(refs, ["C3", "E3", "D4"]);
    }

    #[test]
    fn sheet_names_in_formulas_are_quoted_unless_excel_leaves_them_bare() {
        assert_eq!(in_formula("全部"), "全部");
        assert_eq!(in_formula("公寓3"), "公寓3");
        assert_eq!(in_formula("全部 (2)"), "'全部 (2)'");
        assert_eq!(in_formula("A1"), "'A1'");
        assert_eq!(in_formula("R1C1"), "'R1C1'");
        assert_eq!(in_formula("Sheet1"), "'Sheet1'");
        assert_eq!(in_formula("3号楼"), "'3号楼'");
        assert_eq!(in_formula("O'Brien"), "'O''Brien'");
    }

    /// A column numbered by its rows ([`Column::code`]) reads back as the same column
    /// written as text, cell by cell: its texts held once in `sharedStrings.xml`, a
    /// code's label there, gaps naming the cell after them, texts with spaces at
    /// either end, characters to escape, an empty text, and a text past Excel's
    /// longest, cut as a text cell is.
    #[test]
    fn shared_strings_read_back_as_the_texts_they_stand_for() {
        let long: &'static str = "楼".repeat(MAX_CELL_TEXT + 10).leak();
        let texts = [
            "公寓1",
            "  spaces at both ends ",
            "a & b < c > d",
            "_x0041_ is not A",
            "",
            "公寓2",
            long,
        ];
        let codes = ["positive", "negative", "pending"];
        /// A text and its number, a code and its number, and the row's number.
        type Coded = (Option<&'static str>, u32, Option<&'static str>, u32, usize);
        let columns: Vec<Column<Coded>> = vec![
            column("plain", "文", 8.0, Kind::Text, |r: &Coded| {
                Value::Text(r.0)
            }),
            column("shared", "共", 8.0, Kind::Text, |r: &Coded| {
                Value::Text(r.0)
            })
            .coded(|r: &Coded| r.1),
            column("code", "码", 8.0, Kind::Code, |r: &Coded| Value::Code(r.2))
                .coded(|r: &Coded| r.3),
            column("n", "行", 8.0, Kind::Int, |r: &Coded| {
                Value::Int(Some(r.4 as i64))
            }),
        ];
        let rows: Vec<Coded> = (0..60)
            .map(|i| {
                let t = (i % 9 != 4).then_some(i * 5 % texts.len());
                let c = (i % 7 != 2).then_some(i % codes.len());
                (
                    t.map(|t| texts[t]),
                    t.map_or(NONE, |t| t as u32),
                    c.map(|c| codes[c]),
                    c.map_or(NONE, |c| c as u32),
                    i,
                )
            })
            .collect();
        let mut bytes = Vec::new();
        write_list(&mut bytes, &columns, &rows, None).unwrap();
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let range = book.worksheet_range("全部").unwrap();
        let text_at = |r: u32, c: u32| match range.get_value((r, c)) {
            None | Some(Data::Empty) => None,
            Some(Data::String(s)) => Some(s.clone()),
            Some(other) => panic!("{other:?}"),
        };
        for (i, row) in rows.iter().enumerate() {
            let r = i as u32 + 1;
            // Cut at Excel's longest cell text.
            let expected: Option<String> = row.0.map(|t| t.chars().take(MAX_CELL_TEXT).collect());
            let plain = text_at(r, 0);
            assert_eq!(plain.is_some(), expected.is_some(), "row {i}, as text");
            assert_eq!(plain.as_deref().unwrap_or(""), expected.unwrap_or_default());
            assert_eq!(text_at(r, 1), plain, "row {i}, shared");
            assert_eq!(
                text_at(r, 2),
                row.2.map(|c| label(c).to_string()),
                "row {i}"
            );
            assert_eq!(range.get_value((r, 3)), Some(&Data::Float(i as f64)));
        }
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut read = |name: &str| {
            let mut xml = String::new();
            std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut xml).unwrap();
            xml
        };
        // Each text once: the seven texts and the three labels.
        let shared = read("xl/sharedStrings.xml");
        assert_eq!(shared.matches("<si>").count(), texts.len() + codes.len());
        assert_eq!(shared.matches("阳性").count(), 1);
        // The column of fewest values, the codes, is numbered first, though it comes
        // after the texts': its cells, on most rows, refer to the shortest numbers.
        let first: Vec<&str> = shared.split("<si>").skip(1).take(codes.len()).collect();
        for si in first {
            let label_of = |c: &&str| si.starts_with(&format!("<t>{}</t>", label(c)));
            assert!(codes.iter().any(label_of), "{si} is not a code's label");
        }
        // The plain column's texts are in the sheet, the others' are not.
        let sheet = read("xl/worksheets/sheet1.xml");
        assert_eq!(
            sheet.matches("公寓2").count(),
            rows.iter().filter(|r| r.1 == 5).count()
        );
        assert!(!sheet.contains("阳性"));
        assert_eq!(
            sheet.matches("t=\"s\"").count(),
            rows.iter()
                .map(|r| usize::from(r.1 != NONE) + usize::from(r.3 != NONE))
                .sum::<usize>()
        );
    }

    /// Shared strings are numbered column by column, fewest values first, columns of
    /// as many values in their order, each text once: a text that a column numbered
    /// later also holds keeps its number, and every cell reads back as written.
    #[test]
    fn shared_strings_are_numbered_fewest_values_first() {
        /// Three coded texts a row: 10 values, 2 of them again, and 2 others.
        type Three = [String; 3];
        fn coded(c: usize) -> u32 {
            match c {
                0 => 0,
                _ => 1,
            }
        }
        let columns: Vec<Column<Three>> = vec![
            column("many", "多", 8.0, Kind::Text, |r: &Three| {
                Value::Text(Some(&r[0]))
            })
            .coded(|r: &Three| r[0][1..].parse().unwrap()),
            column("again", "再", 8.0, Kind::Text, |r: &Three| {
                Value::Text(Some(&r[1]))
            })
            .coded(|r: &Three| r[1][1..].parse().unwrap()),
            column("other", "他", 8.0, Kind::Text, |r: &Three| {
                Value::Text(Some(&r[2]))
            })
            .coded(|r: &Three| coded(r[2][1..].parse().unwrap())),
        ];
        let rows: Vec<Three> = (0..40)
            .map(|i| {
                [
                    format!("x{}", i % 10),
                    format!("x{}", (i + 1) % 2),
                    format!("y{}", i % 2),
                ]
            })
            .collect();
        let mut bytes = Vec::new();
        write_list(&mut bytes, &columns, &rows, None).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let mut shared = String::new();
        std::io::Read::read_to_string(
            &mut zip.by_name("xl/sharedStrings.xml").unwrap(),
            &mut shared,
        )
        .unwrap();
        let texts: Vec<&str> = shared
            .split("<si><t>")
            .skip(1)
            .map(|si| si.split('<').next().unwrap())
            .collect();
        let mut expected = vec!["x1", "x0", "y0", "y1"];
        let more: Vec<String> = (2..10).map(|k| format!("x{k}")).collect();
        expected.extend(more.iter().map(String::as_str));
        assert_eq!(texts, expected);
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("全部").unwrap();
        for (i, row) in rows.iter().enumerate() {
            for (c, text) in row.iter().enumerate() {
                let cell = range.get_value((i as u32 + 1, c as u32));
                assert_eq!(
                    cell,
                    Some(&Data::String(text.clone())),
                    "row {i}, column {c}"
                );
            }
        }
    }

    #[test]
    fn the_same_list_gives_the_same_bytes_on_any_number_of_threads() {
        // More rows than a block, on several sheets.
        let rows: Vec<Row> = (0..3 * BLOCK_ROWS + 5)
            .map(|i| (format!("公寓{}", i % 4), i))
            .collect();
        let on =
            |threads| crate::testing::pool(threads).install(|| written(&rows, 2 * BLOCK_ROWS + 1));
        let one = on(1);
        assert_eq!(one, on(3));
        let got = read_back(&one);
        let all: Vec<i64> = got
            .iter()
            .filter(|(name, _)| name.starts_with("全部"))
            .flat_map(|(_, n)| n.clone())
            .collect();
        assert_eq!(all, (0..rows.len() as i64).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_sheet_continues_on_the_next() {
        let rows: Vec<Row> = (0..7).map(|i| ("公寓1".to_string(), i)).collect();
        let got = read_back(&written(&rows, 3));
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

    #[test]
    fn rows_without_a_building_are_on_the_whole_sheet_only() {
        // Rows with an empty building have none.
        fn maybe(r: &Row) -> Option<&str> {
            Some(r.0.as_str()).filter(|b| !b.is_empty())
        }
        let write = |rows: &[Row], per_sheet| {
            let mut bytes = Vec::new();
            write_list_paged(&mut bytes, &columns(), rows, Some(maybe), per_sheet).unwrap();
            read_back(&bytes)
        };
        let rows: Vec<Row> = ["", "楼2", "", "楼1", "楼2", ""]
            .iter()
            .enumerate()
            .map(|(i, b)| (b.to_string(), i))
            .collect();
        let got = write(&rows, MAX_SHEET_ROWS);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["全部", "楼1", "楼2"]);
        assert_eq!(got[0].1, (0..6).collect::<Vec<_>>());
        assert_eq!(got[1].1, [3]);
        assert_eq!(got[2].1, [1, 4]);
        // No row has a building, and no row at all: the one sheet, with its header.
        let none: Vec<Row> = (0..3).map(|i| (String::new(), i)).collect();
        assert_eq!(
            write(&none, 2),
            [("全部".into(), vec![0, 1]), ("全部 (2)".into(), vec![2])]
        );
        assert_eq!(write(&[], 2), [("全部".into(), vec![])]);
    }
}
