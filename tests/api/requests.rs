//! Requests mean one thing: a key given twice, at any depth of a decision or batch request, and
//! a member the request does not have are refused naming them, and leave no record; a decision
//! at an `as_of` far from the server's clock is a replay, which needs the `replay` scope, is
//! marked in the answer and the register, and is left out of the case export.

use std::time::{Duration, Instant};

use jiangcheng::timestamp::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::auth::{send, Keys};
use crate::helpers::{entry_with, error_fields, problem, uscc, Spawn, TestApp, AS_OF};

/// A company blocked for `gov_procurement` since March 2026.
fn listed_app(company: &str, spawn: impl FnOnce(Spawn) -> Spawn) -> TestApp {
    let entry = entry_with(
        "QQHR-FY-2026-000901",
        "court_dishonest_debtor",
        company,
        json!({"listed_on": "2026-03-01"}),
    );
    spawn(Spawn::entries(&[entry])).start()
}

/// Waits until the register has stored `records`, then returns every stored record.
async fn records(app: &TestApp, records: u64) -> Vec<Value> {
    let register = app.service.register().expect("the register is on");
    let started = Instant::now();
    while register.status().stored < records {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            register.status()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    crate::register::file_records(app).1
}

/// Bodies as text: `json!` cannot repeat a key.
async fn post_text(app: &TestApp, path: &str, body: String) -> reqwest::Response {
    app.post_raw(path, body, Some("application/json")).await
}

#[actix_web::test]
async fn a_key_given_twice_is_refused_naming_it_and_leaves_no_record() {
    let (blocked, other) = (uscc("91", 41), uscc("91", 42));
    let app = listed_app(&blocked, |spawn| spawn);
    let many_refs = vec![r#""case_ref": "A""#; 40].join(", ");
    for (path, body, fields) in [
        (
            "/v1/decide",
            format!(
                r#"{{"subject": {{"id": "{blocked}"}}, "matter": "gov_procurement", "matter": "basic_credit_check"}}"#
            ),
            vec!["matter"],
        ),
        (
            "/v1/decide",
            format!(
                r#"{{"subject": {{"id": "{blocked}", "id": "{other}"}}, "matter": "gov_procurement"}}"#
            ),
            vec!["subject.id"],
        ),
        (
            "/v1/decide",
            format!(
                r#"{{"subject": {{"id": "{blocked}"}}, "m\u0061tter": "gov_procurement", "matter": "gov_procurement"}}"#
            ),
            vec!["matter"],
        ),
        // Past 32 members, the parser itself keeps only one of a repeated key.
        (
            "/v1/decide",
            format!(
                r#"{{"subject": {{"id": "{blocked}"}}, "matter": "gov_procurement", {many_refs}}}"#
            ),
            vec!["case_ref"],
        ),
        (
            "/v1/decide/batch",
            format!(
                r#"{{"subjects": [{{"id": "{other}"}}, {{"id": "{other}", "id": "{blocked}"}}], "matter": "gov_procurement", "department": "a", "department": "b"}}"#
            ),
            vec!["subjects[1].id", "department"],
        ),
    ] {
        let refused = post_text(&app, path, body.clone()).await;
        let refused = problem(refused, 400, "invalid_request", &body).await;
        assert_eq!(error_fields(&refused), fields, "{body}");
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("more than once"), "{message}");
    }
    // Only the decision that was answered is in the register.
    let answered = app
        .post_decide(&json!({"subject": {"id": other}, "matter": "gov_procurement"}))
        .await;
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(records(&app, 1).await.len(), 1);
}

#[actix_web::test]
async fn a_key_given_twice_behind_a_deeply_nested_batch_item_is_refused() {
    let company = uscc("91", 44);
    let app = listed_app(&company, |spawn| spawn);
    // An item nested past what the check for repeated keys walks is only that item's error,
    // so the batch would be answered with the first `department` while a client reading the
    // same text keeps the last.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let body = format!(
        r#"{{"subjects": [{deep}, {{"id": "{company}"}}], "matter": "gov_procurement", "department": "a", "department": "b"}}"#
    );
    let refused = post_text(&app, "/v1/decide/batch", body).await;
    let refused = problem(refused, 400, "invalid_request", "a deep item").await;
    assert_eq!(error_fields(&refused), ["(body)"], "{refused}");
    let answered = app
        .post_decide(&json!({"subject": {"id": company}, "matter": "gov_procurement"}))
        .await;
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(records(&app, 1).await.len(), 1);
}

#[actix_web::test]
async fn a_member_the_request_does_not_have_is_refused_naming_it() {
    let company = uscc("91", 43);
    let app = listed_app(&company, |spawn| spawn);
    for (path, body, fields) in [
        (
            "/v1/decide",
            json!({"subject": {"id": company}, "matter": "gov_procurement", "departement": "qqhr-czj"}),
            vec!["departement"],
        ),
        (
            "/v1/decide",
            json!({"subject": {"id": company, "name": "某公司"}, "matter": "gov_procurement", "subjects": []}),
            vec!["subjects", "subject.name"],
        ),
        (
            "/v1/decide/batch",
            json!({"subjects": [{"id": company}, {"id": company, "idtype": "uscc"}], "matter": "gov_procurement", "caseref": "X"}),
            vec!["caseref", "subjects[1].idtype"],
        ),
        (
            "/v1/decide/batch",
            json!({"subjects": [{"id": company}], "subject": {"id": company}, "matter": "gov_procurement"}),
            vec!["subject"],
        ),
    ] {
        let refused = app.post_json(path, &body).await;
        let refused = problem(refused, 400, "invalid_request", &body.to_string()).await;
        let mut named = error_fields(&refused);
        named.sort();
        let mut expected: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        expected.sort();
        assert_eq!(named, expected, "{body}: {refused}");
    }
}

