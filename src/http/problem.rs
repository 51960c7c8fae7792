//! Every error the API returns, as RFC 9457 problem details with a stable machine-readable
//! `code`. One table maps each error to its code, HTTP status and title.
//!
//! A problem echoes what the client sent (a field's name, a value in a message), but never much
//! of it: each text is cut to a bounded length and at most [`LISTED_ERRORS`] field errors are
//! listed, the rest counted, so a huge bad request gets a small answer.

use std::borrow::Cow;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, AcceptLanguage, Header, Preference, Quality};
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use serde::Serialize;

use crate::app::AppError;
use crate::engine::DecideError;
use crate::sheets::SheetError;

/// The media type of an Excel workbook.
pub const XLSX_MEDIA_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl ProblemKind {
    pub fn code(self) -> &'static str {
        ApiError::table(self).0
    }

    pub fn status(self) -> StatusCode {
        ApiError::table(self).1
    }

    pub fn title(self) -> &'static str {
        ApiError::table(self).2
    }
}

/// One bad field of a request, named by its path in the body (`subjects[3].id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The error as a problem shows it, each text cut to its bound.
    fn bounded(&self) -> FieldError {
        FieldError {
            field: bounded(&self.field, FIELD_CHARS).into_owned(),
            message: bounded(&self.message, MESSAGE_CHARS).into_owned(),
        }
    }
}

/// Characters of a field's name a problem shows at most.
const FIELD_CHARS: usize = 64;
/// Characters of a field error's message a problem shows at most.
const MESSAGE_CHARS: usize = 200;
/// Characters of a problem's `detail` at most.
const DETAIL_CHARS: usize = 400;
/// Field errors a problem lists; the rest are counted in its `errors_omitted`.
const LISTED_ERRORS: usize = 20;

/// `text` if it has at most `max` characters; else its start and end, with how much of it was
/// left out between them (the end of a message often says what is wrong).
fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let keep = max / 2;
    let head = text.char_indices().nth(keep).map_or(0, |(at, _)| at);
    let tail = text
        .char_indices()
        .rev()
        .nth(keep.saturating_sub(1))
        .map_or(0, |(at, _)| at);
    let left_out = text[head..tail].chars().count();
    Cow::Owned(format!(
        "{}…[{left_out} characters left out]…{}",
        &text[..head],
        &text[tail..]
    ))
}

