//! The query register (查询使用登记) and feedback (自动反馈): every decision and profile read
//! leaves a record, written off the request path, and departments report what they did with
//! each measure.
//!
//! The request path hands an [`Event`] to [`Register::submit`], which never waits: the event
//! goes into a bounded queue, or, if the queue is full, straight to the spill file. One writer
//! thread takes events off the queue, makes records of them (the subject hashed, a person's ID
//! masked) and stores them in batches, in Redis or in files. When the store fails, batches go
//! to the spill file, which the writer replays once the store answers again. A record that
//! cannot even be spilled is counted as dropped and logged; nothing disappears uncounted.
//! A retention thread archives or deletes what is older than the retention period.

mod archive;
mod disk;
pub mod feedback;
mod files;
mod hour_index;
mod record;
mod redis;
pub mod report;
mod spill;
mod store;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntCounterVec};

pub use self::redis::DEFAULT_PREFIX;
pub use disk::open_append;
use record::LineWriter;
pub use record::{
    CallerRecord, DecisionItem, Event, Line, ReasonRecord, RecordKind, RegisterRecord,
    RequestFacts, SubjectHasher, SubjectRecord,
};
use store::lock;
pub use store::{
    ActiveEnterprises, AppendError, Expired, FeedbackPage, FeedbackQuery, RegisterStore,
    StoreError, Stored,
};

use crate::ident::SubjectId;
use crate::timestamp::Timestamp;

/// Records the writer stores in one batch at most.
const BATCH: usize = 2000;
/// How long the writer lets a batch gather after an idle spell.
const FLUSH_AFTER: Duration = Duration::from_millis(20);
/// How often the writer retries the spill file while the store is failing.
const REPLAY_EVERY: Duration = Duration::from_secs(1);
/// How often the writer syncs stored (file store) and spilled records to disk: a sync per
/// batch took a sixth of a core on this project's machine.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// How often retention looks for expired records: an hour file expires once an hour.
const RETAIN_EVERY: Duration = Duration::from_secs(600);
const DAY_MS: i64 = 86_400_000;
/// How much the writer's nice value is raised above the process's. On a core it shares with
/// a request worker, the writer then no longer preempts the worker for the length of a batch
/// (which stalled the answers queued behind it), yet still gets about a quarter of the core
/// while both want it: more than storing records at a worker's full rate takes.
const WRITER_NICE: i32 = 5;

/// Where the register keeps records and feedback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// No register: decisions leave no record, and feedback, export and stats are refused.
    Off,
    /// JSON Lines files under the register's folder (one instance).
    Files,
    /// Redis streams and hashes (shared by every instance).
    Redis { url: String, prefix: String },
}

impl Sink {
    pub fn name(&self) -> &'static str {
        match self {
            Sink::Off => "off",
            Sink::Files => "files",
            Sink::Redis { .. } => "redis",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RegisterConfig {
    pub sink: Sink,
    /// The register's folder: its files (file sink), by default the spill file, the archive
    /// and the key.
    pub dir: PathBuf,
    /// The secret of the subjects' keyed hash [default: `<dir>/subject-hash.key`, made on the
    /// first start]. Instances that share a Redis register must share it.
    pub key_file: Option<PathBuf>,
    /// Records the queue holds before new ones go straight to the spill file.
    pub queue_records: usize,
    /// Corrections a feedback report may have: each keeps the report's history, and the file
    /// store writes the whole report again.
    pub max_corrections: usize,
    /// The spill file's folder [default: `dir`]: on another disk than the register's files,
    /// so that a full register disk still leaves the spill file to write to.
    pub spill_dir: Option<PathBuf>,
    /// Whether `/readyz` answers 503 while records cannot be recorded at all (the store and
    /// the spill file both fail), so that a load balancer stops sending decisions.
    pub required: bool,
    /// Records older than this many days leave the store.
    pub retention_days: u32,
    /// What becomes of them.
    pub expired: Expiry,
    /// Where archived records go [default: `<dir>/archive`].
    pub archive_dir: Option<PathBuf>,
}

/// What retention does with expired records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    /// Compressed (gzip JSON Lines) into the archive folder, then removed from the store.
    Archive,
    /// Removed from the store.
    Delete,
}

impl Default for RegisterConfig {
    fn default() -> RegisterConfig {
        RegisterConfig {
            sink: Sink::Files,
            dir: PathBuf::from("audit"),
            key_file: None,
            queue_records: 65_536,
            max_corrections: 20,
            spill_dir: None,
            required: false,
            // Six months, the least the Cybersecurity Law (art. 21) asks of network logs, and
            // a week to spare.
            retention_days: 190,
            expired: Expiry::Archive,
            archive_dir: None,
        }
    }
}

impl RegisterConfig {
    /// The subject hash key's file.
    pub fn key_path(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.dir.join("subject-hash.key"))
    }

