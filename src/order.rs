//! The orders of output rows. Buildings, rooms and rounds sort in natural order, so
//! `公寓2` comes before `公寓10`.

use crate::buckets::{sort_by_low_bits, sort_into_counted};
use crate::ingest::roster::Roster;
use crate::pieces::pieces_mut;
use crate::record::NONE;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Compares two strings in natural order: runs of ASCII digits compare by their
/// numeric value, everything else by Unicode scalar value. Ties (such as `01` and `1`)
/// fall back to plain byte order so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
            let si = i;
            while i < x.len() && x[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < y.len() && y[j].is_ascii_digit() {
                j += 1;
            }
            let da = trim_zeros(&x[si..i]);
            let db = trim_zeros(&y[sj..j]);
            let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            // Compare one UTF-8 character at a time; byte order of UTF-8 is scalar order.
            let la = utf8_len(x[i]);
            let lb = utf8_len(y[j]);
            let ord = x[i..(i + la).min(x.len())].cmp(&y[j..(j + lb).min(y.len())]);
            if ord != Ordering::Equal {
                return ord;
            }
            i += la;
            j += lb;
        }
    }
    (x.len() - i.min(x.len()))
        .cmp(&(y.len() - j.min(y.len())))
        .then_with(|| x.cmp(y))
}

/// The order the lists show two people in, within a round: building, room (both in
/// natural order, people without a room last), then the person_id as `shown` gives it
/// (with `--pseudonymize` the pseudonym, or its number, which sorts as its hex
/// digits); people not on the roster (`p` past its end) after those on it, by the
/// person_id shown. The roster numbers its people in building,
/// room and person_id order, so only roommates need their IDs compared.
pub fn listed_cmp<K: Ord>(roster: &Roster, shown: &dyn Fn(u32) -> K, p: u32, q: u32) -> Ordering {
    let n = roster.len() as u32;
    let roommates = |p: usize, q: usize| {
        roster.building.get(p) == roster.building.get(q) && roster.room.get(p) == roster.room.get(q)
    };
    match (p < n, q < n) {
        (true, true) if !roommates(p as usize, q as usize) => p.cmp(&q),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => shown(p).cmp(&shown(q)),
    }
}

/// Sorts `list` by `group` (the round; for the retest list, the round then the
/// action), then its people (`person`) as [`listed_cmp`] orders them, ties between
/// equal person_ids shown (masked IDs can be) by roster place. The roster numbers its
/// people in building, room and person_id order, and people not on the roster come
/// after them: sorted by `(group, person)`, which takes no look at the roster, the list
/// only needs each run of roommates (and the people not on the roster) of a group put
/// in the order of the IDs shown: a few rows each, but a building's people without a
/// room are one run, sorted on the workers when long. A city's retest list in an
/// outbreak is a million people, its missing list at midday five million.
pub fn sort_listed<T: Send, G: Ord + Send, K: Ord>(
    list: &mut [T],
    roster: &Roster,
    shown: &(dyn Fn(u32) -> K + Sync),
    group: impl Fn(&T) -> G + Sync,
    person: impl Fn(&T) -> u32 + Sync,
) {
    list.par_sort_unstable_by(|a, b| (group(a), person(a)).cmp(&(group(b), person(b))));
    let n = roster.len() as u32;
    let place = |p: u32| {
        (p < n).then(|| {
            let p = p as usize;
            (roster.building.get(p), roster.room.get(p))
        })
    };
    list.par_chunk_by_mut(|a, b| group(a) == group(b) && place(person(a)) == place(person(b)))
        .for_each(|run| {
            let by_shown = |a: &T, b: &T| {
                let (p, q) = (person(a), person(b));
                shown(p).cmp(&shown(q)).then(p.cmp(&q))
            };
            match run.len() {
                0 | 1 => {}
                2..=LONG_RUN => run.sort_by(by_shown),
                _ => run.par_sort_by(by_shown),
            }
        });
}

/// The longest run of [`sort_listed`] sorted on one thread.
const LONG_RUN: usize = 4096;

/// Roster people by building (natural order), then group (`group(p)`, below
/// `groups`), room (natural order, rooms missing last) and person_id (or the pseudonym,
/// when given); people whose `group` is `None` are left out.
pub fn roster_order(
    roster: &Roster,
    groups: u32,
    group: impl Fn(u32) -> Option<u32> + Sync,
    pseudonyms: Option<&[u64]>,
) -> Vec<u32> {
    let placed = roster_places(roster, Ranks::of_read(roster), groups, group, pseudonyms);
    placed.places.into_par_iter().map(|p| p.person).collect()
}

