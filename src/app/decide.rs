//! Deciding: the subjects' holdings (the index, and cold lists looked up off the async workers
//! when the cache cannot answer), the engine, the decision counters and the register's event.

use std::borrow::Cow;
use std::sync::Arc;

use uuid::Uuid;

use super::{AppError, Service};
use crate::engine::{self, BatchItem, Decision, Holdings, Outcome, Warning};
use crate::ident::{self, IdType, SubjectId, SubjectKey};
use crate::keys::Caller;
use crate::lists::source::ColdLookup;
use crate::lists::Entry;
use crate::register::{DecisionItem, Event, RequestFacts};
use crate::request_id::RequestId;
use crate::ruleset::{MatterId, RuleSet};
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// What every decision of one request shares.
#[derive(Debug)]
pub struct DecisionContext {
    pub matter: MatterId,
    pub at: Timestamp,
    /// `at` as printed: once per request, however many subjects it decides.
    pub evaluated_at: Arc<str>,
    pub department: Option<String>,
    pub case_ref: Option<String>,
    /// Whether `as_of` is further from the server's clock than the allowed skew: a decision
    /// about another instant than now, which needs the `replay` scope and is marked as such.
    pub replay: bool,
    /// Kept in the request's register records.
    pub request_id: Option<RequestId>,
}

/// The ids of one request's decisions. They are UUIDv7: the request takes one from the
/// process-wide ordered sequence, and its `n`th decision's id is that one plus `n`, so a
/// batch's ids follow its results' order without a clock read and a lock per decision.
#[derive(Debug, Clone, Copy)]
pub struct DecisionIds {
    first: u128,
}

impl DecisionIds {
    pub fn new() -> DecisionIds {
        DecisionIds {
            first: Uuid::now_v7().as_u128(),
        }
    }

    /// The id of decision `n` of the request.
    pub fn nth(self, n: usize) -> Uuid {
        // Only the 62 bits after the variant change, so every id stays a valid UUIDv7.
        const RAND_B: u128 = (1 << 62) - 1;
        Uuid::from_u128(self.first & !RAND_B | self.first.wrapping_add(n as u128) & RAND_B)
    }
}

impl Default for DecisionIds {
    fn default() -> DecisionIds {
        DecisionIds::new()
    }
}

/// The entries each subject of a request holds on cold lists, which the index does not hold,
/// item by item (none at all when there are no cold lists).
pub struct ColdHoldings {
    entries: Vec<Arc<[Entry]>>,
    /// Item by item (none when all were looked up): the item's cold entries could not all be
    /// looked up, so its decision is made without them and says so.
    unavailable: Vec<bool>,
}

impl ColdHoldings {
    /// What item `i` holds, index and cold lists together.
    pub(super) fn of<'s>(&'s self, snapshot: &'s Snapshot, i: usize) -> Holdings<'s> {
        Holdings {
            index: &snapshot.lists,
            extra: self.entries.get(i).map_or(&[][..], |entries| &entries[..]),
        }
    }

    /// Whether the cold lists were left out of some item.
    pub(super) fn unavailable(&self) -> bool {
        self.unavailable.contains(&true)
    }

    /// Marks item `i`'s decision if it was made without (all of) its cold lists.
    fn mark(&self, i: usize, decision: &mut Decision<'_>) {
        if self.unavailable.get(i).copied().unwrap_or(false) {
            decision.warnings.push(Warning::ListsLeftOut);
        }
    }
}

/// A decision and its id.
pub struct Decided<'s> {
    pub id: Uuid,
    pub decision: Decision<'s>,
}

/// Where a batch's decisions are written, chunk by chunk (on rayon's threads for a large
/// batch).
pub trait BatchOut: Sync {
    type Chunk: Send;
    type Error: Send + From<AppError>;

    /// A chunk for `len` items.
    fn chunk(&self, len: usize) -> Self::Chunk;

    /// Writes item `index`: its decision (with its id), why it could not be decided, or
    /// `None` for an item whose subject did not parse.
    fn write(
        &self,
        chunk: &mut Self::Chunk,
        index: usize,
        id: Uuid,
        item: BatchItem<'_>,
    ) -> Result<(), Self::Error>;
}

