//! The list snapshot stored in Redis: written by `import`, loaded by a starting instance
//! (which then replays the changes since), and every reason it cannot be used falling back to
//! scanning every entry; against a real `redis-server`.

use std::process::Command;
use std::time::{Duration, Instant};

use jiangcheng::lists::source::{LoadPath, Loaded, SnapshotWriteError};
use jiangcheng::ruleset::RuleSet;
use jiangcheng::snapshot::SnapshotKeeping;
use redis::Commands;
use serde_json::{json, Value};

use crate::helpers::{demo_lists, entry, entry_with, rid, rules_dir, uscc, Spawn, TestApp, AS_OF};
use crate::redis::{cold_court_rules, import, redis_lists, redis_source, write, RedisServer};

const BIN: &str = env!("CARGO_BIN_EXE_jiangcheng");
const MANIFEST: &str = "jc:{lists}:snapshot";

fn rules() -> RuleSet {
    jiangcheng::ruleset::load_dir(&rules_dir()).unwrap()
}

/// `jiangcheng import --snapshot-only`: its output.
fn snapshot_only(redis: &RedisServer) -> std::process::Output {
    Command::new(BIN)
        .args([
            "import",
            "--snapshot-only",
            "--redis",
            &redis.url(),
            "--rules",
        ])
        .arg(rules_dir())
        .output()
        .expect("run jiangcheng import")
}

fn manifest(redis: &RedisServer) -> Value {
    let text: String = redis.connection().get(MANIFEST).expect("a manifest");
    serde_json::from_str(&text).unwrap()
}

/// Every key of the snapshot's chunks.
fn chunk_keys(redis: &RedisServer) -> Vec<String> {
    let mut keys: Vec<String> = redis.connection().keys("jc:{lists}:snapshot:*").unwrap();
    keys.retain(|k| !k.ends_with(":lock") && !k.ends_with(":writing"));
    keys.sort();
    keys
}

/// Every entry's record, sorted, and the load's path.
fn loaded(redis: &RedisServer, rules: &RuleSet) -> (Vec<String>, LoadPath, Loaded) {
    let loaded = redis_lists(&redis.url()).load(rules).unwrap();
    let mut records: Vec<String> = loaded
        .index
        .iter()
        .map(|e| serde_json::to_string(&e.record(rules).unwrap()).unwrap())
        .collect();
    records.sort();
    (records, loaded.path.clone(), loaded)
}

fn imported_demo() -> RedisServer {
    let redis = RedisServer::start();
    let out = import(&redis, &demo_lists());
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stored the list snapshot of version 351"),
        "{out:?}"
    );
    redis
}

#[actix_web::test]
async fn import_stores_a_snapshot_that_a_new_instance_loads_then_replays_later_changes() {
    let redis = imported_demo();
    let stored = manifest(&redis);
    assert_eq!(stored["version"], 351, "{stored}");
    assert_eq!(stored["revision"], rules().revision, "{stored}");
    assert_eq!(chunk_keys(&redis).len(), 1);
    // Changes after the snapshot: a new entry and a removal.
    let later = uscc("91", 41);
    write(&redis, &[entry("S-1", "court_dishonest_debtor", &later)]);
    redis_lists(&redis.url())
        .delete(
            "QQHR-SW-2025-A0023",
            "test",
            "removed after the snapshot",
            AS_OF,
        )
        .unwrap();

    let from_snapshot = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let status: Value = from_snapshot.get_json("/v1/status").await;
    assert_eq!(status["last_load"]["path"], "snapshot", "{status}");
    assert_eq!(status["last_load"]["snapshot_fallbacks"], 0, "{status}");
    // Ready only once caught up with the changes made after the snapshot.
    assert_eq!(status["lists"]["version"], 353, "{status}");
    assert_eq!(status["lists"]["entries"], 351, "{status}");
    let delete = from_snapshot
        .decide("122302044436293505", "gov_procurement", AS_OF)
        .await;
    assert!(
        delete["reasons"]
            .as_array()
            .is_none_or(|r| r.iter().all(|r| r["entry_id"] != "QQHR-SW-2025-A0023")),
        "{delete}"
    );
    let decision = from_snapshot.decide(&later, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");

    // The same as a load that scans every entry.
    redis.connection().del::<_, ()>(MANIFEST).unwrap();
    let from_scan = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let status: Value = from_scan.get_json("/v1/status").await;
    assert_eq!(status["last_load"]["path"], "scan", "{status}");
    assert_eq!(status["last_load"]["snapshot_fallbacks"], 1, "{status}");
    assert_eq!(
        status["last_load"]["scan_reason"], "no list snapshot is stored",
        "{status}"
    );
    assert_same_decisions(
        &from_snapshot,
        &from_scan,
        [
            (later.as_str(), "gov_procurement"),
            ("91230200MA1B2C3D8T", "gov_procurement"),
            ("230202198503121238", "high_consumption"),
            ("91230202MA18XK7PXM", "admin_license_general"),
        ],
    )
    .await;
}

/// Both instances decide each subject in its matter alike (the decision ids aside).
async fn assert_same_decisions<'a>(
    a: &TestApp,
    b: &TestApp,
    cases: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (subject, matter) in cases {
        let mut first = a.decide(subject, matter, AS_OF).await;
        let mut second = b.decide(subject, matter, AS_OF).await;
        for decision in [&mut first, &mut second] {
            decision.as_object_mut().unwrap().remove("decision_id");
        }
        assert_eq!(first, second, "{subject} in {matter}");
    }
}

