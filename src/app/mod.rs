//! The running service: one [`Service`] owns the snapshot store (and through it the list
//! source with its cold cache), the metrics, the query register, the callers' keys and the
//! decision counters. Its methods do in one place what an answer needs besides HTTP: the
//! subject's holdings, the engine, the counters and the register's event for a decision; the
//! same for a profile; validation and the source call for the list administration; reloads.
//! The HTTP layer parses requests, calls these, and writes the answers.

mod commitments;
mod decide;
mod indicators;
mod lists;
mod profile;
mod push;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

pub use commitments::{CommitmentProfile, Proposal};
pub use decide::{BatchOut, ColdHoldings, Decided, DecisionContext, DecisionIds};
pub use lists::{Amended, DisputeCounts, Objection, Put, StoredEntry, UnderReview};
pub use profile::{ProfileRead, ShownHistories};
pub use push::{PushError, PushSetupError, MAX_CHANGES, MAX_LETTERS};
pub use watch::{is_hit, Screened, BLOCK as SCREENING_BLOCK};

use crate::commitments::Commitments;
use crate::engine::{DecideError, Outcome};
use crate::keys::{KeyRing, KeysError};
use crate::lists::source::ColdCacheConfig;
use crate::lists::source::ReplicaWait;
use crate::metrics::Metrics;
use crate::register::{Event, Register, RegisterConfig, RegisterError};
use crate::ruleset::{MatterId, RuleSet, RuleSource};
use crate::snapshot::{Followed, LoadError, Snapshot, Snapshots, Sources};
use crate::watchlists::{WatchlistConfig, WatchlistError, Watchlists};

/// Why the service could not answer; the HTTP layer maps each to its problem.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No snapshot has loaded yet: why, without the sources' paths.
    #[error("not ready: {0}")]
    NotReady(String),
    /// The subject's identifier cannot be decided as given.
    #[error(transparent)]
    Undecidable(#[from] DecideError),
    #[error("unknown list `{0}`")]
    UnknownList(String),
    #[error("no entry `{entry_id}` on list `{list}`")]
    EntryNotFound { list: String, entry_id: String },
    /// The lists come from a file.
    #[error("the lists are read-only")]
    ReadOnlySource,
    #[error("list `{0}` is not repairable")]
    NotRepairable(String),
    #[error("the list source is unavailable: {0}")]
    SourceUnavailable(String),
    /// A list entry sent is not JSON.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// A field of a list entry breaks the rules (named by its field).
    #[error("{field}: {message}")]
    InvalidEntry { field: String, message: String },
    /// The register's store cannot be read or written.
    #[error("the register is unavailable: {0}")]
    RegisterUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// The register is off, and commitments are kept where it keeps its feedback.
    #[error("the query register is off: there are no credit commitments")]
    CommitmentsOff,
    /// Fields of a request break the rules, each named.
    #[error("invalid request")]
    InvalidRequest(Vec<(String, String)>),
    #[error("no credit commitment `{0}`")]
    CommitmentNotFound(uuid::Uuid),
    #[error("the commitments' store: {0}")]
    CommitmentStore(String),
}

impl From<crate::lists::TextError> for AppError {
    fn from(err: crate::lists::TextError) -> AppError {
        AppError::Internal(err.to_string())
    }
}

/// The service every request shares.
pub struct Service {
    pub snapshots: Snapshots,
    pub metrics: Metrics,
    /// `decisions_total` resolved for the current rule set.
    decision_counters: arc_swap::ArcSwapOption<DecisionCounters>,
    /// Callers' keys and the file they are read from; `None` runs the API open.
    keys: Option<(ArcSwap<KeyRing>, PathBuf)>,
    /// The query register; `None` when it is off.
    register: Option<Register>,
    /// Subscriptions and their delivery, once set up.
    push: Option<Arc<crate::push::Push>>,
    /// Credit commitments and breaches, kept where the register keeps feedback; `None` when
    /// the register is off.
    commitments: Option<Arc<Commitments>>,
    /// The departments' supervision watchlists; `None` until opened.
    watchlists: Option<Arc<Watchlists>>,
}

