//! String containers for city-scale tables: many strings in one buffer ([`Strings`]),
//! and an interner that numbers distinct strings in first-seen order, or in the order
//! of their bytes ([`Interner::of_sorted`]), or in an order given later ([`Interner`],
//! [`Interner::renumber`]); or, appended ([`ChunkNames`]), a chunk's strings as they
//! come, which may repeat.

use crate::buckets::{prefetch, AHEAD};
use crate::pieces::pieces_mut;

/// Many strings in one buffer: no allocation per string, 4 bytes of overhead each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Strings {
    text: String,
    /// Where each string ends in `text`, less the multiples of 4 GiB ([`WRAP`])
    /// counted in `wraps`: 4 bytes a string, where a `usize` would take 8 (80 MB for a
    /// city's ten million IDs).
    ends: Vec<u32>,
    /// For each multiple of 4 GiB the text reaches, the index of the first string that
    /// ends at or past it; empty for less text, as nearly always.
    wraps: Vec<u32>,
}

/// The text of a [`Strings`] is counted in steps of `1 << WRAP` bytes past its ends.
/// The unit tests take steps of 64 bytes, so that every table they make wraps.
#[cfg(not(test))]
const WRAP: u32 = 32;
#[cfg(test)]
const WRAP: u32 = 6;

impl Strings {
    /// Room for `count` strings of `bytes` bytes in all.
    pub fn with_capacity(count: usize, bytes: usize) -> Strings {
        Strings {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(count),
            wraps: Vec::new(),
        }
    }

    /// The bytes of all strings together.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Room for `count` more strings of `bytes` more bytes in all, and no more.
    pub fn reserve(&mut self, count: usize, bytes: usize) {
        self.text.reserve_exact(bytes);
        self.ends.reserve_exact(count);
    }

    /// Gives back the room no string fills.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    /// Appends `s` and returns its index.
    pub fn push(&mut self, s: &str) -> u32 {
        self.text.push_str(s);
        self.push_end(self.text.len());
        (self.ends.len() - 1) as u32
    }

    /// Records the end of a string appended to the text.
    #[inline]
    fn push_end(&mut self, end: usize) {
        while self.wraps.len() < end >> WRAP {
            self.wraps.push(self.ends.len() as u32);
        }
        self.ends.push((end & ((1 << WRAP) - 1)) as u32);
    }

    /// Where string `i` ends in the text.
    #[inline]
    fn end(&self, i: usize) -> usize {
        let end = self.ends[i] as usize;
        if self.wraps.is_empty() {
            end
        } else {
            end + (self.wraps.partition_point(|&w| w as usize <= i) << WRAP)
        }
    }

    /// Where string `i` starts in the text, and its length.
    fn span(&self, i: u32) -> Span {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        (start, self.end(i) - start)
    }

    /// All strings of `parts`, in order: the first of `parts[k]` gets the index after
    /// the last of `parts[k - 1]`. The indexes are rebased on the workers.
    pub fn concat(parts: Vec<&Strings>) -> Strings {
        use rayon::prelude::*;
        let counts: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let len: usize = parts.iter().map(|p| p.text.len()).sum();
        if len >> WRAP != 0 {
            // Past 4 GiB, string by string, each end placed among the wraps.
            let mut all = Strings::with_capacity(counts.iter().sum(), len);
            for part in parts {
                all.append(part);
            }
            return all;
        }
        let mut text = String::with_capacity(len);
        let mut bases = Vec::with_capacity(parts.len());
        for part in &parts {
            bases.push(text.len() as u32);
            text.push_str(&part.text);
        }
        let mut ends = vec![0u32; counts.iter().sum()];
        pieces_mut(&mut ends, &counts)
            .into_par_iter()
            .zip(parts)
            .zip(bases)
            .for_each(|((ends, part), base)| {
                for (end, e) in ends.iter_mut().zip(&part.ends) {
                    *end = e + base;
                }
            });
        Strings {
            text,
            ends,
            wraps: Vec::new(),
        }
    }

    /// [`Strings::concat`] of parts freed as they are joined, and given back to the
    /// system every [`crate::pieces::GIVE_BACK`] bytes: the parts and the whole are
    /// not all held at once (nine million IDs of people not on a district's roster
    /// are 126 MB).
    pub fn concat_owned(mut parts: Vec<Strings>) -> Strings {
        use rayon::prelude::*;
        let len: usize = parts.iter().map(|p| p.text.len()).sum();
        if len >> WRAP != 0 {
            return Strings::concat(parts.iter().collect());
        }
        let counts: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let mut text = String::with_capacity(len);
        let mut bases = Vec::with_capacity(parts.len());
        let mut freed = 0;
        for part in &mut parts {
            bases.push(text.len() as u32);
            text.push_str(&part.text);
            freed += part.text.capacity();
            part.text = String::new();
            if freed >= crate::pieces::GIVE_BACK {
                crate::memory::give_back();
                freed = 0;
            }
        }
        let mut ends = vec![0u32; counts.iter().sum()];
        pieces_mut(&mut ends, &counts)
            .into_par_iter()
            .zip(parts)
            .zip(bases)
            .for_each(|((ends, part), base)| {
                for (end, e) in ends.iter_mut().zip(&part.ends) {
                    *end = e + base;
                }
            });
        Strings {
            text,
            ends,
            wraps: Vec::new(),
        }
    }

    /// The bytes of the string at `index`: to compare with, without the checks of
    /// character boundaries a `str` slice makes.
    #[inline]
    pub fn bytes(&self, index: u32) -> &[u8] {
        &self.text.as_bytes()[self.range(index)]
    }

    /// The string at `index`.
    #[inline]
    pub fn get(&self, index: u32) -> &str {
        &self.text[self.range(index)]
    }

    /// Where the string at `index` lies in the text.
    #[inline]
    fn range(&self, index: u32) -> std::ops::Range<usize> {
        let i = index as usize;
        if self.wraps.is_empty() {
            let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
            start..self.ends[i] as usize
        } else {
            let (start, len) = self.span(index);
            start..start + len
        }
    }

    /// How many strings there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The length every string has, when there are some and all have the same.
    pub fn even_len(&self) -> Option<usize> {
        let n = self.len();
        let width = self.text.len() / n.max(1);
        let even =
            n > 0 && self.text.len() == width * n && (0..n).all(|i| self.end(i) == (i + 1) * width);
        even.then_some(width)
    }