#[test]
fn cold_lists_and_who_they_name_load_the_same_from_the_snapshot_as_by_scanning() {
    let redis = RedisServer::start();
    let (_dir, cold_rules) = cold_court_rules();
    let company = uscc("91", 96);
    let (person, other) = (rid(960), rid(961));
    let names = |id: &str| json!({"responsible_persons": [{"role": "legal_rep", "id": id}]});
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    crate::helpers::write_jsonl(
        &lists,
        &[
            entry_with("K-1", "court_dishonest_debtor", &company, names(&person)),
            entry("K-2", "court_dishonest_debtor", &company),
            entry_with("H-1", "tax_a_grade", &uscc("91", 97), names(&other)),
        ],
    );
    let source = redis_lists(&redis.url());
    let entries = jiangcheng::lists::read_file(&lists, &cold_rules).unwrap();
    source.import(&entries, &cold_rules, &|_| {}).unwrap();
    let (scanned, path, by_scan) = loaded(&redis, &cold_rules);
    assert!(matches!(path, LoadPath::Scan { .. }), "{path:?}");
    source.write_snapshot(&cold_rules).unwrap();
    let (read, path, by_snapshot) = loaded(&redis, &cold_rules);
    assert_eq!(path, LoadPath::Snapshot);
    assert_eq!(read, scanned);
    assert_eq!(by_snapshot.index.len(), 1);
    assert_eq!(by_snapshot.cold_names.len(), by_scan.cold_names.len());
    for id in [&person, &other, &company] {
        let key = jiangcheng::ident::parse(id).unwrap().key();
        assert_eq!(
            by_snapshot.cold_names.filers_naming(key),
            by_scan.cold_names.filers_naming(key),
            "{id}"
        );
    }
    let key = jiangcheng::ident::parse(&person).unwrap().key();
    assert_eq!(by_snapshot.cold_names.filers_naming(key).len(), 1);
}

/// Loads after `damage` has been done to a stored snapshot of the demo: by scanning, with a
/// reason that contains `why`, and the same entries.
fn falls_back(damage: impl FnOnce(&RedisServer, &mut RuleSet), why: &str) {
    let redis = imported_demo();
    let mut rules = rules();
    let (before, path, _) = loaded(&redis, &rules);
    assert_eq!(path, LoadPath::Snapshot);
    damage(&redis, &mut rules);
    let (after, path, _) = loaded(&redis, &rules);
    match path {
        LoadPath::Scan { why: reason } => assert!(reason.contains(why), "{reason}"),
        other => panic!("expected a scan for `{why}`, got {other:?}"),
    }
    if rules.revision == self::rules().revision {
        let version: u64 = redis.connection().get("jc:{lists}:version").unwrap();
        if version == 351 {
            assert_eq!(after, before);
        }
    }
}

#[test]
fn without_a_snapshot_the_load_scans() {
    let redis = RedisServer::start();
    let out = crate::redis::import_with(&redis, &demo_lists(), &["--no-snapshot"]);
    assert!(out.status.success(), "{out:?}");
    let (_, path, loaded) = loaded(&redis, &rules());
    assert_eq!(
        path,
        LoadPath::Scan {
            why: "no list snapshot is stored".to_owned()
        }
    );
    assert_eq!(loaded.index.len(), 351);
}

