//! Identifiers end to end (docs/api.md, Identifiers; docs/lists.md, Lists): check-character mismatches in list files and
//! requests, and the detection of the identifier type. The per-request cases are in
//! `tests/golden/identifiers.json`.

use serde_json::json;

use crate::helpers::{entry, rid, spawn_app, uscc, AS_OF};

#[actix_web::test]
async fn entries_failing_their_check_character_are_loaded_and_counted() {
    let alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    let (bad_uscc, _) = crate::helpers::with_wrong_check(&uscc("91", 1), alphabet);
    let (bad_rid, _) = crate::helpers::rid_with_wrong_check(1);
    let app = spawn_app(&[
        entry("C-1", "court_dishonest_debtor", &bad_uscc),
        entry("C-2", "court_dishonest_debtor", &bad_rid),
        entry("C-3", "court_dishonest_debtor", &uscc("91", 2)),
    ]);
    let status = app.status().await;
    assert_eq!(
        status["lists"]["entries"], 3,
        "entries with a failing check are loaded"
    );
    assert_eq!(
        status["lists"]["check_mismatches"], 2,
        "{}",
        status["lists"]
    );
    let metrics = app.metrics().await;
    assert_eq!(
        crate::catalog::sample(&metrics, "jiangcheng_list_entries_check_mismatch", &[]),
        Some(2.0),
        "{metrics}"
    );
    for id in [&bad_uscc, &bad_rid] {
        let decision = app.decide(id, "gov_procurement", AS_OF).await;
        assert_eq!(
            decision["decision"], "block",
            "matched exactly as listed: {decision}"
        );
    }
}

/// A resident ID with a valid birth date whose check digit fails, and whose 17 digits happen to
/// make its last digit a valid USCC check character (1 in 31 mistyped IDs).
fn resident_id_that_reads_as_a_uscc() -> (String, char) {
    (0..1000)
        .map(rid)
        .find_map(|valid| {
            let first17 = &valid[..17];
            let as_uscc = crate::helpers::uscc_check(first17);
            (as_uscc.is_ascii_digit() && as_uscc != crate::helpers::rid_check(first17)).then(|| {
                (
                    format!("{first17}{as_uscc}"),
                    crate::helpers::rid_check(first17),
                )
            })
        })
        .expect("such an ID exists")
}

#[actix_web::test]
async fn a_resident_id_with_a_valid_birth_date_and_a_wrong_check_digit_is_never_read_as_a_uscc() {
    let (id, expected) = resident_id_that_reads_as_a_uscc();
    // Unlisted: refused like every other resident ID with a wrong check digit (docs/api.md, Identifiers).
    let app = spawn_app(&[]);
    let body = json!({"subject": {"id": id}, "matter": "air_rail_ticket", "as_of": AS_OF});
    let response = app.post_decide(&body).await;
    let p = crate::helpers::problem(response, 400, "id_check_mismatch", &id).await;
    assert!(
        p["detail"].as_str().unwrap_or_default().contains(expected),
        "{p}"
    );
}

#[actix_web::test]
async fn a_listed_resident_id_with_a_wrong_check_digit_loads_on_a_persons_list_whatever_its_digits()
{
    let (id, expected) = resident_id_that_reads_as_a_uscc();
    // docs/lists.md, Lists: a check-character mismatch does not make the line malformed.
    let app = spawn_app(&[entry("M-RA", "rail_air_restricted", &id)]);
    let decision = app.decide(&id, "air_rail_ticket", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert_eq!(decision["subject"]["id_type"], "resident_id", "{decision}");
    assert_eq!(
        decision["warnings"][0]["code"], "id_check_mismatch",
        "{decision}"
    );
    assert_eq!(decision["warnings"][0]["expected"], expected.to_string());
}

/// The first-generation (15-digit) form of an 18-character resident ID born in the 1900s:
/// without the century and the check character.
fn first_generation(id: &str) -> String {
    assert_eq!(&id[6..8], "19", "{id} is not born in the 1900s");
    format!("{}{}", &id[..6], &id[8..17])
}

/// The masked form every person ID takes outside the decision's own subject.
fn masked(id: &str) -> String {
    format!("{}********{}", &id[..6], &id[14..])
}

fn upgrade_warning(body: &serde_json::Value, id: &str) {
    let warnings = body["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{body}");
    assert_eq!(warnings[0]["code"], "resident_id_upgraded", "{body}");
    let message = warnings[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&masked(id)),
        "names the masked 18-digit form: {body}"
    );
    assert!(
        !body["warnings"].to_string().contains(id),
        "never the full ID: {body}"
    );
}

