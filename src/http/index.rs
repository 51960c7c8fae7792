//! `GET /`: where to go from here (the console, the OpenAPI document, the documentation), and
//! `GET /docs/{name}`: the repository's documentation, built into the binary so that the running
//! service documents itself and nothing is read from the file system.

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use super::openapi::codes;
use super::problem::{ApiError, ProblemKind};

/// Each document: its name under `/docs/`, its title and its text.
const DOCS: [(&str, &str, &str); 9] = [
    ("api.md", "HTTP API", include_str!("../../docs/api.md")),
    (
        "export.md",
        "案例导出 Case export",
        include_str!("../../docs/export.md"),
    ),
    (
        "indicators.md",
        "监测指标 Monitoring indicators",
        include_str!("../../docs/indicators.md"),
    ),
    (
        "console.md",
        "控制台 Console",
        include_str!("../../docs/console.md"),
    ),
    (
        "lists.md",
        "规则集与名单 Rule sets and lists",
        include_str!("../../docs/lists.md"),
    ),
    (
        "operations.md",
        "运维 Operations",
        include_str!("../../docs/operations.md"),
    ),
    (
        "architecture.md",
        "架构 Architecture",
        include_str!("../../docs/architecture.md"),
    ),
    (
        "performance.md",
        "性能 Performance",
        include_str!("../../docs/performance.md"),
    ),
    (
        "scaling.md",
        "扩展 Scaling",
        include_str!("../../docs/scaling.md"),
    ),
];

/// The index as HTML, or as JSON links when the client prefers `application/json`.
#[utoipa::path(
    get,
    path = "/",
    tag = "documents",
    description = "Where to go from here: the console, this document and the documentation, as \
                   HTML, or as JSON links for a client that prefers `application/json`.",
    responses((status = 200, description = "The index", content(
        (String = "text/html"),
        (serde_json::Value = "application/json"),
    ))),
)]
pub async fn index(req: HttpRequest) -> HttpResponse {
    if prefers_json(&req) {
        let docs: serde_json::Map<String, serde_json::Value> = DOCS
            .iter()
            .map(|(name, _, _)| {
                (
                    name.trim_end_matches(".md").to_owned(),
                    json!(format!("/docs/{name}")),
                )
            })
            .collect();
        return HttpResponse::Ok().json(json!({
            "service": "jiangcheng",
            "version": env!("CARGO_PKG_VERSION"),
            "console": "/console",
            "openapi": "/openapi.json",
            "docs": docs,
        }));
    }
    let docs: String = DOCS
        .iter()
        .map(|(name, title, _)| format!("<li><a href=\"/docs/{name}\">{title}</a></li>\n"))
        .collect();
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html>\n<html lang=\"zh-CN\">\n<head><meta charset=\"utf-8\">\
             <title>奖惩 jiangcheng</title></head>\n<body>\n\
             <h1>奖惩 jiangcheng {version}</h1>\n\
             <p>联合奖惩决策服务 · joint incentive and punishment decisions</p>\n<ul>\n\
             <li><a href=\"/console\">控制台 Console</a></li>\n\
             <li><a href=\"/openapi.json\">OpenAPI 文档 (openapi.json)</a></li>\n\
             </ul>\n<h2>文档 Documentation</h2>\n<ul>\n{docs}</ul>\n</body>\n</html>\n",
            version = env!("CARGO_PKG_VERSION"),
        ))
}

/// One document as Markdown; only the documents above exist.
#[utoipa::path(
    get,
    path = "/docs/{name}",
    tag = "documents",
    description = "One page of the documentation, built into the binary.",
    params(("name" = String, Path, description = "the page, e.g. `api.md`")),
    responses((status = 200, description = "The page", content_type = "text/markdown", body = String)),
    extensions(("x-problems" = json!(codes(&[ProblemKind::NotFound])))),
)]
pub async fn doc(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, _, text) = DOCS
        .iter()
        .find(|(known, _, _)| *known == name.as_str())
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("text/markdown; charset=utf-8")
        .body(*text))
}

/// Whether `Accept` ranks JSON above HTML (a browser sends `text/html` first).
fn prefers_json(req: &HttpRequest) -> bool {
    req.get_header::<header::Accept>().is_some_and(|accept| {
        accept
            .ranked()
            .into_iter()
            .find(|mime| matches!(mime.essence_str(), "text/html" | "application/json"))
            .is_some_and(|mime| mime.essence_str() == "application/json")
    })
}
