//! Operations endpoints: `/v1/status`, `/healthz`, `/readyz`, `/metrics`.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::problem::ApiError;
use super::AppState;
use crate::snapshot::LoadReport;
use crate::timestamp::Timestamp;

#[derive(Serialize)]
struct LoadView {
    attempts: u64,
    failures: u64,
    last_attempt: Option<String>,
    last_success: Option<String>,
    last_error: Option<String>,
}

impl From<LoadReport> for LoadView {
    fn from(report: LoadReport) -> LoadView {
        let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
        LoadView {
            attempts: report.attempts,
            failures: report.failures,
            last_attempt: text(report.last_attempt),
            last_success: text(report.last_success),
            last_error: report.last_error,
        }
    }
}

#[derive(Serialize)]
struct RuleSetStatus<'a> {
    name: &'a str,
    title: &'a str,
    revision: &'a str,
    path: String,
    lists: usize,
    incentive_topics: usize,
    penalty_topics: usize,
    measures: usize,
    matters: usize,
}

#[derive(Serialize)]
struct ListsStatus<'a> {
    source: &'static str,
    location: String,
    version: u64,
    loaded_at: String,
    entries: usize,
    subjects: usize,
    check_mismatches: usize,
    /// Redis source: the follower has lost Redis, so changes may be missing.
    stale: bool,
    /// Seconds since the follower last heard from Redis (Redis source only).
    staleness_seconds: Option<f64>,
    /// Redis source: what the change-stream follower has done.
    #[serde(skip_serializing_if = "Option::is_none")]
    follow: Option<FollowView>,
    per_list: BTreeMap<&'a str, usize>,
}

#[derive(Serialize)]
struct FollowView {
    connected: bool,
    last_contact: Option<String>,
    last_change: Option<String>,
    changes_applied: u64,
    changes_rejected: u64,
    resyncs: u64,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct Status<'a> {
    service: &'static str,
    version: &'static str,
    ready: bool,
    started_at: String,
    ruleset: Option<RuleSetStatus<'a>>,
    lists: Option<ListsStatus<'a>>,
    last_load: LoadView,
    auth: AuthView,
    /// The query register: its store, queue, spill file and counts; `{"sink": "off"}` when off.
    register: RegisterView,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RegisterView {
    On(crate::audit::RegisterStatus),
    Off { sink: &'static str },
}

/// Whether callers need keys: a service running open says so here as well as in its log.
#[derive(Serialize)]
struct AuthView {
    /// `keys` or `open`.
    mode: &'static str,
    keys: usize,
    metrics_protected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

impl AuthView {
    fn of(state: &AppState) -> AuthView {
        match &state.keys {
            Some(keys) => AuthView {
                mode: "keys",
                keys: keys.len(),
                metrics_protected: state.protect_metrics,
                warning: None,
            },
            None => AuthView {
                mode: "open",
                keys: 0,
                metrics_protected: false,
                warning: Some("no API keys are configured: every /v1 endpoint is open"),
            },
        }
    }
}

pub async fn status(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.store.current();
    let sources = state.store.sources();
    let ruleset = snapshot.as_deref().map(|s| {
        let (incentive_topics, penalty_topics) = s.rules.topic_counts();
        RuleSetStatus {
            name: &s.rules.name,
            title: &s.rules.title,
            revision: &s.rules.revision,
            path: sources.rules.display().to_string(),
            lists: s.rules.lists().len(),
            incentive_topics,
            penalty_topics,
            measures: s.rules.measures().len(),
            matters: s.rules.matters().len(),
        }
    });
    let follow = state.store.follow_report();
    let now = Timestamp::now();
    let staleness_seconds = follow
        .following
        .then(|| {
            follow
                .last_contact
                .map_or(f64::INFINITY, |t| (now.0 - t.0) as f64 / 1000.0)
        })
        .filter(|s| s.is_finite());
    let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
    let follow_view = follow.following.then(|| FollowView {
        connected: follow.connected,
        last_contact: text(follow.last_contact),
        last_change: text(follow.last_change),
        changes_applied: follow.changes_applied,
        changes_rejected: follow.changes_rejected,
        resyncs: follow.resyncs,
        last_error: follow.last_error.clone(),
    });
    let lists = snapshot.as_deref().map(|s| ListsStatus {
        source: sources.lists.kind(),
        location: sources.lists.location(),
        version: s.lists_version,
        loaded_at: s.loaded_at.to_string(),
        entries: s.lists.len(),
        subjects: s.lists.subjects(),
        check_mismatches: s.lists.check_mismatches(),
        stale: follow.following && !follow.connected,
        staleness_seconds,
        follow: follow_view,
        per_list: s
            .rules
            .lists()
            .map(|(id, l)| (l.code.as_str(), s.lists.count(id)))
            .collect(),
    });
    HttpResponse::Ok().json(Status {
        service: "jiangcheng",
        version: env!("CARGO_PKG_VERSION"),
        ready: snapshot.is_some(),
        started_at: state.started_at.to_string(),
        ruleset,
        lists,
        last_load: state.store.report().into(),
        auth: AuthView::of(&state),
        register: match state.register() {
            Some(register) => RegisterView::On(register.status()),
            None => RegisterView::Off { sink: "off" },
        },
    })
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "live"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.snapshot()?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.observe_follow(&state.store.follow_report());
    if let Some(cold) = &state.cold {
        state.metrics.observe_cold(cold.stats());
    }
    if let Some(register) = state.register() {
        state.metrics.observe_register(&register.status());
    }
    state.admission.observe(&state.metrics);
    state
        .metrics
        .http_protocol_errors
        .set(i64::try_from(crate::telemetry::protocol_errors()).unwrap_or(i64::MAX));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
