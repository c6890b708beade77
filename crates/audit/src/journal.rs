//! The audit journal: an append-only file that audited reads write to, in groups, before
//! their response leaves the process. A background fold moves journaled events into the
//! database's hash chain in large batches; segments are deleted once folded.
//!
//! Each request serialises its own events. Without `fsync` (the default) it then writes them
//! itself, with one `write` under a lock, and goes on. In `fsync` mode one task owns the
//! file: it takes everything queued, writes it with one `write` and one `fdatasync`, then
//! acknowledges all waiters (group commit). After the `write` returns, the events survive a
//! crash of the process (they are in the kernel's page cache); with `fsync` they also
//! survive a power loss.
//!
//! Record format, one line per event: `<16 hex chars of SHA-256(json)> <json>\n`. A torn
//! last line (never acknowledged) is dropped on recovery; damage anywhere else is reported.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::event::{AuditEvent, EventKeys};

const SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
const MAX_GROUP: usize = 8192;

/// Errors of the journal.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// File system error.
    #[error("audit journal {path}: {message}")]
    Io {
        /// Path.
        path: String,
        /// What happened.
        message: String,
    },
    /// A record in the middle of a segment is damaged.
    #[error("audit journal {segment} is damaged at line {line}")]
    Corrupt {
        /// Segment file.
        segment: String,
        /// Line number (1-based).
        line: usize,
    },
    /// The journal thread has stopped; nothing can be audited, so nothing may be read.
    #[error("the audit journal is closed")]
    Closed,
}

/// Where an event sits in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct JournalPosition {
    /// Segment number.
    pub segment: u64,
    /// Record number within the segment (0-based).
    pub record: u64,
}

/// An event that is durable in the journal and waits to be folded into the chain.
#[derive(Debug, Clone)]
pub struct JournaledEvent {
    /// The event's indexed columns (the rest is in the payload).
    pub keys: EventKeys,
    /// Its canonical serialisation (what the chain hashes).
    pub payload: String,
    /// Its position.
    pub position: JournalPosition,
}

struct Request {
    /// Events with their canonical serialisation, made by the caller.
    events: Vec<(EventKeys, String)>,
    ack: oneshot::Sender<Result<(), JournalError>>,
}

/// What [`Journal::open`] returns: the handle, the events an earlier run left behind
/// (to fold before anything else), and the queue of newly journaled events.
pub type Opened = (Journal, Vec<JournaledEvent>, Arc<FoldQueue>);

/// Newly journaled events waiting for the fold, in journal order.
///
/// An append only pushes its events under a lock; nobody is woken per event. The fold
/// takes everything at its own pace ([`FoldQueue::take`]), and is woken only when the
/// queue holds [`FoldQueue::new`]'s `wake_at` events or the journal closes. (A channel
/// woke the fold's task on every audited read: a futex wake-up per request, measured as
/// several percent of the server's CPU.)
#[derive(Debug)]
pub struct FoldQueue {
    state: Mutex<QueueState>,
    wake: Notify,
    wake_at: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    events: Vec<JournaledEvent>,
    closed: bool,
}

impl FoldQueue {
    /// An empty queue that wakes its taker once `wake_at` events wait.
    pub fn new(wake_at: usize) -> Self {
        Self {
            state: Mutex::new(QueueState::default()),
            wake: Notify::new(),
            wake_at: wake_at.max(1),
        }
    }

