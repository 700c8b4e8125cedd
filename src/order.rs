//! The orders of output rows. Buildings, rooms and rounds sort in natural order, so
//! `公寓2` comes before `公寓10`.

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

/// The rank of each of `names` in natural order (0 for the first): sorting by rank
/// sorts by name, at the cost of one sort of the names.
pub fn natural_ranks(names: &[Box<str>]) -> Vec<u32> {
    use rayon::prelude::*;
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.par_sort_by(|&a, &b| natural_cmp(&names[a as usize], &names[b as usize]));
    let mut rank = vec![0; names.len()];
    for (i, &n) in order.iter().enumerate() {
        rank[n as usize] = i as u32;
    }
    rank
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
}
