//! The route table: every endpoint's path template, what a caller needs to reach it, and its
//! handler for each method. The router and admission are both built from this one table, so an
//! endpoint cannot be mounted without saying who may reach it.

use actix_web::guard::{Guard, GuardContext};
use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder, Route};

use super::auth::{self, Access};
use super::problem::{ApiError, FieldError};
use super::{
    admin, bare, catalog, commitments, console, decide, disputes, index, indicators, openapi,
    register, status, subject_lists, subjects, subscriptions, watchlists, AppState,
};
use crate::keys::Scope;

/// One endpoint of the table.
struct Endpoint {
    path: &'static str,
    /// What its methods need unless a route says otherwise (and a method it does not have).
    access: Access,
    routes: Vec<(Method, Route, Access)>,
}

impl Endpoint {
    fn new(path: &'static str, access: Access) -> Endpoint {
        Endpoint {
            path,
            access,
            routes: Vec::new(),
        }
    }

    fn on<F, Args>(self, method: Method, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let access = self.access;
        self.on_with(method, access, handler)
    }

    /// A route that needs other than the endpoint's other methods (feedback is read by more
    /// keys than write it).
    fn on_with<F, Args>(mut self, method: Method, access: Access, handler: F) -> Endpoint
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let route = web::route().guard(MethodIs(method.clone())).to(handler);
        self.routes.push((method, route, access));
        self
    }
}

/// A route's method. actix-web's own method guard also records in the request every method it
/// was checked against, for a 405 the framework would answer: an allocation and an entry in the
/// request's extensions per request. Each resource here answers its own 405, from the table.
struct MethodIs(Method);

impl Guard for MethodIs {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        ctx.head().method == self.0
    }
}

/// Every endpoint; `bench_routes` adds the load tests' reference endpoint, which is admitted
/// like the decision it is measured against.
fn table(bench_routes: bool) -> Vec<Endpoint> {
    use Access::{AnyKey, Metrics, Open};
    let scope = Access::Scope;
    let entry = "/v1/lists/{list}/entries/{entry_id}";
    let mut table = vec![
        Endpoint::new("/v1/decide", scope(Scope::Decide)).on(Method::POST, decide::decide),
        Endpoint::new("/v1/decide/batch", scope(Scope::Decide))
            .on(Method::POST, decide::decide_batch),
        Endpoint::new("/v1/subject-lists", scope(Scope::Decide))
            .on(Method::POST, subject_lists::read),
        Endpoint::new("/v1/subjects/{id}", scope(Scope::ReadSubject))
            .on(Method::GET, subjects::profile),
        Endpoint::new("/v1/matters", AnyKey).on(Method::GET, catalog::matters),
        Endpoint::new("/v1/topics", AnyKey).on(Method::GET, catalog::topics),
        Endpoint::new("/v1/lists", AnyKey).on(Method::GET, catalog::lists),
        Endpoint::new("/v1/status", AnyKey).on(Method::GET, status::status),
        Endpoint::new("/healthz", Open).on(Method::GET, status::healthz),
        Endpoint::new("/readyz", Open).on(Method::GET, status::readyz),
        Endpoint::new("/metrics", Metrics).on(Method::GET, status::metrics),
        Endpoint::new("/openapi.json", Open).on(Method::GET, openapi::serve),
        Endpoint::new(entry, scope(Scope::Admin))
            .on(Method::PUT, admin::put_entry)
            .on(Method::GET, admin::get_entry)
            .on(Method::DELETE, admin::delete_entry),
        Endpoint::new(
            "/v1/lists/{list}/entries/{entry_id}/repair",
            scope(Scope::Admin),
        )
        .on(Method::POST, admin::repair_entry),
        Endpoint::new(
            "/v1/lists/{list}/entries/{entry_id}/dispute",
            scope(Scope::Admin),
        )
        .on(Method::POST, admin::dispute_entry),
        Endpoint::new("/v1/disputes", scope(Scope::Admin)).on(Method::GET, disputes::list),
        Endpoint::new("/v1/feedback", scope(Scope::Feedback))
            .on(Method::POST, register::post_feedback)
            .on_with(
                Method::GET,
                Access::AnyScope(&[Scope::Feedback, Scope::Export, Scope::Admin]),
                register::list_feedback,
            ),
        Endpoint::new(
            "/v1/feedback/{feedback_id}/corrections",
            scope(Scope::Feedback),
        )
        .on(Method::POST, register::correct_feedback),
        Endpoint::new("/v1/export/cases", scope(Scope::Export))
            .on(Method::GET, register::export_cases),
        Endpoint::new("/v1/stats", scope(Scope::Export)).on(Method::GET, register::stats),
        Endpoint::new("/v1/subscriptions", scope(Scope::Subscribe))
            .on(Method::POST, subscriptions::create)
            .on(Method::GET, subscriptions::list),
        Endpoint::new("/v1/subscriptions/{id}", scope(Scope::Subscribe))
            .on(Method::GET, subscriptions::get)
            .on(Method::DELETE, subscriptions::delete),
        Endpoint::new(
            "/v1/subscriptions/{id}/dead-letters",
            scope(Scope::Subscribe),
        )
        .on(Method::GET, subscriptions::dead_letters),
        Endpoint::new(
            "/v1/subscriptions/{id}/dead-letters/replay",
            scope(Scope::Subscribe),
        )
        .on(Method::POST, subscriptions::replay),
        Endpoint::new("/v1/changes", scope(Scope::Subscribe))
            .on(Method::GET, subscriptions::changes),
        Endpoint::new("/v1/indicators", scope(Scope::Export))
            .on(Method::GET, indicators::indicators),
        Endpoint::new("/v1/indicators/active-enterprises", scope(Scope::Admin))
            .on(Method::PUT, indicators::put_active_enterprises),
        // Recording a commitment is the accepting department's act, as feedback is (a breach
        // is reported as feedback); reading a subject's commitments is reading the subject.
        Endpoint::new("/v1/commitments", scope(Scope::Feedback))
            .on(Method::POST, commitments::post)
            .on_with(
                Method::GET,
                Access::Scope(Scope::ReadSubject),
                commitments::list,
            ),
        Endpoint::new(
            "/v1/commitments/{commitment_id}/proposal",
            scope(Scope::Admin),
        )
        .on(Method::POST, commitments::proposal),
        Endpoint::new("/v1/watchlists", scope(Scope::Subscribe)).on(Method::GET, watchlists::list),
        Endpoint::new("/v1/watchlists/{name}", scope(Scope::Subscribe))
            .on(Method::PUT, watchlists::put)
            .on(Method::GET, watchlists::get)
            .on(Method::DELETE, watchlists::delete),
        Endpoint::new("/v1/watchlists/{name}/hits", scope(Scope::Subscribe))
            .on(Method::GET, watchlists::hits),
    ];
    if bench_routes {
        table.push(Endpoint::new("/bench/bare", scope(Scope::Decide)).on(Method::POST, bare::bare));
    }
    // Last, the pages and documents: the router tries resources in order, and a path with a
    // parameter costs a match that the API's requests, and the bare endpoint they are measured
    // against, need not pay.
    table.extend([
        Endpoint::new("/", Open).on(Method::GET, index::index),
        Endpoint::new("/docs/{name}", Open).on(Method::GET, index::doc),
        Endpoint::new("/console", Open).on(Method::GET, console::index),
        Endpoint::new("/console/", Open).on(Method::GET, console::slash),
        Endpoint::new("/console/{asset}", Open).on(Method::GET, console::asset),
    ]);
    table
}

