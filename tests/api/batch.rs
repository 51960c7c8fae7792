//! Invariant 11: a batch returns, item by item, exactly what single calls return at the same
//! instant — above and below the parallel threshold, with invalid items in place.

use serde_json::{json, Value};

use crate::helpers::{
    assert_explained, problem, rid, rid_with_wrong_check, spawn_app, uscc, TestApp, AS_OF,
};

const SEED: u64 = 7;
const POPULATION: u64 = 3_000;

/// A server loaded with a generated population (half of it listed) plus a few hand-made
/// entries (a wrong-check resident ID on a list, a responsible person).
async fn generated_app() -> TestApp {
    let rules =
        jiangcheng::ruleset::load_dir(&crate::helpers::rules_dir()).expect("shipped rule set");
    let mut out = Vec::new();
    let options = jiangcheng::lists::gen::GenOptions {
        subjects: POPULATION,
        listed_ratio: 0.5,
        seed: SEED,
    };
    jiangcheng::lists::gen::generate(&rules, options, &mut out, None).expect("generate");
    let mut entries: Vec<Value> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("generated entry"))
        .collect();
    assert!(
        entries.len() > 1_000,
        "the generator wrote {} entries",
        entries.len()
    );
    let (listed_bad_check, _) = rid_with_wrong_check(900);
    entries.push(crate::helpers::entry(
        "B-BAD-CHECK",
        "court_dishonest_debtor",
        &listed_bad_check,
    ));
    entries.push(crate::helpers::entry_with(
        "B-NAMED",
        "court_dishonest_debtor",
        &uscc("91", 900),
        json!({"responsible_persons": [{"role": "legal_rep", "id": rid(901)}]}),
    ));
    // Older identifiers: filed under the organisation code that 91230202MA18XK7PXM embeds, and
    // a USCC entry carrying a registration number.
    entries.push(crate::helpers::entry(
        "B-ORG",
        "court_dishonest_debtor",
        "MA18XK7P-X",
    ));
    entries.push(crate::helpers::entry_with(
        "B-REG",
        "court_dishonest_debtor",
        &uscc("91", 903),
        json!({"legacy_ids": ["110108000000016"]}),
    ));
    spawn_app(&entries)
}

/// The subjects of a batch: generated members (listed or not), hand-made cases and invalid
/// items, interleaved. Returns the items and which indexes are invalid.
fn batch_items(count: usize) -> Vec<Value> {
    let (listed_bad_check, _) = rid_with_wrong_check(900);
    let (unlisted_bad_check, _) = rid_with_wrong_check(902);
    let specials: Vec<Value> = vec![
        json!({"id": "91230202MA18XK7PXM"}), // embeds the listed organisation code
        json!({"id": "MA18XK7PX"}),
        json!({"id": "110108000000016", "id_type": "registration_number"}),
        json!({"id": "MA18XK7P-Y"}), // Y is no check character
        json!({"id": listed_bad_check}),
        json!({"id": rid(901)}),
        json!({"id": uscc("91", 900)}),
        json!({"id": "91230200MA1B2C3D8"}),  // 17 characters
        json!({"id": "9123020OMA1B2C3D8T"}), // O in positions 3-8
        json!({"id": unlisted_bad_check}),   // resident ID, wrong check, unlisted
        json!({"id": "230202198513121234"}), // month 13
        json!({"id": ""}),
        json!({"id": 12345}),                                  // not a string
        json!({}),                                             // no id
        json!("91230200MA1B2C3D8T"),                           // not an object
        json!({"id": "９１２３０２００ＭＡ１Ｂ２Ｃ３Ｄ８Ｔ"}), // full-width
        json!({"id": format!("{}{}", &rid(901)[..6], &rid(901)[8..17])}), // 15-digit form
        json!({"id": "230202850230123"}),                      // 15 digits, no such date
    ];
    let mut items = Vec::with_capacity(count);
    let mut member = 0;
    let mut special = 0;
    while items.len() < count {
        if items.len() % 37 == 5 && special < specials.len() {
            items.push(specials[special].clone());
            special += 1;
        } else {
            let (id, _) = jiangcheng::lists::gen::subject_id(SEED, member % POPULATION);
            items.push(json!({ "id": id }));
            member += 7;
        }
    }
    items
}

