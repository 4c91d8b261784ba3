//! `POST /graphql` and `GET /graphql` per the GraphQL-over-HTTP spec: strict
//! parameter checks, content negotiation, meaningful status codes. A browser's
//! `GET` gets GraphiQL; a WebSocket upgrade goes to `ws`.

use std::net::{IpAddr, SocketAddr};

use alatar_schema::auth::ClientAddr;
use async_graphql::parser::types::OperationType;
use async_graphql::{ServerError, Variables};
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value};

use super::auth::Credentials;
use super::negotiate::{self, BodyKind, MediaType};
use super::{HttpState, RequestId, multipart, ws};

/// A request refused before execution, with the status the spec asks for.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn bad(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: "BAD_USER_INPUT", message: message.into() }
    }

    fn into_response(self, media: MediaType, request_id: &str) -> Response {
        let body = serde_json::json!({
            "errors": [{
                "message": self.message,
                "extensions": { "code": self.code, "requestId": request_id },
            }]
        });
        let mut response = (self.status, body.to_string()).into_response();
        set_content_type(response.headers_mut(), media);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        response
    }
}

fn set_content_type(headers: &mut HeaderMap, media: MediaType) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
}

fn request_id(request: &Request) -> String {
    request.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
}

/// Reads `{query, operationName, variables, extensions}` strictly.
fn parse_params(value: Value) -> Result<async_graphql::Request, Refusal> {
    let Value::Object(mut map) = value else {
        return Err(Refusal::bad("the request must be a JSON object"));
    };
    let query = match map.remove("query") {
        Some(Value::String(q)) => q,
        Some(_) => return Err(Refusal::bad("`query` must be a string")),
        None => return Err(Refusal::bad("`query` is required")),
    };
    let mut request = async_graphql::Request::new(query);
    match map.remove("operationName") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => request = request.operation_name(name),
        Some(_) => return Err(Refusal::bad("`operationName` must be a string")),
    }
    match map.remove("variables") {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v)),
        Some(_) => return Err(Refusal::bad("`variables` must be an object")),
    }
    match map.remove("extensions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ext)) => {
            for (key, value) in ext {
                let value = async_graphql::Value::from_json(value).map_err(|_| Refusal::bad("invalid `extensions`"))?;
                request.extensions.insert(key, value);
            }
        }
        Some(_) => return Err(Refusal::bad("`extensions` must be an object")),
    }
    Ok(request)
}

/// A JSON body: one request object, or a batch (array) of them.
fn parse_json_body(bytes: &[u8], max_batch: usize) -> Result<(Vec<async_graphql::Request>, bool), Refusal> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Refusal::bad(format!("body is not valid JSON: {e}")))?;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(Refusal::bad("an empty batch"));
            }
            if items.len() > max_batch {
                return Err(Refusal::bad(format!(
                    "batch of {} operations exceeds the limit of {max_batch}",
                    items.len()
                )));
            }
            Ok((items.into_iter().map(parse_params).collect::<Result<_, _>>()?, true))
        }
        single => Ok((vec![parse_params(single)?], false)),
    }
}

/// Query-string parameters of a `GET`; `variables` and `extensions` are JSON.
fn parse_query_string(raw: &str) -> Result<async_graphql::Request, Refusal> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|_| Refusal::bad("malformed query string"))?;
    let mut map = Map::new();
    for (key, value) in pairs {
        let value = match key.as_str() {
            "variables" | "extensions" => {
                serde_json::from_str(&value).map_err(|_| Refusal::bad(format!("`{key}` must be a JSON object")))?
            }
            _ => Value::String(value),
        };
        map.insert(key, value);
    }
    parse_params(Value::Object(map))
}

fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    let name = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    match name {
        Some(name) => doc.operations.iter().find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => doc.operations.iter().next(),
    }
    .map(|(_, op)| op.node.ty)
}

