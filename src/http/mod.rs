//! The HTTP API v1 (docs/api.md) on actix-web: routes, shared state, the metrics middleware
//! and the server factory, which takes an already bound listener so tests can use port 0.

mod admin;
mod admission;
mod auth;
mod bare;
mod body;
mod catalog;
mod decide;
mod disputes;
mod problem;
mod register;
mod routes;
mod socket;
mod status;
mod subjects;
mod view;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service, ServiceRequest};
use actix_web::{web, App, HttpServer};

pub use auth::{Access, AccessConfig};
#[doc(hidden)]
pub use decide::bench_api;
pub use problem::{ApiError, FieldError};
pub use routes::endpoints;
pub use socket::bind;

use crate::engine::Outcome;
use crate::lists::source::{ColdCacheConfig, ColdLookup};
use crate::metrics::Metrics;
use crate::ruleset::MatterId;
use crate::snapshot::{Followed, Snapshot, Snapshots};
use crate::timestamp::Timestamp;

/// What one client may hold, and for how long (docs/operations.md, "Limits and their
/// defaults"). Bodies and batches past their size get 413.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_batch: usize,
    /// A request's body must arrive whole within this time of its head: 408, then closed.
    pub body_timeout: Duration,
    /// A connection's first request head must arrive whole within this time: 408, then closed.
    pub head_timeout: Duration,
    /// An idle keep-alive connection is closed after this long (zero: after every answer).
    pub keep_alive: Duration,
    /// A connection whose written data stays unacknowledged this long, or whose peer keeps its
    /// receive window shut this long, is aborted (`TCP_USER_TIMEOUT`): a client that stops
    /// reading its answer cannot hold it longer.
    pub write_timeout: Duration,
    /// Requests served at once (every route but the probes), bodies and answers included.
    pub max_in_flight: usize,
    /// Batches served at once, out of `max_in_flight`.
    pub max_batches_in_flight: usize,
    /// Connections open at once, across all workers.
    pub max_connections: usize,
    /// Connections the kernel queues before they are accepted.
    pub listen_backlog: u32,
    /// How long a stopping server waits for the requests it is serving.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 2 * 1024 * 1024,
            max_batch: 10_000,
            body_timeout: Duration::from_secs(10),
            head_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_in_flight: 256,
            max_batches_in_flight: 16,
            max_connections: 10_000,
            listen_backlog: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub snapshots: Snapshots,
    pub metrics: Metrics,
    pub limits: Limits,
    pub started_at: Timestamp,
    /// `decisions_total` resolved for the current rule set.
    decision_counters: arc_swap::ArcSwapOption<DecisionCounters>,
    /// The parts of a decision's JSON that depend only on the current snapshot.
    rendered: arc_swap::ArcSwapOption<decide::Rendered>,
    /// Callers' keys; `None` runs the API open.
    keys: Option<crate::keys::KeyRing>,
    /// Whether `/metrics` needs a key with the `admin` scope.
    protect_metrics: bool,
    access: AccessConfig,
    refusals: auth::Refusals,
    /// The query register; `None` when it is off.
    register: Option<crate::register::Register>,
    /// Slots of requests and batches in flight.
    admission: admission::Admission,
}

/// The `decisions_total` counter of every (matter, outcome) of one rule set, resolved once per
/// snapshot: counting a decision then indexes an array instead of hashing label strings.
struct DecisionCounters {
    rules: Arc<crate::ruleset::RuleSet>,
    /// By matter index, then in the order of [`Outcome::ALL`].
    by_matter: Vec<[prometheus::IntCounter; 3]>,
}

impl DecisionCounters {
    fn resolve(metrics: &Metrics, rules: &Arc<crate::ruleset::RuleSet>) -> DecisionCounters {
        DecisionCounters {
            rules: Arc::clone(rules),
            by_matter: rules
                .matters()
                .map(|(_, matter)| {
                    Outcome::ALL.map(|outcome| {
                        metrics
                            .decisions
                            .with_label_values(&[matter.code.as_str(), outcome.as_str()])
                    })
                })
                .collect(),
        }
    }
}

