//! Cutting a CSV byte stream into chunks of whole records.
//!
//! The reader thread cuts, the workers parse, so the cutter must agree exactly with the
//! CSV parser about where a record ends, or a chunk would start inside a quoted field.
//! [`Scanner`] follows the `csv` crate's state machine (RFC 4180 with doubled quotes):
//! a quote opens a quoted field only at the start of a field; inside one, a doubled
//! quote is a literal quote and a lone quote closes it; a line feed outside a quoted
//! field ends a record.

use super::mapped::Mapping;
use memchr::memchr;
use std::io::Read;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// The largest record poolscreen reads, in bytes. A longer "record" is nearly always
/// an unterminated quote that swallowed the rest of the file.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// How many bytes the reader reads at a time; chunks are about this long.
const BLOCK_BYTES: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Finds record boundaries in a byte stream fed to it in pieces.
#[derive(Clone, Debug)]
pub struct Scanner {
    state: State,
    prev: u8,
    /// Line feeds seen so far, quoted ones included.
    lines: u64,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner {
            state: State::Unquoted,
            prev: b'\n',
            lines: 0,
        }
    }
}

impl Scanner {
    /// Scans the next piece of the stream and calls `boundary` with the index, within
    /// `bytes`, just after each line feed that ends a record, and the line feeds seen
    /// so far, that one included.
    pub fn scan(&mut self, bytes: &[u8], boundary: impl FnMut(usize, u64)) {
        self.scan_runs(bytes, true, boundary);
    }

    /// Like [`Scanner::scan`], but of a piece without a quote, started outside quotes,
    /// only the first and the last boundary are reported: all a cutter needs, found without visiting every
    /// line. A piece with quotes is scanned 64 bytes at a time ([`Scanner::scan_blocks`]):
    /// a file that quotes every field has a quote every few bytes.
    pub fn scan_ends(&mut self, bytes: &[u8], mut boundary: impl FnMut(usize, u64)) {
        if self.state == State::Unquoted && memchr(b'"', bytes).is_none() {
            self.run_boundaries(bytes, 0, false, &mut boundary);
            if let Some(&last) = bytes.last() {
                self.prev = last;
            }
        } else {
            self.scan_blocks(bytes, &mut boundary);
        }
    }

    /// [`Scanner::scan`], with the quotes and line feeds of each 64 bytes found at once
    /// ([`byte_mask`]). A block whose quotes all open or close quoted fields is taken
    /// at once ([`Scanner::block_by_parity`]); any other, event by event.
    fn scan_blocks(&mut self, bytes: &[u8], boundary: &mut impl FnMut(usize, u64)) {
        // Where the quote that may close a quoted field is, while `QuoteInQuoted`
        // (`None`: the last byte of the piece before).
        let mut closed_at: Option<usize> = None;
        for (n, block) in bytes.chunks(64).enumerate() {
            let base = 64 * n;
            let quotes = byte_mask(block, [b'"']);
            let feeds = byte_mask(block, [b'\n']);
            let prev = if base == 0 {
                self.prev
            } else {
                bytes[base - 1]
            };
            let masks = (quotes, feeds);
            if self.block_by_parity(block, base, prev, masks, &mut closed_at, boundary) {
                continue;
            }
            let mut events = quotes | feeds;
            while events != 0 {
                let p = base + events.trailing_zeros() as usize;
                events &= events - 1;
                let b = bytes[p];
                if self.state == State::QuoteInQuoted {
                    let next = closed_at.map_or(0, |c| c + 1);
                    if b == b'"' && p == next {
                        // A doubled quote: the field goes on.
                        self.state = State::Quoted;
                        continue;
                    }
                    // The field closed; this byte is read unquoted.
                    self.state = State::Unquoted;
                }
                match (self.state, b) {
                    (State::Unquoted, b'\n') | (State::Quoted, b'\n') => {
                        self.lines += 1;
                        if self.state == State::Unquoted {
                            boundary(p + 1, self.lines);
                        }
                    }
                    (State::Unquoted, _) => {
                        let prev = if p == 0 { self.prev } else { bytes[p - 1] };
                        if matches!(prev, b',' | b'\n' | b'\r') {
                            self.state = State::Quoted;
                        }
                    }
                    _ => {
                        self.state = State::QuoteInQuoted;
                        closed_at = Some(p);
                    }
                }
            }
        }
        // A quote that closed before the last byte has a byte after it that is no quote.
        if self.state == State::QuoteInQuoted
            && closed_at.map_or(!bytes.is_empty(), |c| c + 1 < bytes.len())
        {
            self.state = State::Unquoted;
        }
        if let Some(&last) = bytes.last() {
            self.prev = last;
        }
    }

