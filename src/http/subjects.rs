//! `GET /v1/subjects/{id}`: a subject's profile for credit-centre staff — its entries in force,
//! those recently ended (marked), the entries naming it as a responsible person, its topics.

use std::borrow::Cow;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::decide::WarningView;
use super::problem::{ApiError, FieldError};
use super::view::{subject_view, RuleSetView, SubjectView};
use super::AppState;
use crate::audit::Event;
use crate::engine;
use crate::ident::{self, IdType, SubjectKey};
use crate::keys::Caller;
use crate::lists::{Dispute, EntryRecord, EntryRef, Status};
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// How long an ended entry stays in the profile, marked, after it stopped counting.
const RECENTLY_ENDED_MS: i64 = 365 * 24 * 3600 * 1000;

#[derive(Deserialize)]
pub struct ProfileQuery {
    as_of: Option<String>,
    /// The identifier's type, when detection by shape is not wanted (as a decision request's
    /// `subject.id_type`).
    id_type: Option<String>,
}

/// Where an entry stands at the profile's instant.
#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum EntryState {
    InForce,
    NotYetInForce,
    Expired,
    Repaired,
    Removed,
    /// Active, but an objection to it was upheld (异议成立), so it does not count.
    ObjectionUpheld,
}

fn state_of(entry: &EntryRef<'_>, at: Timestamp) -> EntryState {
    let facts = &entry.facts;
    match facts.status {
        Status::Repaired => EntryState::Repaired,
        Status::Removed => EntryState::Removed,
        Status::Active if facts.dispute == Dispute::Upheld => EntryState::ObjectionUpheld,
        Status::Active if facts.listed_on > at => EntryState::NotYetInForce,
        Status::Active if facts.in_force(at) => EntryState::InForce,
        Status::Active => EntryState::Expired,
    }
}

/// Ended entries are shown only for a year after they ended (repaired and removed entries carry
/// no end date, so they are shown while their window would still run).
fn worth_showing(entry: &EntryRef<'_>, at: Timestamp) -> bool {
    entry
        .facts
        .valid_until()
        .is_none_or(|until| until.0 + RECENTLY_ENDED_MS > at.0)
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

fn entry_view<'a>(
    rules: &'a RuleSet,
    entry: &EntryRef<'a>,
    at: Timestamp,
    role: Option<&'static str>,
    matched: Option<SubjectKey>,
) -> Result<EntryView<'a>, ApiError> {
    Ok(EntryView {
        state: state_of(entry, at),
        topics: &rules.list(entry.facts.list).topics,
        role,
        record: entry.record(rules)?,
        score_level: entry
            .facts
            .score()
            .and_then(|score| rules.score_level_name(score)),
        superseded_by: None,
        warnings: matched
            .into_iter()
            .map(WarningView::legacy_id_matched)
            .collect(),
        dispute_history: Vec::new(),
    })
}

/// Fills in the dispute history of the shown entries that were ever disputed, from the Redis
/// store (one round trip); a file source keeps no history.
async fn add_dispute_histories(
    state: &AppState,
    views: &mut [&mut EntryView<'_>],
) -> Result<(), ApiError> {
    let disputed: Vec<usize> = (0..views.len())
        .filter(|&i| views[i].record.dispute != Dispute::None)
        .collect();
    let Some(store) = state.store.sources().lists.redis() else {
        return Ok(());
    };
    if disputed.is_empty() {
        return Ok(());
    }
    let store = store.map_err(|err| ApiError::SourceUnavailable(err.to_string()))?;
    let ids: Vec<String> = disputed
        .iter()
        .map(|&i| views[i].record.entry_id.to_string())
        .collect();
    let histories = super::admin::blocking(move || store.dispute_histories(&ids)).await?;
    for (i, history) in disputed.into_iter().zip(histories) {
        views[i].dispute_history = super::admin::notes(&history)?;
    }
    Ok(())
}

/// The subject's own entries worth showing, each in-force score entry that is not the current
/// one marked with the entry that superseded it.
fn own_views<'a>(
    rules: &'a RuleSet,
    own: &[(EntryRef<'a>, Option<SubjectKey>)],
    at: Timestamp,
) -> Result<Vec<EntryView<'a>>, ApiError> {
    let current = engine::current_scores(own.iter().map(|(entry, _)| *entry), at);
    let mut views = Vec::new();
    for (position, (entry, matched)) in own.iter().enumerate() {
        if !worth_showing(entry, at) {
            continue;
        }
        let mut view = entry_view(rules, entry, at, None, *matched)?;
        if let Some(&(_, counted)) = current.iter().find(|(list, _)| *list == entry.facts.list) {
            if counted != position && entry.facts.in_force(at) {
                view.superseded_by = Some(own[counted].0.entry_id()?);
            }
        }
        views.push(view);
    }
    Ok(views)
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
    let warnings: Vec<WarningView> =
        engine::check_identifier(engine::Holdings::of(&snapshot.lists), &subject)
            .map_err(|err| ApiError::undecidable(err, "id"))?
            .iter()
            .map(WarningView::of)
            .collect();

    let rules = &snapshot.rules;
    let through = snapshot
        .lists
        .entries_through(&subject)
        .into_iter()
        .flatten();
    let own: Vec<_> = (snapshot.lists.entries_of(subject.key()).map(|e| (e, None)))
        .chain(through.map(|(e, matched)| (e, Some(matched))))
        .collect();
    let naming: Vec<_> = snapshot.lists.naming(subject.key()).collect();
    let mut topics: Vec<&str> = own
        .iter()
        .map(|(entry, _)| entry)
        .chain(naming.iter().map(|(entry, _)| entry))
        .filter(|entry| entry.facts.in_force(at))
        .flat_map(|entry| {
            rules
                .list(entry.facts.list)
                .topics
                .iter()
                .map(String::as_str)
        })
        .collect();
    topics.sort_unstable();
    topics.dedup();

    let mut profile = Profile {
        subject: subject_view(&subject),
        warnings,
        dispute_history_unavailable: None,
        as_of: at.to_string(),
        topics,
        entries: own_views(rules, &own, at)?,
        named_in: naming
            .iter()
            .filter(|(e, _)| worth_showing(e, at))
            .map(|(e, role)| entry_view(rules, e, at, Some(role.as_str()), None))
            .collect::<Result<_, _>>()?,
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
    state.audit(|| Event::ProfileRead {
        record_id: uuid::Uuid::now_v7(),
        subject,
        caller: req.extensions().get::<Caller>().cloned(),
        rules: std::sync::Arc::clone(&snapshot.rules),
        lists_version: snapshot.lists_version,
    });
    Ok(HttpResponse::Ok().json(profile))
}
