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

/// Has mimalloc reserve its address space as one region (arena) of [`ARENA`] bytes
/// instead of 1 GiB at a time. mimalloc starts each thread's search for free memory in
/// the arena of its thread number (every other thread in the second of two), and takes
/// the first free room it finds there. With two arenas, a worker asking for a large
/// block (reconcile's 160 MB of rows at ten million samples) took memory never touched
/// in the second arena while the first held hundreds of megabytes freed and kept, in
/// about half the runs; the process then went over four fifths of its memory budget,
/// gave back all it kept and faulted it in again. Reserving address space costs no
/// memory: pages are used as they are touched.
///
/// Set from the program's constructors, before anything is allocated: the option
/// applies to arenas reserved after it, and the runtime allocates before `main`. Set
/// only when it holds mimalloc's default, so that `MIMALLOC_ARENA_RESERVE` in the
/// environment is kept.
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
const ARENA_RESERVE: libmimalloc_sys::mi_option_t = 23;

/// The option's default in the mimalloc version built: 1 GiB, in KiB.
const DEFAULT_ARENA_KIB: std::os::raw::c_long = 1 << 20;

/// The arena [`one_arena`] reserves: 8 GiB, in KiB, more than twice the peak of a
/// Shanghai-sized round and half the largest arena mimalloc makes (16 GiB, less its
/// own records).
const ARENA_KIB: std::os::raw::c_long = 8 << 20;