    fn push(&self, events: Vec<JournaledEvent>) -> Result<(), JournalError> {
        let mut state = self.state.lock().map_err(|_| JournalError::Closed)?;
        let before = state.events.len();
        state.events.extend(events);
        if before < self.wake_at && state.events.len() >= self.wake_at {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn close(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.wake.notify_one();
    }

    /// Everything queued so far, in journal order, and whether the journal has closed
    /// (nothing more will come).
    pub fn take(&self) -> (Vec<JournaledEvent>, bool) {
        match self.state.lock() {
            Ok(mut state) => (std::mem::take(&mut state.events), state.closed),
            Err(_) => (Vec::new(), true),
        }
    }

    /// Resolves when the queue is full enough to fold or the journal has closed (or at
    /// once, if that happened since the last wait).
    pub async fn wait(&self) {
        self.wake.notified().await;
    }
}

/// Handle to the journal; clone freely.
#[derive(Clone)]
pub struct Journal {
    mode: Mode,
    dir: Arc<PathBuf>,
    live_segment: u64,
}

/// How appends reach the file.
#[derive(Clone)]
enum Mode {
    /// Without `fsync` an append writes its records itself, under a lock: a `write` into the
    /// page cache takes microseconds, so the request neither waits in the runtime's queue for
    /// a journal task nor for its acknowledgement to be scheduled back.
    Inline(Arc<Mutex<Inline>>),
    /// With `fsync` one task writes and syncs whole groups of appends (group commit): one
    /// `fdatasync` of milliseconds is shared by every request that arrived meanwhile.
    Grouped(mpsc::UnboundedSender<Request>),
}

struct Inline {
    writer: SegmentWriter,
    buf: Vec<u8>,
    queue: Arc<FoldQueue>,
}

impl Drop for Inline {
    /// The last handle is gone: the fold takes the rest and stops waiting.
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.dir.display())
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> JournalError + '_ {
    move |e| JournalError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("audit-journal-{segment:016}.log"))
}

fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, JournalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(n) = name
            .strip_prefix("audit-journal-")
            .and_then(|r| r.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn checksum(json: &str) -> String {
    hex::encode(&Sha256::digest(json.as_bytes())[..8])
}

/// Reads the events of all segments in `dir` (for recovery after a crash).
fn recover(dir: &Path) -> Result<(Vec<JournaledEvent>, u64), JournalError> {
    let segs = segments(dir)?;
    let mut out = Vec::new();
    let last_index = segs.len().saturating_sub(1);
    let mut next_segment = 1;
    for (i, (seg, path)) in segs.iter().enumerate() {
        next_segment = seg + 1;
        let file = File::open(path).map_err(io(path))?;
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        let mut record = 0u64;
        let mut good_len = 0u64;
        let mut lineno = 0usize;
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(io(path))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let parsed = line
                .strip_suffix('\n')
                .and_then(|l| l.split_once(' '))
                .filter(|(sum, json)| checksum(json) == *sum)
                .and_then(|(_, json)| serde_json::from_str::<AuditEvent>(json).ok());
            match parsed {
                Some(event) => {
                    let payload = line
                        .strip_suffix('\n')
                        .and_then(|l| l.split_once(' '))
                        .map(|(_, json)| json.to_owned())
                        .unwrap_or_default();
                    out.push(JournaledEvent {
                        keys: event.keys(),
                        payload,
                        position: JournalPosition {
                            segment: *seg,
                            record,
                        },
                    });
                    record += 1;
                    good_len += n as u64;
                }
                None => {
                    // Only a torn tail of the newest segment is expected after a crash.
                    let rest_empty = reader.fill_buf().map(|b| b.is_empty()).unwrap_or(false);
                    if i == last_index && rest_empty {
                        let f = OpenOptions::new()
                            .write(true)
                            .open(path)
                            .map_err(io(path))?;
                        f.set_len(good_len).map_err(io(path))?;
                        break;
                    }
                    return Err(JournalError::Corrupt {
                        segment: path.display().to_string(),
                        line: lineno,
                    });
                }
            }
        }
    }
    Ok((out, next_segment))
}