#[actix_web::test]
async fn a_decision_far_from_the_clock_needs_the_replay_scope_is_marked_and_is_no_case() {
    let company = uscc("91", 44);
    let keys = Keys::new();
    let app = listed_app(&company, |spawn| spawn.keys(&keys.config(), false));
    let app = &app;
    let decide = |as_of: Option<&str>, key: &str| {
        let mut body = json!({"subject": {"id": company}, "matter": "gov_procurement"});
        if let Some(as_of) = as_of {
            body["as_of"] = json!(as_of);
        }
        let key = key.to_owned();
        async move { send(app, &Method::POST, "/v1/decide", Some(&body), Some(&key)).await }
    };

    // A decide key cannot ask whether the blocked company was allowed in year 1.
    for as_of in ["0001-01-01", AS_OF, "2099-01-01"] {
        let refused = decide(Some(as_of), &keys.decide.token).await;
        let refused = problem(refused, 403, "forbidden", as_of).await;
        assert_eq!(error_fields(&refused), ["as_of"]);
        let detail = refused["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("replay") && detail.contains("300 s"),
            "{detail}"
        );
    }
    let batch =
        json!({"subjects": [{"id": company}], "matter": "gov_procurement", "as_of": "0001-01-01"});
    let refused = send(
        app,
        &Method::POST,
        "/v1/decide/batch",
        Some(&batch),
        Some(&keys.decide.token),
    );
    problem(refused.await, 403, "forbidden", "a replayed batch").await;
    let counted = r#"jiangcheng_auth_refusals_total{reason="forbidden"} 4"#;
    assert!(app.service.metrics.render().contains(counted), "{counted}");

    // Now, or a minute off, is no replay.
    let now = Timestamp::now();
    let minute_ago = Timestamp(now.0 - 60_000).to_string();
    let mut today = Vec::new();
    for as_of in [None, Some(minute_ago.as_str())] {
        let answer: Value = decide(as_of, &keys.decide.token)
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(answer["decision"], "block", "{answer}");
        assert!(answer.get("replay").is_none(), "{answer}");
        today.push(answer["decision_id"].clone());
    }

    // A replay key may: the answer says it is a replay.
    let year_one: Value = decide(Some("0001-01-01"), &keys.replay.token)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (&year_one["decision"], &year_one["replay"]),
        (&json!("allow"), &json!(true))
    );
    let replayed: Value = decide(Some(AS_OF), &keys.replay.token)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (&replayed["decision"], &replayed["replay"]),
        (&json!("block"), &json!(true))
    );
    let batch: Value = send(
        app,
        &Method::POST,
        "/v1/decide/batch",
        Some(&batch),
        Some(&keys.replay.token),
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(batch["replay"], true, "{batch}");
    assert_eq!(batch["results"][0]["replay"], true, "{batch}");

    // The register marks the replays, and the case export leaves them out.
    let day = |days: i64| Timestamp(now.0 + days * 86_400_000).format_cst("%Y-%m-%d");
    let period = format!("from={}&to={}", day(-1), day(2));
    let stored = records(app, 5).await;
    for record in &stored {
        let replay = ![&today[0], &today[1]].contains(&&record["record_id"]);
        assert_eq!(record.get("replay").is_some(), replay, "{record}");
        if replay {
            assert_eq!(record["replay"], true);
        }
    }
    let export = send(
        app,
        &Method::GET,
        &format!("/v1/export/cases?{period}"),
        None,
        Some(&keys.export.token),
    )
    .await;
    let export = export.text().await.expect("the export");
    let rows: Vec<Value> = export
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON row"))
        .collect();
    let exported: Vec<&Value> = rows.iter().map(|row| &row["decision_id"]).collect();
    assert!(exported.contains(&&today[0]), "{export}");
    assert!(
        !exported.contains(&&replayed["decision_id"]),
        "a replay was exported: {export}"
    );
    let stats: Value = send(
        app,
        &Method::GET,
        &format!("/v1/stats?{period}"),
        None,
        Some(&keys.export.token),
    )
    .await
    .json()
    .await
    .expect("stats");
    assert_eq!(
        (&stats["decisions"], &stats["replays"]),
        (&json!(2), &json!(3)),
        "{stats}"
    );
}

#[actix_web::test]
async fn without_keys_anyone_may_replay_and_the_replay_is_marked() {
    let company = uscc("91", 45);
    let app = listed_app(&company, |spawn| spawn);
    let answer: Value = app
        .post_decide(&json!({"subject": {"id": company}, "matter": "gov_procurement", "as_of": "0001-01-01"}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        (&answer["decision"], &answer["replay"]),
        (&json!("allow"), &json!(true))
    );
}
