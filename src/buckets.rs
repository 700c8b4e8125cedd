//! Stable counting sorts over small dense keys (tube numbers, building ranks), so that
//! grouping rows costs the same whatever order a file gives them in. A comparison sort
//! of rows that come sorted by tube is nearly free and of rows sorted by sampling time
//! is not; a counting sort makes two passes either way.

use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::AtomicU32;

/// `values` as atomics, for workers that each write places of it no other worker
/// reads or writes (each person's slot of an inverse permutation, each repeat of a
/// first-seen numbering). Relaxed stores of atomics are plain stores; being atomics,
/// they stay sound whatever places the workers are given.
pub fn as_atomics(values: &mut [u32]) -> &[AtomicU32] {
    const _: () = assert!(
        std::mem::size_of::<AtomicU32>() == std::mem::size_of::<u32>()
            && std::mem::align_of::<AtomicU32>() == std::mem::align_of::<u32>()
    );
    // SAFETY: `AtomicU32` has the size and bit validity of `u32`, and its alignment
    // (asserted above); the slice is borrowed mutably for as long as the atomics are,
    // so nothing reads or writes it but through them.
    unsafe { &*(values as *mut [u32] as *const [AtomicU32]) }
}

/// How far ahead [`gather`] (and [`crate::strings::Strings::gather`]) asks for the
/// values it will read: enough reads in flight to hide the memory's latency when
/// `order` jumps all over a city's table.
pub(crate) const AHEAD: usize = 16;

/// `values` in `order`: item `i` is `values[order[i]]`. Blocks run on the workers, and
/// each read is asked of the memory [`AHEAD`] items before it is made, since reads in
/// no order would each wait for the memory otherwise.
pub fn gather<T: Copy + Send + Sync>(values: &[T], order: &[u32]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(order.len());
    out.spare_capacity_mut()
        .par_chunks_mut(1 << 16)
        .zip(order.par_chunks(1 << 16))
        .for_each(|(out, order)| {
            for (i, (o, &p)) in out.iter_mut().zip(order).enumerate() {
                if let Some(&ahead) = order.get(i + AHEAD) {
                    prefetch(&values[ahead as usize]);
                }
                o.write(values[p as usize]);
            }
        });
    // SAFETY: the chunks of the spare capacity cover its first `order.len()` slots, and
    // each was written above.
    unsafe { out.set_len(order.len()) };
    out
}

/// Asks the memory for the cache line holding `value`'s first byte, without waiting.
#[inline(always)]
pub(crate) fn prefetch<R: ?Sized>(value: &R) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch reads nothing the program sees and cannot fault; the
        // address is that of a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const R).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Items `0..n` as `make(i)`, ordered by `bucket(i)` (each below `buckets`); items of
/// one bucket keep their order. The counting and the moves run on the workers, each over
/// its own stretch of items.
pub fn sort_into<T: Send>(
    n: usize,
    buckets: usize,
    bucket: impl Fn(usize) -> u32 + Sync,
    make: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    sort_into_counted(n, buckets, bucket, make).0
}

/// [`sort_into`], with how many items each bucket holds.
pub fn sort_into_counted<T: Send>(
    n: usize,
    buckets: usize,
    bucket: impl Fn(usize) -> u32 + Sync,
    make: impl Fn(usize) -> T + Sync,
) -> (Vec<T>, Vec<usize>) {
    let Layout {
        stretches,
        mut ranges,
        counts,
    } = layout(n, buckets, &bucket);
    let mut sorted: Vec<T> = Vec::with_capacity(n);
    let slots = Slots(sorted.spare_capacity_mut().as_mut_ptr());
    let slots = &slots;
    ranges
        .par_iter_mut()
        .zip(stretches)
        .for_each(|(range, stretch)| {
            for i in stretch {
                let (at, end) = &mut range[bucket(i) as usize];
                // A `bucket` that answers differently the second time would break the
                // tiling: it stops here instead.
                assert!(*at < *end, "{CHANGED}");
                // SAFETY: `*at` lies in the range of this stretch's items of this
                // bucket, which only this worker writes and which lies below `n`, the
                // capacity; it moves on after each item, so no slot is written twice.
                unsafe { (*slots.0.add(*at as usize)).write(make(i)) };
                *at += 1;
            }
        });
    assert!(
        ranges.iter().flatten().all(|(at, end)| at == end),
        "{CHANGED}"
    );
    // SAFETY: the ranges tile `0..n`, and each was filled to its end above. (On a panic
    // before this, `sorted` stays empty and the items made leak, which is safe.)
    unsafe { sorted.set_len(n) };
    (sorted, counts)
}

