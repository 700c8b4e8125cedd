//! IDs packed into numbers. Person and tube IDs are nearly always digits (a student
//! number, a barcode), a resident ID number, a short code of letters and digits (a
//! passport number, a staff number), or a few capital letters and a serial number (a
//! barcode of a lab's or a district's); packed into a `u64`, such an ID is hashed and
//! compared as one number, and a table of them holds the number itself instead of
//! pointing at the text (a cache miss in a city's tables).

use crate::strings::{self, same_bytes, Interner, Strings};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// The key of an ID that is not packed ([`pack`]).
pub const UNPACKED: u64 = u64::MAX;

/// Marks a key as standing for an ID kept as text: its index in the low bits, or its
/// [`fingerprint`] (never a packed key: those never have both bits 61 and 62 set).
/// [`UNPACKED`] has those bits set too: a key is tested for the mark only once it is
/// packed or marked.
pub const TEXT: u64 = 0b011 << 61;

/// The bit of a packed resident ID number.
const RESIDENT: u64 = 1 << 63;

/// Where the keys of codes ([`pack`]) begin: past every key of digits (below 2^58).
const CODES: u64 = 1 << 58;

/// The symbols of a code of up to [`SHORT`] characters, in the order of their values:
/// every character an ID may hold (`values::id`).
const SYMBOLS: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// The longest code of any [`SYMBOLS`].
const SHORT: usize = 10;

/// The length of a code of digits and capital letters only, one longer than [`SHORT`]
/// (an `S` and a ten-digit student number, say).
const LONG: usize = SHORT + 1;

/// Where the codes of each length begin, after [`CODES`]: those of length `len` take
/// `64^len` keys from `CODE_STARTS[len]`, and the [`LONG`] ones `36^11` from
/// `CODE_STARTS[LONG]`.
const CODE_STARTS: [u64; LONG + 1] = {
    let mut starts = [0u64; LONG + 1];
    let mut len = 1;
    while len < LONG {
        starts[len + 1] = starts[len] + (1u64 << (6 * len));
        len += 1;
    }
    starts
};

// Every code's key stays below 2^61: bits 61, 62 and 63 stay clear for the others.
const _: () = assert!(CODES + CODE_STARTS[LONG] + 36u64.pow(LONG as u32) < 1 << 61);

/// Where the keys of serials ([`pack`]: 1 to [`SERIAL_LETTERS`] capital letters, then
/// digits, 12 to 17 characters in all) begin: past every code, with bit 61 or bit 62
/// set but never both (those two are [`TEXT`]'s), bit 63 clear.
const SERIALS: u64 = 1 << 61;

/// The most capital letters a serial begins with.
const SERIAL_LETTERS: usize = 3;

/// The shortest serial: one past a long code ([`LONG`]).
const SERIAL_SHORTEST: usize = LONG + 1;

/// The longest serial: as many characters as an 18-byte buffer of [`unpack`] holds
/// less one (an 18-character ID is a resident ID number's length).
const SERIAL_LONGEST: usize = 17;

/// How many lengths a serial may have.
const SERIAL_LENGTHS: usize = SERIAL_LONGEST - SERIAL_SHORTEST + 1;

/// The kinds of serial, by count of letters and length: [`serial_kind`] of each class
/// below this.
const SERIAL_CLASSES: usize = SERIAL_LETTERS * SERIAL_LENGTHS;

/// The count of letters and the length of serials of `class`.
const fn serial_kind(class: usize) -> (usize, usize) {
    (
        class / SERIAL_LENGTHS + 1,
        SERIAL_SHORTEST + class % SERIAL_LENGTHS,
    )
}

/// The class of serials of `letters` letters and `len` characters ([`serial_kind`]'s
/// inverse).
const fn serial_class(letters: usize, len: usize) -> usize {
    (letters - 1) * SERIAL_LENGTHS + len - SERIAL_SHORTEST
}

