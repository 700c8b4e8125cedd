//! Parsers for the values of input cells. Each takes a cleaned cell (see
//! [`crate::normalize::clean`]) and returns the typed value or a reason a person can act
//! on. Reasons never quote the cell: the raw line sits beside them in `rejects.csv`.

use crate::record::{Class, Ct, Role, Status};
use crate::time::valid_date;
use std::cmp::Ordering;

/// The longest person ID, in characters.
pub const MAX_PERSON_ID: usize = 32;
/// The longest tube ID, in characters.
pub const MAX_TUBE_ID: usize = 40;
/// The highest Ct value accepted, in cycles.
pub const MAX_CT: f64 = 50.0;

/// A priority group of the roster's `group` column (重点人群), or `None` when the cell
/// is empty: people of such a group are swabbed alone, never into a pool.
pub fn group(value: &str) -> Result<Option<&'static str>, String> {
    let is = |names: &[&str]| is_named(value, names);
    if value.is_empty() {
        Ok(None)
    } else if is(&["key_area", "重点地区"]) {
        Ok(Some("key_area"))
    } else if is(&["close_contact", "密接"]) {
        Ok(Some("close_contact"))
    } else if is(&["fever", "发热"]) {
        Ok(Some("fever"))
    } else {
        Err("is not a priority group: write key_area (重点地区), close_contact (密接) or fever (发热), or leave it empty".into())
    }
}

/// The bytes an ID may hold: `A-Z a-z 0-9 - _`.
const ID_BYTE: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        allowed[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    allowed
};

/// Checks an ID of 1 to `max` characters of `A-Z a-z 0-9 - _`.
pub fn id(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("is empty; every row needs this ID".into());
    }
    // Every byte looked up, without a branch for each: two IDs a sample row, and the
    // answer is nearly always yes.
    if value
        .bytes()
        .fold(true, |all, b| all & ID_BYTE[usize::from(b)])
    {
        if value.len() > max {
            return Err(format!(
                "is {} characters long; at most {max} are allowed",
                value.len()
            ));
        }
        return Ok(());
    }
    if looks_like_excel_number(value) {
        return Err("looks like a number Excel reformatted (scientific notation, a trailing .0, or more than 15 digits, which Excel cannot keep), so digits may be lost; format the column as Text in Excel and type or export the IDs again".into());
    }
    Err(format!(
        "may hold only letters, digits, '-' and '_' (1 to {max} characters)"
    ))
}

/// `1.10101E+17` or `2021000123.0`: what Excel makes of a long number.
fn looks_like_excel_number(value: &str) -> bool {
    let (mantissa, exponent) = match value.find(['e', 'E']) {
        Some(i) => (&value[..i], Some(&value[i + 1..])),
        None => (value, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    let mut parts = mantissa.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let frac = parts.next();
    let whole_ok = !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()));
    whole_ok && frac_ok && exponent_ok && (exponent.is_some() || frac.is_some())
}

/// Parses a Ct value: a decimal number in (0, 50], or one of the spellings of "not
/// detected".
pub fn ct(value: &str) -> Result<Ct, String> {
    if is_not_detected(value) {
        return Ok(None);
    }
    let plain = !value.is_empty()
        && value.bytes().filter(|&b| b == b'.').count() <= 1
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        if value.contains(',') && value.replace(',', ".").parse::<f64>().is_ok() {
            return Err(
                "is not a Ct value: write the decimal separator as a dot (38.5), not a comma"
                    .into(),
            );
        }
        return Err("is not a Ct value: expected a number above 0 and at most 50, or empty / - / N/A / No Ct / Undetermined / 未检出 for not detected".into());
    }
    let ct: f64 = value
        .parse()
        .map_err(|_| "is not a Ct value: expected a number such as 38.5".to_string())?;
    // A value so small that it reads as 0 is out of range as 0 is, not a Ct of the
    // least double above it.
    let ct = if ct > 0.0 {
        beside_its_rounding(value, ct)
    } else {
        ct
    };
    if ct <= 0.0 || ct > MAX_CT {
        return Err("is out of range: a Ct value must be above 0 and at most 50 cycles".into());
    }
    Ok(Some(ct))
}