/// Sorts `items` by `bucket` (each below `buckets`) on this thread, stably: counted,
/// copied into `scratch`, and put back in place. For slices that fit in a core's cache,
/// sorted one per worker, where [`sort_into`]'s workers and new vector would cost more
/// than the sort; `scratch` and `counts` are kept from one call to the next.
pub fn sort_in_place<T: Copy>(
    items: &mut [T],
    buckets: usize,
    bucket: impl Fn(&T) -> u32,
    scratch: &mut Vec<T>,
    counts: &mut Vec<u32>,
) {
    counts.clear();
    counts.resize(buckets, 0);
    for item in items.iter() {
        counts[bucket(item) as usize] += 1;
    }
    let mut next = 0;
    for count in counts.iter_mut() {
        let here = *count;
        *count = next;
        next += here;
    }
    scratch.clear();
    scratch.extend_from_slice(items);
    for item in scratch.iter() {
        let at = &mut counts[bucket(item) as usize];
        items[*at as usize] = *item;
        *at += 1;
    }
}

/// Sorts `items`, whose buckets (`bucket`) differ only in their low `shift` bits, by
/// those bits with [`sort_in_place`]; as they are when `shift` is 0. The second pass of
/// a counting sort made first by the buckets' high bits (a stretch at a time, in a
/// core's cache), where one pass straight to a city's million buckets would scatter
/// its writes over the whole table.
pub fn sort_by_low_bits<T: Copy>(
    items: &mut [T],
    shift: u32,
    bucket: impl Fn(&T) -> u32,
    scratch: &mut Vec<T>,
    counts: &mut Vec<u32>,
) {
    if shift > 0 {
        let mask = (1u32 << shift) - 1;
        sort_in_place(
            items,
            mask as usize + 1,
            |t| bucket(t) & mask,
            scratch,
            counts,
        );
    }
}

/// The panic of a `bucket` that answers differently the second time (a bug).
const CHANGED: &str = "an item's bucket changed between counting and placing";

/// Where a stable counting sort puts items `0..n`: the stretches of items the workers
/// walk, and for each stretch and bucket the slots of its items, as (next, end),
/// tiling `0..n` bucket by bucket, stretch by stretch; and how many items each bucket
/// holds.
struct Layout {
    stretches: Vec<Range<usize>>,
    ranges: Vec<Vec<(u32, u32)>>,
    counts: Vec<usize>,
}

/// The [`Layout`] of items `0..n` by `bucket`: a stretch a worker, each stretch's items
/// counted by bucket on the workers.
fn layout(n: usize, buckets: usize, bucket: &(impl Fn(usize) -> u32 + Sync)) -> Layout {
    assert!(n <= u32::MAX as usize, "at most 2^32 - 1 items");
    // A stretch a worker, while the counts (one per bucket and stretch) stay within
    // twice the items' number: ten million people sorted by person take two stretches.
    let parts = rayon::current_num_threads()
        .clamp(1, 8)
        .min(2 * n / buckets.max(1))
        .max(1);
    let stretches: Vec<Range<usize>> = (0..parts)
        .map(|p| p * n / parts..(p + 1) * n / parts)
        .collect();
    let mut ranges: Vec<Vec<(u32, u32)>> = stretches
        .par_iter()
        .map(|stretch| {
            let mut range = vec![(0u32, 0u32); buckets];
            for i in stretch.clone() {
                range[bucket(i) as usize].1 += 1;
            }
            range
        })
        .collect();
    let mut next = 0u32;
    let mut counts = vec![0usize; buckets];
    for (b, bucket_count) in counts.iter_mut().enumerate() {
        let first = next;
        for range in ranges.iter_mut() {
            let count = range[b].1;
            range[b] = (next, next + count);
            next += count;
        }
        *bucket_count = (next - first) as usize;
    }
    Layout {
        stretches,
        ranges,
        counts,
    }
}