    /// The strings' bytes, one after another.
    pub fn into_text(self) -> String {
        self.text
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The strings, by index.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len() as u32).map(|i| self.get(i))
    }

    /// The strings, by index, as a list.
    pub fn into_names(self) -> Vec<Box<str>> {
        self.iter().map(Box::from).collect()
    }

    /// The strings at `order`, in that order: string `i` of the result is string
    /// `order[i]` of `self`, copied in blocks on the workers ([`Strings::assemble`]).
    pub fn gather(&self, order: &[u32]) -> Strings {
        self.assemble(order, |_| None, |_| [0; 2])
    }

    /// [`Strings::gather`], where the caller holds the first 16 bytes of each string
    /// (`prefixes(i)` those of string `order[i]`, zero-padded as [`crate::order::prefix`]
    /// gives them): a string of fewer than 16 bytes is rebuilt from them, without
    /// reading `self` where it lies, in no order; only longer strings are read. The
    /// strings must hold no NUL byte, which would be taken for padding.
    pub fn gather_prefixed(
        &self,
        order: &[u32],
        prefixes: impl Fn(usize) -> [u64; 2] + Sync,
    ) -> Strings {
        self.assemble(order, |i| short_len(prefixes(i)), &prefixes)
    }

    /// The ends around string `p`: its start is the first (none for the first string).
    /// Below 4 GiB of text ([`span_of`] reads them); see [`Strings::span`] past it.
    fn around(&self, p: u32) -> &[u32] {
        let p = p as usize;
        &self.ends[p.saturating_sub(1)..=p]
    }

    /// Where string `p` lies: read from the ends around it, or past 4 GiB of text
    /// placed among the wraps too.
    #[inline]
    fn span_at(&self, p: u32) -> Span {
        if self.wraps.is_empty() {
            span_of(self.around(p))
        } else {
            self.span(p)
        }
    }

    /// The strings at `order`, string `i` rebuilt from `prefixes(i)` where `short(i)`
    /// gives its length, read from `self` otherwise. Two passes over blocks of
    /// [`BLOCK`] strings on the workers, neither of which keeps anything a string: the
    /// first sums each block's lengths, the second writes each block's ends and copies
    /// its text, each block checked to be UTF-8. Reads in no order are asked of the
    /// memory before they are made: the ends around a string [`AHEAD`] strings before
    /// it in the first pass and twice as far in the second, its text [`AHEAD`] strings
    /// before.
    fn assemble(
        &self,
        order: &[u32],
        short: impl Fn(usize) -> Option<usize> + Sync,
        prefixes: impl Fn(usize) -> [u64; 2] + Sync,
    ) -> Strings {
        use rayon::prelude::*;
        let span = |i: usize| match short(i) {
            Some(len) => (FROM_PREFIX, len),
            None => self.span_at(order[i]),
        };
        let ask_ends = |i: usize| {
            if let Some(&p) = order.get(i) {
                if short(i).is_none() {
                    prefetch(self.around(p));
                }
            }
        };
        let lens: Vec<usize> = order
            .par_chunks(BLOCK)
            .enumerate()
            .map(|(b, block)| {
                let first = b * BLOCK;
                (first..first + block.len())
                    .map(|i| {
                        ask_ends(i + AHEAD);
                        span(i).1
                    })
                    .sum()
            })
            .collect();
        let text = self.text.as_bytes();
        let mut gathered = vec![0u8; lens.iter().sum()];
        let mut ends: Vec<u32> = Vec::with_capacity(order.len());
        let (mut base, mut bases) = (0, Vec::with_capacity(lens.len()));
        for len in &lens {
            bases.push(base);
            base += len;
        }
        let wraps: Vec<Vec<u32>> = pieces_mut(&mut gathered, &lens)
            .into_par_iter()
            .zip(ends.spare_capacity_mut()[..order.len()].par_chunks_mut(BLOCK))
            .zip(bases)
            .enumerate()
            .map(|(b, ((piece, ends), base))| {
                let first = b * BLOCK;
                let mut wraps = Vec::new();
                let mut at = 0;
                for (k, end) in ends.iter_mut().enumerate() {
                    let i = first + k;
                    ask_ends(i + 2 * AHEAD);
                    if i + AHEAD < order.len() {
                        let (start, _) = span(i + AHEAD);
                        if start != FROM_PREFIX {
                            prefetch(&text[start..]);
                        }
                    }
                    let (start, len) = span(i);
                    let to = &mut piece[at..at + len];
                    if start == FROM_PREFIX {
                        let bytes = crate::order::prefix_bytes(prefixes(i));
                        to.copy_from_slice(&bytes[..len]);
                    } else {
                        to.copy_from_slice(&text[start..start + len]);
                    }
                    at += len;
                    // As `push_end` does: each step of the text passed is marked at
                    // the first string that ends at or past it.
                    let global = base + at;
                    while ((base >> WRAP) + wraps.len()) < global >> WRAP {
                        wraps.push(i as u32);
                    }
                    end.write((global & ((1 << WRAP) - 1)) as u32);
                }
                assert!(
                    std::str::from_utf8(piece).is_ok(),
                    "whole strings joined are UTF-8"
                );
                wraps
            })
            .collect();
        // SAFETY: the chunks of the spare capacity cover its first `order.len()` slots
        // (one chunk a block, as `lens`), and each was written above.
        unsafe { ends.set_len(order.len()) };
        // SAFETY: the pieces tile `gathered`, and each was checked to be UTF-8 above.
        let text = unsafe { String::from_utf8_unchecked(gathered) };
        Strings {
            text,
            ends,
            wraps: wraps.concat(),
        }
    }

    /// Appends every string of `other`, keeping their order; the first gets index
    /// `self.len()` as it was.
    pub fn append(&mut self, other: &Strings) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.ends.reserve(other.len());
        for i in 0..other.len() {
            self.push_end(base + other.end(i));
        }
    }
}

/// Strings gathered a block at a time on the workers.
const BLOCK: usize = 1 << 16;

/// A string's start in its buffer and its length.
type Span = (usize, usize);

/// The span of a string from the ends around it ([`Strings::around`]).
fn span_of(ends: &[u32]) -> Span {
    match *ends {
        [end] => (0, end as usize),
        [start, end] => (start as usize, (end - start) as usize),
        _ => unreachable!("one or two ends"),
    }
}

/// The start of a span rebuilt from the string's prefix.
const FROM_PREFIX: usize = usize::MAX;

/// The length of the string whose first 16 bytes, zero-padded, are `prefix`, when it
/// is shorter than 16 bytes and holds no NUL byte: the bytes up to the padding.
pub fn short_len(prefix: [u64; 2]) -> Option<usize> {
    let bytes = u128::from(prefix[0]) << 64 | u128::from(prefix[1]);
    (bytes & 0xFF == 0).then(|| 16 - bytes.trailing_zeros() as usize / 8)
}

/// [`Interner::merge`] interns up to this many parts in turn on one thread.
const MERGE_SERIAL: usize = 32;

/// [`Interner::merge`]'s strings and numbers, on the workers. Runs of
/// [`MERGE_SERIAL`] parts are first merged in turn, each run on a worker; the runs'
/// strings are then numbered by shards ([`first_seen_copied`]). A roster in no order
/// names nearly every building in every chunk (a run holds each once), and a roster
/// whose rooms name their building (`3号楼-302`) names a city's millions of rooms once
/// each (the shards share them out): one thread interning every part's strings in turn
/// took a second on such rooms, growing its table by hashing every string again.
///
/// Parts that share few strings are not merged in runs: a run would intern nearly
/// every string only for the shards to look it up again (a city of a million
/// households listed in no order names ten thousand of them in each chunk, and a run
/// of chunks holds 85% of the strings its chunks list). The first two runs tell: when
/// they hold more than half of their parts' strings (a string a part appended twice,
/// [`ChunkNames`], counted twice), the other parts go to the shards as they are.
fn merge_sharded(parts: &[&Interner]) -> (Strings, Vec<Vec<u32>>) {
    use rayon::prelude::*;
    let merge_runs = |parts: &[&Interner]| {
        parts
            .par_chunks(MERGE_SERIAL)
            .map(|run| Run::Merged(Interner::merge_serial(run)))
            .collect::<Vec<_>>()
    };
    let head = parts.len().min(2 * MERGE_SERIAL);
    let mut runs = merge_runs(&parts[..head]);
    if runs_shrink(&runs, &parts[..head]) {
        runs.extend(merge_runs(&parts[head..]));
    } else {
        runs.extend(parts[head..].iter().map(|&part| Run::Alone(part)));
    }
    let lists: Vec<&Interner> = runs
        .iter()
        .map(|run| match run {
            Run::Merged((merged, _)) => merged,
            Run::Alone(part) => part,
        })
        .collect();
    let (names, run_numbers) = first_seen_copied(
        &lists,
        |run| run.len(),
        |run, i| hash_str(run.name(i as u32)),
        |run, i, key| key.extend_from_slice(run.names.bytes(i as u32)),
        |run, i, names| names.push(run.name(i as u32)),
    );
    drop(lists);
    let mut numbers: Vec<Vec<u32>> = Vec::with_capacity(parts.len());
    for (run, renumber) in runs.into_iter().zip(run_numbers) {
        match run {
            Run::Merged((_, run)) => numbers.extend(run.into_iter().map(|mut part| {
                for n in &mut part {
                    *n = renumber[*n as usize];
                }
                part
            })),
            Run::Alone(_) => numbers.push(renumber),
        }
    }
    (names, numbers)
}

/// What [`merge_sharded`] hands its shards: a run of parts merged in turn, with each
/// part's numbers in it, or a part as it is.
enum Run<'a> {
    Merged((Interner, Vec<Vec<u32>>)),
    Alone(&'a Interner),
}

/// Whether merging `parts` in `runs` left at most half of the strings they list: parts
/// that share their strings, worth merging in runs.
fn runs_shrink(runs: &[Run], parts: &[&Interner]) -> bool {
    let held: usize = runs
        .iter()
        .map(|run| match run {
            Run::Merged((merged, _)) => merged.len(),
            Run::Alone(part) => part.len(),
        })
        .sum();
    let listed: usize = parts.iter().map(|part| part.len()).sum();
    2 * held <= listed
}

