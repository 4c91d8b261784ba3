//! Chat over a collection: `createChatSession`, `chatSessions`,
//! `chatSession`, `sendChatMessage`, `deleteChatSession` and the
//! `chatMessageUpdates` subscription (the answer's text as it is written,
//! then the stored answer with its citations).

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use alatar_agents::knowledge::chat::Citation;
use alatar_entity::{AccountScope, chat_message, chat_session};

use crate::context::ContextExt;
use crate::service::knowledge;
use crate::service::knowledge::chat as service;

use super::knowledge::{Collection, connection, page};
use super::parse_id;

/// Who wrote a message.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::ChatRole")]
pub enum ChatRole {
    /// The member chatting.
    User,
    /// The answer, from the collection's documents.
    Assistant,
}

/// Where a message is.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "alatar_entity::ChatMessageStatus")]
pub enum ChatMessageStatus {
    /// Written in full.
    Complete,
    /// An answer being written; its text streams on `chatMessageUpdates`.
    Streaming,
    /// An answer that could not be written; see `error`.
    Failed,
}

/// What happened to an answer.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::service::knowledge::chat::ChatUpdateKind")]
pub enum ChatUpdateKind {
    /// A piece of its text (`delta`, at `offset`).
    Delta,
    /// Stored in full: `message` holds the whole text and its citations.
    Completed,
    /// Could not be written: `message.error` says why (the member's
    /// message is kept).
    Failed,
}

/// A conversation over one collection's documents.
pub struct ChatSession(pub chat_session::Model);

#[Object]
impl ChatSession {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The collection its answers come from.
    async fn collection_id(&self) -> ID {
        ID(self.0.collection_id.to_string())
    }
    /// That collection.
    async fn collection(&self, ctx: &Context<'_>) -> Result<Collection> {
        let scope = AccountScope::new(self.0.account_id);
        Ok(Collection(knowledge::collection(&ctx.state().pipeline, scope, self.0.collection_id).await?))
    }
    /// The member who started it.
    async fn user_id(&self) -> ID {
        ID(self.0.user_id.to_string())
    }
    /// "New chat" until the first message names it.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The model asked for at creation; null: the member's preference,
    /// then the server's default.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last message sent.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its messages, oldest first (an answer being written is there,
    /// `STREAMING`, with its text still empty).
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, ChatMessage>> {
        let (first, after) = page(first, 100, after.as_deref())?;
        let scope = AccountScope::new(self.0.account_id);
        let rows = service::messages(&ctx.state().pipeline, scope, self.0.id, after, first + 1).await?;
        Ok(connection(rows, first, after.is_some(), |m| m.id.to_string(), ChatMessage))
    }
}

/// One message of a chat.
pub struct ChatMessage(pub chat_message::Model);

