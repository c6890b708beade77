//! Login throttling against online password guessing.
//!
//! A pure in-memory data structure with injected time. Two limits apply:
//!
//! - **per account**: after `account_failures` failures within `account_window` the
//!   account is locked for `base_lockout`; every further lockout of the same account
//!   doubles, up to `max_lockout`. A successful login resets the account. The lockout
//!   level is forgotten after `account_window + max_lockout` without failures.
//! - **per address**: at most `address_failures` failures (over all accounts) within a
//!   sliding `address_window`; this stops password spraying from one address.
//!
//! Memory is bounded: stale entries are pruned and at most a fixed number of keys is
//! kept per kind (the least recently active entries are evicted first).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use time::{Duration, OffsetDateTime};

/// Default maximum number of tracked accounts and of tracked addresses.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// Prune stale entries after this many recorded failures.
const PRUNE_EVERY: u32 = 1024;

/// Limits for [`Throttle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one account within `account_window` that lock it (default 5).
    pub account_failures: u32,
    /// Window for counting account failures (default 15 minutes).
    pub account_window: Duration,
    /// First lockout of an account (default 1 minute).
    pub base_lockout: Duration,
    /// Longest lockout (default 1 hour).
    pub max_lockout: Duration,
    /// Failures from one address within `address_window` that block it (default 20).
    pub address_failures: u32,
    /// Window for counting address failures (default 15 minutes).
    pub address_window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            account_failures: 5,
            account_window: Duration::minutes(15),
            base_lockout: Duration::minutes(1),
            max_lockout: Duration::hours(1),
            address_failures: 20,
            address_window: Duration::minutes(15),
        }
    }
}

/// What is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockScope {
    /// The account (whatever the address).
    Account,
    /// The network address (whatever the account).
    Address,
}

/// A login attempt is blocked until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// Account or address.
    pub scope: BlockScope,
    /// When the block ends.
    pub until: OffsetDateTime,
}

#[derive(Debug, Default)]
struct AccountState {
    failures: VecDeque<OffsetDateTime>,
    locked_until: Option<OffsetDateTime>,
    /// Number of consecutive lockouts so far.
    level: u32,
    last_failure: Option<OffsetDateTime>,
}

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<String, AccountState>,
    addresses: HashMap<String, VecDeque<OffsetDateTime>>,
    since_prune: u32,
}

/// In-memory login throttle; `Send + Sync`, share it behind an `Arc`.
#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    max_keys: usize,
    inner: Mutex<Inner>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(ThrottlePolicy::default())
    }
}

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

