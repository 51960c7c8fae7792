//! Operations endpoints: `/v1/status`, `/healthz`, `/readyz`, `/metrics`.

use std::collections::BTreeMap;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::openapi::codes;
use super::problem::{ApiError, ProblemKind};
use super::AppState;
use crate::app::{without_paths, DisputeCounts};
use crate::keys::{Caller, Scope};
use crate::lists::source::LoadPath;
use crate::lists::ShrinkGuard;
use crate::register::Health;
use crate::snapshot::{LoadReport, Sources};
use crate::timestamp::Timestamp;

#[derive(Serialize, utoipa::ToSchema)]
struct LoadView {
    attempts: u64,
    failures: u64,
    last_attempt: Option<String>,
    last_success: Option<String>,
    last_error: Option<String>,
    /// Loads the fail-closed guard refused, and the latest of them (when, why).
    refusals: u64,
    last_refusal: Option<RefusalView>,
    /// What the guard refuses: more than this share removed, overall or from a list of at
    /// least `list_shrink_min_entries`; no entries at all; an emptied list.
    max_list_shrink: f64,
    list_shrink_min_entries: u64,
    /// How the latest successful load read the lists: `file`, `snapshot` (the list snapshot
    /// stored in Redis) or `scan` (every entry in Redis, with why no snapshot served).
    path: Option<&'static str>,
    scan_reason: Option<String>,
    /// Loads from Redis that scanned every entry because no stored snapshot could be used.
    snapshot_fallbacks: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RefusalView {
    at: String,
    reason: String,
}

impl LoadView {
    /// The report, its error naming the sources' paths only if `paths` (else by what they are:
    /// `<lists>`, `<rules>`).
    fn of(report: LoadReport, guard: ShrinkGuard, sources: &Sources, paths: bool) -> LoadView {
        let text = |t: Option<Timestamp>| t.map(|t| t.to_string());
        let mut last_error = report.last_error;
        if !paths {
            last_error = last_error.map(|error| without_paths(error, sources));
        }
        LoadView {
            attempts: report.attempts,
            failures: report.failures,
            last_attempt: text(report.last_attempt),
            last_success: text(report.last_success),
            last_error,
            refusals: report.refusals,
            last_refusal: report.last_refusal.map(|r| RefusalView {
                at: r.at.to_string(),
                reason: if paths {
                    r.reason
                } else {
                    without_paths(r.reason, sources)
                },
            }),
            max_list_shrink: guard.max_shrink,
            list_shrink_min_entries: guard.min_list_entries,
            path: report.last_path.as_ref().map(LoadPath::name),
            scan_reason: match report.last_path {
                Some(LoadPath::Scan { why }) => Some(why),
                _ => None,
            },
            snapshot_fallbacks: report.snapshot_fallbacks,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
struct RuleSetStatus<'a> {
    name: &'a str,
    title: &'a str,
    revision: &'a str,
    /// The rule set's folder: shown to `admin` keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    lists: usize,
    incentive_topics: usize,
    penalty_topics: usize,
    measures: usize,
    matters: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ListsStatus<'a> {
    source: &'static str,
    /// The list file's path or Redis's address: shown to `admin` keys only.
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    version: u64,
    /// Redis source: the epoch the version counts in; instances agree on their lists when
    /// version and epoch both match.
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<&'a str>,
    loaded_at: String,
    entries: usize,
    subjects: usize,
    check_mismatches: usize,
    /// Redis source: changes may be missing (the follower lost Redis, has not heard from it
    /// for too long, or must load the lists whole again).
    stale: bool,
    /// Seconds since the follower last heard from Redis (Redis source only).
    staleness_seconds: Option<f64>,
    /// Redis source: what the change-stream follower has done.
    #[serde(skip_serializing_if = "Option::is_none")]
    follow: Option<FollowView>,
    per_list: BTreeMap<&'a str, usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct FollowView {
    connected: bool,
    resync_pending: bool,
    stale_after_seconds: f64,
    last_contact: Option<String>,
    last_change: Option<String>,
    changes_applied: u64,
    changes_rejected: u64,
    resyncs: u64,
    last_error: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
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
    #[schema(value_type = Object)]
    register: RegisterView,
    /// Redis source: objections under review and how many are overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    disputes: Option<DisputesView>,
    /// The supervision watchlists: their store (`files` or `redis`), how many, their subjects,
    /// and the stored ones refused at the last load (each named, with why).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    watchlists: Option<crate::watchlists::WatchlistsStatus>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum DisputesView {
    Counts(DisputeCounts),
    Unavailable { error: &'static str },
}

impl DisputesView {
    /// The counts now, or why there are none (said without the store's address).
    async fn of(state: &AppState) -> Option<DisputesView> {
        match state.service.dispute_counts().await {
            Ok(counts) => counts.map(DisputesView::Counts),
            Err(_) => Some(DisputesView::Unavailable {
                error: "the list store did not answer, or the lists are not loaded",
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum RegisterView {
    On(crate::register::RegisterStatus),
    Off { sink: &'static str },
}

/// Whether callers need keys: a service running open says so here as well as in its log.
#[derive(Serialize, utoipa::ToSchema)]
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
        match state.service.keys() {
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

#[utoipa::path(
    get,
    path = "/v1/status",
    tag = "operations",
    description = "Rule-set revision, list version and counts, load history, register health.",
    responses((status = 200, description = "The status", body = Status)),
)]
pub async fn status(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    // Where the service keeps its files is for administrators: not for a department's key,
    // nor for anyone when the service runs open.
    let paths = match (state.service.keys(), req.extensions().get::<Caller>()) {
        (Some(keys), Some(caller)) => keys.permits(caller, Scope::Admin),
        _ => false,
    };
    let snapshot = state.service.snapshots.current();
    let sources = state.service.snapshots.sources();
    let ruleset = snapshot.as_deref().map(|s| {
        let (incentive_topics, penalty_topics) = s.rules.topic_counts();
        RuleSetStatus {
            name: &s.rules.name,
            title: &s.rules.title,
            revision: &s.rules.revision,
            path: paths.then(|| sources.rules.to_string()),
            lists: s.rules.lists().len(),
            incentive_topics,
            penalty_topics,
            measures: s.rules.measures().len(),
            matters: s.rules.matters().len(),
        }
    });
    let follow = state.service.snapshots.follow_report();
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
        resync_pending: follow.resync_pending,
        stale_after_seconds: follow.stale_after.as_secs_f64(),
        last_contact: text(follow.last_contact),
        last_change: text(follow.last_change),
        changes_applied: follow.changes_applied,
        changes_rejected: follow.changes_rejected,
        resyncs: follow.resyncs,
        last_error: follow.last_error.clone(),
    });
    let lists = snapshot.as_deref().map(|s| ListsStatus {
        source: sources.lists.kind(),
        location: paths.then(|| sources.lists.location()),
        version: s.lists_version,
        epoch: s.lists_epoch.as_deref(),
        loaded_at: s.loaded_at.to_string(),
        entries: s.lists.len(),
        subjects: s.lists.subjects(),
        check_mismatches: s.lists.check_mismatches(),
        stale: follow.stale(now),
        staleness_seconds,
        follow: follow_view,
        per_list: s
            .rules
            .lists()
            .map(|(id, l)| (l.code.as_str(), s.lists.count(id)))
            .collect(),
    });
    let disputes = DisputesView::of(&state).await;
    HttpResponse::Ok().json(Status {
        service: "jiangcheng",
        version: env!("CARGO_PKG_VERSION"),
        ready: snapshot.is_some(),
        started_at: state.started_at.to_string(),
        ruleset,
        lists,
        last_load: LoadView::of(
            state.service.snapshots.report(),
            state.service.snapshots.guard(),
            sources,
            paths,
        ),
        auth: AuthView::of(&state),
        register: match state.service.register() {
            Some(register) => RegisterView::On(register.status()),
            None => RegisterView::Off { sink: "off" },
        },
        disputes,
        watchlists: state.service.watchlists().map(|lists| lists.status()),
    })
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    description = "Live while the process serves.",
    responses((status = 200, description = "Live", content_type = "application/json", body = serde_json::Value)),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "live"}))
}

/// Ready once rules and lists are loaded. A register that is not `ok` is named in the body;
/// one that is failing makes the service not ready if the register is required.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    description = "Ready once the rules and lists are loaded.",
    responses((status = 200, description = "Ready", content_type = "application/json", body = serde_json::Value)),
    extensions(("x-problems" = json!(codes(&[
        ProblemKind::NotReady,
        ProblemKind::RegisterUnavailable,
    ])))),
)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.snapshot()?;
    let mut body = serde_json::json!({"status": "ready"});
    if let Some(register) = state.service.register() {
        let status = register.status();
        if status.health == Health::Failing && status.required {
            return Err(ApiError::NotReady(format!(
                "the query register is required and {}",
                status.health.detail()
            )));
        }
        if status.health != Health::Ok {
            body["register"] = serde_json::json!({
                "health": status.health,
                "detail": status.health.detail(),
            });
        }
    }
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    description = "Prometheus metrics.",
    responses((status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain", body = String)),
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.service.observe();
    state.admission.observe(&state.service.metrics);
    if let Ok(Some(counts)) = state.service.dispute_counts().await {
        let overdue = i64::try_from(counts.overdue).unwrap_or(i64::MAX);
        state.service.metrics.disputes_overdue.set(overdue);
    }
    state
        .service
        .metrics
        .http_protocol_errors
        .set(i64::try_from(crate::telemetry::protocol_errors()).unwrap_or(i64::MAX));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.service.metrics.render())
}