/// Every route as the router mounts it: method, path template and what it needs.
pub fn endpoints(bench_routes: bool) -> Vec<(Method, &'static str, Access)> {
    table(bench_routes)
        .into_iter()
        .flat_map(|endpoint| {
            let path = endpoint.path;
            endpoint
                .routes
                .into_iter()
                .map(move |(method, _, access)| (method, path, access))
        })
        .collect()
}

/// Mounts every endpoint of the table, each behind its own admission, and answers a path that
/// matches none (an encoded, doubled or case-changed one among them) with 404 only once the
/// caller's key is admitted. A service without keys is open on every endpoint
/// ([`AppState::admit`]), and has no keys for as long as it runs (they come with the service,
/// [`Service::with_keys`](crate::app::Service::with_keys)): its endpoints go without the guard,
/// which would let every request through.
pub fn mount(cfg: &mut web::ServiceConfig, state: &web::Data<AppState>, bench_routes: bool) {
    let guarded = state.service.keys().is_some();
    // Query strings that do not deserialise get the same problem+json as bodies.
    cfg.app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError::InvalidRequest(vec![FieldError::new("(query)", err.to_string())]).into()
    }));
    for endpoint in table(bench_routes) {
        let default = endpoint.access;
        let by_method: Vec<(Method, Access)> = endpoint
            .routes
            .iter()
            .map(|(method, _, access)| (method.clone(), *access))
            .collect();
        let allow = by_method
            .iter()
            .map(|(method, _)| method.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let resource = endpoint
            .routes
            .into_iter()
            // Named by its template, which the metrics read once routed without rebuilding it.
            .fold(
                web::resource(endpoint.path).name(endpoint.path),
                |resource, (_, route, _)| resource.route(route),
            )
            .default_service(web::to(move || {
                let allow = allow.clone();
                async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
            }));
        if !guarded {
            cfg.service(resource);
            continue;
        }
        let state = state.clone();
        cfg.service(resource.wrap_fn(move |req, srv| {
            let access = by_method
                .iter()
                .find(|(method, _)| method == req.method())
                .map_or(default, |(_, access)| *access);
            auth::guard(access, &state, req, srv)
        }));
    }
    cfg.default_service(web::to(unmatched));
}

async fn unmatched(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    state.admit(&req, Access::AnyKey)?;
    Err(ApiError::NotFound)
}