/// The single-call answer for one batch item: the decision, or the problem.
async fn single(app: &TestApp, matter: &str, item: &Value) -> (u16, Value) {
    let response = app
        .post_decide(&json!({"subject": item, "matter": matter, "as_of": AS_OF}))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

fn without_decision_id(mut decision: Value) -> Value {
    let object = decision.as_object_mut().expect("decision object");
    assert!(
        object.remove("decision_id").is_some(),
        "a decision without decision_id: {decision}"
    );
    decision
}

async fn batch_equals_singles(app: &TestApp, matter: &str, count: usize) {
    let items = batch_items(count);
    let response = app
        .post_batch(
            &json!({"matter": matter, "subjects": items, "as_of": AS_OF, "department": "qqhr-czj"}),
        )
        .await;
    let batch = crate::helpers::ok_json(response, "batch").await;
    let results = batch["results"].as_array().expect("results");
    assert_eq!(
        results.len(),
        items.len(),
        "one result per subject, in order"
    );
    assert_eq!(batch["ruleset"]["name"], "qiqihar");
    assert!(batch["lists_version"].as_u64().is_some());

    let mut counts = std::collections::BTreeMap::new();
    let mut invalid_seen = 0;
    for (i, (item, result)) in items.iter().zip(results).enumerate() {
        let what = format!("{matter}, batch of {count}, item {i} ({item})");
        let (status, answer) = single(app, matter, item).await;
        if status == 200 {
            assert_explained(result, &what);
            assert_eq!(result["lists_version"], batch["lists_version"], "{what}");
            assert_eq!(
                result["department"], "qqhr-czj",
                "{what}: the batch's department on each item"
            );
            // The single call had no department: compare everything else.
            let mut batch_item = without_decision_id(result.clone());
            batch_item
                .as_object_mut()
                .expect("object")
                .remove("department");
            assert_eq!(
                batch_item,
                without_decision_id(answer),
                "{what}: batch item differs from the single call"
            );
            *counts
                .entry(result["decision"].as_str().expect("decision").to_owned())
                .or_insert(0u64) += 1;
        } else {
            invalid_seen += 1;
            assert_eq!(
                result["index"], i,
                "{what}: invalid item carries its index: {result}"
            );
            let error = &result["error"];
            assert_eq!(
                error["code"], answer["code"],
                "{what}: batch error {error} vs single problem {answer}"
            );
            assert!(
                error["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{what}: detail in {error}"
            );
            let single_field = answer["errors"][0]["field"].as_str().unwrap_or("(body)");
            if single_field.starts_with("subject") {
                let expected = single_field.replacen("subject", &format!("subjects[{i}]"), 1);
                assert_eq!(error["field"], expected, "{what}: field of {error}");
            } else {
                // A non-object item: the single call fails on `subject` itself.
                assert_eq!(
                    error["field"],
                    format!("subjects[{i}]"),
                    "{what}: field of {error}"
                );
            }
            assert!(
                result.get("decision").is_none(),
                "{what}: an invalid item has no decision"
            );
        }
    }
    let summary = &batch["summary"];
    for outcome in ["allow", "flag", "block"] {
        assert_eq!(
            summary[outcome],
            counts.get(outcome).copied().unwrap_or(0),
            "summary.{outcome}: {summary}"
        );
    }
    assert_eq!(
        summary["invalid"], invalid_seen,
        "summary.invalid: {summary}"
    );
    let total: u64 = ["allow", "flag", "block", "invalid"]
        .iter()
        .map(|k| summary[k].as_u64().expect("count"))
        .sum();
    assert_eq!(total as usize, items.len(), "summary adds up: {summary}");
}

#[actix_web::test]
async fn a_large_batch_returns_item_by_item_what_single_calls_return() {
    let app = generated_app().await;
    // Large enough to be decided on rayon and written in several chunks that are then joined.
    batch_equals_singles(&app, "gov_procurement", 2600).await;
}

#[actix_web::test]
async fn a_small_batch_returns_item_by_item_what_single_calls_return() {
    let app = generated_app().await;
    batch_equals_singles(&app, "high_consumption", 10).await;
    batch_equals_singles(&app, "credit_loan", 40).await;
}

#[actix_web::test]
async fn a_large_batch_in_another_matter_covers_flags_and_rewards() {
    let app = generated_app().await;
    let items = batch_items(300);
    let response = app
        .post_batch(&json!({"matter": "supervision_inspection", "subjects": items, "as_of": AS_OF}))
        .await;
    let batch = crate::helpers::ok_json(response, "batch").await;
    let summary = &batch["summary"];
    assert!(
        summary["flag"].as_u64().unwrap_or(0) > 0,
        "a listed population gets flags in supervision_inspection: {summary}"
    );
    let rewarded = batch["results"]
        .as_array()
        .expect("results")
        .iter()
        .any(|r| {
            r["reasons"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|x| x["effect"] == "reward"))
        });
    assert!(rewarded, "some red-listed subject gets reduced_inspection");
    let mut labelled = std::collections::BTreeSet::new();
    for result in batch["results"].as_array().expect("results") {
        let Some(decision) = result["decision"].as_str() else {
            continue;
        };
        labelled.insert((decision, result["decision_label"].as_str().unwrap_or("")));
        for reason in result["reasons"].as_array().expect("reasons") {
            labelled.insert((
                reason["effect"].as_str().unwrap_or(""),
                reason["effect_label"].as_str().unwrap_or(""),
            ));
        }
    }
    // Decisions and effects share the words for allow/flag/block; rewards are 激励.
    let expected = [
        ("allow", "通过"),
        ("block", "拦截"),
        ("flag", "提示"),
        ("inform", "告知"),
        ("reward", "激励"),
    ];
    assert!(
        labelled.iter().all(|pair| expected.contains(pair)),
        "every code carries its label: {labelled:?}"
    );
    for pair in [("allow", "通过"), ("flag", "提示"), ("reward", "激励")] {
        assert!(labelled.contains(&pair), "{pair:?} in {labelled:?}");
    }
}

#[actix_web::test]
async fn a_batch_with_an_unknown_matter_or_no_subjects_is_refused_as_a_whole() {
    let app = spawn_app(&[]);
    let response = app
        .post_batch(&json!({"matter": "no_such_matter", "subjects": [{"id": uscc("91", 1)}]}))
        .await;
    problem(response, 422, "unknown_matter", "unknown matter in a batch").await;
    let response = app
        .post_batch(&json!({"matter": "gov_procurement", "subjects": []}))
        .await;
    let p = problem(response, 400, "invalid_request", "empty batch").await;
    assert_eq!(crate::helpers::error_fields(&p), vec!["subjects"]);
    let response = app
        .post_batch(&json!({"matter": "gov_procurement", "subjects": {"id": uscc("91", 1)}}))
        .await;
    let p = problem(response, 400, "invalid_request", "subjects not an array").await;
    assert_eq!(crate::helpers::error_fields(&p), vec!["subjects"]);
    let response = app
        .post_batch(&json!({"subjects": [{"id": uscc("91", 1)}]}))
        .await;
    let p = problem(response, 400, "invalid_request", "batch without matter").await;
    assert_eq!(crate::helpers::error_fields(&p), vec!["matter"]);
}