/// The shards [`first_seen_numbers`] and [`first_seen_copied`] tell items apart in, a
/// few a worker (a power of two).
const SHARDS: usize = 64;

/// The shard of an item of hash `hash`, from the hash's middle bits: its low bits place
/// the item in the shard's table, its top seven tag it there.
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (SHARDS - 1)
}

/// The items of `lists` numbered in the order they are first listed, list after list,
/// as interning them in turn would number them: their texts in that order (each put by
/// `push`), and each list's map from its places to those numbers. `list` has
/// `len(list)` items; its item `i` hashes to `hash(list, i)`, and is item `j` of
/// `other` again when `same(list, i, other, j)`.
///
/// Each item is put in one of [`SHARDS`] shards by its hash and looked up once there,
/// each shard on a worker in a table sized for it, which holds a tag of each hash
/// ([`tag_of`]): an item is read again only to tell it from another of the same tag. Made for
/// lists that rarely share an item (a city's samples against a district's roster name
/// millions of people it does not hold, each once): a shard keeps 16 bytes for each
/// item it meets first (its list and place, its hash's tag and its number among the
/// shard's firsts) and 12 for each it meets again ([`Met`]). Lists that share most of
/// theirs are numbered by
/// [`first_seen_copied`].
pub(crate) fn first_seen_numbers<L: Sync>(
    lists: &[L],
    len: impl Fn(&L) -> usize + Sync,
    hash: impl Fn(&L, usize) -> u64 + Sync,
    same: impl Fn(&L, usize, &L, usize) -> bool + Sync,
    push: impl Fn(&L, usize, &mut Strings) -> u32 + Sync,
) -> (Strings, Vec<Vec<u32>>) {
    use rayon::prelude::*;
    // Each list's places by shard, in the list's order: 4 bytes an item (hashed again
    // in its shard), where a district's samples name millions of people it does not
    // hold while every chunk of them is still held.
    let by_shard: Vec<Vec<Vec<u32>>> = lists
        .par_iter()
        .map(|list| {
            let mut shards = vec![Vec::new(); SHARDS];
            for i in 0..len(list) {
                shards[shard_of(hash(list, i))].push(i as u32);
            }
            shards
        })
        .collect();
    // For each shard, the items it met first and those it met again.
    let met: Vec<Met> = (0..SHARDS)
        .into_par_iter()
        .map(|shard| {
            let size = by_shard.iter().map(|s| s[shard].len()).sum();
            // Room for every item as a first: nearly every item is, in the lists this
            // is made for.
            let mut met = Met {
                firsts: Vec::with_capacity(size),
                again: Vec::new(),
            };
            // Each item met first as its hash's tag and which of the shard's firsts it
            // is: 8 bytes, beside the 8 of the first itself.
            let mut first: hashbrown::HashTable<(u32, u32)> =
                hashbrown::HashTable::with_capacity(size);
            for (l, shards) in by_shard.iter().enumerate() {
                for &i in &shards[shard] {
                    let tag = tag_of(hash(&lists[l], i as usize));
                    let firsts = &met.firsts;
                    let found = first.find(spread(tag), |&(t, k)| {
                        t == tag && {
                            let [p, j] = firsts[k as usize];
                            same(&lists[p as usize], j as usize, &lists[l], i as usize)
                        }
                    });
                    match found {
                        Some(&(_, k)) => met.again.push([l as u32, i, k]),
                        None => {
                            let k = met.first(l as u32, i);
                            first.insert_unique(spread(tag), (tag, k), |&(t, _)| spread(t));
                        }
                    }
                }
            }
            met
        })
        .collect();
    drop(by_shard);
    numbered(lists, len, push, met)
}

/// The part of an item's hash a shard's table keeps: its low half (the shard is told
/// by bits of the high half, [`shard_of`]). Two items of one tag are told apart by
/// their text.
fn tag_of(hash: u64) -> u32 {
    hash as u32
}

