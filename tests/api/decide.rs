//! `POST /v1/decide`: the documented shape (docs/api.md), invariant 12 on every decision, and
//! the `downgrade` dispute policy.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{
    assert_explained, copy_rules, entry, entry_with, is_rfc3339_plus8, is_uuid, reason_keys, rid,
    spawn_app, uscc, warning_codes, Spawn, AS_OF,
};

const COMPANY: &str = "91230200MA1B2C3D8T";
const LEGAL_REP: &str = "230202198503121238";

fn debtor_entries() -> Vec<Value> {
    vec![entry_with(
        "QQHR-FY-2026-000123",
        "court_dishonest_debtor",
        COMPANY,
        json!({"subject_name": "齐齐哈尔某某商贸有限公司", "listed_on": "2026-03-01", "valid_until": "2029-03-01",
               "responsible_persons": [{"role": "legal_rep", "id": LEGAL_REP, "name": "张某"}]}),
    )]
}

#[actix_web::test]
async fn a_decision_has_the_documented_shape() {
    let app = spawn_app(&debtor_entries());
    let body = json!({"subject": {"id": COMPANY}, "matter": "gov_procurement", "department": "qqhr-czj",
                      "case_ref": "ZFCG-2026-0815", "as_of": AS_OF});
    let decision = crate::helpers::ok_json(app.post_decide(&body).await, "decide").await;
    assert_explained(&decision, "decide");
    let id = decision["decision_id"].as_str().expect("decision_id");
    assert!(is_uuid(id), "{id}");
    assert_eq!(&id[14..15], "7", "a UUIDv7 (time-ordered): {id}");
    assert_eq!(decision["decision"], "block");
    assert_eq!(decision["decision_label"], "拦截");
    assert_eq!(
        decision["subject"],
        json!({"id": COMPANY, "kind": "enterprise", "id_type": "uscc"})
    );
    assert_eq!(decision["matter"], "gov_procurement");
    assert_eq!(decision["warnings"], json!([]));
    assert_eq!(decision["ruleset"]["name"], "qiqihar");
    let revision = decision["ruleset"]["revision"].as_str().expect("revision");
    assert!(
        revision.len() >= 8 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "revision {revision}"
    );
    assert_eq!(decision["lists_version"], 1);
    assert_eq!(decision["evaluated_at"], "2026-11-22T10:00:00.000+08:00");
    assert_eq!(decision["department"], "qqhr-czj");
    assert_eq!(decision["case_ref"], "ZFCG-2026-0815");
    let reasons = decision["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "{decision}");
    let reason = &reasons[0];
    assert_eq!(reason["topic"], "court_dishonest_debtor");
    assert_eq!(reason["list"], "court_dishonest_debtor");
    assert_eq!(reason["entry_id"], "QQHR-FY-2026-000123");
    assert_eq!(reason["measure"], "court_procurement_ban");
    assert_eq!(reason["effect"], "block");
    assert_eq!(reason["effect_label"], "拦截");
    assert_eq!(reason["category"], 1);
    assert!(
        reason["legal_basis"]
            .as_str()
            .is_some_and(|s| s.contains("政府采购法")),
        "{reason}"
    );
    assert!(
        reason["text"].as_str().is_some_and(|s| !s.is_empty()),
        "{reason}"
    );
    assert!(
        reason["via"].is_null(),
        "the subject itself is listed: {reason}"
    );
    assert_eq!(reason["warnings"], json!([]));
}

#[actix_web::test]
async fn decision_ids_are_unique_and_time_ordered() {
    let app = spawn_app(&debtor_entries());
    let mut seen = HashSet::new();
    let mut last = String::new();
    let started = chrono::Utc::now().timestamp_millis();
    for i in 0..40 {
        let subject = if i % 2 == 0 {
            COMPANY.to_owned()
        } else {
            uscc("91", i)
        };
        let decision = app.decide(&subject, "gov_procurement", AS_OF).await;
        let id = decision["decision_id"]
            .as_str()
            .expect("decision_id")
            .to_owned();
        assert!(is_uuid(&id), "{id}");
        // Successive decisions sort after each other (lower-case hex sorts like the bytes).
        assert!(
            id > last,
            "decision ids are not time-ordered: {id} after {last}"
        );
        // The first 48 bits of a UUIDv7 are Unix milliseconds: when the decision was made.
        let millis = i64::from_str_radix(&id[..8], 16).expect("hex") << 16
            | i64::from_str_radix(&id[9..13], 16).expect("hex");
        assert!(
            millis >= started - 1,
            "decision id {id} carries a time before the request"
        );
        last.clone_from(&id);
        assert!(seen.insert(id.clone()), "decision_id {id} repeated");
    }
    let batch = json!({"matter": "gov_procurement", "subjects": vec![json!({"id": COMPANY}); 100], "as_of": AS_OF});
    let answer = crate::helpers::ok_json(app.post_batch(&batch).await, "batch").await;
    for result in answer["results"].as_array().expect("results") {
        let id = result["decision_id"]
            .as_str()
            .expect("decision_id")
            .to_owned();
        assert!(
            seen.insert(id.clone()),
            "decision_id {id} repeated in a batch"
        );
    }
}

#[actix_web::test]
async fn evaluated_at_is_the_as_of_instant_or_now_at_plus_eight() {
    let app = spawn_app(&debtor_entries());
    let utc = app
        .decide(COMPANY, "gov_procurement", "2026-11-22T02:00:00.250Z")
        .await;
    assert_eq!(utc["evaluated_at"], "2026-11-22T10:00:00.250+08:00");
    let date = app.decide(COMPANY, "gov_procurement", "2026-11-22").await;
    assert_eq!(
        date["evaluated_at"], "2026-11-22T00:00:00.000+08:00",
        "a bare date is midnight +08:00"
    );
    let before = chrono::Utc::now();
    let body = json!({"subject": {"id": COMPANY}, "matter": "gov_procurement"});
    let now = crate::helpers::ok_json(app.post_decide(&body).await, "decide now").await;
    let after = chrono::Utc::now();
    let text = now["evaluated_at"].as_str().expect("evaluated_at");
    assert!(is_rfc3339_plus8(text), "{text}");
    let at = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    let slack = chrono::Duration::milliseconds(1);
    assert!(
        at >= before - slack && at <= after + slack,
        "without as_of, evaluated_at is the request's instant: {text}"
    );
    assert_eq!(
        now["decision"], "block",
        "the entry runs 2026-03-01 to 2029-03-01"
    );
}

#[actix_web::test]
async fn a_reason_reached_through_a_named_person_names_the_entry_and_role() {
    let app = spawn_app(&debtor_entries());
    let decision = app.decide(LEGAL_REP, "high_consumption", AS_OF).await;
    assert_explained(&decision, "legal rep");
    assert_eq!(decision["decision"], "block");
    assert_eq!(
        decision["subject"],
        json!({"id": LEGAL_REP, "kind": "person", "id_type": "resident_id"})
    );
    let reasons = decision["reasons"].as_array().expect("reasons");
    assert_eq!(reasons.len(), 1, "{decision}");
    let via = &reasons[0]["via"];
    assert_eq!(via["entry_id"], "QQHR-FY-2026-000123");
    assert_eq!(via["role"], "legal_rep");
    assert_eq!(
        via["subject_id"], COMPANY,
        "the listed subject the person is reached through"
    );
    assert_eq!(reasons[0]["measure"], "consumption_restriction_high");
}

#[actix_web::test]
async fn every_decision_names_its_sources_and_every_reason_its_basis() {
    // Invariant 12 over the demo lists: every listed subject and named person in every matter.
    let app = Spawn::demo().start();
    let text = std::fs::read_to_string(crate::helpers::demo_lists()).expect("demo lists");
    let mut subjects: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record: Value = serde_json::from_str(line).expect("demo entry");
        subjects.push(
            record["subject_id"]
                .as_str()
                .expect("subject_id")
                .to_owned(),
        );
        for person in record["responsible_persons"]
            .as_array()
            .into_iter()
            .flatten()
        {
            subjects.push(person["id"].as_str().expect("id").to_owned());
        }
    }
    subjects.sort();
    subjects.dedup();
    let items: Vec<Value> = subjects.iter().map(|s| json!({ "id": s })).collect();
    let matters = app.get_json("/v1/matters").await;
    let mut reasons_seen = 0;
    for matter in matters["matters"].as_array().expect("matters") {
        let code = matter["code"].as_str().expect("code");
        let batch = json!({"matter": code, "subjects": items, "as_of": AS_OF});
        let answer = crate::helpers::ok_json(app.post_batch(&batch).await, code).await;
        assert_eq!(
            answer["summary"]["invalid"], 0,
            "{code}: the demo identifiers are all valid: {}",
            answer["summary"]
        );
        for (subject, result) in subjects
            .iter()
            .zip(answer["results"].as_array().expect("results"))
        {
            assert_explained(result, &format!("{subject} in {code}"));
            reasons_seen += result["reasons"].as_array().map_or(0, Vec::len);
        }
    }
    assert!(
        reasons_seen > 500,
        "the demo lists lead to many reasons ({reasons_seen})"
    );
}

