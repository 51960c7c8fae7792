//! Identifiers end to end (DESIGN.md §2, §3.1): check-character mismatches in list files and
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
    // Unlisted: refused like every other resident ID with a wrong check digit (DESIGN.md §2).
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
    // DESIGN.md §3.1: a check-character mismatch does not make the line malformed.
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
