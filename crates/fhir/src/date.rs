//! FHIR date, dateTime and instant values as half-open ranges of unix seconds.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn day_start(y: i32, m: u8, d: u8) -> Option<i64> {
    let date = Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()?;
    Some(
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp(),
    )
}

fn add_months(y: i32, m: u8, n: u8) -> (i32, u8) {
    let total = i32::from(m) - 1 + i32::from(n);
    (y + total / 12, (total % 12) as u8 + 1)
}

/// Parses a FHIR `date` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`), `dateTime` or `instant` into
/// the half-open interval `[start, end)` it denotes, in unix seconds (UTC). Dates without
/// a time zone are taken as UTC days. `None` when the value is not valid.
pub fn date_range(s: &str) -> Option<(i64, i64)> {
    let (date_part, time_part) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let fields: Vec<&str> = date_part.split('-').collect();
    if fields[0].len() != 4 {
        return None;
    }
    let y = num(fields[0])? as i32;
    match (fields.len(), time_part) {
        (1, None) => Some((day_start(y, 1, 1)?, day_start(y + 1, 1, 1)?)),
        (2, None) => {
            if fields[1].len() != 2 {
                return None;
            }
            let m = num(fields[1])? as u8;
            let (ny, nm) = add_months(y, m, 1);
            Some((day_start(y, m, 1)?, day_start(ny, nm, 1)?))
        }
        (3, t) => {
            if fields[1].len() != 2 || fields[2].len() != 2 {
                return None;
            }
            let (m, d) = (num(fields[1])? as u8, num(fields[2])? as u8);
            let start = day_start(y, m, d)?;
            match t {
                None => Some((start, start + 86_400)),
                Some(t) => time_range(start, t),
            }
        }
        _ => None,
    }
}

fn time_range(day: i64, t: &str) -> Option<(i64, i64)> {
    // Split off the zone: Z, +hh:mm or -hh:mm.
    let (clock, offset) = if let Some(c) = t.strip_suffix('Z') {
        (c, 0i64)
    } else if let Some(pos) = t.rfind(['+', '-']) {
        let (c, z) = t.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (hh, mm) = z[1..].split_once(':')?;
        if hh.len() != 2 || mm.len() != 2 {
            return None;
        }
        let secs = num(hh)? * 3600 + num(mm)? * 60;
        UtcOffset::from_whole_seconds(i32::try_from(secs).ok()?).ok()?;
        (c, sign * secs)
    } else {
        (t, 0)
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    if fraction.is_some_and(|f| num(f).is_none()) {
        return None;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h = num(parts.first()?)?;
    let m = num(parts.get(1)?)?;
    let (sec, width) = match parts.get(2) {
        Some(s) => (num(s)?, 1),
        None => (0, 60),
    };
    if parts.len() > 3 || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let start = day + h * 3600 + m * 60 + sec - offset;
    Some((start, start + width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_cover_their_whole_period() {
        let (s, e) = date_range("2021").unwrap();
        assert_eq!(e - s, 365 * 86_400);
        let (s, e) = date_range("2024-02").unwrap();
        assert_eq!(e - s, 29 * 86_400);
        let (s, e) = date_range("2021-12").unwrap();
        assert_eq!(e - s, 31 * 86_400);
        let (s, e) = date_range("1961-04-12").unwrap();
        assert_eq!(e - s, 86_400);
        assert_eq!(s, -275_270_400);
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
            date_range("2026-11-23T05:20:47.123Z"),
            Some((1_795_411_247, 1_795_411_248))
        );
        let (s, e) = date_range("2026-11-23T05:20Z").unwrap();
        assert_eq!(e - s, 60);
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "21",
            "2021-13",
            "2021-02-30",
            "2021-1-01",
            "2021-01-01T25:00:00Z",
            "yesterday",
            "2021-01-01T10:00:00+1",
        ] {
            assert_eq!(date_range(bad), None, "{bad}");
        }
    }
}
