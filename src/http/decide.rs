//! `POST /v1/decide` and `POST /v1/decide/batch`.

use std::borrow::Cow;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use simd_json::prelude::*;

use super::body::{self, Fields, Object};
use super::problem::{ApiError, FieldError, ItemError};
use super::view::RuleSetView;
use super::AppState;
use std::sync::{Arc, Weak};

use crate::engine::{self, BatchItem, DecideError, Decision, Outcome, Reason, Warning};
use crate::ident::{self, IdType, SubjectId};
use crate::lists::cold::ColdLookup;
use crate::lists::Entry;
use crate::ruleset::{MatterId, RuleSet};
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// Longest `department` and `case_ref` accepted (they are recorded, not interpreted).
const MAX_LABEL_LEN: usize = 128;

/// What every decision of one request shares.
struct Context {
    matter: MatterId,
    at: Timestamp,
    /// `at` as printed: once per request, however many subjects it decides.
    evaluated_at: Arc<str>,
    department: Option<String>,
    case_ref: Option<String>,
}

pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    let value = body::parse(&mut body)?;
    let root = body::root(&value)?;
    let mut fields = Fields::default();
    let subject = fields
        .object(root, "subject", "subject")
        .and_then(|s| read_subject(&mut fields, s, "subject.id", "subject.id_type"));
    let context = read_context(&mut fields, root, &snapshot);
    if let Some(Err(bad_id)) = &subject {
        if !fields.errors.is_empty() {
            fields.errors.push(bad_id.clone());
        }
    }
    fields.finish()?;
    let (Some(subject), Some(context)) = (subject, context) else {
        unreachable!("fields.finish() refuses a request with a missing part")
    };
    let subject = subject.map_err(ApiError::InvalidSubjectId)?;
    let context = context?;

    let cold = super::cold_entries(&state, &snapshot, &[subject.key()]).await?;
    let cold_entries = cold.entries.first().map_or(&[][..], |entries| &entries[..]);
    let mut decision = engine::decide_with_cold(
        &snapshot.rules,
        &snapshot.lists,
        cold_entries,
        &subject,
        context.matter,
        context.at,
    )
    .map_err(|err| check_mismatch_error(err, "subject.id"))?;
    if cold.unavailable {
        decision.warnings.push(Warning::ColdListUnavailable);
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
    DecisionWriter::new(&rendered, &context)?.write(
        &mut body,
        snapshot.as_ref(),
        0,
        &subject,
        &decision,
    )?;
    Ok(json_body(body))
}

pub async fn decide_batch(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let snapshot = state.snapshot()?;
    let value = body::parse(&mut body)?;
    let root = body::root(&value)?;
    let mut fields = Fields::default();
    let subjects = fields.array(root, "subjects", "subjects");
    let context = read_context(&mut fields, root, &snapshot);
    if let Some(items) = subjects {
        if items.is_empty() {
            fields.push("subjects", "must hold at least one subject");
        }
        if items.len() > state.limits.max_batch {
            return Err(ApiError::BatchTooLarge {
                got: items.len(),
                limit: state.limits.max_batch,
            });
        }
    }
    fields.finish()?;
    let (Some(items), Some(context)) = (subjects, context) else {
        unreachable!("fields.finish() refuses a request with a missing part")
    };
    let context = context?;
    let subjects: Vec<Result<SubjectId, ApiError>> = if items.len() < engine::PARALLEL_THRESHOLD {
        items.iter().enumerate().map(batch_subject).collect()
    } else {
        use rayon::prelude::*;
        items.par_iter().enumerate().map(batch_subject).collect()
    };
    drop(value);
    let keys: Vec<_> = subjects
        .iter()
        .filter_map(|s| s.as_ref().ok().map(SubjectId::key))
        .collect();
    let cold = super::cold_entries(&state, &snapshot, &keys).await?;

    let body = if subjects.len() < engine::PARALLEL_THRESHOLD {
        batch_body(&state, &snapshot, &context, &subjects, &cold)
    } else {
        // Large batches leave the actix worker free: decide and serialise on rayon's threads.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let worker_state = state.clone();
        rayon::spawn(move || {
            let _ = tx.send(batch_body(
                &worker_state,
                &snapshot,
                &context,
                &subjects,
                &cold,
            ));
        });
        rx.await
            .map_err(|_| ApiError::Internal("the batch worker stopped".into()))?
    };
    Ok(json_body(body?))
}