/// The hash a shard's table places an item of tag `tag` by: the tag's bits spread
/// over all 64, so that the table's control bytes (its top bits) vary with it.
fn spread(tag: u32) -> u64 {
    u64::from(tag).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What a shard of [`first_seen_numbers`] or [`first_seen_copied`] met: where each
/// item it met first was listed (list, place), in the order met; and each item met
/// again, in an earlier list or earlier in its own: its list and place, and which of
/// the shard's firsts it is.
#[derive(Default)]
struct Met {
    firsts: Vec<[u32; 2]>,
    again: Vec<[u32; 3]>,
}

impl Met {
    /// Notes item `i` of list `l` as met first; returns which of the firsts it is.
    fn first(&mut self, l: u32, i: u32) -> u32 {
        let k = u32::try_from(self.firsts.len()).expect("a shard meets under 4 G items");
        self.firsts.push([l, i]);
        k
    }
}

/// The numbers of [`first_seen_numbers`] from what each shard `met`.
fn numbered<L: Sync>(
    lists: &[L],
    len: impl Fn(&L) -> usize + Sync,
    push: impl Fn(&L, usize, &mut Strings) -> u32 + Sync,
    met: Vec<Met>,
) -> (Strings, Vec<Vec<u32>>) {
    use rayon::prelude::*;
    use std::sync::atomic::Ordering::Relaxed;
    // An item met again is marked in its list; the others are numbered in order, list
    // after list, each list's on a worker.
    let mut maps: Vec<Vec<u32>> = lists.par_iter().map(|l| vec![0; len(l)]).collect();
    {
        let slots = atomic_maps(&mut maps);
        met.par_iter().for_each(|m| {
            for &[l, i, _] in &m.again {
                slots[l as usize][i as usize].store(u32::MAX, Relaxed);
            }
        });
    }
    let mut bases: Vec<u32> = maps
        .par_iter()
        .map(|map| map.iter().filter(|&&n| n != u32::MAX).count() as u32)
        .collect();
    let mut total = 0u32;
    for base in &mut bases {
        let next = total
            .checked_add(*base)
            .expect("fewer than 4,294,967,295 distinct items");
        (*base, total) = (total, next);
    }
    let blocks: Vec<Strings> = maps
        .par_iter_mut()
        .zip(lists)
        .zip(bases)
        .map(|((map, list), base)| {
            let mut names = Strings::default();
            for (i, n) in map.iter_mut().enumerate() {
                if *n != u32::MAX {
                    *n = base + push(list, i, &mut names);
                }
            }
            names
        })
        .collect();
    let names = Strings::concat_owned(blocks);
    // Each item met again takes the number of the first it is. A shard met again
    // more items than it met first (a roster's households, each named by ten people)
    // reads its firsts' numbers once, scattered over the lists, and gives its items met
    // again theirs from its own memory: read where each was first listed instead, a
    // city's millions of repeats were each a read from anywhere in the maps, on one
    // thread. A shard that met few again (a city's samples against a district's
    // roster name millions of people it does not hold, each once) reads only their
    // firsts' numbers. A shard writes only items it met again, and reads only items it
    // met first, so no slot is written by two shards, or written and read by two.
    {
        let slots = atomic_maps(&mut maps);
        met.par_iter().for_each(|m| {
            let number = |k: u32| {
                let [l, i] = m.firsts[k as usize];
                slots[l as usize][i as usize].load(Relaxed)
            };
            let store =
                |[l, i, _]: [u32; 3], n: u32| slots[l as usize][i as usize].store(n, Relaxed);
            if m.again.len() < m.firsts.len() {
                for &again in &m.again {
                    store(again, number(again[2]));
                }
            } else {
                let numbers: Vec<u32> = (0..m.firsts.len() as u32).map(number).collect();
                for &again in &m.again {
                    store(again, numbers[again[2] as usize]);
                }
            }
        });
    }
    (names, maps)
}

/// `maps` as atomics ([`crate::buckets::as_atomics`]), for workers to write places of
/// them they alone write.
fn atomic_maps(maps: &mut [Vec<u32>]) -> Vec<&[std::sync::atomic::AtomicU32]> {
    maps.iter_mut()
        .map(|map| crate::buckets::as_atomics(map))
        .collect()
}

/// [`first_seen_numbers`] for the chunks' strings, told apart by `key` (bytes that only
/// the item has: equal keys, the same item) instead of by reading the item first
/// listed in its own list. A roster of a million households in no order names ten
/// thousand of them in each chunk, nine in ten named by a chunk before.
///
/// The lists are written out by shard a wave at a time, each item as its place, hash
/// and key ([`Records`]), so that a shard reads its items one after another; and each
/// shard keeps a copy of the key of every item it has met. Read from their lists
/// instead, an item and the one it was first listed as were each a cache miss or two,
/// back and forth over every list's strings: that roster's buildings were written out
/// by shard and looked up in 0.88–0.95 s here, 0.41–0.43 s so (BENCHMARKS.md, "A
/// roster in no order: its buildings told apart by a copy"). A city's rooms named after
/// their building (2.5 million, each named by four people in no order) take this way
/// too, a little sooner at the same peak. The copies cost memory for every distinct
/// item, which lists that rarely share one (a city's samples against a district's
/// roster: IDs, nearly all named once) do not repay.
pub(crate) fn first_seen_copied<L: Sync>(
    lists: &[L],
    len: impl Fn(&L) -> usize + Sync,
    hash: impl Fn(&L, usize) -> u64 + Sync,
    key: impl Fn(&L, usize, &mut Vec<u8>) + Sync,
    push: impl Fn(&L, usize, &mut Strings) -> u32 + Sync,
) -> (Strings, Vec<Vec<u32>>) {
    use rayon::prelude::*;
    let mut shards: Vec<Copied> = (0..SHARDS).map(|_| Copied::default()).collect();
    let mut from = 0;
    while from < lists.len() {
        // A wave of lists of at least WAVE items (but the last).
        let mut to = from;
        let mut items = 0;
        while to < lists.len() && items < WAVE {
            items += len(&lists[to]);
            to += 1;
        }
        let records: Vec<Vec<Vec<u8>>> = lists[from..to]
            .par_iter()
            .map(|list| {
                let mut records = vec![Vec::new(); SHARDS];
                let mut item = Vec::new();
                for i in 0..len(list) {
                    let h = hash(list, i);
                    item.clear();
                    key(list, i, &mut item);
                    Records::put(&mut records[shard_of(h)], i as u32, h, &item);
                }
                records
            })
            .collect();
        shards.par_iter_mut().enumerate().for_each(|(s, shard)| {
            for (k, records) in records.iter().enumerate() {
                for (i, h, item) in Records::items(&records[s]) {
                    shard.meet((from + k) as u32, i, h, item);
                }
            }
        });
        from = to;
    }
    let met = shards.into_iter().map(|shard| shard.met).collect();
    numbered(lists, len, push, met)
}

/// [`first_seen_copied`] writes out lists of at least this many items at a time (but
/// the last lists), a list whole: some 60 MB of records of short strings, and a
/// list's more.
const WAVE: usize = 1 << 21;

/// A shard of [`first_seen_copied`]: the items it has met.
#[derive(Default)]
struct Copied {
    /// The hash's tag ([`tag_of`]), which of the firsts the item is, and where its key
    /// is in `keys` (from, to).
    first: hashbrown::HashTable<(u32, u32, u32, u32)>,
    keys: Vec<u8>,
    met: Met,
}

impl Copied {
    /// Meets item `i` of list `l`, of hash `h` and key `item`.
    fn meet(&mut self, l: u32, i: u32, h: u64, item: &[u8]) {
        let keys = &self.keys;
        let tag = tag_of(h);
        let found = self.first.find(spread(tag), |&(t, _, from, to)| {
            t == tag && same_bytes(&keys[from as usize..to as usize], item)
        });
        match found {
            Some(&(_, k, ..)) => self.met.again.push([l, i, k]),
            None => {
                let from = self.keys.len() as u32;
                self.keys.extend_from_slice(item);
                let to = u32::try_from(self.keys.len()).expect("a shard's keys take under 4 GiB");
                let k = self.met.first(l, i);
                self.first
                    .insert_unique(spread(tag), (tag, k, from, to), |e| spread(e.0));
            }
        }
    }
}

/// A list's items of one shard of [`first_seen_copied`], one after another: each its
/// place (4 bytes), its hash (8) and its key's length (4), then its key.
struct Records;

impl Records {
    const HEAD: usize = 16;

    fn put(out: &mut Vec<u8>, place: u32, hash: u64, key: &[u8]) {
        let len = u32::try_from(key.len()).expect("an item's key is under 4 GiB");
        out.extend_from_slice(&place.to_le_bytes());
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(key);
    }

    /// The items of `bytes` (written by [`Records::put`]): place, hash and key.
    fn items(mut bytes: &[u8]) -> impl Iterator<Item = (u32, u64, &[u8])> {
        std::iter::from_fn(move || {
            let (head, rest) = bytes.split_first_chunk::<{ Records::HEAD }>()?;
            let word = |at: usize| {
                u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]])
            };
            let hash = u64::from(word(4)) | u64::from(word(8)) << 32;
            let (key, rest) = rest.split_at(word(12) as usize);
            bytes = rest;
            Some((word(0), hash, key))
        })
    }
}

/// The table that finds each of `names` (distinct) by its text: hashed on the
/// workers, then put in a table made for them all at once.
fn table_of(names: &Strings) -> hashbrown::HashTable<u32> {
    use rayon::prelude::*;
    let hashes: Vec<u64> = (0..names.len() as u32)
        .into_par_iter()
        .map(|i| hash_str(names.get(i)))
        .collect();
    let mut index = hashbrown::HashTable::with_capacity(names.len());
    for (i, &hash) in hashes.iter().enumerate() {
        index.insert_unique(hash, i as u32, |&j| hashes[j as usize]);
    }
    index
}

/// Interns strings: each distinct string gets the next index, in first-seen order
/// (unless [`Interner::renumber`] numbers them anew), found again by a table; or,
/// made by [`Interner::of_sorted`], distinct strings in the order of their bytes,
/// found by searching them, into which nothing is interned; or, appended
/// ([`Interner::append`]), strings as they come, which may repeat. Strings are stored
/// back to back.
#[derive(Clone, Default)]
pub struct Interner {
    names: Strings,
    index: hashbrown::HashTable<u32>,
    /// The index returned last: rows of one tube or site come together, so most
    /// lookups are answered without hashing.
    last: u32,
    /// Whether the strings are distinct and in the order of their bytes, found by
    /// searching them, without a table ([`Interner::of_sorted`]).
    sorted: bool,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("len", &self.names.len())
            .finish()
    }
}

/// Whether `a` and `b` hold the same bytes: how every table of strings compares them
/// at a probe (the interners, the merges' copies, and the roster's index and the
/// samples' tables for IDs kept as text). Their strings are mostly short (a building's
/// name, a room's, an ID): up to 16 bytes they are compared by two loads each,
/// overlapping, where `==` on slices calls `memcmp` for every probe (a fifth of the
/// time spent merging a city's 2.5 million rooms named after their building).
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |x: &[u8], at: usize| u64::from_le_bytes(x[at..at + 8].try_into().unwrap());
    let half = |x: &[u8], at: usize| u32::from_le_bytes(x[at..at + 4].try_into().unwrap());
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// The hash of a string in the run's tables (the interners, and the roster's
/// fingerprints of text IDs).
pub fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(s)
}

impl Interner {
    /// The bytes of all strings together.
    pub fn text_len(&self) -> usize {
        self.names.text_len()
    }

    /// Room for `count` more strings of `bytes` more bytes in all.
    pub fn reserve(&mut self, count: usize, bytes: usize) {
        self.names.reserve(count, bytes);
        let names = &self.names;
        self.index.reserve(count, |&j| hash_str(names.get(j)));
    }