impl Journal {
    /// Opens the journal in `dir`. Returns the handle, the events left from an earlier run
    /// (to be folded before anything else) and the queue of newly journaled events, which
    /// wakes its taker once `wake_at` events wait.
    pub fn open(dir: &Path, fsync: bool, wake_at: usize) -> Result<Opened, JournalError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let (recovered, next_segment) = recover(dir)?;
        let queue = Arc::new(FoldQueue::new(wake_at));
        let fold_queue = queue.clone();
        let dir_buf = dir.to_path_buf();
        let mut writer = SegmentWriter::create(&dir_buf, next_segment)?;
        let mode = if fsync {
            let (tx, rx) = mpsc::unbounded_channel::<Request>();
            // A task on the runtime, not a thread: handing events over and waking the
            // waiting requests then costs no thread switches.
            tokio::spawn(async move {
                writer.run(rx, &fold_queue).await;
                fold_queue.close();
            });
            Mode::Grouped(tx)
        } else {
            Mode::Inline(Arc::new(Mutex::new(Inline {
                writer,
                buf: Vec::with_capacity(64 * 1024),
                queue: fold_queue,
            })))
        };
        Ok((
            Self {
                mode,
                dir: Arc::new(dir.to_path_buf()),
                live_segment: next_segment,
            },
            recovered,
            queue,
        ))
    }

    /// Journals `events` and resolves once they are durable.
    pub async fn append(&self, events: Vec<AuditEvent>) -> Result<(), JournalError> {
        if events.is_empty() {
            return Ok(());
        }
        let events: Vec<(EventKeys, String)> = events
            .into_iter()
            .map(|e| {
                let json = e.canonical();
                (e.into_keys(), json)
            })
            .collect();
        match &self.mode {
            Mode::Inline(inline) => {
                // A poisoned lock means a panic while writing: the file may hold anything
                // up to a torn record, which recovery handles; refuse further audited work.
                let mut guard = inline.lock().map_err(|_| JournalError::Closed)?;
                let Inline { writer, buf, queue } = &mut *guard;
                let journaled = writer.write_events(buf, events).inspect_err(|e| {
                    tracing::error!(error = %e, "audit journal write failed; refusing audited work");
                })?;
                // Queued under the lock, so the fold sees events in journal order.
                queue.push(journaled)
            }
            Mode::Grouped(tx) => {
                let (ack, wait) = oneshot::channel();
                tx.send(Request { events, ack })
                    .map_err(|_| JournalError::Closed)?;
                wait.await.map_err(|_| JournalError::Closed)?
            }
        }
    }

    /// Deletes the segments before `upto.segment`: everything in them has been folded.
    pub fn release(&self, upto: JournalPosition) {
        if let Ok(segs) = segments(&self.dir) {
            for (seg, path) in segs {
                if seg < upto.segment {
                    let _ = fs::remove_file(path);
                }
            }
        }
    }

    /// Deletes every segment of earlier runs; call once their recovered events are folded.
    pub fn release_recovered(&self) {
        self.release(JournalPosition {
            segment: self.live_segment,
            record: 0,
        });
    }
}

struct SegmentWriter {
    dir: PathBuf,
    segment: u64,
    file: File,
    path: PathBuf,
    bytes: u64,
    records: u64,
}