/// The rank of each of the roster's buildings and rooms in natural order, computed
/// once for a roster and shared by [`in_roster_order`] and [`roster_places`] (a city's
/// rooms may number millions).
pub struct Ranks {
    /// Each building's rank.
    pub building: Vec<u32>,
    /// Each room's rank.
    pub room: Vec<u32>,
}

impl Ranks {
    /// The ranks of `roster`'s buildings and rooms.
    pub fn of(roster: &Roster) -> Ranks {
        Ranks {
            building: natural_ranks(&roster.buildings),
            room: natural_ranks(&roster.rooms),
        }
    }

    /// The ranks of a roster once read: its buildings' as it keeps them
    /// ([`Roster::building_rank`], a million names not sorted again), its rooms' worked
    /// out again.
    fn of_read(roster: &Roster) -> Ranks {
        debug_assert_eq!(roster.building_rank.len(), roster.buildings.len());
        Ranks {
            building: roster.building_rank.clone(),
            room: natural_ranks(&roster.rooms),
        }
    }
}

/// A person in [`roster_order`], with what ordered them within their building and
/// group: the room's rank (`u32::MAX` without a room), then the person_id's first 16
/// bytes as [`prefix`] gives them (or the pseudonym, then 0).
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// The person's building's rank × `groups` + their group; past every building's
    /// for people left out.
    pub bucket: u32,
    /// The room's rank among the roster's rooms in natural order, `u32::MAX` for none.
    pub room: u32,
    /// The person.
    pub person: u32,
    /// The first 16 bytes of the person_id, or the pseudonym and 0.
    pub id: [u64; 2],
}

/// The people of [`roster_order`], each with their [`Place`]; how many of them each
/// building and group holds (building rank × `groups` + group); and the ranks the order
/// was made of. A caller that moves every person's values into this order can take a
/// building, a room and a short ID from here instead of reading them where the person
/// was.
pub struct Placed {
    /// The people in order.
    pub places: Vec<Place>,
    /// How many people each building and group holds, in order.
    pub counts: Vec<usize>,
    /// The ranks the order was made of.
    pub ranks: Ranks,
}

/// [`roster_places`] counts people out into at most `2^STRETCH_BITS` stretches of
/// buckets first.
const STRETCH_BITS: u32 = 8;

/// [`roster_places`] tells whether people come in runs of their bucket by this many
/// pairs of neighbours.
const RUN_PAIRS: usize = 4096;

/// The bits by which [`roster_places`] puts each stretch of its `buckets` in order, in
/// its second pass; 0 for one pass, straight into the buckets. People listed in runs of
/// their bucket (a roster by building but not by room, or by IDs given out building by
/// building) are counted so, each run written in one place, where a second pass would
/// only cost (0.27 → 0.32 s on such a roster of 10 M): told by [`RUN_PAIRS`] pairs of
/// neighbours (`bucket` of `0..n`) spread over the roster, fewer than one in eight
/// apart.
fn stretch_shift(n: usize, buckets: usize, bucket: impl Fn(usize) -> u32) -> u32 {
    let pairs = n.saturating_sub(1).min(RUN_PAIRS);
    let apart = (0..pairs)
        .filter(|&k| {
            let p = k * (n - 1) / pairs;
            bucket(p) != bucket(p + 1)
        })
        .count();
    match 8 * apart < pairs {
        true => 0,
        false => buckets
            .next_power_of_two()
            .trailing_zeros()
            .saturating_sub(STRETCH_BITS),
    }
}

