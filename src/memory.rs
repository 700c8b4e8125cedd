//! Giving freed memory back to the system at once. The allocator keeps what a stage
//! frees for a moment before returning it (see `main.rs`); where a stage's largest
//! allocation comes right after it has freed its temporaries, that moment is the peak.

/// Returns the memory freed so far to the system: mimalloc's forced collection (of
/// this thread's heap and of the arenas all threads share). Freeing nothing that is in
/// use, it changes no result; without mimalloc as the allocator it has nothing to do.
pub fn give_back() {
    // SAFETY: `mi_collect` only returns memory that was freed; it takes no pointer and
    // touches nothing of ours.
    rayon::broadcast(|_| unsafe { libmimalloc_sys::mi_collect(true) });
    unsafe { libmimalloc_sys::mi_collect(true) };
}
