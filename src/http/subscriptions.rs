//! Subscriptions to list changes (`/v1/subscriptions`), each department's own, and the change
//! feed (`GET /v1/changes`) for systems that cannot receive webhooks. A department sees only
//! its own subscriptions: another's answers 404, as one that does not exist.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body;
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::AppState;
use crate::app::{PushError, MAX_CHANGES, MAX_LETTERS};
use crate::keys::{Caller, Refusal};

impl From<PushError> for ApiError {
    fn from(err: PushError) -> ApiError {
        match err {
            PushError::NotFound(id) => ApiError::SubscriptionNotFound(id),
            PushError::Exhausted { limit } => ApiError::SubscriptionsExhausted { limit },
            PushError::Invalid(errors) => ApiError::InvalidRequest(
                errors
                    .into_iter()
                    .map(|e| FieldError::new(e.field, e.message))
                    .collect(),
            ),
            PushError::CursorAhead { after, last } => ApiError::CursorAhead { after, last },
            PushError::Unavailable(why) => ApiError::EventsUnavailable(why),
            PushError::App(err) => err.into(),
        }
    }
}

/// The calling key's department; `""` when the service runs open (one anonymous department).
/// With keys configured, a request that reached here without one is refused.
fn department(state: &AppState, req: &HttpRequest) -> Result<String, ApiError> {
    match req.extensions().get::<Caller>() {
        Some(caller) => Ok(caller.department.clone()),
        None if state.service.keys().is_some() => Err(ApiError::Unauthorized(Refusal::Missing)),
        None => Ok(String::new()),
    }
}

/// A whole-number query parameter, named when it is not one.
fn number(name: &str, text: Option<&str>, default: u64) -> Result<u64, ApiError> {
    text.map_or(Ok(default), |text| {
        text.parse().map_err(|_| {
            ApiError::InvalidRequest(vec![FieldError::new(
                name,
                format!(
                    "must be a whole number, not `{}`",
                    crate::ident::mask_id_numbers(text)
                ),
            )])
        })
    })
}

const SUBSCRIPTION_PROBLEMS: &[ProblemKind] = &[
    ProblemKind::SubscriptionNotFound,
    ProblemKind::EventsUnavailable,
    ProblemKind::NotReady,
];

/// `POST /v1/subscriptions`: `{"url", "secret", "events"?, "lists"?, "watchlist"?}`.
#[utoipa::path(
    operation_id = "create_subscription",
    post,
    path = "/v1/subscriptions",
    tag = "push",
    description = "Subscribes the calling department to list events, pushed to `url` and signed with `secret`.",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, description = "The subscription (its secret left out)", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::SubscriptionsExhausted,
        ProblemKind::EventsUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let department = department(&state, &req)?;
    let body = body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    let members = match serde_json::from_slice(&body)
        .map_err(|err| ApiError::InvalidJson(body::plain_words(&body, &err)))?
    {
        Value::Object(members) => members,
        _ => {
            return Err(ApiError::InvalidRequest(vec![FieldError::new(
                "(body)",
                "must be a JSON object",
            )]))
        }
    };
    let created = state.service.subscribe(&department, members).await?;
    let location = format!(
        "/v1/subscriptions/{}",
        created["id"].as_str().unwrap_or_default()
    );
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .json(created))
}

/// `GET /v1/subscriptions`: the department's subscriptions.
#[utoipa::path(
    operation_id = "list_subscriptions",
    get,
    path = "/v1/subscriptions",
    tag = "push",
    description = "The calling department's subscriptions, oldest first.",
    responses((status = 200, description = "`{\"subscriptions\": [...]}`", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[ProblemKind::EventsUnavailable])))),
)]
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let department = department(&state, &req)?;
    let subscriptions = state.service.subscriptions(&department).await?;
    Ok(HttpResponse::Ok().json(json!({ "subscriptions": subscriptions })))
}

