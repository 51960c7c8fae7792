//! What requests read: the compiled rules and the list index, behind one atomically swapped
//! pointer. A reload builds a whole new snapshot off the hot path and swaps it in only if every
//! part loaded; on failure the last good snapshot keeps serving and the failure is recorded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::ident;
use crate::lists::redis::{Change, ChangeOp, Position, RedisLists, RedisSourceError};
use crate::lists::{
    self, Entry, EntryRecord, ListFileError, ListIndex, Refusal, Shrink, ShrinkGuard,
};
use crate::ruleset::{self, RuleSet, RuleSetError};
use crate::timestamp::Timestamp;

/// Where rules and lists come from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub rules: PathBuf,
    pub lists: ListSource,
}

/// Where the lists come from: a JSON Lines snapshot, or Redis as the shared source of truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    File(PathBuf),
    Redis {
        url: String,
        prefix: String,
        /// Bounds connecting to Redis and each of its replies (the follower's wait on the
        /// stream comes on top).
        timeout: Duration,
    },
}

impl ListSource {
    /// `redis://…` and `rediss://…` name Redis; anything else is a file path.
    pub fn parse(text: &str, redis_prefix: &str, redis_timeout: Duration) -> ListSource {
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            ListSource::Redis {
                url: text.to_owned(),
                prefix: redis_prefix.to_owned(),
                timeout: redis_timeout,
            }
        } else {
            ListSource::File(PathBuf::from(text))
        }
    }

    /// The Redis store this source names, with its timeout; `None` for a file.
    pub fn redis(&self) -> Option<Result<RedisLists, RedisSourceError>> {
        match self {
            ListSource::Redis {
                url,
                prefix,
                timeout,
            } => Some(RedisLists::open(url, prefix).map(|redis| redis.with_timeout(*timeout))),
            ListSource::File(_) => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ListSource::File(_) => "file",
            ListSource::Redis { .. } => "redis",
        }
    }

    /// The location for logs and `/v1/status`, without any password a URL carries.
    pub fn location(&self) -> String {
        match self {
            ListSource::File(path) => path.display().to_string(),
            ListSource::Redis { url, .. } => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}://{}", &url[..scheme], &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// Entries per list code (the guard compares loads by code: a new rule set may number lists
/// differently).
fn counts<'a>(rules: &'a RuleSet, lists: &ListIndex) -> Vec<(&'a str, u64)> {
    rules
        .lists()
        .map(|(id, list)| (list.code.as_str(), lists.count(id) as u64))
        .collect()
}

