//! RabbitMQ through lapin: quorum queues (durable, replicated, with a native
//! delivery limit), a dead-letter exchange, publisher confirms, manual acks
//! and `basic.qos` prefetch. A lost connection is re-opened on next use.

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{Acker, Consumer, Delivery, Queue};
use crate::pipeline::message::DEAD_LETTER_QUEUE;

const DEAD_LETTER_EXCHANGE: &str = "alatar.dlx";

/// RabbitMQ.
pub struct RabbitQueue {
    url: String,
    max_deliveries: u32,
    namespace: String,
    publisher: Mutex<Option<(Connection, Channel)>>,
}

impl RabbitQueue {
    /// Connects lazily to `url` (`amqp://user:pass@host:5672/%2f`).
    pub fn new(url: impl Into<String>, max_deliveries: u32) -> Self {
        Self { url: url.into(), max_deliveries, namespace: String::new(), publisher: Mutex::new(None) }
    }

    /// Prefixes every queue and exchange name, so that several deployments
    /// (or parallel tests) can share one broker without stealing messages.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    fn name(&self, name: &str) -> ShortString {
        ShortString::from(format!("{}{name}", self.namespace))
    }

    async fn open(&self) -> anyhow::Result<(Connection, Channel)> {
        let connection = Connection::connect(&self.url, ConnectionProperties::default())
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to RabbitMQ: {e}"))?;
        let channel = connection.create_channel().await?;
        Ok((connection, channel))
    }

    async fn publisher_channel(&self) -> anyhow::Result<Channel> {
        let mut guard = self.publisher.lock().await;
        if let Some((connection, channel)) = guard.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let (connection, channel) = self.open().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        *guard = Some((connection, channel.clone()));
        Ok(channel)
    }

    fn work_queue_arguments(&self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("quorum")));
        // A quorum queue dead-letters a message returned more times than its
        // limit, so a limit of n allows n + 1 deliveries: the limit is the
        // number of redeliveries. `max_deliveries` counts the first one too.
        let redeliveries = self.max_deliveries.saturating_sub(1);
        args.insert(ShortString::from("x-delivery-limit"), AMQPValue::LongInt(redeliveries as i32));
        args.insert(
            ShortString::from("x-dead-letter-exchange"),
            AMQPValue::LongString(LongString::from(self.name(DEAD_LETTER_EXCHANGE).as_str())),
        );
        args
    }
}

struct RabbitAcker(lapin::message::Delivery);

#[async_trait]
impl Acker for RabbitAcker {
    async fn ack(self: Box<Self>) -> anyhow::Result<()> {
        self.0.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    async fn nack(self: Box<Self>) -> anyhow::Result<()> {
        self.0.nack(BasicNackOptions { requeue: true, multiple: false }).await?;
        Ok(())
    }
}

struct RabbitConsumer {
    // Held so the connection lives as long as the consumer.
    _connection: Connection,
    inner: lapin::Consumer,
}

#[async_trait]
impl Consumer for RabbitConsumer {
    async fn next(&mut self) -> Option<Delivery> {
        let delivery = self.inner.next().await?.ok()?;
        let message_id = delivery.properties.message_id().as_ref().and_then(|id| Uuid::parse_str(id.as_str()).ok());
        // Quorum queues count earlier deliveries in `x-delivery-count`.
        let earlier = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-delivery-count").cloned())
            .and_then(|v| match v {
                AMQPValue::LongLongInt(n) => Some(n as u32),
                AMQPValue::LongInt(n) => Some(n as u32),
                AMQPValue::ShortInt(n) => Some(n as u32),
                _ => None,
            })
            .unwrap_or(u32::from(delivery.redelivered));
        let body = delivery.data.clone();
        Some(Delivery::new(message_id, body, earlier + 1, Box::new(RabbitAcker(delivery))))
    }
}

#[async_trait]
impl Queue for RabbitQueue {
    async fn declare(&self, queues: &[&str]) -> anyhow::Result<()> {
        let (_connection, channel) = self.open().await?;
        let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        channel
            .exchange_declare(
                self.name(DEAD_LETTER_EXCHANGE),
                ExchangeKind::Fanout,
                ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() },
                FieldTable::default(),
            )
            .await?;
        let mut dead_args = FieldTable::default();
        dead_args.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("quorum")));
        channel.queue_declare(self.name(DEAD_LETTER_QUEUE), durable, dead_args).await?;
        channel
            .queue_bind(
                self.name(DEAD_LETTER_QUEUE),
                self.name(DEAD_LETTER_EXCHANGE),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for queue in queues.iter().filter(|q| **q != DEAD_LETTER_QUEUE) {
            channel.queue_declare(self.name(queue), durable, self.work_queue_arguments()).await?;
        }
        Ok(())
    }

    async fn declare_ordered(&self, queues: &[&str]) -> anyhow::Result<()> {
        self.declare(&[]).await?;
        let (_connection, channel) = self.open().await?;
        let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        for queue in queues {
            let mut args = self.work_queue_arguments();
            args.insert(ShortString::from("x-single-active-consumer"), AMQPValue::Boolean(true));
            channel.queue_declare(self.name(queue), durable, args).await?;
        }
        Ok(())
    }

    async fn declare_feed(&self, queue: &str) -> anyhow::Result<()> {
        self.declare_ordered(&[queue]).await?;
        let (_connection, channel) = self.open().await?;
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel.exchange_declare(self.name(queue), ExchangeKind::Fanout, durable, FieldTable::default()).await?;
        channel
            .queue_bind(
                self.name(queue),
                self.name(queue),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }

    async fn publish(&self, queue: &str, message_id: Uuid, body: &[u8]) -> anyhow::Result<()> {
        let channel = self.publisher_channel().await?;
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(message_id.to_string()))
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2);
        let confirm = channel
            .basic_publish("".into(), self.name(queue), BasicPublishOptions::default(), body, properties)
            .await?
            .await?;
        anyhow::ensure!(confirm.is_ack(), "RabbitMQ did not confirm the publish to {queue}");
        Ok(())
    }

    async fn consume(&self, queue: &str, prefetch: u16) -> anyhow::Result<Box<dyn Consumer>> {
        let (connection, channel) = self.open().await?;
        channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let inner = channel
            .basic_consume(
                self.name(queue),
                format!("alatar-{}", Uuid::new_v4()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Box::new(RabbitConsumer { _connection: connection, inner }))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        self.publisher_channel().await.map(|_| ())
    }
}
