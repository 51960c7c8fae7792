//! What requests read: the compiled rules and the list index, behind one atomically swapped
//! pointer. A reload builds a whole new snapshot off the hot path and swaps it in only if every
//! part loaded; on failure the last good snapshot keeps serving and the failure is recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::lists::redis::{RedisLists, RedisSourceError};
use crate::lists::{self, ListFileError, ListIndex};
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
    Redis { url: String, prefix: String },
}

impl ListSource {
    /// `redis://…` and `rediss://…` name Redis; anything else is a file path.
    pub fn parse(text: &str, redis_prefix: &str) -> ListSource {
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            ListSource::Redis {
                url: text.to_owned(),
                prefix: redis_prefix.to_owned(),
            }
        } else {
            ListSource::File(PathBuf::from(text))
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

/// Rules and lists that were loaded together and are used together.
#[derive(Debug)]
pub struct Snapshot {
    pub rules: RuleSet,
    pub lists: ListIndex,
    /// Names the list state a decision was made from: Redis's list version, or for a file
    /// the number of successful loads.
    pub lists_version: u64,
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
}

/// Holds the current snapshot and loads new ones.
#[derive(Debug)]
pub struct Store {
    sources: Sources,
    current: ArcSwapOption<Snapshot>,
    report: Mutex<LoadReport>,
}

impl Store {
    /// A store with nothing loaded yet (not ready).
    pub fn new(sources: Sources) -> Store {
        Store {
            sources,
            current: ArcSwapOption::empty(),
            report: Mutex::default(),
        }
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The snapshot requests read, if one has loaded.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    pub fn report(&self) -> LoadReport {
        self.report.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Loads rules and lists from the sources (blocking; call it off the request path) and
    /// swaps them in on success. On failure the current snapshot stays.
    pub fn reload(&self) -> Result<Arc<Snapshot>, LoadError> {
        let started = Timestamp::now();
        let result = self.build();
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        report.attempts += 1;
        report.last_attempt = Some(started);
        match result {
            Ok((rules, lists, source_version)) => {
                let lists_version = source_version.unwrap_or_else(|| {
                    self.current.load().as_ref().map_or(0, |s| s.lists_version) + 1
                });
                let snapshot = Arc::new(Snapshot {
                    rules,
                    lists,
                    lists_version,
                    loaded_at: Timestamp::now(),
                });
                self.current.store(Some(Arc::clone(&snapshot)));
                report.last_success = Some(snapshot.loaded_at);
                report.last_error = None;
                Ok(snapshot)
            }
            Err(err) => {
                report.failures += 1;
                report.last_error = Some(err.to_string());
                Err(err)
            }
        }
    }

    /// Rules, lists and the source's own list version (Redis has one; a file does not).
    fn build(&self) -> Result<(RuleSet, ListIndex, Option<u64>), LoadError> {
        let rules = ruleset::load_dir(&self.sources.rules)?;
        match &self.sources.lists {
            ListSource::File(path) => {
                let lists = lists::load_file(path, &rules)?;
                Ok((rules, lists, None))
            }
            ListSource::Redis { url, prefix } => {
                let (lists, version) = RedisLists::open(url, prefix)?.load_all(&rules)?;
                Ok((rules, lists, Some(version)))
            }
        }
    }
}
