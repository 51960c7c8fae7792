//! What one client can hold, each limit reproduced by its attack over a plain socket against the
//! real server: slow heads and bodies (408, then closed), answers never read (a bounded number
//! held, the rest shed, the connections aborted after the write timeout), a full request pool
//! (503 with `Retry-After`, the probes still answered), a flood of batches beside single
//! decisions, the connection limit, the listen backlog, and error answers to huge bad requests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use jiangcheng::http::Limits;
use serde_json::{json, Value};

use crate::helpers::{demo_lists, header, problem, uscc, Spawn, TestApp, AS_OF};

/// A valid company identifier.
fn subject() -> String {
    uscc("91", 7)
}

/// A generous margin over a timeout, for a loaded machine.
const MARGIN: Duration = Duration::from_secs(4);

/// How often actix-http updates the clock its own timers read (the head timeout among them):
/// such a timer may fire up to this much before its time, by where the clock stood when the
/// connection came in.
const FRAMEWORK_CLOCK_TICK: Duration = Duration::from_millis(500);

fn socket_address(app: &TestApp) -> SocketAddr {
    app.address
        .trim_start_matches("http://")
        .parse()
        .expect("the test server's address")
}

/// What a plain-socket client saw.
struct Seen {
    /// Everything it read.
    text: String,
    /// When the server closed the connection, counted from the first write; `None` if it was
    /// still open at the client's limit.
    closed_after: Option<Duration>,
}

impl Seen {
    fn status(&self) -> u16 {
        self.text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// The answer's body as JSON.
    fn json(&self) -> Value {
        let body = self
            .text
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body);
        serde_json::from_str(body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text))
    }
}