impl AppState {
    pub fn new(snapshots: Snapshots, limits: Limits) -> AppState {
        AppState::with_cold_cache(snapshots, limits, ColdCacheConfig::default())
    }

    pub fn with_cold_cache(
        snapshots: Snapshots,
        limits: Limits,
        cold: ColdCacheConfig,
    ) -> AppState {
        let metrics = Metrics::new();
        AppState {
            decision_counters: arc_swap::ArcSwapOption::empty(),
            rendered: arc_swap::ArcSwapOption::empty(),
            keys: None,
            protect_metrics: false,
            access: AccessConfig::default(),
            refusals: auth::Refusals::new(&AccessConfig::default()),
            register: None,
            admission: admission::Admission::new(&limits),
            snapshots: snapshots
                .with_cold_cache(cold)
                .counting_refusals(metrics.list_loads_refused.clone()),
            metrics,
            limits,
            started_at: Timestamp::now(),
        }
    }

    /// Requires API keys on `/v1` (and, if `protect_metrics`, on `/metrics`).
    pub fn with_keys(mut self, keys: crate::keys::KeyRing, protect_metrics: bool) -> AppState {
        self.keys = Some(keys);
        self.protect_metrics = protect_metrics;
        self
    }

    /// Admits callers as `config` says.
    pub fn with_access(mut self, config: AccessConfig) -> AppState {
        self.refusals = auth::Refusals::new(&config);
        self.access = config;
        self
    }

    /// Keeps the query register as `config` says (none when it is off).
    pub fn with_register(
        mut self,
        config: &crate::register::RegisterConfig,
    ) -> Result<AppState, crate::register::RegisterError> {
        self.register = crate::register::Register::open(config, &self.metrics.register_records)?;
        Ok(self)
    }

    /// The query register, if on.
    pub fn register(&self) -> Option<&crate::register::Register> {
        self.register.as_ref()
    }

    /// Hands an event to the register, if it is on (never waits).
    fn record(&self, event: impl FnOnce() -> crate::register::Event) {
        if let Some(register) = &self.register {
            register.submit(event());
        }
    }

    /// The snapshot to serve from, or 503 while none has loaded. The reason names the sources
    /// by what they are, not by their paths: `/readyz` answers anyone.
    fn snapshot(&self) -> Result<Arc<Snapshot>, ApiError> {
        self.snapshots.current().ok_or_else(|| {
            let reason = self.snapshots.report().last_error.map_or_else(
                || "the rule set and lists are still loading".into(),
                |error| status::without_paths(error, self.snapshots.sources()),
            );
            ApiError::NotReady(reason)
        })
    }

    fn count_decision(&self, snapshot: &Snapshot, matter: MatterId, outcome: Outcome, count: u64) {
        if count == 0 {
            return;
        }
        let counters = self.decision_counters.load();
        match counters.as_deref() {
            Some(counters) if Arc::ptr_eq(&counters.rules, &snapshot.rules) => {
                counters.by_matter[matter.index()][outcome as usize].inc_by(count);
            }
            // A request that still holds the snapshot before the last swap.
            _ => {
                let matter = snapshot.rules.matter(matter).code.as_str();
                self.metrics
                    .decisions
                    .with_label_values(&[matter, outcome.as_str()])
                    .inc_by(count);
            }
        }
    }

    /// Reloads rules and lists off the request path and publishes the result.
    pub fn reload(&self) -> Result<Arc<Snapshot>, crate::snapshot::LoadError> {
        self.published(self.snapshots.reload())
    }

    /// Reloads as [`AppState::reload`] does, taking lists the fail-closed guard would refuse.
    pub fn force_reload(&self) -> Result<Arc<Snapshot>, crate::snapshot::LoadError> {
        self.published(self.snapshots.force_reload())
    }

