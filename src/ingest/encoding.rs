//! Detection of a CSV file's text encoding, never guessing lossily.
//!
//! The order is the contract's: a byte-order mark decides (UTF-8, UTF-16LE/BE);
//! otherwise valid UTF-8 is UTF-8; otherwise, when only a few rows break UTF-8 (at most
//! 1% of the rows that hold non-ASCII bytes, and at most 100 rows), the file is UTF-8
//! and those rows are rejected one by one; otherwise the file is GB18030 (which covers
//! GBK and GB2312) decoded without replacement characters; a file that is neither is
//! fatal.

use super::split::Scanner;
use crate::error::{Error, Position, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The most rows that may break UTF-8 in a file still read as UTF-8.
pub const MAX_BAD_UTF8_ROWS: u64 = 100;

/// A text encoding poolscreen reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (as Excel writes "CSV UTF-8").
    Utf8Bom,
    /// UTF-16, little-endian, with a byte-order mark.
    Utf16Le,
    /// UTF-16, big-endian, with a byte-order mark.
    Utf16Be,
    /// GB18030, which includes GBK and GB2312 (as Excel and WPS write "CSV" on Chinese
    /// Windows).
    Gb18030,
}

impl Encoding {
    /// The name written to the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Gb18030 => "GB18030",
        }
    }
}

/// Where the UTF-8 text of a file comes from.
pub enum Body {
    /// The file itself, read from this byte offset on (past a byte-order mark).
    File(u64),
    /// Text decoded to UTF-8 in memory. Line structure is that of the file.
    Decoded(Vec<u8>),
    /// The file's own bytes held in memory, some rows of which are not UTF-8.
    Raw(Vec<u8>),
}

/// What was learned about a file before parsing it.
pub struct Detected {
    /// The encoding.
    pub encoding: Encoding,
    /// Where its UTF-8 text is.
    pub body: Body,
    /// Whether rows may hold bytes that are not UTF-8 and must be checked one by one.
    pub check_rows: bool,
    /// The SHA-256 of the whole file, in lower-case hex.
    pub sha256: String,
    /// The file's size, in bytes.
    pub bytes: u64,
}

/// Opens `path` read-only, reads it once to hash it and check UTF-8, and decides its
/// encoding. `name` is the file as the user named it, for messages.
pub fn detect(path: &Path, name: &str) -> Result<Detected> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let scan = scan(&mut file).map_err(|e| Error::io(path, e))?;
    let bom = &scan.head[..scan.head_len];
    let base = |encoding, body, check_rows| Detected {
        encoding,
        body,
        check_rows,
        sha256: scan.sha256.clone(),
        bytes: scan.bytes,
    };
    if bom.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(base(Encoding::Utf8Bom, Body::File(3), !scan.utf8_valid));
    }
    if bom.starts_with(&[0xFF, 0xFE]) || bom.starts_with(&[0xFE, 0xFF]) {
        let (encoding, decoder) = if bom[0] == 0xFF {
            (Encoding::Utf16Le, encoding_rs::UTF_16LE)
        } else {
            (Encoding::Utf16Be, encoding_rs::UTF_16BE)
        };
        let bytes = read_all(&mut file, path)?;
        let text = decode_strict(decoder, &bytes[2..])
            .map_err(|at| Error::input(name, Position::byte(at as u64 + 2), format!("the file starts with a {} byte-order mark but is not valid {}; save it again as UTF-8", encoding.as_str(), encoding.as_str())))?;
        return Ok(base(encoding, Body::Decoded(text.into_bytes()), false));
    }
    if scan.utf8_valid {
        return Ok(base(Encoding::Utf8, Body::File(0), false));
    }
    let bytes = read_all(&mut file, path)?;
    let census = census(&bytes);
    if census.bad_rows <= MAX_BAD_UTF8_ROWS && census.bad_rows * 100 <= census.non_ascii_rows {
        return Ok(base(Encoding::Utf8, Body::Raw(bytes), true));
    }
    match decode_strict(encoding_rs::GB18030, &bytes) {
        Ok(text) => Ok(base(Encoding::Gb18030, Body::Decoded(text.into_bytes()), false)),
        Err(at) => Err(Error::input(
            name,
            Position::byte(scan.first_bad_utf8.unwrap_or(0)),
            format!(
                "the file is neither UTF-8 nor GB18030 (not UTF-8 from this byte on, not GB18030 from byte offset {at}); save it again as \"CSV UTF-8\""
            ),
        )),
    }
}