/// `ct`, read from the plain decimal `value`, moved by the least step a double takes
/// toward `value` when `value` has more digits than a double keeps (over 15
/// significant ones) and rounds onto a double whose shortest decimal has at most 15
/// significant digits (and no exponent: 0.00001 or more), as every threshold has:
/// `40.000000000000001` rounds to `40`, and would then be detected at a cutoff of 40,
/// and `50.0000000000000001` accepted below the top of 50. Moved, it compares with
/// every such threshold (the rules' as read from their file, 50) as the decimal written
/// does; no two neighbouring doubles both have so short a decimal, so the step crosses
/// no other. A value rounded onto a double of a longer decimal is left as it is: no
/// such threshold is there to cross, and the step might cross one.
fn beside_its_rounding(value: &str, ct: f64) -> f64 {
    // Up to 15 significant digits, a decimal is its double's shortest decimal.
    if value.len() <= 15 {
        return ct;
    }
    let mut shortest = ryu::Buffer::new();
    let shortest = shortest.format_finite(ct);
    let (whole, fraction) = decimal_parts(shortest);
    let significant = match whole {
        "" => fraction.trim_start_matches('0').len(),
        _ => whole.len() + fraction.len(),
    };
    if shortest.contains(['e', 'E']) || significant > 15 {
        return ct;
    }
    match decimal_cmp(value, shortest) {
        Ordering::Greater => ct.next_up(),
        Ordering::Less => ct.next_down(),
        Ordering::Equal => ct,
    }
}

/// A plain decimal's digits before its dot without leading zeros, and after it without
/// trailing ones.
fn decimal_parts(s: &str) -> (&str, &str) {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    (
        whole.trim_start_matches('0'),
        fraction.trim_end_matches('0'),
    )
}

/// Compares two plain decimals (digits with at most one dot) by value.
fn decimal_cmp(a: &str, b: &str) -> Ordering {
    let ((a_whole, a_fraction), (b_whole, b_fraction)) = (decimal_parts(a), decimal_parts(b));
    a_whole
        .len()
        .cmp(&b_whole.len())
        .then_with(|| a_whole.cmp(b_whole))
        .then_with(|| a_fraction.cmp(b_fraction))
}

fn is_not_detected(value: &str) -> bool {
    const TOKENS: [&str; 10] = [
        "",
        "-",
        "—",
        "/",
        "n/a",
        "na",
        "no ct",
        "noct",
        "undetermined",
        "未检出",
    ];
    is_named(value, &TOKENS)
}

/// Parses a lab call; empty means no call.
pub fn lab_call(value: &str) -> Result<Option<Class>, String> {
    let is = |names: &[&str]| is_named(value, names);
    Ok(Some(if value.is_empty() {
        return Ok(None);
    } else if is(&["negative", "阴性"]) {
        Class::Negative
    } else if is(&["positive", "阳性"]) {
        Class::Positive
    } else if is(&["suspect", "可疑", "inconclusive"]) {
        Class::Suspect
    } else if is(&["invalid", "无效"]) {
        Class::Invalid
    } else if is(&PENDING) {
        return Err("is pending, which only a retests file may say (a person swabbed again, no result yet); a results file has a row per tube tested: leave the row out until the tube has its result".into());
    } else {
        return Err("is not a lab call: expected negative/阴性, positive/阳性, suspect/可疑/inconclusive or invalid/无效".into());
    }))
}

/// The words of a retest not yet tested.
const PENDING: [&str; 3] = ["pending", "待检", "检测中"];

/// Parses the call of a retests row: a lab call, or `pending` (待检, 检测中) for a
/// person swabbed again whose result has not come.
pub fn retest_call(value: &str) -> Result<Option<Class>, String> {
    if is_named(value, &PENDING) {
        return Ok(Some(Class::Pending));
    }
    lab_call(value).map_err(|_| {
        "is not a retest call: expected negative/阴性, positive/阳性, suspect/可疑/inconclusive, invalid/无效 or pending/待检/检测中".into()
    })
}

/// Parses a role; empty means student.
pub fn role(value: &str) -> Result<Role, String> {
    let is = |names: &[&str]| is_named(value, names);
    if value.is_empty() || is(&["student", "学生"]) {
        Ok(Role::Student)
    } else if is(&["staff", "教职工", "教师"]) {
        Ok(Role::Staff)
    } else {
        Err("is not a role: expected student/学生 or staff/教职工/教师".into())
    }
}

/// Whether `value` is one of `names`, ASCII case aside. The same bytes are looked for
/// first: nearly every cell writes its word as the list does, and a comparison of bytes
/// costs less than folding the case of each.
fn is_named(value: &str, names: &[&str]) -> bool {
    names.contains(&value) || names.iter().any(|n| value.eq_ignore_ascii_case(n))
}

/// Parses a status; empty means on campus.
pub fn status(value: &str) -> Result<Status, String> {
    let is = |names: &[&str]| is_named(value, names);
    if value.is_empty() || is(&["on_campus", "在校"]) {
        Ok(Status::OnCampus)
    } else if is(&["on_leave", "离校", "请假"]) {
        Ok(Status::OnLeave)
    } else if is(&["isolated", "隔离", "留观"]) {
        Ok(Status::Isolated)
    } else {
        Err(
            "is not a status: expected on_campus/在校, on_leave/离校/请假 or isolated/隔离/留观"
                .into(),
        )
    }
}

