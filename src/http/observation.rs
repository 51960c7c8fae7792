//! The request metrics: every request counted by route template, method and status
//! (`http_requests_total`) and timed by route template and status class
//! (`http_request_duration_seconds`); never by the raw path, which may hold an identifier.
//!
//! Each worker resolves a labelled series once and keeps it: looking one up in its family hashes
//! its labels and takes the family's lock, twice a request. The families are never reset, so a
//! kept series stays the one `/metrics` shows.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::web;
use prometheus::{Histogram, IntCounter};

use super::AppState;

/// A worker's series, by route template, then by method and status. Bounded: the templates are
/// the route table's (and `unmatched`), the methods the labels [`method_label`] names, and the
/// statuses those the service answers.
pub(super) struct Observer {
    state: web::Data<AppState>,
    series: RefCell<hashbrown::HashMap<Box<str>, Vec<Series>, rustc_hash::FxBuildHasher>>,
}

/// The two series of a route, method and status.
struct Series {
    method: &'static str,
    status: StatusCode,
    requests: IntCounter,
    duration: Histogram,
}

/// One request being counted and timed.
pub(super) struct Observation {
    observer: Rc<Observer>,
    method: &'static str,
    started: Instant,
}

impl Observer {
    /// A worker's observer (it is not shared between threads).
    pub(super) fn new(state: web::Data<AppState>) -> Rc<Observer> {
        Rc::new(Observer {
            state,
            series: RefCell::default(),
        })
    }

    /// Starts counting and timing `req`.
    pub(super) fn start(self: &Rc<Observer>, req: &ServiceRequest) -> Observation {
        Observation {
            observer: Rc::clone(self),
            method: method_label(req.method()),
            started: Instant::now(),
        }
    }
}

impl Observation {
    /// Counts and times the request by its answer. The template is read once the request has
    /// been routed: the router matches the decoded path, which the raw one may not resemble
    /// (`/v%31/decide`). Every resource is named by its template (`routes::mount`), so the name
    /// is read from the routing's result, where the template would be rebuilt into a string.
    pub(super) fn finish<B>(self, response: &ServiceResponse<B>) {
        let route = response.request().match_name().unwrap_or("unmatched");
        let status = response.status();
        let mut series = self.observer.series.borrow_mut();
        let by_route = series.entry_ref(route).or_default();
        let at = match (by_route.iter())
            .position(|series| series.status == status && series.method == self.method)
        {
            Some(at) => at,
            None => {
                let metrics = &self.observer.state.service.metrics;
                let outcome = match status.as_u16() {
                    500.. => "5xx",
                    400..=499 => "4xx",
                    _ => "2xx",
                };
                by_route.push(Series {
                    method: self.method,
                    status,
                    requests: (metrics.http_requests).with_label_values(&[
                        route,
                        self.method,
                        status.as_str(),
                    ]),
                    duration: metrics.http_duration.with_label_values(&[route, outcome]),
                });
                by_route.len() - 1
            }
        };
        let series = &by_route[at];
        series.requests.inc();
        series
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// The method as a metric label: clients may send any token as a method, so only the standard
/// ones are named.
fn method_label(method: &Method) -> &'static str {
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
