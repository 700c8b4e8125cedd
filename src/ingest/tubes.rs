//! The samples' tube IDs, numbered run-wide. Each chunk lists its rows' tubes by key
//! ([`keys::pack`]: a barcode of digits is one number, hashed and compared as one, and
//! a table holds it instead of pointing at its text), other IDs as text; the chunks'
//! lists are then numbered run-wide in the order of the IDs' bytes ([`number`]).

use super::keys::{IdList, IdTable};
use crate::order::{prefix, prefix_bytes};
use crate::strings::{short_len, Interner, Strings};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// The chunks' tubes numbered run-wide in the order of their IDs' bytes (the order in
/// which reconcile sorts a round's tubes, so that it finds them sorted), and each chunk's
/// map from its places to those numbers. When neighbouring chunks share their tubes
/// (rows by tube, or by sampling time: a tube's swabs lie a few chunks apart), groups
/// of them, one or more a worker and at most 64 chunks each, are merged first, each in
/// a table that stays small; the groups' tubes are then numbered run-wide by
/// [`number_distinct`], on every worker. When they do not (rows in no order bring
/// nearly every tube in every stretch of rows), the chunks' tubes are numbered so
/// directly. The numbers do not depend on the grouping.
pub fn number(lists: Vec<IdList>) -> (Interner, Vec<Vec<u32>>) {
    if !shared_by_neighbours(&lists) {
        return number_distinct(lists);
    }
    let group = lists
        .len()
        .div_ceil(rayon::current_num_threads())
        .clamp(1, 64);
    // Each list is freed once mapped: its map (4 bytes a place) takes the room of its
    // keys (8), where holding every list until all were mapped took both at once, the
    // samples stage's peak on a file by sampling time.
    let mut lists = lists.into_iter();
    let groups: Vec<Vec<IdList>> = std::iter::from_fn(|| {
        let group: Vec<IdList> = lists.by_ref().take(group).collect();
        (!group.is_empty()).then_some(group)
    })
    .collect();
    let (merged, maps): (Vec<IdList>, Vec<Vec<Vec<u32>>>) = groups
        .into_par_iter()
        .map(|group| {
            let mut merged = IdTable::default();
            let maps: Vec<Vec<u32>> = group
                .into_iter()
                .map(|tubes| tubes.iter().map(|t| merged.intern(t, t.hash()).0).collect())
                .collect();
            (merged.into_ids(), maps)
        })
        .unzip();
    let (tubes, run_wide) = number_distinct(merged);
    let maps = maps
        .into_par_iter()
        .zip(run_wide)
        .flat_map_iter(|(maps, run_wide)| {
            maps.into_iter().map(move |mut map| {
                for m in &mut map {
                    *m = run_wide[*m as usize];
                }
                map
            })
        })
        .collect();
    (tubes, maps)
}

/// Whether the first chunks' tubes (up to 16 chunks, or until 65,536 are seen) come
/// back within those chunks: as many tubes again as distinct ones, or more.
fn shared_by_neighbours(lists: &[IdList]) -> bool {
    let mut seen = IdTable::default();
    let mut count = 0;
    for list in lists.iter().take(16) {
        for t in list.iter() {
            seen.intern(t, t.hash());
        }
        count += list.len();
        if count >= 1 << 16 {
            break;
        }
    }
    seen.len() * 2 <= count
}

