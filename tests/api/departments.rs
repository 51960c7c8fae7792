//! Feedback belongs to its department, in both stores: a `feedback` key reports only on the
//! decisions its department asked for and on the measures it executes, and is refused anything
//! else with a 403 that says nothing about the decision; it reads only what its department
//! filed, while `export` and `admin` keys read everything; and the department that filed a
//! report corrects it, the report keeping who, when, why and what changed.

use jiangcheng::keys::{new_key, NewKey, Scope};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{error_fields, is_rfc3339_plus8, problem, TestApp};
use crate::privacy::decide_now;
use crate::redis::RedisServer;
use crate::register::{
    app_with, applied, masked, period_now, redis_sink, stored, subjects, PROCUREMENT_BAN,
};

/// Executed by the city's housing bureau, among others, in `construction_bidding`.
const PROJECT_RESTRICTION: &str = "court_gov_project_restriction";
const ASKER: &str = "市营商环境建设监督局";
const FINANCE: &str = "市财政局";
const HOUSING: &str = "市住房和城乡建设局";

/// The department that asks for decisions (and may report on them), two executing
/// departments, and keys that read everything.
struct Keys {
    asker: NewKey,
    finance: NewKey,
    housing: NewKey,
    export: NewKey,
    admin: NewKey,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            asker: new_key(ASKER, &[Scope::Decide, Scope::Feedback], None),
            finance: new_key(FINANCE, &[Scope::Feedback], None),
            housing: new_key(HOUSING, &[Scope::Feedback], None),
            export: new_key("市信用中心", &[Scope::Export], None),
            admin: new_key("市信用中心", &[Scope::Admin], None),
        }
    }

    fn config(&self) -> String {
        [
            &self.asker,
            &self.finance,
            &self.housing,
            &self.export,
            &self.admin,
        ]
        .map(|key| key.config.as_str())
        .concat()
    }
}

async fn post(app: &TestApp, key: &NewKey, path: &str, body: &Value) -> Response {
    let request = app.client.post(app.url(path)).bearer_auth(&key.token);
    request.json(body).send().await.expect("POST")
}

async fn get(app: &TestApp, key: &NewKey, path: &str) -> Value {
    let request = app.client.get(app.url(path)).bearer_auth(&key.token);
    let response = request.send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("JSON")
}

fn report(decision_id: &Value, measure: &str, department: &str) -> Value {
    let mut report = applied(decision_id);
    report["measure"] = json!(measure);
    report["executing_department"] = json!(department);
    report
}

/// A 403 `code` problem; its text with `id` taken out, to compare refusals.
async fn refused(response: Response, code: &str, id: &str, what: &str) -> String {
    let problem = problem(response, 403, code, what).await;
    problem.to_string().replace(id, "<id>")
}

/// The decision ids of a page of feedback.
fn decisions_of(page: &Value) -> Vec<Value> {
    let items = page["items"].as_array().expect("items");
    items.iter().map(|i| i["decision_id"].clone()).collect()
}

