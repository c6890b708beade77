//! Session lifetimes: an idle timeout and an absolute maximum.

use time::{Duration, OffsetDateTime};

/// How long a session may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// The session expires after this long without activity.
    pub idle: Duration,
    /// The session expires this long after login, whatever the activity.
    pub absolute: Duration,
}

impl SessionPolicy {
    /// Care providers: idle 15 minutes, absolute 8 hours (one working day).
    pub fn staff() -> Self {
        Self {
            idle: Duration::minutes(15),
            absolute: Duration::hours(8),
        }
    }

    /// Patients: idle 30 minutes, absolute 12 hours.
    pub fn patient() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }

    /// When a session created at `created` and last used at `last_seen` expires.
    pub fn expires_at(&self, created: OffsetDateTime, last_seen: OffsetDateTime) -> OffsetDateTime {
        (last_seen + self.idle).min(created + self.absolute)
    }

    /// Whether the session has expired at `now` (at the expiry instant itself it has).
    pub fn is_expired(
        &self,
        created: OffsetDateTime,
        last_seen: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        now >= self.expires_at(created, last_seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn presets() {
        assert_eq!(SessionPolicy::staff().idle, Duration::minutes(15));
        assert_eq!(SessionPolicy::staff().absolute, Duration::hours(8));
        assert_eq!(SessionPolicy::patient().idle, Duration::minutes(30));
        assert_eq!(SessionPolicy::patient().absolute, Duration::hours(12));
    }

    #[test]
    fn idle_timeout() {
        let p = SessionPolicy::staff();
        let t0 = datetime!(2025-03-01 09:00 UTC);
        assert!(!p.is_expired(t0, t0, t0));
        assert!(!p.is_expired(t0, t0, t0 + Duration::minutes(14)));
        assert!(p.is_expired(t0, t0, t0 + Duration::minutes(15)));
        let seen = t0 + Duration::minutes(10);
        assert!(!p.is_expired(t0, seen, t0 + Duration::minutes(24)));
        assert!(p.is_expired(t0, seen, t0 + Duration::minutes(26)));
        assert!(!SessionPolicy::patient().is_expired(t0, t0, t0 + Duration::minutes(20)));
    }

    #[test]
    fn absolute_timeout() {
        let p = SessionPolicy::staff();
        let t0 = datetime!(2025-03-01 09:00 UTC);
        let seen = t0 + Duration::hours(8) - Duration::minutes(1);
        assert!(!p.is_expired(t0, seen, seen + Duration::seconds(30)));
        assert!(p.is_expired(t0, seen, t0 + Duration::hours(8)));
        assert_eq!(p.expires_at(t0, seen), t0 + Duration::hours(8));
        assert_eq!(p.expires_at(t0, t0), t0 + Duration::minutes(15));
        let pp = SessionPolicy::patient();
        let seen = t0 + Duration::hours(11) + Duration::minutes(50);
        assert!(!pp.is_expired(t0, seen, seen + Duration::minutes(5)));
        assert!(pp.is_expired(t0, seen, t0 + Duration::hours(12)));
    }
}
