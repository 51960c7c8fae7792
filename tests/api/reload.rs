//! Reloads in-process: a good list file publishes a new version; a broken list file or rule set
//! is refused, the last good snapshot keeps serving, and the failure shows in `/v1/status` and
//! `/metrics`.

use std::path::Path;

use serde_json::{json, Value};

use crate::helpers::{copy_rules, entry, uscc, write_jsonl, Spawn, TestApp, AS_OF};

fn metric(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

/// A server on a copy of the shipped rule set and a list file, both in `dir`.
fn app_in(dir: &Path, entries: &[Value]) -> TestApp {
    let rules = dir.join("rules");
    copy_rules(&rules);
    let lists = dir.join("lists.jsonl");
    write_jsonl(&lists, entries);
    Spawn::files(rules, lists).start()
}

#[actix_web::test]
async fn a_reload_publishes_new_entries_and_a_broken_list_file_keeps_the_last_good_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = uscc("91", 1);
    let new = uscc("91", 2);
    let app = app_in(dir.path(), &[entry("R-1", "court_dishonest_debtor", &old)]);
    let lists = dir.path().join("lists.jsonl");
    assert_eq!(app.lists_version().await, 1);
    assert_eq!(
        app.decide(&new, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );

    // A good change.
    write_jsonl(
        &lists,
        &[
            entry("R-1", "court_dishonest_debtor", &old),
            entry("R-2", "court_dishonest_debtor", &new),
        ],
    );
    let snapshot = app.state.reload().expect("a good list file reloads");
    assert_eq!(snapshot.lists_version, 2);
    assert_eq!(app.lists_version().await, 2);
    let decision = app.decide(&new, "gov_procurement", AS_OF).await;
    assert_eq!(
        decision["decision"], "block",
        "the new entry is visible: {decision}"
    );
    assert_eq!(decision["lists_version"], 2);
    assert_eq!(app.get_json("/v1/lists").await["lists_version"], 2);

    // A malformed line refuses the whole file.
    let good = entry("R-3", "court_dishonest_debtor", &uscc("91", 3)).to_string();
    std::fs::write(
        &lists,
        format!("{good}\n{{\"entry_id\": \"R-4\", \"list\": \n"),
    )
    .expect("write");
    let err = app.state.reload().expect_err("a malformed line is refused");
    let expected_location = format!("{}:2:", lists.display());
    assert!(
        err.to_string().contains(&expected_location),
        "the error names {expected_location}: {err}"
    );
    assert_eq!(
        app.lists_version().await,
        2,
        "the last good snapshot keeps serving"
    );
    assert_eq!(
        app.decide(&new, "gov_procurement", AS_OF).await["decision"],
        "block"
    );
    assert_eq!(
        app.decide(&uscc("91", 3), "gov_procurement", AS_OF).await["decision"],
        "allow",
        "nothing of the refused file"
    );
    let status = app.status().await;
    let load = &status["last_load"];
    assert_eq!(load["attempts"], 3, "{load}");
    assert_eq!(load["failures"], 1, "{load}");
    assert!(
        load["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("<lists>:2:")),
        "the error names the line, not the path, to a caller that is no administrator: {load}"
    );
    assert_eq!(
        status["ready"], true,
        "a failed reload does not make the server unready"
    );
    assert_eq!(app.get_json("/readyz").await["status"], "ready");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "jiangcheng_reloads_total{result=\"failure\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "jiangcheng_reloads_total{result=\"success\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "jiangcheng_lists_version"), Some(2.0));

    // Fixed again: the next reload succeeds and clears the error.
    write_jsonl(
        &lists,
        &[entry("R-3", "court_dishonest_debtor", &uscc("91", 3))],
    );
    app.state.reload().expect("fixed");
    let status = app.status().await;
    assert_eq!(status["lists"]["version"], 3);
    assert!(status["last_load"]["last_error"].is_null(), "{status}");
    assert_eq!(status["last_load"]["failures"], 1);
    assert_eq!(
        app.decide(&new, "gov_procurement", AS_OF).await["decision"],
        "allow",
        "R-2 is gone"
    );
}

#[actix_web::test]
async fn every_bad_line_of_a_refused_list_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app_in(
        dir.path(),
        &[entry("B-0", "court_dishonest_debtor", &uscc("91", 1))],
    );
    let lists = dir.path().join("lists.jsonl");
    let lines = [
        entry("B-1", "court_dishonest_debtor", &uscc("91", 1)).to_string(),
        entry("B-2", "no_such_list", &uscc("91", 2)).to_string(),
        String::new(),
        entry("B-4", "court_dishonest_debtor", "91230200MA1B2C3D8").to_string(),
        entry("B-1", "tax_d_grade", &uscc("91", 5)).to_string(),
        json!({"entry_id": "B-6", "list": "court_dishonest_debtor", "subject_id": uscc("91", 6), "listed_on": "2026-02-30"}).to_string(),
        json!({"entry_id": "B-7", "list": "court_dishonest_debtor", "subject_id": uscc("91", 7), "listed_on": "2026-01-01", "colour": "red"}).to_string(),
        entry("B-8", "rail_air_restricted", &uscc("91", 8)).to_string(),
        entry("B-9", "court_dishonest_debtor", &uscc("91", 9)).to_string(),
    ];
    std::fs::write(&lists, lines.join("\n")).expect("write");
    let err = app.state.reload().expect_err("refused").to_string();
    for line in [2, 4, 5, 6, 7, 8] {
        let location = format!("{}:{line}: ", lists.display());
        assert_eq!(
            err.matches(&location).count(),
            1,
            "line {line} named once in:\n{err}"
        );
    }
    for line in [1, 3, 9] {
        assert!(
            !err.contains(&format!("{}:{line}: ", lists.display())),
            "line {line} is fine:\n{err}"
        );
    }
    assert!(err.contains("no_such_list"), "{err}");
    assert!(err.contains("duplicate"), "{err}");
    assert_eq!(app.lists_version().await, 1);
}

#[actix_web::test]
async fn a_broken_rule_set_is_refused_and_the_last_good_one_keeps_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listed = uscc("91", 1);
    let app = app_in(
        dir.path(),
        &[
            entry("G-1", "court_dishonest_debtor", &listed),
            entry("G-2", "tax_d_grade", &uscc("91", 2)),
        ],
    );
    let before = app.decide(&listed, "gov_procurement", AS_OF).await;
    let revision = before["ruleset"]["revision"].clone();

    // A block measure on a topic whose list is not serious (invariant 2).
    let topics = dir.path().join("rules/topics.toml");
    let text = std::fs::read_to_string(&topics).expect("topics.toml");
    let original = "    \"tax_d_strict_management\", \"fiscal_prudent_reference\", \"honors_not_recommended\",";
    assert!(text.contains(original), "the tax_d_grade topic as shipped");
    std::fs::write(
        &topics,
        text.replace(original, &format!("    \"procurement_ban\",\n{original}")),
    )
    .expect("write");
    let err = app
        .state
        .reload()
        .expect_err("invariant 2 refuses the rule set")
        .to_string();
    assert!(
        err.contains("topics.toml") && err.contains("procurement_ban"),
        "{err}"
    );

    let after = app.decide(&listed, "gov_procurement", AS_OF).await;
    assert_eq!(
        after["ruleset"]["revision"], revision,
        "the last good rule set keeps serving"
    );
    assert_eq!(after["decision"], "block");
    assert_eq!(
        app.decide(&uscc("91", 2), "gov_procurement", AS_OF).await["decision"],
        "allow",
        "tax_d_grade does not block"
    );
    let status = app.status().await;
    assert_eq!(status["last_load"]["failures"], 1);
    assert!(
        status["last_load"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("procurement_ban")),
        "{status}"
    );
    assert_eq!(status["ruleset"]["revision"], revision);
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "jiangcheng_reloads_total{result=\"failure\"}"),
        Some(1.0),
        "{metrics}"
    );

    // A rule-set change that is valid is picked up with a new revision.
    std::fs::write(&topics, text).expect("restore");
    let ruleset = dir.path().join("rules/ruleset.toml");
    let head = std::fs::read_to_string(&ruleset).expect("ruleset.toml");
    std::fs::write(&ruleset, head.replace("title = ", "# edited\ntitle = ")).expect("write");
    app.state.reload().expect("a valid rule set reloads");
    let changed = app.decide(&listed, "gov_procurement", AS_OF).await;
    assert_ne!(
        changed["ruleset"]["revision"], revision,
        "any change of the files changes the revision"
    );
    assert_eq!(changed["lists_version"], 2);
}
