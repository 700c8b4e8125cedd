//! A run's memory budget (`poolscreen::memory::Budget`) against the process's real
//! resident size: freed memory kept under four fifths of the budget, given back once
//! over it, kept again below three quarters, and the allocator as it was afterwards. A
//! process of its own, so that no other test's memory moves the resident size.

mod common;

use poolscreen::memory::{resident, Budget, PURGE_DELAY};
use std::time::{Duration, Instant};

/// The allocator's purge delay, in milliseconds.
fn delay() -> std::os::raw::c_long {
    // SAFETY: reading an allocator option touches no memory of ours.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

/// Waits up to ten seconds for `done`.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

#[test]
fn a_budget_keeps_freed_memory_until_the_process_passes_its_share() {
    let pool = common::budget_pool();
    let before = delay();
    let rss = resident().expect("a resident size where /proc is mounted");
    // A budget whose four fifths the process passes once it holds 256 MiB more.
    let budget = Budget::start((rss + (256 << 20)) / 4 * 5, pool).expect("a budget");
    assert!(budget.keeps(), "freed memory is kept under the budget");
    assert_ne!(delay(), before, "the allocator keeps freed memory");
    assert_eq!(budget.given_back(), 0);

    // 32 MiB at a time, written so that it is resident.
    let mut held: Vec<Vec<u8>> = Vec::new();
    let over = wait_for(|| {
        if budget.given_back() == 0 {
            held.push(vec![1u8; 32 << 20]);
        }
        budget.given_back() > 0
    });
    assert!(over, "never over the budget at {:?} bytes", resident());
    assert!(
        held.len() >= 8,
        "over after {} MiB of the 256 MiB",
        held.len() * 32
    );
    assert!(!budget.keeps(), "freed memory goes back over the budget");
    assert_eq!(delay(), before, "the allocator's own delay over the budget");
    // Nothing held was touched.
    assert!(held.iter().all(|v| v.iter().step_by(4096).all(|&b| b == 1)));

    // Back under three quarters, freed memory is kept again.
    drop(held);
    assert!(wait_for(|| budget.keeps()), "not kept again once under");
    assert_ne!(delay(), before);
    assert_eq!(budget.given_back(), 1);

    drop(budget);
    assert_eq!(delay(), before, "the allocator as it was");
}
