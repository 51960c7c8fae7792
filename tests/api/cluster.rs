//! The service against a real Redis Cluster: three masters and three replicas of Debian's
//! `redis-server` on free loopback ports. The list source and the register each reach the master
//! of their hash tag's slot, which a script touching a key of another slot, or one not on that
//! master, could not run on. The cluster is stopped when the test ends, even on a failure.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiangcheng::lists::source::{
    ListSource, ReplicaWait, DEFAULT_CONNECTIONS, DEFAULT_PREFIX, DEFAULT_TIMEOUT,
};
use jiangcheng::register::Sink;
use jiangcheng::timestamp::Timestamp;
use serde_json::{json, Value};

use crate::helpers::{demo_lists, entry, header, rules_dir, uscc, write_jsonl, Spawn, TestApp};
use crate::process::free_port;
use crate::redis::{eventually_decides, import_into, wait_answering};
use crate::register::{applied, period_now, shard_key, HOUR_MS};
use crate::register_disk::ids_of_archive;
use crate::register_shards::{hours_ago, line_at, open, scanned};

/// The key whose slot holds every key of the lists.
const LISTS_KEY: &str = "jc:{lists}:entries";

/// One node: its process, its client and bus ports, and its folder (its data and
/// `nodes.conf`, with which a restarted node rejoins the cluster).
struct Node {
    child: Child,
    port: u16,
    bus_port: u16,
    dir: std::path::PathBuf,
}

