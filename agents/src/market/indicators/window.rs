//! The sliding windows behind the SMA and the volatility, and the
//! compensated sum behind the VWAP (the numerics are in the parent
//! module's documentation): fixed capacity, amortised O(1) per value, no
//! allocation once full, serialisable with the state they belong to.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{SECONDS_PER_YEAR, SMA_WINDOW, VOLATILITY_WINDOW};

/// The longest interval a return is counted with, in microseconds (about
/// 9,000 years; validated ticks are at most decades apart): the window's
/// sum of them then fits an `i64` with room to spare.
const MAX_INTERVAL_MICROS: i64 = i64::MAX / 32;

/// The variance is recomputed exactly when M2 falls below this share of
/// its largest value since the last recomputation: M2's rounding error is
/// relative to that largest value, so after such a fall (a large return
/// leaving the window) the error would otherwise dominate what is left.
const CANCELLATION: f64 = 1.0 / 1024.0;

/// Microseconds in a second.
const MICROS_PER_SECOND: f64 = 1e6;

/// Keeps the last `n` of `values` (only a state that was tampered with
/// holds more than its window).
fn keep_last<T>(values: &mut VecDeque<T>, n: usize) {
    let excess = values.len().saturating_sub(n);
    // The oldest `excess` move to the back, where `truncate` drops them.
    values.rotate_left(excess);
    values.truncate(n);
}

/// The last [`SMA_WINDOW`] prices, oldest first, and their running sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Prices {
    values: VecDeque<f64>,
    sum: f64,
    /// Prices dropped from the window since `sum` was last recomputed.
    evicted: usize,
}

impl Prices {
    /// An empty window.
    pub(super) fn new() -> Self {
        Self { values: VecDeque::with_capacity(SMA_WINDOW), sum: 0.0, evicted: 0 }
    }

    /// Adds `price`, dropping the oldest once the window is full.
    pub(super) fn push(&mut self, price: f64) {
        // Dropping before adding keeps the length within the capacity.
        let old = if self.values.len() >= SMA_WINDOW { self.values.pop_front() } else { None };
        self.values.push_back(price);
        // Saturating (prices are positive): the state must stay finite.
        match old {
            Some(old) => {
                self.sum = (self.sum - old + price).min(f64::MAX);
                self.evicted = self.evicted.saturating_add(1);
            }
            None => self.sum = (self.sum + price).min(f64::MAX),
        }
        if self.evicted >= SMA_WINDOW || self.values.len() > SMA_WINDOW {
            // The window has turned over: start the sum afresh, so rounding
            // never builds up past one window's additions.
            keep_last(&mut self.values, SMA_WINDOW);
            self.sum = self.values.iter().sum::<f64>().min(f64::MAX);
            self.evicted = 0;
        }
    }

    /// The mean of the window, once it is full.
    pub(super) fn mean(&self) -> Option<f64> {
        (self.values.len() >= SMA_WINDOW).then_some(self.sum / SMA_WINDOW as f64)
    }
}

/// The last [`VOLATILITY_WINDOW`] log returns with the interval each
/// spans, oldest first; their mean and M2 (Σ (r − mean)²) by Welford's
/// update, and the intervals' sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Returns {
    /// (log return, interval in microseconds).
    steps: VecDeque<(f64, i64)>,
    /// Σ intervals, in microseconds: integers, so exact.
    micros: i64,
    mean: f64,
    m2: f64,
    /// The largest M2 since the last exact recomputation.
    peak: f64,
    /// Returns added since the last exact recomputation.
    updates: usize,
}

impl Returns {
    /// An empty window.
    pub(super) fn new() -> Self {
        Self { steps: VecDeque::with_capacity(VOLATILITY_WINDOW), micros: 0, mean: 0.0, m2: 0.0, peak: 0.0, updates: 0 }
    }

    /// Adds the log return `value` over `micros`, dropping the oldest once
    /// the window is full.
    pub(super) fn push(&mut self, value: f64, micros: i64) {
        let micros = micros.clamp(0, MAX_INTERVAL_MICROS);
        let old = if self.steps.len() >= VOLATILITY_WINDOW { self.steps.pop_front() } else { None };
        self.steps.push_back((value, micros));
        self.micros = self.micros.saturating_add(micros);
        let n = self.steps.len() as f64;
        match old {
            Some((old_value, old_micros)) => {
                self.micros = self.micros.saturating_sub(old_micros);
                // Welford's replacement at constant n:
                // M2' = M2 + (x − x₀)(x − mean' + x₀ − mean).
                let delta = value - old_value;
                let mean = self.mean + delta / n;
                self.m2 += delta * (value - mean + old_value - self.mean);
                self.mean = mean;
            }
            None => {
                let delta = value - self.mean;
                self.mean += delta / n;
                self.m2 += delta * (value - self.mean);
            }
        }
        self.m2 = self.m2.max(0.0);
        self.updates = self.updates.saturating_add(1);
        let cancelled = self.m2 < self.peak * CANCELLATION;
        if cancelled || self.updates >= VOLATILITY_WINDOW || self.steps.len() > VOLATILITY_WINDOW {
            self.exact();
        } else {
            self.peak = self.peak.max(self.m2);
        }
    }

    /// Recomputes the mean and M2 from the window (two passes) and the
    /// intervals' sum, dropping any drift.
    fn exact(&mut self) {
        keep_last(&mut self.steps, VOLATILITY_WINDOW);
        // `max(1)`: an empty window has mean 0, not 0 / 0.
        let n = self.steps.len().max(1) as f64;
        let mean = self.steps.iter().map(|s| s.0).sum::<f64>() / n;
        self.m2 = self.steps.iter().map(|s| (s.0 - mean) * (s.0 - mean)).sum();
        self.mean = mean;
        self.micros = self.steps.iter().fold(0i64, |sum, s| sum.saturating_add(s.1));
        self.peak = self.m2;
        self.updates = 0;
    }

    /// The annualised volatility: none below two returns, or when the
    /// returns span no time.
    pub(super) fn volatility(&self) -> Option<f64> {
        let n = self.steps.len();
        if n < 2 || self.micros <= 0 {
            return None;
        }
        let per_tick = (self.m2 / (n - 1) as f64).sqrt();
        let interval_seconds = self.micros as f64 / n as f64 / MICROS_PER_SECOND;
        Some(per_tick * (SECONDS_PER_YEAR / interval_seconds).sqrt())
    }
}

/// A Neumaier-compensated sum of values ≥ 0, saturating at `f64::MAX`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Sum {
    sum: f64,
    /// The low-order bits the additions to `sum` rounded away.
    compensation: f64,
}

impl Sum {
    /// Adds `value` (≥ 0).
    pub(super) fn add(&mut self, value: f64) {
        let total = self.sum + value;
        if !total.is_finite() {
            // Only products beyond 10³⁰⁸ get here; the state must stay
            // finite to serialise (JSON has no infinity).
            *self = Self { sum: f64::MAX, compensation: 0.0 };
            return;
        }
        let lost = if self.sum.abs() >= value.abs() { (self.sum - total) + value } else { (value - total) + self.sum };
        self.compensation = (self.compensation + lost).clamp(-f64::MAX, f64::MAX);
        self.sum = total;
    }

    /// The sum.
    pub(super) fn total(self) -> f64 {
        (self.sum + self.compensation).min(f64::MAX)
    }
}