#[actix_web::test]
async fn the_downgrade_dispute_policy_turns_block_into_flag_with_the_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    copy_rules(&rules);
    let ruleset = std::fs::read_to_string(rules.join("ruleset.toml")).expect("ruleset.toml");
    assert!(
        ruleset.contains("dispute_policy = \"count\""),
        "the shipped policy is count"
    );
    std::fs::write(
        rules.join("ruleset.toml"),
        ruleset.replace(
            "dispute_policy = \"count\"",
            "dispute_policy = \"downgrade\"",
        ),
    )
    .expect("write ruleset.toml");
    let disputed = uscc("91", 1);
    let undisputed = uscc("91", 2);
    let both = uscc("91", 3);
    let entries = vec![
        entry_with(
            "D-1",
            "court_dishonest_debtor",
            &disputed,
            json!({"dispute": "under_review"}),
        ),
        entry("D-2", "court_dishonest_debtor", &undisputed),
        entry_with(
            "D-3",
            "court_dishonest_debtor",
            &both,
            json!({"dispute": "under_review"}),
        ),
        entry("D-4", "tax_major_violation", &both),
        entry_with(
            "D-5",
            "court_dishonest_debtor",
            &uscc("91", 4),
            json!({"dispute": "rejected"}),
        ),
    ];
    let app = Spawn::entries(&entries).rules(rules).start();
    let shipped = spawn_app(&entries);

    let decision = app.decide(&disputed, "gov_procurement", AS_OF).await;
    assert_explained(&decision, "downgraded");
    assert_eq!(
        decision["decision"], "flag",
        "a disputed block becomes a flag: {decision}"
    );
    assert_eq!(decision["decision_label"], "提示");
    let reason = &decision["reasons"][0];
    assert_eq!(reason["effect"], "flag");
    assert_eq!(
        reason["effect_label"], "提示",
        "the label follows the downgraded effect"
    );
    assert_eq!(reason["measure"], "court_procurement_ban");
    assert_eq!(warning_codes(reason), vec!["entry_under_dispute"]);
    assert_ne!(
        decision["ruleset"]["revision"],
        shipped.decide(&disputed, "gov_procurement", AS_OF).await["ruleset"]["revision"],
        "a changed rule set has another revision"
    );
    // The same entry under the shipped (count) policy blocks, with the warning.
    let counted = shipped.decide(&disputed, "gov_procurement", AS_OF).await;
    assert_eq!(counted["decision"], "block");
    assert_eq!(
        warning_codes(&counted["reasons"][0]),
        vec!["entry_under_dispute"]
    );

    assert_eq!(
        app.decide(&undisputed, "gov_procurement", AS_OF).await["decision"],
        "block",
        "undisputed entries still block"
    );
    assert_eq!(
        app.decide(&uscc("91", 4), "gov_procurement", AS_OF).await["decision"],
        "block",
        "a rejected dispute blocks"
    );
    let mixed = app.decide(&both, "gov_procurement", AS_OF).await;
    assert_eq!(
        mixed["decision"], "block",
        "another, undisputed serious entry still blocks: {mixed}"
    );
    assert_eq!(
        reason_keys(&mixed),
        vec![
            "court_dishonest_debtor / court_procurement_ban / flag / D-3 / via - / warnings [\"entry_under_dispute\"]",
            "tax_major_violation / tax_procurement_ban / block / D-4 / via - / warnings []",
        ]
    );
    // Flags stay flags.
    let flagged = app.decide(&disputed, "supervision_inspection", AS_OF).await;
    assert_eq!(flagged["decision"], "flag");
    assert_eq!(flagged["reasons"][0]["measure"], "key_supervision");
}

