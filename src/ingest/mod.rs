//! Stage 1: reading the input files into typed records and rejects.
//!
//! A reader thread reads the header, then cuts the file into chunks of whole records
//! ([`split`]) and sends them through bounded channels to a hashing thread and to rayon
//! workers, which split the records into fields, check the text encoding
//! ([`encoding`]), clean every value ([`crate::normalize`]) and validate it
//! ([`values`]). Worker results merge in chunk order, so the records and rejects come
//! out in file order whatever the thread count, and line numbers are exact.
//!
//! Rows that break a rule are rejects, never fatal: for every file,
//! rows read = rows accepted + rows rejected.

pub mod encoding;
pub mod excel;
pub mod header;
pub mod results;
pub mod roster;
pub mod samples;
pub mod split;
pub mod values;

use crate::error::{Error, Position, Result};
use crate::normalize::clean;
use encoding::{Census, Encoding};
use header::{ColumnSpec, Layout};
use rayon::iter::{IndexedParallelIterator, ParallelBridge, ParallelIterator};
use rayon::slice::ParallelSlice;
use sha2::{Digest, Sha256};
use split::{count_lines, Chunk, CutError, Cutter};
use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The sheet read, for a workbook; its row numbers are the lines.
    pub sheet: Option<String>,
    /// For each cell of a row, the contract's name of its column, if read.
    pub columns: Vec<Option<&'static str>>,
}

impl InputReport {
    /// The file as rejects and anomalies name it: for a workbook, with the sheet, and
    /// saying that lines are sheet rows.
    pub fn display(&self) -> String {
        match &self.sheet {
            Some(sheet) => format!("{} (sheet \"{sheet}\"; line = sheet row)", self.path),
            None => self.path.clone(),
        }
    }
}

/// Where the UTF-8 text of an input is, so that rows can be read again by offset.
#[derive(Clone, Debug)]
pub enum Source {
    /// The file itself (UTF-8); offsets are file offsets.
    File(PathBuf),
    /// The file decoded to UTF-8 in memory; offsets are into this text.
    Memory(Arc<Vec<u8>>),
    /// The rows of a workbook sheet; offsets are indexes into them.
    Sheet(Arc<Vec<csv::ByteRecord>>),
}

/// Parses the rows of one kind of input on the workers.
pub trait RowParser: Sync {
    /// One accepted row.
    type Record: Send;
    /// State a worker keeps for one chunk (interned strings, say), merged by the caller.
    type Part: Default + Send;
    /// Parses one row; records failures on `row` and returns `None` when it is rejected.
    fn parse(&self, row: &mut Row, part: &mut Self::Part) -> Option<Self::Record>;
}

/// The accepted rows of one chunk with the worker's state for them.
#[derive(Debug)]
pub struct Part<R, C> {
    /// Accepted rows, in file order.
    pub rows: Vec<R>,
    /// The parser's state for this chunk.
    pub state: C,
}

/// The records read from one file, its rejects and its report.
#[derive(Debug)]
pub struct Ingested<R, C> {
    /// Accepted rows by chunk, in file order.
    pub parts: Vec<Part<R, C>>,
    /// Rejected rows, in file order.
    pub rejects: Vec<Reject>,
    /// Counts and facts for the manifest.
    pub report: InputReport,
    /// Which columns the file has.
    pub layout: Layout,
    /// Where rows can be read again.
    pub source: Source,
}

impl<R, C> Ingested<R, C> {
    /// Records that `reject` was found after parsing (a duplicate, say): the row moves
    /// from accepted to rejected, keeping the counts conserved. The caller removes the
    /// row from its own records.
    pub fn reject_late(&mut self, reject: Reject) {
        self.report.rows_accepted -= 1;
        self.report.rows_rejected += 1;
        let at = self.rejects.partition_point(|r| r.line < reject.line);
        self.rejects.insert(at, reject);
    }

    /// All accepted rows, in file order, dropping the per-chunk state.
    pub fn into_rows(self) -> Vec<R> {
        let mut rows = Vec::with_capacity(self.parts.iter().map(|p| p.rows.len()).sum());
        for part in self.parts {
            rows.extend(part.rows);
        }
        rows
    }
}

