//! `POST /v1/decide` and `POST /v1/decide/batch`.

#[doc(hidden)]
pub mod bench_api;
mod request;
mod writer;

use std::borrow::Cow;
use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::admission::Held;
use super::body;
use super::openapi::{closed_object, codes, component, only_true, reference, scalar};
use super::problem::{ApiError, FieldError, ItemError, ProblemKind};
use super::view::RuleSetView;
use super::AppState;
use crate::app::{BatchOut, ColdHoldings, Service};
use crate::engine::{self, BatchItem, Outcome};
use crate::ident::SubjectId;
use crate::keys::Caller;
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;
use request::Subjects;
pub(in crate::http) use request::{query_context, Context};
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use uuid::Uuid;
use writer::DecisionWriter;
pub(super) use writer::{Rendered, WarningView};

#[utoipa::path(
    post,
    path = "/v1/decide",
    tag = "decisions",
    description = "Decides allow, flag or block for one subject in one matter, with every \
                   reason (measure, list entry, legal basis) and warning.",
    request_body(content = request::TypedDecide, example = json!({
        "subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement",
        "case_ref": "ZFCG-2026-0815", "as_of": "2026-11-22T10:00:00+08:00"})),
    responses((status = 200, description = "The decision", body = DecisionWriter)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidSubjectId,
        ProblemKind::IdCheckMismatch,
        ProblemKind::AmbiguousSubjectId,
        ProblemKind::UnknownMatter,
        ProblemKind::ReplayForbidden,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    let (subject, mut context) = request::read_decide(&mut body, &snapshot, clock(&state))?;
    let caller = req.extensions().get::<Caller>().cloned();
    context.request_id = crate::request_id::current();
    state.check_replay(&req, caller.as_ref(), context.replay)?;
    let rendered = state.rendered(&snapshot)?;
    let body = decided(
        &state.service,
        &snapshot,
        &rendered,
        &subject,
        &context,
        caller,
    )
    .await?;
    Ok(json_body(body))
}

/// The answer `POST /v1/decide` gives `body`, from what `service` holds, without a server:
/// what `jiangcheng decide` prints. Nobody asks, so no key is checked (a replay is anyone's,
/// as when the service runs open), and `service`'s register, if it has one, keeps the record.
pub async fn answer(service: &Service, body: &mut [u8]) -> Result<Vec<u8>, ApiError> {
    let snapshot = service.snapshot()?;
    let clock = request::Clock {
        now: Timestamp::now(),
        max_as_of_skew: super::AccessConfig::default().max_as_of_skew,
    };
    let (subject, context) = request::read_decide(body, &snapshot, clock)?;
    let rendered = Rendered::of(&snapshot).map_err(|err| ApiError::Internal(err.to_string()))?;
    decided(service, &snapshot, &rendered, &subject, &context, None).await
}

/// Decides for `subject` as the request says, with the cold lists it holds, and writes the
/// answer.
async fn decided(
    service: &Service,
    snapshot: &Arc<Snapshot>,
    rendered: &Rendered,
    subject: &SubjectId,
    context: &Context,
    caller: Option<Caller>,
) -> Result<Vec<u8>, ApiError> {
    let cold = service.holdings_of(snapshot, subject).await?;
    let decided = service.decide(snapshot, &cold, subject, context, caller)?;
    // Sized for a typical decision, so writing it rarely reallocates.
    let mut body = Vec::with_capacity(1024);
    DecisionWriter::new(rendered, context)?.write(
        &mut body,
        snapshot.as_ref(),
        decided.id,
        subject,
        &decided.decision,
    )?;
    Ok(body)
}