#[actix_web::test]
async fn a_person_with_several_hits_gets_every_reason_most_severe_first() {
    let person = rid(40);
    let entries = vec![
        entry("P-1", "rail_air_restricted", &person),
        entry("P-2", "court_consumption_restricted", &person),
        entry_with(
            "P-3",
            "court_dishonest_debtor",
            &uscc("91", 40),
            json!({"responsible_persons": [{"role": "principal", "id": person}]}),
        ),
    ];
    let app = spawn_app(&entries);
    let decision = app.decide(&person, "air_rail_ticket", AS_OF).await;
    assert_explained(&decision, "several hits");
    let effects: Vec<&str> = decision["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["effect"].as_str().unwrap_or(""))
        .collect();
    // The court order used to flag here; it binds the ticket sellers, so it blocks, and the
    // three blocks are ordered by topic.
    assert_eq!(
        effects,
        vec!["block", "block", "block"],
        "most severe first: {decision}"
    );
    assert_eq!(
        reason_keys(&decision),
        vec![
            "court_consumption_restricted / consumption_order_travel_check / block / P-2 / via - / warnings []",
            "court_dishonest_debtor / consumption_restriction_travel / block / P-3 / via principal / warnings []",
            "rail_air_restricted / rail_air_travel_ban / block / P-1 / via - / warnings []",
        ]
    );
}

#[actix_web::test]
async fn decisions_and_reasons_carry_chinese_labels_beside_their_codes() {
    let person = rid(41);
    let app = spawn_app(&[entry("L-1", "court_dishonest_debtor", &person)]);
    let miss = app.decide(&rid(42), "gov_procurement", AS_OF).await;
    assert_eq!(miss["decision"], "allow");
    assert_eq!(miss["decision_label"], "通过", "{miss}");
    let informed = app.decide(&person, "credit_loan", AS_OF).await;
    let labels: Vec<(&str, &str)> = informed["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["effect"].as_str().unwrap_or(""),
                r["effect_label"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        labels.contains(&("inform", "告知")),
        "a dishonest debtor's loan is informed: {informed}"
    );
    for (effect, label) in labels {
        let expected = match effect {
            "block" => "拦截",
            "flag" => "提示",
            "inform" => "告知",
            "reward" => "激励",
            other => panic!("unknown effect {other}"),
        };
        assert_eq!(label, expected, "{informed}");
    }
}

/// RFC 3339 at +08:00 with milliseconds, `offset_ms` from now.
fn from_now(offset_ms: i64) -> (String, chrono::DateTime<chrono::FixedOffset>) {
    let plus8 = chrono::FixedOffset::east_opt(8 * 3600).expect("+08:00");
    let at = (chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms)).with_timezone(&plus8);
    let at = chrono::DateTime::parse_from_rfc3339(
        &at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
    )
    .expect("round trip");
    (at.to_rfc3339_opts(chrono::SecondsFormat::Millis, false), at)
}

#[actix_web::test]
async fn validity_windows_are_evaluated_at_request_time_without_a_reload() {
    let ending = uscc("91", 61);
    let starting = uscc("91", 62);
    let (until_text, until) = from_now(1_500);
    let entries = vec![
        entry_with(
            "T-END",
            "court_dishonest_debtor",
            &ending,
            json!({"listed_on": "2026-01-01", "valid_until": until_text}),
        ),
        entry_with(
            "T-START",
            "court_dishonest_debtor",
            &starting,
            json!({"listed_on": until_text, "valid_until": null}),
        ),
    ];
    let app = spawn_app(&entries);
    // Before `until` (if the machine is fast enough to ask in time): the first counts, the second not.
    for (subject, before, after) in [(&ending, "block", "allow"), (&starting, "allow", "block")] {
        let decision = decide_now(&app, subject).await;
        let at = chrono::DateTime::parse_from_rfc3339(
            decision["evaluated_at"].as_str().expect("evaluated_at"),
        )
        .expect("RFC 3339");
        let expected = if at < until { before } else { after };
        assert_eq!(
            decision["decision"], expected,
            "{subject} at {at} (window edge {until})"
        );
    }
    let wait = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds() + 50;
    if wait > 0 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
    }
    let ended = decide_now(&app, &ending).await;
    assert_eq!(
        ended["decision"], "allow",
        "the entry stopped counting at {until_text}: {ended}"
    );
    let started = decide_now(&app, &starting).await;
    assert_eq!(
        started["decision"], "block",
        "the entry started counting at {until_text}: {started}"
    );
    assert_eq!(ended["lists_version"], 1, "no reload happened");
    assert_eq!(
        app.service.snapshots.report().attempts,
        1,
        "no reload happened"
    );
}

