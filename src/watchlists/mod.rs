//! Supervision watchlists (自动监管): a department's named set of subjects (its licensees, its
//! bidders this year), screened against the lists as a batch decision and, for push, asked
//! whether a subject is on one.
//!
//! Every instance holds every watchlist in memory, each an [`Arc<Watchlist>`] whose subjects
//! are a sorted vector of packed [`SubjectKey`]s, behind one registry ([`Watchlists`]). The
//! registry writes through one store: files in a folder (lists from a file, one instance) or
//! Redis (lists from Redis, shared by every instance, which notice another's change by a
//! version counter polled every second). A write is acknowledged once the store holds it
//! durably: the file synced and renamed and its folder synced, or Redis's reply (and the
//! configured replicas' `WAIT`).
//!
//! The surface other parts use for push filtering is [`Watchlists::contains`] and
//! [`Watchlists::names`].

mod file;
mod format;
mod redis;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::ident::{SubjectId, SubjectKey};
use crate::lists::source::ReplicaWait;
use crate::timestamp::Timestamp;

pub use format::subject_of;

/// The longest watchlist name, in bytes (of `[A-Za-z0-9_.-]`).
pub const MAX_NAME_LEN: usize = 64;
/// Subjects a watchlist holds at most unless configured.
pub const DEFAULT_MAX_SUBJECTS: usize = 1_000_000;
/// Bytes a watchlist's upload may take unless configured (64 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The prefix of the watchlists' keys in Redis.
pub const REDIS_PREFIX: &str = "jc:{watchlists}:";
/// How often an instance asks Redis whether another instance changed a watchlist.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// Where the watchlists are kept, and how large one may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchlistConfig {
    pub store: StoreConfig,
    pub max_subjects: usize,
    pub max_body_bytes: usize,
}

/// Where the watchlists are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// One file per watchlist in this folder.
    Files(PathBuf),
    /// Redis, under [`REDIS_PREFIX`], with the list source's timeout and replica wait.
    Redis {
        url: String,
        timeout: Duration,
        wait: ReplicaWait,
    },
}

impl StoreConfig {
    /// The store that follows the list source: its Redis (URL, timeout, replica wait) when
    /// the lists come from Redis, else files in `dir`.
    pub fn following(lists: &crate::lists::source::ListSource, dir: PathBuf) -> StoreConfig {
        match lists {
            crate::lists::source::ListSource::Redis {
                url, timeout, wait, ..
            } => StoreConfig::Redis {
                url: url.clone(),
                timeout: *timeout,
                wait: *wait,
            },
            _ => StoreConfig::Files(dir),
        }
    }
}

/// Why a watchlist could not be read, written or found.
#[derive(Debug, thiserror::Error)]
pub enum WatchlistError {
    /// The store did not answer, or refused the write: nothing was acknowledged.
    #[error("the watchlist store is unavailable: {0}")]
    Unavailable(String),
    /// What the store holds does not read as a watchlist.
    #[error("the stored watchlist {what} is refused: {why}")]
    Corrupt { what: String, why: String },
}

/// Why a watchlist name is refused, in words for the problem naming `name`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("is longer than {MAX_NAME_LEN} characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "holds `{}`; a name is letters A-Z and a-z, digits, `_`, `.` and `-`",
            bad.escape_default()
        ));
    }
    if name == "." || name == ".." {
        return Err("must not be `.` or `..`".into());
    }
    Ok(())
}

/// `text`'s bytes in hexadecimal: a department's name in a file name or a Redis key, whatever
/// characters it holds.
fn hex(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// One department's watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchlist {
    pub department: String,
    pub name: String,
    /// Sorted, each once.
    subjects: Vec<SubjectKey>,
    /// Subjects the upload named more than once, beyond the first time.
    pub duplicates: u64,
    pub updated_at: Timestamp,
    /// The id of the key that wrote it (`None` when the API runs open).
    pub updated_by: Option<String>,
    /// A fresh id of each upload: another instance's copy is the same watchlist iff it has it.
    pub revision: String,
    /// Subjects by kind (`enterprise`, `person`, …).
    pub by_kind: BTreeMap<&'static str, u64>,
}