#[utoipa::path(
    post,
    path = "/v1/decide/batch",
    tag = "decisions",
    description = "Decides every subject of a list (a tender's bidders) in one matter; a subject \
                   that cannot be decided is an item with its error, the others are decided.",
    request_body(content = request::TypedBatch, example = json!({
        "matter": "construction_bidding", "as_of": "2026-11-22T10:00:00+08:00",
        "subjects": [{"id": "912302061276543275"}, {"id": "91230200MA1B2C3D8U"}]})),
    responses((status = 200, description = "Each subject's decision or error, in order, and their counts", body = BatchTail)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::UnknownMatter,
        ProblemKind::BatchTooLarge,
        ProblemKind::OverKeyBurst,
        ProblemKind::ReplayForbidden,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn decide_batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Taken before the body is read; the answer holds it until it has been sent.
    let slot = state.admission.batch(&state)?;
    let mut body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    let (subjects, mut context) =
        request::read_batch(&mut body, &snapshot, state.limits.max_batch, clock(&state))?;
    let caller = req.extensions().get::<Caller>().cloned();
    context.request_id = crate::request_id::current();
    state.check_replay(&req, caller.as_ref(), context.replay)?;
    // A batch counts against the key's rate limit by its subjects, not as one request.
    state.charge(caller.as_ref(), subjects.len())?;
    let ids: Vec<Option<SubjectId>> = subjects.iter().map(|s| s.as_ref().ok().cloned()).collect();
    let cold = state.service.batch_holdings(&snapshot, &ids).await?;
    let batch = Batch {
        snapshot,
        context,
        caller,
        subjects,
        ids,
        cold,
    };
    let body = if batch.subjects.len() < engine::PARALLEL_THRESHOLD {
        batch_body(&state, batch)
    } else {
        // Large batches leave the actix worker free: decide and serialise on rayon's threads.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let worker_state = state.clone();
        rayon::spawn(move || {
            let _ = tx.send(batch_body(&worker_state, batch));
        });
        rx.await
            .map_err(|_| ApiError::Internal("the batch worker stopped".into()))?
    };
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(Held::with_slot(body?, slot)))
}

/// Now, and how far from it a request's `as_of` may be before the decision is a replay.
pub(in crate::http) fn clock(state: &AppState) -> request::Clock {
    request::Clock {
        now: Timestamp::now(),
        max_as_of_skew: state.access.max_as_of_skew,
    }
}

/// A parsed batch and what its subjects hold, ready to decide.
struct Batch {
    snapshot: Arc<Snapshot>,
    context: Context,
    caller: Option<Caller>,
    subjects: Subjects,
    /// Each item's subject, `None` where it did not parse.
    ids: Vec<Option<SubjectId>>,
    cold: ColdHoldings,
}

/// The bytes written for one chunk of a batch, and its outcomes.
struct BatchChunk {
    bytes: Vec<u8>,
    summary: Summary,
}

/// Bytes a batch item usually takes (an `allow` is about 250), so that a chunk's buffer rarely
/// grows.
const ITEM_BYTES: usize = 320;

/// Writes a batch's items as JSON, chunk by chunk.
struct ItemWriter<'a> {
    snapshot: &'a Snapshot,
    writer: DecisionWriter<'a>,
    subjects: &'a [Result<SubjectId, ApiError>],
}

impl BatchOut for ItemWriter<'_> {
    type Chunk = BatchChunk;
    type Error = ApiError;

    fn chunk(&self, len: usize) -> BatchChunk {
        BatchChunk {
            bytes: Vec::with_capacity(len * ITEM_BYTES),
            summary: Summary::default(),
        }
    }

    fn write(
        &self,
        chunk: &mut BatchChunk,
        index: usize,
        id: Uuid,
        item: BatchItem<'_>,
    ) -> Result<(), ApiError> {
        write_item(
            self.snapshot,
            &self.writer,
            chunk,
            (index, id),
            &self.subjects[index],
            item,
        )
    }
}

/// Decides a parsed batch and serialises the answer.
fn batch_body(state: &AppState, batch: Batch) -> Result<Vec<u8>, ApiError> {
    let snapshot = &batch.snapshot;
    let (results, summary) = write_results(
        state,
        &Items {
            snapshot,
            context: &batch.context,
            subjects: &batch.subjects,
            ids: &batch.ids,
            cold: &batch.cold,
        },
        batch.caller,
    )?;
    let mut body = Vec::with_capacity(results.len() + 256);
    body.extend_from_slice(b"{\"results\":[");
    body.extend_from_slice(&results);
    close_batch(&mut body, summary, snapshot, &batch.context)?;
    Ok(body)
}

