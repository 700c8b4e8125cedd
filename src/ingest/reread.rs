//! Reading rows of an input again, by the byte offset where they start: for the rows of
//! which every cell is needed only at the end (people on the retest and missing lists,
//! roster duplicates), so that a city roster is not held in memory whole.

use super::encoding::Codec;
use super::fields::Fields;
use super::header::Layout;
use super::row::{escape_raw, record_text, Row};
use super::split::MAX_RECORD_BYTES;
use super::RawText;
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the text of an input is, so that rows can be read again by offset (as UTF-8).
#[derive(Clone, Debug)]
pub enum TextSource {
    /// The file itself (UTF-8); offsets are file offsets.
    File(Arc<Opened>),
    /// The file in GB18030 or UTF-16, decoded as it is read; offsets are file offsets.
    Decoded(Arc<Opened>, Codec),
    /// The rows of a workbook sheet; offsets are indexes into them.
    Sheet(Arc<Vec<csv::ByteRecord>>),
}

/// An input file, opened once: every reading of it (the first look at its encoding,
/// each pass, each row read again) goes through this open file, so that a file replaced
/// meanwhile (saved to a new file and renamed, as spreadsheets save) is never read in
/// its place; and what its metadata said when it was opened, to find it written
/// meanwhile ([`Opened::check`]).
#[derive(Debug)]
pub struct Opened {
    path: PathBuf,
    file: File,
    stamp: Stamp,
}

/// What a file's metadata says of its contents: its length and the time it was last
/// written. A file written or shortened shows another stamp, unless it was written
/// within the same tick of the file system's clock as its last write before it was
/// opened, with its length kept (a tick is a few milliseconds on Linux's file systems,
/// two seconds on FAT). The time its metadata changed is left out: a file replaced by
/// another (renamed over it) changes it, and is still read whole as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: (i64, i64),
}

impl Stamp {
    fn of(file: &File) -> std::io::Result<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata()?;
        Ok(Stamp {
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
        })
    }
}

impl Opened {
    /// The file at `path`, opened for reading.
    pub fn open(path: &Path) -> Result<Arc<Opened>> {
        let fail = |e| Error::io(path, e);
        let file = File::open(path).map_err(fail)?;
        let stamp = Stamp::of(&file).map_err(fail)?;
        Ok(Arc::new(Opened {
            path: path.to_path_buf(),
            file,
            stamp,
        }))
    }

    /// The path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// A reader of the file from byte `start` on, with a position of its own (readers
    /// of one file on several threads share no cursor).
    pub fn reader(self: &Arc<Opened>, start: u64) -> At {
        At {
            opened: self.clone(),
            at: start,
        }
    }

    /// An error naming the input `name` unless the file is as it was when opened: what
    /// was read of a file written meanwhile (shortened, or written again in place) is
    /// not one file's text, and no output is made of it.
    pub fn check(&self, name: &str) -> Result<()> {
        match Stamp::of(&self.file) {
            Ok(now) if now == self.stamp => Ok(()),
            Ok(_) => Err(Error::input(
                name,
                crate::error::Position::default(),
                "the file changed while it was read (another program wrote or shortened it); no output was changed; run again once the file is no longer being written",
            )),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }
}

/// A reader of an [`Opened`] file at a position of its own.
pub struct At {
    opened: Arc<Opened>,
    at: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.opened.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl Seek for At {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let (base, by) = match to {
            SeekFrom::Start(at) => {
                self.at = at;
                return Ok(at);
            }
            SeekFrom::Current(by) => (self.at, by),
            SeekFrom::End(by) => (self.opened.file.metadata()?.len(), by),
        };
        self.at = base.checked_add_signed(by).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a seek before the file's start",
            )
        })?;
        Ok(self.at)
    }
}

impl TextSource {
    /// The file it reads, when it reads one.
    pub fn opened(&self) -> Option<&Arc<Opened>> {
        match self {
            TextSource::File(o) | TextSource::Decoded(o, _) => Some(o),
            TextSource::Sheet(_) => None,
        }
    }

    /// How its text is decoded, when it is.
    pub fn codec(&self) -> Option<Codec> {
        match self {
            TextSource::Decoded(_, codec) => Some(*codec),
            TextSource::File(_) | TextSource::Sheet(_) => None,
        }
    }

    /// [`Opened::check`] of the file it reads, if any.
    pub fn check(&self, name: &str) -> Result<()> {
        self.opened().map_or(Ok(()), |o| o.check(name))
    }
}

/// Something to read an input's text from.
pub(super) trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send> ReadSeek for T {}

pub(super) fn open_source(source: &TextSource, start: u64) -> Result<Box<dyn ReadSeek>> {
    Ok(match source {
        TextSource::File(opened) | TextSource::Decoded(opened, _) => Box::new(opened.reader(start)),
        TextSource::Sheet(_) => return Err(Error::Internal("a sheet is not read as text".into())),
    })
}

pub(super) fn source_path(source: &TextSource, name: &str) -> PathBuf {
    match source {
        TextSource::File(o) | TextSource::Decoded(o, _) => o.path.clone(),
        TextSource::Sheet(_) => PathBuf::from(name),
    }
}

/// Reads again the records that start at `offsets` of `source`, for the rows of which
/// every cell is needed only at the end (people on the retest and missing lists, roster
/// duplicates). Returns each record with the offset where it ends, in the order of
/// `offsets`.
pub fn records_at(
    source: &TextSource,
    name: &str,
    offsets: &[u64],
) -> Result<Vec<(csv::ByteRecord, u64)>> {
    let mut records = Vec::with_capacity(offsets.len());
    each_record_at(source, name, offsets, |_, record, end| {
        records.push((record.clone(), end));
        Ok(())
    })?;
    Ok(records)
}

