//! The query register over HTTP: `POST`/`GET /v1/feedback`, `POST
//! /v1/feedback/{feedback_id}/corrections`, `GET /v1/export/cases` and `GET /v1/stats`. The
//! store is read and written off the async workers.
//!
//! With keys, feedback belongs to departments: a `feedback` key reports only on the decisions
//! its department asked for and on the measures it executes, reads only what its department
//! filed, and corrects only that; `export` and `admin` keys read all of it. A refusal says
//! nothing about the decision or report asked about, not even whether it exists.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::body;
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::AppState;
use crate::commitments::Breach;
use crate::ident::mask_id_numbers;
use crate::keys::{Caller, Refusal, Scope};
use crate::register::feedback::{CorrectionRequest, FeedbackRecord, Report, ReportInput};
use crate::register::report::{self, CaseRow, Cases};
use crate::register::{CallerRecord, FeedbackQuery, RecordKind, Register, RegisterRecord, Stored};
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// Feedback records per page: the default, and the most a caller may ask for.
const PAGE_DEFAULT: usize = 100;
const PAGE_MAX: usize = 1000;
/// The longest period an export or a statistic may cover.
const MAX_PERIOD_DAYS: i64 = 366;
/// Bytes of an export sent at a time.
const EXPORT_CHUNK: usize = 64 * 1024;

fn register(state: &AppState) -> Result<&Register, ApiError> {
    state.service.register().ok_or(ApiError::RegisterOff)
}

/// Runs `f` on the blocking pool with the register.
async fn with_register<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&Register) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    register(state)?;
    let state = state.clone();
    web::block(move || f(register(&state)?))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
}

#[utoipa::path(
    post,
    path = "/v1/feedback",
    tag = "register",
    description = "Reports a measure applied after a decision; or, with `\"action\": \"commitment_breached\"`, a breach of a credit commitment (违诺), which is counted and withholds 告知承诺 and 容缺受理 for the rule set's period, but lists no one.",
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({
        "decision_id": "01a22674-6d06-7c3e-9c1f-6a3b2d1e0f00", "measure": "court_procurement_ban",
        "action": "applied", "executing_department": "市财政局", "officer": "王某",
        "content": "拒绝其参加本次政府采购", "field": "政府采购", "results": "已拦截",
        "start_time": "2026-11-22", "end_time": "2026-12-22"})),
    responses(
        (status = 200, description = "The same report, stored before; or, for a breach of a credit commitment (`\"action\": \"commitment_breached\"`), the breach of that commitment recorded before", content((FeedbackRecord), (Breach))),
        (status = 201, description = "The report, stored; or the breach, stored", content((FeedbackRecord), (Breach))),
    ),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::DecisionNotFound,
        ProblemKind::MeasureNotInDecision,
        ProblemKind::CommitmentNotFound,
        ProblemKind::FeedbackConflict,
        ProblemKind::FeedbackForbidden,
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn post_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    register(&state)?;
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let members = json_object(&body)?;
    if members.get("action").and_then(Value::as_str) == Some("commitment_breached") {
        return super::commitments::post_breach(state, req, members).await;
    }
    let report = read_report(members)?.check().map_err(invalid)?;
    // A key's department is entitled through the decision's record, or through the rule
    // set's executing departments of the measure.
    let filer = match caller_of(&state, &req)? {
        Some(caller) => Some((caller, Arc::clone(&state.snapshot()?.rules))),
        None => None,
    };
    let (status, record) = with_register(&state, move |register| {
        store_feedback(register, report, filer)
    })
    .await?;
    Ok(HttpResponse::build(status).json(record))
}

/// The key that asks, or `None` when the service runs open. With keys configured, a request
/// that reached a feedback handler without one is refused: feedback is never open by mistake.
pub(super) fn caller_of(state: &AppState, req: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    let caller = req.extensions().get::<Caller>().cloned();
    if caller.is_none() && state.service.keys().is_some() {
        return Err(ApiError::Unauthorized(Refusal::Missing));
    }
    Ok(caller)
}

/// A feedback or correction body as the JSON object it must be.
pub(super) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice(body)
        .map_err(|err| ApiError::InvalidJson(body::plain_words(body, &err)))?
    {
        Value::Object(members) => Ok(members),
        _ => Err(ApiError::InvalidRequest(vec![FieldError::new(
            "(body)",
            "must be a JSON object",
        )])),
    }
}