    fn published(
        &self,
        result: Result<Arc<Snapshot>, crate::snapshot::LoadError>,
    ) -> Result<Arc<Snapshot>, crate::snapshot::LoadError> {
        self.metrics.reload_result(result.is_ok()).inc();
        if let Ok(snapshot) = &result {
            self.publish(snapshot);
        }
        result
    }
}

impl Followed for AppState {
    fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// Publishes a swapped-in snapshot: its metrics, and its rule set's decision counters.
    fn publish(&self, snapshot: &Snapshot) {
        self.metrics.observe_snapshot(snapshot);
        let current = self.decision_counters.load();
        if !current
            .as_deref()
            .is_some_and(|c| Arc::ptr_eq(&c.rules, &snapshot.rules))
        {
            self.decision_counters
                .store(Some(Arc::new(DecisionCounters::resolve(
                    &self.metrics,
                    &snapshot.rules,
                ))));
        }
    }
}

/// The entries outside the index that each subject's decision needs (see
/// [`Source::outside_entries`](crate::lists::source::Source::outside_entries)).
async fn cold_entries(
    state: &web::Data<AppState>,
    snapshot: &Arc<Snapshot>,
    subjects: &[crate::ident::SubjectKey],
) -> Result<ColdLookup, ApiError> {
    state
        .snapshots
        .lists()
        .outside_entries(&snapshot.rules, &snapshot.cold_names, subjects)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))
}

/// One request being counted and timed, by route template (never the raw path, which may hold
/// an identifier). The template is read once the request has been routed: the router matches
/// the decoded path, which the raw one may not resemble (`/v%31/decide`).
struct Observation {
    method: &'static str,
    state: Option<web::Data<AppState>>,
    started: Instant,
}

impl Observation {
    fn start(req: &ServiceRequest) -> Observation {
        Observation {
            method: method_label(req.method()),
            state: req.app_data::<web::Data<AppState>>().cloned(),
            started: Instant::now(),
        }
    }

    fn finish<B>(self, response: &actix_web::dev::ServiceResponse<B>) {
        let Some(state) = self.state else { return };
        let status = response.status();
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let outcome = match status.as_u16() {
            500.. => "5xx",
            400..=499 => "4xx",
            _ => "2xx",
        };
        state
            .metrics
            .http_requests
            .with_label_values(&[route.as_str(), self.method, status.as_str()])
            .inc();
        state
            .metrics
            .http_duration
            .with_label_values(&[route.as_str(), outcome])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// The method as a metric label: clients may send any token as a method, so only the standard
/// ones are named.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Starts the API on `listener` with `workers` threads; the returned server runs when awaited
/// or spawned. `bench_routes` adds the bare reference endpoint of the load tests.
pub fn server(
    listener: TcpListener,
    state: web::Data<AppState>,
    workers: usize,
    bench_routes: bool,
) -> std::io::Result<Server> {
    let limits = state.limits;
    let server = HttpServer::new(move || {
        let admitting = state.clone();
        App::new()
            .app_data(state.clone())
            .wrap_fn(problem::localise)
            .wrap_fn(move |req, srv| admission::admit(&admitting, req, srv))
            .wrap_fn(|req, srv| {
                let observation = Observation::start(&req);
                let call = srv.call(req);
                async move {
                    let response = call.await?;
                    observation.finish(&response);
                    Ok(response)
                }
            })
            .configure(|cfg| routes::mount(cfg, bench_routes))
    })
    .workers(workers.max(1))
    .max_connections(limits.max_connections.div_ceil(workers.max(1)))
    .client_request_timeout(limits.head_timeout)
    .keep_alive(limits.keep_alive)
    .shutdown_timeout(limits.shutdown_grace.as_secs())
    .on_connect(socket::on_connect(limits.write_timeout))
    .listen(listener)?
    .run();
    Ok(server)
}
