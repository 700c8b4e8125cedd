//! Memory given back to the system: at once where a stage's largest allocation comes
//! right after it has freed its temporaries ([`give_back`]), and, during a run, only
//! once the process holds more than its budget ([`Budget`]). Freed memory kept by the
//! allocator is reused without the kernel zeroing it again, page by page, at every
//! fault: at city scale a third of a run's page faults. While it is kept, the same
//! points hand each worker's freed pages to the allocator's shared arenas instead,
//! where the allocation that follows takes them, on whichever thread it runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h): how long freed memory is kept
/// before it goes back to the system, in milliseconds.
pub const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The resident size at or above which [`give_back`] gives memory back, in bytes: `0`
/// (no [`Budget`] running) gives it back always.
static KEEP_BELOW: AtomicU64 = AtomicU64::new(0);

/// How many times a [`Budget`] has gone over its share: a thread that has given its
/// memory back fewer times ([`checkpoint`]) gives it back.
static OVER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// [`OVER`] when this thread last gave its memory back.
    static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Gives this thread's freed memory back if a [`Budget`] has gone over its share since
/// it last did: for a worker in a long job (a pass over a file's chunks), which would
/// otherwise keep what it freed until it takes its next job. mimalloc purges a thread's
/// own memory only on that thread. Cheap when nothing is asked: one load.
pub fn checkpoint() {
    let over = OVER.load(Ordering::Relaxed);
    SEEN.with(|seen| {
        if seen.get() != over {
            seen.set(over);
            // SAFETY: as in `collect`.
            unsafe { libmimalloc_sys::mi_collect(true) };
        }
    });
}

/// Returns the memory freed so far to the system: mimalloc's forced collection (of
/// every worker's heap and of the arenas all threads share), unless a [`Budget`] is
/// running and the process holds less than its share of it. Then the memory is kept,
/// and every worker's heap is collected unforced: that hands the pages it no longer
/// uses to the arenas all threads share, for the stage that follows, and gives back
/// only what an arena had already scheduled to go (memory freed before the budget
/// started, at the allocator's own delay). Doing nothing there instead, time-10m peaked
/// at 1,335–1,438 MiB (against 1,206–1,334 MiB) and passed four fifths of its budget
/// (1,330 MiB) in five runs of five (against one of five); past it, all freed memory
/// goes back and is faulted in again. Freeing nothing that is in use, it changes no
/// result; without mimalloc as the allocator it has nothing to do.
pub fn give_back() {
    let keep_below = KEEP_BELOW.load(Ordering::Relaxed);
    let keep = keep_below > 0 && resident().is_some_and(|r| r < keep_below);
    collect(!keep, |op| drop(rayon::broadcast(|_| op())));
}

/// mimalloc's collection on every thread `broadcast` reaches, and on this one: forced
/// (freed memory goes back to the system now) or not (freed pages go to the shared
/// arenas, and back to the system only once the purge delay has passed).
fn collect(force: bool, broadcast: impl FnOnce(&(dyn Fn() + Sync))) {
    // SAFETY: `mi_collect` only moves or returns memory that was freed; it takes no
    // pointer and touches nothing of ours.
    broadcast(&|| unsafe { libmimalloc_sys::mi_collect(force) });
    unsafe { libmimalloc_sys::mi_collect(force) };
}

/// The process's resident memory in bytes (`/proc/self/statm`), where the system says.
pub fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size()? as u64)
}

/// The memory the system could give this process without swapping, in bytes
/// (`MemAvailable` in `/proc/meminfo`), where the system says.
fn available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn page_size() -> Option<usize> {
    // SAFETY: `sysconf` reads a constant of the system.
    match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => Some(p as usize),
        _ => None,
    }
}

/// How often a [`Budget`] reads the resident size.
const POLL: Duration = Duration::from_millis(4);

/// The purge delay while a [`Budget`] keeps freed memory: an hour, so that only the
/// budget gives it back.
const KEEP: std::os::raw::c_long = 3_600_000;

/// A run's memory budget. While the process holds less than four fifths of it, the
/// allocator keeps what the run frees, for the run to use again; once it holds more, a
/// thread of its own has every worker give its freed memory back at once, and the
/// allocator gives back what is freed after it as promptly as without a budget, until
/// the process holds less than three quarters again. The budget is the run's input
/// bytes (the city-speed target: a peak no larger than the input), or half the memory
/// the system has available when that is less. When memory goes back changes no
/// result, only how often the kernel zeroes fresh pages.
pub struct Budget {
    done: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// [`OVER`] when the budget started.
    over_at_start: u64,
    limits: Limits,
    /// The purge delay before the budget, given back to the allocator over the budget
    /// and when it ends.
    delay: std::os::raw::c_long,
}

/// When a [`Budget`] keeps freed memory, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Limits {
    budget: u64,
    /// At or above this, freed memory goes back.
    keep_below: u64,
    /// Below this, after going over, freed memory is kept again.
    resume_below: u64,
}