/// Each variant's [`ProblemKind`] carries its code, status and title without its data, so the
/// OpenAPI document can list every problem the service answers.
#[derive(Debug, thiserror::Error, strum::EnumDiscriminants)]
#[strum_discriminants(name(ProblemKind), derive(strum::EnumIter))]
pub enum ApiError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{}", summary(.0))]
    InvalidRequest(Vec<FieldError>),
    #[error("{}: {}", .0.field, .0.message)]
    InvalidSubjectId(FieldError),
    #[error("{}: {}", .0.field, .0.message)]
    IdCheckMismatch(FieldError),
    #[error("{}: {}", .0.field, .0.message)]
    AmbiguousSubjectId(FieldError),
    #[error("unknown matter `{0}`; GET /v1/matters lists the valid codes")]
    UnknownMatter(String),
    /// A month that is not one, or has not begun.
    #[error("{}: {}", .0.field, .0.message)]
    InvalidMonth(FieldError),
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the batch holds {got} subjects, more than the limit of {limit}")]
    BatchTooLarge { got: usize, limit: usize },
    #[error("the body must be application/json, not `{0}`")]
    UnsupportedMediaType(String),
    #[error("a bidder list must be text/csv or {XLSX_MEDIA_TYPE} (.xlsx), not `{0}`")]
    UnsupportedListType(String),
    #[error("{0}")]
    UnreadableList(#[from] SheetError),
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("no such resource")]
    NotFound,
    #[error("unknown list `{0}`; GET /v1/lists lists the valid codes")]
    UnknownList(String),
    #[error("no entry `{entry_id}` on list `{list}`")]
    EntryNotFound { list: String, entry_id: String },
    #[error(
        "the lists come from a file and are read-only; administer them with a redis:// list source"
    )]
    ReadOnlySource,
    #[error("list `{0}` is not repairable: its entries are deleted or shielded by the court or designating body, not credit-repaired; remove the entry (DELETE) with that decision as the reason")]
    NotRepairable(String),
    #[error("the list source is unavailable: {0}")]
    SourceUnavailable(String),
    /// The path's methods, as the `Allow` header lists them.
    #[error("this path does not take this method; it takes {0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Unauthorized(crate::keys::Refusal),
    #[error("{0}")]
    Forbidden(crate::keys::Refusal),
    #[error("{}; retry in {} s", .0, retry_seconds(.1))]
    RateLimited(crate::keys::Refusal, std::time::Duration),
    #[error("{0}")]
    OverKeyBurst(crate::keys::Refusal),
    #[error("too many requests from this address were refused for their API key; retry in {} s", retry_seconds(.0))]
    TooManyAuthFailures(std::time::Duration),
    #[error("as_of is more than {max_skew_seconds} s from the server's clock, which makes this a replay (a decision at another instant); the API key `{key_id}` lacks the `replay` scope")]
    ReplayForbidden {
        key_id: String,
        max_skew_seconds: u64,
    },
    #[error("no decision `{0}` in the query register (feedback can follow a decision once the register has stored it, within a second)")]
    DecisionNotFound(uuid::Uuid),
    #[error("measure `{measure}` is not one decision `{decision_id}` applied; it applied: {}", list_or_none(.applied))]
    MeasureNotInDecision {
        decision_id: uuid::Uuid,
        measure: String,
        applied: Vec<String>,
    },
    #[error("feedback for this decision and measure was stored before with other content ({0} differs); it is kept as stored, and the department that filed it may correct it (POST /v1/feedback/{{feedback_id}}/corrections)")]
    FeedbackConflict(String),
    #[error("this key's department may report only on decisions it asked for, and on measures it executes that a decision applied; decision `{0}` with this measure is neither, or the register has not stored it yet (within a second)")]
    FeedbackForbidden(uuid::Uuid),
    #[error(
        "this key's department may correct only feedback it filed; `{0}` is not such feedback"
    )]
    CorrectionForbidden(uuid::Uuid),
    #[error("no feedback `{0}` in the query register")]
    FeedbackNotFound(uuid::Uuid),
    #[error("no credit commitment `{0}` is recorded")]
    CommitmentNotFound(uuid::Uuid),
    #[error("feedback `{0}` was corrected by another request meanwhile; read it again (GET /v1/feedback) and send the correction again")]
    FeedbackChanged(uuid::Uuid),
    #[error("feedback `{feedback_id}` has been corrected {max} times, the most the service keeps (--feedback-max-corrections)")]
    CorrectionsExhausted { feedback_id: uuid::Uuid, max: usize },
    #[error(
        "the query register is off (--register off): there is no feedback, export or statistics"
    )]
    RegisterOff,
    #[error("the query register is unavailable: {0}")]
    RegisterUnavailable(String),
    #[error("no subscription `{0}` of this department")]
    SubscriptionNotFound(String),
    #[error("the service holds its limit of {limit} subscriptions (--push-max-subscriptions); delete one first")]
    SubscriptionsExhausted { limit: usize },
    #[error("the cursor `after` = {after} is beyond the newest event, {last}: the event store was reset; start again from `after=0`")]
    CursorAhead { after: u64, last: u64 },
    #[error("the event store is unavailable: {0}")]
    EventsUnavailable(String),
    #[error("the body did not arrive whole within {} s of the request's head", .0.as_secs_f64())]
    BodyTimeout(std::time::Duration),
    #[error("the service is at its limit of {limit} {what} in flight; retry in a second")]
    Overloaded { what: &'static str, limit: usize },
    /// Identifiers of a watchlist's upload that do not parse (the first ones, and how many in
    /// all): nothing was stored.
    #[error(
        "{invalid} of the watchlist's subjects have an invalid identifier; nothing was stored"
    )]
    InvalidWatchlist {
        errors: Vec<FieldError>,
        invalid: u64,
    },
    #[error("the watchlist holds more than the limit of {limit} subjects; nothing was stored")]
    WatchlistTooLarge { limit: usize },
    #[error("this department has no watchlist `{0}`")]
    WatchlistNotFound(String),
    #[error("the watchlist store is unavailable: {0}")]
    WatchlistStoreUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn list_or_none(codes: &[String]) -> String {
    if codes.is_empty() {
        "none".to_owned()
    } else {
        codes.join(", ")
    }
}

