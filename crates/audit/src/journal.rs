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
//!
//! Several processes may open the same data directory (the server, and a command such as
//! `clients add` or `backup` next to it). Each process holds an exclusive advisory lock
//! (`flock`) on every segment it writes or recovers, and deletes only those. Recovery reads
//! only segments nobody holds: those of processes that ended (the kernel drops the locks of
//! a process that dies). A new segment is created and locked under a temporary name and
//! only then linked under its real one, so no other process can take it in between.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::event::{AuditEvent, EventKeys};

const SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
const MAX_GROUP: usize = 8192;
/// Numbers the temporary names of new segments within this process.
static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
    /// After these events, close the segment ([`Journal::close`]).
    close: bool,
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
    segments: Arc<Segments>,
}

/// The segments this process owns: it created them, or recovered them from a process that
/// ended. Each is held locked through an open handle until it is deleted.
#[derive(Debug)]
struct Segments {
    dir: PathBuf,
    owned: Mutex<Vec<OwnedSegment>>,
}

#[derive(Debug)]
struct OwnedSegment {
    number: u64,
    path: PathBuf,
    /// Keeps the lock (a lock belongs to the open file, which this handle keeps open).
    _lock: File,
    recovered: bool,
}

impl Segments {
    fn own(&self, number: u64, path: PathBuf, lock: File, recovered: bool) {
        if let Ok(mut owned) = self.owned.lock() {
            owned.push(OwnedSegment {
                number,
                path,
                _lock: lock,
                recovered,
            });
        }
    }

    /// Deletes the owned segments `delete` picks.
    fn delete(&self, delete: impl Fn(&OwnedSegment) -> bool) {
        if let Ok(mut owned) = self.owned.lock() {
            owned.retain(|s| {
                if delete(s) {
                    let _ = fs::remove_file(&s.path);
                    false
                } else {
                    true
                }
            });
        }
    }
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
    /// `None` once closed.
    writer: Option<SegmentWriter>,
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
        write!(f, "Journal({})", self.segments.dir.display())
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

/// Reads the events of the segments in `dir` that no running process holds (left by
/// processes that ended, crashed or not) and takes them over, locked, into `owned`.
/// Returns the events and the highest segment number seen.
fn recover(dir: &Path, owned: &Segments) -> Result<(Vec<JournaledEvent>, u64), JournalError> {
    let segs = segments(dir)?;
    let mut out = Vec::new();
    let highest = segs.last().map_or(0, |(n, _)| *n);
    for (seg, path) in &segs {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            // Deleted by its owner since the listing: it was folded.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(path)(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            // Another process is writing it, or recovering it.
            Err(fs::TryLockError::WouldBlock) => continue,
            Err(fs::TryLockError::Error(e)) => return Err(io(path)(e)),
        }
        // Locked, but deleted by its owner between the listing and the lock: folded.
        if !path.exists() {
            continue;
        }
        let lock = file.try_clone().map_err(io(path))?;
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
                    // A process that crashed mid-write leaves a torn last line in the
                    // segment it was writing; several processes may each have left one.
                    let rest_empty = reader.fill_buf().map(|b| b.is_empty()).unwrap_or(false);
                    if rest_empty {
                        lock.set_len(good_len).map_err(io(path))?;
                        break;
                    }
                    return Err(JournalError::Corrupt {
                        segment: path.display().to_string(),
                        line: lineno,
                    });
                }
            }
        }
        owned.own(*seg, path.clone(), lock, true);
    }
    Ok((out, highest))
}

impl Journal {
    /// Opens the journal in `dir`. Returns the handle, the events left from an earlier run
    /// (to be folded before anything else) and the queue of newly journaled events, which
    /// wakes its taker once `wake_at` events wait.
    pub fn open(dir: &Path, fsync: bool, wake_at: usize) -> Result<Opened, JournalError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let segments = Arc::new(Segments {
            dir: dir.to_path_buf(),
            owned: Mutex::new(Vec::new()),
        });
        let (recovered, highest) = recover(dir, &segments)?;
        let queue = Arc::new(FoldQueue::new(wake_at));
        let fold_queue = queue.clone();
        let mut writer = SegmentWriter::create(&segments, highest + 1)?;
        let mode = if fsync {
            let (tx, rx) = mpsc::unbounded_channel::<Request>();
            // A task on the runtime, not a thread: handing events over and waking the
            // waiting requests then costs no thread switches.
            tokio::spawn(async move {
                writer.run(rx, &fold_queue).await;
                // The segment's lock goes with the writer, before the fold hears of the end.
                drop(writer);
                fold_queue.close();
            });
            Mode::Grouped(tx)
        } else {
            Mode::Inline(Arc::new(Mutex::new(Inline {
                writer: Some(writer),
                buf: Vec::with_capacity(64 * 1024),
                queue: fold_queue,
            })))
        };
        Ok((Self { mode, segments }, recovered, queue))
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
                let writer = writer.as_mut().ok_or(JournalError::Closed)?;
                let journaled = writer.write_events(buf, events).inspect_err(|e| {
                    tracing::error!(error = %e, "audit journal write failed; refusing audited work");
                })?;
                // Queued under the lock, so the fold sees events in journal order.
                queue.push(journaled)
            }
            Mode::Grouped(tx) => {
                let (ack, wait) = oneshot::channel();
                tx.send(Request {
                    events,
                    close: false,
                    ack,
                })
                .map_err(|_| JournalError::Closed)?;
                wait.await.map_err(|_| JournalError::Closed)?
            }
        }
    }

    /// Stops journaling in this process (later appends fail with [`JournalError::Closed`])
    /// and lets go of its segments without deleting them, as the end of the process would:
    /// the next [`Journal::open`] of the directory, in this process or another, recovers
    /// whatever they hold. For a vault that is closed and opened again in one process.
    pub async fn close(&self) {
        match &self.mode {
            Mode::Inline(inline) => {
                if let Ok(mut guard) = inline.lock() {
                    guard.writer = None;
                }
            }
            Mode::Grouped(tx) => {
                let (ack, wait) = oneshot::channel();
                let sent = tx.send(Request {
                    events: Vec::new(),
                    close: true,
                    ack,
                });
                if sent.is_ok() {
                    let _ = wait.await;
                }
            }
        }
        if let Ok(mut owned) = self.segments.owned.lock() {
            owned.clear();
        }
    }

    /// Deletes this process's segments before `upto.segment`: everything in them has been
    /// folded. (Segments of other processes are theirs to delete.)
    pub fn release(&self, upto: JournalPosition) {
        self.segments
            .delete(|s| !s.recovered && s.number < upto.segment);
    }

    /// Deletes the segments recovered at open; call once their events are folded.
    pub fn release_recovered(&self) {
        self.segments.delete(|s| s.recovered);
    }
}