/// One chunk of a batch: what was written, the outcomes counted, and (with the register on)
/// the register's items.
struct Chunk<C> {
    out: C,
    outcomes: [u64; 3],
    items: Option<Vec<DecisionItem>>,
}

impl Service {
    /// What `subject` holds beyond the index.
    pub async fn holdings_of(
        &self,
        snapshot: &Arc<Snapshot>,
        subject: &SubjectId,
    ) -> Result<ColdHoldings, AppError> {
        let found = self.cold_entries(snapshot, &[subject.key()]).await?;
        Ok(ColdHoldings {
            entries: found.entries,
            unavailable: found.unavailable,
        })
    }

    /// What each subject of a batch holds beyond the index, lined up with its items (`None`
    /// for an item whose subject did not parse).
    pub async fn batch_holdings(
        &self,
        snapshot: &Arc<Snapshot>,
        subjects: &[Option<SubjectId>],
    ) -> Result<ColdHoldings, AppError> {
        let keys: Vec<_> = subjects.iter().flatten().map(SubjectId::key).collect();
        let found = self.cold_entries(snapshot, &keys).await?;
        // The lookup answered for the valid subjects only; line it up with every item.
        Ok(ColdHoldings {
            entries: lined_up(subjects, found.entries, || Arc::from(Vec::new())),
            unavailable: lined_up(subjects, found.unavailable, || false),
        })
    }

    /// The entries outside the index that each subject's decision needs: its own cold-list
    /// entries and those naming it (see
    /// [`Source::outside_entries`](crate::lists::source::Source::outside_entries)).
    async fn cold_entries(
        &self,
        snapshot: &Arc<Snapshot>,
        subjects: &[SubjectKey],
    ) -> Result<ColdLookup, AppError> {
        self.snapshots
            .lists()
            .outside_entries(&snapshot.rules, &snapshot.cold_names, subjects)
            .await
            .map_err(|err| AppError::Internal(err.to_string()))
    }

    /// Decides `subject` from `snapshot` and what it holds, counts the decision and hands it
    /// to the register.
    pub fn decide<'s>(
        &self,
        snapshot: &'s Snapshot,
        cold: &'s ColdHoldings,
        subject: &SubjectId,
        context: &DecisionContext,
        caller: Option<Caller>,
    ) -> Result<Decided<'s>, AppError> {
        let mut decision = engine::decide(
            &snapshot.rules,
            cold.of(snapshot, 0),
            subject,
            context.matter,
            context.at,
        )?;
        cold.mark(0, &mut decision);
        decision.commitment = self.offer(
            snapshot,
            cold.of(snapshot, 0),
            subject,
            context.matter,
            context.at,
        );
        self.count_decision(snapshot, context.matter, decision.outcome, 1);
        // Never the full identifier: persons are masked (230202********1238).
        tracing::debug!(
            subject = %subject.masked(),
            matter = %snapshot.rules.matter(context.matter).code,
            decision = decision.outcome.as_str(),
            "decided"
        );
        let id = DecisionIds::new().nth(0);
        if self.register.is_some() {
            let item = register_item(&snapshot.rules, id, *subject, &decision)?;
            self.record(|| decisions_event(snapshot, context, caller, vec![item]));
        }
        Ok(Decided { id, decision })
    }

    /// Decides a batch's subjects (`None` for an item that did not parse) and has `out`
    /// write each item, a chunk of items at a time, in one pass; counts the decisions and
    /// hands them to the register. Returns the chunks in order.
    pub fn decide_batch<'s, O: BatchOut>(
        &self,
        snapshot: &'s Snapshot,
        cold: &'s ColdHoldings,
        subjects: &[Option<SubjectId>],
        context: &DecisionContext,
        caller: Option<Caller>,
        out: &O,
    ) -> Result<Vec<O::Chunk>, O::Error> {
        let ids = DecisionIds::new();
        let registering = self.register.is_some();
        let offers = snapshot.rules.matter(context.matter).commitment;
        let chunks = engine::decide_chunks(
            &snapshot.rules,
            |i| cold.of(snapshot, i),
            subjects,
            context.matter,
            context.at,
            |len| Chunk {
                out: out.chunk(len),
                outcomes: [0; 3],
                items: registering.then(|| Vec::with_capacity(len)),
            },
            |chunk, index, mut item| {
                let id = ids.nth(index);
                if let (Some(subject), Some(Ok(decision))) = (&subjects[index], &mut item) {
                    cold.mark(index, decision);
                    if offers {
                        decision.commitment = self.offer(
                            snapshot,
                            cold.of(snapshot, index),
                            subject,
                            context.matter,
                            context.at,
                        );
                    }
                    chunk.outcomes[decision.outcome as usize] += 1;
                    if let Some(items) = &mut chunk.items {
                        items.push(register_item(&snapshot.rules, id, *subject, decision)?);
                    }
                }
                out.write(&mut chunk.out, index, id, item)
            },
        )?;
        let mut outcomes = [0; 3];
        let mut items = Vec::with_capacity(if registering { subjects.len() } else { 0 });
        let written = chunks
            .into_iter()
            .map(|chunk| {
                for (total, count) in outcomes.iter_mut().zip(chunk.outcomes) {
                    *total += count;
                }
                items.extend(chunk.items.into_iter().flatten());
                chunk.out
            })
            .collect();
        self.record(|| decisions_event(snapshot, context, caller, items));
        for outcome in Outcome::ALL {
            self.count_decision(
                snapshot,
                context.matter,
                outcome,
                outcomes[outcome as usize],
            );
        }
        Ok(written)
    }
}

