//! Older identifiers end to end: entries that carry an organisation code or a registration
//! number (`legacy_ids`) or are filed under one, requests and profiles by them, the warning that
//! names the identifier that matched, and the same shape through the admin API and Redis. The
//! per-request cases are in `tests/golden/legacy_ids.json`; batches in `batch`.

use serde_json::{json, Value};

use crate::helpers::{entry, entry_with, problem, rules_dir, spawn_app, uscc, Spawn, AS_OF};
use crate::redis::{eventually_decides, redis_source, write, RedisServer};

/// Embeds the organisation code `MA18XK7PX` at positions 9–17.
const COMPANY: &str = "91230202MA18XK7PXM";
const ORG_CODE: &str = "MA18XK7PX";
/// A registration number whose check digit holds (ISO 7064 MOD 11,10).
const REGISTRATION: &str = "110108000000016";

/// The one reason of a decision, and its warnings.
fn only_reason(decision: &Value) -> &Value {
    let reasons = decision["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "{decision}");
    &reasons[0]
}

fn legacy_warning(reason: &Value) -> Value {
    let warnings = reason["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{reason}");
    let mut warning = warnings[0].clone();
    assert!(
        warning["message"]
            .as_str()
            .is_some_and(|m| m.contains(warning["value"].as_str().unwrap_or("?"))),
        "{warning}"
    );
    warning.as_object_mut().expect("object").remove("message");
    warning
}

#[actix_web::test]
async fn each_reason_found_through_another_identifier_names_it() {
    let app = spawn_app(&[
        entry("L-ORG", "court_dishonest_debtor", "ma18xk7p-x"),
        entry_with(
            "L-REG",
            "court_dishonest_debtor",
            &uscc("91", 70),
            json!({"legacy_ids": [REGISTRATION]}),
        ),
    ]);

    let decision = app.decide(COMPANY, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert_eq!(
        decision["subject"],
        json!({"id": COMPANY, "kind": "enterprise", "id_type": "uscc"})
    );
    let reason = only_reason(&decision);
    assert_eq!(reason["entry_id"], "L-ORG");
    assert_eq!(
        legacy_warning(reason),
        json!({"code": "legacy_id_matched", "id_type": "org_code", "value": ORG_CODE})
    );

    // Asked by the organisation code itself, the entry filed under it is a plain match.
    let decision = app.decide("MA18XK7P-X", "gov_procurement", AS_OF).await;
    assert_eq!(
        decision["subject"],
        json!({"id": ORG_CODE, "kind": "organization", "id_type": "org_code"})
    );
    assert_eq!(only_reason(&decision)["warnings"], json!([]), "{decision}");

    let decision = app.decide(REGISTRATION, "gov_procurement", AS_OF).await;
    assert_eq!(
        decision["subject"],
        json!({"id": REGISTRATION, "kind": "organization", "id_type": "registration_number"})
    );
    let reason = only_reason(&decision);
    assert_eq!(reason["entry_id"], "L-REG");
    assert_eq!(
        legacy_warning(reason),
        json!({"code": "legacy_id_matched", "id_type": "registration_number", "value": REGISTRATION})
    );

    // An unknown id_type names the four it knows.
    let response = app
        .post_decide(&json!({"subject": {"id": ORG_CODE, "id_type": "tax_number"}, "matter": "gov_procurement"}))
        .await;
    let body = problem(response, 400, "invalid_request", "unknown id_type").await;
    assert!(
        body.to_string()
            .contains("`org_code` or `registration_number`"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_profile_by_organisation_code_or_registration_number_shows_what_it_reaches() {
    // The code the USCC embeds, listed again, adds nothing (and no second reason).
    let app = spawn_app(&[entry_with(
        "P-LEG",
        "court_dishonest_debtor",
        COMPANY,
        json!({"legacy_ids": ["MA18XK7P-X", REGISTRATION, REGISTRATION]}),
    )]);
    for (path, id_type, value) in [
        (format!("/v1/subjects/{ORG_CODE}"), "org_code", ORG_CODE),
        (
            format!("/v1/subjects/{REGISTRATION}?id_type=registration_number"),
            "registration_number",
            REGISTRATION,
        ),
    ] {
        let profile = app.get_json(&path).await;
        assert_eq!(
            profile["subject"],
            json!({"id": value, "kind": "organization", "kind_label": "组织", "id_type": id_type}),
            "{path}"
        );
        let entries = profile["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 1, "{profile}");
        assert_eq!(entries[0]["entry_id"], "P-LEG");
        assert_eq!(entries[0]["legacy_ids"], json!([REGISTRATION]));
        assert_eq!(
            legacy_warning(&entries[0]),
            json!({"code": "legacy_id_matched", "id_type": id_type, "value": value})
        );
        assert_eq!(profile["topics"], json!(["court_dishonest_debtor"]));
    }
    // The USCC's own profile shows its entry without a warning.
    let profile = app.get_json(&format!("/v1/subjects/{COMPANY}")).await;
    assert_eq!(profile["entries"][0]["entry_id"], "P-LEG");
    assert!(profile["entries"][0].get("warnings").is_none(), "{profile}");

    let response = app
        .get(&format!("/v1/subjects/{ORG_CODE}?id_type=passport"))
        .await;
    problem(response, 400, "invalid_request", "unknown id_type").await;
}

async fn put(app: &crate::helpers::TestApp, entry_id: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(&format!(
            "/v1/lists/court_dishonest_debtor/entries/{entry_id}"
        )))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn legacy_ids_are_validated_on_write_and_reach_every_instance_through_redis() {
    let redis = RedisServer::start();
    // Loaded whole from Redis: a USCC entry carrying the registration number.
    write(
        &redis,
        &[entry_with(
            "R-1",
            "court_dishonest_debtor",
            &uscc("91", 71),
            json!({"legacy_ids": [REGISTRATION]}),
        )],
    );
    let writer = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let reader = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let decision = eventually_decides(&reader, REGISTRATION, "gov_procurement", "block").await;
    assert_eq!(only_reason(&decision)["entry_id"], "R-1");

    // Malformed older identifiers are refused naming the item, and nothing changes.
    let version = writer.lists_version().await;
    for (legacy_ids, subject, field) in [
        (json!(["MA18XK7P"]), uscc("91", 72), "legacy_ids[0]"),
        (
            json!([ORG_CODE, "MA18XK7P-Y"]),
            uscc("91", 72),
            "legacy_ids[1]",
        ),
        (json!(["11010800000001A"]), uscc("91", 72), "legacy_ids[0]"),
        (
            json!(["230202198503121238"]),
            uscc("91", 72),
            "legacy_ids[0]",
        ),
        (
            json!([ORG_CODE]),
            "230202198503121238".to_owned(),
            "legacy_ids",
        ),
    ] {
        let body =
            json!({"subject_id": subject, "listed_on": "2026-01-01", "legacy_ids": legacy_ids});
        let response = put(&writer, "R-BAD", &body).await;
        let problem = problem(response, 400, "invalid_request", &body.to_string()).await;
        assert_eq!(
            crate::helpers::error_fields(&problem),
            vec![field.to_owned()],
            "{problem}"
        );
    }
    assert_eq!(writer.lists_version().await, version, "nothing was written");

    // A court record filed under an organisation code with a failing check character, carrying
    // the code the company embeds: loaded, counted, and reached by the company on every instance.
    let body =
        json!({"subject_id": "MA000000-1", "listed_on": "2026-01-01", "legacy_ids": [ORG_CODE]});
    let created = put(&writer, "R-2", &body).await;
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    for app in [&writer, &reader] {
        let decision = eventually_decides(app, COMPANY, "gov_procurement", "block").await;
        let reason = only_reason(&decision);
        assert_eq!(reason["entry_id"], "R-2");
        assert_eq!(
            legacy_warning(reason),
            json!({"code": "legacy_id_matched", "id_type": "org_code", "value": ORG_CODE})
        );
        let decision = app.decide("MA0000001", "gov_procurement", AS_OF).await;
        assert_eq!(
            decision["warnings"][0]["code"], "org_code_check_mismatch",
            "{decision}"
        );
        assert_eq!(only_reason(&decision)["warnings"], json!([]));
    }
    let status = reader.status().await;
    assert_eq!(
        status["lists"]["check_mismatches"], 1,
        "{}",
        status["lists"]
    );
    let stored = reader
        .get_json("/v1/lists/court_dishonest_debtor/entries/R-2")
        .await;
    assert_eq!(stored["entry"]["subject_id"], "MA0000001", "{stored}");
    assert_eq!(stored["entry"]["legacy_ids"], json!([ORG_CODE]), "{stored}");
}

/// An admin write that takes an older identifier off an entry unties it: the subject that
/// embeds the code is no longer reached after the correction, nor after the entry moves to
/// another subject, on the instance that wrote and on the one that follows.
#[actix_web::test]
async fn an_older_identifier_taken_off_an_entry_no_longer_reaches_its_subject() {
    let redis = RedisServer::start();
    write(
        &redis,
        &[entry("U-0", "court_dishonest_debtor", &uscc("91", 80))],
    );
    let writer = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let reader = Spawn::source(rules_dir(), redis_source(&redis)).start();
    // Filed under a registration number, carrying by mistake the code the company embeds.
    let wrong =
        json!({"subject_id": REGISTRATION, "listed_on": "2026-01-01", "legacy_ids": [ORG_CODE]});
    assert_eq!(put(&writer, "U-1", &wrong).await.status(), 201);
    for app in [&writer, &reader] {
        eventually_decides(app, COMPANY, "gov_procurement", "block").await;
    }
    // Corrected: the entry no longer carries the code, and the company is not listed.
    let corrected = json!({"subject_id": REGISTRATION, "listed_on": "2026-01-01"});
    assert_eq!(put(&writer, "U-1", &corrected).await.status(), 200);
    for app in [&writer, &reader] {
        eventually_decides(app, COMPANY, "gov_procurement", "allow").await;
        let profile = app.get_json(&format!("/v1/subjects/{COMPANY}")).await;
        assert_eq!(profile["entries"], json!([]), "{profile}");
        // Asked by the registration number, the entry is still its own.
        let decision = app.decide(REGISTRATION, "gov_procurement", AS_OF).await;
        assert_eq!(decision["decision"], "block", "{decision}");
    }

    // Tied again, then moved to another subject: the registration number's other entry is not
    // the company's either.
    let other = json!({"subject_id": REGISTRATION, "listed_on": "2026-01-01"});
    assert_eq!(put(&writer, "U-2", &other).await.status(), 201);
    assert_eq!(put(&writer, "U-1", &wrong).await.status(), 200);
    for app in [&writer, &reader] {
        eventually_decides(app, COMPANY, "gov_procurement", "block").await;
    }
    let moved = json!({"subject_id": uscc("91", 81), "listed_on": "2026-01-01"});
    assert_eq!(put(&writer, "U-1", &moved).await.status(), 200);
    for app in [&writer, &reader] {
        eventually_decides(app, &uscc("91", 81), "gov_procurement", "block").await;
        let decision = app.decide(COMPANY, "gov_procurement", AS_OF).await;
        assert_eq!(decision["decision"], "allow", "{decision}");
    }
}

#[actix_web::test]
async fn fifteen_digits_that_are_a_listed_registration_number_and_a_date_must_say_which() {
    // Positions 7–12 read 850312, a date: the same digits are a first-generation resident ID.
    let registration = "230202850312120";
    let company = uscc("91", 77);
    let app = spawn_app(&[entry_with(
        "AMB-1",
        "court_dishonest_debtor",
        &company,
        json!({"legacy_ids": [registration]}),
    )]);

    let asked = |id_type: Option<&str>| {
        let mut subject = json!({"id": registration});
        if let Some(id_type) = id_type {
            subject["id_type"] = json!(id_type);
        }
        json!({"subject": subject, "matter": "gov_procurement", "as_of": AS_OF})
    };
    let refused = problem(
        app.post_decide(&asked(None)).await,
        400,
        "ambiguous_subject_id",
        "fifteen digits read both ways",
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "subject.id", "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("id_type")),
        "{refused}"
    );

    let as_company: Value = app
        .post_decide(&asked(Some("registration_number")))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(as_company["decision"], "block", "{as_company}");
    let as_person: Value = app
        .post_decide(&asked(Some("resident_id")))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(as_person["decision"], "allow", "{as_person}");
    assert_eq!(
        as_person["subject"]["id_type"], "resident_id",
        "{as_person}"
    );

    let batch: Value = app
        .post_batch(&json!({"subjects": [{"id": registration}, {"id": registration, "id_type": "registration_number"}],
                            "matter": "gov_procurement", "as_of": AS_OF}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        batch["results"][0]["error"]["code"], "ambiguous_subject_id",
        "{batch}"
    );
    assert_eq!(
        batch["results"][0]["error"]["field"], "subjects[0].id",
        "{batch}"
    );
    assert_eq!(batch["results"][1]["decision"], "block", "{batch}");

    problem(
        app.get(&format!("/v1/subjects/{registration}")).await,
        400,
        "ambiguous_subject_id",
        "a profile by the same digits",
    )
    .await;
    // Digits the lists hold only as a person stay a person, upgraded.
    let unlisted: Value = app
        .post_decide(&json!({"subject": {"id": "230202850312123"}, "matter": "gov_procurement", "as_of": AS_OF}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(unlisted["subject"]["id_type"], "resident_id", "{unlisted}");
}
