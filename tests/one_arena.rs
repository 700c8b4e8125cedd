//! The binary's allocator reserves its address space as one arena of 8 GiB, before
//! anything is allocated (`one_arena` in `src/main.rs`), and keeps a size set in the
//! environment. Read from mimalloc's own report of what it reserves
//! (`MIMALLOC_VERBOSE=1`): with arenas of 1 GiB, the threads of a city round start their
//! searches for free memory in different arenas, and large blocks took fresh memory
//! while freed memory was kept in the other (BENCHMARKS.md, "One arena").

mod common;

use common::Workdir;

/// The sizes mimalloc reports reserving, in KiB, in the order it reserved them, for a
/// run of a small generated round with `env` set.
fn reserved_kib(env: &[(&str, &str)]) -> Vec<u64> {
    let dir = Workdir::new();
    dir.run(&["generate", "--people", "3000", "--out", "in"], 0);
    let mut command = dir.command(&common::generated_args("out"));
    command
        .env("MIMALLOC_VERBOSE", "1")
        .env_remove("MIMALLOC_ARENA_RESERVE");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the binary runs");
    common::expect(&output, 0);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reserved: Vec<u64> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("mimalloc: reserved "))
        .map(|rest| {
            let kib = rest.strip_suffix(" KiB memory").unwrap_or(rest);
            kib.trim().parse().expect("a size in KiB")
        })
        .collect();
    assert!(
        !reserved.is_empty(),
        "mimalloc reported no reservation; its report now reads:\n{stderr}"
    );
    reserved
}

#[test]
fn the_allocator_reserves_one_arena_of_eight_gibibytes() {
    assert_eq!(reserved_kib(&[]), [8 << 20]);
}

#[test]
fn an_arena_size_from_the_environment_is_kept() {
    let reserved = reserved_kib(&[("MIMALLOC_ARENA_RESERVE", "256MiB")]);
    assert_eq!(reserved[0], 256 << 10, "reserved {reserved:?} KiB");
}
