//! Times on the command line and in cases files: RFC 3339 (`2026-11-26T12:00:00Z`, `2026-11-26T13:00:00+01:00`)
//! or Unix seconds (`1795694400`), read into Unix seconds, and Unix seconds written back as RFC 3339 UTC.
//!
//! Whole seconds only: a fraction is accepted and dropped, as JWT NumericDates are compared in seconds. Times
//! before 1970 or after 9999 are refused rather than wrapped. This module never reads the clock except in
//! [`now`].

/// The latest time accepted: 9999-12-31T23:59:59Z (the largest NumericDate the token checks accept).
pub const MAX_TIME: u64 = 253_402_300_799;

/// Why a time could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is neither Unix seconds nor an RFC 3339 time such as `2026-11-26T12:00:00Z`")]
    Unreadable(String),
    #[error("`{0}` is not a valid date or time of day")]
    OutOfRange(String),
    #[error("`{0}` is before 1970-01-01T00:00:00Z")]
    BeforeEpoch(String),
    #[error("`{0}` is after 9999-12-31T23:59:59Z")]
    TooLate(String),
}

/// The current time in Unix seconds (0 if the system clock is before 1970).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads Unix seconds (digits only) or an RFC 3339 date-time with `Z` or a numeric offset (`T` or a space
/// between date and time, either case).
pub fn parse_time(text: &str) -> Result<u64, TimeError> {
    let s = text.trim();
    let unreadable = || TimeError::Unreadable(text.to_owned());
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| TimeError::TooLate(text.to_owned()))?;
        return if secs > MAX_TIME {
            Err(TimeError::TooLate(text.to_owned()))
        } else {
            Ok(secs)
        };
    }
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = s.get(from..from + len)?;
        if digits.bytes().all(|c| c.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let sep = |at: usize, want: &[u8]| b.get(at).is_some_and(|c| want.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return Err(unreadable());
    }
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return Err(unreadable());
    };
    // An optional fraction, then the offset.
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return Err(unreadable());
        }
    }
    let offset_secs = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if at + 6 == b.len() && sep(at + 3, b":") => {
            let (Some(oh), Some(om)) = (num(at + 1, 2), num(at + 4, 2)) else {
                return Err(unreadable());
            };
            if oh > 23 || om > 59 {
                return Err(TimeError::OutOfRange(text.to_owned()));
            }
            let secs = oh * 3600 + om * 60;
            if *sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        _ => return Err(unreadable()),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    };
    // A leap second (`:60`) is read as the second after `:59`.
    if !(1..=days_in_month).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err(TimeError::OutOfRange(text.to_owned()));
    }
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    if secs < 0 {
        return Err(TimeError::BeforeEpoch(text.to_owned()));
    }
    let secs = u64::try_from(secs).map_err(|_| TimeError::BeforeEpoch(text.to_owned()))?;
    if secs > MAX_TIME {
        return Err(TimeError::TooLate(text.to_owned()));
    }
    Ok(secs)
}

/// Unix seconds as RFC 3339 UTC, e.g. `2026-11-26T12:00:00Z`.
pub fn format_time(secs: u64) -> String {
    let secs = i64::try_from(secs.min(MAX_TIME)).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        const CASES: &[(&str, Result<u64, &str>)] = &[
            ("0", Ok(0)),
            ("1795694400", Ok(1_795_694_400)),
            ("2026-11-26T12:00:00Z", Ok(1_795_694_400)),
            ("2026-11-26t12:00:00z", Ok(1_795_694_400)),
            ("2026-11-26 12:00:00Z", Ok(1_795_694_400)),
            ("2026-11-26T13:00:00+01:00", Ok(1_795_694_400)),
            ("2026-11-26T07:30:00-04:30", Ok(1_795_694_400)),
            ("2026-11-26T12:00:00.999Z", Ok(1_795_694_400)),
            ("1970-01-01T00:00:00Z", Ok(0)),
            ("2000-02-29T00:00:00Z", Ok(951_782_400)),
            ("2016-12-31T23:59:60Z", Ok(1_483_228_800)),
            ("9999-12-31T23:59:59Z", Ok(MAX_TIME)),
            ("253402300799", Ok(MAX_TIME)),
            ("253402300800", Err("after")),
            ("99999999999999999999999", Err("after")),
            ("1969-12-31T23:59:59Z", Err("before")),
            ("1970-01-01T00:30:00+01:00", Err("before")),
            ("2026-02-29T00:00:00Z", Err("not a valid")),
            ("2026-13-01T00:00:00Z", Err("not a valid")),
            ("2026-11-26T24:00:00Z", Err("not a valid")),
            ("2026-11-26T12:00:00+24:00", Err("not a valid")),
            ("2026-11-26T12:00:00", Err("neither")),
            ("2026-11-26", Err("neither")),
            ("2026-11-26T12:00:00.Z", Err("neither")),
            ("2026-11-26T12:00:00+0100", Err("neither")),
            ("2026-11-26T12:00:00Zjunk", Err("neither")),
            ("-5", Err("neither")),
            ("", Err("neither")),
            ("2026-1a-26T12:00:00Z", Err("neither")),
            ("２０２６-11-26T12:00:00Z", Err("neither")),
        ];
        for (input, want) in CASES {
            match (parse_time(input), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "case `{input}`"),
                (Err(e), Err(want)) => {
                    assert!(e.to_string().contains(want), "case `{input}`: {e}")
                }
                (got, want) => panic!("case `{input}`: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn format_round_trips() {
        for secs in [
            0,
            59,
            86_399,
            951_782_400,
            1_795_694_400,
            4_102_444_800,
            MAX_TIME,
        ] {
            assert_eq!(parse_time(&format_time(secs)), Ok(secs), "secs {secs}");
        }
        assert_eq!(format_time(1_795_694_400), "2026-11-26T12:00:00Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    }
}
