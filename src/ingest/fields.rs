//! A chunk's records and their fields: split at commas and line ends where the chunk has
//! no quote; where it has, simply quoted fields read in place between their quotes, and
//! from the first record quoted otherwise, the CSV parser.

#[cfg(test)]
use super::split::Chunk;
use super::split::{byte_mask, count_lines, Text};
use crate::normalize::clean;
use std::ops::Range;

/// A record's fields: field `i` is `bytes[ranges[i]]`. `bytes` is the raw row for a
/// row read in place (the commas and any quotes stay between the fields), else the
/// unquoted fields back to back.
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

    /// The fields of `line`, a record without a quote, where they stand: split at
    /// every comma, as the CSV parser splits it; `ranges` is room for their places.
    pub(super) fn of_line(line: &'a [u8], ranges: &'a mut Vec<Range<usize>>) -> Fields<'a> {
        ranges.clear();
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', line) {
            ranges.push(start..comma);
            start = comma + 1;
        }
        ranges.push(start..line.len());
        Fields {
            bytes: line,
            ranges,
            in_place: true,
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
/// terminator) and fields of every record of `chunk` that is not blank ([`is_blank`]);
/// `quoted` says whether the chunk holds a quote.
pub(super) fn walk_records(
    chunk: Text,
    quoted: bool,
    visit: impl FnMut(u64, usize, &[u8], Fields),
) {
    if !quoted {
        walk_unquoted(chunk, visit);
    } else {
        walk_quoted(chunk, visit);
    }
}

/// [`walk_records`] for a chunk without a quote: every record is one line and every
/// comma ends a field, so the fields are found where they stand. This is what the CSV
/// parser would find: a line feed, a carriage return or both end a record, and empty
/// lines are skipped.
///
/// The commas and line ends are found in one scan of the chunk, 64 bytes at a time,
/// rather than by a search per field: fields are short, and a search has a cost to
/// start.
fn walk_unquoted(chunk: Text, mut visit: impl FnMut(u64, usize, &[u8], Fields)) {
    let bytes = chunk.bytes;
    let mut ranges: Vec<Range<usize>> = Vec::new();
    // The record being read starts at `start`, on `line`; its field at `field`.
    let (mut start, mut field, mut line) = (0usize, 0usize, chunk.first_line);
    let mut end_record = |ranges: &mut Vec<Range<usize>>, (start, field, end): Span, line| {
        // An empty record is a blank line (or the line feed of a CRLF): none.
        if end > start {
            ranges.push(field - start..end - start);
            let raw = &bytes[start..end];
            let fields = Fields {
                bytes: raw,
                ranges,
                in_place: true,
            };
            if !is_blank(fields) {
                visit(line, start, raw, fields);
            }
        }
        ranges.clear();
    };
    each_delimiter(bytes, |at| {
        if bytes[at] == b',' {
            ranges.push(field - start..at - start);
        } else {
            end_record(&mut ranges, (start, field, at), line);
            line += u64::from(bytes[at] == b'\n');
            start = at + 1;
        }
        field = at + 1;
    });
    end_record(&mut ranges, (start, field, bytes.len()), line);
}

/// Where a record starts, where its last field starts, and where it ends.
type Span = (usize, usize, usize);

/// Calls `found` with the index of every comma, line feed and carriage return in
/// `bytes`, in order, found 64 bytes at a time.
fn each_delimiter(bytes: &[u8], mut found: impl FnMut(usize)) {
    for (n, block) in bytes.chunks(64).enumerate() {
        let mut mask = byte_mask(block, [b',', b'\n', b'\r']);
        while mask != 0 {
            found(64 * n + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
    }
}

/// [`walk_records`] for a chunk with quotes. Fields quoted as exports quote them (`"…"`
/// with no quote or line feed inside, the closing quote followed by a comma or the line
/// end) are found in place, between their quotes, as the CSV parser would read them;
/// from the first record quoted otherwise, the CSV parser reads the rest of the chunk.
///
/// Like [`walk_unquoted`], it takes the commas, quotes and line ends of the chunk in one
/// scan, 64 bytes at a time: a file that quotes every value has a quote every few bytes,
/// and a look at each byte cost as much as the rest of the row's parse. Each record is
/// read as a look at its line alone would read it (the property tests' `by_line`).
fn walk_quoted(chunk: Text, mut visit: impl FnMut(u64, usize, &[u8], Fields)) {
    let bytes = chunk.bytes;
    let mut ranges: Vec<Range<usize>> = Vec::new();
    // The record being read starts at `start`, on `line`; `field` is where its field is.
    let (mut start, mut line) = (0usize, chunk.first_line);
    let mut field = Field::at(bytes, 0);
    let mut end_record = |ranges: &mut Vec<Range<usize>>, start: usize, end: usize, line| {
        // An empty record is a blank line (or the line feed of a CRLF): none.
        if end > start {
            let raw = &bytes[start..end];
            let fields = Fields {
                bytes: raw,
                ranges,
                in_place: true,
            };
            if !is_blank(fields) {
                visit(line, start, raw, fields);
            }
        }
        ranges.clear();
    };
    for (n, block) in bytes.chunks(64).enumerate() {
        let mut events = byte_mask(block, [b',', b'"', b'\r', b'\n']);
        while events != 0 {
            let p = 64 * n + events.trailing_zeros() as usize;
            events &= events - 1;
            // The quote that opens a field, and the comma after one that closes, are
            // read already.
            if p < field.from() {
                continue;
            }
            match (field, bytes[p]) {
                // A quote inside a value that does not start with one is text.
                (Field::Plain(_), b'"') | (Field::Quoted(_), b',' | b'\r') => {}
                (Field::Plain(from), b',') => {
                    ranges.push(from - start..p - start);
                    field = Field::at(bytes, p + 1);
                }
                (Field::Quoted(open), b'"') => {
                    ranges.push(open + 1 - start..p - start);
                    field = match bytes.get(p + 1) {
                        Some(b',') => Field::at(bytes, p + 2),
                        // The line end that follows ends the record.
                        Some(b'\r' | b'\n') | None => Field::Closed(p + 1),
                        // A doubled quote, or text after the closing one.
                        Some(_) => {
                            return walk_csv(chunk, (start, line), visit);
                        }
                    };
                }
                (Field::Plain(_) | Field::Closed(_), _) => {
                    if let Field::Plain(from) = field {
                        ranges.push(from - start..p - start);
                    }
                    end_record(&mut ranges, start, p, line);
                    line += u64::from(bytes[p] == b'\n');
                    start = p + 1;
                    field = Field::at(bytes, start);
                }
                // A line feed inside quotes: the parser's to read.
                (Field::Quoted(_), _) => {
                    return walk_csv(chunk, (start, line), visit);
                }
            }
        }
    }
    if start < bytes.len() {
        match field {
            Field::Plain(from) => ranges.push(from - start..bytes.len() - start),
            Field::Closed(_) => {}
            // A quote not closed by the chunk's end.
            Field::Quoted(_) => {
                return walk_csv(chunk, (start, line), visit);
            }
        }
        end_record(&mut ranges, start, bytes.len(), line);
    }
}

/// Where [`walk_quoted`] is in a record: in a value from a byte on, in one quoted from
/// its opening quote on, or after a value's closing quote (at the byte after it, which
/// ends the record).
#[derive(Clone, Copy)]
enum Field {
    Plain(usize),
    Quoted(usize),
    Closed(usize),
}

impl Field {
    /// The field that starts at byte `at`.
    fn at(bytes: &[u8], at: usize) -> Field {
        match bytes.get(at) {
            Some(b'"') => Field::Quoted(at),
            _ => Field::Plain(at),
        }
    }

    /// The first byte whose comma, quote or line end is still to be read.
    fn from(self) -> usize {
        match self {
            Field::Plain(at) | Field::Closed(at) => at,
            Field::Quoted(open) => open + 1,
        }
    }
}

/// [`walk_records`] for a chunk with quotes, through the CSV parser, from byte `from`
/// (the start of a record, on line `line`).
fn walk_csv(
    chunk: Text,
    (from, line): (usize, u64),
    mut visit: impl FnMut(u64, usize, &[u8], Fields),
) {
    let bytes = chunk.bytes;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[from..]);
    let mut record = csv::ByteRecord::new();
    let mut ranges = Vec::new();
    // `line` is the line number at byte `counted` of the chunk.
    let (mut counted, mut line) = (from, line);
    loop {
        let start = from + reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            // Only I/O or UTF-8 errors are possible with flexible byte records, and a
            // slice does not fail.
            Ok(false) | Err(_) => break,
        }
        let end = from + reader.position().byte() as usize;
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

/// A quoted value that is not written as RFC 4180 has it, found in a record's raw text:
/// the CSV parser reads it anyway (it drops the quotes and joins what follows), which
/// would change the value, or take the lines after an unclosed quote into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuoteFault {
    /// The field, counted from 0, whose quote is at fault.
    pub field: usize,
    /// Where that field's opening quote is in the raw text.
    pub opened_at: usize,
    /// Whether the quote is never closed (else text follows its closing quote).
    pub unclosed: bool,
}

/// The first quoted field of `raw` (one record, without its line end) that is not
/// closed, or whose closing quote is followed by anything but a comma or the record's
/// end (blanks aside: what cleaning a value removes). A field that does not start with a
/// quote holds any quote as text, as the CSV parser reads it.
pub fn quote_fault(raw: &[u8]) -> Option<QuoteFault> {
    let mut field = 0;
    let mut at = 0;
    while at < raw.len() {
        if raw[at] != b'"' {
            // An unquoted field: up to the next comma.
            match memchr::memchr(b',', &raw[at..]) {
                Some(k) => {
                    at += k + 1;
                    field += 1;
                    continue;
                }
                None => return None,
            }
        }
        let opened_at = at;
        let fault = move |unclosed| {
            Some(QuoteFault {
                field,
                opened_at,
                unclosed,
            })
        };
        at += 1;
        loop {
            let Some(k) = memchr::memchr(b'"', &raw[at..]) else {
                return fault(true);
            };
            at += k + 1;
            // A doubled quote is a quote in the value.
            if raw.get(at) == Some(&b'"') {
                at += 1;
                continue;
            }
            // What follows the closing quote, up to the next comma, may only be what
            // cleaning a value removes anyway (spaces of any width, zero-width marks).
            let end = memchr::memchr(b',', &raw[at..]).map_or(raw.len(), |k| at + k);
            let blank = std::str::from_utf8(&raw[at..end]).is_ok_and(|t| clean(t).is_empty());
            if !blank {
                return fault(false);
            }
            if end == raw.len() {
                return None;
            }
            at = end + 1;
            field += 1;
            break;
        }
    }
    None
}

/// Whether a record is blank: every field empty, or white space (a full-width space
/// included) once cleaned.
fn is_blank(fields: Fields) -> bool {
    // Nearly every row starts with an ID: a letter or digit settles it (inside its
    // quotes, in a file that quotes every value).
    if fields
        .iter()
        .next()
        .and_then(<[u8]>::first)
        .is_some_and(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    if is_ascii_blank(fields) {
        return true;
    }
    !fields.bytes.is_ascii()
        && fields
            .iter()
            .all(|f| std::str::from_utf8(f).is_ok_and(|t| clean(t).is_empty()))
}

/// Whether every field of a record is ASCII white space, or empty.
fn is_ascii_blank(fields: Fields) -> bool {
    fields.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::split::Bytes;
    use proptest::prelude::*;

    /// Every record `walk` finds: line, start, raw bytes and fields.
    type Found = Vec<(u64, usize, Vec<u8>, Vec<Vec<u8>>)>;

    /// What `found` finds, with whether each record was read in place.
    type InPlace = Vec<(u64, usize, Vec<u8>, Vec<Vec<u8>>, bool)>;

    /// A way to walk a chunk's records.
    type Walk = fn(Text, &mut dyn FnMut(u64, usize, &[u8], Fields));

    fn found(chunk: &Chunk, walk: Walk) -> Found {
        let mut records = Vec::new();
        walk(chunk.text(), &mut |line, start, raw, fields| {
            records.push((
                line,
                start,
                raw.to_vec(),
                fields.iter().map(<[u8]>::to_vec).collect(),
            ))
        });
        records
    }

    #[test]
    fn quotes_out_of_place_are_found() {
        let fault = |raw: &str| quote_fault(raw.as_bytes());
        for fine in [
            "a,b,c",
            "\"a\",b",
            "a,\"b,c\"",
            "a,\"say \"\"hi\"\"\",c",
            "5\"3,b",
            "a,\"\"",
            "a,\"line\nbreak\",c",
            "a,",
            "\"\"\"\"",
        ] {
            assert_eq!(fault(fine), None, "{fine:?}");
        }
        let found = |field, opened_at, unclosed| {
            Some(QuoteFault {
                field,
                opened_at,
                unclosed,
            })
        };
        assert_eq!(fault("\"P\"2,x,A"), found(0, 0, false));
        assert_eq!(fault("P3,\"a\"b\"c\",A"), found(1, 3, false));
        assert_eq!(fault("P1,\"张三,A\nP2,李四,A"), found(1, 3, true));
        assert_eq!(fault("a,\"b\" x,c"), found(1, 2, false));
        assert_eq!(fault("a,\"b\" ,c"), None);
        assert_eq!(fault("a,\"b\"\t"), None);
        assert_eq!(fault("a,\"b\"\u{3000},c"), None);
        assert_eq!(fault("a,\"b\"\u{a0}"), None);
        assert_eq!(fault("a,\"b\"\u{3000}x,c"), found(1, 2, false));
        assert_eq!(fault("a,b,\"c"), found(2, 4, true));
    }

    /// What `walk` and the CSV parser alone find in a chunk of `text`.
    fn against_csv(text: Vec<u8>, first_line: u64, walk: Walk) -> (Found, Found) {
        let chunk = Chunk {
            index: 0,
            bytes: Bytes::Read(text),
            first_line,
            offset: 0,
        };
        let csv = found(&chunk, |c, v| walk_csv(c, (0, c.first_line), v));
        (found(&chunk, walk), csv)
    }

    proptest! {
        /// Without quotes, splitting at commas and line ends finds what the CSV parser
        /// finds: the same records, lines, offsets, raw bytes and fields, blank and
        /// CR-only lines included.
        #[test]
        fn unquoted_chunks_split_as_the_csv_parser_does(
            text in prop::collection::vec(prop::sample::select(vec![b'a', b',', b'\n', b'\r', b' ', b'\t', 0xE4, 0xB8, 0x80]), 0..600),
            first_line in 1u64..5,
        ) {
            let (fast, csv) = against_csv(text, first_line, |c, v| walk_unquoted(c, v));
            prop_assert_eq!(fast, csv);
        }

        /// With quotes, fields quoted in place and the CSV parser after the first record
        /// quoted otherwise find what the CSV parser alone finds, quotes out of place,
        /// doubled, unclosed or around line ends included.
        #[test]
        fn quoted_chunks_split_as_the_csv_parser_does(
            text in prop::collection::vec(prop::sample::select(vec![b'a', b'"', b'"', b',', b'\n', b'\r', b' ', 0xE4, 0xB8, 0x80]), 0..600),
            first_line in 1u64..5,
        ) {
            let (fast, csv) = against_csv(text, first_line, |c, v| walk_quoted(c, v));
            prop_assert_eq!(fast, csv);
        }
    }

    /// A chunk of `text` from line 1.
    fn chunk_of(text: Vec<u8>) -> Chunk {
        Chunk {
            index: 0,
            bytes: Bytes::Read(text),
            first_line: 1,
            offset: 0,
        }
    }

    fn record_in_place(
        line: u64,
        start: usize,
        raw: &[u8],
        fields: Fields,
    ) -> (u64, usize, Vec<u8>, Vec<Vec<u8>>, bool) {
        let values = fields.iter().map(<[u8]>::to_vec).collect();
        (line, start, raw.to_vec(), values, fields.in_place)
    }

    /// The records [`walk_quoted`] finds in `chunk`, with whether each was read in place.
    fn in_place(chunk: &Chunk) -> InPlace {
        let mut records = Vec::new();
        walk_quoted(chunk.text(), |line, start, raw, fields| {
            records.push(record_in_place(line, start, raw, fields))
        });
        records
    }

    /// The end of the record that starts `line` (a line up to its line feed, or the
    /// chunk's end): at a carriage return, or the line's end. Its fields' places go in
    /// `ranges`, quotes left out; `None` when a field is quoted otherwise than as
    /// [`walk_quoted`] reads in place.
    fn plain_quoted_record(line: &[u8], ranges: &mut Vec<Range<usize>>) -> Option<usize> {
        ranges.clear();
        // Fields are short: a loop over the line's bytes costs less than a search per field.
        let mut at = 0;
        loop {
            let end = if line.get(at) == Some(&b'"') {
                // A quoted field ends at the next quote of its line; a line feed before it
                // is the parser's to read.
                let close = at + 1 + line[at + 1..].iter().position(|&b| b == b'"')?;
                ranges.push(at + 1..close);
                close + 1
            } else {
                let end = at
                    + line[at..]
                        .iter()
                        .position(|&b| b == b',' || b == b'\r')
                        .unwrap_or(line.len() - at);
                ranges.push(at..end);
                end
            };
            match line.get(end) {
                Some(b',') => at = end + 1,
                Some(b'\r') | None => return Some(end),
                Some(_) => return None,
            }
        }
    }

    /// The records of `chunk` read a line at a time by [`plain_quoted_record`], up to the
    /// first record it cannot read in place; the CSV parser reads the rest. With whether
    /// each record was read in place.
    fn by_line(chunk: &Chunk) -> InPlace {
        let bytes = &chunk.bytes[..];
        let mut records = Vec::new();
        let mut keep = |line, start, raw: &[u8], fields: Fields| {
            records.push(record_in_place(line, start, raw, fields))
        };
        let (mut start, mut line) = (0, chunk.first_line);
        let mut ranges = Vec::new();
        while start < bytes.len() {
            let next = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |k| start + k);
            let Some(end) =
                plain_quoted_record(&bytes[start..next], &mut ranges).map(|k| start + k)
            else {
                walk_csv(chunk.text(), (start, line), &mut keep);
                break;
            };
            let fields = Fields {
                bytes: &bytes[start..end],
                ranges: &ranges,
                in_place: true,
            };
            if end > start && !is_blank(fields) {
                keep(line, start, &bytes[start..end], fields);
            }
            line += u64::from(bytes.get(end) == Some(&b'\n'));
            start = end + 1;
        }
        records
    }

    proptest! {
        /// The scan of a whole chunk reads in place the records, and only those, that a
        /// look at each line would: the same fields, up to the same record.
        #[test]
        fn quoted_chunks_are_read_in_place_as_line_by_line(
            text in prop::collection::vec(prop::sample::select(vec![b'a', b'"', b'"', b'"', b',', b'\n', b'\r', b' ', 0xE4, 0xB8, 0x80]), 0..600),
        ) {
            let chunk = chunk_of(text);
            prop_assert_eq!(in_place(&chunk), by_line(&chunk));
        }
    }

    proptest! {
        /// Text as exports write it, mostly quoted as they quote, sometimes otherwise,
        /// over several blocks: read as a look at each line reads it, and as the CSV
        /// parser reads it.
        #[test]
        fn exported_chunks_are_read_as_line_by_line_and_as_the_csv_parser_does(
            text in crate::ingest::split::exported(),
        ) {
            let chunk = chunk_of(text.clone());
            prop_assert_eq!(in_place(&chunk), by_line(&chunk));
            let (fast, csv) = against_csv(text, 1, |c, v| walk_quoted(c, v));
            prop_assert_eq!(fast, csv);
        }
    }

    #[test]
    fn a_value_quoted_from_a_blocks_first_byte_is_read_whole() {
        // The comma before the last value is the first block's last byte.
        let text =
            b"\"\"\n\"aaaaa0000a\",0a0aa0a0,a a0aa0 0a\n\"0a0a00aaaa\",\"000a0a00a0a0\",\"\"\n";
        assert_eq!(text[63], b',');
        let chunk = chunk_of(text.to_vec());
        let records = in_place(&chunk);
        assert_eq!(records, by_line(&chunk));
        // The first record, one empty value, is blank.
        assert_eq!(records[1].3, [&b"0a0a00aaaa"[..], b"000a0a00a0a0", b""]);
    }

    #[test]
    fn chunks_quoted_as_exports_quote_are_read_in_place_across_blocks() {
        // Records of every length around the 64-byte blocks, every value quoted, CRLF.
        let mut text = Vec::new();
        for i in 0..200 {
            let value = "x".repeat(i % 70);
            text.extend_from_slice(format!("\"{i}\",\"{value}\",\"a,b\",\"\"\r\n").as_bytes());
        }
        let chunk = chunk_of(text);
        let line_by_line = by_line(&chunk);
        assert_eq!(line_by_line.len(), 200);
        assert!(line_by_line.iter().all(|r| r.4 && r.3.len() == 4));
        assert_eq!(in_place(&chunk), line_by_line);
    }

    #[test]
    fn exported_quotes_are_read_in_place_up_to_the_first_record_quoted_otherwise() {
        let text = b"\"1\",\"a,b\",\"\"\r\n\"2\",x\"y,\"\"\n\"3\",\"say \"\"hi\"\"\",z\n\"4\",\"q\",\"\"\n".to_vec();
        let chunk = Chunk {
            index: 0,
            bytes: Bytes::Read(text),
            first_line: 7,
            offset: 0,
        };
        let mut in_place = Vec::new();
        walk_quoted(chunk.text(), |line, _, _, fields| {
            in_place.push((line, fields.in_place))
        });
        // The third record doubles a quote: it and the rest go through the parser.
        assert_eq!(in_place, [(7, true), (8, true), (9, false), (10, false)]);
        let (fast, csv) = against_csv(chunk.bytes.to_vec(), 7, |c, v| walk_quoted(c, v));
        assert_eq!(fast, csv);
        assert_eq!(fast[0].3, [b"1".to_vec(), b"a,b".to_vec(), Vec::new()]);
        assert_eq!(fast[1].3, [b"2".to_vec(), b"x\"y".to_vec(), Vec::new()]);
    }
}
