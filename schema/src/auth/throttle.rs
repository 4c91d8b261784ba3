//! Throttling of password guessing and account probing.
//!
//! Logins wait progressively longer instead of locking the account: past a
//! limit's free counted attempts the next waits
//! [`ThrottleConfig::first_delay`], each further one twice as long, up to the
//! limit's cap; a [`ThrottleConfig::window`] of quiet after the wait forgets
//! them. As OWASP's authentication cheat sheet has it, a login is held to
//! three limits at once:
//!
//! - **the account from this client address** ([`ClientAddr`]): few free
//!   failures (5), then waits up to [`ThrottleConfig::max_delay`] (15 min).
//!   This is the guesser's own lane: a handful of tries an hour.
//! - **the account from all addresses together**: more free failures (20),
//!   for guessing spread over many addresses, but a short cap,
//!   [`ThrottleConfig::account_max_delay`] (60 s). It is all a guesser
//!   elsewhere can impose on the real user, whose own lane stays clear: a
//!   delay of at most that per guess, never a lock.
//! - **the address over all accounts**: 20 free failures (an office may
//!   share one address), up to `max_delay`; against one password sprayed
//!   over many accounts.
//!
//! Accounts are keyed by the normalised email, hashed, whether or not anyone
//! has it, so the answer never tells. Without an address (in-process
//! callers) only the account-wide limit applies. A success forgets the
//! account's failures, from its address and everywhere, and gives the
//! address its attempt back. An attempt is checked against all its limits
//! and counted on all of them, or refused and counted on none, in one atomic
//! step ([`AttemptLog::admit`]): a burst of parallel guesses cannot all slip
//! through before the first fails, and attempts the account-wide limit
//! refuses do not fill the real user's own lane. Registrations (per client
//! address) and invitations (per account) are counted in fixed hourly
//! windows by the [`RateLimiter`]; not registrations per email: probing one
//! address once tells all there is.
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
/// it only the account-wide limit applies to logins.
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

/// One limit an attempt is held to: the key it is counted under and the
/// backoff it waits by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<'a> {
    /// What is counted (an account, an address, the pair).
    pub key: &'a str,
    /// How the count turns into waits.
    pub backoff: Backoff,
}

/// What [`AttemptLog::admit`] made of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Let through and counted on every limit.
    Counted,
    /// Refused and counted on none: `limits[limit]` has the longest wait,
    /// `retry_after` seconds (rounded up), which is when all have passed.
    Waits {
        /// Index of the limit that waits longest (the first of equals).
        limit: usize,
        /// Whole seconds until the attempt may be made, at least one.
        retry_after: u64,
    },
}

/// Port: counts attempts per key and admits or defers the next by a [`Backoff`].
#[async_trait]
pub trait AttemptLog: Send + Sync {
    /// Counts one attempt on every one of `limits` unless one of them must
    /// still wait, then on none; check and count are one atomic step.
    async fn admit(&self, limits: &[Limit<'_>]) -> anyhow::Result<Admission>;
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
    /// How long after `last` the record is kept: its wait, then the quiet
    /// window (what Redis's `PEXPIRE` does to the same record).
    kept: Duration,
    /// Whether it makes the next attempt wait (its count is past the free ones).
    throttling: bool,
}

impl Attempts {
    fn new(count: u32, now: Instant, backoff: &Backoff) -> Self {
        Self { count, last: now, kept: backoff.retention(count), throttling: !backoff.delay(count).is_zero() }
    }

    fn live(&self, now: Instant) -> bool {
        now.duration_since(self.last) < self.kept
    }
}

/// Keys held at most by [`InMemoryAttemptLog`].
const MAX_KEYS: usize = 100_000;

/// Counts in this process (embedded mode, single instance).
pub struct InMemoryAttemptLog {
    entries: Mutex<HashMap<String, Attempts>>,
    /// The time: the system's, or one a test moves by hand.
    clock: Box<dyn Fn() -> Instant + Send + Sync>,
}

impl Default for InMemoryAttemptLog {
    fn default() -> Self {
        Self { entries: Mutex::default(), clock: Box::new(Instant::now) }
    }
}

impl InMemoryAttemptLog {
    /// Counts by `clock` instead of the system's.
    #[cfg(test)]
    fn with_clock(clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        Self { entries: Mutex::default(), clock: Box::new(clock) }
    }

    /// Makes room for a new key. Forgotten first are expired records, then
    /// those that make nobody wait: flooding the map with fresh keys (one
    /// email after another) must not wipe the records of throttled ones.
    fn make_room(entries: &mut HashMap<String, Attempts>, now: Instant) {
        if entries.len() < MAX_KEYS {
            return;
        }
        entries.retain(|_, a| a.live(now));
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, a| a.throttling);
        }
        if entries.len() >= MAX_KEYS {
            entries.clear();
        }
    }
}

