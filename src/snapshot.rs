//! What requests read: the compiled rules and the list index, behind one atomically swapped
//! pointer. A reload builds a whole new snapshot off the hot path and swaps it in only if every
//! part loaded; on failure the last good snapshot keeps serving and the failure is recorded.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::lists::{self, ListFileError, ListIndex};
use crate::ruleset::{self, RuleSet, RuleSetError};
use crate::timestamp::Timestamp;

/// Where rules and lists come from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub rules: PathBuf,
    pub lists: PathBuf,
}

/// Rules and lists that were loaded together and are used together.
#[derive(Debug)]
pub struct Snapshot {
    pub rules: RuleSet,
    pub lists: ListIndex,
    /// Bumped by every successful load; names the list state a decision was made from.
    pub lists_version: u64,
    pub loaded_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Rules(#[from] RuleSetError),
    #[error(transparent)]
    Lists(#[from] ListFileError),
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
            Ok((rules, lists)) => {
                let lists_version = self.current.load().as_ref().map_or(0, |s| s.lists_version) + 1;
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

    fn build(&self) -> Result<(RuleSet, ListIndex), LoadError> {
        let rules = ruleset::load_dir(&self.sources.rules)?;
        let lists = lists::load_file(&self.sources.lists, &rules)?;
        Ok((rules, lists))
    }
}
