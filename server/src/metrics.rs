//! Prometheus metrics: HTTP requests and latency, GraphQL operations and
//! errors by code, pipeline step durations and overhead. Exposed on `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;
type StepFamily = Family<StepLabels, Histogram, fn() -> Histogram>;

/// The server's metric families.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: LatencyFamily,
    operations: Family<OperationLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    step_duration: StepFamily,
    step_overhead: StepFamily,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~1.6 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
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
        let step_duration: StepFamily = Family::new_with_constructor(latency_histogram);
        let step_overhead: StepFamily = Family::new_with_constructor(latency_histogram);
        registry.register("pipeline_step_duration_seconds", "Handled queue messages by step", step_duration.clone());
        registry.register(
            "pipeline_step_overhead_seconds",
            "Pipeline time per step excluding tool time",
            step_overhead.clone(),
        );
        Self { registry, http_requests, http_latency, operations, errors, step_duration, step_overhead }
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

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }
}

impl alatar_agents::pipeline::StepObserver for Metrics {
    fn observe(&self, timing: alatar_agents::pipeline::StepTiming) {
        let labels = StepLabels { step: timing.step };
        self.step_duration.get_or_create(&labels).observe(timing.total.as_secs_f64());
        self.step_overhead.get_or_create(&labels).observe(timing.total.saturating_sub(timing.tools).as_secs_f64());
    }
}
