//! An input file read through a mapping of it into memory: the hashing thread hashes,
//! and the workers parse, the page cache's own pages. Read with `read`, every byte was
//! copied once more by the kernel into the chunks' buffers: a tenth of a city round's
//! CPU, at a third of the speed of a copy alone, beside the workers.
//!
//! A file shortened while it is mapped makes the next read of a page past its new end
//! raise `SIGBUS`; so does a mapped file whose storage fails. The handler installed
//! here ([`Mapping::of`]) then ends the run with an error and status 1, before any
//! output is written (inputs are mapped only while their first reading lasts), rather
//! than let the signal kill it without a word. `POOLSCREEN_NO_MAP=1` reads every input
//! with `read` instead.

use std::fs::File;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// The environment variable that turns mapping off: inputs are then read with `read`
/// into buffers (for a file system where a mapping is not wanted).
pub const NO_MAP: &str = "POOLSCREEN_NO_MAP";

/// When set to a number of milliseconds, a run says on standard error that it has
/// mapped an input and waits that long before reading it, so that a test can shorten
/// the file under the mapping.
pub const TEST_MAP_PAUSE: &str = "POOLSCREEN_TEST_MAP_PAUSE_MS";

/// Mappings alive now: a `SIGBUS` with none is not ours, and keeps its default action.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A whole file, mapped read-only and private.
#[derive(Debug)]
pub struct Mapping {
    start: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is only ever read, and unmapped once, when its last owner drops it.
unsafe impl Send for Mapping {}
// SAFETY: as above; reading from several threads at once is sound.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `file` mapped, when it is a regular file of at least one byte, mapping is not
    /// turned off ([`NO_MAP`]), and the system maps it; `None` to read it instead.
    pub fn of(file: &File) -> Option<Mapping> {
        if std::env::var_os(NO_MAP).is_some_and(|v| v != "0") {
            return None;
        }
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        let len = usize::try_from(meta.len()).ok()?;
        catch_sigbus();
        // SAFETY: a new mapping, placed by the system where nothing else is mapped, of
        // a file open for reading; it is read-only and private, so nothing of ours is
        // written through it.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return None;
        }
        LIVE.fetch_add(1, Ordering::SeqCst);
        Some(Mapping {
            start: NonNull::new(start.cast())?,
            len,
        })
    }

    /// The file's bytes, as long as it was when mapped.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes are mapped readable from `start` until `self` is dropped.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.len) }
    }

    /// Asks the system to map `range`'s pages in before they are first read: one call
    /// a block instead of a page fault every sixteen pages. A system that cannot is
    /// left to fault them in.
    pub fn load(&self, range: Range<usize>) {
        self.advise(outer_pages(range, self.len), libc::MADV_POPULATE_READ);
    }

    /// Drops the pages wholly inside `range` from the process once they have been
    /// read: they would otherwise count in its resident size until the file is read
    /// to its end (a city's inputs are gigabytes). Read again, a page comes back from
    /// the page cache as it was.
    pub fn release(&self, range: Range<usize>) {
        self.advise(inner_pages(range), libc::MADV_DONTNEED);
    }

    fn advise(&self, pages: Range<usize>, advice: libc::c_int) {
        if pages.is_empty() {
            return;
        }
        debug_assert!(pages.end <= self.len.next_multiple_of(page_size()));
        // SAFETY: `pages` is page-aligned and inside the mapping; advice about a
        // private read-only file mapping changes no byte a read sees (a dropped page
        // is read again from the file). A refusal is only advice not taken.
        unsafe {
            libc::madvise(
                self.start.as_ptr().add(pages.start).cast(),
                pages.len(),
                advice,
            );
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `of`, unmapped once; no slice of it outlives
        // `self` (`bytes` borrows it).
        unsafe {
            libc::munmap(self.start.as_ptr().cast(), self.len);
        }
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The size of a page.
fn page_size() -> usize {
    // SAFETY: sysconf reads a constant of the system.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(1)
}

/// The pages that hold any byte of `range`, within a mapping of `len` bytes.
fn outer_pages(range: Range<usize>, len: usize) -> Range<usize> {
    let page = page_size();
    let end = range.end.min(len).next_multiple_of(page);
    (range.start / page * page)..end.max(range.start / page * page)
}

/// The pages that hold only bytes of `range`.
fn inner_pages(range: Range<usize>) -> Range<usize> {
    let page = page_size();
    let start = range.start.next_multiple_of(page);
    let end = range.end / page * page;
    start..end.max(start)
}

/// Ends the run on `SIGBUS` while an input is mapped (see the module's documentation).
fn catch_sigbus() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: a handler that only calls async-signal-safe functions (`write`,
        // `signal`, `_exit`), installed once.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigbus(_: libc::c_int) {
    const MESSAGE: &[u8] = b"poolscreen: error: an input file was shortened while it was read, or its storage failed (SIGBUS reading it); no output was changed; run again on files left alone, or with POOLSCREEN_NO_MAP=1 to read inputs without mapping them\n";
    // SAFETY: async-signal-safe calls only. Without a mapping alive the signal is not
    // ours: its default action is restored, and the faulting access, made again on
    // return, raises it once more.
    unsafe {
        if LIVE.load(Ordering::SeqCst) == 0 {
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
            return;
        }
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::_exit(1);
    }
}

/// See [`TEST_MAP_PAUSE`].
pub fn pause_for_tests(name: &str) {
    if let Some(pause) = std::env::var(TEST_MAP_PAUSE)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        crate::say!("poolscreen: {name} mapped; reading it after {pause} ms");
        std::thread::sleep(std::time::Duration::from_millis(pause));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_mapping_reads_the_file_and_advice_changes_no_byte() {
        let page = page_size();
        let text: Vec<u8> = (0..5 * page + 123).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&text).unwrap();
        let map = Mapping::of(file.as_file()).expect("a regular file maps");
        assert_eq!(map.bytes(), &text[..]);
        map.load(page + 1..3 * page + 5);
        map.load(5 * page..text.len());
        map.release(1..4 * page - 1);
        map.release(0..text.len());
        assert_eq!(
            map.bytes(),
            &text[..],
            "pages dropped are read again as they were"
        );
    }

    #[test]
    fn empty_files_and_others_than_regular_files_are_read_instead() {
        let empty = tempfile::NamedTempFile::new().unwrap();
        assert!(Mapping::of(empty.as_file()).is_none());
        let dir = File::open(std::env::temp_dir()).unwrap();
        assert!(Mapping::of(&dir).is_none());
    }

    #[test]
    fn pages_cover_or_stay_inside_their_range() {
        let page = page_size();
        assert_eq!(outer_pages(1..2, 10 * page), 0..page);
        assert_eq!(outer_pages(page..2 * page + 1, 10 * page), page..3 * page);
        assert_eq!(
            outer_pages(9 * page..10 * page + 7, 10 * page),
            9 * page..10 * page
        );
        assert_eq!(inner_pages(1..2 * page), page..2 * page);
        assert_eq!(inner_pages(1..page + 1), page..page);
        assert!(inner_pages(5..9).is_empty());
        assert_eq!(inner_pages(0..3 * page), 0..3 * page);
    }
}