/// Whole seconds to wait, at least one (`Retry-After` takes whole seconds).
fn retry_seconds(wait: &std::time::Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

impl From<crate::keys::Refusal> for ApiError {
    fn from(refusal: crate::keys::Refusal) -> ApiError {
        use crate::keys::Refusal;
        match refusal {
            Refusal::Forbidden { .. } => ApiError::Forbidden(refusal),
            Refusal::RateLimited { retry_after, .. } => ApiError::RateLimited(refusal, retry_after),
            Refusal::OverBurst { .. } => ApiError::OverKeyBurst(refusal),
            Refusal::Missing | Refusal::Malformed | Refusal::Unknown(_) | Refusal::Revoked(_) => {
                ApiError::Unauthorized(refusal)
            }
        }
    }
}

fn summary(errors: &[FieldError]) -> String {
    let fields: Vec<Cow<'_, str>> = errors
        .iter()
        .take(LISTED_ERRORS)
        .map(|e| bounded(&e.field, FIELD_CHARS))
        .collect();
    let more = match errors.len().saturating_sub(LISTED_ERRORS) {
        0 => String::new(),
        more => format!(" and {more} more"),
    };
    format!("invalid request: {}{more}", fields.join(", "))
}

impl ApiError {
    fn kind(&self) -> (&'static str, StatusCode, &'static str) {
        // A bidder list over a limit is answered as a body or a batch over theirs.
        let kind = match self {
            ApiError::UnreadableList(SheetError::Unzipped { .. }) => ProblemKind::PayloadTooLarge,
            ApiError::UnreadableList(SheetError::TooManyRows { .. }) => ProblemKind::BatchTooLarge,
            other => ProblemKind::from(other),
        };
        ApiError::table(kind)
    }

    /// The error table: stable code, HTTP status, title.
    fn table(kind: ProblemKind) -> (&'static str, StatusCode, &'static str) {
        match kind {
            ProblemKind::InvalidJson => ("invalid_json", StatusCode::BAD_REQUEST, "Malformed JSON"),
            ProblemKind::InvalidRequest => (
                "invalid_request",
                StatusCode::BAD_REQUEST,
                "Invalid request",
            ),
            ProblemKind::InvalidSubjectId => (
                "invalid_subject_id",
                StatusCode::BAD_REQUEST,
                "Invalid subject identifier",
            ),
            ProblemKind::AmbiguousSubjectId => (
                "ambiguous_subject_id",
                StatusCode::BAD_REQUEST,
                "Ambiguous subject identifier",
            ),
            ProblemKind::IdCheckMismatch => (
                "id_check_mismatch",
                StatusCode::BAD_REQUEST,
                "Resident ID check digit mismatch",
            ),
            ProblemKind::UnknownMatter => (
                "unknown_matter",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unknown matter",
            ),
            ProblemKind::PayloadTooLarge => (
                "payload_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Body too large",
            ),
            ProblemKind::BatchTooLarge => (
                "batch_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Batch too large",
            ),
            ProblemKind::UnsupportedMediaType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
            ),
            ProblemKind::UnsupportedListType => (
                "unsupported_media_type",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
            ),
            ProblemKind::InvalidMonth => (
                "invalid_month",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid month",
            ),
            ProblemKind::UnreadableList => (
                "invalid_request",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unreadable bidder list",
            ),
            ProblemKind::NotReady => ("not_ready", StatusCode::SERVICE_UNAVAILABLE, "Not ready"),
            ProblemKind::NotFound => ("not_found", StatusCode::NOT_FOUND, "Not found"),
            ProblemKind::UnknownList => ("unknown_list", StatusCode::NOT_FOUND, "Unknown list"),
            ProblemKind::EntryNotFound => {
                ("entry_not_found", StatusCode::NOT_FOUND, "Entry not found")
            }
            ProblemKind::ReadOnlySource => (
                "read_only_source",
                StatusCode::CONFLICT,
                "Read-only list source",
            ),
            ProblemKind::NotRepairable => (
                "not_repairable",
                StatusCode::CONFLICT,
                "List not repairable",
            ),
            ProblemKind::SourceUnavailable => (
                "source_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "List source unavailable",
            ),
            ProblemKind::MethodNotAllowed => (
                "method_not_allowed",
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            ProblemKind::Unauthorized => (
                "unauthorized",
                StatusCode::UNAUTHORIZED,
                "API key missing or not accepted",
            ),
            ProblemKind::Forbidden => (
                "forbidden",
                StatusCode::FORBIDDEN,
                "API key lacks the scope",
            ),
            ProblemKind::RateLimited => (
                "rate_limited",
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded",
            ),
            ProblemKind::OverKeyBurst => (
                "batch_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Batch larger than the key's burst",
            ),
            ProblemKind::TooManyAuthFailures => (
                "too_many_auth_failures",
                StatusCode::TOO_MANY_REQUESTS,
                "Too many refused API keys",
            ),
            ProblemKind::ReplayForbidden => (
                "forbidden",
                StatusCode::FORBIDDEN,
                "API key lacks the scope",
            ),
            ProblemKind::DecisionNotFound => (
                "decision_not_found",
                StatusCode::NOT_FOUND,
                "Decision not found",
            ),
            ProblemKind::MeasureNotInDecision => (
                "measure_not_in_decision",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Measure not in the decision",
            ),
            ProblemKind::FeedbackConflict => (
                "feedback_conflict",
                StatusCode::CONFLICT,
                "Feedback already stored",
            ),
            ProblemKind::FeedbackForbidden => (
                "feedback_forbidden",
                StatusCode::FORBIDDEN,
                "Not this department's decision to report on",
            ),
            ProblemKind::CorrectionForbidden => (
                "correction_forbidden",
                StatusCode::FORBIDDEN,
                "Not this department's feedback to correct",
            ),
            ProblemKind::FeedbackNotFound => (
                "feedback_not_found",
                StatusCode::NOT_FOUND,
                "Feedback not found",
            ),
            ProblemKind::CommitmentNotFound => (
                "commitment_not_found",
                StatusCode::NOT_FOUND,
                "Commitment not found",
            ),
            ProblemKind::FeedbackChanged => (
                "feedback_changed",
                StatusCode::CONFLICT,
                "Feedback corrected meanwhile",
            ),
            ProblemKind::CorrectionsExhausted => (
                "corrections_exhausted",
                StatusCode::CONFLICT,
                "No more corrections",
            ),
            ProblemKind::RegisterOff => ("register_off", StatusCode::CONFLICT, "Register off"),
            ProblemKind::RegisterUnavailable => (
                "register_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Register unavailable",
            ),
            ProblemKind::SubscriptionNotFound => (
                "subscription_not_found",
                StatusCode::NOT_FOUND,
                "Subscription not found",
            ),
            ProblemKind::SubscriptionsExhausted => (
                "subscriptions_exhausted",
                StatusCode::CONFLICT,
                "No more subscriptions",
            ),
            ProblemKind::CursorAhead => (
                "cursor_ahead",
                StatusCode::CONFLICT,
                "Cursor beyond the newest event",
            ),
            ProblemKind::EventsUnavailable => (
                "events_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Event store unavailable",
            ),
            ProblemKind::BodyTimeout => (
                "body_timeout",
                StatusCode::REQUEST_TIMEOUT,
                "Request body timeout",
            ),
            ProblemKind::Overloaded => {
                ("overloaded", StatusCode::SERVICE_UNAVAILABLE, "Overloaded")
            }
            ProblemKind::InvalidWatchlist => (
                "invalid_subject_id",
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid subject identifiers in the watchlist",
            ),
            ProblemKind::WatchlistTooLarge => (
                "watchlist_too_large",
                StatusCode::PAYLOAD_TOO_LARGE,
                "Watchlist too large",
            ),
            ProblemKind::WatchlistNotFound => (
                "watchlist_not_found",
                StatusCode::NOT_FOUND,
                "Watchlist not found",
            ),
            ProblemKind::WatchlistStoreUnavailable => (
                "watchlist_store_unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                "Watchlist store unavailable",
            ),
            ProblemKind::Internal => (
                "internal",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal error",
            ),
        }
    }

    /// The title in Chinese, for a client that prefers it; `detail` and field messages stay
    /// English.
    fn title_zh(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "JSON 格式错误",
            ApiError::InvalidRequest(_) => "请求无效",
            ApiError::InvalidSubjectId(_) => "主体标识无效",
            ApiError::IdCheckMismatch(_) => "身份证号码校验码不符",
            ApiError::AmbiguousSubjectId(_) => "证件号码类型不明确",
            ApiError::UnknownMatter(_) => "未知事项",
            ApiError::InvalidMonth(_) => "月份无效",
            ApiError::PayloadTooLarge { .. } => "请求体过大",
            ApiError::BatchTooLarge { .. } => "批量过大",
            ApiError::UnsupportedMediaType(_) | ApiError::UnsupportedListType(_) => {
                "不支持的媒体类型"
            }
            ApiError::UnreadableList(err) => match err {
                SheetError::Unzipped { .. } => "工作簿解压后过大",
                SheetError::TooManyRows { .. } => "名单行数过多",
                _ => "名单无法读取",
            },
            ApiError::NotReady(_) => "服务尚未就绪",
            ApiError::NotFound => "资源不存在",
            ApiError::UnknownList(_) => "未知名单",
            ApiError::EntryNotFound { .. } => "名单条目不存在",
            ApiError::ReadOnlySource => "名单来源只读",
            ApiError::NotRepairable(_) => "该名单不适用信用修复",
            ApiError::SourceUnavailable(_) => "名单来源不可用",
            ApiError::MethodNotAllowed(_) => "请求方法不允许",
            ApiError::Unauthorized(_) => "API 密钥缺失或未被接受",
            ApiError::Forbidden(_) | ApiError::ReplayForbidden { .. } => "API 密钥缺少该权限范围",
            ApiError::RateLimited(..) => "超出速率限制",
            ApiError::OverKeyBurst(_) => "批量超过该密钥的突发上限",
            ApiError::TooManyAuthFailures(_) => "被拒绝的 API 密钥过多",
            ApiError::DecisionNotFound(_) => "决定不存在",
            ApiError::MeasureNotInDecision { .. } => "该措施不在此决定中",
            ApiError::FeedbackConflict(_) => "反馈已存储",
            ApiError::FeedbackForbidden(_) => "非本部门可反馈的决定",
            ApiError::CorrectionForbidden(_) => "非本部门可更正的反馈",
            ApiError::FeedbackNotFound(_) => "反馈不存在",
            ApiError::CommitmentNotFound(_) => "信用承诺不存在",
            ApiError::FeedbackChanged(_) => "反馈已被同时更正",
            ApiError::CorrectionsExhausted { .. } => "更正次数已用尽",
            ApiError::RegisterOff => "查询登记簿已关闭",
            ApiError::RegisterUnavailable(_) => "查询登记簿不可用",
            ApiError::SubscriptionNotFound(_) => "订阅不存在",
            ApiError::SubscriptionsExhausted { .. } => "订阅数量已达上限",
            ApiError::CursorAhead { .. } => "游标超出最新事件",
            ApiError::EventsUnavailable(_) => "事件存储不可用",
            ApiError::BodyTimeout(_) => "请求体超时",
            ApiError::Overloaded { .. } => "服务过载",
            ApiError::InvalidWatchlist { .. } => "观察名单中的主体标识无效",
            ApiError::WatchlistTooLarge { .. } => "观察名单过大",
            ApiError::WatchlistNotFound(_) => "观察名单不存在",
            ApiError::WatchlistStoreUnavailable(_) => "观察名单存储不可用",
            ApiError::Internal(_) => "内部错误",
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().0
    }

    /// The fields at fault, for the problem's `errors` array.
    fn field_errors(&self) -> Cow<'_, [FieldError]> {
        Cow::Owned(match self {
            ApiError::InvalidRequest(errors) | ApiError::InvalidWatchlist { errors, .. } => {
                return Cow::Borrowed(errors)
            }
            ApiError::InvalidSubjectId(error)
            | ApiError::IdCheckMismatch(error)
            | ApiError::AmbiguousSubjectId(error)
            | ApiError::InvalidMonth(error) => {
                vec![error.clone()]
            }
            ApiError::UnknownMatter(matter) => {
                vec![FieldError::new(
                    "matter",
                    format!("unknown matter `{matter}`"),
                )]
            }
            ApiError::DecisionNotFound(_) => {
                vec![FieldError::new("decision_id", self.to_string())]
            }
            ApiError::MeasureNotInDecision { .. } => {
                vec![FieldError::new("measure", self.to_string())]
            }
            ApiError::FeedbackConflict(field) => {
                vec![FieldError::new(field, "differs from the stored feedback")]
            }
            // The detail says it at length; the field's message stays within the echo bound.
            ApiError::FeedbackForbidden(_) => vec![FieldError::new(
                "decision_id",
                "is neither a decision this key's department asked for nor one that applied a \
                 measure it executes (or the register has not stored it yet)",
            )],
            ApiError::CorrectionForbidden(_) | ApiError::FeedbackNotFound(_) => {
                vec![FieldError::new("feedback_id", self.to_string())]
            }
            ApiError::CommitmentNotFound(_) => {
                vec![FieldError::new("commitment_id", self.to_string())]
            }
            ApiError::ReplayForbidden { .. } => vec![FieldError::new("as_of", self.to_string())],
            ApiError::UnreadableList(err @ (SheetError::NoIdColumn | SheetError::Empty)) => {
                vec![FieldError::new("header", err.to_string())]
            }
            ApiError::UnreadableList(
                err @ (SheetError::NotText
                | SheetError::NotCsv(_)
                | SheetError::NotWorkbook(_)
                | SheetError::TimedOut(_)),
            ) => vec![FieldError::new("(body)", err.to_string())],
            _ => Vec::new(),
        })
    }

    /// The problem's `detail`, cut to its bound.
    fn detail(&self) -> String {
        let detail = self.to_string();
        match bounded(&detail, DETAIL_CHARS) {
            Cow::Borrowed(_) => detail,
            Cow::Owned(cut) => cut,
        }
    }

    /// The problem as an item of a batch answer (`{"code", "field", "detail"}`).
    /// Why a well-formed identifier could not be decided, at the request's `field`.
    pub fn undecidable(err: DecideError, field: &str) -> ApiError {
        let error = FieldError::new(field, err.to_string());
        match err {
            DecideError::IdCheckMismatch { .. } => ApiError::IdCheckMismatch(error),
            DecideError::AmbiguousFifteenDigits => ApiError::AmbiguousSubjectId(error),
        }
    }

    pub fn to_item_error(&self) -> ItemError {
        let field = self
            .field_errors()
            .first()
            .map(|e| bounded(&e.field, FIELD_CHARS).into_owned());
        ItemError {
            code: self.code(),
            field,
            detail: self.detail(),
        }
    }
}

