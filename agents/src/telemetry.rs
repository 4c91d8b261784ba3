//! The `ClientObserver` port: what the clients of outside services (the
//! model's `ChatClient`, Shopify's `AdminClient`) report for metrics. The
//! server feeds it into Prometheus; this crate knows no metrics library.

/// One model call, after its retries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlmCall<'a> {
    /// Model id.
    pub model: &'a str,
    /// Prompt tokens (0 for a failed call).
    pub tokens_in: u64,
    /// Completion tokens (0 for a failed call).
    pub tokens_out: u64,
    /// Estimated cost in USD at the configured price (0 without one).
    pub cost_usd: f64,
    /// Wall time, retries and their pauses included.
    pub seconds: f64,
    /// Whether the model answered.
    pub ok: bool,
}

/// Receives what the clients measure. Every method does nothing by default.
pub trait ClientObserver: Send + Sync {
    /// A model call finished (calls refused by an open circuit are not calls).
    fn llm_call(&self, _call: &LlmCall<'_>) {}
    /// An Admin API answer's `extensions.cost`: the points the query asked
    /// for and those it actually used.
    fn shopify_cost(&self, _shop: &str, _requested: f64, _actual: f64) {}
    /// The client waited this long for the shop's cost bucket to refill.
    fn shopify_throttle_wait(&self, _shop: &str, _seconds: f64) {}
}

/// Reports nowhere (tests, `alatar worker`, which serves no metrics).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl ClientObserver for NoObserver {}
