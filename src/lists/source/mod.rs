//! Where the lists come from, behind one type: a JSON Lines file (read-only, loaded whole), or
//! Redis as the shared source of truth (written by the admin API and `import`, followed through
//! its change stream, its cold lists looked up on demand through a cache). Callers load,
//! follow, write and look up cold entries through [`Source`] without asking which it is; a
//! file answers writes with [`SourceError::ReadOnly`].

mod change;
mod cold;
mod import;
mod named;
mod pool;
pub mod redis;
mod snapshot;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use change::{Change, ChangeKind};
pub use cold::{ColdCacheConfig, ColdLookup, ColdStats};
pub use import::{GuardedImport, Import, ImportError};
pub use named::ColdNames;
pub use pool::DEFAULT_CONNECTIONS;
pub use redis::{
    ImportStats, ListHistory, Note, Position, PutOutcome, ReplicaWait, SourceError, DEFAULT_PREFIX,
    DEFAULT_TIMEOUT, DEFAULT_WAIT_TIMEOUT,
};

pub use snapshot::{StoredSnapshot, WriteError as SnapshotWriteError, Written as SnapshotWritten};

pub(crate) use change::StreamRecord;
pub(crate) use named::{NamesPatch, NamesStep};
pub(crate) use redis::ChangeStream;

use super::{Entry, ListFileError, ListIndex, Shrink};
use crate::ident::SubjectKey;
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;
use cold::ColdCache;
use redis::RedisLists;

/// Where the lists come from, as configured: a JSON Lines snapshot, or Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    /// The shipped demo lists, built into the binary.
    Embedded,
    File(PathBuf),
    Redis {
        url: String,
        prefix: String,
        /// Bounds connecting to Redis and each of its replies (the follower's wait on the
        /// stream comes on top).
        timeout: Duration,
        /// Connections the source's calls share at most; a call that finds them all busy
        /// waits for one up to `timeout`.
        connections: usize,
        /// The replicas a write waits for before it is acknowledged.
        wait: ReplicaWait,
    },
}

/// A list source named by a URL that is not Redis's.
#[derive(Debug, thiserror::Error)]
#[error("list source `{0}`: give a JSON Lines file or a redis:// URL")]
pub struct UnsupportedSource(pub String);

impl ListSource {
    /// `redis://…`, `rediss://…`, `redis+sentinel://…` and `redis+cluster://…` name Redis (under `redis_prefix`, with `redis_timeout` and
    /// at most `redis_connections`, waiting for the URL's default replicas); any other URL is
    /// refused, and anything else is a file path.
    pub fn parse(
        text: &str,
        redis_prefix: &str,
        redis_timeout: Duration,
        redis_connections: usize,
    ) -> Result<ListSource, UnsupportedSource> {
        if is_redis_url(text) {
            Ok(ListSource::Redis {
                url: text.to_owned(),
                prefix: redis_prefix.to_owned(),
                timeout: redis_timeout,
                connections: redis_connections,
                wait: ReplicaWait::for_url(text),
            })
        } else if text.contains("://") {
            Err(UnsupportedSource(text.to_owned()))
        } else {
            Ok(ListSource::File(PathBuf::from(text)))
        }
    }

    /// The Redis the lists are in, if they are: the query register keeps its records there
    /// unless told otherwise.
    pub fn redis_url(&self) -> Option<&str> {
        match self {
            ListSource::Redis { url, .. } => Some(url),
            ListSource::Embedded | ListSource::File(_) => None,
        }
    }

    /// The same source with at most `connections` connections (for Redis; a file has none).
    pub fn with_connections(&self, connections: usize) -> ListSource {
        let mut source = self.clone();
        if let ListSource::Redis {
            connections: limit, ..
        } = &mut source
        {
            *limit = connections;
        }
        source
    }

    /// The source ready for use (does not connect), its cold lists cached as `cold` says.
    pub fn open(&self, cold: ColdCacheConfig) -> Source {
        let backend = match self {
            ListSource::Embedded => Backend::Embedded,
            ListSource::File(path) => Backend::File(path.clone()),
            ListSource::Redis {
                url,
                prefix,
                timeout,
                connections,
                wait,
            } => match RedisLists::open(url, prefix, *timeout, *connections, *wait) {
                Ok(lists) => Backend::Redis {
                    cold: Box::new(ColdCache::new(lists.clone(), cold)),
                    lists,
                },
                Err(err) => Backend::Unusable(err.to_string()),
            },
        };
        Source {
            setting: self.clone(),
            backend,
        }
    }