/// [`roster_order`] with each person's [`Place`] (see [`Placed`]).
///
/// The cost does not depend on the roster's row order. A comparison sort reading the
/// IDs in place would read two of them, scattered over a city's roster, for every
/// comparison unless the rows come in building order; here a counting sort groups
/// people by building and group, each carrying what orders them within it (read in
/// roster order, the ID's first 16 bytes among it), and each group is then sorted on
/// its own.
pub fn roster_places(
    roster: &Roster,
    ranks: Ranks,
    groups: u32,
    group: impl Fn(u32) -> Option<u32> + Sync,
    pseudonyms: Option<&[u64]>,
) -> Placed {
    let (building_rank, room_rank) = (&ranks.building, &ranks.room);
    let groups = groups.max(1) as usize;
    // Buildings by rank, each split in its groups, then the people left out.
    let left_out = building_rank.len() * groups;
    let bucket = |p: usize| match group(p as u32) {
        Some(g) => {
            (building_rank[roster.building.get(p) as usize] as usize * groups + g as usize) as u32
        }
        None => left_out as u32,
    };
    // Each person's bucket and room rank, looked up side by side before the counting
    // sort: in a roster in no order each is a read at random, in a table of a million
    // households' ranks or of millions of rooms' (rooms named after their building),
    // which the sort's loops made (the bucket twice) each waiting on it. At 10 M
    // people in no order the counting took 0.3–0.6 s, and 0.15–0.3 s so.
    let buckets: Vec<[u32; 2]> = (0..roster.len())
        .into_par_iter()
        .map(|p| [bucket(p), room_of(roster, room_rank, p)])
        .collect();
    let bucket = |p: usize| buckets[p][0];
    let place = |p: usize| {
        let id = match pseudonyms {
            Some(ps) => [ps[p], 0],
            None => prefix(roster.id(p as u32)),
        };
        Place {
            bucket: bucket(p),
            room: buckets[p][1],
            person: p as u32,
            id,
        }
    };
    // Counted out by their buckets' high bits first, into at most 256 stretches: a
    // counting sort straight to a million households' buckets scattered its writes over
    // the whole table (0.6–0.9 s at 10 M people in no order). Each stretch is then put
    // in order of its buckets and each bucket sorted, in a core's cache.
    let shift = stretch_shift(roster.len(), left_out + 1, bucket);
    let mask = (1u32 << shift) - 1;
    let (mut people, stretches) = sort_into_counted(
        roster.len(),
        (left_out >> shift) + 1,
        |p| bucket(p) >> shift,
        place,
    );
    drop(buckets);
    let mut counts = vec![0usize; left_out + 1];
    let cmp = |a: &Place, b: &Place| {
        (a.room, a.id)
            .cmp(&(b.room, b.id))
            .then_with(|| match pseudonyms {
                Some(_) => Ordering::Equal,
                None => roster.id(a.person).cmp(roster.id(b.person)),
            })
    };
    pieces_mut(&mut people, &stretches)
        .into_par_iter()
        .zip(counts.par_chunks_mut(1 << shift))
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(scratch, offsets), (stretch, counts)| {
                sort_by_low_bits(stretch, shift, |p| p.bucket, scratch, offsets);
                for run in stretch.chunk_by_mut(|a, b| a.bucket == b.bucket) {
                    counts[(run[0].bucket & mask) as usize] = run.len();
                    match run.len() {
                        _ if run[0].bucket as usize == left_out => {}
                        n if n > 1 << 20 => run.par_sort_unstable_by(cmp),
                        _ => run.sort_unstable_by(cmp),
                    }
                }
            },
        );
    people.truncate(roster.len() - counts[left_out]);
    counts.pop();
    Placed {
        places: people,
        counts,
        ranks,
    }
}

/// Whether the roster's people, as numbered, are in [`roster_order`] (one group, no
/// pseudonyms), each after the one before: checked in one pass, so that a roster listed
/// so (the usual export) is not sorted at all.
pub fn in_roster_order(roster: &Roster, ranks: &Ranks) -> bool {
    let (building_rank, room_rank) = (&ranks.building, &ranks.room);
    let place = |p: usize| {
        (
            building_rank[roster.building.get(p) as usize],
            room_of(roster, room_rank, p),
        )
    };
    (1..roster.len()).into_par_iter().all(|p| {
        let (a, b) = (roster.id(p as u32 - 1), roster.id(p as u32));
        place(p - 1)
            .cmp(&place(p))
            .then_with(|| prefix(a).cmp(&prefix(b)))
            .then_with(|| a.cmp(b))
            .is_lt()
    })
}

/// Person `p`'s room's rank among `room_rank`, people without a room last.
fn room_of(roster: &Roster, room_rank: &[u32], p: usize) -> u32 {
    match roster.room.get(p) {
        NONE => u32::MAX,
        room => room_rank[room as usize],
    }
}

/// The first 16 bytes of `text`, zero-padded, as two numbers that order as the texts
/// do when those bytes differ: a sort can compare these, carried with each item, and
/// read the texts (scattered over a city's table) only when they are equal.
pub fn prefix(text: &str) -> [u64; 2] {
    let mut bytes = [0u8; 16];
    let n = text.len().min(16);
    bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
    words(bytes)
}

/// 16 bytes as two numbers that order as the bytes do.
fn words(bytes: [u8; 16]) -> [u64; 2] {
    let value = u128::from_be_bytes(bytes);
    [(value >> 64) as u64, value as u64]
}

/// The 16 bytes a [`prefix`] was made of: the text's first bytes, zero-padded.
pub fn prefix_bytes(prefix: [u64; 2]) -> [u8; 16] {
    (u128::from(prefix[0]) << 64 | u128::from(prefix[1])).to_be_bytes()
}

