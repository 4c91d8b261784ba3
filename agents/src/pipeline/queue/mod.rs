//! The `Queue` port: durable queues, confirmed publishes, manual acks,
//! bounded prefetch and dead-lettering after a delivery limit.
//! [`MemoryQueue`] is the embedded engine, [`RabbitQueue`] the production one.

mod memory;
mod rabbit;

use async_trait::async_trait;
use uuid::Uuid;

pub use memory::MemoryQueue;
pub use rabbit::RabbitQueue;

/// Settles a delivery.
#[async_trait]
pub trait Acker: Send {
    /// Done: remove the message.
    async fn ack(self: Box<Self>) -> anyhow::Result<()>;
    /// Failed: deliver again (or dead-letter at the limit).
    async fn nack(self: Box<Self>) -> anyhow::Result<()>;
}

/// One delivered message.
pub struct Delivery {
    /// The publisher's message id (the outbox row's id).
    pub message_id: Option<Uuid>,
    /// The body.
    pub body: Vec<u8>,
    /// 1 on first delivery.
    pub delivery_count: u32,
    acker: Box<dyn Acker>,
}

impl Delivery {
    /// A delivery settled through `acker`.
    pub fn new(message_id: Option<Uuid>, body: Vec<u8>, delivery_count: u32, acker: Box<dyn Acker>) -> Self {
        Self { message_id, body, delivery_count, acker }
    }

    /// Acknowledge after the work is committed.
    pub async fn ack(self) -> anyhow::Result<()> {
        self.acker.ack().await
    }

    /// Ask for redelivery.
    pub async fn nack(self) -> anyhow::Result<()> {
        self.acker.nack().await
    }
}

/// A stream of deliveries from one queue.
#[async_trait]
pub trait Consumer: Send {
    /// The next delivery; `None` when the connection is gone.
    async fn next(&mut self) -> Option<Delivery>;
}

/// A message broker.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Declares the queues (idempotent).
    async fn declare(&self, queues: &[&str]) -> anyhow::Result<()>;
    /// Declares queues whose messages must be handled in order: at most
    /// one consumer receives from each at a time (RabbitMQ's single active
    /// consumer; the others wait as standbys). Embedded, a queue has one
    /// consumer anyway.
    async fn declare_ordered(&self, queues: &[&str]) -> anyhow::Result<()> {
        self.declare(queues).await
    }
    /// Declares `queue` (ordered) and an exchange of the same name that
    /// other systems publish to, bound to it. Embedded there is no
    /// exchange; the queue alone is declared.
    async fn declare_feed(&self, queue: &str) -> anyhow::Result<()> {
        self.declare_ordered(&[queue]).await
    }
    /// Publishes and waits for the broker's confirm.
    async fn publish(&self, queue: &str, message_id: Uuid, body: &[u8]) -> anyhow::Result<()>;
    /// Starts consuming with at most `prefetch` unacknowledged deliveries.
    async fn consume(&self, queue: &str, prefetch: u16) -> anyhow::Result<Box<dyn Consumer>>;
    /// Reachability, for `/readyz`.
    async fn ping(&self) -> anyhow::Result<()>;
}
