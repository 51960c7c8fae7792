//! The files an operator installs (`deploy/`): every metric the alert rules use is one the
//! running server serves, so no alert silently watches a series that never exists.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::helpers::{uscc, Spawn, AS_OF};

/// The `jiangcheng_…` metric names in `deploy/alerts.yml`.
fn alert_metric_names() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/alerts.yml");
    let text = std::fs::read_to_string(&path).expect("deploy/alerts.yml");
    text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("jiangcheng_"))
        .map(str::to_owned)
        .collect()
}

/// Whether a sample of `name` is served. Rules name a histogram by its series (`_bucket`,
/// `_sum`, `_count`), which are served under those names.
fn served(metrics: &str, name: &str) -> bool {
    metrics.lines().any(|line| {
        line.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
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

    // The register stores its record off the request path: wait for it, boundedly.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app.metrics().await;
        let missing: Vec<&String> = names.iter().filter(|n| !served(&metrics, n)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deploy/alerts.yml uses metrics /metrics does not serve: {missing:?}\n{metrics}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}
