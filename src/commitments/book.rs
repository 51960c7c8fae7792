//! The commitments and breaches in memory, by the subject's keyed hash: what a decision in a
//! commitment matter and a profile read, without I/O.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use uuid::Uuid;

use super::{Breach, Commitment, Record, StoredSubject};
use crate::engine::CommitmentHistory;

/// One subject's commitments and breaches, in the order recorded, and the engine's view of them.
#[derive(Debug, Clone, Default)]
pub struct SubjectBook {
    pub commitments: Vec<Commitment>,
    pub breaches: Vec<Breach>,
    pub history: CommitmentHistory,
}

#[derive(Debug, Default)]
pub struct Book {
    /// By the subject hash. A subject's part is replaced whole on a write, so that a reader
    /// holds a consistent one without holding the lock.
    subjects: FxHashMap<u128, Arc<SubjectBook>>,
    /// Commitment id → subject hash.
    commitments: FxHashMap<Uuid, u128>,
    /// Commitment id → the breach recorded of it.
    breached: FxHashMap<Uuid, Uuid>,
    /// Every record id held, so that a record read again changes nothing.
    ids: rustc_hash::FxHashSet<Uuid>,
    breaches: usize,
}

impl Book {
    /// Holds `record`; false when it was held already (or its subject hash is malformed, which
    /// is logged).
    pub fn insert(&mut self, record: Record) -> bool {
        let (id, subject) = match &record {
            Record::Commitment(c) => (c.commitment_id, &c.subject),
            Record::Breach(b) => (b.breach_id, &b.subject),
        };
        let Some(key) = subject.hash_key() else {
            tracing::error!(record = %id, "a stored commitment record has no valid subject hash; it is left out");
            return false;
        };
        if !self.ids.insert(id) {
            return false;
        }
        let mut part = self
            .subjects
            .get(&key)
            .map(|part| SubjectBook::clone(part))
            .unwrap_or_default();
        match record {
            Record::Commitment(commitment) => {
                match commitment.fact() {
                    Some(fact) => part.history.commitments.push(fact),
                    None => {
                        tracing::error!(commitment = %id, "a stored commitment's instants do not read; it is shown but not weighed")
                    }
                }
                self.commitments.insert(id, key);
                part.commitments.push(commitment);
            }
            Record::Breach(breach) => {
                match breach.fact() {
                    Some(fact) => part.history.breaches.push(fact),
                    None => {
                        tracing::error!(breach = %id, "a stored breach's instant does not read; it is shown but not weighed")
                    }
                }
                if let Some(commitment) = breach.commitment_id {
                    self.breached.entry(commitment).or_insert(id);
                }
                self.breaches += 1;
                part.breaches.push(breach);
            }
        }
        self.subjects.insert(key, Arc::new(part));
        true
    }

    pub fn of(&self, subject: &StoredSubject) -> Option<Arc<SubjectBook>> {
        self.subjects.get(&subject.hash_key()?).cloned()
    }

    pub fn commitment(&self, id: Uuid) -> Option<Commitment> {
        let part = self.subjects.get(self.commitments.get(&id)?)?;
        part.commitments
            .iter()
            .find(|c| c.commitment_id == id)
            .cloned()
    }

    /// The breach recorded of commitment `id`, if any.
    pub fn breach_of(&self, id: Uuid) -> Option<Breach> {
        let breach = *self.breached.get(&id)?;
        let part = self.subjects.get(self.commitments.get(&id)?)?;
        part.breaches
            .iter()
            .find(|b| b.breach_id == breach)
            .cloned()
    }

    /// Commitments and breaches held.
    pub fn counts(&self) -> (usize, usize) {
        (self.commitments.len(), self.breaches)
    }
}