/// The tubes of `lists` numbered in the order of their IDs' bytes, and each list's map
/// from its places to those numbers. The tubes are split by hash into [`SPLITS`] sets,
/// each interned on one worker, which reads the lists in order; they are then sorted
/// run-wide. The cost does not depend on how often a tube comes back, nor where, and
/// the numbers do not depend on the order of the rows.
fn number_distinct(lists: Vec<IdList>) -> (Interner, Vec<Vec<u32>>) {
    let split_of = |hash: u64| (hash >> 40) as usize % SPLITS;
    // Each list's tubes by split: the split of each, their places in the list split by
    // split (split 0's first), how many each split has, and the keys in that order (a
    // text ID's key still points into the list's texts), so that each split reads its
    // tubes from one stretch of each list instead of from all over it.
    let mut by_split: Vec<SplitList> = lists
        .into_par_iter()
        .map(|tubes| {
            let split: Vec<u8> = tubes.iter().map(|t| split_of(t.hash()) as u8).collect();
            let mut counts = [0usize; SPLITS];
            for &s in &split {
                counts[s as usize] += 1;
            }
            let mut next = [0usize; SPLITS];
            for s in 1..SPLITS {
                next[s] = next[s - 1] + counts[s - 1];
            }
            let mut order = vec![0u32; split.len()];
            for (j, &s) in split.iter().enumerate() {
                order[next[s as usize]] = j as u32;
                next[s as usize] += 1;
            }
            let keys = order.iter().map(|&j| tubes.keys[j as usize]).collect();
            SplitList {
                split,
                order,
                counts,
                tubes: IdList {
                    keys,
                    texts: tubes.texts,
                },
            }
        })
        .collect();
    // Each split's tubes interned list by list. Each list's map holds, meanwhile, the
    // number of each of its tubes in its split.
    let maps: Vec<Vec<AtomicU32>> = by_split
        .par_iter()
        .map(|l| (0..l.split.len()).map(|_| AtomicU32::new(0)).collect())
        .collect();
    let splits: Vec<IdList> = (0..SPLITS)
        .into_par_iter()
        .map(|s| {
            let mut tubes = IdTable::default();
            for (list, map) in by_split.iter().zip(&maps) {
                let start: usize = list.counts[..s].iter().sum();
                for (k, &j) in (start..).zip(&list.order[start..start + list.counts[s]]) {
                    let tube = list.tubes.get(k);
                    let (n, _) = tubes.intern(tube, tube.hash());
                    map[j as usize].store(n, Ordering::Relaxed);
                }
            }
            tubes.into_ids()
        })
        .collect();
    for list in &mut by_split {
        list.order = Vec::new();
        list.tubes = IdList::default();
    }
    // Run-wide numbers in the order of the IDs' bytes. Each entry carries its ID's
    // first 16 bytes (`order::prefix`): the sort reads the IDs themselves (scattered
    // over the splits, and unpacked when they are keys) only where those are equal.
    let mut sorted: Vec<([u64; 2], u32, u32)> = splits
        .par_iter()
        .enumerate()
        .flat_map_iter(|(s, tubes)| {
            (0..tubes.len() as u32)
                .map(move |n| (prefix(tubes.name(n as usize, &mut [0; 18])), s as u32, n))
        })
        .collect();
    // A merge sort: the splits' tubes come one split after another, each in the order
    // of the lists, so rows by tube make a few long runs, which it merges (by time,
    // few runs are long, and it costs about what a quicksort would).
    sorted.par_sort_by(|&(pa, sa, na), &(pb, sb, nb)| {
        pa.cmp(&pb).then_with(|| {
            let (mut x, mut y) = ([0; 18], [0; 18]);
            let a = splits[sa as usize].name(na as usize, &mut x);
            a.cmp(splits[sb as usize].name(nb as usize, &mut y))
        })
    });
    let mut run_wide: Vec<Vec<u32>> = splits.iter().map(|t| vec![0; t.len()]).collect();
    for (g, &(_, s, n)) in sorted.iter().enumerate() {
        run_wide[s as usize][n as usize] = g as u32;
    }
    let maps: Vec<Vec<u32>> = maps
        .into_par_iter()
        .zip(by_split)
        .map(|(map, SplitList { split, .. })| {
            map.into_iter()
                .zip(split)
                .map(|(n, s)| run_wide[s as usize][n.into_inner() as usize])
                .collect()
        })
        .collect();
    // The IDs in run-wide order, written on the workers a block at a time.
    let blocks: Vec<Strings> = sorted
        .par_chunks(1 << 16)
        .map(|block| {
            let mut names = Strings::with_capacity(block.len(), block.len() * 16);
            for &(prefix, s, n) in block {
                // An ID shorter than 16 bytes is read from its prefix, not from its
                // split (a read anywhere in it, in no order).
                let bytes = prefix_bytes(prefix);
                let short =
                    short_len(prefix).and_then(|len| std::str::from_utf8(&bytes[..len]).ok());
                match short {
                    Some(name) => names.push(name),
                    None => names.push(splits[s as usize].name(n as usize, &mut [0; 18])),
                };
            }
            names
        })
        .collect();
    drop((splits, sorted));
    let names = Strings::concat(blocks.iter().collect());
    drop(blocks);
    (Interner::of_sorted(names), maps)
}