struct SegmentWriter {
    segments: Arc<Segments>,
    segment: u64,
    file: File,
    path: PathBuf,
    bytes: u64,
    records: u64,
}

impl SegmentWriter {
    /// Creates, locks and owns a new segment numbered `from` or the first free number
    /// after it (another process may have taken a number meanwhile).
    fn create(segments: &Arc<Segments>, from: u64) -> Result<Self, JournalError> {
        let dir = &segments.dir;
        // Locked under a name recovery ignores, then linked under its real name: no other
        // process ever sees the segment unlocked.
        let tmp = dir.join(format!(
            "audit-journal-new-{}-{}.tmp",
            std::process::id(),
            NEXT_TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        let locked = file.try_lock().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io(&tmp)(std::io::Error::other(e.to_string()))
        });
        locked?;
        let mut segment = from.max(1);
        let path = loop {
            let path = segment_path(dir, segment);
            match fs::hard_link(&tmp, &path) {
                Ok(()) => break path,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => segment += 1,
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(io(&path)(e));
                }
            }
        };
        let _ = fs::remove_file(&tmp);
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let lock = file.try_clone().map_err(io(&path))?;
        segments.own(segment, path.clone(), lock, false);
        Ok(Self {
            segments: segments.clone(),
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
            let close = group.iter().any(|r| r.close);
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
            if close {
                return;
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
            *self = Self::create(&self.segments, self.segment + 1)?;
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
        let ids: Vec<_> = recovered.iter().map(|e| e.keys.event_id.as_str()).collect();
        assert_eq!(ids, ["ev-1", "ev-2", "ev-3"]);
    }

    #[tokio::test]
    async fn torn_tail_is_dropped_but_damage_in_the_middle_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (j, _, queue) = Journal::open(dir.path(), true, 1).unwrap();
            j.append(vec![event(1), event(2)]).await.unwrap();
            drop(j);
            // The fsync writer task ends (and unlocks its segment) once it sees the end.
            while !queue.take().1 {
                queue.wait().await;
            }
        }
        let seg = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"0123456789abcdef {\"event_id\":\"ev-")
            .unwrap();
        drop(f);
        let (j, recovered, _rx) = Journal::open(dir.path(), false, 1).unwrap();
        assert_eq!(recovered.len(), 2);
        drop(j);
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
    async fn a_second_process_leaves_a_running_journal_alone_and_recovers_it_once_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        // The server: events journaled, not yet folded.
        let (server, recovered, _q1) = Journal::open(dir.path(), false, 1000).unwrap();
        assert!(recovered.is_empty());
        server.append(vec![event(1), event(2)]).await.unwrap();
        let live = segment_path(dir.path(), 1);
        assert!(live.exists());
        // A command next to it (another open file, as another process would have): nothing
        // to recover, a segment of its own, and releasing deletes only its own.
        let (command, recovered, _q2) = Journal::open(dir.path(), false, 1000).unwrap();
        assert!(
            recovered.is_empty(),
            "the server's segment is not left over"
        );
        command.append(vec![event(3)]).await.unwrap();
        command.release_recovered();
        // The command folded everything before its own segment 2 (segment 1 is not its).
        assert!(segment_path(dir.path(), 2).exists());
        command.release(JournalPosition {
            segment: 2,
            record: 0,
        });
        assert!(live.exists(), "the server's live segment is still there");
        command.close().await;
        drop(command);
        server.append(vec![event(4)]).await.unwrap();
        // The server ends without folding: the next start recovers everything, once.
        server.close().await;
        assert!(matches!(
            server.append(vec![event(5)]).await,
            Err(JournalError::Closed)
        ));
        let (_next, recovered, _q3) = Journal::open(dir.path(), false, 1000).unwrap();
        let mut ids: Vec<_> = recovered.iter().map(|e| e.keys.event_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["ev-1", "ev-2", "ev-3", "ev-4"]);
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
