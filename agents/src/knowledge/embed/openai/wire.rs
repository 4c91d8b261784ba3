//! The embeddings API on the wire: the request, the answer (checked before
//! any vector is used), `Retry-After` and error bodies.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// `POST /embeddings`.
#[derive(Serialize)]
pub(super) struct EmbeddingRequest<'a> {
    pub model: &'a str,
    pub input: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<usize>,
    /// Explicitly: some clients and servers default to base64.
    pub encoding_format: &'static str,
}

/// The answer; other fields (`model`, `usage`) are not needed.
#[derive(Deserialize)]
pub(super) struct EmbeddingResponse {
    data: Vec<EmbeddingData>,
}

#[derive(Deserialize)]
struct EmbeddingData {
    /// Which input this is; a few compatible servers leave it out and keep
    /// the order.
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl EmbeddingResponse {
    /// The vectors in input order, if there is exactly one of `dimension`
    /// for each of the `count` inputs.
    pub fn into_vectors(self, count: usize, dimension: usize) -> Result<Vec<Vec<f32>>, String> {
        if self.data.len() != count {
            return Err(format!("{} vectors for {count} texts", self.data.len()));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; count];
        for (position, item) in self.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            if item.embedding.len() != dimension {
                return Err(format!(
                    "a vector of {} dimensions where {dimension} are configured; configure the model's \
                     dimension (or have it shorten its vectors with `dimensions`)",
                    item.embedding.len()
                ));
            }
            let Some(slot) = slots.get_mut(index) else {
                return Err(format!("a vector for text {index} of {count}"));
            };
            if slot.is_some() {
                return Err(format!("two vectors for text {index}"));
            }
            *slot = Some(item.embedding);
        }
        // Every slot is filled: `count` distinct indices below `count`.
        Ok(slots.into_iter().flatten().collect())
    }
}

/// The provider's wait hint: `retry-after-ms` (OpenAI, Azure), else
/// `Retry-After` in seconds or as an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let value = header("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    // A date already past means "now".
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// What an error answer says: OpenAI's `{"error": {"message"}}`, a bare
/// `{"error": "…"}` or `{"message": "…"}`, else the start of the body.
pub(super) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Detail {
        Nested { message: String },
        Text(String),
    }
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<Detail>,
        message: Option<String>,
    }
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
        match (envelope.error, envelope.message) {
            (Some(Detail::Nested { message } | Detail::Text(message)), _) | (None, Some(message)) => return message,
            (None, None) => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no details".to_owned();
    }
    text.chars().take(200).collect()
}

/// A failed exchange, for the logs and the error.
pub(super) fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        format!("could not connect: {error}")
    } else {
        format!("request failed: {error}")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(*value));
        }
        map
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 8, 0, 0).single().unwrap_or_else(|| panic!("a valid date"))
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        assert_eq!(retry_after(&headers(&[("retry-after", "3")]), now()), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 02 Dec 2026 08:00:20 GMT")]), now()),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "Wed, 02 Dec 2026 07:00:00 GMT")]), now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")]), now()),
            Some(Duration::from_millis(250))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now()), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-1")]), now()), None);
        assert_eq!(retry_after(&HeaderMap::new(), now()), None);
    }

    #[test]
    fn error_messages_come_from_the_usual_shapes() {
        assert_eq!(error_message(br#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_message(br#"{"error":"overloaded"}"#), "overloaded");
        assert_eq!(error_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(error_message(b"<html>502</html>"), "<html>502</html>");
        assert_eq!(error_message(b""), "no details");
    }

    fn answer(json: &str) -> EmbeddingResponse {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn vectors_come_back_in_input_order() {
        let json = r#"{"data":[{"index":1,"embedding":[0.0,1.0]},{"index":0,"embedding":[1.0,0.0]}],"model":"m"}"#;
        assert_eq!(answer(json).into_vectors(2, 2), Ok(vec![vec![1.0, 0.0], vec![0.0, 1.0]]));
        let unindexed = r#"{"data":[{"embedding":[1.0,0.0]},{"embedding":[0.0,1.0]}]}"#;
        assert_eq!(answer(unindexed).into_vectors(2, 2), Ok(vec![vec![1.0, 0.0], vec![0.0, 1.0]]));
    }

    #[test]
    fn a_wrong_count_dimension_or_index_is_refused() {
        let one = r#"{"data":[{"index":0,"embedding":[1.0,0.0]}]}"#;
        assert!(answer(one).into_vectors(2, 2).is_err());
        assert!(answer(one).into_vectors(1, 3).is_err_and(|e| e.contains("2 dimensions where 3")));
        let twice = r#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[1.0]}]}"#;
        assert!(answer(twice).into_vectors(2, 1).is_err());
        let beyond = r#"{"data":[{"index":0,"embedding":[1.0]},{"index":2,"embedding":[1.0]}]}"#;
        assert!(answer(beyond).into_vectors(2, 1).is_err());
    }
}
