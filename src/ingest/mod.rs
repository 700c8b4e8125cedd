//! Stage 1: reading the input files into typed records and rejects.
//!
//! A reader thread detects the encoding, reads the header, then cuts the file into
//! chunks of whole records ([`split`]) and sends them through a bounded channel to rayon
//! workers, which parse the CSV, clean every value ([`crate::normalize`]) and validate
//! it ([`values`]). Worker results merge in chunk order, so the records and rejects come
//! out in file order whatever the thread count, and line numbers are exact.
//!
//! Rows that break a rule are rejects, never fatal: for every file,
//! rows read = rows accepted + rows rejected.

pub mod encoding;
pub mod header;
pub mod results;
pub mod roster;
pub mod samples;
pub mod split;
pub mod values;

use crate::error::{Error, Position, Result};
use crate::normalize::clean;
use encoding::{Body, Encoding};
use header::{ColumnSpec, Layout};
use rayon::iter::{ParallelBridge, ParallelIterator};
use split::{count_lines, Chunk, CutError, Cutter};
use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// An input row that was not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The line, starting at `1`, where the row starts.
    pub line: u64,
    /// The column at fault, as the file's header spells it; empty for the whole row.
    pub column: String,
    /// What is wrong and what to do about it.
    pub reason: String,
    /// The row as it stands in the file, without its line terminator. Bytes that are
    /// not UTF-8 are written as `\xNN`.
    pub raw: String,
}

/// What the manifest says about one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputReport {
    /// The file as named on the command line.
    pub path: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The detected encoding.
    pub encoding: Encoding,
    /// Rows after the header, blank rows not counted.
    pub rows_read: u64,
    /// Rows used.
    pub rows_accepted: u64,
    /// Rows written to `rejects.csv`.
    pub rows_rejected: u64,
}

/// The records read from one file, its rejects and its report.
#[derive(Debug)]
pub struct Ingested<T> {
    /// Accepted records, in file order.
    pub rows: Vec<T>,
    /// Rejected rows, in file order.
    pub rejects: Vec<Reject>,
    /// Counts and facts for the manifest.
    pub report: InputReport,
    /// Which columns the file has.
    pub layout: Layout,
}

impl<T> Ingested<T> {
    /// Moves accepted rows for which `check` returns a reject into the rejects, keeping
    /// file order and the conservation of counts.
    pub fn reject_where(&mut self, mut check: impl FnMut(&T) -> Option<Reject>) {
        let mut kept = Vec::with_capacity(self.rows.len());
        let mut late = Vec::new();
        for row in self.rows.drain(..) {
            match check(&row) {
                Some(reject) => late.push(reject),
                None => kept.push(row),
            }
        }
        self.rows = kept;
        if !late.is_empty() {
            self.report.rows_accepted -= late.len() as u64;
            self.report.rows_rejected += late.len() as u64;
            self.rejects.extend(late);
            self.rejects.sort_by_key(|r| r.line);
        }
    }
}

/// One row being parsed: typed access to its cleaned cells, and the failures found.
pub struct Row<'a> {
    record: &'a csv::ByteRecord,
    layout: &'a Layout,
    failures: Vec<(usize, String)>,
    line: u64,
}

impl<'a> Row<'a> {
    /// The line, starting at `1`, where the row starts.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The cleaned cell of spec column `col`, or `None` when the file has no such
    /// column.
    pub fn cell(&self, col: usize) -> Option<Cow<'a, str>> {
        let index = self.layout.fields[col]?;
        let bytes = self.record.get(index).unwrap_or(b"");
        // Rows were checked for UTF-8 before parsing; a failure here is a bug.
        let text = std::str::from_utf8(bytes).unwrap_or("");
        Some(clean(text))
    }

    /// The cleaned cell, or the empty string when the column is absent.
    pub fn text(&self, col: usize) -> Cow<'a, str> {
        self.cell(col).unwrap_or(Cow::Borrowed(""))
    }

    /// The cell as an owned string, `None` when absent or empty.
    pub fn optional(&self, col: usize) -> Option<Box<str>> {
        self.cell(col).filter(|c| !c.is_empty()).map(|c| c.into())
    }

    /// Parses the cell with `parse`; on failure records the reason and returns `None`.
    pub fn parse<T>(
        &mut self,
        col: usize,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let text = self.text(col);
        match parse(&text) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.fail(col, reason);
                None
            }
        }
    }

    /// Records that the cell of `col` breaks a rule.
    pub fn fail(&mut self, col: usize, reason: impl Into<String>) {
        self.failures.push((col, reason.into()));
    }
}

