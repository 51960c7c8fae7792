//! Instances following a real `redis-server` that is replaced under them (`FLUSHALL` and a new
//! import) or stops answering (`SIGSTOP`): every instance ends up deciding as Redis says, and a
//! frozen Redis hangs nothing and is reported.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiangcheng::lists::source::{ListSource, DEFAULT_PREFIX};
use redis::Commands;
use serde_json::{json, Value};

use crate::helpers::{demo_lists, problem, rules_dir, uscc, Spawn, TestApp, AS_OF};
use crate::redis::{eventually_decides, import, redis_source, RedisServer};

/// A `redis-server` stopped with `SIGSTOP` for as long as this lives: it keeps its sockets
/// open and answers nothing. Dropping it (also when a test fails) sends `SIGCONT`.
pub struct Frozen(u32);

impl Frozen {
    pub fn new(server: &RedisServer) -> Frozen {
        let pid = server.pid();
        let stopped = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .expect("kill -STOP");
        assert!(stopped.success(), "kill -STOP {pid}");
        Frozen(pid)
    }
}

/// A first load from Redis held while it runs: the source's calls wait up to a minute, and
/// [`HeldLoad::freeze`], given to `Spawn::before_run`, freezes Redis once the service has found
/// it answering (before it loads) until [`HeldLoad::release`].
pub struct HeldLoad {
    pub source: ListSource,
    redis: Arc<RedisServer>,
    frozen: Arc<Mutex<Option<Frozen>>>,
}

impl HeldLoad {
    pub fn new(redis: &Arc<RedisServer>) -> HeldLoad {
        let source = match redis_source(redis) {
            ListSource::Redis {
                url,
                prefix,
                connections,
                wait,
                ..
            } => ListSource::Redis {
                url,
                prefix,
                connections,
                wait,
                timeout: Duration::from_secs(60),
            },
            other => other,
        };
        HeldLoad {
            source,
            redis: Arc::clone(redis),
            frozen: Arc::default(),
        }
    }

    pub fn freeze(&self) -> impl FnOnce() + 'static {
        let (frozen, redis) = (Arc::clone(&self.frozen), Arc::clone(&self.redis));
        move || *frozen.lock().unwrap() = Some(Frozen::new(&redis))
    }

    pub fn release(&self) {
        drop(self.frozen.lock().unwrap().take());
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

async fn put_entry(app: &TestApp, entry_id: &str, subject: &str) -> reqwest::Response {
    app.client
        .put(app.url(&format!(
            "/v1/lists/court_dishonest_debtor/entries/{entry_id}"
        )))
        .json(&json!({"subject_id": subject, "listed_on": "2026-01-01"}))
        .send()
        .await
        .expect("PUT")
}

async fn delete_entry(app: &TestApp, entry_id: &str) -> reqwest::Response {
    app.client
        .delete(app.url(&format!(
            "/v1/lists/court_dishonest_debtor/entries/{entry_id}"
        )))
        .json(&json!({"by": "市法院", "reason": "已履行完毕"}))
        .send()
        .await
        .expect("DELETE")
}

/// Polls `/v1/status` until `done` holds of it, for at most `limit`; returns that status.
pub async fn status_until(
    app: &TestApp,
    what: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let status = app.status().await;
        if done(&status) {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "{what}: not within {limit:?}: {status}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn after_flushall_a_new_import_and_a_delete_every_instance_decides_as_redis_says() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let instances = [
        Spawn::source(rules_dir(), redis_source(&redis)).start(),
        Spawn::source(rules_dir(), redis_source(&redis)).start(),
    ];
    // Two admin writes take the instances past the version the new import will reach.
    let (extra_a, extra_b) = (uscc("91", 70), uscc("91", 71));
    for (id, subject) in [("X-1", &extra_a), ("X-2", &extra_b)] {
        assert_eq!(put_entry(&instances[0], id, subject).await.status(), 201);
    }
    for app in &instances {
        eventually_decides(app, &extra_b, "gov_procurement", "block").await;
        assert_eq!(app.lists_version().await, 353);
    }

    // The store is emptied and imported again, then an entry is deleted through the API.
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut redis.connection())
        .unwrap();
    assert!(import(&redis, &demo_lists()).status.success());
    let listed = "91230200MA1B2C3D8T";
    assert_eq!(
        delete_entry(&instances[1], "QQHR-FY-2026-000123")
            .await
            .status(),
        200
    );
    let mut con = redis.connection();
    let version: u64 = con.get(format!("{DEFAULT_PREFIX}version")).unwrap();
    let epoch: Option<String> = con.get(format!("{DEFAULT_PREFIX}epoch")).unwrap();
    assert_eq!(version, 352, "351 imported, one deleted");

    // Every instance decides as Redis says: the deleted entry and the flushed ones are gone.
    for app in &instances {
        eventually_decides(app, listed, "gov_procurement", "allow").await;
        for subject in [&extra_a, &extra_b] {
            eventually_decides(app, subject, "gov_procurement", "allow").await;
        }
        let status = status_until(app, "in step with redis", Duration::from_secs(10), |s| {
            s["lists"]["stale"] == false
        })
        .await;
        let lists = &status["lists"];
        assert_eq!(
            (lists["version"].as_u64(), lists["epoch"].as_str()),
            (Some(version), epoch.as_deref()),
            "{status}"
        );
        assert_eq!(lists["entries"], 350, "{status}");
        assert!(lists["follow"]["resyncs"].as_u64() >= Some(1), "{status}");
    }
    // An instance started now from Redis holds the same lists under the same name.
    let fresh = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let status = fresh.status().await;
    assert_eq!(
        (
            status["lists"]["version"].as_u64(),
            status["lists"]["epoch"].as_str()
        ),
        (Some(version), epoch.as_deref())
    );
    eventually_decides(&fresh, listed, "gov_procurement", "allow").await;
}

