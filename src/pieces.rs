//! Cutting work into pieces for the workers, and putting their results back together:
//! a city's tables are tens of millions of rows, which one thread would walk while the
//! other cores wait.

use rayon::prelude::*;
use std::ops::Range;

/// `slice` cut into consecutive pieces of the lengths `counts`, which must add up to at
/// most its length: each chunk's rows can then be written into place on a worker.
pub fn pieces_mut<'a, T>(mut slice: &'a mut [T], counts: &[usize]) -> Vec<&'a mut [T]> {
    let mut pieces = Vec::with_capacity(counts.len());
    for &count in counts {
        let (piece, rest) = std::mem::take(&mut slice).split_at_mut(count);
        pieces.push(piece);
        slice = rest;
    }
    pieces
}

/// The items of `parts`, in order. Each part's items are moved into place on the
/// workers: a city's rows are hundreds of megabytes, which one thread would take up to
/// a second to copy (and fault in). The parts are moved a few at a time and each is
/// freed once moved, so that the parts and the whole are not all held at once (a
/// city's lab results at one person a tube are ten million rows of 88 bytes). The one
/// part that holds anything is taken as it is.
pub fn concat<T: Send>(mut parts: Vec<Vec<T>>) -> Vec<T> {
    parts.retain(|p| !p.is_empty());
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let counts: Vec<usize> = parts.iter().map(Vec::len).collect();
    let total = counts.iter().sum();
    let mut all = Vec::with_capacity(total);
    move_parts(
        pieces_mut(&mut all.spare_capacity_mut()[..total], &counts),
        parts,
        |part| part.capacity() * size_of::<T>(),
        |out, part| {
            for (o, item) in out.iter_mut().zip(part) {
                o.write(item);
            }
        },
    );
    // SAFETY: the pieces cover the first `total` slots, and each piece holds as many
    // slots as its part has items, every one of which was written above.
    unsafe { all.set_len(total) };
    all
}

/// Moves each of `parts` into its slot of `slots` (one a part, in order: as many of
/// each) with `write`, on the workers a few parts at a time: each part is freed once
/// moved, and the parts freed (`bytes` tells how much a part holds) are given back to
/// the system every [`GIVE_BACK`] bytes, so that the parts and the whole they are
/// moved into are not all held at once.
pub fn move_parts<S: Send, P: Send>(
    slots: impl IntoIterator<Item = S>,
    parts: impl IntoIterator<Item = P>,
    bytes: impl Fn(&P) -> usize,
    write: impl Fn(S, P) + Sync,
) {
    let (mut slots, mut parts) = (slots.into_iter(), parts.into_iter());
    let batch = 4 * rayon::current_num_threads();
    let mut freed = 0;
    loop {
        let moves: Vec<(S, P)> = slots.by_ref().zip(parts.by_ref()).take(batch).collect();
        if moves.is_empty() {
            break;
        }
        freed += moves.iter().map(|(_, part)| bytes(part)).sum::<usize>();
        moves
            .into_par_iter()
            .for_each(|(slot, part)| write(slot, part));
        // The allocator would keep the freed parts a moment longer (see `memory`).
        if freed >= GIVE_BACK {
            crate::memory::give_back();
            freed = 0;
        }
    }
    debug_assert!(parts.next().is_none(), "a part without a slot");
}

/// How many bytes of parts [`move_parts`] frees (and `Roster::details` joins) before they
/// are given back to the system.
pub const GIVE_BACK: usize = 64 << 20;

/// Room for a piece's items in a list being filled by [`fill`]: exactly as many as the
/// piece counted.
pub struct Slots<'a, T> {
    out: &'a mut [std::mem::MaybeUninit<T>],
    made: usize,
}

impl<T> Slots<'_, T> {
    /// Writes the next item.
    pub fn push(&mut self, item: T) {
        assert!(
            self.made < self.out.len(),
            "a piece made more than it counted"
        );
        self.out[self.made].write(item);
        self.made += 1;
    }

    /// How many items are written.
    pub fn len(&self) -> usize {
        self.made
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.made == 0
    }

    /// The items written from `from` on.
    pub fn written_mut(&mut self, from: usize) -> &mut [T] {
        let written = &mut self.out[from..self.made];
        // SAFETY: the slots before `made` were each written by `push`, and
        // `MaybeUninit<T>` has the layout of `T`.
        unsafe { &mut *(written as *mut [std::mem::MaybeUninit<T>] as *mut [T]) }
    }
}

/// The items `make` writes for each of `inputs`, in order, each piece's straight into
/// its place on the workers (no piece's list is made, then copied): `make` must write
/// exactly `counts[k]` items for input `k`, or the run stops. Also what each `make`
/// returns.
pub fn fill<T: Send, I: Send, R: Send>(
    inputs: Vec<I>,
    counts: &[usize],
    make: impl Fn(I, &mut Slots<T>) -> R + Sync,
) -> (Vec<T>, Vec<R>) {
    let total = counts.iter().sum();
    let mut all = Vec::with_capacity(total);
    let made: Vec<R> = pieces_mut(&mut all.spare_capacity_mut()[..total], counts)
        .into_par_iter()
        .zip(inputs)
        .map(|(out, input)| {
            let mut slots = Slots { out, made: 0 };
            let made = make(input, &mut slots);
            assert_eq!(
                slots.made,
                slots.out.len(),
                "a piece made less than it counted"
            );
            made
        })
        .collect();
    // SAFETY: the pieces cover the first `total` slots, and each piece wrote every one of
    // its slots (checked above).
    unsafe { all.set_len(total) };
    (all, made)
}