/// The whole scenario, on whichever store `app` keeps its register in.
async fn feedback_belongs_to_its_department(app: &TestApp, keys: &Keys) {
    let s = subjects();
    // The asking department decides; its own label names another department, which must
    // entitle nobody.
    let mut decisions = Vec::new();
    for matter in ["gov_procurement", "construction_bidding"] {
        let body = json!({"subject": {"id": s.listed}, "matter": matter,
                          "department": HOUSING});
        let decision: Value = post(app, &keys.asker, "/v1/decide", &body)
            .await
            .json()
            .await
            .expect("decision");
        assert_eq!(decision["decision"], "block", "{decision}");
        decisions.push(decision["decision_id"].clone());
    }
    stored(app, 2).await;
    let (procurement, bidding) = (&decisions[0], &decisions[1]);

    // Another department files the first report on a decision that is not its own: refused,
    // exactly as for a decision that does not exist, and without the decision's measures.
    let attack = post(
        app,
        &keys.housing,
        "/v1/feedback",
        &report(procurement, PROCUREMENT_BAN, HOUSING),
    )
    .await;
    let attack = refused(
        attack,
        "feedback_forbidden",
        procurement.as_str().expect("id"),
        "attack",
    )
    .await;
    assert!(!attack.contains(PROCUREMENT_BAN), "{attack}");
    let nowhere = json!(uuid::Uuid::now_v7().to_string());
    let missing = post(
        app,
        &keys.housing,
        "/v1/feedback",
        &report(&nowhere, PROCUREMENT_BAN, HOUSING),
    )
    .await;
    let missing = refused(
        missing,
        "feedback_forbidden",
        nowhere.as_str().expect("id"),
        "no decision",
    )
    .await;
    assert_eq!(attack, missing, "a refusal says nothing about the decision");
    // A measure it executes, but which the decision did not apply: no 422 listing the
    // decision's measures.
    let other = post(
        app,
        &keys.housing,
        "/v1/feedback",
        &report(procurement, PROJECT_RESTRICTION, HOUSING),
    )
    .await;
    let other = refused(
        other,
        "feedback_forbidden",
        procurement.as_str().expect("id"),
        "not applied",
    )
    .await;
    assert!(!other.contains(PROCUREMENT_BAN), "{other}");
    // A measure the decision applied that it does not execute.
    let not_executed = post(
        app,
        &keys.finance,
        "/v1/feedback",
        &report(bidding, PROJECT_RESTRICTION, FINANCE),
    )
    .await;
    refused(
        not_executed,
        "feedback_forbidden",
        bidding.as_str().expect("id"),
        "not executed",
    )
    .await;

    // The executing departments report on their measures, the first report theirs.
    let by_finance = post(
        app,
        &keys.finance,
        "/v1/feedback",
        &report(procurement, PROCUREMENT_BAN, FINANCE),
    )
    .await;
    assert_eq!(by_finance.status(), StatusCode::CREATED);
    let by_finance: Value = by_finance.json().await.expect("JSON");
    let by_housing = post(
        app,
        &keys.housing,
        "/v1/feedback",
        &report(bidding, PROJECT_RESTRICTION, HOUSING),
    )
    .await;
    assert_eq!(by_housing.status(), StatusCode::CREATED);
    // The asking department is entitled to its whole decision, and told what it applied.
    let unknown = post(
        app,
        &keys.asker,
        "/v1/feedback",
        &report(procurement, "honors_revocation", ASKER),
    )
    .await;
    let unknown = problem(unknown, 422, "measure_not_in_decision", "asker").await;
    assert!(unknown["detail"]
        .as_str()
        .is_some_and(|d| d.contains(PROCUREMENT_BAN)));

    // Each reads what its department filed; export and admin keys read everything.
    let page = |key| get(app, key, "/v1/feedback");
    assert_eq!(decisions_of(&page(&keys.finance).await), decisions[..1]);
    assert_eq!(decisions_of(&page(&keys.housing).await), decisions[1..]);
    assert!(decisions_of(&page(&keys.asker).await).is_empty());
    let filtered = get(
        app,
        &keys.housing,
        "/v1/feedback?department=%E5%B8%82%E8%B4%A2%E6%94%BF%E5%B1%80",
    )
    .await;
    assert!(decisions_of(&filtered).is_empty(), "{filtered}");
    for key in [&keys.export, &keys.admin] {
        assert_eq!(decisions_of(&page(key).await), decisions);
    }
    let first = get(app, &keys.export, "/v1/feedback?limit=1").await;
    assert_eq!(decisions_of(&first), decisions[..1]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = get(
        app,
        &keys.export,
        &format!("/v1/feedback?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(decisions_of(&second), decisions[1..]);

    // Only the department that filed a report corrects it; to any other, a report that is
    // not its own looks like one that does not exist.
    let feedback_id = by_finance["feedback_id"]
        .as_str()
        .expect("feedback id")
        .to_owned();
    let corrections = format!("/v1/feedback/{feedback_id}/corrections");
    let correction = json!({"reason": format!("结果录入有误，申请人{}", s.person),
                            "changes": {"results": "已放行", "officer": null}});
    let not_theirs = post(app, &keys.housing, &corrections, &correction).await;
    let not_theirs = refused(not_theirs, "correction_forbidden", &feedback_id, "housing").await;
    let nobodys = uuid::Uuid::now_v7().to_string();
    let missing = post(
        app,
        &keys.housing,
        &format!("/v1/feedback/{nobodys}/corrections"),
        &correction,
    )
    .await;
    assert_eq!(
        not_theirs,
        refused(missing, "correction_forbidden", &nobodys, "none").await
    );
    let asker = post(app, &keys.asker, &corrections, &correction).await;
    refused(asker, "correction_forbidden", &feedback_id, "asker").await;

    // What a correction must say.
    for (body, fields) in [
        (json!({"changes": {"results": "x"}}), vec!["reason"]),
        (json!({"reason": "r", "changes": {}}), vec!["changes"]),
        (
            json!({"reason": "r", "changes": {"decision_id": nobodys}}),
            vec!["changes.decision_id"],
        ),
        (
            json!({"reason": "r", "changes": {"colour": "red"}}),
            vec!["changes.colour"],
        ),
        (
            json!({"reason": "r", "changes": {"results": 7}}),
            vec!["changes.results"],
        ),
        (
            json!({"reason": "r", "changes": {"results": by_finance["results"]}}),
            vec!["changes"],
        ),
        (
            json!({"reason": "r", "changes": {"action": "overridden", "officer": null}}),
            vec!["changes.officer", "changes.reason"],
        ),
        (
            json!({"reason": "r", "changes": {}, "note": "n"}),
            vec!["note"],
        ),
    ] {
        let response = post(app, &keys.finance, &corrections, &body).await;
        let problem = problem(response, 400, "invalid_request", &body.to_string()).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }

    let corrected = post(app, &keys.finance, &corrections, &correction).await;
    assert_eq!(corrected.status(), StatusCode::OK);
    let corrected: Value = corrected.json().await.expect("JSON");
    assert_eq!(corrected["feedback_id"], feedback_id.as_str());
    assert_eq!(corrected["results"], "已放行");
    assert!(corrected.get("officer").is_none(), "{corrected}");
    let history = &corrected["corrections"][0];
    assert_eq!(history["caller"]["department"], FINANCE);
    assert_eq!(history["caller"]["key_id"], by_finance["caller"]["key_id"]);
    assert!(is_rfc3339_plus8(
        history["corrected_at"].as_str().unwrap_or_default()
    ));
    assert_eq!(
        history["reason"],
        format!("结果录入有误，申请人{}", masked(&s.person))
    );
    assert_eq!(
        history["changes"],
        json!([{"field": "officer", "from": "王某", "to": null},
               {"field": "results", "from": "已拦截", "to": "已放行"}])
    );
    // The report read back is the corrected one, with its history; the export has it too.
    let listed = get(app, &keys.finance, "/v1/feedback").await;
    assert_eq!(listed["items"][0], corrected);
    let export = app
        .client
        .get(app.url(&format!("/v1/export/cases?{}", period_now())))
        .bearer_auth(&keys.export.token)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("body");
    let row: Value = export
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a row"))
        .find(|row| row["decision_id"] == *procurement)
        .expect("the decision's row");
    assert_eq!(row["results"], "已放行", "{row}");
    // Posting the original report again no longer matches what is stored.
    let original = post(
        app,
        &keys.finance,
        "/v1/feedback",
        &report(procurement, PROCUREMENT_BAN, FINANCE),
    )
    .await;
    problem(original, 409, "feedback_conflict", "the original again").await;

    // Corrections racing each other: each is kept or refused, none is lost.
    let racing = (0..8).map(|n| {
        let body =
            json!({"reason": format!("第{n}次"), "changes": {"results": format!("第{n}次结果")}});
        let corrections = corrections.clone();
        async move { post(app, &keys.finance, &corrections, &body).await.status() }
    });
    let statuses = futures_util::future::join_all(racing).await;
    let kept = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    let listed = get(app, &keys.finance, "/v1/feedback").await;
    let history = listed["items"][0]["corrections"]
        .as_array()
        .expect("history");
    assert_eq!(history.len(), 1 + kept, "{statuses:?}: {listed}");
}

#[actix_web::test]
async fn with_files_feedback_belongs_to_its_department() {
    let keys = Keys::new();
    let app = app_with(&subjects(), |spawn| spawn.keys(&keys.config(), false));
    feedback_belongs_to_its_department(&app, &keys).await;
    let file = std::fs::read_to_string(app.register_dir.path().join("feedback.jsonl"))
        .expect("feedback file");
    assert!(!file.contains(&subjects().person), "{file}");
}

#[actix_web::test]
async fn with_redis_feedback_belongs_to_its_department() {
    let server = RedisServer::start();
    let keys = Keys::new();
    let app = app_with(&subjects(), |spawn| {
        spawn
            .keys(&keys.config(), false)
            .register(redis_sink(&server), 65_536)
    });
    feedback_belongs_to_its_department(&app, &keys).await;
    let mut connection = server.connection();
    let stored: Vec<String> = redis::cmd("HVALS")
        .arg("jc:{audit}:feedback")
        .query(&mut connection)
        .expect("HVALS");
    assert_eq!(stored.len(), 2);
    assert!(!stored.concat().contains(&subjects().person), "{stored:?}");
}

#[actix_web::test]
async fn with_the_service_open_anyone_reports_reads_and_corrects() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let decision = decide_now(&app, &s.listed, "gov_procurement").await;
    stored(&app, 1).await;
    let created: Value = app
        .post_json("/v1/feedback", &applied(&decision["decision_id"]))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(created["caller"].is_null());
    let path = format!(
        "/v1/feedback/{}/corrections",
        created["feedback_id"].as_str().expect("id")
    );
    let correction = json!({"reason": "录入有误", "changes": {"results": "已放行"}});
    let corrected = app.post_json(&path, &correction).await;
    assert_eq!(corrected.status(), StatusCode::OK);
    let corrected: Value = corrected.json().await.expect("JSON");
    assert!(
        corrected["corrections"][0]["caller"].is_null(),
        "{corrected}"
    );
    // Each correction keeps the whole report again: a report takes at most 20.
    for n in 1..20 {
        let correction = json!({"reason": "录入有误", "changes": {"results": format!("第{n}次")}});
        assert_eq!(
            app.post_json(&path, &correction).await.status(),
            StatusCode::OK
        );
    }
    let more = app.post_json(&path, &correction).await;
    problem(more, 409, "corrections_exhausted", "the 21st").await;
    let missing = format!("/v1/feedback/{}/corrections", uuid::Uuid::now_v7());
    problem(
        app.post_json(&missing, &correction).await,
        404,
        "feedback_not_found",
        "open",
    )
    .await;
    let malformed = app
        .post_json("/v1/feedback/nope/corrections", &correction)
        .await;
    let malformed = problem(malformed, 400, "invalid_request", "not an id").await;
    assert_eq!(error_fields(&malformed), ["feedback_id"]);
}

#[actix_web::test]
async fn with_keys_feedback_reached_by_an_encoded_path_still_needs_a_key() {
    let s = subjects();
    let keys = Keys::new();
    let app = app_with(&s, |spawn| spawn.keys(&keys.config(), false));
    let decision: Value = post(
        &app,
        &keys.asker,
        "/v1/decide",
        &json!({"subject": {"id": s.listed}, "matter": "gov_procurement"}),
    )
    .await
    .json()
    .await
    .expect("decision");
    stored(&app, 1).await;
    // Percent-encoded paths that the router decodes to the feedback routes.
    let report = applied(&decision["decision_id"]);
    let correction = json!({"reason": "r", "changes": {"results": "x"}});
    let nobodys = uuid::Uuid::now_v7();
    for (path, body) in [
        ("/v%31/feedback".to_owned(), Some(&report)),
        ("/%76%31/feedback".to_owned(), None),
        (
            format!("/v%31/feedback/{nobodys}/corrections"),
            Some(&correction),
        ),
    ] {
        let request = match body {
            Some(body) => app.client.post(app.url(&path)).json(body),
            None => app.client.get(app.url(&path)),
        };
        let response = request.send().await.expect("request");
        problem(response, 401, "unauthorized", &path).await;
    }
}
