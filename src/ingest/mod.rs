//! Stage 1: reading the input files into typed records and rejects.
//!
//! A reader thread reads the header, then cuts the file into chunks of whole records
//! ([`split`]) and sends them through bounded channels to a hashing thread and to rayon
//! workers, which split the records into fields, check the text encoding
//! ([`encoding`]), clean every value ([`crate::normalize`]) and validate it
//! ([`values`]). Worker results merge in chunk order, so the records and rejects come
//! out in file order whatever the thread count, and line numbers are exact.
//!
//! Rows that break a rule are rejects, never fatal: for every file,
//! rows read = rows accepted + rows rejected.

pub mod encoding;
pub mod excel;
pub mod fields;
pub mod header;
pub mod index;
pub mod keys;
pub mod mapped;
mod pass;
pub mod reread;
pub mod results;
pub mod roster;
pub mod row;
pub mod samples;
pub mod split;
pub mod tubes;
pub mod values;
mod xlsx;

use crate::error::{Error, Position, Result};
use encoding::{Census, Codec, Encoding, MAX_BAD_UTF8_ROWS};
use header::{ColumnSpec, Layout};
use pass::run_pass;
use reread::{Opened, TextSource};
use row::Row;
use std::path::Path;
use std::sync::Arc;

/// An input row that was not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// The line, starting at `1`, where the row starts.
    pub line: u64,
    /// The column at fault and the reason, one for every reject of a chunk that gives
    /// them: a roster with a wrong word in one column is ten million rejects of one
    /// reason.
    pub why: Arc<Why>,
    /// The row as it stands in the file, without its line terminator.
    pub raw: RawText,
}

impl Reject {
    /// A reject of the row on `line` at `column` for `reason`, with its raw text.
    pub fn new(line: u64, column: &str, reason: &str, raw: RawText) -> Reject {
        Reject {
            line,
            why: Arc::new(Why::new(column, reason)),
            raw,
        }
    }

    /// The column at fault, as the file's header spells it; empty for the whole row.
    pub fn column(&self) -> &str {
        &self.why.column
    }

    /// What is wrong and what to do about it.
    pub fn reason(&self) -> &str {
        &self.why.reason
    }
}

/// Why a row was rejected: the column at fault and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Why {
    column: Box<str>,
    reason: Box<str>,
}

impl Why {
    fn new(column: &str, reason: &str) -> Why {
        Why {
            column: column.into(),
            reason: reason.into(),
        }
    }
}

/// A rejected row's raw text: the row as it stands in the file, without its line
/// terminator, bytes that are not UTF-8 written as `\xNN`.
#[derive(Clone, Debug)]
pub enum RawText {
    /// The text itself (a sheet's row).
    Text(Box<str>),
    /// Where the row's bytes are in a file (in UTF-8, GB18030 or UTF-16), read again when
    /// `rejects.csv` is written
    /// ([`reread::RawReader`]): held whole, the raw rows of a city roster rejected
    /// row by row were three times the input's size.
    At {
        /// The source the row was read from.
        source: Arc<TextSource>,
        /// Where the row starts in the source.
        offset: u64,
        /// The row's length in the source, in bytes.
        len: u32,
    },
}

impl PartialEq for RawText {
    /// Texts are equal as texts, places as places in one source.
    fn eq(&self, other: &RawText) -> bool {
        match (self, other) {
            (RawText::Text(a), RawText::Text(b)) => a == b,
            (
                RawText::At {
                    source: a,
                    offset: x,
                    len: m,
                },
                RawText::At {
                    source: b,
                    offset: y,
                    len: n,
                },
            ) => Arc::ptr_eq(a, b) && x == y && m == n,
            _ => false,
        }
    }
}

impl Eq for RawText {}

impl RawText {
    /// The text, when it is held rather than read again.
    pub fn held(&self) -> Option<&str> {
        match self {
            RawText::Text(text) => Some(text),
            RawText::At { .. } => None,
        }
    }
}