impl SegmentWriter {
    fn create(dir: &Path, segment: u64) -> Result<Self, JournalError> {
        let path = segment_path(dir, segment);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            segment,
            file,
            path,
            bytes: 0,
            records: 0,
        })
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Request>, queue: &FoldQueue) {
        let mut buf = Vec::with_capacity(1 << 20);
        while let Some(first) = rx.recv().await {
            let mut group = vec![first];
            let mut count = group[0].events.len();
            while count < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => {
                        count += r.events.len();
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
            let events = group
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.events))
                .collect();
            let mut result = self.write_events(&mut buf, events);
            if result.is_ok() {
                // fdatasync blocks for milliseconds: off the runtime's workers.
                let synced = match self.file.try_clone() {
                    Ok(f) => tokio::task::spawn_blocking(move || f.sync_data())
                        .await
                        .unwrap_or_else(|e| Err(std::io::Error::other(e))),
                    Err(e) => Err(e),
                };
                if let Err(e) = synced {
                    result = Err(io(&self.path)(e));
                }
            }
            match result {
                Ok(journaled) => {
                    let queued = queue.push(journaled);
                    for r in group {
                        let _ = r.ack.send(queued.clone());
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit journal write failed; refusing audited work");
                    for r in group {
                        let _ = r.ack.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// Writes `events` as one `write`; returns them with their positions.
    fn write_events(
        &mut self,
        buf: &mut Vec<u8>,
        events: Vec<(EventKeys, String)>,
    ) -> Result<Vec<JournaledEvent>, JournalError> {
        if self.bytes > SEGMENT_MAX_BYTES {
            *self = Self::create(&self.dir, self.segment + 1)?;
        }
        buf.clear();
        let mut journaled = Vec::with_capacity(events.len());
        let mut record = self.records;
        for (e, json) in events {
            buf.extend_from_slice(checksum(&json).as_bytes());
            buf.push(b' ');
            buf.extend_from_slice(json.as_bytes());
            buf.push(b'\n');
            journaled.push(JournaledEvent {
                keys: e,
                payload: json,
                position: JournalPosition {
                    segment: self.segment,
                    record,
                },
            });
            record += 1;
        }
        if let Err(e) = self.file.write_all(buf) {
            // A partial write (disk full) must not leave a torn record in the middle of the
            // journal, which the next start would report as damage: cut the file back to
            // its last whole record (`bytes`: the segment is new to this process and only
            // grows by whole groups). The callers get the error; nothing was acknowledged.
            let _ = self.file.set_len(self.bytes);
            return Err(io(&self.path)(e));
        }
        self.bytes += buf.len() as u64;
        self.records = record;
        Ok(journaled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;
    use zorgkluis_domain::Actor;

    fn event(n: usize) -> AuditEvent {
        AuditEvent {
            event_id: format!("ev-{n}"),
            occurred_at: "2026-11-23T05:00:00.000Z".into(),
            code: EventCode::Read,
            action: Action::R,
            event_type: "patient-record".into(),
            outcome: Outcome::Success,
            reason: None,
            controls: Controls::default(),
            actor: Actor::operator_tool("test"),
            channel: Channel::OperatorTool,
            purpose: "HOPERAT".into(),
            object: AuditObject::default(),
            authorisation_protocol: "t@1".into(),
            consent_profile: "none".into(),
            relationship_protocol: None,
            source: "test".into(),
        }
    }

    #[tokio::test]
    async fn journaled_events_are_streamed_and_recovered_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, recovered, queue) = Journal::open(dir.path(), false, 3).unwrap();
            assert!(recovered.is_empty());
            j.append(vec![event(1), event(2)]).await.unwrap();
            j.append(vec![event(3)]).await.unwrap();
            // Three events wake the fold; they come in journal order.
            queue.wait().await;
            let (got, closed) = queue.take();
            assert!(!closed);
            let ids: Vec<_> = got.iter().map(|e| e.keys.event_id.as_str()).collect();
            assert_eq!(ids, ["ev-1", "ev-2", "ev-3"]);
            drop(j);
            queue.wait().await;
            assert!(queue.take().1, "the last handle closed the journal");
        }
        let (_j, recovered, _rx) = Journal::open(dir.path(), false, 1).unwrap();
        let ids: Vec<_> = recovered
            .iter()
            .map(|e| e.keys.event_id.as_str())
            .collect();
        assert_eq!(ids, ["ev-1", "ev-2", "ev-3"]);
    }

    #[tokio::test]
    async fn torn_tail_is_dropped_but_damage_in_the_middle_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, _, _rx) = Journal::open(dir.path(), true, 1).unwrap();
            j.append(vec![event(1), event(2)]).await.unwrap();
        }
        let seg = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"0123456789abcdef {\"event_id\":\"ev-")
            .unwrap();
        drop(f);
        let (_j, recovered, _rx) = Journal::open(dir.path(), false, 1).unwrap();
        assert_eq!(recovered.len(), 2);
        // Damage a record that is followed by others: refused.
        let text = fs::read_to_string(&seg)
            .unwrap()
            .replacen("ev-1", "ev-X", 1);
        fs::write(&seg, text).unwrap();
        assert!(matches!(
            Journal::open(dir.path(), false, 1),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }

    #[tokio::test]
    async fn release_deletes_folded_segments() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, _, _rx) = Journal::open(dir.path(), false, 1).unwrap();
            j.append(vec![event(1)]).await.unwrap();
        }
        let (j, recovered, _rx) = Journal::open(dir.path(), false, 1).unwrap();
        assert_eq!(recovered.len(), 1);
        assert_eq!(recovered[0].position.segment, 1);
        j.release_recovered();
        assert_eq!(
            segments(dir.path()).unwrap().len(),
            1,
            "only the live segment stays"
        );
    }
}
