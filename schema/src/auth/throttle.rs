//! Throttling of password guessing and account probing.
//!
//! Logins wait progressively longer instead of locking the account: after
//! `free` counted attempts the next waits [`ThrottleConfig::first_delay`],
//! each further one twice as long, up to [`ThrottleConfig::max_delay`]; a
//! [`ThrottleConfig::window`] of quiet after the wait forgets them. So a
//! guesser gets a handful of tries an hour, while the real user, whom the
//! guesser can delay but never lock out, waits at most `max_delay`. A
//! login is counted per account (the normalised email, whether or not anyone
//! has it, so the answer never tells) and per client address when the
//! transport supplies one ([`ClientAddr`]); a success forgets the account's
//! count. Check and count are one atomic step ([`AttemptLog::admit`]), so a
//! burst of parallel guesses cannot all slip through before the first
//! fails. Registrations (per client address) and invitations (per
//! account) are counted in fixed hourly windows by the [`RateLimiter`]; not
//! registrations per email: probing one address once tells all there is.
//!
//! Like the other rate limits these fail open: with Redis down an attempt is
//! allowed and a warning logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use uuid::Uuid;

use crate::auth::secret;
use crate::error::{ApiError, ApiResult};
use crate::rate_limit::{InMemoryRateLimiter, RateDecision, RateLimiter};
use crate::service::Email;

/// The client's network address, put into request data by the transport
/// (the connection's peer, or the address a trusted proxy reports). Without
/// it only the per-account limits apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The key an address is counted under: IPv4 as is, IPv6 by its /64,
    /// the block one subscriber gets (and can rotate through at will).
    fn key(self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        }
    }
}

/// A progressive delay: how long an attempt waits after the last counted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts counted before any wait.
    pub free: u32,
    /// The first wait; each further counted attempt doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Quiet time after the wait that forgets the count.
    pub window: Duration,
}

impl Backoff {
    /// The wait after `count` counted attempts: none below `free`, then
    /// `first_delay × 2^(count − free)`, at most `max_delay`.
    pub fn delay(&self, count: u32) -> Duration {
        let Some(doublings) = count.checked_sub(self.free) else { return Duration::ZERO };
        1u32.checked_shl(doublings)
            .and_then(|factor| self.first_delay.checked_mul(factor))
            .map_or(self.max_delay, |d| d.min(self.max_delay))
    }

    /// How long a record of `count` attempts is kept after the last one.
    pub fn retention(&self, count: u32) -> Duration {
        self.delay(count).saturating_add(self.window)
    }
}

/// Port: counts attempts per key and admits or defers the next by a [`Backoff`].
#[async_trait]
pub trait AttemptLog: Send + Sync {
    /// Counts one attempt on `key` unless it must still wait, in one step.
    async fn admit(&self, key: &str, backoff: &Backoff) -> anyhow::Result<RateDecision>;
    /// Forgets every attempt on `key`.
    async fn clear(&self, key: &str) -> anyhow::Result<()>;
    /// Takes one counted attempt on `key` back (it turned out legitimate).
    async fn forgive(&self, key: &str) -> anyhow::Result<()>;
}

/// Whole seconds to wait, rounded up, at least one (`Retry-After`).
fn seconds_up(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    (if wait.subsec_nanos() > 0 { whole.saturating_add(1) } else { whole }).max(1)
}

#[derive(Debug, Clone, Copy)]
struct Attempts {
    count: u32,
    last: Instant,
}

/// Keys held at most by [`InMemoryAttemptLog`].
const MAX_KEYS: usize = 100_000;

/// Counts in this process (embedded mode, single instance).
#[derive(Default)]
pub struct InMemoryAttemptLog {
    entries: Mutex<HashMap<String, Attempts>>,
}