impl Limits {
    fn of(budget: u64) -> Limits {
        Limits {
            budget,
            keep_below: budget / 5 * 4,
            resume_below: budget / 4 * 3,
        }
    }

    /// Whether the process is over its share at resident size `rss`, having been over
    /// at the last reading when `was_over`.
    fn over(&self, rss: u64, was_over: bool) -> bool {
        match was_over {
            false => rss >= self.keep_below,
            true => rss >= self.resume_below,
        }
    }
}

/// Sets the allocator's purge delay.
fn set_delay(ms: std::os::raw::c_long) {
    // SAFETY: setting an allocator option touches no memory of ours.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, ms) };
}

impl Budget {
    /// Starts the budget of a run reading `input_bytes` on `pool`; `None` when the
    /// allocator's purge delay was set from the environment (`MIMALLOC_PURGE_DELAY`,
    /// which then rules alone) or no resident size can be read.
    pub fn start(input_bytes: u64, pool: Arc<rayon::ThreadPool>) -> Option<Budget> {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return None;
        }
        let rss = resident()?;
        let budget = match available() {
            Some(free) => input_bytes.min(free / 2),
            None => input_bytes,
        };
        let limits = Limits::of(budget);
        // SAFETY: reading an allocator option touches no memory of ours.
        let delay = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        // Over the budget from the start (a small round, whose process is larger than
        // its input), the allocator goes on as without a budget.
        let mut over = limits.over(rss, false);
        if !over {
            set_delay(KEEP);
            KEEP_BELOW.store(limits.keep_below, Ordering::Relaxed);
        }
        let (done, wait) = mpsc::channel::<()>();
        let over_at_start = OVER.load(Ordering::Relaxed);
        let thread = std::thread::spawn(move || {
            while wait.recv_timeout(POLL) == Err(RecvTimeoutError::Timeout) {
                let Some(rss) = resident() else { continue };
                let now_over = limits.over(rss, over);
                if now_over == over {
                    continue;
                }
                over = now_over;
                if over {
                    // From here on `give_back` gives back too.
                    KEEP_BELOW.store(0, Ordering::Relaxed);
                    set_delay(delay);
                    OVER.fetch_add(1, Ordering::Relaxed);
                    collect(true, |op| drop(pool.broadcast(|_| op())));
                } else {
                    set_delay(KEEP);
                    KEEP_BELOW.store(limits.keep_below, Ordering::Relaxed);
                }
            }
        });
        Some(Budget {
            done: Some(done),
            thread: Some(thread),
            over_at_start,
            limits,
            delay,
        })
    }

    /// How many times the process has gone over its share of the budget so far.
    pub fn given_back(&self) -> u64 {
        OVER.load(Ordering::Relaxed) - self.over_at_start
    }

    /// Whether freed memory is kept now (the process under its share of the budget).
    pub fn keeps(&self) -> bool {
        KEEP_BELOW.load(Ordering::Relaxed) > 0
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        KEEP_BELOW.store(0, Ordering::Relaxed);
        set_delay(self.delay);
        if std::env::var_os("POOLSCREEN_TIMINGS").is_some() {
            crate::say!(
                "poolscreen: memory budget {} MB, freed memory kept below {} MB, gone over {} time(s)",
                self.limits.budget >> 20,
                self.limits.keep_below >> 20,
                self.given_back()
            );
        }
    }
}

/// Gives the whole pages of `v`'s spare capacity back to the system: a vector written
/// over a larger one's memory (see `reconcile::members_over`) would otherwise keep the
/// rest resident. The pages read as zeros if the vector ever grows into them.
pub fn release_spare<T>(v: &mut Vec<T>) {
    let Some(page) = page_size() else { return };
    let size = std::mem::size_of::<T>();
    let start = (v.as_ptr() as usize + v.len() * size).next_multiple_of(page);
    let end = (v.as_ptr() as usize + v.capacity() * size) / page * page;
    if end > start {
        // SAFETY: the pages lie wholly in `v`'s spare capacity, which holds no value;
        // `MADV_DONTNEED` on private anonymous memory (what the allocator maps) only
        // drops their contents, which read as zeros afterwards.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_keeps_freed_memory_below_four_fifths_and_again_below_three_quarters() {
        let gib = 1u64 << 30;
        let limits = Limits::of(gib);
        assert_eq!(limits.keep_below, gib / 5 * 4);
        assert_eq!(limits.resume_below, gib / 4 * 3);
        // Under: over from four fifths on.
        assert!(!limits.over(limits.keep_below - 1, false));
        assert!(limits.over(limits.keep_below, false));
        // Over: under again only below three quarters.
        assert!(limits.over(limits.keep_below - 1, true));
        assert!(limits.over(limits.resume_below, true));
        assert!(!limits.over(limits.resume_below - 1, true));
    }
}