/// Where the keys of each class of serials begin after [`SERIALS`], and where the last
/// class's end: a class takes `26^letters * 10^digits` keys.
const SERIAL_STARTS: [u64; SERIAL_CLASSES + 1] = {
    let mut starts = [0u64; SERIAL_CLASSES + 1];
    let mut class = 0;
    while class < SERIAL_CLASSES {
        let (letters, len) = serial_kind(class);
        starts[class + 1] =
            starts[class] + 26u64.pow(letters as u32) * 10u64.pow((len - letters) as u32);
        class += 1;
    }
    starts
};

// Every serial's key stays below 2^62 + 2^61: bit 61 and bit 62 are never both set.
const _: () = assert!(SERIALS + SERIAL_STARTS[SERIAL_CLASSES] <= (1 << 62) + (1 << 61));

/// The value of each byte as a symbol of a code: its place in [`SYMBOLS`], or 64.
const SYMBOL_OF: [u8; 256] = {
    let mut of = [64u8; 256];
    let mut i = 0;
    while i < 64 {
        of[SYMBOLS[i] as usize] = i as u8;
        i += 1;
    }
    of
};

/// The ID itself as a number when it is one of the usual shapes:
/// - digits only, 1 to 17 of them, as `10^len + value` (below 2^58; the leading one
///   keeps leading zeros apart);
/// - a resident ID of 17 digits and a check character `0`–`9` or `X`, as
///   `2^63 | prefix * 11 + check` (below 2^63 + 2^60);
/// - any other code of 1 to 10 letters, digits, `-` and `_`, as its symbols in base 64
///   after the codes of fewer characters, or of 11 digits and capital letters, in base
///   36 after those (from 2^58, below 2^61);
/// - a serial of 12 to 17 characters: 1 to 3 capital letters, then digits (a barcode's
///   letters and its running number, `HSA00000012345`), as the letters in base 26 and
///   the digits after the serials of fewer letters or characters (from 2^61, below
///   2^62 + 2^61).
///
/// All are one-to-one and never [`UNPACKED`]; any other ID is [`UNPACKED`].
pub fn pack(id: &str) -> u64 {
    let b = id.as_bytes();
    const POWERS: [u64; 18] = {
        let mut p = [1u64; 18];
        let mut i = 1;
        while i < 18 {
            p[i] = p[i - 1] * 10;
            i += 1;
        }
        p
    };
    let packed = match b.len() {
        len @ 1..=17 => digits(b).map(|v| POWERS[len] + v),
        18 => {
            let check = match b[17] {
                c @ b'0'..=b'9' => Some(u64::from(c - b'0')),
                b'X' => Some(10),
                _ => None,
            };
            match (digits(&b[..17]), check) {
                (Some(prefix), Some(check)) => Some(RESIDENT | (prefix * 11 + check)),
                _ => None,
            }
        }
        _ => None,
    };
    packed.unwrap_or_else(|| code(b))
}

/// The value of up to 17 decimal digits, or `None` when a byte is not a digit. Read
/// eight bytes at a time as one word, the first word's few digits (`len % 8` of them)
/// after as many `0`s as make eight: a word is checked and turned into its value in a
/// few operations on all its bytes at once, where a byte at a time is a chain of one
/// multiplication a digit.
fn digits(d: &[u8]) -> Option<u64> {
    debug_assert!(d.len() <= 17);
    let load = |w: &[u8]| u64::from_le_bytes(w.try_into().expect("eight bytes"));
    let head = d.len() % 8;
    let (mut value, mut all) = if d.len() < 8 {
        let mut bytes = [b'0'; 8];
        for (b, &c) in bytes[8 - head..].iter_mut().zip(d) {
            *b = c;
        }
        word(u64::from_le_bytes(bytes))
    } else if head == 0 {
        (0, true)
    } else {
        // The first eight bytes moved up past the `0`s, the bytes after the head out.
        let zeros = 8 * (8 - head) as u32;
        word(load(&d[..8]) << zeros | ZEROS >> (64 - zeros))
    };
    for w in d[head..].chunks_exact(8) {
        let (v, ok) = word(load(w));
        value = value.wrapping_mul(100_000_000).wrapping_add(v);
        all &= ok;
    }
    all.then_some(value)
}

