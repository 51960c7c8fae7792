//! Redis high availability: a write is acknowledged only once a replica holds it (`WAIT`), and
//! instances on a `redis+sentinel://` URL follow a failover with no acknowledged write lost and
//! no decision refused. Real `redis-server` and `redis-sentinel` processes on loopback ports.

use std::sync::Arc;
use std::time::Duration;

use jiangcheng::lists::source::{ListSource, ReplicaWait};
use redis::Commands;
use serde_json::{json, Value};

use crate::helpers::{header, rules_dir, uscc, Spawn, TestApp};
use crate::redis::{redis_source, RedisServer};

const LIST: &str = "court_dishonest_debtor";
const ENTRIES_KEY: &str = "jc:{lists}:entries";

async fn put(app: &TestApp, entry_id: &str, n: u64) -> reqwest::Response {
    let body =
        json!({"subject_id": uscc("91", n), "listed_on": "2026-01-01", "reason": "拒不履行"});
    app.client
        .put(app.url(&format!("/v1/lists/{LIST}/entries/{entry_id}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_write_no_replica_confirms_answers_503_and_one_a_replica_holds_is_acknowledged() {
    let master = Arc::new(RedisServer::start());
    let source = match redis_source(&master) {
        ListSource::Redis {
            url,
            prefix,
            timeout,
            connections,
            ..
        } => ListSource::Redis {
            url,
            prefix,
            timeout,
            connections,
            wait: ReplicaWait {
                replicas: 1,
                timeout: Duration::from_millis(200),
            },
        },
        other => other,
    };
    let app = Spawn::source(rules_dir(), source).start();

    let alone = put(&app, "W-1", 1).await;
    assert_eq!(alone.status(), 503);
    assert_eq!(header(&alone, "retry-after"), "1");
    let problem: Value = alone.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("reached the redis master") && detail.contains("retrying is safe"),
        "{problem}"
    );

    // Off the test's thread, so that its connections to the instance are not left unserved.
    let of = Arc::clone(&master);
    let replica = tokio::task::spawn_blocking(move || RedisServer::replica_of(&of))
        .await
        .unwrap();
    let held = put(&app, "W-1", 1).await;
    let status = held.status();
    assert!(
        status.is_success(),
        "{status} {}",
        held.text().await.unwrap()
    );
    let on_replica: bool = replica.connection().hexists(ENTRIES_KEY, "W-1").unwrap();
    assert!(on_replica, "an acknowledged write is on the replica");
}