/// A record's fields: field `i` is `bytes[ranges[i]]`. `bytes` is the raw row for a
/// row without quotes (the commas stay between the fields), else the unquoted fields
/// back to back.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    ranges: &'a [Range<usize>],
    /// Whether `bytes` is the raw row itself, in place in its chunk.
    in_place: bool,
}

impl<'a> Fields<'a> {
    /// The fields of `record`, using `ranges` as room for their places.
    fn of_record(record: &'a csv::ByteRecord, ranges: &'a mut Vec<Range<usize>>) -> Fields<'a> {
        ranges.clear();
        ranges.extend((0..record.len()).filter_map(|i| record.range(i)));
        Fields {
            bytes: record.as_slice(),
            ranges,
            in_place: false,
        }
    }

    fn len(&self) -> usize {
        self.ranges.len()
    }

    fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.bytes[r.clone()])
    }
}

/// One row being parsed: typed access to its cleaned cells, and the failures found.
pub struct Row<'a> {
    /// Where each field is in `text`.
    ranges: &'a [Range<usize>],
    /// The bytes of [`Fields`] as text: checked for UTF-8 once per row.
    text: &'a str,
    layout: &'a Layout,
    failures: Vec<(usize, String)>,
    line: u64,
    offset: u64,
}

impl<'a> Row<'a> {
    /// The line, starting at `1`, where the row starts.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Where the row starts in its [`Source`], to read it again later.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The cleaned cell of spec column `col`, or `None` when the file has no such
    /// column.
    pub fn cell(&self, col: usize) -> Option<Cow<'a, str>> {
        let index = self.layout.fields[col]?;
        let text = self
            .ranges
            .get(index)
            .and_then(|r| self.text.get(r.clone()))
            .unwrap_or("");
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

/// Reads the input at `path` (named `name` in messages and outputs), a CSV file or, by
/// its extension, a workbook (sheet `sheet`, or the first), matching its header against
/// `specs` and parsing every row with `parser` on the current rayon pool.
pub fn read_input<P: RowParser>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
    sheet: Option<&str>,
) -> Result<Ingested<P::Record, P::Part>> {
    if excel::is_workbook(path) {
        read_workbook(path, name, specs, parser, sheet)
    } else {
        read_csv(path, name, specs, parser)
    }
}

/// Reads one sheet of a workbook: the first non-empty row is the header; every other
/// row goes through the same checks and parser as a CSV row, its line being its sheet
/// row number.
fn read_workbook<P: RowParser>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
    sheet: Option<&str>,
) -> Result<Ingested<P::Record, P::Part>> {
    let book = excel::read_sheet(path, name, sheet)?;
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
    let rows: Vec<csv::ByteRecord> = book.rows[1..].iter().map(|(_, r)| r.clone()).collect();
    let lines: Vec<u64> = book.rows[1..].iter().map(|(l, _)| *l).collect();
    const ROWS_PER_CHUNK: usize = 4096;
    let outs: Vec<ChunkOut<P::Record, P::Part>> = rows
        .par_chunks(ROWS_PER_CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut out = ChunkOut {
                index: c,
                rows: Vec::with_capacity(chunk.len()),
                state: P::Part::default(),
                rejects: Vec::new(),
                read: 0,
                census: Census::default(),
            };
            let mut ranges = Vec::new();
            for (k, record) in chunk.iter().enumerate() {
                let i = c * ROWS_PER_CHUNK + k;
                out.read += 1;
                let mut writer = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(Vec::new());
                let _ = writer.write_byte_record(record);
                let raw = writer.into_inner().unwrap_or_default();
                let raw = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let fields = Fields::of_record(record, &mut ranges);
                let text = std::str::from_utf8(fields.bytes).unwrap_or("");
                accept(
                    &mut out, lines[i], i as u64, raw, fields, text, &layout, parser,
                );
            }
            out
        })
        .collect();
    let pass = Pass {
        outs,
        layout,
        source: Source::Sheet(Arc::new(rows)),
        census: Census::default(),
        header_not_utf8: None,
        sha256: book.sha256,
        bytes: book.bytes,
    };
    let mut ingested = pass.finish(Encoding::Workbook, None, name)?;
    ingested.report.sheet = Some(book.name);
    Ok(ingested)
}

