//! Credit commitments (信用承诺): recorded and listed (a person's ID only masked), every bad field
//! named, the `commitment` part of decisions in matters that take commitments (withheld from a
//! subject on a serious list and, for the rule set's period, after a breach), the breach as
//! feedback, shown in the profile and never listing anyone, kept across a restart, and shared by
//! instances on one Redis.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{entry_with, error_fields, ok_json, problem, rid, uscc, Spawn, TestApp};
use crate::redis::RedisServer;
use crate::register::redis_sink;

/// A matter that takes commitments in the shipped rule set, and one that does not.
const LICENCE: &str = "admin_license_general";
const PROCUREMENT: &str = "gov_procurement";
/// The instant decided: after the commitments below were signed, before today.
const AS_OF: &str = "2026-11-22T10:00:00+08:00";

struct Subjects {
    /// On `court_dishonest_debtor`, a serious list.
    serious: String,
    /// On no list.
    clean: String,
    person: String,
}

fn subjects() -> Subjects {
    Subjects {
        serious: uscc("91", 7001),
        clean: uscc("91", 7002),
        person: rid(7003),
    }
}

fn entries(s: &Subjects) -> Vec<Value> {
    vec![entry_with(
        "QQHR-FY-2026-007001",
        "court_dishonest_debtor",
        &s.serious,
        json!({"listed_on": "2026-03-01", "valid_until": "2029-03-01"}),
    )]
}

fn commitment(subject: &str, signed_at: &str) -> Value {
    json!({"subject": {"id": subject}, "matter": LICENCE, "text": "齐审批承诺〔2026〕118号",
           "signed_at": signed_at, "valid_until": "2027-11-20T00:00:00+08:00",
           "department": "市行政审批服务局"})
}

async fn record(app: &TestApp, body: &Value) -> Value {
    let response = app.post_json("/v1/commitments", body).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "POST /v1/commitments"
    );
    response.json().await.expect("JSON")
}

fn breach(commitment_id: &Value, breached_at: &str) -> Value {
    json!({"action": "commitment_breached", "commitment_id": commitment_id,
           "executing_department": "市市场监督管理局", "reason": "承诺已取得消防验收，核查未取得",
           "breached_at": breached_at})
}

async fn decide_at(app: &TestApp, subject: &str, matter: &str, as_of: &str) -> Value {
    app.decide(subject, matter, as_of).await
}

/// The decision without what differs from call to call (its id and the commitment part).
fn without_offer(decision: &Value) -> Value {
    let mut decision = decision.clone();
    let fields = decision.as_object_mut().expect("object");
    fields.remove("decision_id");
    fields.remove("commitment");
    decision
}

