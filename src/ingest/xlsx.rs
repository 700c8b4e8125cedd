//! The sheets of a plain `.xlsx` read directly: the common workbook (shared or inline
//! strings, numbers in the General format, dates and times in built-in formats or custom
//! ones calamine surely takes for dates, no formulas) read at the speed of a CSV file,
//! its rows split over the workers. Whatever it does not know for certain (a formula,
//! another formatted number, a comment, a character reference, a part where the
//! standard places none) it leaves to calamine: [`rows`] returns `None` and
//! [`super::excel`] reads the workbook as before. So a sheet read here gives exactly
//! the rows calamine's reading gives (its rules: `super::excel`), which a test checks
//! on every workbook the tests hold.

use super::excel::SheetRows;
use calamine::{Data, ExcelDateTime, ExcelDateTimeType};
use csv::ByteRecord;
use memchr::{memchr, memmem};
use rayon::iter::{IntoParallelRefIterator, ParallelIterator};
use std::io::{Cursor, Read};

/// A sheet's name and its non-empty rows (sheet row number from 1, cells as text), or
/// `None` when this reader leaves the workbook to calamine.
pub(super) fn rows(data: &[u8], wanted: Option<&str>) -> Option<SheetRows> {
    let zip = zip::ZipArchive::new(Cursor::new(data)).ok()?;
    let part = |name: &str| -> Option<Vec<u8>> {
        let mut zip = zip.clone();
        let mut file = zip.by_name(name).ok()?;
        let mut bytes = Vec::with_capacity(usize::try_from(file.size()).ok()?);
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    };
    // The workbook where the standard puts it, and nowhere else.
    let package = part("_rels/.rels")?;
    let documents: Vec<Relationship> = relationships(&package)?
        .into_iter()
        .filter(|r| r.kind.ends_with("/relationships/officeDocument"))
        .collect();
    match documents.as_slice() {
        [document]
            if matches!(
                document.target.as_str(),
                "xl/workbook.xml" | "/xl/workbook.xml"
            ) => {}
        _ => return None,
    }
    let workbook = part("xl/workbook.xml")?;
    let (sheet, path) = choose_sheet(&workbook, &part("xl/_rels/workbook.xml.rels")?, wanted)?;
    // calamine finds a part whatever the case of its name: a styles part this reader
    // cannot find or read is calamine's to read.
    let has_part = |name: &str| {
        zip.file_names().any(|n| match n {
            Ok(n) => n
                .replace('\\', "/")
                .trim_start_matches('/')
                .eq_ignore_ascii_case(name),
            // A name that does not read: calamine's to judge.
            Err(_) => true,
        })
    };
    let styles = Styles {
        shown: match part("xl/styles.xml") {
            Some(xml) => general_styles(&xml)?,
            None if has_part("xl/styles.xml") => return None,
            None => Vec::new(),
        },
        is_1904: is_1904(&workbook)?,
    };
    // The shared strings are read while the sheet is inflated, and the sheet's pieces
    // while the next is.
    let (strings, cells) = rayon::join(
        || match part("xl/sharedStrings.xml") {
            Some(xml) => shared_strings(&xml),
            None => Some(Shared::default()),
        },
        || {
            let mut zip = zip.clone();
            let cells = sheet_cells(zip.by_name(&path).ok()?, &styles)?;
            match cells {
                Some(cells) => Some(cells),
                None => Some(vec![cells_of(sheet_data(&part(&path)?)?, &styles)?]),
            }
        },
    );
    let (strings, cells) = (strings?, cells?);
    Some((sheet, into_rows(cells, &strings)?))
}

/// One relationship of a `.rels` part.
struct Relationship {
    id: String,
    kind: String,
    target: String,
}

/// The relationships of a `.rels` part, in order.
fn relationships(xml: &[u8]) -> Option<Vec<Relationship>> {
    let mut out = Vec::new();
    each_element(xml, b"Relationship", |attrs| {
        let text = |key: &[u8]| -> Option<Option<String>> {
            Some(match attr(attrs, key)? {
                Some(value) => Some(plain(value)?.to_string()),
                None => None,
            })
        };
        out.push(Relationship {
            id: text(b"Id")??,
            kind: text(b"Type")?.unwrap_or_default(),
            target: text(b"Target")?.unwrap_or_default(),
        });
        Some(())
    })?;
    Some(out)
}

/// Calls `f` with the attributes of every element `name` of `xml`, in order; `None`
/// when `f` or the XML gives up.
fn each_element<'a>(
    xml: &'a [u8],
    name: &[u8],
    mut f: impl FnMut(&'a [u8]) -> Option<()>,
) -> Option<()> {
    let mut tags = Tags::new(xml);
    while let Some(tag) = tags.next()? {
        if let Tag::Open { name: n, attrs, .. } = tag {
            if n == name {
                f(attrs)?;
            }
        }
    }
    Some(())
}

/// Whether the workbook counts its dates from 1904, as calamine reads it: from a
/// `workbookPr` element's `date1904` (the last one that has it).
fn is_1904(workbook: &[u8]) -> Option<bool> {
    let mut is_1904 = false;
    each_element(workbook, b"workbookPr", |attrs| {
        if let Some(v) = attr(attrs, b"date1904")? {
            is_1904 = v == b"1" || v == b"true";
        }
        Some(())
    })?;
    Some(is_1904)
}

/// The sheet calamine would read (by name, or the first visible worksheet) and its part.
fn choose_sheet(workbook: &[u8], rels: &[u8], wanted: Option<&str>) -> Option<(String, String)> {
    let rels = relationships(rels)?;
    let mut sheets = Vec::new();
    each_element(workbook, b"sheet", |attrs| {
        let name = plain(attr(attrs, b"name")??)?;
        let visible = match attr(attrs, b"state")? {
            None | Some(b"visible") => true,
            Some(b"hidden" | b"veryHidden") => false,
            Some(_) => return None,
        };
        let id = plain(attr(attrs, b"r:id")??)?;
        let rel = rels.iter().find(|r| r.id == id)?;
        let worksheet = match rel.kind.rsplit('/').next() {
            Some("worksheet") => true,
            Some("chartsheet" | "dialogsheet") => false,
            _ => return None,
        };
        if rel.target.contains("..") {
            return None;
        }
        let path = match rel.target.strip_prefix('/') {
            Some(absolute) => absolute.to_string(),
            None => format!("xl/{}", rel.target),
        };
        sheets.push((name.to_string(), visible && worksheet, worksheet, path));
        Some(())
    })?;
    let (name, _, worksheet, path) = match wanted {
        Some(w) => sheets.into_iter().find(|s| s.0 == w)?,
        None => sheets.into_iter().find(|s| s.1)?,
    };
    worksheet.then_some((name, path))
}

