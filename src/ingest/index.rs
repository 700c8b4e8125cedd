//! The roster's ID index: each person under their ID's key ([`keys::pack`], or a
//! [`keys::fingerprint`]), in shards by hash, each an array of slots probed one after
//! another from where the hash points (open addressing, linear probing). A lookup reads
//! one cache line or two, whose address is known from the hash alone, so a batch of
//! lookups can ask the memory for the next ones' lines while it makes one
//! ([`Index::prefetch`]): a city's index is too large for any cache, and lookups in no
//! order would each wait for the memory otherwise.

use super::keys;
use crate::buckets::prefetch;
use crate::strings::{same_bytes, Strings};
use rayon::prelude::*;

/// A slot: a person and their ID's key, packed to 12 bytes (a city's index holds ten
/// million). Empty when `person` is [`EMPTY`].
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Slot {
    key: u64,
    person: u32,
}

/// The person of an empty slot: no roster reaches 2^32 - 1 people (it would have more
/// lines than a roster may have).
const EMPTY: u32 = u32::MAX;

/// The most shards the index is split in, by hash, built in parallel; a shard's number
/// fits in a byte.
const MAX_SHARDS: usize = 256;

/// The people a shard holds at most unless there are [`MAX_SHARDS`] of them: its table
/// (64 Ki slots of 12 bytes) then stays in a core's cache while it is built. The unit
/// tests take 1,024, so that a roster of 300,000 people fills every shard.
#[cfg(not(test))]
const SHARD_PEOPLE: usize = 48 << 10;
#[cfg(test)]
const SHARD_PEOPLE: usize = 1 << 10;

/// A table's slots for every three people it holds: filled to three quarters at most,
/// a lookup of someone it holds probes 2.5 slots on average (most of them in one cache
/// line), one of someone it does not 8.5.
const SLOTS_PER_THREE: usize = 4;

/// One shard: a table of slots, at least one of them empty, so that every probe ends.
#[derive(Default)]
struct Table {
    slots: Box<[Slot]>,
}

impl Table {
    /// An empty table for `people` people.
    fn for_people(people: usize) -> Table {
        let len = (people * SLOTS_PER_THREE).div_ceil(3) + 1;
        Table {
            slots: vec![
                Slot {
                    key: 0,
                    person: EMPTY
                };
                len
            ]
            .into_boxed_slice(),
        }
    }

    /// Where the probe for `hash` starts: its low 32 bits scaled to the table (the
    /// shard is picked by higher bits).
    fn home(&self, hash: u64) -> usize {
        (((hash & 0xffff_ffff) * self.slots.len() as u64) >> 32) as usize
    }

    /// The first person from the slot of `hash` on whose slot `same` accepts (by key
    /// and person), up to the first empty slot.
    fn find(&self, hash: u64, mut same: impl FnMut(u64, u32) -> bool) -> Option<u32> {
        let len = self.slots.len();
        let mut at = self.home(hash);
        loop {
            let Slot { key, person } = self.slots[at];
            if person == EMPTY {
                return None;
            }
            if same(key, person) {
                return Some(person);
            }
            at += 1;
            if at == len {
                at = 0;
            }
        }
    }

    /// Puts `person` under `key` unless a person whose slot `same` accepts is there
    /// already; returns that person then. The caller sizes the table
    /// ([`Table::for_people`]): an empty slot is always found.
    fn insert(
        &mut self,
        hash: u64,
        key: u64,
        person: u32,
        mut same: impl FnMut(u64, u32) -> bool,
    ) -> Option<u32> {
        let len = self.slots.len();
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot.person == EMPTY {
                self.slots[at] = Slot { key, person };
                return None;
            }
            if same(slot.key, slot.person) {
                return Some(slot.person);
            }
            at += 1;
            if at == len {
                at = 0;
            }
        }
    }
}

/// The roster's ID index (see the module's documentation).
#[derive(Default)]
pub struct Index {
    shards: Vec<Table>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("shards", &self.shards.len())
            .field("slots", &self.slots())
            .finish()
    }
}

/// Middle bits pick the shard, one of `shards`; the low 32 pick the slot in it.
fn shard(hash: u64, shards: usize) -> usize {
    ((((hash >> 32) & 0xff_ffff) * shards as u64) >> 24) as usize
}

impl Index {
    /// Indexes `ids` by key ([`super::roster::Roster::key_of`]); returns the index
    /// and, for every later duplicate, its position and that of the first. Keys are
    /// computed and sorted by shard block by block, reading the IDs in file order, so
    /// that each shard is then built from its own keys and positions into a table small
    /// enough to stay in cache; only IDs whose fingerprints match are read again there.
    pub fn build(ids: &Strings, key_of: impl Fn(&str) -> u64 + Sync) -> (Index, Vec<(u32, u32)>) {
        const BLOCK: usize = 1 << 18;
        let shards = ids.len().div_ceil(SHARD_PEOPLE).clamp(1, MAX_SHARDS);
        // Each block's people by shard, in file order, as the slots they will fill (12
        // bytes a person, not a tuple's 16: a city's are held with the tables they fill).
        let blocks: Vec<Vec<Vec<Slot>>> = (0..ids.len().div_ceil(BLOCK))
            .into_par_iter()
            .map(|b| {
                let end = ((b + 1) * BLOCK).min(ids.len());
                let mut by_shard: Vec<Vec<Slot>> = (0..shards)
                    .map(|_| Vec::with_capacity((end - b * BLOCK) / shards * 2))
                    .collect();
                for i in (b * BLOCK..end).map(|i| i as u32) {
                    let key = key_of(ids.get(i));
                    by_shard[shard(keys::hash_packed(key), shards)].push(Slot { key, person: i });
                }
                by_shard
            })
            .collect();
        let built: Vec<(Table, Vec<(u32, u32)>)> = (0..shards)
            .into_par_iter()
            .map(|s| {
                let count = blocks.iter().map(|b| b[s].len()).sum();
                let mut table = Table::for_people(count);
                let mut duplicates = Vec::new();
                for &Slot { key, person: i } in blocks.iter().flat_map(|b| &b[s]) {
                    let same = |k: u64, j: u32| {
                        k == key && (!keys::is_text(key) || same_bytes(ids.bytes(j), ids.bytes(i)))
                    };
                    if let Some(first) = table.insert(keys::hash_packed(key), key, i, same) {
                        duplicates.push((i, first));
                    }
                }
                (table, duplicates)
            })
            .collect();
        let mut duplicates: Vec<(u32, u32)> =
            built.iter().flat_map(|b| b.1.iter().copied()).collect();
        duplicates.sort_unstable();
        let shards = built.into_iter().map(|b| b.0).collect();
        (Index { shards }, duplicates)
    }