/// What a chunk's rejects share: the last few columns and reasons given.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    recent: Vec<Arc<Why>>,
}

impl Shared {
    /// How many distinct reasons are kept: a chunk's rejects nearly always give one or
    /// two.
    const KEPT: usize = 8;

    /// A reject of the row on `line`, the same [`Why`] as the last rejects' when they
    /// gave this column and reason.
    #[cold]
    #[inline(never)]
    pub(crate) fn reject(&mut self, line: u64, column: &str, reason: &str, raw: RawText) -> Reject {
        let found = self
            .recent
            .iter()
            .find(|w| *w.column == *column && *w.reason == *reason);
        let why = match found {
            Some(why) => why.clone(),
            None => {
                let made = Arc::new(Why::new(column, reason));
                if self.recent.len() == Self::KEPT {
                    self.recent.remove(0);
                }
                self.recent.push(made.clone());
                made
            }
        };
        Reject { line, why, raw }
    }
}

/// What the manifest says about one input file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputReport {
    /// The file as named on the command line.
    pub path: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The detected encoding.
    pub encoding: Encoding,
    /// Rows after the header, blank rows not counted.
    pub rows_read: u64,
    /// Rows used.
    pub rows_accepted: u64,
    /// Rows written to `rejects.csv`.
    pub rows_rejected: u64,
    /// The sheet read, for a workbook; its row numbers are the lines.
    pub sheet: Option<String>,
    /// For each cell of a row, the contract's name of its column, if read.
    pub columns: Vec<Option<&'static str>>,
}

impl InputReport {
    /// The file as rejects and anomalies name it: for a workbook, with the sheet, and
    /// saying that lines are sheet rows.
    pub fn display(&self) -> String {
        match &self.sheet {
            Some(sheet) => format!("{} (sheet \"{sheet}\"; line = sheet row)", self.path),
            None => self.path.clone(),
        }
    }
}

/// Parses the rows of one kind of input on the workers.
pub trait RowParser: Sync {
    /// One accepted row.
    type Record: Send;
    /// State a worker keeps for one chunk (interned strings, say), merged by the caller.
    type Part: Default + Send;
    /// Parses one row; records failures on `row` and returns `None` when it is rejected.
    fn parse(&self, row: &mut Row, part: &mut Self::Part) -> Option<Self::Record>;
    /// Called once a chunk's rows are all parsed, with its accepted rows: the part can
    /// complete them (the samples' people looked up in a batch) and give back what only
    /// the parsing needed (the chunks of a city's file wait for each other).
    fn finish_part(&self, _part: &mut Self::Part, _rows: &mut [Self::Record]) {}
    /// Whether each accepted row's line is noted in its chunk's [`Lines`] (for records
    /// that do not hold their own); such a parser rejects rows past line 4,294,967,295.
    const LINES: bool = false;
    /// Whether a UTF-8 CSV file's SHA-256 is taken while it is read (for a run's
    /// manifest); when not, the report's `sha256` is empty. A file in another encoding,
    /// or a workbook, is hashed regardless.
    fn digest(&self) -> bool {
        true
    }
}

/// The accepted rows of one chunk with the worker's state for them.
#[derive(Debug)]
pub struct Part<R, C> {
    /// Accepted rows, in file order.
    pub rows: Vec<R>,
    /// The parser's state for this chunk.
    pub state: C,
    /// The line of each row, when the parser asks for them ([`RowParser::LINES`]).
    pub lines: Lines,
}

/// The line of each accepted row of a chunk or a file, in file order, in a few bytes:
/// lines rise with the rows, a line a row but where a row was rejected, a record spans
/// lines or a line is blank, so only the rows whose line does not follow the row
/// before's are kept (a handful in a clean file; a city's samples file would take 40
/// MB to keep a line a row). A file where most rows break the run (a quoted cell over
/// two lines in every row) has every row's line kept instead, in 4 bytes a row, never
/// more. Lines and rows are below 2^32 (see [`crate::record::MAX_SAMPLE_LINE`]); only
/// a parser that asks for them ([`RowParser::LINES`]) has them noted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lines {
    /// Each run of rows on lines one after another: its first row and that row's line.
    Runs(Vec<(u32, u32)>),
    /// Each row's line.
    Every(Vec<u32>),
}

