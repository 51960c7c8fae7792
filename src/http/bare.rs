//! `POST /bench/bare`, mounted only with `--bench-routes`: the reference the decision endpoint is
//! measured against. It goes through the same server, workers and middleware (its admission is
//! `/v1/decide`'s), reads the body like `/v1/decide` does, and answers a fixed decision of a
//! typical size, without any decision logic; the difference in throughput between the two is
//! what the decision costs.

use actix_web::{web, HttpRequest, HttpResponse};

use super::body;
use super::problem::ApiError;
use super::AppState;

/// An `allow` decision for an unlisted subject, as `/v1/decide` writes it (the common case of
/// a screening load, where about 2% of subjects are listed).
const REPLY: &str = r#"{"decision_id":"019ab0c2-4e1f-7a3d-9c55-2f0e8d6b1a47","decision":"allow","decision_label":"通过","subject":{"id":"91230202MAG6KQ7Y4X","id_type":"uscc","kind":"enterprise"},"matter":"gov_procurement","reasons":[],"warnings":[],"ruleset":{"name":"qiqihar","revision":"7fff0874aea8"},"lists_version":10001201,"evaluated_at":"2026-11-23T14:00:00.000+08:00"}"#;

pub async fn bare(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    body::read_json(&req, payload, state.limits.max_body_bytes).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(REPLY))
}
