//! GraphQL over WebSocket on `/graphql`: `graphql-transport-ws` and the
//! legacy `graphql-ws` (subscriptions-transport-ws). The access token travels
//! in `connection_init` as `{"authorization": "Bearer …"}`.
//!
//! Keepalive at the WebSocket level, which every client answers without
//! being asked (graphql-ws clients send no pings of their own by default):
//! the server sends a Ping frame every `ping_interval` and closes (3008) a
//! socket that has sent nothing, pongs included, for `timeout`, or (4408)
//! one that has not completed `connection_init` within `init_timeout`.
//! async-graphql's own `keepalive_timeout` counts only GraphQL messages, so
//! it would close idle subscribers that answer pings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocket as GraphQLSession, WebSocketProtocols, WsMessage};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::http::header::SEC_WEBSOCKET_PROTOCOL;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt, future};
use tokio::time::{Instant, MissedTickBehavior};

use alatar_schema::AppSchema;

use super::HttpState;
use super::auth::{Authenticator, Credentials};
use super::graphql::extract;

/// The message the init callback fails with; the sink turns it into 4403.
const FORBIDDEN: &str = "Forbidden";

/// How every acknowledgement of `connection_init` begins (both protocols).
const ACK: &str = r#"{"type":"connection_ack""#;

/// How long a close frame may take to leave before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How long a WebSocket may stay quiet or unacknowledged.
#[derive(Debug, Clone, Copy)]
pub struct WebSocketLimits {
    /// Between the Ping frames the server sends.
    pub ping_interval: Duration,
    /// Silence from the client (no frame at all) after which it is closed;
    /// also the longest a frame to it may wait to be sent.
    pub timeout: Duration,
    /// Time to complete `connection_init`.
    pub init_timeout: Duration,
}

/// async-graphql closes with 1002/1011 where graphql-transport-ws prescribes
/// 4403 (rejected `connection_init`) and 4401 (subscribe before ack).
fn protocol_close_code(message: Message) -> Message {
    match message {
        Message::Close(Some(frame)) if frame.code == 1002 && frame.reason.as_str() == FORBIDDEN => {
            Message::Close(Some(CloseFrame { code: 4403, reason: FORBIDDEN.into() }))
        }
        Message::Close(Some(frame)) if frame.code == 1011 && frame.reason.as_str().contains("handshake") => {
            Message::Close(Some(CloseFrame { code: 4401, reason: "Unauthorized".into() }))
        }
        other => other,
    }
}

/// The GraphQL protocol the client asks for, read as async-graphql-axum's
/// `GraphQLProtocol` reads it (whose value it keeps private).
fn requested_protocol(parts: &Parts) -> Option<WebSocketProtocols> {
    let offered = parts.headers.get(SEC_WEBSOCKET_PROTOCOL)?.to_str().ok()?;
    offered.split(',').find_map(|protocol| protocol.trim().parse().ok())
}

pub async fn upgrade(state: HttpState, parts: &mut Parts) -> Response {
    let Some(protocol) = requested_protocol(parts) else { return StatusCode::BAD_REQUEST.into_response() };
    let upgrade = match extract::<WebSocketUpgrade>(parts).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let schema = state.schema.clone();
    let auth = state.auth.clone();
    let limits = state.websocket;
    let client = super::graphql::client_addr(&parts.extensions, &parts.headers, &state.trusted_proxies);
    let span = tracing::Span::current();
    // Subscriptions are small and mostly idle: tungstenite's default 128 KiB
    // read buffer per connection would dominate memory at thousands of them
    // (client messages are small; the buffer grows for a large one).
    let upgrade = upgrade.read_buffer_size(1024).write_buffer_size(0).max_message_size(1024 * 1024);
    // Answer with the protocol the session speaks: axum alone would pick by
    // our order, the session by the client's.
    upgrade.protocols([protocol.sec_websocket_protocol()]).on_upgrade(move |socket| {
        // The socket outlives the upgrade request; its operations log
        // under that request's span (request id, then user and account).
        tracing::Instrument::instrument(serve(socket, schema, auth, protocol, limits, client), span)
    })
}