/// Checks a resident ID card number (GB 11643-1999): 17 digits, then a check
/// character (a digit or `X`) by ISO 7064 MOD 11-2, with a real birth date in digits
/// 7 to 14; or a first-generation number, 15 digits with a real birth date (19YYMMDD)
/// in digits 7 to 12. Other values are other documents (a passport, a Hong Kong or
/// Macao permit) and are accepted as they are, unless they are all digits or a number
/// as Excel rewrites one (`1.10101E+17`, a trailing `.0`).
pub fn id_card(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    if looks_like_excel_number(value) {
        return Err("looks like an ID card number Excel reformatted (scientific notation or a trailing .0), so digits may be lost; format the column as Text in Excel and type or export the numbers again".into());
    }
    let all_digits = !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
    if bytes.len() == 15 && all_digits {
        // A first-generation number (before 1999): its birth date is YYMMDD of 19YY, and
        // it has no check digit. A roster kept for years still holds some; the column
        // being optional, a person is not taken off the roster for an old number.
        if !crate::privacy::is_resident_id(value) {
            return Err("has 15 digits, as a first-generation ID card number has, but holds no real birth date in digits 7 to 12".into());
        }
        return Ok(());
    }
    if bytes.len() != 18 {
        if all_digits {
            return Err(format!(
                "has {} digits; a resident ID card number has 18 characters (15 digits for one of the first generation)",
                bytes.len()
            ));
        }
        return Ok(());
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X' || bytes[17] == b'x')
    {
        return Err(
            "is not a resident ID card number: expected 17 digits and a check digit or X".into(),
        );
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    if CHECK[(sum % 11) as usize] != bytes[17].to_ascii_uppercase() {
        return Err(
            "fails the ID card check digit (GB 11643-1999); a digit was probably mistyped".into(),
        );
    }
    let num = |r: std::ops::Range<usize>| value[r].parse::<u32>().unwrap_or(0);
    let (y, m, d) = (num(6..10), num(10..12), num(12..14));
    if !(1900..=2100).contains(&y) || !valid_date(y as i64, m, d) {
        return Err("holds no real birth date in digits 7 to 14".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_whatever_their_ascii_case() {
        for (word, other) in [
            ("student", "STUDENT"),
            ("staff", "Staff"),
            ("on_campus", "On_Campus"),
            ("on_leave", "ON_LEAVE"),
            ("isolated", "Isolated"),
        ] {
            let (role_of, status_of) = (role(word).ok(), status(word).ok());
            assert!(role_of.is_some() || status_of.is_some(), "{word}");
            assert_eq!(role(other).ok(), role_of, "{other}");
            assert_eq!(status(other).ok(), status_of, "{other}");
        }
        for (word, other) in [
            ("negative", "NEGATIVE"),
            ("positive", "Positive"),
            ("suspect", "SUSPECT"),
            ("inconclusive", "Inconclusive"),
            ("invalid", "INVALID"),
        ] {
            assert_eq!(lab_call(other), lab_call(word), "{other}");
            assert_eq!(retest_call(other), retest_call(word), "{other}");
            assert!(lab_call(other).is_ok_and(|c| c.is_some()), "{other}");
        }
        assert_eq!(retest_call("PENDING"), retest_call("pending"));
        assert!(retest_call("Pending").is_ok_and(|c| c == Some(Class::Pending)));
        assert_eq!(group("Close_Contact"), Ok(Some("close_contact")));
        assert_eq!(group("FEVER"), Ok(Some("fever")));
        assert_eq!(ct("N/A"), Ok(None));
        assert_eq!(ct("Undetermined"), Ok(None));
        // Words of another script are read as written; a cell is trimmed before it
        // comes here, so a word with a space left is no word.
        assert_eq!(status("在校"), Ok(Status::OnCampus));
        assert!(status("在校 ").is_err());
    }

    #[test]
    fn a_ct_with_more_digits_than_a_double_keeps_stays_on_its_side_of_a_threshold() {
        let at = |text: &str| ct(text).unwrap().unwrap();
        // Rounded to 40, it would be detected at the default cutoff of 40.
        assert!(at("40.000000000000001") > 40.0);
        assert!(at("39.9999999999999999") < 40.0);
        assert_eq!(at("40.000000000000000000"), 40.0);
        assert_eq!(at("0040.0000000000000"), 40.0);
        // Above the top of 50, though it rounds to 50.
        assert!(ct("50.0000000000000001").is_err());
        assert_eq!(at("49.99999999999999999"), 50f64.next_down());
        // A value of up to 15 digits is read as it always was.
        assert_eq!(at("38.12345678901"), 38.12345678901);
        // Below 1: significant digits counted from the first that is not 0.
        assert!(at("0.0123456789012340000001") > 0.012345678901234);
        // So small it reads as 0: out of range, as 0 is.
        assert!(ct(&format!("0.{}1", "0".repeat(400))).is_err());
    }

    proptest::proptest! {
        /// Any decimal of up to 25 fraction digits near a threshold of up to 15 digits
        /// compares with that threshold's double as the two decimals compare.
        #[test]
        fn a_ct_compares_with_a_threshold_as_its_decimal_does(
            whole in 1u128..50,
            fraction in 0u128..1000,
            delta in -100_000_000_000i128..100_000_000_000,
        ) {
            const DIGITS: u32 = 25;
            let threshold = format!("{whole}.{fraction:03}");
            let scaled = (whole * 10u128.pow(DIGITS) + fraction * 10u128.pow(DIGITS - 3)) as i128
                + delta;
            let scale = 10i128.pow(DIGITS);
            let text = format!("{}.{:025}", scaled / scale, scaled % scale);
            let limit: f64 = threshold.parse().unwrap();
            let read = ct(&text).unwrap().unwrap();
            proptest::prop_assert_eq!(
                read.partial_cmp(&limit),
                Some(delta.cmp(&0)),
                "{} against {}", text, threshold
            );
        }
    }

    #[test]
    fn ct_values_and_not_detected_spellings() {
        assert_eq!(ct("38.5"), Ok(Some(38.5)));
        assert_eq!(ct("50"), Ok(Some(50.0)));
        for nd in [
            "",
            "-",
            "—",
            "/",
            "N/A",
            "na",
            "No Ct",
            "NOCT",
            "undetermined",
            "未检出",
        ] {
            assert_eq!(ct(nd), Ok(None), "{nd}");
        }
        for bad in ["0", "-3", "51", "NaN", "1e3", "inf", "38,5", "3.8.5", "."] {
            assert!(ct(bad).is_err(), "{bad}");
        }
        assert!(ct("38,5").unwrap_err().contains("dot"));
    }

    #[test]
    fn pending_is_a_retest_call_only() {
        assert_eq!(retest_call("待检"), Ok(Some(Class::Pending)));
        assert_eq!(retest_call("PENDING"), Ok(Some(Class::Pending)));
        assert!(lab_call("检测中")
            .unwrap_err()
            .contains("only a retests file"));
        assert!(lab_call("maybe").unwrap_err().contains("is not a lab call"));
    }

    #[test]
    fn ids_and_excel_damage() {
        assert!(id("2021000123", 32).is_ok());
        assert!(id("A-1_b", 32).is_ok());
        assert!(id("", 32).is_err());
        assert!(id(&"9".repeat(33), 32).is_err());
        assert!(id("1.10101E+17", 32).unwrap_err().contains("Excel"));
        assert!(id("2021000123.0", 32).unwrap_err().contains("Excel"));
        assert!(!id("20 21", 32).unwrap_err().contains("Excel"));
        // Every byte, first, inside and last: only letters, digits, '-' and '_' pass.
        for b in 0..=u8::MAX {
            let allowed = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            for bytes in [vec![b], vec![b'A', b, b'1'], vec![b'7', b]] {
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    assert_eq!(id(text, 32).is_ok(), allowed, "{bytes:?}");
                }
            }
        }
        for other in ["é", "１２３", "A\u{00A0}1", "2021\u{200B}"] {
            assert!(id(other, 32).is_err(), "{other}");
        }
    }

    #[test]
    fn id_cards() {
        assert!(id_card("11010519491231002X").is_ok());
        assert!(id_card("110105194912310021").is_err());
        assert!(id_card("110105194902300027").is_err());
        assert!(id_card("E12345678").is_ok());
        assert!(id_card("12345").is_err());
        // First-generation numbers: 15 digits, a birth date of 19YYMMDD, no check digit.
        assert!(id_card("110105491231002").is_ok());
        assert!(id_card("110105490230002").is_err());
        assert!(id_card("110105491331002").is_err());
        assert!(id_card("1101054912310021").is_err());
        // What Excel makes of an ID card number typed as a number.
        for mangled in [
            "1.10101E+17",
            "110101199003074514.0",
            "1.1010519900307451E17",
        ] {
            assert!(id_card(mangled).unwrap_err().contains("Excel"), "{mangled}");
        }
    }
}