/// Reads the CSV file at `path` (named `name` in messages and outputs): detects its
/// encoding, matches its header against `specs`, and parses every row with `parser` on
/// the current rayon pool.
pub fn read_csv<P: RowParser>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
) -> Result<Ingested<P::Record, P::Part>> {
    let file_source = || Source::File(path.to_path_buf());
    match encoding::sniff(path)? {
        Some(enc @ (Encoding::Utf16Le | Encoding::Utf16Be)) => {
            let (bytes, sha) = encoding::read_all(path)?;
            let codec = if enc == Encoding::Utf16Le {
                encoding_rs::UTF_16LE
            } else {
                encoding_rs::UTF_16BE
            };
            let text = encoding::decode_strict(codec, &bytes[2..]).map_err(|at| {
                Error::input(
                    name,
                    Position::byte(at as u64 + 2),
                    format!("the file starts with a {} byte-order mark but is not valid {}; save it again as \"CSV UTF-8\"", enc.as_str(), enc.as_str()),
                )
            })?;
            let size = bytes.len() as u64;
            drop(bytes);
            read_decoded(text, enc, (sha, size), name, specs, parser)
        }
        Some(Encoding::Utf8Bom) => {
            let pass = run_pass(file_source(), 3, true, name, specs, parser)?;
            if let Some(at) = pass.header_not_utf8 {
                return Err(Error::input(name, Position::byte(at), "the header row is not valid UTF-8 although the file starts with a UTF-8 byte-order mark; save it again as \"CSV UTF-8\""));
            }
            pass.finish(Encoding::Utf8Bom, None, name)
        }
        _ => {
            let pass = run_pass(file_source(), 0, true, name, specs, parser)?;
            if pass.header_not_utf8.is_none() && pass.census.is_utf8() {
                return pass.finish(Encoding::Utf8, None, name);
            }
            let first_bad = pass.header_not_utf8.or(pass.census.first_bad).unwrap_or(0);
            drop(pass);
            let (bytes, sha) = encoding::read_all(path)?;
            let text = encoding::decode_strict(encoding_rs::GB18030, &bytes).map_err(|at| {
                Error::input(
                    name,
                    Position::byte(first_bad),
                    format!("the file is neither UTF-8 nor GB18030 (not UTF-8 from this byte on, not GB18030 from byte offset {at}); save it again as \"CSV UTF-8\""),
                )
            })?;
            let size = bytes.len() as u64;
            drop(bytes);
            read_decoded(text, Encoding::Gb18030, (sha, size), name, specs, parser)
        }
    }
}

/// Parses text decoded in memory from a file whose hash and size are `file`.
fn read_decoded<P: RowParser>(
    text: String,
    encoding: Encoding,
    file: (String, u64),
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
) -> Result<Ingested<P::Record, P::Part>> {
    let pass = run_pass(
        Source::Memory(Arc::new(text.into_bytes())),
        0,
        false,
        name,
        specs,
        parser,
    )?;
    pass.finish(encoding, Some(file), name)
}

/// One parse of a file's text.
struct Pass<R, C> {
    outs: Vec<ChunkOut<R, C>>,
    layout: Layout,
    source: Source,
    census: Census,
    /// Set when the header row itself is not UTF-8: the file is in another encoding.
    header_not_utf8: Option<u64>,
    /// SHA-256 and size of the bytes read (BOM included), for file sources.
    sha256: String,
    bytes: u64,
}

