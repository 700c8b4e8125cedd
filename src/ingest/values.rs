//! Parsers for the values of input cells. Each takes a cleaned cell (see
//! [`crate::normalize::clean`]) and returns the typed value or a reason a person can act
//! on. Reasons never quote the cell: the raw line sits beside them in `rejects.csv`.

use crate::record::{Class, Ct, Micros, Role, Status};

/// The longest person ID, in characters.
pub const MAX_PERSON_ID: usize = 32;
/// The longest tube ID, in characters.
pub const MAX_TUBE_ID: usize = 40;
/// The highest Ct value accepted, in cycles.
pub const MAX_CT: f64 = 50.0;

/// Checks an ID of 1 to `max` characters of `A-Z a-z 0-9 - _`.
pub fn id(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("is empty; every row needs this ID".into());
    }
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
    if ct <= 0.0 || ct > MAX_CT {
        return Err("is out of range: a Ct value must be above 0 and at most 50 cycles".into());
    }
    Ok(Some(ct))
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
    TOKENS.iter().any(|t| value.eq_ignore_ascii_case(t))
}

/// Parses a lab call; empty means no call.
pub fn lab_call(value: &str) -> Result<Option<Class>, String> {
    let is = |names: &[&str]| names.iter().any(|n| value.eq_ignore_ascii_case(n));
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
    } else {
        return Err("is not a lab call: expected negative/阴性, positive/阳性, suspect/可疑/inconclusive or invalid/无效".into());
    }))
}

/// Parses a role; empty means student.
pub fn role(value: &str) -> Result<Role, String> {
    let is = |names: &[&str]| names.iter().any(|n| value.eq_ignore_ascii_case(n));
    if value.is_empty() || is(&["student", "学生"]) {
        Ok(Role::Student)
    } else if is(&["staff", "教职工", "教师"]) {
        Ok(Role::Staff)
    } else {
        Err("is not a role: expected student/学生 or staff/教职工/教师".into())
    }
}

/// Parses a status; empty means on campus.
pub fn status(value: &str) -> Result<Status, String> {
    let is = |names: &[&str]| names.iter().any(|n| value.eq_ignore_ascii_case(n));
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
/// 7 to 14. Values that are not 18 characters long are other documents (a passport, a
/// Hong Kong or Macao permit) and are accepted as they are, unless they are all digits.
pub fn id_card(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    if bytes.len() != 18 {
        if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) {
            return Err(format!(
                "has {} digits; a resident ID card number has 18 characters",
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

/// Parses a local China Standard Time timestamp in one of the accepted forms into
/// microseconds since the Unix epoch, UTC.
///
/// Accepted: `YYYY-MM-DD HH:MM[:SS]`, `YYYY/M/D H:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]` and
/// `YYYY年M月D日 H:MM[:SS]`. Month, day and hour take one or two digits in every form.
pub fn timestamp(value: &str) -> Result<Micros, String> {
    parse_timestamp(value).ok_or_else(|| timestamp_reason(value))
}

fn parse_timestamp(value: &str) -> Option<Micros> {
    if let Some(micros) = parse_canonical(value.as_bytes()) {
        return Some(micros);
    }
    let mut s = Cursor { rest: value };
    let year = s.digits(4, 4)?;
    let sep = if s.eat("-") {
        '-'
    } else if s.eat("/") {
        '/'
    } else if s.eat("年") {
        '年'
    } else {
        return None;
    };
    let month = s.digits(1, 2)?;
    match sep {
        '-' => s.eat("-").then_some(())?,
        '/' => s.eat("/").then_some(())?,
        _ => s.eat("月").then_some(())?,
    }
    let day = s.digits(1, 2)?;
    if sep == '年' {
        s.eat("日").then_some(())?;
        s.rest = s.rest.trim_start_matches(' ');
    } else if !s.eat("T") {
        let before = s.rest.len();
        s.rest = s.rest.trim_start_matches(' ');
        if s.rest.len() == before {
            return None;
        }
    }
    let hour = s.digits(1, 2)?;
    s.eat(":").then_some(())?;
    let minute = s.digits(2, 2)?;
    let second = if s.eat(":") { s.digits(2, 2)? } else { 0 };
    if !s.rest.is_empty() {
        return None;
    }
    to_micros(year, month, day, hour, minute, second)
}

/// The common form `YYYY-MM-DD HH:MM:SS`, read without a cursor.
fn parse_canonical(b: &[u8]) -> Option<Micros> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + (d - b'0') as u32)
        })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    to_micros(year, month, day, hour, minute, second)
}

fn to_micros(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Option<Micros> {
    if hour > 23 || minute > 59 || second > 59 || !valid_date(year as i64, month, day) {
        return None;
    }
    let days = days_from_civil(year as i64, month, day);
    let local = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64;
    Some((local - 8 * 3600) * 1_000_000)
}

fn timestamp_reason(value: &str) -> String {
    if value.is_empty() {
        return "is empty; every sample needs the time it was taken".into();
    }
    let serial = value
        .parse::<f64>()
        .is_ok_and(|v| (1.0..2_958_466.0).contains(&v));
    if serial {
        return "looks like an Excel date serial number; format the column as a date and time (YYYY-MM-DD HH:MM) before saving as CSV".into();
    }
    if parse_date_only(value) {
        return "has a date but no time; write YYYY-MM-DD HH:MM".into();
    }
    "is not a date and time poolscreen reads (a real date, hours 0-23): use YYYY-MM-DD HH:MM[:SS], YYYY/M/D H:MM[:SS], YYYY-MM-DDTHH:MM[:SS] or YYYY年M月D日 H:MM[:SS]".into()
}

fn parse_date_only(value: &str) -> bool {
    parse_timestamp(&format!("{value} 00:00")).is_some()
}

struct Cursor<'a> {
    rest: &'a str,
}

impl Cursor<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self
            .rest
            .bytes()
            .take(max)
            .take_while(u8::is_ascii_digit)
            .count();
        if n < min {
            return None;
        }
        let v = self.rest[..n].parse().ok()?;
        self.rest = &self.rest[n..];
        Some(v)
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }
}