    /// Takes the 64 bytes or fewer of `block` (at `base` in the piece, after the byte
    /// `prev`) at once, when each of its quotes opens a field (at its start) or closes
    /// one, as a file that quotes its values has them: every quote then turns quotes on
    /// or off, and which bytes are quoted is the running parity of the quotes before
    /// them. A doubled quote turns them off and on again. `masks` are the block's
    /// quotes and line feeds. Returns `false`, having changed nothing, for a block with
    /// a quote inside an unquoted value, which the CSV parser reads as text.
    fn block_by_parity(
        &mut self,
        block: &[u8],
        base: usize,
        prev: u8,
        (quotes, feeds): (u64, u64),
        closed_at: &mut Option<usize>,
        boundary: &mut impl FnMut(usize, u64),
    ) -> bool {
        // A quote may open a field after a comma or a line end, and right after the
        // quote that closed one (a doubled quote); at the block's start, after a quote
        // only when that quote closed a field and nothing has come since.
        let closed_just_before =
            self.state == State::QuoteInQuoted && closed_at.map_or(0, |c| c + 1) == base;
        let first = closed_just_before || matches!(prev, b',' | b'\n' | b'\r');
        let opens_after = byte_mask(block, [b',', b'\n', b'\r']) | quotes;
        let may_open = (opens_after << 1) | u64::from(first);
        // Bit k: byte k is inside quotes (a quote that opens counts as inside, one that
        // closes as outside).
        let start = if self.state == State::Quoted { !0 } else { 0 };
        let inside = prefix_xor(quotes) ^ start;
        if quotes & inside & !may_open != 0 {
            return false;
        }
        let mut each = feeds;
        while each != 0 {
            let k = each.trailing_zeros();
            each &= each - 1;
            self.lines += 1;
            if inside >> k & 1 == 0 {
                boundary(base + k as usize + 1, self.lines);
            }
        }
        let last = block.len() - 1;
        if inside >> last & 1 == 1 {
            self.state = State::Quoted;
        } else if quotes != 0 {
            // Outside quotes at the end: the block's last quote closed a field.
            self.state = State::QuoteInQuoted;
            *closed_at = Some(base + 63 - quotes.leading_zeros() as usize);
        } else {
            // No quote, or none after a quote that closed before the block.
            self.state = State::Unquoted;
        }
        true
    }

    fn scan_runs(&mut self, bytes: &[u8], every: bool, mut boundary: impl FnMut(usize, u64)) {
        let mut i = 0;
        while i < bytes.len() {
            match self.state {
                State::Unquoted => {
                    let run = &bytes[i..];
                    let span = memchr(b'"', run).unwrap_or(run.len());
                    self.run_boundaries(&run[..span], i, every, &mut boundary);
                    let p = i + span;
                    if p < bytes.len() {
                        let prev = if p == 0 { self.prev } else { bytes[p - 1] };
                        if matches!(prev, b',' | b'\n' | b'\r') {
                            self.state = State::Quoted;
                        }
                    }
                    i = p + 1;
                }
                State::Quoted => {
                    let span = memchr(b'"', &bytes[i..]).unwrap_or(bytes.len() - i);
                    self.lines += count_lines(&bytes[i..i + span]);
                    if i + span < bytes.len() {
                        self.state = State::QuoteInQuoted;
                    }
                    i += span + 1;
                }
                State::QuoteInQuoted => {
                    if bytes[i] == b'"' {
                        self.state = State::Quoted;
                        i += 1;
                    } else {
                        // The quoted field has closed; this byte is read unquoted.
                        self.state = State::Unquoted;
                    }
                }
            }
        }
        if let Some(&last) = bytes.last() {
            self.prev = last;
        }
    }

    /// Reports the boundaries in `run`, unquoted text at `base` in the piece: every
    /// line feed ends a record.
    fn run_boundaries(
        &mut self,
        run: &[u8],
        base: usize,
        every: bool,
        boundary: &mut impl FnMut(usize, u64),
    ) {
        if every {
            for k in memchr::memchr_iter(b'\n', run) {
                self.lines += 1;
                boundary(base + k + 1, self.lines);
            }
            return;
        }
        let Some(first) = memchr(b'\n', run) else {
            return;
        };
        self.lines += 1;
        boundary(base + first + 1, self.lines);
        let last = memchr::memrchr(b'\n', run).unwrap_or(first);
        if last > first {
            self.lines += count_lines(&run[first + 1..=last]);
            boundary(base + last + 1, self.lines);
        }
    }

    /// Line feeds seen so far, quoted ones included.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Whether the stream so far ends inside a quoted field.
    pub fn in_quotes(&self) -> bool {
        self.state == State::Quoted
    }
}

/// Bit `k` is the parity of the bits `0..=k` of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// Bit `k` is set where `block[k]` (at most 64 bytes) is one of `bytes`: the
/// delimiters of a block found at once, with SSE2 where the block is whole.
pub fn byte_mask<const N: usize>(block: &[u8], bytes: [u8; N]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Ok(block) = <&[u8; 64]>::try_from(block) {
        use std::arch::x86_64::*;
        let mut mask = 0u64;
        for (k, part) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is part of every x86_64 CPU, and `part` holds the 16 bytes
            // the unaligned load reads.
            let bits = unsafe {
                let v = _mm_loadu_si128(part.as_ptr().cast());
                let hit = bytes.iter().fold(_mm_setzero_si128(), |hit, &b| {
                    _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)))
                });
                _mm_movemask_epi8(hit) as u16
            };
            mask |= u64::from(bits) << (16 * k);
        }
        return mask;
    }
    block
        .iter()
        .enumerate()
        .fold(0, |mask, (k, b)| mask | (u64::from(bytes.contains(b)) << k))
}

