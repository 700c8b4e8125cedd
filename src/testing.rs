//! Helpers of the unit tests.

/// Numbers drawn at random, the same ones at every run (xorshift64 from `seed`, which
/// must not be 0): each call gives one below `n`.
pub fn draws(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    }
}

/// A pool of `threads` workers, for a test that runs the same work on several.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool of workers")
}
