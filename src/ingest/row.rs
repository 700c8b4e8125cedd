//! One row being parsed: typed access to its cleaned cells, the failures found in it,
//! and the decision to keep it or reject it.

use super::fields::Fields;
use super::header::Layout;
use super::reread::TextSource;
use super::{ChunkOut, RawText, RowParser, Shared};
use crate::normalize::{clean, trim_ascii};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// One row being parsed: typed access to its cleaned cells, and the failures found.
pub struct Row<'a> {
    /// Where each field is in `text`.
    pub(super) ranges: &'a [Range<usize>],
    /// The bytes of [`Fields`] as text: checked for UTF-8 once per row.
    pub(super) text: &'a str,
    /// Whether `text` is known to be [`crate::normalize::all_plain`]: its cells are
    /// then only trimmed.
    pub(super) plain: bool,
    /// Which field holds which column.
    pub(super) layout: &'a Layout,
    /// The failures found so far: the spec column and the reason.
    pub(super) failures: Vec<(usize, String)>,
    /// The line, starting at `1`, where the row starts.
    pub(super) line: u64,
    /// Where the row starts in its source.
    pub(super) offset: u64,
}

impl<'a> Row<'a> {
    /// The line, starting at `1`, where the row starts.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Where the row starts in its [`TextSource`], to read it again later.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The cleaned cell of spec column `col`, or `None` when the file has no such
    /// column.
    #[inline]
    pub fn cell(&self, col: usize) -> Option<Cow<'a, str>> {
        self.layout.has(col).then(|| match self.plain {
            true => Cow::Borrowed(trim_ascii(self.raw(col))),
            false => clean(self.raw(col)),
        })
    }

    /// The cell of spec column `col` as it stands, empty when the file has no such
    /// column.
    #[inline]
    fn raw(&self, col: usize) -> &'a str {
        let Some(Some(index)) = self.layout.fields.get(col) else {
            return "";
        };
        self.ranges
            .get(*index)
            .and_then(|r| self.text.get(r.clone()))
            .unwrap_or("")
    }

    /// The cleaned cell, or the empty string when the column is absent.
    #[inline]
    pub fn text(&self, col: usize) -> Cow<'a, str> {
        self.cell(col).unwrap_or(Cow::Borrowed(""))
    }

    /// The cell as an owned string, `None` when absent or empty.
    pub fn optional(&self, col: usize) -> Option<Box<str>> {
        self.cell(col).filter(|c| !c.is_empty()).map(|c| c.into())
    }

    /// The value `checked` from the cell of `col`; on failure records the reason and
    /// returns `None`.
    pub fn check<T>(&mut self, col: usize, checked: Result<T, String>) -> Option<T> {
        match checked {
            Ok(v) => Some(v),
            Err(reason) => {
                self.fail(col, reason);
                None
            }
        }
    }

    /// Parses the cell with `parse`; on failure records the reason and returns `None`.
    pub fn parse<T>(
        &mut self,
        col: usize,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(col);
        self.check(col, parse(&text))
    }

    /// Records that the cell of `col` breaks a rule.
    pub fn fail(&mut self, col: usize, reason: impl Into<String>) {
        self.failures.push((col, reason.into()));
    }
}

/// The error values of spreadsheet formulas, as Excel and WPS write them (and so as a
/// CSV export holds them); calamine reads a workbook's error cells of the older kinds
/// (#DIV/0! … #VALUE!, #DATA!) as these too.
pub const EXCEL_ERRORS: [&str; 16] = [
    "#NULL!",
    "#DIV/0!",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#N/A",
    "#GETTING_DATA",
    "#DATA!",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
];

/// What one look at a whole chunk of text settles for all its rows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Known {
    /// The text is [`crate::normalize::all_plain`]: cells are only trimmed.
    pub(super) plain: bool,
    /// The text may hold a '#', so a row may hold a formula's error ([`EXCEL_ERRORS`]).
    pub(super) hashes: bool,
}

impl Known {
    /// Nothing known: every cell cleaned, every row looked at for a formula's error.
    pub(super) const NOTHING: Known = Known {
        plain: false,
        hashes: true,
    };
}