impl<R, C> Pass<R, C> {
    /// The pass as the file's ingest result; `file` overrides the hash and size when
    /// the text parsed was decoded from the file.
    fn finish(
        self,
        encoding: Encoding,
        file: Option<(String, u64)>,
        name: &str,
    ) -> Result<Ingested<R, C>> {
        if let Some(at) = self.header_not_utf8 {
            return Err(Error::input(
                name,
                Position::byte(at),
                "the header row is not valid text",
            ));
        }
        let (sha256, bytes) = file.unwrap_or((self.sha256, self.bytes));
        let mut parts = Vec::with_capacity(self.outs.len());
        let mut rejects = Vec::new();
        let (mut read, mut accepted) = (0, 0);
        for out in self.outs {
            read += out.read;
            accepted += out.rows.len() as u64;
            rejects.extend(out.rejects);
            parts.push(Part {
                rows: out.rows,
                state: out.state,
            });
        }
        let report = InputReport {
            path: name.to_string(),
            sha256,
            bytes,
            encoding,
            rows_read: read,
            rows_accepted: accepted,
            rows_rejected: rejects.len() as u64,
            sheet: None,
            columns: self.layout.cell_columns(),
        };
        Ok(Ingested {
            parts,
            rejects,
            report,
            layout: self.layout,
            source: self.source,
        })
    }
}

/// Something to read an input's text from.
trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send> ReadSeek for T {}

fn open_source(source: &Source, start: u64) -> Result<Box<dyn ReadSeek>> {
    Ok(match source {
        Source::File(path) => {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io(path, e))?;
            Box::new(file)
        }
        Source::Memory(text) => {
            let mut cursor = std::io::Cursor::new(SharedBytes(text.clone()));
            cursor.set_position(start);
            Box::new(cursor)
        }
        Source::Sheet(_) => return Err(Error::Internal("a sheet is not read as text".into())),
    })
}

/// Shared bytes readable through a cursor.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn source_path(source: &Source, name: &str) -> PathBuf {
    match source {
        Source::File(p) => p.clone(),
        Source::Memory(_) | Source::Sheet(_) => PathBuf::from(name),
    }
}