/// `answered`, one for each subject that parsed, lined up with every item (`missing` for one
/// that did not); none when there are none.
fn lined_up<T>(
    subjects: &[Option<SubjectId>],
    answered: Vec<T>,
    missing: impl Fn() -> T,
) -> Vec<T> {
    if answered.is_empty() {
        return Vec::new();
    }
    let mut answered = answered.into_iter();
    subjects
        .iter()
        .map(|subject| {
            subject
                .as_ref()
                .and_then(|_| answered.next())
                .unwrap_or_else(&missing)
        })
        .collect()
}

/// The register's item for one decision: its reasons' entries by id, in the engine's order,
/// and the subject's name on the first of them that lists the subject itself (else, for a
/// person reached only through an entry that names them, the name that entry gives them).
fn register_item(
    rules: &RuleSet,
    id: Uuid,
    subject: SubjectId,
    decision: &Decision<'_>,
) -> Result<DecisionItem, AppError> {
    let mut name = None;
    let mut entry_ids = Vec::with_capacity(decision.reasons.len());
    for reason in &decision.reasons {
        let named = reason.entry.naming()?;
        if name.is_none() && reason.via.is_none() {
            name = named.subject_name;
        }
        entry_ids.push(named.entry_id);
    }
    if name.is_none() {
        if let Some(reason) = decision.reasons.iter().find(|r| r.via.is_some()) {
            let key = subject.key();
            name = (reason.entry.record(rules)?.responsible_persons.into_iter())
                .find(|p| ident::parse_as(&p.id, IdType::ResidentId).map(|id| id.key()) == Ok(key))
                .and_then(|p| p.name.map(Cow::into_owned));
        }
    }
    let suppressed_by = match &decision.rewards_suppressed_by {
        Some(entry) => Some(entry.entry_id()?.into_owned()),
        None => None,
    };
    Ok(DecisionItem::of(
        id,
        subject,
        decision,
        entry_ids,
        suppressed_by,
        name,
    ))
}

/// The register's event for a request's decisions.
fn decisions_event(
    snapshot: &Snapshot,
    context: &DecisionContext,
    caller: Option<Caller>,
    items: Vec<DecisionItem>,
) -> Event {
    Event::Decisions {
        facts: RequestFacts {
            rules: Arc::clone(&snapshot.rules),
            lists_version: snapshot.lists_version,
            matter: context.matter,
            evaluated_at: Arc::clone(&context.evaluated_at),
            caller,
            department: context.department.clone(),
            case_ref: context.case_ref.clone(),
            replay: context.replay,
            request_id: context.request_id.clone(),
        },
        items,
    }
}
