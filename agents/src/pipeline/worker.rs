//! Consumers: the orchestrator's queue, one per staffed department, and the
//! dead letters. Work is acknowledged only after it committed; a failure
//! asks for redelivery, and the broker dead-letters a message at the limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use alatar_entity::{AnalysisStatus, analysis_request};

use super::lifecycle::{end, resume_unfinished};
use super::message::{ACTIONS_QUEUE, DEAD_LETTER_QUEUE, ORCHESTRATOR_QUEUE};
use super::queue::Delivery;
use super::{Message, Pipeline, Relay, StepTiming, department, orchestrator};
use crate::Department;

/// A running worker; dropping it (or [`Worker::stop`]) stops its consumers.
pub struct Worker {
    tasks: JoinSet<()>,
}

/// Declares every queue this pipeline's work travels on (idempotent), and
/// returns the work queues to consume.
async fn declare(p: &Pipeline) -> anyhow::Result<Vec<&'static str>> {
    let mut queues = vec![ORCHESTRATOR_QUEUE, ACTIONS_QUEUE, DEAD_LETTER_QUEUE];
    queues.extend(p.departments.staffed().into_iter().map(|d| d.queue_name()));
    // Document ingestion runs on the Knowledge queue whether or not the
    // department answers questions here.
    let knowledge = Department::Knowledge.queue_name();
    if !queues.contains(&knowledge) {
        queues.push(knowledge);
    }
    // So do dataset jobs on the Datasets queue, and repository
    // analyses on the Code queue.
    for department in [Department::Datasets, Department::Code] {
        let queue = department.queue_name();
        if !queues.contains(&queue) {
            queues.push(queue);
        }
    }
    p.queue.declare(&queues).await?;
    // Market ticks: a queue per partition, each handled in order.
    let partitions = p.market.queues();
    p.queue.declare_ordered(&partitions.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    p.queue.declare_feed(crate::market::feed::FEED).await?;
    Ok(queues)
}

/// The analysis outbox's relay and the ticks' relay, into `tasks`.
fn spawn_relays(p: &Pipeline, tasks: &mut JoinSet<()>) {
    let relay = Relay::spawn(p.clone());
    tasks.spawn(async move {
        let _ = relay.await;
    });
    let ticks = crate::market::relay::spawn(p.clone());
    tasks.spawn(async move {
        let _ = ticks.await;
    });
}

#[derive(Clone, Copy)]
enum Role {
    Work,
    DeadLetters,
}

impl Worker {
    /// Declares the queues, starts the outbox relay and the consumers. With
    /// `resume`, re-issues the work of unfinished requests first (the
    /// embedded queue forgets its messages on restart).
    pub async fn start(p: Pipeline, resume: bool) -> anyhow::Result<Self> {
        let queues = declare(&p).await?;
        if resume {
            let n = resume_unfinished(&p).await?;
            if n > 0 {
                tracing::info!(requests = n, "resuming unfinished analysis requests");
            }
            let n = crate::knowledge::ingest::resume_unfinished(&p).await?;
            if n > 0 {
                tracing::info!(documents = n, "resuming unfinished document ingestion");
            }
            let n = crate::knowledge::summary::resume_unfinished(&p).await?;
            if n > 0 {
                tracing::info!(documents = n, "resuming document summaries");
            }
            let n = crate::datasets::jobs::resume_unfinished(&p).await?;
            if n > 0 {
                tracing::info!(jobs = n, "resuming unfinished dataset jobs");
            }
        }
        let mut tasks = JoinSet::new();
        spawn_relays(&p, &mut tasks);
        tasks.spawn(expire_forever(p.clone()));
        for index in 0..p.market.settings.partitions {
            tasks.spawn(crate::market::consume::consume_forever(p.clone(), index));
        }
        tasks.spawn(crate::market::feed::consume_forever(p.clone()));
        for queue in queues {
            let role = if queue == DEAD_LETTER_QUEUE { Role::DeadLetters } else { Role::Work };
            tasks.spawn(consume_forever(p.clone(), queue, role));
        }
        Ok(Self { tasks })
    }

    /// The outbox relays alone, for an instance that serves the API and runs
    /// no consumers (`pipeline.worker = false`): what its requests, actions
    /// and ticks commit is published as soon as it commits (each commit wakes
    /// its own process's relay), not at a worker instance's next sweep. The
    /// queues are declared first, so nothing is published to a queue that
    /// does not exist yet. Relays of several instances take turns on the
    /// same rows (see each relay's module).
    pub async fn relays(p: Pipeline) -> anyhow::Result<Self> {
        declare(&p).await?;
        let mut tasks = JoinSet::new();
        spawn_relays(&p, &mut tasks);
        Ok(Self { tasks })
    }

