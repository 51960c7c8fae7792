//! The service as `serve` starts it (`jiangcheng::startup`), in-process: a reload request takes
//! what `SIGHUP` and `SIGUSR1` take, a failed one keeps the last snapshot, and a stop closes
//! the register with its records on disk. The signals themselves are sent to the binary in
//! `process`; a refused first load is in `reload`.

use jiangcheng::startup::{Reload, Stop};
use serde_json::{json, Value};

use crate::helpers::{entry, files_under, rules_dir, uscc, write_jsonl, Spawn, AS_OF};

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

#[actix_web::test]
async fn a_stopped_service_has_closed_its_register_with_every_record_on_disk() {
    let register = tempfile::tempdir().expect("temp dir");
    let folder = register.path().to_path_buf();
    let listed = uscc("91", 4);
    let app = Spawn::entries(&[entry("S-4", "court_dishonest_debtor", &listed)])
        .register_settings(move |config| config.dir = folder)
        .start();
    let subjects: Vec<Value> = (10..210).map(|n| json!({"id": uscc("91", n)})).collect();
    let batch = app
        .post_batch(&json!({"matter": "gov_procurement", "as_of": AS_OF, "subjects": subjects}))
        .await;
    let batch: Value = crate::helpers::ok_json(batch, "batch").await;
    let single = app.decide(&listed, "gov_procurement", AS_OF).await;
    let mut ids: Vec<String> = batch["results"]
        .as_array()
        .expect("results")
        .iter()
        .chain([&single])
        .map(|decision| decision["decision_id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(ids.len(), 201);

    assert_eq!(app.stop().await.expect("a clean stop"), Stop::Requested);
    let stored: String = files_under(register.path())
        .iter()
        .map(|path| String::from_utf8_lossy(&std::fs::read(path).expect("a file")).into_owned())
        .collect();
    ids.retain(|id| !stored.contains(id.as_str()));
    assert!(ids.is_empty(), "not on disk after the stop: {ids:?}");
}
