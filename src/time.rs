//! Time: the accepted timestamp forms of the inputs, and local China Standard Time
//! (UTC+8, no daylight saving since 1991) for every time poolscreen writes. Timestamps
//! are microseconds since the Unix epoch, UTC.

use crate::record::Micros;

/// Parses a local China Standard Time timestamp in one of the accepted forms into
/// microseconds since the Unix epoch, UTC.
///
/// Accepted: `YYYY-MM-DD HH:MM[:SS]`, `YYYY/M/D H:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]` and
/// `YYYY年M月D日 H:MM[:SS]`, as the contract writes them: month, day and hour take two
/// digits in the forms with `-`, one or two in the others; anything else is no
/// timestamp (`2022-4-10 9:50` is not read as a guess).
pub fn timestamp(value: &str) -> Result<Micros, String> {
    LastDate::default().timestamp(value)
}

/// Reads `value` in one of the accepted forms; not `strict`, a one-digit month, day or
/// hour and several spaces are read in every form too (only to say what is wrong).
fn parse_form(value: &str, strict: bool) -> Option<Micros> {
    let (date, time) = date_part(value, strict)?;
    date.at(time)
}

/// The date of a timestamp as read: its day from 1970-01-01, and the fewest digits its
/// hour takes.
#[derive(Clone, Copy, Debug)]
struct Date {
    day: i64,
    fewest: usize,
}

impl Date {
    /// The instant of the time of day `time` (`H:MM[:SS]`) on this date.
    fn at(self, time: &str) -> Option<Micros> {
        let (hour, minute, second) = time_of_day(time.as_bytes(), self.fewest)?;
        local_micros(self.day, hour, minute, second)
    }
}

/// The first year a timestamp may have: no round was sampled before it, the workbooks
/// poolscreen writes (in Excel's 1900 date system) show no earlier date, and a year
/// such as `0000` or `0022` is a slip of the keyboard (the year 0 is no year of the
/// calendar, and the Parquet readers of some languages read no instant before the
/// year 1).
const FIRST_YEAR: u32 = 1900;

/// Reads the date of `value`, a real one, and the space (or `T`) after it; returns the
/// date and the rest of `value`, its time of day.
fn date_part(value: &str, strict: bool) -> Option<(Date, &str)> {
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
    // `MM`, `DD` and `HH` in the forms with `-`; `M`, `D` and `H` in the others.
    let fewest = if sep == '-' && strict { 2 } else { 1 };
    let month = s.digits(fewest, 2)?;
    match sep {
        '-' => s.eat("-").then_some(())?,
        '/' => s.eat("/").then_some(())?,
        _ => s.eat("月").then_some(())?,
    }
    let day = s.digits(fewest, 2)?;
    if sep == '年' {
        s.eat("日").then_some(())?;
    }
    if sep == '-' && s.eat("T") {
        // `YYYY-MM-DDTHH:MM`: no space.
    } else if strict {
        s.eat(" ").then_some(())?;
    } else {
        let before = s.rest.len();
        s.rest = s.rest.trim_start_matches(' ');
        if s.rest.len() == before {
            return None;
        }
    }
    if year < FIRST_YEAR || !valid_date(year as i64, month, day) {
        return None;
    }
    let day = days_from_civil(year as i64, month, day);
    Some((Date { day, fewest }, s.rest))
}

/// `H:MM[:SS]`, the hour of `fewest` to two digits, minutes and seconds of two, and
/// nothing after them.
fn time_of_day(b: &[u8], fewest: usize) -> Option<(u32, u32, u32)> {
    if let [h1, h2, b':', m1, m2, b':', s1, s2] = *b {
        // `HH:MM:SS`, the form of nearly every platform's export.
        return Some((number(&[h1, h2])?, number(&[m1, m2])?, number(&[s1, s2])?));
    }
    let h = b.iter().take(2).take_while(|d| d.is_ascii_digit()).count();
    if h < fewest {
        return None;
    }
    let hour = number(&b[..h])?;
    let rest = b[h..].strip_prefix(b":")?;
    let minute = number(rest.get(..2)?)?;
    let second = match rest[2..] {
        [] => 0,
        [b':', tens, ones] => number(&[tens, ones])?,
        _ => return None,
    };
    Some((hour, minute, second))
}

/// The number the ASCII digits `digits` write; `None` when one is no digit.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + (d - b'0') as u32)
    })
}

/// The date of the last timestamp read whose date is a real one, as written with the
/// space (or `T`) after it, and that date as read. A round's rows are nearly all of a
/// day or two, in whatever order and form, so a row that starts with the same bytes
/// reads only its time of day: each date is worked out once instead of once a row.
/// Kept by each chunk of rows; it changes no result.
#[derive(Clone, Copy, Debug, Default)]
pub struct LastDate(Option<([u8; LastDate::LONGEST], usize, Date)>);

impl LastDate {
    /// The longest date kept, in bytes (`2022年04月03日 `: 18).
    const LONGEST: usize = 24;

    /// [`timestamp`], the date taken from the last one when it is written the same.
    pub fn timestamp(&mut self, value: &str) -> Result<Micros, String> {
        let micros = match self.0 {
            // The bytes kept end at the space or `T`, so the rest is the time of day.
            Some((written, len, date)) if value.as_bytes().starts_with(&written[..len]) => {
                date.at(&value[len..])
            }
            _ => date_part(value, true).and_then(|(date, time)| {
                let len = value.len() - time.len();
                if len <= Self::LONGEST {
                    let mut written = [0; Self::LONGEST];
                    written[..len].copy_from_slice(&value.as_bytes()[..len]);
                    self.0 = Some((written, len, date));
                }
                date.at(time)
            }),
        };
        micros.ok_or_else(|| timestamp_reason(value))
    }
}