#[actix_web::test]
async fn commitments_are_recorded_and_listed_newest_first_with_a_persons_id_only_masked() {
    let s = subjects();
    let app = Spawn::entries(&entries(&s)).start();
    let first = record(&app, &commitment(&s.clean, "2026-10-01T09:00:00+08:00")).await;
    let second = record(&app, &commitment(&s.clean, "2026-11-20T09:30:00+08:00")).await;
    assert_eq!(first["subject"]["id"], s.clean);
    assert_eq!(first["matter"], LICENCE);
    assert_eq!(first["signed_at"], "2026-10-01T09:00:00+08:00");
    let mut by_person = commitment(&s.person, "2026-11-20T09:30:00+08:00");
    by_person["text"] = json!(format!("本人{}承诺", s.person));
    let personal = record(&app, &by_person).await;

    let list = app
        .get_json(&format!("/v1/commitments?subject={}", s.clean))
        .await;
    assert_eq!(list["total"], 2);
    let ids: Vec<&Value> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| &c["commitment_id"])
        .collect();
    assert_eq!(
        ids,
        [&second["commitment_id"], &first["commitment_id"]],
        "latest signed first"
    );
    let limited = app
        .get_json(&format!("/v1/commitments?subject={}&limit=1", s.clean))
        .await;
    assert_eq!(limited["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(limited["total"], 2);

    let masked = format!("{}********{}", &s.person[..6], &s.person[14..]);
    let listed = app
        .get_json(&format!("/v1/commitments?subject={}", s.person))
        .await;
    assert_eq!(
        listed["items"][0]["commitment_id"],
        personal["commitment_id"]
    );
    let shown = listed.to_string();
    assert!(!shown.contains(&s.person), "{shown}");
    assert_eq!(listed["subject"]["masked"], masked);
    assert_eq!(listed["items"][0]["text"], format!("本人{masked}承诺"));
    let stored = std::fs::read_to_string(app.register_dir.path().join("commitments.jsonl"))
        .expect("the commitments' file");
    assert_eq!(stored.lines().count(), 3);
    assert!(!stored.contains(&s.person), "{stored}");

    let none = app
        .get_json(&format!("/v1/commitments?subject={}", s.serious))
        .await;
    assert_eq!(none["total"], 0);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("jiangcheng_commitment_records_total{kind=\"commitment\"} 3"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn every_bad_field_of_a_commitment_is_named() {
    let s = subjects();
    let app = Spawn::entries(&entries(&s)).start();
    let (wrong_check, _) = crate::helpers::rid_with_wrong_check(7004);
    let commitments = "/v1/commitments";
    let unknown = json!({"subject": {"id": s.clean}, "matter": "no_such_matter", "text": "x",
        "signed_at": "2026-11-20T09:30:00+08:00", "valid_until": "2027-11-20T00:00:00+08:00",
        "department": "d"});
    let cases: [(&str, &str, Value, &[&str]); 9] = [
        (
            "an empty body",
            commitments,
            json!({}),
            &[
                "subject.id",
                "matter",
                "text",
                "signed_at",
                "valid_until",
                "department",
            ],
        ),
        (
            "an unknown member",
            commitments,
            json!({"subject": {"id": s.clean}, "matter": LICENCE, "text": "x",
            "signed_at": "2026-11-20T09:30:00+08:00", "valid_until": "2027-11-20T00:00:00+08:00",
            "department": "d", "extra": 1}),
            &["extra"],
        ),
        (
            "a person's ID with a wrong check digit",
            commitments,
            json!({"subject": {"id": wrong_check}, "matter": LICENCE,
            "text": "x", "signed_at": "2026-11-20T09:30:00+08:00",
            "valid_until": "2027-11-20T00:00:00+08:00", "department": "d"}),
            &["subject.id"],
        ),
        (
            "a matter that takes no commitments",
            commitments,
            json!({"subject": {"id": s.clean},
            "matter": PROCUREMENT, "text": "x", "signed_at": "2026-11-20T09:30:00+08:00",
            "valid_until": "2027-11-20T00:00:00+08:00", "department": "d"}),
            &["matter"],
        ),
        ("an unknown matter", commitments, unknown, &["matter"]),
        (
            "a date without a time and offset",
            commitments,
            json!({"subject": {"id": s.clean}, "matter": LICENCE, "text": "x",
            "signed_at": "2026-11-20", "valid_until": "2026-11-19T09:30:00Z", "department": "d"}),
            &["signed_at"],
        ),
        (
            "a text over the bound, an end before the start",
            commitments,
            json!({"subject": {"id": s.clean},
            "matter": LICENCE, "text": "承".repeat(700), "signed_at": "2026-11-20T09:30:00+08:00",
            "valid_until": "2026-11-19T09:30:00+08:00", "department": "d"}),
            &["text", "valid_until"],
        ),
        (
            "a breach naming neither a commitment nor a subject",
            "/v1/feedback",
            json!({"action": "commitment_breached", "executing_department": "d", "reason": "r"}),
            &["subject.id", "matter"],
        ),
        (
            "a breach of no recorded commitment",
            "/v1/feedback",
            breach(&json!("01a230f8-ed03-7703-aaa9-f053e72b0ecc"), AS_OF),
            &["commitment_id"],
        ),
    ];
    for (what, path, body, fields) in cases {
        let found = problem(
            app.post_json(path, &body).await,
            400,
            "invalid_request",
            what,
        )
        .await;
        assert_eq!(error_fields(&found), fields, "{what}: {found}");
    }
    let listing = problem(
        app.get("/v1/commitments?subject=123").await,
        400,
        "invalid_subject_id",
        "a malformed subject",
    )
    .await;
    assert_eq!(error_fields(&listing), ["subject"]);
    problem(
        app.get("/v1/commitments").await,
        400,
        "invalid_request",
        "no subject",
    )
    .await;
}

#[actix_web::test]
async fn a_decision_in_a_commitment_matter_says_whether_the_offer_may_be_made_and_why() {
    let s = subjects();
    let app = Spawn::entries(&entries(&s)).start();

    // A matter without commitments carries no such part.
    let procurement = decide_at(&app, &s.clean, PROCUREMENT, AS_OF).await;
    assert!(procurement.get("commitment").is_none(), "{procurement}");

    // A clean subject may be offered it; nothing on file yet.
    let clean = decide_at(&app, &s.clean, LICENCE, AS_OF).await;
    assert_eq!(clean["decision"], "allow");
    assert_eq!(
        clean["commitment"],
        json!({"may_offer": true, "reasons": [], "breach_months": 12,
               "breaches_counted_after": "2025-11-22T10:00:00.000+08:00", "on_file": null})
    );
    let recorded = record(&app, &commitment(&s.clean, "2026-11-20T09:30:00+08:00")).await;
    let on_file = decide_at(&app, &s.clean, LICENCE, AS_OF).await;
    assert_eq!(on_file["commitment"]["may_offer"], true);
    assert_eq!(on_file["commitment"]["on_file"], recorded["commitment_id"]);
    // Before it was signed, it is not on file.
    let before = decide_at(&app, &s.clean, LICENCE, "2026-11-01T10:00:00+08:00").await;
    assert_eq!(before["commitment"]["on_file"], Value::Null);

    // A subject on a serious list may not, and the entry is named.
    let serious = decide_at(&app, &s.serious, LICENCE, AS_OF).await;
    assert_eq!(serious["commitment"]["may_offer"], false);
    assert_eq!(
        serious["commitment"]["reasons"],
        json!([{"code": "serious_list", "message": serious["commitment"]["reasons"][0]["message"],
                "list": "court_dishonest_debtor", "entry_id": "QQHR-FY-2026-007001"}])
    );

    // A batch says, item by item, what single calls say.
    let batch = app
        .post_batch(&json!({"matter": LICENCE, "as_of": AS_OF,
                            "subjects": [{"id": s.clean}, {"id": s.serious}]}))
        .await;
    let batch = ok_json(batch, "batch").await;
    assert_eq!(batch["results"][0]["commitment"], on_file["commitment"]);
    assert_eq!(batch["results"][1]["commitment"], serious["commitment"]);

    // A breach, reported as feedback, withholds the offer; the decision is otherwise the same.
    let breached_at = "2026-11-21T10:00:00+08:00";
    let response = app
        .post_json(
            "/v1/feedback",
            &breach(&recorded["commitment_id"], breached_at),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Value = response.json().await.expect("JSON");
    assert_eq!(stored["commitment_id"], recorded["commitment_id"]);
    assert_eq!(stored["subject"]["id"], s.clean);
    assert_eq!(stored["matter"], LICENCE);
    let again = app
        .post_json(
            "/v1/feedback",
            &breach(&recorded["commitment_id"], breached_at),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK, "a breach is recorded once");
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(again["breach_id"], stored["breach_id"]);

    let withheld = decide_at(&app, &s.clean, LICENCE, AS_OF).await;
    assert_eq!(without_offer(&withheld), without_offer(&on_file));
    assert_eq!(withheld["decision"], "allow", "a breach lists no one");
    assert_eq!(withheld["commitment"]["may_offer"], false);
    assert_eq!(withheld["commitment"]["on_file"], Value::Null, "breached");
    let reason = &withheld["commitment"]["reasons"][0];
    assert_eq!(reason["code"], "recent_breach");
    assert_eq!(reason["breach_id"], stored["breach_id"]);
    assert_eq!(reason["commitment_id"], recorded["commitment_id"]);
    assert_eq!(reason["breached_at"], "2026-11-21T10:00:00.000+08:00");
    // The breach counts only in matters that take commitments, and not before it happened.
    let elsewhere = decide_at(&app, &s.clean, PROCUREMENT, AS_OF).await;
    assert_eq!(without_offer(&elsewhere), without_offer(&procurement));
    let earlier = decide_at(&app, &s.clean, LICENCE, "2026-11-21T09:00:00+08:00").await;
    assert_eq!(earlier["commitment"]["may_offer"], true);
    // Twelve months after the breach it counts no more.
    let last_day = decide_at(&app, &s.clean, LICENCE, "2027-11-21T09:59:00+08:00").await;
    assert_eq!(last_day["commitment"]["may_offer"], false);
    let after = decide_at(&app, &s.clean, LICENCE, "2027-11-21T10:00:00+08:00").await;
    assert_eq!(after["commitment"]["may_offer"], true, "{after}");
    assert_eq!(after["commitment"]["reasons"], json!([]));

    // The profile shows the breach; the subject is on no list.
    let profile = app
        .get_json(&format!(
            "/v1/subjects/{}?as_of=2026-11-22T10:00:00%2B08:00",
            s.clean
        ))
        .await;
    assert_eq!(profile["entries"], json!([]));
    let part = &profile["commitments"];
    assert_eq!(part["recorded"], 1);
    assert_eq!(part["in_force"], 1);
    assert_eq!(part["breaches"], 1);
    assert_eq!(part["breaches_in_period"], 1);
    assert_eq!(part["recent_breaches"][0]["breach_id"], stored["breach_id"]);

    // A department may propose a listing: a draft, not in force, written nowhere.
    let path = format!(
        "/v1/commitments/{}/proposal",
        recorded["commitment_id"].as_str().unwrap_or_default()
    );
    let draft = ok_json(
        app.post_json(&path, &json!({"list": "market_serious_violation"}))
            .await,
        "proposal",
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["in_force"], false);
    assert_eq!(draft["entry"]["list"], "market_serious_violation");
    assert_eq!(draft["entry"]["subject_id"], s.clean);
    assert!(draft["entry"].get("listed_on").is_none(), "{draft}");
    let red = problem(
        app.post_json(&path, &json!({"list": "tax_a_grade"})).await,
        400,
        "invalid_request",
        "a red list",
    )
    .await;
    assert_eq!(error_fields(&red), ["list"]);
    problem(
        app.post_json(
            "/v1/commitments/01a230f8-ed03-7703-aaa9-f053e72b0ecc/proposal",
            &json!({"list": "market_serious_violation"}),
        )
        .await,
        404,
        "commitment_not_found",
        "no such commitment",
    )
    .await;
    let still = decide_at(&app, &s.clean, PROCUREMENT, AS_OF).await;
    assert_eq!(without_offer(&still), without_offer(&procurement));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("jiangcheng_commitment_records_total{kind=\"breach\"} 1"),
        "{metrics}"
    );
}

/// Starts an instance whose register (and commitments) live in `dir`.
fn in_dir(s: &Subjects, dir: &Path) -> TestApp {
    let dir = dir.to_path_buf();
    Spawn::entries(&entries(s))
        .register_settings(move |config| config.dir = dir)
        .start()
}

#[actix_web::test]
async fn commitments_and_breaches_are_read_again_after_a_restart() {
    let s = subjects();
    let dir = tempfile::tempdir().expect("temp dir");
    let app = in_dir(&s, dir.path());
    let recorded = record(&app, &commitment(&s.clean, "2026-11-20T09:30:00+08:00")).await;
    let response = app
        .post_json(
            "/v1/feedback",
            &breach(&recorded["commitment_id"], "2026-11-21T10:00:00+08:00"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    app.stop().await.expect("stops");

    let again = in_dir(&s, dir.path());
    let list = again
        .get_json(&format!("/v1/commitments?subject={}", s.clean))
        .await;
    assert_eq!(list["items"][0]["commitment_id"], recorded["commitment_id"]);
    let decision = decide_at(&again, &s.clean, LICENCE, AS_OF).await;
    assert_eq!(decision["commitment"]["may_offer"], false);
    assert_eq!(
        decision["commitment"]["reasons"][0]["code"],
        "recent_breach"
    );
}

/// Waits until `app` decides `subject` with the offer withheld.
async fn until_withheld(app: &TestApp, subject: &str) -> Value {
    let started = Instant::now();
    loop {
        let decision = decide_at(app, subject, LICENCE, AS_OF).await;
        if decision["commitment"]["may_offer"] == false {
            return decision;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the other instance never saw the breach: {decision}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn two_instances_on_one_redis_see_the_same_commitments_and_breaches() {
    let s = subjects();
    let server = RedisServer::start();
    // Instances that share a Redis register share its subject hash key.
    let keys = tempfile::tempdir().expect("temp dir");
    let key = keys.path().join("subject-hash.key");
    std::fs::write(
        &key,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    )
    .expect("the key");
    let spawn = || {
        let key = key.clone();
        Spawn::entries(&entries(&s))
            .register(redis_sink(&server), 65_536)
            .register_settings(move |config| config.key_file = Some(key))
            .start()
    };
    let (one, two) = (spawn(), spawn());
    let recorded = record(&one, &commitment(&s.clean, "2026-11-20T09:30:00+08:00")).await;
    let response = one
        .post_json(
            "/v1/feedback",
            &breach(&recorded["commitment_id"], "2026-11-21T10:00:00+08:00"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored: Value = response.json().await.expect("JSON");

    let seen = until_withheld(&two, &s.clean).await;
    assert_eq!(
        seen["commitment"]["reasons"][0]["breach_id"],
        stored["breach_id"]
    );
    let list = two
        .get_json(&format!("/v1/commitments?subject={}", s.clean))
        .await;
    assert_eq!(list["items"][0]["commitment_id"], recorded["commitment_id"]);
    // The other instance records a breach of that commitment only once.
    let again = two
        .post_json(
            "/v1/feedback",
            &breach(&recorded["commitment_id"], "2026-11-21T10:00:00+08:00"),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    // An instance started later reads them at start.
    let three = spawn();
    let decision = decide_at(&three, &s.clean, LICENCE, AS_OF).await;
    assert_eq!(decision["commitment"], seen["commitment"]);
}

#[actix_web::test]
async fn an_instance_that_cannot_read_the_commitments_offers_nothing_until_it_has_read_them() {
    let s = subjects();
    let mut server = RedisServer::durable();
    let keys = tempfile::tempdir().expect("temp dir");
    let key = keys.path().join("subject-hash.key");
    std::fs::write(
        &key,
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
    )
    .expect("the key");
    let sink = redis_sink(&server);
    let spawn = || {
        let key = key.clone();
        Spawn::entries(&entries(&s))
            .register(sink.clone(), 65_536)
            .register_settings(move |config| config.key_file = Some(key))
            .start()
    };
    let one = spawn();
    let recorded = record(&one, &commitment(&s.clean, "2026-11-20T09:30:00+08:00")).await;
    let response = one
        .post_json(
            "/v1/feedback",
            &breach(&recorded["commitment_id"], "2026-11-21T10:00:00+08:00"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    server.crash();
    let two = spawn();
    let unknown = decide_at(&two, &s.clean, LICENCE, AS_OF).await;
    assert_eq!(unknown["decision"], "allow");
    assert_eq!(unknown["commitment"]["may_offer"], false);
    assert_eq!(
        unknown["commitment"]["reasons"][0]["code"],
        "breaches_unknown"
    );
    problem(
        two.get(&format!("/v1/commitments?subject={}", s.clean))
            .await,
        503,
        "register_unavailable",
        "the list before the commitments are read",
    )
    .await;

    server.restart();
    let started = Instant::now();
    let mut seen = unknown;
    while seen["commitment"]["reasons"][0]["code"] != "recent_breach" {
        assert!(started.elapsed() < Duration::from_secs(10), "{seen}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        seen = decide_at(&two, &s.clean, LICENCE, AS_OF).await;
    }
}