    /// The index of `s`, interning it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if (self.last as usize) < self.names.len()
            && same_bytes(self.names.bytes(self.last), s.as_bytes())
        {
            return self.last;
        }
        assert!(
            !self.sorted && self.index.len() == self.names.len(),
            "a string interned without the table that finds it (freed, or strings kept sorted)"
        );
        let hash = hash_str(s);
        let i = match self
            .index
            .find(hash, |&i| same_bytes(self.names.bytes(i), s.as_bytes()))
        {
            Some(&i) => i,
            None => {
                let i = self.names.push(s);
                let names = &self.names;
                self.index
                    .insert_unique(hash, i, |&j| hash_str(names.get(j)));
                i
            }
        };
        self.last = i;
        i
    }

    /// Appends `s` as a string of its own, unless it is the string given last (found
    /// without hashing): for strings that seldom repeat, whose repeats a merge tells
    /// apart ([`ChunkNames`]). The table that finds strings is freed: nothing can be
    /// interned into the interner after.
    pub fn append(&mut self, s: &str) -> u32 {
        assert!(!self.sorted, "a string appended to strings kept sorted");
        if (self.last as usize) < self.names.len()
            && same_bytes(self.names.bytes(self.last), s.as_bytes())
        {
            return self.last;
        }
        if !self.index.is_empty() {
            self.index = hashbrown::HashTable::new();
        }
        self.last = self.names.push(s);
        self.last
    }

    /// The index of `s` when it is the string at `hint` (an index this table gave, or
    /// [`crate::record::NONE`]), found without hashing; else as [`Interner::intern`].
    /// For callers that intern several columns in turn, each of which mostly repeats
    /// its row before, where the table's own memory of the last string would serve
    /// only one column.
    pub fn intern_hinted(&mut self, s: &str, hint: u32) -> u32 {
        if (hint as usize) < self.names.len() && same_bytes(self.names.bytes(hint), s.as_bytes()) {
            return hint;
        }
        self.intern(s)
    }

    /// The hash [`Interner::intern_hashed`] takes: made once, a string can be split by
    /// it and interned with it.
    pub fn hash_of(s: &str) -> u64 {
        hash_str(s)
    }

    /// The index of `s`, of hash `hash` ([`Interner::hash_of`]), interning it if new;
    /// and whether it was.
    pub fn intern_hashed(&mut self, s: &str, hash: u64) -> (u32, bool) {
        assert!(
            !self.sorted && self.index.len() == self.names.len(),
            "a string interned without the table that finds it (freed, or strings kept sorted)"
        );
        match self
            .index
            .find(hash, |&i| same_bytes(self.names.bytes(i), s.as_bytes()))
        {
            Some(&i) => (i, false),
            None => {
                let i = self.names.push(s);
                let names = &self.names;
                self.index
                    .insert_unique(hash, i, |&j| hash_str(names.get(j)));
                (i, true)
            }
        }
    }

    /// The distinct strings of `parts` in first-seen order (part by part, each part's
    /// in its own order), and for each part the new number of each of its strings;
    /// found again by a table, as if interned in turn.
    pub fn merge(parts: &[&Interner]) -> (Interner, Vec<Vec<u32>>) {
        if parts.len() <= MERGE_SERIAL {
            return Interner::merge_serial(parts);
        }
        let (names, numbers) = merge_sharded(parts);
        (Interner::of_distinct(names), numbers)
    }

    /// [`Interner::merge`] without the table: the strings and the numbers only, for a
    /// caller that reads the strings by index from then on (a roster's rooms, which a
    /// city may name millions of).
    pub fn merge_strings(parts: &[&Interner]) -> (Strings, Vec<Vec<u32>>) {
        if parts.len() <= MERGE_SERIAL {
            let (merged, numbers) = Interner::merge_serial(parts);
            return (merged.names, numbers);
        }
        merge_sharded(parts)
    }

    /// [`Interner::merge`] by interning each part's strings in turn, on this thread.
    fn merge_serial(parts: &[&Interner]) -> (Interner, Vec<Vec<u32>>) {
        let mut merged = Interner::default();
        let numbers = parts
            .iter()
            .map(|part| part.iter().map(|s| merged.intern(s)).collect())
            .collect();
        (merged, numbers)
    }

    /// [`Interner::merge`] of the interners `of` picks from `parts`.
    pub fn merge_of<P>(parts: &[P], of: impl Fn(&P) -> &Interner) -> (Interner, Vec<Vec<u32>>) {
        Interner::merge(&parts.iter().map(of).collect::<Vec<_>>())
    }

    /// [`Interner::merge_strings`] of the interners `of` picks from `parts`.
    pub fn merge_strings_of<P>(
        parts: &[P],
        of: impl Fn(&P) -> &Interner,
    ) -> (Strings, Vec<Vec<u32>>) {
        Interner::merge_strings(&parts.iter().map(of).collect::<Vec<_>>())
    }

    /// The interner of `names`, which must be distinct, numbered in their order, with
    /// the table that finds them: hashed on the workers, then put in a table made for
    /// them all at once.
    fn of_distinct(names: Strings) -> Interner {
        Interner {
            index: table_of(&names),
            names,
            last: 0,
            sorted: false,
        }
    }

    /// The interner of `names`, which must be distinct and in the order of their
    /// bytes, numbered in that order. It holds no table: a string is found by a binary
    /// search of the strings (a city's ten million single tubes' table took 84 MB, and
    /// a third of a second on one thread to build). Nothing can be interned into it: a
    /// try stops the run.
    pub fn of_sorted(names: Strings) -> Interner {
        debug_assert!((1..names.len() as u32).all(|i| names.bytes(i - 1) < names.bytes(i)));
        Interner {
            names,
            sorted: true,
            ..Interner::default()
        }
    }

    /// Numbers the strings anew: string `order[i]` becomes string `i`, and
    /// `new_of_old[j]` is the new number of string `j` (`order` and `new_of_old` are
    /// inverse permutations). The strings are gathered into their new order; the table
    /// that finds them keeps its places, each holding the new number (strings that
    /// were found by searching them, out of order now, get a table).
    pub fn renumber(&mut self, order: &[u32], new_of_old: &[u32]) {
        debug_assert_eq!(order.len(), self.names.len());
        debug_assert_eq!(new_of_old.len(), self.names.len());
        self.names = self.names.gather(order);
        for i in self.index.iter_mut() {
            *i = new_of_old[*i as usize];
        }
        if std::mem::take(&mut self.sorted) {
            self.index = table_of(&self.names);
        }
        self.last = 0;
    }

    /// Frees the table that finds a string by its text (or stops the search of sorted
    /// strings), for strings from now on only read by index (a city's tube_ids
    /// renumbered over several rounds: a table of 84 MB for ten million). Finding or
    /// interning a string after it stops the run rather than find nothing.
    pub fn drop_lookups(&mut self) {
        self.index = hashbrown::HashTable::new();
        self.sorted = false;
    }

    /// Whether strings can still be found by their text: they are sorted, or every
    /// string is in the table, unless [`Interner::drop_lookups`] freed it.
    fn can_look_up(&self) -> bool {
        self.sorted || self.index.len() == self.names.len()
    }

    /// The index of `s`, if interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        assert!(
            self.can_look_up(),
            "a string looked up after its table was freed"
        );
        if self.sorted {
            return self.search(s.as_bytes(), 0, self.names.len());
        }
        self.index
            .find(hash_str(s), |&i| {
                same_bytes(self.names.bytes(i), s.as_bytes())
            })
            .copied()
    }

    /// The index of `s` among the sorted strings of indexes `lo..hi`, if it is one.
    fn search(&self, s: &[u8], mut lo: usize, mut hi: usize) -> Option<u32> {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.names.bytes(mid as u32).cmp(s) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// The index of `s` among sorted strings, searched from index `from` on in steps
    /// that double (strings looked up in their order lie a few indexes on), then before
    /// it.
    fn search_from(&self, s: &[u8], from: usize) -> Option<u32> {
        let n = self.names.len();
        if from >= n || self.names.bytes(from as u32) > s {
            return self.search(s, 0, from.min(n));
        }
        // names[lo] <= s from here on; find the first step past it.
        let (mut lo, mut step) = (from, 1);
        loop {
            let probe = lo + step;
            if probe >= n {
                return self.search(s, lo, n);
            }
            if self.names.bytes(probe as u32) > s {
                return self.search(s, lo, probe);
            }
            lo = probe;
            step *= 2;
        }
    }

    /// The index of `s`, if interned, trying index `last` and the one after it first
    /// (from index 0 when `last` is [`crate::record::NONE`]): strings looked up in the
    /// order of their indexes, each once or several times in a row, are found without
    /// hashing.
    pub fn get_near(&self, s: &str, last: u32) -> Option<u32> {
        for guess in [last, last.wrapping_add(1)] {
            if (guess as usize) < self.names.len()
                && same_bytes(self.names.bytes(guess), s.as_bytes())
            {
                return Some(guess);
            }
        }
        if self.sorted {
            return self.search_from(s.as_bytes(), last.wrapping_add(1) as usize);
        }
        self.get(s)
    }

    /// The string of index `i`.
    pub fn name(&self, i: u32) -> &str {
        self.names.get(i)
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The strings, by index.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter()
    }

    /// The strings, by index.
    pub fn strings(&self) -> &Strings {
        &self.names
    }

    /// The strings, by index, without the table that finds them.
    pub fn into_strings(self) -> Strings {
        self.names
    }

    /// The strings, by index, as a list.
    pub fn into_names(self) -> Vec<Box<str>> {
        self.names.into_names()
    }
}