    /// Whether the index was freed (or never built).
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// The first person indexed under `key` whom `same` accepts (given the person).
    pub fn find(&self, key: u64, mut same: impl FnMut(u32) -> bool) -> Option<u32> {
        let hash = keys::hash_packed(key);
        self.shards[shard(hash, self.shards.len())].find(hash, |k, p| k == key && same(p))
    }

    /// Asks the memory for the slot where a lookup of `key` starts, without waiting.
    pub fn prefetch(&self, key: u64) {
        let hash = keys::hash_packed(key);
        let table = &self.shards[shard(hash, self.shards.len())];
        prefetch(&table.slots[table.home(hash)]);
    }

    /// Gives every person indexed the number `new_of_old` maps theirs to.
    pub fn renumber(&mut self, new_of_old: &[u32]) {
        self.shards.par_iter_mut().for_each(|table| {
            for slot in table.slots.iter_mut().filter(|s| s.person != EMPTY) {
                slot.person = new_of_old[slot.person as usize];
            }
        });
    }

    /// How many slots the tables have, filled or not.
    fn slots(&self) -> usize {
        self.shards.iter().map(|t| t.slots.len()).sum()
    }

    /// How many people the index holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        let filled = |t: &Table| t.slots.iter().filter(|s| s.person != EMPTY).count();
        self.shards.iter().map(filled).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::roster::Roster;

    /// The index of `ids`, looked up by text: the first person with that ID.
    fn lookup(index: &Index, ids: &Strings, text: &str) -> Option<u32> {
        let key = Roster::key_of(text);
        index.find(key, |j| {
            !keys::is_text(key) || same_bytes(ids.bytes(j), text.as_bytes())
        })
    }

    #[test]
    fn finds_the_first_of_every_id_and_lists_the_later_duplicates() {
        // More than one block; packed IDs (digits, codes, resident ID numbers) and IDs
        // kept as text (whose fingerprints of 16 bits in the unit tests are shared by
        // many) mixed, repeats far apart.
        let n = 400_000u32;
        let id = |i: u32| match i % 4 {
            0 => format!("{}", (i / 4) % 90_000),
            1 => format!("S{}", (i / 4) % 90_000),
            2 => format!("student-{:07}", (i / 4) % 90_000),
            _ => format!("{:017}X", i),
        };
        assert_eq!(keys::pack(&id(2)), keys::UNPACKED);
        assert_ne!(keys::pack(&id(1)), keys::UNPACKED);
        let mut ids = Strings::default();
        for i in 0..n {
            ids.push(&id(i));
        }
        let (index, duplicates) = Index::build(&ids, Roster::key_of);
        let mut first = std::collections::HashMap::new();
        let mut expected = Vec::new();
        for i in 0..n {
            match first.entry(id(i)) {
                std::collections::hash_map::Entry::Occupied(f) => expected.push((i, *f.get())),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i);
                }
            }
        }
        assert!(!expected.is_empty());
        assert_eq!(duplicates, expected);
        assert_eq!(index.len(), first.len());
        for (text, &i) in &first {
            assert_eq!(lookup(&index, &ids, text), Some(i), "{text}");
            // Asking the memory ahead changes nothing.
            index.prefetch(Roster::key_of(text));
        }
        assert_eq!(lookup(&index, &ids, "S999999"), None);
        assert_eq!(lookup(&index, &ids, "student-0999999"), None);
        assert_eq!(lookup(&index, &ids, "123456789"), None);
    }

    #[test]
    fn tables_are_filled_to_three_quarters_whatever_the_roster_size() {
        // No one, one person, a shard's worth and one more, and past the most shards.
        for n in [0u32, 1, SHARD_PEOPLE as u32 + 1, 300_000] {
            let mut ids = Strings::default();
            for i in 0..n {
                ids.push(&(1_000_000_000 + u64::from(i) * 7919).to_string());
            }
            let (mut index, duplicates) = Index::build(&ids, Roster::key_of);
            assert!(duplicates.is_empty());
            assert!(index.shards.len() <= MAX_SHARDS);
            assert_eq!(index.len(), n as usize);
            let shards = index.shards.len();
            assert!(
                index.slots() <= n as usize * 4 / 3 + 2 * shards,
                "{n} people, {} slots",
                index.slots()
            );
            assert!(index.shards.iter().all(|t| !t.slots.is_empty()));
            // Renumbered people are found under their new numbers.
            let new_of_old: Vec<u32> = (0..n).rev().collect();
            index.renumber(&new_of_old);
            for i in (0..n).step_by(9973) {
                let text = ids.get(i).to_string();
                assert_eq!(lookup(&index, &ids, &text), Some(n - 1 - i), "{text}");
            }
        }
    }
}
