//! `POST /v1/decide` and `POST /v1/decide/batch`.

#[doc(hidden)]
pub mod bench_api;
mod request;
mod writer;

use std::sync::Arc;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::admission::Held;
use super::body;
use super::problem::{ApiError, FieldError, ItemError};
use super::view::RuleSetView;
use super::AppState;
use crate::engine::{self, BatchItem, Holdings, Outcome, Warning};
use crate::ident::SubjectId;
use crate::keys::Caller;
use crate::lists::source::ColdLookup;
use crate::lists::Entry;
use crate::register::{DecisionItem, Event, RequestFacts};
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;
use request::Context;
use writer::DecisionWriter;
pub(super) use writer::{Rendered, WarningView};

pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    let (subject, context) = request::read_decide(&mut body, &snapshot, clock(&state))?;
    let caller = req.extensions().get::<Caller>().cloned();
    state.check_replay(&req, caller.as_ref(), context.replay)?;

    let cold = super::cold_entries(&state, &snapshot, &[subject.key()]).await?;
    let holdings = Holdings {
        index: &snapshot.lists,
        extra: cold.entries.first().map_or(&[][..], |entries| &entries[..]),
    };
    let mut decision = engine::decide(
        &snapshot.rules,
        holdings,
        &subject,
        context.matter,
        context.at,
    )
    .map_err(|err| ApiError::undecidable(err, "subject.id"))?;
    if cold.unavailable {
        decision.warnings.push(Warning::ListsLeftOut);
    }
    state.count_decision(&snapshot, context.matter, decision.outcome, 1);
    // Never the full identifier: persons are masked (230202********1238).
    tracing::debug!(
        subject = %subject.masked(),
        matter = %snapshot.rules.matter(context.matter).code,
        decision = decision.outcome.as_str(),
        "decided"
    );
    // Sized for a typical decision, so writing it rarely reallocates.
    let mut body = Vec::with_capacity(1024);
    let rendered = state.rendered(&snapshot)?;
    let mut audit = state.register().map(|_| Vec::with_capacity(1));
    DecisionWriter::new(&rendered, &context)?.write(
        &mut body,
        snapshot.as_ref(),
        0,
        &subject,
        &decision,
        audit.as_mut(),
    )?;
    if let Some(items) = audit {
        state.record(|| decisions_event(&snapshot, &context, caller, items));
    }
    Ok(json_body(body))
}

pub async fn decide_batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Taken before the body is read; the answer holds it until it has been sent.
    let slot = state.admission.batch(&state)?;
    let mut body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    let (subjects, context) =
        request::read_batch(&mut body, &snapshot, state.limits.max_batch, clock(&state))?;
    let caller = req.extensions().get::<Caller>().cloned();
    state.check_replay(&req, caller.as_ref(), context.replay)?;
    // A batch counts against the key's rate limit by its subjects, not as one request.
    state.charge(caller.as_ref(), subjects.len())?;
    let keys: Vec<_> = subjects
        .iter()
        .filter_map(|s| s.as_ref().ok().map(SubjectId::key))
        .collect();
    let cold = super::cold_entries(&state, &snapshot, &keys).await?;

    let body = if subjects.len() < engine::PARALLEL_THRESHOLD {
        batch_body(&state, &snapshot, &context, caller, &subjects, &cold)
    } else {
        // Large batches leave the actix worker free: decide and serialise on rayon's threads.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let worker_state = state.clone();
        rayon::spawn(move || {
            let _ = tx.send(batch_body(
                &worker_state,
                &snapshot,
                &context,
                caller,
                &subjects,
                &cold,
            ));
        });
        rx.await
            .map_err(|_| ApiError::Internal("the batch worker stopped".into()))?
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(Held::with_slot(body?, slot)))
}

/// Now, and how far from it a request's `as_of` may be before the decision is a replay.
fn clock(state: &AppState) -> request::Clock {
    request::Clock {
        now: Timestamp::now(),
        max_as_of_skew: state.access.max_as_of_skew,
    }
}

/// The bytes written for one chunk of a batch, its outcomes and (with the register on) its
/// register items.
struct BatchChunk {
    bytes: Vec<u8>,
    summary: Summary,
    audit: Option<Vec<DecisionItem>>,
}

/// The register's event for a request's decisions.
fn decisions_event(
    snapshot: &Snapshot,
    context: &Context,
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
        },
        items,
    }
}

/// Bytes a batch item usually takes (an `allow` is about 250), so that a chunk's buffer rarely
/// grows.
const ITEM_BYTES: usize = 320;