#[test]
fn a_damaged_chunk_falls_back_to_a_scan() {
    falls_back(
        |redis, _| {
            let key = chunk_keys(redis).remove(0);
            redis::cmd("SETRANGE")
                .arg(key)
                .arg(1000)
                .arg("x")
                .query::<()>(&mut redis.connection())
                .unwrap();
        },
        "the checksum of chunk 0 does not match",
    );
}

#[test]
fn a_missing_chunk_falls_back_to_a_scan() {
    falls_back(
        |redis, _| {
            let key = chunk_keys(redis).remove(0);
            redis.connection().del::<_, ()>(key).unwrap();
        },
        "chunk 0 is missing",
    );
}

#[test]
fn a_snapshot_of_another_rule_set_revision_falls_back_to_a_scan() {
    falls_back(
        |_, rules| rules.revision = "another".to_owned(),
        "made for rule set revision",
    );
}

#[test]
fn a_snapshot_of_another_epoch_falls_back_to_a_scan() {
    falls_back(
        |redis, _| {
            redis
                .connection()
                .set::<_, _, ()>("jc:{lists}:epoch", "restored-from-elsewhere")
                .unwrap()
        },
        "belongs to epoch",
    );
}

#[test]
fn a_snapshot_ahead_of_the_store_falls_back_to_a_scan() {
    falls_back(
        |redis, _| {
            redis
                .connection()
                .set::<_, _, ()>("jc:{lists}:version", 300)
                .unwrap()
        },
        "ahead of the lists' 300",
    );
}

#[test]
fn a_stream_trimmed_past_the_snapshot_falls_back_to_a_scan() {
    falls_back(
        |redis, _| {
            write(
                redis,
                &[entry("S-2", "court_dishonest_debtor", &uscc("91", 42))],
            );
            redis::cmd("XTRIM")
                .arg("jc:{lists}:changes")
                .arg("MAXLEN")
                .arg(0)
                .query::<()>(&mut redis.connection())
                .unwrap();
        },
        "no longer reaches back to the list snapshot's version 351",
    );
}

#[test]
fn only_one_writer_stores_a_snapshot_at_a_time() {
    let redis = imported_demo();
    let before = manifest(&redis);
    // Another writer holds the lock.
    redis
        .connection()
        .set::<_, _, ()>("jc:{lists}:snapshot:lock", "another-writer")
        .unwrap();
    let result = redis_lists(&redis.url()).write_snapshot(&rules());
    assert!(
        matches!(result, Err(SnapshotWriteError::Locked)),
        "{result:?}"
    );
    let out = snapshot_only(&redis);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another writer"),
        "{out:?}"
    );
    assert_eq!(manifest(&redis), before);
    let lock: String = redis.connection().get("jc:{lists}:snapshot:lock").unwrap();
    assert_eq!(lock, "another-writer");

    // Once it is gone, a writer stores one and releases the lock.
    redis
        .connection()
        .del::<_, ()>("jc:{lists}:snapshot:lock")
        .unwrap();
    let out = snapshot_only(&redis);
    assert!(out.status.success(), "{out:?}");
    assert_ne!(manifest(&redis)["generation"], before["generation"]);
    let lock: Option<String> = redis.connection().get("jc:{lists}:snapshot:lock").unwrap();
    assert_eq!(lock, None);
}

#[test]
fn old_generations_and_a_crashed_writers_chunks_are_deleted() {
    let redis = imported_demo();
    let first = manifest(&redis)["generation"].as_str().unwrap().to_owned();
    // A writer that crashed half-way left two chunks and its generation's name.
    let mut con = redis.connection();
    for n in 0..2 {
        con.set::<_, _, ()>(format!("jc:{{lists}}:snapshot:crashed:{n}"), "half")
            .unwrap();
    }
    con.set::<_, _, ()>("jc:{lists}:snapshot:writing", "crashed")
        .unwrap();
    assert!(snapshot_only(&redis).status.success());
    let second = manifest(&redis)["generation"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        chunk_keys(&redis),
        [format!("jc:{{lists}}:snapshot:{second}:0")]
    );
    let writing: Option<String> = con.get("jc:{lists}:snapshot:writing").unwrap();
    assert_eq!(writing, None);
}