/// The problems found in a report, as (field, what is wrong), as one answer.
fn invalid(problems: Vec<(impl Into<String>, String)>) -> ApiError {
    ApiError::InvalidRequest(
        problems
            .into_iter()
            .map(|(field, message)| FieldError::new(field, message))
            .collect(),
    )
}

/// `Ok` when no field is wrong, else every wrong field as one answer.
fn invalid_unless_empty(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(errors))
    }
}

/// Reads a feedback body: a JSON object of string members, each unknown or mistyped member
/// named.
fn read_report(members: serde_json::Map<String, Value>) -> Result<ReportInput, ApiError> {
    let mut input = ReportInput::default();
    let mut errors = Vec::new();
    for (name, value) in members {
        let Some(slot) = input.member(&name) else {
            errors.push(FieldError::new(
                name,
                "is not a member of a feedback report",
            ));
            continue;
        };
        match value {
            Value::String(text) => *slot = Some(text),
            Value::Null => {}
            _ => errors.push(FieldError::new(name, "must be a string")),
        }
    }
    invalid_unless_empty(errors).map(|()| input)
}

/// Checks the report against its decision's record and stores it: 201 when new, 200 when the
/// same report was stored before. `filer` is the key that files it, with the rule set that
/// names the measures' executing departments; `None` when the service runs open.
fn store_feedback(
    register: &Register,
    report: Report,
    filer: Option<(Caller, Arc<RuleSet>)>,
) -> Result<(StatusCode, FeedbackRecord), ApiError> {
    let store = register.store();
    let decision = store
        .find(report.decision_id)?
        .filter(|record| record.kind == RecordKind::Decision);
    let decision = match &filer {
        Some((caller, rules)) => decision
            .filter(|decision| may_report(decision, &report.measure, caller, rules))
            .ok_or(ApiError::FeedbackForbidden(report.decision_id))?,
        None => decision.ok_or(ApiError::DecisionNotFound(report.decision_id))?,
    };
    if !decision.measures.contains(&report.measure) {
        return Err(ApiError::MeasureNotInDecision {
            decision_id: report.decision_id,
            measure: report.measure,
            applied: decision.measures,
        });
    }
    let record = FeedbackRecord {
        feedback_id: Uuid::now_v7(),
        report,
        recorded_at: Timestamp::now().to_string(),
        caller: filer.map(|(caller, _)| CallerRecord::of(&caller)),
        corrections: Vec::new(),
    };
    match store.put_feedback(&record)? {
        Stored::Created(stored) => Ok((StatusCode::CREATED, stored)),
        Stored::Existing(stored) if stored.report == record.report => Ok((StatusCode::OK, stored)),
        Stored::Existing(stored) => Err(ApiError::FeedbackConflict(
            stored
                .report
                .changes_to(&record.report)
                .into_iter()
                .next()
                .map_or_else(|| "(body)".to_owned(), |change| change.field),
        )),
    }
}

/// Whether a key's department may report on `measure` of `decision`: it asked for the decision
/// (the key's department, not the request's own label, which any caller may write), or it
/// executes the measure and the decision applied it.
fn may_report(decision: &RegisterRecord, measure: &str, caller: &Caller, rules: &RuleSet) -> bool {
    let department = CallerRecord::of(caller).department;
    let asked = decision
        .caller
        .as_ref()
        .is_some_and(|asked| asked.department == department);
    let applied = decision.measures.iter().any(|applied| applied == measure);
    let executes = rules
        .measures()
        .iter()
        .any(|m| m.code == measure && m.executed_by(&caller.department));
    asked || (applied && executes)
}

