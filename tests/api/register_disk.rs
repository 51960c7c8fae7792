//! The register when its disk fills up, and its retention: on a real full file system (a small
//! tmpfs, mounted for the test), what the store took is counted as stored, what the spill file
//! took as spilled, and only the rest as dropped; `/readyz` says when the register is degraded
//! or failing (503 when it is required) and recovers once the disk has room, with no request
//! needed; expired hours are archived or deleted, and the Redis stream is trimmed by age with
//! its id index kept in step.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use jiangcheng::register::{Expiry, RegisterStatus, Sink};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{entry_with, files_under, problem, uscc, Spawn, TestApp};
use crate::redis::RedisServer;
use crate::register::{record_shards, redis_records};

const PROCUREMENT_BAN: &str = "court_procurement_ban";

/// A tmpfs of its own, so that the test fills a real file system without touching the
/// machine's; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (the tests run as root, as CI does)"
        );
        Tmpfs { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Gives the full file system room again.
    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount the tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A listed company (its decisions apply a measure, so feedback can be given on them).
fn listed() -> String {
    uscc("91", 71)
}

fn app(spawn: impl FnOnce(Spawn) -> Spawn) -> TestApp {
    let entries = [entry_with(
        "QQHR-FY-2026-000971",
        "court_dishonest_debtor",
        &listed(),
        json!({"listed_on": "2026-03-01", "valid_until": "2029-03-01"}),
    )];
    spawn(Spawn::entries(&entries)).start()
}

/// One batch: the listed company and 199 unlisted ones; returns the listed one's decision id.
async fn batch(app: &TestApp, round: u64) -> String {
    let mut subjects = vec![json!({"id": listed()})];
    subjects.extend((0..199).map(|n| json!({"id": uscc("92", round * 1000 + n)})));
    let body = json!({"matter": "gov_procurement", "department": "市公共资源交易中心",
                      "subjects": subjects});
    let answer: Value = app
        .post_batch(&body)
        .await
        .json()
        .await
        .expect("batch JSON");
    answer["results"][0]["decision_id"]
        .as_str()
        .expect("a decision id")
        .to_owned()
}

const BATCH: u64 = 200;

/// Waits until the writer has dealt with every one of `made` records.
async fn settled(app: &TestApp, made: u64) -> RegisterStatus {
    let register = app.service.register().expect("the register is on");
    let started = Instant::now();
    loop {
        let status = register.status();
        if status.queued == 0 && status.stored + status.spilled + status.dropped == made {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the writer did not deal with {made} records: {status:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The record ids of every JSON line in the files under `dir` whose names end in `suffix`;
/// each line must be whole.
fn ids_in(dir: &Path, suffix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                let text = std::fs::read_to_string(&path).expect("read");
                for line in text.lines() {
                    let record: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("a torn line in {}: {e}", path.display()));
                    ids.push(record["record_id"].as_str().expect("an id").to_owned());
                }
            }
        }
    }
    ids
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = app.get("/readyz").await;
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

async fn eventually_ready(app: &TestApp) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = readyz(app).await;
        if status == StatusCode::OK && body.get("register").is_none() {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the register did not recover: {status} {body}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn applied(decision_id: &str) -> Value {
    json!({"decision_id": decision_id, "measure": PROCUREMENT_BAN, "action": "applied",
           "executing_department": "市财政局"})
}

#[actix_web::test]
async fn a_full_register_disk_spills_to_the_spill_folder_and_counts_what_the_store_took() {
    let disk = Tmpfs::mount("1m");
    let spill = tempfile::tempdir().expect("temp dir");
    let (dir, spill_dir) = (disk.path(), spill.path().to_path_buf());
    let app = app(move |spawn| {
        spawn.register_settings(move |config| {
            config.dir = dir;
            config.spill_dir = Some(spill_dir);
            config.required = true;
        })
    });
    let mut made = 0;
    let mut decisions = Vec::new();
    let mut status = settled(&app, 0).await;
    while status.spilled < 2 * BATCH {
        assert!(made < 100 * BATCH, "1 MB never filled: {status:?}");
        decisions.push(batch(&app, made / BATCH).await);
        made += BATCH;
        status = settled(&app, made).await;
    }
    assert_eq!(status.dropped, 0, "the spill folder has room: {status:?}");
    let stored: HashSet<String> = ids_in(&disk.path().join("records"), ".jsonl")
        .into_iter()
        .collect();
    assert_eq!(
        stored.len() as u64,
        status.stored,
        "what the full disk took counts as stored, no more, no less: {status:?}"
    );
    assert_eq!(status.spill_pending, made - status.stored, "{status:?}");
    let (code, body) = readyz(&app).await;
    assert_eq!(code, StatusCode::OK, "degraded is still ready: {body}");
    assert_eq!(body["register"]["health"], "degraded", "{body}");
    assert_eq!(app.status().await["register"]["health"], "degraded");

    disk.grow("64m");
    let register = app.service.register().expect("on");
    let started = Instant::now();
    while register.status().stored + register.status().replayed < made {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the spill file is replayed: {:?}",
            register.status()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    eventually_ready(&app).await;
    let status = register.status();
    assert_eq!((status.spill_pending, status.dropped), (0, 0), "{status:?}");
    let stored: HashSet<String> = ids_in(&disk.path().join("records"), ".jsonl")
        .into_iter()
        .collect();
    assert_eq!(stored.len() as u64, made, "every record in the store");
    // Each decision is found through the hour's index, the replayed ones too.
    for decision in &decisions {
        let created = app.post_json("/v1/feedback", &applied(decision)).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{decision}");
    }
}

#[actix_web::test]
async fn a_full_disk_under_both_store_and_spill_counts_exactly_what_was_lost_and_fails_readiness_if_required(
) {
    let disk = Tmpfs::mount("1m");
    let dir = disk.path();
    let app = app(move |spawn| {
        spawn.register_settings(move |config| {
            config.dir = dir;
            config.required = true;
        })
    });
    let mut made = 0;
    let mut status = settled(&app, 0).await;
    while status.dropped < 2 * BATCH {
        assert!(made < 100 * BATCH, "1 MB never filled: {status:?}");
        batch(&app, made / BATCH).await;
        made += BATCH;
        status = settled(&app, made).await;
    }
    let stored: HashSet<String> = ids_in(&disk.path().join("records"), ".jsonl")
        .into_iter()
        .collect();
    // The spill file, and the one a replay renamed.
    let spilled: HashSet<String> = ids_in(&disk.path(), "spill.jsonl")
        .into_iter()
        .chain(ids_in(&disk.path(), "spill.replaying.jsonl"))
        .collect();
    assert_eq!(
        stored.len() as u64,
        status.stored + status.replayed,
        "{status:?}"
    );
    assert_eq!(
        stored.union(&spilled).count() as u64,
        made - status.dropped,
        "dropped counts exactly what is in neither the store nor the spill file: {status:?}"
    );
    assert_eq!(app.status().await["register"]["health"], "failing");
    let refused = app.get("/readyz").await;
    let body = problem(refused, 503, "not_ready", "a required register that drops").await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("register")),
        "{body}"
    );

    // Room again, and no request comes (readiness turned them away): the writer's probe finds
    // out, and the spilled records are replayed.
    disk.grow("64m");
    eventually_ready(&app).await;
    let register = app.service.register().expect("on");
    batch(&app, 999).await;
    made += BATCH;
    let started = Instant::now();
    while register.status().stored + register.status().replayed < made - status.dropped {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            register.status()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        register.status().dropped,
        status.dropped,
        "nothing more lost"
    );
}

/// A record line asked at `ms` (enough of one for the stores and retention).
pub fn old_record(ms: u64, n: u64) -> (String, String) {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, (ms % 1000) as u32 * 1_000_000);
    let id = uuid::Uuid::new_v7(ts).to_string();
    let line = format!(
        r#"{{"record_id":"{id}","kind":"decision","time":"old","caller":null,"subject":{{"kind":"enterprise","id_type":"uscc","id":"{}","hash":"00"}},"decision":"allow","measures":[],"ruleset":{{"name":"r","revision":"1"}},"lists_version":1}}"#,
        uscc("93", n)
    );
    (id, line)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

pub const DAY_MS: u64 = 86_400_000;

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("archive"))
        .read_to_string(&mut text)
        .expect("gzip");
    text
}

