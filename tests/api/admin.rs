//! List administration: `PUT` / `GET /v1/lists/{list}/entries/{entry_id}` against a real Redis,
//! and 409 with a file source.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{rules_dir, spawn_app, uscc, Spawn, AS_OF};
use crate::redis::{redis_source, RedisServer};

async fn put(
    app: &crate::helpers::TestApp,
    list: &str,
    entry_id: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/v1/lists/{list}/entries/{entry_id}")))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn problem_code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or("")
}

#[actix_web::test]
async fn a_write_through_one_instance_is_acknowledged_with_its_version_and_decides_on_another() {
    let redis = RedisServer::start();
    let writer = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let reader = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let _followers = [
        jiangcheng::http::spawn_follower(writer.state.clone()).unwrap(),
        jiangcheng::http::spawn_follower(reader.state.clone()).unwrap(),
    ];
    let company = uscc("91", 60);
    let body = json!({"subject_id": company, "listed_on": "2026-01-01", "reason": "拒不履行"});

    let created = put(&writer, "court_dishonest_debtor", "A-1", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        (
            created["lists_version"].as_u64(),
            created["changed"].as_bool()
        ),
        (Some(1), Some(true))
    );
    assert_eq!(created["entry"]["entry_id"], "A-1");

    let again: Value = put(&writer, "court_dishonest_debtor", "A-1", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            again["created"].as_bool(),
            again["changed"].as_bool(),
            again["lists_version"].as_u64()
        ),
        (Some(false), Some(false), Some(1))
    );

    let request = json!({"subject": {"id": company}, "matter": "gov_procurement", "as_of": AS_OF});
    let started = Instant::now();
    loop {
        let decision: Value = reader.post_decide(&request).await.json().await.unwrap();
        if decision["decision"] == "block" {
            assert_eq!(decision["lists_version"], 1);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{decision}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    let read: Value = reader
        .get_json("/v1/lists/court_dishonest_debtor/entries/A-1")
        .await;
    assert_eq!(read["entry"]["subject_id"], company);
    let missing = reader
        .get("/v1/lists/court_dishonest_debtor/entries/NOPE")
        .await;
    assert_eq!(missing.status(), 404);
    let on_other_list = reader.get("/v1/lists/tax_a_grade/entries/A-1").await;
    assert_eq!(on_other_list.status(), 404);
}

#[actix_web::test]
async fn a_bad_entry_is_refused_naming_the_field_and_changes_nothing() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let good = json!({"subject_id": uscc("91", 61), "listed_on": "2026-01-01"});
    let cases = [
        (
            "a malformed identifier",
            "court_dishonest_debtor",
            "B-1",
            json!({"subject_id": "9123", "listed_on": "2026-01-01"}),
            400,
            "subject_id",
        ),
        (
            "a bad date",
            "court_dishonest_debtor",
            "B-2",
            json!({"subject_id": uscc("91", 61), "listed_on": "2026-02-30"}),
            400,
            "listed_on",
        ),
        (
            "a person on an organisations list",
            "tax_a_grade",
            "B-3",
            json!({"subject_id": "230202198503121238", "listed_on": "2026-01-01"}),
            400,
            "subject_id",
        ),
        (
            "a body contradicting the path",
            "court_dishonest_debtor",
            "B-4",
            json!({"entry_id": "OTHER", "subject_id": uscc("91", 61), "listed_on": "2026-01-01"}),
            400,
            "entry_id",
        ),
        (
            "an unknown list",
            "no_such_list",
            "B-5",
            good.clone(),
            404,
            "",
        ),
    ];
    for (what, list, id, body, status, field) in cases {
        let response = put(&app, list, id, &body).await;
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let problem: Value = response.json().await.unwrap();
        if !field.is_empty() {
            assert_eq!(problem["errors"][0]["field"], field, "{what}: {problem}");
        }
    }
    let not_json = app
        .client
        .put(app.url("/v1/lists/court_dishonest_debtor/entries/B-6"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let version: u64 = redis::cmd("GET")
        .arg(format!(
            "{}version",
            jiangcheng::lists::redis::DEFAULT_PREFIX
        ))
        .query::<Option<u64>>(
            &mut redis::Client::open(redis.url())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap()
        .unwrap_or(0);
    assert_eq!(version, 0, "nothing was written");
}

#[actix_web::test]
async fn with_a_file_source_the_admin_endpoints_answer_409() {
    let app = spawn_app(&[]);
    let response = put(
        &app,
        "court_dishonest_debtor",
        "C-1",
        &json!({"subject_id": uscc("91", 62), "listed_on": "2026-01-01"}),
    )
    .await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem_code(&problem), "read_only_source");
    assert_eq!(
        app.get("/v1/lists/court_dishonest_debtor/entries/C-1")
            .await
            .status(),
        409
    );
}

#[actix_web::test]
async fn with_redis_down_a_write_answers_503_with_retry_after() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    drop(redis);
    let response = put(
        &app,
        "court_dishonest_debtor",
        "D-1",
        &json!({"subject_id": uscc("91", 63), "listed_on": "2026-01-01"}),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem_code(&problem), "source_unavailable");
}
