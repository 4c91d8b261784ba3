//! The production model path against a scripted OpenAI-compatible server:
//! the tool-call loop, streaming, a 429 then success, a timeout, and a whole
//! analysis planned and written by the model with the user's model choice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use alatar_agents::llm::{ChatClient, ChatConfig, LlmError};
use alatar_agents::tools::{Compare, LangchainTool};
use alatar_tests::fake_llm::{FakeLlm, Reply, chunks, completion, error, tool_call};
use alatar_tests::{Backend, TestApp};
use langchain_rust::schemas::Message;

fn client(fake: &FakeLlm, timeout: Duration, max_retries: u32) -> ChatClient {
    ChatClient::new(ChatConfig {
        base_url: fake.base_url.clone(),
        api_key: "test-key".to_owned().into(),
        timeout,
        max_retries,
        backoff: Duration::from_millis(10),
        prices: HashMap::new(),
    })
}

fn question() -> Vec<Message> {
    vec![Message::new_system_message("Be brief."), Message::new_human_message("How much did revenue change?")]
}

#[tokio::test]
async fn the_model_calls_tools_until_it_answers() {
    let fake = FakeLlm::start(vec![
        Reply::Json(200, tool_call("stats_compare", json!({ "current": 125.0, "previous": 100.0 }))),
        Reply::Json(200, completion("Revenue rose 25%.")),
    ])
    .await;
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let tools = [LangchainTool::shared(Compare, log.clone())];
    let answer = client(&fake, Duration::from_secs(5), 0).run_tools("acme/m", question(), &tools, 4).await;
    assert_eq!(answer.ok().as_deref(), Some("Revenue rose 25%."));
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["model"], "acme/m");
    assert_eq!(requests[0]["tools"][0]["function"]["name"], "stats_compare");
    assert!(requests[0]["tools"][0]["function"]["parameters"]["properties"]["current"].is_object());
    let messages = requests[1]["messages"].as_array().cloned().unwrap_or_default();
    let tool_message = messages.iter().find(|m| m["role"] == "tool").unwrap_or_else(|| panic!("{messages:?}"));
    assert_eq!(tool_message["tool_call_id"], "call_1");
    let result: Value = serde_json::from_str(tool_message["content"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(result["change_pct"], json!(25.0), "the tool computed it, not the model");
    let recorded = log.lock().map(|l| l.iter().map(|c| c.tool.clone()).collect::<Vec<_>>()).unwrap_or_default();
    assert_eq!(recorded, vec!["stats.compare".to_owned()]);
}

#[tokio::test]
async fn answers_stream() {
    let fake = FakeLlm::start(vec![Reply::Sse(chunks(&["Revenue ", "rose ", "25%."]))]).await;
    let text = client(&fake, Duration::from_secs(5), 0).stream_text("acme/m", &question()).await;
    assert_eq!(text.ok().as_deref(), Some("Revenue rose 25%."));
    assert_eq!(fake.requests()[0]["stream"], true);
}

#[tokio::test]
async fn a_429_is_retried_then_succeeds() {
    let fake = FakeLlm::start(vec![
        Reply::Json(429, error("slow down")),
        Reply::Json(503, json!({})),
        Reply::Json(200, completion("ok")),
    ])
    .await;
    let answer = client(&fake, Duration::from_secs(5), 3).complete("acme/m", &question(), &[]).await;
    let answer = answer.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.generation, "ok");
    // The tokens the cost log prices.
    let tokens = answer.tokens.map(|t| (t.prompt_tokens, t.completion_tokens));
    assert_eq!(tokens, Some((120, 30)));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_hanging_model_times_out() {
    let slow = || Reply::Slow(Duration::from_secs(3), Box::new(Reply::Json(200, completion("too late"))));
    let fake = FakeLlm::start(vec![slow(), slow()]).await;
    let started = Instant::now();
    let answer = client(&fake, Duration::from_millis(300), 1).complete("acme/m", &question(), &[]).await;
    assert!(matches!(answer, Err(LlmError::Unavailable(_))), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "gave up after the timeout and one retry");
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_planned_and_written_by_the_model() {
    let narrative =
        json!({ "summary": "The model says revenue rose.", "sections": [{ "title": "Trend", "body": "Up." }] });
    let (request, fake) = analysed_by_model(Reply::Json(200, completion(&narrative.to_string()))).await;
    super::analysis::assert_settled(&request);
    assert_eq!(request["intent"], "REVENUE_TREND");
    assert_eq!(request["result"]["summary"], "The model says revenue rose.");
    assert_eq!(request["result"]["writtenBy"], "acme/analyst-1");
    let writer =
        request["tasks"].as_array().into_iter().flatten().find(|t| t["department"] == "QualitativeAnalysis").cloned();
    assert_eq!(
        writer.map(|t| t["toolCalls"].clone()),
        Some(json!([{ "tool": "stats.compare" }])),
        "the model's tool call is on record"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r["model"] == "acme/analyst-1"), "the user's model choice wins");
}

/// A revenue question on the demo store, planned (streamed) by the scripted
/// model and written with one tool call, then `narrative`; the settled request.
async fn analysed_by_model(narrative: Reply) -> (Value, FakeLlm) {
    let fake = FakeLlm::start(vec![
        // Plan (streamed), as structured output.
        Reply::Sse(chunks(&["{\"intent\": \"REVENUE_TREND\",", " \"months\": 3, \"days\": null}"])),
        // Write: one tool call, then the narrative.
        Reply::Json(200, tool_call("stats_compare", json!({ "current": 110.0, "previous": 100.0 }))),
        narrative,
    ])
    .await;
    let base_url = fake.base_url.clone();
    let app = TestApp::with_config(Backend::Sqlite, move |c| {
        c.llm.api_key = Some("test-key".to_owned().into());
        c.llm.base_url = base_url;
        c.llm.backoff_ms = 10;
    })
    .await;
    let (token, _, _) = app.register("owner@model.example").await;
    app.gql(
        "mutation { updatePreferences(input: { llmModel: \"acme/analyst-1\" }) { llmModel } }",
        json!({}),
        Some(&token),
    )
    .await
    .ok();
    let store = app.gql("mutation { connectDemoStore { id } }", json!({}), Some(&token)).await.ok();
    let submitted = app
        .gql(
            "mutation($s: ID!) { submitAnalysisRequest(prompt: \"How is revenue doing?\", storeId: $s) { id model } }",
            json!({ "s": store.data("/connectDemoStore/id") }),
            Some(&token),
        )
        .await
        .ok();
    assert_eq!(submitted.data("/submitAnalysisRequest/model"), &json!("acme/analyst-1"));
    let id = submitted.data("/submitAnalysisRequest/id").clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    let request = loop {
        let r = app
            .gql(
                "query($id: ID!) { analysisRequest(id: $id) { status intent failureReason result { summary writtenBy sections { title } }
                   tasks { department toolCalls { tool } } } }",
                json!({ "id": id }),
                Some(&token),
            )
            .await
            .ok();
        let request = r.data("/analysisRequest").clone();
        if matches!(request["status"].as_str(), Some("AWAITING_APPROVAL" | "COMPLETED" | "FAILED")) {
            break request;
        }
        assert!(Instant::now() < deadline, "{request}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (request, fake)
}

/// A model narrative that fails validation is replaced by the offline
/// rules, and the result says who wrote it: not the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_narrative_is_credited_to_the_offline_rules() {
    let (request, _fake) = analysed_by_model(Reply::Json(200, completion("not the JSON the schema asks for"))).await;
    super::analysis::assert_settled(&request);
    let author = request["result"]["writtenBy"].as_str().unwrap_or_default();
    assert!(author.starts_with("offline rules"), "{request}");
    assert!(author.contains("acme/analyst-1"), "names the model that failed: {author}");
    assert_ne!(request["result"]["summary"], "The model says revenue rose.");
}