#[Object]
impl ChatMessage {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn session_id(&self) -> ID {
        ID(self.0.session_id.to_string())
    }
    async fn role(&self) -> ChatRole {
        self.0.role.into()
    }
    /// The text. An answer's cites its passages as `[n]` (a model's) or
    /// quotes them with the document and page (without a model).
    async fn content(&self) -> &str {
        &self.0.content
    }
    async fn status(&self) -> ChatMessageStatus {
        self.0.status.into()
    }
    /// Why an answer failed, in plain words.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The passages an answer cites, by their `index` (`[n]`).
    async fn citations(&self) -> Vec<ChatCitation> {
        Citation::all_in(&self.0.citations).into_iter().map(ChatCitation::from).collect()
    }
    /// Tokens of the text: the model's count when it reported one, else
    /// the server's tokenizer's.
    async fn token_count(&self) -> Option<i32> {
        self.0.token_count
    }
    /// Who wrote an answer: a model's id, or `extractive` (the documents'
    /// own sentences, quoted); null for the member's messages.
    async fn model(&self) -> Option<&str> {
        self.0.model.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A passage an answer cites, with where it is in its document.
#[derive(SimpleObject)]
pub struct ChatCitation {
    /// The `[n]` of the answer that refers to it.
    pub index: i32,
    /// The chunk quoted.
    pub chunk_id: ID,
    /// Its document.
    pub document_id: ID,
    /// The document's name.
    pub document_filename: String,
    /// 1-based page of a PDF; null for unpaginated documents.
    pub page: Option<i32>,
    /// Offset of the quote's first character in the page's extracted text
    /// (Unicode scalar values).
    pub char_start: i32,
    /// Offset one past its last character.
    pub char_end: i32,
    /// The quoted text, as the document has it.
    pub quote: String,
}

impl From<Citation> for ChatCitation {
    fn from(c: Citation) -> Self {
        Self {
            index: i32::try_from(c.index).unwrap_or(i32::MAX),
            chunk_id: ID(c.chunk_id.to_string()),
            document_id: ID(c.document_id.to_string()),
            document_filename: c.document_filename,
            page: c.page,
            char_start: c.char_start,
            char_end: c.char_end,
            quote: c.quote,
        }
    }
}

/// One update of an answer being written.
pub struct ChatMessageUpdate(pub service::ChatUpdate);

#[Object]
impl ChatMessageUpdate {
    async fn kind(&self) -> ChatUpdateKind {
        self.0.kind.into()
    }
    /// The answer (an assistant message).
    async fn message_id(&self) -> ID {
        ID(self.0.message_id.to_string())
    }
    /// A piece of its text, for `DELTA`.
    async fn delta(&self) -> Option<&str> {
        self.0.delta.as_deref()
    }
    /// Characters of the answer before `delta`: a piece missed shows as a gap.
    async fn offset(&self) -> Option<i32> {
        self.0.offset.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
    }
    /// The stored answer, for `COMPLETED` and `FAILED`.
    async fn message(&self) -> Option<ChatMessage> {
        self.0.message.clone().map(ChatMessage)
    }
    /// Why it failed, for `FAILED`.
    async fn error(&self) -> Option<&str> {
        self.0.message.as_ref().and_then(|m| m.error.as_deref())
    }
}

/// Chat queries.
#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// The account's chat sessions, newest first.
    async fn chat_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, ChatSession>> {
        let (first, before) = page(first, 100, after.as_deref())?;
        let rows = service::sessions(&ctx.state().pipeline, ctx.scope()?, before, first + 1).await?;
        Ok(connection(rows, first, before.is_some(), |s| s.id.to_string(), ChatSession))
    }

    /// One of the account's chat sessions.
    async fn chat_session(&self, ctx: &Context<'_>, id: ID) -> Result<ChatSession> {
        let id = parse_id("id", &id)?;
        Ok(ChatSession(service::session(&ctx.state().pipeline, ctx.scope()?, id).await?))
    }
}

/// Chat mutations.
#[derive(Default)]
pub struct ChatMutation;

#[Object]
impl ChatMutation {
    /// Starts a chat over one of the account's collections; `model` (a
    /// model id) wins over the member's preference for its answers. Every
    /// role may chat.
    async fn create_chat_session(
        &self,
        ctx: &Context<'_>,
        collection_id: ID,
        model: Option<String>,
    ) -> Result<ChatSession> {
        let viewer = ctx.viewer()?;
        let collection_id = parse_id("collectionId", &collection_id)?;
        let created =
            service::create_session(&ctx.state().pipeline, ctx.scope()?, viewer, collection_id, model).await?;
        Ok(ChatSession(created))
    }

    /// Sends a message (1 to 4,000 characters) and answers at once with it,
    /// stored; the answer is written from the session's collection and
    /// streams on `chatMessageUpdates`. `CONFLICT` while the session's
    /// previous answer is still being written.
    async fn send_chat_message(&self, ctx: &Context<'_>, session_id: ID, content: String) -> Result<ChatMessage> {
        let viewer = ctx.viewer()?;
        let session_id = parse_id("sessionId", &session_id)?;
        let sent = service::send_message(&ctx.state().pipeline, ctx.scope()?, viewer, session_id, &content).await?;
        Ok(ChatMessage(sent))
    }

    /// Deletes a chat with its messages (who started it, an owner or an
    /// admin may); the deleted session's id.
    async fn delete_chat_session(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let viewer = ctx.viewer()?;
        let parsed = parse_id("id", &id)?;
        service::delete_session(&ctx.state().pipeline, ctx.scope()?, viewer, parsed).await?;
        Ok(id)
    }
}

/// Chat subscriptions.
#[derive(Default)]
pub struct ChatSubscription;

#[Subscription]
impl ChatSubscription {
    /// The session's answers as they are written: `DELTA`s of text (live
    /// only, never replayed), then `COMPLETED` with the stored answer and
    /// its citations, or `FAILED`. With `after` (a message id, e.g. the
    /// one `sendChatMessage` returned), answers that ended after it are
    /// yielded first, so subscribing after sending still sees the end.
    /// Ends when the session is deleted.
    async fn chat_message_updates(
        &self,
        ctx: &Context<'_>,
        session_id: ID,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = Result<ChatMessageUpdate>> + use<>> {
        let id = parse_id("sessionId", &session_id)?;
        let after = after.map(|a| parse_id("after", &a)).transpose()?;
        let scope = ctx.scope()?;
        let pipeline = ctx.state().pipeline.clone();
        service::session(&pipeline, scope, id).await?;
        Ok(service::chat_message_updates(pipeline, scope, id, after)
            .map(|item| item.map(ChatMessageUpdate).map_err(async_graphql::Error::from)))
    }
}
