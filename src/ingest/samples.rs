//! The samples file (采样记录): one row per person swabbed into a tube.
//!
//! Workers resolve each person against the roster and intern tube IDs, rounds and
//! sites per chunk, so a ten-million-row file becomes 32 bytes a row.

use super::header::ColumnSpec;
use super::roster::{Near, Roster};
use super::row::Row;
use super::values::{self, MAX_PERSON_ID, MAX_TUBE_ID};
use super::{Ingested, InputReport, Reject, RowParser};
use crate::buckets;
use crate::order::natural_cmp;
use crate::pieces::pieces_mut;
use crate::record::{Micros, Sample, MAX_SAMPLE_LINE, NONE};
use crate::strings::{Interner, Strings};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

const TUBE_ID: usize = 0;
const PERSON_ID: usize = 1;
const SAMPLED_AT: usize = 2;
const ROUND: usize = 3;
const SITE: usize = 4;
const COLLECTOR: usize = 5;

/// The aliases of `tube_id`, shared with the results and retests files.
pub const TUBE_ALIASES: &[&str] = &["试管编号", "试管条码", "试管码", "管码", "混管码"];

/// The samples file's columns.
pub const COLUMNS: [ColumnSpec; 6] = [
    ColumnSpec {
        name: "tube_id",
        aliases: TUBE_ALIASES,
        required: true,
    },
    ColumnSpec {
        name: "person_id",
        aliases: &["学号", "工号", "学号/工号", "人员编号"],
        required: true,
    },
    ColumnSpec {
        name: "sampled_at",
        aliases: &["采样时间", "采集时间"],
        required: true,
    },
    ColumnSpec {
        name: "round",
        aliases: &["轮次"],
        required: false,
    },
    ColumnSpec {
        name: "site",
        aliases: &["采样点", "采集地点"],
        required: false,
    },
    ColumnSpec {
        name: "collector",
        aliases: &["采样员", "采集员"],
        required: false,
    },
];

/// A chunk's interned strings. In the chunk's samples, `round` is an index here (or
/// [`NONE`] for the default round), `tube` and `site` too, and `person` is a roster
/// index or, with [`UNREGISTERED`] set, an index into `unregistered`.
#[derive(Debug, Default)]
pub struct SamplePart {
    rounds: Interner,
    /// The chunk's tube IDs, a new entry for each row whose tube is not the row
    /// before's: rows grouped by tube share one, rows by sampling time (a new tube
    /// nearly every row) are not hashed twice. The tubes are numbered when the chunks
    /// are merged (`merge_tubes`).
    tube_ids: Strings,
    sites: Interner,
    collectors: Interner,
    unregistered: Interner,
    /// Where to look for the next person first.
    near: Near,
    /// The people not found next to the last one, to look up after the pass in one
    /// batch; their rows hold [`PENDING`] and an index here.
    pending: Vec<Pending>,
    /// The IDs of pending people whose key is not the ID itself.
    texts: Strings,
    /// The earliest sampling time of the chunk's samples.
    earliest: Option<Micros>,
    /// Whether some sample of the chunk has no round.
    without_round: bool,
}

/// The bit that marks a chunk-local person index as not on the roster.
const UNREGISTERED: u32 = 1 << 31;

/// The bit that marks a chunk-local person index as a lookup still to make.
const PENDING: u32 = 1 << 30;

/// A person to look up: the ID's key (see `Roster::lookup_of`; its hash is made again
/// from it), or, for an ID whose key is not the ID, [`TEXT`] and the ID's index in the
/// chunk's `texts`.
type Pending = u64;

/// Marks a [`Pending`] key as an index into `texts` (never a packed key: those have
/// bits 61 and 62 clear).
const TEXT: u64 = 0b011 << 61;

/// Parses samples rows against a roster.
pub struct SampleParser<'a> {
    /// The roster people are looked up in.
    pub roster: &'a Roster,
}

