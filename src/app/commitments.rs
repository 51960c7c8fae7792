//! Credit commitments (信用承诺): recording commitments and breaches (checked against the rule
//! set, then stored), what a decision in a commitment matter says about 告知承诺 and 容缺受理,
//! the profile's part, and the draft listing a department may propose from a breach.
//!
//! A breach never lists anyone: it withholds the offer for the rule set's period, is counted
//! and shown, and may lead to a draft that staff review and write through the list
//! administration themselves.

use std::sync::{Arc, Weak};

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{AppError, Service};
use crate::commitments::{
    Breach, BreachInput, Commitment, CommitmentInput, Commitments, Recorded, SubjectBook,
    FOLLOW_EVERY,
};
use crate::engine::{self, CommitmentHistory, Holdings, Offer};
use crate::ident::SubjectId;
use crate::keys::Caller;
use crate::register::CallerRecord;
use crate::ruleset::{ListKind, MatterId, RuleSet};
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// Breaches a profile shows, the latest first.
const PROFILE_BREACHES: usize = 10;

/// Reads, every [`FOLLOW_EVERY`], what other instances recorded in the shared store, for as
/// long as the commitments are in use.
pub(super) fn follow(commitments: &Arc<Commitments>) {
    let weak: Weak<Commitments> = Arc::downgrade(commitments);
    let spawned = std::thread::Builder::new()
        .name("commitments-follow".into())
        .spawn(move || loop {
            std::thread::sleep(FOLLOW_EVERY);
            let Some(commitments) = weak.upgrade() else {
                return;
            };
            if let Err(err) = commitments.follow() {
                tracing::warn!(error = %err, "the credit commitments could not be read from redis; trying again");
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot follow the credit commitments other instances record");
    }
}

/// The commitments part of a subject's profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommitmentProfile {
    /// Commitments recorded, and of them in force at the profile's instant.
    pub recorded: usize,
    pub in_force: usize,
    /// Breaches recorded, and of them within the rule set's period before the instant.
    pub breaches: usize,
    pub breaches_in_period: usize,
    pub breach_months: u16,
    /// The latest breaches, the latest first (at most ten).
    pub recent_breaches: Vec<Breach>,
}

/// A draft list entry proposed from a breach, for staff to review: it is not in force and is
/// written nowhere until someone writes it through the list administration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    /// Always `draft`.
    pub status: &'static str,
    /// Always false: a breach never lists anyone on its own.
    pub in_force: bool,
    /// The entry as the list administration takes it (`PUT /v1/lists/{list}/entries/{entry_id}`),
    /// without `listed_on`, which the reviewer sets; a person's ID masked, which the reviewer
    /// replaces from the case file.
    #[schema(value_type = Object)]
    pub entry: Value,
    pub commitment: Commitment,
    pub breaches: Vec<Breach>,
}

impl Service {
    pub fn commitments(&self) -> Result<&Commitments, AppError> {
        self.commitments.as_deref().ok_or(AppError::CommitmentsOff)
    }

    /// Checks and stores a posted commitment (blocking: a sync to disk or a Redis round trip).
    pub fn record_commitment(
        &self,
        rules: &RuleSet,
        members: Map<String, Value>,
        caller: Option<&Caller>,
    ) -> Result<Commitment, AppError> {
        let commitments = self.commitments()?;
        let commitment = CommitmentInput { members }
            .check(
                rules,
                caller.map(CallerRecord::of),
                |subject| commitments.subject(subject),
                Timestamp::now(),
            )
            .map_err(AppError::InvalidRequest)?;
        let stored = commitments
            .record_commitment(commitment)
            .map_err(|err| AppError::CommitmentStore(err.to_string()))?;
        self.metrics
            .commitment_records
            .with_label_values(&["commitment"])
            .inc();
        tracing::info!(commitment = %stored.commitment_id, subject = stored.subject.shown(), matter = %stored.matter, "credit commitment recorded");
        Ok(stored)
    }

    /// Checks and stores a breach report (blocking), unless the commitment it names has a
    /// breach recorded already.
    pub fn record_breach(
        &self,
        rules: &RuleSet,
        members: Map<String, Value>,
        caller: Option<&Caller>,
    ) -> Result<Recorded, AppError> {
        let commitments = self.commitments()?;
        let breach = BreachInput { members }
            .check(
                rules,
                caller.map(CallerRecord::of),
                |subject| commitments.subject(subject),
                |id| commitments.commitment(id),
                Timestamp::now(),
            )
            .map_err(AppError::InvalidRequest)?;
        let recorded = commitments
            .record_breach(breach)
            .map_err(|err| AppError::CommitmentStore(err.to_string()))?;
        if let Recorded::Created(breach) = &recorded {
            self.breach_recorded(breach);
        }
        Ok(recorded)
    }

    /// What follows a new breach: it is counted, logged (the subject as stored) and recorded
    /// as a `commitment.breached` event for the push. The breach is stored already; an event
    /// that cannot be recorded is logged as an error with the breach's id.
    fn breach_recorded(&self, breach: &Breach) {
        self.metrics
            .commitment_records
            .with_label_values(&["breach"])
            .inc();
        tracing::info!(breach = %breach.breach_id, commitment = ?breach.commitment_id, subject = breach.subject.shown(), matter = %breach.matter, "breach of a credit commitment recorded");
        let Some(push) = self.push() else {
            return;
        };
        let version = self.snapshots.current().map_or(0, |s| s.lists_version);
        let at = Timestamp::parse(&breach.recorded_at).unwrap_or_else(|_| Timestamp::now());
        let json = serde_json::to_string(breach).unwrap_or_default();
        match push.events.append_breach(at, json, version) {
            Ok(()) => push.nudge(),
            Err(err) => tracing::error!(breach = %breach.breach_id, error = %err,
                "the breach is recorded, but its commitment.breached event is not: subscribers are not pushed it"),
        }
    }