/// Eight `0`s, read as one word.
const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);

/// The value of eight bytes read as a word (the first the lowest byte), and whether
/// they all are digits (the value is meaningless when not).
fn word(x: u64) -> (u64, bool) {
    const HIGH: u64 = u64::from_le_bytes([0xF0; 8]);
    const SIXES: u64 = u64::from_le_bytes([6; 8]);
    // A digit is 0x30 to 0x39: its high half is 3, and stays 3 once 6 is added (`:` to
    // `?` become 0x40 and more). Once every byte's high half is 3, adding 6 carries
    // into no other byte.
    let all = x & HIGH == ZEROS && x.wrapping_add(SIXES) & HIGH == ZEROS;
    // The first digit is the lowest byte: join neighbours into pairs, the pairs into
    // fours, the fours into eight (each step's lanes hold their value without carrying
    // into the next lane; the bits above the result are masked off).
    let v = x.wrapping_sub(ZEROS);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8) & 0x00FF_00FF_00FF_00FF;
    let v = v.wrapping_mul(100).wrapping_add(v >> 16) & 0x0000_FFFF_0000_FFFF;
    let v = v.wrapping_mul(10_000).wrapping_add(v >> 32) & 0xFFFF_FFFF;
    (v, all)
}

/// The key of a code ([`pack`]), or [`UNPACKED`].
#[cold]
fn code(b: &[u8]) -> u64 {
    let in_base = |base: u64| {
        let (mut v, mut all) = (0u64, true);
        for &c in b {
            let symbol = SYMBOL_OF[usize::from(c)];
            all &= u64::from(symbol) < base;
            v = v.wrapping_mul(base).wrapping_add(u64::from(symbol));
        }
        all.then_some(v)
    };
    let value = match b.len() {
        len @ 1..=SHORT => in_base(64).map(|v| CODE_STARTS[len] + v),
        LONG => in_base(36).map(|v| CODE_STARTS[LONG] + v),
        _ => return serial(b),
    };
    value.map_or(UNPACKED, |v| CODES + v)
}

/// The key of a serial ([`pack`]), or [`UNPACKED`].
fn serial(b: &[u8]) -> u64 {
    if !(SERIAL_SHORTEST..=SERIAL_LONGEST).contains(&b.len()) {
        return UNPACKED;
    }
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if !(1..=SERIAL_LETTERS).contains(&letters) {
        return UNPACKED;
    }
    let Some(number) = digits(&b[letters..]) else {
        return UNPACKED;
    };
    let prefix = b[..letters]
        .iter()
        .fold(0u64, |v, &c| v * 26 + u64::from(c - b'A'));
    let class = serial_class(letters, b.len());
    SERIALS + SERIAL_STARTS[class] + prefix * 10u64.pow((b.len() - letters) as u32) + number
}

/// The hash of a packed key, or of a [`fingerprint`]: hashing a number is cheaper
/// than hashing its digits.
pub fn hash_packed(key: u64) -> u64 {
    debug_assert!(key != UNPACKED);
    FixedState::default().hash_one(key)
}

/// A key for an ID that does not pack ([`pack`]): [`TEXT`] and 61 bits of its text's
/// hash. Unlike a packed key, two IDs may share one: a table keyed by fingerprints
/// compares the texts of the IDs whose fingerprints match. Never [`UNPACKED`] (bit 63
/// is clear), never a packed key (bits 61 and 62 are set).
pub fn fingerprint(id: &str) -> u64 {
    TEXT | (crate::strings::hash_str(id) & ((1 << FINGERPRINT_BITS) - 1))
}

/// The bits of a [`fingerprint`] taken from the hash: 61, or 16 in the unit tests, so
/// that there IDs share fingerprints often and every check of a candidate is
/// exercised.
const FINGERPRINT_BITS: u32 = if cfg!(test) { 16 } else { 61 };

/// Whether a key that is not [`UNPACKED`] is a [`fingerprint`] (or another
/// [`TEXT`]-marked key), not an ID packed.
pub fn is_text(key: u64) -> bool {
    key & TEXT == TEXT
}

