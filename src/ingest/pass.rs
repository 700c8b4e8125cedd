//! One parse of a file's text: the reader thread cuts chunks of whole records, a
//! hashing thread hashes them in file order, and the rayon workers parse them.

use super::encoding::{self, Census, Codec, LineEnds, MAX_BAD_UTF8_ROWS};
use super::fields::{quote_fault, walk_records};
use super::header::{self, ColumnSpec, Layout};
use super::mapped::{self, Mapping};
use super::reread::{open_source, source_path, TextSource};
use super::row::{accept, Known, Raw};
use super::split::{self, Bytes, Chunk, CutError, Cutter, Text};
use super::{ChunkOut, Lines, Pass, RowParser, Shared};
use crate::error::{Error, Position, Result};
use crate::normalize::clean;
use rayon::iter::{ParallelBridge, ParallelIterator};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Parses `source` after its byte-order mark `bom` (its first bytes, hashed as they
/// are): the reader thread cuts chunks and hashes the bytes, the workers parse the
/// chunks.
pub(super) fn run_pass<P: RowParser>(
    source: TextSource,
    bom: &[u8],
    check_rows: bool,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
) -> Result<Pass<P::Record, P::Part>> {
    let path = source_path(&source, name);
    let codec = source.codec();
    let start = bom.len() as u64;
    let mut hasher = Sha256::new();
    hasher.update(bom);
    // A file is mapped and read in place where the system allows (`mapped`); read
    // into buffers otherwise.
    let map = source
        .opened()
        .filter(|_| mapped::wanted())
        .and_then(|o| Mapping::of(o.file()));
    let mut cutter = match map {
        Some(map) => Cutter::mapped(Arc::new(map), start as usize),
        None => Cutter::new(open_source(&source, start)?, start),
    };
    if let Some(big_endian) = codec.and_then(Codec::wide) {
        cutter = cutter.utf16(big_endian);
    }
    if source.opened().is_some() {
        mapped::pause_for_tests(name);
    }
    let (header, header_bytes) = read_header(&mut cutter, name, check_rows, codec, &mut hasher)?;
    let mut pass = Pass {
        outs: Vec::new(),
        layout: Layout {
            fields: Vec::new(),
            headers: Vec::new(),
            names: Vec::new(),
            width: 0,
        },
        source,
        census: Census::default(),
        header_not_utf8: None,
        not_decoded: None,
        sha256: String::new(),
        bytes: start + header_bytes,
    };
    let (headers, header_line) = match header {
        Header::Found(h, line) => (h, line),
        Header::NotText(at) if codec.is_some() => {
            pass.not_decoded = Some(at);
            return Ok(pass);
        }
        Header::NotText(at) => {
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
        if let Some(Chunk {
            bytes: Bytes::Read(buffer),
            ..
        }) = Arc::into_inner(chunk)
        {
            let _ = spare_tx.try_send(buffer);
        }
    };
    let mut cutter = cutter.recycle(spare_rx);
    // This pass judges whether a file without a byte-order mark (`start` 0) is UTF-8.
    // Once more of its rows break UTF-8 than a UTF-8 file may hold, it is in another
    // encoding and is parsed again: the rest of this pass is not read. A UTF-8
    // byte-order mark settles the encoding: every row of such a file is read, and each
    // that breaks UTF-8 rejected.
    let judging = check_rows && start == 0;
    let bad_rows = AtomicU64::new(0);
    let not_utf8 = || judging && bad_rows.load(Ordering::Relaxed) > MAX_BAD_UTF8_ROWS;
    // A file decoded is hashed whatever the parser asks ([`RowParser::digest`]).
    let digest = parser.digest() || codec.is_some();
    // Rejects of a file keep where their rows are, not their text
    // ([`super::RawText::At`]).
    let again = pass
        .source
        .opened()
        .is_some()
        .then(|| Arc::new(pass.source.clone()));
    let (outs, cut, hashed) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> std::result::Result<(), CutError> {
            while let Some(chunk) = cutter.next_chunk(false)? {
                if not_utf8() {
                    break;
                }
                let chunk = Arc::new(chunk);
                if hash_tx.send(chunk.clone()).is_err() || tx.send(chunk).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let hashing = scope.spawn(move || {
            let mut total = 0u64;
            for chunk in hash_rx {
                if digest {
                    hasher.update(&chunk.bytes);
                }
                total += chunk.bytes.len() as u64;
                recycle(chunk);
            }
            (hasher, total)
        });
        let mut outs: Vec<ChunkOut<P::Record, P::Part>> = rx
            .into_iter()
            .par_bridge()
            .filter_map(|chunk| {
                let out = (!not_utf8()).then(|| {
                    let out =
                        parse_own(&chunk, &layout, (check_rows, codec), again.as_ref(), parser);
                    bad_rows.fetch_add(out.census.bad_rows, Ordering::Relaxed);
                    out
                });
                recycle(chunk);
                // A worker of `par_bridge` reads chunk after chunk in one job.
                crate::memory::checkpoint();
                out
            })
            .collect();
        outs.sort_by_key(|o| o.index);
        if codec.is_some() {
            // Each worker's room for a decoded chunk, up to three times the chunk's
            // size, is not kept for the stages after; it is dropped on the worker, whose
            // allocator heap it came from.
            rayon::broadcast(|_| drop(TEXT.take()));
        }
        (outs, reader.join(), hashing.join())
    });
    match (cut, hashed) {
        (Ok(Ok(())), Ok((hasher, total))) => {
            if digest {
                pass.sha256 = encoding::hex(&hasher.finalize());
            }
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
    pass.not_decoded = outs.iter().filter_map(|o| o.not_decoded).min();
    // A file that does not decode stops with its first bad byte, whatever else its
    // chunks found.
    if pass.not_decoded.is_some() {
        return Ok(pass);
    }
    // A file found not to be UTF-8 is read again in another encoding, where its quotes
    // are judged.
    let other_encoding = judging && !pass.census.is_utf8();
    if let Some((line, column)) = outs
        .iter()
        .find_map(|o| o.runaway_quote.clone())
        .filter(|_| !other_encoding)
    {
        return Err(Error::input(
            name,
            Position {
                line: Some(line),
                column: Some(column).filter(|c| !c.is_empty()),
                byte: None,
            },
            "a quote (\") opens a value here and is not closed where the value ends, so the lines after it would be read into this value; close the quote, or write a quote inside a value twice (\"\")",
        ));
    }
    pass.outs = outs;
    pass.layout = layout;
    Ok(pass)
}

thread_local! {
    /// A worker's room for the text of a chunk decoded ([`parse_chunk`]), emptied
    /// when the pass ends.
    static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A row's raw text: where its bytes are in a source (`here`), or `text` itself.
fn place<'a>(here: Option<(&'a Arc<TextSource>, u64, u32)>, text: &'a [u8]) -> Raw<'a> {
    match here {
        Some((source, offset, len)) => Raw::In {
            source,
            offset,
            len,
        },
        None => Raw::Bytes(text),
    }
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
    /// The header row is not text (UTF-8, or the codec's when the pass decodes), from
    /// this byte offset on.
    NotText(u64),
}

/// Reads records until the first non-blank one, the header, hashing what it reads;
/// `codec` decodes them first. Returns the header and the bytes consumed.
fn read_header<R: Read>(
    cutter: &mut Cutter<R>,
    name: &str,
    check_rows: bool,
    codec: Option<Codec>,
    hasher: &mut Sha256,
) -> Result<(Header, u64)> {
    let mut consumed = 0u64;
    let mut decoded = String::new();
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
        // Text is made of a copy (see `parse_own`).
        let chunk = chunk.copied(Vec::new());
        let mut bytes = &chunk.bytes[..];
        if let Some(codec) = codec {
            if let Err(at) = codec.decode_into(bytes, &mut decoded) {
                return Ok((Header::NotText(chunk.offset + at as u64), consumed));
            }
            bytes = decoded.as_bytes();
        } else if check_rows {
            if let Err(e) = std::str::from_utf8(bytes) {
                return Ok((
                    Header::NotText(chunk.offset + e.valid_up_to() as u64),
                    consumed,
                ));
            }
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut record = csv::StringRecord::new();
        let found = reader.read_record(&mut record).map_err(|_| {
            Error::input(
                name,
                Position::line(chunk.first_line),
                "the header row could not be read",
            )
        })?;
        if found && record.iter().any(|h| !clean(h).is_empty()) {
            // Lines that end in a carriage return alone (old Mac spreadsheets' "CSV
            // (Macintosh)") make the whole file one line: the header, then rows that the
            // CSV reader would never show. Stopped here, never read as a file of no rows.
            let end = (reader.position().byte() as usize).min(bytes.len());
            if bytes[end..].iter().any(|b| !b.is_ascii_whitespace()) {
                return Err(Error::input(
                    name,
                    Position::line(chunk.first_line),
                    "the lines of this file end in a carriage return alone (CR, as old Mac spreadsheets save CSV), so its rows cannot be told apart; save it again as CSV UTF-8 (or with Windows or Unix line ends) and run again",
                ));
            }
            let leading = bytes
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

/// Parses the rows of `chunk` as [`parse_chunk`], from bytes of the worker's own: a
/// mapped chunk's are first copied out of the mapping into a buffer that the worker
/// keeps, so that text checked once stays text while another program writes the file
/// ([`Mapping::of`]). A chunk read into a buffer owns its bytes already.
fn parse_own<P: RowParser>(
    chunk: &Chunk,
    layout: &Layout,
    modes: (bool, Option<Codec>),
    source: Option<&Arc<TextSource>>,
    parser: &P,
) -> ChunkOut<P::Record, P::Part> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    match &chunk.bytes {
        Bytes::Read(_) => parse_chunk(chunk, layout, modes, source, parser),
        Bytes::Mapped(_) => BUFFER.with_borrow_mut(|buffer| {
            let own = chunk.copied(std::mem::take(buffer));
            let out = parse_chunk(&own, layout, modes, source, parser);
            *buffer = own.into_buffer();
            out
        }),
    }
}

/// Parses the rows of `chunk`, rejecting each row that is not UTF-8: `check_rows` also
/// counts the rows with non-ASCII bytes (for the census of a file whose encoding is not
/// known yet), `codec` decodes the chunk first. A reject keeps where its row
/// is in `source`, when there is one to read it again from.
fn parse_chunk<P: RowParser>(
    chunk: &Chunk,
    layout: &Layout,
    (check_rows, codec): (bool, Option<Codec>),
    source: Option<&Arc<TextSource>>,
    parser: &P,
) -> ChunkOut<P::Record, P::Part> {
    let mut out = ChunkOut {
        index: chunk.index,
        rows: Vec::with_capacity(chunk.bytes.len() / 48),
        state: P::Part::default(),
        lines: Lines::default(),
        rejects: Vec::new(),
        read: 0,
        census: Census::default(),
        runaway_quote: None,
        not_decoded: None,
        shared: Shared::default(),
    };
    // A chunk of GB18030 or UTF-16 is decoded whole, in one call, and its text read as
    // a chunk of UTF-8 is; its records are found in its bytes by their line ends
    // ([`LineEnds`]). Decoded row by row, with a decoder each, GB18030 rows took half
    // again the time of the same rows in UTF-8 (BENCHMARKS.md, "CSV in GB18030, a chunk
    // decoded at a time"). A chunk that does not decode stops the file, at its first
    // byte that does not.
    let decoded = match codec {
        Some(codec) => {
            let mut decoded = TEXT.take();
            if let Err(at) = codec.decode_into(&chunk.bytes, &mut decoded) {
                out.not_decoded = Some(chunk.offset + at as u64);
                TEXT.set(decoded);
                return out;
            }
            Some((decoded, codec))
        }
        None => None,
    };
    // Checked once for the whole chunk, which settles most rows at once. A decoded
    // chunk is text.
    let whole = match &decoded {
        Some((decoded, _)) => Some(decoded.as_str()),
        None => simdutf8::basic::from_utf8(&chunk.bytes).ok(),
    };
    let text = decoded
        .as_ref()
        .map_or(&chunk.bytes[..], |(decoded, _)| decoded.as_bytes());
    let mut line_ends = decoded
        .as_ref()
        .map(|&(_, codec)| LineEnds::new(text, &chunk.bytes, codec));
    // Nearly every chunk holds no quote, NUL or '#', which one scan settles.
    let (quoted, nul, hashes) = match memchr::memchr3(b'"', 0, b'#', text) {
        None => (false, false, false),
        Some(_) => (
            memchr::memchr(b'"', text).is_some(),
            memchr::memchr(0, text).is_some(),
            memchr::memchr(b'#', text).is_some(),
        ),
    };
    let ascii = check_rows && whole.is_some_and(str::is_ascii);
    // A chunk of ASCII and common ideographs (nearly every chunk of a Chinese roster)
    // is settled by one look too: its cells are then only trimmed.
    let known = Known {
        plain: whole.is_some_and(crate::normalize::all_plain),
        hashes,
    };
    let records = Text {
        bytes: text,
        first_line: chunk.first_line,
    };
    walk_records(records, quoted, |line, start, raw, fields| {
        // Where the row's bytes are in the chunk, as read (a record is at most a
        // mebibyte), and in the source.
        let (start_read, len_read) = match line_ends.as_mut() {
            Some(ends) => {
                let (from, to) = ends.record(start, start + raw.len());
                (from, to - from)
            }
            None => (start, raw.len()),
        };
        let here = source.map(|s| (s, chunk.offset + start_read as u64, len_read as u32));
        out.read += 1;
        let reject = |shared: &mut Shared, column: &str, reason: &str| {
            shared.reject(line, column, reason, place(here, raw).kept())
        };
        // A quote out of place: the CSV parser would drop it and join what follows, or
        // take the lines after an unclosed one into the value. Checked first, whatever
        // else is wrong with the row. Within one line the row is rejected; when the lines
        // taken in hold anything but empty cells (a trailing `,,,` of Excel's), the rows
        // swallowed would be lost, so the run stops at the first such quote.
        if !fields.in_place && memchr::memchr(b'"', raw).is_some() {
            if let Some(fault) = quote_fault(raw) {
                let column = layout.headers.get(fault.field).cloned().unwrap_or_default();
                let from = &raw[fault.opened_at..];
                let swallowed = memchr::memchr(b'\n', from).map_or(&[][..], |k| &from[k..]);
                if swallowed
                    .iter()
                    .any(|b| !matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n'))
                {
                    let opened = line + split::count_lines(&raw[..fault.opened_at]);
                    out.runaway_quote.get_or_insert((opened, column));
                } else {
                    let reason = if fault.unclosed {
                        "a quote (\") opens the value and is never closed; remove it, or close it"
                    } else {
                        "text follows the closing quote (\") of the value; a quote inside a quoted value is written twice (\"\")"
                    };
                    out.rejects.push(reject(&mut out.shared, &column, reason));
                }
                return;
            }
        }
        if nul && memchr::memchr(0, raw).is_some() {
            out.rejects.push(reject(&mut out.shared, "", "the row holds a NUL byte (0x00): the file is damaged or not a text file; export it again"));
            return;
        }
        // A row in place in a chunk that is all text is text: it lies between ASCII line
        // ends. Otherwise one check per row, on the raw row: the fields of a row the CSV
        // parser read, joined, could make one character of bytes that a comma or a quote
        // splits (and once the raw row is text, its fields are).
        let in_whole = whole
            .filter(|_| fields.in_place)
            .and_then(|w| w.get(start..start + raw.len()));
        let checked = match in_whole {
            Some(text) => Ok(text),
            None if fields.in_place => simdutf8::basic::from_utf8(fields.bytes),
            None => simdutf8::basic::from_utf8(raw)
                .and_then(|_| simdutf8::basic::from_utf8(fields.bytes)),
        };
        let text = match checked {
            Ok(text) => text,
            Err(_) => {
                let valid = std::str::from_utf8(raw)
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                let at = chunk.offset + (start + valid) as u64;
                out.census.non_ascii_rows += 1;
                out.census.bad_rows += 1;
                out.rejects.push(reject(&mut out.shared, "", &format!("the row is not valid UTF-8 from byte offset {at} on (a damaged character); fix or retype the row")));
                return;
            }
        };
        if check_rows && !ascii && !fields.bytes.is_ascii() {
            out.census.non_ascii_rows += 1;
        }
        accept(
            &mut out,
            line,
            chunk.offset + start_read as u64,
            place(here, raw),
            fields,
            (text, known),
            layout,
            parser,
        );
    });
    parser.finish_part(&mut out.state, &mut out.rows);
    if let Some((decoded, _)) = decoded {
        TEXT.set(decoded);
    }
    out
}