async fn eventually_expired(app: &TestApp, records: u64) -> RegisterStatus {
    let register = app.service.register().expect("on");
    let started = Instant::now();
    loop {
        let status = register.status();
        if status.expired >= records {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "retention did not run: {status:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn hours_past_retention_are_archived_or_deleted_and_recent_ones_stay() {
    for expired in [Expiry::Archive, Expiry::Delete] {
        let dir = tempfile::tempdir().expect("temp dir");
        // An hour 200 days ago (past the default 190), and one 10 days ago.
        let old_ms = now_ms() - 200 * DAY_MS;
        let recent_ms = now_ms() - 10 * DAY_MS;
        let mut old_paths = Vec::new();
        for (ms, n) in [(old_ms, 3), (recent_ms, 2)] {
            let lines: Vec<String> = (0..n).map(|i| old_record(ms + i, i).1).collect();
            let at = chrono::DateTime::from_timestamp_millis(ms as i64)
                .expect("time")
                .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8"));
            let day = dir
                .path()
                .join("records")
                .join(at.format("%Y-%m-%d").to_string());
            std::fs::create_dir_all(&day).expect("day folder");
            let hour = day.join(at.format("%H.jsonl").to_string());
            std::fs::write(&hour, lines.join("\n") + "\n").expect("hour file");
            old_paths.push((day, hour, at));
        }
        let path = dir.path().to_path_buf();
        let app = app(move |spawn| {
            spawn.register_settings(move |config| {
                config.dir = path;
                config.expired = expired;
            })
        });
        let status = eventually_expired(&app, 3).await;
        assert_eq!(status.expired, 3, "only the old hour's records: {status:?}");
        let (old_day, old_hour, old_at) = &old_paths[0];
        assert!(
            !old_hour.exists() && !old_day.exists(),
            "the old hour is gone"
        );
        assert!(!old_hour.with_extension("idx").exists());
        assert!(old_paths[1].1.exists(), "the recent hour stays");
        let archived = dir
            .path()
            .join("archive")
            .join(old_at.format("%Y-%m-%d/%H.jsonl.gz").to_string());
        match expired {
            Expiry::Archive => {
                assert_eq!(status.archived, 3);
                assert_eq!(gunzip(&archived).lines().count(), 3);
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&archived)
                    .expect("archive")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "the archive is the owner's only");
            }
            Expiry::Delete => {
                assert_eq!(status.archived, 0);
                assert!(!dir.path().join("archive").exists());
            }
        }
        let metrics = app.metrics().await;
        assert!(
            metrics.contains("jiangcheng_register_records_total{outcome=\"expired\"} 3"),
            "{metrics}"
        );
    }
}

