//! What requests read: the compiled rules and the list index, behind one atomically swapped
//! pointer. A reload builds a whole new snapshot off the hot path and swaps it in only if every
//! part loaded; on failure the last good snapshot keeps serving and the failure is recorded.
//! With a source that has a change stream, a follower thread applies its changes as they come.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::lists::source::{
    Change, ChangeKind, ColdCacheConfig, ColdNames, ListSource, LoadListsError, LoadPath, Loaded,
    NamesPatch, NamesStep, Position, Source, SourceError, StreamRecord,
};
use crate::lists::{ListFileError, ListIndex, Refusal, Shrink, ShrinkGuard};
use crate::ruleset::{RuleSet, RuleSetError, RuleSource};
use crate::timestamp::Timestamp;
use std::io;

mod keeper;

use keeper::Keeper;
pub use keeper::SnapshotKeeping;

/// Where rules and lists come from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub rules: RuleSource,
    pub lists: ListSource,
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
    /// Who the entries of cold lists (kept outside `lists`) name, at the same list version.
    pub cold_names: ColdNames,
    /// Names the list state a decision was made from: Redis's list version, or for a file
    /// the number of successful loads.
    pub lists_version: u64,
    /// Redis source: the epoch `lists_version` counts in (see `lists::source::redis`); two instances
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
    Source(#[from] SourceError),
    /// The fail-closed guard refused the lists: they would empty or shrink the service.
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl From<LoadListsError> for LoadError {
    fn from(err: LoadListsError) -> LoadError {
        match err {
            LoadListsError::File(err) => LoadError::Lists(err),
            LoadListsError::Source(err) => LoadError::Source(err),
        }
    }
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
    /// How the latest successful load read the lists.
    pub last_path: Option<LoadPath>,
    /// Loads from Redis that found no usable stored snapshot and scanned every entry.
    pub snapshot_fallbacks: u64,
}

/// When the guard refused a load, and why.
#[derive(Debug, Clone)]
pub struct LoadRefusal {
    pub at: Timestamp,
    pub reason: String,
}

/// Holds the current snapshot, loads new ones from the sources, and applies the list source's
/// changes to it.
#[derive(Debug)]
pub struct Snapshots {
    sources: Sources,
    /// The opened list source (shared with the calls that write to it off the async workers).
    lists: Arc<Source>,
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
    /// Writes the list snapshot stored in Redis when it falls behind (Redis source only).
    keeper: Keeper,
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
/// How long catching up after a load from the stored snapshot waits for changes: not at all,
/// in effect (no wait would mean waiting for ever to Redis).
const CATCH_UP_WAIT: Duration = Duration::from_millis(1);
/// Overlay size (changed subjects and persons) at which the index is rebuilt whole.
const COMPACT_AT: usize = 50_000;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often a follower that waits between attempts checks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(50);

impl Snapshots {
    /// Nothing loaded yet (not ready).
    pub fn new(sources: Sources) -> Snapshots {
        Snapshots {
            lists: Arc::new(sources.lists.open(ColdCacheConfig::default())),
            sources,
            current: ArcSwapOption::empty(),
            report: Mutex::default(),
            writer: Mutex::default(),
            follow: Mutex::default(),
            guard: ShrinkGuard::default(),
            refusals_metric: None,
            keeper: Keeper::new(SnapshotKeeping::default()),
        }
    }

    /// Writes the stored list snapshot when `keeping` says, instead of by the defaults.
    pub fn keeping_snapshot(mut self, keeping: SnapshotKeeping) -> Snapshots {
        self.keeper = Keeper::new(keeping);
        self
    }

    /// Counts the list snapshots this instance wrote, skipped and failed to write, by result.
    pub fn counting_snapshot_writes(mut self, writes: prometheus::IntCounterVec) -> Snapshots {
        self.keeper = self.keeper.counting(writes);
        self
    }

    /// Holds loads to `guard` instead of the default one.
    pub fn with_guard(mut self, guard: ShrinkGuard) -> Snapshots {
        self.guard = guard;
        self
    }

    /// Counts every refused load in `counter` as well as in the report.
    pub fn counting_refusals(mut self, counter: prometheus::IntCounter) -> Snapshots {
        self.refusals_metric = Some(counter);
        self
    }

    /// Caches the list source's cold lists as `config` says instead of by the defaults.
    pub fn with_cold_cache(mut self, config: ColdCacheConfig) -> Snapshots {
        self.lists = Arc::new(self.sources.lists.open(config));
        self
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The list source, to write to and to look cold lists up in.
    pub fn lists(&self) -> &Arc<Source> {
        &self.lists
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

    /// Like [`Snapshots::reload`], but takes lists the guard would refuse: an operator's decision,
    /// logged at WARN with what it removes.
    pub fn force_reload(&self) -> Result<Arc<Snapshot>, LoadError> {
        self.load(true)
    }

    fn load(&self, forced: bool) -> Result<Arc<Snapshot>, LoadError> {
        let started = Timestamp::now();
        let mut path = None;
        let result = self.build().and_then(|(rules, loaded)| {
            path = Some(loaded.path.clone());
            self.swap_in(rules, loaded, forced)
        });
        let result = match (result, &path) {
            (Ok(snapshot), Some(LoadPath::Snapshot)) => Ok(self.catch_up(snapshot)),
            (result, _) => result,
        };
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
                if let Some(LoadPath::Scan { why }) = &path {
                    report.snapshot_fallbacks += 1;
                    tracing::debug!(reason = %why, "the list snapshot was not used");
                }
                report.last_path = path;
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
        loaded: Loaded,
        forced: bool,
    ) -> Result<Arc<Snapshot>, LoadError> {
        let Loaded {
            index: lists,
            cold_names,
            position,
            path: _,
        } = loaded;
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
        let load = format!("the list load from {}", self.lists.location());
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
            cold_names,
            lists_version,
            lists_epoch: position.and_then(|p| p.epoch),
            loaded_at: Timestamp::now(),
        });
        self.current.store(Some(Arc::clone(&snapshot)));
        // The rules may have changed too: nothing cached of the cold lists still holds.
        self.lists.forget_all_cold();
        Ok(snapshot)
    }

    /// Replays the changes made since the stored snapshot that was just loaded, so that the
    /// service is ready only once it is as current as a scan would have made it. Returns the
    /// snapshot it reached; should the stream fail, the follower takes over from there.
    fn catch_up(&self, mut reached: Arc<Snapshot>) -> Arc<Snapshot> {
        let Some(Ok(mut stream)) = self.lists.changes() else {
            return reached;
        };
        loop {
            let from = Position {
                version: reached.lists_version,
                epoch: reached.lists_epoch.clone(),
            };
            match stream.after(&from, CATCH_UP_WAIT) {
                Ok(records) if !records.is_empty() => match self.apply(records) {
                    Some(next) => reached = next,
                    None => return reached,
                },
                Ok(_) => return reached,
                Err(err) => {
                    tracing::warn!(error = %err, "catching up after the list snapshot failed; the follower goes on from here");
                    return reached;
                }
            }
        }
    }

    /// Decodes the records read from the stream against the current rules (under the
    /// writer's lock, so that no reload changes the rules in between), applies them to the
    /// current snapshot without copying the base index, and swaps the result in. Returns the
    /// new snapshot.
    fn apply(&self, records: Vec<StreamRecord>) -> Option<Arc<Snapshot>> {
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.current()?;
        let changes: Vec<Change> = records
            .into_iter()
            .filter(|r| r.version > current.lists_version)
            .map(|r| Change::decode(r, &current.rules))
            .collect();
        let touched: Vec<_> = changes.iter().flat_map(Change::subjects).collect();
        let mut lists = current.lists.clone();
        let mut version = current.lists_version;
        let mut names = NamesPatch::default();
        let (mut applied, mut rejected) = (0, 0);
        for change in changes {
            version = change.version;
            let step = NamesStep::of(&change, &current.rules);
            match applied_to(&current, &lists, change) {
                Ok(next) => {
                    lists = next;
                    names.take(step);
                    applied += 1;
                }
                Err(err) => {
                    tracing::warn!(version, error = %err, "change not applied");
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
            cold_names: current.cold_names.patched(names),
            lists_version: version,
            lists_epoch: current.lists_epoch.clone(),
            loaded_at: current.loaded_at,
        });
        self.current.store(Some(Arc::clone(&snapshot)));
        self.lists.forget_cold(touched);
        self.note_follow(|f| {
            f.changes_applied += applied;
            f.changes_rejected += rejected;
            f.last_change = Some(Timestamp::now());
        });
        Some(snapshot)
    }

    /// Follows the list source's change stream until `stop` is set (blocking: run it on its own
    /// thread; returns at once for a source without one). Every swapped-in snapshot is handed
    /// to `on_swap`. Every call to Redis is bounded by the source's timeout, so the
    /// follower notices a Redis that went silent and never blocks a stop for longer than one
    /// such call. When Redis goes away the last snapshot keeps serving and the report says so;
    /// the follower reconnects with back-off and catches up from its version. Each poll also
    /// checks that the snapshot still follows on from Redis (same epoch, a version not behind
    /// ours, a stream that reaches back to us, and, on each new connection, the change at our
    /// version the one we applied), and reloads everything when it does not.
    fn follow(&self, stop: &AtomicBool, on_swap: &dyn Fn(&Snapshot)) {
        let mut stream = match self.lists.changes() {
            None => return,
            Some(Ok(stream)) => stream,
            Some(Err(err)) => {
                self.note_follow(|f| f.last_error = Some(err.to_string()));
                return;
            }
        };
        self.note_follow(|f| {
            f.following = true;
            f.stale_after = FOLLOW_BLOCK + stream.timeout();
        });
        let mut backoff = FIRST_BACKOFF;
        // Since when, and through how many failed calls, the source has been lost: the loss
        // and the reconnection are logged once each, not every failed call.
        let mut lost: Option<(Instant, u64)> = None;
        let answered = |lost: &mut Option<(Instant, u64)>| {
            if let Some((since, failed_calls)) = lost.take() {
                tracing::info!(
                    lost_seconds = since.elapsed().as_secs_f64(),
                    failed_calls,
                    "the list source answers again; catching up on its changes"
                );
            }
        };
        while !stop.load(Ordering::Relaxed) {
            let Some(snapshot) = self.current() else {
                pause(stop, STOP_CHECK);
                continue;
            };
            let from = Position {
                version: snapshot.lists_version,
                epoch: snapshot.lists_epoch.clone(),
            };
            match stream.after(&from, FOLLOW_BLOCK) {
                Ok(records) => {
                    backoff = FIRST_BACKOFF;
                    answered(&mut lost);
                    self.note_follow(|f| {
                        f.connected = true;
                        f.resync_pending = false;
                        f.last_contact = Some(Timestamp::now());
                        f.last_error = None;
                    });
                    if !records.is_empty() {
                        if let Some(snapshot) = self.apply(records) {
                            on_swap(&snapshot);
                        }
                    }
                    if let Some(current) = self.current() {
                        self.keeper.check(&self.lists, &current);
                    }
                }
                Err(err) if err.needs_resync() => {
                    answered(&mut lost);
                    tracing::warn!(error = %err, "the lists no longer follow on from Redis; reloading them whole");
                    self.note_follow(|f| {
                        f.connected = true;
                        f.resync_pending = true;
                        f.last_contact = Some(Timestamp::now());
                        f.resyncs += 1;
                        f.last_error = Some(err.to_string());
                    });
                    match self.reload() {
                        Ok(snapshot) => {
                            stream.loaded_whole();
                            on_swap(&snapshot);
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "the resync failed; serving the last snapshot, reported stale");
                            self.note_follow(|f| f.last_error = Some(err.to_string()));
                            pause(stop, backoff);
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
                Err(err) => {
                    match &mut lost {
                        Some((_, failed_calls)) => {
                            *failed_calls += 1;
                            tracing::debug!(error = %err, failed_calls, "the list source still does not answer");
                        }
                        None => {
                            tracing::warn!(error = %err, "lost the list source; serving the last snapshot until it answers again");
                            lost = Some((Instant::now(), 1));
                        }
                    }
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

    /// Rules, and the lists loaded under them.
    fn build(&self) -> Result<(RuleSet, Loaded), LoadError> {
        let rules = self.sources.rules.load()?;
        let loaded = self.lists.load(&rules)?;
        Ok((rules, loaded))
    }
}

/// `lists` with one change applied, or why it cannot be (the change was refused, or the text
/// of the entry it replaces cannot be read back). Entries of cold lists stay in the source,
/// looked up on demand: a change that puts one there takes the entry out of memory.
fn applied_to(current: &Snapshot, lists: &ListIndex, change: Change) -> Result<ListIndex, String> {
    let without = |entry_id: &str| match change.replaced {
        Some(subject) => lists
            .without_entry(entry_id, subject)
            .map_err(|err| err.to_string()),
        None => Ok(lists.clone()),
    };
    match change.kind {
        ChangeKind::Refused { error, .. } => Err(error),
        ChangeKind::Delete { entry_id } => without(&entry_id),
        ChangeKind::Put(entry) if current.rules.list(entry.facts.list).cold => {
            without(&entry.entry_id)
        }
        ChangeKind::Put(entry) => lists
            .with_entry(entry, change.replaced)
            .map_err(|err| err.to_string()),
    }
}

/// What a follower keeps current: the snapshots it applies the list source's changes to, and
/// whoever publishes each snapshot it swaps in.
pub trait Followed: Send + Sync + 'static {
    fn snapshots(&self) -> &Snapshots;
    /// Called with every snapshot the follower swaps in (changes applied, or a full resync).
    fn publish(&self, snapshot: &Snapshot);
}

/// How long dropping a [`Follower`] waits for its thread to finish. The follower checks for a
/// stop between calls to Redis, each bounded by the source's timeout; a full resync in
/// progress may take longer, and is left behind rather than holding up a shutdown (it holds
/// nothing that must be written out).
const FOLLOWER_STOP_WAIT: Duration = Duration::from_secs(3);

/// Stops the list follower when dropped, waiting for it at most [`FOLLOWER_STOP_WAIT`].
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    /// Tells the follower to stop, without waiting for it.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
        let Some(thread) = self.thread.take() else {
            return;
        };
        let started = Instant::now();
        while !thread.is_finished() && started.elapsed() < FOLLOWER_STOP_WAIT {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("the lists follower did not stop in time; leaving it behind");
        }
    }
}

/// Follows the list source's change stream on a thread of its own (one that ends at once for
/// a file source), and publishes every snapshot it swaps in.
pub fn spawn_follower<F: Followed>(followed: Arc<F>) -> io::Result<Follower> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("lists-follower".into())
        .spawn(move || {
            followed
                .snapshots()
                .follow(&flag, &|snapshot| followed.publish(snapshot));
        })?;
    Ok(Follower {
        stop,
        thread: Some(thread),
    })
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