async fn decide_now(app: &crate::helpers::TestApp, subject: &str) -> Value {
    let body = json!({"subject": {"id": subject}, "matter": "gov_procurement"});
    crate::helpers::ok_json(app.post_decide(&body).await, "decide now").await
}

/// The load tests' reference endpoint exists only when asked for, answers what an unlisted
/// subject's decision looks like (same keys, similar size), and still refuses an oversized body.
#[actix_web::test]
async fn the_bare_reference_endpoint_is_off_by_default_and_mirrors_a_miss() {
    let request = json!({"subject": {"id": "91230202MAG6KQ7Y4X"}, "matter": "gov_procurement"});
    let default = Spawn::demo().start();
    assert_eq!(
        default.post_json("/bench/bare", &request).await.status(),
        404
    );

    let app = Spawn::demo().bench_routes().start();
    let bare = app.post_json("/bench/bare", &request).await;
    assert_eq!(bare.status(), 200);
    let bare_text = bare.text().await.expect("body");
    let decided_text = app.post_decide(&request).await.text().await.expect("body");
    let keys = |text: &str| {
        let value: Value = serde_json::from_str(text).expect("JSON");
        let mut keys: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&bare_text), keys(&decided_text));
    let (bare_len, decided_len) = (bare_text.len() as f64, decided_text.len() as f64);
    assert!(
        (bare_len / decided_len - 1.0).abs() < 0.1,
        "bare {bare_len} B vs decided {decided_len} B"
    );
}