/// The items of a batch to decide: each subject as read, as parsed, and what it holds.
pub(in crate::http) struct Items<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub context: &'a Context,
    pub subjects: &'a [Result<SubjectId, ApiError>],
    /// Each item's subject, `None` where it did not parse.
    pub ids: &'a [Option<SubjectId>],
    pub cold: &'a ColdHoldings,
}

/// Decides `items`, counts and records the decisions, and writes them as a batch answer's
/// `results` (between the brackets), with their summary.
pub(in crate::http) fn write_results(
    state: &AppState,
    items: &Items<'_>,
    caller: Option<Caller>,
) -> Result<(Vec<u8>, Summary), ApiError> {
    let snapshot = items.snapshot;
    let rendered = state.rendered(snapshot)?;
    let out = ItemWriter {
        snapshot,
        writer: DecisionWriter::new(&rendered, items.context)?,
        subjects: items.subjects,
    };
    // Each chunk of items is decided and written in one pass, on rayon's threads for a large
    // batch; the chunks are then joined in order.
    let chunks =
        state
            .service
            .decide_batch(snapshot, items.cold, items.ids, items.context, caller, &out)?;
    let mut summary = Summary::default();
    let mut results = Vec::with_capacity(chunks.iter().map(|chunk| chunk.bytes.len()).sum());
    for chunk in chunks {
        summary.merge(&chunk.summary);
        results.extend_from_slice(&chunk.bytes);
    }
    Ok((results, summary))
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

/// Writes batch item `index`, whose decision has id `id`, into its chunk (after a comma
/// unless it is the first of the batch) and counts its outcome.
fn write_item(
    snapshot: &Snapshot,
    writer: &DecisionWriter,
    chunk: &mut BatchChunk,
    (index, id): (usize, Uuid),
    subject: &Result<SubjectId, ApiError>,
    decision: BatchItem<'_>,
) -> Result<(), ApiError> {
    let field = || format!("subjects[{index}].id");
    let outcome = match (subject, decision) {
        (Ok(subject), Some(Ok(decision))) => Ok((subject, decision)),
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
            writer.write(&mut chunk.bytes, snapshot, id, subject, &decision)
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
    // Built directly, not with the builder, which checks each header for an error it may carry;
    // a static value: parsing and copying the media type took an allocation per answer.
    let mut response = HttpResponse::with_body(StatusCode::OK, body).map_into_boxed_body();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A batch item whose subject could not be decided.
#[derive(Serialize, utoipa::ToSchema)]
struct InvalidItem {
    index: usize,
    error: ItemError,
}

/// How many subjects of a batch were allowed, flagged, blocked, and could not be decided.
#[derive(Default, Serialize, utoipa::ToSchema)]
#[schema(as = BatchSummary)]
pub(in crate::http) struct Summary {
    pub allow: u64,
    pub flag: u64,
    pub block: u64,
    pub invalid: u64,
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
pub(super) struct BatchTail<'a> {
    summary: Summary,
    ruleset: RuleSetView<'a>,
    lists_version: u64,
    evaluated_at: &'a str,
    /// Present only for a replay (as in each decision).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replay: bool,
}

/// The schema of the whole batch answer, field for field: `results` is written by hand before
/// this tail, each item a decision or an item error.
impl utoipa::PartialSchema for BatchTail<'_> {
    fn schema() -> RefOr<Schema> {
        let result = OneOfBuilder::new()
            .item(reference::<DecisionWriter>())
            .item(reference::<InvalidItem>());
        let required = vec![
            ("results", ArrayBuilder::new().items(result).into()),
            ("summary", reference::<Summary>()),
            ("ruleset", reference::<RuleSetView>()),
            ("lists_version", scalar(Type::Integer)),
            ("evaluated_at", scalar(Type::String)),
        ];
        closed_object(required, vec![("replay", only_true())])
    }
}

impl utoipa::ToSchema for BatchTail<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Batch")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        component::<DecisionWriter>(schemas);
        component::<InvalidItem>(schemas);
        component::<Summary>(schemas);
        component::<RuleSetView>(schemas);
    }
}
