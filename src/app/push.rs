//! The push and the change feed as the service offers them: the calling department's
//! subscriptions with their delivery state and dead letters, the change feed read by cursor,
//! and the events a reload of a list file makes (Redis records its own as it is written).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{AppError, Service};
use crate::events::{Event, EventLog, FileEvents, FileEventsError};
use crate::ident::SubjectKey;
use crate::lists::source::{ColdCacheConfig, ListSource};
use crate::lists::ListIndex;
use crate::push::{
    self, DeliveryState, Invalid, Push, PushConfig, PushStore, StoreError, Subscription,
};
use crate::ruleset::RuleSet;
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// Connections to Redis the push reads events on, apart from the list source's.
const EVENT_CONNECTIONS: usize = 4;

/// Events the change feed answers at most per request.
pub const MAX_CHANGES: usize = 1000;
/// Dead letters listed at most per request: all that are kept.
pub const MAX_LETTERS: usize = push::DEAD_LETTERS_KEPT;

/// Why a push or change-feed request was not done.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("no subscription `{0}` of this department")]
    NotFound(String),
    #[error("the service holds its limit of {limit} subscriptions")]
    Exhausted { limit: usize },
    #[error("invalid subscription")]
    Invalid(Vec<Invalid>),
    #[error("the cursor {after} is beyond the newest event, {last}")]
    CursorAhead { after: u64, last: u64 },
    #[error("the push's store is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for PushError {
    fn from(err: StoreError) -> PushError {
        PushError::Unavailable(err.to_string())
    }
}

impl From<crate::events::EventLogError> for PushError {
    fn from(err: crate::events::EventLogError) -> PushError {
        PushError::Unavailable(err.to_string())
    }
}

/// Why the push could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PushSetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Events(#[from] FileEventsError),
}

/// Runs a blocking call to the push's stores off the async workers.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, PushError> + Send + 'static,
) -> Result<T, PushError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|err| PushError::App(AppError::Internal(err.to_string())))?
}

impl Service {
    /// Keeps subscriptions and events where the lists are: in Redis beside them, or in files
    /// in `config.dir` for lists from a file.
    pub fn with_push(mut self, config: &PushConfig) -> Result<Service, PushSetupError> {
        let (store, events) = match &self.snapshots.sources().lists {
            ListSource::Redis { url, wait, .. } => (
                PushStore::redis(url, &config.redis_prefix, *wait)?,
                // Connections of its own: however many deliveries read events at once, the
                // decisions' cold-list lookups and the admin writes keep the list source's.
                EventLog::Redis(Arc::new(
                    self.snapshots
                        .sources()
                        .lists
                        .with_connections(EVENT_CONNECTIONS)
                        .open(ColdCacheConfig::default()),
                )),
            ),
            ListSource::Embedded | ListSource::File(_) => (
                PushStore::files(&config.dir)?,
                EventLog::File(Arc::new(FileEvents::open(&config.dir)?)),
            ),
        };
        let attempts = &self.metrics.push_attempts;
        let counters = push::Counters {
            delivered: attempts.with_label_values(&["delivered"]),
            failed: attempts.with_label_values(&["failed"]),
            dead_letters: self.metrics.push_dead_letters.clone(),
            missed: self.metrics.push_missed.clone(),
        };
        self.push = Some(Arc::new(Push::new(store, events, config.clone(), counters)));
        Ok(self)
    }

    /// The push, once set up.
    pub fn push(&self) -> Option<&Arc<Push>> {
        self.push.as_ref()
    }

    fn push_or_internal(&self) -> Result<Arc<Push>, PushError> {
        self.push
            .clone()
            .ok_or_else(|| PushError::App(AppError::Internal("the push is not set up".into())))
    }

    /// Wakes the deliveries after a list write.
    pub(super) fn nudge_push(&self) {
        if let Some(push) = &self.push {
            push.nudge();
        }
    }