    /// `text` with the list file's path, if it names one, replaced by `<lists>` (for answers
    /// to callers who may not see where the service keeps its files).
    pub fn without_path(&self, text: String) -> String {
        match self {
            ListSource::File(path) => text.replace(&path.display().to_string(), "<lists>"),
            ListSource::Embedded | ListSource::Redis { .. } => text,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ListSource::Embedded | ListSource::File(_) => "file",
            ListSource::Redis { .. } => "redis",
        }
    }

    /// The location for logs and `/v1/status`, without any password a URL carries.
    pub fn location(&self) -> String {
        match self {
            ListSource::Embedded => "embedded".to_owned(),
            ListSource::File(path) => path.display().to_string(),
            ListSource::Redis { url, .. } => crate::redis_client::without_password(url),
        }
    }
}

pub use crate::redis_client::is_redis_url;

/// Why the lists could not be loaded from their source.
#[derive(Debug, thiserror::Error)]
pub enum LoadListsError {
    #[error(transparent)]
    File(#[from] ListFileError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// What a full load of the lists gives.
#[derive(Debug)]
pub struct Loaded {
    /// Every entry held in memory.
    pub index: ListIndex,
    /// Who the entries of cold lists name (none for a file, which holds every list in memory).
    pub cold_names: ColdNames,
    /// The source's position in its history, if it has one (Redis does; a file does not).
    pub position: Option<Position>,
    pub path: LoadPath,
}

/// How a full load read the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadPath {
    /// From a file (or the embedded demo lists).
    File,
    /// From the snapshot stored in Redis.
    Snapshot,
    /// By scanning every entry in Redis, because no stored snapshot could be used (`why`).
    Scan { why: String },
}

impl LoadPath {
    /// `file`, `snapshot` or `scan`, for `/v1/status` and the metrics.
    pub fn name(&self) -> &'static str {
        match self {
            LoadPath::File => "file",
            LoadPath::Snapshot => "snapshot",
            LoadPath::Scan { .. } => "scan",
        }
    }
}

/// An opened list source: the one way to load, follow, write and look up the lists.
pub struct Source {
    setting: ListSource,
    backend: Backend,
}

enum Backend {
    /// The demo lists built into the binary, read-only as a file is.
    Embedded,
    File(PathBuf),
    Redis {
        lists: RedisLists,
        /// Entries of cold lists, which stay in Redis and are cached here as they are asked for
        /// (boxed: it is far larger than the other variants).
        cold: Box<ColdCache>,
    },
    /// A Redis URL the client refused: every call fails with why.
    Unusable(String),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("kind", &self.kind())
            .field("location", &self.location())
            .finish()
    }
}

