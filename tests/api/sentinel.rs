//! Redis high availability: a write is acknowledged only once a replica holds it (`WAIT`), and
//! instances on a `redis+sentinel://` URL follow a failover with no acknowledged write lost and
//! no decision refused. Real `redis-server` and `redis-sentinel` processes on loopback ports.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiangcheng::lists::source::{
    ListSource, ReplicaWait, DEFAULT_CONNECTIONS, DEFAULT_PREFIX, DEFAULT_TIMEOUT,
};
use redis::Commands;
use serde_json::{json, Value};

use crate::helpers::{header, rules_dir, uscc, Spawn, TestApp, AS_OF};
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

/// Writes an entry through `app`, which must acknowledge it.
async fn put_acknowledged(app: &TestApp, entry_id: &str, n: u64) {
    let written = put(app, entry_id, n).await;
    let status = written.status();
    assert!(
        status.is_success(),
        "{status} {}",
        written.text().await.unwrap()
    );
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
    put_acknowledged(&app, "W-1", 1).await;
    let on_replica: bool = replica.connection().hexists(ENTRIES_KEY, "W-1").unwrap();
    assert!(on_replica, "an acknowledged write is on the replica");
}

const MASTER_NAME: &str = "main";

/// Three `redis-sentinel` processes watching one master; killed on drop, even on a panic.
struct Sentinels {
    children: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Sentinels {
    /// Watches `master` (quorum 2, down after 1 s) and waits until every sentinel knows the
    /// replica and the two other sentinels, so that a failover can happen.
    fn watch(master: &RedisServer) -> Sentinels {
        let dir = tempfile::tempdir().expect("temp dir");
        let master_port = port_of(master);
        let mut sentinels = Sentinels {
            children: Vec::new(),
            ports: Vec::new(),
            _dir: tempfile::tempdir().expect("temp dir"),
        };
        for i in 0..3 {
            let port = crate::process::free_port();
            let config = dir.path().join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &config,
                format!(
                    "bind 127.0.0.1\nport {port}\ndir {}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 4000\n",
                    dir.path().display()
                ),
            )
            .unwrap();
            sentinels.children.push(
                Command::new("redis-sentinel")
                    .arg(&config)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-sentinel must be installed: tests/run.sh installs it"),
            );
            sentinels.ports.push(port);
        }
        sentinels._dir = dir;
        let started = Instant::now();
        while !sentinels.ports.iter().all(|&port| {
            let ask = |what: &str| -> usize {
                sentinel_connection(port)
                    .and_then(|mut con| {
                        redis::cmd("SENTINEL")
                            .arg(what)
                            .arg(MASTER_NAME)
                            .query::<Vec<redis::Value>>(&mut con)
                    })
                    .map_or(0, |found| found.len())
            };
            ask("replicas") == 1 && ask("sentinels") == 2
        }) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the sentinels never found the replica and each other"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        sentinels
    }

    fn url(&self) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
    }

    /// The master's port as the first sentinel that answers names it.
    fn master_port(&self) -> Option<String> {
        self.ports.iter().find_map(|&port| {
            let mut con = sentinel_connection(port).ok()?;
            let (_, port): (String, String) = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(MASTER_NAME)
                .query(&mut con)
                .ok()?;
            Some(port)
        })
    }
}

