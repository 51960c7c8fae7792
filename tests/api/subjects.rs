//! `GET /v1/subjects/{id}`: the subject's entries in force, recently ended ones marked with their
//! `state`, the entries naming it (`named_in`), its topics and identifier warnings, at `as_of`.

use serde_json::{json, Value};

use crate::helpers::{
    entry, entry_with, problem, rid, rid_with_wrong_check, spawn_app, uscc, with_wrong_check,
    AS_OF_QUERY,
};

fn by_id<'a>(entries: &'a Value, entry_id: &str) -> Option<&'a Value> {
    entries
        .as_array()
        .expect("entries array")
        .iter()
        .find(|e| e["entry_id"] == entry_id)
}

#[actix_web::test]
async fn a_profile_shows_entries_in_force_and_recently_ended_ones_marked() {
    let company = uscc("91", 1);
    let rep = rid(1);
    let entries = vec![
        entry_with(
            "P-IN",
            "court_dishonest_debtor",
            &company,
            json!({"subject_name": "某某公司", "reason": "拒不履行", "responsible_persons": [{"role": "legal_rep", "id": rep, "name": "张某"}]}),
        ),
        entry_with(
            "P-EXPIRED",
            "tax_d_grade",
            &company,
            json!({"listed_on": "2025-01-01", "valid_until": "2026-06-01"}),
        ),
        entry_with(
            "P-OLD",
            "market_abnormal_operation",
            &company,
            json!({"listed_on": "2020-01-01", "valid_until": "2024-01-01"}),
        ),
        entry_with(
            "P-REPAIRED",
            "tax_major_violation",
            &company,
            json!({"status": "repaired"}),
        ),
        entry_with(
            "P-REMOVED",
            "environmental_violation",
            &company,
            json!({"status": "removed"}),
        ),
        entry_with(
            "P-LATER",
            "wage_arrears",
            &company,
            json!({"listed_on": "2027-01-01", "valid_until": "2029-01-01"}),
        ),
        entry("P-RED", "tax_a_grade", &company),
    ];
    let app = spawn_app(&entries);
    let profile = app
        .get_json(&format!("/v1/subjects/{company}?as_of={AS_OF_QUERY}"))
        .await;
    assert_eq!(
        profile["subject"],
        json!({"id": company, "kind": "enterprise", "kind_label": "企业", "id_type": "uscc"})
    );
    assert_eq!(profile["as_of"], "2026-11-22T10:00:00.000+08:00");
    assert_eq!(profile["ruleset"]["name"], "qiqihar");
    assert_eq!(profile["lists_version"], 1);
    assert_eq!(profile["warnings"], json!([]));
    let own = &profile["entries"];
    let state = |id: &str| by_id(own, id).map(|e| e["state"].as_str().unwrap_or("?").to_owned());
    assert_eq!(state("P-IN").as_deref(), Some("in_force"));
    assert_eq!(state("P-RED").as_deref(), Some("in_force"));
    assert_eq!(
        state("P-EXPIRED").as_deref(),
        Some("expired"),
        "ended less than a year ago: shown, marked"
    );
    assert_eq!(state("P-REPAIRED").as_deref(), Some("repaired"));
    assert_eq!(state("P-REMOVED").as_deref(), Some("removed"));
    assert_eq!(state("P-LATER").as_deref(), Some("not_yet_in_force"));
    assert_eq!(
        state("P-OLD"),
        None,
        "an entry that ended years ago is not shown"
    );
    let in_force = by_id(own, "P-IN").expect("P-IN");
    assert_eq!(in_force["list"], "court_dishonest_debtor");
    assert_eq!(in_force["subject_id"], company);
    assert_eq!(in_force["listed_on"], "2026-01-01");
    assert_eq!(in_force["valid_until"], "2028-01-01");
    assert_eq!(in_force["reason"], "拒不履行");
    assert_eq!(in_force["topics"], json!(["court_dishonest_debtor"]));
    assert_eq!(
        profile["topics"],
        json!(["court_dishonest_debtor", "tax_a_grade"]),
        "topics of entries in force only"
    );
    assert_eq!(profile["named_in"], json!([]));

    // At another instant the states move.
    let later = app
        .get_json(&format!(
            "/v1/subjects/{company}?as_of=2027-07-01T00:00:00%2B08:00"
        ))
        .await;
    let state = |id: &str| {
        by_id(&later["entries"], id).map(|e| e["state"].as_str().unwrap_or("?").to_owned())
    };
    assert_eq!(state("P-LATER").as_deref(), Some("in_force"));
    assert_eq!(
        state("P-EXPIRED"),
        None,
        "ended more than a year before as_of"
    );
    assert_eq!(
        later["topics"],
        json!(["court_dishonest_debtor", "tax_a_grade", "wage_arrears"]),
        "topics at 2027-07-01: {later}"
    );

    // The legal representative is named in the company's entry.
    let person = app
        .get_json(&format!("/v1/subjects/{rep}?as_of={AS_OF_QUERY}"))
        .await;
    assert_eq!(
        person["subject"],
        json!({"id": rep, "kind": "person", "kind_label": "自然人", "id_type": "resident_id"})
    );
    assert_eq!(person["entries"], json!([]));
    let named = person["named_in"].as_array().expect("named_in");
    assert_eq!(named.len(), 1, "{person}");
    assert_eq!(named[0]["entry_id"], "P-IN");
    assert_eq!(named[0]["role"], "legal_rep");
    assert_eq!(named[0]["state"], "in_force");
    assert_eq!(named[0]["subject_id"], company);
    assert_eq!(person["topics"], json!(["court_dishonest_debtor"]));
}