/// [`records_at`], each record handed to `visit` with its place in `offsets` and the
/// offset where it ends, one record after the other in one buffer: a city's missing
/// list at midday is millions of rows read again.
pub fn each_record_at(
    source: &TextSource,
    name: &str,
    offsets: &[u64],
    mut visit: impl FnMut(usize, &csv::ByteRecord, u64) -> Result<()>,
) -> Result<()> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut record = csv::ByteRecord::new();
    each_at(source, name, offsets, |k, offset, again, end| match again {
        Again::Line(line) => {
            record.clear();
            for field in Fields::of_line(line, &mut ranges).iter() {
                record.push_field(field);
            }
            let mut position = csv::Position::new();
            position.set_byte(offset);
            record.set_position(Some(position));
            visit(k, &record, end)
        }
        Again::Record(record) => visit(k, record, end),
    })
}

/// Reads again the rows that start at `offsets` of `source` and parses each as the
/// workers did, handing it to `visit` with its place in `offsets`. A row without a
/// quote (nearly every one) is parsed where it stands in the line read, as the workers
/// parse a chunk without quotes: its fields found at its commas, its cells only
/// trimmed when its text is [`crate::normalize::all_plain`].
pub fn each_row_at(
    source: &TextSource,
    name: &str,
    layout: &Layout,
    offsets: &[u64],
    mut visit: impl FnMut(usize, &mut Row) -> Result<()>,
) -> Result<()> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    each_at(source, name, offsets, |k, offset, again, _| {
        let mut row = match again {
            Again::Line(line) => row_of(Fields::of_line(line, &mut ranges), layout, offset, true),
            Again::Record(record) => row_of(
                Fields::of_record(record, &mut ranges),
                layout,
                offset,
                false,
            ),
        };
        visit(k, &mut row)
    })
}