/// The role of an input, which names it in messages.
pub type Parser<T> = dyn Fn(&mut Row) -> Option<T> + Sync;

/// Reads the CSV file at `path` (named `name` in messages and outputs): detects its
/// encoding, matches its header against `specs`, and parses every row with `parse` on
/// the current rayon pool.
pub fn read_csv<T: Send>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parse: &Parser<T>,
) -> Result<Ingested<T>> {
    let detected = encoding::detect(path, name)?;
    let (reader, offset): (Box<dyn Read + Send>, u64) = match detected.body {
        Body::File(offset) => {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
            (Box::new(file), offset)
        }
        Body::Decoded(text) => (Box::new(std::io::Cursor::new(text)), 0),
        Body::Raw(bytes) => (Box::new(std::io::Cursor::new(bytes)), 0),
    };
    let check_rows = detected.check_rows;
    let mut cutter = Cutter::new(reader, offset);
    let (headers, header_line) = read_header(&mut cutter, name, check_rows)?;
    let layout = header::match_header(name, header_line, &headers, specs)?;

    let capacity = 2 * rayon::current_num_threads().max(1);
    let (tx, rx) = crossbeam_channel::bounded::<Chunk>(capacity);
    let (outs, cut) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> std::result::Result<(), CutError> {
            while let Some(chunk) = cutter.next_chunk(false)? {
                if tx.send(chunk).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut outs: Vec<ChunkOut<T>> = rx
            .into_iter()
            .par_bridge()
            .map(|chunk| parse_chunk(&chunk, &layout, check_rows, parse))
            .collect();
        outs.sort_by_key(|o| o.index);
        (outs, reader.join())
    });
    match cut {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(cut_error(path, name, e)),
        Err(_) => return Err(Error::Internal("the reader thread panicked".into())),
    }

    let mut rows = Vec::with_capacity(outs.iter().map(|o| o.rows.len()).sum());
    let mut rejects = Vec::new();
    let mut read = 0;
    for out in outs {
        read += out.read;
        rows.extend(out.rows);
        rejects.extend(out.rejects);
    }
    let report = InputReport {
        path: name.to_string(),
        sha256: detected.sha256,
        bytes: detected.bytes,
        encoding: detected.encoding,
        rows_read: read,
        rows_accepted: rows.len() as u64,
        rows_rejected: rejects.len() as u64,
    };
    Ok(Ingested {
        rows,
        rejects,
        report,
        layout,
    })
}

fn cut_error(path: &Path, name: &str, e: CutError) -> Error {
    match e {
        CutError::Io(e) => Error::io(path, e),
        CutError::RecordTooLong { line, in_quotes } => {
            let hint = if in_quotes {
                "a quote (\") opened here is never closed"
            } else {
                "the file may not be a CSV file"
            };
            Error::input(
                name,
                Position::line(line),
                format!(
                    "a row longer than {} bytes starts here; {hint}",
                    split::MAX_RECORD_BYTES
                ),
            )
        }
    }
}

/// Reads records until the first non-blank one, the header.
fn read_header<R: Read>(
    cutter: &mut Cutter<R>,
    name: &str,
    check_rows: bool,
) -> Result<(Vec<String>, u64)> {
    loop {
        let chunk = cutter
            .next_chunk(true)
            .map_err(|e| cut_error(Path::new(name), name, e))?
            .ok_or_else(|| {
                Error::input(
                    name,
                    Position::default(),
                    "the file is empty; the first row must be the header",
                )
            })?;
        if check_rows {
            if let Err(e) = std::str::from_utf8(&chunk.bytes) {
                let mut position = Position::line(chunk.first_line);
                position.byte = Some(chunk.offset + e.valid_up_to() as u64);
                return Err(Error::input(
                    name,
                    position,
                    "the header row is not valid UTF-8; save the file again as \"CSV UTF-8\"",
                ));
            }
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&chunk.bytes[..]);
        let mut record = csv::StringRecord::new();
        let found = reader.read_record(&mut record).map_err(|_| {
            Error::input(
                name,
                Position::line(chunk.first_line),
                "the header row is not valid UTF-8; save the file again as \"CSV UTF-8\"",
            )
        })?;
        if found && record.iter().any(|h| !clean(h).is_empty()) {
            let leading = chunk
                .bytes
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .filter(|&&b| b == b'\n')
                .count();
            return Ok((
                record.iter().map(str::to_string).collect(),
                chunk.first_line + leading as u64,
            ));
        }
    }
}

struct ChunkOut<T> {
    index: usize,
    rows: Vec<T>,
    rejects: Vec<Reject>,
    read: u64,
}

