//! Circuit breakers for the outside services this crate calls (the model,
//! Shopify's Admin API).
//!
//! Closed, a breaker lets every call through and counts consecutive
//! failures; `failures` of them within `window` open it. Open, calls fail at
//! once with the time left until `cool_down` ends. Then one call goes through
//! as a probe (half-open): its success closes the circuit, its failure opens
//! it again for another cool-down. A probe that never reports (its future was
//! dropped) is given up after a cool-down, and the next call probes instead.
//!
//! The clients record the outcome of a whole call, after their own retries,
//! and only transient failures (429, 5xx, timeouts) count: a service that
//! answers "no" (a 4xx, a GraphQL error) is up, and that counts as a success.
//!
//! A refusal is typed ([`CircuitOpen`]: the provider and its retry hint),
//! so that callers tell it from a failure without reading its message: it
//! is nobody's error, and waiting is the remedy. [`Deferral`] is that wait,
//! bounded over a whole step.
//!
//! Time is a parameter of the `*_at` methods, so the tests need no clock.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rand::Rng;

/// Breakers kept per [`Breakers`] before resting ones (closed, no failures)
/// are dropped: model ids come from users' preferences, so keys are not
/// bounded by configuration.
const MAX_KEYS: usize = 1024;

/// When a circuit opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed calls that open the circuit.
    pub failures: u32,
    /// The failures count only within this long of the first of them.
    pub window: Duration,
    /// How long an open circuit fails fast before it lets a probe through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    /// Five failed calls within a minute open the circuit for 30 s.
    fn default() -> Self {
        Self { failures: 5, window: Duration::from_secs(60), cool_down: Duration::from_secs(30) }
    }
}

/// A call refused because the circuit is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// Until a probe may go through.
    pub retry_in: Duration,
}

impl Open {
    /// `retry_in` in whole seconds, rounded up, at least 1.
    pub fn retry_in_secs(&self) -> u64 {
        let whole = self.retry_in.as_secs() + u64::from(self.retry_in.subsec_nanos() > 0);
        whole.max(1)
    }
}

impl fmt::Display for Open {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit open; retry in {}s", self.retry_in_secs())
    }
}

impl std::error::Error for Open {}

impl Open {
    /// This refusal as `provider`'s, for a caller far from the breaker.
    pub fn refusing(self, provider: impl Into<String>) -> CircuitOpen {
        CircuitOpen { provider: provider.into(), retry_in: self.retry_in }
    }
}

/// A call a provider's open circuit refused without trying it: who, and
/// how long until a call may go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitOpen {
    /// For a person: `Shopify Admin API of demo.myshopify.com`, `model acme/m`.
    pub provider: String,
    /// Until a probe may go through.
    pub retry_in: Duration,
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.provider, Open { retry_in: self.retry_in })
    }
}

impl std::error::Error for CircuitOpen {}

/// Shortest wait for an open circuit: a hint of a few nanoseconds must not
/// turn into a busy loop.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// How long one step (a task, a plan) has waited for open circuits, against
/// the most it may wait in all. Waiting out a refusal is not retrying a
/// failure: nothing of it counts against the step's error budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferral {
    waited: Duration,
    most: Duration,
}

impl Deferral {
    /// Nothing waited yet; at most `most` in all.
    pub fn new(most: Duration) -> Self {
        Self { waited: Duration::ZERO, most }
    }

    /// How long the step has waited so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Whether waiting out `refusal` keeps the step within its bound.
    pub fn allows(&self, refusal: &CircuitOpen) -> bool {
        self.waited.saturating_add(refusal.retry_in.max(MIN_WAIT)) <= self.most
    }