/// The ID a packed key stands for, written into `out`.
pub fn unpack(key: u64, out: &mut [u8; 18]) -> &str {
    debug_assert!(key != UNPACKED && key & TEXT != TEXT);
    let write_digits = |mut v: u64, out: &mut [u8]| {
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    let len = if key & RESIDENT != 0 {
        let v = key & !RESIDENT;
        let check = v % 11;
        write_digits(v / 11, &mut out[..17]);
        out[17] = if check == 10 {
            b'X'
        } else {
            b'0' + check as u8
        };
        18
    } else if key >= SERIALS {
        let v = key - SERIALS;
        let class = SERIAL_STARTS.partition_point(|&start| start <= v) - 1;
        let (letters, len) = serial_kind(class);
        let (v, scale) = (v - SERIAL_STARTS[class], 10u64.pow((len - letters) as u32));
        let (mut prefix, number) = (v / scale, v % scale);
        for c in out[..letters].iter_mut().rev() {
            *c = b'A' + (prefix % 26) as u8;
            prefix /= 26;
        }
        write_digits(number, &mut out[letters..len]);
        len
    } else if key >= CODES {
        let v = key - CODES;
        let (len, base, mut v) = if v >= CODE_STARTS[LONG] {
            (LONG, 36, v - CODE_STARTS[LONG])
        } else {
            let len = CODE_STARTS.partition_point(|&start| start <= v) - 1;
            (len, 64, v - CODE_STARTS[len])
        };
        for c in out[..len].iter_mut().rev() {
            *c = SYMBOLS[(v % base) as usize];
            v /= base;
        }
        len
    } else {
        // 10^len + value: the digits after the leading one.
        let len = key.ilog10() as usize;
        write_digits(key, &mut out[..len]);
        len
    };
    std::str::from_utf8(&out[..len]).expect("the symbols are ASCII")
}

/// The ID a packed key stands for.
pub fn unpacked(key: u64) -> String {
    unpack(key, &mut [0; 18]).to_string()
}

/// IDs in order: each a packed key, or [`TEXT`] and the ID's index in `texts`.
#[derive(Clone, Debug, Default)]
pub struct IdList {
    pub(super) keys: Vec<u64>,
    pub(super) texts: Strings,
}

/// An ID of an [`IdList`]: its key, and its text when the key is [`TEXT`]-marked
/// (empty otherwise).
#[derive(Clone, Copy)]
pub struct Id<'a> {
    pub(super) key: u64,
    pub(super) text: &'a str,
}

impl<'a> Id<'a> {
    /// The ID `id`, whose key ([`pack`]) is `key`: the key alone when it packs.
    pub fn of(key: u64, id: &'a str) -> Id<'a> {
        if key == UNPACKED {
            Id {
                key: TEXT,
                text: id,
            }
        } else {
            Id { key, text: "" }
        }
    }

    pub(super) fn is_text(self) -> bool {
        self.key & TEXT == TEXT
    }

    /// The ID's hash: of its key when it packs, of its text otherwise.
    pub fn hash(self) -> u64 {
        if self.is_text() {
            Interner::hash_of(self.text)
        } else {
            hash_packed(self.key)
        }
    }

    /// The ID's text, unpacked into `digits` when it is a packed key.
    pub fn name<'b>(self, digits: &'b mut [u8; 18]) -> &'b str
    where
        'a: 'b,
    {
        if self.is_text() {
            self.text
        } else {
            unpack(self.key, digits)
        }
    }
}

