//! The embedded queue: in-process lanes with the broker's semantics —
//! unacknowledged deliveries return to the queue (also when dropped, as when
//! a channel closes), and after the delivery limit they are dead-lettered.
//! It does not survive a restart; the worker's recovery sweep re-issues the
//! work of unfinished requests from the database instead.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{Acker, Consumer, Delivery, Queue};
use crate::pipeline::message::DEAD_LETTER_QUEUE;

#[derive(Clone)]
struct Envelope {
    id: Uuid,
    body: Arc<[u8]>,
    deliveries: u32,
}

#[derive(Default)]
struct Lane {
    items: Mutex<VecDeque<Envelope>>,
    ready: Notify,
}

impl Lane {
    fn push(&self, envelope: Envelope) {
        if let Ok(mut items) = self.items.lock() {
            items.push_back(envelope);
        }
        self.ready.notify_one();
    }
}

/// In-process queues.
pub struct MemoryQueue {
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
    max_deliveries: u32,
}

impl MemoryQueue {
    /// Queues that dead-letter a message after `max_deliveries` deliveries.
    pub fn new(max_deliveries: u32) -> Arc<Self> {
        Arc::new(Self { lanes: Mutex::default(), max_deliveries })
    }

    fn lane(&self, name: &str) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.entry(name.to_owned()).or_default().clone()
    }

    /// Messages waiting in `queue` (for tests and metrics).
    pub fn depth(&self, queue: &str) -> usize {
        self.lane(queue).items.lock().map(|i| i.len()).unwrap_or(0)
    }
}

struct MemoryAcker {
    envelope: Option<Envelope>,
    lane: Arc<Lane>,
    dead_letters: Arc<Lane>,
    max_deliveries: u32,
}

impl MemoryAcker {
    fn requeue(&mut self) {
        if let Some(envelope) = self.envelope.take() {
            if envelope.deliveries >= self.max_deliveries {
                self.dead_letters.push(Envelope { deliveries: 0, ..envelope });
            } else {
                self.lane.push(envelope);
            }
        }
    }
}

impl Drop for MemoryAcker {
    fn drop(&mut self) {
        // Never settled: the consumer died. Deliver again, as a broker would.
        self.requeue();
    }
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(mut self: Box<Self>) -> anyhow::Result<()> {
        self.envelope = None;
        Ok(())
    }

    async fn nack(mut self: Box<Self>) -> anyhow::Result<()> {
        self.requeue();
        Ok(())
    }
}

struct MemoryConsumer {
    lane: Arc<Lane>,
    dead_letters: Arc<Lane>,
    max_deliveries: u32,
}

#[async_trait]
impl Consumer for MemoryConsumer {
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            let ready = self.lane.ready.notified();
            let next = self.lane.items.lock().ok().and_then(|mut items| items.pop_front());
            if let Some(mut envelope) = next {
                envelope.deliveries += 1;
                // Let another consumer of this lane see what is left.
                if self.lane.items.lock().is_ok_and(|i| !i.is_empty()) {
                    self.lane.ready.notify_one();
                }
                let acker = MemoryAcker {
                    envelope: Some(envelope.clone()),
                    lane: self.lane.clone(),
                    dead_letters: self.dead_letters.clone(),
                    max_deliveries: self.max_deliveries,
                };
                return Some(Delivery::new(
                    Some(envelope.id),
                    envelope.body.to_vec(),
                    envelope.deliveries,
                    Box::new(acker),
                ));
            }
            ready.await;
        }
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn declare(&self, queues: &[&str]) -> anyhow::Result<()> {
        for queue in queues {
            self.lane(queue);
        }
        Ok(())
    }

    async fn publish(&self, queue: &str, message_id: Uuid, body: &[u8]) -> anyhow::Result<()> {
        self.lane(queue).push(Envelope { id: message_id, body: body.into(), deliveries: 0 });
        Ok(())
    }

    async fn consume(&self, queue: &str, _prefetch: u16) -> anyhow::Result<Box<dyn Consumer>> {
        Ok(Box::new(MemoryConsumer {
            lane: self.lane(queue),
            dead_letters: self.lane(DEAD_LETTER_QUEUE),
            // Dead letters are not dead-lettered again.
            max_deliveries: if queue == DEAD_LETTER_QUEUE { u32::MAX } else { self.max_deliveries },
        }))
    }

    async fn ping(&self) -> anyhow::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nacked_messages_come_back_then_die() {
        let queue = MemoryQueue::new(2);
        queue.publish("q", Uuid::nil(), b"x").await.ok();
        let mut consumer = queue.consume("q", 1).await.ok().into_iter().next();
        let Some(consumer) = consumer.as_mut() else { panic!("consumer") };
        let first = consumer.next().await.map(|d| d.delivery_count);
        assert_eq!(first, Some(1), "the dropped delivery returns");
        let second = consumer.next().await;
        assert_eq!(second.as_ref().map(|d| d.delivery_count), Some(2));
        if let Some(d) = second {
            d.nack().await.ok();
        }
        assert_eq!(queue.depth("q"), 0);
        assert_eq!(queue.depth(DEAD_LETTER_QUEUE), 1);
    }
}