/// Reads item `i` of `subjects`.
fn batch_subject((i, item): (usize, &simd_json::BorrowedValue<'_>)) -> Result<SubjectId, ApiError> {
    if let Some(Ok(subject)) = plain_subject(item) {
        return Ok(subject);
    }
    // Everything else is read field by field, so that each problem is named.
    let path = format!("subjects[{i}]");
    let object = item.as_object().ok_or_else(|| {
        ApiError::InvalidRequest(vec![FieldError::new(
            &path,
            format!("must be an object, not {}", body::type_name(item)),
        )])
    })?;
    let mut fields = Fields::default();
    let (id_path, type_path) = (format!("{path}.id"), format!("{path}.id_type"));
    let subject = read_subject(&mut fields, object, &id_path, &type_path);
    fields.finish()?;
    match subject {
        Some(parsed) => parsed.map_err(ApiError::InvalidSubjectId),
        None => unreachable!("fields.finish() refuses a subject without an id"),
    }
}

/// The common batch item `{"id": "…"}`, parsed without building field paths for messages that
/// a valid item never needs.
fn plain_subject(item: &simd_json::BorrowedValue<'_>) -> Option<Result<SubjectId, ident::IdError>> {
    let object = item.as_object()?;
    if object.len() != 1 {
        return None;
    }
    Some(ident::parse(object.get("id")?.as_str()?))
}

/// The bytes written for one chunk of a batch, and its outcomes.
struct BatchChunk {
    bytes: Vec<u8>,
    summary: Summary,
}

/// Bytes a batch item usually takes (an `allow` is about 250), so that a chunk's buffer rarely
/// grows.
const ITEM_BYTES: usize = 320;

/// Decides a parsed batch and serialises the answer.
fn batch_body(
    state: &AppState,
    snapshot: &Arc<Snapshot>,
    context: &Context,
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
    // Each chunk of items is decided and written in one pass, on rayon's threads for a large
    // batch; the chunks are then joined in order.
    let chunks = engine::decide_chunks(
        &snapshot.rules,
        &snapshot.lists,
        &aligned,
        &ids,
        context.matter,
        context.at,
        |len| BatchChunk {
            bytes: Vec::with_capacity(len * ITEM_BYTES),
            summary: Summary::default(),
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
    for chunk in &chunks {
        summary.merge(&chunk.summary);
        body.extend_from_slice(&chunk.bytes);
    }
    drop(chunks);
    body.extend_from_slice(b"],");
    for (outcome, count) in [
        (Outcome::Allow, summary.allow),
        (Outcome::Flag, summary.flag),
        (Outcome::Block, summary.block),
    ] {
        state.count_decision(snapshot, context.matter, outcome, count);
    }
    // The rest of the object, written whole, joins the results after its opening brace.
    let rest = serde_json::to_vec(&BatchTail {
        summary,
        ruleset: RuleSetView::of(snapshot),
        lists_version: snapshot.lists_version,
        evaluated_at: &context.evaluated_at,
    })
    .map_err(|err| ApiError::Internal(err.to_string()))?;
    body.extend_from_slice(&rest[1..]);
    Ok(body)
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
                decision.warnings.push(Warning::ColdListUnavailable);
            }
            Ok((subject, decision))
        }
        (_, Some(Err(err))) => Err(check_mismatch_error(err, &field())),
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
            writer.write(&mut chunk.bytes, snapshot, index, subject, &decision)
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

/// Reads `{"id": …, "id_type": …}`, whose members' paths are given for messages: `None` when
/// a structural problem was pushed to `fields`, `Some(Err)` when the identifier itself is
/// malformed.
fn read_subject(
    fields: &mut Fields,
    subject: &Object<'_>,
    id_path: &str,
    type_path: &str,
) -> Option<Result<SubjectId, FieldError>> {
    let id = fields.str(subject, "id", id_path);
    let id_type =
        fields
            .opt_str(subject, "id_type", type_path)
            .and_then(|t| match t.parse::<IdType>() {
                Ok(id_type) => Some(id_type),
                Err(_) => {
                    fields.push(
                        type_path,
                        format!("must be `uscc` or `resident_id`, not `{t}`"),
                    );
                    None
                }
            });
    let id = id?;
    let parsed = match id_type {
        Some(id_type) => ident::parse_as(id, id_type),
        None => ident::parse(id),
    };
    Some(parsed.map_err(|err| FieldError::new(id_path, err.to_string())))
}

/// Reads `matter`, `as_of`, `department` and `case_ref`; an unknown matter is a 422, not a 400.
fn read_context(
    fields: &mut Fields,
    root: &Object<'_>,
    snapshot: &Snapshot,
) -> Option<Result<Context, ApiError>> {
    let matter = fields.str(root, "matter", "matter");
    let as_of =
        fields
            .opt_str(root, "as_of", "as_of")
            .and_then(|text| match Timestamp::parse(text) {
                Ok(at) => Some(at),
                Err(err) => {
                    fields.push("as_of", err.to_string());
                    None
                }
            });
    let mut label = |key: &str| {
        let text = fields.opt_str(root, key, key)?;
        if text.len() > MAX_LABEL_LEN {
            fields.push(key, format!("is longer than {MAX_LABEL_LEN} bytes"));
            return None;
        }
        Some(text.to_owned())
    };
    let department = label("department");
    let case_ref = label("case_ref");
    let matter = matter?;
    Some(match snapshot.rules.matter_id(matter) {
        Some(matter) => {
            let at = as_of.unwrap_or_else(Timestamp::now);
            Ok(Context {
                matter,
                at,
                evaluated_at: at.printed(),
                department,
                case_ref,
            })
        }
        None => Err(ApiError::UnknownMatter(matter.to_owned())),
    })
}

fn check_mismatch_error(err: DecideError, field: &str) -> ApiError {
    ApiError::IdCheckMismatch(FieldError::new(field, err.to_string()))
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

// === response views ===

/// The parts of a decision's JSON that depend only on the snapshot, written once per snapshot
/// rather than once per request: escaping them was the largest cost of writing a decision.
pub(super) struct Rendered {
    /// The snapshot they were rendered from (not kept alive by them).
    snapshot: Weak<Snapshot>,
    /// By matter index: `,"matter":"…","reasons":[`.
    matters: Vec<Vec<u8>>,
    /// `,"ruleset":{…},"lists_version":…,"evaluated_at":"`.
    shared: Vec<u8>,
}

/// The part of a decision that is the same for every decision of a snapshot.
#[derive(Serialize)]
struct SharedPart<'a> {
    ruleset: RuleSetView<'a>,
    lists_version: u64,
    evaluated_at: &'a str,
}

impl Rendered {
    fn of(snapshot: &Arc<Snapshot>) -> Result<Rendered, serde_json::Error> {
        let matters = snapshot
            .rules
            .matters()
            .map(|(_, matter)| {
                let mut part = b",\"matter\":".to_vec();
                serde_json::to_writer(&mut part, &matter.code)?;
                part.extend_from_slice(b",\"reasons\":[");
                Ok(part)
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let mut shared = serde_json::to_vec(&SharedPart {
            ruleset: RuleSetView::of(snapshot),
            lists_version: snapshot.lists_version,
            evaluated_at: "",
        })?;
        // `{"ruleset":…,"evaluated_at":""}` becomes `,"ruleset":…,"evaluated_at":"`.
        shared[0] = b',';
        shared.truncate(shared.len() - 2);
        Ok(Rendered {
            snapshot: Arc::downgrade(snapshot),
            matters,
            shared,
        })
    }
}

impl AppState {
    /// The rendered parts of the snapshot a request decides from.
    fn rendered(&self, snapshot: &Arc<Snapshot>) -> Result<Arc<Rendered>, ApiError> {
        if let Some(rendered) = self.rendered.load_full() {
            if std::ptr::eq(rendered.snapshot.as_ptr(), Arc::as_ptr(snapshot)) {
                return Ok(rendered);
            }
        }
        let rendered =
            Arc::new(Rendered::of(snapshot).map_err(|err| ApiError::Internal(err.to_string()))?);
        self.rendered.store(Some(Arc::clone(&rendered)));
        Ok(rendered)
    }
}

/// Writes decisions as JSON. What every decision of a request shares (matter, rule set, list
/// version, instant, department, case reference) is put together once per request from the
/// snapshot's rendered parts; each decision adds its id, outcome, subject, reasons and
/// warnings. Fixed keys are copied as they are, and only text that may need it (entry ids,
/// names, rule-set prose, the caller's strings) goes through serde_json's escaping.
///
/// Decision ids are UUIDv7: the request takes one from the process-wide ordered sequence, and
/// its `n`th decision's id is that one plus `n`, so a batch's ids follow its results' order
/// without a clock read and a lock per decision.
struct DecisionWriter<'r> {
    first_id: u128,
    /// `,"matter":"…","reasons":[`
    matter: &'r [u8],
    /// `,"ruleset":{…},"lists_version":…,"evaluated_at":"…"` and the caller's references, and
    /// the closing brace.
    tail: Vec<u8>,
}

impl<'r> DecisionWriter<'r> {
    fn new(rendered: &'r Rendered, context: &Context) -> Result<DecisionWriter<'r>, ApiError> {
        let internal = |err: serde_json::Error| ApiError::Internal(err.to_string());
        let mut tail = Vec::with_capacity(rendered.shared.len() + 64);
        tail.extend_from_slice(&rendered.shared);
        // The printed instant is digits and punctuation: nothing to escape.
        tail.extend_from_slice(context.evaluated_at.as_bytes());
        tail.push(b'"');
        for (key, value) in [
            (&b",\"department\":"[..], &context.department),
            (b",\"case_ref\":", &context.case_ref),
        ] {
            if let Some(value) = value {
                tail.extend_from_slice(key);
                serde_json::to_writer(&mut tail, value).map_err(internal)?;
            }
        }
        tail.push(b'}');
        Ok(DecisionWriter {
            first_id: uuid::Uuid::now_v7().as_u128(),
            matter: &rendered.matters[context.matter.index()],
            tail,
        })
    }

    fn write(
        &self,
        out: &mut Vec<u8>,
        snapshot: &Snapshot,
        n: usize,
        subject: &SubjectId,
        decision: &Decision<'_>,
    ) -> Result<(), ApiError> {
        let internal = |err: serde_json::Error| ApiError::Internal(err.to_string());
        // Only the 62 bits after the variant change, so every id stays a valid UUIDv7.
        const RAND_B: u128 = (1 << 62) - 1;
        let id = self.first_id & !RAND_B | self.first_id.wrapping_add(n as u128) & RAND_B;
        let id = uuid::Uuid::from_u128(id);
        let mut uuid = uuid::Uuid::encode_buffer();
        // The id is hexadecimal, the codes are fixed ASCII words, the identifier is normalised
        // to digits and capitals: none needs escaping.
        for part in [
            "{\"decision_id\":\"",
            id.hyphenated().encode_lower(&mut uuid),
            "\",\"decision\":\"",
            decision.outcome.as_str(),
            "\",\"subject\":{\"id\":\"",
            subject.as_str(),
            "\",\"kind\":\"",
            subject.kind().as_str(),
            "\",\"id_type\":\"",
            subject.id_type().as_str(),
            "\"}",
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(self.matter);
        let mut reasons = decision
            .reasons
            .iter()
            .map(|reason| reason_view(&snapshot.rules, reason))
            .collect::<Result<Vec<_>, _>>()?;
        // The engine orders reasons by severity, topic and measure; entries under one measure
        // are ordered here, by their ids, which are text the engine does not read.
        for tied in reasons
            .chunk_by_mut(|a, b| (a.effect, a.topic, a.measure) == (b.effect, b.topic, b.measure))
        {
            tied.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
        }
        for (i, reason) in reasons.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, reason).map_err(internal)?;
        }
        out.extend_from_slice(b"],\"warnings\":[");
        for (i, warning) in decision.warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, &WarningView::of(warning)).map_err(internal)?;
        }
        out.push(b']');
        out.extend_from_slice(&self.tail);
        Ok(())
    }
}

#[derive(Serialize)]
struct ReasonView<'a> {
    topic: &'a str,
    list: &'a str,
    entry_id: Cow<'a, str>,
    measure: &'a str,
    measure_name: &'a str,
    effect: &'static str,
    category: u8,
    legal_basis: &'a str,
    department: &'a str,
    text: &'a str,
    via: Option<ViaView<'a>>,
    warnings: Vec<WarningView>,
}

