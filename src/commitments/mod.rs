//! Credit commitments (信用承诺) and their breaches (违诺): what a subject committed to for a
//! matter, and what a department reports it broke. Both are stored durably where the query
//! register keeps its feedback (files, or Redis shared by every instance), and held in memory,
//! by the register's keyed hash of the subject, for the decisions in matters that allow
//! commitments (`engine::offer`) and for the subject's profile.
//!
//! A person's resident ID is never kept: the record holds it masked, with the keyed hash that
//! finds the subject again. Free texts are stored with any ID number in them masked.

mod book;
mod input;
mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use book::{Book, SubjectBook};
pub use input::{BreachInput, CommitmentInput, MAX_TEXT};
pub use store::{CommitmentStore, StoreError};

use crate::engine::{BreachFact, CommitmentFact};
use crate::ident::SubjectId;
use crate::lists::source::ReplicaWait;
use crate::register::{CallerRecord, RegisterConfig, Sink, SubjectHasher, SubjectRecord};
use crate::timestamp::Timestamp;

/// How often an instance on a Redis store reads what other instances recorded.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// Records read from the store per round trip, at start and while following.
const PAGE: usize = 1000;

/// The subject as a commitment or breach keeps it: as the register keeps it (an organisation's
/// code in full, a person's only masked, both with the register's keyed hash).
pub type StoredSubject = SubjectRecord;

/// A subject's commitment for a matter, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Commitment {
    pub commitment_id: Uuid,
    pub subject: StoredSubject,
    /// The matter's code.
    pub matter: String,
    /// The commitment's text or its document number (ID numbers in it masked).
    pub text: String,
    /// RFC 3339, as given.
    pub signed_at: String,
    /// RFC 3339, as given; exclusive.
    pub valid_until: String,
    /// The department that accepted the commitment.
    pub department: String,
    /// When the service stored it (UTC+8).
    pub recorded_at: String,
    /// The key that recorded it, with keys on.
    pub caller: Option<CallerRecord>,
}

impl Commitment {
    fn fact(&self) -> Option<CommitmentFact> {
        Some(CommitmentFact {
            commitment_id: self.commitment_id,
            matter: self.matter.clone(),
            signed_at: Timestamp::parse(&self.signed_at).ok()?,
            valid_until: Timestamp::parse(&self.valid_until).ok()?,
        })
    }
}

/// A breach of a commitment (违诺) a department reported through feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Breach {
    pub breach_id: Uuid,
    /// The commitment broken, when the report names one.
    pub commitment_id: Option<Uuid>,
    pub subject: StoredSubject,
    pub matter: String,
    /// The department that found the breach.
    pub executing_department: String,
    /// What was broken (ID numbers in it masked).
    pub reason: String,
    /// When the subject broke the commitment (RFC 3339, as given, or when it was reported).
    pub breached_at: String,
    /// When the service stored it (UTC+8).
    pub recorded_at: String,
    pub caller: Option<CallerRecord>,
}

impl Breach {
    pub fn fact(&self) -> Option<BreachFact> {
        Some(BreachFact {
            breach_id: self.breach_id,
            commitment_id: self.commitment_id,
            breached_at: Timestamp::parse(&self.breached_at).ok()?,
        })
    }
}

/// One stored line: a commitment or a breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    Commitment(Commitment),
    Breach(Breach),
}

/// The outcome of recording a breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now.
    Created(Breach),
    /// A breach of this commitment was recorded before; this is it.
    Existing(Breach),
}

/// The running commitments: the store, the book in memory, the register's subject hasher, and
/// (on Redis) where this instance has read the store to.
pub struct Commitments {
    store: Box<dyn CommitmentStore>,
    book: RwLock<Book>,
    hasher: SubjectHasher,
    /// The store's cursor after the last record read; `None` for files (one instance).
    cursor: Mutex<Option<String>>,
    /// One writer at a time, so that a breach of a commitment is recorded once per instance.
    writing: Mutex<()>,
    /// Whether the store has been read whole once: until then the book may lack breaches.
    loaded: AtomicBool,
}

