//! The zip container of the workbooks, written from pieces deflated on every worker.
//!
//! An entry's content is cut into pieces that are deflated apart (raw deflate, no zlib
//! header): every piece but the last ends with a sync flush, which closes its deflate
//! blocks on a byte boundary, so the pieces joined are one valid deflate stream, as
//! `pigz` does. Their CRC-32s are combined. The archive is then written in one pass:
//! sizes and CRCs are known before each entry, so there is no data descriptor.
//!
//! ZIP64 (APPNOTE 6.3.10, sections 4.3.14–4.3.16 and 4.5.3) is used where a size, an
//! offset or the number of entries does not fit the classic fields: a city's missing
//! list can pass 4 GiB of workbook.

use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};
use std::io::{self, Write};

/// The deflate level. A city's plan (10 M people, 3.5 GB of sheet XML) deflates to
/// 265 MB at level 1 and 206 MB at level 2, level 1 saving 0.9 s of the plan's 9–10 s
/// of CPU on the two cores it shares with the plan's CSV and Parquet files: the
/// workbook is the longest of the three, so the second counts more than the 29% in
/// size (it still deflates thirteen to one).
const LEVEL: u32 = 1;

thread_local! {
    /// A worker's deflater, reset for each piece: its window and hash tables (some
    /// 300 KB) are set up once a thread instead of once a piece.
    static DEFLATER: std::cell::RefCell<Compress> =
        std::cell::RefCell::new(Compress::new(Compression::new(LEVEL), false));
}

/// Part of an entry's content, deflated on its own.
pub struct Piece {
    deflated: Vec<u8>,
    crc: Hasher,
    len: u64,
}

impl Piece {
    /// `data` deflated; `last` ends the entry's deflate stream, any other piece ends on
    /// a byte boundary for the next piece to follow.
    pub fn new(data: &[u8], last: bool) -> Piece {
        DEFLATER.with_borrow_mut(|deflater| Piece::deflated(deflater, data, last))
    }

    fn deflated(deflater: &mut Compress, data: &[u8], last: bool) -> Piece {
        let mut crc = Hasher::new();
        crc.update(data);
        // Every piece is a stream of its own: no match reaches into the piece before.
        deflater.reset();
        // Sheet XML deflates about sixteen to one.
        let mut deflated = Vec::with_capacity(data.len() / 12 + 64);
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        loop {
            if deflated.capacity() - deflated.len() < 64 {
                deflated.reserve(deflated.capacity().max(4096));
            }
            let (before, room) = (deflated.len(), deflated.capacity() - deflated.len());
            let read = deflater.total_in() as usize;
            let status = deflater
                .compress_vec(&data[read..], &mut deflated, flush)
                .expect("deflating a buffer in memory cannot fail");
            let all_in = deflater.total_in() as usize == data.len();
            // A finished stream says so; a sync flush is through once all the input
            // is in and the output did not fill the room it was given (zlib's rule).
            if status == Status::StreamEnd || (!last && all_in && deflated.len() - before < room) {
                break;
            }
        }
        // A sheet's pieces are held until the sheet is added: no spare room.
        deflated.shrink_to_fit();
        Piece {
            deflated,
            crc,
            len: data.len() as u64,
        }
    }
}

/// A file of the archive: its name and its content's pieces, in order.
pub struct Entry {
    /// The path in the archive.
    pub name: String,
    /// The content, in order.
    pub pieces: Vec<Piece>,
}

impl Entry {
    /// An entry of one piece.
    pub fn whole(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.to_string(),
            pieces: vec![Piece::new(data, true)],
        }
    }
}

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Version 2.0 (deflate) and 4.5 (ZIP64) of the format.
const VERSION: u16 = 20;
const VERSION64: u16 = 45;
/// The UTF-8 flag (names are ASCII here, but say so).
const FLAGS: u16 = 1 << 11;
const DEFLATE: u16 = 8;
/// 1980-01-01 00:00:00, the earliest time a zip can hold: the same bytes every run.
const TIME: u16 = 0;
const DATE: u16 = (1 << 5) | 1;

/// What the central directory needs of an entry written.
struct Written {
    name: String,
    crc: u32,
    deflated: u64,
    len: u64,
    offset: u64,
    /// The sizes need ZIP64 fields (in both headers).
    large: bool,
    /// The offset needs a ZIP64 field (in the central directory).
    far: bool,
}