/// Checks the shape of a record whose text is known to be valid (and what `known`
/// says), parses it, and keeps the row or its reject.
#[allow(clippy::too_many_arguments)]
pub(super) fn accept<P: RowParser>(
    out: &mut ChunkOut<P::Record, P::Part>,
    line: u64,
    offset: u64,
    raw: Raw,
    fields: Fields,
    (text, known): (&str, Known),
    layout: &Layout,
    parser: &P,
) {
    let width = layout.width();
    let reject = |shared: &mut Shared, column: &str, reason: &str| {
        shared.reject(line, column, reason, raw.kept())
    };
    if fields.len() < width {
        out.rejects.push(reject(
            &mut out.shared,
            "",
            &format!(
                "the row has {} fields but the header has {width}; is the row cut short?",
                fields.len()
            ),
        ));
        return;
    }
    if fields.len() > width
        && fields
            .iter()
            .skip(width)
            .any(|f| !f.iter().all(u8::is_ascii_whitespace))
    {
        out.rejects.push(reject(&mut out.shared, "", &format!("the row has {} fields but the header has {width}: a value beyond the last header column, or a comma without quotes around the value", fields.len())));
        return;
    }
    let mut row = Row {
        ranges: fields.ranges,
        text,
        plain: known.plain,
        layout,
        failures: Vec::new(),
        line,
        offset,
    };
    // A formula that failed (#N/A of a lookup, #REF!) is no value: never a person, a
    // building or a round named "#N/A". Only the columns that name or group people are
    // checked here (the others' own rules reject it, or, like a phone, keep it as the
    // text it is: a bad lookup in a contact column must not take a person off the
    // roster). Only rows with a '#' are looked at closer (in a chunk with one: a search
    // a row cost 3% of the roster's parse).
    let hashes = known.hashes && memchr::memchr(b'#', text.as_bytes()).is_some();
    let naming = |col: &usize| matches!(layout.names[*col], "name" | "building" | "round");
    for col in (0..layout.fields.len()).filter(|_| hashes).filter(naming) {
        let raw = row.raw(col);
        if raw.trim_start().starts_with('#') {
            let cell = clean(raw);
            if EXCEL_ERRORS.contains(&cell.as_ref()) {
                row.fail(
                    col,
                    format!("holds {cell}, a spreadsheet formula's error, not a value; fix the formula (or type the value) and export again"),
                );
            }
        }
    }
    let parsed = row
        .failures
        .is_empty()
        .then(|| parser.parse(&mut row, &mut out.state))
        .flatten();
    match (parsed, row.failures.is_empty()) {
        (Some(value), true) => {
            if P::LINES {
                out.lines.push(out.rows.len() as u64, line);
            }
            out.rows.push(value);
        }
        _ => {
            let (column, reason) = describe_failures(layout, &row.failures);
            out.rejects.push(reject(&mut out.shared, &column, &reason));
        }
    }
}

/// The first failure names the column; the others join the reason.
fn describe_failures(layout: &Layout, failures: &[(usize, String)]) -> (String, String) {
    let Some((first_col, _)) = failures.first() else {
        return (String::new(), "the row could not be read".into());
    };
    let reason = failures
        .iter()
        .map(|(col, reason)| {
            let header = layout.header_of(*col);
            if header.is_empty() {
                reason.clone()
            } else {
                format!("{header} {reason}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    (layout.header_of(*first_col).to_string(), reason)
}

/// A row's raw text, which only a reject shows.
#[derive(Clone, Copy)]
pub(super) enum Raw<'a> {
    /// The bytes read.
    Bytes(&'a [u8]),
    /// A sheet's row: written as a CSV line ([`record_line`]) only for a reject. Made
    /// for every row, it was a new CSV writer a row, 8 KiB of buffer zeroed each time.
    Record(&'a csv::ByteRecord),
    /// A row of a source that can be read again: its bytes are `len` bytes from
    /// `offset` there (before any decoding), so a reject keeps only where they are.
    In {
        source: &'a Arc<TextSource>,
        offset: u64,
        len: u32,
    },
}

impl Raw<'_> {
    /// The raw text a reject keeps: the text as [`escape_raw`] gives it, or where to
    /// read it again.
    #[cold]
    #[inline(never)]
    pub(super) fn kept(self) -> RawText {
        match self {
            Raw::Bytes(bytes) => RawText::Text(escape_raw(bytes).into()),
            Raw::Record(record) => RawText::Text(record_text(record).into()),
            Raw::In {
                source,
                offset,
                len,
            } => RawText::At {
                source: source.clone(),
                offset,
                len,
            },
        }
    }
}

/// A sheet's row as a reject shows it: its CSV line, escaped.
pub(super) fn record_text(record: &csv::ByteRecord) -> String {
    escape_raw(&record_line(record))
}

/// A sheet's row as a line of CSV, without its terminator.
pub(super) fn record_line(record: &csv::ByteRecord) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = writer.write_byte_record(record);
    let mut line = writer.into_inner().unwrap_or_default();
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    line
}

/// The row's bytes as text, with bytes that are not UTF-8 written as `\xNN`.
pub(super) fn escape_raw(raw: &[u8]) -> String {
    let mut text = String::with_capacity(raw.len());
    for piece in raw.utf8_chunks() {
        // A NUL byte is no text either: written as the others, never into a CSV cell.
        let valid = piece.valid();
        if valid.contains('\0') {
            text.push_str(&valid.replace('\0', "\\x00"));
        } else {
            text.push_str(valid);
        }
        for b in piece.invalid() {
            text.push_str(&format!("\\x{b:02X}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_rows_raw_text_is_its_csv_line() {
        let record = csv::ByteRecord::from(vec!["T2", "a, \"b\"", "", "x\ny", "\u{0}"]);
        let line = "T2,\"a, \"\"b\"\"\",,\"x\ny\",\\x00";
        assert_eq!(Raw::Record(&record).kept().held(), Some(line));
        assert_eq!(
            Raw::Bytes(&record_line(&record)).kept(),
            Raw::Record(&record).kept()
        );
    }
}