#[actix_web::test]
async fn a_first_generation_resident_id_is_upgraded_and_decided_as_its_18_digit_form() {
    let person = rid(7);
    let legacy = first_generation(&person);
    let app = spawn_app(&[entry("FG-1", "court_dishonest_debtor", &person)]);
    let decision = app.decide(&legacy, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert_eq!(decision["reasons"][0]["entry_id"], "FG-1", "{decision}");
    assert_eq!(decision["subject"]["id"], person, "{decision}");
    assert_eq!(decision["subject"]["id_type"], "resident_id", "{decision}");
    upgrade_warning(&decision, &person);
    // The 18-digit form itself carries no warning.
    let direct = app.decide(&person, "gov_procurement", AS_OF).await;
    assert_eq!(direct["warnings"], json!([]), "{direct}");
    // An explicit id_type resident_id upgrades too; id_type uscc refuses 15 digits.
    let body = json!({"subject": {"id": legacy, "id_type": "resident_id"}, "matter": "gov_procurement", "as_of": AS_OF});
    let typed = crate::helpers::ok_json(app.post_decide(&body).await, "typed").await;
    upgrade_warning(&typed, &person);
    let body = json!({"subject": {"id": legacy, "id_type": "uscc"}, "matter": "gov_procurement", "as_of": AS_OF});
    crate::helpers::problem(
        app.post_decide(&body).await,
        400,
        "invalid_subject_id",
        "uscc",
    )
    .await;

    let profile = app
        .get_json(&format!(
            "/v1/subjects/{legacy}?as_of={}",
            crate::helpers::AS_OF_QUERY
        ))
        .await;
    assert_eq!(profile["subject"]["id"], person, "{profile}");
    assert_eq!(profile["entries"][0]["entry_id"], "FG-1", "{profile}");
    upgrade_warning(&profile, &person);
}

#[actix_web::test]
async fn a_list_entry_with_a_first_generation_id_is_matched_under_its_18_digit_form() {
    let person = rid(8);
    let app = spawn_app(&[entry(
        "FG-2",
        "court_dishonest_debtor",
        &first_generation(&person),
    )]);
    let decision = app.decide(&person, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert_eq!(decision["reasons"][0]["entry_id"], "FG-2", "{decision}");
    let decision = app
        .decide(&first_generation(&person), "gov_procurement", AS_OF)
        .await;
    assert_eq!(decision["decision"], "block", "{decision}");
}

#[actix_web::test]
async fn a_first_generation_resident_id_without_a_real_date_is_refused() {
    let app = spawn_app(&[]);
    // 1985-02-30 does not exist.
    let legacy = "230202850230123";
    let body = json!({"subject": {"id": legacy}, "matter": "gov_procurement", "as_of": AS_OF});
    let p = crate::helpers::problem(
        app.post_decide(&body).await,
        400,
        "invalid_subject_id",
        legacy,
    )
    .await;
    let detail = p.to_string();
    assert!(
        detail.contains("birth date `850230` at positions 7-12 of the 15-digit resident id")
            && detail.contains("has no day 30"),
        "{p}"
    );
    crate::helpers::problem(
        app.get(&format!("/v1/subjects/{legacy}")).await,
        400,
        "invalid_subject_id",
        "profile",
    )
    .await;
}