impl Written {
    /// The fields a local header and the central directory share, from the version
    /// needed to the name's length.
    fn shared(&self, header: &mut Vec<u8>, version: u16, name: &[u8]) {
        put16(header, version);
        put16(header, FLAGS);
        put16(header, DEFLATE);
        put16(header, TIME);
        put16(header, DATE);
        put32(header, self.crc);
        if self.large {
            put32(header, u32::MAX);
            put32(header, u32::MAX);
        } else {
            put32(header, self.deflated as u32);
            put32(header, self.len as u32);
        }
        put16(header, name.len() as u16);
    }
}

/// A zip archive being written: each entry goes out as it is added (and its pieces
/// are freed), the directory at the end.
pub struct Archive<'a, W: Write> {
    out: Counted<'a, W>,
    written: Vec<Written>,
    /// Values at or over this take ZIP64 fields: the classic fields' reserved
    /// `0xFFFFFFFF` in production, lower in tests to check the ZIP64 path on small
    /// archives.
    limit: u64,
}

impl<'a, W: Write> Archive<'a, W> {
    /// An archive written to `out`.
    pub fn new(out: &'a mut W) -> Self {
        Self::with_limit(out, u64::from(u32::MAX))
    }

    fn with_limit(out: &'a mut W, limit: u64) -> Self {
        Archive {
            out: Counted { out, written: 0 },
            written: Vec::new(),
            limit,
        }
    }

    /// Writes `entry`.
    pub fn add(&mut self, entry: Entry) -> io::Result<()> {
        let (out, limit) = (&mut self.out, self.limit);
        let mut crc = Hasher::new();
        let (mut deflated, mut len) = (0, 0);
        for piece in &entry.pieces {
            crc.combine(&piece.crc);
            deflated += piece.deflated.len() as u64;
            len += piece.len;
        }
        let w = Written {
            name: entry.name,
            crc: crc.finalize(),
            deflated,
            len,
            offset: out.written,
            large: deflated >= limit || len >= limit,
            far: out.written >= limit,
        };
        let name = w.name.as_bytes();
        let mut header = Vec::with_capacity(30 + name.len() + 20);
        put32(&mut header, LOCAL);
        let version = if w.large || w.far { VERSION64 } else { VERSION };
        w.shared(&mut header, version, name);
        put16(&mut header, if w.large { 20 } else { 0 });
        header.extend_from_slice(name);
        if w.large {
            // The ZIP64 extra field of a local header: both sizes.
            put16(&mut header, 1);
            put16(&mut header, 16);
            put64(&mut header, w.len);
            put64(&mut header, w.deflated);
        }
        out.write_all(&header)?;
        for piece in &entry.pieces {
            out.write_all(&piece.deflated)?;
        }
        self.written.push(w);
        Ok(())
    }

    /// Writes the directory: the archive is whole.
    pub fn finish(self) -> io::Result<()> {
        let (mut out, limit) = (self.out, self.limit);
        let directory = out.written;
        for w in &self.written {
            let name = w.name.as_bytes();
            let mut header = Vec::with_capacity(46 + name.len() + 28);
            put32(&mut header, CENTRAL);
            // Made by: MS-DOS attributes, the version needed.
            let version = if w.large || w.far { VERSION64 } else { VERSION };
            put16(&mut header, version);
            w.shared(&mut header, version, name);
            let extra = 16 * u16::from(w.large) + 8 * u16::from(w.far);
            put16(&mut header, if extra > 0 { extra + 4 } else { 0 });
            put16(&mut header, 0); // comment
            put16(&mut header, 0); // disk
            put16(&mut header, 0); // internal attributes
            put32(&mut header, 0); // external attributes
            put32(&mut header, if w.far { u32::MAX } else { w.offset as u32 });
            header.extend_from_slice(name);
            if extra > 0 {
                // The fields set to 0xFFFFFFFF above, in the order the format gives.
                put16(&mut header, 1);
                put16(&mut header, extra);
                if w.large {
                    put64(&mut header, w.len);
                    put64(&mut header, w.deflated);
                }
                if w.far {
                    put64(&mut header, w.offset);
                }
            }
            out.write_all(&header)?;
        }
        let size = out.written - directory;
        let count = self.written.len() as u64;
        let mut end = Vec::with_capacity(56 + 20 + 22);
        let large = count >= 0xFFFF || size >= limit || directory >= limit;
        if large {
            let record = out.written;
            put32(&mut end, END64);
            put64(&mut end, 44); // the size of the rest of this record
            put16(&mut end, VERSION64);
            put16(&mut end, VERSION64);
            put32(&mut end, 0); // this disk
            put32(&mut end, 0); // the directory's disk
            put64(&mut end, count);
            put64(&mut end, count);
            put64(&mut end, size);
            put64(&mut end, directory);
            put32(&mut end, LOCATOR64);
            put32(&mut end, 0);
            put64(&mut end, record);
            put32(&mut end, 1); // disks
        }
        put32(&mut end, END);
        put16(&mut end, 0);
        put16(&mut end, 0);
        let (count16, size32, directory32) = if large {
            (u16::MAX, u32::MAX, u32::MAX)
        } else {
            (count as u16, size as u32, directory as u32)
        };
        put16(&mut end, count16);
        put16(&mut end, count16);
        put32(&mut end, size32);
        put32(&mut end, directory32);
        put16(&mut end, 0); // comment
        out.write_all(&end)
    }
}

