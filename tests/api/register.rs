//! The query register, feedback, export and statistics: records for every decision, batch item
//! and profile read (a person's ID only masked), feedback checked against the register and
//! stored once, the case export in both formats, and no record lost to a full queue or a Redis
//! outage.

use std::time::{Duration, Instant};

use jiangcheng::keys::{new_key, Scope};
use jiangcheng::register::Sink;
use jiangcheng::timestamp::Timestamp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{entry_with, ok_json, problem, rid, uscc, Spawn, TestApp, AS_OF};
use crate::redis::RedisServer;

pub const PROCUREMENT_BAN: &str = "court_procurement_ban";

/// A listed company (with its legal representative named), an unlisted one and a person.
pub struct Subjects {
    pub listed: String,
    pub unlisted: String,
    pub person: String,
}

pub fn subjects() -> Subjects {
    Subjects {
        listed: uscc("91", 31),
        unlisted: uscc("91", 32),
        person: rid(4242),
    }
}

pub fn app_with(subjects: &Subjects, spawn: impl FnOnce(Spawn) -> Spawn) -> TestApp {
    let entries = [entry_with(
        "QQHR-FY-2026-000900",
        "court_dishonest_debtor",
        &subjects.listed,
        json!({"listed_on": "2026-03-01", "valid_until": "2029-03-01",
               "responsible_persons": [{"role": "legal_rep", "id": subjects.person, "name": "李某"}]}),
    )];
    spawn(Spawn::entries(&entries)).start()
}

/// Waits until the register has stored at least `records`.
pub async fn stored(app: &TestApp, records: u64) {
    let register = app.service.register().expect("the register is on");
    let started = Instant::now();
    while register.status().stored + register.status().replayed < records {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the register stored {:?} of {records} records",
            register.status()
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every record in a file register.
pub fn file_records(app: &TestApp) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut stack = vec![app.register_dir.path().join("records")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                // Not the hour files' binary indexes (ids and offsets only).
                text += &std::fs::read_to_string(&path).expect("read");
            }
        }
    }
    let records = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record is JSON"))
        .collect();
    (text, records)
}

fn record<'a>(records: &'a [Value], id: &Value) -> &'a Value {
    records
        .iter()
        .find(|r| r["record_id"] == *id)
        .unwrap_or_else(|| panic!("no record {id} in {records:#?}"))
}

/// The id in a key (`jc_<id>_<secret>`).
fn key_id(token: &str) -> &str {
    token.split('_').nth(1).expect("a key id")
}

pub fn masked(person: &str) -> String {
    format!("{}********{}", &person[..6], &person[14..])
}

