//! The `poolscreen` binary: parse the command line, call the library, map the outcome
//! to an exit status (0 done, 1 fatal error, 2 usage error, 3 rows rejected with
//! `--strict`).

use clap::Parser;

/// mimalloc returns freed memory to the system promptly, which keeps the peak memory of
/// a city round near the size of what it holds (glibc keeps freed chunk buffers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    no_huge_pages();
    prompt_purge();
    let cli = poolscreen::cmd::Cli::parse();
    let status = poolscreen::cmd::main(cli).unwrap_or_else(|err| {
        poolscreen::say!("poolscreen: error: {err}");
        err.exit_status()
    });
    std::process::exit(status);
}

/// Turns off transparent huge pages for this process. When memory is fragmented (after
/// a build, say), a huge-page fault makes the kernel compact memory first: measured on a
/// ten-million-person round, that added up to 3 s of system time to a 5 s run, while
/// huge pages saved nothing measurable when memory was not fragmented.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches no memory of
    // ours; if the kernel refuses, the process simply keeps huge pages.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Has mimalloc give freed memory back to the system after 100 ms instead of its default
/// second. At city scale a stage frees hundreds of megabytes (the chunks' rows, once
/// merged) while the next stage allocates its own: measured on a ten-million-person
/// round, the peak memory drops from about 1.5 GB to 1.25 GB, at the same speed.
fn prompt_purge() {
    // Set only when it holds the default of the mimalloc version built (1000 ms), so a
    // setting from the environment is kept.
    use poolscreen::memory::PURGE_DELAY;
    // SAFETY: reading and setting an allocator option touches no memory of ours.
    unsafe {
        if libmimalloc_sys::mi_option_get(PURGE_DELAY) == 1000 {
            libmimalloc_sys::mi_option_set(PURGE_DELAY, 100);
        }
    }
}

/// Has mimalloc reserve its address space as one region (arena) of [`ARENA_KIB`]
/// instead of 1 GiB at a time. mimalloc searches its arenas in order, and puts a block
/// larger than its 32 MiB chunks at the first run of wholly free chunks. With arenas of
/// 1 GiB, a worker asking for a large block (reconcile's 160 MB of rows at ten million
/// samples) got room never touched in the second arena while the first held hundreds of
/// megabytes freed and kept, in about half the runs of a round in no order; the process
/// then went over four fifths of its memory budget, gave back all it kept and faulted it
/// in again. With one arena it did not, in the runs measured (BENCHMARKS.md, "One
/// allocator arena"). Reserving address space costs no memory: pages are used as they
/// are touched.
///
/// Set from the program's constructors, before anything is allocated: the option
/// applies to arenas reserved after it, and the runtime allocates before `main`. Set
/// only when it holds mimalloc's default, so that `MIMALLOC_ARENA_RESERVE` in the
/// environment is kept (unless it says 1 GiB, the default itself, or cannot be read).
#[cfg(target_os = "linux")]
extern "C" fn one_arena() {
    // SAFETY: reading and setting an allocator option touches no memory of ours, and
    // mimalloc's options may be set before it is initialised.
    unsafe {
        if libmimalloc_sys::mi_option_get(ARENA_RESERVE) == DEFAULT_ARENA_KIB {
            libmimalloc_sys::mi_option_set(ARENA_RESERVE, ARENA_KIB);
        }
    }
}

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static ONE_ARENA: extern "C" fn() = one_arena;

/// mimalloc's `mi_option_arena_reserve` (mimalloc.h): how much address space an arena
/// reserves at a time, in KiB.
#[cfg(target_os = "linux")]
const ARENA_RESERVE: libmimalloc_sys::mi_option_t = 23;

/// The option's default in the mimalloc version built: 1 GiB, in KiB.
#[cfg(target_os = "linux")]
const DEFAULT_ARENA_KIB: std::os::raw::c_long = 1 << 20;

/// The arena [`one_arena`] reserves: 8 GiB, in KiB, more than twice the peak of a
/// Shanghai-sized round. mimalloc clamps an arena to 16 GiB, and one that large fails
/// (its records pass the 32 MiB mimalloc allows them), after which mimalloc falls back
/// to arenas of 128 MiB.
#[cfg(target_os = "linux")]
const ARENA_KIB: std::os::raw::c_long = 8 << 20;