/// Decides a parsed batch and serialises the answer.
fn batch_body(
    state: &AppState,
    snapshot: &Arc<Snapshot>,
    context: &Context,
    caller: Option<Caller>,
    subjects: &[Result<SubjectId, ApiError>],
    cold: &ColdLookup,
) -> Result<Vec<u8>, ApiError> {
    let ids: Vec<Option<SubjectId>> = subjects.iter().map(|s| s.as_ref().ok().cloned()).collect();
    // The lookup answered for the valid subjects only; line it up with every item.
    let mut found = cold.entries.iter();
    let aligned: Vec<Arc<[Entry]>> = if cold.entries.is_empty() {
        Vec::new()
    } else {
        ids.iter()
            .map(|id| {
                id.as_ref()
                    .and_then(|_| found.next().cloned())
                    .unwrap_or_else(|| Arc::from(Vec::new()))
            })
            .collect()
    };
    let rendered = state.rendered(snapshot)?;
    let writer = DecisionWriter::new(&rendered, context)?;
    let auditing = state.register().is_some();
    // Each chunk of items is decided and written in one pass, on rayon's threads for a large
    // batch; the chunks are then joined in order.
    let chunks = engine::decide_chunks(
        &snapshot.rules,
        |i| Holdings {
            index: &snapshot.lists,
            extra: aligned.get(i).map_or(&[][..], |entries| &entries[..]),
        },
        &ids,
        context.matter,
        context.at,
        |len| BatchChunk {
            bytes: Vec::with_capacity(len * ITEM_BYTES),
            summary: Summary::default(),
            audit: auditing.then(|| Vec::with_capacity(len)),
        },
        |chunk, index, decision| {
            write_item(
                snapshot,
                &writer,
                cold,
                chunk,
                index,
                &subjects[index],
                decision,
            )
        },
    )?;
    let mut summary = Summary::default();
    let results: usize = chunks.iter().map(|chunk| chunk.bytes.len()).sum();
    let mut body = Vec::with_capacity(results + 256);
    body.extend_from_slice(b"{\"results\":[");
    let mut audit = Vec::with_capacity(if auditing { subjects.len() } else { 0 });
    for chunk in chunks {
        summary.merge(&chunk.summary);
        body.extend_from_slice(&chunk.bytes);
        audit.extend(chunk.audit.into_iter().flatten());
    }
    state.record(|| decisions_event(snapshot, context, caller, audit));
    for (outcome, count) in [
        (Outcome::Allow, summary.allow),
        (Outcome::Flag, summary.flag),
        (Outcome::Block, summary.block),
    ] {
        state.count_decision(snapshot, context.matter, outcome, count);
    }
    close_batch(&mut body, summary, snapshot, context)?;
    Ok(body)
}

/// Closes a batch answer's `results` and writes the rest of the object after them.
fn close_batch(
    body: &mut Vec<u8>,
    summary: Summary,
    snapshot: &Snapshot,
    context: &Context,
) -> Result<(), ApiError> {
    body.extend_from_slice(b"],");
    // The rest of the object, written whole, joins the results after its opening brace.
    let rest = serde_json::to_vec(&BatchTail {
        summary,
        ruleset: RuleSetView::of(snapshot),
        lists_version: snapshot.lists_version,
        evaluated_at: &context.evaluated_at,
        replay: context.replay,
    })
    .map_err(|err| ApiError::Internal(err.to_string()))?;
    body.extend_from_slice(&rest[1..]);
    Ok(())
}

/// Writes batch item `index` into its chunk (after a comma unless it is the first of the
/// batch) and counts its outcome.
fn write_item(
    snapshot: &Snapshot,
    writer: &DecisionWriter,
    cold: &ColdLookup,
    chunk: &mut BatchChunk,
    index: usize,
    subject: &Result<SubjectId, ApiError>,
    decision: BatchItem<'_>,
) -> Result<(), ApiError> {
    let field = || format!("subjects[{index}].id");
    let outcome = match (subject, decision) {
        (Ok(subject), Some(Ok(mut decision))) => {
            if cold.unavailable {
                decision.warnings.push(Warning::ListsLeftOut);
            }
            Ok((subject, decision))
        }
        (_, Some(Err(err))) => Err(ApiError::undecidable(err, &field())),
        (Err(err), _) => Err(relocate(err, &field())),
        (Ok(_), None) => Err(ApiError::Internal(
            "a parsed subject was not decided".into(),
        )),
    };
    if index > 0 {
        chunk.bytes.push(b',');
    }
    match outcome {
        Ok((subject, decision)) => {
            chunk.summary.add(decision.outcome);
            writer.write(
                &mut chunk.bytes,
                snapshot,
                index,
                subject,
                &decision,
                chunk.audit.as_mut(),
            )
        }
        Err(err) => {
            chunk.summary.invalid += 1;
            let item = InvalidItem {
                index,
                error: err.to_item_error(),
            };
            serde_json::to_writer(&mut chunk.bytes, &item)
                .map_err(|err| ApiError::Internal(err.to_string()))
        }
    }
}

/// Re-points a batch item's error at the item's `id` field.
fn relocate(err: &ApiError, field: &str) -> ApiError {
    match err {
        ApiError::InvalidSubjectId(e) => {
            ApiError::InvalidSubjectId(FieldError::new(field, &e.message))
        }
        ApiError::InvalidRequest(errors) => ApiError::InvalidRequest(errors.clone()),
        other => ApiError::Internal(other.to_string()),
    }
}

fn json_body(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body)
}

/// A batch item whose subject could not be decided.
#[derive(Serialize)]
struct InvalidItem {
    index: usize,
    error: ItemError,
}

#[derive(Default, Serialize)]
struct Summary {
    allow: u64,
    flag: u64,
    block: u64,
    invalid: u64,
}

impl Summary {
    fn merge(&mut self, other: &Summary) {
        self.allow += other.allow;
        self.flag += other.flag;
        self.block += other.block;
        self.invalid += other.invalid;
    }

    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Allow => self.allow += 1,
            Outcome::Flag => self.flag += 1,
            Outcome::Block => self.block += 1,
        }
    }
}

/// The batch answer after `results`, which are written in chunks beforehand.
#[derive(Serialize)]
struct BatchTail<'a> {
    summary: Summary,
    ruleset: RuleSetView<'a>,
    lists_version: u64,
    evaluated_at: &'a str,
    /// Present only for a replay (as in each decision).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replay: bool,
}