#[actix_web::test]
async fn decisions_batch_items_and_profile_reads_leave_records_persons_only_masked() {
    let s = subjects();
    // The decisions are at `AS_OF`, another day than today: replays.
    let key = new_key(
        "市公共资源交易中心",
        &[Scope::Decide, Scope::ReadSubject, Scope::Replay],
        None,
    );
    let app = app_with(&s, |spawn| spawn.keys(&key.config, false));
    let decide = |body: Value, path: &'static str| {
        app.client
            .post(app.url(path))
            .bearer_auth(&key.token)
            .json(&body)
            .send()
    };
    let single = decide(
        json!({"subject": {"id": s.listed}, "matter": "gov_procurement", "as_of": AS_OF,
               "department": "qqhr-czj", "case_ref": "ZFCG-2026-0815"}),
        "/v1/decide",
    );
    let single: Value = single.await.expect("decide").json().await.expect("JSON");
    let batch = decide(
        json!({"matter": "legal_rep_appointment", "as_of": AS_OF, "case_ref": format!("申请人{}", s.person), "subjects": [
            {"id": s.person}, {"id": "not-an-id"}, {"id": s.unlisted}, {"id": s.listed}]}),
        "/v1/decide/batch",
    );
    let batch: Value = batch.await.expect("batch").json().await.expect("JSON");
    let profile = app
        .client
        .get(app.url(&format!("/v1/subjects/{}", s.person)))
        .bearer_auth(&key.token)
        .send()
        .await
        .expect("profile");
    assert_eq!(profile.status(), StatusCode::OK);
    // One decision, three decided batch items (the invalid one is no decision), one read.
    stored(&app, 5).await;
    let (text, records) = file_records(&app);
    assert_eq!(records.len(), 5, "{text}");

    let company = record(&records, &single["decision_id"]);
    assert_eq!(company["kind"], "decision");
    assert_eq!(
        company["caller"],
        json!({"key_id": key_id(&key.token), "department": "市公共资源交易中心"})
    );
    assert_eq!(company["department"], "qqhr-czj");
    assert_eq!(company["case_ref"], "ZFCG-2026-0815");
    assert_eq!(company["matter"], "gov_procurement");
    assert_eq!(company["decision"], "block");
    assert_eq!(company["subject"]["id"], s.listed.as_str());
    assert_eq!(company["subject"]["kind"], "enterprise");
    assert_eq!(company["topics"], json!(["court_dishonest_debtor"]));
    assert!(company["measures"]
        .as_array()
        .is_some_and(|m| m.contains(&json!(PROCUREMENT_BAN))));
    assert_eq!(company["reasons"][0]["entry_id"], "QQHR-FY-2026-000900");
    assert_eq!(company["ruleset"], single["ruleset"]);
    assert_eq!(company["lists_version"], single["lists_version"]);
    assert_eq!(company["evaluated_at"], single["evaluated_at"]);

    let results = batch["results"].as_array().expect("results");
    let person = record(&records, &results[0]["decision_id"]);
    assert_eq!(person["subject"]["kind"], "person");
    assert_eq!(person["subject"]["masked"], masked(&s.person));
    assert!(person["subject"].get("id").is_none(), "{person}");
    let hash = person["subject"]["hash"].as_str().expect("hash");
    assert!(hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(person["decision"], results[0]["decision"]);
    assert_eq!(
        person["case_ref"],
        format!("申请人{}", masked(&s.person)),
        "an ID number in the caller's own label is masked too"
    );
    for item in [&results[2], &results[3]] {
        assert_eq!(
            record(&records, &item["decision_id"])["decision"],
            item["decision"]
        );
    }
    let read = records
        .iter()
        .find(|r| r["kind"] == "profile_read")
        .expect("a profile read");
    assert_eq!(read["subject"]["hash"], hash, "the same key, the same hash");
    assert_eq!(read["caller"]["key_id"], key_id(&key.token));
    assert!(
        !text.contains(&s.person),
        "the register holds the person's ID in full:\n{text}"
    );
}