#[async_trait]
impl AttemptLog for InMemoryAttemptLog {
    async fn admit(&self, limits: &[Limit<'_>]) -> anyhow::Result<Admission> {
        let now = (self.clock)();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts = Vec::with_capacity(limits.len());
        let mut longest: Option<(usize, Duration)> = None;
        for (index, limit) in limits.iter().enumerate() {
            let current = entries.get(limit.key).copied().filter(|a| a.live(now));
            if let Some(a) = current {
                let wait = limit.backoff.delay(a.count).saturating_sub(now.duration_since(a.last));
                if !wait.is_zero() && longest.is_none_or(|(_, longer)| wait > longer) {
                    longest = Some((index, wait));
                }
            }
            counts.push(current.map_or(0, |a| a.count));
        }
        if let Some((limit, wait)) = longest {
            return Ok(Admission::Waits { limit, retry_after: seconds_up(wait) });
        }
        for (limit, count) in limits.iter().zip(counts) {
            if !entries.contains_key(limit.key) {
                Self::make_room(&mut entries, now);
            }
            entries.insert(limit.key.to_owned(), Attempts::new(count.saturating_add(1), now, &limit.backoff));
        }
        Ok(Admission::Counted)
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
/// Redis's own (`TIME`), so instances with skewed clocks agree. One login's
/// keys are read and written by one script: fine on a single Redis (what
/// the server connects to); a Redis Cluster would want them in one hash slot.
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
        // step: every key checked, then all counted or none. ARGV holds four
        // numbers per key (free, first, max, window in ms); the answer is
        // {0, 0} when counted, else {the 1-based key that waits longest, its
        // wait in ms}. `replicate_commands` lets a script that read TIME
        // write on Redis before 5 (later versions replicate effects anyway).
        let admit = redis::Script::new(
            r"if redis.replicate_commands then redis.replicate_commands() end
              local time = redis.call('TIME')
              local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
              local function delay(n, free, first, max)
                if n < free or first <= 0 then return 0 end
                return math.min(max, first * 2 ^ (n - free))
              end
              local counts, longest, waiting = {}, 0, 0
              for i, key in ipairs(KEYS) do
                local a = (i - 1) * 4
                local n = tonumber(redis.call('HGET', key, 'n') or '0')
                local last = tonumber(redis.call('HGET', key, 't') or '0')
                local wait = delay(n, tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])) - (now - last)
                if n > 0 and wait > longest then longest, waiting = wait, i end
                counts[i] = n
              end
              if waiting > 0 then return {waiting, math.ceil(longest)} end
              for i, key in ipairs(KEYS) do
                local a = (i - 1) * 4
                local free, first, max, window = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
                local n = counts[i] + 1
                redis.call('HSET', key, 'n', n, 't', string.format('%.0f', now))
                redis.call('PEXPIRE', key, string.format('%.0f', math.ceil(delay(n, free, first, max) + window)))
              end
              return {0, 0}",
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
    async fn admit(&self, limits: &[Limit<'_>]) -> anyhow::Result<Admission> {
        if limits.is_empty() {
            return Ok(Admission::Counted);
        }
        let mut invocation = self.admit.prepare_invoke();
        for limit in limits {
            let backoff = &limit.backoff;
            invocation
                .key(Self::key(limit.key))
                .arg(backoff.free)
                .arg(millis(backoff.first_delay))
                .arg(millis(backoff.max_delay))
                .arg(millis(backoff.window));
        }
        let mut conn = self.connection.clone();
        let (waiting, wait_ms): (i64, i64) = invocation.invoke_async(&mut conn).await?;
        // 1-based; 0 (or anything out of range) means counted.
        let Some(limit) = usize::try_from(waiting).ok().and_then(|i| i.checked_sub(1)).filter(|i| *i < limits.len())
        else {
            return Ok(Admission::Counted);
        };
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(1));
        Ok(Admission::Waits { limit, retry_after: seconds_up(wait) })
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
    /// Failed logins on one account from one client address before each
    /// further attempt from there waits, up to `max_delay`.
    pub login_free_failures: u32,
    /// Failed logins on one account from all addresses together (or from an
    /// unknown one) before each further attempt waits, up to
    /// `account_max_delay`; higher, as it is met by guessing spread wide.
    pub account_free_failures: u32,
    /// Failed logins per client address (any accounts) before each further
    /// attempt waits; higher, since an office may share one address.
    pub address_free_failures: u32,
    /// The first wait; it doubles with every further failure.
    pub first_delay: Duration,
    /// The longest wait of an account from one address, and of an address.
    pub max_delay: Duration,
    /// The longest wait of an account over all addresses: the most a
    /// guesser elsewhere can make its owner wait per guess.
    pub account_max_delay: Duration,
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
            account_free_failures: 20,
            address_free_failures: 20,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            account_max_delay: Duration::from_secs(60),
            window: Duration::from_secs(15 * 60),
            registrations_per_address: 20,
            invitations_per_account: 100,
        }
    }
}