impl InMemoryAttemptLog {
    /// Makes room for a new key. Forgotten first are expired records, then
    /// those that make nobody wait: flooding the map with fresh keys (one
    /// email after another) must not wipe the records of throttled ones.
    fn make_room(entries: &mut HashMap<String, Attempts>, backoff: &Backoff, now: Instant) {
        if entries.len() < MAX_KEYS {
            return;
        }
        entries.retain(|_, a| now.duration_since(a.last) < backoff.retention(a.count));
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, a| a.count >= backoff.free);
        }
        if entries.len() >= MAX_KEYS {
            entries.clear();
        }
    }
}

#[async_trait]
impl AttemptLog for InMemoryAttemptLog {
    async fn admit(&self, key: &str, backoff: &Backoff) -> anyhow::Result<RateDecision> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let current = entries.get(key).copied().filter(|a| now.duration_since(a.last) < backoff.retention(a.count));
        if let Some(a) = current {
            let waited = now.duration_since(a.last);
            let delay = backoff.delay(a.count);
            if waited < delay {
                return Ok(RateDecision::Limited { retry_after: seconds_up(delay - waited) });
            }
        }
        if !entries.contains_key(key) {
            Self::make_room(&mut entries, backoff, now);
        }
        let count = current.map_or(0, |a| a.count).saturating_add(1);
        entries.insert(key.to_owned(), Attempts { count, last: now });
        Ok(RateDecision::Allowed)
    }

    async fn clear(&self, key: &str) -> anyhow::Result<()> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        Ok(())
    }

    async fn forgive(&self, key: &str) -> anyhow::Result<()> {
        if let Some(a) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get_mut(key) {
            a.count = a.count.saturating_sub(1);
        }
        Ok(())
    }
}

/// Counts in Redis, so every instance shares one count per key. The time is
/// Redis's own (`TIME`), so instances with skewed clocks agree.
pub struct RedisAttemptLog {
    connection: redis::aio::ConnectionManager,
    admit: redis::Script,
    forgive: redis::Script,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisAttemptLog {
    /// Uses an established connection manager (it reconnects by itself).
    pub fn new(connection: redis::aio::ConnectionManager) -> Self {
        // The same rule as the in-memory log, read and written in one atomic
        // step. `replicate_commands` lets a script that read TIME write on
        // Redis before 5 (later versions replicate effects anyway).
        let admit = redis::Script::new(
            r"if redis.replicate_commands then redis.replicate_commands() end
              local time = redis.call('TIME')
              local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
              local free, first, max, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
              local function delay(n)
                if n < free then return 0 end
                return math.min(max, first * 2 ^ (n - free))
              end
              local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
              local last = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
              local wait = delay(n) - (now - last)
              if n > 0 and wait > 0 then return {0, math.ceil(wait)} end
              n = n + 1
              redis.call('HSET', KEYS[1], 'n', n, 't', string.format('%.0f', now))
              redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.ceil(delay(n) + window)))
              return {1, 0}",
        );
        let forgive = redis::Script::new(
            r"local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
              if n > 0 then redis.call('HSET', KEYS[1], 'n', n - 1) end
              return n",
        );
        Self { connection, admit, forgive }
    }

    fn key(key: &str) -> String {
        format!("alatar:attempts:{key}")
    }
}

#[async_trait]
impl AttemptLog for RedisAttemptLog {
    async fn admit(&self, key: &str, backoff: &Backoff) -> anyhow::Result<RateDecision> {
        let mut conn = self.connection.clone();
        let (admitted, wait_ms): (i64, i64) = self
            .admit
            .key(Self::key(key))
            .arg(backoff.free)
            .arg(millis(backoff.first_delay))
            .arg(millis(backoff.max_delay))
            .arg(millis(backoff.window))
            .invoke_async(&mut conn)
            .await?;
        if admitted == 1 {
            return Ok(RateDecision::Allowed);
        }
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1));
        Ok(RateDecision::Limited { retry_after: seconds_up(wait) })
    }

    async fn clear(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.connection.clone();
        redis::cmd("DEL").arg(Self::key(key)).query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn forgive(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.connection.clone();
        self.forgive.key(Self::key(key)).invoke_async::<i64>(&mut conn).await?;
        Ok(())
    }
}

