//! An input file read through a mapping of it into memory: the cutter scans, the
//! hashing thread hashes, and each worker copies out the chunk it parses from, the page
//! cache's own pages. Read with `read`, every byte was copied by the kernel into the
//! chunks' buffers: a tenth of a city round's CPU, at a third of the speed of a copy
//! alone, beside the workers. A worker's own copy of a chunk (a mebibyte, into a buffer
//! it keeps warm) costs a fraction of that, and keeps text checked once as text: the
//! mapping shows the file as it is now, and another program may be writing it.
//!
//! A file shortened while it is mapped makes the next read of a page past its new end
//! raise `SIGBUS`; so does a mapped file whose storage fails. The handler installed
//! here ([`Mapping::of`]) then ends the run with an error and status 1, before any
//! output is written (inputs are mapped only while their first reading lasts), rather
//! than let the signal kill it without a word. A `SIGBUS` at any other address goes to
//! the handler that was there before (the standard library's, for stack overflows).
//! A file changed in any other way (shortened within its last page, rewritten in
//! place) is found once it has been read, and after each reading again of its rows
//! ([`super::reread::Opened::check`]). `POOLSCREEN_NO_MAP=1` reads every input with
//! `read` instead.

use std::fs::File;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

/// The environment variable that turns mapping off: inputs are then read with `read`
/// into buffers (for a file system where a mapping is not wanted). Any value but `0`
/// or nothing turns it off.
pub const NO_MAP: &str = "POOLSCREEN_NO_MAP";

/// When set to a number of milliseconds, a run says on standard error that it has
/// opened an input and waits that long before reading it, so that a test can change
/// the file under the run.
pub const TEST_MAP_PAUSE: &str = "POOLSCREEN_TEST_MAP_PAUSE_MS";

/// Whether inputs are mapped: unless [`NO_MAP`] turns it off.
pub fn wanted() -> bool {
    maps_with(std::env::var_os(NO_MAP).as_deref())
}

/// Whether inputs are mapped with [`NO_MAP`] set to `no_map`.
fn maps_with(no_map: Option<&std::ffi::OsStr>) -> bool {
    no_map.is_none_or(|v| v.is_empty() || v == "0")
}

/// The mappings alive: the start and end address of each, `0` where a slot is free.
/// The `SIGBUS` handler reads them to tell a fault in a mapped input from any other.
static LIVE: [(AtomicUsize, AtomicUsize); SLOTS] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; SLOTS];

/// Inputs mapped at once, at most (a run maps one or two); one more is read instead.
const SLOTS: usize = 16;

/// A whole file, mapped read-only and private.
#[derive(Debug)]
pub struct Mapping {
    start: NonNull<u8>,
    len: usize,
    slot: usize,
}

// SAFETY: the mapping is only ever read, and unmapped once, when its last owner drops it.
unsafe impl Send for Mapping {}
// SAFETY: as above; reading from several threads at once is sound.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `file` mapped, when it is a regular file of at least one byte and the system
    /// maps it; `None` to read it instead. (Whether to map at all is [`wanted`].)
    ///
    /// The bytes seen through the mapping are the file's as they are at each moment:
    /// another program writing the file changes them. They are only ever scanned,
    /// hashed and copied as bytes; text is made of a copy ([`super::split::Chunk::copied`]).
    pub fn of(file: &File) -> Option<Mapping> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        let len = usize::try_from(meta.len()).ok()?;
        catch_sigbus();
        let slot = LIVE.iter().position(|(start, _)| {
            start
                .compare_exchange(0, usize::MAX, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })?;
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
        let (begin, end) = &LIVE[slot];
        let Some(start) = NonNull::new(start.cast::<u8>()).filter(|_| start != libc::MAP_FAILED)
        else {
            begin.store(0, Ordering::SeqCst);
            return None;
        };
        // The range is whole before any byte of it is read; the slot was held (an
        // address no mapping starts at) while it was made.
        let address = start.as_ptr() as usize;
        end.store(
            address + len.next_multiple_of(page_size()),
            Ordering::SeqCst,
        );
        begin.store(address, Ordering::SeqCst);
        Some(Mapping { start, len, slot })
    }

    /// The file's bytes, as long as it was when mapped.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes are mapped readable from `start` until `self` is dropped.
        // (Another program writing the file changes them under the slice: they are
        // read as bytes only, never taken for text; see [`Mapping::of`].)
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
    /// the page cache.
    pub fn release(&self, range: Range<usize>) {
        self.advise(inner_pages(range), libc::MADV_DONTNEED);
    }

    fn advise(&self, pages: Range<usize>, advice: libc::c_int) {
        if pages.is_empty() {
            return;
        }
        debug_assert!(pages.end <= self.len.next_multiple_of(page_size()));
        // SAFETY: `pages` is page-aligned and inside the mapping; advice about a
        // private read-only file mapping writes nothing (a dropped page is read again
        // from the file). A refusal is only advice not taken.
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
        // The range is given up first: once unmapped, another mapping may take it.
        let (begin, end) = &LIVE[self.slot];
        end.store(0, Ordering::SeqCst);
        begin.store(0, Ordering::SeqCst);
        // SAFETY: the mapping made in `of`, unmapped once; no slice of it outlives
        // `self` (`bytes` borrows it).
        unsafe {
            libc::munmap(self.start.as_ptr().cast(), self.len);
        }
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

/// The `SIGBUS` action there was before ours, for faults that are not in a mapping.
static BEFORE: OnceLock<Before> = OnceLock::new();

/// Ends the run on `SIGBUS` in a mapped input (see the module's documentation).
fn catch_sigbus() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: the action there was is kept before the handler, which calls only
        // async-signal-safe functions (`write`, `sigaction`, `_exit`) and that
        // action's handler, is installed, once.
        unsafe {
            let mut before: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut before);
            let _ = BEFORE.set(Before(before));
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as Handler as usize;
            // On the alternate stack where there is one, as the handler before (the
            // standard library's, for stack overflows) ran.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    });
}