/// The uninitialised slots of the sorted vector, shared by the workers that fill them.
struct Slots<T>(*mut MaybeUninit<T>);

// SAFETY: the workers write disjoint slots (see `sort_into`) and read none.
unsafe impl<T: Send> Sync for Slots<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator of keys, some buckets empty, some crowded.
    fn keys(n: usize, buckets: u32, seed: u64) -> Vec<u32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = (x % u64::from(buckets)) as u32;
                // Every third item crowds into a few buckets.
                if x.is_multiple_of(3) {
                    k % 4
                } else {
                    k
                }
            })
            .collect()
    }

    #[test]
    fn matches_a_stable_sort_on_any_thread_count() {
        for (n, buckets) in [
            (0, 1),
            (1, 1),
            (7, 3),
            (1000, 1),
            (100_000, 997),
            (50_000, 200_000),
        ] {
            let keys = keys(n, buckets as u32, n as u64 + 11);
            let mut expected: Vec<(u32, u32)> =
                (0..n as u32).map(|i| (keys[i as usize], i)).collect();
            expected.sort_by_key(|&(k, _)| k);
            for threads in [1, 2, 3, 8] {
                let pool = crate::testing::pool(threads);
                let (sorted, counts) = pool.install(|| {
                    sort_into_counted(n, buckets, |i| keys[i], |i| (keys[i], i as u32))
                });
                assert_eq!(
                    sorted, expected,
                    "n {n}, buckets {buckets}, threads {threads}"
                );
                let mut expected_counts = vec![0usize; buckets];
                for &k in &keys {
                    expected_counts[k as usize] += 1;
                }
                assert_eq!(counts, expected_counts, "n {n}, buckets {buckets}");
            }
        }
    }

    #[test]
    fn sorts_in_place_as_a_stable_sort() {
        let (mut scratch, mut counts) = (Vec::new(), Vec::new());
        // The scratch and counts of a larger call are reused by smaller ones.
        for (n, buckets) in [(100_000, 4096), (0, 1), (1, 1), (7, 3), (5_000, 64)] {
            let keys = keys(n, buckets as u32, n as u64 + 5);
            let mut items: Vec<(u32, u32)> = (0..n as u32).map(|i| (keys[i as usize], i)).collect();
            let mut expected = items.clone();
            expected.sort_by_key(|&(k, _)| k);
            sort_in_place(&mut items, buckets, |&(k, _)| k, &mut scratch, &mut counts);
            assert_eq!(items, expected, "n {n}, buckets {buckets}");
        }
    }

    #[test]
    #[should_panic(expected = "bucket changed")]
    fn stops_when_a_bucket_changes_between_passes() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        // Every item's bucket is 0 when counted and 1 when placed.
        sort_into(
            10,
            2,
            |_| u32::from(calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 10),
            |i| i,
        );
    }

    #[test]
    fn drops_nothing_it_made() {
        // Items that own memory: a leak or a double free would show under Miri or as a
        // wrong count here.
        let made: Vec<String> = sort_into(500, 10, |i| (i % 10) as u32, |i| i.to_string());
        assert_eq!(made.len(), 500);
        assert_eq!(made[0], "0");
        assert_eq!(made[1], "10");
        assert_eq!(made[499], "499");
    }
}