/// A workbook's shared strings, one after another in one text: a sheet of people has
/// a shared string for every ID, name and phone number, each a string of its own before.
#[derive(Default)]
struct Shared {
    text: String,
    /// Where each string ends in `text`.
    ends: Vec<usize>,
}

impl Shared {
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// String `i`, which must be there.
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

/// The shared strings, in order; `None` for anything calamine reads otherwise.
fn shared_strings(xml: &[u8]) -> Option<Shared> {
    let mut tags = Tags::new(xml);
    let mut out = Shared::default();
    while let Some(tag) = tags.next()? {
        if let Tag::Open { name: b"si", .. } = tag {
            rich_text(&mut tags, b"si", &mut out.text)?;
            out.ends.push(out.text.len());
        }
    }
    Some(out)
}

/// Appends to `text` the text of a `<si>` or `<is>` element, after its opening tag: its
/// `<t>` runs, rich text runs joined, phonetic runs left out, each run trimmed of ASCII
/// white space unless it asks to keep it.
fn rich_text(tags: &mut Tags, closing: &[u8], text: &mut String) -> Option<()> {
    let mut phonetic = false;
    loop {
        match tags.next()?? {
            Tag::Close { name } if name == closing => return Some(()),
            Tag::Open { name: b"rPh", .. } => phonetic = true,
            Tag::Close { name: b"rPh" } => phonetic = false,
            Tag::Open {
                name: b"t",
                attrs,
                empty,
            } if !phonetic => {
                let run = if empty { "" } else { tags.text_until(b"t")? };
                let run = decode(run)?;
                if attr(attrs, b"xml:space")? == Some(b"preserve") {
                    text.push_str(&run);
                } else {
                    text.push_str(run.trim_matches([' ', '\t', '\r', '\n']));
                }
            }
            _ => {}
        }
    }
}

/// How each cell style of `cellXfs` shows a number, as calamine reads it ([`Shown`]).
fn general_styles(xml: &[u8]) -> Option<Vec<Shown>> {
    let mut tags = Tags::new(xml);
    let mut custom: Vec<(&[u8], Shown)> = Vec::new();
    let mut out = Vec::new();
    // calamine reads the formats of `<numFmts>` and the styles of `<cellXfs>` only
    // (a `<dxf>`, for one, has formats of its own).
    let (mut in_num_fmts, mut in_cell_xfs) = (false, false);
    while let Some(tag) = tags.next()? {
        match tag {
            Tag::Open {
                name: b"numFmts", ..
            } => in_num_fmts = true,
            Tag::Close { name: b"numFmts" } => in_num_fmts = false,
            Tag::Open {
                name: b"numFmt",
                attrs,
                ..
            } if in_num_fmts => {
                if let Some(id) = attr(attrs, b"numFmtId")? {
                    let code = attr(attrs, b"formatCode")?.unwrap_or_default();
                    custom.push((id, custom_format(code)));
                }
            }
            Tag::Open {
                name: b"cellXfs", ..
            } => in_cell_xfs = true,
            Tag::Close { name: b"cellXfs" } => in_cell_xfs = false,
            Tag::Open {
                name: b"xf", attrs, ..
            } if in_cell_xfs => {
                out.push(match attr(attrs, b"numFmtId")? {
                    None => Shown::Number,
                    // As calamine's map of them, the last format of an ID counts.
                    Some(id) => match custom.iter().rev().find(|c| c.0 == id) {
                        Some(&(_, shown)) => shown,
                        None if id == b"46" => Shown::Duration,
                        None if is_builtin_date(id) => Shown::Date,
                        None => Shown::Number,
                    },
                });
            }
            _ => {}
        }
    }
    Some(out)
}

/// How a cell style shows a number, as calamine reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shown {
    /// A plain number: General, a built-in number format, or a custom one surely no date.
    Number,
    /// A date or time of a built-in format: calamine's `DateTime`.
    Date,
    /// A duration (built-in format 46, `[h]:mm:ss`): calamine's `TimeDelta`.
    Duration,
    /// A custom format this reader does not know: calamine's to read.
    Unknown,
}

/// What a number cell's text depends on: each cell style's way of showing a number,
/// and the workbook's date system.
struct Styles {
    shown: Vec<Shown>,
    is_1904: bool,
}

/// How calamine shows a number in a custom format, where this reader knows for sure:
/// a plain number ([`is_plain_number_format`]), or a date or time when the code starts
/// with a letter of one (`yyyy-mm-dd hh:mm:ss`, `yyyy/m/d\ h:mm;@`), which calamine
/// decides at that letter, whatever follows. Anything else is calamine's to read.
fn custom_format(code: &[u8]) -> Shown {
    if is_plain_number_format(code) {
        Shown::Number
    } else if code.first().is_some_and(|b| b"dmhysDMHYS".contains(b)) && plain(code).is_some() {
        // Text that calamine decodes as it stands (an entity it may refuse: its call).
        Shown::Date
    } else {
        Shown::Unknown
    }
}

/// Whether a custom number format is surely no date or time to calamine: `General`, or
/// only digit placeholders, separators, signs, percent and exponent (no letter of a
/// date, no quoted or escaped text, no section or colour).
fn is_plain_number_format(code: &[u8]) -> bool {
    code == b"General" || (!code.is_empty() && code.iter().all(|b| b"0#?.,%Ee+- ".contains(b)))
}

/// The built-in number formats calamine reads as dates, times or durations.
fn is_builtin_date(id: &[u8]) -> bool {
    matches!(
        id,
        b"14"
            | b"15"
            | b"16"
            | b"17"
            | b"18"
            | b"19"
            | b"20"
            | b"21"
            | b"22"
            | b"27"
            | b"28"
            | b"29"
            | b"30"
            | b"31"
            | b"32"
            | b"33"
            | b"34"
            | b"35"
            | b"36"
            | b"45"
            | b"46"
            | b"47"
            | b"50"
            | b"51"
            | b"52"
            | b"53"
            | b"54"
            | b"55"
            | b"56"
            | b"57"
            | b"58"
    )
}

/// The cells with a value of a piece of a sheet, each with its row and column from 0,
/// in the order of the sheet's XML.
#[derive(Default)]
struct Cells {
    at: Vec<(u32, u32)>,
    values: Vec<Value>,
    /// The texts of the cells that are not shared strings, one after another.
    texts: String,
    /// The largest shared-string index of any `<v>` read, kept or replaced by a later
    /// child of its cell: calamine refuses a sheet with one that is not there, and the
    /// shared strings are read beside the sheet, so it is checked once both are.
    max_shared: Option<u32>,
}

