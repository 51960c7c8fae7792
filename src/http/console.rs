//! The console (`/console`): a few static pages for officers, embedded in the binary. The
//! assets hold no data, so they are open; every datum comes from the v1 API, called by the page
//! with the user's own key. The pages are served with a strict content security policy (only
//! their own scripts, no inline code, no framing) so that text from the API can never run.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

use super::openapi::codes;
use super::problem::{ApiError, ProblemKind};

/// Only the console's own files, no inline script or style, calls to this service only, and
/// no framing (against clickjacking of the admin view).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/console/`, its media type, its text.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    text: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// An embedded file of `src/http/console/`, by its name.
macro_rules! asset {
    ($name:literal, $media_type:expr) => {
        Asset {
            name: $name,
            media_type: $media_type,
            text: include_str!(concat!("console/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("console.css", CSS),
    asset!("main.js", JS),
    asset!("api.js", JS),
    asset!("i18n.js", JS),
    asset!("dom.js", JS),
    asset!("lookup.js", JS),
    asset!("screen.js", JS),
    asset!("rules.js", JS),
    asset!("admin.js", JS),
    asset!("status.js", JS),
];

const INDEX: &str = include_str!("console/index.html");

/// `GET /console`: the page.
#[utoipa::path(
    get,
    path = "/console",
    operation_id = "console",
    tag = "documents",
    description = "The console for officers: a page that calls this API with the key its user \
                   enters.",
    responses((status = 200, description = "The console's page", content_type = "text/html", body = String)),
)]
pub async fn index() -> HttpResponse {
    page("text/html; charset=utf-8", INDEX)
}

/// `GET /console/`: the page's address typed with a slash, sent to the page.
#[utoipa::path(
    get,
    path = "/console/",
    operation_id = "console_slash",
    tag = "documents",
    description = "Sends to `/console`, the console's address.",
    responses((status = 308, description = "The console is at `/console`", headers(("Location" = String)))),
)]
pub async fn slash() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console"))
        .finish()
}

/// `GET /console/{asset}`: one of the page's scripts or its style sheet.
#[utoipa::path(
    get,
    path = "/console/{asset}",
    operation_id = "console_asset",
    tag = "documents",
    description = "One of the console's scripts or its style sheet.",
    params(("asset" = String, Path, description = "the file, e.g. `main.js`")),
    responses((status = 200, description = "The file", content(
        (String = "text/javascript"),
        (String = "text/css"),
    ))),
    extensions(("x-problems" = json!(codes(&[ProblemKind::NotFound])))),
)]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    ASSETS
        .iter()
        .find(|asset| asset.name == name.as_str())
        .map(|asset| page(asset.media_type, asset.text))
        .ok_or(ApiError::NotFound)
}

fn page(media_type: &'static str, text: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(media_type)))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(text)
}