impl Default for Lines {
    fn default() -> Lines {
        Lines::Runs(Vec::new())
    }
}

impl Lines {
    /// Notes that rows `row..row + count` lie on lines `line..line + count`; rows are
    /// noted in order, from `0`, each past the line of the one before.
    pub fn push_run(&mut self, row: u64, line: u64, count: u64) {
        let (row, line) = (narrow(row), narrow(line));
        match self {
            Lines::Runs(runs) => {
                if let Some(&(r, l)) = runs.last() {
                    debug_assert!(row > r && line > l, "rows noted out of order");
                    if line.checked_sub(l) == Some(row - r) {
                        return;
                    }
                }
                runs.push((row, line));
                // A run takes 8 bytes: past one run in two rows, every row's line in 4
                // takes less.
                if runs.len() > 1024 && runs.len() as u64 * 2 > u64::from(row) + count {
                    let runs = std::mem::take(runs);
                    let mut every = Vec::with_capacity(row as usize + count as usize);
                    for (k, &(r, l)) in runs.iter().enumerate() {
                        let end = runs.get(k + 1).map_or(row + narrow(count), |next| next.0);
                        every.extend((0..end - r).map(|i| l + i));
                    }
                    *self = Lines::Every(every);
                }
            }
            Lines::Every(every) => {
                debug_assert_eq!(every.len(), row as usize, "rows noted out of order");
                every.extend((0..narrow(count)).map(|i| line + i));
            }
        }
    }

    /// Notes that row `row` lies on `line` (see [`Lines::push_run`]).
    pub fn push(&mut self, row: u64, line: u64) {
        self.push_run(row, line, 1);
    }

    /// The line of row `row`, which must have been noted.
    pub fn get(&self, row: u64) -> u64 {
        let row = narrow(row);
        match self {
            Lines::Runs(runs) => {
                let run = runs.partition_point(|&(r, _)| r <= row);
                assert!(run > 0, "the line of a row not noted");
                let (r, l) = runs[run - 1];
                u64::from(l + (row - r))
            }
            Lines::Every(every) => u64::from(every[row as usize]),
        }
    }

    /// The lines of the rows of `parts` one after another: each part's own [`Lines`]
    /// and how many rows it has.
    pub fn concat<'a>(parts: impl IntoIterator<Item = (&'a Lines, usize)>) -> Lines {
        let mut all = Lines::default();
        let mut start = 0u64;
        for (lines, rows) in parts {
            match lines {
                Lines::Runs(runs) => {
                    for (k, &(r, l)) in runs.iter().enumerate() {
                        let end = runs
                            .get(k + 1)
                            .map_or(rows as u64, |next| u64::from(next.0));
                        all.push_run(start + u64::from(r), u64::from(l), end - u64::from(r));
                    }
                }
                Lines::Every(every) => {
                    for (r, &l) in every.iter().enumerate() {
                        all.push(start + r as u64, u64::from(l));
                    }
                }
            }
            start += rows as u64;
        }
        all
    }

    /// How many runs are kept, or rows when every row's line is.
    #[cfg(test)]
    fn kept(&self) -> usize {
        match self {
            Lines::Runs(runs) => runs.len(),
            Lines::Every(every) => every.len(),
        }
    }
}

/// A row or a line in 32 bits: a parser that notes lines refuses rows past line
/// 4,294,967,295.
fn narrow(n: u64) -> u32 {
    u32::try_from(n).expect("a row or line noted past 2^32")
}