/// A signal action kept (it is plain data).
struct Before(libc::sigaction);

type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Whether `address` is in a mapped input.
fn in_a_mapping(address: usize) -> bool {
    LIVE.iter().any(|(begin, end)| {
        let (begin, end) = (begin.load(Ordering::SeqCst), end.load(Ordering::SeqCst));
        (begin..end).contains(&address)
    })
}

extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    const MESSAGE: &[u8] = b"poolscreen: error: an input file was shortened while it was read, or its storage failed (SIGBUS reading it); no output was changed; run again on files left alone, or with POOLSCREEN_NO_MAP=1 to read inputs without mapping them\n";
    // SAFETY: async-signal-safe calls only, and `info` is the kernel's. A fault
    // outside every mapping is not ours: it goes to the handler there was before, or,
    // when that was the default, the default action is restored and the faulting
    // access, made again on return, raises the signal once more (a signal sent is
    // raised again, to take effect once the handler returns).
    unsafe {
        // A signal sent by a program (`kill`) is no fault, whatever its address says.
        let sent = (*info).si_code <= 0;
        if !sent && in_a_mapping((*info).si_addr() as usize) {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(1);
        }
        match BEFORE.get() {
            Some(Before(before))
                if before.sa_sigaction != libc::SIG_DFL && before.sa_sigaction != libc::SIG_IGN =>
            {
                if before.sa_flags & libc::SA_SIGINFO != 0 {
                    let handler: Handler = std::mem::transmute(before.sa_sigaction);
                    handler(signal, info, context);
                } else {
                    let handler: extern "C" fn(libc::c_int) =
                        std::mem::transmute(before.sa_sigaction);
                    handler(signal);
                }
            }
            // A signal sent to a program that ignored it is still ignored.
            Some(Before(before)) if sent && before.sa_sigaction == libc::SIG_IGN => {}
            _ => {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
                if sent {
                    libc::raise(signal);
                }
            }
        }
    }
}

/// See [`TEST_MAP_PAUSE`].
pub fn pause_for_tests(name: &str) {
    if let Some(pause) = std::env::var(TEST_MAP_PAUSE)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        crate::say!("poolscreen: {name} opened; reading it after {pause} ms");
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

    /// The resident size, in kibibytes, of the mapping that starts at `start`.
    fn resident_kib(start: *const u8) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("Linux lists mappings");
        let head = format!("{:x}-", start as usize);
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&head));
        assert!(lines.next().is_some(), "the mapping is listed");
        let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// `load` brings a range's pages into the process, and `release` drops them: the
    /// advice is taken, not only harmless.
    #[test]
    fn loaded_pages_are_resident_and_released_pages_are_not() {
        let page = page_size();
        let text = vec![b'x'; 64 * page];
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&text).unwrap();
        file.as_file().sync_all().unwrap();
        let map = Mapping::of(file.as_file()).expect("a regular file maps");
        let start = map.bytes().as_ptr();
        let kib = |pages: usize| (pages * page / 1024) as u64;
        assert_eq!(resident_kib(start), 0, "nothing read yet");
        map.load(0..32 * page);
        // At least those (the system may map in neighbours it has, as for a fault).
        assert!(resident_kib(start) >= kib(32));
        map.load(0..text.len());
        assert_eq!(resident_kib(start), kib(64));
        map.release(page / 2..10 * page);
        assert_eq!(resident_kib(start), kib(64 - 9), "only pages wholly inside");
        map.release(0..text.len());
        assert_eq!(resident_kib(start), 0);
    }

    /// A mapping's slot holds its pages' range while it lives (its whole last page,
    /// past the file's end too), and no longer once it is dropped. (Other tests' mappings
    /// may lie next to it, so its neighbours are not looked at.)
    #[test]
    fn a_fault_is_ours_only_inside_a_mapping_alive() {
        let page = page_size();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'y'; page + 1]).unwrap();
        let map = Mapping::of(file.as_file()).expect("a regular file maps");
        let start = map.bytes().as_ptr() as usize;
        let slot = map.slot;
        let range = |slot: usize| {
            let (begin, end) = &LIVE[slot];
            begin.load(Ordering::SeqCst)..end.load(Ordering::SeqCst)
        };
        assert_eq!(range(slot), start..start + 2 * page);
        for inside in [start, start + page, start + 2 * page - 1] {
            assert!(in_a_mapping(inside));
        }
        drop(map);
        // Freed (another test's mapping may have taken the slot since).
        assert_ne!(range(slot), start..start + 2 * page);
    }

    #[test]
    fn mapping_is_turned_off_by_any_value_but_nothing_or_zero() {
        use std::ffi::OsStr;
        assert!(maps_with(None));
        assert!(maps_with(Some(OsStr::new(""))));
        assert!(maps_with(Some(OsStr::new("0"))));
        assert!(!maps_with(Some(OsStr::new("1"))));
        assert!(!maps_with(Some(OsStr::new("yes"))));
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
