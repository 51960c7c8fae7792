//! Admission: what a caller needs to reach an endpoint, decided on the resource the router
//! actually matched. The router matches the percent-decoded path, so a decision taken on the
//! raw path before routing could be sidestepped by encoding it (`/v%31/decide`); here each
//! endpoint's resource carries its own admission, built from the route table's entry, and a
//! request that matches no endpoint needs a key as well. Nothing is open unless the table says
//! so.
//!
//! Refused keys are logged at WARN (the key id, never the secret) within a process-wide budget,
//! and a client address that keeps being refused gets 429 instead of 401.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, ResponseError};
use futures_util::future::Either;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::problem::ApiError;
use super::AppState;
use crate::keys::{Caller, Refusal, Scope};

/// What a caller needs to reach an endpoint once keys are configured (without keys, every
/// endpoint is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the probes.
    Open,
    /// Anyone, unless `/metrics` is protected: then a key with the `admin` scope.
    Metrics,
    /// Any valid key.
    AnyKey,
    /// A key with this scope.
    Scope(Scope),
    /// A key with any of these scopes (the first names what the endpoint is for).
    AnyScope(&'static [Scope]),
}

/// Admission's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessConfig {
    /// How far a decision's `as_of` may be from the server's clock, either way, before the
    /// decision is a replay (which needs the `replay` scope).
    pub max_as_of_skew: Duration,
    /// Refused keys (401) one client address may get a minute, in a burst or spread out; past
    /// them it gets 429 with `Retry-After`.
    pub auth_failures_per_minute: u32,
    /// Client addresses whose refusals are counted at once; the least used are forgotten first.
    pub auth_failure_addresses: u64,
    /// WARN lines about refused keys a minute, process-wide; the refusals past them are counted
    /// in the next line and in `jiangcheng_auth_refusals_total`.
    pub auth_warnings_per_minute: u32,
}

impl Default for AccessConfig {
    fn default() -> AccessConfig {
        AccessConfig {
            max_as_of_skew: Duration::from_secs(300),
            auth_failures_per_minute: 30,
            auth_failure_addresses: 65_536,
            auth_warnings_per_minute: 60,
        }
    }
}

/// What admission keeps about refusals: each client address's budget of 401s and the budget of
/// WARN lines.
pub(super) struct Refusals {
    /// By client address (an IPv6 address by its /64, the block one client usually holds).
    /// Bounded, and an address idle for a minute has a full budget again anyway.
    per_address: moka::sync::Cache<IpAddr, Arc<DefaultDirectRateLimiter>>,
    per_address_quota: Quota,
    warnings: DefaultDirectRateLimiter,
    /// Refusals since the last WARN line that were not logged.
    unlogged: AtomicU64,
}

impl Refusals {
    pub(super) fn new(config: &AccessConfig) -> Refusals {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Refusals {
            per_address: moka::sync::Cache::builder()
                .max_capacity(config.auth_failure_addresses)
                .time_to_idle(Duration::from_secs(60))
                .build(),
            per_address_quota: per_minute(config.auth_failures_per_minute),
            warnings: RateLimiter::direct(per_minute(config.auth_warnings_per_minute)),
            unlogged: AtomicU64::new(0),
        }
    }

    /// Counts a refusal against `client`'s budget; past it, how long until it has one again.
    fn over_budget(&self, client: IpAddr) -> Option<Duration> {
        let limiter = self.per_address.get_with(client, || {
            Arc::new(RateLimiter::direct(self.per_address_quota))
        });
        let refused = limiter.check().err()?;
        Some(refused.wait_time_from(DefaultClock::default().now()))
    }

    /// Logs a refusal at WARN unless the minute's lines are spent.
    fn warn(&self, refusal: &Refusal, client: IpAddr, route: &str) {
        if self.warnings.check().is_err() {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tracing::warn!(
            reason = refusal.reason(),
            key_id = refusal.key_id().unwrap_or("(none)"),
            client = %client,
            route,
            unlogged_before = self.unlogged.swap(0, Ordering::Relaxed),
            "API key refused"
        );
    }
}

/// The address a client's refusals are counted under: its IP address, an IPv6 one by its /64.
/// The TCP peer, not a forwarded-for header, which any client could set.
fn client_of(peer: Option<SocketAddr>) -> IpAddr {
    match peer.map(|peer| peer.ip()) {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)))),
        },
        Some(v4) => v4,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