    /// Sleeps out `refusal`'s hint, stretched by up to a tenth (never past
    /// the bound) so that the steps waiting on one provider do not all come
    /// back at the same instant: only one of them gets the probe. `Err`
    /// hands the refusal back at once when the hint would take the step
    /// past its bound.
    pub async fn wait(&mut self, refusal: CircuitOpen) -> Result<(), CircuitOpen> {
        if !self.allows(&refusal) {
            return Err(refusal);
        }
        let hint = refusal.retry_in.max(MIN_WAIT);
        let wait = hint.mul_f64(rand::rng().random_range(1.0..1.1)).min(self.most.saturating_sub(self.waited));
        tracing::info!(
            provider = %refusal.provider,
            wait_ms = wait.as_millis() as u64,
            waited_ms = self.waited.as_millis() as u64,
            "circuit open; waiting for it"
        );
        tokio::time::sleep(wait).await;
        self.waited = self.waited.saturating_add(wait);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `failures` in a row, the first of them at `since`.
    Closed { failures: u32, since: Option<Instant> },
    /// Failing fast until `until`.
    Open { until: Instant },
    /// One probe let through at `since`; everything else fails fast.
    HalfOpen { since: Instant },
}

const CLOSED: State = State::Closed { failures: 0, since: None };

/// One service's circuit breaker. Thread-safe; share it behind an `Arc`.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    config: BreakerConfig,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker; `name` (e.g. `shopify demo.myshopify.com`) is logged
    /// when it opens and closes.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Self { name: name.into(), config, state: Mutex::new(CLOSED) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is one plain value, whole after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// May a call go now? `Err` says how long until one may.
    pub fn admit(&self) -> Result<(), Open> {
        self.admit_at(Instant::now())
    }

    /// [`Breaker::admit`] at `now`.
    pub fn admit_at(&self, now: Instant) -> Result<(), Open> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } if now >= until => {
                tracing::info!(breaker = %self.name, "circuit half-open: one probe goes through");
                *state = State::HalfOpen { since: now };
                Ok(())
            }
            State::Open { until } => Err(Open { retry_in: until.saturating_duration_since(now) }),
            State::HalfOpen { since } => {
                let given_up = since + self.config.cool_down;
                if now >= given_up {
                    // The probe never reported (its call was cancelled): probe again.
                    *state = State::HalfOpen { since: now };
                    Ok(())
                } else {
                    Err(Open { retry_in: given_up.saturating_duration_since(now) })
                }
            }
        }
    }

    /// The call answered (or was refused on its merits): the service is up.
    pub fn succeeded(&self) {
        let mut state = self.lock();
        match *state {
            State::HalfOpen { .. } => {
                tracing::info!(breaker = %self.name, "probe succeeded; circuit closed");
                *state = CLOSED;
            }
            State::Closed { failures, .. } if failures > 0 => *state = CLOSED,
            // Closed and clean; or open, told by a call admitted before it
            // opened: the probe decides, not a straggler.
            State::Closed { .. } | State::Open { .. } => {}
        }
    }

    /// The call failed transiently, after its retries.
    pub fn failed(&self) {
        self.failed_at(Instant::now());
    }

    /// [`Breaker::failed`] at `now`.
    pub fn failed_at(&self, now: Instant) {
        let mut state = self.lock();
        match *state {
            State::Closed { failures, since } => {
                let (failures, since) = match since {
                    Some(first) if now.saturating_duration_since(first) <= self.config.window => {
                        (failures.saturating_add(1), first)
                    }
                    _ => (1, now),
                };
                if failures >= self.config.failures {
                    tracing::warn!(
                        breaker = %self.name,
                        failures,
                        cool_down_ms = self.config.cool_down.as_millis() as u64,
                        "circuit open: failing fast"
                    );
                    *state = State::Open { until: now + self.config.cool_down };
                } else {
                    *state = State::Closed { failures, since: Some(since) };
                }
            }
            State::HalfOpen { .. } => {
                tracing::warn!(breaker = %self.name, "probe failed; circuit open again");
                *state = State::Open { until: now + self.config.cool_down };
            }
            State::Open { .. } => {}
        }
    }

    /// Closed with no failure counted: nothing to remember.
    fn is_resting(&self) -> bool {
        *self.lock() == CLOSED
    }
}