/// Connects, writes `first`, then `trickle` once every `every` if given, and reads until the
/// server closes the connection or `limit` has passed.
async fn raw(
    address: SocketAddr,
    first: Vec<u8>,
    trickle: Option<(&'static [u8], Duration)>,
    limit: Duration,
) -> Seen {
    actix_web::web::block(move || {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let started = Instant::now();
        stream.write_all(&first).expect("write the first bytes");
        let mut last_trickle = started;
        let mut read = Vec::new();
        let mut buffer = [0u8; 65536];
        while started.elapsed() < limit {
            if let Some((bytes, every)) = trickle {
                if last_trickle.elapsed() >= every {
                    // Once the server has closed, a write may fail: reading will tell.
                    let _ = stream.write_all(bytes);
                    last_trickle = Instant::now();
                }
            }
            match stream.read(&mut buffer) {
                Ok(0) => {
                    return Seen {
                        text: String::from_utf8_lossy(&read).into_owned(),
                        closed_after: Some(started.elapsed()),
                    }
                }
                Ok(n) => read.extend_from_slice(&buffer[..n]),
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => {
                    return Seen {
                        text: String::from_utf8_lossy(&read).into_owned(),
                        closed_after: Some(started.elapsed()),
                    }
                }
            }
        }
        Seen {
            text: String::from_utf8_lossy(&read).into_owned(),
            closed_after: None,
        }
    })
    .await
    .expect("the plain-socket client")
}

fn decide_head(extra: &str) -> Vec<u8> {
    format!(
        "POST /v1/decide HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn with(mut head: Vec<u8>, body: &[u8]) -> Vec<u8> {
    head.extend_from_slice(body);
    head
}

/// Asserts a 408 problem, then that the server closed within the timeout and a margin (and not
/// before the timeout; the framework's own 408, without a `code`, not before the timeout less
/// its clock's tick).
fn assert_timed_out(seen: &Seen, timeout: Duration, code: Option<&str>, what: &str) {
    assert_eq!(seen.status(), 408, "{what}: {}", seen.text);
    let earliest = match code {
        Some(_) => timeout,
        None => timeout - FRAMEWORK_CLOCK_TICK,
    };
    if let Some(code) = code {
        assert!(
            seen.text
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{what}: {}",
            seen.text
        );
        assert_eq!(seen.json()["code"], code, "{what}: {}", seen.text);
    }
    let closed = seen
        .closed_after
        .unwrap_or_else(|| panic!("{what}: still open after {:?}", timeout + MARGIN));
    assert!(
        closed >= earliest && closed <= timeout + MARGIN,
        "{what}: closed after {closed:?}, the timeout is {timeout:?}"
    );
}

#[actix_web::test]
async fn each_slow_body_gets_408_and_is_closed_within_the_body_timeout() {
    let timeout = Duration::from_secs(2);
    let app = Spawn::demo()
        .limits(Limits {
            body_timeout: timeout,
            ..Limits::default()
        })
        .start();
    let address = socket_address(&app);
    let limit = timeout + MARGIN + Duration::from_secs(1);
    let (stalled, trickled, chunked) = tokio::join!(
        // A Content-Length of 1000 with 10 bytes sent.
        raw(
            address,
            with(decide_head("Content-Length: 1000\r\n"), b"{\"subject\""),
            None,
            limit
        ),
        // The body trickled one byte every 2 s.
        raw(
            address,
            with(decide_head("Content-Length: 1000\r\n"), b"{"),
            Some((b" ", Duration::from_secs(2))),
            limit
        ),
        // A chunked body that never ends.
        raw(
            address,
            with(
                decide_head("Transfer-Encoding: chunked\r\n"),
                b"b\r\n{\"subject\":\r\n"
            ),
            None,
            limit
        ),
    );
    assert_timed_out(&stalled, timeout, Some("body_timeout"), "10 of 1000 bytes");
    assert_timed_out(&trickled, timeout, Some("body_timeout"), "a byte every 2 s");
    assert_timed_out(
        &chunked,
        timeout,
        Some("body_timeout"),
        "an unterminated chunked body",
    );
    assert!(
        stalled
            .text
            .to_ascii_lowercase()
            .contains("connection: close"),
        "the answer says the connection closes: {}",
        stalled.text
    );
    app.decide(&subject(), "gov_procurement", AS_OF).await;
}

#[actix_web::test]
async fn a_head_that_never_ends_gets_408_and_is_closed_within_the_head_timeout() {
    let timeout = Duration::from_secs(1);
    let app = Spawn::demo()
        .limits(Limits {
            head_timeout: timeout,
            ..Limits::default()
        })
        .start();
    let seen = raw(
        socket_address(&app),
        b"POST /v1/decide HTTP/1.1\r\nHost: test\r\nContent-Ty".to_vec(),
        None,
        timeout + MARGIN + Duration::from_secs(1),
    )
    .await;
    // The framework answers a slow head itself, without a problem body.
    assert_timed_out(&seen, timeout, None, "half a head");
}

#[actix_web::test]
async fn a_body_that_stops_on_a_route_that_does_not_read_it_is_closed_not_drained() {
    let app = Spawn::demo().start();
    // A chunked body trickled for ever to a route that answers without reading it: the
    // connection is closed after the answer rather than drained for as long as it trickles.
    let seen = raw(
        socket_address(&app),
        b"POST /v1/no-such-route HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n"
            .to_vec(),
        Some((b"1\r\na\r\n", Duration::from_millis(500))),
        Duration::from_secs(8),
    )
    .await;
    assert_eq!(seen.status(), 404, "{}", seen.text);
    assert!(
        seen.closed_after.is_some(),
        "still open after 8 s of trickling: {}",
        seen.text
    );
}

/// The subjects of the demo lists, each listed: a batch of them has a long answer.
fn listed_subjects() -> Vec<String> {
    let text = std::fs::read_to_string(demo_lists()).expect("the demo lists");
    let mut subjects: Vec<String> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|entry| entry["subject_id"].as_str().map(str::to_owned))
        .collect();
    subjects.sort();
    subjects.dedup();
    subjects
}

/// A request of `n` listed subjects (its answer: about 640 bytes a subject).
fn batch_request(n: usize) -> Vec<u8> {
    let subjects = listed_subjects();
    let body = json!({
        "matter": "gov_procurement",
        "as_of": AS_OF,
        "subjects": (0..n).map(|i| json!({"id": subjects[i % subjects.len()]})).collect::<Vec<_>>(),
    })
    .to_string();
    format!(
        "POST /v1/decide/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A client that sends its request and never reads the answer, with a small receive buffer.
fn never_reading(address: SocketAddr, request: &[u8]) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&address.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    stream.write_all(request).expect("send the request");
    stream
}

/// The value of a metric line (`name{labels}`), 0 if absent.
async fn metric(app: &TestApp, line: &str) -> f64 {
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(line).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Waits until `line` reads `value`, at most `limit`.
async fn until_metric(app: &TestApp, line: &str, value: f64, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let now = metric(app, line).await;
        if now == value {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{line} is {now}, not {value}, after {limit:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn answers_never_read_hold_at_most_the_batch_limit_until_the_write_timeout_aborts_them() {
    let write_timeout = Duration::from_secs(2);
    let app = Spawn::demo()
        .limits(Limits {
            max_batches_in_flight: 2,
            write_timeout,
            ..Limits::default()
        })
        .start();
    let address = socket_address(&app);
    // Each answer is about 6 MB: more than the kernel's socket buffers take.
    let request = batch_request(10_000);
    let readers: Vec<TcpStream> = (0..2).map(|_| never_reading(address, &request)).collect();
    until_metric(
        &app,
        "jiangcheng_http_in_flight{pool=\"batches\"}",
        2.0,
        Duration::from_secs(60),
    )
    .await;
    // Two answers unread hold both batch slots: the next batch is shed, not queued.
    let shed = app
        .post_batch(
            &json!({"matter": "gov_procurement", "subjects": [{"id": subject()}], "as_of": AS_OF}),
        )
        .await;
    assert_eq!(header(&shed, "retry-after"), "1");
    let p = problem(shed, 503, "overloaded", "a third batch").await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("2 batches"),
        "{p}"
    );
    assert_eq!(
        metric(&app, "jiangcheng_http_shed_total{pool=\"batches\"}").await,
        1.0
    );
    // Single decisions are still served.
    app.decide(&subject(), "gov_procurement", AS_OF).await;
    // The write timeout aborts both connections, which frees their slots.
    let freed = until_metric(
        &app,
        "jiangcheng_http_in_flight{pool=\"batches\"}",
        0.0,
        write_timeout + Duration::from_secs(30),
    )
    .await;
    for mut reader in readers {
        reader
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let mut answer = Vec::new();
        assert!(
            reader.read_to_end(&mut answer).is_err(),
            "the connection was aborted, not closed after a whole answer ({} bytes read; slots freed after {freed:?})",
            answer.len()
        );
    }
    let served = app
        .post_batch(
            &json!({"matter": "gov_procurement", "subjects": [{"id": subject()}], "as_of": AS_OF}),
        )
        .await;
    assert_eq!(served.status(), 200, "a batch is served again");
}

#[actix_web::test]
async fn past_the_request_limit_requests_get_503_with_retry_after_and_the_probes_still_answer() {
    let app = Spawn::demo()
        .limits(Limits {
            max_in_flight: 2,
            max_batches_in_flight: 1,
            ..Limits::default()
        })
        .start();
    let address = socket_address(&app);
    // Two requests whose bodies stop half-way hold both slots (until the body timeout).
    let holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(address).expect("connect");
            stream
                .write_all(&with(
                    decide_head("Content-Length: 1000\r\n"),
                    b"{\"subject\"",
                ))
                .expect("write");
            stream
        })
        .collect();
    until_metric(
        &app,
        "jiangcheng_http_in_flight{pool=\"requests\"}",
        2.0,
        Duration::from_secs(10),
    )
    .await;
    let response = app
        .post_decide(&json!({"subject": {"id": subject()}, "matter": "gov_procurement"}))
        .await;
    assert_eq!(header(&response, "retry-after"), "1");
    problem(response, 503, "overloaded", "a third request").await;
    for probe in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(probe).await.status(), 200, "{probe} is never shed");
    }
    assert_eq!(
        metric(&app, "jiangcheng_http_shed_total{pool=\"requests\"}").await,
        1.0
    );
    drop(holders);
    until_metric(
        &app,
        "jiangcheng_http_in_flight{pool=\"requests\"}",
        0.0,
        Duration::from_secs(10),
    )
    .await;
    app.decide(&subject(), "gov_procurement", AS_OF).await;
}

#[actix_web::test]
async fn a_flood_of_batches_is_shed_while_single_decisions_are_served() {
    let app = Spawn::demo()
        .limits(Limits {
            max_in_flight: 16,
            max_batches_in_flight: 2,
            ..Limits::default()
        })
        .start();
    let address = socket_address(&app);
    // Two batches whose bodies stop half-way hold both batch slots.
    let head = "POST /v1/decide/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"matter\"";
    let holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(address).expect("connect");
            stream.write_all(head.as_bytes()).expect("write");
            stream
        })
        .collect();
    until_metric(
        &app,
        "jiangcheng_http_in_flight{pool=\"batches\"}",
        2.0,
        Duration::from_secs(10),
    )
    .await;
    let batch =
        json!({"matter": "gov_procurement", "subjects": [{"id": subject()}], "as_of": AS_OF});
    let decision =
        json!({"subject": {"id": subject()}, "matter": "gov_procurement", "as_of": AS_OF});
    let mut flood = tokio::task::JoinSet::new();
    for (path, body) in (0..20).flat_map(|_| {
        [
            ("/v1/decide/batch", batch.clone()),
            ("/v1/decide", decision.clone()),
        ]
    }) {
        let request = app.client.post(app.url(path)).json(&body).send();
        flood.spawn(async move {
            let response = request.await.expect("POST");
            (
                path,
                response.status().as_u16(),
                header(&response, "retry-after"),
            )
        });
    }
    while let Some(answer) = flood.join_next().await {
        match answer.expect("a request of the flood") {
            ("/v1/decide/batch", status, retry_after) => {
                assert_eq!(
                    (status, retry_after.as_str()),
                    (503, "1"),
                    "a batch over the batch limit"
                );
            }
            (_, status, _) => assert_eq!(status, 200, "a single decision beside the flood"),
        }
    }
    assert_eq!(
        metric(&app, "jiangcheng_http_shed_total{pool=\"batches\"}").await,
        20.0
    );
    assert_eq!(
        metric(&app, "jiangcheng_http_shed_total{pool=\"requests\"}").await,
        0.0
    );
    drop(holders);
}

