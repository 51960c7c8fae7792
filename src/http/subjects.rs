//! `GET /v1/subjects/{id}`: a subject's profile for credit-centre staff — its entries in force,
//! those recently ended (marked), the entries naming it as a responsible person, its topics.

use std::borrow::Cow;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::decide::WarningView;
use super::openapi::codes;
use super::problem::{ApiError, FieldError, ProblemKind};
use super::view::{subject_view, RuleSetView, SubjectView};
use super::AppState;
use crate::app::CommitmentProfile;
use crate::engine::{EntryState, Shown, Warning};
use crate::ident::{self, IdType};
use crate::keys::Caller;
use crate::lists::EntryRecord;
use crate::ruleset::{Role, RuleSet};
use crate::timestamp::Timestamp;

#[derive(Deserialize)]
pub struct ProfileQuery {
    as_of: Option<String>,
    /// The identifier's type, when detection by shape is not wanted (as a decision request's
    /// `subject.id_type`).
    id_type: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ProfileEntry)]
struct EntryView<'a> {
    #[schema(value_type = String)]
    state: EntryState,
    topics: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    record: EntryRecord<'a>,
    /// On a scored list: the level the entry's score falls in.
    #[serde(skip_serializing_if = "Option::is_none")]
    score_level: Option<&'a str>,
    /// An in-force score entry that no longer counts: the entry whose score is current.
    #[serde(skip_serializing_if = "Option::is_none")]
    superseded_by: Option<Cow<'a, str>>,
    /// Names the other identifier of the subject through which the entry was found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<WarningView>,
    /// Every dispute change, oldest first (admin writes keep it; a file source has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dispute_history: Vec<serde_json::Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Profile<'a> {
    subject: SubjectView,
    warnings: Vec<WarningView>,
    /// Set when the list source could not give the dispute histories: the profile is served
    /// from memory all the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    dispute_history_unavailable: Option<&'static str>,
    as_of: String,
    /// Codes of the topics triggered by entries in force (the subject's own or naming it).
    topics: Vec<&'a str>,
    entries: Vec<EntryView<'a>>,
    named_in: Vec<EntryView<'a>>,
    ruleset: RuleSetView<'a>,
    lists_version: u64,
    /// The subject's credit commitments and breaches of them (违诺), as of `as_of`; absent
    /// when the register is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    commitments: Option<CommitmentProfile>,
}

fn entry_views<'a>(
    rules: &'a RuleSet,
    shown: &[Shown<'a>],
) -> Result<Vec<EntryView<'a>>, ApiError> {
    shown.iter().map(|s| entry_view(rules, s)).collect()
}

fn entry_view<'a>(rules: &'a RuleSet, shown: &Shown<'a>) -> Result<EntryView<'a>, ApiError> {
    let entry = &shown.entry;
    Ok(EntryView {
        state: shown.state,
        topics: &rules.list(entry.facts.list).topics,
        role: shown.role.map(Role::as_str),
        record: entry.record(rules)?,
        score_level: shown.score_level,
        superseded_by: shown.superseded_by.map(|e| e.entry_id()).transpose()?,
        warnings: shown
            .matched
            .into_iter()
            .map(WarningView::legacy_id_matched)
            .collect(),
        dispute_history: Vec::new(),
    })
}

#[utoipa::path(
    get,
    path = "/v1/subjects/{id}",
    tag = "subjects",
    description = "A subject's profile: its entries in force with windows, states and dispute history, and its score level.",
    params(("id" = String, Path, description = "A unified social credit code, a resident ID number or an older identifier")),
    responses((status = 200, description = "The profile", body = Profile)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::InvalidSubjectId,
        ProblemKind::IdCheckMismatch,
        ProblemKind::AmbiguousSubjectId,
        ProblemKind::NotReady,
    ])))),
)]
pub async fn profile(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.snapshot()?;
    let at = match &query.as_of {
        Some(text) => Timestamp::parse(text).map_err(|err| {
            ApiError::InvalidRequest(vec![FieldError::new("as_of", err.to_string())])
        })?,
        None => Timestamp::now(),
    };
    let subject = match query.id_type.as_deref().map(str::parse::<IdType>) {
        None => ident::parse(&path),
        Some(Ok(id_type)) => ident::parse_as(&path, id_type),
        Some(Err(err)) => {
            return Err(ApiError::InvalidRequest(vec![FieldError::new(
                "id_type",
                err.to_string(),
            )]))
        }
    }
    .map_err(|err| ApiError::InvalidSubjectId(FieldError::new("id", err.to_string())))?;
    let caller = req.extensions().get::<Caller>().cloned();
    let request_id = crate::request_id::current();
    let service = &state.service;
    let cold = service
        .holdings_of(&snapshot, &subject)
        .await
        .map_err(|err| ApiError::of(err, "id"))?;
    let read = service
        .profile(&snapshot, &cold, subject, at, caller, request_id)
        .await
        .map_err(|err| ApiError::of(err, "id"))?;
    let rules = &snapshot.rules;
    let shown = read.profile;
    let left_out = read.lists_left_out.then_some(Warning::ListsLeftOut);
    let mut profile = Profile {
        subject: subject_view(&subject),
        warnings: shown
            .warning
            .iter()
            .chain(&left_out)
            .map(WarningView::of)
            .collect(),
        dispute_history_unavailable: None,
        as_of: at.to_string(),
        topics: shown.topics,
        entries: entry_views(rules, &shown.entries)?,
        named_in: entry_views(rules, &shown.named_in)?,
        ruleset: RuleSetView::of(&snapshot),
        lists_version: snapshot.lists_version,
        commitments: service.commitment_profile(rules, &subject, at),
    };
    match read.histories {
        Some(histories) => {
            let views = profile
                .entries
                .iter_mut()
                .chain(profile.named_in.iter_mut());
            for (view, history) in views.zip(histories) {
                view.dispute_history = history;
            }
        }
        None => {
            profile.dispute_history_unavailable =
                Some("the list source did not answer in time: dispute histories are left out");
        }
    }
    Ok(HttpResponse::Ok().json(profile))
}