impl AppState {
    /// Admits `req` to an endpoint that needs `access`: the caller its key names (none when
    /// the endpoint is open or the service runs without keys), or the refusal to answer.
    pub(super) fn admit(
        &self,
        req: &HttpRequest,
        access: Access,
    ) -> Result<Option<Caller>, ApiError> {
        let Some(keys) = self.service.keys() else {
            return Ok(None);
        };
        let scopes: &[Scope] = match &access {
            Access::Open => return Ok(None),
            Access::Metrics if !self.protect_metrics => return Ok(None),
            Access::Metrics => &[Scope::Admin],
            Access::AnyKey => &[],
            Access::Scope(scope) => std::slice::from_ref(scope),
            Access::AnyScope(scopes) => scopes,
        };
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or(""));
        match keys.admit(authorization, scopes) {
            Ok(caller) => Ok(Some(caller)),
            Err(refusal) => Err(self.refused(req, refusal)),
        }
    }

    /// The answer to a refused key: logged and counted (a key over its own rate limit is not a
    /// refusal of the key), and 429 instead of 401 for an address past its budget of 401s.
    fn refused(&self, req: &HttpRequest, refusal: Refusal) -> ApiError {
        let error = ApiError::from(refusal.clone());
        match error {
            ApiError::Unauthorized(_) => {
                if let Some(wait) = self.refusals.over_budget(client_of(req.peer_addr())) {
                    self.service
                        .metrics
                        .auth_refusals
                        .with_label_values(&["address_limited"])
                        .inc();
                    return ApiError::TooManyAuthFailures(wait);
                }
            }
            ApiError::Forbidden(_) => {}
            _ => return error,
        }
        self.record_refusal(req, &refusal);
        error
    }

    /// Counts a refused key and logs it (within the budget of lines).
    fn record_refusal(&self, req: &HttpRequest, refusal: &Refusal) {
        self.service
            .metrics
            .auth_refusals
            .with_label_values(&[refusal.reason()])
            .inc();
        // The route template, never the path, which may hold an ID number.
        let route = req.match_pattern();
        let route = route.as_deref().unwrap_or("unmatched");
        self.refusals
            .warn(refusal, client_of(req.peer_addr()), route);
    }

    /// A replay needs a key with the `replay` scope (anyone may replay when the service runs
    /// without keys).
    pub(super) fn check_replay(
        &self,
        req: &HttpRequest,
        caller: Option<&Caller>,
        replay: bool,
    ) -> Result<(), ApiError> {
        let Some(keys) = self.service.keys().filter(|_| replay) else {
            return Ok(());
        };
        if caller.is_some_and(|caller| keys.permits(caller, Scope::Replay)) {
            return Ok(());
        }
        let key_id = caller.map(|c| c.key_id.clone()).unwrap_or_default();
        let refusal = Refusal::Forbidden {
            id: key_id.clone(),
            scope: Scope::Replay.as_str(),
        };
        self.record_refusal(req, &refusal);
        Err(ApiError::ReplayForbidden {
            key_id,
            max_skew_seconds: self.access.max_as_of_skew.as_secs(),
        })
    }

    /// Counts a request of `units` (a batch's subjects) against the caller's rate limit.
    pub(super) fn charge(&self, caller: Option<&Caller>, units: usize) -> Result<(), ApiError> {
        match (self.service.keys(), caller) {
            (Some(keys), Some(caller)) => keys.charge(caller, units).map_err(ApiError::from),
            _ => Ok(()),
        }
    }
}

/// An endpoint's admission, as middleware of its resource (so after routing): refuses a
/// request `access` does not let through as problem+json, or records its caller in the
/// request's extensions and passes it on.
pub(super) fn guard<S, B>(
    access: Access,
    state: &AppState,
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody + 'static,
{
    match state.admit(req.request(), access) {
        Err(err) => {
            let response = err.error_response();
            Either::Left(std::future::ready(Ok(req.into_response(response))))
        }
        Ok(caller) => {
            if let Some(caller) = caller {
                req.extensions_mut().insert::<Caller>(caller);
            }
            let call = srv.call(req);
            Either::Right(async move { call.await.map(ServiceResponse::map_into_boxed_body) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_block_and_a_mapped_ipv4_as_ipv4() {
        let peer = |ip: &str| Some(SocketAddr::new(ip.parse().unwrap(), 443));
        assert_eq!(
            client_of(peer("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_of(peer("::ffff:192.0.2.7")),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_of(peer("192.0.2.7")), client_of(peer("192.0.2.7")));
        assert_eq!(client_of(None), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