#[actix_web::test]
async fn decisions_keep_their_key_order_and_escape_the_callers_strings() {
    let app = spawn_app(&debtor_entries());
    let tricky = "政府采购科 \"甲\" \\ 乙\n\t</script>";
    let keys = [
        "decision_id",
        "decision",
        "decision_label",
        "subject",
        "matter",
        "reasons",
        "warnings",
        "ruleset",
        "lists_version",
        "evaluated_at",
        "department",
        "case_ref",
    ];
    let in_order = |text: &str| {
        // Reasons carry a `department` of their own: the decision's is the last one.
        let positions: Vec<usize> = keys
            .iter()
            .map(|key| {
                let quoted = format!("\"{key}\":");
                let found = if key.starts_with("department") || key.starts_with("case_ref") {
                    text.rfind(&quoted)
                } else {
                    text.find(&quoted)
                };
                found.unwrap_or_else(|| panic!("no {key} in {text}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    };

    let body = json!({"subject": {"id": COMPANY}, "matter": "gov_procurement", "department": tricky,
                      "case_ref": tricky, "as_of": AS_OF});
    let text = app.post_decide(&body).await.text().await.unwrap();
    let decision: Value = serde_json::from_str(&text).expect("the answer is JSON");
    assert_eq!(decision["department"], tricky);
    assert_eq!(decision["case_ref"], tricky);
    in_order(&text);

    let batch = json!({"subjects": [{"id": COMPANY}, {"id": "not an id"}], "matter": "gov_procurement",
                       "department": tricky, "case_ref": tricky, "as_of": AS_OF});
    let text = app.post_batch(&batch).await.text().await.unwrap();
    let answer: Value = serde_json::from_str(&text).expect("the answer is JSON");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results[0]["decision"], "block");
    assert_eq!(results[0]["case_ref"], tricky);
    assert_eq!(results[1]["index"], 1);
    assert_eq!(answer["summary"]["invalid"], 1);
    let item_end = text.find("},{\"index\"").expect("the invalid item follows");
    in_order(&text[..item_end]);
}

#[actix_web::test]
async fn entries_under_one_measure_are_named_in_the_order_of_their_ids() {
    // Loaded in the opposite order, so the index holds `…-002` first.
    let app = spawn_app(&[
        entry("QQHR-FY-2026-002", "court_dishonest_debtor", COMPANY),
        entry("QQHR-FY-2026-001", "court_dishonest_debtor", COMPANY),
    ]);
    let body = json!({"subject": {"id": COMPANY}, "matter": "gov_procurement", "as_of": AS_OF});
    for answer in [
        crate::helpers::ok_json(app.post_decide(&body).await, "decide").await,
        crate::helpers::ok_json(
            app.post_batch(&json!({"subjects": [{"id": COMPANY}], "matter": "gov_procurement", "as_of": AS_OF}))
                .await,
            "batch",
        )
        .await["results"][0]
            .clone(),
    ] {
        let ids: Vec<&str> = answer["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r["entry_id"].as_str().expect("entry_id"))
            .collect();
        assert_eq!(ids, ["QQHR-FY-2026-001", "QQHR-FY-2026-002"], "{answer}");
    }
}

#[actix_web::test]
async fn a_matter_is_named_by_its_provincial_platform_code_as_well_as_by_its_code() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    copy_rules(&rules);
    let matters = std::fs::read_to_string(rules.join("matters.toml")).expect("matters.toml");
    let platform = "11230200MB1234567X4000117009000";
    std::fs::write(
        rules.join("matters.toml"),
        matters.replacen(
            "code = \"gov_procurement\"\n",
            &format!("code = \"gov_procurement\"\nplatform_codes = [\"{platform}\", \"ZFCG-2\"]\n"),
            1,
        ),
    )
    .expect("write matters.toml");
    let app = Spawn::entries(&debtor_entries()).rules(rules).start();

    let by_code = app.decide(COMPANY, "gov_procurement", AS_OF).await;
    let by_platform = app.decide(COMPANY, platform, AS_OF).await;
    assert_eq!(by_platform["decision"], "block", "{by_platform}");
    assert_eq!(
        by_platform["matter"], "gov_procurement",
        "the answer names the matter by its code"
    );
    assert_eq!(reason_keys(&by_platform), reason_keys(&by_code));

    let batch = crate::helpers::ok_json(
        app.post_batch(&json!({"subjects": [{"id": COMPANY}, {"id": LEGAL_REP}],
            "matter": "ZFCG-2", "as_of": AS_OF}))
            .await,
        "batch by platform code",
    )
    .await;
    assert_eq!(batch["results"][0]["matter"], "gov_procurement", "{batch}");
    assert_eq!(batch["results"][0]["decision"], "block", "{batch}");

    let catalogue = app.get_json("/v1/matters").await;
    let procurement = catalogue["matters"]
        .as_array()
        .expect("matters")
        .iter()
        .find(|m| m["code"] == "gov_procurement")
        .expect("gov_procurement in the catalogue");
    assert_eq!(procurement["platform_codes"], json!([platform, "ZFCG-2"]));

    for unknown in ["zfcg-2", "ZFCG-3"] {
        let response = app
            .post_decide(&json!({"subject": {"id": COMPANY}, "matter": unknown, "as_of": AS_OF}))
            .await;
        crate::helpers::problem(response, 422, "unknown_matter", unknown).await;
    }
}
