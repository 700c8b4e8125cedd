//! Memory kept under a budget (`poolscreen::memory::give_back` while a `Budget` keeps
//! freed memory): what the workers made and another thread freed stays in the process,
//! not given back to the system, and the next allocations, on that other thread, take
//! it instead of fresh pages (as they do without the collection too: what it adds is
//! measured in BENCHMARKS.md, "Kept memory handed between threads"). A process of its
//! own, so that no other test's memory moves the resident size.

mod common;

use poolscreen::memory::{give_back, resident, Budget};

/// The binary's allocator, whose kept memory this is about.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MIB: u64 = 1 << 20;

/// `count` blocks of a mebibyte, each page written so that it is resident.
fn blocks(count: usize) -> Vec<Vec<u8>> {
    (0..count).map(|_| vec![1u8; MIB as usize]).collect()
}

#[test]
fn freed_memory_kept_under_a_budget_is_taken_again_on_another_thread() {
    let pool = common::budget_pool();
    let rss = || resident().expect("a resident size where /proc is mounted");
    // A budget far above what the test holds (half the memory available, at most: the
    // test needs about a gibibyte free), so that freed memory is kept throughout.
    let budget = Budget::start(rss() + (8 << 30), pool.clone()).expect("a budget");
    assert!(budget.keeps());

    // Each worker makes 128 MiB, which this thread frees.
    let before = rss();
    drop(std::hint::black_box(pool.broadcast(|_| blocks(128))));
    let freed = rss();
    assert!(
        freed >= before + 192 * MIB,
        "the workers' 256 MiB was not resident: {} MiB more",
        freed.saturating_sub(before) / MIB
    );
    pool.install(give_back);
    let kept = rss();
    assert!(
        kept + 32 * MIB >= freed,
        "kept memory was given back to the system: {} MiB less",
        freed.saturating_sub(kept) / MIB
    );

    // This thread's 256 MiB takes the pages the workers freed.
    let held = std::hint::black_box(blocks(256));
    let grown = rss().saturating_sub(kept);
    assert!(
        grown < 64 * MIB,
        "{} MiB of fresh memory beside the workers' freed 256 MiB",
        grown / MIB
    );
    drop(held);
    assert_eq!(budget.given_back(), 0, "never over the budget");
}
