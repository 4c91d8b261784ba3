//! Malformed access tokens are all rejected with `UNAUTHENTICATED` (401).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use alatar_tests::{Backend, TEST_JWT_SECRET, TestApp};

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

fn sign(claims: &Value, key: &str) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key.as_bytes()))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn malformed_tokens_are_rejected() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (valid, _, _) = app.register("jwt@shop.example").await;
    let parts: Vec<&str> = valid.split('.').collect();
    let payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
            .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut claims = payload.clone();
        claims[key] = value;
        claims
    };
    let mut tampered_claims = payload.clone();
    tampered_claims["role"] = json!("OWNER");
    tampered_claims["acc"] = json!(uuid::Uuid::new_v4());
    let cases = [
        ("alg none", format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), parts[1])),
        ("wrong key", sign(&payload, "another-secret-another-secret-another-secret")),
        ("expired", sign(&with("exp", json!(now - 3600)), TEST_JWT_SECRET)),
        ("wrong iss", sign(&with("iss", json!("evil")), TEST_JWT_SECRET)),
        ("wrong aud", sign(&with("aud", json!("other-api")), TEST_JWT_SECRET)),
        ("no exp", {
            let mut c = payload.clone();
            c.as_object_mut().map(|o| o.remove("exp"));
            sign(&c, TEST_JWT_SECRET)
        }),
        ("tampered payload", format!("{}.{}.{}", parts[0], b64(&tampered_claims), parts[2])),
        (
            "HS512",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS512),
                &payload,
                &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
            )
            .unwrap_or_default(),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in cases {
        let r = app.gql("{ me { id } }", json!({}), Some(&token)).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{name}");
        assert!(r.body.get("data").is_none(), "{name}: nothing executed");
    }
    app.gql("{ me { id } }", json!({}), Some(&valid)).await.ok();
}
