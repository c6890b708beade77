//! Injected time: deadlines, retention terms and audit timestamps read a [`Clock`],
//! so tests move time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// A source of the current UTC time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved; for tests.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock standing at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(AtomicI64::new(nanos(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        self.0.store(nanos(at), Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: time::Duration) {
        self.0
            .fetch_add(by.whole_nanoseconds() as i64, Ordering::SeqCst);
    }
}

fn nanos(at: OffsetDateTime) -> i64 {
    at.unix_timestamp_nanos() as i64
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0.load(Ordering::SeqCst)))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Formats a time as RFC 3339 UTC with millisecond precision (`2026-11-23T05:20:47.123Z`),
/// the form used in FHIR `meta.lastUpdated` and audit events.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(datetime!(2026-11-23 05:20:47.123 UTC));
        assert_eq!(rfc3339(c.now()), "2026-11-23T05:20:47.123Z");
        c.advance(time::Duration::days(1));
        assert_eq!(rfc3339(c.now()), "2026-11-24T05:20:47.123Z");
    }
}