/// [`Throttled::limited_by`] for the account from one client address.
pub const BY_ACCOUNT: &str = "account";
/// [`Throttled::limited_by`] for the account over all addresses (or from an unknown one).
pub const BY_ACCOUNT_EVERYWHERE: &str = "account_all_addresses";
/// [`Throttled::limited_by`] for the client address over all accounts.
pub const BY_ADDRESS: &str = "address";

/// Why a login must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until it may be tried again.
    pub retry_after: u64,
    /// The limit that waits longest: [`BY_ACCOUNT`], [`BY_ACCOUNT_EVERYWHERE`] or [`BY_ADDRESS`].
    pub limited_by: &'static str,
}

impl From<Throttled> for ApiError {
    fn from(throttled: Throttled) -> Self {
        ApiError::RateLimited { retry_after: throttled.retry_after }
    }
}

/// A login [`AuthThrottle::admit_login`] let through; hand it back to
/// [`AuthThrottle::login_succeeded`] if the password was right. Holds the
/// keys it was counted under.
#[derive(Debug)]
pub struct LoginAttempt {
    /// The account from this client address (both known).
    pair: Option<String>,
    /// The account over all addresses (the email parsed).
    account: Option<String>,
    /// The client address over all accounts (it is known).
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

    fn backoff(&self, free: u32, max_delay: Duration) -> Backoff {
        Backoff { free, first_delay: self.config.first_delay, max_delay, window: self.config.window }
    }

    fn account_key(email: &Email) -> String {
        // Hashed: the keys (in Redis too) need not hold addresses.
        format!("login:account:{}", secret::digest(email.as_str()))
    }

    /// The keys a login for `email` (if it parsed) from `client` is counted under.
    fn login_attempt(email: Option<&Email>, client: Option<ClientAddr>) -> LoginAttempt {
        let client = client.map(ClientAddr::key);
        let pair = email
            .zip(client.as_ref())
            .map(|(email, client)| format!("login:pair:{}:{client}", secret::digest(email.as_str())));
        LoginAttempt {
            pair,
            account: email.map(Self::account_key),
            address: client.map(|client| format!("login:address:{client}")),
        }
    }

