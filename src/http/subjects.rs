//! `GET /v1/subjects/{id}`: a subject's profile for credit-centre staff — its entries in force,
//! those recently ended (marked), the entries naming it as a responsible person, its topics.

use std::borrow::Cow;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::decide::WarningView;
use super::problem::{ApiError, FieldError};
use super::view::{subject_view, RuleSetView, SubjectView};
use super::AppState;
use crate::engine::{self, EntryState, Holdings, Shown, Warning};
use crate::ident::{self, IdType};
use crate::keys::Caller;
use crate::lists::{Dispute, EntryRecord};
use crate::register::Event;
use crate::ruleset::{Role, RuleSet};
use crate::timestamp::Timestamp;

#[derive(Deserialize)]
pub struct ProfileQuery {
    as_of: Option<String>,
    /// The identifier's type, when detection by shape is not wanted (as a decision request's
    /// `subject.id_type`).
    id_type: Option<String>,
}

#[derive(Serialize)]
struct EntryView<'a> {
    state: EntryState,
    topics: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(flatten)]
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

#[derive(Serialize)]
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

/// Fills in the dispute history of the shown entries that were ever disputed, from the list
/// source (one round trip); a file source keeps no history.
async fn add_dispute_histories(
    state: &AppState,
    views: &mut [&mut EntryView<'_>],
) -> Result<(), ApiError> {
    let disputed: Vec<usize> = (0..views.len())
        .filter(|&i| views[i].record.dispute != Dispute::None)
        .collect();
    if disputed.is_empty() {
        return Ok(());
    }
    let lists = std::sync::Arc::clone(state.snapshots.lists());
    let ids: Vec<String> = disputed
        .iter()
        .map(|&i| views[i].record.entry_id.to_string())
        .collect();
    let histories = super::admin::blocking(move || lists.dispute_histories(&ids)).await?;
    for (i, history) in disputed.into_iter().zip(histories) {
        views[i].dispute_history = super::admin::notes(&history)?;
    }
    Ok(())
}

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
    let cold = super::cold_entries(&state, &snapshot, &[subject.key()]).await?;
    let holdings = Holdings {
        index: &snapshot.lists,
        extra: cold.entries.first().map_or(&[][..], |entries| &entries[..]),
    };
    let rules = &snapshot.rules;
    let shown = engine::profile(rules, holdings, &subject, at)
        .map_err(|err| ApiError::undecidable(err, "id"))?;
    let left_out = cold.unavailable.then_some(Warning::ListsLeftOut);
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
    };
    let mut views: Vec<&mut EntryView<'_>> = profile
        .entries
        .iter_mut()
        .chain(profile.named_in.iter_mut())
        .collect();
    if let Err(err) = add_dispute_histories(&state, &mut views).await {
        tracing::warn!(error = %err, "a profile is served without its entries' dispute histories");
        profile.dispute_history_unavailable =
            Some("the list source did not answer in time: dispute histories are left out");
    }
    state.record(|| Event::ProfileRead {
        record_id: uuid::Uuid::now_v7(),
        subject,
        caller: req.extensions().get::<Caller>().cloned(),
        rules: std::sync::Arc::clone(&snapshot.rules),
        lists_version: snapshot.lists_version,
    });
    Ok(HttpResponse::Ok().json(profile))
}