impl Source {
    /// `file` or `redis`, for logs and `/v1/status`.
    pub fn kind(&self) -> &'static str {
        self.setting.kind()
    }

    /// Where the lists are, without any password (see [`ListSource::location`]).
    pub fn location(&self) -> String {
        self.setting.location()
    }

    /// The Redis lists behind this source, or why writes cannot reach them.
    fn redis(&self) -> Result<&RedisLists, SourceError> {
        match &self.backend {
            Backend::Redis { lists, .. } => Ok(lists),
            Backend::Embedded | Backend::File(_) => Err(SourceError::ReadOnly),
            Backend::Unusable(message) => Err(SourceError::Url(message.clone())),
        }
    }

    /// Loads every entry held in memory and who the cold entries name (blocking).
    pub fn load(&self, rules: &RuleSet) -> Result<Loaded, LoadListsError> {
        match &self.backend {
            Backend::Embedded => Ok(Loaded {
                index: super::load_embedded(rules)?,
                cold_names: ColdNames::default(),
                position: None,
                path: LoadPath::File,
            }),
            Backend::File(path) => Ok(Loaded {
                index: super::load_file(path, rules)?,
                cold_names: ColdNames::default(),
                position: None,
                path: LoadPath::File,
            }),
            _ => Ok(self.redis()?.load_all(rules)?),
        }
    }

    /// Reads every entry and stores them in Redis as the list snapshot that starting instances
    /// load (blocking), unless another writer is at it.
    pub fn write_snapshot(&self, rules: &RuleSet) -> Result<SnapshotWritten, SnapshotWriteError> {
        self.redis()?.write_snapshot(rules)
    }

    /// Stores `index`, a running instance's lists at exactly `position` (without cold lists),
    /// as the list snapshot (blocking), unless another writer is at it or the stored one is
    /// as new.
    pub fn write_snapshot_of(
        &self,
        rules: &RuleSet,
        index: &ListIndex,
        position: Position,
    ) -> Result<SnapshotWritten, SnapshotWriteError> {
        self.redis()?.write_snapshot_of(rules, index, position)
    }

    /// What the stored list snapshot holds, if one is stored.
    pub fn stored_snapshot(&self) -> Result<Option<StoredSnapshot>, SourceError> {
        self.redis()?.stored_snapshot()
    }

    /// The change stream to follow: `None` when the source has none (a file changes only by
    /// a reload).
    pub(crate) fn changes(&self) -> Option<Result<ChangeStream<'_>, SourceError>> {
        match &self.backend {
            Backend::Embedded | Backend::File(_) => None,
            _ => Some(self.redis().map(RedisLists::change_stream)),
        }
    }

    /// `Ok` when the source takes writes; [`SourceError::ReadOnly`] for a file.
    pub fn writable(&self) -> Result<(), SourceError> {
        self.redis().map(|_| ())
    }

    /// Creates or replaces one entry at `at`, with an optional note of why it was amended;
    /// acknowledged once Redis has it.
    pub fn put(
        &self,
        entry: &Entry,
        rules: &RuleSet,
        note: Option<(Note, &str)>,
        at: Timestamp,
    ) -> Result<PutOutcome, SourceError> {
        self.redis()?.put(entry, rules, note, at)
    }

    /// Removes an entry, keeping a tombstone of who, why and when: `None` when there was no
    /// such entry, else the list version after the removal.
    pub fn delete(
        &self,
        entry_id: &str,
        by: &str,
        reason: &str,
        at: &str,
    ) -> Result<Option<u64>, SourceError> {
        self.redis()?.delete(entry_id, by, reason, at)
    }

    /// Replaces the whole content of one list in one transaction (a designating body's full
    /// push): entries left out are removed with a tombstone naming `by`.
    pub fn replace_list(
        &self,
        list: &str,
        entries: &[Entry],
        rules: &RuleSet,
        by: &str,
        at: &str,
    ) -> Result<ImportStats, SourceError> {
        self.redis()?.replace_list(list, entries, rules, by, at)
    }

    /// Writes validated entries in pipelined batches; `progress` is told how many were sent.
    pub fn import(
        &self,
        entries: &[Entry],
        rules: &RuleSet,
        progress: &dyn Fn(u64),
    ) -> Result<ImportStats, SourceError> {
        self.redis()?.import(entries, rules, progress)
    }

    /// What writing `entries` (replacing list `replacing`, if given) would do to the size of
    /// each list, read before anything is written, for the fail-closed guard.
    pub fn shrink_of_write(
        &self,
        entries: &[Entry],
        rules: &RuleSet,
        replacing: Option<&str>,
    ) -> Result<Shrink, SourceError> {
        self.redis()?.shrink_of_write(entries, rules, replacing)
    }

    /// The current list version (0 before the first write).
    pub fn version(&self) -> Result<u64, SourceError> {
        self.redis()?.version()
    }

    /// One stored entry as its JSON record.
    pub fn get(&self, entry_id: &str) -> Result<Option<String>, SourceError> {
        self.redis()?.get(entry_id)
    }

    /// The tombstone of a removed entry (JSON: `entry`, `removed_by`, `reason`, `removed_at`).
    pub fn tombstone(&self, entry_id: &str) -> Result<Option<String>, SourceError> {
        self.redis()?.tombstone(entry_id)
    }

    /// Every dispute change of each entry given, oldest first; none for a file, which keeps
    /// no history.
    pub fn dispute_histories(&self, entry_ids: &[String]) -> Result<Vec<Vec<String>>, SourceError> {
        match &self.backend {
            Backend::Embedded | Backend::File(_) => Ok(vec![Vec::new(); entry_ids.len()]),
            _ => self.redis()?.dispute_histories(entry_ids),
        }
    }

    /// What the store keeps of the lists' past: `None` for a file, which holds the lists as
    /// they are now and nothing of how they came to be.
    pub fn history(&self) -> Result<Option<ListHistory>, SourceError> {
        match &self.backend {
            Backend::Embedded | Backend::File(_) => Ok(None),
            _ => self.redis()?.history().map(Some),
        }
    }

    /// How many entries are `under_review`, and how many entered that state before `cutoff`.
    pub fn under_review_counts(&self, cutoff: Timestamp) -> Result<(u64, u64), SourceError> {
        self.redis()?.under_review_counts(cutoff)
    }

    /// At most `limit` entries `under_review` since before `until` (all with `None`), oldest
    /// first: their id, since when, and the stored entry JSON.
    pub fn under_review(
        &self,
        until: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp, Option<String>)>, SourceError> {
        self.redis()?.under_review(until, limit)
    }

    /// At most `limit` of the events kept beside the lists after event `after` (Redis only).
    pub fn events_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<crate::events::Page, SourceError> {
        self.redis()?.events_after(after, limit)
    }

    /// Appends a breach's record made at `at` as an event (Redis only).
    pub fn append_breach(&self, at: Timestamp, json: &str) -> Result<(), SourceError> {
        self.redis()?.append_breach(at, json)
    }

    /// Up to which instant the expiry scan has appended its events (Redis only).
    pub fn expired_through(&self) -> Result<Option<Timestamp>, SourceError> {
        self.redis()?.expired_through()
    }

    /// Appends the entries whose window ended and moves the scan's mark from `read` to
    /// `through`, unless another instance moved it first (`false`).
    pub fn append_expired(
        &self,
        read: Option<Timestamp>,
        through: Timestamp,
        ended: &[(Timestamp, String)],
    ) -> Result<bool, SourceError> {
        self.redis()?.append_expired(read, through, ended)
    }

    /// The cold-list cache, when the source and the rules have cold lists.
    fn cold_cache(&self, rules: &RuleSet) -> Option<&ColdCache> {
        match &self.backend {
            Backend::Redis { cold, .. } if rules.has_cold_lists() => Some(cold),
            _ => None,
        }
    }

    /// The entries kept outside the index that a decision about each subject needs (none when
    /// there are no cold lists): its own cold entries, then the cold entries of other subjects
    /// that name it as a responsible person, found through `names`. Only entries that name it
    /// are taken from those: another subject's entry must not become the person's own. Looked
    /// up off the async workers when the cache cannot answer; with Redis unreachable, uncached
    /// subjects get none and the lookup says so. The subjects read for the persons are
    /// bounded (`max_filers` of the cache's settings); a person whose lookup left some out is
    /// not known in full either.
    pub async fn outside_entries(
        self: &Arc<Self>,
        rules: &Arc<RuleSet>,
        names: &ColdNames,
        subjects: &[SubjectKey],
    ) -> Result<ColdLookup, tokio::task::JoinError> {
        let Some(cold) = self.cold_cache(rules) else {
            return Ok(ColdLookup::none());
        };
        let wanted = Wanted::of(subjects, names, cold.max_filers());
        if wanted.filers_cut > 0 {
            cold.count_cut(wanted.filers_cut);
        }
        if cold.all_cached(&wanted.keys) {
            return Ok(wanted.answer(cold.lookup(&wanted.keys, rules)));
        }
        let (source, rules) = (Arc::clone(self), Arc::clone(rules));
        tokio::task::spawn_blocking(move || {
            let found = source
                .cold_cache(&rules)
                .map_or_else(ColdLookup::none, |cold| cold.lookup(&wanted.keys, &rules));
            wanted.answer(found)
        })
        .await
    }

    /// What the cold-list cache has done; `None` without one.
    pub fn cold_stats(&self) -> Option<ColdStats> {
        match &self.backend {
            Backend::Redis { cold, .. } => Some(cold.stats()),
            _ => None,
        }
    }

    /// Forgets what the cold-list cache holds of these subjects (their entries changed).
    pub(crate) fn forget_cold(&self, subjects: impl IntoIterator<Item = SubjectKey>) {
        if let Backend::Redis { cold, .. } = &self.backend {
            for subject in subjects {
                cold.invalidate(&subject);
            }
        }
    }

    /// Forgets everything the cold-list cache holds (after a full load: the rules may have
    /// changed too).
    pub(crate) fn forget_all_cold(&self) {
        if let Backend::Redis { cold, .. } = &self.backend {
            cold.invalidate_all();
        }
    }
}

