//! The service as `serve` starts it (`jiangcheng::startup`), in-process: a reload request takes
//! what `SIGHUP` and `SIGUSR1` take, a failed one keeps the last snapshot, and a stop closes
//! the register with every record stored. The signals themselves are sent to the binary in
//! `process`; a refused first load is in `reload`.

use jiangcheng::startup::{Reload, Stop};

use crate::helpers::{entry, rules_dir, uscc, write_jsonl, Spawn, AS_OF};
use crate::redis::RedisServer;
use crate::register::{redis_records, redis_sink};

#[actix_web::test]
async fn a_reload_request_takes_a_changed_list_file_and_a_failed_one_keeps_the_last_snapshot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    let (old, new) = (uscc("91", 1), uscc("91", 2));
    write_jsonl(&lists, &[entry("S-1", "court_dishonest_debtor", &old)]);
    let app = Spawn::files(rules_dir(), lists.clone()).start();
    assert_eq!(
        app.decide(&new, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );

    write_jsonl(
        &lists,
        &[
            entry("S-1", "court_dishonest_debtor", &old),
            entry("S-2", "court_dishonest_debtor", &new),
        ],
    );
    assert!(app.reload(Reload::Guarded).await, "the changed file loads");
    assert_eq!(app.lists_version().await, 2);
    assert_eq!(
        app.decide(&new, "gov_procurement", AS_OF).await["decision"],
        "block"
    );

    std::fs::write(&lists, "{not json\n").expect("break the list file");
    assert!(
        !app.reload(Reload::Guarded).await,
        "a broken file is refused"
    );
    assert_eq!(app.lists_version().await, 2);
    assert_eq!(
        app.decide(&new, "gov_procurement", AS_OF).await["decision"],
        "block"
    );
    let load = app.status().await["last_load"].clone();
    assert_eq!(load["failures"], 1, "{load}");
}

#[actix_web::test]
async fn an_emptied_list_file_is_refused_by_a_reload_request_and_taken_by_a_forced_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    let listed = uscc("91", 3);
    write_jsonl(&lists, &[entry("S-3", "court_dishonest_debtor", &listed)]);
    let app = Spawn::files(rules_dir(), lists.clone()).start();
    std::fs::write(&lists, "").expect("empty the list file");

    assert!(!app.reload(Reload::Guarded).await, "the guard refuses it");
    assert_eq!(
        app.decide(&listed, "gov_procurement", AS_OF).await["decision"],
        "block"
    );
    assert!(app.reload(Reload::Forced).await, "forced past the guard");
    assert_eq!(app.status().await["lists"]["entries"], 0);
    assert_eq!(
        app.decide(&listed, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );
}

/// The register's writer is held up by a Redis that pauses every client for 1.5 s; the stop
/// returns only once the register has stored what it held, so nothing is left queued.
#[actix_web::test]
async fn a_stopped_service_has_closed_its_register_with_every_record_stored() {
    let redis = RedisServer::start();
    let listed = uscc("91", 4);
    let app = Spawn::entries(&[entry("S-4", "court_dishonest_debtor", &listed)])
        .register(redis_sink(&redis), 1000)
        .start();
    let service = std::sync::Arc::clone(&app.service);
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .query(&mut redis.connection())
        .expect("CLIENT PAUSE");
    for n in 10..30 {
        app.decide(&uscc("91", n), "gov_procurement", AS_OF).await;
    }
    assert_eq!(app.stop().await.expect("a clean stop"), Stop::Requested);
    let status = service.register().expect("on").status();
    assert_eq!(
        (
            status.queued,
            status.stored + status.spilled,
            status.dropped
        ),
        (0, 20, 0),
        "{status:?}"
    );
    let (stored, _, _) = redis_records(&redis);
    assert_eq!(stored, status.stored);
}