/// A batch large enough to be decided in several chunks on rayon's threads: every decided
/// item leaves exactly one record, under its own decision id, with its outcome and its
/// reasons' entries; an item that did not parse leaves none; `decisions_total` counts what
/// the answer's summary says.
#[actix_web::test]
async fn a_large_batch_leaves_one_record_per_decided_item_under_its_id_and_counts_its_outcomes() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let ids: Vec<String> = (0..600)
        .map(|n| match n {
            n if n % 7 == 3 => "not-an-id".to_owned(),
            n if n % 5 == 0 => s.listed.clone(),
            n => uscc("91", 1000 + n),
        })
        .collect();
    let body = json!({"matter": "gov_procurement",
                      "subjects": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
    let batch: Value = app.post_batch(&body).await.json().await.expect("JSON");
    let results = batch["results"].as_array().expect("results");
    let decided: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("decision_id").is_some())
        .collect();
    let invalid = ids.iter().filter(|id| *id == "not-an-id").count();
    assert_eq!(decided.len(), ids.len() - invalid);
    assert_eq!(batch["summary"]["invalid"], invalid);
    stored(&app, decided.len() as u64).await;
    let (text, records) = file_records(&app);
    assert_eq!(records.len(), decided.len(), "{text}");
    for item in &decided {
        let found = record(&records, &item["decision_id"]);
        assert_eq!(found["decision"], item["decision"]);
        assert_eq!(found["subject"]["id"], item["subject"]["id"]);
        let entry_ids = |reasons: &Value| -> Vec<Value> {
            // A record without reasons leaves them out.
            let mut ids: Vec<Value> = (reasons.as_array().into_iter().flatten())
                .map(|r| r["entry_id"].clone())
                .collect();
            ids.sort_by_key(Value::to_string);
            ids
        };
        assert_eq!(entry_ids(&found["reasons"]), entry_ids(&item["reasons"]));
    }
    let metrics = app.metrics().await;
    for outcome in ["allow", "block"] {
        let line = format!(
            "jiangcheng_decisions_total{{decision=\"{outcome}\",matter=\"gov_procurement\"}} {}",
            batch["summary"][outcome]
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
}

/// Decides `subjects` for `gov_procurement` and returns the decisions.
async fn decide_all(app: &TestApp, subjects: &[&str]) -> Vec<Value> {
    let body = json!({"matter": "gov_procurement", "department": "市公共资源交易中心",
                      "subjects": subjects.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()});
    let batch: Value = app
        .post_batch(&body)
        .await
        .json()
        .await
        .expect("batch JSON");
    batch["results"].as_array().expect("results").clone()
}

pub fn applied(decision_id: &Value) -> Value {
    json!({"decision_id": decision_id, "measure": PROCUREMENT_BAN, "action": "applied",
           "executing_department": "市财政局", "officer": "王某", "content": "拒绝其参加本次政府采购",
           "field": "政府采购", "results": "已拦截", "start_time": "2026-11-22", "end_time": "2026-12-22"})
}

#[actix_web::test]
async fn feedback_is_checked_against_its_decision_and_stored_once() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let decisions = decide_all(&app, &[&s.listed, &s.unlisted]).await;
    stored(&app, 2).await;
    let (blocked, allowed) = (&decisions[0]["decision_id"], &decisions[1]["decision_id"]);

    let created = app.post_json("/v1/feedback", &applied(blocked)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.expect("JSON");
    assert_eq!(created["decision_id"], *blocked);
    assert_eq!(created["action"], "applied");
    assert!(created["feedback_id"].is_string() && created["recorded_at"].is_string());
    let on_disk = std::fs::read_to_string(app.register_dir.path().join("feedback.jsonl"))
        .expect("feedback file");
    assert!(
        on_disk.contains(created["feedback_id"].as_str().expect("id")),
        "stored before the answer"
    );

    let again = app.post_json("/v1/feedback", &applied(blocked)).await;
    assert_eq!(again.status(), StatusCode::OK, "the same report again");
    let again: Value = again.json().await.expect("JSON");
    assert_eq!(again, created);

    let mut changed = applied(blocked);
    changed["results"] = json!("已放行");
    let conflict = app.post_json("/v1/feedback", &changed).await;
    let conflict = problem(conflict, 409, "feedback_conflict", "changed report").await;
    assert_eq!(conflict["errors"][0]["field"], "results");

    let unknown = app
        .post_json(
            "/v1/feedback",
            &applied(&json!(uuid::Uuid::now_v7().to_string())),
        )
        .await;
    problem(unknown, 404, "decision_not_found", "unknown decision").await;
    let not_applied = app.post_json("/v1/feedback", &applied(allowed)).await;
    let not_applied = problem(not_applied, 422, "measure_not_in_decision", "allowed").await;
    assert_eq!(not_applied["errors"][0]["field"], "measure");

    let override_without_why = json!({"decision_id": blocked, "measure": PROCUREMENT_BAN,
        "action": "overridden", "executing_department": "市财政局"});
    assert_eq!(
        refused_fields(&app, &override_without_why).await,
        ["officer", "reason"]
    );
    // Unknown and mistyped members are named before any value is checked.
    let bad = json!({"decision_id": "nope", "measure": 7, "action": "done", "executing_department": "",
                     "colour": "red"});
    let mut fields = refused_fields(&app, &bad).await;
    fields.sort();
    assert_eq!(fields, ["colour", "measure"]);
    let bad = json!({"decision_id": "nope", "measure": PROCUREMENT_BAN, "action": "done"});
    assert_eq!(
        refused_fields(&app, &bad).await,
        ["executing_department", "decision_id", "action"]
    );
    let not_json = app
        .post_raw("/v1/feedback", "{not json", Some("application/json"))
        .await;
    problem(not_json, 400, "invalid_json", "not JSON").await;
}

/// The fields a refused feedback report is faulted for.
async fn refused_fields(app: &TestApp, report: &Value) -> Vec<String> {
    let response = app.post_json("/v1/feedback", report).await;
    let refused = problem(response, 400, "invalid_request", &report.to_string()).await;
    crate::helpers::error_fields(&refused)
}

#[actix_web::test]
async fn feedback_pages_by_cursor_and_department() {
    let s = subjects();
    let others: Vec<String> = (0..3).map(|n| uscc("91", 600 + n)).collect();
    let entries: Vec<Value> = std::iter::once(&s.listed)
        .chain(&others)
        .enumerate()
        .map(|(n, id)| {
            entry_with(
                &format!("QQHR-FY-2026-{n:06}"),
                "court_dishonest_debtor",
                id,
                json!({"listed_on": "2026-03-01"}),
            )
        })
        .collect();
    let app = Spawn::entries(&entries).start();
    let ids: Vec<&str> = std::iter::once(s.listed.as_str())
        .chain(others.iter().map(String::as_str))
        .collect();
    let decisions = decide_all(&app, &ids).await;
    stored(&app, 4).await;
    for (n, decision) in decisions.iter().enumerate() {
        let mut report = applied(&decision["decision_id"]);
        report["executing_department"] = json!(if n % 2 == 0 {
            "市财政局"
        } else {
            "市住建局"
        });
        let response = app.post_json("/v1/feedback", &report).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/feedback?limit=1".to_owned();
    loop {
        let page = app.get_json(&path).await;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= 1, "{page}");
        seen.extend(items.iter().map(|i| i["decision_id"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/feedback?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<Value> = decisions.iter().map(|d| d["decision_id"].clone()).collect();
    assert_eq!(seen, expected, "every report once, in the order stored");

    let department = app
        .get_json("/v1/feedback?department=%E5%B8%82%E4%BD%8F%E5%BB%BA%E5%B1%80")
        .await;
    let departments: Vec<&Value> = department["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["executing_department"])
        .collect();
    assert_eq!(departments, [&json!("市住建局"); 2]);
    let future = app.get_json("/v1/feedback?since=2099-01-01").await;
    assert_eq!(future["items"], json!([]));

    for (query, field) in [
        ("cursor=nope", "cursor"),
        ("limit=0", "limit"),
        ("since=yesterday", "since"),
    ] {
        let response = app.get(&format!("/v1/feedback?{query}")).await;
        let refused = problem(response, 400, "invalid_request", query).await;
        assert_eq!(crate::helpers::error_fields(&refused), [field], "{query}");
    }
}

/// `from` and `to` an hour around now, for a query string.
pub fn period_now() -> String {
    let now = chrono::Utc::now();
    let hour = chrono::Duration::hours(1);
    let format =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!("from={}&to={}", format(now - hour), format(now + hour))
}

#[actix_web::test]
async fn cases_export_as_json_lines_and_csv_with_their_feedback_and_stats_count_them() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let decisions = decide_all(&app, &[&s.listed, &s.unlisted, &s.listed]).await;
    stored(&app, 3).await;
    let created = app
        .post_json("/v1/feedback", &applied(&decisions[0]["decision_id"]))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let measures = decisions[0]["reasons"].as_array().expect("reasons").len();
    assert!(measures >= 1);

    let period = period_now();
    let jsonl = app.get(&format!("/v1/export/cases?{period}")).await;
    assert_eq!(jsonl.status(), StatusCode::OK);
    assert_eq!(jsonl.headers()["content-type"], "application/x-ndjson");
    let text = jsonl.text().await.expect("body");
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a row is JSON"))
        .collect();
    assert_eq!(
        rows.len(),
        2 * measures,
        "one row per measure of each block:\n{text}"
    );
    let row = rows
        .iter()
        .find(|r| {
            r["decision_id"] == decisions[0]["decision_id"] && r["measure_code"] == PROCUREMENT_BAN
        })
        .expect("the row of the reported measure");
    assert_eq!(row["state"], "applied");
    assert_eq!(row["exec_dept_name"], "市财政局");
    assert_eq!(row["execution_content"], "拒绝其参加本次政府采购");
    assert_eq!(row["unified_social_credit_code"], s.listed.as_str());
    assert_eq!(row["reward_punishment_type_code"], "2");
    assert_eq!(row["list_entry_ids"], "QQHR-FY-2026-000900");
    assert_eq!(row["requesting_department"], "市公共资源交易中心");
    assert!(row["legal_basis"].as_str().is_some_and(|b| !b.is_empty()));
    assert!(rows
        .iter()
        .filter(|r| r["decision_id"] == decisions[2]["decision_id"])
        .all(|r| r["state"] == "pending"));

    let csv = app
        .get(&format!("/v1/export/cases?{period}&format=csv"))
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, jiangcheng::register::report::CaseRow::FIELDS);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    assert_eq!(records.len(), rows.len());
    let state = header
        .iter()
        .position(|h| h == "state")
        .expect("state column");
    assert_eq!(records.iter().filter(|r| &r[state] == "applied").count(), 1);
    let empty = app
        .get("/v1/export/cases?from=2020-01-01&to=2020-01-02&format=csv")
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(empty.lines().count(), 1, "a header and no rows: {empty}");

    let stats = app.get_json(&format!("/v1/stats?{period}")).await;
    assert_eq!(stats["decisions"], 3);
    assert_eq!(stats["by_decision"], json!({"allow": 1, "block": 2}));
    assert_eq!(stats["by_matter"], json!({"gov_procurement": 3}));
    assert_eq!(stats["by_department"], json!({"市公共资源交易中心": 3}));
    assert_eq!(stats["by_topic"], json!({"court_dishonest_debtor": 2}));
    assert_eq!(stats["by_measure"][PROCUREMENT_BAN], 2);
    assert_eq!(stats["feedback"]["decisions_with_measures"], 2);
    assert_eq!(stats["feedback"]["decisions_with_feedback"], 1);
    assert_eq!(stats["feedback"]["rate"], 0.5);
    assert_eq!(stats["feedback"]["by_action"], json!({"applied": 1}));

    for (query, fields) in [
        ("to=2026-12-01", vec!["from"]),
        ("from=2026-12-01&to=2026-11-01", vec!["to"]),
        ("from=2020-01-01&to=2026-01-01", vec!["to"]),
        ("from=soon&to=2026-01-01&format=xml", vec!["from", "format"]),
    ] {
        let response = app.get(&format!("/v1/export/cases?{query}")).await;
        let refused = problem(response, 400, "invalid_request", query).await;
        assert_eq!(crate::helpers::error_fields(&refused), fields, "{query}");
    }
    let stats = app.get("/v1/stats?from=2026-11-01").await;
    problem(stats, 400, "invalid_request", "stats without to").await;
}

#[actix_web::test]
async fn with_the_register_off_feedback_export_and_stats_say_so() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn.register(Sink::Off, 1));
    let decisions = decide_all(&app, &[&s.listed]).await;
    let response = app
        .post_json("/v1/feedback", &applied(&decisions[0]["decision_id"]))
        .await;
    problem(response, 409, "register_off", "feedback").await;
    for path in [
        "/v1/feedback",
        "/v1/export/cases?from=2026-11-01&to=2026-12-01",
        "/v1/stats?from=2026-11-01&to=2026-12-01",
    ] {
        problem(app.get(path).await, 409, "register_off", path).await;
    }
    assert_eq!(app.status().await["register"], json!({"sink": "off"}));
}

pub fn redis_sink(server: &RedisServer) -> Sink {
    Sink::Redis {
        url: server.url(),
        prefix: jiangcheng::register::DEFAULT_PREFIX.to_owned(),
    }
}

/// The keys (stream, id hash) of each hour's shard of the Redis register's records, oldest
/// first, as its index of hours names them.
pub fn record_shards(connection: &mut redis::Connection) -> Vec<(String, String)> {
    let hours: Vec<i64> = redis::cmd("ZRANGE")
        .arg("jc:{audit}:hours")
        .arg(0)
        .arg(-1)
        .query(connection)
        .expect("ZRANGE");
    hours
        .into_iter()
        .map(|hour| (shard_key(hour, "records"), shard_key(hour, "ids")))
        .collect()
}

/// The key `name` of the shard of the register's records for `hour` since the epoch.
pub fn shard_key(hour: i64, name: &str) -> String {
    let label = Timestamp(hour * HOUR_MS).format_cst("%Y%m%d%H");
    format!("jc:{{audit:{label}}}:{name}")
}

pub const HOUR_MS: i64 = 3_600_000;

/// Records in the Redis register: the streams' length, the id indexes', and the streams' text.
pub fn redis_records(server: &RedisServer) -> (u64, u64, String) {
    let mut connection = server.connection();
    let (mut length, mut ids, mut text) = (0, 0, Vec::new());
    for (records, ids_key) in record_shards(&mut connection) {
        length += redis::cmd("XLEN")
            .arg(&records)
            .query::<u64>(&mut connection)
            .expect("XLEN");
        ids += redis::cmd("HLEN")
            .arg(&ids_key)
            .query::<u64>(&mut connection)
            .expect("HLEN");
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(&records)
            .arg("-")
            .arg("+")
            .query(&mut connection)
            .expect("XRANGE");
        text.extend(entries.into_iter().flat_map(|(_, fields)| fields));
    }
    (length, ids, text.join("\n"))
}

/// Decides `rounds` batches of the person and two companies, one after another.
async fn decide_rounds(app: &TestApp, s: &Subjects, rounds: usize) -> u64 {
    for _ in 0..rounds {
        let results = decide_all(app, &[&s.person, &s.listed, &s.unlisted]).await;
        assert_eq!(results.len(), 3);
    }
    3 * rounds as u64
}

async fn eventually_in_redis(server: &RedisServer, records: u64) -> String {
    let started = Instant::now();
    loop {
        let (length, ids, text) = redis_records(server);
        if length == records {
            assert_eq!(ids, records, "every record indexed by id");
            return text;
        }
        assert!(
            length < records && started.elapsed() < Duration::from_secs(30),
            "Redis holds {length} of {records} records"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The register's status once its counters account for `made` records: the writer counts a
/// record only after its write returns, so Redis may hold every record a moment before the
/// counters say so.
async fn counted(
    register: &jiangcheng::register::Register,
    made: u64,
) -> jiangcheng::register::RegisterStatus {
    let started = Instant::now();
    loop {
        let status = register.status();
        if status.stored + status.replayed + status.dropped >= made
            && status.replayed >= status.spilled
        {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the register's counters do not account for the {made} records Redis holds: {status:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_redis_outage_spills_records_and_replays_them_without_losing_one() {
    let s = subjects();
    let mut server = RedisServer::durable();
    let app = app_with(&s, |spawn| spawn.register(redis_sink(&server), 65_536));
    let register = app.service.register().expect("on");
    let mut made = decide_rounds(&app, &s, 10).await;
    eventually_in_redis(&server, made).await;

    server.crash();
    made += decide_rounds(&app, &s, 20).await;
    let started = Instant::now();
    while register.status().spill_pending < 60 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the outage's records are spilled: {:?}",
            register.status()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // Decisions go on, unhindered, while the store is down.
    made += decide_rounds(&app, &s, 5).await;
    server.restart();
    made += decide_rounds(&app, &s, 5).await;

    let text = eventually_in_redis(&server, made).await;
    let status = counted(register, made).await;
    assert_eq!(status.dropped, 0, "{status:?}");
    assert!(
        status.spilled >= 60 && status.replayed == status.spilled,
        "{status:?}"
    );
    assert_eq!(status.stored + status.replayed, made, "{status:?}");
    assert!(!text.contains(&s.person), "a full ID in Redis");
    assert!(text.contains(&masked(&s.person)));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!(
            "jiangcheng_register_records_total{{outcome=\"replayed\"}} {}",
            status.replayed
        )),
        "{metrics}"
    );
    eprintln!(
        "outage: {made} decisions; {} stored directly, {} spilled and replayed, {} dropped",
        status.stored, status.replayed, status.dropped
    );

    // Feedback and the export read the same Redis register.
    let decisions = decide_all(&app, &[&s.listed]).await;
    eventually_in_redis(&server, made + 1).await;
    let created = app
        .post_json("/v1/feedback", &applied(&decisions[0]["decision_id"]))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let mut connection = server.connection();
    let stored: u64 = redis::cmd("HLEN")
        .arg("jc:{audit}:feedback")
        .query(&mut connection)
        .expect("HLEN");
    assert_eq!(stored, 1, "stored in Redis before the answer");
    let again = app
        .post_json("/v1/feedback", &applied(&decisions[0]["decision_id"]))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let rows = app
        .get(&format!("/v1/export/cases?{}", period_now()))
        .await
        .text()
        .await
        .expect("export");
    assert_eq!(
        rows.lines()
            .filter(|l| l.contains("\"state\":\"applied\""))
            .count(),
        1
    );
    let stats = app.get_json(&format!("/v1/stats?{}", period_now())).await;
    assert_eq!(stats["decisions"], made + 1);
    drop(server);
    let unavailable = app
        .post_json("/v1/feedback", &applied(&decisions[0]["decision_id"]))
        .await;
    problem(unavailable, 503, "register_unavailable", "Redis gone").await;
}

#[actix_web::test]
async fn a_full_queue_spills_on_the_request_thread_and_nothing_is_lost() {
    let s = subjects();
    let server = RedisServer::start();
    // A queue of 3 records: one batch at a time.
    let app = app_with(&s, |spawn| spawn.register(redis_sink(&server), 3));
    let register = app.service.register().expect("on");
    let mut made = decide_rounds(&app, &s, 2).await;
    eventually_in_redis(&server, made).await;
    // Redis holds every client for 1.5 s: the writer waits on its batch, the queue fills, and
    // the requests after that spill on their own threads.
    let mut connection = server.connection();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .query(&mut connection)
        .expect("CLIENT PAUSE");
    made += decide_rounds(&app, &s, 10).await;
    let status = register.status();
    assert!(status.spilled >= 3, "the full queue spilled: {status:?}");
    eventually_in_redis(&server, made).await;
    let status = counted(register, made).await;
    assert_eq!(status.dropped, 0, "{status:?}");
    assert_eq!(status.stored + status.replayed, made, "{status:?}");
}

/// A reward taken away must be as defensible as a block: the record names the entry whose
/// list suppressed the rewards.
#[actix_web::test]
async fn a_decision_whose_rewards_were_suppressed_records_the_entry_that_took_them() {
    let company = uscc("91", 81);
    let since = json!({"listed_on": "2026-03-01"});
    let app = Spawn::entries(&[
        entry_with("R-A", "tax_a_grade", &company, since.clone()),
        entry_with("R-D", "court_dishonest_debtor", &company, since),
    ])
    .start();
    let decision: Value = app
        .post_decide(&json!({"subject": {"id": company}, "matter": "tax_service"}))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(
        decision["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w["code"] == "rewards_suppressed" && w["entry_id"] == "R-D"),
        "{decision}"
    );
    stored(&app, 1).await;
    let (_, records) = file_records(&app);
    let record = record(&records, &decision["decision_id"]);
    assert_eq!(record["rewards_suppressed_by"], "R-D", "{record}");
}

/// Fifteen digits whose positions 7–12 are a real date may be a person's first-generation ID
/// even when the caller names them a registration number: the register keeps them masked, as a
/// person's, in decisions and profile reads alike (still found by their hash).
#[actix_web::test]
async fn a_registration_number_is_masked_in_the_register_as_it_may_be_a_persons_id() {
    let app = crate::helpers::spawn_app(&[]);
    let person = "230202850312123";
    let request = json!({"subject": {"id": person, "id_type": "registration_number"},
                         "matter": "gov_procurement", "as_of": AS_OF});
    let decision: Value = app.post_decide(&request).await.json().await.expect("JSON");
    assert_eq!(
        decision["subject"]["id_type"], "registration_number",
        "{decision}"
    );
    let profile = app
        .get(&format!(
            "/v1/subjects/{person}?id_type=registration_number"
        ))
        .await;
    assert_eq!(profile.status(), StatusCode::OK);
    stored(&app, 2).await;
    let (text, records) = file_records(&app);
    assert!(!text.contains(person), "{text}");
    assert_eq!(records.len(), 2, "{text}");
    for record in &records {
        assert_eq!(record["subject"]["masked"], "230202********3", "{record}");
        assert!(record["subject"].get("id").is_none(), "{record}");
    }
    // Fifteen digits that are no date are still masked: a personal ID mistyped in its date
    // reads as a registration number.
    let company = "110108000000016";
    let decision = app.decide(company, "gov_procurement", AS_OF).await;
    assert_eq!(
        decision["subject"]["id_type"], "registration_number",
        "{decision}"
    );
    stored(&app, 3).await;
    let (text, records) = file_records(&app);
    assert!(!text.contains(company), "{text}");
    assert_eq!(records[2]["subject"]["masked"], "110108********6", "{text}");
}

#[actix_web::test]
async fn the_export_names_each_subject_and_keeps_only_substantive_cases_when_asked() {
    let (company, person, via, unlisted) = (uscc("91", 41), rid(4343), rid(4444), uscc("91", 42));
    let entries = [
        entry_with(
            "QQHR-FY-2026-000941",
            "court_dishonest_debtor",
            &company,
            json!({"listed_on": "2026-03-01", "subject_name": "齐齐哈尔某某商贸有限公司",
                   "responsible_persons": [{"role": "legal_rep", "id": via, "name": "李小龙"}]}),
        ),
        entry_with(
            "QQHR-FY-2026-000943",
            "court_dishonest_debtor",
            &person,
            json!({"listed_on": "2026-03-01", "subject_name": "张三丰"}),
        ),
    ];
    let app = Spawn::entries(&entries).start();
    let batch = |matter: &str, subjects: &[&str]| {
        json!({"matter": matter, "department": "市公共资源交易中心",
               "subjects": subjects.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()})
    };
    let mut decisions = Vec::new();
    for (matter, subjects) in [
        ("gov_procurement", vec![&company, &person, &unlisted]),
        ("high_consumption", vec![&via]),
        ("credit_loan", vec![&company]),
    ] {
        let subjects: Vec<&str> = subjects.into_iter().map(String::as_str).collect();
        let answer = ok_json(app.post_batch(&batch(matter, &subjects)).await, matter).await;
        decisions.extend(answer["results"].as_array().expect("results").clone());
    }
    stored(&app, 5).await;
    let reported = app
        .post_json("/v1/feedback", &applied(&decisions[0]["decision_id"]))
        .await;
    assert_eq!(reported.status(), StatusCode::CREATED);

    // The register keeps the name on the matched entry, a person's masked; none unlisted.
    let (text, records) = file_records(&app);
    assert!(
        !text.contains("张三丰") && !text.contains("李小龙"),
        "{text}"
    );
    let names: Vec<&Value> = decisions
        .iter()
        .map(|d| &record(&records, &d["decision_id"])["subject"]["name"])
        .collect();
    assert_eq!(
        names,
        [
            &json!("齐齐哈尔某某商贸有限公司"),
            &json!("张**"),
            &Value::Null,
            &json!("李**"),
            &json!("齐齐哈尔某某商贸有限公司"),
        ]
    );

    let rows = |query: String| {
        let app = &app;
        async move {
            let response = app.get(&format!("/v1/export/cases?{query}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            let text = response.text().await.expect("body");
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("a row is JSON"))
                .collect::<Vec<_>>()
        }
    };
    let all = rows(period_now()).await;
    let object = |decision: &Value| {
        let row = (all.iter())
            .find(|r| r["decision_id"] == decision["decision_id"])
            .unwrap_or_else(|| panic!("a row of {decision} in {all:#?}"));
        row["rewards_punishments_object"].clone()
    };
    assert_eq!(object(&decisions[0]), "齐齐哈尔某某商贸有限公司");
    assert_eq!(object(&decisions[1]), "张**");
    assert_eq!(object(&decisions[3]), "李**");
    let loan = (all.iter())
        .find(|r| r["measure_code"] == "credit_loan_reference")
        .expect("the inform measure's row");
    assert_eq!(loan["measure_category"], "3");
    assert_eq!(loan["state"], "pending");
    // No feedback names the field: the matter's name stands for it.
    assert_eq!(loan["field"], "融资授信");
    assert_eq!(loan["matter_platform_code"], "");

    // Substantive: only the reported measure (the others wait for feedback, one only informs).
    let substantive = rows(format!("{}&substantive=true", period_now())).await;
    let kept: Vec<(&Value, &Value)> = (substantive.iter())
        .map(|r| (&r["decision_id"], &r["measure_code"]))
        .collect();
    assert_eq!(
        kept,
        [(&decisions[0]["decision_id"], &json!(PROCUREMENT_BAN))],
        "{substantive:#?}"
    );
    assert_eq!(substantive[0]["measure_category"], "1");
    assert_eq!(
        rows(format!("{}&substantive=false", period_now()))
            .await
            .len(),
        all.len()
    );
    let response = app
        .get(&format!(
            "/v1/export/cases?{}&substantive=yes",
            period_now()
        ))
        .await;
    let refused = problem(response, 400, "invalid_request", "substantive=yes").await;
    assert_eq!(crate::helpers::error_fields(&refused), ["substantive"]);
}
