//! Keeps the list snapshot stored in Redis current from a running instance, so that a new
//! instance replays few changes after loading it. The follower asks after every poll whether a
//! new one is due (a comparison, no call to Redis); the manifest is read and the snapshot
//! written on a thread of its own, never on a request's path nor the follower's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::lists::source::{Position, SnapshotWriteError, Source, StoredSnapshot};
use crate::timestamp::Timestamp;

use super::Snapshot;

/// When a running instance writes a new list snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotKeeping {
    /// Changes the stored snapshot may lag behind the instance's lists; 0: never write.
    pub after_changes: u64,
    /// Age past which the stored snapshot is written again if any change came since; zero:
    /// only by the count of changes.
    pub max_age: Duration,
}

impl Default for SnapshotKeeping {
    fn default() -> SnapshotKeeping {
        SnapshotKeeping {
            after_changes: 100_000,
            max_age: Duration::from_secs(3600),
        }
    }
}

/// How long after a write that failed or found the lock held the stored snapshot is looked
/// at again.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// Decides when the instance writes a snapshot, and writes it.
#[derive(Debug)]
pub(super) struct Keeper {
    keeping: SnapshotKeeping,
    state: Arc<Mutex<State>>,
    /// Counts writes by result: `written`, `skipped` (another writer held the lock), `failed`.
    writes: Option<prometheus::IntCounterVec>,
}

#[derive(Debug)]
struct State {
    /// A look or write is under way.
    busy: bool,
    /// What the stored snapshot was at the last look or write; `None` before the first.
    stored: Option<Known>,
    /// No look before this, after a write that failed or found the lock held.
    not_before: Option<Instant>,
    /// When the keeper began: the age of a snapshot that is not stored counts from here.
    began: Instant,
}

/// The stored snapshot as the keeper knows it.
#[derive(Debug, Clone)]
struct Known {
    version: u64,
    epoch: Option<String>,
    written: Instant,
}

impl Keeper {
    pub(super) fn new(keeping: SnapshotKeeping) -> Keeper {
        Keeper {
            keeping,
            state: Arc::new(Mutex::new(State {
                busy: false,
                stored: None,
                not_before: None,
                began: Instant::now(),
            })),
            writes: None,
        }
    }

    pub(super) fn counting(mut self, writes: prometheus::IntCounterVec) -> Keeper {
        self.writes = Some(writes);
        self
    }

    /// Starts a look at the stored snapshot, and a write if one is due, on a thread of its
    /// own; returns at once when one is under way or nothing is due. An instance whose rules
    /// have cold lists does not write: its table of who cold entries name keeps no entry ids.
    pub(super) fn check(&self, source: &Arc<Source>, current: &Arc<Snapshot>) {
        if self.keeping.after_changes == 0 || current.rules.has_cold_lists() {
            return;
        }
        let mut state = lock(&self.state);
        let now = Instant::now();
        if state.busy
            || state.not_before.is_some_and(|at| now < at)
            || state
                .stored
                .as_ref()
                .is_some_and(|known| !self.due(known, current))
        {
            return;
        }
        state.busy = true;
        drop(state);
        let keeper = Keeper {
            keeping: self.keeping,
            state: Arc::clone(&self.state),
            writes: self.writes.clone(),
        };
        let (source, current) = (Arc::clone(source), Arc::clone(current));
        let spawned = std::thread::Builder::new()
            .name("lists-snapshot".into())
            .spawn(move || keeper.look_and_write(&source, &current));
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the list snapshot's writer");
            lock(&self.state).busy = false;
        }
    }

    /// Whether `current` is far enough ahead of the stored snapshot for a new one.
    fn due(&self, known: &Known, current: &Snapshot) -> bool {
        let behind = match known.epoch == current.lists_epoch {
            true => current.lists_version.saturating_sub(known.version),
            false => current.lists_version,
        };
        let old =
            !self.keeping.max_age.is_zero() && known.written.elapsed() >= self.keeping.max_age;
        behind >= self.keeping.after_changes || (behind > 0 && old)
    }

    fn look_and_write(&self, source: &Source, current: &Snapshot) {
        let began = lock(&self.state).began;
        let outcome = source.stored_snapshot().map(|stored| {
            let known = stored.map_or_else(
                || Known {
                    version: 0,
                    epoch: current.lists_epoch.clone(),
                    written: began,
                },
                known,
            );
            let due = self.due(&known, current);
            lock(&self.state).stored = Some(known);
            due
        });
        let result = match outcome {
            Ok(false) => None,
            Ok(true) => Some(self.write(source, current)),
            Err(err) => Some(Err(err.into())),
        };
        let mut state = lock(&self.state);
        state.busy = false;
        let result_name = match result {
            None => return,
            Some(Ok(known)) => {
                state.stored = Some(known);
                "written"
            }
            Some(Err(SnapshotWriteError::NotNewer(_))) => {
                state.stored = None;
                return;
            }
            Some(Err(SnapshotWriteError::Locked)) => "skipped",
            Some(Err(err)) => {
                tracing::warn!(error = %err, "the list snapshot was not written");
                "failed"
            }
        };
        if result_name != "written" {
            state.not_before = Some(Instant::now() + RETRY_AFTER);
        }
        if let Some(writes) = &self.writes {
            writes.with_label_values(&[result_name]).inc();
        }
    }

    /// Writes `current`'s lists (compacted first if changes are laid over them) as the stored
    /// snapshot, and logs what it wrote.
    fn write(&self, source: &Source, current: &Snapshot) -> Result<Known, SnapshotWriteError> {
        let started = Instant::now();
        let compacted;
        let index = match current.lists.overlay_len() {
            0 => &current.lists,
            _ => {
                compacted = current
                    .lists
                    .compacted(&current.rules)
                    .map_err(std::io::Error::other)?;
                &compacted
            }
        };
        let position = Position {
            version: current.lists_version,
            epoch: current.lists_epoch.clone(),
        };
        let written = source.write_snapshot_of(&current.rules, index, position)?;
        tracing::info!(
            version = written.version,
            bytes = written.bytes,
            seconds = started.elapsed().as_secs_f64(),
            "stored the list snapshot"
        );
        Ok(Known {
            version: written.version,
            epoch: current.lists_epoch.clone(),
            written: Instant::now(),
        })
    }
}

/// The stored snapshot as known: its age taken from the manifest's time (unreadable, or in
/// the future: new).
fn known(stored: StoredSnapshot) -> Known {
    let now = Instant::now();
    let age = stored
        .written_at
        .and_then(|at| u64::try_from(Timestamp::now().0 - at.0).ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    Known {
        version: stored.version,
        epoch: stored.epoch,
        written: now.checked_sub(age).unwrap_or(now),
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