fn sentinel_connection(port: u16) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))?
        .get_connection_with_timeout(Duration::from_secs(1))
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn port_of(server: &RedisServer) -> String {
    server
        .url()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_killed_master_loses_no_acknowledged_write_and_decisions_never_stop() {
    let mut master = RedisServer::start();
    let replica = RedisServer::replica_of(&master);
    let sentinels = Sentinels::watch(&master);
    let source = ListSource::parse(
        &sentinels.url(),
        DEFAULT_PREFIX,
        DEFAULT_TIMEOUT,
        DEFAULT_CONNECTIONS,
    )
    .unwrap();
    let writer = Spawn::source(rules_dir(), source.clone()).start();
    let reader = Spawn::source(rules_dir(), source).start();

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    let mut decisions = 0;
    let mut killed_at = None;
    let mut restarted = false;
    let mut n = 0;
    let started = Instant::now();
    loop {
        n += 1;
        let entry_id = format!("F-{n}");
        let response = put(&writer, &entry_id, n).await;
        match response.status().as_u16() {
            200 | 201 => acknowledged.push((entry_id, n, killed_at.is_some())),
            503 => {
                assert_eq!(header(&response, "retry-after"), "1");
                refused += 1;
            }
            other => panic!(
                "a write answered {other}: {}",
                response.text().await.unwrap()
            ),
        }
        for app in [&writer, &reader] {
            let decision = app
                .post_decide(&json!({"subject": {"id": uscc("91", n)}, "matter": "gov_procurement", "as_of": AS_OF}))
                .await;
            assert_eq!(decision.status(), 200, "a decision during the failover");
            decisions += 1;
        }
        if killed_at.is_none() && acknowledged.len() >= 10 {
            master.crash();
            killed_at = Some(n);
        }
        // The promoted replica has no replica of its own until the old master comes back,
        // which the sentinels then turn into one: until then writes cannot be acknowledged.
        if killed_at.is_some() && !restarted && sentinels.master_port() == Some(port_of(&replica)) {
            master.restart();
            restarted = true;
        }
        let after_kill = acknowledged.iter().filter(|(_, _, after)| *after).count();
        if after_kill >= 10 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "writes never succeeded again after the failover ({refused} refused)"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused > 0, "writes during the failover are refused");
    assert!(decisions > 0);

    // On a loaded machine the sentinels may fail over once more, back to the restarted old
    // master (a replica of the promoted one by then): the writes must be on whichever is master.
    let current = sentinels.master_port();
    let mut promoted = if current == Some(port_of(&replica)) {
        replica.connection()
    } else {
        assert_eq!(
            current,
            Some(port_of(&master)),
            "the sentinels name a master"
        );
        master.connection()
    };
    for (entry_id, _, _) in &acknowledged {
        let held: bool = promoted.hexists(ENTRIES_KEY, entry_id).unwrap();
        assert!(held, "acknowledged write {entry_id} is on the new master");
    }
    for app in [&writer, &reader] {
        for (entry_id, n, _) in &acknowledged {
            let started = Instant::now();
            loop {
                let decision = app.decide(&uscc("91", *n), "gov_procurement", AS_OF).await;
                if decision["decision"] == "block" {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "acknowledged write {entry_id} not seen by an instance: {decision}"
                );
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A sentinel that accepts connections and never answers (a frozen process: here a listening
/// socket nobody reads, whose connections the kernel accepts), listed first: the lookup of the
/// master gives up on it within the Redis timeout and asks the next, so the instance loads its
/// lists and takes writes.
#[actix_web::test]
async fn a_frozen_sentinel_listed_first_is_passed_over() {
    let master = RedisServer::start();
    let _replica = RedisServer::replica_of(&master);
    let sentinels = Sentinels::watch(&master);
    let frozen = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = sentinels.url().replacen(
        "redis+sentinel://",
        &format!(
            "redis+sentinel://{},",
            frozen.local_addr().expect("local address")
        ),
        1,
    );
    let source =
        ListSource::parse(&url, DEFAULT_PREFIX, DEFAULT_TIMEOUT, DEFAULT_CONNECTIONS).unwrap();

    // Started off this thread, so that a lookup that never ends fails the test instead of
    // hanging it.
    let (started, instance) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = started.send(Spawn::source(rules_dir(), source).start());
    });
    let app = tokio::task::spawn_blocking(move || instance.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("the instance found the master past the frozen sentinel");
    assert_eq!(app.get("/readyz").await.status(), 200);
    put_acknowledged(&app, "Z-1", 1).await;
    let on_master: bool = master.connection().hexists(ENTRIES_KEY, "Z-1").unwrap();
    assert!(on_master, "the write is on the master");
}