/// A cell's text: a shared string, or a range of [`Cells::texts`].
#[derive(Clone, Copy)]
enum Value {
    Shared(u32),
    Own(u32, u32),
}

impl Cells {
    /// Shared string `index`, read from a `<v>`.
    fn shared(&mut self, index: u32) -> Value {
        self.max_shared = self.max_shared.max(Some(index));
        Value::Shared(index)
    }

    fn push(&mut self, at: (u32, u32), value: Value) {
        self.at.push(at);
        self.values.push(value);
    }

    /// A text of the cells' own, written by `write` after the texts before it.
    fn own(&mut self, write: impl FnOnce(&mut String) -> Option<()>) -> Option<Value> {
        let start = u32::try_from(self.texts.len()).ok()?;
        write(&mut self.texts)?;
        let end = u32::try_from(self.texts.len()).ok()?;
        Some(Value::Own(start, end))
    }

    /// Each cell's place and text, in the order of the XML.
    fn cells<'a>(&'a self, strings: &'a Shared) -> impl Iterator<Item = ((u32, u32), &'a str)> {
        let texts = self.values.iter().map(|&value| self.text(value, strings));
        self.at.iter().copied().zip(texts)
    }

    fn text<'a>(&'a self, value: Value, strings: &'a Shared) -> &'a str {
        match value {
            Value::Shared(i) => strings.get(i),
            Value::Own(start, end) => &self.texts[start as usize..end as usize],
        }
    }
}

/// Inflated bytes of a sheet read at a time, and about the size of a piece of its rows.
const PIECE: usize = 1 << 19;

/// The cells of a sheet, its XML read from `sheet` (inflated as it is read): the rows
/// of `<sheetData>` cut into pieces of about [`PIECE`] bytes, each starting at a
/// `<row`, each read on the workers while the next is inflated. `Some(None)` when a
/// piece after the first has a row without its number: such a row follows the rows
/// before it, which only a reading in one piece knows.
fn sheet_cells(mut sheet: impl Read, styles: &Styles) -> Option<Option<Vec<Cells>>> {
    let (sender, receiver) = crossbeam_channel::unbounded();
    let read = rayon::in_place_scope(|scope| {
        let mut pieces = 0;
        let mut send = |piece: Vec<u8>| {
            let (index, sender) = (pieces, sender.clone());
            pieces += 1;
            scope.spawn(move |_| {
                let numbered = index == 0 || every_row_numbered(&piece);
                let cells = numbered.then(|| cells_of(&piece, styles)).flatten();
                let _ = sender.send((index, numbered, cells));
            });
        };
        let (mut buf, mut body, mut ended) = (Vec::new(), false, false);
        // Where the searches of the buffer go on from, so that a long head or a long
        // row is not searched again at every block: past what was searched, less a
        // tag's length (a tag cut by a block's end is found whole with the next).
        const OVERLAP: usize = b"</sheetData>".len();
        let (mut searched, mut cut_from) = (0, PIECE);
        loop {
            let read = (&mut sheet).take(PIECE as u64).read_to_end(&mut buf).ok()?;
            let eof = read < PIECE;
            if !body {
                match memmem::find(&buf[searched..], b"<sheetData") {
                    Some(at) => {
                        buf.drain(..searched + at);
                        (body, searched) = (true, 0);
                    }
                    None if eof => return None,
                    None => {
                        searched = buf.len().saturating_sub(OVERLAP);
                        continue;
                    }
                }
            }
            // What follows `</sheetData>` is no row (a `<rowBreaks>`, say).
            if let Some(end) = memmem::find(&buf[searched..], b"</sheetData>") {
                buf.truncate(searched + end);
                ended = true;
            }
            searched = buf.len().saturating_sub(OVERLAP);
            while let Some(at) = cut_at(&buf, cut_from) {
                let rest = buf.split_off(at);
                send(std::mem::replace(&mut buf, rest));
                (searched, cut_from) = (0, PIECE);
            }
            // No `<row` from `cut_from` on: the first one past PIECE is further.
            cut_from = cut_from.max(buf.len().saturating_sub(OVERLAP));
            if eof || ended {
                break;
            }
        }
        // Read to the end, where the part's checksum is checked.
        if ended {
            std::io::copy(&mut sheet, &mut std::io::sink()).ok()?;
        }
        send(buf);
        Some(())
    });
    drop(sender);
    let mut pieces: Vec<(usize, bool, Option<Cells>)> = receiver.iter().collect();
    read?;
    if pieces.iter().any(|&(_, numbered, _)| !numbered) {
        return Some(None);
    }
    pieces.sort_unstable_by_key(|&(index, _, _)| index);
    pieces
        .into_iter()
        .map(|(_, _, cells)| cells)
        .collect::<Option<Vec<Cells>>>()
        .map(Some)
}

/// The `<sheetData>` of a sheet's XML, from its tag to its closing tag (or the end),
/// as [`sheet_cells`] reads it.
fn sheet_data(xml: &[u8]) -> Option<&[u8]> {
    let start = memmem::find(xml, b"<sheetData")?;
    let end = memmem::find(&xml[start..], b"</sheetData>").map_or(xml.len(), |e| start + e);
    Some(&xml[start..end])
}

/// Where a piece of rows that starts `bytes` ends: at the first `<row` from `size` on.
fn cut_at(bytes: &[u8], size: usize) -> Option<usize> {
    let after = bytes.get(size..)?;
    memmem::find(after, b"<row").map(|i| size + i)
}

/// `body` cut into pieces of about `size` bytes, each starting at a `<row`, as
/// [`sheet_cells`] cuts a sheet.
#[cfg(test)]
fn row_pieces(body: &[u8], size: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut from = 0;
    while let Some(at) = cut_at(&body[from..], size) {
        pieces.push(&body[from..from + at]);
        from += at;
    }
    pieces.push(&body[from..]);
    pieces
}

/// Whether every `<row` tag of `body` carries its number (`r=`), so a piece can be
/// read without the rows before it.
fn every_row_numbered(body: &[u8]) -> bool {
    memmem::find_iter(body, b"<row").all(|at| {
        let tag = &body[at..];
        let end = memchr(b'>', tag).unwrap_or(tag.len());
        matches!(tag.get(4), Some(b' ' | b'\t' | b'\r' | b'\n'))
            && attr(&tag[5..end], b"r").is_some_and(|r| r.is_some())
    })
}