/// The strings of one column of a chunk of rows (a roster's buildings or rooms),
/// numbered as they come, for a merge of the chunks ([`Interner::merge_strings`]) to
/// number run-wide: interned while they repeat; appended, each as a string of its own
/// ([`Interner::append`]), once nearly all of the first [`ChunkNames::TRIAL`] were new.
/// A chunk of a roster in no order names ten thousand households, nearly each once:
/// the merge tells their few repeats apart anyway, and the chunk's table of them was
/// hashing and memory for nothing. The merge numbers them as it would have numbered
/// them interned (first seen, chunk after chunk). A chunk that repeats its strings only
/// after the trial (rows cycling through more buildings than the trial meets, each
/// once a cycle) appends its repeats too: at most a chunk's rows, some 2.5 times the
/// trial, each once.
#[derive(Debug, Default)]
pub struct ChunkNames {
    names: Interner,
    /// Strings asked for, up to [`ChunkNames::TRIAL`], and how many of them were new.
    asked: u32,
    new: u32,
}

impl ChunkNames {
    /// The strings asked for before the chunk's strings are judged: 4,096, of a
    /// chunk's some ten thousand rows.
    pub const TRIAL: u32 = 4096;

    /// The number of `s` in the chunk.
    pub fn number(&mut self, s: &str) -> u32 {
        if self.asked == Self::TRIAL && self.appending() {
            return self.names.append(s);
        }
        let before = self.names.len();
        let i = self.names.intern(s);
        if self.asked < Self::TRIAL {
            self.asked += 1;
            self.new += u32::from(self.names.len() > before);
        }
        i
    }

    /// Whether strings are appended: more than 98% of the first
    /// [`ChunkNames::TRIAL`] were new. A roster in no order of ten thousand buildings
    /// (a chunk's first 4,096 rows name some 3,360 of them) or of fifty thousand
    /// (3,930) keeps interning; of a million households, or millions of rooms,
    /// appends.
    fn appending(&self) -> bool {
        50 * self.new > 49 * Self::TRIAL
    }

