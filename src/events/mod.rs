//! Changes to the lists as events: what departments are pushed (`POST` to their URL) or pull
//! (`GET /v1/changes`). The store keeps each change as it happened (the entry before and after,
//! when, at which list version); it is classified into its type when read, against the rules
//! in use, so that the write path stays one append.
//!
//! Events are numbered by their store from 1 up, without gaps: an event's `id` is its number,
//! so a cursor is a number and what a reader missed (events the store no longer keeps) can be
//! counted exactly.

mod file;
mod log;

pub use file::{FileEvents, FileEventsError};
pub use log::{EventLog, EventLogError, Page};

use std::fmt::Write as _;

use crate::ident::{self, SubjectKey};
use crate::lists::{Dispute, EntryRecord, Status};
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// Events a store keeps at most: older ones are dropped (and counted as missed by a reader
/// still behind them). About 0.7 KB each in Redis, so 200,000 hold about 140 MB.
pub const RETAINED: u64 = 200_000;

/// What an event says happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A new entry.
    Listed,
    /// An entry rewritten in a way no other type names.
    Changed,
    /// An entry removed (deleted, or written with status `removed`).
    Removed,
    /// An entry whose status became `repaired` (信用修复).
    Repaired,
    /// An entry whose objection (异议) state changed.
    DisputeChanged,
    /// An entry whose validity window ended, found as time passes.
    Expired,
    /// An entry on a scored list whose score moved to another level.
    ScoreLevelChanged,
    /// A subject broke a credit commitment (违诺), as a department reported.
    CommitmentBreached,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::Listed,
        EventType::Changed,
        EventType::Removed,
        EventType::Repaired,
        EventType::DisputeChanged,
        EventType::Expired,
        EventType::ScoreLevelChanged,
        EventType::CommitmentBreached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Listed => "entry.listed",
            EventType::Changed => "entry.changed",
            EventType::Removed => "entry.removed",
            EventType::Repaired => "entry.repaired",
            EventType::DisputeChanged => "entry.dispute_changed",
            EventType::Expired => "entry.expired",
            EventType::ScoreLevelChanged => "score.level_changed",
            EventType::CommitmentBreached => "commitment.breached",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// What a write did to an entry: `old` and `new` are the stored records before and after
    /// (`None`: there was none, or there is none now). One write is one event, of the most
    /// specific type that applies, in this order: listed, removed, repaired, dispute changed,
    /// score level changed, changed.
    pub fn of_write(
        old: Option<&EntryRecord<'_>>,
        new: Option<&EntryRecord<'_>>,
        rules: &RuleSet,
    ) -> EventType {
        let (old, new) = match (old, new) {
            (None, _) => return EventType::Listed,
            (Some(_), None) => return EventType::Removed,
            (Some(old), Some(new)) => (old, new),
        };
        let level = |score: Option<u16>| score.and_then(|s| rules.score_level_name(s));
        if new.status != old.status && new.status == Status::Removed {
            EventType::Removed
        } else if new.status != old.status && new.status == Status::Repaired {
            EventType::Repaired
        } else if new.dispute != old.dispute {
            EventType::DisputeChanged
        } else if level(new.score) != level(old.score) {
            EventType::ScoreLevelChanged
        } else {
            EventType::Changed
        }
    }
}

/// What made a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A write to the lists.
    #[default]
    Write,
    /// An entry's window ended (the expiry scan).
    Expired,
    /// A recorded breach of a commitment (its JSON in `new`).
    Breach,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Write => "write",
            Origin::Expired => "expired",
            Origin::Breach => "breach",
        }
    }

    /// The stored name; anything else (none, for a write script's record) is a write.
    pub fn parse(text: &str) -> Origin {
        match text {
            "expired" => Origin::Expired,
            "breach" => Origin::Breach,
            _ => Origin::Write,
        }
    }
}

/// One change as its store keeps it, before it is classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The event's number in its store (its `id`).
    pub seq: u64,
    pub at: Timestamp,
    /// The list version the change made (for an expiry, the version it was found at).
    pub lists_version: u64,
    /// The entry's stored JSON record before the change (empty: there was none).
    pub old: String,
    /// After the change (empty: removed, or an expiry); a breach's record.
    pub new: String,
    pub origin: Origin,
}

