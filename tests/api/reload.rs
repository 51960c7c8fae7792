//! Reloads in-process: a good list file publishes a new version; a broken list file or rule set
//! is refused, the last good snapshot keeps serving, and the failure shows in `/v1/status` and
//! `/metrics`. Lists that would empty or cut the service (an empty file, a file cut short, a
//! list left out) are refused by the fail-closed guard unless the load is forced.

use std::path::Path;

use jiangcheng::snapshot::LoadError;
use jiangcheng::startup::{StartupError, Stop};
use serde_json::{json, Value};

use crate::follow::HeldLoad;
use crate::helpers::{
    copy_rules, demo_lists, entry, rules_dir, uscc, write_jsonl, Spawn, TestApp, AS_OF,
};
use crate::redis::RedisServer;

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
    let snapshot = app.service.reload().expect("a good list file reloads");
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
    let err = app
        .service
        .reload()
        .expect_err("a malformed line is refused");
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
    app.service.reload().expect("fixed");
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
    let err = app.service.reload().expect_err("refused").to_string();
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

/// A court entry is not credit-repaired: a list file that says `repaired` on a court list is
/// refused naming the line and `status`, and the court's way, `removed`, loads. A bidding
/// disqualification without the end of its period is refused naming `valid_until`.
#[actix_web::test]
async fn a_list_file_that_repairs_a_court_entry_or_leaves_a_ban_open_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let debtor = uscc("91", 5);
    let listed = entry("R-9", "court_dishonest_debtor", &debtor);
    let app = app_in(dir.path(), std::slice::from_ref(&listed));
    let lists = dir.path().join("lists.jsonl");
    let mut repaired = listed.clone();
    repaired["status"] = json!("repaired");
    write_jsonl(&lists, &[repaired]);
    let err = app
        .service
        .reload()
        .expect_err("a repaired court entry is refused")
        .to_string();
    let location = format!("{}:1: status:", lists.display());
    assert!(
        err.contains(&location) && err.contains("not repairable"),
        "{err}"
    );
    assert_eq!(
        app.decide(&debtor, "gov_procurement", AS_OF).await["decision"],
        "block",
        "the last good snapshot keeps serving"
    );
    // A ban whose period a decision sets must say when it ends.
    let open_ended = json!({"entry_id": "R-10", "list": "bidding_violation", "subject_id": uscc("91", 6),
                            "listed_on": "2026-01-01"});
    write_jsonl(&lists, &[listed.clone(), open_ended]);
    let err = app
        .service
        .reload()
        .expect_err("a disqualification without its end is refused")
        .to_string();
    let location = format!("{}:2: valid_until:", lists.display());
    assert!(err.contains(&location), "{err}");
    let mut removed = listed;
    removed["status"] = json!("removed");
    write_jsonl(&lists, &[removed]);
    app.service.reload().expect("a removed court entry loads");
    assert_eq!(
        app.decide(&debtor, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );
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
        text.replace(
            original,
            &format!("    \"court_procurement_ban\",\n{original}"),
        ),
    )
    .expect("write");
    let err = app
        .service
        .reload()
        .expect_err("invariant 2 refuses the rule set")
        .to_string();
    assert!(
        err.contains("topics.toml") && err.contains("court_procurement_ban"),
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
            .is_some_and(|e| e.contains("court_procurement_ban")),
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
    app.service.reload().expect("a valid rule set reloads");
    let changed = app.decide(&listed, "gov_procurement", AS_OF).await;
    assert_ne!(
        changed["ruleset"]["revision"], revision,
        "any change of the files changes the revision"
    );
    assert_eq!(changed["lists_version"], 2);
}

/// A subject the demo lists put on `court_dishonest_debtor`, which blocks government procurement.
const DEMO_DEBTOR: &str = "91230200MA1B2C3D8T";

/// A server on a copy of the demo lists (351 entries) that the test may rewrite.
fn demo_copy(dir: &Path) -> (TestApp, std::path::PathBuf) {
    let lists = dir.join("lists.jsonl");
    std::fs::copy(demo_lists(), &lists).expect("copy the demo lists");
    (Spawn::files(rules_dir(), lists.clone()).start(), lists)
}

/// Asserts that the guard refused the latest load with a reason containing each of `needles`
/// (and the list file's path), that `/v1/status` and `/metrics` count it, and that the lists
/// in use did not change.
async fn assert_refused(
    app: &TestApp,
    result: Result<std::sync::Arc<jiangcheng::snapshot::Snapshot>, LoadError>,
    lists: &Path,
    refusals: u64,
    needles: &[&str],
) {
    let err = result.expect_err("the guard refuses the load");
    assert!(matches!(err, LoadError::Refused(_)), "{err}");
    let message = err.to_string();
    for needle in [&lists.display().to_string() as &str, "fail-closed"]
        .iter()
        .chain(needles)
    {
        assert!(message.contains(needle), "`{needle}` in: {message}");
    }
    let status = app.status().await;
    let load = &status["last_load"];
    assert_eq!(load["refusals"], refusals, "{load}");
    // The status shows the path to admin keys only.
    let shown = message.replace(&lists.display().to_string(), "<lists>");
    assert_eq!(load["last_refusal"]["reason"], shown.as_str(), "{load}");
    assert!(
        crate::helpers::is_rfc3339_plus8(load["last_refusal"]["at"].as_str().unwrap_or("")),
        "{load}"
    );
    assert_eq!(load["last_error"], shown.as_str(), "{load}");
    assert_eq!(status["ready"], true, "{status}");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "jiangcheng_list_loads_refused_total"),
        Some(refusals as f64),
        "{metrics}"
    );
}