/// The limits [`AuthThrottle`] applies (configuration `rate_limit.auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failed logins per account before each further attempt waits.
    pub login_free_failures: u32,
    /// Failed logins per client address (any accounts) before each further
    /// attempt waits; higher, since an office may share one address.
    pub address_free_failures: u32,
    /// The first wait; it doubles with every further failure.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Quiet time after a wait that forgets the failures.
    pub window: Duration,
    /// Registrations per client address per hour.
    pub registrations_per_address: u64,
    /// Invitations per account per hour.
    pub invitations_per_account: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            login_free_failures: 5,
            address_free_failures: 20,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
            registrations_per_address: 20,
            invitations_per_account: 100,
        }
    }
}

/// Why a login must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until it may be tried again.
    pub retry_after: u64,
    /// What is over its limit: `"account"` or `"address"`.
    pub limited_by: &'static str,
}

impl From<Throttled> for ApiError {
    fn from(throttled: Throttled) -> Self {
        ApiError::RateLimited { retry_after: throttled.retry_after }
    }
}

/// A login [`AuthThrottle::admit_login`] let through; hand it back to
/// [`AuthThrottle::login_succeeded`] if the password was right.
#[derive(Debug)]
pub struct LoginAttempt {
    account: Option<String>,
    address: Option<String>,
}

/// The fixed windows of registrations and invitations.
const HOUR: Duration = Duration::from_secs(3600);
/// How often a throttled account gets a `LOGIN_THROTTLED` audit record at most.
const AUDIT_EVERY: Duration = Duration::from_secs(60);
/// Accounts remembered for [`AUDIT_EVERY`] at most.
const MAX_AUDITED: usize = 10_000;

/// Throttles logins, registrations and invitations (see the module docs).
pub struct AuthThrottle {
    attempts: Arc<dyn AttemptLog>,
    limiter: Arc<dyn RateLimiter>,
    config: ThrottleConfig,
    audited: Mutex<HashMap<String, Instant>>,
}

impl AuthThrottle {
    /// Counts attempts in `attempts` and registrations and invitations in `limiter`.
    pub fn new(attempts: Arc<dyn AttemptLog>, limiter: Arc<dyn RateLimiter>, config: ThrottleConfig) -> Self {
        Self { attempts, limiter, config, audited: Mutex::default() }
    }

    /// Everything counted in this process.
    pub fn in_memory(config: ThrottleConfig) -> Self {
        Self::new(Arc::new(InMemoryAttemptLog::default()), Arc::new(InMemoryRateLimiter::default()), config)
    }

