//! Text encodings of CSV files, never guessed lossily.
//!
//! The order is the contract's: a byte-order mark decides (UTF-8, UTF-16LE/BE);
//! otherwise valid UTF-8 is UTF-8; otherwise, when only a few rows break UTF-8 (at most
//! 1% of the rows that hold non-ASCII bytes, and at most 100 rows), the file is UTF-8
//! and those rows are rejected one by one; otherwise the file is GB18030 (which covers
//! GBK and GB2312) decoded without replacement characters; a file that is neither is
//! fatal.
//!
//! UTF-8 is decided while parsing, in one pass: the workers check every row and count
//! the rows with non-ASCII bytes and those that are not UTF-8 ([`Census`]); when the
//! census says the file is not UTF-8 (in a file without a byte-order mark, that pass
//! stops as soon as more than [`MAX_BAD_UTF8_ROWS`] rows break UTF-8), it is parsed
//! again as GB18030. A file in GB18030 or UTF-16 ([`Codec`]) is cut into chunks of
//! whole rows on its own bytes, each chunk decoded whole as it is parsed
//! ([`Codec::decode_into`]) and its records found in its bytes again ([`LineEnds`]);
//! it is never decoded whole in memory.

use super::reread::Opened;
use super::split::byte_mask;
use crate::error::{Error, Result};
use std::io::Read;
use std::sync::Arc;

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
    /// Not text: an Excel workbook, read cell by cell.
    Workbook,
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
            Encoding::Workbook => "Excel workbook",
        }
    }
}

/// An encoding whose files are decoded a chunk at a time as they are parsed, and whose
/// rows are read again from the file and decoded: GB18030, and UTF-16 after its
/// byte-order mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// GB18030: every byte below 0x30 is the ASCII character, in a character of its
    /// own.
    Gb18030,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
}

impl Codec {
    /// The codec of the files of `encoding`, when they are decoded.
    pub fn of(encoding: Encoding) -> Option<Codec> {
        match encoding {
            Encoding::Gb18030 => Some(Codec::Gb18030),
            Encoding::Utf16Le => Some(Codec::Utf16Le),
            Encoding::Utf16Be => Some(Codec::Utf16Be),
            Encoding::Utf8 | Encoding::Utf8Bom | Encoding::Workbook => None,
        }
    }

    /// The byte-order mark a file of this codec starts with (none for GB18030).
    pub fn bom(self) -> &'static [u8] {
        match self {
            Codec::Gb18030 => b"",
            Codec::Utf16Le => b"\xFF\xFE",
            Codec::Utf16Be => b"\xFE\xFF",
        }
    }

    /// Its decoder's encoding.
    pub fn encoding_rs(self) -> &'static encoding_rs::Encoding {
        match self {
            Codec::Gb18030 => encoding_rs::GB18030,
            Codec::Utf16Le => encoding_rs::UTF_16LE,
            Codec::Utf16Be => encoding_rs::UTF_16BE,
        }
    }

    /// Whether its code units are two bytes (UTF-16), and then whether big-endian.
    pub fn wide(self) -> Option<bool> {
        match self {
            Codec::Gb18030 => None,
            Codec::Utf16Le => Some(false),
            Codec::Utf16Be => Some(true),
        }
    }

    /// Decodes `bytes` into `text` (emptied first) without replacement characters; on
    /// failure, the byte offset of the first malformed sequence (a UTF-16 text cut
    /// inside a character, or of an odd length, is malformed at its end).
    ///
    /// `bytes` must be whole rows, as a chunk is: in GB18030 every byte of a multi-byte
    /// character is 0x30 or above, never a quote, a comma or a line end, so a file cuts
    /// into chunks on its raw bytes; UTF-16 is cut on its code units
    /// ([`super::split::Cutter::utf16`]), never inside a surrogate pair.
    pub fn decode_into(self, bytes: &[u8], text: &mut String) -> std::result::Result<(), usize> {
        self.decode(bytes, true, text)
    }

    /// [`Codec::decode_into`] of `bytes` that are the last of the text when `last`:
    /// else a character cut by their end is left out, not malformed.
    pub fn decode(
        self,
        bytes: &[u8],
        last: bool,
        text: &mut String,
    ) -> std::result::Result<(), usize> {
        text.clear();
        let mut decoder = self.encoding_rs().new_decoder_without_bom_handling();
        text.reserve(
            decoder
                .max_utf8_buffer_length_without_replacement(bytes.len())
                .unwrap_or(bytes.len() * 3 + 16),
        );
        let (result, read) = decoder.decode_to_string_without_replacement(bytes, text, last);
        match result {
            encoding_rs::DecoderResult::InputEmpty => Ok(()),
            encoding_rs::DecoderResult::Malformed(bad, after) => {
                Err(read - after as usize - bad as usize)
            }
            encoding_rs::DecoderResult::OutputFull => Err(read),
        }
    }

    /// How many bytes of UTF-16 the UTF-8 `text` was decoded from: two a code unit,
    /// that is two a character and two more for a character outside the basic plane
    /// (one of four bytes in UTF-8). Counted by bytes: a character has one lead byte
    /// (any but 0b10xxxxxx), and those of four bytes a lead byte of 0xF0 or above.
    pub fn utf16_len(text: &[u8]) -> usize {
        let following = text.iter().filter(|&&b| (b as i8) < -0x40).count();
        let of_four = text.iter().filter(|&&b| b >= 0xF0).count();
        2 * (text.len() - following + of_four)
    }
}

