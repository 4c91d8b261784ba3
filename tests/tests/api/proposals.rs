//! Proposals' lifetime comes from configuration (`pipeline.proposal_ttl_hours`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use alatar_server::Config;
use alatar_tests::{Backend, TestApp};

use super::analysis::QUESTION;

const RESULT: &str = "query($id: ID!) { analysisRequest(id: $id) { status
    result { proposedActions { createdAt expiresAt } } } }";

async fn proposals(app: &TestApp, token: &str, store: &str) -> Vec<Value> {
    let submitted = app
        .gql(
            "mutation($p: String!, $s: ID!) { submitAnalysisRequest(prompt: $p, storeId: $s) { id } }",
            json!({ "p": QUESTION, "s": store }),
            Some(token),
        )
        .await
        .ok();
    let id = submitted.data("/submitAnalysisRequest/id").clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = app.gql(RESULT, json!({ "id": id }), Some(token)).await.ok();
        let request = r.data("/analysisRequest").clone();
        if matches!(request["status"].as_str(), Some("AWAITING_APPROVAL" | "COMPLETED" | "FAILED" | "CANCELLED")) {
            return request["result"]["proposedActions"].as_array().cloned().unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "request {id} did not finish: {request}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("not a time: {v}"))
}

/// A configured lifetime sets every proposal's `expiresAt`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_live_as_long_as_configured() {
    let app = TestApp::with_config(Backend::Sqlite, |c| {
        c.pipeline.proposal_ttl_hours = 2;
        // The polling below counts against the hourly quota of `analysisRequest`.
        c.rate_limit.free_per_hour = 100_000;
    })
    .await;
    let (token, _, _) = app.register("owner@lifetime.example").await;
    let demo = app.gql("mutation { connectDemoStore(name: \"Demo\") { id } }", json!({}), Some(&token)).await.ok();
    let store = demo.data("/connectDemoStore/id").as_str().unwrap_or_default().to_owned();
    let actions = proposals(&app, &token, &store).await;
    assert!(!actions.is_empty(), "the demo question proposes changes");
    for action in &actions {
        let lifetime = at(&action["expiresAt"]) - at(&action["createdAt"]);
        assert_eq!(lifetime, chrono::Duration::hours(2), "{action}");
    }
}

/// A lifetime of zero is refused at startup, naming the key.
#[test]
fn a_zero_proposal_lifetime_is_refused() {
    let refused = Config::from_env_vars([("ALATAR_PIPELINE__PROPOSAL_TTL_HOURS", "0")]).err();
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("pipeline.proposal_ttl_hours"), "{message}");
    assert!(Config::from_env_vars([("ALATAR_PIPELINE__PROPOSAL_TTL_HOURS", "1")]).is_ok());
}