/// Parses `source` from byte `start` on: the reader thread cuts chunks and hashes the
/// bytes, the workers parse the chunks.
fn run_pass<P: RowParser>(
    source: Source,
    start: u64,
    check_rows: bool,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
) -> Result<Pass<P::Record, P::Part>> {
    let path = source_path(&source, name);
    let mut hasher = Sha256::new();
    if start == 3 {
        hasher.update(b"\xEF\xBB\xBF");
    }
    let mut cutter = Cutter::new(open_source(&source, start)?, start);
    let (header, header_bytes) = read_header(&mut cutter, name, check_rows, &mut hasher)?;
    let mut pass = Pass {
        outs: Vec::new(),
        layout: Layout {
            fields: Vec::new(),
            headers: Vec::new(),
            names: Vec::new(),
        },
        source,
        census: Census::default(),
        header_not_utf8: None,
        sha256: String::new(),
        bytes: start + header_bytes,
    };
    let (headers, header_line) = match header {
        Header::Found(h, line) => (h, line),
        Header::NotUtf8(at) => {
            pass.header_not_utf8 = Some(at);
            return Ok(pass);
        }
    };
    let layout = header::match_header(name, header_line, &headers, specs)?;

    // The reader cuts chunks, a thread of its own hashes them in order, the workers parse
    // them; a chunk's buffer goes back to the reader when both are done with it. Hashing
    // is the slowest sequential step, so it does not hold up the cutting.
    let capacity = 2 * rayon::current_num_threads().max(1);
    let (tx, rx) = crossbeam_channel::bounded::<Arc<Chunk>>(capacity);
    let (hash_tx, hash_rx) = crossbeam_channel::bounded::<Arc<Chunk>>(2 * capacity);
    let (spare_tx, spare_rx) = crossbeam_channel::bounded::<Vec<u8>>(3 * capacity + 2);
    let recycle = |chunk: Arc<Chunk>| {
        if let Some(chunk) = Arc::into_inner(chunk) {
            let _ = spare_tx.try_send(chunk.bytes);
        }
    };
    let mut cutter = cutter.recycle(spare_rx);
    let (outs, cut, hashed) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> std::result::Result<(), CutError> {
            while let Some(chunk) = cutter.next_chunk(false)? {
                let chunk = Arc::new(chunk);
                if hash_tx.send(chunk.clone()).is_err() || tx.send(chunk).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let hashing = scope.spawn(|| {
            let mut total = 0u64;
            for chunk in hash_rx {
                hasher.update(&chunk.bytes);
                total += chunk.bytes.len() as u64;
                recycle(chunk);
            }
            (hasher, total)
        });
        let mut outs: Vec<ChunkOut<P::Record, P::Part>> = rx
            .into_iter()
            .par_bridge()
            .map(|chunk| {
                let out = parse_chunk(&chunk, &layout, check_rows, parser);
                recycle(chunk);
                out
            })
            .collect();
        outs.sort_by_key(|o| o.index);
        (outs, reader.join(), hashing.join())
    });
    match (cut, hashed) {
        (Ok(Ok(())), Ok((hasher, total))) => {
            pass.sha256 = encoding::hex(&hasher.finalize());
            pass.bytes += total;
        }
        (Ok(Err(e)), _) => return Err(cut_error(&path, name, e)),
        _ => {
            return Err(Error::Internal(
                "the reader or hashing thread panicked".into(),
            ))
        }
    }
    for out in &outs {
        pass.census.add(&out.census);
    }
    pass.outs = outs;
    pass.layout = layout;
    Ok(pass)
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

enum Header {
    Found(Vec<String>, u64),
    /// The header row is not UTF-8, from this byte offset on.
    NotUtf8(u64),
}

/// Reads records until the first non-blank one, the header, hashing what it reads.
/// Returns the header and the bytes consumed.
fn read_header<R: Read>(
    cutter: &mut Cutter<R>,
    name: &str,
    check_rows: bool,
    hasher: &mut Sha256,
) -> Result<(Header, u64)> {
    let mut consumed = 0u64;
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
        hasher.update(&chunk.bytes);
        consumed += chunk.bytes.len() as u64;
        if check_rows {
            if let Err(e) = std::str::from_utf8(&chunk.bytes) {
                return Ok((
                    Header::NotUtf8(chunk.offset + e.valid_up_to() as u64),
                    consumed,
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
                "the header row could not be read",
            )
        })?;
        if found && record.iter().any(|h| !clean(h).is_empty()) {
            let leading = chunk
                .bytes
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .filter(|&&b| b == b'\n')
                .count();
            let header = Header::Found(
                record.iter().map(str::to_string).collect(),
                chunk.first_line + leading as u64,
            );
            return Ok((header, consumed));
        }
    }
}

struct ChunkOut<R, C> {
    index: usize,
    rows: Vec<R>,
    state: C,
    rejects: Vec<Reject>,
    read: u64,
    census: Census,
}

/// Calls `visit` with the line, start offset in the chunk, raw bytes (without the line
/// terminator) and fields of every non-blank record of `chunk`.
fn walk_records(chunk: &Chunk, visit: impl FnMut(u64, usize, &[u8], Fields)) {
    if memchr::memchr(b'"', &chunk.bytes).is_none() {
        walk_unquoted(chunk, visit);
    } else {
        walk_csv(chunk, visit);
    }
}

/// [`walk_records`] for a chunk without a quote: every record is one line and every
/// comma ends a field, so the fields are found where they stand. This is what the CSV
/// parser would find: a line feed, a carriage return or both end a record, and empty
/// lines are skipped.
fn walk_unquoted(chunk: &Chunk, mut visit: impl FnMut(u64, usize, &[u8], Fields)) {
    let bytes = &chunk.bytes[..];
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let (mut at, mut line) = (0usize, chunk.first_line);
    loop {
        while let Some(&b @ (b'\n' | b'\r')) = bytes.get(at) {
            line += u64::from(b == b'\n');
            at += 1;
        }
        if at == bytes.len() {
            break;
        }
        let end = memchr::memchr2(b'\n', b'\r', &bytes[at..]).map_or(bytes.len(), |k| at + k);
        let raw = &bytes[at..end];
        ranges.clear();
        let mut field = 0;
        for comma in memchr::memchr_iter(b',', raw) {
            ranges.push(field..comma);
            field = comma + 1;
        }
        ranges.push(field..raw.len());
        let fields = Fields {
            bytes: raw,
            ranges: &ranges,
            in_place: true,
        };
        if !is_blank(fields) {
            visit(line, at, raw, fields);
        }
        at = end;
    }
}

/// [`walk_records`] for a chunk with quotes, through the CSV parser.
fn walk_csv(chunk: &Chunk, mut visit: impl FnMut(u64, usize, &[u8], Fields)) {
    let bytes = &chunk.bytes[..];
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    let mut ranges = Vec::new();
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
        let fields = Fields::of_record(&record, &mut ranges);
        if !is_blank(fields) {
            visit(line, start, raw, fields);
        }
    }
}