impl Commitments {
    /// Opens the store where the register keeps its feedback and reads every record into the
    /// book; `None` when the register is off. `wait` is what a Redis write waits for.
    pub fn open(
        config: &RegisterConfig,
        hasher: SubjectHasher,
        wait: ReplicaWait,
    ) -> Result<Option<Commitments>, StoreError> {
        let store: Box<dyn CommitmentStore> = match &config.sink {
            Sink::Off => return Ok(None),
            Sink::Files => Box::new(store::FileStore::open(&config.dir)?),
            Sink::Redis { url, prefix } => Box::new(store::RedisStore::open(url, prefix, wait)?),
        };
        let commitments = Commitments {
            store,
            book: RwLock::new(Book::default()),
            hasher,
            cursor: Mutex::new(None),
            writing: Mutex::new(()),
            loaded: AtomicBool::new(false),
        };
        match commitments.follow() {
            Ok(_) => {}
            // The service starts whether or not Redis is up; the follower reads it later,
            // and until then decisions do not offer commitments.
            Err(err) if commitments.shared() => {
                tracing::warn!(error = %err, "the credit commitments could not be read from redis yet; until they are, decisions in commitment matters do not offer 告知承诺 or 容缺受理");
            }
            Err(err) => return Err(err),
        }
        Ok(Some(commitments))
    }

    /// Reads what the store holds past this instance's cursor into the book (everything, the
    /// first time); returns how many records were new here.
    pub fn follow(&self) -> Result<usize, StoreError> {
        let mut cursor = store::lock(&self.cursor);
        let mut added = 0;
        loop {
            let (records, next) = self.store.read_after(cursor.as_deref(), PAGE)?;
            let read = records.len();
            {
                let mut book = self.book.write().unwrap_or_else(|e| e.into_inner());
                for record in records {
                    added += usize::from(book.insert(record));
                }
            }
            if next.is_some() {
                *cursor = next;
            }
            if read < PAGE {
                self.loaded.store(true, Ordering::Release);
                return Ok(added);
            }
        }
    }

    /// Whether the store has been read whole: before, the book may lack records.
    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether other instances may write (a shared store, worth following).
    pub fn shared(&self) -> bool {
        self.store.shared()
    }

    pub fn subject(&self, subject: &SubjectId) -> StoredSubject {
        SubjectRecord::of(subject, &self.hasher)
    }

    /// Stores `commitment` durably, then holds it in the book.
    pub fn record_commitment(&self, commitment: Commitment) -> Result<Commitment, StoreError> {
        let _writing = store::lock(&self.writing);
        let record = Record::Commitment(commitment);
        self.store.append(&record)?;
        self.book().insert(record.clone());
        match record {
            Record::Commitment(commitment) => Ok(commitment),
            Record::Breach(_) => unreachable!("recorded a commitment"),
        }
    }

    /// Stores `breach` durably, then holds it in the book, unless a breach of the same
    /// commitment was recorded before (this instance's book is read up to date first).
    pub fn record_breach(&self, breach: Breach) -> Result<Recorded, StoreError> {
        let _writing = store::lock(&self.writing);
        if let Some(id) = breach.commitment_id {
            if self.store.shared() {
                self.follow()?;
            }
            if let Some(existing) = self.read().breach_of(id) {
                return Ok(Recorded::Existing(existing));
            }
        }
        let record = Record::Breach(breach);
        self.store.append(&record)?;
        self.book().insert(record.clone());
        match record {
            Record::Breach(breach) => Ok(Recorded::Created(breach)),
            Record::Commitment(_) => unreachable!("recorded a breach"),
        }
    }

    /// What the book holds of `subject`.
    pub fn of(&self, subject: &StoredSubject) -> Option<Arc<SubjectBook>> {
        self.read().of(subject)
    }

    /// What the book holds of the subject with this identifier (hashing it).
    pub fn of_id(&self, subject: &SubjectId) -> Option<Arc<SubjectBook>> {
        self.of(&self.subject(subject))
    }

    /// The commitment with this id.
    pub fn commitment(&self, id: Uuid) -> Option<Commitment> {
        self.read().commitment(id)
    }

    /// How many commitments and breaches the book holds.
    pub fn counts(&self) -> (usize, usize) {
        self.read().counts()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Book> {
        self.book.read().unwrap_or_else(|e| e.into_inner())
    }

    fn book(&self) -> std::sync::RwLockWriteGuard<'_, Book> {
        self.book.write().unwrap_or_else(|e| e.into_inner())
    }
}