/// What the first bytes of a file say.
pub fn sniff(file: &Arc<Opened>) -> Result<Option<Encoding>> {
    let head = first_bytes(file)?;
    Ok(if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        Some(Encoding::Utf8Bom)
    } else if head.starts_with(&[0xFF, 0xFE]) {
        Some(Encoding::Utf16Le)
    } else if head.starts_with(&[0xFE, 0xFF]) {
        Some(Encoding::Utf16Be)
    } else {
        None
    })
}

/// Whether the file starts as a zip archive does, as every `.xlsx` workbook does: a
/// workbook given a `.csv` name.
pub fn is_zip(file: &Arc<Opened>) -> Result<bool> {
    Ok(first_bytes(file)?.starts_with(b"PK\x03\x04"))
}

/// The first four bytes of the file, or all of a shorter one.
fn first_bytes(opened: &Arc<Opened>) -> Result<Vec<u8>> {
    let mut head = [0u8; 4];
    let path = opened.path();
    let mut file = opened.reader(0);
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(head[..n].to_vec())
}

/// Rows counted while parsing a file as UTF-8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Rows holding bytes above ASCII.
    pub non_ascii_rows: u64,
    /// Rows that are not valid UTF-8.
    pub bad_rows: u64,
}

impl Census {
    /// Adds the counts of a later part of the file.
    pub fn add(&mut self, later: &Census) {
        self.non_ascii_rows += later.non_ascii_rows;
        self.bad_rows += later.bad_rows;
    }

    /// Whether a file without a byte-order mark with this census is UTF-8: a few
    /// damaged rows (at most 1% of the non-ASCII rows, at most 100) do not make it
    /// another encoding.
    pub fn is_utf8(&self) -> bool {
        self.bad_rows <= MAX_BAD_UTF8_ROWS && self.bad_rows * 100 <= self.non_ascii_rows
    }
}