    /// Stops consuming; unacknowledged messages return to their queues.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn consume_forever(p: Pipeline, queue: &'static str, role: Role) {
    loop {
        match p.queue.consume(queue, p.config.prefetch).await {
            Ok(mut consumer) => {
                let slots = Arc::new(Semaphore::new(usize::from(p.config.prefetch.max(1))));
                let mut running = JoinSet::new();
                while let Some(delivery) = consumer.next().await {
                    let Ok(slot) = slots.clone().acquire_owned().await else { break };
                    let p = p.clone();
                    running.spawn(async move {
                        handle(&p, queue, role, delivery).await;
                        drop(slot);
                    });
                    while running.try_join_next().is_some() {}
                }
                tracing::warn!(queue, "consumer ended; reconnecting");
            }
            Err(e) => tracing::warn!(queue, error = %e, "cannot consume; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn handle(p: &Pipeline, queue: &str, role: Role, delivery: Delivery) {
    let message: Message = match serde_json::from_slice(&delivery.body) {
        Ok(m) => m,
        Err(e) => {
            // Nothing can ever process it; retrying would only delay the dead letter.
            tracing::error!(queue, error = %e, "unreadable message dropped");
            let _ = delivery.ack().await;
            return;
        }
    };
    let started = Instant::now();
    let (step, outcome) = match role {
        Role::DeadLetters => ("dead_letter", dead_letter(p, &message).await.map(|()| Duration::ZERO)),
        Role::Work => match &message {
            Message::Advance { request_id, redispatch } => {
                ("advance", orchestrator::advance(p, *request_id, *redispatch).await.map(|()| Duration::ZERO))
            }
            Message::RunTask { request_id, task_id, .. } => {
                ("run_task", department::run_task(p, *request_id, *task_id).await)
            }
            Message::ExecuteAction { action_id, .. } => {
                ("execute_action", crate::actions::execute(p, *action_id).await.map(|()| Duration::ZERO))
            }
            Message::IngestDocument { account_id, document_id } => (
                "ingest_document",
                crate::knowledge::ingest::run(p, *account_id, *document_id).await.map(|()| Duration::ZERO),
            ),
            Message::SummarizeDocument { account_id, document_id, job_id } => (
                "summarize_document",
                crate::knowledge::summary::run(p, *account_id, *document_id, *job_id).await.map(|()| Duration::ZERO),
            ),
            Message::IngestDataset { account_id, job_id } => {
                ("ingest_dataset", crate::datasets::ingest::run(p, *account_id, *job_id).await.map(|()| Duration::ZERO))
            }
            Message::DatasetInsights { account_id, job_id } => (
                "dataset_insights",
                crate::datasets::insights::job::run(p, *account_id, *job_id).await.map(|()| Duration::ZERO),
            ),
            Message::TrainModel { account_id, job_id } => (
                "train_model",
                crate::datasets::models::job::run(p, *account_id, *job_id).await.map(|()| Duration::ZERO),
            ),
            Message::AnalyzeRepository { account_id, job_id } => {
                ("analyze_repository", crate::code::job::run(p, *account_id, *job_id).await.map(|()| Duration::ZERO))
            }
        },
    };
    if let (Some(observer), Ok(tools)) = (&p.observer, &outcome) {
        observer.observe(StepTiming { step, total: started.elapsed(), tools: *tools });
    }
    let outcome = outcome.map(|_| ());
    let settled = match outcome {
        Ok(()) => delivery.ack().await,
        Err(e) => {
            tracing::warn!(queue, subject = %message.subject(), attempt = delivery.delivery_count, error = format!("{e:#}"), "message failed; will be redelivered");
            delivery.nack().await
        }
    };
    if let Err(e) = settled {
        tracing::warn!(queue, error = %e, "could not settle a delivery; the broker will redeliver it");
    }
}

/// A message that kept failing: its request fails with the reason; others
/// are unaffected.
async fn dead_letter(p: &Pipeline, message: &Message) -> anyhow::Result<()> {
    if let Message::ExecuteAction { action_id, .. } = message {
        let reason = format!("the store could not be reached in {} attempts", p.config.max_deliveries);
        return crate::actions::fail_undeliverable(p, *action_id, &reason).await;
    }
    if let Message::IngestDocument { account_id, document_id } = message {
        return crate::knowledge::ingest::give_up(p, *account_id, *document_id).await;
    }
    if let Message::SummarizeDocument { account_id, document_id, job_id } = message {
        return crate::knowledge::summary::give_up(p, *account_id, *document_id, *job_id).await;
    }
    if let Message::IngestDataset { account_id, job_id } = message {
        return crate::datasets::jobs::give_up(p, *account_id, *job_id).await;
    }
    if let Message::DatasetInsights { account_id, job_id } = message {
        return crate::datasets::insights::job::give_up(p, *account_id, *job_id).await;
    }
    if let Message::TrainModel { account_id, job_id } = message {
        return crate::datasets::models::job::give_up(p, *account_id, *job_id).await;
    }
    if let Message::AnalyzeRepository { account_id, job_id } = message {
        return crate::code::job::give_up(p, *account_id, *job_id).await;
    }
    let Some(request_id) = message.request_id() else { return Ok(()) };
    let Some(request) = analysis_request::Entity::find_by_id(request_id).one(&p.db).await? else {
        return Ok(());
    };
    let reason =
        format!("a {} message failed {} deliveries and was dead-lettered", message.queue(), p.config.max_deliveries);
    tracing::error!(request_id = %request.id, %reason, "dead letter");
    end(p, &request, AnalysisStatus::Failed, Some(&reason)).await?;
    Ok(())
}

/// How often undecided proposals and cached Shopify answers past their
/// expiry are swept.
const EXPIRY_SWEEP: Duration = Duration::from_secs(60);

/// Expires undecided proposals (every worker sweeps; the conditional
/// update lets exactly one of them expire each action) and deletes expired
/// Shopify cache entries (customer records must not outlive their TTL).
async fn expire_forever(p: Pipeline) {
    loop {
        match crate::actions::expire_due(&p).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(actions = n, "expired undecided proposals"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        match crate::shopify::cache::purge_expired(&p.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(entries = n, "purged expired Shopify cache entries"),
            Err(e) => tracing::warn!(error = %e, "cache purge failed"),
        }
        tokio::time::sleep(EXPIRY_SWEEP).await;
    }
}
