//! FHIR `date`, `dateTime` and `instant` values
//! (<http://hl7.org/fhir/R4/datatypes.html#primitive>) as half-open ranges of unix seconds.
//!
//! One byte-level parser serves both search ([`date_range`], lenient: minute precision and
//! a missing zone are accepted, as in search parameters) and validation
//! ([`is_valid_date`], strict: the R4 regular expressions).

use time::{Date, Month, PrimitiveDateTime, Time};

/// How much of a date/time value is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Precision {
    Year,
    Month,
    Day,
    Minute,
    Second,
}

/// A parsed value: where it starts (UTC seconds), how precise it is, whether a zone was given.
#[derive(Debug, Clone, Copy)]
struct Parsed {
    start: i64,
    precision: Precision,
    zoned: bool,
}

/// The FHIR primitive type a value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateKind {
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// A date, or a date with a time to the second and a zone.
    DateTime,
    /// A date and time to the second, with a zone.
    Instant,
}

fn digits(b: &[u8], from: usize, n: usize) -> Option<i64> {
    let part = b.get(from..from + n)?;
    part.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn day_start(y: i64, m: i64, d: i64) -> Option<i64> {
    let month = Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    Some(
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn expect(b: &[u8], at: usize, c: u8) -> Option<()> {
    (b.get(at) == Some(&c)).then_some(())
}

fn parse(s: &str) -> Option<Parsed> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if year == 0 {
        return None;
    }
    let date = |precision, start| {
        Some(Parsed {
            start,
            precision,
            zoned: false,
        })
    };
    if b.len() == 4 {
        return date(Precision::Year, day_start(year, 1, 1)?);
    }
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    if b.len() == 7 {
        return date(Precision::Month, day_start(year, month, 1)?);
    }
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    let midnight = day_start(year, month, day)?;
    if b.len() == 10 {
        return date(Precision::Day, midnight);
    }
    expect(b, 10, b'T')?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut at = 16;
    let mut precision = Precision::Minute;
    let mut second = 0;
    if b.get(at) == Some(&b':') {
        second = digits(b, at + 1, 2)?;
        if second > 60 {
            return None;
        }
        precision = Precision::Second;
        at += 3;
        if b.get(at) == Some(&b'.') {
            let fraction = b[at + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if fraction == 0 {
                return None;
            }
            at += 1 + fraction;
        }
    }
    let (offset, zoned) = match b.get(at) {
        None => (0, false),
        Some(b'Z') if at + 1 == b.len() => (0, true),
        Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() => {
            let hh = digits(b, at + 1, 2)?;
            expect(b, at + 3, b':')?;
            let mm = digits(b, at + 4, 2)?;
            if mm > 59 || hh > 14 || (hh == 14 && mm > 0) {
                return None;
            }
            let secs = hh * 3600 + mm * 60;
            (if sign == b'-' { -secs } else { secs }, true)
        }
        _ => return None,
    };
    Some(Parsed {
        start: midnight + hour * 3600 + minute * 60 + second - offset,
        precision,
        zoned,
    })
}

fn end_of(p: &Parsed) -> Option<i64> {
    match p.precision {
        Precision::Second => Some(p.start + 1),
        Precision::Minute => Some(p.start + 60),
        Precision::Day => Some(p.start + 86_400),
        Precision::Month | Precision::Year => {
            let date = time::OffsetDateTime::from_unix_timestamp(p.start).ok()?;
            let (y, m) = (i64::from(date.year()), i64::from(u8::from(date.month())));
            if p.precision == Precision::Year || m == 12 {
                day_start(y + 1, 1, 1)
            } else {
                day_start(y, m + 1, 1)
            }
        }
    }
}

/// Parses a FHIR `date` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`), `dateTime` or `instant` into the
/// half-open interval `[start, end)` it denotes, in unix seconds (UTC), honouring its
/// precision: `"2021"` is the whole year, `"2021-03-04T10:00Z"` one minute,
/// `"2021-03-04T10:00:00.250+01:00"` one second (fractions do not narrow the range).
///
/// Values without a zone (dates, and times as written in search parameters) are taken as
/// UTC. `None` when the value is not a valid date.
pub fn date_range(s: &str) -> Option<(i64, i64)> {
    let p = parse(s)?;
    Some((p.start, end_of(&p)?))
}

/// Whether `s` has the syntax of the FHIR primitive `kind` (R4 regular expressions: a time
/// needs seconds and a zone; an instant needs both).
pub(crate) fn is_valid_date(kind: DateKind, s: &str) -> bool {
    let Some(p) = parse(s) else { return false };
    match kind {
        DateKind::Date => p.precision <= Precision::Day,
        DateKind::DateTime => {
            p.precision <= Precision::Day || (p.precision == Precision::Second && p.zoned)
        }
        DateKind::Instant => p.precision == Precision::Second && p.zoned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_cover_their_whole_period() {
        let (s, e) = date_range("2021").unwrap();
        assert_eq!((s, e - s), (1_609_459_200, 365 * 86_400));
        let (s, e) = date_range("2024-02").unwrap();
        assert_eq!(e - s, 29 * 86_400);
        let (s, e) = date_range("2021-12").unwrap();
        assert_eq!((s, e), (1_638_316_800, 1_640_995_200));
        let (s, e) = date_range("1961-04-12").unwrap();
        assert_eq!((s, e - s), (-275_270_400, 86_400));
    }

    #[test]
    fn date_times_honour_zone_and_precision() {
        assert_eq!(
            date_range("2026-11-23T05:20:47Z"),
            Some((1_795_411_247, 1_795_411_248))
        );
        assert_eq!(
            date_range("2026-11-23T06:20:47+01:00"),
            Some((1_795_411_247, 1_795_411_248))
        );
        assert_eq!(
            date_range("2026-11-23T01:20:47.123-04:00"),
            Some((1_795_411_247, 1_795_411_248))
        );
        let (s, e) = date_range("2026-11-23T05:20Z").unwrap();
        assert_eq!((s, e - s), (1_795_411_200, 60));
        assert_eq!(
            date_range("2026-11-23T05:20:47"),
            Some((1_795_411_247, 1_795_411_248)),
            "no zone: UTC"
        );
        let (s, _) = date_range("2021-01-01T00:30:00+01:00").unwrap();
        assert_eq!(s, 1_609_457_400, "crosses back into the previous UTC year");
    }

    #[test]
    fn nonsense_is_refused_without_panicking() {
        for bad in [
            "",
            "21",
            "0000",
            "2021-",
            "2021-13",
            "2021-02-30",
            "2021-1-01",
            "2021-01-01T",
            "2021-01-01T10",
            "2021-01-01T25:00:00Z",
            "2021-01-01T10:60:00Z",
            "2021-01-01T10:00:61Z",
            "2021-01-01T10:00:00.Z",
            "2021-01-01T10:00:00+1",
            "2021-01-01T10:00:00+15:00",
            "2021-01-01T10:00:00Zjunk",
            "2021-01-01 10:00:00Z",
            "yesterday",
            "２０２１",
            "2021-01-01T10:00:00+01:0é",
        ] {
            assert_eq!(date_range(bad), None, "{bad}");
        }
    }

    #[test]
    fn strict_syntax_per_primitive_type() {
        use DateKind::*;
        assert!(is_valid_date(Date, "1934-04-28"));
        assert!(is_valid_date(Date, "1934"));
        assert!(!is_valid_date(Date, "1934-04-28T10:00:00Z"));
        assert!(is_valid_date(DateTime, "2021-03"));
        assert!(is_valid_date(DateTime, "2021-03-04T10:00:00.5+01:00"));
        assert!(!is_valid_date(DateTime, "2021-03-04T10:00Z"), "seconds");
        assert!(!is_valid_date(DateTime, "2021-03-04T10:00:00"), "zone");
        assert!(is_valid_date(Instant, "2021-03-04T10:00:00Z"));
        assert!(!is_valid_date(Instant, "2021-03-04"));
    }
}
