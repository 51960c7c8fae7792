//! The OpenAPI document: the one served is the one kept in `docs/openapi.json`; it documents
//! exactly the route table's operations, each with the security its access means and the
//! problems the service defines; and real answers of the service validate against the schemas
//! it gives them (the decisions, written by hand, field for field).

use std::collections::BTreeSet;

use jiangcheng::http::{endpoints, Access, ProblemKind};
use serde_json::{json, Value};
use strum::IntoEnumIterator;

use crate::helpers::{demo_lists, Spawn, TestApp, AS_OF};

const REGENERATE: &str = "cargo run -- openapi > docs/openapi.json";

fn document() -> Value {
    serde_json::from_str(&jiangcheng::http::openapi_json().expect("the document renders"))
        .expect("the document is JSON")
}

fn kept() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    let text = std::fs::read_to_string(path).expect("docs/openapi.json");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

#[actix_web::test]
async fn the_served_document_is_the_one_kept_in_docs() {
    let app = Spawn::demo().start();
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let content_type = crate::helpers::header(&response, "content-type");
    assert_eq!(content_type, "application/json");
    let served: Value = response.json().await.expect("JSON");
    assert_eq!(
        served,
        document(),
        "the served document is the generated one"
    );
    assert!(
        served == kept(),
        "docs/openapi.json differs from the document the code generates; regenerate it with \
         `{REGENERATE}` and commit it"
    );
}

/// The security requirements an operation must have for `access`, as scope lists (an empty
/// list: any key; `None`: none needed).
fn expected_security(access: Access) -> Vec<Option<Vec<String>>> {
    let scopes = |list: &[jiangcheng::keys::Scope]| {
        Some(list.iter().map(|scope| scope.as_str().to_owned()).collect())
    };
    match access {
        Access::Open => Vec::new(),
        Access::Metrics => vec![None, scopes(&[jiangcheng::keys::Scope::Admin])],
        Access::AnyKey => vec![Some(Vec::new())],
        Access::Scope(scope) => vec![scopes(&[scope])],
        Access::AnyScope(list) => list.iter().map(|scope| scopes(&[*scope])).collect(),
    }
}

fn security_of(operation: &Value) -> Vec<Option<Vec<String>>> {
    let Some(requirements) = operation["security"].as_array() else {
        return Vec::new();
    };
    requirements
        .iter()
        .map(|requirement| {
            requirement["bearer"].as_array().map(|scopes| {
                scopes
                    .iter()
                    .map(|scope| scope.as_str().expect("a scope").to_owned())
                    .collect()
            })
        })
        .collect()
}

#[test]
fn every_route_is_documented_with_the_security_its_access_means_and_nothing_else() {
    let doc = document();
    let mut routes = BTreeSet::new();
    for (method, path, access) in endpoints(false) {
        let method = method.as_str().to_lowercase();
        let operation = &doc["paths"][path][&method];
        assert!(
            operation.is_object(),
            "{} {path} is in the route table but not in the OpenAPI document: annotate its \
             handler with #[utoipa::path] and list it in ApiDoc's paths (src/http/openapi.rs)",
            method.to_uppercase()
        );
        assert_eq!(
            security_of(operation),
            expected_security(access),
            "{method} {path}: security for {access:?}"
        );
        routes.insert((method, path.to_owned()));
    }
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    assert!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer",
        "{}",
        doc["components"]["securitySchemes"]
    );
}

#[test]
fn every_problem_code_the_service_defines_is_documented_with_its_status() {
    let doc = document();
    let mut documented = BTreeSet::new();
    // The answers to a path or method the document does not list.
    for (code, response) in doc["components"]["responses"]
        .as_object()
        .expect("responses")
    {
        let status =
            &response["content"]["application/problem+json"]["examples"][code]["value"]["status"];
        documented.insert((code.clone(), status.to_string()));
    }
    for item in doc["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("a path item").values() {
            for (status, response) in operation["responses"].as_object().expect("responses") {
                let examples = &response["content"]["application/problem+json"]["examples"];
                for code in examples.as_object().into_iter().flat_map(|e| e.keys()) {
                    documented.insert((code.clone(), status.clone()));
                }
            }
        }
    }
    for kind in ProblemKind::iter() {
        let documented_here = (kind.code().to_owned(), kind.status().as_str().to_owned());
        assert!(
            documented.contains(&documented_here),
            "problem `{}` ({}) is in no operation's answers",
            kind.code(),
            kind.status()
        );
    }
}

/// A validator of `schema` (a component's name), resolving references in the document.
fn validator(doc: &Value, schema: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&root).expect("a valid JSON Schema")
}

fn assert_valid(validator: &jsonschema::Validator, answer: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{answer:#}");
}

/// Every subject of the demo lists.
fn demo_subjects() -> Vec<String> {
    let text = std::fs::read_to_string(demo_lists()).expect("the demo lists");
    let subjects: BTreeSet<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|entry| entry["subject_id"].as_str().map(str::to_owned))
        .collect();
    subjects.into_iter().collect()
}

async fn matters(app: &TestApp) -> Vec<String> {
    let body = app.get_json("/v1/matters").await;
    body["matters"]
        .as_array()
        .expect("matters")
        .iter()
        .map(|matter| matter["code"].as_str().expect("a code").to_owned())
        .collect()
}

