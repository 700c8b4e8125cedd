//! Reading rows of an input again, by the byte offset where they start: for the rows of
//! which every cell is needed only at the end (people on the retest and missing lists,
//! roster duplicates), so that a city roster is not held in memory whole.

use super::encoding;
use super::fields::Fields;
use super::header::Layout;
use super::row::{escape_raw, Row};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
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
    if let TextSource::Sheet(rows) = source {
        for (k, &o) in offsets.iter().enumerate() {
            visit(k, &rows[o as usize], o + 1)?;
        }
        return Ok(());
    }
    let path = source_path(source, name);
    let buffer = buffer_for(offsets);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(buffer)
        .from_reader(open_source(source, 0)?);
    let gb = matches!(source, TextSource::Gb18030(_));
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
        match encoding::decode_gb18030_into(field, &mut text) {
            Ok(()) => fields.push_field(text.as_bytes()),
            Err(_) => fields.push_field(field),
        }
    }
    fields.set_position(record.position().cloned());
    Cow::Owned(fields)
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

/// Parses a record read again ([`each_record_at`]) as the workers did; `ranges` is
/// room for its fields' places, kept from one record to the next.
pub fn reparse<T>(
    record: &csv::ByteRecord,
    layout: &Layout,
    ranges: &mut Vec<Range<usize>>,
    parse: impl FnOnce(&mut Row) -> T,
) -> T {
    let fields = Fields::of_record(record, ranges);
    let mut row = Row {
        ranges: fields.ranges,
        text: simdutf8::basic::from_utf8(fields.bytes).unwrap_or(""),
        plain: false,
        layout,
        failures: Vec::new(),
        line: 0,
        offset: record.position().map_or(0, |p| p.byte()),
    };
    parse(&mut row)
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

    #[test]
    fn records_read_again_are_those_at_their_offsets_whatever_the_gaps() {
        // CRLF line ends, blank lines, quoted values holding line ends and commas, and
        // rows from a few bytes to longer than the small buffer, so that rows asked for
        // are read up to, sought, or read one after another.
        let mut text = String::from("id,name,note\r\n");
        for i in 0..400 {
            let note = "x".repeat((i * 37) % 900);
            match i % 5 {
                0 => text.push_str(&format!("{i},\"a\r\nb,{i}\",{note}\r\n")),
                1 => text.push_str(&format!("{i},n{i},{note}\r\n\r\n")),
                _ => text.push_str(&format!("{i},n{i},{note}\r\n")),
            }
        }
        let all = records(text.as_bytes());
        let bytes = text.into_bytes();
        let source = TextSource::Memory(Arc::new(bytes.clone()));
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
        for pick in picks {
            let offsets: Vec<u64> = pick.iter().map(|&i| all[i].0).collect();
            let mut seen = Vec::new();
            each_record_at(&source, "t.csv", &offsets, |k, record, end| {
                let fields: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
                assert_eq!(fields, all[pick[k]].1, "record {} of {pick:?}", pick[k]);
                // It ends at its line end: nothing but line ends up to the next record.
                let (start, end) = (offsets[k] as usize, end as usize);
                let next = all.get(pick[k] + 1).map_or(bytes.len(), |r| r.0 as usize);
                assert!(
                    start < end
                        && end <= next
                        && bytes[end..next].iter().all(|b| matches!(b, b'\r' | b'\n')),
                    "record {} ends at {end}",
                    pick[k]
                );
                seen.push(k);
                Ok(())
            })
            .unwrap();
            assert_eq!(seen, (0..pick.len()).collect::<Vec<_>>());
        }
    }
}