fn put16(to: &mut Vec<u8>, v: u16) {
    to.extend_from_slice(&v.to_le_bytes());
}

fn put32(to: &mut Vec<u8>, v: u32) {
    to.extend_from_slice(&v.to_le_bytes());
}

fn put64(to: &mut Vec<u8>, v: u64) {
    to.extend_from_slice(&v.to_le_bytes());
}

/// A writer that counts the bytes through it: the offsets of the entries.
struct Counted<'a, W> {
    out: &'a mut W,
    written: u64,
}

impl<W: Write> Counted<'_, W> {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Repetitive text like a sheet's, with a little noise so deflate has work.
    fn text(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if i % 7 == 0 {
                    b'0' + (x >> 60) as u8 % 10
                } else {
                    b"<c r=\"A1\" t=\"inlineStr\"><is><t>"[i % 30]
                }
            })
            .collect()
    }

    /// Entries of one to many pieces (some empty), written with `limit`, read back
    /// with the `zip` crate: every name and every byte.
    fn round_trip(limit: u64) {
        let contents: Vec<(String, Vec<Vec<u8>>)> = vec![
            ("[Content_Types].xml".into(), vec![text(500, 1)]),
            ("empty.xml".into(), vec![Vec::new()]),
            (
                "xl/worksheets/sheet1.xml".into(),
                vec![text(70_000, 2), Vec::new(), text(3, 3), text(200_000, 4)],
            ),
            ("xl/worksheets/sheet2.xml".into(), vec![text(1, 5)]),
        ];
        let entries: Vec<Entry> = contents
            .iter()
            .map(|(name, parts)| Entry {
                name: name.clone(),
                pieces: parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Piece::new(p, i + 1 == parts.len()))
                    .collect(),
            })
            .collect();
        let mut bytes = Vec::new();
        let mut archive = Archive::with_limit(&mut bytes, limit);
        for entry in entries {
            archive.add(entry).unwrap();
        }
        archive.finish().unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), contents.len());
        for (i, (name, parts)) in contents.iter().enumerate() {
            let mut file = archive.by_index(i).unwrap();
            assert_eq!(file.name().unwrap(), name.as_str());
            let mut got = Vec::new();
            file.read_to_end(&mut got).unwrap();
            assert_eq!(got, parts.concat(), "{name} with limit {limit}");
        }
    }

    #[test]
    fn pieces_deflated_apart_read_back_as_one_file() {
        round_trip(u64::from(u32::MAX));
    }

    #[test]
    fn zip64_fields_read_back() {
        // Every size and offset at or over the limit: ZIP64 extra fields, the ZIP64
        // end of the directory and its locator, as a 4 GiB workbook gets them.
        round_trip(0);
        // Small entries far into the archive: ZIP64 offsets alone.
        round_trip(300);
        round_trip(100_000);
    }

    #[test]
    fn the_same_entries_give_the_same_bytes() {
        let written = || {
            let mut bytes = Vec::new();
            let mut archive = Archive::new(&mut bytes);
            archive
                .add(Entry::whole("a.xml", &text(10_000, 9)))
                .unwrap();
            archive.finish().unwrap();
            bytes
        };
        assert_eq!(written(), written());
    }
}