#[test]
fn the_listener_queues_as_many_connections_as_its_backlog_asks() {
    // Nothing accepts: every connection waits in the kernel's queue, whose length is the
    // backlog (std's bind asks for 128; past it, connection attempts are dropped and retried).
    let listener = jiangcheng::http::bind("127.0.0.1:0".parse().expect("address"), 1024)
        .expect("bind with a backlog");
    let address = listener.local_addr().expect("address");
    let queued: Vec<TcpStream> = (0..600)
        .map_while(|_| TcpStream::connect_timeout(&address, Duration::from_millis(300)).ok())
        .collect();
    assert_eq!(
        queued.len(),
        600,
        "connections queued before any is accepted"
    );
}

#[actix_web::test]
async fn a_2_mb_feedback_body_of_unknown_members_gets_a_small_answer_naming_20_of_them() {
    let app = Spawn::demo().start();
    let members = 74_000;
    let body: serde_json::Map<String, Value> = (0..members)
        .map(|i| (format!("unknown_member_{i:06}"), json!("x")))
        .collect();
    let body = Value::Object(body).to_string();
    assert!(body.len() > 2_000_000 && body.len() < 2 * 1024 * 1024);
    let response = app
        .post_raw("/v1/feedback", body, Some("application/json"))
        .await;
    let text = response.text().await.expect("body");
    assert!(
        text.len() < 16 * 1024,
        "a {} byte answer to a 2 MB body",
        text.len()
    );
    let p: Value = serde_json::from_str(&text).expect("problem+json");
    assert_eq!(p["code"], "invalid_request", "{p}");
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(20), "{p}");
    assert_eq!(p["errors_omitted"], members - 20, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("and {} more", members - 20)),
        "{p}"
    );
}