/// Rules and lists that were loaded together and are used together.
#[derive(Debug)]
pub struct Snapshot {
    pub rules: Arc<RuleSet>,
    pub lists: ListIndex,
    /// Names the list state a decision was made from: Redis's list version, or for a file
    /// the number of successful loads.
    pub lists_version: u64,
    /// Redis source: the epoch `lists_version` counts in (see `lists::redis`); two instances
    /// hold the same lists when both version and epoch agree.
    pub lists_epoch: Option<String>,
    pub loaded_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Rules(#[from] RuleSetError),
    #[error(transparent)]
    Lists(#[from] ListFileError),
    #[error(transparent)]
    Redis(#[from] RedisSourceError),
    /// The fail-closed guard refused the lists: they would empty or shrink the service.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

/// The outcome of the latest load attempt, for `/v1/status`.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub attempts: u64,
    pub failures: u64,
    pub last_attempt: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    /// The error of the latest attempt, if it failed.
    pub last_error: Option<String>,
    /// Loads the fail-closed guard refused (counted among the failures too).
    pub refusals: u64,
    /// The latest refusal, kept after later loads succeed.
    pub last_refusal: Option<LoadRefusal>,
}

/// When the guard refused a load, and why.
#[derive(Debug, Clone)]
pub struct LoadRefusal {
    pub at: Timestamp,
    pub reason: String,
}

/// Holds the current snapshot and loads new ones.
#[derive(Debug)]
pub struct Store {
    sources: Sources,
    current: ArcSwapOption<Snapshot>,
    report: Mutex<LoadReport>,
    /// Serialises swaps, so a change applied by the follower always starts from the snapshot
    /// it replaces. Readers never take it.
    writer: Mutex<()>,
    follow: Mutex<FollowReport>,
    /// How far a load may shrink the lists before it is refused.
    guard: ShrinkGuard,
    /// Counts refusals where metrics are published (whichever path loaded: start, signal or
    /// the follower's resync).
    refusals_metric: Option<prometheus::IntCounter>,
}

/// How the Redis follower is doing, for `/v1/status` and the staleness metric.
#[derive(Debug, Clone, Default)]
pub struct FollowReport {
    /// A follower runs (Redis source only).
    pub following: bool,
    /// The follower's last call to Redis succeeded.
    pub connected: bool,
    /// The follower found that the snapshot no longer follows on from Redis (the store was
    /// replaced or went back, or the stream was trimmed past us), and has not yet loaded it
    /// whole and seen it follow on again.
    pub resync_pending: bool,
    /// Silence from Redis after which the lists count as stale: the follower's wait on the
    /// stream plus the Redis timeout.
    pub stale_after: Duration,
    pub last_contact: Option<Timestamp>,
    pub last_change: Option<Timestamp>,
    pub changes_applied: u64,
    /// Changes whose entry the current rule set refuses: counted and logged, not applied.
    pub changes_rejected: u64,
    /// Full loads the follower attempted because the snapshot no longer followed on.
    pub resyncs: u64,
    pub last_error: Option<String>,
}

impl FollowReport {
    /// Whether decisions may miss what Redis holds: the follower's last call failed, it has
    /// not heard from Redis for longer than `stale_after`, or it knows the snapshot no longer
    /// matches Redis. Always false without a follower (a file source).
    pub fn stale(&self, now: Timestamp) -> bool {
        let limit = i64::try_from(self.stale_after.as_millis()).unwrap_or(i64::MAX);
        let silent = self.last_contact.is_none_or(|at| now.0 - at.0 > limit);
        self.following && (!self.connected || self.resync_pending || silent)
    }
}

/// How long the follower waits on the stream before checking whether it should stop.
const FOLLOW_BLOCK: Duration = Duration::from_millis(500);
/// Overlay size (changed subjects and persons) at which the index is rebuilt whole.
const COMPACT_AT: usize = 50_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often a follower that waits between attempts checks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(50);

impl Store {
    /// A store with nothing loaded yet (not ready).
    pub fn new(sources: Sources) -> Store {
        Store {
            sources,
            current: ArcSwapOption::empty(),
            report: Mutex::default(),
            writer: Mutex::default(),
            follow: Mutex::default(),
            guard: ShrinkGuard::default(),
            refusals_metric: None,
        }
    }

    /// Holds loads to `guard` instead of the default one.
    pub fn with_guard(mut self, guard: ShrinkGuard) -> Store {
        self.guard = guard;
        self
    }

    /// Counts every refused load in `counter` as well as in the report.
    pub fn counting_refusals(mut self, counter: prometheus::IntCounter) -> Store {
        self.refusals_metric = Some(counter);
        self
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    pub fn guard(&self) -> ShrinkGuard {
        self.guard
    }

    /// The snapshot requests read, if one has loaded.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    pub fn follow_report(&self) -> FollowReport {
        self.follow.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn note_follow(&self, update: impl FnOnce(&mut FollowReport)) {
        update(
            &mut self
                .follow
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    pub fn report(&self) -> LoadReport {
        self.report.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Loads rules and lists from the sources (blocking; call it off the request path) and
    /// swaps them in on success. On failure the current snapshot stays. Lists that the guard
    /// refuses (no entries left, or too many removed) are a failure too, logged at ERROR.
    pub fn reload(&self) -> Result<Arc<Snapshot>, LoadError> {
        self.load(false)
    }

    /// Like [`Store::reload`], but takes lists the guard would refuse: an operator's decision,
    /// logged at WARN with what it removes.
    pub fn force_reload(&self) -> Result<Arc<Snapshot>, LoadError> {
        self.load(true)
    }

    fn load(&self, forced: bool) -> Result<Arc<Snapshot>, LoadError> {
        let started = Timestamp::now();
        let result = self
            .build()
            .and_then(|(rules, lists, position)| self.swap_in(rules, lists, position, forced));
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        report.attempts += 1;
        report.last_attempt = Some(started);
        match &result {
            Ok(snapshot) => {
                report.last_success = Some(snapshot.loaded_at);
                report.last_error = None;
            }
            Err(err) => {
                report.failures += 1;
                report.last_error = Some(err.to_string());
            }
        }
        if let Err(LoadError::Refused(refusal)) = &result {
            tracing::error!(%refusal, "list load refused; the lists in use, if any, stay");
            report.refusals += 1;
            report.last_refusal = Some(LoadRefusal {
                at: started,
                reason: refusal.to_string(),
            });
            if let Some(counter) = &self.refusals_metric {
                counter.inc();
            }
        }
        result
    }

    /// Swaps in a loaded snapshot unless the guard refuses its lists (compared under the
    /// writer's lock, with the snapshot they would replace).
    fn swap_in(
        &self,
        rules: RuleSet,
        lists: ListIndex,
        position: Option<Position>,
        forced: bool,
    ) -> Result<Arc<Snapshot>, LoadError> {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current();
        let shrink = Shrink::between(
            current
                .as_deref()
                .map_or_else(Vec::new, |s| counts(&s.rules, &s.lists)),
            counts(&rules, &lists),
        );
        let load = format!("the list load from {}", self.sources.lists.location());
        if forced {
            tracing::warn!(%shrink, removed = shrink.removed(), "{load} forced: taken whatever it removes");
        } else {
            self.guard.check(&load, &shrink)?;
        }
        let lists_version = position.as_ref().map_or_else(
            || current.as_ref().map_or(0, |s| s.lists_version) + 1,
            |p| p.version,
        );
        let snapshot = Arc::new(Snapshot {
            rules: Arc::new(rules),
            lists,
            lists_version,
            lists_epoch: position.and_then(|p| p.epoch),
            loaded_at: Timestamp::now(),
        });
        self.current.store(Some(Arc::clone(&snapshot)));
        Ok(snapshot)
    }

    /// Applies changes read from the stream to the current snapshot, without copying the base
    /// index, and swaps the result in. Returns the new snapshot.
    pub fn apply(&self, changes: &[Change]) -> Option<Arc<Snapshot>> {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current()?;
        let mut lists = current.lists.clone();
        let mut version = current.lists_version;
        let (mut applied, mut rejected) = (0, 0);
        for change in changes.iter().filter(|c| c.version > current.lists_version) {
            version = change.version;
            match self.applied(&current, &lists, change) {
                Ok(next) => {
                    lists = next;
                    applied += 1;
                }
                Err(err) => {
                    tracing::warn!(version = change.version, error = %err, "change not applied");
                    rejected += 1;
                }
            }
        }
        if lists.overlay_len() > COMPACT_AT {
            match lists.compacted(&current.rules) {
                Ok(compacted) => lists = compacted,
                Err(err) => tracing::warn!(error = %err, "list index not compacted"),
            }
        }
        let snapshot = Arc::new(Snapshot {
            rules: Arc::clone(&current.rules),
            lists,
            lists_version: version,
            lists_epoch: current.lists_epoch.clone(),
            loaded_at: current.loaded_at,
        });
        self.current.store(Some(Arc::clone(&snapshot)));
        self.note_follow(|f| {
            f.changes_applied += applied;
            f.changes_rejected += rejected;
            f.last_change = Some(Timestamp::now());
        });
        Some(snapshot)
    }

    /// `lists` with one change applied, or why it cannot be (the current rule set refuses the
    /// entry, or the text of the entry it replaces cannot be read back).
    fn applied(
        &self,
        current: &Snapshot,
        lists: &ListIndex,
        change: &Change,
    ) -> Result<ListIndex, String> {
        let previous = ident::parse(&change.old_subject).ok().map(|s| s.key());
        let without = |entry_id: &str| match previous {
            Some(subject) => lists
                .without_entry(entry_id, subject)
                .map_err(|err| err.to_string()),
            None => Ok(lists.clone()),
        };
        if change.op == ChangeOp::Delete {
            return without(&change.entry_id);
        }
        let record = serde_json::from_str::<EntryRecord<'_>>(&change.entry_json)
            .map_err(|err| err.to_string())?;
        let entry = Entry::from_record(record, &current.rules)
            .map_err(|err| format!("refused by the current rule set: {err}"))?;
        // With a Redis source, cold lists stay in Redis (looked up on demand).
        if current.rules.list(entry.facts.list).cold
            && matches!(self.sources.lists, ListSource::Redis { .. })
        {
            return without(&entry.entry_id);
        }
        lists
            .with_entry(entry, previous)
            .map_err(|err| err.to_string())
    }

    /// Follows the Redis change stream until `stop` is set (blocking: run it on its own thread).
    /// Every swapped-in snapshot is handed to `on_swap`, with the changes it applied (`None`
    /// after a full reload). Every call to Redis is bounded by the source's timeout, so the
    /// follower notices a Redis that went silent and never blocks a stop for longer than one
    /// such call. When Redis goes away the last snapshot keeps serving and the report says so;
    /// the follower reconnects with back-off and catches up from its version. Each poll also
    /// checks that the snapshot still follows on from Redis (same epoch, a version not behind
    /// ours, a stream that reaches back to us), and reloads everything when it does not.
    pub fn follow(&self, stop: &AtomicBool, on_swap: &dyn Fn(&Snapshot, Option<&[Change]>)) {
        let redis = match self.sources.lists.redis() {
            None => return,
            Some(Ok(redis)) => redis,
            Some(Err(err)) => {
                self.note_follow(|f| f.last_error = Some(err.to_string()));
                return;
            }
        };
        self.note_follow(|f| {
            f.following = true;
            f.stale_after = FOLLOW_BLOCK + redis.timeout();
        });
        let mut backoff = FIRST_BACKOFF;
        let mut connection: Option<redis::Connection> = None;
        while !stop.load(Ordering::Relaxed) {
            let Some(snapshot) = self.current() else {
                pause(stop, STOP_CHECK);
                continue;
            };
            let from = Position {
                version: snapshot.lists_version,
                epoch: snapshot.lists_epoch.clone(),
            };
            let step = (|| {
                let con = match connection.as_mut() {
                    Some(con) => con,
                    None => connection.insert(redis.follower_connection(FOLLOW_BLOCK)?),
                };
                redis.changes_after(con, &from, FOLLOW_BLOCK)
            })();
            match step {
                Ok(changes) => {
                    backoff = FIRST_BACKOFF;
                    self.note_follow(|f| {
                        f.connected = true;
                        f.resync_pending = false;
                        f.last_contact = Some(Timestamp::now());
                        f.last_error = None;
                    });
                    if !changes.is_empty() {
                        if let Some(snapshot) = self.apply(&changes) {
                            on_swap(&snapshot, Some(&changes));
                        }
                    }
                }
                Err(err) if err.needs_resync() => {
                    tracing::warn!(error = %err, "the lists no longer follow on from Redis; reloading them whole");
                    self.note_follow(|f| {
                        f.connected = true;
                        f.resync_pending = true;
                        f.last_contact = Some(Timestamp::now());
                        f.resyncs += 1;
                        f.last_error = Some(err.to_string());
                    });
                    match self.reload() {
                        Ok(snapshot) => on_swap(&snapshot, None),
                        Err(err) => {
                            tracing::warn!(error = %err, "the resync failed; serving the last snapshot, reported stale");
                            self.note_follow(|f| f.last_error = Some(err.to_string()));
                            pause(stop, backoff);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
                Err(err) => {
                    connection = None;
                    tracing::warn!(error = %err, "lost the list source; serving the last snapshot");
                    self.note_follow(|f| {
                        f.connected = false;
                        f.last_error = Some(err.to_string());
                    });
                    pause(stop, backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Rules, lists and the source's own position (Redis has one; a file does not).
    fn build(&self) -> Result<(RuleSet, ListIndex, Option<Position>), LoadError> {
        let rules = ruleset::load_dir(&self.sources.rules)?;
        match &self.sources.lists {
            ListSource::File(path) => {
                let lists = lists::load_file(path, &rules)?;
                Ok((rules, lists, None))
            }
            ListSource::Redis {
                url,
                prefix,
                timeout,
            } => {
                let (lists, position) = RedisLists::open(url, prefix)?
                    .with_timeout(*timeout)
                    .load_all(&rules)?;
                Ok((rules, lists, Some(position)))
            }
        }
    }
}

/// Sleeps for `duration`, or less once `stop` is set.
fn pause(stop: &AtomicBool, duration: Duration) {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(STOP_CHECK));
    }
}