#[actix_web::test]
async fn a_redis_restored_to_an_older_state_is_loaded_whole() {
    let mut redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    // The state a backup keeps: the demo lists at version 351.
    let _: () = redis::cmd("SAVE").query(&mut redis.connection()).unwrap();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let later = uscc("91", 72);
    assert_eq!(put_entry(&app, "X-3", &later).await.status(), 201);
    eventually_decides(&app, &later, "gov_procurement", "block").await;

    // Redis restarts from the backup: the later write is gone, and so is version 352.
    redis.crash_and_restart();
    eventually_decides(&app, &later, "gov_procurement", "allow").await;
    let status = status_until(&app, "in step with redis", Duration::from_secs(10), |s| {
        s["lists"]["stale"] == false
    })
    .await;
    assert_eq!(status["lists"]["version"], 351, "{status}");
}

#[actix_web::test]
async fn with_redis_frozen_admin_writes_answer_503_with_retry_after_within_seconds() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let frozen = Frozen::new(&redis);

    let started = Instant::now();
    let put = put_entry(&app, "Z-1", &uscc("91", 73)).await;
    let put_took = started.elapsed();
    let put = problem(put, 503, "source_unavailable", "PUT with redis frozen").await;
    let started = Instant::now();
    let delete = delete_entry(&app, "QQHR-FY-2026-000123").await;
    let delete_took = started.elapsed();
    assert!(
        !crate::helpers::header(&delete, "retry-after").is_empty(),
        "DELETE with redis frozen: no Retry-After"
    );
    problem(
        delete,
        503,
        "source_unavailable",
        "DELETE with redis frozen",
    )
    .await;
    // The timeout is 2 s: well within 10 s, even on a loaded machine.
    for (what, took) in [("PUT", put_took), ("DELETE", delete_took)] {
        assert!(
            took < Duration::from_secs(10),
            "{what} answered after {took:?}"
        );
    }
    eprintln!("admin writes with redis frozen answered 503 after {put_took:?} (PUT) and {delete_took:?} (DELETE)");
    assert!(
        put["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("may still be applied"),
        "a write that was sent is not said to have failed: {put}"
    );
    drop(frozen);

    // Once Redis answers again, so do the writes.
    let again = put_entry(&app, "Z-2", &uscc("91", 74)).await;
    assert_eq!(again.status(), 201);
}