fn type_label(ty: Option<OperationType>) -> &'static str {
    match ty {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The client's address: the connection's peer, as the accept loop recorded
/// it, or, when that peer is one of the `trusted` proxies, the address it
/// reports (`forwarded_client`). None without a peer (in-process requests).
pub fn client_addr(extensions: &axum::http::Extensions, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<ClientAddr> {
    let peer = extensions.get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(ClientAddr(forwarded_client(peer, headers, trusted)))
}

/// Who a request coming from `peer` is from. A `trusted` proxy appends the
/// address it received the request from to `X-Forwarded-For`, after
/// whatever the client sent (RFC 7239's order, simplified to that header):
/// so the right-most entry that is not itself a trusted proxy is the
/// client, and everything left of it could be made up. Entries that are no
/// address are passed over (an `ip:port`, `[v6]` or `[v6]:port` counts);
/// with no usable one, or an untrusted peer, the peer is the client.
/// IPv4-mapped IPv6 addresses compare and count as IPv4.
fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|proxy| proxy.to_canonical() == ip);
    if !is_trusted(peer) {
        return peer;
    }
    // Several header lines are one list, in order (RFC 9110, 5.3).
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .rev()
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.rsplit(','))
        .filter_map(forwarded_node)
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}

/// The address in one `X-Forwarded-For` entry, if it holds one.
fn forwarded_node(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The header proxies name the client in.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

pub async fn post(State(state): State<HttpState>, request: Request) -> Response {
    let rid = request_id(&request);
    let client = client_addr(request.extensions(), request.headers(), &state.trusted_proxies);
    let Some(media) = negotiate::accept(request.headers()) else {
        return not_acceptable(&rid);
    };
    let credentials = state.auth.verify_headers(request.headers()).await;
    if let Credentials::Invalid = credentials {
        return unauthenticated(media, &rid);
    }
    let kind = negotiate::body_kind(request.headers());
    let parsed = match kind {
        BodyKind::Unsupported => Err(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "BAD_USER_INPUT",
            message: "unsupported content type: send application/json (UTF-8) or multipart/form-data".into(),
        }),
        BodyKind::Json => match to_bytes(request.into_body(), state.graphql.max_body_bytes).await {
            Ok(bytes) => parse_json_body(&bytes, state.graphql.max_batch),
            Err(_) => Err(too_large(state.graphql.max_body_bytes)),
        },
        BodyKind::Multipart(content_type) => read_multipart(&state, content_type, request).await,
    };
    match parsed {
        Ok((requests, batch)) => execute(&state, requests, batch, credentials, client, media, &rid).await,
        Err(refusal) => refusal.into_response(media, &rid),
    }
}

fn too_large(limit: usize) -> Refusal {
    Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "BAD_USER_INPUT",
        message: format!("request body exceeds {limit} bytes"),
    }
}

/// A GraphQL multipart request (uploads), read within the upload limits.
async fn read_multipart(
    state: &HttpState,
    content_type: String,
    request: Request,
) -> Result<(Vec<async_graphql::Request>, bool), Refusal> {
    // Multipart is the one accepted body a cross-site HTML form can send
    // without a preflight (CSRF); a header of our own it cannot add.
    if !multipart::preflighted(request.headers()) {
        let [apollo, ours] = multipart::PREFLIGHT_HEADERS;
        return Err(Refusal::bad(format!(
            "multipart requests must carry an `{apollo}` or `{ours}` header (any value): \
             a cross-site form cannot send one"
        )));
    }
    let limits = multipart::UploadLimits::new(&state.graphql);
    let datasets = multipart::DatasetUploads::new(&state.graphql, state.dataset_upload_bytes);
    let (parts, body) = request.into_parts();
    match multipart::receive_with(&parts.headers, &content_type, body, limits, Some(datasets)).await {
        Ok(async_graphql::BatchRequest::Single(r)) => Ok((vec![r], false)),
        Ok(async_graphql::BatchRequest::Batch(rs)) if rs.len() <= state.graphql.max_batch => Ok((rs, true)),
        Ok(async_graphql::BatchRequest::Batch(_)) => Err(Refusal::bad("batch exceeds the limit")),
        Err(multipart::UploadError::Exceeded(exceeded)) => Err(Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "BAD_USER_INPUT",
            message: exceeded.to_string(),
        }),
        Err(multipart::UploadError::Invalid(message)) => Err(Refusal::bad(message)),
    }
}

fn not_acceptable(rid: &str) -> Response {
    Refusal {
        status: StatusCode::NOT_ACCEPTABLE,
        code: "BAD_USER_INPUT",
        message: "not acceptable: use application/graphql-response+json or application/json".into(),
    }
    .into_response(MediaType::Json, rid)
}

fn unauthenticated(media: MediaType, rid: &str) -> Response {
    Refusal {
        status: StatusCode::UNAUTHORIZED,
        code: "UNAUTHENTICATED",
        message: "invalid or expired access token".into(),
    }
    .into_response(media, rid)
}