/// The cells with a value in a piece of `<sheetData>` that starts at a row (or at the
/// `<sheetData` tag), by calamine's rules: a cell without a position follows the one
/// before it in its row; a row without a number follows the one before it.
fn cells_of(piece: &[u8], styles: &Styles) -> Option<Cells> {
    let mut tags = Tags::new(piece);
    let mut cells = Cells::default();
    let guess = piece.len() / 40;
    cells.at.reserve(guess);
    cells.values.reserve(guess);
    let (mut row, mut col) = (0u32, 0u32);
    while let Some(tag) = tags.next()? {
        match tag {
            Tag::Open {
                name: b"row",
                attrs,
                ..
            } => {
                if let Some(r) = attr(attrs, b"r")? {
                    row = position(r)?.0;
                }
            }
            Tag::Close { name: b"row" } => {
                row = row.checked_add(1)?;
                col = 0;
            }
            Tag::Open {
                name: b"c",
                attrs,
                empty,
            } => {
                let attrs = CellAttrs::of(attrs)?;
                let at = match attrs.r {
                    Some(at) => {
                        let (r, c) = position(at)?;
                        (r, c?)
                    }
                    None => (row, col),
                };
                col = at.1;
                if !empty {
                    match usual_cell(&mut tags, &attrs, &mut cells, styles) {
                        Some(value) => cells.push(at, value),
                        None => cell_value(&mut tags, &attrs, at, &mut cells, styles)?,
                    }
                }
                col = col.checked_add(1)?;
            }
            Tag::Open { .. } | Tag::Close { .. } => {}
        }
    }
    Some(cells)
}

/// The text of a number cell's `<v>`: as `super::excel` writes a number, when its
/// style shows it as a plain number. `None` for a format this reader does not know or a
/// date (calamine's), or a number written otherwise.
fn number_value(
    attrs: &CellAttrs,
    text: &str,
    cells: &mut Cells,
    styles: &Styles,
) -> Option<Value> {
    // A style past the list shows a plain number, as calamine has it.
    let shown = match attrs.s {
        Some(s) => styles.shown.get(digits::<usize>(plain(s)?)?).copied(),
        None => None,
    };
    let kind = match shown.unwrap_or(Shown::Number) {
        Shown::Number => None,
        Shown::Date => Some(ExcelDateTimeType::DateTime),
        Shown::Duration => Some(ExcelDateTimeType::TimeDelta),
        Shown::Unknown => return None,
    };
    let number = parse_number(text)?;
    let shown = match kind {
        None => super::excel::number_text(number),
        // As calamine gives a date or time cell, and as `super::excel` writes it.
        Some(kind) => super::excel::cell_text(&Data::DateTime(ExcelDateTime::new(
            number,
            kind,
            styles.is_1904,
        ))),
    };
    cells.own(|text| {
        text.push_str(&shown);
        Some(())
    })
}

/// The value of a cell written as applications write one, read straight from the
/// bytes after its opening tag: an inline string `<is><t>text</t></is></c>`, or
/// `<v>value</v></c>` for a shared string or a number, exactly. The reader moves past
/// the cell's closing tag. `None`, the reader not moved, for any other shape, which
/// [`cell_value`] reads (it gives the same value for these: a sheet of a million
/// people is ten million such cells, each five tags to it).
fn usual_cell(
    tags: &mut Tags,
    attrs: &CellAttrs,
    cells: &mut Cells,
    styles: &Styles,
) -> Option<Value> {
    let rest = &tags.xml[tags.at..];
    let (value, len) = match attrs.t {
        Some(b"inlineStr") => {
            let body = rest.strip_prefix(b"<is><t>")?;
            let lt = memchr(b'<', body)?;
            let tail = b"</t></is></c>";
            if !body[lt..].starts_with(tail) {
                return None;
            }
            let run = decode(std::str::from_utf8(&body[..lt]).ok()?)?;
            let value = cells.own(|text| {
                text.push_str(run.trim_matches([' ', '\t', '\r', '\n']));
                Some(())
            })?;
            (value, b"<is><t>".len() + lt + tail.len())
        }
        Some(b"s") => {
            let (text, len) = lone_value(rest)?;
            (cells.shared(decimal(text)?), len)
        }
        Some(b"n") | None => {
            let (text, len) = lone_value(rest)?;
            let text = std::str::from_utf8(text).ok()?;
            (number_value(attrs, text, cells, styles)?, len)
        }
        _ => return None,
    };
    tags.at += len;
    Some(value)
}

/// The text of `<v>text</v></c>` at the start of `rest`, not empty, and the length of
/// all that.
fn lone_value(rest: &[u8]) -> Option<(&[u8], usize)> {
    let body = rest.strip_prefix(b"<v>")?;
    let lt = body.iter().position(|&b| b == b'<')?;
    let tail = b"</v></c>";
    if lt == 0 || !body[lt..].starts_with(tail) {
        return None;
    }
    Some((&body[..lt], b"<v>".len() + lt + tail.len()))
}

/// The attributes of a `<c>` tag this reader looks at.
struct CellAttrs<'a> {
    r: Option<&'a [u8]>,
    s: Option<&'a [u8]>,
    t: Option<&'a [u8]>,
}

impl<'a> CellAttrs<'a> {
    fn of(mut attrs: &'a [u8]) -> Option<Self> {
        let mut out = CellAttrs {
            r: None,
            s: None,
            t: None,
        };
        while let Some((name, value, rest)) = next_attr(attrs)? {
            let slot = match name {
                b"r" => &mut out.r,
                b"s" => &mut out.s,
                b"t" => &mut out.t,
                _ => {
                    attrs = rest;
                    continue;
                }
            };
            // An attribute given twice is no XML; calamine would take the first.
            if slot.replace(value).is_some() {
                return None;
            }
            attrs = rest;
        }
        Some(out)
    }
}

/// A cell's value, after its opening tag and up to its closing one, added to `cells`
/// when it has one; `None` for what calamine reads otherwise.
fn cell_value(
    tags: &mut Tags,
    attrs: &CellAttrs,
    at: (u32, u32),
    cells: &mut Cells,
    styles: &Styles,
) -> Option<()> {
    // As calamine, the last child with a value gives the cell's (an earlier child's own
    // text is then left unused in the cells' texts).
    let mut value = None;
    loop {
        match tags.next()?? {
            Tag::Close { name: b"c" } => break,
            Tag::Open {
                name: b"is", empty, ..
            } => {
                value = Some(cells.own(|text| {
                    if empty {
                        tags.close_empty();
                        Some(())
                    } else {
                        rich_text(tags, b"is", text)
                    }
                })?);
            }
            Tag::Open {
                name: b"v", empty, ..
            } => {
                let text = if empty {
                    tags.close_empty();
                    ""
                } else {
                    tags.text_until(b"v")?
                };
                value = match attrs.t {
                    Some(b"inlineStr" | b"is") => None,
                    Some(b"s") if text.is_empty() => None,
                    Some(b"s") => {
                        // Checked against the shared strings in `into_rows`.
                        Some(cells.shared(digits(text)?))
                    }
                    Some(b"n") | None if text.is_empty() => None,
                    Some(b"n") | None => Some(number_value(attrs, text, cells, styles)?),
                    _ => return None,
                };
            }
            // Formulas, and anything calamine would refuse.
            Tag::Open { .. } | Tag::Close { .. } => return None,
        }
    }
    if let Some(value) = value {
        cells.push(at, value);
    }
    Some(())
}