/// The `decisions_total` counter of every (matter, outcome) of one rule set, resolved once per
/// snapshot: counting a decision then indexes an array instead of hashing label strings.
struct DecisionCounters {
    rules: Arc<RuleSet>,
    /// By matter index, then in the order of [`Outcome::ALL`].
    by_matter: Vec<[prometheus::IntCounter; 3]>,
}

impl DecisionCounters {
    fn resolve(metrics: &Metrics, rules: &Arc<RuleSet>) -> DecisionCounters {
        DecisionCounters {
            rules: Arc::clone(rules),
            by_matter: rules
                .matters()
                .map(|(_, matter)| {
                    Outcome::ALL.map(|outcome| {
                        metrics
                            .decisions
                            .with_label_values(&[matter.code.as_str(), outcome.as_str()])
                    })
                })
                .collect(),
        }
    }
}

impl Service {
    /// A service over `snapshots`, whose list source caches cold lists as `cold` says; open
    /// (no keys) and without a register until told otherwise.
    pub fn new(snapshots: Snapshots, cold: ColdCacheConfig) -> Service {
        let metrics = Metrics::new();
        Service {
            snapshots: snapshots
                .with_cold_cache(cold)
                .counting_refusals(metrics.list_loads_refused.clone())
                .counting_snapshot_writes(metrics.list_snapshot_writes.clone()),
            metrics,
            decision_counters: arc_swap::ArcSwapOption::empty(),
            keys: None,
            register: None,
            push: None,
            commitments: None,
            watchlists: None,
        }
    }

    /// Holds the watchlists `config` keeps, loaded from their store.
    pub fn with_watchlists(mut self, config: &WatchlistConfig) -> Result<Service, WatchlistError> {
        self.watchlists = Some(Arc::new(Watchlists::open(config)?));
        Ok(self)
    }

    /// Requires API keys on `/v1`, read from `file` (and again on [`Service::reload_keys`]).
    pub fn with_keys(mut self, file: &Path) -> Result<Service, KeysError> {
        let keys = KeyRing::load(file)?;
        self.keys = Some((ArcSwap::from_pointee(keys), file.to_path_buf()));
        Ok(self)
    }

    /// Reads the keys file again and swaps the keys in: requests admitted from then on are
    /// held to the new keys. A file that does not read keeps the keys in use. Counted in
    /// `key_reloads_total`; `None` when the service runs without keys.
    pub fn reload_keys(&self) -> Option<Result<usize, KeysError>> {
        let (keys, file) = self.keys.as_ref()?;
        let reloaded = keys.load().reload(file).map(|ring| {
            let count = ring.len();
            keys.store(Arc::new(ring));
            count
        });
        let result = if reloaded.is_ok() {
            "success"
        } else {
            "failure"
        };
        self.metrics.key_reloads.with_label_values(&[result]).inc();
        Some(reloaded)
    }

    /// Keeps the query register as `config` says (none when it is off).
    /// Commitments are kept beside it, read whole now; on Redis, writes wait for the list
    /// source's replicas (or a sentinel or cluster URL's default).
    pub fn with_register(mut self, config: &RegisterConfig) -> Result<Service, RegisterError> {
        self.register = Register::open(config, &self.metrics.register_records)?;
        if let Some(register) = &self.register {
            let wait = match (&self.snapshots.sources().lists, &config.sink) {
                (crate::lists::source::ListSource::Redis { wait, .. }, _) => *wait,
                (_, crate::register::Sink::Redis { url, .. }) => ReplicaWait::for_url(url),
                _ => ReplicaWait::for_url(""),
            };
            self.commitments = Commitments::open(config, register.hasher(), wait)
                .map_err(|err| RegisterError::Commitments(err.to_string()))?
                .map(Arc::new);
            if let Some(commitments) = self.commitments.as_ref().filter(|c| c.shared()) {
                commitments::follow(commitments);
            }
        }
        Ok(self)
    }