/// The byte offset of the first byte of the file that is not UTF-8, if any.
pub fn first_not_utf8(opened: &Arc<Opened>) -> Result<Option<u64>> {
    let path = opened.path();
    let mut file = opened.reader(0);
    let mut block = vec![0u8; 1 << 20];
    // `kept` bytes of a character cut by the end of the block before, at offset `at`.
    let (mut kept, mut at) = (0usize, 0u64);
    loop {
        let n = match file.read(&mut block[kept..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        let filled = kept + n;
        match std::str::from_utf8(&block[..filled]) {
            Ok(_) if n == 0 => return Ok(None),
            Ok(_) => (kept, at) = (0, at + filled as u64),
            // A character cut by the end of the block: read on, unless the file ended.
            Err(e) if e.error_len().is_none() && n > 0 => {
                let valid = e.valid_up_to();
                block.copy_within(valid..filled, 0);
                (kept, at) = (filled - valid, at + valid as u64);
            }
            Err(e) => return Ok(Some(at + e.valid_up_to() as u64)),
        }
    }
}

/// Lower-case hex of `bytes`, two digits a byte, from a table of digits (ten million
/// pseudonyms are made with it, where `format!` took 5% of an export's CPU).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let text: Vec<u8> = bytes
        .iter()
        .flat_map(|&b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect();
    String::from_utf8(text).expect("hex digits are ASCII")
}

/// Where the records of a chunk's text, decoded by a [`Codec`], are in its bytes.
///
/// In GB18030, decoding keeps every byte below 0x30 as it is and in order, so the
/// text's k-th line end (CR or LF) is the bytes' k-th. A record starts at the chunk's
/// start or just after a line end and ends at one or at the chunk's end: counting line
/// ends finds it in the bytes. In UTF-16 a place in the bytes is two bytes for each
/// code unit of the text before it ([`Codec::utf16_len`]), counted on from the record
/// before.
pub struct LineEnds<'a> {
    text: &'a [u8],
    places: Places<'a>,
    ends: (usize, usize),
}

/// How [`LineEnds`] finds a place in the bytes.
enum Places<'a> {
    /// By the line ends of the text and of the bytes, in step, and the last line end
    /// passed: its place in the text and in the bytes.
    Breaks {
        text: Breaks<'a>,
        bytes: Breaks<'a>,
        last: Option<(usize, usize)>,
    },
    /// In UTF-16, by the code units up to the last place asked for: that place in the
    /// text and in the bytes.
    Units((usize, usize)),
}

impl<'a> LineEnds<'a> {
    /// The line ends of `text`, decoded from `bytes` by `codec`. `bytes` start at a
    /// character.
    pub fn new(text: &'a [u8], bytes: &'a [u8], codec: Codec) -> LineEnds<'a> {
        let places = match codec.wide() {
            None => Places::Breaks {
                text: Breaks::of(text),
                bytes: Breaks::of(bytes),
                last: None,
            },
            Some(_) => Places::Units((0, 0)),
        };
        LineEnds {
            text,
            places,
            ends: (text.len(), bytes.len()),
        }
    }

    /// The places in the bytes of the record at `start..end` of the text. Records are
    /// asked for in the order of the text.
    pub fn record(&mut self, start: usize, end: usize) -> (usize, usize) {
        if let Places::Units(_) = self.places {
            return (self.units(start), self.units(end));
        }
        let start = if start == 0 {
            0
        } else {
            self.line_end(start - 1) + 1
        };
        let end = if end == self.ends.0 {
            self.ends.1
        } else {
            self.line_end(end)
        };
        debug_assert!(start <= end, "a record that ends before it starts");
        (start, end)
    }

    /// The place in UTF-16 bytes of the text's place `at`, at or after the last asked.
    fn units(&mut self, at: usize) -> usize {
        let Places::Units((text, bytes)) = &mut self.places else {
            unreachable!("places by code units only in UTF-16");
        };
        debug_assert!(at >= *text, "a place before the last one asked for");
        *bytes += Codec::utf16_len(&self.text[*text..at]);
        *text = at;
        *bytes
    }

    /// The place in the bytes of the text's line end at `at` (of the first line end
    /// after it, were `at` none).
    fn line_end(&mut self, at: usize) -> usize {
        let Places::Breaks { text, bytes, last } = &mut self.places else {
            unreachable!("places by line ends only in GB18030");
        };
        loop {
            match *last {
                Some((text, bytes)) if text >= at => {
                    debug_assert_eq!(text, at, "a record's end that is not a line end");
                    return bytes;
                }
                _ => match (text.next(), bytes.next()) {
                    (Some(text), Some(bytes)) => *last = Some((text, bytes)),
                    _ => return self.ends.1,
                },
            }
        }
    }
}

/// The places of the line ends (CR and LF) of some bytes, found 64 bytes at a time: a
/// line end every hundred bytes or so, a search for each cost more to start than it
/// found.
struct Breaks<'a> {
    bytes: &'a [u8],
    /// The next block to look in.
    block: usize,
    /// The line ends of the block before it not yet given.
    mask: u64,
}

