//! The OpenAPI 3.1 document of the API (`GET /openapi.json`, kept as `docs/openapi.json`),
//! generated from the handlers' `#[utoipa::path]` annotations and completed from the route
//! table: each operation's security comes from its [`Access`], and its problem answers from the
//! problem kinds its annotation names (`x-problems`) plus those its access, body and admission
//! bring. Documenting an endpoint is one annotation on its handler and one line in [`ApiDoc`].

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use strum::IntoEnumIterator;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, Ref, RefOr};
use utoipa::{OpenApi, ToSchema};

use super::auth::Access;
use super::problem::{Problem, ProblemKind};
use super::{
    admin, catalog, commitments, console, decide, disputes, index, indicators, register, routes,
    status, subject_lists, subjects, subscriptions, watchlists,
};

/// The annotated operations. The route table decides which of them are mounted: a test checks
/// that the two agree.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "jiangcheng",
        description = "Decides allow, flag or block for a subject (a company by its unified \
                       social credit code, a person by resident ID number) in a matter, against \
                       the red and black lists of the joint incentive and punishment rule set. \
                       Errors are RFC 9457 problem details with a stable `code`."
    ),
    paths(
        decide::decide,
        decide::decide_batch,
        subject_lists::read,
        subjects::profile,
        catalog::matters,
        catalog::topics,
        catalog::lists,
        status::status,
        status::healthz,
        status::readyz,
        status::metrics,
        admin::put_entry,
        admin::get_entry,
        admin::delete_entry,
        admin::repair_entry,
        admin::dispute_entry,
        disputes::list,
        register::post_feedback,
        register::list_feedback,
        register::correct_feedback,
        register::export_cases,
        register::stats,
        subscriptions::create,
        subscriptions::list,
        subscriptions::get,
        subscriptions::delete,
        subscriptions::dead_letters,
        subscriptions::replay,
        subscriptions::changes,
        indicators::indicators,
        indicators::put_active_enterprises,
        commitments::post,
        commitments::list,
        commitments::proposal,
        watchlists::put,
        watchlists::list,
        watchlists::get,
        watchlists::delete,
        watchlists::hits,
        serve,
        index::index,
        index::doc,
        console::index,
        console::slash,
        console::asset,
    ),
    components(schemas(Problem))
)]
struct ApiDoc;

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";
/// The extension in which an annotation names the problem codes of its operation.
const PROBLEMS: &str = "x-problems";

/// The codes of `kinds`, for an annotation's `x-problems`.
pub(super) fn codes(kinds: &[ProblemKind]) -> Vec<&'static str> {
    kinds.iter().map(|kind| kind.code()).collect()
}

/// A reference to `T`'s schema among the components.
pub(super) fn reference<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// Adds `T`'s schema and those it refers to, for a hand-written [`ToSchema::schemas`].
pub(super) fn component<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// A value of type `kind`.
pub(super) fn scalar(kind: Type) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(kind).into()
}

/// A member written only when true.
pub(super) fn only_true() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .into()
}

/// An object with these members and no others, for an answer written by hand.
pub(super) fn closed_object(
    required: Vec<(&str, RefOr<Schema>)>,
    optional: Vec<(&str, RefOr<Schema>)>,
) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    for (name, schema) in required {
        object = object.property(name, schema).required(name);
    }
    for (name, schema) in optional {
        object = object.property(name, schema);
    }
    object.into()
}

/// The document as pretty JSON: what `GET /openapi.json` serves and `jiangcheng openapi` prints.
pub fn json() -> Result<String, serde_json::Error> {
    document().to_pretty_json()
}

/// The document rendered once, when the server starts, and shared by every worker.
pub(super) struct Document(web::Bytes);

impl Document {
    pub(super) fn new() -> Result<Document, serde_json::Error> {
        Ok(Document(web::Bytes::from(json()?)))
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    description = "This document. It holds no data and needs no key: integrators fetch it \
                   before they have one.",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = serde_json::Value)),
)]
pub async fn serve(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Components::new);
    add_unrouted(components);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key (`jc_…`) as `Authorization: Bearer <key>`; each operation \
                         lists the scopes that admit it",
                ))
                .build(),
        ),
    );
    for (method, path, access) in routes::endpoints(false) {
        let Some(operation) = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| operation_mut(item, &method))
        else {
            continue;
        };
        operation.security = security(access);
        add_problems(operation, access, path);
    }
    doc
}