#[actix_web::test]
async fn a_1_9_mb_matter_is_echoed_only_in_part() {
    let app = Spawn::demo().start();
    let matter = "m".repeat(1_900_000);
    let response = app
        .post_decide(&json!({"subject": {"id": subject()}, "matter": matter}))
        .await;
    let length = response.content_length().unwrap_or(u64::MAX);
    let p = problem(response, 422, "unknown_matter", "a 1.9 MB matter").await;
    assert!(length < 4096, "a {length} byte answer: {p}");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("characters left out")
            && detail.ends_with("GET /v1/matters lists the valid codes"),
        "the detail keeps its start and end: {detail}"
    );
}

#[actix_web::test]
async fn past_the_connection_limit_a_new_connection_waits_until_one_closes() {
    let app = Spawn::demo()
        .limits(Limits {
            max_connections: 2,
            keep_alive: Duration::from_secs(60),
            ..Limits::default()
        })
        .start();
    let address = socket_address(&app);
    actix_web::web::block(move || {
        let health = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
        let mut buffer = [0u8; 1024];
        let connect = |wait: Duration| {
            let stream = TcpStream::connect(address).expect("connect");
            stream.set_read_timeout(Some(wait)).expect("read timeout");
            stream
        };
        // Two kept-alive connections, each answered once, hold both places.
        let held: Vec<TcpStream> = (0..2)
            .map(|_| {
                let mut stream = connect(Duration::from_secs(10));
                stream.write_all(health).expect("write");
                assert!(stream.read(&mut buffer).expect("an answer") > 0);
                stream
            })
            .collect();
        // A third is queued by the kernel but not served while they stay open.
        let mut waiting = connect(Duration::from_secs(1));
        waiting.write_all(health).expect("write");
        assert!(
            waiting.read(&mut buffer).is_err(),
            "a third connection was served past a limit of two"
        );
        drop(held);
        waiting
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let read = waiting
            .read(&mut buffer)
            .expect("served once a place is free");
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    })
    .await
    .expect("the plain-socket clients");
}