/// A row read again, as it reaches [`each_at`]'s visitor.
enum Again<'a> {
    /// The row's line in UTF-8 (decoded from GB18030 or UTF-16), without its
    /// terminator: a row without a quote, of a file.
    Line(&'a [u8]),
    /// The row as the CSV reader reads it (decoded from GB18030 or UTF-16), or a
    /// sheet's row.
    Record(&'a csv::ByteRecord),
}

/// Reads again the rows that start at `offsets` of `source`, handing each to `visit`
/// with its place in `offsets`, its offset and where it ends: as its line while rows
/// hold no quote ([`each_plain_line_at`]), then, from the first that does (and for a
/// sheet, from the first row), as records.
fn each_at(
    source: &TextSource,
    name: &str,
    offsets: &[u64],
    mut visit: impl FnMut(usize, u64, Again, u64) -> Result<()>,
) -> Result<()> {
    let from = each_plain_line_at(source, name, offsets, |k, offset, line, end| {
        visit(k, offset, Again::Line(line), end)
    })?;
    let rest = &offsets[from..];
    match source {
        TextSource::Sheet(rows) => {
            for (k, &o) in rest.iter().enumerate() {
                visit(from + k, o, Again::Record(&rows[o as usize]), o + 1)?;
            }
        }
        _ if rest.is_empty() => {}
        TextSource::Decoded(opened, codec) if codec.wide().is_some() => {
            each_utf16_record_at(opened, *codec, name, rest, |k, record, end| {
                visit(from + k, rest[k], Again::Record(record), end)
            })?
        }
        _ => each_csv_record_at(source, name, rest, |k, record, end| {
            visit(from + k, rest[k], Again::Record(record), end)
        })?,
    }
    // Rows read again from a file written since are not the rows read first.
    source.check(name)
}

/// The row of `fields` read again from `offset`, to be parsed as the workers did;
/// `plain_if_so` lets its cells be only trimmed when its text is
/// [`crate::normalize::all_plain`].
fn row_of<'a>(fields: Fields<'a>, layout: &'a Layout, offset: u64, plain_if_so: bool) -> Row<'a> {
    let text = simdutf8::basic::from_utf8(fields.bytes).unwrap_or("");
    Row {
        ranges: fields.ranges,
        text,
        plain: plain_if_so && crate::normalize::all_plain(text),
        layout,
        failures: Vec::new(),
        line: 0,
        offset,
    }
}

/// Reads the records at `offsets` of a file `source` (none of a sheet) as long as they
/// hold no quote: such a record is its line, up to the first `\r` or `\n` (the CSV
/// reader's terminators), and it ends after that terminator, as the CSV reader has it.
/// A GB18030 line is found in the file's bytes (no byte of a multi-byte character is a
/// quote, a comma or a line end), a UTF-16 line in its code units, and either is then
/// decoded whole. `visit` gets each record's place in `offsets`, its offset, its line
/// (in UTF-8) and its end. Returns how many records were visited: all, or up to the
/// first with a quote (whose value may hold commas or line ends) or that does not
/// decode, for the CSV reader to go on from. Without the CSV reader's byte-by-byte
/// state machine (and decoding a field, or a record, at a time), a city's missing list
/// at midday (half the roster read again) takes a fraction of the time. (The first
/// pass finds a UTF-16 chunk's delimiters a block at a time, `split::Cutter::utf16`;
/// a row read again is one short line, where `memchr`'s candidates do.)
fn each_plain_line_at(
    source: &TextSource,
    name: &str,
    offsets: &[u64],
    mut visit: impl FnMut(usize, u64, &[u8], u64) -> Result<()>,
) -> Result<usize> {
    let codec = match source {
        TextSource::File(_) => None,
        TextSource::Decoded(_, codec) => Some(*codec),
        TextSource::Sheet(_) => return Ok(0),
    };
    let units = Units(codec.and_then(Codec::wide));
    let path = source_path(source, name);
    let mut window = Window::new(source, buffer_for(offsets))?;
    let mut text = String::new();
    for (k, &offset) in offsets.iter().enumerate() {
        let (line, end) = window
            .line_at(offset, units)
            .map_err(|e| Error::io(&path, e))?;
        if units.find(line, b'"', b'"').is_some() {
            return Ok(k);
        }
        // A line that no longer decodes (the file changed since it was parsed) is read,
        // with the rows after it, as records, as before there were lines.
        let line = match codec {
            Some(codec) if !(codec == Codec::Gb18030 && line.is_ascii()) => {
                match codec.decode_into(line, &mut text) {
                    Ok(()) => text.as_bytes(),
                    Err(_) => return Ok(k),
                }
            }
            _ => line,
        };
        visit(k, offset, line, end)?;
    }
    Ok(offsets.len())
}

/// How a file writes its ASCII characters: a byte each (UTF-8, GB18030), or a UTF-16
/// code unit each, big-endian when `Some(true)`.
#[derive(Clone, Copy)]
struct Units(Option<bool>);

impl Units {
    /// Bytes an ASCII character takes.
    fn width(self) -> usize {
        if self.0.is_some() {
            2
        } else {
            1
        }
    }

    /// Where in `bytes` (which start on a character) the first ASCII character `a` or
    /// `b` starts; in UTF-16, a code unit of that value (its high byte zero), only at a
    /// unit's place. A unit cut by the end of `bytes` is not found.
    fn find(self, bytes: &[u8], a: u8, b: u8) -> Option<usize> {
        let Some(big) = self.0 else {
            return memchr::memchr2(a, b, bytes);
        };
        // The byte of the character: a unit's first (little-endian) or second.
        let low = usize::from(big);
        let mut from = 0;
        while let Some(i) = memchr::memchr2(a, b, &bytes[from..]) {
            let i = from + i;
            let unit = i - i % 2;
            if i % 2 == low && bytes.get(unit + 1 - low) == Some(&0) {
                return Some(unit);
            }
            from = i + 1;
        }
        None
    }
}

/// A window on the bytes of a file: a buffer of the file, read again from
/// wherever a line outside it starts.
struct Window {
    /// The file, read into `buffer`.
    reader: Box<dyn ReadSeek>,
    buffer: Vec<u8>,
    /// Where the window starts in the text.
    start: u64,
    /// Whether the window reaches the end of the text.
    to_end: bool,
    /// How many bytes a read asks for: grown, up to [`KEPT_READ`], by a line longer
    /// than a read.
    size: usize,
}

impl Window {
    fn new(source: &TextSource, size: usize) -> Result<Window> {
        Ok(Window {
            to_end: false,
            reader: open_source(source, 0)?,
            buffer: Vec::new(),
            start: 0,
            size,
        })
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer
    }

    /// The line that starts at `offset`, without its terminator (the first `\r` or
    /// `\n`, written in `units`), and where it ends: after that terminator, or at the
    /// end of the text.
    fn line_at(&mut self, offset: u64, units: Units) -> std::io::Result<(&[u8], u64)> {
        let mut size = self.size;
        let (from, len, end) = loop {
            let bytes = self.bytes();
            let end = self.start + bytes.len() as u64;
            if offset >= self.start && (offset < end || self.to_end) {
                let from = (offset - self.start).min(bytes.len() as u64) as usize;
                match units.find(&bytes[from..], b'\r', b'\n') {
                    Some(i) => break (from, i, offset + (i + units.width()) as u64),
                    // Past the end of a file that shrank, the row is empty and ends
                    // where it starts, as the CSV reader has it.
                    None if self.to_end => break (from, bytes.len() - from, end.max(offset)),
                    // A line longer than a read: read it whole from its start.
                    None if from == 0 => size = (size * 2).max(bytes.len() * 2),
                    None => {}
                }
            }
            self.fill(offset, size)?;
        };
        // A file of long lines is read with reads that hold one from here on, up to
        // KEPT_READ: one row of a mebibyte must not make every read after it as long.
        self.size = self.size.max(size.min(KEPT_READ));
        Ok((&self.bytes()[from..from + len], end))
    }

    /// Reads up to `size` bytes of the file from `offset` into the buffer.
    fn fill(&mut self, offset: u64, size: usize) -> std::io::Result<()> {
        self.reader.seek(SeekFrom::Start(offset))?;
        self.buffer.clear();
        self.start = offset;
        let read = (&mut self.reader)
            .take(size as u64)
            .read_to_end(&mut self.buffer)?;
        self.to_end = read < size;
        Ok(())
    }
}

/// [`each_record_at`] through the CSV reader, for a UTF-8 or GB18030 file (whose bytes
/// the CSV reader reads as they are, every delimiter an ASCII byte of its own).
fn each_csv_record_at(
    source: &TextSource,
    name: &str,
    offsets: &[u64],
    mut visit: impl FnMut(usize, &csv::ByteRecord, u64) -> Result<()>,
) -> Result<()> {
    let path = source_path(source, name);
    let buffer = buffer_for(offsets);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(buffer)
        .from_reader(open_source(source, 0)?);
    let gb = source.codec() == Some(Codec::Gb18030);
    // A row a quarter of a buffer on is read up to rather than sought: a seek throws
    // the buffer away, and a list of every other person of a shuffled roster read the
    // file again for each row.
    let read_on = buffer as u64 / 4;
    let mut record = csv::ByteRecord::new();
    let mut end = None;
    let next = |end: Option<u64>, offset| end.is_some_and(|end| offset_follows(end, offset));
    for (k, &offset) in offsets.iter().enumerate() {
        while end.is_some_and(|end| end < offset && offset - end <= read_on) && !next(end, offset) {
            if !reader
                .read_byte_record(&mut record)
                .map_err(|e| reread_error(e, &path, name))?
            {
                break;
            }
            end = Some(reader.position().byte());
        }
        // The next row of the file needs no seek: rows asked for in file order (every
        // person of a plan) are read as one sequential pass.
        if !next(end, offset) {
            let mut position = csv::Position::new();
            position.set_byte(offset);
            reader
                .seek_raw(SeekFrom::Start(offset), position)
                .map_err(|e| match e.into_kind() {
                    csv::ErrorKind::Io(e) => Error::io(&path, e),
                    other => {
                        Error::Internal(format!("{}: seeking to a row: {other:?}", path.display()))
                    }
                })?;
        }
        reader
            .read_byte_record(&mut record)
            .map_err(|e| reread_error(e, &path, name))?;
        let at = reader.position().byte();
        end = Some(at);
        visit(k, &decoded(&record, gb), at)?;
    }
    Ok(())
}

/// [`each_record_at`] for a file in UTF-16, whose bytes the CSV reader cannot read:
/// the bytes from each record's offset on are decoded (twice as many as the record
/// before took, doubled until the record ends inside them) and the CSV reader reads the
/// record from the text. In the file it ends where the text it read ends, two bytes a
/// UTF-16 code unit ([`Codec::utf16_len`]). Rows asked for one after another are read
/// through one window of the file.
fn each_utf16_record_at(
    opened: &Arc<Opened>,
    codec: Codec,
    name: &str,
    offsets: &[u64],
    mut visit: impl FnMut(usize, &csv::ByteRecord, u64) -> Result<()>,
) -> Result<()> {
    let fail = |e: std::io::Error| Error::io(opened.path(), e);
    let size = buffer_for(offsets) as u64;
    let mut reader = opened.reader(0);
    // The window: the file's bytes from `at`, up to its end when `to_end`.
    let (mut raw, mut at, mut to_end) = (Vec::new(), 0u64, false);
    // One CSV reader for every record, of the text it is handed: building one costs
    // more than reading a record.
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::Cursor::new(String::new()));
    let mut record = csv::ByteRecord::new();
    let mut want = 512u64;
    for (k, &offset) in offsets.iter().enumerate() {
        let end = loop {
            let held = at + raw.len() as u64;
            if offset < at || (offset + want > held && !to_end) || offset > held {
                let asked = size.max(2 * want);
                reader.seek(SeekFrom::Start(offset)).map_err(fail)?;
                raw.clear();
                let read = (&mut reader)
                    .take(asked)
                    .read_to_end(&mut raw)
                    .map_err(fail)?;
                (at, to_end) = (offset, (read as u64) < asked);
            }
            let from = (offset - at) as usize;
            let till = raw.len().min(from + want as usize);
            let last = to_end && till == raw.len();
            // What does not decode (a file changed since it was read) ends the text.
            let _ = codec.decode(&raw[from..till], last, csv.get_mut().get_mut());
            csv.seek_raw(SeekFrom::Start(0), csv::Position::new())
                .map_err(|e| reread_error(e, opened.path(), name))?;
            let found = csv
                .read_byte_record(&mut record)
                .map_err(|e| reread_error(e, opened.path(), name))?;
            let used = csv.position().byte() as usize;
            let text = csv.get_ref().get_ref().as_bytes();
            // A record that reaches the end of the text may go on past it; a record
            // longer than any row the file held is a file changed since, which
            // [`each_at`] reports.
            if !found || used < text.len() || last || want > 4 * MAX_RECORD_BYTES as u64 {
                break offset + Codec::utf16_len(&text[..used]) as u64;
            }
            want *= 2;
        };
        let mut position = csv::Position::new();
        position.set_byte(offset);
        record.set_position(Some(position));
        visit(k, &record, end)?;
        want = (2 * (end - offset)).max(256);
    }
    Ok(())
}