impl IdList {
    /// Lists `id` and returns its place: the last place when the last ID listed is
    /// `id` (rows grouped by tube share one), a new one otherwise. The ID holds no NUL
    /// byte (`values::id` lets through letters, digits, `-` and `_`), which
    /// [`super::tubes`] counts on to write a short ID back from its zero-padded first
    /// 16 bytes.
    pub fn push(&mut self, id: &str) -> u32 {
        debug_assert!(!id.contains('\0'), "an ID with a NUL byte");
        let key = pack(id);
        match self.keys.last() {
            Some(&last) => {
                let same = if key == UNPACKED {
                    last & TEXT == TEXT
                        && same_bytes(self.texts.bytes((last & !TEXT) as u32), id.as_bytes())
                } else {
                    last == key
                };
                if same {
                    return self.keys.len() as u32 - 1;
                }
            }
            // Rows by sampling time bring a new tube nearly every row: a chunk of a
            // megabyte holds some 16,000, and the list is not grown from nothing
            // (what it does not fill is given back by `shrink_to_fit`).
            None => self.keys.reserve(1 << 14),
        }
        self.push_new(Id::of(key, id))
    }

    /// Lists `id` at a new place, which it returns.
    fn push_new(&mut self, id: Id) -> u32 {
        let key = if id.is_text() {
            TEXT | u64::from(self.texts.push(id.text))
        } else {
            id.key
        };
        self.keys.push(key);
        self.keys.len() as u32 - 1
    }

    /// How many places the list has.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Gives back the room the list does not fill.
    pub fn shrink_to_fit(&mut self) {
        self.keys.shrink_to_fit();
        self.texts.shrink_to_fit();
    }

    pub(super) fn id(&self, key: u64) -> Id<'_> {
        let text = if key & TEXT == TEXT {
            self.texts.get((key & !TEXT) as u32)
        } else {
            ""
        };
        Id { key, text }
    }

    /// The ID at `place`.
    pub fn get(&self, place: usize) -> Id<'_> {
        self.id(self.keys[place])
    }

    /// The IDs in order of place.
    pub fn iter(&self) -> impl Iterator<Item = Id<'_>> {
        self.keys.iter().map(|&key| self.id(key))
    }

    /// The text of the ID at `place`, unpacked into `digits` when it is a packed key.
    pub fn name<'a>(&'a self, place: usize, digits: &'a mut [u8; 18]) -> &'a str {
        self.get(place).name(digits)
    }
}

/// A slot of an [`IdTable`]: the ID's key ([`TEXT`] alone for a text ID) and number,
/// in 12 bytes.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Slot {
    key: u64,
    number: u32,
}

/// Distinct IDs, numbered in the order they are first interned, found by a table of
/// their keys (a text ID by its text).
#[derive(Default)]
pub struct IdTable {
    ids: IdList,
    index: HashTable<Slot>,
    /// Whether the table was freed ([`IdTable::close`]).
    closed: bool,
}

impl IdTable {
    /// The number of `id`, of hash `hash` ([`Id::hash`]), interning it if new; and
    /// whether it was.
    pub fn intern(&mut self, id: Id, hash: u64) -> (u32, bool) {
        assert!(!self.closed, "an ID interned into a closed table");
        let key = if id.is_text() { TEXT } else { id.key };
        let ids = &self.ids;
        let found = self.index.find(hash, |slot| {
            let k = slot.key;
            k == key
                && (key != TEXT
                    || same_bytes(
                        ids.get(slot.number as usize).text.as_bytes(),
                        id.text.as_bytes(),
                    ))
        });
        if let Some(slot) = found {
            return (slot.number, false);
        }
        let number = self.ids.push_new(id);
        let ids = &self.ids;
        self.index
            .insert_unique(hash, Slot { key, number }, |slot| {
                ids.get(slot.number as usize).hash()
            });
        (number, true)
    }

    /// How many IDs.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The IDs, by number.
    pub fn ids(&self) -> &IdList {
        &self.ids
    }

    /// The IDs by number, without the table.
    pub fn into_ids(self) -> IdList {
        self.ids
    }

    /// Frees the table, and the room the IDs do not fill: the IDs stay, by number
    /// ([`IdTable::ids`]); nothing may be interned any more.
    pub fn close(&mut self) {
        self.index = HashTable::new();
        self.ids.shrink_to_fit();
        self.closed = true;
    }
}

impl std::fmt::Debug for IdTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTable")
            .field("ids", &self.ids.len())
            .field("closed", &self.closed)
            .finish()
    }
}