    pub fn spill_path(&self) -> PathBuf {
        self.spill_dir.clone().unwrap_or_else(|| self.dir.clone())
    }

    /// The archive folder, when expired records are archived.
    pub fn archive_path(&self) -> Option<PathBuf> {
        (self.expired == Expiry::Archive).then(|| {
            self.archive_dir
                .clone()
                .unwrap_or_else(|| self.dir.join("archive"))
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("the register's folder {}: {source}", path.display())]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the subject hash key {}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The credit commitments kept beside the register could not be read.
    #[error("the credit commitments: {0}")]
    Commitments(String),
}

/// The register's counters, one per outcome of the records counter it is given (the service
/// registers that counter; the register only counts), and whether it is dropping records now.
#[derive(Clone)]
struct Counters {
    stored: IntCounter,
    spilled: IntCounter,
    replayed: IntCounter,
    dropped: IntCounter,
    expired: IntCounter,
    archived: IntCounter,
    /// Set when records were dropped; cleared once a record is stored or spilled again, or
    /// the writer's probe finds the store or the spill folder writable.
    dropping: Arc<AtomicBool>,
}

impl Counters {
    fn of(records: &IntCounterVec) -> Counters {
        let outcome = |name: &str| records.with_label_values(&[name]);
        Counters {
            stored: outcome("stored"),
            spilled: outcome("spilled"),
            replayed: outcome("replayed"),
            dropped: outcome("dropped"),
            expired: outcome("expired"),
            archived: outcome("archived"),
            dropping: Arc::new(AtomicBool::new(false)),
        }
    }

    fn recorded(&self) {
        if self.dropping.load(Ordering::Relaxed) {
            self.dropping.store(false, Ordering::Relaxed);
            tracing::info!("the register records again");
        }
    }
}

enum Message {
    Event(Box<Event>),
    Close,
}

/// Whether the register records what it is handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Records go to the store.
    Ok,
    /// Records wait in the spill file: the store fails or fell behind. Nothing is lost yet.
    Degraded,
    /// Records are being dropped: the store and the spill file both fail.
    Failing,
}

impl Health {
    pub fn detail(self) -> &'static str {
        match self {
            Health::Ok => "records are stored",
            Health::Degraded => "records wait in the spill file until the store takes them",
            Health::Failing => {
                "records are being dropped: neither the store nor the spill file can be written"
            }
        }
    }
}

/// What `/v1/status` shows of the register.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegisterStatus {
    pub sink: &'static str,
    pub health: Health,
    /// Whether `/readyz` answers 503 while the register is failing.
    pub required: bool,
    pub queued: usize,
    pub spill_pending: u64,
    pub stored: u64,
    pub spilled: u64,
    pub replayed: u64,
    pub dropped: u64,
    /// Records removed by retention, and of them archived first.
    pub expired: u64,
    pub archived: u64,
}

/// The running register: the queue's sending end, the store for queries, and the writer.
pub struct Register {
    queue: SyncSender<Message>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
    hasher: SubjectHasher,
    spill: Arc<spill::Spill>,
    /// For feedback, export and statistics (the writer has its own).
    store: Box<dyn RegisterStore>,
    counters: Counters,
    sink: &'static str,
    max_corrections: usize,
    required: bool,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Dropped with the register, which ends the retention thread after its current pass.
    _retention: Sender<()>,
}