/// The error of one invalid batch item.
/// Why a batch item was not decided: its problem's code, field and detail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub detail: String,
}

/// A problem's body. The response carries it as an extension too, so that [`localise`] can
/// write it again with its Chinese title for a client that prefers Chinese.
/// An RFC 9457 problem; `code` is stable, `title` is in Chinese when the client prefers it.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    #[serde(skip)]
    title_zh: &'static str,
    status: u16,
    detail: String,
    code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    /// Field errors past the first [`LISTED_ERRORS`], not listed.
    #[serde(skip_serializing_if = "is_zero")]
    errors_omitted: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().1
    }

    fn error_response(&self) -> HttpResponse {
        let (code, status, title) = self.kind();
        let errors = self.field_errors();
        // An upload's invalid identifiers are counted beyond the ones it kept.
        let erroneous = match self {
            ApiError::InvalidWatchlist { invalid, .. } => errors
                .len()
                .max(usize::try_from(*invalid).unwrap_or(usize::MAX)),
            _ => errors.len(),
        };
        let problem = Problem {
            kind: format!("urn:jiangcheng:problem:{code}"),
            title,
            title_zh: self.title_zh(),
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors: errors
                .iter()
                .take(LISTED_ERRORS)
                .map(FieldError::bounded)
                .collect(),
            errors_omitted: erroneous.saturating_sub(LISTED_ERRORS),
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::NotReady(_)
            | ApiError::SourceUnavailable(_)
            | ApiError::RegisterUnavailable(_)
            | ApiError::WatchlistStoreUnavailable(_)
            | ApiError::Overloaded { .. } => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            // The rest of the body may still be on its way: the connection cannot be reused.
            ApiError::BodyTimeout(_) => {
                response.force_close();
            }
            ApiError::RateLimited(_, wait) | ApiError::TooManyAuthFailures(wait) => {
                response.insert_header((header::RETRY_AFTER, retry_seconds(wait).to_string()));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"jiangcheng\""));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        response.extensions_mut().insert(problem);
        response.body(body)
    }
}