/// A run of whole records, cut from an input.
#[derive(Debug)]
pub struct Chunk {
    /// The chunk's place in the file, starting at `0`.
    pub index: usize,
    /// The records' bytes, line terminators included.
    pub bytes: Bytes,
    /// The line number, starting at `1`, of the chunk's first byte.
    pub first_line: u64,
    /// The byte offset in the file of the chunk's first byte.
    pub offset: u64,
}

impl Chunk {
    /// The chunk with its bytes copied into `buffer` (emptied first): a chunk that
    /// owns its bytes.
    pub fn copied(&self, mut buffer: Vec<u8>) -> Chunk {
        buffer.clear();
        buffer.extend_from_slice(&self.bytes);
        Chunk {
            index: self.index,
            bytes: Bytes::Read(buffer),
            first_line: self.first_line,
            offset: self.offset,
        }
    }

    /// The chunk's bytes as text to walk.
    pub fn text(&self) -> Text<'_> {
        Text {
            bytes: &self.bytes,
            first_line: self.first_line,
        }
    }

    /// The buffer of a chunk read into one (empty for a mapped chunk).
    pub fn into_buffer(self) -> Vec<u8> {
        match self.bytes {
            Bytes::Read(buffer) => buffer,
            Bytes::Mapped(_) => Vec::new(),
        }
    }
}

/// Records to walk ([`super::fields::walk_records`]): a chunk's bytes, or the text they
/// decode to, and the line number of the first byte.
#[derive(Clone, Copy)]
pub struct Text<'a> {
    /// The records, line terminators included.
    pub bytes: &'a [u8],
    /// The line number, starting at `1`, of the first byte.
    pub first_line: u64,
}

/// A chunk's bytes: read into a buffer of its own, or a range of a file mapped into
/// memory ([`Mapping`]).
#[derive(Debug)]
pub enum Bytes {
    /// A buffer, handed back to the reader for the next chunks once the chunk is done
    /// with ([`Cutter::recycle`]).
    Read(Vec<u8>),
    /// A range of a mapped file, whose pages are dropped from the process when the
    /// chunk is.
    Mapped(Mapped),
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Read(buffer) => buffer,
            Bytes::Mapped(m) => &m.file.bytes()[m.range.clone()],
        }
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// A range of a mapped file (see [`Bytes::Mapped`]).
#[derive(Debug)]
pub struct Mapped {
    file: Arc<Mapping>,
    range: Range<usize>,
}

impl Drop for Mapped {
    fn drop(&mut self) {
        self.file.release(self.range.clone());
    }
}

/// Where a [`Cutter`]'s bytes come from.
enum Feed<R> {
    /// Read from `reader` onto `carry`, the bytes read and not yet handed out.
    Read {
        reader: R,
        carry: Vec<u8>,
        /// Buffers of parsed chunks handed back for reuse, so that every chunk does not
        /// cost a fresh allocation and its page faults.
        spares: Option<crossbeam_channel::Receiver<Vec<u8>>>,
    },
    /// A mapped file, whose bytes `start..end` are those not yet handed out.
    Mapped {
        file: Arc<Mapping>,
        start: usize,
        end: usize,
    },
}

impl<R> Feed<R> {
    /// The bytes read and not yet handed out.
    fn carry(&self) -> &[u8] {
        match self {
            Feed::Read { carry, .. } => carry,
            Feed::Mapped { file, start, end } => &file.bytes()[*start..*end],
        }
    }
}

/// Why cutting stopped.
#[derive(Debug)]
pub enum CutError {
    /// Reading failed.
    Io(std::io::Error),
    /// A record grew past [`MAX_RECORD_BYTES`]; it started on this line.
    RecordTooLong {
        /// The line, starting at `1`, where the record started.
        line: u64,
        /// Whether the record is inside a quoted field.
        in_quotes: bool,
    },
}

/// Reads a stream and hands out chunks of whole records.
pub struct Cutter<R> {
    /// The bytes read and not yet handed out (the carry) always start at a record
    /// boundary.
    feed: Feed<R>,
    scanner: Scanner,
    /// End of the first complete record in `carry`, or `0`.
    first_boundary: usize,
    /// End of the last complete record in `carry`, or `0`.
    last_boundary: usize,
    /// Line feeds in `carry` up to `first_boundary` and `last_boundary`.
    first_lines: u64,
    last_lines: u64,
    next_index: usize,
    next_line: u64,
    next_offset: u64,
    eof: bool,
    /// Whether the stream is UTF-16, and then whether big-endian ([`Cutter::utf16`]).
    wide: Option<bool>,
    /// The code units of the bytes scanned last, each as one byte ([`narrow`]).
    narrowed: Vec<u8>,
}