fn parse_chunk<P: RowParser>(
    chunk: &Chunk,
    layout: &Layout,
    check_rows: bool,
    parser: &P,
) -> ChunkOut<P::Record, P::Part> {
    let mut out = ChunkOut {
        index: chunk.index,
        rows: Vec::with_capacity(chunk.bytes.len() / 48),
        state: P::Part::default(),
        rejects: Vec::new(),
        read: 0,
        census: Census::default(),
    };
    // Checked once for the whole chunk, which settles most rows at once.
    let whole = simdutf8::basic::from_utf8(&chunk.bytes).ok();
    let nul = memchr::memchr(0, &chunk.bytes).is_some();
    let ascii = check_rows && whole.is_some_and(str::is_ascii);
    walk_records(chunk, |line, start, raw, fields| {
        out.read += 1;
        let reject = |column: &str, reason: String| Reject {
            line,
            column: column.to_string(),
            reason,
            raw: escape_raw(raw),
        };
        if nul && memchr::memchr(0, raw).is_some() {
            out.rejects.push(reject("", "the row holds a NUL byte (0x00): the file is damaged or not a text file; export it again".into()));
            return;
        }
        // A row in place in a chunk that is all text is text: it lies between ASCII line
        // ends. Otherwise one check per row, on the fields: unquoting only drops ASCII
        // quotes, so the fields are text exactly when the raw row is.
        let in_whole = whole
            .filter(|_| fields.in_place)
            .and_then(|w| w.get(start..start + raw.len()));
        let text = match in_whole.map_or_else(|| simdutf8::basic::from_utf8(fields.bytes), Ok) {
            Ok(text) => text,
            Err(_) => {
                let valid = std::str::from_utf8(raw)
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                let at = chunk.offset + (start + valid) as u64;
                out.census.non_ascii_rows += 1;
                out.census.bad_rows += 1;
                out.census.first_bad = out.census.first_bad.or(Some(at));
                out.rejects.push(reject("", format!("the row is not valid UTF-8 from byte offset {at} on (a damaged character); fix or retype the row")));
                return;
            }
        };
        if check_rows && !ascii && !fields.bytes.is_ascii() {
            out.census.non_ascii_rows += 1;
        }
        accept(
            &mut out,
            line,
            chunk.offset + start as u64,
            raw,
            fields,
            text,
            layout,
            parser,
        );
    });
    out
}