#[actix_web::test]
async fn with_redis_frozen_the_lists_turn_stale_and_recover_when_it_resumes() {
    let redis = RedisServer::start();
    let company = uscc("91", 75);
    crate::redis::write(
        &redis,
        &[crate::helpers::entry(
            "S-1",
            "court_dishonest_debtor",
            &company,
        )],
    );
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    status_until(&app, "following", Duration::from_secs(10), |s| {
        s["lists"]["stale"] == false && s["lists"]["follow"]["connected"] == true
    })
    .await;

    let frozen = Frozen::new(&redis);
    let started = Instant::now();
    let status = status_until(
        &app,
        "stale with redis frozen",
        Duration::from_secs(10),
        |s| s["lists"]["stale"] == true,
    )
    .await;
    eprintln!("stale after {:?} with redis frozen", started.elapsed());
    assert!(
        status["lists"]["staleness_seconds"].as_f64().is_some(),
        "{status}"
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains("jiangcheng_lists_stale 1"), "{metrics}");
    // Decisions go on from the last snapshot.
    let decision = app.decide(&company, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block");

    drop(frozen);
    status_until(&app, "in step again", Duration::from_secs(15), |s| {
        s["lists"]["stale"] == false
    })
    .await;
    let metrics = app.metrics().await;
    assert!(metrics.contains("jiangcheng_lists_stale 0"), "{metrics}");
}

#[actix_web::test]
async fn with_redis_frozen_a_cold_list_lookup_answers_with_a_warning_within_seconds() {
    let redis = RedisServer::start();
    let (rules_copy, cold_rules) = crate::redis::cold_court_rules();
    let subjects: Vec<String> = (0..50).map(|n| uscc("92", n)).collect();
    let entries: Vec<Value> = subjects
        .iter()
        .enumerate()
        .map(|(n, subject)| {
            crate::helpers::entry(&format!("C-{n}"), "court_dishonest_debtor", subject)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    crate::helpers::write_jsonl(&lists, &entries);
    crate::redis::redis_lists(&redis.url())
        .import(
            &jiangcheng::lists::read_file(&lists, &cold_rules).unwrap(),
            &cold_rules,
            &|_| {},
        )
        .unwrap();
    let app = Spawn::source(rules_copy.path().to_path_buf(), redis_source(&redis)).start();

    // A batch of 50 subjects none of which is cached, while Redis answers nothing.
    let frozen = Frozen::new(&redis);
    let started = Instant::now();
    let batch = app
        .post_batch(&json!({"matter": "gov_procurement", "as_of": AS_OF,
                             "subjects": subjects.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()}))
        .await;
    let took = started.elapsed();
    let batch = crate::helpers::ok_json(batch, "batch with redis frozen").await;
    assert!(
        took < Duration::from_secs(10),
        "the batch answered after {took:?}"
    );
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), 50);
    for result in results {
        assert_eq!(
            crate::helpers::warning_codes(result),
            ["cold_list_unavailable"],
            "{result}"
        );
    }
    drop(frozen);
}

/// How many connections `redis` has accepted so far (this question's own included).
fn connections_received(redis: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut redis.connection())
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("total_connections_received:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("INFO stats counts connections")
}

/// Each call to Redis used to open a connection of its own (two per entry read): 64 reads at
/// once opened 128. The source's calls share its connections, at most 16 of them.
#[actix_web::test]
async fn calls_to_redis_share_a_bounded_set_of_connections() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let before = connections_received(&redis);
    let reads =
        (0..64).map(|_| app.get("/v1/lists/court_dishonest_debtor/entries/QQHR-FY-2026-000123"));
    for read in futures_util::future::join_all(reads).await {
        assert_eq!(read.status(), 200);
    }
    // Less the one that asks.
    let opened = connections_received(&redis) - before - 1;
    assert!(opened <= 16, "64 reads opened {opened} connections");
}

/// A restart of Redis closes the connections the source keeps; a write after it does not fail
/// on one of them (nor reports itself unconfirmed), it gets a new one.
#[actix_web::test]
async fn a_write_after_redis_restarted_is_acknowledged() {
    let mut redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    assert_eq!(put_entry(&app, "R-1", &uscc("91", 75)).await.status(), 201);
    redis.crash_and_restart();
    // Connections idle this long are checked before use; younger ones are taken as they are.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let put = put_entry(&app, "R-2", &uscc("91", 76)).await;
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
}