/// `GET /v1/subscriptions/{id}`: one subscription with its delivery state.
#[utoipa::path(
    operation_id = "get_subscription",
    get,
    path = "/v1/subscriptions/{id}",
    tag = "push",
    description = "One of the department's subscriptions with its delivery state: last event delivered, backlog, last error, next retry, dead letters.",
    params(("id" = String, Path)),
    responses((status = 200, description = "The subscription and its `delivery`", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(SUBSCRIPTION_PROBLEMS)))),
)]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let department = department(&state, &req)?;
    let shown = state.service.subscription(&department, &path).await?;
    Ok(HttpResponse::Ok().json(shown))
}

/// `DELETE /v1/subscriptions/{id}`.
#[utoipa::path(
    operation_id = "delete_subscription",
    delete,
    path = "/v1/subscriptions/{id}",
    tag = "push",
    description = "Deletes one of the department's subscriptions; its delivery stops.",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")),
    extensions(("x-problems" = json!(codes(SUBSCRIPTION_PROBLEMS)))),
)]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let department = department(&state, &req)?;
    state.service.unsubscribe(&department, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct LimitQuery {
    limit: Option<String>,
}

/// `GET /v1/subscriptions/{id}/dead-letters?limit=`: events given up on, oldest first.
#[utoipa::path(
    get,
    path = "/v1/subscriptions/{id}/dead-letters",
    tag = "push",
    description = "Events not acknowledged within the retry horizon, oldest first, with their last error.",
    params(("id" = String, Path), ("limit" = Option<u64>, Query, description = "At most this many (default 100, at most 1000)")),
    responses((status = 200, description = "`{\"dead_letters\": [...], \"total\": n}`", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::SubscriptionNotFound,
        ProblemKind::EventsUnavailable,
    ])))),
)]
pub async fn dead_letters(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    let department = department(&state, &req)?;
    let limit = number("limit", query.limit.as_deref(), 100)?;
    let limit = usize::try_from(limit)
        .unwrap_or(MAX_LETTERS)
        .min(MAX_LETTERS);
    let letters = state
        .service
        .dead_letters(&department, &path, limit)
        .await?;
    Ok(HttpResponse::Ok().json(letters))
}

/// `POST /v1/subscriptions/{id}/dead-letters/replay`: sends every dead letter again.
#[utoipa::path(
    post,
    path = "/v1/subscriptions/{id}/dead-letters/replay",
    tag = "push",
    description = "Queues every dead letter of the subscription to be sent again, before new events.",
    params(("id" = String, Path)),
    responses((status = 202, description = "`{\"replaying\": n}`", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(SUBSCRIPTION_PROBLEMS)))),
)]
pub async fn replay(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let department = department(&state, &req)?;
    let replaying = state
        .service
        .replay_dead_letters(&department, &path)
        .await?;
    Ok(HttpResponse::Accepted().json(json!({ "replaying": replaying })))
}

#[derive(Deserialize)]
pub struct ChangesQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/changes?after=<cursor>&limit=`: the events after a cursor, in order.
#[utoipa::path(
    get,
    path = "/v1/changes",
    tag = "push",
    description = "List events after the cursor `after` (0, the default, for the oldest kept), oldest first, with the cursor to ask after next.",
    params(("after" = Option<String>, Query, description = "The last event id read (default 0)"), ("limit" = Option<u64>, Query, description = "At most this many (default 100, at most 1000)")),
    responses((status = 200, description = "`{\"events\": [...], \"next\", \"newest\", \"missed\"}`", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidRequest,
        ProblemKind::CursorAhead,
        ProblemKind::EventsUnavailable,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn changes(
    state: web::Data<AppState>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = number("after", query.after.as_deref(), 0)?;
    let limit = number("limit", query.limit.as_deref(), 100)?;
    let limit = usize::try_from(limit).unwrap_or(MAX_CHANGES);
    let page = state.service.changes(after, limit).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(page))
}