#[actix_web::test]
async fn every_demo_subject_decided_in_every_matter_matches_the_documented_schemas() {
    let doc = document();
    let app = Spawn::demo().start();
    let (decision, batch, problem) = (
        validator(&doc, "Decision"),
        validator(&doc, "Batch"),
        validator(&doc, "Problem"),
    );
    let mut subjects: Vec<Value> = demo_subjects()
        .into_iter()
        .map(|id| json!({ "id": id }))
        .collect();
    subjects.push(json!({ "id": "9123020MA1B2C3D8T" }));
    for matter in matters(&app).await {
        let body = json!({ "matter": matter, "as_of": AS_OF, "subjects": subjects,
                           "case_ref": "ZFCG-2026-0815", "department": "财政局" });
        let answer: Value = app.post_batch(&body).await.json().await.expect("JSON");
        assert_valid(&batch, &answer, &format!("the batch in {matter}"));
        let replay = json!({ "subject": subjects[0], "matter": matter, "as_of": AS_OF });
        let answer: Value = app.post_decide(&replay).await.json().await.expect("JSON");
        assert_valid(&decision, &answer, &format!("a decision in {matter}"));
        // The schema is closed: a member it does not name fails it.
        let mut unnamed = answer.clone();
        unnamed["surprise"] = json!(true);
        assert!(!decision.is_valid(&unnamed), "{unnamed}");
    }
    for bad in [
        json!({ "subject": { "id": "not an id" }, "matter": "gov_procurement" }),
        json!({ "subject": { "id": "91230200MA1B2C3D8T" }, "matter": "no_such_matter" }),
        json!({ "subjects": [] }),
    ] {
        let answer: Value = app.post_decide(&bad).await.json().await.expect("JSON");
        assert_valid(&problem, &answer, &format!("the problem for {bad}"));
    }
}

#[actix_web::test]
async fn the_catalogues_the_status_and_every_demo_profile_match_their_documented_schemas() {
    let doc = document();
    let app = Spawn::demo().start();
    for (path, schema) in [
        ("/v1/matters", "Catalog_Matters"),
        ("/v1/topics", "Catalog_Topics"),
        ("/v1/lists", "Catalog_Lists"),
    ] {
        let answer = app.get_json(path).await;
        assert_valid(&validator(&doc, schema), &answer, path);
    }
    let status = app.status().await;
    assert_valid(&validator(&doc, "Status"), &status, "/v1/status");
    let profile = validator(&doc, "Profile");
    for subject in demo_subjects() {
        let path = format!(
            "/v1/subjects/{subject}?as_of={}",
            crate::helpers::AS_OF_QUERY
        );
        let answer = app.get_json(&path).await;
        assert_valid(&profile, &answer, &path);
    }
}

#[actix_web::test]
async fn stored_feedback_and_its_export_match_their_documented_schema_and_types() {
    use crate::register::{app_with, applied, stored, subjects};
    let doc = document();
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let body = json!({ "subject": { "id": s.listed }, "matter": "gov_procurement",
                       "department": "市公共资源交易中心" });
    let decision: Value = app.post_decide(&body).await.json().await.expect("JSON");
    stored(&app, 1).await;
    let response = app
        .post_json("/v1/feedback", &applied(&decision["decision_id"]))
        .await;
    assert_eq!(response.status(), 201);
    let feedback: Value = response.json().await.expect("JSON");
    assert_valid(&validator(&doc, "Feedback"), &feedback, "stored feedback");
    let documented = &doc["paths"]["/v1/export/cases"]["get"]["responses"]["200"]["content"];
    for format in ["jsonl", "csv"] {
        let path = format!("/v1/export/cases?from=2026-01-01&to=2027-01-01&format={format}");
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let content_type = crate::helpers::header(&response, "content-type");
        assert!(
            documented
                .as_object()
                .expect("content")
                .keys()
                .any(|documented| { content_type.split(';').next() == Some(documented.as_str()) }),
            "{path} answered {content_type}, documented: {documented}"
        );
    }
}

#[actix_web::test]
async fn list_administration_answers_match_their_documented_schemas() {
    use crate::redis::{redis_source, RedisServer};
    let doc = document();
    let redis = RedisServer::start();
    let app = Spawn::source(crate::helpers::rules_dir(), redis_source(&redis)).start();
    let entry = app.url("/v1/lists/court_dishonest_debtor/entries/A-1");
    let body = json!({ "subject_id": crate::helpers::uscc("91", 61), "listed_on": "2026-01-01",
                       "reason": "拒不履行" });
    let (written, stored, removed) = (
        validator(&doc, "WrittenEntry"),
        validator(&doc, "StoredEntry"),
        validator(&doc, "RemovedEntry"),
    );
    let answer = |response: reqwest::Response| async move {
        assert!(response.status().is_success(), "{}", response.status());
        response.json::<Value>().await.expect("JSON")
    };
    let put = app
        .client
        .put(&entry)
        .json(&body)
        .send()
        .await
        .expect("PUT");
    assert_valid(&written, &answer(put).await, "PUT");
    let dispute = json!({ "dispute": "under_review", "by": "市信用中心", "reason": "异议" });
    let disputed = app.client.post(format!("{entry}/dispute")).json(&dispute);
    assert_valid(
        &written,
        &answer(disputed.send().await.expect("POST")).await,
        "dispute",
    );
    let got = app.client.get(&entry).send().await.expect("GET");
    assert_valid(&stored, &answer(got).await, "GET");
    let removal = json!({ "by": "市信用中心", "reason": "录入错误" });
    let deleted = app
        .client
        .delete(&entry)
        .json(&removal)
        .send()
        .await
        .expect("DELETE");
    assert_valid(&removed, &answer(deleted).await, "DELETE");
}