struct Scan {
    sha256: String,
    bytes: u64,
    head: [u8; 3],
    head_len: usize,
    utf8_valid: bool,
    first_bad_utf8: Option<u64>,
}

/// One streaming pass: hash, size, first bytes and UTF-8 validity.
fn scan(file: &mut File) -> std::io::Result<Scan> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = [0u8; 3];
    let mut head_len = 0;
    let mut total = 0u64;
    // Up to three bytes of a character cut by the end of the previous block.
    let mut pending: Vec<u8> = Vec::with_capacity(8);
    let mut first_bad = None;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let block = &buf[..n];
        hasher.update(block);
        while head_len < 3 && head_len < (total as usize + n) {
            head[head_len] = block[head_len - total as usize];
            head_len += 1;
        }
        if first_bad.is_none() {
            let block_start = total - pending.len() as u64;
            pending.extend_from_slice(block);
            match std::str::from_utf8(&pending) {
                Ok(_) => pending.clear(),
                Err(e) if e.error_len().is_none() => {
                    let keep = pending.split_off(e.valid_up_to());
                    pending = keep;
                }
                Err(e) => first_bad = Some(block_start + e.valid_up_to() as u64),
            }
        }
        total += n as u64;
    }
    if first_bad.is_none() && !pending.is_empty() {
        first_bad = Some(total - pending.len() as u64);
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Scan {
        sha256,
        bytes: total,
        head,
        head_len,
        utf8_valid: first_bad.is_none(),
        first_bad_utf8: first_bad,
    })
}

fn read_all(file: &mut File, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// Counts, per record, those holding non-ASCII bytes and those that are not UTF-8.
struct Census {
    non_ascii_rows: u64,
    bad_rows: u64,
}

fn census(bytes: &[u8]) -> Census {
    let mut census = Census {
        non_ascii_rows: 0,
        bad_rows: 0,
    };
    let mut start = 0;
    let mut count = |record: &[u8]| {
        if !record.is_ascii() {
            census.non_ascii_rows += 1;
            if std::str::from_utf8(record).is_err() {
                census.bad_rows += 1;
            }
        }
    };
    Scanner::default().scan(bytes, |end| {
        count(&bytes[start..end]);
        start = end;
    });
    count(&bytes[start..]);
    census
}

/// Decodes `bytes` without replacement characters; on failure, the byte offset of the
/// first malformed sequence.
pub fn decode_strict(
    encoding: &'static encoding_rs::Encoding,
    bytes: &[u8],
) -> std::result::Result<String, usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 3 + 16);
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => Ok(text),
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            Err(read - after as usize - bad as usize)
        }
        encoding_rs::DecoderResult::OutputFull => Err(read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_decodes_chinese() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("姓名,公寓1");
        assert_eq!(
            decode_strict(encoding_rs::GB18030, &bytes).unwrap(),
            "姓名,公寓1"
        );
    }

    #[test]
    fn gb18030_reports_the_bad_byte() {
        assert_eq!(decode_strict(encoding_rs::GB18030, b"ab\xFFcd"), Err(2));
    }

    #[test]
    fn census_counts_rows() {
        let c = census("a,b\n张三,1\n李\u{56db},2\n".as_bytes());
        assert_eq!((c.non_ascii_rows, c.bad_rows), (2, 0));
        let c = census(b"a,b\n\xE5\xBC\xA0,1\n\xFF,2\n");
        assert_eq!((c.non_ascii_rows, c.bad_rows), (2, 1));
    }
}