/// The records read from one file, its rejects and its report.
#[derive(Debug)]
pub struct Ingested<R, C> {
    /// Accepted rows by chunk, in file order.
    pub parts: Vec<Part<R, C>>,
    /// Rejected rows, in file order.
    pub rejects: Vec<Reject>,
    /// Counts and facts for the manifest.
    pub report: InputReport,
    /// Which columns the file has.
    pub layout: Layout,
    /// Where rows can be read again.
    pub source: TextSource,
}

impl<R, C> Ingested<R, C> {
    /// Records that `reject` was found after parsing (a duplicate, say): the row moves
    /// from accepted to rejected, keeping the counts conserved. The caller removes the
    /// row from its own records.
    pub fn reject_late(&mut self, reject: Reject) {
        self.report.rows_accepted -= 1;
        self.report.rows_rejected += 1;
        let at = self.rejects.partition_point(|r| r.line < reject.line);
        self.rejects.insert(at, reject);
    }

    /// All accepted rows, in file order, dropping the per-chunk state.
    pub fn into_rows(self) -> Vec<R>
    where
        R: Send,
        C: Send,
    {
        crate::pieces::concat(self.parts.into_iter().map(|p| p.rows).collect())
    }
}

/// Reads the input at `path` (named `name` in messages and outputs), a CSV file or, by
/// its extension, a workbook (sheet `sheet`, or the first), matching its header against
/// `specs` and parsing every row with `parser` on the current rayon pool.
pub fn read_input<P: RowParser>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
    sheet: Option<&str>,
) -> Result<Ingested<P::Record, P::Part>> {
    if excel::is_workbook(path) {
        excel::read_workbook(path, name, specs, parser, sheet)
    } else {
        read_csv(path, name, specs, parser)
    }
}

/// Reads the CSV file at `path` (named `name` in messages and outputs): detects its
/// encoding, matches its header against `specs`, and parses every row with `parser` on
/// the current rayon pool.
pub fn read_csv<P: RowParser>(
    path: &Path,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
) -> Result<Ingested<P::Record, P::Part>> {
    let file = Opened::open(path)?;
    let read = read_opened(&file, name, specs, parser);
    // Whatever was made of a file written while it was read (an error too), it is not
    // one file's: the change is what is reported.
    file.check(name)?;
    read
}