impl<R: Read> Cutter<R> {
    /// Reuses the buffers that arrive on `spares` for later chunks.
    /// (A cutter of a mapped file hands out no buffers.)
    pub fn recycle(mut self, buffers: crossbeam_channel::Receiver<Vec<u8>>) -> Cutter<R> {
        if let Feed::Read { spares, .. } = &mut self.feed {
            *spares = Some(buffers);
        }
        self
    }

    /// A cutter over `reader`, whose first byte is at `offset` in the file.
    pub fn new(reader: R, offset: u64) -> Cutter<R> {
        Cutter::of(
            Feed::Read {
                reader,
                carry: Vec::new(),
                spares: None,
            },
            offset,
        )
    }

    /// A cutter over the bytes of `file` from `offset` on (at most its length).
    pub fn mapped(file: Arc<Mapping>, offset: usize) -> Cutter<R> {
        let start = offset.min(file.bytes().len());
        Cutter::of(
            Feed::Mapped {
                file,
                start,
                end: start,
            },
            start as u64,
        )
    }

    /// Cuts a stream of UTF-16 (big-endian or not), from a code unit on: its records
    /// are found on its code units, each scanned as one byte ([`narrow`]), so that a
    /// byte of a character that reads as a line feed, a quote or a comma (上 is 0x4E0A)
    /// is none. Every boundary is then after a whole unit.
    pub fn utf16(mut self, big_endian: bool) -> Cutter<R> {
        self.wide = Some(big_endian);
        self
    }

    fn of(feed: Feed<R>, offset: u64) -> Cutter<R> {
        Cutter {
            feed,
            scanner: Scanner::default(),
            first_boundary: 0,
            last_boundary: 0,
            first_lines: 0,
            last_lines: 0,
            next_index: 0,
            next_line: 1,
            next_offset: offset,
            eof: false,
            wide: None,
            narrowed: Vec::new(),
        }
    }

    fn carry(&self) -> &[u8] {
        self.feed.carry()
    }

    /// The next chunk, or `None` at the end of the stream. With `first_record_only`,
    /// the chunk holds just the next record (used for the header row).
    pub fn next_chunk(&mut self, first_record_only: bool) -> Result<Option<Chunk>, CutError> {
        loop {
            let carried = self.carry().len();
            if carried - self.last_boundary > MAX_RECORD_BYTES {
                return Err(CutError::RecordTooLong {
                    line: self.next_line + self.last_lines,
                    in_quotes: self.scanner.in_quotes(),
                });
            }
            if first_record_only && self.first_boundary > 0 {
                return Ok(Some(self.take(self.first_boundary, self.first_lines)));
            }
            if self.last_boundary > 0 && !first_record_only && (self.eof || carried >= BLOCK_BYTES)
            {
                return Ok(Some(self.take(self.last_boundary, self.last_lines)));
            }
            if self.eof {
                if carried == 0 {
                    return Ok(None);
                }
                let lines = self.scanner.lines();
                return Ok(Some(self.take(carried, lines)));
            }
            self.fill()?;
        }
    }

    /// Reads the next block onto the carry, straight into its spare room: zeroing a
    /// block first for `read` to overwrite cost as much as the kernel's copy of a cached
    /// file. Of a mapped file, the next block's pages are only mapped in.
    fn fill(&mut self) -> Result<(), CutError> {
        let start = self.carry().len();
        match &mut self.feed {
            Feed::Read { reader, carry, .. } => {
                carry.reserve(BLOCK_BYTES);
                let mut block = reader.take(BLOCK_BYTES as u64);
                match block.read_to_end(carry) {
                    // Short of a block only at the end of the input.
                    Ok(n) => self.eof = n < BLOCK_BYTES,
                    Err(e) => {
                        carry.truncate(start);
                        return Err(CutError::Io(e));
                    }
                }
            }
            Feed::Mapped { file, end, .. } => {
                let to = (*end + BLOCK_BYTES).min(file.bytes().len());
                file.load(*end..to);
                *end = to;
                self.eof = to == file.bytes().len();
            }
        }
        self.scan_from(start);
        Ok(())
    }

    /// Scans `carry[from..]`, continuing the scanner's state, and records boundaries.
    /// Of UTF-16, `from` is at a code unit: blocks are read a mebibyte at a time, and
    /// the carry starts at a boundary.
    fn scan_from(&mut self, from: usize) {
        let (mut first, mut last) = (self.first_boundary, self.last_boundary);
        let (mut first_lines, mut last_lines) = (self.first_lines, self.last_lines);
        let bytes = &self.feed.carry()[from..];
        let (scanned, width) = match self.wide {
            None => (bytes, 1),
            Some(big_endian) => {
                narrow(bytes, big_endian, &mut self.narrowed);
                (&self.narrowed[..], 2)
            }
        };
        self.scanner.scan_ends(scanned, |b, lines| {
            if first == 0 {
                first = from + width * b;
                first_lines = lines;
            }
            last = from + width * b;
            last_lines = lines;
        });
        self.first_boundary = first;
        self.last_boundary = last;
        self.first_lines = first_lines;
        self.last_lines = last_lines;
    }

