//! Content negotiation per the GraphQL-over-HTTP spec.

use axum::http::HeaderMap;

/// The two response media types the spec defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: status codes carry meaning.
    GraphqlResponse,
    /// `application/json`: legacy; GraphQL errors come with 200.
    Json,
}

impl MediaType {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept`; `None` means 406. A missing
/// header means `application/json` (spec: legacy clients).
pub fn accept(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
        let mut quality = 1.0_f32;
        let mut charset_ok = true;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = v.trim().parse().unwrap_or(0.0),
                    "charset" => charset_ok = v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8"),
                    _ => {}
                }
            }
        }
        if quality <= 0.0 || !charset_ok {
            continue;
        }
        let media = match essence.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        // Higher q wins; on a tie the first listed stays.
        if best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, media));
        }
    }
    best.map(|(_, m)| m)
}

/// Whether a browser asked for a page (GraphiQL) rather than data.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The kind of request body, from `Content-Type`.
pub enum BodyKind {
    /// `application/json` in UTF-8.
    Json,
    /// `multipart/form-data` (GraphQL multipart request spec, uploads).
    Multipart(String),
    /// Anything else.
    Unsupported,
}

/// Classifies `Content-Type`; non-UTF-8 JSON is unsupported. Of the three
/// types an HTML form can post cross-site without a preflight,
/// `application/x-www-form-urlencoded` and `text/plain` are unsupported here
/// (415), and `multipart/form-data` must carry a header a form cannot add
/// (`multipart::PREFLIGHT_HEADERS`, checked by the handler).
pub fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return BodyKind::Unsupported;
    };
    let mut parts = ct.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "application/graphql-request+json" => {
            let utf8 = parts.all(|p| match p.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                    v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                }
                _ => true,
            });
            if utf8 { BodyKind::Json } else { BodyKind::Unsupported }
        }
        "multipart/form-data" => BodyKind::Multipart(ct.to_owned()),
        _ => BodyKind::Unsupported,
    }
}