/// A list's tubes in [`number_distinct`], split by hash.
struct SplitList {
    /// The split of each tube, by place in the list.
    split: Vec<u8>,
    /// The places in the list, split by split (split 0's first).
    order: Vec<u32>,
    /// How many tubes each split has.
    counts: [usize; SPLITS],
    /// The tubes in `order`.
    tubes: IdList,
}

/// How many sets [`number_distinct`] splits the tubes in: a few for each worker, so
/// that the workers share the work evenly, while each set's table stays small (64 or
/// 256 sets were slower at ten million tubes in no order).
const SPLITS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tubes_merged_by_groups_are_numbered_in_the_order_of_their_bytes() {
        // More chunks than a group holds, some chunks without tubes; each tube in a few
        // neighbouring chunks (merged by groups first), or anywhere (numbered directly).
        // Barcodes of digits (some equal but for leading zeros), resident-ID shapes and
        // text IDs, side by side; IDs of either kind whose first 16 bytes are the same.
        for neighbours in [true, false] {
            let mut x = 11u64;
            // Each chunk's rows' tubes, and their lists.
            let rows: Vec<Vec<String>> = (0..300)
                .map(|c| {
                    // A chunk lists a tube again when another came between (and
                    // sometimes twice in a row).
                    (0..(c * 13) % 90)
                        .map(|_| {
                            x = x
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            let tube = if neighbours {
                                c as u64 * 2 + (x >> 33) % 20
                            } else {
                                (x >> 33) % 20_000
                            };
                            match tube % 4 {
                                0 => format!("2203{tube:010}"),
                                1 if tube % 8 == 1 => format!("{}", tube / 8),
                                1 => format!("{:05}", tube / 8),
                                // Sharing their first 16 bytes: told apart by
                                // the rest.
                                2 if tube % 16 == 2 => format!("T-0000000000000-{tube}"),
                                // 15 and 16 bytes: the longest written back from
                                // their first 16 bytes, and the shortest that is not.
                                2 if tube % 16 == 6 => format!("T-{tube:013}"),
                                2 if tube % 16 == 10 => format!("T-{tube:014}"),
                                2 => format!("T-{tube}"),
                                _ => format!("{tube:017}X"),
                            }
                        })
                        .collect()
                })
                .collect();
            let lists: Vec<IdList> = rows
                .iter()
                .map(|rows| {
                    let mut list = IdList::default();
                    for tube in rows {
                        list.push(tube);
                    }
                    list
                })
                .collect();
            // Each list's places, by their first row.
            let places: Vec<Vec<&str>> = rows
                .iter()
                .map(|rows| {
                    let mut places: Vec<&str> = rows.iter().map(String::as_str).collect();
                    places.dedup();
                    places
                })
                .collect();
            for (list, places) in lists.iter().zip(&places) {
                assert_eq!(list.len(), places.len());
            }
            assert_eq!(shared_by_neighbours(&lists), neighbours);
            // The groups' size follows the workers' number: 64 chunks, 38, 5, 2, one
            // group alone, groups of one chunk with an empty first (chunk 0 has no
            // tubes), and no chunks at all.
            for (threads, chunks) in [
                (1, 300),
                (8, 300),
                (64, 300),
                (2, 3),
                (1, 3),
                (16, 10),
                (4, 0),
            ] {
                let pool = crate::testing::pool(threads);
                let (tubes, maps) = pool.install(|| number(lists[..chunks].to_vec()));
                // Numbered in the order of their bytes: the rank of each among the
                // distinct tubes of these chunks.
                let mut distinct: Vec<&str> = places[..chunks].iter().flatten().copied().collect();
                distinct.sort_unstable();
                distinct.dedup();
                let rank = |t: &str| distinct.binary_search(&t).unwrap() as u32;
                let expected: Vec<Vec<u32>> = places[..chunks]
                    .iter()
                    .map(|tubes| tubes.iter().map(|t| rank(t)).collect())
                    .collect();
                let case = format!("{threads} threads, {chunks} chunks, {neighbours}");
                assert_eq!(tubes.iter().collect::<Vec<_>>(), distinct, "{case}");
                assert_eq!(maps, expected, "{case}");
                for (n, t) in tubes.iter().enumerate() {
                    assert_eq!(tubes.get(t), Some(n as u32), "{case}");
                }
            }
        }
    }
}
