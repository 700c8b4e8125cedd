//! Reading rows of an input again, by the byte offset where they start: for the few rows
//! of which every cell is needed only at the end (people on the retest and missing
//! lists, roster duplicates), so that a city roster is not held in memory whole.

use super::encoding;
use super::fields::Fields;
use super::header::Layout;
use super::row::{escape_raw, Row};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the text of an input is, so that rows can be read again by offset (as UTF-8).
#[derive(Clone, Debug)]
pub enum TextSource {
    /// The file itself (UTF-8); offsets are file offsets.
    File(PathBuf),
    /// The file in GB18030, decoded row by row as it is read; offsets are file offsets.
    Gb18030(PathBuf),
    /// The file decoded to UTF-8 in memory; offsets are into this text.
    Memory(Arc<Vec<u8>>),
    /// The rows of a workbook sheet; offsets are indexes into them.
    Sheet(Arc<Vec<csv::ByteRecord>>),
}

/// Something to read an input's text from.
pub(super) trait ReadSeek: Read + Seek + Send {}

impl<T: Read + Seek + Send> ReadSeek for T {}

pub(super) fn open_source(source: &TextSource, start: u64) -> Result<Box<dyn ReadSeek>> {
    Ok(match source {
        TextSource::File(path) | TextSource::Gb18030(path) => {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io(path, e))?;
            Box::new(file)
        }
        TextSource::Memory(text) => {
            let mut cursor = std::io::Cursor::new(SharedBytes(text.clone()));
            cursor.set_position(start);
            Box::new(cursor)
        }
        TextSource::Sheet(_) => return Err(Error::Internal("a sheet is not read as text".into())),
    })
}

/// Shared bytes readable through a cursor.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

pub(super) fn source_path(source: &TextSource, name: &str) -> PathBuf {
    match source {
        TextSource::File(p) | TextSource::Gb18030(p) => p.clone(),
        TextSource::Memory(_) | TextSource::Sheet(_) => PathBuf::from(name),
    }
}

/// Reads again the records that start at `offsets` of `source`, for the few rows of
/// which every cell is needed only at the end (people on the retest and missing lists,
/// roster duplicates). Returns each record with the offset where it ends, in the order
/// of `offsets`.
pub fn records_at(
    source: &TextSource,
    name: &str,
    offsets: &[u64],
) -> Result<Vec<(csv::ByteRecord, u64)>> {
    if let TextSource::Sheet(rows) = source {
        return Ok(offsets
            .iter()
            .map(|&o| (rows[o as usize].clone(), o + 1))
            .collect());
    }
    let path = source_path(source, name);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(buffer_for(offsets))
        .from_reader(open_source(source, 0)?);
    let gb = matches!(source, TextSource::Gb18030(_));
    let mut records = Vec::with_capacity(offsets.len());
    for &offset in offsets {
        // The next row of the file needs no seek: rows asked for in file order (every
        // person of a plan) are read as one sequential pass. A record ends before the
        // `\n` of its `\r\n`; the reader skips that byte as an empty line.
        if records
            .last()
            .is_some_and(|&(_, end)| offset == end || offset == end + 1)
        {
            let mut record = csv::ByteRecord::new();
            reader
                .read_byte_record(&mut record)
                .map_err(|e| reread_error(e, &path, name))?;
            records.push((decoded(record, gb), reader.position().byte()));
            continue;
        }
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
        let mut record = csv::ByteRecord::new();
        reader
            .read_byte_record(&mut record)
            .map_err(|e| reread_error(e, &path, name))?;
        records.push((decoded(record, gb), reader.position().byte()));
    }
    Ok(records)
}

/// `record` with its fields decoded from GB18030 when `gb`, its position kept. A field
/// that no longer decodes (the file changed since it was parsed) is kept as it is, and
/// fails as text where it is read.
fn decoded(record: csv::ByteRecord, gb: bool) -> csv::ByteRecord {
    if !gb || record.as_slice().is_ascii() {
        return record;
    }
    let mut text = String::new();
    let mut fields = csv::ByteRecord::with_capacity(record.as_slice().len() * 3 / 2, record.len());
    for field in &record {
        match encoding::decode_gb18030_into(field, &mut text) {
            Ok(()) => fields.push_field(text.as_bytes()),
            Err(_) => fields.push_field(field),
        }
    }
    fields.set_position(record.position().cloned());
    fields
}

/// A small buffer for scattered rows (each seek throws it away), a large one for rows
/// that follow each other.
fn buffer_for(offsets: &[u64]) -> usize {
    let span = match (offsets.first(), offsets.last()) {
        (Some(first), Some(last)) => last.saturating_sub(*first),
        _ => 0,
    };
    if offsets.len() > 1 && span / offsets.len() as u64 <= 512 {
        64 * 1024
    } else {
        2048
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
    let mut decoded = String::new();
    if matches!(source, TextSource::Gb18030(_))
        && encoding::decode_gb18030_into(text, &mut decoded).is_ok()
    {
        return Ok(escape_raw(decoded.as_bytes()));
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
