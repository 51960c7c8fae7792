//! The files an operator installs (`deploy/`): every metric the alert rules and the Grafana
//! dashboard use is one the running server serves, so no alert silently watches, and no panel
//! silently draws, a series that never exists.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::auth::Keys;
use crate::helpers::{demo_lists, rules_dir, uscc, Spawn, TestApp, AS_OF};
use crate::redis::{import, redis_source, RedisServer};

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("deploy/{name}: {err}"))
}

/// The `jiangcheng_…` metric names in PromQL text (an expression, or a file of them).
fn promql_metric_names(promql: &str) -> BTreeSet<String> {
    promql
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("jiangcheng_"))
        .map(str::to_owned)
        .collect()
}

/// The metric names in `deploy/alerts.yml`.
fn alert_metric_names() -> BTreeSet<String> {
    promql_metric_names(&deploy_file("alerts.yml"))
}

/// The metric names in `deploy/grafana-dashboard.json`: its panels' queries (`expr`, rows'
/// panels included) and its variables' (`definition`).
fn dashboard_metric_names() -> BTreeSet<String> {
    fn queries<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    match (name.as_str(), field) {
                        ("expr" | "definition", Value::String(query)) => out.push(query),
                        _ => queries(field, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| queries(item, out)),
            _ => {}
        }
    }
    let dashboard: Value =
        serde_json::from_str(&deploy_file("grafana-dashboard.json")).expect("dashboard JSON");
    let mut found = Vec::new();
    queries(&dashboard, &mut found);
    found.into_iter().flat_map(promql_metric_names).collect()
}

/// Whether a sample of `name` is served. Queries name a histogram by its series (`_bucket`,
/// `_sum`, `_count`), which are served under those names.
fn served(metrics: &str, name: &str) -> bool {
    metrics.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

/// Waits, boundedly, until `/metrics` serves every one of `names` (the register stores its
/// records, and counters appear, off the request path).
async fn until_served(app: &TestApp, names: &BTreeSet<String>, file: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app.metrics().await;
        let missing: Vec<&String> = names.iter().filter(|n| !served(&metrics, n)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{file} uses metrics /metrics does not serve: {missing:?}\n{metrics}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn every_metric_the_alert_rules_use_is_served() {
    let names = alert_metric_names();
    assert!(
        names.len() >= 8,
        "deploy/alerts.yml names too few metrics: {names:?}"
    );
    let app = Spawn::demo().start();
    // A decision makes the request, latency and decision series, and a register record.
    app.decide(&uscc("91", 1), "gov_procurement", AS_OF).await;
    until_served(&app, &names, "deploy/alerts.yml").await;
}

#[actix_web::test]
async fn every_metric_the_dashboard_uses_is_served() {
    let names = dashboard_metric_names();
    assert!(
        names.len() >= 15,
        "deploy/grafana-dashboard.json names too few metrics: {names:?}"
    );
    // The lists from Redis (the follower's and the cold cache's series), callers with keys.
    let redis = RedisServer::start();
    let imported = import(&redis, &demo_lists());
    assert!(imported.status.success(), "{imported:?}");
    let keys = Keys::new();
    let app = Spawn::source(rules_dir(), redis_source(&redis))
        .keys(&keys.config(), false)
        .start();
    // A decision at the fixed `AS_OF` is a replay: the key needs that scope too.
    let decision = app
        .client
        .post(app.url("/v1/decide"))
        .bearer_auth(&keys.replay.token)
        .json(
            &json!({"subject": {"id": uscc("91", 1)}, "matter": "gov_procurement", "as_of": AS_OF}),
        )
        .send()
        .await
        .expect("POST /v1/decide");
    assert_eq!(decision.status(), 200);
    // A request without a key makes the refusals' series.
    let refused = app
        .post_decide(&json!({"subject": {"id": uscc("91", 1)}, "matter": "gov_procurement"}))
        .await;
    assert_eq!(refused.status(), 401);
    until_served(&app, &names, "deploy/grafana-dashboard.json").await;
}