/// Calls `visit` with the line, start offset in the chunk, raw bytes (without the line
/// terminator) and fields of every non-blank record of `chunk`.
fn walk_records(chunk: &Chunk, mut visit: impl FnMut(u64, usize, &[u8], &csv::ByteRecord)) {
    let bytes = &chunk.bytes[..];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    // `line` is the line number at byte `counted` of the chunk.
    let (mut counted, mut line) = (0usize, chunk.first_line);
    loop {
        let start = reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            // Only I/O or UTF-8 errors are possible with flexible byte records, and a
            // slice does not fail.
            Ok(false) | Err(_) => break,
        }
        let end = reader.position().byte() as usize;
        // Skip the blank lines (and the \n of a CRLF) that csv passed before the record.
        let lead = bytes[start..end]
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        let start = start + lead;
        line += count_lines(&bytes[counted..start]);
        counted = start;
        let mut raw = &bytes[start..end];
        while let [rest @ .., b'\n' | b'\r'] = raw {
            raw = rest;
        }
        if !is_blank(&record) {
            visit(line, start, raw, &record);
        }
    }
}

fn parse_chunk<T>(
    chunk: &Chunk,
    layout: &Layout,
    check_rows: bool,
    parse: &Parser<T>,
) -> ChunkOut<T> {
    let mut out = ChunkOut {
        index: chunk.index,
        rows: Vec::new(),
        rejects: Vec::new(),
        read: 0,
    };
    let width = layout.headers.len();
    walk_records(chunk, |line, start, raw, record| {
        out.read += 1;
        let reject = |column: &str, reason: String| Reject {
            line,
            column: column.to_string(),
            reason,
            raw: escape_raw(raw),
        };
        if check_rows {
            if let Err(e) = std::str::from_utf8(raw) {
                let at = chunk.offset + (start + e.valid_up_to()) as u64;
                out.rejects.push(reject("", format!("the row is not valid UTF-8 from byte offset {at} on (a damaged character); fix or retype the row")));
                return;
            }
        }
        if record.len() < width {
            out.rejects.push(reject(
                "",
                format!(
                    "the row has {} fields but the header has {width}; is the row cut short?",
                    record.len()
                ),
            ));
            return;
        }
        if record.len() > width
            && record
                .iter()
                .skip(width)
                .any(|f| !f.iter().all(u8::is_ascii_whitespace))
        {
            out.rejects.push(reject("", format!("the row has {} fields but the header has {width}; a value probably holds a comma without quotes around it", record.len())));
            return;
        }
        let mut row = Row {
            record,
            layout,
            failures: Vec::new(),
            line,
        };
        let parsed = parse(&mut row);
        match (parsed, row.failures.is_empty()) {
            (Some(value), true) => out.rows.push(value),
            _ => {
                let (column, reason) = describe_failures(layout, &row.failures);
                out.rejects.push(reject(&column, reason));
            }
        }
    });
    out
}

/// Reads `path` again and returns the raw text of the records that start on `lines`.
/// Used for the rare rejects found only after all rows are read (a duplicate person).
pub fn fetch_raw(
    path: &Path,
    name: &str,
    lines: &[u64],
) -> Result<rustc_hash::FxHashMap<u64, String>> {
    let mut found = rustc_hash::FxHashMap::default();
    if lines.is_empty() {
        return Ok(found);
    }
    let wanted: rustc_hash::FxHashSet<u64> = lines.iter().copied().collect();
    let detected = encoding::detect(path, name)?;
    let reader: Box<dyn Read> = match detected.body {
        Body::File(offset) => {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
            Box::new(file)
        }
        Body::Decoded(text) | Body::Raw(text) => Box::new(std::io::Cursor::new(text)),
    };
    let mut cutter = Cutter::new(reader, 0);
    while let Some(chunk) = cutter
        .next_chunk(false)
        .map_err(|e| cut_error(path, name, e))?
    {
        walk_records(&chunk, |line, _, raw, _| {
            if wanted.contains(&line) {
                found.insert(line, escape_raw(raw));
            }
        });
    }
    Ok(found)
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

fn is_blank(record: &csv::ByteRecord) -> bool {
    let all = record.as_slice();
    if all.iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    !all.is_ascii()
        && record
            .iter()
            .all(|f| std::str::from_utf8(f).is_ok_and(|t| clean(t).is_empty()))
}

/// The row's bytes as text, with bytes that are not UTF-8 written as `\xNN`.
fn escape_raw(raw: &[u8]) -> String {
    let mut text = String::with_capacity(raw.len());
    for piece in raw.utf8_chunks() {
        text.push_str(piece.valid());
        for b in piece.invalid() {
            text.push_str(&format!("\\x{b:02X}"));
        }
    }
    text
}