impl RowParser for SampleParser<'_> {
    type Record = Sample;
    type Part = SamplePart;

    fn finish_part(&self, part: &mut SamplePart) {
        // Held until the chunks are merged: no spare room.
        part.tube_ids.shrink_to_fit();
    }

    fn parse(&self, row: &mut Row, part: &mut SamplePart) -> Option<Sample> {
        let tube = row.text(TUBE_ID);
        let tube_ok = row.check(TUBE_ID, values::id(&tube, MAX_TUBE_ID)).is_some();
        let person = row.text(PERSON_ID);
        let person_ok = row
            .check(PERSON_ID, values::id(&person, MAX_PERSON_ID))
            .is_some();
        let sampled_at = row.parse(SAMPLED_AT, crate::time::timestamp)?;
        if !tube_ok || !person_ok {
            return None;
        }
        let person = match self.roster.next_to(&person, &mut part.near) {
            Some(p) if p < PENDING => p,
            _ => {
                // Looked up after the pass, all chunks' people in the order of the index,
                // so that a city's lookups walk the index instead of missing the cache.
                let mut key = Roster::key_of(&person);
                if !Roster::key_is_id(key) {
                    key = TEXT | u64::from(part.texts.push(&person));
                }
                part.pending.push(key);
                (part.pending.len() - 1) as u32 | PENDING
            }
        };
        let round = row
            .cell(ROUND)
            .filter(|r| !r.is_empty())
            .map_or(NONE, |r| part.rounds.intern(&r));
        part.without_round |= round == NONE;
        part.earliest = Some(part.earliest.map_or(sampled_at, |e| e.min(sampled_at)));
        let site = row
            .cell(SITE)
            .filter(|s| !s.is_empty())
            .map_or(NONE, |s| part.sites.intern(&s));
        let collector = row
            .cell(COLLECTOR)
            .filter(|c| !c.is_empty())
            .map_or(NONE, |c| part.collectors.intern(&c));
        let line = u32::try_from(row.line())
            .ok()
            .filter(|&l| u64::from(l) <= MAX_SAMPLE_LINE);
        let Some(line) = line else {
            row.fail(
                TUBE_ID,
                "lies beyond line 4,294,967,295; split the samples file",
            );
            return None;
        };
        let count = part.tube_ids.len();
        if count == 0 {
            // Rows by sampling time bring a new tube nearly every row: a chunk of a
            // megabyte holds some 16,000, and the list is not grown from nothing
            // (what it does not fill is given back in `finish_part`).
            part.tube_ids = Strings::with_capacity(16384, 16384 * 16);
        }
        let tube = if count > 0 && part.tube_ids.get(count as u32 - 1) == tube {
            count as u32 - 1
        } else {
            part.tube_ids.push(&tube)
        };
        Some(Sample {
            round,
            tube,
            person,
            site,
            collector,
            sampled_at,
            line,
        })
    }
}

/// Every accepted sample with the tables its indexes point into.
#[derive(Clone, Debug, Default)]
pub struct SampleSet {
    /// Samples in file order; `round`, `tube`, `site` index the tables below.
    pub samples: Vec<Sample>,
    /// Round labels in natural order.
    pub rounds: Vec<Box<str>>,
    /// Tube IDs, in order of first appearance.
    pub tubes: Interner,
    /// Sites.
    pub sites: Vec<Box<str>>,
    /// Collectors (采样员).
    pub collectors: Vec<Box<str>>,
    /// IDs of people not on the roster; person key `roster_len + i`.
    pub unregistered: Vec<Box<str>>,
    /// The label given to samples without a round.
    pub default_round: String,
}