/// A number written in plain decimal or scientific notation, as calamine's parser takes
/// it (whatever else, such as `inf`, is left to calamine).
fn parse_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits_from = |i: &mut usize| {
        let from = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    let whole = digits_from(&mut i);
    let fraction = if bytes.get(i) == Some(&b'.') {
        i += 1;
        digits_from(&mut i)
    } else {
        0
    };
    if whole + fraction == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits_from(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse().ok()
}

/// Unsigned decimal digits, nothing else.
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A cell reference (`B12`) or row number (`12`) as its row and column from 0 (no
/// column in a row number), by calamine's rules.
fn position(text: &[u8]) -> Option<(u32, Option<u32>)> {
    let letters = text.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let mut col: u32 = 0;
    for b in &text[..letters] {
        col = col
            .checked_mul(26)?
            .checked_add(u32::from(b.to_ascii_uppercase() - b'A') + 1)?;
    }
    let row = decimal(&text[letters..])?;
    Some((row.checked_sub(1)?, col.checked_sub(1)))
}

/// Unsigned decimal digits as a number, read from the bytes: [`digits`] of a `u32`.
fn decimal(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u32::from(b - b'0')))
            .flatten()
    })
}

/// The cells as rows: calamine's range (from the first row and column holding a value
/// to the last), its rows with no text left out, each row as wide as the range.
fn into_rows(pieces: Vec<Cells>, strings: &Shared) -> Option<Vec<(u64, ByteRecord)>> {
    // A shared string that is not there: calamine's error.
    if pieces
        .iter()
        .any(|p| p.max_shared.is_some_and(|i| i as usize >= strings.len()))
    {
        return None;
    }
    let all = || pieces.iter().flat_map(|p| p.at.iter());
    let (Some(first_col), Some(last_col)) = (all().map(|a| a.1).min(), all().map(|a| a.1).max())
    else {
        return Some(Vec::new());
    };
    let width = (last_col - first_col) as usize + 1;
    // A sheet as applications write it: each piece's cells in order, and each piece's
    // rows before the next piece's. Each piece's rows are then made on the workers.
    let bounds: Vec<(u32, u32)> = pieces
        .iter()
        .filter_map(|p| Some((p.at.first()?.0, p.at.last()?.0)))
        .collect();
    if pieces.iter().all(|p| p.at.is_sorted()) && bounds.windows(2).all(|w| w[0].1 < w[1].0) {
        let rows: Vec<Vec<(u64, ByteRecord)>> = pieces
            .par_iter()
            .map(|p| rows_of(p.cells(strings), first_col, width))
            .collect();
        return Some(rows.into_iter().flatten().collect());
    }
    // Every cell by its place; a later cell at the same place replaces an earlier one,
    // as in calamine's range (the sort is stable).
    let mut order: Vec<(u32, u32, u32, u32)> = pieces
        .iter()
        .enumerate()
        .flat_map(|(p, piece)| {
            piece
                .at
                .iter()
                .enumerate()
                .map(move |(i, &(r, c))| (r, c, p as u32, i as u32))
        })
        .collect();
    order.sort_by_key(|o| (o.0, o.1));
    let cells = order.iter().map(|&(r, c, p, i)| {
        let piece = &pieces[p as usize];
        ((r, c), piece.text(piece.values[i as usize], strings))
    });
    Some(rows_of(cells, first_col, width))
}

/// The rows of `cells` (in order of row and column; at the same place, the last one
/// counts), `width` columns from `first_col`, each with its number from 1; rows of
/// blank cells only are left out.
fn rows_of<'a>(
    cells: impl Iterator<Item = ((u32, u32), &'a str)>,
    first_col: u32,
    width: usize,
) -> Vec<(u64, ByteRecord)> {
    let mut rows = Vec::new();
    let mut texts: Vec<&str> = vec![""; width];
    let mut cells = cells.peekable();
    while let Some(&((row, _), _)) = cells.peek() {
        texts.iter_mut().for_each(|t| *t = "");
        while let Some(((_, c), text)) = cells.next_if(|((r, _), _)| *r == row) {
            texts[(c - first_col) as usize] = text;
        }
        if texts.iter().any(|t| !t.trim().is_empty()) {
            let mut record = ByteRecord::with_capacity(texts.iter().map(|t| t.len()).sum(), width);
            for text in &texts {
                record.push_field(text.as_bytes());
            }
            rows.push((u64::from(row) + 1, record));
        }
    }
    rows
}

/// The XML text `raw` with its entities replaced; `None` for what calamine reads
/// otherwise (character references, line ends to normalise, `_xHHHH_` escapes).
fn decode(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    // Nearly every text holds none of the three: one scan settles it.
    if memchr::memchr3(b'\r', b'_', b'&', raw.as_bytes()).is_none() {
        return Some(raw.into());
    }
    if raw.contains('\r') || raw.contains("_x") || raw.contains("&#") {
        return None;
    }
    if !raw.contains('&') {
        return Some(raw.into());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';')? + at;
        out.push(match &rest[at + 1..end] {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => return None,
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out.into())
}

/// An attribute's value as text, when it needs no decoding.
fn plain(value: &[u8]) -> Option<&str> {
    if value.contains(&b'&') {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// The raw value of attribute `key` among a tag's attributes, if it has one; `None`
/// when they are not `name="value"` pairs.
fn attr<'a>(mut attrs: &'a [u8], key: &[u8]) -> Option<Option<&'a [u8]>> {
    while let Some((name, value, rest)) = next_attr(attrs)? {
        if name == key {
            return Some(Some(value));
        }
        attrs = rest;
    }
    Some(None)
}

/// The first attribute of `attrs` (name, raw value) and the rest: `Some(None)` when
/// there is none, `None` when they are not `name="value"` pairs.
#[allow(clippy::type_complexity)]
fn next_attr(attrs: &[u8]) -> Option<Option<(&[u8], &[u8], &[u8])>> {
    let Some(start) = attrs.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Some(None);
    };
    let attrs = &attrs[start..];
    // Attributes are a few bytes: loops, not memchr's setup.
    let eq = attrs.iter().position(|&b| b == b'=')?;
    let name = attrs[..eq].trim_ascii_end();
    let rest = attrs[eq + 1..].trim_ascii_start();
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let len = rest[1..].iter().position(|&b| b == quote)?;
    Some(Some((name, &rest[1..1 + len], &rest[len + 2..])))
}

