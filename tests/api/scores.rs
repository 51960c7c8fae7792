//! Personal credit scores: the scale is rule-set data, shown in the catalogue
//! with its `assumed` mark; a second scale (`tests/rulesets/yiwu`, 0–200 in four levels) runs
//! under a real server; decisions and profiles name the level beside the score; a person has
//! one current score; a score outside the scale is refused wherever an entry comes in.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{
    entry_with, ok_json, rid_check, rules_dir, write_jsonl, Spawn, AS_OF, AS_OF_QUERY,
};
use crate::redis::{redis_source, RedisServer};

const BIN: &str = env!("CARGO_BIN_EXE_jiangcheng");

/// The 0–200 test rule set.
fn yiwu() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rulesets/yiwu")
}

/// A resident ID born on 1991-01-01, numbered `n`.
fn person(n: u32) -> String {
    let first17 = format!("33078219910101{n:03}");
    format!("{first17}{}", rid_check(&first17))
}

fn score_entry(id: &str, subject: &str, score: u32, listed_on: &str) -> Value {
    entry_with(
        id,
        "personal_credit_score",
        subject,
        json!({"score": score, "listed_on": listed_on, "valid_until": null}),
    )
}

/// The measures of a decision's reasons, with the score and level each reports.
fn rewards(decision: &Value) -> Vec<(String, u64, String)> {
    decision["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["measure"].as_str().unwrap_or_default().to_owned(),
                r["score"].as_u64().unwrap_or_default(),
                r["score_level"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_catalogue_shows_each_scale_with_its_assumed_mark_and_the_tiers() {
    for (rules, bounds, levels, tiers) in [
        (
            rules_dir(),
            (0, 1000, 500),
            vec!["C", "B", "A", "AA", "AAA"],
            json!({"credit_loan_recommendation": "AA"}),
        ),
        (
            yiwu(),
            (0, 200, 100),
            vec!["较差", "一般", "良好", "优秀"],
            json!({"xinyi_pi": "良好", "xinyi_dai": "优秀"}),
        ),
    ] {
        let app = Spawn::entries(&[score_entry("S-1", &person(1), 100, "2026-01-01")])
            .rules(rules.clone())
            .start();
        let catalogue = app.get_json("/v1/lists").await;
        let lists = catalogue["lists"].as_array().expect("lists");
        let scored = lists
            .iter()
            .find(|l| l["code"] == "personal_credit_score")
            .expect("the scored list");
        let scale = &scored["score_scale"];
        assert_eq!(
            (
                scale["min"].as_u64(),
                scale["max"].as_u64(),
                scale["base"].as_u64()
            ),
            (Some(bounds.0), Some(bounds.1), Some(bounds.2)),
            "{scale}"
        );
        assert_eq!(scale["assumed"], true, "{scale}");
        assert!(
            scale["note"].as_str().is_some_and(|n| !n.is_empty()),
            "{scale}"
        );
        let names: Vec<&str> = scale["levels"]
            .as_array()
            .expect("levels")
            .iter()
            .filter_map(|l| l["name"].as_str())
            .collect();
        assert_eq!(names, levels);
        for list in lists.iter().filter(|l| l["scored"] != true) {
            assert!(list.get("score_scale").is_none(), "{list}");
        }
        let topics = app.get_json("/v1/topics").await;
        let topic = topics["topics"]
            .as_array()
            .expect("topics")
            .iter()
            .find(|t| t["code"] == "personal_credit_score")
            .expect("the score topic")
            .clone();
        assert_eq!(topic["score_tiers"], tiers, "{}", rules.display());
    }
}

#[actix_web::test]
async fn a_second_scale_rewards_each_tier_from_its_boundary_alike_in_single_and_batch_calls() {
    let scores = [0, 79, 80, 109, 110, 139, 140, 200];
    let entries: Vec<Value> = scores
        .iter()
        .enumerate()
        .map(|(n, &score)| {
            score_entry(
                &format!("YW-{score}"),
                &person(n as u32),
                score,
                "2026-01-01",
            )
        })
        .collect();
    let app = Spawn::entries(&entries).rules(yiwu()).start();
    let tiers = [
        ("public_service", "deposit_waiver", 80),
        ("admin_license_general", "xinyi_pi", 110),
        ("credit_loan", "xinyi_dai", 140),
    ];
    let level = |score: u64| match score {
        140.. => "优秀",
        110.. => "良好",
        80.. => "一般",
        _ => "较差",
    };
    for (matter, measure, floor) in tiers {
        let subjects: Vec<Value> = (0..scores.len())
            .map(|n| json!({"id": person(n as u32)}))
            .collect();
        let batch = ok_json(
            app.post_batch(&json!({"matter": matter, "subjects": subjects, "as_of": AS_OF}))
                .await,
            "batch",
        )
        .await;
        for (n, &score) in scores.iter().enumerate() {
            let single = app.decide(&person(n as u32), matter, AS_OF).await;
            let what = format!("{score} points in {matter}");
            assert_eq!(single["decision"], "allow", "{what}: {single}");
            assert_eq!(single["ruleset"]["name"], "yiwu_style", "{what}");
            let expected = if score >= floor {
                vec![(
                    measure.to_owned(),
                    u64::from(score),
                    level(u64::from(score)).to_owned(),
                )]
            } else {
                vec![]
            };
            assert_eq!(rewards(&single), expected, "{what}: {single}");
            let item = &batch["results"][n];
            assert_eq!(
                (&item["decision"], &item["reasons"], &item["warnings"]),
                (&single["decision"], &single["reasons"], &single["warnings"]),
                "{what}: the batch item differs from the single call"
            );
        }
    }
}

#[actix_web::test]
async fn decisions_and_profiles_name_the_level_and_the_score_that_superseded_another() {
    let p = person(20);
    let app = Spawn::entries(&[
        score_entry("SC-2025", &p, 720, "2025-07-01"),
        score_entry("SC-2026", &p, 520, "2026-07-01"),
    ])
    .start();
    // The newer A score counts: 信易批 (from A) but no 信易贷 (from AA).
    let licence = app.decide(&p, "admin_license_general", AS_OF).await;
    assert_eq!(
        rewards(&licence),
        vec![(
            "personal_credit_convenience".to_owned(),
            520,
            "A".to_owned()
        )],
        "{licence}"
    );
    let loan = app.decide(&p, "credit_loan", AS_OF).await;
    assert_eq!(rewards(&loan), vec![], "{loan}");
    for decision in [&licence, &loan] {
        let warnings = decision["warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1, "{decision}");
        let warning = &warnings[0];
        assert_eq!(
            (
                &warning["code"],
                &warning["entry_id"],
                &warning["list"],
                &warning["superseded"]
            ),
            (
                &json!("score_superseded"),
                &json!("SC-2026"),
                &json!("personal_credit_score"),
                &json!(["SC-2025"])
            ),
            "{warning}"
        );
    }
    // A batch says the same, item by item.
    let batch = ok_json(
        app.post_batch(
            &json!({"matter": "admin_license_general", "subjects": [{"id": p}], "as_of": AS_OF}),
        )
        .await,
        "batch",
    )
    .await;
    let item = &batch["results"][0];
    assert_eq!(
        (&item["reasons"], &item["warnings"]),
        (&licence["reasons"], &licence["warnings"]),
        "{item}"
    );
    // Before the newer score, the older AAA counts alone, with its level.
    let earlier = app
        .decide(&p, "credit_loan", "2026-06-30T10:00:00+08:00")
        .await;
    assert_eq!(
        rewards(&earlier),
        vec![(
            "credit_loan_recommendation".to_owned(),
            720,
            "AAA".to_owned()
        )]
    );
    assert_eq!(earlier["warnings"], json!([]));

    let profile = app
        .get_json(&format!("/v1/subjects/{p}?as_of={AS_OF_QUERY}"))
        .await;
    let entries = profile["entries"].as_array().expect("entries");
    let by_id = |id: &str| {
        entries
            .iter()
            .find(|e| e["entry_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {profile}"))
    };
    let (old, new) = (by_id("SC-2025"), by_id("SC-2026"));
    assert_eq!(
        (&old["state"], &old["score_level"], &old["superseded_by"]),
        (&json!("in_force"), &json!("AAA"), &json!("SC-2026")),
        "{old}"
    );
    assert_eq!(
        (&new["state"], &new["score_level"]),
        (&json!("in_force"), &json!("A")),
        "{new}"
    );
    assert!(new.get("superseded_by").is_none(), "{new}");
}

#[actix_web::test]
async fn a_score_outside_the_scale_is_refused_in_a_file_the_admin_api_and_a_redis_import() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(
        &lists,
        &[
            score_entry("OUT-1", &person(30), 200, "2026-01-01"),
            score_entry("OUT-2", &person(31), 201, "2026-01-01"),
        ],
    );
    let expected = "score: 201 is outside the rule set's score scale 0–200";

    let checked = Command::new(BIN)
        .args(["check", "--rules"])
        .arg(yiwu())
        .arg("--lists")
        .arg(&lists)
        .env_remove("JC_RULES")
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2: {expected}", lists.display())),
        "{stderr}"
    );
    // The same line is well-formed on the 0–1000 shipped scale.
    let shipped = Command::new(BIN)
        .args(["check", "--rules"])
        .arg(rules_dir())
        .arg("--lists")
        .arg(&lists)
        .env_remove("JC_RULES")
        .output()
        .expect("run check");
    assert!(
        shipped.status.success(),
        "{}",
        String::from_utf8_lossy(&shipped.stderr)
    );

    let redis = RedisServer::start();
    let imported = Command::new(BIN)
        .arg("import")
        .arg("--lists")
        .arg(&lists)
        .args(["--redis", &redis.url()])
        .arg("--rules")
        .arg(yiwu())
        .output()
        .expect("run import");
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert!(!imported.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2: {expected}", lists.display())),
        "{stderr}"
    );
    let keys: Vec<String> = redis::Commands::keys(&mut redis.connection(), "*").expect("keys");
    assert!(keys.is_empty(), "nothing was imported: {keys:?}");

    let app = Spawn::source(yiwu(), redis_source(&redis)).start();
    let put = |id: &str, score: u32| {
        let body = json!({"subject_id": person(32), "listed_on": "2026-01-01", "score": score});
        app.client
            .put(app.url(&format!("/v1/lists/personal_credit_score/entries/{id}")))
            .json(&body)
            .send()
    };
    let refused = put("OUT-3", 201).await.expect("put");
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["errors"][0]["field"], "score", "{problem}");
    assert!(
        problem
            .to_string()
            .contains("outside the rule set's score scale 0–200"),
        "{problem}"
    );
    let accepted = put("OUT-3", 200).await.expect("put");
    assert_eq!(accepted.status(), 201);
}

#[test]
fn check_accepts_the_second_scale_rule_set() {
    let output = Command::new(BIN)
        .args(["check", "--rules"])
        .arg(yiwu())
        .env_remove("JC_RULES")
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("rule set `yiwu_style`"), "{stdout}");
}
