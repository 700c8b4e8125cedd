//! IDs packed into numbers. Person and tube IDs are nearly always digits (a student
//! number, a barcode) or a resident ID number; packed into a `u64`, such an ID is
//! hashed and compared as one number, and a table of them holds the number itself
//! instead of pointing at the text (a cache miss in a city's tables).

use foldhash::fast::FixedState;
use std::hash::BuildHasher;

/// The key of an ID that is not packed ([`pack`]).
pub const UNPACKED: u64 = u64::MAX;

/// Marks a key as standing for an ID kept as text elsewhere, its index in the low bits
/// (never a packed key: those have bits 61 and 62 clear). [`UNPACKED`] has those bits
/// set too: a key is tested for the mark only once it is packed or marked.
pub const TEXT: u64 = 0b011 << 61;

/// The bit of a packed resident ID number.
const RESIDENT: u64 = 1 << 63;

/// The ID itself as a number when it is one of the usual shapes: digits only, 1 to 17
/// of them, as `10^len + value` (below 2^58; the leading one keeps leading zeros
/// apart); a resident ID of 17 digits and a check character `0`–`9` or `X`, as
/// `2^63 | prefix * 11 + check` (below 2^63 + 2^60). Both are one-to-one and never
/// [`UNPACKED`]; any other ID is [`UNPACKED`].
pub fn pack(id: &str) -> u64 {
    let b = id.as_bytes();
    // Without a branch a digit: at most 17 of them, whatever they are, stay below 2^64.
    let digits = |d: &[u8]| {
        let (mut v, mut all) = (0u64, true);
        for &c in d {
            let digit = c.wrapping_sub(b'0');
            all &= digit < 10;
            v = v.wrapping_mul(10).wrapping_add(u64::from(digit));
        }
        all.then_some(v)
    };
    const POWERS: [u64; 18] = {
        let mut p = [1u64; 18];
        let mut i = 1;
        while i < 18 {
            p[i] = p[i - 1] * 10;
            i += 1;
        }
        p
    };
    match b.len() {
        len @ 1..=17 => digits(b).map_or(UNPACKED, |v| POWERS[len] + v),
        18 => {
            let check = match b[17] {
                c @ b'0'..=b'9' => Some(u64::from(c - b'0')),
                b'X' => Some(10),
                _ => None,
            };
            match (digits(&b[..17]), check) {
                (Some(prefix), Some(check)) => RESIDENT | (prefix * 11 + check),
                _ => UNPACKED,
            }
        }
        _ => UNPACKED,
    }
}

/// The hash of a packed key: hashing a number is cheaper than hashing its digits.
pub fn hash_packed(key: u64) -> u64 {
    debug_assert!(key != UNPACKED && key & TEXT != TEXT);
    FixedState::default().hash_one(key)
}

/// The ID a packed key stands for, written into `out`.
pub fn unpack(key: u64, out: &mut [u8; 18]) -> &str {
    debug_assert!(key != UNPACKED && key & TEXT != TEXT);
    let digits = |mut v: u64, out: &mut [u8]| {
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    let len = if key & RESIDENT != 0 {
        let v = key & !RESIDENT;
        let check = v % 11;
        digits(v / 11, &mut out[..17]);
        out[17] = if check == 10 {
            b'X'
        } else {
            b'0' + check as u8
        };
        18
    } else {
        // 10^len + value: the digits after the leading one.
        let len = key.ilog10() as usize;
        digits(key, &mut out[..len]);
        len
    };
    std::str::from_utf8(&out[..len]).expect("digits and X are ASCII")
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
            "S1",
            "11010119900307777x",
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
}