/// `POST /v1/feedback/{feedback_id}/corrections`: the department that filed a report changes
/// members of it, saying why; the report keeps the history of its corrections.
#[utoipa::path(
    post,
    path = "/v1/feedback/{feedback_id}/corrections",
    tag = "register",
    description = "Corrects feedback the department filed, saying why.",
    params(("feedback_id" = uuid::Uuid, Path)),
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 200, description = "The corrected feedback", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::FeedbackNotFound,
        ProblemKind::CorrectionForbidden,
        ProblemKind::FeedbackChanged,
        ProblemKind::CorrectionsExhausted,
        ProblemKind::MeasureNotInDecision,
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn correct_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    register(&state)?;
    let feedback_id = Uuid::parse_str(&path.into_inner()).map_err(|_| {
        ApiError::InvalidRequest(vec![FieldError::new(
            "feedback_id",
            "is not a feedback id (a UUID)",
        )])
    })?;
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let request = read_correction(&body)?;
    let caller = caller_of(&state, &req)?.map(|caller| CallerRecord::of(&caller));
    let corrected = with_register(&state, move |register| {
        let store = register.store();
        let current = store.feedback_by_id(feedback_id)?;
        let current = match &caller {
            Some(caller) => current
                .filter(|filed| {
                    filed
                        .caller
                        .as_ref()
                        .is_some_and(|c| c.department == caller.department)
                })
                .ok_or(ApiError::CorrectionForbidden(feedback_id))?,
            None => current.ok_or(ApiError::FeedbackNotFound(feedback_id))?,
        };
        let max = register.max_corrections();
        if current.corrections.len() >= max {
            return Err(ApiError::CorrectionsExhausted { feedback_id, max });
        }
        let corrected = current
            .corrected(request, caller, Timestamp::now())
            .map_err(invalid)?;
        if !store.correct_feedback(&current, &corrected)? {
            return Err(ApiError::FeedbackChanged(feedback_id));
        }
        Ok(corrected)
    })
    .await?;
    Ok(HttpResponse::Ok().json(corrected))
}