/// `response` with its problem's Chinese title when the request prefers Chinese
/// (`Accept-Language`); any other answer as it is. Only a problem reads the request's
/// languages: answers that are not pay nothing.
pub(super) fn localise(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let is_problem = response.response().extensions().get::<Problem>().is_some();
    if !is_problem || !prefers_chinese(response.request()) {
        return response;
    }
    let (request, response) = response.into_parts();
    ServiceResponse::new(request, in_chinese(response))
}

/// `response` as the request asks for it: with its problem's Chinese title if the request
/// prefers Chinese.
pub(super) fn localised(req: &impl HttpMessage, response: HttpResponse) -> HttpResponse {
    if prefers_chinese(req) {
        in_chinese(response)
    } else {
        response
    }
}

/// A problem response written again with its Chinese title; any other response as it is.
fn in_chinese(mut response: HttpResponse) -> HttpResponse {
    let Some(mut problem) = response.extensions_mut().remove::<Problem>() else {
        return response;
    };
    problem.title = problem.title_zh;
    response.set_body(BoxBody::new(
        serde_json::to_vec(&problem).unwrap_or_default(),
    ))
}

/// Whether the most preferred of the languages the API speaks (English, the default, and
/// Chinese: `zh` with any region or script) that the request's `Accept-Language` accepts
/// (quality above zero; `*` counts as English) is Chinese. A header that does not parse asks
/// for nothing, so it gets English.
fn prefers_chinese(req: &impl HttpMessage) -> bool {
    let Ok(AcceptLanguage(ranked)) = AcceptLanguage::parse(req) else {
        return false;
    };
    let mut best: Option<(Quality, bool)> = None;
    for preference in ranked {
        if preference.quality == Quality::ZERO {
            continue;
        }
        let chinese = match &preference.item {
            Preference::Any => false,
            Preference::Specific(tag) => match tag.primary_language() {
                language if language.eq_ignore_ascii_case("zh") => true,
                language if language.eq_ignore_ascii_case("en") => false,
                _ => continue,
            },
        };
        if best.is_none_or(|(quality, _)| preference.quality > quality) {
            best = Some((preference.quality, chinese));
        }
    }
    best.is_some_and(|(_, chinese)| chinese)
}

