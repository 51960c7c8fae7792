//! The push (自动推送) and the change feed: real HTTP receivers on loopback (one that fails its
//! first attempts, one that is down for a while, one that answers slowly), changes made through
//! the admin API against a real Redis, and files that survive a restart.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiangcheng::keys::{new_key, Scope};
use jiangcheng::push::signature;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{entry_with, problem, rid, rules_dir, uscc, write_jsonl, Spawn, TestApp};
use crate::redis::{redis_source, RedisServer};

const SECRET: &str = "a-department-secret-0123";

/// One request a receiver got: when, its signature header and its body.
#[derive(Clone)]
struct Received {
    at: Instant,
    signature: String,
    body: String,
}

/// How a receiver answers.
#[derive(Clone, Copy)]
enum Behaviour {
    /// 200 at once.
    Healthy,
    /// 503 to its first `n` requests, then 200.
    FailsFirst(usize),
    /// 200 after this delay.
    Slow(Duration),
}

/// A webhook receiver on a loopback port: a plain HTTP/1.1 server on a thread, one request per
/// connection. It can be taken down (its port closed) and brought back on the same port.
struct Receiver {
    port: u16,
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
    requests: Arc<AtomicUsize>,
    /// Once set, every request is answered 200 whatever the behaviour.
    fixed: Arc<AtomicBool>,
}

impl Receiver {
    fn start(behaviour: Behaviour) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let receiver = Receiver {
            port: listener.local_addr().unwrap().port(),
            behaviour,
            received: Arc::default(),
            requests: Arc::default(),
            fixed: Arc::default(),
        };
        receiver.serve(listener);
        receiver
    }

    /// A receiver whose port is taken but that answers nothing (down) until [`Receiver::up`].
    fn down() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Receiver {
            port,
            behaviour: Behaviour::Healthy,
            received: Arc::default(),
            requests: Arc::default(),
            fixed: Arc::default(),
        }
    }

    /// Brings a receiver that was down up on its port.
    fn come_up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the receiver's port");
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let (received, requests, fixed, behaviour) = (
            Arc::clone(&self.received),
            Arc::clone(&self.requests),
            Arc::clone(&self.fixed),
            self.behaviour,
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (received, requests, fixed) = (
                    Arc::clone(&received),
                    Arc::clone(&requests),
                    Arc::clone(&fixed),
                );
                std::thread::spawn(move || {
                    let behaviour = if fixed.load(Ordering::SeqCst) {
                        Behaviour::Healthy
                    } else {
                        behaviour
                    };
                    answer(stream, behaviour, &received, &requests)
                });
            }
        });
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The event ids acknowledged with 2xx, de-duplicated, in the order first received.
    fn event_ids(&self) -> Vec<u64> {
        let mut seen = Vec::new();
        for got in self.received() {
            let id = event_of(&got)["id"].as_str().unwrap().parse().unwrap();
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        seen
    }
}

fn event_of(got: &Received) -> Value {
    serde_json::from_str(&got.body).expect("an event is JSON")
}

/// Reads one request and answers it as `behaviour` says; only answered requests are recorded.
fn answer(
    mut stream: TcpStream,
    behaviour: Behaviour,
    received: &Mutex<Vec<Received>>,
    requests: &AtomicUsize,
) {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        let Ok(n) = stream.read(&mut buffer) else {
            return;
        };
        if n == 0 {
            return;
        }
        bytes.extend_from_slice(&buffer[..n]);
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    while bytes.len() < head_end + length {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
        }
    }
    let n = requests.fetch_add(1, Ordering::SeqCst);
    let status = match behaviour {
        Behaviour::FailsFirst(failures) if n < failures => "503 Service Unavailable",
        Behaviour::Slow(delay) => {
            std::thread::sleep(delay);
            "200 OK"
        }
        _ => "200 OK",
    };
    if status.starts_with("200") {
        received.lock().unwrap().push(Received {
            at: Instant::now(),
            signature: header("x-jiangcheng-signature"),
            body: String::from_utf8_lossy(&bytes[head_end..head_end + length]).to_string(),
        });
    }
    let _ = stream.write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
    );
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("a request")
}