    /// Records a subscription of `department` from a request's body.
    pub async fn subscribe(
        &self,
        department: &str,
        body: Map<String, Value>,
    ) -> Result<Value, PushError> {
        let push = self.push_or_internal()?;
        let rules = Arc::clone(&self.snapshot()?.rules);
        let subscription = Subscription::read(
            body,
            department,
            &rules,
            &push.config.networks,
            Timestamp::now(),
        )
        .map_err(PushError::Invalid)?;
        if let Some(name) = &subscription.watchlist {
            let known = self
                .watchlists()
                .is_some_and(|watchlists| watchlists.names(department).contains(name));
            if !known {
                return Err(PushError::Invalid(vec![Invalid {
                    field: "watchlist".into(),
                    message: format!(
                        "this department has no watchlist `{}` (PUT /v1/watchlists/{{name}} makes one)",
                        crate::ident::mask_id_numbers(name)
                    ),
                }]));
            }
        }
        let shown = subscription.shown();
        blocking(move || {
            let limit = push.config.max_subscriptions;
            // Delivery starts after the newest event stored now.
            let start = DeliveryState {
                cursor: push.events.read_after(u64::MAX - 1, 0)?.last,
                ..DeliveryState::default()
            };
            if push.store.add(&subscription, &start, limit)? {
                push.nudge();
                Ok(())
            } else {
                Err(PushError::Exhausted { limit })
            }
        })
        .await?;
        Ok(shown)
    }

    /// The subscriptions of `department`, oldest first.
    pub async fn subscriptions(&self, department: &str) -> Result<Vec<Value>, PushError> {
        let push = self.push_or_internal()?;
        let department = department.to_owned();
        blocking(move || {
            Ok(push
                .store
                .all()?
                .iter()
                .filter(|s| s.department == department)
                .map(Subscription::shown)
                .collect())
        })
        .await
    }

    /// One subscription of `department` with its delivery state: the last event delivered,
    /// the events after its cursor not yet dealt with, the last error and the next retry.
    pub async fn subscription(&self, department: &str, id: &str) -> Result<Value, PushError> {
        let push = self.push_or_internal()?;
        let (department, id) = (department.to_owned(), id.to_owned());
        blocking(move || {
            let subscription = owned(&push, &department, &id)?;
            let state = push.store.state(&id)?;
            let (_, dead_letters) = push.store.dead_letters(&id, 0)?;
            let newest = push.events.read_after(u64::MAX - 1, 0)?.last;
            let at = |ms: Option<i64>| ms.map(|ms| Timestamp(ms).to_string());
            let mut shown = subscription.shown();
            shown["delivery"] = json!({
                "cursor": state.cursor.to_string(),
                "last_delivered_event": state.last_delivered.map(|id| id.to_string()),
                "backlog": newest.saturating_sub(state.cursor),
                "delivered": state.delivered,
                "attempts": state.attempts,
                "failing_since": at(state.failing_since),
                "last_error": state.last_error,
                "next_retry_at": at(state.next_retry_at),
                "dead_letters": dead_letters,
                "dead_lettered": state.dead_lettered,
                "dead_letters_dropped": state.dead_letters_dropped,
                "missed": state.missed,
            });
            Ok(shown)
        })
        .await
    }

    /// Deletes a subscription of `department` with its state.
    pub async fn unsubscribe(&self, department: &str, id: &str) -> Result<(), PushError> {
        let push = self.push_or_internal()?;
        let (department, id) = (department.to_owned(), id.to_owned());
        blocking(move || {
            owned(&push, &department, &id)?;
            push.store.remove(&id)?;
            Ok(())
        })
        .await
    }

    /// The oldest `limit` dead letters of a subscription of `department`, and how many.
    pub async fn dead_letters(
        &self,
        department: &str,
        id: &str,
        limit: usize,
    ) -> Result<Value, PushError> {
        let push = self.push_or_internal()?;
        let (department, id) = (department.to_owned(), id.to_owned());
        blocking(move || {
            owned(&push, &department, &id)?;
            let (letters, total) = push.store.dead_letters(&id, limit.min(MAX_LETTERS))?;
            let letters: Vec<Value> = letters
                .into_iter()
                .map(|letter| {
                    json!({
                        "event": serde_json::from_str::<Value>(&letter.event).unwrap_or(Value::Null),
                        "attempts": letter.attempts,
                        "last_error": letter.last_error,
                        "dead_at": Timestamp(letter.dead_at).to_string(),
                    })
                })
                .collect();
            Ok(json!({"dead_letters": letters, "total": total}))
        })
        .await
    }

    /// Queues every dead letter of a subscription to be sent again: how many.
    pub async fn replay_dead_letters(&self, department: &str, id: &str) -> Result<u64, PushError> {
        let push = self.push_or_internal()?;
        let (department, id) = (department.to_owned(), id.to_owned());
        blocking(move || {
            owned(&push, &department, &id)?;
            let count = push.store.replay(&id)?;
            push.nudge();
            Ok(count)
        })
        .await
    }