    /// The limits in force.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    fn backoff(&self, free: u32) -> Backoff {
        Backoff {
            free,
            first_delay: self.config.first_delay,
            max_delay: self.config.max_delay,
            window: self.config.window,
        }
    }

    fn account_key(email: &Email) -> String {
        // Hashed: the keys (in Redis too) need not hold addresses.
        format!("login:account:{}", secret::digest(email.as_str()))
    }

    /// Admits a login for `email` (if it parsed) from `client`, or says how
    /// long it must wait. The address is asked first: an attempt it refuses
    /// is not counted against the account.
    pub async fn admit_login(
        &self,
        email: Option<&Email>,
        client: Option<ClientAddr>,
    ) -> Result<LoginAttempt, Throttled> {
        let address = client.map(|c| format!("login:address:{}", c.key()));
        if let Some(key) = &address {
            self.admit(key, self.config.address_free_failures, "address").await?;
        }
        let account = email.map(Self::account_key);
        if let Some(key) = &account {
            self.admit(key, self.config.login_free_failures, "account").await?;
        }
        Ok(LoginAttempt { account, address })
    }

    async fn admit(&self, key: &str, free: u32, limited_by: &'static str) -> Result<(), Throttled> {
        match self.attempts.admit(key, &self.backoff(free)).await {
            Ok(RateDecision::Allowed) => Ok(()),
            Ok(RateDecision::Limited { retry_after }) => Err(Throttled { retry_after, limited_by }),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "login throttle unavailable; attempt allowed");
                Ok(())
            }
        }
    }

    /// The password was right: the account's failures are forgotten, and
    /// the address gets this attempt back (its other failures stay: logging
    /// into one's own account must not reset a spray across others).
    pub async fn login_succeeded(&self, attempt: LoginAttempt) {
        if let Some(key) = &attempt.account
            && let Err(e) = self.attempts.clear(key).await
        {
            tracing::warn!(error = format!("{e:#}"), "could not reset an account's failed logins");
        }
        if let Some(key) = &attempt.address
            && let Err(e) = self.attempts.forgive(key).await
        {
            tracing::warn!(error = format!("{e:#}"), "could not discount a successful login");
        }
    }

    /// Whether a refused login for `email` goes to the audit log now: once a
    /// minute per account and instance at most, so a flood of refusals
    /// cannot flood the log (each is still a warning in the logs).
    pub fn should_audit(&self, email: &Email) -> bool {
        let now = Instant::now();
        let key = Self::account_key(email);
        let mut audited = self.audited.lock().unwrap_or_else(|e| e.into_inner());
        if audited.get(&key).is_some_and(|at| now.duration_since(*at) < AUDIT_EVERY) {
            return false;
        }
        crate::bounded::make_room(&mut audited, MAX_AUDITED, |at| now.duration_since(*at) < AUDIT_EVERY);
        audited.insert(key, now);
        true
    }

    /// Counts a registration from `client`: `RATE_LIMITED` past the hourly
    /// limit per address (without an address, nothing is counted).
    pub async fn admit_registration(&self, client: Option<ClientAddr>) -> ApiResult<()> {
        let Some(client) = client else { return Ok(()) };
        let key = format!("register:address:{}", client.key());
        self.count(&key, self.config.registrations_per_address, "registration").await
    }

    /// Counts an invitation from `account_id`: `RATE_LIMITED` past the hourly limit.
    pub async fn admit_invitation(&self, account_id: Uuid) -> ApiResult<()> {
        let key = format!("invite:account:{account_id}");
        self.count(&key, self.config.invitations_per_account, "invitation").await
    }

    async fn count(&self, key: &str, per_hour: u64, what: &'static str) -> ApiResult<()> {
        match self.limiter.hit(key, 1, per_hour, HOUR).await {
            Ok(RateDecision::Allowed) => Ok(()),
            Ok(RateDecision::Limited { retry_after }) => {
                tracing::warn!(what, retry_after, "throttled: too many attempts this hour");
                Err(ApiError::RateLimited { retry_after })
            }
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), what, "rate limiter unavailable; attempt allowed");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ThrottleConfig {
        ThrottleConfig { address_free_failures: 8, ..ThrottleConfig::default() }
    }

    fn email(n: usize) -> Email {
        Email::parse(&format!("user{n}@shop.example")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_delay_doubles_up_to_its_cap() {
        let backoff = Backoff {
            free: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(900),
            window: Duration::from_secs(900),
        };
        let delays: Vec<u64> = (0..20).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(&delays[..12], [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(delays[15], 900);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(900));
        assert_eq!(seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(seconds_up(Duration::from_millis(2001)), 3);
    }

    #[tokio::test]
    async fn an_account_waits_after_its_free_failures_and_a_success_resets_it() {
        let throttle = AuthThrottle::in_memory(config());
        let (victim, other) = (email(1), email(2));
        for _ in 0..5 {
            assert!(throttle.admit_login(Some(&victim), None).await.is_ok());
        }
        let refused = throttle.admit_login(Some(&victim), None).await.err();
        assert_eq!(refused, Some(Throttled { retry_after: 1, limited_by: "account" }));
        assert!(throttle.admit_login(Some(&other), None).await.is_ok(), "another account is not affected");
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        let attempt = throttle.admit_login(Some(&victim), None).await.unwrap_or_else(|t| panic!("{t:?}"));
        let again = throttle.admit_login(Some(&victim), None).await.err();
        assert_eq!(again.map(|t| t.retry_after), Some(2), "the wait doubles");
        throttle.login_succeeded(attempt).await;
        assert!(throttle.admit_login(Some(&victim), None).await.is_ok(), "a success forgets the failures");
    }

    #[tokio::test]
    async fn an_address_spraying_many_accounts_waits() {
        let throttle = AuthThrottle::in_memory(config());
        let client = Some(ClientAddr(IpAddr::from([203, 0, 113, 7])));
        for n in 0..8 {
            assert!(throttle.admit_login(Some(&email(n)), client).await.is_ok());
        }
        let refused = throttle.admit_login(Some(&email(100)), client).await.err();
        assert_eq!(refused.map(|t| t.limited_by), Some("address"));
        let elsewhere = Some(ClientAddr(IpAddr::from([198, 51, 100, 1])));
        assert!(throttle.admit_login(Some(&email(100)), elsewhere).await.is_ok(), "not counted on the account");
        // One subscriber's IPv6 addresses count as one.
        let v6 = |last: u16| Some(ClientAddr(IpAddr::from([0x2001, 0xdb8, 1, 2, 0, 0, 0, last])));
        for n in 0..8 {
            assert!(throttle.admit_login(Some(&email(200 + n)), v6(u16::try_from(n).unwrap_or(0))).await.is_ok());
        }
        assert!(throttle.admit_login(Some(&email(300)), v6(999)).await.is_err());
    }

    #[tokio::test]
    async fn a_success_gives_the_address_its_attempt_back() {
        let throttle = AuthThrottle::in_memory(config());
        let client = Some(ClientAddr(IpAddr::from([203, 0, 113, 9])));
        for n in 0..20 {
            let attempt = throttle.admit_login(Some(&email(n)), client).await.unwrap_or_else(|t| panic!("{n}: {t:?}"));
            throttle.login_succeeded(attempt).await;
        }
    }

    #[tokio::test]
    async fn registrations_and_invitations_have_hourly_limits() {
        let throttle = AuthThrottle::in_memory(ThrottleConfig {
            registrations_per_address: 2,
            invitations_per_account: 2,
            ..ThrottleConfig::default()
        });
        let client = Some(ClientAddr(IpAddr::from([203, 0, 113, 1])));
        assert!(throttle.admit_registration(client).await.is_ok());
        assert!(throttle.admit_registration(client).await.is_ok());
        let limited = throttle.admit_registration(client).await;
        assert!(matches!(limited, Err(ApiError::RateLimited { .. })), "{limited:?}");
        assert!(throttle.admit_registration(Some(ClientAddr(IpAddr::from([198, 51, 100, 2])))).await.is_ok());
        assert!(throttle.admit_registration(None).await.is_ok());
        let account = Uuid::now_v7();
        assert!(throttle.admit_invitation(account).await.is_ok());
        assert!(throttle.admit_invitation(account).await.is_ok());
        let limited = throttle.admit_invitation(account).await;
        assert!(matches!(limited, Err(ApiError::RateLimited { .. })), "{limited:?}");
        assert!(throttle.admit_invitation(Uuid::now_v7()).await.is_ok());
    }

    #[test]
    fn throttled_accounts_are_audited_once_a_minute() {
        let throttle = AuthThrottle::in_memory(config());
        assert!(throttle.should_audit(&email(1)));
        assert!(!throttle.should_audit(&email(1)));
        assert!(throttle.should_audit(&email(2)));
    }
}
