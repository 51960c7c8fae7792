//! The monthly monitoring indicators over HTTP: `GET /v1/indicators?month=` (JSON, or CSV with
//! `format=csv`) and `PUT /v1/indicators/active-enterprises`, the count of active enterprises
//! that the service cannot know and the credit office uploads. Both run off the async workers.

use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use super::body;
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::register::{caller_of, flag, json_object, UTF8_BOM};
use super::AppState;
use crate::indicators::{Indicators, Month, CSV_FIELDS};
use crate::register::ActiveEnterprises;
use crate::timestamp::Timestamp;

/// The largest count of active enterprises taken: more than any city has (China had about 60
/// million enterprises in 2025).
const MAX_ACTIVE_ENTERPRISES: u64 = 100_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorsQuery {
    month: Option<String>,
    format: Option<String>,
    bom: Option<String>,
}

/// `month` read and checked against `now`.
fn month(text: Option<&str>, now: Timestamp) -> Result<Month, ApiError> {
    let text = text.ok_or_else(|| {
        ApiError::InvalidMonth(FieldError::new(
            "month",
            "is required (YYYY-MM, for example 2026-11)",
        ))
    })?;
    Month::parse(text, now)
        .map_err(|err| ApiError::InvalidMonth(FieldError::new("month", err.to_string())))
}

/// The answer's format: `None` for JSON, else CSV with a byte-order mark or not.
fn csv_format(query: &IndicatorsQuery) -> Result<Option<bool>, ApiError> {
    let invalid = |field: &str, message: String| {
        ApiError::InvalidRequest(vec![FieldError::new(field, message)])
    };
    let bom = match query.bom.as_deref().map(flag) {
        None => true,
        Some(Ok(bom)) => bom,
        Some(Err(message)) => return Err(invalid("bom", message)),
    };
    match query.format.as_deref() {
        None | Some("json") if query.bom.is_some() => {
            Err(invalid("bom", "applies to format=csv only".to_owned()))
        }
        None | Some("json") => Ok(None),
        Some("csv") => Ok(Some(bom)),
        Some(other) => Err(invalid(
            "format",
            format!("`{other}` is not one of json, csv"),
        )),
    }
}

#[utoipa::path(
    get,
    path = "/v1/indicators",
    tag = "register",
    description = "The monthly monitoring indicators (城市信用状况监测预警指标) of a month, each \
                   with its definition (docs/indicators.md).",
    params(
        ("month" = String, Query, description = "YYYY-MM, not after the current month (UTC+8)"),
        ("format" = Option<String>, Query, description = "json (the default) or csv"),
        ("bom" = Option<bool>, Query, description = "csv only: start with a UTF-8 byte-order mark (true, the default, or false)"),
    ),
    responses((status = 200, description = "The indicators, as JSON or as CSV (one row per figure and part)", content(
        (Indicators = "application/json"),
        (String = "text/csv"),
    ))),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidMonth,
        ProblemKind::InvalidRequest,
        ProblemKind::NotReady,
        ProblemKind::SourceUnavailable,
        ProblemKind::RegisterUnavailable,
    ])))),
)]
pub async fn indicators(
    state: web::Data<AppState>,
    query: web::Query<IndicatorsQuery>,
) -> Result<HttpResponse, ApiError> {
    let now = Timestamp::now();
    let month = month(query.month.as_deref(), now)?;
    let csv = csv_format(&query)?;
    let state = state.clone();
    let figures = web::block(move || state.service.indicators(month, now))
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))??;
    match csv {
        None => Ok(HttpResponse::Ok().json(figures)),
        Some(bom) => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"jiangcheng-indicators-{month}.csv\""),
            ))
            .body(csv_body(&figures, bom)?)),
    }
}

fn csv_body(figures: &Indicators, bom: bool) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(UTF8_BOM);
    }
    let mut writer = csv::Writer::from_writer(out);
    let written = std::iter::once(CSV_FIELDS.map(str::to_owned))
        .chain(figures.csv_rows())
        .try_for_each(|row| writer.write_record(row));
    written
        .map_err(|err| ApiError::Internal(err.to_string()))
        .and_then(|()| {
            writer
                .into_inner()
                .map_err(|err| ApiError::Internal(err.to_string()))
        })
}

#[utoipa::path(
    put,
    path = "/v1/indicators/active-enterprises",
    tag = "register",
    description = "Uploads the count of active enterprises (存续企业数) at a month's end, the \
                   denominator of the A-grade taxpayers' share; replaces the month's count \
                   uploaded before.",
    request_body(content = serde_json::Value, content_type = "application/json", example = json!({"month": "2026-11", "count": 41250})),
    responses((status = 200, description = "The count, stored", body = ActiveEnterprises)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidJson,
        ProblemKind::InvalidRequest,
        ProblemKind::InvalidMonth,
        ProblemKind::RegisterOff,
        ProblemKind::RegisterUnavailable,
    ])))),
)]
pub async fn put_active_enterprises(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let now = Timestamp::now();
    let (month_text, count) = read_count(&body)?;
    let month = month(Some(&month_text), now)?;
    let caller = caller_of(&state, &req)?;
    let state = state.clone();
    let stored = web::block(move || {
        state
            .service
            .put_active_enterprises(month, count, caller.as_ref())
    })
    .await
    .map_err(|err| ApiError::Internal(err.to_string()))?
    .ok_or(ApiError::RegisterOff)??;
    Ok(HttpResponse::Ok().json(stored))
}

/// `{"month": "YYYY-MM", "count": n}`, each member checked and named when wrong.
fn read_count(body: &[u8]) -> Result<(String, u64), ApiError> {
    let members = json_object(body)?;
    let mut errors = Vec::new();
    let (mut month, mut count) = (None, None);
    for (name, value) in &members {
        match (name.as_str(), value) {
            ("month", Value::String(text)) => month = Some(text.clone()),
            ("month", _) => errors.push(FieldError::new("month", "must be a string (YYYY-MM)")),
            ("count", value) => match value.as_u64() {
                Some(n) if n <= MAX_ACTIVE_ENTERPRISES => count = Some(n),
                _ => errors.push(FieldError::new(
                    "count",
                    format!("must be a whole number from 0 to {MAX_ACTIVE_ENTERPRISES}"),
                )),
            },
            _ => errors.push(FieldError::new(
                name.clone(),
                "is not a member of the upload (`month` and `count`)",
            )),
        }
    }
    for (name, given) in [("month", month.is_some()), ("count", count.is_some())] {
        if !given && !members.contains_key(name) {
            errors.push(FieldError::new(name, "is required"));
        }
    }
    match (month, count) {
        (Some(month), Some(count)) if errors.is_empty() => Ok((month, count)),
        _ => Err(ApiError::InvalidRequest(errors)),
    }
}