/// A tag, by its local name (without a namespace prefix).
#[derive(Debug, Clone, Copy)]
enum Tag<'a> {
    Open {
        name: &'a [u8],
        attrs: &'a [u8],
        empty: bool,
    },
    Close {
        name: &'a [u8],
    },
}

/// The tags of a piece of XML, an empty element's as an opening and a closing tag.
/// `None` from [`Tags::next`] for what this reader leaves to calamine (a comment,
/// CDATA, text that is not UTF-8, a tag not closed); `Some(None)` at the end.
struct Tags<'a> {
    xml: &'a [u8],
    at: usize,
    pending_close: Option<&'a [u8]>,
}

impl<'a> Tags<'a> {
    fn new(xml: &'a [u8]) -> Self {
        Tags {
            xml,
            at: 0,
            pending_close: None,
        }
    }

    #[allow(clippy::should_implement_trait)]
    fn next(&mut self) -> Option<Option<Tag<'a>>> {
        if let Some(name) = self.pending_close.take() {
            return Some(Some(Tag::Close { name }));
        }
        loop {
            // Tags mostly follow one another: the next is where the last one ended.
            let next = match self.xml.get(self.at) {
                Some(b'<') => Some(self.at),
                _ => memchr(b'<', &self.xml[self.at..]).map(|i| self.at + i),
            };
            let Some(lt) = next else {
                self.at = self.xml.len();
                return Some(None);
            };
            let gt = tag_end(&self.xml[lt..])? + lt;
            self.at = gt + 1;
            let inner = &self.xml[lt + 1..gt];
            match inner.first() {
                Some(b'?') => continue,
                Some(b'!') => return None,
                Some(b'/') => {
                    return Some(Some(Tag::Close {
                        name: local(inner[1..].trim_ascii()),
                    }))
                }
                _ => {
                    let (inner, empty) = match inner.strip_suffix(b"/") {
                        Some(inner) => (inner, true),
                        None => (inner, false),
                    };
                    let split = inner
                        .iter()
                        .position(u8::is_ascii_whitespace)
                        .unwrap_or(inner.len());
                    let name = local(&inner[..split]);
                    if empty {
                        self.pending_close = Some(name);
                    }
                    return Some(Some(Tag::Open {
                        name,
                        attrs: &inner[split..],
                        empty,
                    }));
                }
            }
        }
    }

    /// Passes over the closing tag of the empty element just read.
    fn close_empty(&mut self) {
        self.pending_close = None;
    }

    /// The raw text up to the closing tag `name`, past which the reader moves; `None`
    /// when another tag comes first.
    fn text_until(&mut self, name: &[u8]) -> Option<&'a str> {
        let from = self.at;
        let lt = memchr(b'<', &self.xml[from..]).map(|i| from + i)?;
        self.at = lt;
        match self.next()?? {
            Tag::Close { name: closing } if closing == name => {
                std::str::from_utf8(&self.xml[from..lt]).ok()
            }
            _ => None,
        }
    }
}

/// The offset of the `>` that ends the tag at the start of `xml`, past quoted values
/// (where a `>` may stand).
fn tag_end(xml: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in xml.iter().enumerate() {
        match (quote, b) {
            (None, b'>') => return Some(i),
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            _ => {}
        }
    }
    None
}