/// Reads a correction's body: `{"reason": "…", "changes": {"<member>": "…" or null}}`.
fn read_correction(body: &[u8]) -> Result<CorrectionRequest, ApiError> {
    let members = json_object(body)?;
    let mut request = CorrectionRequest::default();
    let mut errors = Vec::new();
    for (name, value) in members {
        match (name.as_str(), value) {
            ("reason", Value::String(text)) => request.reason = Some(text),
            ("reason", Value::Null) => {}
            ("reason", _) => errors.push(FieldError::new(name, "must be a string")),
            ("changes", Value::Object(changes)) => {
                for (member, value) in changes {
                    match value {
                        Value::String(text) => request.changes.push((member, Some(text))),
                        Value::Null => request.changes.push((member, None)),
                        _ => errors.push(FieldError::new(
                            format!("changes.{member}"),
                            "must be a string, or null to clear it",
                        )),
                    }
                }
            }
            ("changes", _) => errors.push(FieldError::new(
                name,
                "must be an object of the members to change",
            )),
            _ => errors.push(FieldError::new(
                name,
                "is not a member of a correction (`reason` and `changes`)",
            )),
        }
    }
    invalid_unless_empty(errors).map(|()| request)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackListQuery {
    since: Option<String>,
    department: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/v1/feedback",
    tag = "register",
    description = "Feedback stored, oldest first, a page at a time.",
    params(("since" = Option<String>, Query, description = "A date or RFC 3339 instant"), ("department" = Option<String>, Query), ("cursor" = Option<String>, Query, description = "The previous page's next cursor"), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "A page of feedback", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
    ])))),
)]
pub async fn list_feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FeedbackListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut errors = Vec::new();
    let since = query.since.as_deref().and_then(|text| {
        Timestamp::parse(text)
            .map_err(|err| errors.push(FieldError::new("since", err.to_string())))
            .ok()
    });
    let limit = query.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        errors.push(FieldError::new("limit", format!("must be 1 to {PAGE_MAX}")));
    }
    if !errors.is_empty() {
        return Err(ApiError::InvalidRequest(errors));
    }
    // A `feedback` key reads what its department filed; `export` and `admin` keys, all.
    let reads_all = |caller: &Caller| {
        state.service.keys().is_some_and(|keys| {
            keys.permits(caller, Scope::Export) || keys.permits(caller, Scope::Admin)
        })
    };
    let filed_by = caller_of(&state, &req)?
        .filter(|caller| !reads_all(caller))
        .map(|caller| CallerRecord::of(&caller).department);
    let query = FeedbackQuery {
        since,
        // Stored departments are masked: so is the one asked for.
        department: query
            .department
            .map(|department| mask_id_numbers(&department).into_owned()),
        filed_by,
        cursor: query.cursor,
        limit,
    };
    let page = with_register(&state, move |register| {
        Ok(register.store().feedback_page(&query)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
    /// Whether a CSV export starts with a UTF-8 byte-order mark (`true` unless `false`).
    bom: Option<String>,
    /// Whether the export gives only substantive cases (`false` unless `true`).
    substantive: Option<String>,
}

/// `[from, to)` from the query: both required, dates or RFC 3339 instants, in order, and at
/// most a year apart.
fn period(query: &PeriodQuery) -> Result<(Timestamp, Timestamp), Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut read = |name: &str, text: &Option<String>| match text.as_deref().map(Timestamp::parse) {
        None => {
            errors.push(FieldError::new(
                name,
                "is required (a date or an RFC 3339 instant)",
            ));
            None
        }
        Some(Err(err)) => {
            errors.push(FieldError::new(name, err.to_string()));
            None
        }
        Some(Ok(at)) => Some(at),
    };
    let (from, to) = (read("from", &query.from), read("to", &query.to));
    match (from, to) {
        (Some(from), Some(to)) if from >= to => {
            errors.push(FieldError::new("to", "must be after from"));
        }
        (Some(from), Some(to)) if to.0 - from.0 > MAX_PERIOD_DAYS * 86_400_000 => {
            errors.push(FieldError::new(
                "to",
                format!("the period may span at most {MAX_PERIOD_DAYS} days"),
            ));
        }
        (Some(from), Some(to)) if errors.is_empty() => return Ok((from, to)),
        _ => {}
    }
    Err(errors)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    JsonLines,
    /// With a UTF-8 byte-order mark first, or not.
    Csv {
        bom: bool,
    },
}

/// The UTF-8 byte-order mark: Excel and WPS read a CSV file without one in the system's code
/// page (GBK on a Chinese Windows), which garbles every Chinese character.
pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[utoipa::path(
    get,
    path = "/v1/export/cases",
    tag = "register",
    description = "The cases of a period, as JSON or CSV.",
    params(("from" = String, Query), ("to" = String, Query), ("format" = Option<String>, Query, description = "jsonl (the default) or csv"), ("bom" = Option<bool>, Query, description = "csv only: start with a UTF-8 byte-order mark (true, the default, or false)"), ("substantive" = Option<bool>, Query, description = "true: only substantive cases (no inform measures, no pending feedback, no replays)")),
    responses((status = 200, description = "The cases, one JSON object a line (the default) or as CSV", content(
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    ))),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn export_cases(
    state: web::Data<AppState>,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = export_format(&query);
    let cases = match query.substantive.as_deref().map(flag) {
        None => Ok(Cases::All),
        Some(Ok(true)) => Ok(Cases::Substantive),
        Some(Ok(false)) => Ok(Cases::All),
        Some(Err(message)) => Err(FieldError::new("substantive", message)),
    };
    let (period, format, cases) = match (period(&query), format, cases) {
        (Ok(period), Ok(format), Ok(cases)) => (period, format, cases),
        (period, format, cases) => {
            let errors = (period.err().into_iter().flatten())
                .chain(format.err())
                .chain(cases.err());
            return Err(ApiError::InvalidRequest(errors.collect()));
        }
    };
    register(&state)?;
    let rules = Arc::clone(&state.snapshot()?.rules);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(4);
    let worker = state.clone();
    tokio::task::spawn_blocking(move || {
        let Some(register) = worker.service.register() else {
            return;
        };
        let mut out = ExportWriter::new(format);
        let mut unwritten = None;
        let result = report::export_cases(
            register.store(),
            &rules,
            period.0,
            period.1,
            cases,
            &mut |row| {
                if let Err(err) = out.row(&row) {
                    unwritten = Some(err);
                    return false;
                }
                out.len() < EXPORT_CHUNK || sender.blocking_send(Ok(out.take())).is_ok()
            },
        );
        let last = match (result, unwritten) {
            (Err(err), _) => Err(err.to_string()),
            (Ok(()), Some(err)) => Err(format!("a row could not be written: {err}")),
            (Ok(()), None) => Ok(out.take()),
        };
        let _ = sender.blocking_send(last);
    });
    // The first chunk decides the status: a store that fails before any row is a 503.
    let first = match receiver.recv().await {
        Some(Ok(bytes)) => bytes,
        Some(Err(err)) => return Err(ApiError::RegisterUnavailable(err)),
        None => return Err(ApiError::Internal("the export stopped".into())),
    };
    let rest = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        // A failure after the first chunk can only cut the answer short, which the client
        // sees as an incomplete chunked body.
        Some((chunk.map_err(std::io::Error::other), receiver))
    });
    let body = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    let (content_type, extension) = match format {
        ExportFormat::JsonLines => ("application/x-ndjson", "jsonl"),
        ExportFormat::Csv { .. } => ("text/csv; charset=utf-8", "csv"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"jiangcheng-cases-{}_{}.{extension}\"",
                file_date(period.0),
                file_date(period.1)
            ),
        ))
        .streaming(body))
}