    /// The limits `attempt` is held to, each with what it is called in
    /// [`Throttled::limited_by`]. The most specific first: of equal waits
    /// (all at their cap) the first is named.
    fn limits<'a>(&self, attempt: &'a LoginAttempt) -> Vec<(Limit<'a>, &'static str)> {
        let config = &self.config;
        let limits = [
            (&attempt.pair, config.login_free_failures, config.max_delay, BY_ACCOUNT),
            (&attempt.account, config.account_free_failures, config.account_max_delay, BY_ACCOUNT_EVERYWHERE),
            (&attempt.address, config.address_free_failures, config.max_delay, BY_ADDRESS),
        ];
        limits
            .into_iter()
            .filter_map(|(key, free, max_delay, name)| {
                let key = key.as_deref()?;
                Some((Limit { key, backoff: self.backoff(free, max_delay) }, name))
            })
            .collect()
    }

    /// Admits a login for `email` (if it parsed) from `client`, or says how
    /// long it must wait (the longest of its limits' waits). A refused
    /// attempt is counted on none of them: a real user the account-wide
    /// limit holds back does not fill their own lane by trying again.
    pub async fn admit_login(
        &self,
        email: Option<&Email>,
        client: Option<ClientAddr>,
    ) -> Result<LoginAttempt, Throttled> {
        let attempt = Self::login_attempt(email, client);
        let (limits, names): (Vec<Limit<'_>>, Vec<&'static str>) = self.limits(&attempt).into_iter().unzip();
        match self.attempts.admit(&limits).await {
            Ok(Admission::Counted) => {}
            Ok(Admission::Waits { limit, retry_after }) => {
                let limited_by = names.get(limit).copied().unwrap_or(BY_ACCOUNT_EVERYWHERE);
                return Err(Throttled { retry_after, limited_by });
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "login throttle unavailable; attempt allowed"),
        }
        drop(limits);
        Ok(attempt)
    }

    /// The password was right: the account's failures are forgotten, from
    /// this address and from everywhere, and the address gets this attempt
    /// back (its other failures stay: logging into one's own account must
    /// not reset a spray across others).
    pub async fn login_succeeded(&self, attempt: LoginAttempt) {
        for key in [&attempt.pair, &attempt.account].into_iter().flatten() {
            if let Err(e) = self.attempts.clear(key).await {
                tracing::warn!(error = format!("{e:#}"), "could not reset an account's failed logins");
            }
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

    /// A clock the test moves by hand.
    #[derive(Clone)]
    struct Clock(Arc<Mutex<Instant>>);

    impl Clock {
        fn new() -> Self {
            Self(Arc::new(Mutex::new(Instant::now())))
        }

        fn advance(&self, seconds: u64) {
            *self.0.lock().unwrap_or_else(|e| e.into_inner()) += Duration::from_secs(seconds);
        }

        /// A throttle that counts logins by this clock.
        fn throttle(&self, config: ThrottleConfig) -> AuthThrottle {
            let clock = self.clone();
            let log = InMemoryAttemptLog::with_clock(move || *clock.0.lock().unwrap_or_else(|e| e.into_inner()));
            AuthThrottle::new(Arc::new(log), Arc::new(InMemoryRateLimiter::default()), config)
        }
    }

    fn config() -> ThrottleConfig {
        ThrottleConfig { address_free_failures: 8, ..ThrottleConfig::default() }
    }

    fn email(n: usize) -> Email {
        Email::parse(&format!("user{n}@shop.example")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn client(a: u8, b: u8) -> Option<ClientAddr> {
        Some(ClientAddr(IpAddr::from([198, 51, a, b])))
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
        let clock = Clock::new();
        let throttle = clock.throttle(config());
        let (victim, other, here) = (email(1), email(2), client(100, 1));
        for _ in 0..5 {
            assert!(throttle.admit_login(Some(&victim), here).await.is_ok());
        }
        let refused = throttle.admit_login(Some(&victim), here).await.err();
        assert_eq!(refused, Some(Throttled { retry_after: 1, limited_by: BY_ACCOUNT }));
        assert!(throttle.admit_login(Some(&other), here).await.is_ok(), "another account is not affected");
        clock.advance(1);
        let attempt = throttle.admit_login(Some(&victim), here).await.unwrap_or_else(|t| panic!("{t:?}"));
        let again = throttle.admit_login(Some(&victim), here).await.err();
        assert_eq!(again.map(|t| t.retry_after), Some(2), "the wait doubles");
        throttle.login_succeeded(attempt).await;
        assert!(throttle.admit_login(Some(&victim), here).await.is_ok(), "a success forgets the failures");
    }

    #[tokio::test]
    async fn the_wait_of_an_account_from_one_address_grows_to_its_cap() {
        let clock = Clock::new();
        let throttle = clock.throttle(ThrottleConfig::default());
        let (victim, guesser) = (email(1), client(100, 1));
        let mut waits = Vec::new();
        while waits.len() < 12 {
            if let Err(throttled) = throttle.admit_login(Some(&victim), guesser).await {
                assert_eq!(throttled.limited_by, BY_ACCOUNT);
                // Refused attempts are not counted: asking again changes nothing.
                assert_eq!(throttle.admit_login(Some(&victim), guesser).await.err(), Some(throttled));
                waits.push(throttled.retry_after);
                clock.advance(throttled.retry_after);
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    }

    #[tokio::test]
    async fn an_attacker_elsewhere_delays_the_owner_by_at_most_the_account_cap() {
        let clock = Clock::new();
        let throttle = clock.throttle(ThrottleConfig::default());
        let (victim, owner) = (email(1), Some(ClientAddr(IpAddr::from([203, 0, 113, 5]))));
        // Guesses spread over many addresses, each waiting out the
        // account-wide delay: past 20 failures it doubles up to 60 s.
        let mut waits = Vec::new();
        for n in 0..40 {
            if let Err(throttled) = throttle.admit_login(Some(&victim), client(100, n)).await {
                assert_eq!(throttled.limited_by, BY_ACCOUNT_EVERYWHERE);
                waits.push(throttled.retry_after);
                clock.advance(throttled.retry_after);
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        // Right after a counted guess the owner waits the cap, no longer;
        // refused guesses meanwhile (and the owner's own) do not extend it.
        let refused = throttle.admit_login(Some(&victim), owner).await.err();
        assert_eq!(refused, Some(Throttled { retry_after: 60, limited_by: BY_ACCOUNT_EVERYWHERE }));
        clock.advance(30);
        assert!(throttle.admit_login(Some(&victim), client(101, 1)).await.is_err());
        assert_eq!(throttle.admit_login(Some(&victim), owner).await.err().map(|t| t.retry_after), Some(30));
        clock.advance(30);
        let attempt = throttle.admit_login(Some(&victim), owner).await.unwrap_or_else(|t| panic!("{t:?}"));
        throttle.login_succeeded(attempt).await;
        assert!(throttle.admit_login(Some(&victim), client(101, 2)).await.is_ok(), "the success reset the account");

        // A guesser at one address is held to its own lane, up to 15 min a
        // guess; the owner is not, and their success leaves it as it is.
        let guesser = client(102, 1);
        let mut longest = 0u64;
        for _ in 0..100 {
            if longest == 900 {
                break;
            }
            if let Err(throttled) = throttle.admit_login(Some(&victim), guesser).await {
                longest = longest.max(throttled.retry_after);
                clock.advance(throttled.retry_after);
            }
        }
        assert_eq!(longest, 900);
        assert!(throttle.admit_login(Some(&victim), guesser).await.is_ok());
        let held = throttle.admit_login(Some(&victim), guesser).await.err();
        assert_eq!(held, Some(Throttled { retry_after: 900, limited_by: BY_ACCOUNT }));
        let attempt = throttle.admit_login(Some(&victim), owner).await.unwrap_or_else(|t| panic!("{t:?}"));
        throttle.login_succeeded(attempt).await;
        assert_eq!(throttle.admit_login(Some(&victim), guesser).await.err(), held);
    }

    #[tokio::test]
    async fn without_an_address_only_the_account_wide_limit_applies() {
        let clock = Clock::new();
        let throttle = clock.throttle(ThrottleConfig::default());
        let victim = email(1);
        for _ in 0..20 {
            assert!(throttle.admit_login(Some(&victim), None).await.is_ok());
        }
        let mut waits = Vec::new();
        while waits.len() < 8 {
            if let Err(throttled) = throttle.admit_login(Some(&victim), None).await {
                assert_eq!(throttled.limited_by, BY_ACCOUNT_EVERYWHERE);
                waits.push(throttled.retry_after);
                clock.advance(throttled.retry_after);
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[tokio::test]
    async fn an_address_spraying_many_accounts_waits() {
        let throttle = AuthThrottle::in_memory(config());
        let client = Some(ClientAddr(IpAddr::from([203, 0, 113, 7])));
        for n in 0..8 {
            assert!(throttle.admit_login(Some(&email(n)), client).await.is_ok());
        }
        let refused = throttle.admit_login(Some(&email(100)), client).await.err();
        assert_eq!(refused.map(|t| t.limited_by), Some(BY_ADDRESS));
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