/// Whether `y-m-d` is a real day of the proleptic Gregorian calendar.
pub fn valid_date(y: i64, m: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Days from 1970-01-01 to `y-m-d` (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(y, m, d)` of a day count from 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats a timestamp as local China Standard Time, `YYYY-MM-DD HH:MM:SS`.
pub fn format_local(micros: Micros) -> String {
    let secs = micros.div_euclid(1_000_000) + 8 * 3600;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// The local China Standard Time calendar date of a timestamp, `YYYY-MM-DD`.
pub fn local_date(micros: Micros) -> String {
    format_local(micros)[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Option<String> {
        timestamp(s).ok().map(format_local)
    }

    #[test]
    fn every_timestamp_form_parses() {
        let want = Some("2022-04-03 08:05:00".to_string());
        assert_eq!(ts("2022-04-03 08:05"), want);
        assert_eq!(ts("2022-04-03 08:05:00"), want);
        assert_eq!(ts("2022/4/3 8:05"), want);
        assert_eq!(ts("2022/4/3 8:05:00"), want);
        assert_eq!(ts("2022-04-03T08:05"), want);
        assert_eq!(ts("2022年4月3日 8:05"), want);
        assert_eq!(ts("2022年4月3日8:05:00"), want);
    }

    #[test]
    fn china_standard_time_is_utc_plus_8() {
        assert_eq!(timestamp("1970-01-01 08:00").unwrap(), 0);
    }

    #[test]
    fn impossible_timestamps_are_rejected() {
        for bad in [
            "2022-02-30 08:00",
            "2022-04-03 24:00",
            "2022-04-03 8:60",
            "44652.375",
            "2022-04-03",
            "2022-04-03 08:05:00.5",
            "tomorrow",
        ] {
            assert!(timestamp(bad).is_err(), "{bad}");
        }
        assert!(timestamp("44652.375")
            .unwrap_err()
            .contains("Excel date serial"));
        assert!(timestamp("2022-04-03").unwrap_err().contains("no time"));
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
    fn ids_and_excel_damage() {
        assert!(id("2021000123", 32).is_ok());
        assert!(id("A-1_b", 32).is_ok());
        assert!(id("", 32).is_err());
        assert!(id(&"9".repeat(33), 32).is_err());
        assert!(id("1.10101E+17", 32).unwrap_err().contains("Excel"));
        assert!(id("2021000123.0", 32).unwrap_err().contains("Excel"));
        assert!(!id("20 21", 32).unwrap_err().contains("Excel"));
    }

    #[test]
    fn id_cards() {
        assert!(id_card("11010519491231002X").is_ok());
        assert!(id_card("110105194912310021").is_err());
        assert!(id_card("110105194902300027").is_err());
        assert!(id_card("E12345678").is_ok());
        assert!(id_card("12345").is_err());
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 1, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
