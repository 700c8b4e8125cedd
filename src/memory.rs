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

/// Gives the whole pages of `v`'s spare capacity back to the system: a vector written
/// over a larger one's memory (see `reconcile::members_over`) would otherwise keep the
/// rest resident. The pages read as zeros if the vector ever grows into them.
pub fn release_spare<T>(v: &mut Vec<T>) {
    // SAFETY: `sysconf` reads a constant of the system.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as usize,
        _ => return,
    };
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
