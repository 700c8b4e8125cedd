//! The binary's allocator reserves its address space as one arena of 8 GiB, before
//! anything is allocated (`one_arena` in `src/main.rs`), and keeps a size set in the
//! environment. Read from mimalloc's own report of what it reserves
//! (`MIMALLOC_VERBOSE=1`). With arenas of 1 GiB, a large block took room never touched
//! in a second arena while freed memory was kept in the first (BENCHMARKS.md, "One
//! allocator arena").
//! Linux only, as the setting is.
#![cfg(target_os = "linux")]

mod common;

use common::Workdir;

/// The sizes mimalloc reports reserving, in KiB, in the order it reserved them, for a
/// run of a small generated round with `env` set and no other mimalloc setting (the
/// environment's would change what it reserves: memory reserved at start, huge pages).
fn reserved_kib(env: &[(&str, &str)]) -> Vec<u64> {
    let dir = Workdir::new();
    dir.run(&["generate", "--people", "3000", "--out", "in"], 0);
    let mut command = dir.command(&common::generated_args("out"));
    // mimalloc reads its variables' names in any case.
    for (key, _) in std::env::vars_os() {
        if key
            .to_string_lossy()
            .to_ascii_uppercase()
            .starts_with("MIMALLOC_")
        {
            command.env_remove(key);
        }
    }
    command.env("MIMALLOC_VERBOSE", "1");
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
            let kib = rest.split(" KiB").next().unwrap_or(rest);
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