    /// The subject's commitments, the latest signed first, at most `limit`, and how many
    /// there are.
    pub fn commitments_of(
        &self,
        subject: &SubjectId,
        limit: usize,
    ) -> Result<(Vec<Commitment>, usize), AppError> {
        let commitments = self.commitments()?;
        if !commitments.loaded() {
            return Err(AppError::CommitmentStore(
                "the commitments have not been read from the store yet".into(),
            ));
        }
        let Some(book) = commitments.of_id(subject) else {
            return Ok((Vec::new(), 0));
        };
        let mut all: Vec<&Commitment> = book.commitments.iter().collect();
        all.sort_by_key(|c| {
            let signed = Timestamp::parse(&c.signed_at).unwrap_or(Timestamp(i64::MIN));
            std::cmp::Reverse((signed, c.commitment_id))
        });
        Ok((
            all.into_iter().take(limit).cloned().collect(),
            book.commitments.len(),
        ))
    }

    /// The subject's commitments and breaches as held here (none with the register off).
    fn commitment_book(&self, subject: &SubjectId) -> Option<Arc<SubjectBook>> {
        self.commitments.as_ref()?.of_id(subject)
    }

    /// What a decision in a commitment matter says about the offer; `None` in other matters
    /// (which pay one test of the matter's flag for it).
    pub(super) fn offer<'s>(
        &self,
        snapshot: &'s Snapshot,
        holdings: Holdings<'s>,
        subject: &SubjectId,
        matter: MatterId,
        at: Timestamp,
    ) -> Option<Box<Offer<'s>>> {
        if !snapshot.rules.matter(matter).commitment {
            return None;
        }
        let empty = CommitmentHistory::default();
        let book = match &self.commitments {
            // The store not read yet: the breaches are unknown.
            Some(commitments) if !commitments.loaded() => None,
            Some(commitments) => Some(commitments.of_id(subject)),
            // With the register off there are no commitments: the lists alone decide.
            None => Some(None),
        };
        let history = book
            .as_ref()
            .map(|book| book.as_ref().map_or(&empty, |book| &book.history));
        engine::offer(&snapshot.rules, holdings, subject, matter, at, history).map(Box::new)
    }

    /// The commitments part of the subject's profile at `at`; `None` with the register off, or
    /// while the store has not been read.
    pub fn commitment_profile(
        &self,
        rules: &RuleSet,
        subject: &SubjectId,
        at: Timestamp,
    ) -> Option<CommitmentProfile> {
        if !self.commitments.as_ref()?.loaded() {
            return None;
        }
        let book = self.commitment_book(subject).unwrap_or_default();
        let since = at.minus_months(rules.commitment_breach_months);
        let in_force = book
            .history
            .commitments
            .iter()
            .filter(|c| c.signed_at <= at && at < c.valid_until)
            .count();
        let breaches_in_period = book
            .history
            .breaches
            .iter()
            .filter(|b| since < b.breached_at && b.breached_at <= at)
            .count();
        let mut recent: Vec<&Breach> = book.breaches.iter().collect();
        recent.sort_by_key(|b| {
            let at = Timestamp::parse(&b.breached_at).unwrap_or(Timestamp(i64::MIN));
            std::cmp::Reverse((at, b.breach_id))
        });
        Some(CommitmentProfile {
            recorded: book.commitments.len(),
            in_force,
            breaches: book.breaches.len(),
            breaches_in_period,
            breach_months: rules.commitment_breach_months,
            recent_breaches: recent.into_iter().take(PROFILE_BREACHES).cloned().collect(),
        })
    }

    /// A draft entry on `list` from commitment `id` and its breach, for review. Refused for a
    /// commitment without a recorded breach, and for a red list.
    pub fn propose_listing(
        &self,
        rules: &RuleSet,
        id: Uuid,
        list: &str,
    ) -> Result<Proposal, AppError> {
        let commitments = self.commitments()?;
        let commitment = commitments
            .commitment(id)
            .ok_or(AppError::CommitmentNotFound(id))?;
        let problem = |field: &str, message: String| {
            AppError::InvalidRequest(vec![(field.to_owned(), message)])
        };
        let list_def = match rules.list_id(list) {
            Some(list_id) => rules.list(list_id),
            None => {
                return Err(problem(
                    "list",
                    format!("unknown list `{list}`; GET /v1/lists lists the valid codes"),
                ))
            }
        };
        if list_def.kind == ListKind::Red {
            return Err(problem(
                "list",
                format!("`{list}` is a red list: a breach is proposed for a penalty list"),
            ));
        }
        let book = commitments.of(&commitment.subject).unwrap_or_default();
        let breaches: Vec<Breach> = book
            .breaches
            .iter()
            .filter(|b| b.commitment_id == Some(id))
            .cloned()
            .collect();
        let Some(breach) = breaches.first() else {
            return Err(problem(
                "commitment_id",
                format!("commitment `{id}` has no recorded breach: a listing is proposed only from one (POST /v1/feedback with action commitment_breached)"),
            ));
        };
        let entry = serde_json::json!({
            "entry_id": format!("DRAFT-{}", breach.breach_id),
            "list": list_def.code,
            "subject_id": commitment.subject.shown(),
            "reason": format!("违反信用承诺：{}", breach.reason),
            "basis_doc": commitment.text,
            "authority": breach.executing_department,
            "status": "active",
            "dispute": "none",
        });
        Ok(Proposal {
            status: "draft",
            in_force: false,
            entry,
            commitment,
            breaches,
        })
    }
}