/// The instant of `hour:minute:second`, China Standard Time, on day `days` from
/// 1970-01-01; `None` when the time of day is no real one.
fn local_micros(days: i64, hour: u32, minute: u32, second: u32) -> Option<Micros> {
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
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
    // Four digits, then a date's separator.
    let year = value
        .get(..4)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
        .filter(|_| value[4..].starts_with(['-', '/', '年']))
        .and_then(|y| y.parse::<u32>().ok());
    if year.is_some_and(|y| y < FIRST_YEAR) {
        return format!("has a year before {FIRST_YEAR}; check the year (a timestamp is of a round's day, such as 2022-04-10 08:05)");
    }
    if parse_form(value, false).is_some() {
        return "is a date and time, but not written in one of the forms poolscreen reads: the form with '-' takes two digits for month, day and hour (2022-04-10 08:05, or 2022/4/10 8:05), and one space before the time".into();
    }
    "is not a date and time poolscreen reads (a real date, hours 0-23): use YYYY-MM-DD HH:MM[:SS], YYYY/M/D H:MM[:SS], YYYY-MM-DDTHH:MM[:SS] or YYYY年M月D日 H:MM[:SS]".into()
}

fn parse_date_only(value: &str) -> bool {
    parse_form(&format!("{value} 00:00"), false).is_some()
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
        assert_eq!(ts("2022年04月03日 08:05:00"), want);
        assert_eq!(ts("2022/04/03 08:05"), want);
    }

    #[test]
    fn forms_the_contract_does_not_name_are_rejected() {
        for other in [
            "2022-4-03 08:05",
            "2022-04-3 08:05",
            "2022-04-03 8:05",
            "2022-04-03T8:05",
            "2022-04-03 08:5",
            "2022年4月3日8:05",
            "2022/4/3T8:05",
            "2022/4/38:05",
            "2022-04-03  08:05",
        ] {
            assert!(timestamp(other).is_err(), "{other}");
        }
        // The reason says what is wrong with a date and time written loosely.
        assert!(timestamp("2022-4-3 8:05")
            .unwrap_err()
            .contains("two digits"));
        assert!(timestamp("2022-4-3").unwrap_err().contains("no time"));
    }

    #[test]
    fn china_standard_time_is_utc_plus_8() {
        assert_eq!(timestamp("1970-01-01 08:00").unwrap(), 0);
    }

    #[test]
    fn impossible_timestamps_are_rejected() {
        for bad in [
            "2022-02-30 08:00",
            "2022-02-30 08:00:00",
            "2023-02-29 08:00:00",
            "2022-04-03 24:00",
            "2022-04-03 24:00:00",
            "2022-04-03 08:60:00",
            "2022-04-03 08:00:60",
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
    fn years_before_1900_are_rejected_as_slips() {
        assert!(timestamp("1900-01-01 00:00").is_ok());
        assert!(timestamp("9999-12-31 23:59:59").is_ok());
        for slip in [
            "0000-01-01 00:00",
            "0022-04-10 08:05",
            "1899-12-31 23:59",
            "0001/1/1 0:00",
            "0000年1月1日 0:00",
        ] {
            let reason = timestamp(slip).unwrap_err();
            assert!(reason.contains("year before 1900"), "{slip}: {reason}");
        }
        // Not a date at all: no word of a year.
        for other in ["0000", "+123-04-10 08:00", "1230 08:00"] {
            let reason = timestamp(other).unwrap_err();
            assert!(!reason.contains("year"), "{other}: {reason}");
        }
    }

    proptest::proptest! {
        /// A date kept from the rows before changes nothing: every value reads as it
        /// reads alone, whichever dates (real or not, written alike or not, one byte
        /// changed or not) came before, in every accepted form and some that are not.
        #[test]
        fn a_date_kept_from_the_row_before_reads_as_a_fresh_one(
            values in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        "202[2-4]-0[1-3]-(0[1-9]|2[89]|3[01]|00)[ T]([01][0-9]|2[0-5]):[0-6][0-9](:[0-6][0-9])?",
                        "202[2-4]/0?[1-3]/([1-9]|2[89]|3[01]|0) ( ?[0-9]|1[0-9]|2[0-5]):[0-6][0-9](:[0-6][0-9])?",
                        "202[2-4]年0?[1-3]月([1-9]|2[89]|3[01])日 ([0-9]|1[0-9]|2[0-5]):[0-6][0-9](:[0-6][0-9])?",
                    ],
                    proptest::option::of((0usize..64, 0u8..0x80)),
                ),
                1..60,
            )
        ) {
            let mut last = LastDate::default();
            for (text, change) in values {
                let mut bytes = text.clone().into_bytes();
                if let Some((at, byte)) = change {
                    let at = at % bytes.len();
                    bytes[at] = byte;
                }
                let text = String::from_utf8(bytes).unwrap_or(text);
                let alone = parse_form(&text, true);
                proptest::prop_assert_eq!(last.timestamp(&text).ok(), alone, "{}", text);
                proptest::prop_assert_eq!(timestamp(&text).ok(), alone, "{}", text);
            }
        }
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 1, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