pub async fn get(State(state): State<HttpState>, request: Request) -> Response {
    let rid = request_id(&request);
    let (mut parts, _body) = request.into_parts();
    let client = client_addr(&parts.extensions, &parts.headers, &state.trusted_proxies);
    let is_upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        return ws::upgrade(state, &mut parts).await;
    }
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    if state.graphql.serves_playground() && negotiate::wants_html(&parts.headers) && !raw_query.contains("query=") {
        let page = async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .title("Alatar GraphQL")
            .finish();
        return Html(page).into_response();
    }
    let Some(media) = negotiate::accept(&parts.headers) else {
        return not_acceptable(&rid);
    };
    let credentials = state.auth.verify_headers(&parts.headers).await;
    if let Credentials::Invalid = credentials {
        return unauthenticated(media, &rid);
    }
    let mut gql = match parse_query_string(&raw_query) {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(media, &rid),
    };
    // Parsed through the cache, which does not parse a text over the token cap.
    state.documents.prepare(&mut gql);
    if operation_type(&mut gql) == Some(OperationType::Mutation) {
        let mut response = Refusal {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "BAD_USER_INPUT",
            message: "mutations are only accepted over POST".into(),
        }
        .into_response(media, &rid);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, vec![gql], false, credentials, client, media, &rid).await
}