/// The version in the stored manifest, if any.
fn stored_version(redis: &RedisServer) -> Option<u64> {
    let text: Option<String> = redis.connection().get(MANIFEST).unwrap();
    text.map(|t| {
        serde_json::from_str::<Value>(&t).unwrap()["version"]
            .as_u64()
            .unwrap()
    })
}

/// An instance that writes the snapshot once it lags `after_changes` behind.
fn keeping(redis: &RedisServer, after_changes: u64) -> crate::helpers::TestApp {
    Spawn::source(rules_dir(), redis_source(redis))
        .snapshot_keeping(SnapshotKeeping {
            after_changes,
            max_age: Duration::ZERO,
        })
        .start()
}

/// Waits (bounded) until `done` holds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(20), "never: {what}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many snapshots the instance counted with `result`.
async fn snapshot_writes(app: &crate::helpers::TestApp, result: &str) -> u64 {
    let line = format!("jiangcheng_list_snapshot_writes_total{{result=\"{result}\"}} ");
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&line).map(|n| n.parse().unwrap()))
        .unwrap_or(0)
}

#[actix_web::test]
async fn a_running_instance_stores_a_snapshot_after_enough_changes_that_a_new_instance_loads() {
    let redis = imported_demo();
    let keeper = keeping(&redis, 3);
    let (first, later) = (uscc("91", 51), uscc("91", 52));
    write(&redis, &[entry("S-1", "court_dishonest_debtor", &first)]);
    redis_lists(&redis.url())
        .delete("QQHR-SW-2025-A0023", "test", "removed", AS_OF)
        .unwrap();
    until("two changes applied", async || {
        keeper.lists_version().await == 353
    })
    .await;
    // Two changes behind: not yet due.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stored_version(&redis), Some(351));
    write(&redis, &[entry("S-2", "court_dishonest_debtor", &later)]);
    until("the snapshot of version 354 stored", async || {
        stored_version(&redis) == Some(354)
    })
    .await;
    assert_eq!(snapshot_writes(&keeper, "written").await, 1);

    let joined = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let status: Value = joined.get_json("/v1/status").await;
    assert_eq!(status["last_load"]["path"], "snapshot", "{status}");
    assert_eq!(status["lists"]["version"], 354, "{status}");
    assert_same_decisions(
        &keeper,
        &joined,
        [
            (first.as_str(), "gov_procurement"),
            (later.as_str(), "gov_procurement"),
            ("122302044436293505", "gov_procurement"),
            ("230202198503121238", "high_consumption"),
        ],
    )
    .await;
}

#[actix_web::test]
async fn an_instance_skips_while_another_writer_holds_the_lock_and_two_instances_write_once() {
    let redis = imported_demo();
    redis
        .connection()
        .set_options::<_, _, ()>(
            "jc:{lists}:snapshot:lock",
            "another writer",
            redis::SetOptions::default().with_expiration(redis::SetExpiry::PX(60_000)),
        )
        .unwrap();
    let held_off = keeping(&redis, 1);
    write(
        &redis,
        &[entry("S-1", "court_dishonest_debtor", &uscc("91", 53))],
    );
    until("a skipped write counted", async || {
        snapshot_writes(&held_off, "skipped").await == 1
    })
    .await;
    assert_eq!(stored_version(&redis), Some(351));
    assert_eq!(snapshot_writes(&held_off, "written").await, 0);
    drop(held_off);

    redis
        .connection()
        .del::<_, ()>("jc:{lists}:snapshot:lock")
        .unwrap();
    let pair = [keeping(&redis, 1), keeping(&redis, 1)];
    until("the snapshot of version 352 stored", async || {
        stored_version(&redis) == Some(352)
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let mut written = 0;
    for app in &pair {
        written += snapshot_writes(app, "written").await;
    }
    assert_eq!(written, 1);
    assert_eq!(chunk_keys(&redis).len(), 1);
}

#[actix_web::test]
async fn an_instance_set_to_zero_changes_never_writes_a_snapshot() {
    let redis = RedisServer::start();
    let out = crate::redis::import_with(&redis, &demo_lists(), &["--no-snapshot"]);
    assert!(out.status.success(), "{out:?}");
    let app = keeping(&redis, 0);
    write(
        &redis,
        &[entry("S-1", "court_dishonest_debtor", &uscc("91", 54))],
    );
    until("the change applied", async || {
        app.lists_version().await == 352
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stored_version(&redis), None);
    assert_eq!(snapshot_writes(&app, "written").await, 0);
}
