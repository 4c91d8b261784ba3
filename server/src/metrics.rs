//! Prometheus metrics: HTTP requests and latency, GraphQL operations and
//! errors by code, GraphQL requests in flight and those their clients
//! abandoned, pipeline step durations and overhead, model calls (count,
//! tokens each way, estimated cost, latency) by model, and Shopify query cost
//! and throttle waits. Exposed on `/metrics`.
//!
//! Shopify figures carry no shop label: shops are as many as installs, and
//! every shop would be a series of its own.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError};

use alatar_agents::telemetry::{ClientObserver, LlmCall};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LlmCallLabels {
    model: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    kind: &'static str,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;
type StepFamily = Family<StepLabels, Histogram, fn() -> Histogram>;
type ModelLatencyFamily = Family<ModelLabels, Histogram, fn() -> Histogram>;
type FloatCounter = Counter<f64, AtomicU64>;

/// Distinct model labels kept; later models are counted as `other`. Users
/// choose their model by preference, so ids are not bounded by configuration.
const MAX_MODEL_LABELS: usize = 50;

/// The server's metric families.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: LatencyFamily,
    operations: Family<OperationLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    graphql_in_flight: Gauge,
    graphql_abandoned: Counter,
    step_duration: StepFamily,
    step_overhead: StepFamily,
    llm_calls: Family<LlmCallLabels, Counter>,
    llm_tokens: Family<TokenLabels, Counter>,
    llm_cost: Family<ModelLabels, FloatCounter>,
    llm_duration: ModelLatencyFamily,
    llm_models: Mutex<HashSet<String>>,
    shopify_cost: Family<CostLabels, FloatCounter>,
    shopify_throttle_wait: Histogram,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~1.6 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

fn llm_histogram() -> Histogram {
    // 50 ms … ~100 s
    Histogram::new(exponential_buckets(0.05, 2.0, 12))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("alatar");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let operations = Family::<OperationLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route and status", http_requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", http_latency.clone());
        registry.register("graphql_operations", "GraphQL operations by type", operations.clone());
        registry.register("graphql_errors", "GraphQL errors by extensions.code", errors.clone());
        let graphql_in_flight: Gauge = Gauge::default();
        let graphql_abandoned: Counter = Counter::default();
        registry.register(
            "graphql_requests_in_flight",
            "GraphQL requests over HTTP being executed",
            graphql_in_flight.clone(),
        );
        registry.register(
            "graphql_requests_abandoned",
            "GraphQL requests over HTTP whose client went away before the answer; their execution was stopped",
            graphql_abandoned.clone(),
        );
        let step_duration: StepFamily = Family::new_with_constructor(latency_histogram);
        let step_overhead: StepFamily = Family::new_with_constructor(latency_histogram);
        registry.register("pipeline_step_duration_seconds", "Handled queue messages by step", step_duration.clone());
        registry.register(
            "pipeline_step_overhead_seconds",
            "Pipeline time per step excluding tool time",
            step_overhead.clone(),
        );
        let llm_calls = Family::<LlmCallLabels, Counter>::default();
        let llm_tokens = Family::<TokenLabels, Counter>::default();
        let llm_cost = Family::<ModelLabels, FloatCounter>::default();
        let llm_duration: ModelLatencyFamily = Family::new_with_constructor(llm_histogram);
        registry.register("llm_calls", "Model calls by model and outcome (ok, error)", llm_calls.clone());
        registry.register(
            "llm_tokens",
            "Model tokens by model and direction (in: prompt, out: completion)",
            llm_tokens.clone(),
        );
        registry.register("llm_cost_usd", "Estimated model cost in USD at the configured prices", llm_cost.clone());
        registry.register("llm_call_duration_seconds", "Model call latency, retries included", llm_duration.clone());
        let shopify_cost = Family::<CostLabels, FloatCounter>::default();
        // 10 ms … ~20 s
        let shopify_throttle_wait = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register(
            "shopify_query_cost",
            "Shopify Admin API query cost points, requested and actually used",
            shopify_cost.clone(),
        );
        registry.register(
            "shopify_throttle_wait_seconds",
            "Waits for a shop's query cost bucket to refill",
            shopify_throttle_wait.clone(),
        );
        Self {
            registry,
            http_requests,
            http_latency,
            operations,
            errors,
            graphql_in_flight,
            graphql_abandoned,
            step_duration,
            step_overhead,
            llm_calls,
            llm_tokens,
            llm_cost,
            llm_duration,
            llm_models: Mutex::new(HashSet::new()),
            shopify_cost,
            shopify_throttle_wait,
        }
    }
}