/// Checks the shape of a record whose text is known to be valid, parses it, and keeps
/// the row or its reject.
#[allow(clippy::too_many_arguments)]
fn accept<P: RowParser>(
    out: &mut ChunkOut<P::Record, P::Part>,
    line: u64,
    offset: u64,
    raw: &[u8],
    fields: Fields,
    text: &str,
    layout: &Layout,
    parser: &P,
) {
    let width = layout.headers.len();
    let reject = |column: &str, reason: String| Reject {
        line,
        column: column.to_string(),
        reason,
        raw: escape_raw(raw),
    };
    if fields.len() < width {
        out.rejects.push(reject(
            "",
            format!(
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
        out.rejects.push(reject("", format!("the row has {} fields but the header has {width}: a value beyond the last header column, or a comma without quotes around the value", fields.len())));
        return;
    }
    let mut row = Row {
        ranges: fields.ranges,
        text,
        layout,
        failures: Vec::new(),
        line,
        offset,
    };
    let parsed = parser.parse(&mut row, &mut out.state);
    match (parsed, row.failures.is_empty()) {
        (Some(value), true) => out.rows.push(value),
        _ => {
            let (column, reason) = describe_failures(layout, &row.failures);
            out.rejects.push(reject(&column, reason));
        }
    }
}

/// Reads again the records that start at `offsets` of `source`, for the few rows of
/// which every cell is needed only at the end (people on the retest and missing lists,
/// roster duplicates). Returns each record with the offset where it ends, in the order
/// of `offsets`.
pub fn records_at(
    source: &Source,
    name: &str,
    offsets: &[u64],
) -> Result<Vec<(csv::ByteRecord, u64)>> {
    if let Source::Sheet(rows) = source {
        return Ok(offsets
            .iter()
            .map(|&o| (rows[o as usize].clone(), o + 1))
            .collect());
    }
    let path = source_path(source, name);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(2048)
        .from_reader(open_source(source, 0)?);
    let mut records = Vec::with_capacity(offsets.len());
    for &offset in offsets {
        let mut position = csv::Position::new();
        position.set_byte(offset);
        reader
            .seek_raw(SeekFrom::Start(offset), position)
            .map_err(|e| Error::Internal(format!("{}: seeking to a row: {e}", path.display())))?;
        let mut record = csv::ByteRecord::new();
        reader
            .read_byte_record(&mut record)
            .map_err(|e| Error::Internal(format!("{name}: reading a row again: {e}")))?;
        records.push((record, reader.position().byte()));
    }
    Ok(records)
}

/// The raw text of `source` from byte `start` to `end`, without a line terminator, for
/// `rejects.csv`.
pub fn raw_text(source: &Source, name: &str, start: u64, end: u64) -> Result<String> {
    if let Source::Sheet(rows) = source {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = writer.write_byte_record(&rows[start as usize]);
        let raw = writer.into_inner().unwrap_or_default();
        return Ok(escape_raw(raw.strip_suffix(b"\n").unwrap_or(&raw)));
    }
    let path = source_path(source, name);
    let mut reader = open_source(source, start)?;
    let mut bytes = vec![0u8; (end - start) as usize];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| Error::io(&path, e))?;
    let mut text = &bytes[..];
    while let [rest @ .., b'\n' | b'\r'] = text {
        text = rest;
    }
    Ok(escape_raw(text))
}

/// Parses a record read again with [`records_at`], as the workers did.
pub fn reparse<T>(
    record: &csv::ByteRecord,
    layout: &Layout,
    parse: impl FnOnce(&mut Row) -> T,
) -> T {
    let mut ranges = Vec::new();
    let fields = Fields::of_record(record, &mut ranges);
    let mut row = Row {
        ranges: fields.ranges,
        text: std::str::from_utf8(fields.bytes).unwrap_or(""),
        layout,
        failures: Vec::new(),
        line: 0,
        offset: record.position().map_or(0, |p| p.byte()),
    };
    parse(&mut row)
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

fn is_blank(fields: Fields) -> bool {
    // Nearly every row starts with an ID: a letter or digit settles it.
    if fields.bytes.first().is_some_and(u8::is_ascii_alphanumeric) {
        return false;
    }
    if fields.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
        return true;
    }
    !fields.bytes.is_ascii()
        && fields
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every record `walk` finds: line, start, raw bytes and fields.
    type Found = Vec<(u64, usize, Vec<u8>, Vec<Vec<u8>>)>;

    /// A way to walk a chunk's records.
    type Walk = fn(&Chunk, &mut dyn FnMut(u64, usize, &[u8], Fields));

    fn found(chunk: &Chunk, walk: Walk) -> Found {
        let mut records = Vec::new();
        walk(chunk, &mut |line, start, raw, fields| {
            records.push((
                line,
                start,
                raw.to_vec(),
                fields.iter().map(<[u8]>::to_vec).collect(),
            ))
        });
        records
    }

    proptest! {
        /// Without quotes, splitting at commas and line ends finds what the CSV parser
        /// finds: the same records, lines, offsets, raw bytes and fields, blank and
        /// CR-only lines included.
        #[test]
        fn unquoted_chunks_split_as_the_csv_parser_does(
            text in prop::collection::vec(prop::sample::select(vec![b'a', b',', b'\n', b'\r', b' ', b'\t', 0xE4, 0xB8, 0x80]), 0..300),
            first_line in 1u64..5,
        ) {
            let chunk = Chunk { index: 0, bytes: text, first_line, offset: 0 };
            let fast = found(&chunk, |c, v| walk_unquoted(c, v));
            let csv = found(&chunk, |c, v| walk_csv(c, v));
            prop_assert_eq!(fast, csv);
        }
    }
}