    /// Hands out `carry[..end]`, which holds `lines` line feeds.
    fn take(&mut self, end: usize, lines: u64) -> Chunk {
        let bytes = match &mut self.feed {
            Feed::Read { carry, spares, .. } => {
                let mut rest = spares
                    .as_ref()
                    .and_then(|s| s.try_recv().ok())
                    .unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(&carry[end..]);
                carry.truncate(end);
                Bytes::Read(std::mem::replace(carry, rest))
            }
            Feed::Mapped { file, start, .. } => {
                let range = *start..*start + end;
                *start += end;
                Bytes::Mapped(Mapped {
                    file: file.clone(),
                    range,
                })
            }
        };
        let chunk = Chunk {
            index: self.next_index,
            first_line: self.next_line,
            offset: self.next_offset,
            bytes,
        };
        self.next_index += 1;
        self.next_line += lines;
        self.next_offset += chunk.bytes.len() as u64;
        // The carry now starts at a record boundary: scan it afresh.
        self.scanner = Scanner::default();
        self.first_boundary = 0;
        self.last_boundary = 0;
        self.first_lines = 0;
        self.last_lines = 0;
        self.scan_from(0);
        chunk
    }
}

/// The code units of UTF-16 `bytes` (big-endian or not), each as one byte into `out`
/// (emptied first), that is a delimiter only where the unit is that character: a unit
/// up to 0xFF as its low byte, one from 0x8000 on as 0, any other as 0xFF (a saturating
/// pack, 16 units at a time with SSE2). A last odd byte is left out.
fn narrow(bytes: &[u8], big_endian: bool, out: &mut Vec<u8>) {
    let one = |unit: &[u8]| {
        let unit = match big_endian {
            true => u16::from_be_bytes([unit[0], unit[1]]),
            false => u16::from_le_bytes([unit[0], unit[1]]),
        };
        match unit {
            0..=0xFF => unit as u8,
            0x8000.. => 0,
            _ => 0xFF,
        }
    };
    out.clear();
    out.reserve(bytes.len() / 2);
    // The bytes narrowed 16 units at a time; the rest one by one.
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    for block in bytes.chunks_exact(32) {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of every x86_64 CPU; the loads read the block's 32
        // bytes, and the store writes 16 bytes into room reserved above.
        unsafe {
            let mut a = _mm_loadu_si128(block.as_ptr().cast());
            let mut b = _mm_loadu_si128(block.as_ptr().add(16).cast());
            if big_endian {
                a = _mm_or_si128(_mm_slli_epi16(a, 8), _mm_srli_epi16(a, 8));
                b = _mm_or_si128(_mm_slli_epi16(b, 8), _mm_srli_epi16(b, 8));
            }
            let len = out.len();
            _mm_storeu_si128(out.as_mut_ptr().add(len).cast(), _mm_packus_epi16(a, b));
            out.set_len(len + 16);
        }
        done += 32;
    }
    out.extend(bytes[done..].chunks_exact(2).map(one));
}