impl Register {
    /// Opens the store and the spill file and starts the writer and retention; `None` when
    /// the sink is off. `records` counts records by outcome, labelled by it alone.
    pub fn open(
        config: &RegisterConfig,
        records: &IntCounterVec,
    ) -> Result<Option<Register>, RegisterError> {
        let open_store = || -> Result<Box<dyn RegisterStore>, StoreError> {
            Ok(match &config.sink {
                Sink::Off => unreachable!("checked first"),
                Sink::Files => Box::new(files::FileStore::open(&config.dir)?),
                Sink::Redis { url, prefix } => Box::new(redis::RedisStore::open(url, prefix)?),
            })
        };
        if config.sink == Sink::Off {
            return Ok(None);
        }
        let dir_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RegisterError::Dir { path, source }
        };
        std::fs::create_dir_all(&config.dir).map_err(dir_error(&config.dir))?;
        let hasher = SubjectHasher::new(&load_or_make_key(&config.key_path())?);
        let spill_dir = config.spill_path();
        let spill = Arc::new(spill::Spill::open(&spill_dir).map_err(dir_error(&spill_dir))?);
        if config.sink == Sink::Files && same_disk(&config.dir, &spill_dir) {
            tracing::warn!(spill = %spill_dir.display(), "the register's spill file is on the disk of its records: if that disk fills up, records are dropped; give --register-spill-dir on another disk");
        }
        let counters = Counters::of(records);
        let capacity = config.queue_records.max(1);
        let (queue, receiver) = std::sync::mpsc::sync_channel(capacity);
        let queued = Arc::new(AtomicUsize::new(0));
        // The query store first: opening a file store makes the hours' indexes whole, which
        // must be done before the writer appends.
        let store = open_store()?;
        let writer_store: Arc<dyn RegisterStore> = Arc::from(open_store()?);
        let retention = Retention {
            store: Arc::clone(&writer_store),
            days: config.retention_days.max(1),
            archive: config.archive_path(),
            counters: counters.clone(),
        };
        let writer = Writer {
            receiver,
            queued: Arc::clone(&queued),
            store: writer_store,
            spill: Arc::clone(&spill),
            line_writer: LineWriter::new(hasher.clone()),
            counters: counters.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("register-writer".into())
            .spawn(move || writer.run())
            .map_err(dir_error(&config.dir))?;
        let (stop_retention, stopped) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("register-retention".into())
            .spawn(move || retention.run(&stopped))
            .map_err(dir_error(&config.dir))?;
        Ok(Some(Register {
            queue,
            queued,
            capacity,
            hasher,
            spill,
            store,
            counters,
            sink: config.sink.name(),
            max_corrections: config.max_corrections,
            required: config.required,
            writer: Mutex::new(Some(writer)),
            _retention: stop_retention,
        }))
    }

    /// Hands an event to the writer without waiting. If the queue is full, the event's
    /// records go to the spill file on this thread; if that fails too, they are counted as
    /// dropped.
    pub fn submit(&self, event: Event) {
        let records = event.records();
        if records == 0 {
            return;
        }
        let before = self.queued.fetch_add(records, Ordering::Relaxed);
        // An event larger than the whole queue still goes in when the queue is empty.
        if before > 0 && before + records > self.capacity {
            self.queued.fetch_sub(records, Ordering::Relaxed);
            return self.overflow(event);
        }
        match self.queue.try_send(Message::Event(Box::new(event))) {
            Ok(()) => {}
            Err(TrySendError::Full(message) | TrySendError::Disconnected(message)) => {
                self.queued.fetch_sub(records, Ordering::Relaxed);
                if let Message::Event(event) = message {
                    self.overflow(*event);
                }
            }
        }
    }

    fn overflow(&self, event: Event) {
        let mut lines = Vec::with_capacity(event.records());
        LineWriter::new(self.hasher.clone()).write(event, &mut lines);
        let why = "the register's queue is full";
        spill_or_drop(&self.spill, &self.counters, &lines, why);
    }

    /// The keyed hash the register keeps subjects under.
    pub fn hasher(&self) -> SubjectHasher {
        self.hasher.clone()
    }

    /// The store, for feedback, export and statistics.
    pub fn store(&self) -> &dyn RegisterStore {
        self.store.as_ref()
    }

    /// Corrections a feedback report may have.
    pub fn max_corrections(&self) -> usize {
        self.max_corrections
    }

    pub fn status(&self) -> RegisterStatus {
        let spill_pending = self.spill.pending();
        RegisterStatus {
            sink: self.sink,
            health: if self.counters.dropping.load(Ordering::Relaxed) {
                Health::Failing
            } else if spill_pending > 0 {
                Health::Degraded
            } else {
                Health::Ok
            },
            required: self.required,
            queued: self.queued.load(Ordering::Relaxed),
            spill_pending,
            stored: self.counters.stored.get(),
            spilled: self.counters.spilled.get(),
            replayed: self.counters.replayed.get(),
            dropped: self.counters.dropped.get(),
            expired: self.counters.expired.get(),
            archived: self.counters.archived.get(),
        }
    }

    /// Stores what is queued (or spills it) and stops the writer. Events submitted afterwards
    /// go to the spill file.
    pub fn close(&self) {
        let Some(writer) = lock(&self.writer).take() else {
            return;
        };
        if self.queue.send(Message::Close).is_ok() {
            let _ = writer.join();
        }
    }
}