/// Whether a record starting at `offset` is the next after one that ended at `end`. A
/// record ends before the `\n` of its `\r\n`; the reader skips that byte as an empty
/// line.
fn offset_follows(end: u64, offset: u64) -> bool {
    offset == end || offset == end + 1
}

/// `record` with its fields decoded from GB18030 when `gb`, its position kept. A field
/// that no longer decodes (the file changed since it was parsed) is kept as it is, and
/// fails as text where it is read.
fn decoded(record: &csv::ByteRecord, gb: bool) -> Cow<'_, csv::ByteRecord> {
    if !gb || record.as_slice().is_ascii() {
        return Cow::Borrowed(record);
    }
    let mut text = String::new();
    let mut fields = csv::ByteRecord::with_capacity(record.as_slice().len() * 3 / 2, record.len());
    for field in record {
        match Codec::Gb18030.decode_into(field, &mut text) {
            Ok(()) => fields.push_field(text.as_bytes()),
            Err(_) => fields.push_field(field),
        }
    }
    fields.set_position(record.position().cloned());
    Cow::Owned(fields)
}

/// The longest read a [`Window`] keeps asking for after a line longer than its reads
/// (a longer line is still read whole, with reads that grow for it alone).
const KEPT_READ: usize = 8 * 1024;

/// A small buffer for scattered rows (each seek throws it away), a large one for rows
/// that follow each other. A roster's row is some 100 to 300 bytes: read again at
/// 2 KiB a row, a city's retest and missing lists of a roster in no order (a read for
/// nearly every row) took their lists stage 0.15–0.17 s against 0.14–0.16 s at 512
/// bytes. A longer row is read again from its start, with twice the bytes
/// ([`Window::line_at`], which keeps the larger reads, up to [`KEPT_READ`], for the
/// rows after it).
fn buffer_for(offsets: &[u64]) -> usize {
    let span = match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => last.saturating_sub(*first),
        _ => 0,
    };
    if offsets.len() > 1 && span / offsets.len() as u64 <= 512 {
        64 * 1024
    } else {
        512
    }
}

