//! The Redis list source against a real `redis-server` on a free loopback port (tests/run.sh
//! installs Debian's package when it is missing).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jiangcheng::lists::source::{
    ListSource, Loaded, ReplicaWait, Source, DEFAULT_CONNECTIONS, DEFAULT_PREFIX, DEFAULT_TIMEOUT,
};
use jiangcheng::lists::{read_file, EntryRef};
use jiangcheng::ruleset::{self, RuleSet};
use redis::Commands;
use serde_json::{json, Value};

use crate::follow::status_until;
use crate::helpers::{
    demo_lists, entry, entry_with, rid, rules_dir, uscc, write_jsonl, Spawn, TestApp, AS_OF,
    AS_OF_QUERY,
};

const BIN: &str = env!("CARGO_BIN_EXE_jiangcheng");

/// A throw-away `redis-server` on a free loopback port, its files in a temp dir, stopped on
/// drop. `durable()` turns on the append-only file with an fsync per write, so a restart keeps
/// every acknowledged write.
pub struct RedisServer {
    child: Child,
    port: u16,
    durable: bool,
    /// The port of the master this server replicates.
    replica_of: Option<u16>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        Self::launch(
            tempfile::tempdir().expect("temp dir"),
            crate::process::free_port(),
            false,
        )
    }

    pub fn durable() -> RedisServer {
        Self::launch(
            tempfile::tempdir().expect("temp dir"),
            crate::process::free_port(),
            true,
        )
    }

    /// A replica of `master`, already in sync with it.
    pub fn replica_of(master: &RedisServer) -> RedisServer {
        let server = Self::launch_with(
            tempfile::tempdir().expect("temp dir"),
            crate::process::free_port(),
            false,
            Some(master.port),
        );
        let started = Instant::now();
        while !redis::cmd("INFO")
            .arg("replication")
            .query::<String>(&mut server.connection())
            .is_ok_and(|info| info.contains("master_link_status:up"))
        {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "replica never synced"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn launch(dir: tempfile::TempDir, port: u16, durable: bool) -> RedisServer {
        Self::launch_with(dir, port, durable, None)
    }

    fn launch_with(
        dir: tempfile::TempDir,
        port: u16,
        durable: bool,
        replica_of: Option<u16>,
    ) -> RedisServer {
        let child = Self::spawn(dir.path(), port, durable, replica_of);
        let server = RedisServer {
            child,
            port,
            durable,
            replica_of,
            dir,
        };
        server.wait_ready();
        server
    }

    fn spawn(dir: &Path, port: u16, durable: bool, replica_of: Option<u16>) -> Child {
        let persistence: &[&str] = if durable {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .args(persistence)
            .args(replica_of.into_iter().flat_map(|master| {
                [
                    "--replicaof".to_owned(),
                    "127.0.0.1".to_owned(),
                    master.to_string(),
                ]
            }))
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed: tests/run.sh installs Debian's package")
    }

    fn wait_ready(&self) {
        wait_answering(&self.url());
    }

    /// Kills the server without warning (SIGKILL) and starts it again on the same port and files.
    pub fn crash_and_restart(&mut self) {
        self.crash();
        self.restart();
    }

    /// Kills the server without warning (SIGKILL).
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Writes the data to disk (`SAVE`) and answers where: `dump.rdb` in its folder.
    fn save(&self) -> std::path::PathBuf {
        let _: () = redis::cmd("SAVE").query(&mut self.connection()).unwrap();
        self.dir.path().join("dump.rdb")
    }

    /// A server on a port of its own that starts from the data `dump` holds.
    fn from_dump(dump: &Path) -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(dump, dir.path().join("dump.rdb")).expect("copy the dump");
        Self::launch(dir, crate::process::free_port(), false)
    }

    /// Kills the server and starts it again on the same port from the data `dump` holds.
    fn restart_from(&mut self, dump: &Path) {
        self.crash();
        std::fs::copy(dump, self.dir.path().join("dump.rdb")).expect("copy the dump");
        self.restart();
    }

    /// Starts the server again on the same port and files.
    pub fn restart(&mut self) {
        self.child = Self::spawn(self.dir.path(), self.port, self.durable, self.replica_of);
        self.wait_ready();
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the `redis-server` at `url` answers `PING` (bounded).
pub fn wait_answering(url: &str) {
    let client = redis::Client::open(url).expect("client");
    let started = Instant::now();
    while client
        .get_connection()
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rules() -> RuleSet {
    ruleset::load_dir(&rules_dir()).unwrap()
}

pub fn import(server: &RedisServer, lists: &Path) -> Output {
    import_with(server, lists, &[])
}

/// `jiangcheng import` with `extra` arguments.
pub fn import_with(server: &RedisServer, lists: &Path, extra: &[&str]) -> Output {
    import_into(&server.url(), lists, extra)
}

/// `jiangcheng import` into the Redis at `url`, with `extra` arguments.
pub fn import_into(url: &str, lists: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("import")
        .arg("--lists")
        .arg(lists)
        .args(["--redis", url])
        .arg("--rules")
        .arg(rules_dir())
        .args(extra)
        .env_remove("JC_MAX_LIST_SHRINK")
        .env_remove("JC_LIST_SHRINK_MIN_ENTRIES")
        .output()
        .expect("run jiangcheng import")
}

/// Entries in a comparable form: their exchange records as JSON, sorted.
fn records<'a>(entries: impl Iterator<Item = EntryRef<'a>>, rules: &RuleSet) -> Vec<String> {
    let mut out: Vec<String> = entries
        .map(|e| serde_json::to_string(&e.record(rules).unwrap()).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn importing_the_demo_lists_stores_every_entry_and_loads_back_the_same() {
    let server = RedisServer::start();
    let output = import(&server, &demo_lists());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rules = rules();
    let from_file = read_file(&demo_lists(), &rules).unwrap();
    let source = redis_lists(&server.url());
    let Loaded {
        index, position, ..
    } = source.load(&rules).unwrap();
    let version = position.unwrap().version;
    assert_eq!(
        version,
        from_file.len() as u64,
        "one version per written entry"
    );
    assert_eq!(
        records(index.iter(), &rules),
        records(from_file.iter().map(EntryRef::from), &rules)
    );
    let changes: u64 = redis::cmd("XLEN")
        .arg(format!("{DEFAULT_PREFIX}changes"))
        .query(&mut server.connection())
        .unwrap();
    assert_eq!(changes, version, "every change has its stream record");
}

#[test]
fn importing_the_same_file_again_changes_nothing() {
    let server = RedisServer::start();
    assert!(import(&server, &demo_lists()).status.success());
    let source = redis_lists(&server.url());
    let before = source.version().unwrap();
    let again = import(&server, &demo_lists());
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("(0 changed, 351 already so)"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(source.version().unwrap(), before);
}

#[test]
fn a_malformed_file_is_refused_line_by_line_and_writes_nothing() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("bad.jsonl");
    write_jsonl(
        &lists,
        &[
            entry("R-1", "court_dishonest_debtor", &uscc("91", 1)),
            entry("R-2", "no_such_list", &uscc("91", 2)),
        ],
    );
    std::fs::write(&lists, std::fs::read_to_string(&lists).unwrap() + "{oops\n").unwrap();
    let output = import(&server, &lists);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "{}:2: list: unknown list `no_such_list`",
            lists.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:3: invalid JSON", lists.display())),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let source = redis_lists(&server.url());
    assert_eq!(source.version().unwrap(), 0);
    let keys: Vec<String> = server.connection().keys("*").unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

#[test]
fn a_changed_entry_moves_between_subjects_atomically() {
    let server = RedisServer::start();
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    let (first, second) = (uscc("91", 11), uscc("91", 12));
    write_jsonl(&lists, &[entry("M-1", "court_dishonest_debtor", &first)]);
    let source = redis_lists(&server.url());
    let stats = source
        .import(&read_file(&lists, &rules).unwrap(), &rules, &|_| {})
        .unwrap();
    assert_eq!((stats.changed, stats.version), (1, 1));
    write_jsonl(&lists, &[entry("M-1", "court_dishonest_debtor", &second)]);
    let stats = source
        .import(&read_file(&lists, &rules).unwrap(), &rules, &|_| {})
        .unwrap();
    assert_eq!((stats.changed, stats.version), (1, 2));
    let mut con = server.connection();
    let old: Vec<String> = con
        .smembers(format!("{DEFAULT_PREFIX}subject:{first}"))
        .unwrap();
    let new: Vec<String> = con
        .smembers(format!("{DEFAULT_PREFIX}subject:{second}"))
        .unwrap();
    assert!(
        old.is_empty() && new == vec!["M-1".to_owned()],
        "{old:?} {new:?}"
    );
    let Loaded {
        index, position, ..
    } = source.load(&rules).unwrap();
    assert_eq!((index.len(), position.unwrap().version), (1, 2));
}

/// The lists in `url` under the default prefix, as the service opens them.
pub fn redis_lists(url: &str) -> Source {
    ListSource::parse(url, DEFAULT_PREFIX, DEFAULT_TIMEOUT, DEFAULT_CONNECTIONS)
        .expect("a redis:// URL")
        .open(Default::default())
}

pub fn redis_source(server: &RedisServer) -> ListSource {
    ListSource::Redis {
        url: server.url(),
        prefix: DEFAULT_PREFIX.to_owned(),
        timeout: DEFAULT_TIMEOUT,
        connections: DEFAULT_CONNECTIONS,
        wait: ReplicaWait::for_url(&server.url()),
    }
}

#[actix_web::test]
async fn a_server_on_the_redis_source_decides_like_one_on_the_file() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let from_redis = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let from_file = Spawn::demo().start();
    let status: Value = from_redis.get_json("/v1/status").await;
    assert_eq!(status["lists"]["source"], "redis");
    assert_eq!(status["lists"]["version"], 351);
    assert_eq!(status["lists"]["entries"], 351);
    for (subject, matter) in [
        ("91230200MA1B2C3D8T", "gov_procurement"),
        ("230202198503121238", "high_consumption"),
        ("91230202MA18XK7PXM", "admin_license_general"),
        ("912302061276543275", "construction_bidding"),
    ] {
        let request = json!({"subject": {"id": subject}, "matter": matter, "as_of": AS_OF});
        let mut a: Value = from_redis.post_decide(&request).await.json().await.unwrap();
        let mut b: Value = from_file.post_decide(&request).await.json().await.unwrap();
        for decision in [&mut a, &mut b] {
            let object = decision.as_object_mut().unwrap();
            object.remove("decision_id");
            object.remove("lists_version");
        }
        assert_eq!(a, b, "{subject} in {matter}");
    }
}

#[actix_web::test]
async fn a_reload_from_redis_takes_the_new_version_and_entries() {
    let redis = RedisServer::start();
    let rules = rules();
    let source = redis_lists(&redis.url());
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    let (listed, later) = (uscc("91", 21), uscc("91", 22));
    write_jsonl(&lists, &[entry("L-1", "court_dishonest_debtor", &listed)]);
    source
        .import(&read_file(&lists, &rules).unwrap(), &rules, &|_| {})
        .unwrap();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let decide =
        |id: String| json!({"subject": {"id": id}, "matter": "gov_procurement", "as_of": AS_OF});
    let before: Value = app
        .post_decide(&decide(later.clone()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            before["decision"].as_str(),
            before["lists_version"].as_u64()
        ),
        (Some("allow"), Some(1))
    );

    write_jsonl(&lists, &[entry("L-2", "court_dishonest_debtor", &later)]);
    source
        .import(&read_file(&lists, &rules).unwrap(), &rules, &|_| {})
        .unwrap();
    app.service.reload().unwrap();
    let after: Value = app.post_decide(&decide(later)).await.json().await.unwrap();
    assert_eq!(
        (after["decision"].as_str(), after["lists_version"].as_u64()),
        (Some("block"), Some(2))
    );
}

#[actix_web::test]
async fn with_redis_gone_a_reload_fails_and_the_last_snapshot_keeps_serving() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    drop(redis);
    assert!(app.service.reload().is_err());
    let request = json!({"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement", "as_of": AS_OF});
    let decision: Value = app.post_decide(&request).await.json().await.unwrap();
    assert_eq!(decision["decision"], "block");
    let status: Value = app.get_json("/v1/status").await;
    assert!(
        status["last_load"]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("redis:"),
        "{status}"
    );
}

/// Writes entries to Redis the way an import does.
pub fn write(redis: &RedisServer, entries: &[Value]) {
    let rules = rules();
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(&lists, entries);
    let source = redis_lists(&redis.url());
    source
        .import(&read_file(&lists, &rules).unwrap(), &rules, &|_| {})
        .unwrap();
}

/// Polls `decide` until it answers `expected` (bounded: a change must arrive within seconds).
pub async fn eventually_decides(
    app: &crate::helpers::TestApp,
    subject: &str,
    matter: &str,
    expected: &str,
) -> Value {
    let request = json!({"subject": {"id": subject}, "matter": matter, "as_of": AS_OF});
    let started = Instant::now();
    loop {
        let decision: Value = app.post_decide(&request).await.json().await.unwrap();
        if decision["decision"] == expected {
            return decision;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{subject} in {matter}: still {decision}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_change_written_to_redis_reaches_every_instance() {
    let redis = RedisServer::start();
    let (company, person) = (uscc("91", 31), "230202198503121238");
    write(&redis, &[entry("F-0", "tax_a_grade", &uscc("91", 30))]);
    let instances: Vec<_> = (0..3)
        .map(|_| Spawn::source(rules_dir(), redis_source(&redis)).start())
        .collect();

    let listed = json!({"entry_id": "F-1", "list": "court_dishonest_debtor", "subject_id": company, "listed_on": "2026-01-01",
                        "responsible_persons": [{"role": "legal_rep", "id": person}]});
    write(&redis, std::slice::from_ref(&listed));
    for app in &instances {
        let decision = eventually_decides(app, &company, "gov_procurement", "block").await;
        assert_eq!(decision["lists_version"], 2);
        let via = eventually_decides(app, person, "high_consumption", "block").await;
        assert_eq!(via["reasons"][0]["via"]["role"], "legal_rep");
    }

    // The court deletes the entry: it stops counting everywhere, for the company and the person.
    let mut removed = listed;
    removed["status"] = json!("removed");
    write(&redis, &[removed]);
    for app in &instances {
        eventually_decides(app, &company, "gov_procurement", "allow").await;
        eventually_decides(app, person, "high_consumption", "allow").await;
        let status: Value = app.get_json("/v1/status").await;
        assert_eq!(status["lists"]["version"], 3);
        assert_eq!(status["lists"]["entries"], 2);
        assert_eq!(status["lists"]["stale"], false);
        assert_eq!(status["lists"]["follow"]["changes_applied"], 2);
    }
}

#[actix_web::test]
async fn an_instance_behind_a_trimmed_stream_resyncs_whole() {
    let redis = RedisServer::start();
    write(
        &redis,
        &[entry("T-0", "court_dishonest_debtor", &uscc("91", 40))],
    );
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    // The instance loses sight of the stream (its follower may no longer read it), and falls
    // behind while the writes land and the stream is trimmed past them.
    let acl = |rule: &str| {
        let _: () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg("default")
            .arg(rule)
            .query(&mut redis.connection())
            .unwrap();
    };
    status_until(&app, "the follower reading", Duration::from_secs(10), |s| {
        s["lists"]["follow"]["connected"] == true
    })
    .await;
    acl("-xread");
    status_until(&app, "the follower cut off", Duration::from_secs(10), |s| {
        s["lists"]["follow"]["connected"] == false
    })
    .await;
    let late = uscc("91", 41);
    write(
        &redis,
        &[
            entry("T-1", "tax_a_grade", &uscc("91", 42)),
            entry("T-2", "court_dishonest_debtor", &late),
        ],
    );
    let _: u64 = redis::cmd("XTRIM")
        .arg(format!("{DEFAULT_PREFIX}changes"))
        .arg("MAXLEN")
        .arg(0)
        .query(&mut redis.connection())
        .unwrap();
    assert_eq!(app.lists_version().await, 1, "the instance is behind");
    acl("+xread");

    let decision = eventually_decides(&app, &late, "gov_procurement", "block").await;
    assert_eq!(decision["lists_version"], 3);
    let status: Value = app.get_json("/v1/status").await;
    assert_eq!(status["lists"]["follow"]["resyncs"], 1, "{status}");
}

/// A replica that missed the last writes takes over (here: the server restarts from data saved
/// before them), and new writes carry its version past the instance's before the instance
/// reconnects. The same version number now stands for other changes: the instance notices that
/// the change it stands on is not the store's and loads the lists whole, dropping the lost
/// entries and taking the new ones.
#[actix_web::test]
async fn an_instance_ahead_of_a_store_that_lost_its_last_writes_resyncs_when_new_writes_pass_it() {
    let court = "court_dishonest_debtor";
    let mut redis = RedisServer::start();
    let kept = uscc("91", 60);
    write(&redis, &[entry("D-0", court, &kept)]);
    let before = redis.save();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();

    let lost = [uscc("91", 61), uscc("91", 62)];
    for (i, subject) in lost.iter().enumerate() {
        write(&redis, &[entry(&format!("D-L{i}"), court, subject)]);
    }
    eventually_decides(&app, &lost[1], "gov_procurement", "block").await;
    assert_eq!(app.lists_version().await, 3);

    // The history after version 1 goes another way, three writes long, before the instance
    // sees the server again.
    let other = RedisServer::from_dump(&before);
    let new = [uscc("91", 63), uscc("91", 64), uscc("91", 65)];
    for (i, subject) in new.iter().enumerate() {
        write(&other, &[entry(&format!("D-N{i}"), court, subject)]);
    }
    redis.restart_from(&other.save());

    for subject in &new {
        eventually_decides(&app, subject, "gov_procurement", "block").await;
    }
    for subject in &lost {
        eventually_decides(&app, subject, "gov_procurement", "allow").await;
    }
    eventually_decides(&app, &kept, "gov_procurement", "block").await;
    let status: Value = app.get_json("/v1/status").await;
    assert_eq!(status["lists"]["version"], 4, "{status}");
    assert_eq!(status["lists"]["entries"], 4, "{status}");
    // A first full load may fail on a connection the restart closed, and is tried again.
    assert!(
        status["lists"]["follow"]["resyncs"].as_u64() >= Some(1),
        "{status}"
    );
}

#[actix_web::test]
async fn without_redis_an_instance_keeps_deciding_and_reports_stale() {
    let redis = RedisServer::start();
    let company = uscc("91", 50);
    write(&redis, &[entry("O-1", "court_dishonest_debtor", &company)]);
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let started = Instant::now();
    while app.get_json("/v1/status").await["lists"]["follow"]["connected"] != true {
        assert!(started.elapsed() < Duration::from_secs(10));
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    drop(redis);
    let started = Instant::now();
    loop {
        let status: Value = app.get_json("/v1/status").await;
        if status["lists"]["stale"] == true {
            assert!(
                status["lists"]["staleness_seconds"].as_f64().is_some(),
                "{status}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{status}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    eventually_decides(&app, &company, "gov_procurement", "block").await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("jiangcheng_lists_stale 1"), "{metrics}");
}

#[actix_web::test]
async fn replacing_a_list_swaps_its_content_and_leaves_the_others_alone() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let rules = rules();
    let demo = read_file(&demo_lists(), &rules).unwrap();
    let tax_a = rules.list_id("tax_a_grade").unwrap();
    let on_list = demo.iter().filter(|e| e.facts.list == tax_a).count();
    let kept = demo
        .iter()
        .find(|e| &*e.entry_id == "QQHR-SW-2026-A0001")
        .unwrap()
        .to_record(&rules);
    let fresh = uscc("91", 80);

    let dir = tempfile::tempdir().unwrap();
    let push = dir.path().join("tax_a_grade.jsonl");
    write_jsonl(
        &push,
        &[
            serde_json::to_value(&kept).unwrap(),
            entry("SW-NEW-1", "tax_a_grade", &fresh),
        ],
    );
    let output = Command::new(BIN)
        .arg("import")
        .arg("--lists")
        .arg(&push)
        .args(["--redis", &redis.url(), "--replace-list", "tax_a_grade"])
        .arg("--rules")
        .arg(rules_dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "2 entries (1 changed, 1 already so), {} removed",
            on_list - 1
        )),
        "{stderr}"
    );

    let source = redis_lists(&redis.url());
    let index = source.load(&rules).unwrap().index;
    assert_eq!(index.count(tax_a), 2);
    assert_eq!(index.len(), demo.len() - on_list + 2);
    let started = Instant::now();
    while app.get_json("/v1/status").await["lists"]["per_list"]["tax_a_grade"] != 2 {
        assert!(started.elapsed() < Duration::from_secs(10));
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    // A replacement file with an entry of another list is refused before anything is written.
    let version = source.version().unwrap();
    write_jsonl(&push, &[entry("SW-NEW-2", "tax_d_grade", &fresh)]);
    let refused = Command::new(BIN)
        .arg("import")
        .arg("--lists")
        .arg(&push)
        .args(["--redis", &redis.url(), "--replace-list", "tax_a_grade"])
        .arg("--rules")
        .arg(rules_dir())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("a replacement file holds one list"));
    assert_eq!(source.version().unwrap(), version);
}

#[actix_web::test]
async fn a_redis_crash_in_the_middle_of_a_write_load_loses_and_duplicates_nothing() {
    let mut redis = RedisServer::durable();
    let url = redis.url();
    let instances: Vec<_> = (0..2)
        .map(|_| Spawn::source(rules_dir(), redis_source(&redis)).start())
        .collect();

    // A writer thread: 400 entries, each retried until Redis acknowledges it.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let rules = rules();
            let source = redis_lists(&url);
            let dir = tempfile::tempdir().unwrap();
            let lists = dir.path().join("one.jsonl");
            let mut acknowledged = Vec::new();
            for i in 0..400u64 {
                write_jsonl(
                    &lists,
                    &[entry(
                        &format!("W-{i}"),
                        "court_dishonest_debtor",
                        &uscc("93", i),
                    )],
                );
                let one = read_file(&lists, &rules).unwrap();
                let started = Instant::now();
                loop {
                    match source.put(
                        &one[0],
                        &rules,
                        None,
                        jiangcheng::timestamp::Timestamp::now(),
                    ) {
                        Ok(outcome) => {
                            acknowledged.push(outcome.version);
                            break;
                        }
                        Err(_) => {
                            assert!(
                                started.elapsed() < Duration::from_secs(20),
                                "redis did not come back"
                            );
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                done.store(i as usize + 1, std::sync::atomic::Ordering::Relaxed);
            }
            acknowledged
        })
    };
    while done.load(std::sync::atomic::Ordering::Relaxed) < 150 {
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    redis.crash_and_restart();
    let acknowledged = actix_web::rt::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    assert_eq!(acknowledged.len(), 400);

    // Redis holds every acknowledged write once, and every instance converges to Redis.
    let rules = rules();
    let source = redis_lists(&redis.url());
    let Loaded {
        index: truth,
        position,
        ..
    } = source.load(&rules).unwrap();
    let version = position.unwrap().version;
    assert_eq!(
        (truth.len(), version),
        (400, 400),
        "no write lost, none applied twice"
    );
    let expected = records(truth.iter(), &rules);
    for app in &instances {
        let started = Instant::now();
        while app.service.snapshots.current().unwrap().lists_version != version {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "an instance did not catch up"
            );
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        let snapshot = app.service.snapshots.current().unwrap();
        assert_eq!(records(snapshot.lists.iter(), &rules), expected);
        assert_eq!(snapshot.lists.len(), 400);
    }
}

/// The shipped rule set, copied to a temp dir, with `court_dishonest_debtor` marked cold.
pub fn cold_court_rules() -> (tempfile::TempDir, RuleSet) {
    let rules_copy = tempfile::tempdir().unwrap();
    crate::helpers::copy_rules(rules_copy.path());
    let lists_toml = rules_copy.path().join("lists.toml");
    let text = std::fs::read_to_string(&lists_toml).unwrap();
    let text = text.replacen(
        "code = \"court_dishonest_debtor\"\n",
        "code = \"court_dishonest_debtor\"\ncold = true\n",
        1,
    );
    std::fs::write(&lists_toml, text).unwrap();
    let cold_rules = ruleset::load_dir(rules_copy.path()).unwrap();
    assert!(cold_rules.has_cold_lists());
    (rules_copy, cold_rules)
}

/// The shipped rule set with `court_dishonest_debtor` cold, served over `redis` holding
/// `entries`, imported before the server starts; the rule set's folder lives as long as the
/// returned guard.
fn serve_cold(redis: &RedisServer, entries: &[Value]) -> (tempfile::TempDir, TestApp) {
    serve_cold_as(redis, entries, |spawn| spawn)
}

/// [`serve_cold`], with the server's settings changed by `adjust`.
fn serve_cold_as(
    redis: &RedisServer,
    entries: &[Value],
    adjust: impl FnOnce(Spawn) -> Spawn,
) -> (tempfile::TempDir, TestApp) {
    let (rules_copy, cold_rules) = cold_court_rules();
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(&lists, entries);
    redis_lists(&redis.url())
        .import(
            &read_file(&lists, &cold_rules).unwrap(),
            &cold_rules,
            &|_| {},
        )
        .unwrap();
    let app = adjust(Spawn::source(
        rules_copy.path().to_path_buf(),
        redis_source(redis),
    ))
    .start();
    (rules_copy, app)
}

#[actix_web::test]
async fn cold_lists_are_looked_up_on_demand_cached_invalidated_and_survive_an_outage() {
    let redis = RedisServer::start();
    let (cold_a, cold_b, hot) = (uscc("91", 90), uscc("91", 91), uscc("91", 92));
    let cold_entry = entry("K-1", "court_dishonest_debtor", &cold_a);
    let (_rules, app) = serve_cold(
        &redis,
        &[
            cold_entry.clone(),
            entry("K-2", "court_dishonest_debtor", &cold_b),
            entry("K-3", "tax_major_violation", &hot),
        ],
    );
    let status: Value = app.get_json("/v1/status").await;
    assert_eq!(
        status["lists"]["entries"], 1,
        "only the hot entry is held in memory: {status}"
    );

    let decide =
        |id: &str| json!({"subject": {"id": id}, "matter": "gov_procurement", "as_of": AS_OF});
    let first: Value = app
        .post_decide(&decide(&cold_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["decision"], "block", "{first}");
    assert_eq!(first["reasons"][0]["entry_id"], "K-1");
    let again: Value = app
        .post_decide(&decide(&cold_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["decision"], "block");
    let batch: Value = app
        .post_batch(&json!({"matter": "gov_procurement", "as_of": AS_OF, "subjects": [{"id": cold_a}, {"id": "bad"}, {"id": hot}, {"id": uscc("91", 93)}]}))
        .await
        .json()
        .await
        .unwrap();
    let decisions: Vec<&str> = batch["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["decision"].as_str().unwrap_or("invalid"))
        .collect();
    assert_eq!(decisions, ["block", "invalid", "block", "allow"]);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("jiangcheng_cold_cache{result=\"hit\"} 2"),
        "{metrics}"
    );

    // A removal reaches the cold entry through the stream: the cached lookup is dropped.
    let mut removed = cold_entry;
    removed["status"] = json!("removed");
    write(&redis, &[removed]);
    let started = Instant::now();
    loop {
        let decision: Value = app
            .post_decide(&decide(&cold_a))
            .await
            .json()
            .await
            .unwrap();
        if decision["decision"] == "allow" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{decision}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    // Redis gone: what is cached still decides; what is not gets a warning, not an error.
    drop(redis);
    let cached: Value = app
        .post_decide(&decide(&cold_a))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            cached["decision"].as_str(),
            cached["warnings"].as_array().map(Vec::len)
        ),
        (Some("allow"), Some(0))
    );
    let uncached: Value = app
        .post_decide(&decide(&cold_b))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(uncached["decision"], "allow");
    assert_eq!(
        uncached["warnings"][0]["code"], "cold_list_unavailable",
        "{uncached}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("jiangcheng_cold_cache{result=\"unavailable\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_cold_list_entry_is_shown_in_the_profile_until_a_change_ends_it() {
    let redis = RedisServer::start();
    let (cold_a, cold_b) = (uscc("91", 94), uscc("91", 95));
    let cold_entry = entry("K-4", "court_dishonest_debtor", &cold_a);
    let (_rules, app) = serve_cold(
        &redis,
        &[
            cold_entry.clone(),
            entry("K-5", "court_dishonest_debtor", &cold_b),
        ],
    );
    let profile_of = |id: &str| format!("/v1/subjects/{id}?as_of={AS_OF_QUERY}");

    let profile: Value = app.get_json(&profile_of(&cold_a)).await;
    assert_eq!(profile["entries"][0]["entry_id"], "K-4", "{profile}");
    assert_eq!(profile["entries"][0]["state"], "in_force", "{profile}");
    assert_eq!(profile["entries"].as_array().map(Vec::len), Some(1));
    assert!(
        profile["topics"].as_array().is_some_and(|t| !t.is_empty()),
        "{profile}"
    );
    assert_eq!(profile["warnings"], json!([]), "{profile}");

    // The change stream drops the cached lookup: the profile shows the entry as removed.
    let mut removed = cold_entry;
    removed["status"] = json!("removed");
    write(&redis, &[removed]);
    let started = Instant::now();
    loop {
        let profile: Value = app.get_json(&profile_of(&cold_a)).await;
        if profile["entries"][0]["state"] == "removed" {
            assert_eq!(profile["topics"], json!([]), "{profile}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{profile}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }

    // Redis gone, the subject not cached: the profile is served from memory, and says so.
    drop(redis);
    let profile: Value = app.get_json(&profile_of(&cold_b)).await;
    assert_eq!(profile["entries"], json!([]), "{profile}");
    assert_eq!(
        profile["warnings"][0]["code"], "cold_list_unavailable",
        "{profile}"
    );
}

/// Asks for `subject`'s decision in `matter` until it is `expected` (a change reaches the
/// instance through its follower).
async fn decided_eventually(app: &TestApp, subject: &str, matter: &str, expected: &str) -> Value {
    let started = Instant::now();
    loop {
        let decision = app.decide(subject, matter, AS_OF).await;
        if decision["decision"] == expected {
            return decision;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{decision}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_person_named_in_a_cold_list_entry_is_reached_through_it_until_a_change_ends_it() {
    let redis = RedisServer::start();
    let company = uscc("91", 96);
    let (person, successor) = (rid(960), rid(961));
    let names = |id: &str| json!({"responsible_persons": [{"role": "legal_rep", "id": id}]});
    let named = entry_with("K-6", "court_dishonest_debtor", &company, names(&person));
    // The company's second cold entry names nobody: it must not become the person's own.
    let (_rules, app) = serve_cold(
        &redis,
        &[
            named.clone(),
            entry("K-7", "court_dishonest_debtor", &company),
        ],
    );
    let status: Value = app.get_json("/v1/status").await;
    assert_eq!(status["lists"]["entries"], 0, "{status}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("jiangcheng_cold_list_namings 1\n"),
        "{metrics}"
    );

    // The full load found who the cold entry names: the person is reached through it.
    let decision = app.decide(&person, "high_consumption", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    let reasons = decision["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty(), "{decision}");
    for reason in reasons {
        assert_eq!(reason["entry_id"], "K-6", "{decision}");
        assert_eq!(
            reason["via"],
            json!({"entry_id": "K-6", "subject_id": company, "role": "legal_rep"}),
            "{decision}"
        );
    }
    assert_eq!(decision["warnings"], json!([]), "{decision}");

    let batch: Value = app
        .post_batch(&json!({"matter": "high_consumption", "as_of": AS_OF,
            "subjects": [{"id": successor}, {"id": "bad"}, {"id": person}, {"id": company}]}))
        .await
        .json()
        .await
        .unwrap();
    let results = batch["results"].as_array().expect("results");
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["decision"].as_str().unwrap_or("invalid"))
        .collect();
    assert_eq!(outcomes, ["allow", "invalid", "block", "block"], "{batch}");
    assert_eq!(results[2]["reasons"], decision["reasons"], "{batch}");
    let own: Vec<&Value> = results[3]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| &r["via"])
        .collect();
    assert!(own.iter().all(|via| via.is_null()), "{batch}");

    let profile_of = |id: &str| format!("/v1/subjects/{id}?as_of={AS_OF_QUERY}");
    let profile: Value = app.get_json(&profile_of(&person)).await;
    assert_eq!(profile["entries"], json!([]), "{profile}");
    let named_in = profile["named_in"].as_array().expect("named_in");
    assert_eq!(named_in.len(), 1, "{profile}");
    assert_eq!(
        (
            &named_in[0]["entry_id"],
            &named_in[0]["role"],
            &named_in[0]["subject_id"],
            &named_in[0]["state"]
        ),
        (
            &json!("K-6"),
            &json!("legal_rep"),
            &json!(company),
            &json!("in_force")
        ),
        "{profile}"
    );
    assert_eq!(
        profile["topics"],
        json!(["court_dishonest_debtor"]),
        "{profile}"
    );

    // The company names a new legal representative through the admin API: the follower's
    // change moves the reason from the one to the other.
    let mut changed = named;
    changed["responsible_persons"] = json!([{"role": "legal_rep", "id": successor}]);
    let response = app
        .client
        .put(app.url("/v1/lists/court_dishonest_debtor/entries/K-6"))
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reached = decided_eventually(&app, &successor, "high_consumption", "block").await;
    assert_eq!(reached["reasons"][0]["via"]["entry_id"], "K-6", "{reached}");
    let left = app.decide(&person, "high_consumption", AS_OF).await;
    assert_eq!(left["decision"], "allow", "{left}");
    let profile: Value = app.get_json(&profile_of(&person)).await;
    assert_eq!(profile["named_in"], json!([]), "{profile}");

    // The entry is removed: the successor is no longer reached either.
    let response = app
        .client
        .delete(app.url("/v1/lists/court_dishonest_debtor/entries/K-6"))
        .json(&json!({"by": "市法院", "reason": "已履行完毕"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    decided_eventually(&app, &successor, "high_consumption", "allow").await;
    let profile: Value = app.get_json(&profile_of(&successor)).await;
    assert_eq!(profile["named_in"], json!([]), "{profile}");
    let company_decision = app.decide(&company, "high_consumption", AS_OF).await;
    assert_eq!(
        company_decision["decision"], "block",
        "K-7 stays: {company_decision}"
    );
}

/// Entries on one list in Redis.
fn on_list(redis: &RedisServer, list: &str) -> u64 {
    redis
        .connection()
        .scard(format!("{DEFAULT_PREFIX}list:{list}"))
        .unwrap()
}

#[test]
fn a_replacement_that_would_empty_or_cut_a_list_writes_nothing_unless_forced() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let source = redis_lists(&redis.url());
    let version = source.version().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let push = dir.path().join("court_dishonest_debtor.jsonl");
    let replace = ["--replace-list", "court_dishonest_debtor"];

    // The designating body's push arrives empty.
    std::fs::write(&push, "").unwrap();
    let refused = import_with(&redis, &push, &replace);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("list `court_dishonest_debtor` would be emptied (it has 30 entries)")
            && stderr.contains("nothing was imported"),
        "{stderr}"
    );
    assert_eq!(source.version().unwrap(), version);
    assert_eq!(on_list(&redis, "court_dishonest_debtor"), 30);

    // Cut to 2 of 30: past the share once the list is held to it.
    let rules = rules();
    let two: Vec<Value> = read_file(&demo_lists(), &rules)
        .unwrap()
        .iter()
        .filter(|e| rules.list(e.facts.list).code == "court_dishonest_debtor")
        .take(2)
        .map(|e| serde_json::to_value(e.to_record(&rules)).unwrap())
        .collect();
    write_jsonl(&push, &two);
    let cut = import_with(
        &redis,
        &push,
        &[&replace[..], &["--list-shrink-min-entries", "10"]].concat(),
    );
    let stderr = String::from_utf8_lossy(&cut.stderr);
    assert!(!cut.status.success(), "{stderr}");
    assert!(
        stderr.contains("list `court_dishonest_debtor` would lose 28 of its 30 entries (93.3%)"),
        "{stderr}"
    );
    assert_eq!(source.version().unwrap(), version);

    // Emptied on purpose.
    std::fs::write(&push, "").unwrap();
    let forced = import_with(&redis, &push, &[&replace[..], &["--force"]].concat());
    let stderr = String::from_utf8_lossy(&forced.stderr);
    assert!(forced.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: forced past the fail-closed guard")
            && stderr.contains("list `court_dishonest_debtor` 30 → 0"),
        "{stderr}"
    );
    assert_eq!(on_list(&redis, "court_dishonest_debtor"), 0);
    assert_eq!(source.version().unwrap(), version + 30);
}

#[test]
fn an_import_that_would_move_every_entry_off_a_list_writes_nothing_unless_forced() {
    let redis = RedisServer::start();
    let ids = ["MV-1", "MV-2", "MV-3"];
    let on = |list: &str| -> Vec<Value> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| entry(id, list, &uscc("91", 60 + i as u64)))
            .collect()
    };
    write(&redis, &on("court_dishonest_debtor"));
    let source = redis_lists(&redis.url());
    let version = source.version().unwrap();
    // An export that labels every entry with the wrong list, under the same ids.
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("mislabelled.jsonl");
    write_jsonl(&lists, &on("tax_d_grade"));
    let refused = import(&redis, &lists);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("list `court_dishonest_debtor` would be emptied (it has 3 entries)"),
        "{stderr}"
    );
    assert_eq!(source.version().unwrap(), version);
    assert_eq!(on_list(&redis, "court_dishonest_debtor"), 3);

    let forced = import_with(&redis, &lists, &["--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(on_list(&redis, "court_dishonest_debtor"), 0);
    assert_eq!(on_list(&redis, "tax_d_grade"), 3);
}

#[actix_web::test]
async fn a_redis_that_lost_its_data_does_not_empty_the_instances_following_it() {
    let mut redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let debtor = "91230200MA1B2C3D8T";
    eventually_decides(&app, debtor, "gov_procurement", "block").await;

    // Restarted without persistence: Redis is empty. The follower resyncs whole, and the
    // guard refuses what it finds.
    redis.crash_and_restart();
    let started = Instant::now();
    loop {
        let status: Value = app.get_json("/v1/status").await;
        if status["last_load"]["refusals"].as_u64() >= Some(1) {
            assert!(
                status["last_load"]["last_refusal"]["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("no entries at all")),
                "{status}"
            );
            assert_eq!(status["lists"]["entries"], 351, "{status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{status}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let decision = app.decide(debtor, "gov_procurement", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");

    // FLUSHALL, and a reload as SIGHUP asks for one: refused too.
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut redis.connection())
        .unwrap();
    let err = app.service.reload().expect_err("an empty Redis is refused");
    assert!(
        matches!(err, jiangcheng::snapshot::LoadError::Refused(_)),
        "{err}"
    );
    assert_eq!(
        app.decide(debtor, "gov_procurement", AS_OF).await["decision"],
        "block"
    );
}

/// A stored cold entry these rules cannot read (on a list only another instance's newer rules
/// know) is skipped: only its filer and the person reached through the filer are decided
/// without their cold lists known in full, and say so; the other subjects of the same batch
/// are decided and cached as usual.
#[actix_web::test]
async fn an_unreadable_cold_entry_leaves_out_only_the_subjects_it_is_read_for() {
    let redis = RedisServer::start();
    let (filer, other, clean) = (uscc("91", 97), uscc("91", 98), uscc("91", 99));
    let person = rid(970);
    let names = json!({"responsible_persons": [{"role": "legal_rep", "id": person}]});
    let (_rules, app) = serve_cold(
        &redis,
        &[
            entry_with("K-10", "court_dishonest_debtor", &filer, names),
            entry("K-11", "court_dishonest_debtor", &other),
        ],
    );
    // Written after the load, as another instance with newer rules would.
    let unknown = entry("K-12", "court_newer_list", &filer);
    let mut con = redis.connection();
    let _: () = con
        .hset(
            format!("{DEFAULT_PREFIX}entries"),
            "K-12",
            unknown.to_string(),
        )
        .unwrap();
    let _: () = con
        .sadd(format!("{DEFAULT_PREFIX}subject:{filer}"), "K-12")
        .unwrap();

    let batch = json!({"matter": "high_consumption", "as_of": AS_OF,
        "subjects": [{"id": filer}, {"id": person}, {"id": other}, {"id": clean}]});
    for _ in 0..2 {
        let answer: Value = app.post_batch(&batch).await.json().await.unwrap();
        let results = answer["results"].as_array().expect("results");
        let seen: Vec<(&str, bool)> = results
            .iter()
            .map(|r| {
                let warned = r["warnings"]
                    .as_array()
                    .expect("warnings")
                    .iter()
                    .any(|w| w["code"] == "cold_list_unavailable");
                (r["decision"].as_str().expect("decision"), warned)
            })
            .collect();
        // The readable entry still counts: the filer and the person stay blocked.
        assert_eq!(
            seen,
            [
                ("block", true),
                ("block", true),
                ("block", false),
                ("allow", false)
            ],
            "{answer}"
        );
    }
    let single = app.decide(&other, "high_consumption", AS_OF).await;
    assert_eq!(single["warnings"], json!([]), "{single}");
    let single = app.decide(&person, "high_consumption", AS_OF).await;
    assert_eq!(
        single["warnings"][0]["code"], "cold_list_unavailable",
        "{single}"
    );
    let metrics = app.metrics().await;
    // Each lookup of the filer skipped the entry (two batches, then the person's decision);
    // the others were cached by the first batch, the filer never.
    assert!(
        metrics.contains("jiangcheng_cold_cache{result=\"unreadable\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("jiangcheng_cold_cache{result=\"unavailable\"} 0"),
        "{metrics}"
    );
}

/// A person named by more subjects' cold entries than a lookup reads is decided from the first
/// of them, and says cold lists were left out; so is a batch's person whose filers the call
/// has no room left for. A person named by few is decided as usual.
#[actix_web::test]
async fn a_person_named_by_more_filers_than_the_bound_is_decided_with_a_warning() {
    let redis = RedisServer::start();
    let (many, few) = (rid(971), rid(972));
    let names = |id: &str| json!({"responsible_persons": [{"role": "legal_rep", "id": id}]});
    let filers: Vec<String> = (71..75).map(|n| uscc("91", n)).collect();
    // Three companies name `many`, the fourth names `few`.
    let entries: Vec<Value> = filers
        .iter()
        .enumerate()
        .map(|(i, filer)| {
            let person = if i < 3 { &many } else { &few };
            entry_with(
                &format!("K-2{i}"),
                "court_dishonest_debtor",
                filer,
                names(person),
            )
        })
        .collect();
    let (_rules, app) = serve_cold_as(&redis, &entries, |spawn| {
        spawn.cold_cache(jiangcheng::lists::source::ColdCacheConfig {
            max_filers: 2,
            ..Default::default()
        })
    });
    let warned = |decision: &Value| {
        decision["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w["code"] == "cold_list_unavailable")
    };

    let decision = app.decide(&many, "high_consumption", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert!(warned(&decision), "{decision}");
    let vias: std::collections::BTreeSet<&str> = decision["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["via"]["entry_id"].as_str().expect("via"))
        .collect();
    assert_eq!(vias.len(), 2, "{decision}");
    let decision = app.decide(&few, "high_consumption", AS_OF).await;
    assert_eq!(decision["decision"], "block", "{decision}");
    assert!(!warned(&decision), "{decision}");

    // Two persons asked: the call reads two filers beyond them, both the first person's.
    let batch: Value = app
        .post_batch(&json!({"matter": "high_consumption", "as_of": AS_OF,
            "subjects": [{"id": many}, {"id": few}]}))
        .await
        .json()
        .await
        .unwrap();
    let results = batch["results"].as_array().expect("results");
    assert!(results.iter().all(warned), "{batch}");
    assert_eq!(results[1]["decision"], "allow", "{batch}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("jiangcheng_cold_cache{result=\"filers_cut\"} 3"),
        "{metrics}"
    );
}
