//! The single writer: group commit of jobs and of journaled audit events.
//!
//! Requests queue on a channel; the writer takes everything queued (up to a limit) and
//! commits it in one transaction, so that under load many writes and thousands of audited
//! reads share one commit. A fold task takes the journaled read events from the journal's
//! [`FoldQueue`] every [`FOLD_INTERVAL`] (sooner when [`FOLD_MAX_EVENTS`] wait, or when the
//! trail is queried) and hands them to the writer in large batches.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use zorgkluis_audit::{AuditEvent, FoldQueue, Journal, JournalPosition, JournaledEvent, Outcome};
use zorgkluis_crypto::AuditSigner;
use zorgkluis_domain::{clock::rfc3339, Clock};
use zorgkluis_store::{Batch, Job, JobError, Store};

use crate::VaultError;

const MAX_JOBS_PER_BATCH: usize = 512;
/// How long read events wait in memory before they are folded into the chain. They are
/// durable in the journal already; every query of the trail flushes first, so the interval
/// is invisible to readers of the trail. It is not shorter because every commit to the
/// database makes SQLite discard the page caches of the connections that read patient data
/// (WAL mode). Measured over HTTP on 1,000 patients, single runs (BENCHMARKS.md, "Audit
/// overhead over HTTP"): without any fold audited reads were 3% slower than unaudited ones,
/// folding ten times a second made them about 18% slower, once a second about 8%.
const FOLD_INTERVAL: Duration = Duration::from_secs(1);
/// Queued read events that wake the fold before its interval is up.
pub(crate) const FOLD_MAX_EVENTS: usize = 20_000;

type JobReply = oneshot::Sender<Result<Result<(), JobError>, VaultError>>;
type Reply = oneshot::Sender<Result<(), VaultError>>;

enum Msg {
    Job(Box<Job>, JobReply),
    Fold(Vec<JournaledEvent>),
    FoldNow(Vec<JournaledEvent>, Reply),
    Flush(Reply),
}

/// Handle to the writer task.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Msg>,
    flush_tx: mpsc::Sender<Reply>,
}

impl Writer {
    pub(crate) fn spawn(
        store: Arc<dyn Store>,
        signer: Arc<AuditSigner>,
        clock: Arc<dyn Clock>,
        journal: Journal,
        queue: Arc<FoldQueue>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let (flush_tx, flush_rx) = mpsc::channel(64);
        tokio::spawn(fold_task(queue, flush_rx, tx.clone()));
        tokio::spawn(write_loop(rx, store, signer, clock, journal));
        Self { tx, flush_tx }
    }

    /// Commits `job` (with its audit events) and returns whether it applied.
    pub(crate) async fn submit(&self, job: Job) -> Result<Result<(), JobError>, VaultError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(Msg::Job(Box::new(job), reply))
            .await
            .map_err(|_| VaultError::Closed)?;
        wait.await.map_err(|_| VaultError::Closed)?
    }

    /// Chains `events` now (recovered journal events).
    pub(crate) async fn fold_now(&self, events: Vec<JournaledEvent>) -> Result<(), VaultError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(Msg::FoldNow(events, reply))
            .await
            .map_err(|_| VaultError::Closed)?;
        wait.await.map_err(|_| VaultError::Closed)?
    }

    /// Returns once every event journaled before the call is chained in the database.
    pub(crate) async fn flush(&self) -> Result<(), VaultError> {
        let (reply, wait) = oneshot::channel();
        self.flush_tx
            .send(reply)
            .await
            .map_err(|_| VaultError::Closed)?;
        wait.await.map_err(|_| VaultError::Closed)?
    }
}

async fn fold_task(
    queue: Arc<FoldQueue>,
    mut flush_rx: mpsc::Receiver<Reply>,
    tx: mpsc::Sender<Msg>,
) {
    let mut tick = tokio::time::interval(FOLD_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Every branch folds what is queued; a flush also waits for it to be chained.
        let reply = tokio::select! {
            () = queue.wait() => None,
            _ = tick.tick() => None,
            reply = flush_rx.recv() => match reply {
                Some(reply) => Some(reply),
                None => return,
            },
        };
        // Everything the journal acknowledged before a flush was queued before it.
        let (events, closed) = queue.take();
        if !events.is_empty() && tx.send(Msg::Fold(events)).await.is_err() {
            return;
        }
        if let Some(reply) = reply {
            if tx.send(Msg::Flush(reply)).await.is_err() {
                return;
            }
        }
        if closed {
            // The journal is closed; keep serving flushes until the writer goes.
            while let Some(reply) = flush_rx.recv().await {
                if tx.send(Msg::Flush(reply)).await.is_err() {
                    return;
                }
            }
            return;
        }
    }
}

async fn write_loop(
    mut rx: mpsc::Receiver<Msg>,
    store: Arc<dyn Store>,
    signer: Arc<AuditSigner>,
    clock: Arc<dyn Clock>,
    journal: Journal,
) {
    // Folded events whose commit failed; retried with the next batch.
    let mut unfolded: Vec<JournaledEvent> = Vec::new();
    let mut unfolded_upto: Option<JournalPosition> = None;
    while let Some(first) = rx.recv().await {
        let mut msgs = vec![first];
        while msgs.len() < MAX_JOBS_PER_BATCH {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(_) => break,
            }
        }
        let mut batch = Batch {
            jobs: Vec::new(),
            folded: std::mem::take(&mut unfolded),
        };
        let mut job_replies = Vec::new();
        let mut replies = Vec::new();
        let mut upto = unfolded_upto.take();
        for m in msgs {
            match m {
                Msg::Job(job, reply) => {
                    batch.jobs.push(*job);
                    job_replies.push(reply);
                }
                Msg::Fold(events) => {
                    if let Some(last) = events.last() {
                        upto = Some(upto.map_or(last.position, |u| u.max(last.position)));
                    }
                    batch.folded.extend(events);
                }
                Msg::FoldNow(events, reply) => {
                    batch.folded.extend(events);
                    replies.push(reply);
                }
                Msg::Flush(reply) => replies.push(reply),
            }
        }
        if batch.jobs.is_empty() && batch.folded.is_empty() {
            for r in replies {
                let _ = r.send(Ok(()));
            }
            continue;
        }
        let now = rfc3339(clock.now());
        match store.commit(&batch, &signer, &now).await {
            Ok(results) => {
                for (reply, result) in job_replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(result));
                }
                for r in replies {
                    let _ = r.send(Ok(()));
                }
                if let Some(pos) = upto {
                    journal.release(pos);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "audit/write commit failed");
                // The failed jobs' error events are journaled so the trail still shows them.
                let failed: Vec<AuditEvent> = batch
                    .jobs
                    .iter()
                    .flat_map(|j| j.failure_events.iter().cloned())
                    .map(|mut ev| {
                        ev.outcome = Outcome::Error;
                        ev.reason = Some("storage unavailable".into());
                        ev
                    })
                    .collect();
                let _ = journal.append(failed).await;
                for reply in job_replies {
                    let _ = reply.send(Err(VaultError::Store(
                        zorgkluis_store::StoreError::Database("storage unavailable".into()),
                    )));
                }
                for r in replies {
                    let _ = r.send(Err(VaultError::Store(
                        zorgkluis_store::StoreError::Database("storage unavailable".into()),
                    )));
                }
                unfolded = batch.folded;
                unfolded_upto = upto;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