fn reread_error(e: csv::Error, path: &Path, name: &str) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::io(path, e),
        other => Error::Internal(format!("{name}: reading a row again: {other:?}")),
    }
}

/// The raw text of `source` from byte `start` to `end`, without a line terminator, for
/// `rejects.csv`.
pub fn raw_text(source: &TextSource, name: &str, start: u64, end: u64) -> Result<String> {
    if let TextSource::Sheet(rows) = source {
        return Ok(record_text(&rows[start as usize]));
    }
    let path = source_path(source, name);
    let mut reader = open_source(source, start)?;
    let mut bytes = vec![0u8; (end - start) as usize];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| Error::io(&path, e))?;
    source.check(name)?;
    Ok(shown(source, &bytes, &mut String::new()))
}

/// The raw text of a row's `bytes` read from `source`: decoded when the source is (as
/// they are if they no longer decode), without a line terminator, escaped by
/// [`escape_raw`].
fn shown(source: &TextSource, bytes: &[u8], decoded: &mut String) -> String {
    let mut text = match source.codec() {
        Some(codec) if codec.decode_into(bytes, decoded).is_ok() => decoded.as_bytes(),
        _ => bytes,
    };
    while let [rest @ .., b'\n' | b'\r'] = text {
        text = rest;
    }
    escape_raw(text)
}

/// Reads rejected rows' raw text ([`RawText`]) as `rejects.csv` lists them: a file's
/// rows by line, one after another through one buffer, the file opened again only to
/// go back or to another file. The text is what [`raw_text`] gives. A file shortened
/// since its rows were read is an error naming it; one written since in any other way
/// is found by [`RawReader::finish`].
#[derive(Default)]
pub struct RawReader {
    /// The source being read, its reader, and where the reader is in it.
    open: Option<Open>,
    bytes: Vec<u8>,
    decoded: String,
    /// Each file read, with the name of its input.
    files: Vec<(Arc<Opened>, String)>,
}

/// Whether `a` and `b` are one source: one file read the same way (a roster's
/// duplicates, found late, name it apart from its other rejects), or one text.
fn same_source(a: &Arc<TextSource>, b: &Arc<TextSource>) -> bool {
    match (&**a, &**b) {
        (TextSource::File(p), TextSource::File(q))
        | (TextSource::Decoded(p, _), TextSource::Decoded(q, _)) => Arc::ptr_eq(p, q),
        _ => Arc::ptr_eq(a, b),
    }
}

/// A source open for [`RawReader`]: the source, its reader, and where the reader is.
type Open = (Arc<TextSource>, BufReader<Box<dyn ReadSeek>>, u64);

