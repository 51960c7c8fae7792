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

    // The designating body shortens the period: the entry has expired by `as_of` everywhere.
    let expired =
        json!({"subject_id": company, "listed_on": "2026-01-01", "valid_until": "2026-06-01"});
    assert_eq!(
        put(&writer, "court_dishonest_debtor", "A-1", &expired)
            .await
            .status(),
        200
    );
    eventually(&reader, &company, "allow").await;

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
            "a disqualification without the end of its period",
            "bidding_violation",
            "B-7",
            json!({"subject_id": uscc("91", 61), "listed_on": "2026-01-01"}),
            400,
            "valid_until",
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
        .body("{\n  \"subject_id\": \"91230200MA1B2C3D8T\",\n}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let problem: Value = not_json.json().await.unwrap();
    assert_eq!(problem["code"], "invalid_json", "{problem}");
    assert_eq!(
        problem["detail"],
        "the body is not valid JSON: a comma before a closing bracket or brace at line 3, column 1",
        "the same plain words as every other body"
    );
    let missing = put(
        &app,
        "court_dishonest_debtor",
        "B-8",
        &json!({"subject_id": uscc("91", 61)}),
    )
    .await;
    assert_eq!(missing.status(), 400);
    let problem: Value = missing.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "(body)", "{problem}");
    assert_eq!(
        problem["errors"][0]["message"], "missing field `listed_on`",
        "no location in a text the client did not send: {problem}"
    );
    let version: u64 = redis::cmd("GET")
        .arg(format!(
            "{}version",
            jiangcheng::lists::source::DEFAULT_PREFIX
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

/// Court lists are not repairable: whatever the source, a repair answers 409 `not_repairable`,
/// and `GET /v1/lists` says which lists can be repaired.
#[actix_web::test]
async fn with_a_file_source_a_court_list_repair_is_refused_as_not_repairable() {
    let app = spawn_app(&[]);
    let repair = json!({"document": "齐信修〔2026〕9号", "by": "市信用中心"});
    let court = post(
        &app,
        "/v1/lists/court_dishonest_debtor/entries/C-2/repair",
        &repair,
    )
    .await;
    assert_eq!(court.status(), 409);
    let problem: Value = court.json().await.unwrap();
    assert_eq!(problem_code(&problem), "not_repairable", "{problem}");
    let tax = post(
        &app,
        "/v1/lists/tax_major_violation/entries/C-2/repair",
        &repair,
    )
    .await;
    assert_eq!(tax.status(), 409);
    let problem: Value = tax.json().await.unwrap();
    assert_eq!(problem_code(&problem), "read_only_source", "{problem}");

    let lists = app.get_json("/v1/lists").await;
    let not_repairable: Vec<&str> = lists["lists"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["repairable"] == false)
        .map(|l| l["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        not_repairable,
        [
            "court_dishonest_debtor",
            "court_consumption_restricted",
            "rail_air_restricted"
        ]
    );
    assert!(
        lists["lists"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["repairable"].is_boolean()),
        "{lists}"
    );
}

/// A court entry is deleted or shielded by the court, not credit-repaired: a repair answers 409
/// `not_repairable` and changes nothing, a write that says `repaired` is refused naming
/// `status`, and removal with the court's decision ends the entry.
#[actix_web::test]
async fn a_court_entry_is_not_repaired_but_removed_with_the_courts_decision() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let debtor = uscc("91", 72);
    let listed = json!({"subject_id": debtor, "listed_on": "2026-01-01"});
    let response = put(&app, "court_dishonest_debtor", "N-1", &listed).await;
    assert_eq!(response.status(), 201);
    eventually(&app, &debtor, "block").await;
    let entry_path = "/v1/lists/court_dishonest_debtor/entries/N-1";
    let before = app.get_json(entry_path).await;

    let repair = json!({"document": "齐信修〔2026〕9号", "by": "市信用中心"});
    for list in [
        "court_dishonest_debtor",
        "court_consumption_restricted",
        "rail_air_restricted",
    ] {
        let response = post(
            &app,
            &format!("/v1/lists/{list}/entries/N-1/repair"),
            &repair,
        )
        .await;
        assert_eq!(response.status(), 409, "{list}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem_code(&problem), "not_repairable", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(list) && d.contains("DELETE")),
            "{problem}"
        );
    }
    let mut repaired = listed.clone();
    repaired["status"] = json!("repaired");
    let response = put(&app, "court_dishonest_debtor", "N-1", &repaired).await;
    assert_eq!(response.status(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "status", "{problem}");

    // Nothing changed: the entry, its block, the list version, and no repair note.
    assert_eq!(app.get_json(entry_path).await, before);
    let decision = eventually(&app, &debtor, "block").await;
    assert_eq!(decision["lists_version"], 1);
    let note = repair_note(&redis, "N-1");
    assert_eq!(note, None);

    // The court's way: removal, with its decision as the reason.
    let removal = json!({"by": "齐齐哈尔市中级人民法院", "reason": "(2026)黑02执恢12号：已履行完毕，删除失信信息"});
    let removed = app_delete(&app, "N-1", &removal).await;
    assert_eq!(removed.status(), 200);
    eventually(&app, &debtor, "allow").await;
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

async fn post(app: &crate::helpers::TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Polls until the decision reads `expected`, bounded.
async fn eventually(app: &crate::helpers::TestApp, subject: &str, expected: &str) -> Value {
    let request = json!({"subject": {"id": subject}, "matter": "gov_procurement", "as_of": AS_OF});
    let started = Instant::now();
    loop {
        let decision: Value = app.post_decide(&request).await.json().await.unwrap();
        if decision["decision"] == expected {
            return decision;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{decision}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn dispute_repair_and_removal_propagate_and_keep_their_record() {
    let redis = RedisServer::start();
    let writer = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let reader = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let (first, second) = (uscc("91", 70), uscc("91", 71));
    // E-1 is credit-repaired; E-2, a court entry, is removed (court lists are not repairable).
    for (list, id, subject) in [
        ("tax_major_violation", "E-1", &first),
        ("court_dishonest_debtor", "E-2", &second),
    ] {
        let response = put(
            &writer,
            list,
            id,
            &json!({"subject_id": subject, "listed_on": "2026-01-01"}),
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    eventually(&reader, &first, "block").await;

    // Dispute: still counts, with the warning.
    let disputed = post(
        &writer,
        "/v1/lists/tax_major_violation/entries/E-1/dispute",
        &json!({"dispute": "under_review", "by": "市信用中心", "reason": "当事人提出异议"}),
    )
    .await;
    assert_eq!(disputed.status(), 200);
    let started = Instant::now();
    loop {
        let decision = eventually(&reader, &first, "block").await;
        if decision["reasons"][0]["warnings"][0]["code"] == "entry_under_dispute" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{decision}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    // Repair: the entry stays, repaired, and stops counting.
    let missing_document = post(
        &writer,
        "/v1/lists/tax_major_violation/entries/E-1/repair",
        &json!({"document": " ", "by": "x"}),
    )
    .await;
    assert_eq!(missing_document.status(), 400);
    let repaired: Value = post(
        &writer,
        "/v1/lists/tax_major_violation/entries/E-1/repair",
        &json!({"document": "齐信修〔2026〕8号", "by": "市信用中心"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(repaired["entry"]["status"], "repaired");
    eventually(&reader, &first, "allow").await;
    let note = repair_note(&redis, "E-1");
    assert!(note.unwrap().contains("齐信修〔2026〕8号"));

    // Removal: gone everywhere, with a tombstone saying who, why and when.
    let no_reason = app_delete(&writer, "E-2", &json!({"by": "市法院"})).await;
    assert_eq!(no_reason.status(), 400);
    let removed = app_delete(
        &writer,
        "E-2",
        &json!({"by": "市法院", "reason": "已履行完毕"}),
    )
    .await;
    assert_eq!(removed.status(), 200);
    eventually(&reader, &second, "allow").await;
    assert_eq!(
        reader
            .get("/v1/lists/court_dishonest_debtor/entries/E-2")
            .await
            .status(),
        404
    );
    assert_eq!(
        app_delete(&writer, "E-2", &json!({"by": "市法院", "reason": "again"}))
            .await
            .status(),
        404
    );
    let source = crate::redis::redis_lists(&redis.url());
    let tombstone: Value =
        serde_json::from_str(&source.tombstone("E-2").unwrap().unwrap()).unwrap();
    assert_eq!(
        (
            tombstone["removed_by"].as_str(),
            tombstone["reason"].as_str()
        ),
        (Some("市法院"), Some("已履行完毕"))
    );
    assert_eq!(tombstone["entry"]["subject_id"], second);

    let status: Value = reader.get_json("/v1/status").await;
    assert_eq!(status["lists"]["entries"], 1);
    assert_eq!(status["lists"]["version"], 5);
}

async fn app_delete(
    app: &crate::helpers::TestApp,
    entry_id: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .delete(app.url(&format!(
            "/v1/lists/court_dishonest_debtor/entries/{entry_id}"
        )))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Sets an entry's dispute state through the admin API.
async fn dispute(app: &crate::helpers::TestApp, entry_id: &str, state: &str) {
    let response = post(
        app,
        &format!("/v1/lists/court_dishonest_debtor/entries/{entry_id}/dispute"),
        &json!({"dispute": state, "by": "市信用中心", "reason": format!("异议：{state}")}),
    )
    .await;
    assert_eq!(response.status(), 200, "{entry_id} → {state}");
}

#[actix_web::test]
async fn an_upheld_objection_stops_a_block_and_a_rejected_one_keeps_it_and_every_change_is_kept() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let (upheld, rejected) = (uscc("91", 72), uscc("91", 73));
    for (id, subject) in [("E-U", &upheld), ("E-R", &rejected)] {
        let body = json!({"subject_id": subject, "listed_on": "2026-01-01"});
        assert_eq!(
            put(&app, "court_dishonest_debtor", id, &body)
                .await
                .status(),
            201
        );
        dispute(&app, id, "under_review").await;
    }
    // E-U is first rejected, then reopened and upheld: its history keeps all four changes.
    for state in ["rejected", "under_review", "upheld"] {
        dispute(&app, "E-U", state).await;
    }
    dispute(&app, "E-R", "rejected").await;

    // 异议成立: the entry stops counting; 异议不成立: it blocks as before, with no warning.
    let allowed = eventually(&app, &upheld, "allow").await;
    assert_eq!(allowed["reasons"], json!([]));
    let started = Instant::now();
    loop {
        let blocked = eventually(&app, &rejected, "block").await;
        if blocked["reasons"][0]["warnings"] == json!([]) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{blocked}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    // The profile still shows the upheld entry, marked as not counting and why.
    let profile: Value = app
        .get_json(&format!("/v1/subjects/{upheld}?as_of=2026-11-22"))
        .await;
    assert_eq!(profile["entries"][0]["entry_id"], "E-U");
    assert_eq!(profile["entries"][0]["state"], "objection_upheld");
    assert_eq!(profile["entries"][0]["dispute"], "upheld");
    assert_eq!(profile["topics"], json!([]));
    let states = |history: &Value| -> Vec<String> {
        let history = history.as_array().expect("a dispute history");
        for change in history {
            assert_eq!(change["by"], "市信用中心", "{change}");
            assert!(change["at"].as_str().is_some_and(|at| at.starts_with("20")));
            assert_eq!(
                change["reason"],
                format!("异议：{}", change["dispute"].as_str().unwrap())
            );
        }
        history
            .iter()
            .map(|c| c["dispute"].as_str().unwrap().to_owned())
            .collect()
    };
    let four = ["under_review", "rejected", "under_review", "upheld"];
    assert_eq!(states(&profile["entries"][0]["dispute_history"]), four);
    let stored: Value = app
        .get_json("/v1/lists/court_dishonest_debtor/entries/E-U")
        .await;
    assert_eq!(stored["entry"]["dispute"], "upheld");
    assert_eq!(states(&stored["dispute_history"]), four);
    let profile: Value = app
        .get_json(&format!("/v1/subjects/{rejected}?as_of=2026-11-22"))
        .await;
    assert_eq!(profile["entries"][0]["state"], "in_force");
}

/// The who and why of a dispute are free text: an ID number written into them is stored masked.
/// A profile whose dispute histories Redis cannot give (frozen) is served from memory all the
/// same, and says what it left out.
#[actix_web::test]
async fn a_dispute_note_is_stored_masked_and_a_profile_is_served_while_redis_is_frozen() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let subject = uscc("91", 74);
    let body = json!({"subject_id": subject, "listed_on": "2026-01-01"});
    assert_eq!(
        put(&app, "court_dishonest_debtor", "E-M", &body)
            .await
            .status(),
        201
    );
    let person = crate::helpers::rid(12);
    let spaced = format!("{} {}", &person[..6], &person[6..]);
    let response = post(
        &app,
        "/v1/lists/court_dishonest_debtor/entries/E-M/dispute",
        &json!({"dispute": "under_review", "by": format!("经办人{person}"), "reason": format!("申请人身份证 {spaced}")}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let stored: Value = app
        .get_json("/v1/lists/court_dishonest_debtor/entries/E-M")
        .await;
    let history = stored["dispute_history"].to_string();
    assert!(history.contains("********"), "{history}");
    assert!(
        !history.contains(&person) && !history.contains(&spaced),
        "{history}"
    );

    // The snapshot holds the disputed entry; Redis, which holds its history, is frozen.
    let profile_path = format!("/v1/subjects/{subject}?as_of=2026-11-22");
    let started = Instant::now();
    while app.get_json(&profile_path).await["entries"][0]["dispute"] != "under_review" {
        app.service.reload().expect("reload from Redis");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    let _frozen = crate::follow::Frozen::new(&redis);
    let profile: Value = app.get_json(&profile_path).await;
    assert_eq!(profile["entries"][0]["entry_id"], "E-M", "{profile}");
    assert!(
        profile["dispute_history_unavailable"].is_string(),
        "{profile}"
    );
}

#[actix_web::test]
async fn objections_under_review_longer_than_the_rule_sets_limit_are_counted_and_listed() {
    // Two instances on one Redis: the shipped rule set (5 working days: an objection raised
    // now is not overdue) and a copy whose limit is 0 working days (every objection under
    // review is overdue): no clock needs to move.
    let dir = tempfile::tempdir().expect("temp dir");
    let strict = dir.path().join("rules");
    crate::helpers::copy_rules(&strict);
    let ruleset = std::fs::read_to_string(strict.join("ruleset.toml")).unwrap();
    assert!(
        ruleset.contains("dispute_review_days = 5"),
        "the shipped limit is 5"
    );
    std::fs::write(
        strict.join("ruleset.toml"),
        ruleset.replace("dispute_review_days = 5", "dispute_review_days = 0"),
    )
    .unwrap();
    let redis = RedisServer::start();
    let shipped = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let zero = Spawn::source(strict, redis_source(&redis)).start();
    for (id, n) in [("O-1", 80), ("O-2", 81), ("O-3", 82)] {
        let body = json!({"subject_id": uscc("91", n), "listed_on": "2026-01-01"});
        let response = put(&shipped, "court_dishonest_debtor", id, &body).await;
        assert_eq!(response.status(), 201);
    }
    // O-1 and O-2 under review; O-3 was, and was answered.
    for (id, state) in [
        ("O-1", "under_review"),
        ("O-2", "under_review"),
        ("O-3", "under_review"),
        ("O-3", "rejected"),
    ] {
        dispute(&shipped, id, state).await;
    }
    // O-4 is written already under review: it entered review with that write.
    let body =
        json!({"subject_id": uscc("91", 83), "listed_on": "2026-01-01", "dispute": "under_review"});
    let response = put(&shipped, "court_dishonest_debtor", "O-4", &body).await;
    assert_eq!(response.status(), 201);
    let counts = |status: &Value| {
        let disputes = &status["disputes"];
        (
            disputes["review_days"].as_u64(),
            disputes["under_review"].as_u64(),
            disputes["overdue"].as_u64(),
        )
    };
    assert_eq!(counts(&shipped.status().await), (Some(5), Some(3), Some(0)));
    assert_eq!(counts(&zero.status().await), (Some(0), Some(3), Some(3)));
    assert!(shipped
        .metrics()
        .await
        .contains("jiangcheng_disputes_overdue 0\n"));
    assert!(zero
        .metrics()
        .await
        .contains("jiangcheng_disputes_overdue 3\n"));

    let overdue = "/v1/disputes?state=under_review&overdue=true";
    let none: Value = shipped.get_json(overdue).await;
    assert_eq!(none["disputes"], json!([]));
    let all: Value = shipped.get_json("/v1/disputes?state=under_review").await;
    let ids = |listing: &Value| -> Vec<(String, bool)> {
        listing["disputes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["entry_id"].as_str().unwrap().to_owned(),
                    d["overdue"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let pair = |id: &str, overdue: bool| (id.to_owned(), overdue);
    assert_eq!(
        ids(&all),
        [pair("O-1", false), pair("O-2", false), pair("O-4", false)]
    );
    let listed: Value = zero.get_json(overdue).await;
    assert_eq!(
        ids(&listed),
        [pair("O-1", true), pair("O-2", true), pair("O-4", true)]
    );
    assert_eq!(listed["truncated"], false);
    assert_eq!(listed["disputes"][0]["entry"]["dispute"], "under_review");
    // Since when: the `at` of the change that put it under review, from its history.
    let stored: Value = zero
        .get_json("/v1/lists/court_dishonest_debtor/entries/O-1")
        .await;
    assert_eq!(
        listed["disputes"][0]["under_review_since"],
        stored["dispute_history"][0]["at"]
    );

    // An answer takes it off the count.
    dispute(&shipped, "O-1", "upheld").await;
    assert_eq!(counts(&zero.status().await), (Some(0), Some(2), Some(2)));
    assert_eq!(
        ids(&zero.get_json(overdue).await),
        [pair("O-2", true), pair("O-4", true)]
    );

    // Only objections under review are listed; anything else is refused, naming the field.
    for (query, field) in [
        ("state=upheld", "state"),
        ("state=under_review&overdue=maybe", "overdue"),
        ("state=under_review&page=2", "page"),
    ] {
        let response = zero.get(&format!("/v1/disputes?{query}")).await;
        let problem = crate::helpers::problem(response, 400, "invalid_request", query).await;
        assert!(problem.to_string().contains(field), "{query}: {problem}");
    }
}

/// The repair note the store keeps for an entry, read straight from Redis.
fn repair_note(redis: &RedisServer, entry_id: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(format!(
            "{}repairs",
            jiangcheng::lists::source::DEFAULT_PREFIX
        ))
        .arg(entry_id)
        .query(
            &mut redis::Client::open(redis.url())
                .unwrap()
                .get_connection()
                .unwrap(),
        )
        .unwrap()
}
