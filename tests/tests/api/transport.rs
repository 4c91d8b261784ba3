//! GraphQL over HTTP: negotiation, status codes, GET, GraphiQL.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use alatar_tests::{Backend, TestApp};

fn post(accept: &str, body: &str) -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(Body::from(body.to_owned()))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn status_codes_follow_the_media_type() {
    let app = TestApp::new(Backend::Sqlite).await;
    let gql = "application/graphql-response+json";
    let (status, headers, body) = app.send(post(gql, r#"{"query":"{ nope }"}"#)).await;
    assert_eq!(status, 400);
    assert!(headers["content-type"].to_str().unwrap_or_default().starts_with(gql));
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert!(body.get("data").is_none());
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let (status, headers, _) = app.send(post("application/json", r#"{"query":"{ nope }"}"#)).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap_or_default().starts_with("application/json"));

    // Field errors still come with data and 200.
    let (status, _, body) = app.send(post(gql, r#"{"query":"{ __typename me { id } }"}"#)).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    assert!(body.get("data").is_some());
    assert_eq!(body["errors"][0]["path"], json!(["me"]));

    let (status, _, _) = app.send(post("text/csv", r#"{"query":"{ __typename }"}"#)).await;
    assert_eq!(status, 406);
    let wrong_type = Request::post("/graphql")
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"query":"{ __typename }"}"#))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.send(wrong_type).await.0, 415);
    let latin1 = Request::post("/graphql")
        .header("content-type", "application/json; charset=iso-8859-1")
        .body(Body::from(r#"{"query":"{ __typename }"}"#))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(app.send(latin1).await.0, 415);
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let app = TestApp::new(Backend::Sqlite).await;
    let q = Request::get("/graphql?query=query+Q%7B__typename%7D&operationName=Q")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = app.send(q).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap_or_default(),
        json!({ "data": { "__typename": "Query" } })
    );
    let m = Request::get("/graphql?query=mutation%7Blogout%7D")
        .header("accept", "application/json")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, headers, _) = app.send(m).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "POST");
}

#[tokio::test]
async fn browsers_get_graphiql_wired_for_subscriptions() {
    let app = TestApp::new(Backend::Sqlite).await;
    let page = Request::get("/graphql")
        .header("accept", "text/html,application/xhtml+xml")
        .body(Body::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let (status, _, body) = app.send(page).await;
    assert_eq!(status, 200);
    let html = String::from_utf8_lossy(&body);
    assert!(html.contains("graphiql"), "not GraphiQL");
    assert!(
        html.contains("subscriptionUrl") || html.contains("ws://") || html.contains("wsUrl"),
        "no subscription endpoint"
    );
}