impl Drop for Register {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread's side of the queue.
struct Writer {
    receiver: Receiver<Message>,
    queued: Arc<AtomicUsize>,
    /// Shared with retention, which must close an hour file the writer holds before it
    /// archives it.
    store: Arc<dyn RegisterStore>,
    spill: Arc<spill::Spill>,
    line_writer: LineWriter,
    counters: Counters,
}

impl Writer {
    fn run(mut self) {
        yield_to_requests();
        let mut last_replay: Option<Instant> = None;
        let mut last_probe: Option<Instant> = None;
        let mut last_sync = Instant::now();
        let mut closing = false;
        let mut lines = Vec::new();
        while !closing {
            let (events, close) = self.next_batch();
            closing = close;
            let records: usize = events.iter().map(Event::records).sum();
            self.queued.fetch_sub(records, Ordering::Relaxed);
            for event in events {
                self.line_writer.write(event, &mut lines);
            }
            if self.spill.pending() > 0
                && (closing || last_replay.is_none_or(|at| at.elapsed() >= REPLAY_EVERY))
            {
                last_replay = Some(Instant::now());
                self.replay();
            }
            if !lines.is_empty() {
                self.store_or_spill(&lines);
                self.line_writer.recycle(&mut lines);
            }
            if self.counters.dropping.load(Ordering::Relaxed)
                && last_probe.is_none_or(|at| at.elapsed() >= REPLAY_EVERY)
            {
                last_probe = Some(Instant::now());
                self.probe();
            }
            if closing || last_sync.elapsed() >= SYNC_EVERY {
                last_sync = Instant::now();
                self.sync();
            }
        }
    }

    fn store_or_spill(&self, lines: &[Line]) {
        // While spilled records wait, new ones join them, so that the store gets records in
        // the order they were made.
        if self.spill.pending() > 0 {
            let why = "records are waiting in the spill file";
            return spill_or_drop(&self.spill, &self.counters, lines, why);
        }
        match self.store.append(lines) {
            Ok(()) => {
                self.counters.stored.inc_by(lines.len() as u64);
                self.counters.recorded();
            }
            Err(err) => {
                self.counters.stored.inc_by(err.stored as u64);
                let rest = &lines[err.stored..];
                tracing::warn!(error = %err.source, stored = err.stored, spilling = rest.len(), "the register's store failed; spilling");
                spill_or_drop(&self.spill, &self.counters, rest, "the store failed");
            }
        }
    }

    /// While records are being dropped: whether the spill folder or the store would take
    /// records again (with no record coming, say because readiness turned the load away,
    /// nothing else would tell).
    fn probe(&self) {
        let spill = self.spill.probe();
        let store = self.store.probe();
        if spill.is_ok() || store.is_ok() {
            self.counters.recorded();
        }
    }

    /// Puts what was stored and spilled since the last sync on disk.
    fn sync(&self) {
        if let Err(err) = self.store.sync() {
            tracing::error!(error = %err, "the register's store cannot sync its records to disk");
        }
        if let Err(err) = self.spill.sync() {
            tracing::error!(error = %err, "the spill file cannot be synced to disk");
        }
    }

    /// The next batch, and whether to stop. With records queued, it takes them at once, up to
    /// a batch. With none, it waits (at most a replay interval) for the first, then lets more
    /// gather for `FLUSH_AFTER` before taking them: waking the writer for every event would
    /// cost the request threads a futex call and a context switch each, which on a busy core
    /// cost more than writing the records.
    fn next_batch(&self) -> (Vec<Event>, bool) {
        let first = match self.receiver.try_recv() {
            Ok(message) => message,
            Err(TryRecvError::Disconnected) => return (Vec::new(), true),
            Err(TryRecvError::Empty) => match self.receiver.recv_timeout(REPLAY_EVERY) {
                Ok(message) => {
                    std::thread::sleep(FLUSH_AFTER);
                    message
                }
                Err(RecvTimeoutError::Timeout) => return (Vec::new(), false),
                Err(RecvTimeoutError::Disconnected) => return (Vec::new(), true),
            },
        };
        let mut events = Vec::new();
        let mut records = 0;
        let mut message = Some(first);
        while let Some(next) = message.take() {
            match next {
                Message::Event(event) => {
                    records += event.records();
                    events.push(*event);
                }
                Message::Close => {
                    // Whatever was queued before the close goes into the last batch.
                    while let Ok(Message::Event(event)) = self.receiver.try_recv() {
                        events.push(*event);
                    }
                    return (events, true);
                }
            }
            if records < BATCH {
                match self.receiver.try_recv() {
                    Ok(next) => message = Some(next),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => return (events, true),
                }
            }
        }
        (events, false)
    }