impl<'a> Breaks<'a> {
    fn of(bytes: &'a [u8]) -> Breaks<'a> {
        Breaks {
            bytes,
            block: 0,
            mask: 0,
        }
    }
}

impl Iterator for Breaks<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let from = 64 * self.block;
            if from >= self.bytes.len() {
                return None;
            }
            let block = &self.bytes[from..self.bytes.len().min(from + 64)];
            self.mask = byte_mask(block, [b'\r', b'\n']);
            self.block += 1;
        }
        let at = 64 * (self.block - 1) + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::fields::walk_records;
    use crate::ingest::split::Text;
    use proptest::prelude::*;

    /// `text` in `codec`, without a byte-order mark.
    fn encoded(text: &str, codec: Codec) -> Vec<u8> {
        match codec {
            Codec::Gb18030 => {
                let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
                assert!(!unmappable);
                bytes.into_owned()
            }
            Codec::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            Codec::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        }
    }

    const CODECS: [Codec; 3] = [Codec::Gb18030, Codec::Utf16Le, Codec::Utf16Be];

    /// Walks the text `text` encoded in `codec` as a chunk of it is read: decoded
    /// whole, its records found in the text. Returns each record's raw text with the
    /// text that the bytes [`LineEnds`] places it at decode to, and whether the text had
    /// a quote; checks that the places are those of the record's first and last bytes.
    fn records_and_their_bytes(text: &str, codec: Codec) -> (Vec<(String, String)>, bool) {
        let bytes = encoded(text, codec);
        let mut decoded = String::new();
        codec.decode_into(&bytes, &mut decoded).unwrap();
        assert_eq!(decoded, text);
        let mut ends = LineEnds::new(decoded.as_bytes(), &bytes, codec);
        let quoted = text.contains('"');
        let chunk = Text {
            bytes: decoded.as_bytes(),
            first_line: 1,
        };
        let mut records = Vec::new();
        walk_records(chunk, quoted, |_, start, raw, _| {
            let (from, to) = ends.record(start, start + raw.len());
            let place = |at: usize| encoded(&text[..at], codec).len();
            assert_eq!((from, to), (place(start), place(start + raw.len())));
            let mut again = String::new();
            codec.decode_into(&bytes[from..to], &mut again).unwrap();
            records.push((String::from_utf8(raw.to_vec()).unwrap(), again));
        });
        (records, quoted)
    }

    proptest! {
        /// Every record of a chunk's decoded text is found in its bytes, at the places
        /// whose bytes decode to it, in every codec: characters of one to four bytes in
        /// GB18030 and in UTF-8 (the four-byte ones with ASCII digits in them), UTF-16
        /// units with a byte of a line end, a quote or a comma in them (上 is 0x4E0A,
        /// 丢 0x4E22, 丬 0x4E2C, ਊ 0x0A0A, ഀ 0x0D00) and surrogate pairs, line ends of
        /// every kind, quoted line ends, blank lines.
        #[test]
        fn the_records_of_decoded_text_are_found_in_its_bytes(
            text in prop::collection::vec(
                prop::sample::select(vec!["a", "0", "9", ",", "\"", "\r", "\n", "\r\n", " ", "张", "三", "\u{3000}", "é", "¢", "€", "𠀀", "上", "丢", "丬", "ਊ", "ഀ", "\u{0100}"]),
                0..300,
            ).prop_map(|parts| parts.concat()),
        ) {
            for codec in CODECS {
                let (records, _) = records_and_their_bytes(&text, codec);
                for (raw, again) in records {
                    prop_assert_eq!(raw, again);
                }
            }
        }

        /// The same for text quoted as exports quote it, with Chinese and lone carriage
        /// returns, over several 64-byte blocks.
        #[test]
        fn the_records_of_exported_text_are_found_in_its_bytes(
            text in crate::ingest::split::exported(),
        ) {
            let text = String::from_utf8(text).unwrap();
            for codec in CODECS {
                let (records, _) = records_and_their_bytes(&text, codec);
                for (raw, again) in records {
                    prop_assert_eq!(raw, again);
                }
            }
        }
    }

    #[test]
    fn records_after_wide_characters_are_found_in_their_bytes() {
        // Each line's characters are wider in UTF-8 than in GB18030 (or narrower: ¢ is
        // four bytes there, two here), so a record's place in the text is not its place
        // in the bytes.
        let text = "张三,\"a\r\nb\",¢\r\n\r\n𠀀,9\r李四\n\"x\"\n上,丢\n";
        for codec in CODECS {
            let (records, quoted) = records_and_their_bytes(text, codec);
            assert!(quoted);
            let raws: Vec<&str> = records.iter().map(|(raw, _)| raw.as_str()).collect();
            assert_eq!(
                raws,
                ["张三,\"a\r\nb\",¢", "𠀀,9", "李四", "\"x\"", "上,丢"]
            );
            for (raw, again) in &records {
                assert_eq!(raw, again);
            }
        }
    }

    #[test]
    fn the_first_byte_not_utf8_is_found_across_read_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let first_bad = |bytes: &[u8]| {
            let path = dir.path().join("f.csv");
            std::fs::write(&path, bytes).unwrap();
            first_not_utf8(&Opened::open(&path).unwrap()).unwrap()
        };
        // A character cut by the end of the first 1 MiB block is whole text.
        let block = 1 << 20;
        let mut text = vec![b'a'; block - 1];
        text.extend_from_slice("中,".as_bytes());
        assert_eq!(first_bad(&text), None);
        // A bad byte after it, and one cut by the end of the file.
        let mut bad = text.clone();
        bad.extend_from_slice(b"x\xFFy");
        assert_eq!(first_bad(&bad), Some(block as u64 + 4));
        let mut cut = text.clone();
        cut.extend_from_slice(&"中".as_bytes()[..2]);
        assert_eq!(first_bad(&cut), Some(block as u64 + 3));
        assert_eq!(first_bad(b""), None);
        assert_eq!(first_bad(b"\xC4\xE3"), Some(0));
    }

    #[test]
    fn gb18030_rows_decode_on_their_own() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("学号,姓名\n1,张三\n2,\u{20000}𠀀");
        let mut text = String::new();
        for (row, want) in
            bytes
                .split(|&b| b == b'\n')
                .zip(["学号,姓名", "1,张三", "2,\u{20000}𠀀"])
        {
            Codec::Gb18030.decode_into(row, &mut text).unwrap();
            assert_eq!(text, want);
        }
        // Four-byte characters hold ASCII digits, never a delimiter.
        let delimiters = |b: &[u8]| b.iter().filter(|&&b| b < 0x30).count();
        assert_eq!(delimiters(&bytes), 5);
        assert!(bytes
            .windows(2)
            .any(|w| w[0] >= 0x81 && w[1].is_ascii_digit()));
        assert_eq!(Codec::Gb18030.decode_into(b"ab\xFFcd", &mut text), Err(2));
        assert_eq!(Codec::Gb18030.decode_into(b"ab\x81", &mut text), Err(2));
    }

    #[test]
    fn utf16_reports_the_first_bad_unit_and_a_cut_character() {
        let mut text = String::new();
        // A low surrogate alone, at byte 2.
        assert_eq!(
            Codec::Utf16Le.decode_into(b"a\x00\x00\xDCb\x00", &mut text),
            Err(2)
        );
        // A high surrogate cut by the end, and an odd byte at the end.
        assert_eq!(
            Codec::Utf16Be.decode_into(b"\x00a\xD8\x40", &mut text),
            Err(2)
        );
        assert_eq!(Codec::Utf16Le.decode_into(b"a\x00b", &mut text), Err(2));
        Codec::Utf16Be
            .decode_into(&encoded("张,𠀀\n", Codec::Utf16Be), &mut text)
            .unwrap();
        assert_eq!(text, "张,𠀀\n");
        assert_eq!(Codec::utf16_len("张,𠀀\n".as_bytes()), 10);
    }

    #[test]
    fn census_thresholds() {
        let c = |non_ascii_rows, bad_rows| Census {
            non_ascii_rows,
            bad_rows,
        };
        assert!(c(0, 0).is_utf8());
        assert!(c(100, 1).is_utf8());
        assert!(!c(99, 1).is_utf8());
        assert!(c(10_000, 100).is_utf8());
        assert!(!c(1_000_000, 101).is_utf8());
    }
}
