//! HTTP conventions: the process's metrics and the build's, present from the start.

use crate::helpers::{copy_rules, entry, uscc, write_jsonl, Spawn};

/// The value of the series `series` (name and labels exactly as rendered).
fn series(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .filter(|rest| rest.starts_with(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

#[actix_web::test]
async fn metrics_show_the_process_the_build_and_reload_failures_from_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    copy_rules(&rules);
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(
        &lists,
        &[entry("G-1", "court_dishonest_debtor", &uscc("91", 1))],
    );
    let app = Spawn::files(rules.clone(), lists).start();

    let metrics = app.metrics().await;
    assert!(series(&metrics, "process_cpu_seconds_total").is_some());
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            series(&metrics, name).is_some_and(|value| value > 0.0),
            "{name} in /metrics:\n{metrics}"
        );
    }
    assert_eq!(
        series(&metrics, "jiangcheng_reloads_total{result=\"failure\"}"),
        Some(0.0),
        "an alert on reload failures has a series before the first failure:\n{metrics}"
    );
    let revision = app.status().await["ruleset"]["revision"]
        .as_str()
        .expect("the rule set's revision")
        .to_owned();
    let build = |revision: &str| {
        format!(
            "jiangcheng_build_info{{git_revision=\"{}\",ruleset_revision=\"{revision}\",version=\"{}\"}}",
            env!("JC_GIT_REVISION"),
            env!("CARGO_PKG_VERSION"),
        )
    };
    assert_eq!(series(&metrics, &build(&revision)), Some(1.0), "{metrics}");

    // A reloaded rule set replaces the revision's series.
    let ruleset = rules.join("ruleset.toml");
    let head = std::fs::read_to_string(&ruleset).expect("ruleset.toml");
    std::fs::write(&ruleset, head.replace("title = ", "# edited\ntitle = ")).expect("write");
    app.service.reload().expect("a valid rule set reloads");
    let changed = app.status().await["ruleset"]["revision"]
        .as_str()
        .expect("the rule set's revision")
        .to_owned();
    assert_ne!(changed, revision);
    let metrics = app.metrics().await;
    assert_eq!(series(&metrics, &build(&changed)), Some(1.0), "{metrics}");
    assert_eq!(
        metrics.matches("jiangcheng_build_info{").count(),
        1,
        "only the loaded revision's series:\n{metrics}"
    );
}