/// True for errors raised before execution: the response has no `data`.
fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn error_code(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

fn retry_after(error: &ServerError) -> Option<u64> {
    match error.extensions.as_ref()?.get("retryAfter")? {
        async_graphql::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

async fn execute(
    state: &HttpState,
    requests: Vec<async_graphql::Request>,
    batch: bool,
    credentials: Credentials,
    client: Option<ClientAddr>,
    media: MediaType,
    rid: &str,
) -> Response {
    let viewer = match credentials {
        Credentials::Viewer(v) => Some(v),
        _ => None,
    };
    let run = |mut request: async_graphql::Request| {
        state.documents.prepare(&mut request);
        state.metrics.operation(type_label(operation_type(&mut request)));
        if let Some(viewer) = &viewer {
            request = request.data(viewer.clone());
        }
        if let Some(client) = client {
            request = request.data(client);
        }
        state.schema.execute(request)
    };
    // Counted from here to the end of execution; dropped before (the client
    // went away, and its connection with this future), it counts as abandoned.
    let in_flight = state.metrics.graphql_started();
    // A single operation (nearly every request) is awaited in place: collecting
    // its large future into `join_all`'s buffer only copies it around.
    let responses = if batch {
        futures_util::future::join_all(requests.into_iter().map(run)).await
    } else if let Some(request) = requests.into_iter().next() {
        vec![run(request).await]
    } else {
        Vec::new()
    };
    in_flight.finished();

    // Headers resolvers asked for (`startShopifyOAuth`'s state cookie).
    let asked: Vec<(axum::http::HeaderName, HeaderValue)> = responses
        .iter()
        .flat_map(|r| r.http_headers.iter().map(|(name, value)| (name.clone(), value.clone())))
        .collect();

    let mut limited: Option<u64> = None;
    let mut all_limited = true;
    let mut request_errors = true;
    let mut timed_out = false;
    // Retry hints from a busy server (UNAVAILABLE) rather than a rate limit.
    let mut unavailable = false;
    let bodies: Vec<ResponseBody> = responses
        .into_iter()
        .map(|mut response| {
            let request_error = is_request_error(&response);
            request_errors &= request_error;
            let mut this_limited = false;
            for error in &mut response.errors {
                if let Some(code) = error_code(error) {
                    state.metrics.error(code);
                    timed_out |= code == "TIMEOUT";
                    unavailable |= code == "UNAVAILABLE";
                }
                if let Some(after) = retry_after(error) {
                    limited = Some(limited.map_or(after, |l| l.max(after)));
                    this_limited = true;
                }
                error.extensions.get_or_insert_with(Default::default).set("requestId", rid);
            }
            all_limited &= this_limited;
            ResponseBody { request_error, response }
        })
        .collect();

    let status = if limited.is_some() && all_limited {
        // The client is not at fault when the server is busy: 503, as RFC 9110 has it.
        if unavailable { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::TOO_MANY_REQUESTS }
    } else if !batch && request_errors && media == MediaType::GraphqlResponse {
        // An operation stopped at its time budget is the server's doing, not a bad request.
        if timed_out { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::BAD_REQUEST }
    } else {
        StatusCode::OK
    };
    let body = if batch { serde_json::to_vec(&bodies) } else { serde_json::to_vec(&bodies.first()) };
    let mut response = (status, body.unwrap_or_default()).into_response();
    for (name, value) in asked {
        response.headers_mut().append(name, value);
    }
    set_content_type(response.headers_mut(), media);
    if let (StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE, Some(after)) = (status, limited) {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    response
}

/// One response as the spec shapes it: no `data` at all for a request error,
/// `errors` and `extensions` only when there are any. Serialised straight
/// from async-graphql's values, without an intermediate JSON tree.
struct ResponseBody {
    request_error: bool,
    response: async_graphql::Response,
}

impl serde::Serialize for ResponseBody {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let r = &self.response;
        let mut map = serializer.serialize_map(None)?;
        if !self.request_error {
            map.serialize_entry("data", &r.data)?;
        }
        if !r.errors.is_empty() {
            map.serialize_entry("errors", &r.errors)?;
        }
        if !r.extensions.is_empty() {
            map.serialize_entry("extensions", &r.extensions)?;
        }
        map.end()
    }
}

/// Lets `ws` reuse the extractor machinery on already-split parts.
pub async fn extract<T: FromRequestParts<()>>(parts: &mut axum::http::request::Parts) -> Result<T, T::Rejection> {
    T::from_request_parts(parts, &()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")));
        }
        headers
    }

    #[test]
    fn the_client_behind_trusted_proxies_is_the_right_most_untrusted_entry() {
        let (peer, inner) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let trusted = [peer, inner];
        let client = |lines: &[&str]| forwarded_client(peer, &forwarded(lines), &trusted);
        assert_eq!(client(&[]), peer, "no header: the peer");
        assert_eq!(client(&["203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(client(&["203.0.113.7, 10.0.0.2"]), ip("203.0.113.7"), "a chain of trusted proxies");
        assert_eq!(client(&["6.6.6.6, 7.7.7.7, 203.0.113.7"]), ip("203.0.113.7"), "what the client wrote is ignored");
        assert_eq!(client(&["6.6.6.6", "203.0.113.7,10.0.0.2"]), ip("203.0.113.7"), "several lines are one list");
        assert_eq!(client(&["203.0.113.7, not-an-address, "]), ip("203.0.113.7"), "malformed entries passed over");
        assert_eq!(client(&["unknown"]), peer);
        assert_eq!(client(&["10.0.0.2, 10.0.0.1"]), peer, "only proxies: the peer");
        assert_eq!(client(&["198.51.100.4:8443"]), ip("198.51.100.4"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let headers = forwarded(&["203.0.113.7"]);
        assert_eq!(forwarded_client(ip("198.51.100.9"), &headers, &[ip("10.0.0.1")]), ip("198.51.100.9"));
        assert_eq!(forwarded_client(ip("198.51.100.9"), &headers, &[]), ip("198.51.100.9"));
    }

    #[test]
    fn ipv6_peers_and_entries() {
        let trusted = [ip("10.0.0.1"), ip("2001:db8::10")];
        // A dual-stack listener sees an IPv4 proxy as IPv4-mapped.
        let mapped = ip("::ffff:10.0.0.1");
        assert_eq!(forwarded_client(mapped, &forwarded(&["2001:db8::7"]), &trusted), ip("2001:db8::7"));
        assert_eq!(forwarded_client(mapped, &forwarded(&[]), &trusted), ip("10.0.0.1"));
        let v6 = ip("2001:db8::10");
        assert_eq!(forwarded_client(v6, &forwarded(&["[2001:db8::8]:4711"]), &trusted), ip("2001:db8::8"));
        assert_eq!(forwarded_client(v6, &forwarded(&["[2001:db8::9]"]), &trusted), ip("2001:db8::9"));
        assert_eq!(forwarded_client(v6, &forwarded(&["::ffff:203.0.113.7"]), &trusted), ip("203.0.113.7"));
    }

    #[test]
    fn without_a_peer_there_is_no_client_address() {
        let headers = forwarded(&["203.0.113.7"]);
        let trusted = [ip("10.0.0.1")];
        assert_eq!(client_addr(&axum::http::Extensions::new(), &headers, &trusted), None);
        let mut extensions = axum::http::Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 40_000))));
        assert_eq!(client_addr(&extensions, &headers, &trusted), Some(ClientAddr(ip("203.0.113.7"))));
    }
}