/// The operation of `item` for `method`.
fn operation_mut<'i>(item: &'i mut PathItem, method: &Method) -> Option<&'i mut Operation> {
    match *method {
        Method::GET => item.get.as_mut(),
        Method::POST => item.post.as_mut(),
        Method::PUT => item.put.as_mut(),
        Method::DELETE => item.delete.as_mut(),
        Method::PATCH => item.patch.as_mut(),
        Method::HEAD => item.head.as_mut(),
        Method::OPTIONS => item.options.as_mut(),
        _ => None,
    }
}

/// The security requirements `access` means: alternatives, any of which admits.
fn security(access: Access) -> Option<Vec<SecurityRequirement>> {
    let bearer = |scopes: &[&str]| SecurityRequirement::new(BEARER, scopes.iter().copied());
    match access {
        Access::Open => None,
        // Open unless the service protects `/metrics`; then a key with the `admin` scope.
        Access::Metrics => Some(vec![
            SecurityRequirement::default(),
            bearer(&[crate::keys::Scope::Admin.as_str()]),
        ]),
        Access::AnyKey => Some(vec![bearer(&[])]),
        Access::Scope(scope) => Some(vec![bearer(&[scope.as_str()])]),
        Access::AnyScope(scopes) => Some(
            scopes
                .iter()
                .map(|scope| bearer(&[scope.as_str()]))
                .collect(),
        ),
    }
}

/// The problems an operation can answer: those its annotation names, those of its access (a
/// key refused), of its body (one that is not right), of admission (every path but the probes)
/// and an internal error.
fn problem_kinds(operation: &mut Operation, access: Access, path: &str) -> Vec<ProblemKind> {
    use ProblemKind as P;
    let named: Vec<String> = operation
        .extensions
        .as_mut()
        .and_then(|extensions| extensions.remove(PROBLEMS))
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default();
    let mut kinds: Vec<ProblemKind> = ProblemKind::iter()
        .filter(|kind| named.iter().any(|code| code == kind.code()))
        .collect();
    let keyed = match access {
        Access::Open => &[][..],
        Access::AnyKey => &[P::Unauthorized, P::TooManyAuthFailures, P::RateLimited][..],
        Access::Metrics | Access::Scope(_) | Access::AnyScope(_) => &[
            P::Unauthorized,
            P::Forbidden,
            P::TooManyAuthFailures,
            P::RateLimited,
        ][..],
    };
    kinds.extend_from_slice(keyed);
    if operation.request_body.is_some() {
        kinds.extend_from_slice(&[
            P::InvalidJson,
            P::InvalidRequest,
            P::PayloadTooLarge,
            P::UnsupportedMediaType,
            P::BodyTimeout,
        ]);
    }
    if !super::admission::is_probe(path) {
        kinds.push(P::Overloaded);
    }
    kinds.push(P::Internal);
    kinds
}

/// Adds a problem+json answer for every status the operation's problems have.
fn add_problems(operation: &mut Operation, access: Access, path: &str) {
    let mut by_status: BTreeMap<u16, Vec<ProblemKind>> = BTreeMap::new();
    for kind in problem_kinds(operation, access, path) {
        let kinds = by_status.entry(kind.status().as_u16()).or_default();
        if !kinds.iter().any(|known| known.code() == kind.code()) {
            kinds.push(kind);
        }
    }
    for (status, kinds) in by_status {
        operation
            .responses
            .responses
            .insert(status.to_string(), RefOr::T(problem_response(&kinds)));
    }
}

/// The answers of no operation: to a path the document does not list, and to a method a
/// listed path does not take (with an `Allow` header).
fn add_unrouted(components: &mut Components) {
    for kind in [ProblemKind::NotFound, ProblemKind::MethodNotAllowed] {
        components
            .responses
            .insert(kind.code().to_owned(), RefOr::T(problem_response(&[kind])));
    }
}

/// A problem+json answer of one status, each of its codes shown by an example.
fn problem_response(kinds: &[ProblemKind]) -> Response {
    let description = kinds
        .iter()
        .map(|kind| format!("`{}`: {}", kind.code(), kind.title()))
        .collect::<Vec<_>>()
        .join("; ");
    let examples = kinds.iter().map(|kind| {
        let value = serde_json::json!({
            "type": format!("urn:jiangcheng:problem:{}", kind.code()),
            "title": kind.title(),
            "status": kind.status().as_u16(),
            "detail": kind.title(),
            "code": kind.code(),
        });
        (
            kind.code(),
            ExampleBuilder::new().value(Some(value)).build(),
        )
    });
    let content = ContentBuilder::new()
        .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
        .examples_from_iter(examples)
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
        .build()
}