/// One breaker per key (a shop, a model), made on first use and shared by
/// every client of that key in the process.
#[derive(Debug)]
pub struct Breakers<K> {
    name: &'static str,
    config: BreakerConfig,
    map: Mutex<HashMap<K, Arc<Breaker>>>,
}

impl<K: Eq + Hash + Clone + fmt::Display> Breakers<K> {
    /// Breakers named `name` and the key (`shopify demo.myshopify.com`).
    pub fn new(name: &'static str, config: BreakerConfig) -> Self {
        Self { name, config, map: Mutex::new(HashMap::new()) }
    }

    /// The breaker of `key`.
    pub fn get<Q>(&self, key: &Q) -> Arc<Breaker>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        // The map only ever holds whole entries, even after a panic.
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(breaker) = map.get(key) {
            return breaker.clone();
        }
        if map.len() >= MAX_KEYS {
            // A client holding a dropped breaker keeps using it; it had
            // counted nothing, so nothing is lost but that client's outcomes.
            map.retain(|_, b| !b.is_resting());
        }
        let key = key.to_owned();
        let breaker = Arc::new(Breaker::new(format!("{} {key}", self.name), self.config));
        map.insert(key, breaker.clone());
        breaker
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: BreakerConfig =
        BreakerConfig { failures: 3, window: Duration::from_secs(60), cool_down: Duration::from_secs(30) };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A breaker opened at `t0 + 2 s` by three failures.
    fn opened(t0: Instant) -> Breaker {
        let breaker = Breaker::new("test", CONFIG);
        for s in 0..3 {
            assert_eq!(breaker.admit_at(t0 + secs(s)), Ok(()));
            breaker.failed_at(t0 + secs(s));
        }
        breaker
    }

    #[test]
    fn consecutive_failures_open_the_circuit_and_calls_fail_fast() {
        let t0 = Instant::now();
        let breaker = Breaker::new("test", CONFIG);
        breaker.failed_at(t0);
        breaker.failed_at(t0 + secs(1));
        assert_eq!(breaker.admit_at(t0 + secs(1)), Ok(()), "two failures of three: still closed");
        breaker.failed_at(t0 + secs(2));
        let refused = breaker.admit_at(t0 + secs(12));
        assert_eq!(refused, Err(Open { retry_in: secs(20) }), "open until 30 s after the third failure");
        assert_eq!(refused.err().map(|o| o.to_string()).as_deref(), Some("circuit open; retry in 20s"));
        assert!(breaker.admit_at(t0 + secs(31)).is_err(), "still open a moment before the cool-down ends");
    }

    #[test]
    fn a_success_resets_the_count_and_old_failures_expire() {
        let t0 = Instant::now();
        let breaker = Breaker::new("test", CONFIG);
        breaker.failed_at(t0);
        breaker.failed_at(t0);
        breaker.succeeded();
        breaker.failed_at(t0 + secs(1));
        breaker.failed_at(t0 + secs(1));
        assert_eq!(breaker.admit_at(t0 + secs(1)), Ok(()), "not consecutive: a success came between");
        // A third failure long after the first starts a new streak.
        breaker.failed_at(t0 + secs(100));
        assert_eq!(breaker.admit_at(t0 + secs(100)), Ok(()));
        breaker.failed_at(t0 + secs(101));
        breaker.failed_at(t0 + secs(102));
        assert!(breaker.admit_at(t0 + secs(102)).is_err(), "three within the window");
    }

    #[test]
    fn a_successful_probe_closes_the_circuit() {
        let t0 = Instant::now();
        let breaker = opened(t0);
        let probe_at = t0 + secs(32);
        assert_eq!(breaker.admit_at(probe_at), Ok(()), "the cool-down is over: one probe");
        assert_eq!(breaker.admit_at(probe_at), Err(Open { retry_in: secs(30) }), "only one probe at a time");
        breaker.succeeded();
        for _ in 0..10 {
            assert_eq!(breaker.admit_at(probe_at), Ok(()), "closed again");
        }
        breaker.failed_at(probe_at);
        assert_eq!(breaker.admit_at(probe_at), Ok(()), "the count started over");
    }