    /// Callers' keys, if the API needs them.
    pub fn keys(&self) -> Option<Guard<Arc<KeyRing>>> {
        self.keys.as_ref().map(|(keys, _)| keys.load())
    }

    /// The query register, if on.
    pub fn register(&self) -> Option<&Register> {
        self.register.as_ref()
    }

    /// Hands an event to the register, if it is on (never waits).
    fn record(&self, event: impl FnOnce() -> Event) {
        if let Some(register) = &self.register {
            register.submit(event());
        }
    }

    /// The snapshot to serve from, or why there is none yet. The reason names the sources by
    /// what they are, not by their paths: `/readyz` answers anyone.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>, AppError> {
        self.snapshots.current().ok_or_else(|| {
            let reason = self.snapshots.report().last_error.map_or_else(
                || "the rule set and lists are still loading".into(),
                |error| without_paths(error, self.snapshots.sources()),
            );
            AppError::NotReady(reason)
        })
    }

    fn count_decision(&self, snapshot: &Snapshot, matter: MatterId, outcome: Outcome, count: u64) {
        if count == 0 {
            return;
        }
        let counters = self.decision_counters.load();
        match counters.as_deref() {
            Some(counters) if Arc::ptr_eq(&counters.rules, &snapshot.rules) => {
                counters.by_matter[matter.index()][outcome as usize].inc_by(count);
            }
            // A request that still holds the snapshot before the last swap.
            _ => {
                let matter = snapshot.rules.matter(matter).code.as_str();
                self.metrics
                    .decisions
                    .with_label_values(&[matter, outcome.as_str()])
                    .inc_by(count);
            }
        }
    }

    /// Reloads rules and lists (blocking: call it off the request path) and publishes the
    /// result.
    pub fn reload(&self) -> Result<Arc<Snapshot>, LoadError> {
        let before = self.snapshots.current();
        self.published(before, self.snapshots.reload())
    }

    /// Reloads as [`Service::reload`] does, taking lists the fail-closed guard would refuse.
    pub fn force_reload(&self) -> Result<Arc<Snapshot>, LoadError> {
        let before = self.snapshots.current();
        self.published(before, self.snapshots.force_reload())
    }

    /// Publishes a reload's snapshot, and records what it changed (since `before`) as events.
    fn published(
        &self,
        before: Option<Arc<Snapshot>>,
        result: Result<Arc<Snapshot>, LoadError>,
    ) -> Result<Arc<Snapshot>, LoadError> {
        self.metrics.reload_result(result.is_ok()).inc();
        if let Ok(snapshot) = &result {
            self.publish(snapshot);
            self.record_reload(before.as_deref(), snapshot);
        }
        result
    }

    /// Brings the gauges that are read rather than counted up to date: the follower's, the
    /// cold cache's and the register's.
    pub fn observe(&self) {
        self.metrics.observe_follow(&self.snapshots.follow_report());
        if let Some(stats) = self.snapshots.lists().cold_stats() {
            self.metrics.observe_cold(stats);
        }
        if let Some(register) = &self.register {
            self.metrics.observe_register(&register.status());
        }
    }
}

impl Followed for Service {
    fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// Publishes a swapped-in snapshot: its metrics, and its rule set's decision counters.
    fn publish(&self, snapshot: &Snapshot) {
        self.metrics.observe_snapshot(snapshot);
        let current = self.decision_counters.load();
        if !current
            .as_deref()
            .is_some_and(|c| Arc::ptr_eq(&c.rules, &snapshot.rules))
        {
            self.decision_counters
                .store(Some(Arc::new(DecisionCounters::resolve(
                    &self.metrics,
                    &snapshot.rules,
                ))));
        }
    }
}

/// `error` with the list file's and the rule set's paths replaced by what they are.
pub fn without_paths(mut error: String, sources: &Sources) -> String {
    // The list file first: it may lie inside the rule set's folder.
    error = sources.lists.without_path(error);
    match &sources.rules {
        RuleSource::Dir(dir) => error.replace(&dir.display().to_string(), "<rules>"),
        RuleSource::Embedded => error,
    }
}