/// The rank of each of `names` in natural order (0 for the first): sorting by rank
/// sorts by name, at the cost of one sort of the names, or of one pass over them when
/// they are in natural order already.
///
/// The names are sorted by [`Keyed`] keys made in one pass over them, and a name is
/// read again only while its key ties with another's: a comparison sort reads two
/// names for every comparison, and a city's million buildings, listed in no order,
/// are scattered over its table (0.9–1.0 s for a million households).
pub fn natural_ranks<S: AsRef<str> + Sync>(names: &[S]) -> Vec<u32> {
    let name = |i: u32| names[i as usize].as_ref();
    // Names in natural order already (a roster's buildings and rooms, once it numbered
    // them by rank) are not sorted again.
    if names
        .par_windows(2)
        .all(|w| natural_cmp(w[0].as_ref(), w[1].as_ref()).is_lt())
    {
        return (0..names.len() as u32).collect();
    }
    let mut keyed: Vec<Keyed> = (0..names.len() as u32)
        .into_par_iter()
        .map(|i| Keyed::of(name(i), i, 0))
        .collect();
    sort_keyed(&mut keyed, &name, 0);
    invert(&keyed.par_iter().map(|k| k.name).collect::<Vec<u32>>())
}

/// A name with the next 16 bytes of its natural-order key (see [`Keyed::of`]).
#[derive(Clone, Copy)]
struct Keyed {
    /// The key's bytes from `rest`'s token on, as two numbers that order as the bytes.
    key: [u64; 2],
    /// The name.
    name: u32,
    /// Where in the name the next key starts: the first token not wholly in this one.
    rest: u32,
}

impl Keyed {
    /// The key of `text` from its byte `from` (where a token starts) on: each token's
    /// bytes, a run of ASCII digits written as `0` (every other character's first byte
    /// is above or below it, as every digit is), the length of its value, then the
    /// value's digits without leading zeros, two to a byte; the first 16 bytes of
    /// that, zero-padded.
    /// Two names' keys compare as [`natural_cmp`] compares the names wherever they
    /// differ; where they tie, the names' tokens tie up to their `rest`.
    fn of(text: &str, name: u32, from: u32) -> Keyed {
        const LEN: usize = 16;
        let x = text.as_bytes();
        let mut key = [0u8; LEN];
        let (mut k, mut i) = (0, from as usize);
        let mut rest = i;
        while i < x.len() && k < LEN {
            let token = if x[i].is_ascii_digit() {
                let end = i + x[i..].iter().take_while(|d| d.is_ascii_digit()).count();
                let value = trim_zeros(&x[i..end]);
                // A value of 255 digits or more is told from another only by
                // `natural_cmp`: the key ends with the marker and 255.
                let Ok(len @ ..=254) = u8::try_from(value.len()) else {
                    key[k] = b'0';
                    if k + 1 < LEN {
                        key[k + 1] = u8::MAX;
                    }
                    break;
                };
                // The digits two to a byte, a value's last alone in a byte's high
                // half: values of one length compare as their digits do, and a
                // room's number after its building's (`公寓6431-830`) still fits.
                let whole = 2 + value.len().div_ceil(2);
                let cut = whole.min(LEN - k);
                let mut bytes = [0u8; LEN];
                bytes[0] = b'0';
                bytes[1] = len;
                for (byte, pair) in bytes[2..].iter_mut().zip(value.chunks(2)) {
                    let digit = |d: Option<&u8>| d.map_or(0, |d| d - b'0');
                    *byte = digit(pair.first()) << 4 | digit(pair.get(1));
                }
                key[k..k + cut].copy_from_slice(&bytes[..cut]);
                (cut == whole, cut, end)
            } else {
                key[k] = x[i];
                (true, 1, i + 1)
            };
            let (whole, written, end) = token;
            k += written;
            if whole {
                i = end;
                rest = i;
            } else {
                break;
            }
        }
        Keyed {
            key: words(key),
            name,
            rest: rest as u32,
        }
    }
}