impl RawReader {
    /// The raw text of `raw`, a row of the input that rejects name `name`.
    pub fn text<'r>(&mut self, raw: &'r RawText, name: &str) -> Result<Cow<'r, str>> {
        let RawText::At {
            source,
            offset,
            len,
        } = raw
        else {
            return Ok(Cow::Borrowed(raw.held().unwrap_or_default()));
        };
        if let TextSource::Sheet(rows) = &**source {
            return Ok(Cow::Owned(record_text(&rows[*offset as usize])));
        }
        let path = source_path(source, name);
        let fail = |e: std::io::Error| Error::io(&path, e);
        let start = *offset;
        let open = match self.open.take() {
            Some((open, reader, at)) if same_source(&open, source) && at <= start => {
                (open, reader, at)
            }
            _ => {
                if let Some(opened) = source.opened() {
                    if !self.files.iter().any(|(f, _)| Arc::ptr_eq(f, opened)) {
                        self.files.push((opened.clone(), name.to_string()));
                    }
                }
                (
                    source.clone(),
                    BufReader::with_capacity(1 << 20, open_source(source, start)?),
                    start,
                )
            }
        };
        let (_, reader, at) = self.open.insert(open);
        if start > *at {
            // Within the buffer, no read at all.
            reader.seek_relative((start - *at) as i64).map_err(fail)?;
        }
        self.bytes.resize(*len as usize, 0);
        reader.read_exact(&mut self.bytes).map_err(|e| {
            fail(match e.kind() {
                std::io::ErrorKind::UnexpectedEof => std::io::Error::new(
                    e.kind(),
                    "the file changed while it was read (it is shorter now than when its rejected rows were read); run again on a file left alone",
                ),
                _ => e,
            })
        })?;
        *at = start + u64::from(*len);
        Ok(Cow::Owned(shown(source, &self.bytes, &mut self.decoded)))
    }

    /// An error unless every file read is as it was when first opened
    /// ([`Opened::check`]): rows read again from a file written since are not the rows
    /// rejected.
    pub fn finish(self) -> Result<()> {
        self.files
            .iter()
            .try_for_each(|(file, name)| file.check(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record of `text` with the offset it starts at as the first parse records
    /// it: after the line end (and any blank lines) before it.
    fn records(text: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        reader
            .byte_records()
            .map(|r| {
                let r = r.expect("a record");
                let mut start = r.position().expect("a position").byte() as usize;
                while matches!(text[start], b'\r' | b'\n') {
                    start += 1;
                }
                (start as u64, r.iter().map(<[u8]>::to_vec).collect())
            })
            .collect()
    }

    /// `text` written to `dir/name` in `codec` (UTF-8 without one), a UTF-16 file
    /// after its byte-order mark; the source that reads it, and the place in the file
    /// of each place in the text (`u64::MAX` inside a character).
    fn written(dir: &Path, name: &str, text: &str, codec: Option<Codec>) -> (TextSource, Vec<u64>) {
        let encode = |text: &str| -> Vec<u8> {
            match codec {
                None => text.as_bytes().to_vec(),
                Some(Codec::Gb18030) => encoding_rs::GB18030.encode(text).0.into_owned(),
                Some(Codec::Utf16Le) => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
                Some(Codec::Utf16Be) => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            }
        };
        let bom = codec.map_or(&b""[..], Codec::bom);
        let path = dir.join(name);
        std::fs::write(&path, [bom, &encode(text)].concat()).unwrap();
        let opened = Opened::open(&path).unwrap();
        let source = match codec {
            None => TextSource::File(opened),
            Some(codec) => TextSource::Decoded(opened, codec),
        };
        let mut places = vec![u64::MAX; text.len() + 1];
        let mut place = bom.len() as u64;
        for (at, c) in text.char_indices() {
            places[at] = place;
            place += encode(c.encode_utf8(&mut [0; 4])).len() as u64;
        }
        places[text.len()] = place;
        (source, places)
    }

    const CODINGS: [Option<Codec>; 4] = [
        None,
        Some(Codec::Gb18030),
        Some(Codec::Utf16Le),
        Some(Codec::Utf16Be),
    ];

    #[test]
    fn records_read_again_are_those_at_their_offsets_whatever_the_gaps() {
        // CRLF line ends, blank lines, quoted values holding line ends and commas,
        // Chinese (上 is 0x4E0A in UTF-16, a line feed's byte), and rows from a few
        // bytes to longer than the small buffer, so that rows asked for are read up to,
        // sought, or read one after another; in UTF-8, GB18030 and UTF-16.
        let mut text = String::from("id,name,note\r\n");
        for i in 0..400 {
            let note = "x上".repeat((i * 37) % 900);
            match i % 5 {
                0 => text.push_str(&format!("{i},\"a\r\nb,{i}\",{note}\r\n")),
                1 => text.push_str(&format!("{i},n{i},{note}\r\n\r\n")),
                _ => text.push_str(&format!("{i},n{i},{note}\r\n")),
            }
        }
        let all = records(text.as_bytes());
        let n = all.len();
        let picks: Vec<Vec<usize>> = vec![
            (0..n).collect(),
            (0..n).step_by(2).collect(),
            (1..n).step_by(2).collect(),
            (0..n).step_by(3).collect(),
            (0..n).step_by(17).collect(),
            vec![0, n - 1],
            (0..n).rev().step_by(4).collect(),
            vec![5, 6, 200, 201, 203, 7],
        ];
        let dir = tempfile::tempdir().unwrap();
        for coding in CODINGS {
            let (source, place) = written(dir.path(), "t.csv", &text, coding);
            let starts: Vec<u64> = all.iter().map(|r| place[r.0 as usize]).collect();
            for pick in &picks {
                let offsets: Vec<u64> = pick.iter().map(|&i| starts[i]).collect();
                let mut seen = Vec::new();
                each_record_at(&source, "t.csv", &offsets, |k, record, end| {
                    let fields: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
                    let case = format!("record {} of {pick:?}, {coding:?}", pick[k]);
                    assert_eq!(fields, all[pick[k]].1, "{case}");
                    // It ends at its line end: its last character, then nothing but
                    // line ends up to the next record.
                    let start = all[pick[k]].0 as usize;
                    let next = all.get(pick[k] + 1).map_or(text.len(), |r| r.0 as usize);
                    let at = (start..=next).find(|&at| place[at] == end);
                    assert!(
                        at.is_some_and(|at| {
                            at > start && text[at..next].bytes().all(|b| matches!(b, b'\r' | b'\n'))
                        }),
                        "{case} ends at {end}"
                    );
                    seen.push(k);
                    Ok(())
                })
                .unwrap();
                assert_eq!(seen, (0..pick.len()).collect::<Vec<_>>());
            }
        }
    }

    /// Each record `each_record_at` hands out at `offsets`, with where it ends.
    fn read_again(source: &TextSource, offsets: &[u64]) -> Vec<(Vec<Vec<u8>>, u64)> {
        let mut out = Vec::new();
        each_record_at(source, "t.csv", offsets, |k, record, end| {
            assert_eq!(k, out.len());
            out.push((record.iter().map(<[u8]>::to_vec).collect(), end));
            Ok(())
        })
        .unwrap();
        out
    }

    /// Rows without quotes are read as lines, not by the CSV reader: the same fields and
    /// the same ends as the CSV reader gives, from a file in UTF-8, GB18030 and UTF-16
    /// (decoded; characters of two and four bytes, and in UTF-16 units holding a line
    /// end's or a quote's byte beside another), whatever the line ends (CRLF,
    /// LF, a lone CR, which the CSV reader ends a record at), blank lines, rows longer
    /// than any buffer, no line end after the last row, and a quoted row late in the
    /// file, from which the CSV reader takes over.
    #[test]
    fn rows_read_as_lines_are_those_the_csv_reader_reads() {
        let mut text = String::from("id,name,note\n");
        for i in 0..600 {
            let note = match i {
                77 => "y".repeat(70_000),
                // Two bytes a character in GB18030 (one with a trail byte below 0x80),
                // and four for one outside the basic plane.
                _ if i % 3 == 0 => "张丂𠀀\u{a0d}∊ഢ∀".repeat((i * 53) % 1_000),
                _ => "x".repeat((i * 53) % 3_000),
            };
            match i % 7 {
                0 => text.push_str(&format!("{i},n{i},{note}\r\n")),
                1 => text.push_str(&format!("{i},n{i}\r{note},,\n\n")),
                2 if i > 500 => text.push_str(&format!("{i},\"q,{i}\",{note}\n")),
                _ => text.push_str(&format!("{i},,{note}\n")),
            }
        }
        text.push_str("last,row,without a line end");
        let all = records(text.as_bytes());
        let n = all.len();
        assert!(n > 600, "{n}");
        let dir = tempfile::tempdir().unwrap();
        let picks: Vec<Vec<usize>> = vec![
            (1..n).collect(),
            (1..n).step_by(3).collect(),
            (1..n).step_by(61).collect(),
            (1..n).rev().step_by(5).collect(),
            vec![n - 1, 1, 200, 201, 77, 78, n - 2],
        ];
        for coding in CODINGS {
            let (source, place) = written(dir.path(), "t.csv", &text, coding);
            for pick in &picks {
                let offsets: Vec<u64> = pick.iter().map(|&i| place[all[i].0 as usize]).collect();
                let mut by_csv: Vec<(Vec<Vec<u8>>, u64)> = Vec::new();
                let each = |_, record: &csv::ByteRecord, end| {
                    by_csv.push((record.iter().map(<[u8]>::to_vec).collect(), end));
                    Ok(())
                };
                match &source {
                    TextSource::Decoded(opened, codec) if codec.wide().is_some() => {
                        each_utf16_record_at(opened, *codec, "t.csv", &offsets, each)
                    }
                    _ => each_csv_record_at(&source, "t.csv", &offsets, each),
                }
                .unwrap();
                let got = read_again(&source, &offsets);
                assert_eq!(got.len(), pick.len());
                for (k, (fields, end)) in got.iter().enumerate() {
                    assert_eq!(fields, &all[pick[k]].1, "record {} {coding:?}", pick[k]);
                    assert_eq!(
                        *end, by_csv[k].1,
                        "the end of record {} {coding:?}",
                        pick[k]
                    );
                }
                // Read as lines up to the first quoted row picked.
                let lines = each_plain_line_at(&source, "t.csv", &offsets, |_, _, _, _| Ok(()));
                let first_quoted = pick.iter().position(|&i| all[i].1[1].starts_with(b"q,"));
                assert_eq!(
                    lines.unwrap(),
                    first_quoted.unwrap_or(pick.len()),
                    "{coding:?}"
                );
            }
        }
    }

    /// Rows parsed where they stand in their lines give the cells that the CSV
    /// reader's records, parsed as the workers parse them, give: plain cells, cells
    /// to clean (full-width and non-breaking spaces, a zero-width space), empty and
    /// missing cells, CRLF and LF, and quoted rows, which the CSV reader reads.
    #[test]
    fn rows_read_again_give_the_cells_of_the_csv_reader() {
        use crate::ingest::roster::COLUMNS;
        let header = ["学号", "姓名", "楼栋", "宿舍号", "手机号"];
        let layout =
            crate::ingest::header::match_header("t.csv", 1, &header.map(String::from), &COLUMNS)
                .unwrap();
        let mut text = format!("{}\r\n", header.join(","));
        for i in 0..300 {
            match i % 6 {
                0 => text.push_str(&format!("{i},张三,公寓{i},101,138{i:08}\r\n")),
                1 => text.push_str(&format!("{i},\u{3000}李 四\u{a0},公寓 {i} ,,\n")),
                2 => text.push_str(&format!(" {i} ,王\u{200b}五,公寓1\n")),
                3 if i > 200 => text.push_str(&format!("{i},\"赵,六\",公寓2,2,\n")),
                _ => text.push_str(&format!("{i},n{i},,,\n")),
            }
        }
        let all = records(text.as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let cells = |row: &mut Row| -> Vec<String> {
            (0..COLUMNS.len())
                .map(|c| row.text(c).into_owned())
                .collect()
        };
        // The cells of the CSV reader's records of the file in UTF-8.
        let (utf8, _) = written(dir.path(), "utf8.csv", &text, None);
        let offsets: Vec<u64> = all[1..].iter().map(|r| r.0).collect();
        let mut expected = Vec::new();
        let mut ranges = Vec::new();
        each_csv_record_at(&utf8, "t.csv", &offsets, |k, record, _| {
            let fields = Fields::of_record(record, &mut ranges);
            expected.push(cells(&mut row_of(fields, &layout, offsets[k], false)));
            Ok(())
        })
        .unwrap();
        assert_eq!(expected[1][1], "李 四", "{:?}", expected[1]);
        for coding in CODINGS {
            let (source, place) = written(dir.path(), "t.csv", &text, coding);
            let offsets: Vec<u64> = all[1..].iter().map(|r| place[r.0 as usize]).collect();
            let mut got = Vec::new();
            each_row_at(&source, "t.csv", &layout, &offsets, |k, row| {
                assert_eq!(k, got.len());
                got.push(cells(row));
                Ok(())
            })
            .unwrap();
            assert_eq!(got, expected, "{coding:?}");
        }
    }

    /// A row asked for past the end of a file that shrank since it was read (its
    /// window reaching the end already) is empty and ends where it starts, as the CSV
    /// reader has it, so that the text between its start and end is nothing.
    #[test]
    fn a_row_past_the_end_is_empty_and_ends_where_it_starts() {
        let text = "id,name\n1,a\n2,b\n";
        let dir = tempfile::tempdir().unwrap();
        for coding in CODINGS {
            let (source, place) = written(dir.path(), "t.csv", text, coding);
            let offsets = [place[8], 100];
            let got = read_again(&source, &offsets);
            assert_eq!(got[0], (vec![b"1".to_vec(), b"a".to_vec()], place[12]));
            assert_eq!(got[1].1, 100, "{coding:?}");
            assert!(got[1].0.concat().is_empty(), "{:?}", got[1]);
            assert_eq!(raw_text(&source, "t.csv", 100, got[1].1).unwrap(), "");
            assert_eq!(
                raw_text(&source, "t.csv", place[8], place[12]).unwrap(),
                "1,a"
            );
        }
    }

    /// Rows read again come from the file as it was opened: one replaced since by
    /// another (saved to a new file and renamed) is still read; one written since in
    /// place, with as many bytes, or touched, is an error naming its input.
    #[test]
    fn rows_read_again_are_those_of_the_file_opened_or_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, b"id,name\n1,a\n2,b\n").unwrap();
        let source = TextSource::File(Opened::open(&path).unwrap());
        let again = |source: &TextSource| records_at(source, "t.csv", &[12]);
        let first = again(&source).unwrap();
        assert_eq!(first[0].0.iter().collect::<Vec<_>>(), [b"2", b"b"]);

        let new = dir.path().join("new.csv");
        std::fs::write(&new, b"id,name\n7,x\n8,y\n").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(
            again(&source).unwrap(),
            first,
            "the file opened, not the new one"
        );
        assert_eq!(raw_text(&source, "t.csv", 12, 16).unwrap(), "2,b");
        let mut reader = RawReader::default();
        let raw = RawText::At {
            source: Arc::new(source.clone()),
            offset: 12,
            len: 4,
        };
        assert_eq!(reader.text(&raw, "t.csv").unwrap(), "2,b");
        assert!(reader.finish().is_ok());

        // Written in place, as `cp` over it writes: the same length, other rows.
        let source = TextSource::File(Opened::open(&path).unwrap());
        std::fs::write(&path, b"id,name\n1,a\n3,c\n").unwrap();
        // A moment later (a clock of coarse ticks could show the time of the last write).
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(2))
            .unwrap();
        for err in [
            again(&source).unwrap_err(),
            raw_text(&source, "t.csv", 12, 16).unwrap_err(),
        ] {
            let err = err.to_string();
            assert!(
                err.starts_with("t.csv: the file changed while it was read"),
                "{err}"
            );
            assert!(!err.contains("3,c"), "no row's text: {err}");
        }
        let mut reader = RawReader::default();
        let raw = RawText::At {
            source: Arc::new(source),
            offset: 12,
            len: 4,
        };
        reader.text(&raw, "t.csv").unwrap();
        assert!(reader.finish().is_err());
    }

    /// A reader of an opened file reads and seeks as the file would, on its own
    /// position.
    #[test]
    fn readers_of_one_file_keep_positions_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, b"0123456789").unwrap();
        let opened = Opened::open(&path).unwrap();
        let (mut a, mut b) = (opened.reader(2), opened.reader(0));
        let mut two = [0u8; 2];
        a.read_exact(&mut two).unwrap();
        b.read_exact(&mut two[..1]).unwrap();
        a.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"45");
        assert_eq!(a.seek(SeekFrom::Current(-3)).unwrap(), 3);
        assert_eq!(a.seek(SeekFrom::End(-1)).unwrap(), 9);
        let mut rest = Vec::new();
        a.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"9");
        assert!(a.seek(SeekFrom::Current(-20)).is_err());
        assert_eq!(b.stream_position().unwrap(), 1);
    }

    /// A file rewritten with as many bytes, or shortened, shows another stamp; a file
    /// only read keeps its own.
    #[test]
    fn a_file_written_or_shortened_changes_its_stamp() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"a,b\n1,2\n").unwrap();
        let read = File::open(file.path()).unwrap();
        let stamp = Stamp::of(&read).unwrap();
        let _ = std::fs::read(file.path()).unwrap();
        assert_eq!(Stamp::of(&read).unwrap(), stamp);
        let written = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::write(file.path(), b"a,b\n3,4\n").unwrap();
        file.as_file().set_modified(written).unwrap();
        let rewritten = Stamp::of(&read).unwrap();
        assert_ne!(rewritten, stamp, "as many bytes, written again");
        file.as_file().set_len(5).unwrap();
        file.as_file().set_modified(written).unwrap();
        assert_ne!(
            Stamp::of(&read).unwrap(),
            rewritten,
            "shorter, at the same time"
        );
    }
}