/// Six `redis-server`s in cluster mode, three masters and a replica of each, their files in a
/// temp dir; every one is stopped on drop.
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let mut cluster = RedisCluster {
            nodes: Vec::new(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for i in 0..6 {
            let node_dir = cluster.dir.path().join(i.to_string());
            std::fs::create_dir(&node_dir).expect("node dir");
            cluster
                .nodes
                .push(Node::spawn(node_dir, free_port(), free_port()));
        }
        for node in &cluster.nodes {
            node.wait_ready();
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("redis-cli must be installed with redis-server");
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        for node in &cluster.nodes {
            cluster.wait_until(|| node.cluster_ok(), "the cluster to form");
        }
        // Writes wait for a replica: each master's must have finished its first sync.
        for node in &cluster.nodes {
            cluster.wait_until(|| node.replication_up(), "the replicas to sync");
        }
        cluster
    }

    /// Starts node `i` again, on its ports and with its folder, after it was killed: it
    /// rejoins the cluster, a replica of the master that took its place.
    fn restart(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let _ = node.child.wait();
        *node = Node::spawn(node.dir.clone(), node.port, node.bus_port);
        node.wait_ready();
    }

    /// The cluster's URL, naming every node to start from.
    fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// The lists source on this cluster, under the default prefix.
    pub fn lists(&self) -> ListSource {
        let url = self.url();
        ListSource::Redis {
            wait: ReplicaWait::for_url(&url),
            url,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connections: DEFAULT_CONNECTIONS,
        }
    }

    /// An instance on the cluster's lists with its register in the cluster too.
    pub fn instance(&self) -> TestApp {
        Spawn::source(rules_dir(), self.lists())
            .register(
                Sink::Redis {
                    url: self.url(),
                    prefix: jiangcheng::register::DEFAULT_PREFIX.to_owned(),
                },
                65_536,
            )
            .start()
    }

    /// The node serving `key` as master now, as `asked` sees it.
    fn master_of(&self, key: &str, asked: usize) -> usize {
        self.slot_nodes(key, asked)[0]
    }

    /// The nodes serving `key`, as `asked` sees them: its master, then its replicas.
    fn slot_nodes(&self, key: &str, asked: usize) -> Vec<usize> {
        let mut connection = self.nodes[asked].connection();
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut connection)
            .expect("CLUSTER KEYSLOT");
        // Each range: start, end, then the master (address, port, id…) and its replicas.
        let ranges: Vec<Vec<redis::Value>> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut connection)
            .expect("CLUSTER SLOTS");
        let number = |v: &redis::Value| redis::from_redis_value_ref::<u16>(v).ok();
        let range = ranges
            .iter()
            .find(|range| {
                let (start, end) = (number(&range[0]), number(&range[1]));
                start.is_some_and(|start| start <= slot) && end.is_some_and(|end| slot <= end)
            })
            .expect("a master for the slot");
        range[2..]
            .iter()
            .map(|node| {
                let node: Vec<redis::Value> = redis::from_redis_value_ref(node).expect("a node");
                let port = number(&node[1]).expect("a port");
                self.nodes
                    .iter()
                    .position(|n| n.port == port)
                    .expect("a node of ours")
            })
            .collect()
    }

    fn wait_until(&self, mut ready: impl FnMut() -> bool, what: &str) {
        let started = Instant::now();
        while !ready() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "waited too long for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

impl Node {
    /// A node in cluster mode; its bus port is chosen free too, since the default (the client
    /// port plus 10,000) may be taken or out of range.
    fn spawn(dir: std::path::PathBuf, port: u16, bus_port: u16) -> Node {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-port", &bus_port.to_string()])
            .args(["--cluster-node-timeout", "1000"])
            // A replica in sync is promoted however long its master has been gone.
            .args(["--cluster-replica-validity-factor", "0"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed: tests/run.sh installs Debian's package");
        Node {
            child,
            port,
            bus_port,
            dir,
        }
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client")
            .get_connection_with_timeout(Duration::from_secs(2))
            .expect("a connection to a cluster node")
    }

    fn wait_ready(&self) {
        wait_answering(&format!("redis://127.0.0.1:{}/", self.port));
    }

    /// A replica whose link to its master is up, or a master with a replica in sync.
    fn replication_up(&self) -> bool {
        redis::cmd("INFO")
            .arg("replication")
            .query::<String>(&mut self.connection())
            .is_ok_and(|info| {
                info.contains("master_link_status:up")
                    || (info.contains("role:master") && info.contains("state=online"))
            })
    }

    /// The node answers and sees the cluster whole.
    fn cluster_ok(&self) -> bool {
        let info = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
            .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c));
        info.is_ok_and(|info| info.contains("cluster_state:ok"))
    }
}

/// `jiangcheng import` into the cluster's lists, with `extra` arguments.
fn import(cluster: &RedisCluster, lists: &Path, extra: &[&str]) {
    let output = import_into(&cluster.url(), lists, extra);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: &Value) -> Value {
    let response = app
        .client
        .request(method, app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// Lists `subject` under the entry at `path`, through the admin API.
async fn list(app: &TestApp, path: &str, subject: &str) {
    let entry = json!({"subject_id": subject, "listed_on": "2026-01-01"});
    send(app, reqwest::Method::PUT, path, &entry).await;
}

#[actix_web::test]
async fn import_follow_admin_writes_and_the_register_work_on_a_cluster() {
    let cluster = RedisCluster::start();
    import(&cluster, &demo_lists(), &[]);
    let (writer, reader) = (cluster.instance(), cluster.instance());
    let imported = reader.lists_version().await;
    assert!(imported > 0);
    assert_eq!(writer.lists_version().await, imported);

    // Admin writes through one instance reach the other: a put, a move to another subject, a
    // dispute, a repair and a removal.
    let (first, second, third) = (uscc("91", 80), uscc("91", 81), uscc("91", 82));
    let path = "/v1/lists/tax_major_violation/entries/K-1";
    list(&writer, path, &first).await;
    eventually_decides(&reader, &first, "gov_procurement", "block").await;
    list(&writer, path, &second).await;
    eventually_decides(&reader, &second, "gov_procurement", "block").await;
    eventually_decides(&reader, &first, "gov_procurement", "allow").await;
    let dispute =
        json!({"dispute": "under_review", "by": "市信用中心", "reason": "当事人提出异议"});
    send(
        &writer,
        reqwest::Method::POST,
        &format!("{path}/dispute"),
        &dispute,
    )
    .await;
    let repair = json!({"document": "齐信修〔2026〕9号", "by": "市信用中心"});
    let repaired = send(
        &writer,
        reqwest::Method::POST,
        &format!("{path}/repair"),
        &repair,
    )
    .await;
    assert_eq!(repaired["entry"]["status"], "repaired");
    eventually_decides(&reader, &second, "gov_procurement", "allow").await;
    let court = "/v1/lists/court_dishonest_debtor/entries/K-2";
    list(&writer, court, &third).await;
    eventually_decides(&reader, &third, "gov_procurement", "block").await;
    // Decided now, not replayed at another instant: a case for the export.
    let decision: Value = reader
        .post_decide(&json!({"subject": {"id": third}, "matter": "gov_procurement"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(decision["decision"], "block");
    let decision_id = decision["decision_id"].clone();
    let removal = json!({"by": "市法院", "reason": "已履行完毕"});
    send(&writer, reqwest::Method::DELETE, court, &removal).await;
    eventually_decides(&reader, &third, "gov_procurement", "allow").await;

    // A full replacement of one list through the import leaves only what it gives.
    let dir = tempfile::tempdir().unwrap();
    let replacement = dir.path().join("tax.jsonl");
    let kept = uscc("91", 83);
    write_jsonl(&replacement, &[entry("K-3", "tax_major_violation", &kept)]);
    import(
        &cluster,
        &replacement,
        &["--replace-list", "tax_major_violation", "--force"],
    );
    eventually_decides(&reader, &kept, "gov_procurement", "block").await;
    assert_eq!(reader.get(path).await.status(), 404);

    // The register: a decision stored by one instance is found by the other's feedback, and
    // exported.
    let started = Instant::now();
    let feedback = loop {
        let response = writer
            .post_json("/v1/feedback", &applied(&decision_id))
            .await;
        if response.status() == 201 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "feedback refused: {}",
            response.text().await.unwrap()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let listed = writer.get_json("/v1/feedback").await;
    assert_eq!(listed["items"][0]["feedback_id"], feedback["feedback_id"]);
    let export = writer
        .get(&format!("/v1/export/cases?{}&format=jsonl", period_now()))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        export.contains(decision_id.as_str().unwrap()),
        "{decision_id} not in {export}"
    );
}

/// On a cluster a write is acknowledged once the replica of the lists' master holds it (`WAIT`
/// sent to that master, on the connection the write took); with that replica gone the write
/// answers 503 with `Retry-After`, saying how many replicas confirmed it.
#[actix_web::test]
async fn a_write_the_lists_masters_replica_cannot_confirm_answers_503_on_a_cluster() {
    let mut cluster = RedisCluster::start();
    import(&cluster, &demo_lists(), &[]);
    let writer = cluster.instance();
    // The cluster's view of a replica may lag behind the replica's sync.
    cluster.wait_until(
        || cluster.slot_nodes(LISTS_KEY, 0).len() > 1,
        "the lists' master's replica in the cluster's slots",
    );
    let replica = cluster.slot_nodes(LISTS_KEY, 0)[1];
    let subject = uscc("93", 1);
    let path = "/v1/lists/tax_major_violation/entries/R-1";
    list(&writer, path, &subject).await;
    let mut on_replica = cluster.nodes[replica].connection();
    // A replica in a cluster redirects reads to its master unless told to answer them.
    redis::cmd("READONLY")
        .exec(&mut on_replica)
        .expect("READONLY");
    let on_replica: Option<String> = redis::cmd("HGET")
        .arg(LISTS_KEY)
        .arg("R-1")
        .query(&mut on_replica)
        .expect("HGET on the replica");
    assert!(
        on_replica.is_some_and(|entry| entry.contains(subject.as_str())),
        "an acknowledged write is on the replica"
    );

    cluster.nodes[replica]
        .child
        .kill()
        .expect("SIGKILL the replica");
    let _ = cluster.nodes[replica].child.wait();
    let entry = json!({"subject_id": uscc("93", 2), "listed_on": "2026-01-01"});
    let response = writer
        .client
        .put(writer.url(path))
        .json(&entry)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "retry-after"), "1");
    let problem: Value = response.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("only 0 of the 1 replicas") && detail.contains("retrying is safe"),
        "{problem}"
    );
}

/// Admin writes through one instance while the master of the lists' slot is killed: a write
/// is acknowledged (2xx) once the master's replica holds it, or refused with 503 and
/// `Retry-After`; decisions keep answering from memory. The replica is promoted, and the killed
/// master, started again, becomes its replica, so that writes are acknowledged again. Every
/// acknowledged write is then on the new master and in both instances.
#[actix_web::test]
async fn a_master_killed_under_admin_writes_loses_no_acknowledged_write() {
    let mut cluster = RedisCluster::start();
    import(&cluster, &demo_lists(), &[]);
    let (writer, reader) = (cluster.instance(), cluster.instance());
    let killed = cluster.master_of(LISTS_KEY, 0);
    let survivor = (killed + 1) % cluster.nodes.len();

    let mut acknowledged = Vec::new();
    let (mut refused, mut resumed, mut restarted) = (0, 0, false);
    let started = Instant::now();
    for i in 0u64.. {
        if i == 10 {
            cluster.nodes[killed]
                .child
                .kill()
                .expect("SIGKILL the master");
        }
        // Started again only once its replica took over: it has no data of its own to come
        // back with.
        if refused > 0 && !restarted && cluster.master_of(LISTS_KEY, survivor) != killed {
            cluster.restart(killed);
            restarted = true;
        }
        let subject = uscc("92", i);
        let path = format!("/v1/lists/tax_major_violation/entries/F-{i}");
        let entry = json!({"subject_id": subject, "listed_on": "2026-01-01"});
        let response = writer
            .client
            .put(writer.url(&path))
            .json(&entry)
            .send()
            .await
            .unwrap();
        let status = response.status();
        if status.is_success() {
            acknowledged.push((format!("F-{i}"), subject.clone()));
            if refused > 0 {
                resumed += 1;
            }
        } else {
            assert!(response.headers().contains_key("retry-after"), "{path}");
            let text = response.text().await.unwrap();
            assert_eq!(status, 503, "{path}: {text}");
            refused += 1;
        }
        for app in [&writer, &reader] {
            let decided = app
                .post_decide(&json!({"subject": {"id": subject}, "matter": "gov_procurement"}))
                .await
                .status();
            assert_eq!(decided, 200, "a decision failed during the failover");
        }
        if resumed >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "writes did not resume after the failover ({} acknowledged, {refused} refused)",
            acknowledged.len()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }

    cluster.wait_until(
        || cluster.master_of(LISTS_KEY, survivor) != killed,
        "the replica's promotion",
    );
    let promoted = cluster.master_of(LISTS_KEY, survivor);
    let mut connection = cluster.nodes[promoted].connection();
    for (id, subject) in &acknowledged {
        let stored: Option<String> = redis::cmd("HGET")
            .arg(LISTS_KEY)
            .arg(id)
            .query(&mut connection)
            .expect("HGET on the new master");
        assert!(
            stored.is_some_and(|s| s.contains(subject.as_str())),
            "{id} lost"
        );
        for app in [&writer, &reader] {
            eventually_decides(app, subject, "gov_procurement", "block").await;
        }
    }
}

/// Records of ten hours, stored in one batch through the cluster: each hour's shard is on the
/// master of its own slot, and they spread over more than one; find, a scan across the hours,
/// replays and retention of whole hours work across those masters.
#[actix_web::test]
async fn the_registers_hours_spread_over_the_masters() {
    let cluster = RedisCluster::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let register = open(cluster.url(), dir.path());
    let store = register.store();
    let base = hours_ago(10);
    let lines: Vec<_> = (0..10)
        .map(|h| line_at(base + h * HOUR_MS + 1, h as u64))
        .collect();
    store.append(&lines).expect("stored");
    store.append(&lines).expect("replayed");
    let mut masters = HashSet::new();
    for h in 0..10 {
        let key = shard_key(base / HOUR_MS + h, "records");
        let master = cluster.master_of(&key, 0);
        let length: u64 = redis::cmd("XLEN")
            .arg(&key)
            .query(&mut cluster.nodes[master].connection())
            .expect("XLEN on the slot's master");
        assert_eq!(length, 1, "{key}: one record, on its master");
        masters.insert(master);
    }
    assert!(masters.len() > 1, "every hour on one master: {masters:?}");
    for line in &lines {
        assert!(store.find(line.record_id).expect("find").is_some());
    }
    let ids: Vec<_> = lines.iter().map(|l| l.record_id).collect();
    assert_eq!(scanned(&register, base, base + 10 * HOUR_MS), ids);

    let archive = tempfile::tempdir().expect("temp dir");
    let expired = store
        .expire(Timestamp(base + 5 * HOUR_MS), Some(archive.path()))
        .expect("expired");
    assert_eq!((expired.removed, expired.archived), (5, 5));
    assert_eq!(ids_of_archive(archive.path()).len(), 5);
    assert_eq!(scanned(&register, base, base + 10 * HOUR_MS), ids[5..]);
    register.close();
}