    #[test]
    fn a_failed_probe_opens_the_circuit_again() {
        let t0 = Instant::now();
        let breaker = opened(t0);
        let probe_at = t0 + secs(32);
        assert_eq!(breaker.admit_at(probe_at), Ok(()));
        breaker.failed_at(probe_at + secs(1));
        assert_eq!(breaker.admit_at(probe_at + secs(2)), Err(Open { retry_in: secs(29) }), "a full cool-down again");
        assert_eq!(breaker.admit_at(probe_at + secs(31)), Ok(()), "then the next probe");
    }

    #[test]
    fn a_probe_that_never_reports_is_given_up_after_a_cool_down() {
        let t0 = Instant::now();
        let breaker = opened(t0);
        let probe_at = t0 + secs(32);
        assert_eq!(breaker.admit_at(probe_at), Ok(()));
        assert!(breaker.admit_at(probe_at + secs(29)).is_err());
        assert_eq!(breaker.admit_at(probe_at + secs(30)), Ok(()), "a new probe");
    }

    #[test]
    fn a_straggler_does_not_close_an_open_circuit() {
        let t0 = Instant::now();
        let breaker = opened(t0);
        breaker.succeeded();
        assert!(breaker.admit_at(t0 + secs(3)).is_err(), "only a probe closes it");
    }

    #[test]
    fn retry_hints_round_up_to_whole_seconds() {
        assert_eq!(Open { retry_in: Duration::from_millis(1) }.retry_in_secs(), 1);
        assert_eq!(Open { retry_in: Duration::ZERO }.retry_in_secs(), 1);
        assert_eq!(Open { retry_in: Duration::from_millis(29_001) }.retry_in_secs(), 30);
    }

    #[test]
    fn a_refusal_names_its_provider_and_hint() {
        let refusal = Open { retry_in: Duration::from_millis(1_500) }.refusing("model acme/m");
        assert_eq!(refusal, CircuitOpen { provider: "model acme/m".into(), retry_in: Duration::from_millis(1_500) });
        assert_eq!(refusal.to_string(), "model acme/m: circuit open; retry in 2s");
    }

    #[tokio::test]
    async fn a_deferral_waits_out_hints_until_its_bound() {
        let refusal = Open { retry_in: Duration::from_millis(60) }.refusing("test");
        let mut deferral = Deferral::new(Duration::from_millis(150));
        let started = Instant::now();
        assert_eq!(deferral.wait(refusal.clone()).await, Ok(()));
        assert!(started.elapsed() >= Duration::from_millis(60), "{:?}", started.elapsed());
        assert_eq!(deferral.wait(refusal.clone()).await, Ok(()));
        assert!(deferral.waited() >= Duration::from_millis(120) && deferral.waited() <= Duration::from_millis(150));
        let before = Instant::now();
        assert_eq!(deferral.wait(refusal.clone()).await, Err(refusal), "a third would pass the bound");
        assert!(before.elapsed() < Duration::from_millis(50), "refused at once, without waiting");
    }

    #[test]
    fn each_key_has_its_own_breaker() {
        let breakers: Breakers<String> = Breakers::new("llm", CONFIG);
        let a = breakers.get("acme/a");
        assert!(Arc::ptr_eq(&a, &breakers.get("acme/a")), "the same breaker for the same key");
        for _ in 0..3 {
            a.failed();
        }
        assert!(breakers.get("acme/a").admit().is_err());
        assert_eq!(breakers.get("acme/b").admit(), Ok(()), "another model is not affected");
    }

    #[test]
    fn breakers_are_shared_across_threads() {
        let breaker = Arc::new(Breaker::new("test", BreakerConfig { failures: 100, ..CONFIG }));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let breaker = breaker.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        breaker.failed();
                    }
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        assert!(breaker.admit().is_err(), "all 100 failures counted");
    }
}