#[actix_web::test]
async fn the_redis_stream_is_trimmed_by_age_with_its_id_index_and_archived_first() {
    let server = RedisServer::start();
    let mut connection = server.connection();
    let old_ms = now_ms() - 200 * DAY_MS;
    let mut old_ids = Vec::new();
    for n in 0..5 {
        let (id, line) = old_record(old_ms + n, n);
        // Stamped by Redis 200 days ago, as a record stored then would be.
        let entry: String = redis::cmd("XADD")
            .arg("jc:{audit}:records")
            .arg(format!("{}-0", old_ms + n))
            .arg("r")
            .arg(&line)
            .query(&mut connection)
            .expect("XADD");
        let _: u64 = redis::cmd("HSET")
            .arg("jc:{audit}:ids")
            .arg(&id)
            .arg(&entry)
            .query(&mut connection)
            .expect("HSET");
        old_ids.push(id);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().to_path_buf();
    let sink = Sink::Redis {
        url: server.url(),
        prefix: jiangcheng::register::DEFAULT_PREFIX.to_owned(),
    };
    let app = app(move |spawn| {
        spawn
            .register(sink, 65_536)
            .register_settings(move |config| config.archive_dir = Some(archive))
    });
    let status = eventually_expired(&app, 5).await;
    assert_eq!((status.expired, status.archived), (5, 5), "{status:?}");
    let decision = batch(&app, 1).await;
    let register = app.service.register().expect("on");
    let started = Instant::now();
    while register.status().stored < BATCH {
        assert!(started.elapsed() < Duration::from_secs(20));
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let (length, _, _) = redis_records(&server);
    let mut id_keys = vec!["jc:{audit}:ids".to_owned()];
    id_keys.extend(
        record_shards(&mut connection)
            .into_iter()
            .map(|(_, ids)| ids),
    );
    let mut ids: Vec<String> = Vec::new();
    for ids_key in id_keys {
        let keys: Vec<String> = redis::cmd("HKEYS")
            .arg(&ids_key)
            .query(&mut connection)
            .expect("HKEYS");
        ids.extend(keys);
    }
    assert_eq!(length, BATCH, "only the new records stay in the stream");
    assert_eq!(ids.len() as u64, BATCH, "and in the id index");
    assert!(old_ids.iter().all(|id| !ids.contains(id)));
    let lock: Option<String> = redis::cmd("GET")
        .arg("jc:{audit}:retention")
        .query(&mut connection)
        .expect("GET");
    assert_eq!(lock, None, "the retention lock is released");
    let archived: Vec<String> = ids_of_archive(dir.path());
    assert_eq!(archived, old_ids, "archived before they were trimmed");
    let created = app.post_json("/v1/feedback", &applied(&decision)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

pub fn ids_of_archive(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for path in files_under(dir) {
        if path.to_string_lossy().ends_with(".jsonl.gz") {
            for line in gunzip(&path).lines() {
                let record: Value = serde_json::from_str(line).expect("JSON");
                ids.push(record["record_id"].as_str().expect("id").to_owned());
            }
        }
    }
    ids
}
