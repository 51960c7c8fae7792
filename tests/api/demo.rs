//! The embedded defaults: the shipped rule set with `rulesets/qiqihar/demo-lists.jsonl`.

use serde_json::json;

use crate::helpers::{assert_explained, warning_codes, Spawn, TestApp, AS_OF};

async fn decide(app: &TestApp, subject: &str, matter: &str) -> serde_json::Value {
    let decision = app.decide(subject, matter, AS_OF).await;
    assert_explained(&decision, &format!("{subject} in {matter}"));
    decision
}

#[actix_web::test]
async fn the_demo_lists_load_with_at_least_3_entries_on_each_of_the_47_lists() {
    let app = Spawn::demo().start();
    let body = app.get_json("/v1/lists").await;
    let lists = body["lists"].as_array().expect("lists");
    assert_eq!(lists.len(), 47);
    for (code, _) in crate::catalog::LISTS {
        let list = lists
            .iter()
            .find(|l| l["code"] == code)
            .unwrap_or_else(|| panic!("list `{code}` missing"));
        let count = list["entries"].as_u64().unwrap_or(0);
        assert!(
            count >= 3,
            "demo list `{code}` has {count} entries, fewer than 3"
        );
    }
    let status = app.status().await;
    assert!(
        status["lists"]["entries"].as_u64().unwrap_or(0) >= 141,
        "{}",
        status["lists"]
    );
    assert!(
        status["lists"]["check_mismatches"].as_u64().unwrap_or(0) >= 2,
        "the demo holds wrong-check identifiers"
    );
}

#[actix_web::test]
async fn the_demo_fixture_decisions_hold() {
    let app = Spawn::demo().start();

    let d = decide(&app, "91230200MA1B2C3D8T", "gov_procurement").await;
    assert_eq!(d["decision"], "block", "{d}");
    assert!(d["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .any(|r| r["topic"] == "court_dishonest_debtor" && r["effect"] == "block"));

    let d = decide(&app, "230202198503121238", "high_consumption").await;
    assert_eq!(d["decision"], "block", "{d}");
    let via = d["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find(|r| r["effect"] == "block")
        .expect("a block")["via"]
        .clone();
    assert_eq!(via["role"], "legal_rep", "{d}");
    assert_eq!(via["subject_id"], "91230200MA1B2C3D8T", "{d}");

    let d = decide(&app, "91230202MA18XK7PXM", "admin_license_general").await;
    assert_eq!(d["decision"], "allow", "{d}");
    assert!(
        d["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r["effect"] == "reward"),
        "a reward reason: {d}"
    );

    // A court record filed under the organisation code the USCC embeds.
    let d = decide(&app, "91230203MA1DQK7W3Y", "gov_procurement").await;
    assert_eq!(d["decision"], "block", "{d}");
    assert_eq!(d["reasons"][0]["entry_id"], "QQHR-FY-2025-000127", "{d}");
    assert_eq!(
        warning_codes(&d["reasons"][0]),
        vec!["legacy_id_matched"],
        "{d}"
    );
    assert_eq!(d["reasons"][0]["warnings"][0]["value"], "MA1DQK7W3", "{d}");

    let d = decide(&app, "92230203MA1CPQ4R3H", "fiscal_subsidy").await;
    assert_eq!(d["decision"], "flag", "{d}");
    assert_eq!(d["subject"]["kind"], "individual_business");

    let matters = app.get_json("/v1/matters").await;
    for matter in matters["matters"].as_array().expect("matters") {
        let code = matter["code"].as_str().expect("code");
        let d = decide(&app, "230281200101093575", code).await;
        assert_eq!(
            d["decision"], "allow",
            "personal credit score 380 (level C) in {code}: {d}"
        );
        assert_eq!(
            d["reasons"],
            json!([]),
            "no reward below level AA in {code}: {d}"
        );
    }

    let d = decide(&app, "12230200414023456Q", "gov_procurement").await;
    assert_eq!(
        d["decision"], "allow",
        "a repaired entry does not count: {d}"
    );
    assert_eq!(d["subject"]["kind"], "public_institution");

    let d = decide(&app, "52230200MJ9876A52E", "gov_procurement").await;
    assert_eq!(
        d["decision"], "allow",
        "an expired entry does not count: {d}"
    );
    assert_eq!(d["subject"]["kind"], "social_organization");

    let d = decide(&app, "91350100M0001TGQXM", "gov_procurement").await;
    assert_eq!(d["decision"], "block", "{d}");
    assert_eq!(warning_codes(&d), vec!["uscc_check_mismatch"]);
    assert!(
        d["warnings"][0]["expected"]
            .as_str()
            .is_some_and(|e| e.len() == 1 && e != "M"),
        "{d}"
    );

    let d = decide(&app, "230204197001010023", "gov_procurement").await;
    assert_eq!(warning_codes(&d), vec!["id_check_mismatch"], "{d}");
    assert_eq!(
        d["decision"], "block",
        "listed on court_dishonest_debtor: {d}"
    );

    let d = decide(&app, "912302061276543275", "construction_bidding").await;
    assert_eq!(d["decision"], "block", "{d}");
    assert_eq!(d["subject"]["id_type"], "uscc");
    let disputed = d["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter(|r| warning_codes(r) == vec!["entry_under_dispute"])
        .count();
    assert!(disputed >= 1, "the wage_arrears entry is under review: {d}");
}