#[actix_web::test]
async fn a_profile_without_as_of_is_evaluated_now() {
    let company = uscc("91", 2);
    let app = spawn_app(&[entry_with(
        "N-1",
        "court_dishonest_debtor",
        &company,
        json!({"valid_until": null}),
    )]);
    let profile = app.get_json(&format!("/v1/subjects/{company}")).await;
    assert!(
        crate::helpers::is_rfc3339_plus8(profile["as_of"].as_str().unwrap_or_default()),
        "{profile}"
    );
    assert_eq!(profile["entries"][0]["state"], "in_force");
    assert!(profile["entries"][0]["valid_until"].is_null());
}

#[actix_web::test]
async fn a_profile_carries_identifier_warnings_and_normalises_the_path() {
    let (bad_uscc, expected) = with_wrong_check(&uscc("91", 3), "0123456789ABCDEFGHJKLMNPQRTUWXY");
    let (bad_rid, expected_digit) = rid_with_wrong_check(3);
    let app = spawn_app(&[
        entry("W-1", "court_dishonest_debtor", &bad_uscc),
        entry("W-2", "court_dishonest_debtor", &bad_rid),
    ]);
    let profile = app
        .get_json(&format!("/v1/subjects/{bad_uscc}?as_of={AS_OF_QUERY}"))
        .await;
    assert_eq!(profile["warnings"][0]["code"], "uscc_check_mismatch");
    assert_eq!(profile["warnings"][0]["expected"], expected.to_string());
    assert_eq!(profile["entries"][0]["entry_id"], "W-1");
    let profile = app
        .get_json(&format!("/v1/subjects/{bad_rid}?as_of={AS_OF_QUERY}"))
        .await;
    assert_eq!(profile["warnings"][0]["code"], "id_check_mismatch");
    assert_eq!(
        profile["warnings"][0]["expected"],
        expected_digit.to_string()
    );
    let lower = bad_uscc.to_lowercase();
    let profile = app
        .get_json(&format!("/v1/subjects/{lower}?as_of={AS_OF_QUERY}"))
        .await;
    assert_eq!(
        profile["subject"]["id"], bad_uscc,
        "a lower-case path is normalised"
    );
    let encoded: String = bad_uscc
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).expect("full-width"))
        .collect::<String>()
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let profile = app
        .get_json(&format!("/v1/subjects/{encoded}?as_of={AS_OF_QUERY}"))
        .await;
    assert_eq!(
        profile["subject"]["id"], bad_uscc,
        "a full-width, percent-encoded path is normalised"
    );
    assert_eq!(profile["entries"][0]["entry_id"], "W-1");
    let (unlisted, _) = rid_with_wrong_check(4);
    problem(
        app.get(&format!("/v1/subjects/{unlisted}")).await,
        400,
        "id_check_mismatch",
        "unlisted wrong check",
    )
    .await;
}