/// Sorts `keyed` in natural order of their names (`name` gives each): by key, then
/// each run of tied keys by the names' next keys, [`KEY_DEPTH`] keys deep at most
/// (`depth` made so far); names whose keys no longer move on (a number of more than
/// 28 digits, or names alike to the end), and names alike for that deep, by
/// [`natural_cmp`], then by number. The runs a level holds are sorted on the workers
/// when long (a city's names that begin with its district's).
fn sort_keyed<'a>(keyed: &mut [Keyed], name: &(dyn Fn(u32) -> &'a str + Sync), depth: usize) {
    let long = keyed.len() > 1 << 14;
    let resort = |run: &mut [Keyed]| {
        if run.len() < 2 {
            return;
        }
        let next = |k: &mut Keyed| {
            let next = Keyed::of(name(k.name), k.name, k.rest);
            std::mem::replace(k, next).rest != next.rest
        };
        let moved = depth < KEY_DEPTH
            && match run.len() > 1 << 14 {
                true => run.par_iter_mut().map(next).reduce(|| false, |a, b| a | b),
                false => run.iter_mut().fold(false, |moved, k| next(k) | moved),
            };
        let cmp = |a: &Keyed, b: &Keyed| {
            natural_cmp(name(a.name), name(b.name)).then(a.name.cmp(&b.name))
        };
        match (moved, run.len() > 1 << 14) {
            (true, _) => sort_keyed(run, name, depth + 1),
            (false, true) => run.par_sort_unstable_by(cmp),
            (false, false) => run.sort_unstable_by(cmp),
        }
    };
    if long {
        keyed.par_sort_unstable_by_key(|k| k.key);
        keyed
            .par_chunk_by_mut(|a, b| a.key == b.key)
            .for_each(resort);
    } else {
        keyed.sort_unstable_by_key(|k| k.key);
        keyed.chunk_by_mut(|a, b| a.key == b.key).for_each(resort);
    }
}

/// How many keys deep [`sort_keyed`] goes (16 bytes each) before it compares the names
/// left tied whole: names alike for their first hundreds of bytes are no city's, and
/// each key deeper is a call deeper on a worker's stack.
const KEY_DEPTH: usize = 16;

/// The inverse of `permutation`, a permutation of `0..n`: item `permutation[i]` of the
/// result is `i`. A city's (ten million people) is written on the workers, a block of
/// the permutation each: every write lands in no order, and one thread would wait on
/// each.
pub fn invert(permutation: &[u32]) -> Vec<u32> {
    use rayon::prelude::*;
    use std::sync::atomic::Ordering::Relaxed;
    const BLOCK: usize = 1 << 16;
    let mut inverse = vec![0u32; permutation.len()];
    let slots = crate::buckets::as_atomics(&mut inverse);
    permutation
        .par_chunks(BLOCK)
        .enumerate()
        .for_each(|(b, block)| {
            for (i, &p) in block.iter().enumerate() {
                slots[p as usize].store((b * BLOCK + i) as u32, Relaxed);
            }
        });
    inverse
}

/// Natural order for optional values, with missing values last.
pub fn natural_cmp_opt(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => natural_cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let first = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[first..]
}

fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    /// The inverse of a permutation over several of `invert`'s blocks, and of small
    /// ones, undoes it: each item is placed where the permutation took it from.
    #[test]
    fn an_inverted_permutation_undoes_it() {
        for n in [0u64, 1, 5, 65_536, 200_003] {
            let permutation: Vec<u32> = (0..n)
                .map(|i| ((i * 7_919 + 13) % n.max(1)) as u32)
                .collect();
            let inverse = super::invert(&permutation);
            assert_eq!(inverse.len(), permutation.len());
            for (i, &p) in permutation.iter().enumerate() {
                assert_eq!(inverse[p as usize], i as u32, "n {n}");
            }
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(natural_cmp("公寓2", "公寓10"), Less);
        assert_eq!(natural_cmp("公寓10", "公寓9"), Greater);
        assert_eq!(natural_cmp("A1-2", "A1-10"), Less);
    }

    #[test]
    fn order_is_total_for_leading_zeros() {
        assert_eq!(natural_cmp("01", "1"), Less);
        assert_eq!(natural_cmp("1", "01"), Greater);
        assert_eq!(natural_cmp("1", "1"), Equal);
    }

    #[test]
    fn prefix_sorts_first() {
        assert_eq!(natural_cmp("公寓", "公寓1"), Less);
    }

    /// Ranks of `names` by a plain comparison sort.
    fn ranked_by_comparison(names: &[String]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_by(|&a, &b| natural_cmp(&names[a as usize], &names[b as usize]).then(a.cmp(&b)));
        super::invert(&order)
    }

    /// Names made of pieces that test the keys: long prefixes shared by many names, so
    /// that keys tie for several rounds; runs of digits with leading zeros, cut by a key's
    /// end, or longer than a key and than 255 digits; characters of several UTF-8
    /// lengths next to digits; NUL and characters below and above the digits.
    fn name_from(pieces: &[u8]) -> String {
        const PIECES: [&str; 12] = [
            "浦东新区花木街道",
            "0",
            "007",
            "12345678901234567890",
            "9",
            "号楼",
            "-",
            "A",
            "\u{0}",
            "é",
            "🏠",
            ":",
        ];
        let mut name = String::new();
        for &p in pieces {
            match p as usize % (PIECES.len() + 1) {
                12 => name.push_str(&"8".repeat(260 + usize::from(p % 3))),
                i => name.push_str(PIECES[i]),
            }
        }
        name
    }

    /// Names alike for their first 300,000 bytes (a cell may hold a mebibyte) rank as a
    /// comparison sort ranks them, without a call a key deeper for each 16 bytes they
    /// share (nearly 19,000 calls deep, past a worker's stack).
    #[test]
    fn names_alike_for_long_rank_without_going_deep() {
        let alike = "楼".repeat(100_000);
        let names: Vec<String> = ["10", "9", "", "09", "x"]
            .iter()
            .map(|end| format!("{alike}{end}"))
            .collect();
        assert_eq!(super::natural_ranks(&names), ranked_by_comparison(&names));
    }

    proptest::proptest! {
        /// Ranks made by keys are those of a plain comparison sort, whatever the names.
        #[test]
        fn natural_ranks_are_those_of_a_comparison_sort(
            names in proptest::collection::vec(proptest::collection::vec(0u8..=255, 0..9), 0..300),
            repeat in 1usize..400,
        ) {
            let mut names: Vec<String> = names.iter().map(|p| name_from(p)).collect();
            // Enough names, sharing their beginnings, to be sorted on the workers.
            let many: Vec<String> = (0..repeat * 100)
                .map(|i| format!("{}{}", names.get(i % names.len().max(1)).map_or("", |n| n), i % 97))
                .collect();
            names.extend(many);
            names.sort();
            names.dedup();
            // In no order.
            names.sort_by_key(|n| crate::strings::hash_str(n));
            let ranks = ranked_by_comparison(&names);
            proptest::prop_assert_eq!(super::natural_ranks(&names), ranks.clone());
            // In natural order (not sorted again), then with the last two swapped.
            let mut sorted = names.clone();
            for (name, &rank) in names.iter().zip(&ranks) {
                sorted[rank as usize] = name.clone();
            }
            proptest::prop_assert_eq!(super::natural_ranks(&sorted), ranked_by_comparison(&sorted));
            // A pair out of order anywhere: first, in the middle, last.
            let n = sorted.len();
            for at in [0, n / 2, n.saturating_sub(2)].into_iter().filter(|&at| at + 1 < n) {
                let mut swapped = sorted.clone();
                swapped.swap(at, at + 1);
                proptest::prop_assert_eq!(super::natural_ranks(&swapped), ranked_by_comparison(&swapped));
            }
        }
    }

    /// The order of a plain comparison sort: building, group, room, then person_id or
    /// pseudonym.
    fn reference(
        roster: &crate::ingest::roster::Roster,
        group: impl Fn(u32) -> Option<u32>,
        pseudonyms: Option<&[u64]>,
    ) -> Vec<u32> {
        use super::{natural_ranks, NONE};
        let (building_rank, room_rank) = (
            natural_ranks(&roster.buildings),
            natural_ranks(&roster.rooms),
        );
        let key = |p: u32| {
            let room = roster.room.get(p as usize);
            (
                building_rank[roster.building.get(p as usize) as usize],
                group(p),
                if room == NONE {
                    u32::MAX
                } else {
                    room_rank[room as usize]
                },
            )
        };
        let mut order: Vec<u32> = (0..roster.len() as u32)
            .filter(|&p| group(p).is_some())
            .collect();
        order.sort_by(|&a, &b| {
            key(a).cmp(&key(b)).then_with(|| match pseudonyms {
                Some(ps) => ps[a as usize].cmp(&ps[b as usize]),
                None => roster.id(a).cmp(roster.id(b)),
            })
        });
        order
    }

    #[test]
    fn roster_order_is_a_plain_sort_whatever_the_row_order() {
        // IDs sharing their first 16 bytes or more, IDs that begin others, text and
        // digits, in rooms and without, in the order a multiplier scatters them.
        let ids: Vec<String> = (0..600u32)
            .map(|i| match i % 6 {
                0 => format!("12345678901234567{i:03}"),
                1 => format!("1234567890123456{i}"),
                2 => format!("{}", i / 6),
                3 => format!("{}0", i / 6),
                4 => format!("S{i}"),
                _ => format!("学{:02}", i % 17),
            })
            .collect();
        let mut text = String::from("学号,姓名,楼栋,宿舍号\n");
        for k in 0..ids.len() {
            let i = (k * 257) % ids.len();
            let room = match i % 5 {
                0 => String::new(),
                r => format!("{}0{}", r, i % 3),
            };
            text.push_str(&format!("{},某人,公寓{},{room}\n", ids[i], i % 4 * 5));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.csv");
        std::fs::write(&path, text).unwrap();
        let (roster, _, _) = crate::pipeline::load_roster(&path, None).unwrap();
        assert!(roster.len() > 450, "{}", roster.len());
        let all = |_: u32| Some(0);
        // The roster numbers its people in this order whatever the file's order (the
        // rows above are not in it), so that the order is the roster's own; the sorts
        // below, by pseudonym and by group, start from other orders.
        let order = super::roster_order(&roster, 1, all, None);
        assert_eq!(order, reference(&roster, all, None));
        assert_eq!(order, (0..roster.len() as u32).collect::<Vec<_>>());
        let pseudonyms: Vec<u64> = (0..roster.len() as u64)
            .map(|p| p.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        assert_eq!(
            super::roster_order(&roster, 1, all, Some(&pseudonyms)),
            reference(&roster, all, Some(&pseudonyms))
        );
        // Three groups, every seventh person left out.
        let some = |p: u32| (!p.is_multiple_of(7)).then_some(p % 3);
        let order = super::roster_order(&roster, 3, some, None);
        assert_eq!(order, reference(&roster, some, None));
        assert!(order.len() < roster.len());
    }

    /// A roster of hundreds of buildings, some of one person, numbers its people as a
    /// plain sort does, and sorts so by group, whether it lists them in no order
    /// (counted out by stretches of buckets first) or building by building but not by
    /// room or ID (counted straight into buckets): more buckets than
    /// [`super::roster_places`] counts out in one pass, some split by groups, people
    /// left out.
    #[test]
    fn a_roster_of_many_buildings_sorts_as_a_plain_sort_however_listed() {
        let n = 12_000u32;
        let rows: Vec<(String, String, u32)> = (0..n)
            .map(|i| {
                let building = match i % 97 {
                    0 => format!("{i}号楼"),
                    _ => format!("小区{}-{}单元", i % 300, i % 2),
                };
                let room = match i % 4 {
                    0 => String::new(),
                    // Shaped like a resident ID number: shown masked.
                    3 if i % 13 == 0 => format!("{}", 110_105_199_003_070_076u64),
                    // "1-9" before "1-10": natural order, not the bytes'.
                    r => format!("{r}-{}", i % 13),
                };
                (building, room, 1_000_000 + i * 37 % 12_001)
            })
            .collect();
        let scattered: Vec<u32> = (0..n).map(|k| (k * 4_099) % n).collect();
        let mut by_building: Vec<u32> = (0..n).rev().collect();
        by_building.sort_by_key(|&i| &rows[i as usize].0);
        let mut names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() > 400, "{}", names.len());
        for (listing, one_pass) in [(scattered, false), (by_building, true)] {
            let building = |p: usize| {
                names
                    .binary_search(&rows[listing[p] as usize].0.as_str())
                    .unwrap() as u32
            };
            let shift = super::stretch_shift(n as usize, names.len(), building);
            assert_eq!(shift == 0, one_pass, "shift {shift}");
            let mut text = String::from("学号,姓名,楼栋,宿舍号\n");
            for &i in &listing {
                let (building, room, id) = &rows[i as usize];
                text.push_str(&format!("{id},某人,{building},{room}\n"));
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("roster.csv");
            std::fs::write(&path, text).unwrap();
            let (roster, _, _) = crate::pipeline::load_roster(&path, None).unwrap();
            assert_eq!(roster.len(), n as usize);
            assert_eq!(roster.buildings.len(), names.len());
            // Each person keeps their building and room, whatever the codes; numbered anew
            // (neither listing is in natural order), a building's or room's code is its
            // rank.
            let row_of: std::collections::HashMap<String, &(String, String, u32)> =
                rows.iter().map(|row| (row.2.to_string(), row)).collect();
            for p in 0..n {
                let (building, room, _) = row_of[roster.id(p)];
                assert_eq!(roster.building_name(p), building);
                let code = roster.room.get(p as usize);
                let (name, shown) = match code {
                    crate::record::NONE => ("", String::new()),
                    code => (
                        &*roster.rooms[code as usize],
                        roster.room_shown(code).to_string(),
                    ),
                };
                assert_eq!(name, room);
                assert_eq!(shown, crate::privacy::guard_ids(room.into()));
            }
            assert!((0..roster.rooms.len() as u32)
                .any(|r| roster.room_shown(r) != &*roster.rooms[r as usize]));
            assert!(roster
                .rooms
                .windows(2)
                .all(|w| natural_cmp(&w[0], &w[1]).is_lt()));
            assert!(roster
                .buildings
                .windows(2)
                .all(|w| natural_cmp(&w[0], &w[1]).is_lt()));
            assert!(roster
                .building_rank
                .iter()
                .enumerate()
                .all(|(b, &k)| k == b as u32));
            let all = |_: u32| Some(0);
            assert_eq!(
                super::roster_order(&roster, 1, all, None),
                reference(&roster, all, None)
            );
            assert_eq!(reference(&roster, all, None), (0..n).collect::<Vec<_>>());
            let some = |p: u32| (!p.is_multiple_of(5)).then_some(p * 7 % 3);
            assert_eq!(
                super::roster_order(&roster, 3, some, None),
                reference(&roster, some, None)
            );
        }
    }

    /// The lists' sort gives the order of a plain comparison sort by group, then
    /// [`super::listed_cmp`], then roster place: rooms of several people whose IDs
    /// sort otherwise as text than in natural order, people without a room, people not
    /// on the roster (past its end), and IDs shown alike (masked), in scattered order.
    #[test]
    fn the_lists_sort_is_a_plain_sort_by_the_ids_shown() {
        let mut text = String::from("学号,姓名,楼栋,宿舍号\n");
        for i in 0..400u32 {
            let room = match i % 7 {
                0 => String::new(),
                r => format!("{r}0{}", i % 3),
            };
            // "9", "10", "S9", "S10": text order and natural order disagree.
            let id = match i % 3 {
                0 => format!("{}", i * 7),
                1 => format!("S{}", i * 13),
                _ => format!("A{i}"),
            };
            text.push_str(&format!("{id},某人,公寓{},{room}\n", i % 5));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.csv");
        std::fs::write(&path, text).unwrap();
        let (roster, _, _) = crate::pipeline::load_roster(&path, None).unwrap();
        let n = roster.len() as u32;
        assert!(n > 300, "{n}");
        let off_roster: Vec<String> = (0..40).map(|k| format!("X{}", 40 - k)).collect();
        let id = |p: u32| match p < n {
            true => roster.id(p).to_string(),
            false => off_roster[(p - n) as usize].clone(),
        };
        // (group, person): three groups, people more than once across groups, some
        // off the roster.
        let items: Vec<(u32, u32)> = (0..2_000u32)
            .map(|k| (k * 31 % 3, (k * 7_919 + 11) % (n + 40)))
            .collect();
        let shows: [&(dyn Fn(u32) -> String + Sync); 2] = [
            &|p| id(p),
            // Masked: only the first two characters shown, so many IDs show alike.
            &|p| id(p).chars().take(2).collect(),
        ];
        for shown in shows {
            let mut sorted = items.clone();
            super::sort_listed(&mut sorted, &roster, shown, |i| i.0, |i| i.1);
            let mut reference = items.clone();
            reference.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| super::listed_cmp(&roster, shown, a.1, b.1))
                    .then(a.1.cmp(&b.1))
            });
            assert_eq!(sorted, reference);
        }
    }

    /// A building's people without a room are one run, sorted on the workers when it is
    /// longer than [`super::LONG_RUN`]: the same order as a plain sort, by pseudonym-like
    /// numbers that follow no roster order.
    #[test]
    fn a_long_run_without_rooms_sorts_as_a_plain_sort() {
        let n = 3 * super::LONG_RUN;
        let mut text = String::from("学号,姓名,楼栋,宿舍号\n");
        for i in 0..n {
            let room = if i % 50 == 0 { "101" } else { "" };
            text.push_str(&format!("{},某人,公寓{},{room}\n", 100_000 + i, i % 2));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.csv");
        std::fs::write(&path, text).unwrap();
        let (roster, _, _) = crate::pipeline::load_roster(&path, None).unwrap();
        assert_eq!(roster.len(), n);
        let shown = |p: u32| (u64::from(p) * 0x9E37_79B9_7F4A_7C15) >> 40;
        let items: Vec<(u32, u32)> = (0..n as u32).map(|k| (0, (k * 7_919) % n as u32)).collect();
        let mut sorted = items.clone();
        super::sort_listed(&mut sorted, &roster, &shown, |i| i.0, |i| i.1);
        let mut reference = items;
        reference.sort_by(|a, b| super::listed_cmp(&roster, &shown, a.1, b.1).then(a.1.cmp(&b.1)));
        assert_eq!(sorted, reference);
    }
}
