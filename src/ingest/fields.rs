//! A chunk's records and their fields: split at commas and line ends where the chunk has
//! no quote, through the CSV parser where it has.

use super::split::{count_lines, Chunk};
use crate::normalize::clean;
use std::ops::Range;

/// A record's fields: field `i` is `bytes[ranges[i]]`. `bytes` is the raw row for a
/// row without quotes (the commas stay between the fields), else the unquoted fields
/// back to back.
#[derive(Clone, Copy)]
pub struct Fields<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) ranges: &'a [Range<usize>],
    /// Whether `bytes` is the raw row itself, in place in its chunk.
    pub(super) in_place: bool,
}

impl<'a> Fields<'a> {
    /// The fields of `record`, using `ranges` as room for their places.
    pub(super) fn of_record(
        record: &'a csv::ByteRecord,
        ranges: &'a mut Vec<Range<usize>>,
    ) -> Fields<'a> {
        ranges.clear();
        ranges.extend((0..record.len()).filter_map(|i| record.range(i)));
        Fields {
            bytes: record.as_slice(),
            ranges,
            in_place: false,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ranges.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.bytes[r.clone()])
    }
}

/// Calls `visit` with the line, start offset in the chunk, raw bytes (without the line
/// terminator) and fields of every non-blank record of `chunk`.
pub(super) fn walk_records(chunk: &Chunk, visit: impl FnMut(u64, usize, &[u8], Fields)) {
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
