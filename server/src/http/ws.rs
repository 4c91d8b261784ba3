//! GraphQL over WebSocket on `/graphql`: `graphql-transport-ws` and the
//! legacy `graphql-ws` (subscriptions-transport-ws). The access token travels
//! in `connection_init` as `{"authorization": "Bearer …"}`.

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt, future};

use super::HttpState;
use super::auth::Credentials;
use super::graphql::extract;

/// The message the init callback fails with; the sink turns it into 4403.
const FORBIDDEN: &str = "Forbidden";

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

pub async fn upgrade(state: HttpState, parts: &mut Parts) -> Response {
    let protocol = match extract::<GraphQLProtocol>(parts).await {
        Ok(p) => p,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match extract::<WebSocketUpgrade>(parts).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let schema = state.schema.clone();
    let auth = state.auth.clone();
    // Subscriptions are small and mostly idle: tungstenite's default 128 KiB
    // read buffer per connection would dominate memory at thousands of them
    // (client messages are small; the buffer grows for a large one).
    let upgrade = upgrade.read_buffer_size(1024).write_buffer_size(0).max_message_size(1024 * 1024);
    upgrade.protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        let (sink, stream) = socket.split();
        let sink = sink.with(|m| future::ready(Ok::<_, axum::Error>(protocol_close_code(m))));
        GraphQLWebSocket::new_with_pair(sink, stream, schema, protocol)
            .on_connection_init(move |payload| async move {
                let value =
                    payload.get("authorization").or_else(|| payload.get("Authorization")).and_then(|v| v.as_str());
                let mut data = Data::default();
                match Box::pin(auth.verify_authorization(value)).await {
                    Credentials::Anonymous => Ok(data),
                    Credentials::Viewer(viewer) => {
                        data.insert(viewer);
                        Ok(data)
                    }
                    Credentials::Invalid => Err(async_graphql::Error::new(FORBIDDEN)),
                }
            })
            .serve()
            .await;
    })
}