impl Metrics {
    /// Counts one finished HTTP request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels { method: method.to_owned(), route: route.to_owned(), status })
            .inc();
        self.http_latency.get_or_create(&RouteLabels { route: route.to_owned() }).observe(seconds);
    }

    /// Counts one GraphQL operation (`query`, `mutation`, `subscription`, `unknown`).
    pub fn operation(&self, operation_type: &'static str) {
        self.operations.get_or_create(&OperationLabels { operation_type }).inc();
    }

    /// Counts one GraphQL error by its code.
    pub fn error(&self, code: &str) {
        self.errors.get_or_create(&ErrorLabels { code: code.to_owned() }).inc();
    }

    /// One GraphQL request over HTTP starts executing: in flight until the
    /// guard is dropped, abandoned if that comes before [`InFlight::finished`].
    pub fn graphql_started(&self) -> InFlight<'_> {
        self.graphql_in_flight.inc();
        InFlight { metrics: self, finished: false }
    }

    /// `model`, or `other` once `MAX_MODEL_LABELS` other models have been seen.
    fn model_label(&self, model: &str) -> String {
        // A set of strings stays whole even if a holder panicked.
        let mut seen = self.llm_models.lock().unwrap_or_else(PoisonError::into_inner);
        if !seen.contains(model) {
            if seen.len() >= MAX_MODEL_LABELS {
                return "other".to_owned();
            }
            seen.insert(model.to_owned());
        }
        model.to_owned()
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }
}

/// A GraphQL request being executed. When its client goes away hyper ends
/// the connection and the serve loop drops it, the request's future with
/// it: the guard is then dropped unfinished, and the request counted as
/// abandoned (what an operator sees of clients that give up; nginx logs 499).
pub struct InFlight<'a> {
    metrics: &'a Metrics,
    finished: bool,
}

impl InFlight<'_> {
    /// The execution is over: the answer is the server's to send.
    pub fn finished(mut self) {
        self.finished = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.graphql_in_flight.dec();
        if !self.finished {
            self.metrics.graphql_abandoned.inc();
            // In the request's span: its id says which.
            tracing::debug!("request abandoned: the client went away before the answer, and its execution was stopped");
        }
    }
}

impl alatar_agents::pipeline::StepObserver for Metrics {
    fn observe(&self, timing: alatar_agents::pipeline::StepTiming) {
        let labels = StepLabels { step: timing.step };
        self.step_duration.get_or_create(&labels).observe(timing.total.as_secs_f64());
        self.step_overhead.get_or_create(&labels).observe(timing.total.saturating_sub(timing.tools).as_secs_f64());
    }
}

/// Adds `value` to a float counter, which must only grow.
fn add(counter: &FloatCounter, value: f64) {
    if value.is_finite() && value > 0.0 {
        counter.inc_by(value);
    }
}

impl ClientObserver for Metrics {
    fn llm_call(&self, call: &LlmCall<'_>) {
        let model = self.model_label(call.model);
        let outcome = if call.ok { "ok" } else { "error" };
        self.llm_calls.get_or_create(&LlmCallLabels { model: model.clone(), outcome }).inc();
        self.llm_tokens.get_or_create(&TokenLabels { model: model.clone(), direction: "in" }).inc_by(call.tokens_in);
        self.llm_tokens.get_or_create(&TokenLabels { model: model.clone(), direction: "out" }).inc_by(call.tokens_out);
        let labels = ModelLabels { model };
        add(&self.llm_cost.get_or_create(&labels), call.cost_usd);
        self.llm_duration.get_or_create(&labels).observe(call.seconds);
    }