/// The IDs of `lists` numbered in the order they are first listed, list after list,
/// as interning them in turn would number them; and each list's map from its places to
/// those numbers (by shards: [`strings::first_seen_numbers`]). Made for IDs that the
/// lists rarely share: a city's samples against a district's roster name millions of
/// people it does not hold, each once.
pub fn number_first_seen(lists: &[&IdList]) -> (Strings, Vec<Vec<u32>>) {
    strings::first_seen_numbers(
        lists,
        |list| list.len(),
        |list, i| list.get(i).hash(),
        |a, i, b, j| {
            let (a, b) = (a.get(i), b.get(j));
            // A packed ID is told apart by its key, without reading its text.
            match (a.is_text(), b.is_text()) {
                (true, true) => same_bytes(a.text.as_bytes(), b.text.as_bytes()),
                (false, false) => a.key == b.key,
                _ => false,
            }
        },
        |list, i, names| names.push(list.name(i, &mut [0; 18])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IDs merged by shards are numbered as interning them list after list numbers
    /// them, whatever the workers: over more lists than shards, with empty lists, IDs
    /// listed again in their list and in later ones, packed IDs of every shape beside
    /// text IDs (some that differ only past their 16th byte, and one that is empty),
    /// and IDs first listed in a late list.
    #[test]
    fn ids_merged_by_shards_are_numbered_as_interning_in_turn_does() {
        let mut x = 5u64;
        let rows: Vec<Vec<String>> = (0..200usize)
            .map(|l| {
                if l % 9 == 4 {
                    return Vec::new();
                }
                let mut ids: Vec<String> = (0..(l * 17) % 70)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let n = (x >> 33) % 3_000;
                        match n % 5 {
                            0 => format!("{n}"),
                            1 => format!("{n:05}"),
                            2 => format!("{n:017}X"),
                            3 if n % 10 == 3 => format!("学号-0000000000000-{n}"),
                            3 => format!("P.{n}"),
                            _ => format!("E{n:08}"),
                        }
                    })
                    .collect();
                ids.push(if l % 50 == 7 {
                    String::new()
                } else {
                    format!("late.{l}")
                });
                ids
            })
            .collect();
        let lists: Vec<IdList> = rows
            .iter()
            .map(|ids| {
                let mut table = IdTable::default();
                for id in ids {
                    let id = Id::of(pack(id), id);
                    table.intern(id, id.hash());
                }
                table.close();
                table.into_ids()
            })
            .collect();
        // Interned in turn, by their text.
        let mut numbers: std::collections::HashMap<&str, u32> = Default::default();
        let mut names: Vec<&str> = Vec::new();
        let expected: Vec<Vec<u32>> = rows
            .iter()
            .map(|ids| {
                let mut listed: Vec<&str> = Vec::new();
                for id in ids {
                    if !listed.contains(&id.as_str()) {
                        listed.push(id);
                    }
                }
                listed
                    .into_iter()
                    .map(|id| {
                        *numbers.entry(id).or_insert_with(|| {
                            names.push(id);
                            names.len() as u32 - 1
                        })
                    })
                    .collect()
            })
            .collect();
        for threads in [1, 3] {
            let pool = crate::testing::pool(threads);
            let (merged, maps) =
                pool.install(|| number_first_seen(&lists.iter().collect::<Vec<_>>()));
            assert_eq!(
                merged.iter().collect::<Vec<_>>(),
                names,
                "threads {threads}"
            );
            assert_eq!(maps, expected, "threads {threads}");
        }
        let (none, no_maps) = number_first_seen(&[]);
        assert!(none.is_empty() && no_maps.is_empty());
    }

    /// A closed table keeps its IDs and takes no more.
    #[test]
    #[should_panic(expected = "closed table")]
    fn a_closed_table_takes_no_more_ids() {
        let mut table = IdTable::default();
        let id = Id::of(pack("2000000001"), "2000000001");
        assert_eq!(table.intern(id, id.hash()), (0, true));
        table.close();
        assert_eq!(table.ids().name(0, &mut [0; 18]), "2000000001");
        table.intern(id, id.hash());
    }

    #[test]
    fn keys_are_one_to_one_and_unpack_to_their_ids() {
        let ids = [
            "7",
            "07",
            "007",
            "0",
            "00",
            "2000000000",
            "22010010000001",
            "99999999999999999",
            "00000000000000000",
            "110101199003077777",
            "11010119900307777X",
            "000000000000000000",
            "999999999999999999",
            "99999999999999999X",
            "S1",
            "s1",
            "E12345678",
            "2019-00123",
            "__________",
            "-",
            "A",
            "0000000000A",
            "S2000000000",
            "ZZZZZZZZZZZ",
            "T22010010000001",
            "HSA00000012345",
            "A00000000000",
            "AB0000000000",
            "ABC000000000",
            "A0000000000000000",
            "ZZ999999999999999",
            "ZZZ99999999999999",
        ];
        let keys: Vec<u64> = ids.iter().map(|id| pack(id)).collect();
        assert!(
            keys.iter().all(|&k| k != UNPACKED && k & TEXT != TEXT),
            "{keys:?}"
        );
        let distinct: std::collections::BTreeSet<u64> = keys.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in [
            "",
            "11010119900307777x",
            "s2000000000",
            "S-000000000",
            "ABCD00000000",
            "A00000000000000000",
            "Ab0000000000",
            "A-0000000000",
            "A00000000000A",
            "1234567890123456789",
            "１２３",
            "12 3",
            "12/3",
            "12:3",
            "9999999999999999:",
        ] {
            assert_eq!(pack(id), UNPACKED, "{id}");
        }
        for (id, &key) in ids.iter().zip(&keys) {
            assert_eq!(unpacked(key), *id);
            assert_eq!(unpack(key, &mut [b'?'; 18]), *id);
        }
    }

    #[test]
    fn digits_are_read_a_word_at_a_time_as_one_at_a_time() {
        // Every length up to 17, and next to each digit every byte that is not one
        // (those just below '0' and above '9' among them), at every place.
        let one_at_a_time = |d: &[u8]| {
            d.iter().try_fold(0u64, |v, &c| {
                c.is_ascii_digit().then(|| v * 10 + u64::from(c - b'0'))
            })
        };
        for len in 0..=17 {
            let d: Vec<u8> = (0..len).map(|i| b"9081726354"[i % 10]).collect();
            assert_eq!(digits(&d), one_at_a_time(&d), "{d:?}");
            assert_eq!(digits(&vec![b'9'; len]), one_at_a_time(&vec![b'9'; len]));
            for at in 0..len {
                for c in 0..=u8::MAX {
                    let mut bad = d.clone();
                    bad[at] = c;
                    assert_eq!(digits(&bad), one_at_a_time(&bad), "{bad:?}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Every ID of the characters IDs may hold packs when it has a usual shape, and
        /// a key unpacks to its ID, so that distinct IDs never share a key.
        #[test]
        fn ids_of_any_allowed_characters_pack_one_to_one(
            id in "[0-9A-Za-z_-]{1,12}|[0-9]{1,19}|[0-9A-Z]{11}|[0-9]{17}[0-9Xx]|[A-Z]{0,4}[0-9]{7,17}[A-Z0-9]?",
        ) {
            let b = id.as_bytes();
            let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
            let usual = b.len() <= SHORT
                || (b.len() <= 17 && b.iter().all(u8::is_ascii_digit))
                || (b.len() == LONG && b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()))
                || ((12..=17).contains(&b.len())
                    && (1..=3).contains(&letters)
                    && b[letters..].iter().all(u8::is_ascii_digit))
                || (b.len() == 18
                    && b[..17].iter().all(u8::is_ascii_digit)
                    && (b[17].is_ascii_digit() || b[17] == b'X'));
            let key = pack(&id);
            proptest::prop_assert_eq!(key != UNPACKED, usual);
            if key != UNPACKED {
                proptest::prop_assert!(key & TEXT != TEXT);
                let mut out = [b'?'; 18];
                proptest::prop_assert_eq!(unpack(key, &mut out), id.as_str());
            }
        }
    }
}
