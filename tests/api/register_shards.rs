//! The Redis register's records sharded by hour, through its store with records of chosen
//! times: a batch across hours lands in one shard per hour, replays store nothing twice, and
//! find, scan and retention walk the hours and the keys an older version left.

use std::path::Path;

use jiangcheng::register::{Line, Register, RegisterConfig, RegisterRecord, Sink};
use jiangcheng::timestamp::Timestamp;
use uuid::Uuid;

use crate::redis::RedisServer;
use crate::register::{record_shards, redis_records, HOUR_MS};
use crate::register_disk::{ids_of_archive, now_ms, old_record, DAY_MS};

/// A register on the Redis at `url`, under the default prefix, its folder in `dir`.
pub fn open(url: String, dir: &Path) -> Register {
    let config = RegisterConfig {
        sink: Sink::Redis {
            url,
            prefix: jiangcheng::register::DEFAULT_PREFIX.to_owned(),
        },
        dir: dir.to_path_buf(),
        ..RegisterConfig::default()
    };
    let records =
        prometheus::IntCounterVec::new(prometheus::Opts::new("records", "r"), &["outcome"])
            .expect("counter");
    Register::open(&config, &records)
        .expect("the register opens")
        .expect("on")
}

/// A record line of the instant `ms`.
pub fn line_at(ms: i64, n: u64) -> Line {
    let (id, json) = old_record(ms as u64, n);
    Line {
        record_id: id.parse().expect("uuid"),
        json: json.into_bytes(),
    }
}

/// The start of the hour `hours` before the current one.
pub fn hours_ago(hours: i64) -> i64 {
    (now_ms() as i64 / HOUR_MS - hours) * HOUR_MS
}

/// The ids of the records in `[from, to)`, in the order scanned.
pub fn scanned(register: &Register, from: i64, to: i64) -> Vec<Uuid> {
    let mut ids = Vec::new();
    register
        .store()
        .scan(Timestamp(from), Timestamp(to), &mut |r: RegisterRecord| {
            ids.push(r.record_id);
            true
        })
        .expect("scan");
    ids
}

#[actix_web::test]
async fn records_shard_by_hour_and_the_legacy_keys_read_back_until_retention_empties_them() {
    let server = RedisServer::start();
    let mut connection = server.connection();
    // Three records an older version stored in the unsharded keys, stamped by Redis then.
    // Younger than the retention the register opens with (its retention runs at once).
    let legacy_ms = now_ms() as i64 - 10 * DAY_MS as i64;
    let legacy: Vec<Line> = (0..3).map(|n| line_at(legacy_ms + n, n as u64)).collect();
    for (n, line) in legacy.iter().enumerate() {
        let entry: String = redis::cmd("XADD")
            .arg("jc:{audit}:records")
            .arg(format!("{}-0", legacy_ms + n as i64))
            .arg("r")
            .arg(&line.json)
            .query(&mut connection)
            .expect("XADD");
        let _: u64 = redis::cmd("HSET")
            .arg("jc:{audit}:ids")
            .arg(line.record_id.to_string())
            .arg(&entry)
            .query(&mut connection)
            .expect("HSET");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let register = open(server.url(), dir.path());
    let store = register.store();
    // The first and the last millisecond of each of six hours, in one batch.
    let base = hours_ago(6);
    let lines: Vec<Line> = (0..6)
        .flat_map(|h| [0, HOUR_MS - 1].map(|at| base + h * HOUR_MS + at))
        .enumerate()
        .map(|(n, ms)| line_at(ms, 10 + n as u64))
        .collect();
    store.append(&lines).expect("stored");
    // A replay of the batch, and of the records stored before the upgrade, stores nothing.
    store.append(&lines).expect("replayed");
    store.append(&legacy).expect("replayed");
    assert_eq!(
        record_shards(&mut connection).len(),
        6,
        "one shard per hour"
    );
    let (length, ids, _) = redis_records(&server);
    assert_eq!((length, ids), (12, 12), "each record once in its hour");

    for line in legacy.iter().chain(&lines) {
        let found = store.find(line.record_id).expect("find").expect("found");
        assert_eq!(found.record_id, line.record_id);
    }
    assert!(store.find(Uuid::now_v7()).expect("find").is_none());

    // Across the boundaries of hours 1 to 3: the last of hour 1, both of 2, the first of 3.
    let from = base + 2 * HOUR_MS - 1;
    let expected: Vec<Uuid> = lines[3..7].iter().map(|l| l.record_id).collect();
    assert_eq!(scanned(&register, from, base + 3 * HOUR_MS + 1), expected);
    let all: Vec<Uuid> = legacy.iter().chain(&lines).map(|l| l.record_id).collect();
    assert_eq!(
        scanned(&register, 0, now_ms() as i64 + 1),
        all,
        "oldest first"
    );

    // Hours 0 to 2 have expired whole: archived, then deleted and out of the index; the
    // legacy records go by their stamps; hour 3, half expired, by its entries' stamps (now).
    let archive = tempfile::tempdir().expect("temp dir");
    let before = Timestamp(base + 3 * HOUR_MS + HOUR_MS / 2);
    let expired = store.expire(before, Some(archive.path())).expect("expired");
    assert_eq!((expired.removed, expired.archived), (9, 9));
    let mut archived = ids_of_archive(archive.path());
    archived.sort();
    let mut gone: Vec<String> = all[..9].iter().map(Uuid::to_string).collect();
    gone.sort();
    assert_eq!(archived, gone, "archived before they were removed");
    assert_eq!(record_shards(&mut connection).len(), 3);
    for h in 0..3 {
        let key = crate::register::shard_key(base / HOUR_MS + h, "records");
        let exists: bool = redis::cmd("EXISTS")
            .arg(&key)
            .query(&mut connection)
            .expect("EXISTS");
        assert!(!exists, "{key} deleted");
    }
    assert_eq!(
        scanned(&register, 0, now_ms() as i64 + 1),
        all[9..].to_vec()
    );
    assert!(store.find(all[0]).expect("find").is_none());
    register.close();
}