    /// At most `limit` events after event `after`, oldest first, as the change feed answers:
    /// the events, the cursor to ask after next, and how many events after `after` are no
    /// longer kept.
    pub async fn changes(&self, after: u64, limit: usize) -> Result<String, PushError> {
        let push = self.push_or_internal()?;
        let rules = Arc::clone(&self.snapshot()?.rules);
        let limit = limit.clamp(1, MAX_CHANGES);
        blocking(move || {
            let page = push.events.read_after(after, limit)?;
            if after > page.last {
                return Err(PushError::CursorAhead {
                    after,
                    last: page.last,
                });
            }
            let next = page.events.last().map_or_else(
                || after.max(page.first.saturating_sub(1)),
                |event| event.seq,
            );
            let mut json = format!(
                r#"{{"next":"{next}","newest":"{}","missed":{},"events":["#,
                page.last,
                page.missed_after(after)
            );
            for (i, stored) in page.events.iter().enumerate() {
                if i > 0 {
                    json.push(',');
                }
                json.push_str(&Event::of(stored, &rules).to_json());
            }
            json.push_str("]}");
            Ok(json)
        })
        .await
    }

    /// Records as events what a reload of a list file changed (for Redis, each write records
    /// its own).
    pub(super) fn record_reload(&self, before: Option<&Snapshot>, after: &Snapshot) {
        let (Some(push), Some(before)) = (&self.push, before) else {
            return;
        };
        let EventLog::File(file) = &push.events else {
            return;
        };
        let changes = changed_entries(&before.lists, &before.rules, &after.lists, &after.rules);
        if changes.is_empty() {
            return;
        }
        let count = changes.len();
        match file.append_writes(changes, after.loaded_at, after.lists_version) {
            Ok(()) => {
                tracing::info!(
                    events = count,
                    "the reload's list changes recorded as events"
                );
                push.nudge();
            }
            Err(err) => tracing::error!(error = %err, events = count,
                "cannot record the reload's list changes as events; subscribers will not be pushed them"),
        }
    }
}

/// The subscription `id` if it is `department`'s; another department's is not found.
fn owned(push: &Push, department: &str, id: &str) -> Result<Subscription, PushError> {
    push.store
        .get(id)?
        .filter(|s| s.department == department)
        .ok_or_else(|| PushError::NotFound(id.to_owned()))
}

/// Each entry that differs between two indexes, as `(before, after)` JSON records (empty for
/// none): entries are matched by subject and id, so an entry whose subject changed is one
/// removed and one listed.
fn changed_entries(
    before: &ListIndex,
    before_rules: &RuleSet,
    after: &ListIndex,
    after_rules: &RuleSet,
) -> Vec<(String, String)> {
    let json = |record| serde_json::to_string(&record).unwrap_or_default();
    let mut changes = Vec::new();
    for entry in after.iter() {
        let (Ok(id), Ok(record)) = (entry.entry_id(), entry.record(after_rules)) else {
            continue;
        };
        let old = find(before, before_rules, entry.subject, &id);
        match old {
            Some(old) if old == record => {}
            Some(old) => changes.push((json(old), json(record))),
            None => changes.push((String::new(), json(record))),
        }
    }
    for entry in before.iter() {
        let (Ok(id), Ok(record)) = (entry.entry_id(), entry.record(before_rules)) else {
            continue;
        };
        if find(after, after_rules, entry.subject, &id).is_none() {
            changes.push((json(record), String::new()));
        }
    }
    changes
}

/// Entry `id` of `subject` in `index`, as its record.
fn find<'i>(
    index: &'i ListIndex,
    rules: &RuleSet,
    subject: SubjectKey,
    id: &str,
) -> Option<crate::lists::EntryRecord<'i>> {
    index
        .entries_of(subject)
        .filter(|e| e.subject == subject)
        .find(|e| e.entry_id().is_ok_and(|found| found == id))
        .and_then(|e| e.record(rules).ok())
}

impl push::Host for Service {
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshots.current()
    }

    fn on_watchlist(&self, department: &str, name: &str, subject: SubjectKey) -> bool {
        self.watchlists()
            .and_then(|watchlists| watchlists.contains(department, name, subject))
            .unwrap_or(false)
    }
}
