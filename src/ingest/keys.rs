//! IDs packed into numbers. Person and tube IDs are nearly always digits (a student
//! number, a barcode), a resident ID number, or a short code of letters and digits (a
//! passport number, a staff number); packed into a `u64`, such an ID is hashed and
//! compared as one number, and a table of them holds the number itself instead of
//! pointing at the text (a cache miss in a city's tables).

use foldhash::fast::FixedState;
use std::hash::BuildHasher;

/// The key of an ID that is not packed ([`pack`]).
pub const UNPACKED: u64 = u64::MAX;

/// Marks a key as standing for an ID kept as text: its index in the low bits, or its
/// [`fingerprint`] (never a packed key: those have bits 61 and 62 clear). [`UNPACKED`]
/// has those bits set too: a key is tested for the mark only once it is packed or
/// marked.
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
///   36 after those (from 2^58, below 2^61).
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
        _ => None,
    };
    value.map_or(UNPACKED, |v| CODES + v)
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "T22010010000001",
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
            id in "[0-9A-Za-z_-]{1,12}|[0-9]{1,19}|[0-9A-Z]{11}|[0-9]{17}[0-9Xx]",
        ) {
            let b = id.as_bytes();
            let usual = b.len() <= SHORT
                || (b.len() <= 17 && b.iter().all(u8::is_ascii_digit))
                || (b.len() == LONG && b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()))
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