/// A tag name without its namespace prefix.
fn local(name: &[u8]) -> &[u8] {
    // A name is a few bytes: a loop, not memchr's setup.
    match name.iter().position(|&b| b == b':') {
        Some(at) => &name[at + 1..],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;

    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="4"><numFmt numFmtId="164" formatCode="0.0"/><numFmt numFmtId="165" formatCode="yyyy\-mm\-dd"/><numFmt numFmtId="166" formatCode="General"/><numFmt numFmtId="167" formatCode="[h]:mm"/></numFmts><cellXfs count="11"><xf numFmtId="0" fontId="0"/><xf numFmtId="49"/><xf numFmtId="22"/><xf numFmtId="165"/><xf numFmtId="2"/><xf numFmtId="164"/><xf numFmtId="166"/><xf numFmtId="46"/><xf numFmtId="14"/><xf numFmtId="21"/><xf numFmtId="167"/></cellXfs></styleSheet>"#;

    /// A workbook of sheets (name, state, XML), the given shared strings and styles.
    fn workbook(
        sheets: &[(&str, &str, &str)],
        strings: Option<&str>,
        styles: Option<&str>,
    ) -> Vec<u8> {
        workbook_with(sheets, strings, styles, "")
    }

    /// [`workbook`], with `properties` (a `<workbookPr>`) in its workbook part.
    fn workbook_with(
        sheets: &[(&str, &str, &str)],
        strings: Option<&str>,
        styles: Option<&str>,
        properties: &str,
    ) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let mut put = |name: &str, text: &str| {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        };
        let ns = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
        let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        put(
            "[Content_Types].xml",
            r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#,
        );
        put(
            "_rels/.rels",
            &format!(
                r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        );
        let mut book = format!(r#"<?xml version="1.0"?><workbook {ns}>{properties}<sheets>"#);
        let mut rels = r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#.to_string();
        for (i, (name, state, xml)) in sheets.iter().enumerate() {
            let state = if state.is_empty() {
                String::new()
            } else {
                format!(r#" state="{state}""#)
            };
            book += &format!(
                r#"<sheet name="{name}" sheetId="{}"{state} r:id="rId{}"/>"#,
                i + 1,
                i + 1
            );
            rels += &format!(
                r#"<Relationship Id="rId{}" Type="{rel}/worksheet" Target="worksheets/sheet{}.xml"/>"#,
                i + 1,
                i + 1
            );
            put(
                &format!("xl/worksheets/sheet{}.xml", i + 1),
                &format!(
                    r#"<?xml version="1.0"?><worksheet {ns}><dimension ref="A1"/><sheetData>{xml}</sheetData></worksheet>"#
                ),
            );
        }
        put("xl/workbook.xml", &(book + "</sheets></workbook>"));
        put("xl/_rels/workbook.xml.rels", &(rels + "</Relationships>"));
        if let Some(strings) = strings {
            put(
                "xl/sharedStrings.xml",
                &format!(
                    r#"<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>"#
                ),
            );
        }
        if let Some(styles) = styles {
            put("xl/styles.xml", styles);
        }
        zip.finish().unwrap().into_inner()
    }

    const STRINGS: &str = r#"<si><t>学号</t></si><si><t xml:space="preserve"> 张 三 </t></si><si><t>  trimmed
 </t></si><si><r><rPr><b/></rPr><t>rich</t></r><r><t xml:space="preserve"> text</t></r></si><si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si><si/><si><t>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</t></si><si><t/></si>"#;

    /// Reads `xml` as the only sheet both ways: the fast reader's rows, which must be
    /// there exactly when `fast` says, must be calamine's.
    fn same_as_calamine(xml: &str, strings: Option<&str>, fast: bool) {
        let data = workbook(&[("名单", "", xml)], strings, Some(STYLES));
        check(&data, None, fast, xml);
    }

    fn check(data: &[u8], wanted: Option<&str>, fast: bool, what: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.xlsx");
        std::fs::write(&path, data).unwrap();
        let read = rows(data, wanted);
        assert_eq!(read.is_some(), fast, "read here or by calamine: {what}");
        if let Some(read) = read {
            let calamine = super::super::excel::calamine_sheet(&path, "roster", wanted)
                .unwrap_or_else(|e| {
                    panic!("calamine fails where this reader does not ({e}): {what}")
                });
            assert_eq!(read, calamine, "{what}");
        }
    }

    #[test]
    fn sheets_read_here_give_calamines_rows() {
        let cases = [
            // Shared strings, numbers in General and Text, blank and white-space rows.
            r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2" spans="1:3"><c r="A2"><v>2021000123</v></c><c r="B2" s="1"><v>38.5</v></c><c r="C2" s="0" t="n"><v>1.5E+3</v></c></row><row r="4"><c r="A4" t="s"><v>5</v></c><c r="B4" t="s"><v>7</v></c></row><row r="5"><c r="B5" t="s"><v>2</v></c><c r="C5" t="s"><v>3</v></c><c r="D5" t="s"><v>4</v></c><c r="E5" t="s"><v>6</v></c></row>"#,
            // Inline strings, a range starting at column C, cells and rows without
            // positions, empty cells, a cell given twice, a number past 15 digits.
            r#"<row r="3"><c r="C3" t="inlineStr"><is><t>甲</t></is></c><c t="inlineStr"><is><r><t>乙</t></r><r><t xml:space="preserve"> 丙</t></r></is></c><c r="F3" s="0"/></row><row><c r="C4"><v>-0.25</v></c><c><v>110105194912310021</v></c><c r="C4" t="inlineStr"><is><t>again</t></is></c></row><row r="9"/><row r="10"><c r="E10" t="inlineStr"><is/></c><c r="G10"><v></v></c></row>"#,
            // Rows and cells out of order.
            r#"<row r="5"><c r="B5"><v>5</v></c><c r="A5"><v>4</v></c></row><row r="2"><c r="A2"><v>2</v></c></row>"#,
            // Namespace prefixes, a `>` inside a quoted value, single quotes.
            r#"<x:row r="1" x:note="a>b"><x:c r='A1' t='inlineStr'><x:is><x:t>h</x:t></x:is></x:c><x:c r="B1"><x:v>7</x:v></x:c></x:row>"#,
            // Cells read straight from their bytes (`usual_cell`) beside ones that
            // only look like them: a text to trim, an escape, an empty text, a run that
            // keeps its spaces, two runs, white space between the tags, an empty
            // shared-string value, a leading zero.
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t> 甲 乙 </t></is></c><c r="B1" t="inlineStr"><is><t>a &amp; b</t></is></c><c r="C1" t="inlineStr"><is><t></t></is></c><c r="D1" t="inlineStr"><is><t xml:space="preserve"> kept </t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>one</t><t>two</t></is></c><c r="B2" t="inlineStr"> <is><t>spaced</t></is> </c><c r="C2" t="s"><v>1</v> </c><c r="D2" t="s"><v></v></c><c r="E2" t="s"><v>03</v></c></row>"#,
        ];
        for xml in cases {
            same_as_calamine(xml, Some(STRINGS), true);
        }
        // Shared strings without a part for them, and a workbook without styles.
        let data = workbook(
            &[("s", "", r#"<row r="1"><c r="A1"><v>1</v></c></row>"#)],
            None,
            None,
        );
        check(&data, None, true, "no shared strings, no styles");
    }

    #[test]
    fn what_calamine_reads_otherwise_is_left_to_it() {
        let cases = [
            // A formula, and a custom format that does not start with a date's letter.
            r#"<row r="1"><c r="A1"><f>1+1</f><v>2</v></c></row>"#,
            r#"<row r="1"><c r="A1" s="10"><v>31.5</v></c></row>"#,
            // Strings of a formula, booleans, errors, ISO dates.
            r#"<row r="1"><c r="A1" t="str"><v>x</v></c></row>"#,
            r#"<row r="1"><c r="A1" t="b"><v>1</v></c></row>"#,
            r#"<row r="1"><c r="A1" t="e"><v>#N/A</v></c></row>"#,
            r#"<row r="1"><c r="A1" t="d"><v>2022-04-10T08:00:00</v></c></row>"#,
            // A comment, a character reference, an escaped character, a carriage
            // return, a number calamine parses its own way, a missing shared string.
            r#"<row r="1"><!-- note --><c r="A1"><v>1</v></c></row>"#,
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>a&#10;b</t></is></c></row>"#,
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>a_x000D_b</t></is></c></row>"#,
            "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>a\r\nb</t></is></c></row>",
            r#"<row r="1"><c r="A1"><v>inf</v></c></row>"#,
            r#"<row r="1"><c r="A1" t="s"><v>99</v></c></row>"#,
            // An attribute given twice.
            r#"<row r="1"><c r="A1" s="0" s="2"><v>44661</v></c></row>"#,
            // A missing shared string that a later child of the cell replaces.
            r#"<row r="1"><c r="A1" t="s"><v>99</v><v>0</v></c></row>"#,
        ];
        for xml in cases {
            same_as_calamine(xml, Some(STRINGS), false);
        }
        // Styles 4 (`0.00`), 5 (custom `0.0`) and 6 (custom `General`, as LibreOffice
        // writes) are plain numbers to calamine: read here.
        for style in [4, 5, 6] {
            let xml = format!(r#"<row r="1"><c r="A1" s="{style}"><v>31.25</v></c></row>"#);
            same_as_calamine(&xml, None, true);
        }
    }

    #[test]
    fn dates_and_times_read_as_calamine_reads_them() {
        // Built-in formats of a date and time (style 2), a date (8), a time (9) and a
        // duration (7), and a custom date format (3, `yyyy\-mm\-dd`), as sampling
        // platforms' exports become once saved from Excel:
        // a time with the float's error, a date alone, a time alone, a duration, a
        // negative serial, the days before 1900-03-01 (Excel's leap day that was not),
        // scientific notation, a text cell beside them; each read as calamine gives
        // it, in both date systems.
        let xml = r#"<row r="1"><c r="A1" s="2"><v>44661.5</v></c><c r="B1" s="2"><v>44661.336805555555</v></c><c r="C1" s="8"><v>44661</v></c><c r="D1" s="9"><v>0.3368055555555556</v></c><c r="E1" s="7"><v>1.5</v></c><c r="F1" s="2"><v>-1</v></c></row><row r="2"><c r="A2" s="2"><v>59.5</v></c><c r="B2" s="2"><v>60.25</v></c><c r="C2" s="2"><v>61.75</v></c><c r="D2" s="2"><v>4.4661E+4</v></c><c r="E2" s="9"><v>0.99999999</v></c><c r="F2" t="inlineStr"><is><t>text</t></is></c></row><row r="3"><c r="A3" s="3"><v>44661.5</v></c><c r="B3" s="3"><v>44661</v></c></row>"#;
        for properties in [
            "",
            r#"<workbookPr date1904="1"/>"#,
            r#"<workbookPr date1904="false"/>"#,
        ] {
            let data = workbook_with(&[("名单", "", xml)], None, Some(STYLES), properties);
            check(&data, None, true, properties);
        }
        // A format's ID given twice: the last counts, as in calamine's map of them.
        let twice = STYLES.replace(
            r#"<numFmt numFmtId="166" formatCode="General"/>"#,
            r#"<numFmt numFmtId="166" formatCode="General"/><numFmt numFmtId="166" formatCode="yyyy-mm-dd"/>"#,
        );
        let cell = r#"<row r="1"><c r="A1" s="6"><v>44661.5</v></c></row>"#;
        let data = workbook(&[("s", "", cell)], None, Some(&twice));
        check(&data, None, true, "a format given twice");
        // A format outside `<numFmts>` (a `<dxf>`'s) is no cell style's, for calamine.
        let dxf = STYLES.replace(
            "<cellXfs count=\"11\">",
            r#"<dxfs count="1"><dxf><numFmt numFmtId="168" formatCode="yyyy-mm-dd"/></dxf></dxfs><cellXfs count="12">"#,
        )
        .replace("</cellXfs>", r#"<xf numFmtId="168"/></cellXfs>"#);
        let cell = r#"<row r="1"><c r="A1" s="11"><v>44661</v></c></row>"#;
        let data = workbook(&[("s", "", cell)], None, Some(&dxf));
        check(&data, None, true, "a dxf's format");
        // A styles part named in another case: calamine finds it, so this reader
        // leaves the workbook to calamine rather than read its dates as numbers.
        let data = workbook(&[("s", "", cell)], None, Some(STYLES));
        let mut from = zip::ZipArchive::new(Cursor::new(&data[..])).unwrap();
        let mut to = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..from.len() {
            let mut file = from.by_index(i).unwrap();
            let name = file.name().unwrap().replace("styles.xml", "Styles.xml");
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            to.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            to.write_all(&bytes).unwrap();
        }
        let renamed = to.finish().unwrap().into_inner();
        check(&renamed, None, false, "a styles part named in another case");
        // The two date systems give different dates.
        let rows = |properties: &str| {
            rows(
                &workbook_with(&[("s", "", xml)], None, Some(STYLES), properties),
                None,
            )
            .unwrap()
            .1
        };
        assert_ne!(rows("")[0].1, rows(r#"<workbookPr date1904="1"/>"#)[0].1);
    }

    #[test]
    fn the_sheet_read_is_the_one_calamine_reads() {
        let sheet = |v: u32| format!(r#"<row r="1"><c r="A1"><v>{v}</v></c></row>"#);
        let (one, two, three) = (sheet(1), sheet(2), sheet(3));
        let data = workbook(
            &[
                ("old", "hidden", &one),
                ("名单", "", &two),
                ("more", "visible", &three),
            ],
            None,
            None,
        );
        check(&data, None, true, "the first visible sheet");
        check(&data, Some("old"), true, "a hidden sheet named");
        check(&data, Some("more"), true, "a sheet named");
        assert_eq!(rows(&data, None).unwrap().0, "名单");
        // A sheet not there: calamine's error.
        assert!(rows(&data, Some("nope")).is_none());
        // Not a zip at all.
        assert!(rows(b"not a workbook", None).is_none());
    }

    #[test]
    fn the_fixtures_workbooks_read_here_give_calamines_rows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut read = 0;
        for case in std::fs::read_dir(&root).unwrap() {
            for file in std::fs::read_dir(case.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_some_and(|e| e == "xlsx") {
                    let data = std::fs::read(&path).unwrap();
                    let fast = rows(&data, None).is_some();
                    check(&data, None, fast, &path.display().to_string());
                    read += usize::from(fast);
                }
            }
        }
        // LibreOffice's roster is read here.
        assert!(read >= 1);
    }

    #[test]
    fn large_sheets_are_read_in_pieces_as_a_whole() {
        // Rows in no order (a row's place far from its number, across the pieces), some
        // given twice, cells without positions.
        let row = |r: u32| {
            format!(
                r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{r}号</t></is></c><c><v>{}</v></c><c r="C{r}" t="s"><v>{}</v></c></row>"#,
                r * 7,
                r % 8
            )
        };
        let numbers: Vec<u32> = (0..40_000u32).map(|i| i * 7919 % 40_000 + 1).collect();
        let mut xml: String = numbers.iter().map(|&r| row(r)).collect();
        xml += &row(3);
        xml += &row(39_999);
        assert!(row_pieces(xml.as_bytes(), PIECE).len() > 2);
        assert!(every_row_numbered(xml.as_bytes()));
        same_as_calamine(&xml, Some(STRINGS), true);

        // Rows in order, as applications write them: each piece's rows are made on
        // their own. A row given twice straddles no piece.
        let mut xml: String = (1..=40_000).map(row).collect();
        xml += &row(40_000);
        assert!(row_pieces(xml.as_bytes(), PIECE).len() > 2);
        same_as_calamine(&xml, Some(STRINGS), true);

        // Rows without their numbers after the first: each follows the row before it,
        // which only a reading in one piece knows.
        let xml: String = numbers
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                let row = row(r);
                if i > 0 {
                    row.replacen(&format!(r#"<row r="{r}">"#), "<row>", 1)
                } else {
                    row
                }
            })
            .collect();
        assert!(!every_row_numbered(xml.as_bytes()));
        same_as_calamine(&xml, Some(STRINGS), true);

        // Read in one piece, as the rows above, a sheet's rows end at its first
        // `</sheetData>`: what follows is not read, as calamine does not read it.
        let xml = xml
            + r#"</sheetData><sheetData><row r="99999"><c r="A99999" t="inlineStr"><is><t>after</t></is></c></row>"#;
        same_as_calamine(&xml, Some(STRINGS), true);
    }
}