/// `items` cut into consecutive ranges of about `len` items (at least one each), every
/// cut between two neighbours that `apart` tells apart: a run of items that belong
/// together (a tube's rows, say) is never split. The ranges cover `items`.
pub fn between_runs<T>(
    items: &[T],
    len: usize,
    apart: impl Fn(&T, &T) -> bool,
) -> Vec<Range<usize>> {
    let len = len.max(1);
    let mut ranges = Vec::with_capacity(items.len() / len + 1);
    let mut start = 0;
    while start < items.len() {
        let mut end = (start + len).min(items.len());
        while end < items.len() && !apart(&items[end - 1], &items[end]) {
            end += 1;
        }
        ranges.push(start..end);
        start = end;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn the_one_part_holding_anything_is_taken_as_it_is() {
        let part: Vec<u32> = (0..1000).collect();
        let at = part.as_ptr();
        let all = concat(vec![Vec::new(), part, Vec::new()]);
        assert_eq!(all, (0..1000).collect::<Vec<u32>>());
        assert_eq!(all.as_ptr(), at, "copied");
        assert!(concat(vec![Vec::<u32>::new(), Vec::new()]).is_empty());
    }

    #[test]
    fn pieces_fill_their_places_in_order_and_sort_what_they_wrote() {
        // Pieces of uneven sizes, an empty one among them; each writes its items in
        // reverse, then sorts those it wrote.
        let counts = [3usize, 0, 5, 1, 4000];
        let inputs: Vec<usize> = (0..counts.len()).collect();
        let (all, made) = fill(inputs, &counts, |k, slots: &mut Slots<(usize, usize)>| {
            for i in (0..counts[k]).rev() {
                slots.push((k, i));
            }
            slots.written_mut(0).sort();
            slots.len()
        });
        let expected: Vec<(usize, usize)> = counts
            .iter()
            .enumerate()
            .flat_map(|(k, &n)| (0..n).map(move |i| (k, i)))
            .collect();
        assert_eq!(all, expected);
        assert_eq!(made, counts);
    }

    #[test]
    #[should_panic(expected = "a piece made less than it counted")]
    fn a_piece_that_makes_less_than_it_counted_stops_the_run() {
        fill(vec![0usize, 1], &[2, 2], |k, slots: &mut Slots<usize>| {
            slots.push(k);
            if k == 0 {
                slots.push(k);
            }
        });
    }

    #[test]
    #[should_panic(expected = "a piece made more than it counted")]
    fn a_piece_that_makes_more_than_it_counted_stops_the_run() {
        fill(vec![0usize], &[1], |k, slots: &mut Slots<usize>| {
            slots.push(k);
            slots.push(k);
        });
    }

    /// An item that counts its drops, so that one dropped twice or never shows.
    struct Item(usize, Arc<AtomicUsize>);

    impl Drop for Item {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn items_of_every_part_come_out_once_and_in_order() {
        // Parts of uneven sizes, empty ones among them, more than are moved at once.
        let drops = Arc::new(AtomicUsize::new(0));
        let mut sizes = vec![0usize, 3, 0, 1, 70_000, 2, 0, 5_000, 1];
        sizes.extend((0..200).map(|i| i * 37 % 500));
        assert!(sizes.len() > 4 * rayon::current_num_threads());
        let mut next = 0;
        let parts: Vec<Vec<Item>> = sizes
            .iter()
            .map(|&n| {
                (0..n)
                    .map(|_| {
                        next += 1;
                        Item(next, drops.clone())
                    })
                    .collect()
            })
            .collect();
        let all = concat(parts);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            0,
            "no item dropped on the way"
        );
        let order: Vec<usize> = all.iter().map(|r| r.0).collect();
        assert_eq!(order, (1..=next).collect::<Vec<_>>());
        drop(all);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            next,
            "every item dropped once"
        );
        assert!(concat(Vec::<Vec<Item>>::new()).is_empty());
    }

    #[test]
    fn runs_are_never_split() {
        // Runs of every length from 1 to 9, and one longer than a piece.
        let mut items: Vec<u32> = (1..10)
            .flat_map(|n| std::iter::repeat_n(n, n as usize))
            .collect();
        items.extend(std::iter::repeat_n(10, 40));
        items.push(11);
        for len in [0, 1, 2, 3, 7, 16, 100, 1000] {
            let ranges = between_runs(&items, len, |a, b| a != b);
            let mut at = 0;
            for r in &ranges {
                assert_eq!(r.start, at, "the ranges follow one another");
                assert!(!r.is_empty());
                assert!(
                    r.len() >= len.min(items.len() - r.start),
                    "pieces are not cut short"
                );
                if r.end < items.len() {
                    assert_ne!(items[r.end - 1], items[r.end], "a cut between two runs");
                }
                at = r.end;
            }
            assert_eq!(at, items.len(), "the ranges cover every item");
        }
        assert!(between_runs(&[] as &[u32], 4, |a, b| a != b).is_empty());
    }
}