/// [`read_csv`] of the file opened, every reading of it through `file`.
fn read_opened<P: RowParser>(
    file: &Arc<Opened>,
    name: &str,
    specs: &[ColumnSpec],
    parser: &P,
) -> Result<Ingested<P::Record, P::Part>> {
    let file_source = || TextSource::File(file.clone());
    if encoding::is_zip(file)? {
        return Err(Error::input(
            name,
            Position::byte(0),
            "the file is an Excel workbook (a zip archive), not CSV text: give it back its .xlsx name, or save it again as \"CSV UTF-8\"",
        ));
    }
    match encoding::sniff(file)? {
        Some(enc @ (Encoding::Utf16Le | Encoding::Utf16Be)) => {
            // Decoded a chunk at a time as it is parsed, as GB18030 is, never whole in
            // memory.
            let codec = Codec::of(enc).expect("UTF-16 is decoded");
            let source = TextSource::Decoded(file.clone(), codec);
            let pass = run_pass(source, codec.bom(), false, name, specs, parser)?;
            if let Some(at) = pass.not_decoded {
                return Err(Error::input(
                    name,
                    Position::byte(at),
                    format!("the file starts with a {} byte-order mark but is not valid {} from this byte on; save it again as \"CSV UTF-8\"", enc.as_str(), enc.as_str()),
                ));
            }
            pass.finish(enc, name)
        }
        Some(Encoding::Utf8Bom) => {
            let pass = run_pass(file_source(), b"\xEF\xBB\xBF", true, name, specs, parser)?;
            if let Some(at) = pass.header_not_utf8 {
                return Err(Error::input(name, Position::byte(at), "the header row is not valid UTF-8 although the file starts with a UTF-8 byte-order mark; save it again as \"CSV UTF-8\""));
            }
            pass.finish(Encoding::Utf8Bom, name)
        }
        _ => {
            let pass = run_pass(file_source(), b"", true, name, specs, parser)?;
            if pass.header_not_utf8.is_none() && pass.census.is_utf8() {
                return pass.finish(Encoding::Utf8, name);
            }
            let header_not_utf8 = pass.header_not_utf8;
            // A header of Chinese that reads as UTF-8 and names the columns, but read as
            // GB18030 lacks a required one, is no GB18030 header: the rows are what
            // broke UTF-8.
            let utf8_header =
                header_not_utf8.is_none() && pass.layout.headers.iter().any(|h| !h.is_ascii());
            drop(pass);
            // Decoded a chunk at a time as it is parsed, never whole in memory.
            let pass = match run_pass(
                TextSource::Decoded(file.clone(), Codec::Gb18030),
                b"",
                false,
                name,
                specs,
                parser,
            ) {
                Err(Error::Input { message, .. })
                    if utf8_header && message.starts_with(header::MISSING_COLUMN) =>
                {
                    let first_bad = encoding::first_not_utf8(file)?.unwrap_or(0);
                    return Err(Error::input(
                        name,
                        Position::byte(first_bad),
                        format!("the file is neither UTF-8 nor GB18030: its header is UTF-8 but too many rows are not (more than {MAX_BAD_UTF8_ROWS}, or more than 1% of the rows that are not plain ASCII; the first bad byte is here), and read as GB18030 its header lacks a required column; save it again as \"CSV UTF-8\""),
                    ));
                }
                other => other?,
            };
            if let Some(at) = pass.not_decoded {
                // The UTF-8 pass stops early, so the first byte that breaks UTF-8 is
                // looked for again.
                let first_bad = match header_not_utf8 {
                    Some(at) => at,
                    None => encoding::first_not_utf8(file)?.unwrap_or(0),
                };
                return Err(Error::input(
                    name,
                    Position::byte(first_bad),
                    format!("the file is neither UTF-8 nor GB18030 (not UTF-8 from this byte on, not GB18030 from byte offset {at}); save it again as \"CSV UTF-8\""),
                ));
            }
            pass.finish(Encoding::Gb18030, name)
        }
    }
}

/// One parse of a file's text.
struct Pass<R, C> {
    outs: Vec<ChunkOut<R, C>>,
    layout: Layout,
    source: TextSource,
    census: Census,
    /// Set when the header row itself is not UTF-8: the file is in another encoding.
    header_not_utf8: Option<u64>,
    /// The first byte offset that does not decode, in a pass that decodes.
    not_decoded: Option<u64>,
    /// SHA-256 and size of the bytes read (BOM included), for file sources.
    sha256: String,
    bytes: u64,
}

impl<R, C> Pass<R, C> {
    /// The pass as the file's ingest result.
    fn finish(self, encoding: Encoding, name: &str) -> Result<Ingested<R, C>> {
        if let Some(at) = self.header_not_utf8 {
            return Err(Error::input(
                name,
                Position::byte(at),
                "the header row is not valid text",
            ));
        }
        let (sha256, bytes) = (self.sha256, self.bytes);
        let mut parts = Vec::with_capacity(self.outs.len());
        // Sized once: a roster rejected row by row is ten million rejects.
        let mut rejects = Vec::with_capacity(self.outs.iter().map(|o| o.rejects.len()).sum());
        let (mut read, mut accepted) = (0, 0);
        for out in self.outs {
            read += out.read;
            accepted += out.rows.len() as u64;
            rejects.extend(out.rejects);
            parts.push(Part {
                rows: out.rows,
                state: out.state,
                lines: out.lines,
            });
        }
        let report = InputReport {
            path: name.to_string(),
            sha256,
            bytes,
            encoding,
            rows_read: read,
            rows_accepted: accepted,
            rows_rejected: rejects.len() as u64,
            sheet: None,
            columns: self.layout.cell_columns(),
        };
        Ok(Ingested {
            parts,
            rejects,
            report,
            layout: self.layout,
            source: self.source,
        })
    }
}

