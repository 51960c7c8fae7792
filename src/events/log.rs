//! Where events are read from and expiries appended: Redis's `events` stream beside the lists,
//! or, for lists from a file, the service's own event file.

use std::sync::Arc;

use super::{FileEvents, FileEventsError, Stored};
use crate::lists::source::{Source, SourceError};
use crate::timestamp::Timestamp;

/// Events read after a cursor, with the bounds of what the store keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub events: Vec<Stored>,
    /// The oldest event still kept (`last + 1` when none is).
    pub first: u64,
    /// The newest event's number (0 before the first).
    pub last: u64,
}

impl Page {
    /// How many events after `after` the store no longer keeps.
    pub fn missed_after(&self, after: u64) -> u64 {
        self.first.saturating_sub(after.saturating_add(1))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    File(#[from] FileEventsError),
}

/// The event store of the running service.
#[derive(Clone)]
pub enum EventLog {
    /// Beside the lists in Redis, shared by every instance.
    Redis(Arc<Source>),
    /// The service's own file, for lists from a file (one instance).
    File(Arc<FileEvents>),
}

impl EventLog {
    /// At most `limit` events after event `after`, oldest first (blocking).
    pub fn read_after(&self, after: u64, limit: usize) -> Result<Page, EventLogError> {
        Ok(match self {
            EventLog::Redis(source) => source.events_after(after, limit)?,
            EventLog::File(file) => file.read_after(after, limit),
        })
    }

    /// Appends a breach's record made at `at` as an event.
    pub fn append_breach(
        &self,
        at: Timestamp,
        json: String,
        lists_version: u64,
    ) -> Result<(), EventLogError> {
        match self {
            EventLog::Redis(source) => source.append_breach(at, &json)?,
            EventLog::File(file) => file.append_breach(at, json, lists_version)?,
        }
        Ok(())
    }

    /// Up to which instant expiries are appended (`None` before the first scan).
    pub fn expired_through(&self) -> Result<Option<Timestamp>, EventLogError> {
        Ok(match self {
            EventLog::Redis(source) => source.expired_through()?,
            EventLog::File(file) => file.expired_through(),
        })
    }

    /// Appends `ended` and moves the expiry mark from `read` to `through`, unless it moved
    /// since it was read (`false`: another instance got there first).
    pub fn append_expired(
        &self,
        read: Option<Timestamp>,
        through: Timestamp,
        ended: &[(Timestamp, String)],
        lists_version: u64,
    ) -> Result<bool, EventLogError> {
        Ok(match self {
            EventLog::Redis(source) => source.append_expired(read, through, ended)?,
            EventLog::File(file) => file.append_expired(read, through, ended, lists_version)?,
        })
    }
}