/// The listed entry through which a named person is reached.
#[derive(Serialize)]
struct ViaView<'a> {
    entry_id: Cow<'a, str>,
    role: &'static str,
    subject_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_name: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
pub(super) struct WarningView {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<char>,
}

impl WarningView {
    pub(super) fn of(warning: &Warning) -> WarningView {
        match *warning {
            Warning::UsccCheckMismatch { expected } => WarningView {
                code: "uscc_check_mismatch",
                message: format!("the check character fails (expected `{expected}`); looked up exactly as given"),
                expected: Some(expected),
            },
            Warning::ColdListUnavailable => WarningView {
                code: "cold_list_unavailable",
                message: "cold lists could not be looked up (the list source is unreachable and nothing was cached); they were left out of this decision".into(),
                expected: None,
            },
            Warning::IdCheckMismatch { expected } => WarningView {
                code: "id_check_mismatch",
                message: format!("the check digit fails (expected `{expected}`); evaluated because this exact ID is listed"),
                expected: Some(expected),
            },
        }
    }
}

/// Names the entry behind a reason; its id (and, for a named person, the listed subject's
/// name) is text, read from the list index's text store.
fn reason_view<'a>(rules: &RuleSet, reason: &Reason<'a>) -> Result<ReasonView<'a>, ApiError> {
    let mut warnings = Vec::new();
    if reason.under_dispute() {
        let message = if reason.downgraded {
            "the entry is under dispute review; the rule set's dispute policy turned its block into a flag"
        } else {
            "the entry is under dispute review"
        };
        warnings.push(WarningView {
            code: "entry_under_dispute",
            message: message.into(),
            expected: None,
        });
    }
    if reason.entry.facts.dispute == crate::lists::Dispute::Upheld {
        warnings.push(WarningView {
            code: "entry_dispute_upheld",
            message:
                "an objection to this entry was upheld; the designating body has yet to correct it"
                    .into(),
            expected: None,
        });
    }
    let entry_id = reason.entry.entry_id()?;
    let via = match reason.via {
        Some(role) => Some(ViaView {
            entry_id: entry_id.clone(),
            role: role.as_str(),
            subject_id: reason.entry.subject.to_id_string(),
            subject_name: reason.entry.record(rules)?.subject_name,
        }),
        None => None,
    };
    Ok(ReasonView {
        topic: &reason.topic.code,
        list: &reason.list.code,
        entry_id,
        measure: &reason.measure.code,
        measure_name: &reason.measure.name,
        effect: reason.effect.as_str(),
        category: reason.measure.category.into(),
        legal_basis: &reason.measure.legal_basis,
        department: &reason.measure.department,
        text: &reason.measure.text,
        via,
        warnings,
    })
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
}
