//! Admission: which key an endpoint needs, checked before the request reaches its handler.

use std::future::Future;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::future::Either;

use super::problem::ApiError;
use super::AppState;
use crate::keys::{Caller, Scope};

/// What a request needs: nothing (`Open`), any valid key, a key with a scope, or a key with
/// any of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Open,
    AnyKey,
    Scope(Scope),
    AnyOf(&'static [Scope]),
}

/// The key each endpoint needs when keys are configured, by route template. Every `/v1`
/// endpoint needs one; the probes stay open, and `/metrics` needs `admin` if protected.
fn needs(method: &Method, path: &str, pattern: Option<&str>, protect_metrics: bool) -> Needs {
    match pattern {
        Some("/v1/decide" | "/v1/decide/batch") => Needs::Scope(Scope::Decide),
        Some("/v1/subjects/{id}") => Needs::Scope(Scope::ReadSubject),
        Some(pattern) if pattern.starts_with("/v1/lists/{list}/entries/") => {
            Needs::Scope(Scope::Admin)
        }
        // Feedback is read by the departments that report it (their own), and by export and
        // admin keys (all of it).
        Some("/v1/feedback") if method == Method::GET => {
            Needs::AnyOf(&[Scope::Feedback, Scope::Export, Scope::Admin])
        }
        Some("/v1/feedback" | "/v1/feedback/{feedback_id}/corrections") => {
            Needs::Scope(Scope::Feedback)
        }
        Some("/v1/export/cases" | "/v1/stats") => Needs::Scope(Scope::Export),
        Some("/metrics") if protect_metrics => Needs::Scope(Scope::Admin),
        // Catalogs and status need a key, any key; an unknown /v1 path too, so that it reveals
        // nothing to a caller without one.
        _ if path == "/v1" || path.starts_with("/v1/") => Needs::AnyKey,
        _ => Needs::Open,
    }
}

/// Middleware: refuses a request whose key is missing, unknown, revoked, lacks the endpoint's
/// scope or is over its rate limit, as problem+json; otherwise records the caller in the
/// request's extensions and passes it on.
pub fn admit<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody + 'static,
{
    let verdict = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let keys = state.keys.as_ref()?;
        let needs = needs(
            req.method(),
            req.path(),
            req.match_pattern().as_deref(),
            state.protect_metrics,
        );
        let scopes: &[Scope] = match &needs {
            Needs::Open => return None,
            Needs::AnyKey => &[],
            Needs::Scope(scope) => std::slice::from_ref(scope),
            Needs::AnyOf(scopes) => scopes,
        };
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or(""));
        Some(keys.admit(authorization, scopes).map_err(ApiError::from))
    });
    match verdict {
        Some(Err(err)) => {
            let response = err.error_response();
            Either::Left(std::future::ready(Ok(req.into_response(response))))
        }
        admitted => {
            if let Some(Ok(caller)) = admitted {
                req.extensions_mut().insert::<Caller>(caller);
            }
            let call = srv.call(req);
            Either::Right(async move { call.await.map(ServiceResponse::map_into_boxed_body) })
        }
    }
}