/// Who writes a watchlist, and when.
#[derive(Debug, Clone)]
pub struct Owner {
    pub department: String,
    pub name: String,
    pub updated_by: Option<String>,
}

impl Watchlist {
    /// The watchlist of `subjects` (in any order, repeats counted and dropped).
    pub fn new(owner: Owner, mut subjects: Vec<SubjectKey>, at: Timestamp) -> Watchlist {
        subjects.sort_unstable();
        let sent = subjects.len() as u64;
        subjects.dedup();
        subjects.shrink_to_fit();
        let duplicates = sent - subjects.len() as u64;
        Watchlist::stored(
            owner,
            subjects,
            Stored {
                duplicates,
                updated_at: at,
                revision: uuid::Uuid::now_v7().to_string(),
            },
        )
    }

    /// A watchlist as the store kept it: `subjects` sorted and unique.
    fn stored(owner: Owner, subjects: Vec<SubjectKey>, stored: Stored) -> Watchlist {
        let mut by_kind = BTreeMap::new();
        for key in &subjects {
            let kind = subject_of(*key).map_or("unknown", |s| s.kind().as_str());
            *by_kind.entry(kind).or_insert(0) += 1;
        }
        Watchlist {
            department: owner.department,
            name: owner.name,
            subjects,
            duplicates: stored.duplicates,
            updated_at: stored.updated_at,
            updated_by: owner.updated_by,
            revision: stored.revision,
            by_kind,
        }
    }

    /// Its subjects, sorted.
    pub fn subjects(&self) -> &[SubjectKey] {
        &self.subjects
    }

    pub fn len(&self) -> usize {
        self.subjects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty()
    }

    pub fn contains(&self, subject: SubjectKey) -> bool {
        self.subjects.binary_search(&subject).is_ok()
    }
}

/// What a store keeps of a watchlist besides its owner and subjects.
struct Stored {
    duplicates: u64,
    updated_at: Timestamp,
    revision: String,
}

/// Collects an upload's subjects as they are read: the keys, the first invalid ones, and
/// whether there were more than the limit.
#[derive(Debug)]
pub struct Upload {
    keys: Vec<SubjectKey>,
    limit: usize,
    /// Subjects read so far, valid or not.
    pub read: u64,
    /// The first invalid subjects: the field at fault (`subjects[3].id`) and what is wrong.
    pub invalid: Vec<(String, String)>,
    /// How many identifiers were invalid in all.
    pub invalid_count: u64,
}

/// Invalid identifiers an upload keeps to report; the rest are counted.
const KEPT_INVALID: usize = 20;

/// The upload has more subjects than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany {
    pub limit: usize,
}

impl Upload {
    pub fn new(limit: usize) -> Upload {
        Upload {
            keys: Vec::new(),
            limit,
            read: 0,
            invalid: Vec::new(),
            invalid_count: 0,
        }
    }

    /// Counts the next subject: its identifier, or the field at fault and what is wrong.
    pub fn push(&mut self, subject: Result<SubjectId, (String, String)>) -> Result<(), TooMany> {
        if self.read >= self.limit as u64 {
            return Err(TooMany { limit: self.limit });
        }
        self.read += 1;
        match subject {
            Ok(subject) => self.keys.push(subject.key()),
            Err(problem) => {
                self.invalid_count += 1;
                if self.invalid.len() < KEPT_INVALID {
                    self.invalid.push(problem);
                }
            }
        }
        Ok(())
    }

    /// The watchlist, if every identifier was valid.
    pub fn finish(self, owner: Owner, at: Timestamp) -> Result<Watchlist, Upload> {
        if self.invalid_count > 0 {
            return Err(self);
        }
        Ok(Watchlist::new(owner, self.keys, at))
    }
}

/// The store behind the registry.
enum Store {
    Files(file::FileStore),
    Redis(Box<redis::RedisStore>),
}