/// Milliseconds from `start` to now.
fn millis_since(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `start + millis + extra`, or a year from now should that overflow.
fn after(start: Instant, millis: u64, extra: Duration) -> Instant {
    start
        .checked_add(Duration::from_millis(millis).saturating_add(extra))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 86_400))
}

/// Runs one GraphQL session over `socket` until either side closes it or
/// the client falls silent.
async fn serve(
    socket: WebSocket,
    schema: AppSchema,
    auth: Arc<Authenticator>,
    protocol: WebSocketProtocols,
    limits: WebSocketLimits,
    client: Option<alatar_schema::auth::ClientAddr>,
) {
    let opened = Instant::now();
    // When the client last sent a frame, in milliseconds after `opened`.
    let heard = Arc::new(AtomicU64::new(0));
    let (mut sink, stream) = socket.split();
    let input = {
        let heard = heard.clone();
        stream.take_while(|frame| future::ready(frame.is_ok())).filter_map(move |frame| {
            heard.store(millis_since(opened), Ordering::Relaxed);
            // Pings and pongs only prove the client is there; the session reads text and binary.
            future::ready(match frame {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        })
    };
    let session = GraphQLSession::new(schema, input, protocol).on_connection_init(move |payload| async move {
        let value = payload.get("authorization").or_else(|| payload.get("Authorization")).and_then(|v| v.as_str());
        let mut data = Data::default();
        if let Some(client) = client {
            data.insert(client);
        }
        match Box::pin(auth.verify_authorization(value)).await {
            Credentials::Anonymous => Ok(data),
            Credentials::Viewer(viewer) => {
                data.insert(viewer);
                Ok(data)
            }
            Credentials::Invalid => Err(async_graphql::Error::new(FORBIDDEN)),
        }
    });
    let mut session = std::pin::pin!(session);
    let mut ping = tokio::time::interval_at(opened + limits.ping_interval, limits.ping_interval);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let init_deadline = opened + limits.init_timeout;
    let mut acknowledged = false;
    loop {
        let silent_until = after(opened, heard.load(Ordering::Relaxed), limits.timeout);
        let deadline = if acknowledged { silent_until } else { silent_until.min(init_deadline) };
        tokio::select! {
            message = session.next() => {
                let Some(message) = message else { break };
                let message = protocol_close_code(to_frame(message));
                if let Message::Text(text) = &message
                    && text.as_str().starts_with(ACK)
                {
                    acknowledged = true;
                }
                if !deliver(&mut sink, message, limits.timeout).await {
                    break;
                }
            }
            _ = ping.tick() => {
                if !deliver(&mut sink, Message::Ping(Bytes::new()), limits.timeout).await {
                    break;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let now = Instant::now();
                if !acknowledged && now >= init_deadline {
                    close(&mut sink, 4408, "Connection initialisation timeout").await;
                    break;
                }
                if now >= after(opened, heard.load(Ordering::Relaxed), limits.timeout) {
                    tracing::debug!("closing a WebSocket that fell silent");
                    close(&mut sink, 3008, "timeout").await;
                    break;
                }
            }
        }
    }
}

fn to_frame(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => Message::Text(text.into()),
        WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
    }
}

/// Sends `message`; false once the session is over: the socket failed, the
/// client took nothing for `limit` (it stopped reading), or this was the close.
async fn deliver(sink: &mut SplitSink<WebSocket, Message>, message: Message, limit: Duration) -> bool {
    let closing = matches!(message, Message::Close(_));
    let sent = matches!(tokio::time::timeout(limit, sink.send(message)).await, Ok(Ok(())));
    sent && !closing
}

/// Closes with `code`, waiting at most `CLOSE_WAIT`: a client that stopped
/// reading may never take the frame.
async fn close(sink: &mut SplitSink<WebSocket, Message>, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
    let _ = tokio::time::timeout(CLOSE_WAIT, sink.send(frame)).await;
}