impl From<crate::register::StoreError> for ApiError {
    fn from(err: crate::register::StoreError) -> ApiError {
        match err {
            crate::register::StoreError::BadCursor(_) => {
                ApiError::InvalidRequest(vec![FieldError::new("cursor", err.to_string())])
            }
            other => ApiError::RegisterUnavailable(other.to_string()),
        }
    }
}

impl ApiError {
    /// The problem of a service error, naming `subject_field` when the subject's identifier
    /// cannot be decided.
    pub fn of(err: AppError, subject_field: &str) -> ApiError {
        match err {
            AppError::NotReady(reason) => ApiError::NotReady(reason),
            AppError::Undecidable(err) => ApiError::undecidable(err, subject_field),
            AppError::UnknownList(list) => ApiError::UnknownList(list),
            AppError::EntryNotFound { list, entry_id } => {
                ApiError::EntryNotFound { list, entry_id }
            }
            AppError::ReadOnlySource => ApiError::ReadOnlySource,
            AppError::NotRepairable(list) => ApiError::NotRepairable(list),
            AppError::SourceUnavailable(reason) => ApiError::SourceUnavailable(reason),
            AppError::InvalidJson(reason) => ApiError::InvalidJson(reason),
            AppError::InvalidEntry { field, message } => {
                ApiError::InvalidRequest(vec![FieldError::new(field, message)])
            }
            AppError::RegisterUnavailable(reason) => ApiError::RegisterUnavailable(reason),
            AppError::Internal(reason) => ApiError::Internal(reason),
            AppError::CommitmentsOff => ApiError::RegisterOff,
            AppError::InvalidRequest(problems) => ApiError::InvalidRequest(
                problems
                    .into_iter()
                    .map(|(field, message)| FieldError::new(field, message))
                    .collect(),
            ),
            AppError::CommitmentNotFound(id) => ApiError::CommitmentNotFound(id),
            AppError::CommitmentStore(reason) => ApiError::RegisterUnavailable(reason),
        }
    }
}

/// A service error where the subject is a decision request's (`subject.id`).
impl From<AppError> for ApiError {
    fn from(err: AppError) -> ApiError {
        ApiError::of(err, "subject.id")
    }
}

impl From<crate::lists::TextError> for ApiError {
    fn from(err: crate::lists::TextError) -> ApiError {
        ApiError::Internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_keeps_its_start_and_end_and_counts_what_was_left_out() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(bounded("exactly10!", 10), "exactly10!");
        let long = format!("{}end", "甲".repeat(100));
        assert_eq!(
            bounded(&long, 10),
            "甲甲甲甲甲…[93 characters left out]…甲甲end"
        );
    }

    #[test]
    fn a_problem_lists_20_field_errors_and_counts_the_rest() {
        let errors = (0..25)
            .map(|i| FieldError::new(format!("f{i}"), "is wrong"))
            .collect();
        let response = ApiError::InvalidRequest(errors).error_response();
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .and_then(Result::ok)
            .unwrap_or_default();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(problem["errors"].as_array().map(Vec::len), Some(20));
        assert_eq!(problem["errors_omitted"], 5);
        assert!(problem["detail"]
            .as_str()
            .is_some_and(|d| d.ends_with("f19 and 5 more")));
    }
}