/// The number of line feeds in `bytes`.
pub fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
/// Text as exports write it, every value or some quoted, Chinese among ASCII, with now
/// and then what breaks the quotes' parity: a quote inside an unquoted value, text
/// after a closing quote, a doubled quote, a quoted line end, a carriage return alone.
pub(crate) fn exported() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let value = prop_oneof![
        8 => "[a-z0-9张三]{0,12}".prop_map(|v| format!("\"{v}\"")),
        3 => "[a-z0-9 张]{0,12}",
        1 => "[a-z\",\r\n]{0,6}".prop_map(|v| format!("\"{}\"", v.replace('"', "\"\""))),
        1 => "[a-z\"]{1,4}",
        1 => "[a-z]{1,3}".prop_map(|v| format!("\"{v}\"{v}")),
    ];
    // Line ends of Windows and Unix, and now and then a carriage return alone.
    let end = prop_oneof![4 => Just("\r\n"), 4 => Just("\n"), 1 => Just("\r")];
    let record = (prop::collection::vec(value, 1..8), end)
        .prop_map(|(values, end)| format!("{}{end}", values.join(",")));
    prop::collection::vec(record, 0..40).prop_map(|records| records.concat().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with quoted line feeds and commas, long enough for several chunks.
    fn text() -> Vec<u8> {
        let mut t = b"a,b,c\n".to_vec();
        for i in 0..120_000 {
            match i % 5 {
                0 => t.extend_from_slice(format!("{i},\"two\nlines\",x\n").as_bytes()),
                1 => t.extend_from_slice(format!("{i},\"a,\"\"q\"\"\",y\r\n").as_bytes()),
                2 => t.extend_from_slice(b"\n"),
                _ => t.extend_from_slice(format!("{i},plain,z\n").as_bytes()),
            }
        }
        t
    }

    #[test]
    fn chunks_are_whole_records_with_exact_first_lines() {
        let input = text();
        assert_cuts_whole_records(&input, &input[..]);
    }

    /// A reader that hands out at most 4,093 bytes a call, and is interrupted at every
    /// fifth, as a pipe or a slow disk may be; then fails, if told to, at byte `fail_at`.
    struct Trickle<'a> {
        rest: &'a [u8],
        calls: usize,
        fail_at: Option<usize>,
        read: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(5) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            if self.fail_at.is_some_and(|at| self.read >= at) {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = buf.len().min(self.rest.len()).min(4093);
            buf[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            self.read += n;
            Ok(n)
        }
    }

    #[test]
    fn short_and_interrupted_reads_are_not_the_end_of_the_input() {
        let input = text();
        let trickle = |fail_at| Trickle {
            rest: &input,
            calls: 0,
            fail_at,
            read: 0,
        };
        assert_cuts_whole_records(&input, trickle(None));
        let mut cutter = Cutter::new(trickle(Some(BLOCK_BYTES + 10)), 0);
        let failed = loop {
            match cutter.next_chunk(false) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the failed read was taken for the end of the input"),
                Err(e) => break e,
            }
        };
        assert!(matches!(failed, CutError::Io(_)));
    }

    /// Cuts all of `reader` (whose bytes are `input`) and checks every chunk.
    fn assert_cuts_whole_records(input: &[u8], reader: impl Read) {
        assert_cutter_cuts_whole_records(input, Cutter::new(reader, 0));
    }

    /// Cuts all of `cutter` (over `input`) and checks every chunk.
    fn assert_cutter_cuts_whole_records<R: Read>(input: &[u8], mut cutter: Cutter<R>) {
        let mut joined = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = cutter.next_chunk(false).unwrap() {
            assert_eq!(chunk.offset as usize, joined.len());
            assert_eq!(
                chunk.first_line,
                1 + count_lines(&joined),
                "chunk {}",
                chunk.index
            );
            // A chunk ends after a record: parsing it alone gives whole records.
            assert!(chunk.bytes.ends_with(b"\n"));
            joined.extend_from_slice(&chunk.bytes);
            chunks += 1;
        }
        assert_eq!(joined, input);
        assert!(chunks > 1, "the text spans several chunks");
    }

    /// The bytes of UTF-16 `units`, big-endian or not.
    fn utf16_bytes(units: impl Iterator<Item = u16>, big_endian: bool) -> Vec<u8> {
        units
            .flat_map(|u| match big_endian {
                true => u.to_be_bytes(),
                false => u.to_le_bytes(),
            })
            .collect()
    }

    /// The UTF-16 unit of `bytes`, big-endian or not.
    fn utf16_unit(bytes: [u8; 2], big_endian: bool) -> u16 {
        match big_endian {
            true => u16::from_be_bytes(bytes),
            false => u16::from_le_bytes(bytes),
        }
    }

    /// Narrowed 16 units at a time or one by one, a unit is the same byte: a delimiter
    /// only where the unit is one.
    #[test]
    fn every_utf16_unit_narrows_to_a_delimiter_only_if_it_is_one() {
        let units: Vec<u16> = (0..=u16::MAX).collect();
        for big_endian in [false, true] {
            let bytes = utf16_bytes(units.iter().copied(), big_endian);
            // Whole blocks, and a tail of every length up to a block's.
            for skip in [0, 2, 6, 30] {
                let mut out = vec![1, 2, 3];
                narrow(&bytes[skip..], big_endian, &mut out);
                assert_eq!(out.len(), units.len() - skip / 2);
                for (&unit, &byte) in units[skip / 2..].iter().zip(&out) {
                    let delimiter = |b: u8| matches!(b, b'"' | b',' | b'\n' | b'\r');
                    assert_eq!(
                        delimiter(byte),
                        unit < 0x80 && delimiter(unit as u8),
                        "unit {unit:#06x}, big-endian {big_endian}"
                    );
                    if unit < 0x80 {
                        assert_eq!(byte, unit as u8);
                    }
                }
            }
            let mut out = Vec::new();
            narrow(&bytes[..5], big_endian, &mut out);
            assert_eq!(out.len(), 2, "a last odd byte is left out");
        }
    }

    /// UTF-16 is cut on its code units: every chunk, decoded, ends where the same text
    /// in UTF-8 has a boundary, though its characters hold bytes that read as a line
    /// feed, a carriage return, a quote or a comma (上 0x4E0A, ഊ 0x0D0A, 丢 0x4E22, 丬
    /// 0x4E2C, ਊ 0x0A0A) and quoted values hold line ends; read in blocks and mapped.
    #[test]
    fn utf16_is_cut_on_its_code_units_into_whole_records() {
        let mut text = String::from("a,b,c\n");
        for i in 0..150_000 {
            match i % 6 {
                0 => text.push_str(&format!("{i},\"上\n丢\",ഊ\n")),
                1 => text.push_str(&format!("{i},\"丬,\"\"ਊ\"\"\",𠀀\r\n")),
                2 => text.push('\n'),
                3 => text.push_str(&format!("{i},上丢,\"\"\n")),
                _ => text.push_str(&format!("{i},ഊ上,丬\n")),
            }
        }
        let mut boundaries = std::collections::HashSet::new();
        Scanner::default().scan(text.as_bytes(), |b, _| {
            boundaries.insert(b);
        });
        for big_endian in [false, true] {
            let bytes = utf16_bytes(text.encode_utf16(), big_endian);
            let (_file, map) = mapped(&bytes);
            let cutters = [
                Cutter::new(&bytes[..], 0).utf16(big_endian),
                Cutter::<&[u8]>::mapped(map, 0).utf16(big_endian),
            ];
            for mut cutter in cutters {
                let (mut decoded, mut chunks) = (String::new(), 0);
                while let Some(chunk) = cutter.next_chunk(false).unwrap() {
                    assert_eq!(chunk.offset, 2 * decoded.encode_utf16().count() as u64);
                    assert_eq!(chunk.first_line, 1 + count_lines(decoded.as_bytes()));
                    let units: Vec<u16> = chunk
                        .bytes
                        .chunks_exact(2)
                        .map(|u| utf16_unit([u[0], u[1]], big_endian))
                        .collect();
                    decoded.push_str(&String::from_utf16(&units).unwrap());
                    assert!(
                        boundaries.contains(&decoded.len()) || decoded.len() == text.len(),
                        "chunk {} ends inside a record",
                        chunk.index
                    );
                    chunks += 1;
                }
                assert_eq!(decoded, text);
                assert!(chunks > 3, "the text spans several chunks");
            }
        }
    }

    #[test]
    fn a_copied_chunk_has_the_bytes_and_place_of_the_mapped_one() {
        let input = text();
        let (_file, map) = mapped(&input);
        let mut cutter = Cutter::<&[u8]>::mapped(map, 0);
        cutter.next_chunk(true).unwrap();
        let chunk = cutter.next_chunk(false).unwrap().unwrap();
        let own = chunk.copied(vec![b'?'; 5]);
        assert!(matches!(own.bytes, Bytes::Read(_)));
        assert_eq!(
            (own.index, own.first_line, own.offset, &own.bytes[..]),
            (
                chunk.index,
                chunk.first_line,
                chunk.offset,
                &chunk.bytes[..]
            )
        );
        assert_eq!(own.into_buffer(), chunk.bytes.to_vec());
    }

    /// `text` in a file, mapped.
    fn mapped(text: &[u8]) -> (tempfile::NamedTempFile, Arc<Mapping>) {
        use std::io::Write;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text).unwrap();
        let map = Mapping::of(file.as_file()).expect("a regular file maps");
        (file, Arc::new(map))
    }

    /// A mapped file is cut where the same bytes read are, chunk for chunk, from its
    /// start or from an offset (after a byte-order mark), with a last record with or
    /// without its line feed, and a file that is one long record.
    #[test]
    fn a_mapped_file_is_cut_as_the_same_bytes_read() {
        let mut inputs = vec![text(), b"\xEF\xBB\xBFa,b\n1,2\n3,\"x\ny\"".to_vec()];
        let mut long = b"a\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES - 10));
        long.push(b'\n');
        inputs.push(long);
        // Files of exactly whole blocks, and a byte more or less: the last block ends
        // where the file does.
        for len in [2 * BLOCK_BYTES - 1, 2 * BLOCK_BYTES, 2 * BLOCK_BYTES + 1] {
            let mut exact = b"h\n".to_vec();
            exact.extend(
                (0..)
                    .map(|i| if i % 37 == 36 { b'\n' } else { b'x' })
                    .take(len - 3),
            );
            exact.push(b'\n');
            assert_eq!(exact.len(), len);
            inputs.push(exact);
        }
        for input in &inputs {
            let (_file, map) = mapped(input);
            for offset in [0, 3] {
                let cut = |mut cutter: Cutter<&[u8]>| {
                    let mut chunks = vec![];
                    let header = cutter.next_chunk(true).unwrap().unwrap();
                    chunks.push((
                        header.index,
                        header.first_line,
                        header.offset,
                        header.bytes.to_vec(),
                    ));
                    while let Some(c) = cutter.next_chunk(false).unwrap() {
                        chunks.push((c.index, c.first_line, c.offset, c.bytes.to_vec()));
                    }
                    chunks
                };
                let read = cut(Cutter::new(&input[offset..], offset as u64));
                assert_eq!(cut(Cutter::mapped(map.clone(), offset)), read);
                assert!(read.len() > 1 || offset > 0, "a header and records");
            }
        }
        let input = text();
        let (_file, map) = mapped(&input);
        assert_cutter_cuts_whole_records(&input, Cutter::<&[u8]>::mapped(map, 0));
    }

    #[test]
    fn an_unclosed_quote_in_a_mapped_file_is_a_record_too_long() {
        let mut input = b"a,b\n1,\"never closed\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        let (_file, map) = mapped(&input);
        let mut cutter = Cutter::<&[u8]>::mapped(map, 0);
        cutter.next_chunk(true).unwrap();
        assert!(matches!(
            cutter.next_chunk(false),
            Err(CutError::RecordTooLong {
                line: 2,
                in_quotes: true
            })
        ));
    }

    #[test]
    fn the_header_is_cut_alone() {
        let input = b"h1,\"h\n2\"\nv1,v2\n";
        let mut cutter = Cutter::new(&input[..], 0);
        let header = cutter.next_chunk(true).unwrap().unwrap();
        assert_eq!(&header.bytes[..], b"h1,\"h\n2\"\n");
        let rest = cutter.next_chunk(false).unwrap().unwrap();
        assert_eq!((rest.first_line, &rest.bytes[..]), (3, &b"v1,v2\n"[..]));
    }

    #[test]
    fn byte_masks_mark_the_bytes_asked_for_in_whole_and_partial_blocks() {
        let text: Vec<u8> = (0..200u32)
            .map(|i| b"a,\"\n\rb"[(i * 7 % 6) as usize])
            .collect();
        for len in [0, 1, 17, 63, 64] {
            for block in text.chunks(64).map(|b| &b[..len.min(b.len())]) {
                let want = block.iter().enumerate().fold(0u64, |m, (k, b)| {
                    m | (u64::from(matches!(b, b'"' | b'\n')) << k)
                });
                assert_eq!(byte_mask(block, [b'"', b'\n']), want);
                assert_eq!(
                    byte_mask(block, [b',', b'\n', b'\r']).count_ones(),
                    block
                        .iter()
                        .filter(|b| matches!(b, b',' | b'\n' | b'\r'))
                        .count() as u32
                );
            }
        }
    }

    proptest::proptest! {
        /// The scan that takes blocks of quotes by their parity reports the boundaries
        /// and line counts of the scan that follows every quote, whatever the pieces.
        #[test]
        fn quoted_blocks_are_scanned_as_quote_by_quote(
            text in exported(),
            a in proptest::prelude::any::<proptest::sample::Index>(),
            b in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            // Two cuts anywhere in the text, its ends included.
            let (a, b) = (a.index(text.len() + 1), b.index(text.len() + 1));
            let (a, b) = (a.min(b), a.max(b));
            let (mut every, mut ends) = (Vec::new(), Vec::new());
            let mut full = Scanner::default();
            let mut short = Scanner::default();
            for (base, piece) in [(0, &text[..a]), (a, &text[a..b]), (b, &text[b..])] {
                full.scan(piece, |b, lines| every.push((base + b, lines)));
                short.scan_ends(piece, |b, lines| ends.push((base + b, lines)));
                proptest::prop_assert_eq!(short.in_quotes(), full.in_quotes());
            }
            proptest::prop_assert!(ends.iter().all(|e| every.contains(e)), "{:?} not within {:?}", ends, every);
            proptest::prop_assert_eq!(ends.first(), every.first());
            proptest::prop_assert_eq!(ends.last(), every.last());
            proptest::prop_assert_eq!(short.lines(), full.lines());
        }
    }

    #[test]
    fn blocks_of_quotes_at_fields_ends_are_taken_at_once() {
        let line = b"\"2000000001\",\"name\",\"a,b\",\"\"\r\n";
        let text = line.repeat(40);
        let mut scanner = Scanner::default();
        let mut closed_at = None;
        let quotes = byte_mask(&text[..64], [b'"']);
        let feeds = byte_mask(&text[..64], [b'\n']);
        let mut ends = Vec::new();
        let taken = scanner.block_by_parity(
            &text[..64],
            0,
            b'\n',
            (quotes, feeds),
            &mut closed_at,
            &mut |b, lines| ends.push((b, lines)),
        );
        assert!(taken);
        assert_eq!(ends, [(line.len(), 1), (2 * line.len(), 2)]);
        // A quote inside an unquoted value is text: such a block is not taken, and
        // the scanner is left as it was.
        let mut scanner = Scanner::default();
        let mut closed_at = None;
        let text = b"a,b\"c,\"d\"\n";
        let taken = scanner.block_by_parity(
            text,
            0,
            b'\n',
            (byte_mask(text, [b'"']), byte_mask(text, [b'\n'])),
            &mut closed_at,
            &mut |_, _| {},
        );
        assert!(!taken);
        assert_eq!(
            (scanner.state, scanner.lines, closed_at),
            (State::Unquoted, 0, None)
        );
    }

    #[test]
    fn a_quote_closed_at_the_end_of_a_piece_is_closed_for_good_after_a_piece_without_events() {
        // `"x"` then `a`: the quote after `a` is text, and the line feed ends the record.
        let mut scanner = Scanner::default();
        let mut ends = Vec::new();
        for (base, piece) in [(0, &b"\"x\""[..]), (3, b"a"), (4, b"\"\n")] {
            scanner.scan_ends(piece, |b, lines| ends.push((base + b, lines)));
        }
        assert_eq!(ends, [(6, 1)]);
        assert!(!scanner.in_quotes());
    }

    #[test]
    fn an_unclosed_quote_is_a_record_too_long() {
        let mut input = b"a,b\n1,\"never closed\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        let mut cutter = Cutter::new(&input[..], 0);
        cutter.next_chunk(true).unwrap();
        match cutter.next_chunk(false) {
            Err(CutError::RecordTooLong { line, in_quotes }) => {
                assert_eq!((line, in_quotes), (2, true))
            }
            other => panic!("{:?}", other.map(|c| c.map(|c| c.index))),
        }
    }
}
