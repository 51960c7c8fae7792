//! The HTTP API v1 (docs/api.md) on actix-web: routes, the HTTP side of the shared state, the
//! metrics middleware and the server factory, which takes an already bound listener so tests
//! can use port 0. Handlers parse, call the [`Service`], and write the answer.

mod admin;
mod admission;
mod auth;
mod bare;
mod body;
mod catalog;
mod commitments;
mod compress;
mod console;
mod decide;
mod disputes;
mod index;
mod indicators;
mod observation;
mod openapi;
mod problem;
mod register;
mod routes;
mod socket;
mod status;
mod subject_lists;
mod subjects;
mod subscriptions;
mod view;
mod watchlists;

use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;

use actix_http::encoding::Encoder;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Condition;
use actix_web::{web, App, HttpServer};

pub use auth::{Access, AccessConfig};
#[doc(hidden)]
pub use decide::{answer as decide_offline, bench_api};
pub use openapi::json as openapi_json;
pub use problem::{ApiError, FieldError, ProblemKind};
pub use routes::endpoints;
pub use socket::bind;

use admission::Held;

use crate::app::Service;
use crate::request_id::RequestId;

/// The request id's header.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
use crate::snapshot::Snapshot;
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
    /// What reading a bidder list may take besides its rows, which are at most `max_batch`.
    pub sheets: crate::sheets::SheetLimits,
    /// Answers of at least this many bytes are compressed when the client accepts it (0: none
    /// are); smaller ones cost more to compress than to send.
    pub compress_min_bytes: usize,
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
            sheets: crate::sheets::SheetLimits::default(),
            compress_min_bytes: 8192,
        }
    }
}

/// What every handler shares: the service, and what only HTTP needs (limits, keys' use on
/// `/metrics`, admission slots, refusals, and the rendered parts of decisions).
pub struct AppState {
    pub service: Arc<Service>,
    pub limits: Limits,
    pub started_at: Timestamp,
    /// The parts of a decision's JSON that depend only on the current snapshot.
    rendered: arc_swap::ArcSwapOption<decide::Rendered>,
    /// Whether `/metrics` needs a key with the `admin` scope.
    protect_metrics: bool,
    /// Origins whose pages may call from a browser (CORS); none turns CORS off.
    cors_origins: Vec<String>,
    access: AccessConfig,
    refusals: auth::Refusals,
    /// Slots of requests and batches in flight.
    admission: admission::Admission,
}

impl AppState {
    pub fn new(service: Arc<Service>, limits: Limits) -> AppState {
        AppState {
            service,
            rendered: arc_swap::ArcSwapOption::empty(),
            protect_metrics: false,
            cors_origins: Vec::new(),
            access: AccessConfig::default(),
            refusals: auth::Refusals::new(&AccessConfig::default()),
            admission: admission::Admission::new(&limits),
            limits,
            started_at: Timestamp::now(),
        }
    }

    /// Whether `/metrics` needs a key with the `admin` scope (when the service has keys).
    pub fn protecting_metrics(mut self, protect_metrics: bool) -> AppState {
        self.protect_metrics = protect_metrics;
        self
    }

    /// Lets pages from `origins` call the API from a browser (none: no CORS headers at all).
    pub fn allowing_origins(mut self, origins: Vec<String>) -> AppState {
        self.cors_origins = origins;
        self
    }

    /// Admits callers as `config` says.
    pub fn with_access(mut self, config: AccessConfig) -> AppState {
        self.refusals = auth::Refusals::new(&config);
        self.access = config;
        self
    }

    /// The snapshot to serve from, or 503 while none has loaded.
    fn snapshot(&self) -> Result<Arc<Snapshot>, ApiError> {
        Ok(self.service.snapshot()?)
    }
}

/// Middleware, outermost: gives the request its id (the client's `X-Request-Id` if sane, else a
/// new one), makes it current for the handlers and every log line while the request is served
/// (see [`crate::request_id`]), and sends it back on every answer, problems included.
fn tag<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: MessageBody + 'static,
{
    let mut sent = req.headers().get_all(X_REQUEST_ID);
    // None, or several: which would be the request's?
    let sent = match (sent.next(), sent.next()) {
        (Some(one), None) => Some(one.clone()),
        _ => None,
    };
    let id = RequestId::accept(sent.as_ref().map(HeaderValue::as_bytes));
    // A kept id goes back as the client sent it, without a copy.
    let value = match sent {
        Some(sent) if sent.as_bytes() == id.as_str().as_bytes() => Ok(sent),
        _ => HeaderValue::from_str(id.as_str()),
    };
    // The handlers read the id as the thread's current request's (`request_id::current`).
    let call = id.serve(|| srv.call(req));
    crate::request_id::serving(id, async move {
        // Handlers' and admission's errors are answers by now (problem+json).
        let mut response = call.await?;
        if let Ok(value) = value {
            response.headers_mut().insert(X_REQUEST_ID, value);
        }
        Ok(response)
    })
}

/// Middleware inside CORS, in one layer (a layer's future costs every request), from the
/// outside in: compression of large answers, the request counted and timed, admission (a
/// request shed with 503 is answered here), and a problem's language.
fn serve<S>(
    state: &AppState,
    observer: &Rc<observation::Observer>,
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<Encoder<Held>, Held>>, actix_web::Error>>
       + use<S>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<BoxBody>,
        Error = actix_web::Error,
    >,
{
    let observation = observer.start(&req);
    let admitted = admission::admit(state, req).map(|(req, admitted)| (srv.call(req), admitted));
    let min_bytes = state.limits.compress_min_bytes;
    async move {
        let response = match admitted {
            // The services inside answer their errors as responses; the request cannot be
            // kept for an error passed up instead (routing needs it unshared), so such an
            // error stays as it is, neither localised nor counted.
            Ok((call, admitted)) => admitted.hold(problem::localise(call.await?)),
            Err(shed) => *shed,
        };
        observation.finish(&response);
        Ok(compress::compress(min_bytes, response))
    }
}

/// CORS for `origins`, matched exactly: preflights answered before routing and admission
/// (they carry no key), and a request from any other origin served without CORS headers, which
/// keeps a browser from reading the answer.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::{header, Method};
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT_LANGUAGE,
            X_REQUEST_ID,
        ])
        .expose_headers([X_REQUEST_ID, header::RETRY_AFTER, header::WWW_AUTHENTICATE])
        .max_age(600)
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
    let openapi = web::Data::new(openapi::Document::new().map_err(std::io::Error::other)?);
    let server = HttpServer::new(move || {
        let serving = state.clone();
        let observer = observation::Observer::new(state.clone());
        let cors = Condition::new(!state.cors_origins.is_empty(), cors(&state.cors_origins));
        App::new()
            .app_data(state.clone())
            .app_data(openapi.clone())
            .wrap_fn(move |req, srv| serve(&serving, &observer, req, srv))
            .wrap(cors)
            .wrap_fn(tag)
            .configure(|cfg| routes::mount(cfg, &state, bench_routes))
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