struct ChunkOut<R, C> {
    index: usize,
    rows: Vec<R>,
    state: C,
    lines: Lines,
    rejects: Vec<Reject>,
    read: u64,
    census: Census,
    /// The first quote that takes the lines after it into one value, which stops the
    /// run: its line and the column's header.
    runaway_quote: Option<(u64, String)>,
    /// The first byte offset, in the file, that does not decode.
    not_decoded: Option<u64>,
    /// The columns and reasons the chunk's rejects share.
    shared: Shared,
}

#[cfg(test)]
mod tests {
    use super::{Lines, RawText};
    use std::sync::Arc;

    /// A roster with a wrong word in one column is a reject a row: each must hold
    /// neither its reason nor its row's text, or ten million of them held three times
    /// the input's size.
    #[test]
    fn a_chunks_rejects_share_their_reason_and_keep_only_where_their_rows_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.csv");
        let mut text = String::from("person_id,name,building,room,status\n");
        for i in 0..1000 {
            text.push_str(&format!("R{i},张三,公寓1,101,在读\n"));
        }
        std::fs::write(&path, text).unwrap();
        let (_, _, rejects) = crate::pipeline::load_roster(&path, None).unwrap();
        assert_eq!(rejects.len(), 1000);
        assert_eq!(rejects[0].column(), "status");
        assert!(
            rejects.iter().all(|r| Arc::ptr_eq(&r.why, &rejects[0].why)),
            "one reason, held once"
        );
        assert!(
            rejects.iter().all(|r| matches!(r.raw, RawText::At { .. })),
            "no row's text held"
        );
        assert!(std::mem::size_of::<super::Reject>() <= 40);
    }

    /// Rows on lines one after another, but for gaps (rejected rows, records over
    /// several lines, blank lines) of every length, at random; cut into chunks of every
    /// size and joined again.
    #[test]
    fn lines_give_back_every_rows_line_however_the_rows_are_cut() {
        let mut next = crate::testing::draws(0x9e37_79b9_7f4a_7c15);
        for gaps in [0, 1, 10, 100, 700, 1000] {
            let mut line = 1 + next(3);
            let truth: Vec<u64> = (0..5_000)
                .map(|_| {
                    line += 1 + if next(1000) < gaps { 1 + next(40) } else { 0 };
                    line
                })
                .collect();
            let mut whole = Lines::default();
            for (row, &line) in truth.iter().enumerate() {
                whole.push(row as u64, line);
            }
            for (row, &line) in truth.iter().enumerate() {
                assert_eq!(whole.get(row as u64), line, "row {row}, gaps {gaps}");
            }
            // A run a gap, and one to begin with; every row's line once most rows
            // break their run.
            let breaks = truth.windows(2).filter(|w| w[1] != w[0] + 1).count();
            match gaps {
                700 | 1000 => assert!(matches!(whole, Lines::Every(_)), "gaps {gaps}"),
                _ => assert_eq!(whole.kept(), breaks + 1, "gaps {gaps}"),
            }
            let mut at = 0;
            let mut chunks = Vec::new();
            while at < truth.len() {
                let len = (1 + next(700) as usize).min(truth.len() - at);
                let mut chunk = Lines::default();
                for (row, &line) in truth[at..at + len].iter().enumerate() {
                    chunk.push(row as u64, line);
                }
                chunks.push((chunk, len));
                at += len;
            }
            let joined = Lines::concat(chunks.iter().map(|(c, len)| (c, *len)));
            assert_eq!(joined, whole, "gaps {gaps}");
        }
    }

    #[test]
    #[should_panic(expected = "the line of a row not noted")]
    fn a_row_before_the_first_noted_has_no_line() {
        Lines::default().get(0);
    }
}