/// Merges the parsed chunks: gives every string a run-wide index, labels rows without
/// a round with `round` or else the date of the earliest sample (or of `today`, when
/// there is none), and sorts the rounds. The strings are merged in chunk order; the
/// rows are rewritten with the run-wide indexes on the workers.
pub fn finish(
    ingested: Ingested<Sample, SamplePart>,
    roster: &Roster,
    round: Option<&str>,
    today: Micros,
) -> (SampleSet, InputReport, Vec<Reject>) {
    let roster_len = roster.len() as u32;
    let mut parts = ingested.parts;
    // The chunks' own lists of tubes (in a file by sampling time, a tube ID a row) are
    // freed as they are merged, before the people are looked up and the rows copied.
    let (tubes, tube_maps) = merge_tubes(
        parts
            .iter_mut()
            .map(|p| std::mem::take(&mut p.state.tube_ids))
            .collect(),
    );
    let (found, starts) = look_up(roster, &mut parts);
    // Each chunk's answers.
    let found: Vec<&[u32]> = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&found.len()]))
        .map(|(&start, &end)| &found[start..end])
        .collect();
    let earliest = parts.iter().filter_map(|p| p.state.earliest).min();
    let default_round = match round {
        Some(r) => r.to_string(),
        None => crate::time::local_date(earliest.unwrap_or(today)),
    };
    let counts: Vec<usize> = parts.iter().map(|p| p.rows.len()).collect();
    let total: usize = counts.iter().sum();
    let mut tube_maps = tube_maps.into_iter();
    let (mut rounds, mut sites, mut collectors, mut unregistered) = (
        Interner::default(),
        Interner::default(),
        Interner::default(),
        Interner::default(),
    );
    let map = |local: &Interner, global: &mut Interner| -> Vec<u32> {
        local.iter().map(|n| global.intern(n)).collect()
    };
    let maps: Vec<PartMaps> = parts
        .iter()
        .map(|part| PartMaps {
            round: map(&part.state.rounds, &mut rounds),
            tube: tube_maps.next().unwrap_or_default(),
            site: map(&part.state.sites, &mut sites),
            collector: map(&part.state.collectors, &mut collectors),
            person: map(&part.state.unregistered, &mut unregistered),
        })
        .collect();
    // Rounds in natural order: those some row names, the default round when some row
    // has no round (or there is no sample at all).
    let default_used = total == 0 || parts.iter().any(|p| p.state.without_round);
    let default_index = rounds.intern(&default_round);
    let names = rounds.into_names();
    let mut used = vec![false; names.len()];
    used[default_index as usize] = default_used;
    for m in &maps {
        for &r in &m.round {
            used[r as usize] = true;
        }
    }
    let mut order: Vec<u32> = (0..names.len() as u32)
        .filter(|&i| used[i as usize])
        .collect();
    order.sort_by(|&a, &b| natural_cmp(&names[a as usize], &names[b as usize]));
    let mut rank = vec![NONE; names.len()];
    for (new, &old) in order.iter().enumerate() {
        rank[old as usize] = new as u32;
    }
    let mut samples: Vec<Sample> = Vec::with_capacity(total);
    pieces_mut(&mut samples.spare_capacity_mut()[..total], &counts)
        .into_par_iter()
        .zip(parts)
        .zip(maps)
        .zip(found)
        .for_each(|(((out, part), m), found)| {
            for (o, s) in out.iter_mut().zip(part.rows) {
                o.write(Sample {
                    round: rank[if s.round == NONE {
                        default_index
                    } else {
                        m.round[s.round as usize]
                    } as usize],
                    tube: m.tube[s.tube as usize],
                    site: if s.site == NONE {
                        NONE
                    } else {
                        m.site[s.site as usize]
                    },
                    collector: if s.collector == NONE {
                        NONE
                    } else {
                        m.collector[s.collector as usize]
                    },
                    person: {
                        let person = if s.person & PENDING != 0 {
                            found[(s.person & !PENDING) as usize]
                        } else {
                            s.person
                        };
                        if person & UNREGISTERED != 0 {
                            roster_len + m.person[(person & !UNREGISTERED) as usize]
                        } else {
                            person
                        }
                    },
                    ..s
                });
            }
        });
    // SAFETY: the pieces cover the first `total` slots, and each piece holds as many
    // slots as its chunk has rows, every one of which was written above.
    unsafe { samples.set_len(total) };
    let set = SampleSet {
        samples,
        rounds: order.iter().map(|&i| names[i as usize].clone()).collect(),
        tubes,
        sites: sites.into_names(),
        collectors: collectors.into_names(),
        unregistered: unregistered.into_names(),
        default_round,
    };
    (set, ingested.report, ingested.rejects)
}