impl Store {
    fn put(&self, list: &Watchlist) -> Result<(), WatchlistError> {
        match self {
            Store::Files(files) => files.put(list),
            Store::Redis(redis) => redis.put(list),
        }
    }

    fn delete(&self, department: &str, name: &str) -> Result<bool, WatchlistError> {
        match self {
            Store::Files(files) => files.delete(department, name),
            Store::Redis(redis) => redis.delete(department, name),
        }
    }
}

type Held = HashMap<(String, String), Arc<Watchlist>>;

/// What a store holds: each watchlist, or why it was refused.
type Loaded = Vec<Result<Arc<Watchlist>, WatchlistError>>;

/// Every watchlist, in memory, and the store they are written to.
pub struct Watchlists {
    store: Store,
    held: RwLock<Arc<Held>>,
    /// Taken by writes and refreshes, so that a refresh never puts back what a write replaced.
    writing: Mutex<()>,
    /// The Redis store's version the held watchlists were read at.
    seen_version: Mutex<Option<u64>>,
    /// Why stored watchlists were refused at the last load (each named), for `/v1/status`.
    refused: Mutex<Vec<String>>,
    pub max_subjects: usize,
    pub max_body_bytes: usize,
}

/// A summary of what the registry holds, for `/v1/status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WatchlistsStatus {
    pub store: &'static str,
    pub watchlists: usize,
    pub subjects: u64,
    /// Stored watchlists that did not read, each with why.
    pub refused: Vec<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Watchlists {
    /// Opens the store and loads every watchlist it holds; one that does not read is left
    /// out, logged and reported, and the others load. A store that cannot be read at all (a
    /// folder that cannot be made, Redis down) is an error only for files: Redis is read again
    /// on the next poll.
    pub fn open(config: &WatchlistConfig) -> Result<Watchlists, WatchlistError> {
        let store = match &config.store {
            StoreConfig::Files(dir) => Store::Files(file::FileStore::open(dir)?),
            StoreConfig::Redis { url, timeout, wait } => {
                Store::Redis(Box::new(redis::RedisStore::open(url, *timeout, *wait)?))
            }
        };
        let watchlists = Watchlists {
            store,
            held: RwLock::new(Arc::new(HashMap::new())),
            writing: Mutex::new(()),
            seen_version: Mutex::new(None),
            refused: Mutex::new(Vec::new()),
            max_subjects: config.max_subjects,
            max_body_bytes: config.max_body_bytes,
        };
        match &watchlists.store {
            Store::Files(files) => {
                let loaded = files.load_all()?;
                watchlists.install(loaded);
            }
            Store::Redis(_) => {
                if let Err(err) = watchlists.refresh() {
                    tracing::warn!(error = %err, "the watchlists could not be read from redis; they are read again every second");
                }
            }
        }
        Ok(watchlists)
    }

    /// Keeps the watchlists that loaded, and logs and reports the others.
    fn install(&self, loaded: Loaded) {
        let mut held = HashMap::new();
        let mut refused = Vec::new();
        for list in loaded {
            match list {
                Ok(list) => {
                    held.insert((list.department.clone(), list.name.clone()), list);
                }
                Err(err) => {
                    tracing::error!(error = %err, "a stored watchlist is refused; the others are loaded");
                    refused.push(err.to_string());
                }
            }
        }
        *lock(&self.refused) = refused;
        *self
            .held
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(held);
    }

    fn held(&self) -> Arc<Held> {
        Arc::clone(&self.held.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether `subject` is on the department's watchlist `name`; `None` when the department
    /// has no such watchlist.
    pub fn contains(&self, department: &str, name: &str, subject: SubjectKey) -> Option<bool> {
        let held = self.held.read().unwrap_or_else(|p| p.into_inner());
        held.get(&(department.to_owned(), name.to_owned()))
            .map(|list| list.contains(subject))
    }

    /// The names of the department's watchlists, sorted.
    pub fn names(&self, department: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .held()
            .keys()
            .filter(|(owner, _)| owner == department)
            .map(|(_, name)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// The department's watchlist `name`.
    pub fn get(&self, department: &str, name: &str) -> Option<Arc<Watchlist>> {
        self.held()
            .get(&(department.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The department's watchlists, by name.
    pub fn of(&self, department: &str) -> Vec<Arc<Watchlist>> {
        let mut lists: Vec<Arc<Watchlist>> = self
            .held()
            .values()
            .filter(|list| list.department == department)
            .cloned()
            .collect();
        lists.sort_by(|a, b| a.name.cmp(&b.name));
        lists
    }

    /// Stores `list` (durably) in place of the department's watchlist of its name, then holds
    /// it. Returns whether it replaced one. Blocking.
    pub fn put(&self, list: Arc<Watchlist>) -> Result<bool, WatchlistError> {
        let _writing = lock(&self.writing);
        self.store.put(&list)?;
        let mut held = (*self.held()).clone();
        let replaced = held
            .insert((list.department.clone(), list.name.clone()), list)
            .is_some();
        self.swap(held);
        Ok(replaced)
    }

    /// Removes the department's watchlist `name` from the store, then from memory; false if
    /// there was none. Blocking.
    pub fn delete(&self, department: &str, name: &str) -> Result<bool, WatchlistError> {
        let _writing = lock(&self.writing);
        let key = (department.to_owned(), name.to_owned());
        if !self.held().contains_key(&key) && matches!(self.store, Store::Files(_)) {
            return Ok(false);
        }
        let removed = self.store.delete(department, name)?;
        let mut held = (*self.held()).clone();
        let was_held = held.remove(&key).is_some();
        self.swap(held);
        Ok(removed || was_held)
    }

    fn swap(&self, held: Held) {
        *self.held.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(held);
    }

    /// With Redis: reads again what changed since the version last seen (nothing if the
    /// version is the same); a watchlist of the same revision as one held is kept, not read
    /// again. Blocking, bounded by the Redis timeouts. Returns whether anything was read.
    pub fn refresh(&self) -> Result<bool, WatchlistError> {
        let Store::Redis(redis) = &self.store else {
            return Ok(false);
        };
        let _writing = lock(&self.writing);
        let version = redis.version()?;
        if *lock(&self.seen_version) == Some(version) {
            return Ok(false);
        }
        let known: HashMap<String, Arc<Watchlist>> = self
            .held()
            .values()
            .map(|list| (list.revision.clone(), Arc::clone(list)))
            .collect();
        let loaded = redis.load_all(&known)?;
        self.install(loaded);
        *lock(&self.seen_version) = Some(version);
        Ok(true)
    }

    /// Whether the watchlists are shared through Redis (and must be refreshed).
    pub fn shared(&self) -> bool {
        matches!(self.store, Store::Redis(_))
    }

    pub fn status(&self) -> WatchlistsStatus {
        let held = self.held();
        WatchlistsStatus {
            store: match self.store {
                Store::Files(_) => "files",
                Store::Redis(_) => "redis",
            },
            watchlists: held.len(),
            subjects: held.values().map(|list| list.len() as u64).sum(),
            refused: lock(&self.refused).clone(),
        }
    }
}

/// The thread that refreshes shared watchlists from Redis every [`POLL_EVERY`]; stopped and
/// joined when dropped.
pub struct Poller {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchlists {
    /// Starts polling Redis for other instances' changes (none for files, which one instance
    /// alone writes).
    pub fn follow(self: &Arc<Self>) -> std::io::Result<Option<Poller>> {
        if !self.shared() {
            return Ok(None);
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let lists = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("watchlists".into())
            .spawn(move || {
                let mut failing = false;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(POLL_EVERY)
                {
                    match lists.refresh() {
                        Ok(_) if failing => {
                            failing = false;
                            tracing::info!("the watchlists are read from redis again");
                        }
                        Ok(_) => {}
                        Err(err) if !failing => {
                            failing = true;
                            tracing::warn!(error = %err, "the watchlists cannot be refreshed from redis; the ones held stay in use");
                        }
                        Err(_) => {}
                    }
                }
            })?;
        Ok(Some(Poller {
            stop: Some(stop),
            thread: Some(thread),
        }))
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