/// The subjects whose cold entries a lookup reads: those asked about, then the subjects filing
/// cold entries that name them.
struct Wanted {
    /// The subjects asked about, in order, then the filers not among them.
    keys: Vec<SubjectKey>,
    /// How many of `keys` were asked about.
    asked: usize,
    /// (subject asked about, filer) as positions in `keys`, by subject.
    naming: Vec<(usize, usize)>,
    /// The subjects asked about (positions in `keys`) some of whose filers are left out.
    cut: Vec<usize>,
    /// How many filers were left out, each time one was.
    filers_cut: u64,
}

impl Wanted {
    /// Takes at most `max_filers` filers of each subject (the first, in identifier order), and
    /// for the whole call at most as many filers not asked about as subjects asked about, or
    /// `max_filers` if that is more: a batch of persons each named by many cannot make one
    /// call read them all. A subject some of whose filers are left out is marked (`cut`).
    fn of(subjects: &[SubjectKey], names: &ColdNames, max_filers: usize) -> Wanted {
        let mut keys = subjects.to_vec();
        let mut naming = Vec::new();
        let mut cut = Vec::new();
        let mut filers_cut = 0;
        let added_at_most = subjects.len().max(max_filers);
        // Where each key is in `keys`, built only once some subject is named.
        let mut position: Option<HashMap<SubjectKey, usize>> = None;
        for (i, &subject) in subjects.iter().enumerate() {
            let filers = names.filers_naming(subject);
            let mut left_out = filers.len().saturating_sub(max_filers);
            for &filer in filers.iter().take(max_filers) {
                let position = position.get_or_insert_with(|| {
                    let mut first = HashMap::with_capacity(subjects.len());
                    for (at, &key) in subjects.iter().enumerate() {
                        first.entry(key).or_insert(at);
                    }
                    first
                });
                let at = match position.get(&filer) {
                    Some(&at) => at,
                    None if keys.len() - subjects.len() < added_at_most => {
                        keys.push(filer);
                        position.insert(filer, keys.len() - 1);
                        keys.len() - 1
                    }
                    None => {
                        left_out += 1;
                        continue;
                    }
                };
                naming.push((i, at));
            }
            if left_out > 0 {
                cut.push(i);
                filers_cut += left_out as u64;
            }
        }
        Wanted {
            keys,
            asked: subjects.len(),
            naming,
            cut,
            filers_cut,
        }
    }

    /// The lookup of `keys` as the entries of each subject asked about. A subject is not
    /// known in full when its own cold entries or those of a filer naming it are not.
    fn answer(&self, mut found: ColdLookup) -> ColdLookup {
        if found.entries.is_empty() {
            return found;
        }
        for &subject in &self.cut {
            found.unavailable[subject] = true;
        }
        if self.naming.is_empty() {
            found.entries.truncate(self.asked);
            found.unavailable.truncate(self.asked);
            return found;
        }
        let mut entries = found.entries[..self.asked].to_vec();
        let mut unavailable = found.unavailable[..self.asked].to_vec();
        for group in self.naming.chunk_by(|a, b| a.0 == b.0) {
            let subject = group[0].0;
            let person = self.keys[subject];
            let mut held: Vec<Entry> = entries[subject].to_vec();
            for &(_, filer) in group {
                unavailable[subject] |= found.unavailable[filer];
                held.extend(
                    found.entries[filer]
                        .iter()
                        .filter(|entry| entry.responsible_persons.iter().any(|p| p.id == person))
                        .cloned(),
                );
            }
            entries[subject] = held.into();
        }
        ColdLookup {
            entries,
            unavailable,
        }
    }
}