    fn shopify_cost(&self, _shop: &str, requested: f64, actual: f64) {
        add(&self.shopify_cost.get_or_create(&CostLabels { kind: "requested" }), requested);
        add(&self.shopify_cost.get_or_create(&CostLabels { kind: "actual" }), actual);
    }

    fn shopify_throttle_wait(&self, _shop: &str, seconds: f64) {
        self.shopify_throttle_wait.observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_calls_are_exported_by_model_and_shopify_costs_without_the_shop() {
        let metrics = Metrics::default();
        let call = LlmCall { model: "acme/m", tokens_in: 120, tokens_out: 30, cost_usd: 0.5, seconds: 1.5, ok: true };
        metrics.llm_call(&call);
        metrics.llm_call(&call);
        metrics.llm_call(&LlmCall { tokens_in: 0, tokens_out: 0, cost_usd: 0.0, ok: false, ..call });
        metrics.shopify_cost("a.myshopify.com", 52.0, 10.0);
        metrics.shopify_cost("b.myshopify.com", 48.0, 5.0);
        metrics.shopify_throttle_wait("a.myshopify.com", 0.25);
        let text = metrics.render();
        for line in [
            "alatar_llm_calls_total{model=\"acme/m\",outcome=\"ok\"} 2\n",
            "alatar_llm_calls_total{model=\"acme/m\",outcome=\"error\"} 1\n",
            "alatar_llm_tokens_total{model=\"acme/m\",direction=\"in\"} 240\n",
            "alatar_llm_tokens_total{model=\"acme/m\",direction=\"out\"} 60\n",
            "alatar_llm_cost_usd_total{model=\"acme/m\"} 1.0\n",
            "alatar_llm_call_duration_seconds_count{model=\"acme/m\"} 3\n",
            "alatar_llm_call_duration_seconds_sum{model=\"acme/m\"} 4.5\n",
            "alatar_shopify_query_cost_total{kind=\"requested\"} 100.0\n",
            "alatar_shopify_query_cost_total{kind=\"actual\"} 15.0\n",
            "alatar_shopify_throttle_wait_seconds_count 1\n",
            "alatar_shopify_throttle_wait_seconds_sum 0.25\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
        assert!(!text.contains("myshopify"), "no shop labels:\n{text}");
    }

    #[test]
    fn graphql_requests_are_in_flight_until_dropped_and_abandoned_unless_finished() {
        let metrics = Metrics::default();
        let answered = metrics.graphql_started();
        let abandoned = metrics.graphql_started();
        let text = metrics.render();
        assert!(text.contains("alatar_graphql_requests_in_flight 2\n"), "{text}");
        answered.finished();
        drop(abandoned);
        let text = metrics.render();
        assert!(text.contains("alatar_graphql_requests_in_flight 0\n"), "{text}");
        assert!(text.contains("alatar_graphql_requests_abandoned_total 1\n"), "{text}");
    }

    #[test]
    fn model_labels_are_bounded() {
        let metrics = Metrics::default();
        for i in 0..MAX_MODEL_LABELS + 10 {
            let model = format!("user/model-{i}");
            metrics.llm_call(&LlmCall {
                model: &model,
                tokens_in: 1,
                tokens_out: 1,
                cost_usd: 0.0,
                seconds: 0.1,
                ok: true,
            });
        }
        let text = metrics.render();
        assert!(text.contains("alatar_llm_calls_total{model=\"user/model-0\",outcome=\"ok\"} 1\n"), "{text}");
        assert!(text.contains("alatar_llm_calls_total{model=\"other\",outcome=\"ok\"} 10\n"), "{text}");
        assert!(!text.contains(&format!("model-{}\"", MAX_MODEL_LABELS)), "{text}");
    }
}