#[actix_web::test]
async fn an_emptied_list_file_is_refused_on_reload_and_the_listed_subject_stays_blocked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listed = uscc("91", 1);
    let app = app_in(
        dir.path(),
        &[
            entry("E-1", "court_dishonest_debtor", &listed),
            entry("E-2", "tax_d_grade", &uscc("91", 2)),
        ],
    );
    let lists = dir.path().join("lists.jsonl");
    std::fs::write(&lists, "").expect("empty the list file");

    let result = app.service.reload();
    assert_refused(&app, result, &lists, 1, &["no entries at all"]).await;
    let decision = app.decide(&listed, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert_eq!(decision["lists_version"], 1);
    assert_eq!(app.status().await["lists"]["entries"], 2);

    // An operator who means it forces the load; the refusal stays on record.
    let snapshot = app.service.force_reload().expect("a forced load takes it");
    assert_eq!((snapshot.lists.len(), snapshot.lists_version), (0, 2));
    assert_eq!(
        app.decide(&listed, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );
    let load = app.status().await["last_load"].clone();
    assert!(load["last_error"].is_null(), "{load}");
    assert_eq!(load["refusals"], 1, "{load}");
    assert!(load["last_refusal"]["reason"].is_string(), "{load}");
}

#[actix_web::test]
async fn the_demo_lists_cut_to_10_of_their_351_lines_are_refused_and_a_forced_load_takes_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (app, lists) = demo_copy(dir.path());
    assert_eq!(app.status().await["lists"]["entries"], 351);
    let text = std::fs::read_to_string(&lists).expect("the demo lists");
    let first_ten: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
    std::fs::write(&lists, first_ten).expect("cut the file at a line boundary");

    let result = app.service.reload();
    assert_refused(
        &app,
        result,
        &lists,
        1,
        &[
            "it would remove 341 of 351 entries (97.2%; at most 50% may go)",
            "list `court_dishonest_debtor` would be emptied (it has 30 entries)",
        ],
    )
    .await;
    assert_eq!(
        app.decide(DEMO_DEBTOR, "gov_procurement", AS_OF).await["decision"],
        "block"
    );
    assert_eq!(app.status().await["lists"]["entries"], 351);

    app.service.force_reload().expect("forced");
    assert_eq!(app.status().await["lists"]["entries"], 10);
    assert_eq!(
        app.decide(DEMO_DEBTOR, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );
}

#[actix_web::test]
async fn one_list_left_out_of_an_otherwise_whole_file_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (app, lists) = demo_copy(dir.path());
    let text = std::fs::read_to_string(&lists).expect("the demo lists");
    // 30 of 351 entries (8.5%): the whole file's share would let it pass.
    let without_debtors: String = text
        .lines()
        .filter(|l| !l.contains("\"court_dishonest_debtor\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&lists, without_debtors).expect("write");

    let result = app.service.reload();
    assert_refused(
        &app,
        result,
        &lists,
        1,
        &["list `court_dishonest_debtor` would be emptied (it has 30 entries)"],
    )
    .await;
    assert_eq!(
        app.decide(DEMO_DEBTOR, "gov_procurement", AS_OF).await["decision"],
        "block"
    );

    // A normal day's change passes: one entry less.
    let one_less: String = text
        .lines()
        .filter(|l| !l.contains(DEMO_DEBTOR))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&lists, one_less).expect("write");
    app.service
        .reload()
        .expect("one entry removed passes the guard");
    assert_eq!(
        app.decide(DEMO_DEBTOR, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );
}

/// A list file is loaded before the service binds its port: refused, nothing is served.
#[test]
fn a_first_load_of_a_list_file_with_no_entries_is_refused_before_the_service_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    std::fs::write(&lists, "").expect("an empty list file");
    let err = Spawn::files(rules_dir(), lists.clone())
        .guarded_first_load()
        .build_error();
    let StartupError::FirstLoad { source, .. } = &err else {
        panic!("{err}");
    };
    assert!(matches!(**source, LoadError::Refused(_)), "{err}");
    let message = err.to_string();
    let working_dir = std::env::current_dir().unwrap();
    for named in [
        lists.display().to_string(),
        working_dir.display().to_string(),
        "no entries at all".to_owned(),
    ] {
        assert!(message.contains(&named), "{message} names {named}");
    }
}

/// Lists from Redis load once the service listens (held here by freezing Redis once the
/// service has found it answering): live and not ready meanwhile, and a refused load stops it.
#[actix_web::test]
async fn a_first_load_from_redis_with_no_entries_is_refused_and_the_service_stops_unready() {
    let redis = std::sync::Arc::new(RedisServer::start());
    let held = HeldLoad::new(&redis);
    let location = redis.url();
    let app = Spawn::source(rules_dir(), held.source.clone())
        .guarded_first_load()
        .before_run(held.freeze())
        .start();
    // While the first load runs, the service is live and says why it is not ready.
    assert_eq!(app.get_json("/healthz").await["status"], "live");
    let readyz = app.get("/readyz").await;
    let problem = crate::helpers::problem(readyz, 503, "not_ready", "readyz").await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| !d.contains(&location)),
        "{problem}"
    );
    held.release();
    let service = std::sync::Arc::clone(&app.service);
    assert_eq!(
        app.ended().await.expect("a clean stop"),
        Stop::FirstLoadFailed
    );
    assert!(service.snapshots.current().is_none());
    let report = service.snapshots.report();
    assert_eq!(report.refusals, 1);
    let err = report.last_error.expect("the refusal");
    assert!(err.contains("no entries at all"), "{err}");
}