    /// The strings by number.
    pub fn names(&self) -> &Interner {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::{
        first_seen_copied, first_seen_numbers, runs_shrink, same_bytes, ChunkNames, Interner, Run,
        Strings, MERGE_SERIAL,
    };

    /// `same_bytes` answers as `==` does: for slices of every length up to past its
    /// loads' cases, alike, differing in any one byte, or one byte shorter.
    #[test]
    fn same_bytes_is_equality() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
            assert!(same_bytes(&a, &a.clone()), "{n} bytes alike");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x80;
                assert!(!same_bytes(&a, &b), "{n} bytes, byte {at} differs");
            }
            if n > 0 {
                assert!(!same_bytes(&a, &a[..n - 1]), "{n} bytes against {}", n - 1);
            }
        }
    }

    /// Chunks whose strings are numbered by [`ChunkNames`] merge into the numbers of
    /// chunks interned whole, appended or not: chunks of strings that repeat, of
    /// strings new through the trial and then each given twice in a row, new through
    /// the trial and then repeating it, and with one string more or fewer new in the
    /// trial than appending takes; in fewer chunks than a serial merge takes, and in
    /// more.
    #[test]
    fn chunk_names_merge_as_interned_chunks_do() {
        let trial = ChunkNames::TRIAL as usize;
        // The fewest new strings of the trial that make a chunk append.
        let fewest = 49 * trial / 50 + 1;
        // Chunk k's strings, and whether they are appended past the trial.
        let chunk = |k: usize| -> (Vec<String>, bool) {
            let n = 2 * trial + trial / 2 + k % 7;
            // The trial's first `same` strings alike: `fewest` new, or one fewer.
            let same = 1 + trial - fewest + (k / 4) % 2;
            let rows = (0..n)
                .map(|i| match k % 4 {
                    0 => format!("楼{}", (i * 7 + k) % 40),
                    1 if i < trial => format!("户{}-{i}", k % 3),
                    1 => format!("户{}-{}", k % 3, i - i % 2),
                    2 if i < trial => format!("户{k}-{i}"),
                    2 => format!("户{k}-{}", i % 50),
                    _ if i < same || i == 2 * trial => format!("户{k}-a"),
                    _ => format!("户{}-{i}", k % 5),
                })
                .collect();
            let appends = match k % 4 {
                0 => false,
                3 => (k / 4).is_multiple_of(2),
                _ => true,
            };
            (rows, appends)
        };
        // Chunks sharing strings (merged in runs), and chunks each of its own strings
        // (its list given to the shards as it is).
        for (chunks, own) in [
            (8, false),
            (MERGE_SERIAL * 3 + 1, false),
            (MERGE_SERIAL * 3 + 1, true),
        ] {
            let rows: Vec<(Vec<String>, bool)> = (0..chunks)
                .map(|k| {
                    let (rows, appends) = chunk(k);
                    match own {
                        true => (rows.iter().map(|r| format!("{k}:{r}")).collect(), appends),
                        false => (rows, appends),
                    }
                })
                .collect();
            let mut interned = Vec::new();
            let mut numbered = Vec::new();
            for (k, (rows, appends)) in rows.iter().enumerate() {
                let (mut whole, mut names) = (Interner::default(), ChunkNames::default());
                let mut codes = Vec::new();
                for row in rows {
                    whole.intern(row);
                    codes.push(names.number(row));
                }
                assert_eq!(names.appending(), *appends, "chunk {k}");
                // A string given twice in a row is found again, not appended twice; the
                // trial's strings given again later are appended again.
                match k % 4 {
                    1 => assert_eq!(names.names().len(), whole.len(), "chunk {k}"),
                    2 => assert!(names.names().len() > whole.len(), "chunk {k}"),
                    _ => {}
                }
                interned.push(whole);
                numbered.push((names, codes));
            }
            let lists: Vec<&Interner> = numbered.iter().map(|(n, _)| n.names()).collect();
            if chunks > 2 * MERGE_SERIAL {
                let head: Vec<Run> = lists[..2 * MERGE_SERIAL]
                    .chunks(MERGE_SERIAL)
                    .map(|run| Run::Merged(Interner::merge_serial(run)))
                    .collect();
                assert_eq!(runs_shrink(&head, &lists[..2 * MERGE_SERIAL]), !own);
            }
            let (expected, expected_numbers) =
                Interner::merge_strings(&interned.iter().collect::<Vec<_>>());
            let (merged, numbers) = Interner::merge_strings(&lists);
            assert_eq!(
                merged.iter().collect::<Vec<_>>(),
                expected.iter().collect::<Vec<_>>()
            );
            for (k, (rows, _)) in rows.iter().enumerate() {
                for (i, row) in rows.iter().enumerate() {
                    let got = numbers[k][numbered[k].1[i] as usize];
                    let whole = expected_numbers[k][interned[k].get(row).unwrap() as usize];
                    assert_eq!(got, whole, "chunk {k}, row {i}");
                    assert_eq!(merged.get(got), row);
                }
            }
        }
    }

    #[test]
    fn strings_of_one_length_are_told_from_others() {
        // Under test the text wraps every 64 bytes: some of these ends lie past it.
        let of = |all: &[&str]| {
            let mut strings = Strings::default();
            for s in all {
                strings.push(s);
            }
            strings
        };
        let ids: Vec<String> = (0..100).map(|i| format!("{:07}", 2021000 + i)).collect();
        let even = of(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(even.even_len(), Some(7));
        assert_eq!(even.clone().into_text(), ids.concat());
        let mut uneven: Vec<&str> = ids.iter().map(String::as_str).collect();
        uneven[57] = "S-7";
        assert_eq!(of(&uneven).even_len(), None);
        // The same bytes in all, cut elsewhere.
        uneven[57] = "202105";
        uneven[58] = "72021058";
        assert_eq!(of(&uneven).text_len(), even.text_len());
        assert_eq!(of(&uneven).even_len(), None);
        assert_eq!(of(&[]).even_len(), None);
        assert_eq!(of(&[""]).even_len(), Some(0));
    }

    /// Sorted strings without a table are found by every guess, and strings between,
    /// before and after them are not; renumbered, they get a table and are found
    /// under their new numbers.
    #[test]
    fn sorted_strings_are_found_without_a_table() {
        let mut names: Vec<String> = (0..300).map(|i| format!("T{:05}", i * 3)).collect();
        names.extend(["U", "U-long-enough-to-pass-sixteen-bytes", "a", "公寓"].map(String::from));
        names.sort();
        let mut strings = Strings::default();
        for n in &names {
            strings.push(n);
        }
        let mut interner = Interner::of_sorted(strings);
        let n = names.len() as u32;
        for (i, name) in names.iter().enumerate() {
            let i = i as u32;
            assert_eq!(interner.get(name), Some(i));
            for last in [
                i,
                i.wrapping_sub(1),
                i.wrapping_sub(7),
                i + 1,
                i + 40,
                0,
                n - 1,
                n,
                u32::MAX,
            ] {
                assert_eq!(
                    interner.get_near(name, last),
                    Some(i),
                    "{name} after {last}"
                );
            }
        }
        for missing in ["", "S", "T00001", "T00899x", "T9", "Z", "zz"] {
            for last in [0, 5, 150, n - 1, n, u32::MAX] {
                assert_eq!(
                    interner.get_near(missing, last),
                    None,
                    "{missing} after {last}"
                );
            }
            assert_eq!(interner.get(missing), None);
        }
        // Reversed.
        let order: Vec<u32> = (0..n).rev().collect();
        interner.renumber(&order, &order);
        for (i, name) in names.iter().enumerate() {
            let new = n - 1 - i as u32;
            assert_eq!(interner.get(name), Some(new));
            assert_eq!(interner.get_near(name, 3), Some(new));
        }
        assert_eq!(interner.get("T00001"), None);
        assert_eq!(interner.intern("T00001"), n);
    }

    /// A renumbered interner gives each string its new number, by number and by text,
    /// and a guess that is wrong, beyond the end or of a string not held is only a
    /// guess.
    #[test]
    fn renumbered_strings_are_found_by_their_new_numbers() {
        let mut interner = Interner::default();
        let words = ["c", "公寓", "", "a", "bb"];
        for w in words {
            interner.intern(w);
        }
        let order = [3u32, 0, 4, 2, 1];
        let mut new_of_old = [0u32; 5];
        for (new, &old) in order.iter().enumerate() {
            new_of_old[old as usize] = new as u32;
        }
        interner.renumber(&order, &new_of_old);
        let expected = ["a", "c", "bb", "", "公寓"];
        assert_eq!(interner.iter().collect::<Vec<_>>(), expected);
        for (i, w) in expected.iter().enumerate() {
            let i = i as u32;
            assert_eq!(interner.get(w), Some(i));
            // The guess itself, the one before, a wrong one, none, one beyond the end.
            for last in [i, i.wrapping_sub(1), (i + 2) % 5, u32::MAX, 4, 99] {
                assert_eq!(interner.get_near(w, last), Some(i), "{w:?} after {last}");
            }
        }
        assert_eq!(interner.get_near("zz", 0), None);
        assert_eq!(interner.get_near("zz", u32::MAX), None);
        // Interning after renumbering finds the old strings and numbers new ones next.
        assert_eq!(interner.intern("bb"), 2);
        assert_eq!(interner.intern("d"), 5);
    }

    #[test]
    fn concatenated_strings_keep_their_order_and_bytes() {
        // Parts of uneven sizes, empty parts, empty strings and characters of several
        // bytes, so that a text copied to the wrong place or an end not rebased shows.
        let words = ["", "公寓1", "a", "", "2000000000", "楼栋\u{3000}东", "x,y"];
        let mut all = Vec::new();
        let parts: Vec<Strings> = [0usize, 3, 0, 1, 5000, 2, 0, 7, 1]
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let mut part = Strings::default();
                for i in 0..n {
                    let s = format!("{}{k}.{i}", words[(k + i) % words.len()]);
                    part.push(&s);
                    all.push(s);
                }
                part
            })
            .collect();
        let joined = Strings::concat(parts.iter().collect());
        assert_eq!(joined.len(), all.len());
        assert_eq!(joined.iter().collect::<Vec<_>>(), all);
        assert_eq!(
            joined.text_len(),
            all.iter().map(String::len).sum::<usize>()
        );
        assert!(Strings::concat(Vec::new()).is_empty());
        // Joined as they are freed: the same strings.
        let owned = Strings::concat_owned(parts);
        assert_eq!(owned.iter().collect::<Vec<_>>(), all);
        assert_eq!(owned.text_len(), joined.text_len());
        assert!(Strings::concat_owned(Vec::new()).is_empty());
        // Under 64 bytes in all (`WRAP` in tests), parts are joined as they are freed
        // rather than copied.
        let small: [&[&str]; 5] = [&["a", "公寓1"], &[], &["", "x,y"], &["楼栋"], &["", ""]];
        let parts: Vec<Strings> = small
            .iter()
            .map(|words| {
                let mut part = Strings::default();
                for w in *words {
                    part.push(w);
                }
                part
            })
            .collect();
        let want: Vec<&str> = small.iter().flat_map(|w| w.iter().copied()).collect();
        assert!(want.iter().map(|w| w.len()).sum::<usize>() >> super::WRAP == 0);
        let owned = Strings::concat_owned(parts);
        assert_eq!(owned.iter().collect::<Vec<_>>(), want);
        assert_eq!(owned.text_len(), want.concat().len());
    }

    /// Strings gathered with their prefixes are those gathered by reading them: of
    /// every length around 16 bytes (rebuilt from the prefix below it, read from it
    /// on), empty, and of several bytes a character, over more than one block, in an
    /// order that jumps about.
    #[test]
    fn strings_gathered_with_their_prefixes_are_the_strings() {
        let mut strings = Strings::default();
        let mut all = Vec::new();
        for i in 0..200_000usize {
            let s = match i % 5 {
                0 => "7".repeat(i % 21),
                1 => format!("{:0w$}", i, w = 10 + i % 10),
                2 => format!("楼{}", i % 1000),
                3 => format!("S-{i}"),
                _ => format!("{}Z", "x".repeat(14 + i % 4)),
            };
            strings.push(&s);
            all.push(s);
        }
        let n = all.len() as u64;
        let order: Vec<u32> = (0..n).map(|i| (i * 7_919 % n) as u32).collect();
        let prefixes: Vec<[u64; 2]> = order
            .iter()
            .map(|&p| crate::order::prefix(&all[p as usize]))
            .collect();
        let gathered = strings.gather_prefixed(&order, |i| prefixes[i]);
        assert_eq!(gathered, strings.gather(&order));
        // Ends and wraps over every block as pushing the strings in that order makes
        // them; and gathered in their own order, the strings as they were.
        let mut pushed = Strings::default();
        for &p in &order {
            pushed.push(&all[p as usize]);
        }
        assert_eq!(gathered, pushed);
        let own: Vec<u32> = (0..n as u32).collect();
        assert_eq!(strings.gather(&own), strings);
        for (i, &p) in order.iter().enumerate() {
            assert_eq!(gathered.get(i as u32), all[p as usize], "{i}");
        }
        assert_eq!(super::short_len(crate::order::prefix("")), Some(0));
        assert_eq!(
            super::short_len(crate::order::prefix(&"9".repeat(15))),
            Some(15)
        );
        assert_eq!(
            super::short_len(crate::order::prefix(&"9".repeat(16))),
            None
        );
        assert!(strings.gather_prefixed(&[], |_| [0; 2]).is_empty());
    }

    /// Items that hash alike are told apart, by their keys or by reading them: lists
    /// numbered by shards with every item of one hash, or of a hash that only their
    /// length makes, give the numbers interning the lists in turn gives. Among the
    /// items: the empty string, one that starts another, items that differ in their
    /// last byte only, and items first listed late or twice in their list. Then, with
    /// their own hashes, over more items than a wave holds.
    #[test]
    fn items_of_one_hash_are_told_apart() {
        let short: Vec<Vec<String>> = [
            &["ab", "a", "ab", ""][..],
            &[],
            &["abc", "abd", "a", "b"],
            &["", "abd", "ba", "abc", "ba"],
        ]
        .iter()
        .map(|list| list.iter().map(|s| s.to_string()).collect())
        .collect();
        // Four lists of many items: the third ends the first wave, naming strings
        // first listed there, which the fourth (in the next wave) names again.
        let mut long = short.clone();
        let many = super::WAVE / 3 + 1;
        let before: usize = short.iter().map(Vec::len).sum();
        assert!(before + 2 * many < super::WAVE && before + 3 * many >= super::WAVE);
        let list = |k: usize| -> Vec<String> {
            (0..many)
                .map(|i| match k {
                    0 | 1 => format!("{}", i % 1000),
                    2 => format!("{}", 1000 + i % 500),
                    _ => format!("{}", i % 2000),
                })
                .collect()
        };
        long.extend((0..4).map(list));
        long.push(vec!["999".into(), "2000".into(), "ba".into()]);
        type Hash = fn(&str) -> u64;
        let hashes: [(Hash, &Vec<Vec<String>>); 3] = [
            (|_| 7, &short),
            (|s| s.len() as u64 * 0x9E37_79B9, &short),
            (super::hash_str, &long),
        ];
        for (hash, lists) in hashes {
            let mut interned = Interner::default();
            let expected: Vec<Vec<u32>> = lists
                .iter()
                .map(|list| list.iter().map(|s| interned.intern(s)).collect())
                .collect();
            let copied = first_seen_copied(
                lists,
                |list| list.len(),
                |list, i| hash(&list[i]),
                |list, i, key| key.extend_from_slice(list[i].as_bytes()),
                |list, i, names| names.push(&list[i]),
            );
            let read = first_seen_numbers(
                lists,
                |list| list.len(),
                |list, i| hash(&list[i]),
                |a, i, b, j| a[i] == b[j],
                |list, i, names| names.push(&list[i]),
            );
            for (names, numbers) in [copied, read] {
                assert!(numbers == expected);
                assert!(names.iter().eq(interned.iter()));
            }
        }
    }

    /// Interners merged give the strings and numbers that interning every part in
    /// turn gives: over enough parts to make several runs (whose strings are then
    /// numbered by shards), with empty parts, the empty string, strings first seen in a
    /// late part, and parts in every order; with the table that finds them, or without;
    /// for parts that share most of their strings (merged in runs first) and parts
    /// that share few (handed to the shards as they are).
    #[test]
    fn merged_interners_number_strings_as_interning_in_turn_does() {
        let shared = |k: usize| -> Vec<String> {
            // Every seventh part is empty; the others name some of the common
            // strings, backwards in odd parts, and one of their own.
            if k % 7 == 3 {
                return Vec::new();
            }
            let mut names: Vec<String> = (0..(k * 13) % 40)
                .map(|i| format!("公寓{}", (i * k) % 97))
                .collect();
            if k % 2 == 1 {
                names.reverse();
            }
            names.push(if k.is_multiple_of(5) {
                String::new()
            } else {
                format!("late{k}")
            });
            names
        };
        // Thirty strings of their own, a few of the part before's and a few common
        // ones; every seventh part empty.
        let own = |k: usize| -> Vec<String> {
            if k % 7 == 3 {
                return Vec::new();
            }
            let mut names: Vec<String> = (0..30).map(|i| format!("户{k}-{i}")).collect();
            names.extend((0..k % 4).map(|i| format!("户{}-{i}", k.saturating_sub(1))));
            names.push(format!("公寓{}", k % 3));
            if k % 2 == 1 {
                names.reverse();
            }
            names
        };
        for (shape, names_of, shrink) in [
            ("shared", &shared as &dyn Fn(usize) -> Vec<String>, true),
            ("own", &own, false),
        ] {
            let parts: Vec<Interner> = (0..150usize)
                .map(|k| {
                    let mut part = Interner::default();
                    for name in &names_of(k) {
                        part.intern(name);
                    }
                    part
                })
                .collect();
            let refs: Vec<&Interner> = parts.iter().collect();
            let head: Vec<Run> = refs[..2 * MERGE_SERIAL]
                .chunks(MERGE_SERIAL)
                .map(|run| Run::Merged(Interner::merge_serial(run)))
                .collect();
            assert_eq!(
                runs_shrink(&head, &refs[..2 * MERGE_SERIAL]),
                shrink,
                "{shape}"
            );
            let mut serial = Interner::default();
            let expected: Vec<Vec<u32>> = parts
                .iter()
                .map(|part| part.iter().map(|s| serial.intern(s)).collect())
                .collect();
            for threads in [1, 3] {
                let pool = crate::testing::pool(threads);
                let (merged, numbers) = pool.install(|| Interner::merge(&refs));
                assert_eq!(
                    merged.iter().collect::<Vec<_>>(),
                    serial.iter().collect::<Vec<_>>(),
                    "{shape}"
                );
                assert_eq!(numbers, expected, "{shape}, threads {threads}");
                for s in serial.iter() {
                    assert_eq!(merged.get(s), serial.get(s));
                }
                let (strings, same_numbers) = pool.install(|| Interner::merge_strings(&refs));
                assert_eq!(&strings, serial.strings());
                assert_eq!(same_numbers, expected, "{shape}, threads {threads}");
            }
        }
        let (empty, none) = Interner::merge(&[]);
        assert!(empty.iter().next().is_none() && none.is_empty());
    }

    /// An interner whose lookups were freed still gives every string by its index,
    /// and stops the run when asked to find or intern one by its text.
    #[test]
    fn an_interner_without_lookups_reads_by_index_only() {
        let mut names = Interner::default();
        for s in ["b", "a", "c"] {
            names.intern(s);
        }
        names.drop_lookups();
        assert_eq!(names.iter().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(names.name(1), "a");
        let found = std::panic::catch_unwind(|| names.get("a"));
        assert!(found.is_err());
        let mut names = std::panic::AssertUnwindSafe(names);
        assert!(std::panic::catch_unwind(move || names.intern("d")).is_err());
    }

    /// Tables whose text passes many steps of [`WRAP`] bytes (64 in the unit tests,
    /// 4 GiB in the product) give back every string, pushed, joined, appended or
    /// gathered: strings that end exactly on a step, span several steps, or are empty
    /// on one; and a table below one step keeps no wraps.
    #[test]
    fn strings_past_each_step_of_their_ends_are_whole() {
        let step = 1usize << super::WRAP;
        let lens = [
            0,
            1,
            step - 1,
            1,
            step,
            0,
            0,
            3 * step + 5,
            2,
            step - 7,
            7,
            0,
            40,
        ];
        let model: Vec<String> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|k| char::from(b'a' + ((i + k) % 26) as u8))
                    .collect()
            })
            .collect();
        let mut pushed = Strings::default();
        for s in &model {
            pushed.push(s);
        }
        assert!(pushed.wraps.len() > 4, "the text passes several steps");
        assert_eq!(pushed.iter().collect::<Vec<_>>(), model);
        for (i, s) in model.iter().enumerate() {
            assert_eq!(pushed.bytes(i as u32), s.as_bytes());
        }
        let (front, back) = model.split_at(5);
        let table = |strings: &[String]| {
            let mut t = Strings::default();
            for s in strings {
                t.push(s);
            }
            t
        };
        let (front, back) = (table(front), table(back));
        assert_eq!(Strings::concat(vec![&front, &back]), pushed);
        let mut appended = front.clone();
        appended.append(&back);
        assert_eq!(appended, pushed);
        let order: Vec<u32> = (0..model.len() as u32).rev().collect();
        let gathered = pushed.gather(&order);
        let expected: Vec<&str> = order.iter().map(|&i| &*model[i as usize]).collect();
        assert_eq!(gathered.iter().collect::<Vec<_>>(), expected);
        // Ends and wraps too, as pushing the strings in that order makes them.
        let expected: Vec<String> = expected.into_iter().map(String::from).collect();
        assert_eq!(gathered, table(&expected));
        let prefixed =
            pushed.gather_prefixed(&order, |i| crate::order::prefix(&model[order[i] as usize]));
        assert_eq!(prefixed, gathered);
        // In their own order, where ends fall exactly on steps as they were pushed.
        let own: Vec<u32> = (0..model.len() as u32).collect();
        assert_eq!(pushed.gather(&own), pushed);
        let small = table(&["ab".to_string(), String::new(), "c".to_string()]);
        assert!(small.wraps.is_empty());
        assert_eq!(
            Strings::concat(vec![&small, &small]).wraps,
            Vec::<u32>::new()
        );
    }
}