    /// Replays spilled records until none are left or the store fails.
    fn replay(&self) {
        loop {
            match self.spill.replay(self.store.as_ref()) {
                Ok(0) if self.spill.pending() == 0 => break,
                Ok(stored) => {
                    self.counters.replayed.inc_by(stored);
                    if stored == 0 {
                        break;
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, pending = self.spill.pending(), "the register's store still fails; the spill file waits");
                    break;
                }
            }
        }
        if self.spill.pending() == 0 {
            tracing::info!("the register's spill file is replayed");
        }
    }
}

/// Lowers the calling thread's scheduling priority by [`WRITER_NICE`] (see there). If the
/// system refuses, the thread goes on at the priority it has.
fn yield_to_requests() {
    // Linux takes a thread id for the process id of setpriority, and sets that thread's alone.
    let thread = Some(rustix::thread::gettid());
    let lowered = rustix::process::getpriority_process(thread).and_then(|nice| {
        rustix::process::setpriority_process(thread, (nice + WRITER_NICE).min(19))
    });
    if let Err(err) = lowered {
        tracing::warn!(error = %err, "the register's writer keeps its scheduling priority");
    }
}

fn spill_or_drop(spill: &spill::Spill, counters: &Counters, lines: &[Line], why: &'static str) {
    match spill.append(lines) {
        Ok(()) => {
            counters.spilled.inc_by(lines.len() as u64);
            counters.recorded();
        }
        Err(err) => {
            let dropped = lines.len() - err.spilled;
            counters.spilled.inc_by(err.spilled as u64);
            counters.dropped.inc_by(dropped as u64);
            counters.dropping.store(true, Ordering::Relaxed);
            tracing::error!(error = %err, records = dropped, spilled = err.spilled, why, "REGISTER RECORDS DROPPED: the spill file cannot be written");
        }
    }
}

/// Whether two folders are on one file system (so that one full disk stops both).
fn same_disk(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

/// The retention thread: every `RETAIN_EVERY`, records older than `days` leave the store,
/// archived first if `archive` is set. Off the request path and the writer's, except that
/// an expiring hour file the writer holds is closed first.
struct Retention {
    store: Arc<dyn RegisterStore>,
    days: u32,
    archive: Option<PathBuf>,
    counters: Counters,
}

impl Retention {
    fn run(self, stop: &Receiver<()>) {
        loop {
            let before = Timestamp(Timestamp::now().0 - i64::from(self.days) * DAY_MS);
            match self.store.expire(before, self.archive.as_deref()) {
                Ok(expired) => {
                    self.counters.expired.inc_by(expired.removed);
                    self.counters.archived.inc_by(expired.archived);
                    if expired.removed > 0 {
                        tracing::info!(before = %before, removed = expired.removed, archived = expired.archived, archive = ?self.archive, "the register's retention removed expired records");
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "the register's retention failed; it tries again later");
                }
            }
            match stop.recv_timeout(RETAIN_EVERY) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// The keyed hash under which the register keeps `subject`, to search the register for it.
pub fn subject_hash(key_file: &Path, subject: &SubjectId) -> Result<String, RegisterError> {
    let key = read_key(key_file)?.ok_or_else(|| RegisterError::Key {
        path: key_file.to_path_buf(),
        message: "there is no such file; the register makes it on its first start".into(),
    })?;
    let mut hash = Vec::with_capacity(32);
    SubjectHasher::new(&key).hash_into(subject.as_str(), &mut hash);
    Ok(String::from_utf8_lossy(&hash).into_owned())
}

/// Reads the hash key (at least 32 hex digits), if the file exists.
fn read_key(path: &Path) -> Result<Option<Vec<u8>>, RegisterError> {
    let error = |message: String| RegisterError::Key {
        path: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(error(err.to_string())),
    };
    let text = text.trim();
    let key: Option<Vec<u8>> = (text.len() >= 32 && text.len() % 2 == 0 && text.is_ascii())
        .then(|| {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                .collect()
        })
        .flatten();
    key.map(Some)
        .ok_or_else(|| error("give at least 32 hexadecimal digits".into()))
}

/// Reads the hash key, or makes one, readable by the owner only.
fn load_or_make_key(path: &Path) -> Result<Vec<u8>, RegisterError> {
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key: [u8; 32] = rand::random();
    let mut text = Vec::with_capacity(64);
    record::push_hex(&mut text, &key);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(&text).and_then(|()| file.sync_all()))
        .map_err(|err| RegisterError::Key {
            path: path.to_path_buf(),
            message: format!("cannot make one: {err}"),
        })?;
    tracing::info!(file = %path.display(), "made a new subject hash key for the register");
    Ok(key.to_vec())
}