async fn subscribe(app: &TestApp, body: Value) -> String {
    let response = send(app, Method::POST, "/v1/subscriptions", Some(body), None).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let created: Value = response.json().await.unwrap();
    assert!(created.get("secret").is_none(), "{created}");
    created["id"].as_str().unwrap().to_owned()
}

async fn put_entry(app: &TestApp, list: &str, id: &str, body: &Value) -> Instant {
    let response = send(
        app,
        Method::PUT,
        &format!("/v1/lists/{list}/entries/{id}"),
        Some(body.clone()),
        None,
    )
    .await;
    let acknowledged = Instant::now();
    assert!(
        response.status().is_success(),
        "PUT {id}: {:?}",
        response.text().await
    );
    acknowledged
}

/// Waits (bounded) until `done` holds, polling.
async fn eventually(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every event of the change feed after `after`, in order.
async fn feed(app: &TestApp, after: u64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = after;
    loop {
        let page = app
            .get_json(&format!("/v1/changes?after={cursor}&limit=50"))
            .await;
        let got = page["events"].as_array().unwrap().clone();
        if got.is_empty() {
            return events;
        }
        cursor = page["next"].as_str().unwrap().parse().unwrap();
        events.extend(got);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[actix_web::test]
async fn every_receiver_gets_every_event_once_in_order_signed_through_failures() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis))
        .push(|push| {
            push.first_backoff = Duration::from_millis(100);
            push.max_backoff = Duration::from_millis(800);
            push.timeout = Duration::from_secs(5);
        })
        .start();
    let flaky = Receiver::start(Behaviour::FailsFirst(4));
    let down = Receiver::down();
    let slow = Receiver::start(Behaviour::Slow(Duration::from_millis(300)));
    let mut ids = HashMap::new();
    for receiver in [&flaky, &down, &slow] {
        let id = subscribe(&app, json!({"url": receiver.url(), "secret": SECRET})).await;
        ids.insert(receiver.port, id);
    }
    let start = app.get_json("/v1/changes?after=0&limit=1").await["newest"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();

    // Listings, amendments, a repair, a dispute, a score's level and a removal, made while the
    // receivers fail.
    let (company, person) = (uscc("91", 301), rid(301));
    let base = json!({"subject_id": company, "listed_on": "2026-01-01", "reason": "首次"});
    put_entry(&app, "tax_major_violation", "E-1", &base).await;
    for n in 2..=8 {
        let body = json!({"subject_id": uscc("91", 301 + n), "listed_on": "2026-01-01"});
        put_entry(&app, "court_dishonest_debtor", &format!("E-{n}"), &body).await;
    }
    let mut amended = base.clone();
    amended["reason"] = json!("更正");
    put_entry(&app, "tax_major_violation", "E-1", &amended).await;
    let repaired = send(
        &app,
        Method::POST,
        "/v1/lists/tax_major_violation/entries/E-1/repair",
        Some(json!({"document": "修复决定书 1号", "by": "信用中心"})),
        None,
    )
    .await;
    assert!(repaired.status().is_success());
    let disputed = send(
        &app,
        Method::POST,
        "/v1/lists/court_dishonest_debtor/entries/E-2/dispute",
        Some(json!({"dispute": "under_review", "by": "信用中心", "reason": "异议"})),
        None,
    )
    .await;
    assert!(disputed.status().is_success());
    let score = json!({"subject_id": person, "listed_on": "2026-01-01", "score": 560});
    put_entry(&app, "personal_credit_score", "S-1", &score).await;
    put_entry(
        &app,
        "personal_credit_score",
        "S-1",
        &json!({"subject_id": person, "listed_on": "2026-01-01", "score": 720}),
    )
    .await;
    let removed = send(
        &app,
        Method::DELETE,
        "/v1/lists/court_dishonest_debtor/entries/E-3",
        Some(json!({"by": "法院", "reason": "履行完毕"})),
        None,
    )
    .await;
    assert!(removed.status().is_success());

    // The one that was down comes back after a while.
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let state = app
        .get_json(&format!("/v1/subscriptions/{}", ids[&down.port]))
        .await;
    assert!(
        state["delivery"]["attempts"].as_u64().unwrap() >= 1,
        "{state}"
    );
    assert!(
        state["delivery"]["last_error"]
            .as_str()
            .unwrap()
            .contains("connect"),
        "{state}"
    );
    assert!(state["delivery"]["next_retry_at"].is_string(), "{state}");
    assert!(
        state["delivery"]["backlog"].as_u64().unwrap() > 0,
        "{state}"
    );
    down.come_up();

    let expected = feed(&app, start).await;
    let expected_ids: Vec<u64> = expected
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(expected_ids.len(), 14, "{expected:?}");
    let types: Vec<&str> = expected
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "entry.listed",
            "entry.listed",
            "entry.listed",
            "entry.listed",
            "entry.listed",
            "entry.listed",
            "entry.listed",
            "entry.listed",
            "entry.changed",
            "entry.repaired",
            "entry.dispute_changed",
            "entry.listed",
            "score.level_changed",
            "entry.removed",
        ]
    );
    for receiver in [&flaky, &down, &slow] {
        eventually("every event delivered", Duration::from_secs(60), || {
            receiver.event_ids().len() >= expected_ids.len()
        })
        .await;
        assert_eq!(
            receiver.event_ids(),
            expected_ids,
            "in order, each once after de-duplication"
        );
        for got in receiver.received() {
            assert!(
                signature::verify(SECRET, &got.signature, got.body.as_bytes()),
                "{}",
                got.signature
            );
            let event = event_of(&got);
            let listed = expected.iter().find(|e| e["id"] == event["id"]).unwrap();
            assert_eq!(&event, listed, "the pushed event is the feed's");
        }
        let state = app
            .get_json(&format!("/v1/subscriptions/{}", ids[&receiver.port]))
            .await;
        assert_eq!(state["delivery"]["backlog"], 0, "{state}");
        assert_eq!(
            state["delivery"]["last_delivered_event"],
            expected.last().unwrap()["id"],
            "{state}"
        );
    }
    assert!(flaky.requests.load(Ordering::SeqCst) >= expected_ids.len() + 4);

    // The delivery latency from an admin write's acknowledgement, to a healthy receiver.
    let healthy = Receiver::start(Behaviour::Healthy);
    subscribe(
        &app,
        json!({"url": healthy.url(), "secret": SECRET, "lists": ["wage_arrears"]}),
    )
    .await;
    let mut latencies = Vec::new();
    for n in 0..100 {
        let body = json!({"subject_id": uscc("91", 900 + n), "listed_on": "2026-01-01"});
        let acknowledged = put_entry(&app, "wage_arrears", &format!("W-{n}"), &body).await;
        eventually("the event arrives", Duration::from_secs(10), || {
            healthy.received().len() > n as usize
        })
        .await;
        latencies.push((healthy.received()[n as usize].at - acknowledged).as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    eprintln!(
        "push delivery latency from the write's acknowledgement, 100 writes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1]
    );
    let _ = &redis;
}

#[actix_web::test]
async fn a_department_sees_and_manages_only_its_own_subscriptions() {
    let a = new_key("市市场监管局", &[Scope::Subscribe], None);
    let b = new_key("市住建局", &[Scope::Subscribe], None);
    let decide = new_key("市住建局", &[Scope::Decide], None);
    let keys = format!("{}\n{}\n{}", a.config, b.config, decide.config);
    let app = Spawn::demo().keys(&keys, false).start();
    let hook = Receiver::start(Behaviour::Healthy);
    let body = json!({"url": hook.url(), "secret": SECRET, "events": ["entry.listed"], "lists": ["court_dishonest_debtor"]});
    let created = send(
        &app,
        Method::POST,
        "/v1/subscriptions",
        Some(body.clone()),
        Some(&a.token),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["department"], "市市场监管局");
    assert_eq!(created["secret_hint"], "…0123");

    let listed: Value = send(&app, Method::GET, "/v1/subscriptions", None, Some(&a.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["subscriptions"].as_array().unwrap().len(), 1);
    let others: Value = send(&app, Method::GET, "/v1/subscriptions", None, Some(&b.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(others["subscriptions"], json!([]));
    for (method, path) in [
        (Method::GET, format!("/v1/subscriptions/{id}")),
        (Method::DELETE, format!("/v1/subscriptions/{id}")),
        (Method::GET, format!("/v1/subscriptions/{id}/dead-letters")),
        (
            Method::POST,
            format!("/v1/subscriptions/{id}/dead-letters/replay"),
        ),
    ] {
        let response = send(&app, method.clone(), &path, None, Some(&b.token)).await;
        problem(
            response,
            404,
            "subscription_not_found",
            &format!("{method} {path} by another department"),
        )
        .await;
    }
    let refused = send(
        &app,
        Method::GET,
        "/v1/subscriptions",
        None,
        Some(&decide.token),
    )
    .await;
    assert_eq!(refused.status(), 403);
    let refused = send(&app, Method::GET, "/v1/changes", None, None).await;
    assert_eq!(refused.status(), 401);

    let deleted = send(
        &app,
        Method::DELETE,
        &format!("/v1/subscriptions/{id}"),
        None,
        Some(&a.token),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    let gone = send(
        &app,
        Method::GET,
        &format!("/v1/subscriptions/{id}"),
        None,
        Some(&a.token),
    )
    .await;
    assert_eq!(gone.status(), 404);
}

#[actix_web::test]
async fn a_subscription_that_is_not_right_is_refused_naming_each_field() {
    let app = Spawn::demo()
        .push(|push| push.networks = Default::default())
        .start();
    let response = send(
        &app,
        Method::POST,
        "/v1/subscriptions",
        Some(json!({
            "url": "http://127.0.0.1:9/hook",
            "secret": "short",
            "events": ["entry.listed", "entry.vanished"],
            "lists": ["no_such_list"],
            "colour": "red",
        })),
        None,
    )
    .await;
    let refused = problem(response, 400, "invalid_request", "a bad subscription").await;
    let fields = crate::helpers::error_fields(&refused);
    for field in ["url", "secret", "events[1]", "lists[0]", "colour"] {
        assert!(fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
    let url_error = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == "url")
        .unwrap();
    assert!(
        url_error["message"]
            .as_str()
            .unwrap()
            .contains("--push-allow-networks"),
        "{url_error}"
    );
    let missing = send(
        &app,
        Method::POST,
        "/v1/subscriptions",
        Some(json!({})),
        None,
    )
    .await;
    let problem = problem(missing, 400, "invalid_request", "an empty subscription").await;
    assert_eq!(crate::helpers::error_fields(&problem), ["url", "secret"]);
    assert_eq!(
        app.get_json("/v1/subscriptions").await["subscriptions"],
        json!([])
    );
}

#[actix_web::test]
async fn an_event_not_acknowledged_within_the_horizon_is_a_dead_letter_and_can_be_replayed() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis))
        .push(|push| {
            push.first_backoff = Duration::from_millis(100);
            push.max_backoff = Duration::from_millis(200);
            push.horizon = Duration::from_secs(1);
        })
        .start();
    let receiver = Receiver::start(Behaviour::FailsFirst(1_000_000));
    let id = subscribe(&app, json!({"url": receiver.url(), "secret": SECRET})).await;
    for n in 0..2 {
        let body = json!({"subject_id": uscc("91", 500 + n), "listed_on": "2026-01-01"});
        put_entry(&app, "wage_arrears", &format!("D-{n}"), &body).await;
    }
    let path = format!("/v1/subscriptions/{id}/dead-letters");
    let started = Instant::now();
    let letters = loop {
        let letters = app.get_json(&path).await;
        if letters["total"] == 2 {
            break letters;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{letters}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let first = &letters["dead_letters"][0];
    assert_eq!(first["event"]["type"], "entry.listed");
    assert!(
        first["last_error"].as_str().unwrap().contains("503"),
        "{first}"
    );
    assert!(first["attempts"].as_u64().unwrap() >= 2, "{first}");
    let state = app.get_json(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(state["delivery"]["dead_lettered"], 2, "{state}");
    assert_eq!(state["delivery"]["delivered"], 0, "{state}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("jiangcheng_push_dead_letters_total 2\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("jiangcheng_push_attempts_total{result=\"delivered\"} 1"));

    // Fixed, the receiver is sent the dead letters again, in order.
    receiver.fixed.store(true, Ordering::SeqCst);
    let replayed = send(&app, Method::POST, &format!("{path}/replay"), None, None).await;
    assert_eq!(replayed.status(), 202);
    assert_eq!(replayed.json::<Value>().await.unwrap()["replaying"], 2);
    eventually("both replayed", Duration::from_secs(20), || {
        receiver.event_ids().len() == 2
    })
    .await;
    let first_listed = letters["dead_letters"][0]["event"]["id"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert_eq!(receiver.event_ids(), [first_listed, first_listed + 1]);
    assert_eq!(app.get_json(&path).await["total"], 0);
    let state = app.get_json(&format!("/v1/subscriptions/{id}")).await;
    assert_eq!(state["delivery"]["delivered"], 2, "{state}");
    let _ = &redis;
}

#[actix_web::test]
async fn the_change_feed_pages_in_order_and_refuses_a_cursor_beyond_the_newest() {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    for n in 0..5 {
        let body = json!({"subject_id": uscc("91", 700 + n), "listed_on": "2026-01-01"});
        put_entry(&app, "wage_arrears", &format!("F-{n}"), &body).await;
    }
    let first = app.get_json("/v1/changes?limit=2").await;
    assert_eq!(first["next"], "2");
    assert_eq!(first["newest"], "5");
    assert_eq!(first["missed"], 0);
    let ids: Vec<&str> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2"]);
    let all = feed(&app, 0).await;
    assert_eq!(all.len(), 5);
    for event in &all {
        assert!(
            crate::helpers::is_rfc3339_plus8(event["occurred_at"].as_str().unwrap()),
            "{event}"
        );
        assert_eq!(event["entry"]["list"], "wage_arrears");
    }
    let last = app.get_json("/v1/changes?after=5").await;
    assert_eq!(
        (
            last["next"].as_str(),
            last["events"].as_array().map(Vec::len)
        ),
        (Some("5"), Some(0))
    );
    let ahead = app.get("/v1/changes?after=99").await;
    problem(
        ahead,
        409,
        "cursor_ahead",
        "a cursor beyond the newest event",
    )
    .await;
    let bad = app.get("/v1/changes?after=abc").await;
    let bad = problem(bad, 400, "invalid_request", "a cursor that is not a number").await;
    assert_eq!(crate::helpers::error_fields(&bad), ["after"]);
}

#[actix_web::test]
async fn with_lists_from_a_file_a_reload_is_pushed_and_the_delivery_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    let push_dir = dir.path().join("push");
    let company = uscc("91", 801);
    let listed = |id: &str, subject: &str| {
        entry_with(
            id,
            "court_dishonest_debtor",
            subject,
            json!({"listed_on": "2026-01-01"}),
        )
    };
    write_jsonl(
        &lists,
        &[listed("K-1", &company), listed("K-2", &uscc("91", 802))],
    );
    let start = |push_dir: std::path::PathBuf| {
        Spawn::files(rules_dir(), lists.clone())
            .push(move |push| push.dir = push_dir)
            .start()
    };
    let receiver = Receiver::start(Behaviour::Healthy);
    let app = start(push_dir.clone());
    subscribe(&app, json!({"url": receiver.url(), "secret": SECRET})).await;
    // K-1 amended, K-2 removed, K-3 listed.
    let mut amended = listed("K-1", &company);
    amended["reason"] = json!("更正");
    write_jsonl(&lists, &[amended, listed("K-3", &uscc("91", 803))]);
    assert!(app.reload(jiangcheng::startup::Reload::Forced).await);
    eventually("three events", Duration::from_secs(20), || {
        receiver.event_ids().len() == 3
    })
    .await;
    let mut types: Vec<String> = receiver
        .received()
        .iter()
        .map(|got| event_of(got)["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["entry.changed", "entry.listed", "entry.removed"]);
    app.stop().await.unwrap();

    // Restarted on the same folder: nothing is sent twice, and the next change is sent.
    let app = start(push_dir);
    write_jsonl(&lists, &[listed("K-3", &uscc("91", 803))]);
    assert!(app.reload(jiangcheng::startup::Reload::Forced).await);
    eventually("the fourth event", Duration::from_secs(20), || {
        receiver.received().len() >= 4
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 4, "nothing sent twice");
    assert_eq!(receiver.event_ids(), [1, 2, 3, 4]);
    assert_eq!(event_of(&receiver.received()[3])["type"], "entry.removed");
}

#[actix_web::test]
async fn an_entry_whose_window_ends_is_pushed_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let ending = entry_with(
        "X-1",
        "court_dishonest_debtor",
        &uscc("91", 901),
        json!({
            "listed_on": "2026-01-01",
            "valid_until": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }),
    );
    write_jsonl(&lists, &[ending]);
    let app = Spawn::files(rules_dir(), lists)
        .push(|push| push.expiry_scan = Duration::from_millis(500))
        .start();
    let receiver = Receiver::start(Behaviour::Healthy);
    subscribe(
        &app,
        json!({"url": receiver.url(), "secret": SECRET, "events": ["entry.expired"]}),
    )
    .await;
    eventually("the expiry", Duration::from_secs(20), || {
        !receiver.received().is_empty()
    })
    .await;
    let event = event_of(&receiver.received()[0]);
    assert_eq!(event["type"], "entry.expired");
    assert_eq!(event["entry"]["entry_id"], "X-1");
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 1, "an expiry is pushed once");
}

#[actix_web::test]
async fn instances_on_one_redis_share_the_delivery_and_one_takes_over_when_another_stops() {
    let redis = RedisServer::start();
    let first = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let second = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let receiver = Receiver::start(Behaviour::Healthy);
    subscribe(&first, json!({"url": receiver.url(), "secret": SECRET})).await;
    let write = |app: &TestApp, n: u64| {
        let body = json!({"subject_id": uscc("91", 600 + n), "listed_on": "2026-01-01"});
        let app = app.url("");
        async move {
            let client = reqwest::Client::new();
            let response = client
                .put(format!("{app}/v1/lists/wage_arrears/entries/T-{n}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
        }
    };
    for n in 0..10 {
        write(if n % 2 == 0 { &first } else { &second }, n).await;
    }
    eventually("ten events", Duration::from_secs(20), || {
        receiver.event_ids().len() == 10
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        10,
        "one instance delivers each event"
    );
    // The instance that held the lease (whichever) stops and frees it; the other goes on.
    first.stop().await.unwrap();
    for n in 10..15 {
        write(&second, n).await;
    }
    eventually("fifteen events", Duration::from_secs(30), || {
        receiver.event_ids().len() == 15
    })
    .await;
    assert_eq!(receiver.event_ids(), (1..=15).collect::<Vec<u64>>());
    let _ = &redis;
}

#[actix_web::test]
async fn a_breach_of_a_credit_commitment_is_pushed_to_those_who_want_it() {
    let app = Spawn::demo().start();
    let breaches = Receiver::start(Behaviour::Healthy);
    let court = Receiver::start(Behaviour::Healthy);
    subscribe(
        &app,
        json!({"url": breaches.url(), "secret": SECRET, "events": ["commitment.breached"]}),
    )
    .await;
    subscribe(
        &app,
        json!({"url": court.url(), "secret": SECRET, "lists": ["court_dishonest_debtor"]}),
    )
    .await;
    let company = uscc("91", 951);
    let commitment = send(
        &app,
        Method::POST,
        "/v1/commitments",
        Some(json!({
            "subject": {"id": company}, "matter": "admin_license_general",
            "text": "齐审批承诺〔2026〕951号", "signed_at": "2026-11-20T09:30:00+08:00",
            "valid_until": "2027-11-20T00:00:00+08:00", "department": "市行政审批服务局",
        })),
        None,
    )
    .await;
    assert_eq!(commitment.status(), 201);
    let commitment: Value = commitment.json().await.unwrap();
    let breach = send(
        &app,
        Method::POST,
        "/v1/feedback",
        Some(json!({
            "action": "commitment_breached", "commitment_id": commitment["commitment_id"],
            "executing_department": "市市场监督管理局", "reason": "承诺已取得消防验收，核查未取得",
        })),
        None,
    )
    .await;
    assert_eq!(breach.status(), 201);
    let breach: Value = breach.json().await.unwrap();
    eventually("the breach's event", Duration::from_secs(20), || {
        !breaches.received().is_empty()
    })
    .await;
    let event = event_of(&breaches.received()[0]);
    assert_eq!(event["type"], "commitment.breached");
    assert_eq!(event["entry"], Value::Null);
    assert_eq!(event["breach"]["breach_id"], breach["breach_id"]);
    assert_eq!(event["breach"]["subject"]["id"], company.as_str());
    let feed = app.get_json("/v1/changes?after=0").await;
    assert_eq!(feed["events"][0]["breach"], event["breach"]);
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(court.received().is_empty(), "a breach names no list");
}

#[actix_web::test]
async fn a_subscription_filtered_by_a_watchlist_gets_the_changes_touching_its_subjects_even_through_a_person(
) {
    let redis = RedisServer::start();
    let app = Spawn::source(rules_dir(), redis_source(&redis)).start();
    let (supervised, other, person) = (uscc("91", 961), uscc("91", 962), rid(961));
    let put = send(
        &app,
        Method::PUT,
        "/v1/watchlists/licensees",
        Some(json!({"subjects": [{"id": supervised}, {"id": person}]})),
        None,
    )
    .await;
    assert_eq!(put.status(), 201);
    let missing = send(
        &app,
        Method::POST,
        "/v1/subscriptions",
        Some(json!({"url": "http://127.0.0.1:9/hook", "secret": SECRET, "watchlist": "bidders"})),
        None,
    )
    .await;
    let refused = problem(
        missing,
        400,
        "invalid_request",
        "a watchlist the department lacks",
    )
    .await;
    assert_eq!(crate::helpers::error_fields(&refused), ["watchlist"]);
    let receiver = Receiver::start(Behaviour::Healthy);
    subscribe(
        &app,
        json!({"url": receiver.url(), "secret": SECRET, "watchlist": "licensees"}),
    )
    .await;
    let listed = |subject: &str| json!({"subject_id": subject, "listed_on": "2026-01-01"});
    put_entry(&app, "wage_arrears", "W-SUP", &listed(&supervised)).await;
    put_entry(&app, "wage_arrears", "W-OTHER", &listed(&other)).await;
    let mut via = listed(&uscc("91", 963));
    via["responsible_persons"] = json!([{"role": "legal_rep", "id": person, "name": "王某"}]);
    put_entry(&app, "court_dishonest_debtor", "C-VIA", &via).await;
    eventually("two events", Duration::from_secs(20), || {
        receiver.received().len() >= 2
    })
    .await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let entries: Vec<String> = receiver
        .received()
        .iter()
        .map(|got| {
            event_of(got)["entry"]["entry_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(entries, ["W-SUP", "C-VIA"]);
    let _ = &redis;
}