impl Throttle {
    /// A throttle with the given policy, tracking at most [`DEFAULT_MAX_KEYS`] accounts
    /// and addresses.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self::with_max_keys(policy, DEFAULT_MAX_KEYS)
    }

    /// A throttle tracking at most `max_keys` accounts and `max_keys` addresses.
    pub fn with_max_keys(policy: ThrottlePolicy, max_keys: usize) -> Self {
        Self {
            policy,
            max_keys: max_keys.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent even if a holder panicked; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a login attempt for `account` from `address` may proceed at `now`.
    /// Account names are compared case-insensitively.
    pub fn check(&self, account: &str, address: &str, now: OffsetDateTime) -> Result<(), Blocked> {
        let inner = self.lock();
        if let Some(until) = inner
            .accounts
            .get(&account_key(account))
            .and_then(|a| a.locked_until)
            .filter(|until| *until > now)
        {
            return Err(Blocked {
                scope: BlockScope::Account,
                until,
            });
        }
        if let Some(until) = inner
            .addresses
            .get(address)
            .and_then(|f| self.address_block(f, now))
        {
            return Err(Blocked {
                scope: BlockScope::Address,
                until,
            });
        }
        Ok(())
    }

    /// The end of the address block, if the failures in the window reach the limit.
    fn address_block(
        &self,
        failures: &VecDeque<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let start = now - self.policy.address_window;
        let in_window: Vec<&OffsetDateTime> = failures.iter().filter(|t| **t > start).collect();
        let limit = usize::try_from(self.policy.address_failures).unwrap_or(usize::MAX);
        if limit > 0 && in_window.len() >= limit {
            // Blocked until enough failures have left the window.
            in_window
                .get(in_window.len() - limit)
                .map(|t| **t + self.policy.address_window)
        } else {
            None
        }
    }

    fn lockout_duration(&self, level: u32) -> Duration {
        let factor = 1i32 << level.min(20);
        self.policy
            .base_lockout
            .saturating_mul(factor)
            .min(self.policy.max_lockout)
    }

    /// Records a failed login. Returns `Some` when this failure starts a block of the
    /// account or the address (the later one if both).
    pub fn record_failure(
        &self,
        account: &str,
        address: &str,
        now: OffsetDateTime,
    ) -> Option<Blocked> {
        let mut inner = self.lock();
        inner.since_prune += 1;
        if inner.since_prune >= PRUNE_EVERY {
            self.prune_locked(&mut inner, now);
        }
        let key = account_key(account);
        if !inner.accounts.contains_key(&key) && inner.accounts.len() >= self.max_keys {
            self.prune_locked(&mut inner, now);
            evict_oldest(&mut inner.accounts, |a| a.last_failure.or(a.locked_until));
        }
        if !inner.addresses.contains_key(address) && inner.addresses.len() >= self.max_keys {
            self.prune_locked(&mut inner, now);
            evict_oldest(&mut inner.addresses, |f| f.back().copied());
        }

        let account_block = self.account_failure(&mut inner, key, now);

        let policy = self.policy;
        let blocked_before = inner
            .addresses
            .get(address)
            .and_then(|f| self.address_block(f, now));
        let failures = inner.addresses.entry(address.to_owned()).or_default();
        let start = now - policy.address_window;
        while failures.front().is_some_and(|t| *t <= start) {
            failures.pop_front();
        }
        failures.push_back(now);
        let cap = usize::try_from(policy.address_failures)
            .unwrap_or(usize::MAX)
            .max(1);
        while failures.len() > cap {
            failures.pop_front();
        }
        let address_block = match (blocked_before, self.address_block(failures, now)) {
            (None, Some(until)) => Some(Blocked {
                scope: BlockScope::Address,
                until,
            }),
            _ => None,
        };

        match (account_block, address_block) {
            (Some(a), Some(b)) => Some(if b.until > a.until { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    fn account_failure(
        &self,
        inner: &mut Inner,
        key: String,
        now: OffsetDateTime,
    ) -> Option<Blocked> {
        let policy = self.policy;
        let quiet = policy.account_window + policy.max_lockout;
        let state = inner.accounts.entry(key).or_default();
        if state.locked_until.is_some_and(|until| until > now) {
            // Already locked: the caller should not have tried; do not extend.
            state.last_failure = Some(now);
            return None;
        }
        if state.last_failure.is_some_and(|last| now - last > quiet) {
            state.level = 0;
        }
        state.last_failure = Some(now);
        let start = now - policy.account_window;
        while state.failures.front().is_some_and(|t| *t <= start) {
            state.failures.pop_front();
        }
        state.failures.push_back(now);
        let limit = usize::try_from(policy.account_failures)
            .unwrap_or(usize::MAX)
            .max(1);
        if state.failures.len() >= limit {
            let until = now + self.lockout_duration(state.level);
            state.level = state.level.saturating_add(1);
            state.failures.clear();
            state.locked_until = Some(until);
            Some(Blocked {
                scope: BlockScope::Account,
                until,
            })
        } else {
            None
        }
    }

    /// Records a successful login: resets the account's failures and lockout level.
    /// The address counter is not reset (a successful login to one account must not
    /// hide failures against others).
    pub fn record_success(&self, account: &str, _address: &str, _now: OffsetDateTime) {
        self.lock().accounts.remove(&account_key(account));
    }

    /// Removes entries that no longer affect any decision at `now`.
    pub fn prune(&self, now: OffsetDateTime) {
        let mut inner = self.lock();
        self.prune_locked(&mut inner, now);
    }

    fn prune_locked(&self, inner: &mut Inner, now: OffsetDateTime) {
        inner.since_prune = 0;
        let policy = self.policy;
        let quiet = policy.account_window + policy.max_lockout;
        inner.accounts.retain(|_, a| {
            let locked = a.locked_until.is_some_and(|u| u > now);
            let recent = a.last_failure.is_some_and(|l| now - l <= quiet);
            locked || recent
        });
        let start = now - policy.address_window;
        inner.addresses.retain(|_, f| {
            while f.front().is_some_and(|t| *t <= start) {
                f.pop_front();
            }
            !f.is_empty()
        });
    }

    /// Number of tracked accounts and addresses (for monitoring and tests).
    pub fn tracked(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.accounts.len(), inner.addresses.len())
    }
}

/// Evicts the entry with the oldest activity, if any.
fn evict_oldest<V>(map: &mut HashMap<String, V>, activity: impl Fn(&V) -> Option<OffsetDateTime>) {
    let oldest = map
        .iter()
        .min_by_key(|(_, v)| activity(v))
        .map(|(k, _)| k.clone());
    if let Some(k) = oldest {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

    fn fail_n(
        t: &Throttle,
        n: u32,
        account: &str,
        address: &str,
        now: OffsetDateTime,
    ) -> Option<Blocked> {
        let mut last = None;
        for _ in 0..n {
            last = t.record_failure(account, address, now);
        }
        last
    }

    #[test]
    fn is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Throttle>();
    }

    #[test]
    fn five_failures_lock_for_one_minute() {
        let t = Throttle::default();
        for i in 0..4 {
            assert_eq!(
                t.record_failure("jan", "10.0.0.1", T0 + Duration::seconds(i)),
                None
            );
            assert_eq!(
                t.check("jan", "10.0.0.1", T0 + Duration::seconds(i)),
                Ok(())
            );
        }
        let now = T0 + Duration::seconds(4);
        let b = t.record_failure("jan", "10.0.0.1", now).unwrap();
        assert_eq!(
            b,
            Blocked {
                scope: BlockScope::Account,
                until: now + Duration::minutes(1)
            }
        );
        assert_eq!(
            t.check("jan", "10.0.0.2", now + Duration::seconds(59)),
            Err(b)
        );
        assert_eq!(
            t.check("JAN ", "10.0.0.2", now),
            Err(b),
            "case-insensitive account"
        );
        assert_eq!(t.check("piet", "10.0.0.1", now), Ok(()));
        // Expired.
        assert_eq!(
            t.check("jan", "10.0.0.1", now + Duration::minutes(1)),
            Ok(())
        );
    }

    #[test]
    fn failures_outside_window_do_not_count() {
        let t = Throttle::default();
        fail_n(&t, 4, "jan", "a", T0);
        assert_eq!(
            t.record_failure("jan", "a", T0 + Duration::minutes(16)),
            None
        );
        assert_eq!(t.check("jan", "a", T0 + Duration::minutes(16)), Ok(()));
    }

    #[test]
    fn consecutive_lockouts_double_up_to_max() {
        let t = Throttle::default();
        let mut now = T0;
        let mut expected = Vec::new();
        for _ in 0..9 {
            let b = fail_n(&t, 5, "jan", "a", now).unwrap();
            expected.push(b.until - now);
            // While locked, further failures do not extend the lockout.
            assert_eq!(
                t.record_failure("jan", "b", now + Duration::seconds(1)),
                None
            );
            assert_eq!(t.check("jan", "c", now + Duration::seconds(2)), Err(b));
            now = b.until;
            assert_eq!(t.check("jan", "c", now), Ok(()));
        }
        let m = Duration::minutes;
        assert_eq!(
            expected,
            vec![m(1), m(2), m(4), m(8), m(16), m(32), m(60), m(60), m(60)]
        );
    }

    #[test]
    fn success_resets() {
        let t = Throttle::default();
        fail_n(&t, 4, "jan", "a", T0);
        t.record_success("jan", "a", T0);
        assert_eq!(fail_n(&t, 4, "jan", "a", T0), None);
        let b = t.record_failure("jan", "a", T0).unwrap();
        assert_eq!(b.until, T0 + Duration::minutes(1));
        // After a lockout, success also resets the doubling.
        t.record_success("jan", "a", b.until);
        let b2 = fail_n(&t, 5, "jan", "a", b.until).unwrap();
        assert_eq!(b2.until - b.until, Duration::minutes(1));
    }

    #[test]
    fn lockout_level_is_forgotten_after_quiet_period() {
        let t = Throttle::default();
        let b = fail_n(&t, 5, "jan", "a", T0).unwrap();
        let later = b.until + Duration::hours(2);
        let b2 = fail_n(&t, 5, "jan", "a", later).unwrap();
        assert_eq!(b2.until - later, Duration::minutes(1));
    }

    #[test]
    fn address_limit_across_accounts() {
        let t = Throttle::default();
        for i in 0..19 {
            let now = T0 + Duration::seconds(i);
            assert_eq!(t.record_failure(&format!("user{i}"), "10.6.6.6", now), None);
        }
        let now = T0 + Duration::seconds(19);
        let b = t.record_failure("user19", "10.6.6.6", now).unwrap();
        assert_eq!(b.scope, BlockScope::Address);
        // Blocked until the oldest failure leaves the 15-minute window.
        assert_eq!(b.until, T0 + Duration::minutes(15));
        assert_eq!(t.check("someone-else", "10.6.6.6", now), Err(b));
        assert_eq!(t.check("someone-else", "10.6.6.7", now), Ok(()));
        assert_eq!(
            t.check("user1", "10.6.6.6", T0 + Duration::minutes(15)),
            Ok(())
        );
        // Success from the address does not lift the address block.
        t.record_success("user3", "10.6.6.6", now);
        assert_eq!(
            t.check("user3", "10.6.6.6", now).map_err(|b| b.scope),
            Err(BlockScope::Address)
        );
    }

    #[test]
    fn memory_is_bounded() {
        let t = Throttle::with_max_keys(ThrottlePolicy::default(), 50);
        for i in 0..500 {
            t.record_failure(
                &format!("user{i}"),
                &format!("10.0.{}.{}", i / 256, i % 256),
                T0 + Duration::seconds(i),
            );
        }
        let (accounts, addresses) = t.tracked();
        assert!(accounts <= 50 && addresses <= 50, "{accounts} {addresses}");
        // The most recent entries are kept.
        fail_n(&t, 4, "user499", "x", T0 + Duration::seconds(500));
        assert!(t
            .check("user499", "y", T0 + Duration::seconds(500))
            .is_err());
        // Everything is stale after the windows and the quiet period.
        t.prune(T0 + Duration::hours(3));
        assert_eq!(t.tracked(), (0, 0));
    }

    #[test]
    fn prune_keeps_active_lockouts() {
        let t = Throttle::default();
        let b = fail_n(&t, 5, "jan", "a", T0).unwrap();
        t.prune(T0 + Duration::seconds(30));
        assert_eq!(t.check("jan", "z", T0 + Duration::seconds(30)), Err(b));
    }
}