/// An event as delivered: its type, and the entry as the admin API shows it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: u64,
    pub kind: EventType,
    pub occurred_at: Timestamp,
    pub lists_version: u64,
    /// The list the entry is on.
    pub list: String,
    /// Every subject the entry names before and after the change: its subject, older
    /// identifiers and responsible persons (`via`).
    pub subjects: Vec<SubjectKey>,
    /// The entry's JSON record (after the change; before it, for a removal or an expiry);
    /// `null` if the store's text could not be read, or for a breach.
    entry: String,
    /// A breach's record, for `commitment.breached`.
    breach: Option<String>,
}

impl Event {
    /// Classifies a stored change against `rules`. A record that does not read as an entry is
    /// still an event (`entry.changed` with a null entry, unless it is plainly a listing,
    /// removal or expiry), so that a reader's sequence has no hole.
    pub fn of(stored: &Stored, rules: &RuleSet) -> Event {
        if stored.origin == Origin::Breach {
            return Event::of_breach(stored);
        }
        let (old, new) = (read_record(&stored.old), read_record(&stored.new));
        let kind = if stored.origin == Origin::Expired {
            EventType::Expired
        } else {
            match (stored.old.is_empty(), stored.new.is_empty()) {
                (true, _) => EventType::Listed,
                (false, true) => EventType::Removed,
                (false, false) if old.is_some() && new.is_some() => {
                    EventType::of_write(old.as_ref(), new.as_ref(), rules)
                }
                (false, false) => EventType::Changed,
            }
        };
        let (shown, text) = match (&new, &old) {
            (Some(new), _) => (Some(new), stored.new.as_str()),
            (None, Some(old)) if stored.new.is_empty() => (Some(old), stored.old.as_str()),
            _ => (None, "null"),
        };
        let mut subjects = Vec::new();
        for record in [&old, &new].into_iter().flatten() {
            let ids = std::iter::once(&record.subject_id)
                .chain(&record.legacy_ids)
                .chain(record.responsible_persons.iter().map(|p| &p.id));
            subjects.extend(ids.filter_map(|id| ident::parse(id).ok().map(|s| s.key())));
        }
        subjects.sort_unstable();
        subjects.dedup();
        Event {
            id: stored.seq,
            kind,
            occurred_at: stored.at,
            lists_version: stored.lists_version,
            list: shown.map(|r| r.list.to_string()).unwrap_or_default(),
            subjects,
            entry: text.to_owned(),
            breach: None,
        }
    }

    /// A breach: its record as stored, about the subject it names (an organisation's
    /// identifier is kept whole; a person's is masked, so no watchlist can match it).
    fn of_breach(stored: &Stored) -> Event {
        let record: Option<serde_json::Value> = serde_json::from_str(&stored.new).ok();
        let subjects = record
            .as_ref()
            .and_then(|r| r["subject"]["id"].as_str())
            .and_then(|id| ident::parse(id).ok())
            .map(|s| vec![s.key()])
            .unwrap_or_default();
        Event {
            id: stored.seq,
            kind: EventType::CommitmentBreached,
            occurred_at: stored.at,
            lists_version: stored.lists_version,
            list: String::new(),
            subjects,
            entry: "null".to_owned(),
            breach: Some(if record.is_some() {
                stored.new.clone()
            } else {
                "null".to_owned()
            }),
        }
    }

    /// The event's JSON: `id` (a decimal string), `type`, `occurred_at`, `lists_version`,
    /// `entry`, and for a breach `breach`.
    pub fn to_json(&self) -> String {
        let mut json = String::with_capacity(self.entry.len() + 128);
        let _ = write!(
            json,
            r#"{{"id":"{}","type":"{}","occurred_at":"{}","lists_version":{},"entry":{}"#,
            self.id,
            self.kind.as_str(),
            self.occurred_at,
            self.lists_version,
            self.entry
        );
        if let Some(breach) = &self.breach {
            let _ = write!(json, r#","breach":{breach}"#);
        }
        json.push('}');
        json
    }
}

/// A stored entry's record; `None` for none (empty) or text that does not read.
fn read_record(text: &str) -> Option<EntryRecord<'_>> {
    (!text.is_empty())
        .then(|| serde_json::from_str(text).ok())
        .flatten()
}

/// Whether `entry` (as stored) is an in-force entry whose window ends in `(after, through]`.
pub fn ends_within(facts: &crate::lists::Facts, after: Timestamp, through: Timestamp) -> bool {
    facts.valid_until().is_some_and(|end| {
        after < end && end <= through && facts.status == Status::Active && {
            facts.dispute != Dispute::Upheld && facts.listed_on < end
        }
    })
}

#[cfg(test)]
mod tests;