/// A `true` or `false` parameter.
pub(super) fn flag(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("`{other}` is not true or false")),
    }
}

/// The export's format from `format` and `bom`, which only a CSV export takes.
fn export_format(query: &PeriodQuery) -> Result<ExportFormat, FieldError> {
    let bom = match query.bom.as_deref().map(flag) {
        None => true,
        Some(Ok(bom)) => bom,
        Some(Err(message)) => return Err(FieldError::new("bom", message)),
    };
    match query.format.as_deref() {
        None | Some("jsonl") if query.bom.is_some() => Err(FieldError::new(
            "bom",
            "applies to format=csv only (JSON Lines has no byte-order mark)",
        )),
        None | Some("jsonl") => Ok(ExportFormat::JsonLines),
        Some("csv") => Ok(ExportFormat::Csv { bom }),
        Some(other) => Err(FieldError::new(
            "format",
            format!("`{other}` is not one of jsonl, csv"),
        )),
    }
}

/// A period's bound in a file name, in UTC+8: its date (`2026-11-29`) at midnight, else the
/// date and time (`2026-11-29T1430`, no colons, which some systems refuse in file names).
fn file_date(at: Timestamp) -> String {
    if at.is_cst_midnight() {
        at.format_cst("%Y-%m-%d")
    } else {
        at.format_cst("%Y-%m-%dT%H%M%S")
    }
}

/// Rows as JSON Lines or CSV (with a header line even when there is no row).
struct ExportWriter {
    format: ExportFormat,
    csv: csv::Writer<Vec<u8>>,
    json: Vec<u8>,
}

impl ExportWriter {
    fn new(format: ExportFormat) -> ExportWriter {
        let mut csv = csv_writer();
        let mut json = Vec::new();
        if let ExportFormat::Csv { bom } = format {
            if bom {
                // Ahead of the CSV writer's own buffer, so first in the answer.
                json.extend_from_slice(UTF8_BOM);
            }
            let _ = csv.write_record(CaseRow::FIELDS);
        }
        ExportWriter { format, csv, json }
    }

    fn row(&mut self, row: &CaseRow) -> Result<(), String> {
        match self.format {
            ExportFormat::JsonLines => serde_json::to_writer(&mut self.json, row)
                .map(|()| self.json.push(b'\n'))
                .map_err(|err| err.to_string()),
            ExportFormat::Csv { .. } => self.csv.serialize(row).map_err(|err| err.to_string()),
        }
    }

    /// Bytes written so far (CSV's own buffer holds at most a few KiB more).
    fn len(&self) -> usize {
        self.json.len() + self.csv.get_ref().len()
    }

    fn take(&mut self) -> Bytes {
        let mut bytes = std::mem::take(&mut self.json);
        let csv = std::mem::replace(&mut self.csv, csv_writer());
        if let Ok(mut written) = csv.into_inner() {
            bytes.append(&mut written);
        }
        Bytes::from(bytes)
    }
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new())
}

#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "register",
    description = "Counts of decisions and feedback over a period.",
    params(("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, description = "The statistics", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn stats(
    state: web::Data<AppState>,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    for (name, given) in [
        ("format", &query.format),
        ("bom", &query.bom),
        ("substantive", &query.substantive),
    ] {
        if given.is_some() {
            return Err(ApiError::InvalidRequest(vec![FieldError::new(
                name,
                "is a parameter of the export, not of the statistics",
            )]));
        }
    }
    let (from, to) = period(&query).map_err(ApiError::InvalidRequest)?;
    let stats = with_register(&state, move |register| {
        Ok(report::stats(register.store(), from, to)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(stats))
}