/// The chunks' tubes numbered run-wide in order of first appearance, and each chunk's
/// map from its own numbers to those. When neighbouring chunks share their tubes (rows
/// by tube, or by sampling time: a tube's swabs lie a few chunks apart), groups of them,
/// one or more a worker and at most 64 chunks each, are merged first, each in a table
/// that stays small; the groups' tubes are then numbered run-wide by
/// [`number_distinct`], on every worker. When they do not (rows in no order bring
/// nearly every tube in every stretch of rows), the chunks' tubes are numbered so
/// directly. The numbers do not depend on the grouping.
fn merge_tubes(lists: Vec<Strings>) -> (Interner, Vec<Vec<u32>>) {
    if !shared_by_neighbours(&lists) {
        return number_distinct(lists);
    }
    let group = lists
        .len()
        .div_ceil(rayon::current_num_threads())
        .clamp(1, 64);
    let (merged, maps): (Vec<Interner>, Vec<Vec<Vec<u32>>>) = lists
        .par_chunks(group)
        .map(|group| {
            let mut merged = Interner::default();
            let maps: Vec<Vec<u32>> = group
                .iter()
                .map(|tubes| tubes.iter().map(|t| merged.intern(t)).collect())
                .collect();
            (merged, maps)
        })
        .unzip();
    drop(lists);
    let (tubes, run_wide) =
        number_distinct(merged.into_iter().map(Interner::into_strings).collect());
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
fn shared_by_neighbours(lists: &[Strings]) -> bool {
    let mut seen = Interner::default();
    let mut count = 0;
    for list in lists.iter().take(16) {
        for t in list.iter() {
            seen.intern(t);
        }
        count += list.len();
        if count >= 1 << 16 {
            break;
        }
    }
    seen.len() * 2 <= count
}

/// The strings of `lists` numbered in order of first appearance (the lists one after
/// the other), and each list's map from its places to those numbers. The strings are
/// split by hash into [`SPLITS`] sets, each interned on one worker, which reads the
/// lists in order; they are then numbered by where each first appears. The cost does
/// not depend on how often a string comes back, nor where.
fn number_distinct(lists: Vec<Strings>) -> (Interner, Vec<Vec<u32>>) {
    let split_of = |tube: &str| (Interner::hash_of(tube) >> 40) as usize % SPLITS;
    // Each list's strings by split: the split of each, their places in the list split
    // by split (split 0's first), how many each split has, and the strings themselves
    // in that order (the list is freed), so that each split reads its strings from one
    // stretch of each list instead of from all over it.
    let mut by_split: Vec<SplitList> = lists
        .into_par_iter()
        .map(|tubes| {
            let split: Vec<u8> = tubes.iter().map(|t| split_of(t) as u8).collect();
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
            let ids = tubes.gather(&order);
            SplitList {
                split,
                order,
                counts,
                ids,
            }
        })
        .collect();
    // Each split's strings interned list by list, with where each first appears (list
    // and place, in one number that orders as the lists do). Each list's map holds,
    // meanwhile, the number of each of its strings in its split.
    let maps: Vec<Vec<AtomicU32>> = by_split
        .par_iter()
        .map(|l| (0..l.split.len()).map(|_| AtomicU32::new(0)).collect())
        .collect();
    let splits: Vec<(Interner, Vec<u64>)> = (0..SPLITS)
        .into_par_iter()
        .map(|s| {
            let mut tubes = Interner::default();
            let mut first = Vec::new();
            for (c, (list, map)) in by_split.iter().zip(&maps).enumerate() {
                let start: usize = list.counts[..s].iter().sum();
                for (k, &j) in (start..).zip(&list.order[start..start + list.counts[s]]) {
                    let tube = list.ids.get(k as u32);
                    let (n, new) = tubes.intern_hashed(tube, Interner::hash_of(tube));
                    if new {
                        first.push((c as u64) << 32 | u64::from(j));
                    }
                    map[j as usize].store(n, Ordering::Relaxed);
                }
            }
            (tubes, first)
        })
        .collect();
    for list in &mut by_split {
        list.order = Vec::new();
        list.ids = Strings::default();
    }
    // Run-wide numbers by first appearance.
    let mut firsts: Vec<(u64, u32, u32)> = splits
        .iter()
        .enumerate()
        .flat_map(|(s, (_, first))| {
            first
                .iter()
                .enumerate()
                .map(move |(n, &at)| (at, s as u32, n as u32))
        })
        .collect();
    firsts.par_sort_unstable_by_key(|&(at, _, _)| at);
    let mut run_wide: Vec<Vec<u32>> = splits.iter().map(|(t, _)| vec![0; t.len()]).collect();
    for (g, &(_, s, n)) in firsts.iter().enumerate() {
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
    let mut names =
        Strings::with_capacity(firsts.len(), splits.iter().map(|(t, _)| t.text_len()).sum());
    for &(_, s, n) in &firsts {
        names.push(splits[s as usize].0.name(n));
    }
    (Interner::of_distinct(names), maps)
}

/// A list's strings in [`number_distinct`], split by hash.
struct SplitList {
    /// The split of each string, by place in the list.
    split: Vec<u8>,
    /// The places in the list, split by split (split 0's first).
    order: Vec<u32>,
    /// How many strings each split has.
    counts: [usize; SPLITS],
    /// The strings in `order`.
    ids: Strings,
}

/// How many sets [`number_distinct`] splits the strings in: a few for each worker, so
/// that the workers share the work evenly, while each set's table stays small (64 or
/// 256 sets were slower at ten million tubes in no order).
const SPLITS: usize = 16;

/// Looks up every chunk's pending people (see [`Pending`]) in one batch, shard by shard
/// of the roster's index; returns each pending person's roster index, or
/// [`UNREGISTERED`] and their index in the chunk's `unregistered` (interned here, in row
/// order, as they would have been during the pass), the chunks' people one after the
/// other, and where each chunk's begin. A city's batch is ten million lookups: besides
/// the pending people (8 bytes each), it holds 12 bytes a lookup to order them (and 1
/// for the shard each probes, while they are ordered) and 4 for the answer.
fn look_up(
    roster: &Roster,
    parts: &mut [super::Part<Sample, SamplePart>],
) -> (Vec<u32>, Vec<usize>) {
    let starts: Vec<usize> = parts
        .iter()
        .scan(0, |at, part| {
            let start = *at;
            *at += part.state.pending.len();
            Some(start)
        })
        .collect();
    let total = starts
        .last()
        .map_or(0, |s| s + parts[parts.len() - 1].state.pending.len());
    // A lookup's number fits its 32 bits: a samples file has at most 2^32 lines.
    debug_assert!(u32::try_from(total).is_ok());
    // The pending people, one after the other, taken from their chunks (copied into
    // place on the workers: a city's file by sampling time has ten million).
    let counts: Vec<usize> = parts.iter().map(|p| p.state.pending.len()).collect();
    let mut keys: Vec<Pending> = vec![0; total];
    pieces_mut(&mut keys, &counts)
        .into_par_iter()
        .zip(parts.par_iter_mut())
        .for_each(|(keys, part)| keys.copy_from_slice(&std::mem::take(&mut part.state.pending)));
    // The ID of lookup `at` when its key is not the ID, found in its chunk's texts.
    let id_of = |at: usize, key: Pending| -> Option<&str> {
        if key & TEXT != TEXT {
            return None;
        }
        text(&parts[starts.partition_point(|&s| s <= at) - 1].state, key)
    };
    // The shard of the index each lookup probes.
    let shard: Vec<u8> = keys
        .par_iter()
        .enumerate()
        .map(|(at, &key)| {
            let hash = match id_of(at, key) {
                Some(id) => Roster::lookup_of(id).0,
                None => Roster::hash_of_key(key),
            };
            Roster::shard_of(hash)
        })
        .collect();
    // The lookups by shard: a counting sort, whose cost does not depend on the file's
    // order, gives each shard its lookups together, and a shard of a city's index (some
    // 40,000 people, half a megabyte) stays in a core's cache while they are made. Each
    // lookup carries its key, so that the lookups, made in this order, read nothing
    // else that lies far apart. (Sorting by the place in the shard too, 65,536 buckets
    // instead of 256, cost more in the sort than it saved in the lookups.)
    let order = buckets::sort_into(
        total,
        1 << 8,
        |at| u32::from(shard[at]),
        |at| Lookup {
            at: at as u32,
            key: [keys[at] as u32, (keys[at] >> 32) as u32],
        },
    );
    drop(shard);
    let found: Vec<AtomicU32> = (0..total)
        .into_par_iter()
        .map(|_| AtomicU32::new(NONE))
        .collect();
    order.par_iter().for_each(|lookup| {
        let key = u64::from(lookup.key[0]) | u64::from(lookup.key[1]) << 32;
        let person = match id_of(lookup.at as usize, key) {
            Some(id) => roster.find_text(Roster::lookup_of(id).0, id),
            None => roster.find_keyed(Roster::hash_of_key(key), key, None),
        };
        found[lookup.at as usize].store(person.unwrap_or(NONE), Ordering::Relaxed);
    });
    drop(order);
    let mut found: Vec<u32> = found.into_iter().map(AtomicU32::into_inner).collect();
    // People not on the roster, in row order.
    let mut slices = Vec::with_capacity(parts.len());
    let mut rest = &mut found[..];
    let mut at = 0;
    for &end in starts.iter().skip(1).chain([&total]) {
        let (mine, others) = rest.split_at_mut(end - at);
        slices.push((mine, &keys[at..end]));
        rest = others;
        at = end;
    }
    parts
        .par_iter_mut()
        .zip(slices)
        .for_each(|(part, (found, keys))| {
            let state = &mut part.state;
            for (f, &key) in found.iter_mut().zip(keys) {
                if *f == NONE {
                    let id = match text(state, key) {
                        Some(id) => id.to_string(),
                        None => Roster::id_of_key(key),
                    };
                    *f = state.unregistered.intern(&id) | UNREGISTERED;
                }
            }
            state.texts = Strings::default();
        });
    (found, starts)
}

/// A pending person's lookup: its number in the batch and its key, in 12 bytes.
struct Lookup {
    at: u32,
    key: [u32; 2],
}

/// The ID of a pending person whose key is not the ID itself.
fn text(part: &SamplePart, key: u64) -> Option<&str> {
    (key & TEXT == TEXT).then(|| part.texts.get((key & !TEXT) as u32))
}

/// One chunk's local string indexes mapped to run-wide ones.
struct PartMaps {
    round: Vec<u32>,
    tube: Vec<u32>,
    site: Vec<u32>,
    collector: Vec<u32>,
    person: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tubes_merged_by_groups_are_numbered_as_one_by_one() {
        // More chunks than a group holds, some chunks without tubes; each tube in a few
        // neighbouring chunks (merged by groups first), or anywhere (numbered directly).
        for neighbours in [true, false] {
            let mut x = 11u64;
            // Each chunk's list of tubes.
            let lists: Vec<Strings> = (0..300)
                .map(|c| {
                    // A chunk lists a tube again when another came between (and
                    // sometimes twice in a row).
                    let mut tubes = Strings::default();
                    for _ in 0..(c * 13) % 90 {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let tube = if neighbours {
                            c as u64 * 2 + (x >> 33) % 20
                        } else {
                            (x >> 33) % 20_000
                        };
                        tubes.push(&format!("2203{tube:010}"));
                    }
                    tubes
                })
                .collect();
            assert_eq!(shared_by_neighbours(&lists), neighbours);
            let mut one_by_one = Interner::default();
            let expected: Vec<Vec<u32>> = lists
                .iter()
                .map(|tubes| tubes.iter().map(|t| one_by_one.intern(t)).collect())
                .collect();
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
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (tubes, maps) = pool.install(|| merge_tubes(lists[..chunks].to_vec()));
                // Numbered by first appearance, the first chunks' tubes come first.
                let seen = expected[..chunks]
                    .iter()
                    .flatten()
                    .max()
                    .map_or(0, |&n| n + 1);
                let case = format!("{threads} threads, {chunks} chunks, {neighbours}");
                assert_eq!(
                    tubes.iter().collect::<Vec<_>>(),
                    one_by_one.iter().take(seen as usize).collect::<Vec<_>>(),
                    "{case}"
                );
                assert_eq!(maps, expected[..chunks], "{case}");
                for (n, t) in tubes.iter().enumerate() {
                    assert_eq!(tubes.get(t), Some(n as u32), "{case}");
                }
            }
        }
    }
}
