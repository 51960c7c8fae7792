//! The binary's own limits: how long `serve` waits for a stuck client once told to stop, and
//! how it logs malformed requests (one rate-limited warning, not an error line each).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{demo_lists, rules_dir};
use crate::process::{free_port, serve_command, wait_exit, Running};

#[actix_web::test]
async fn serve_stops_within_its_shutdown_grace_while_a_client_is_stuck_mid_request() {
    let port = free_port();
    let mut command = serve_command(&rules_dir(), &demo_lists(), port, Stdio::null());
    command.args(["--shutdown-grace-seconds", "2"]);
    let (server, client) = Running::until_ready(command, port).await;
    // A request whose body stops after 10 of 1000 bytes: its handler waits for the rest (the
    // body timeout, 10 s, is longer than the grace).
    let mut stuck = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stuck
        .write_all(b"POST /v1/decide HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"subject\"")
        .expect("half a request");
    let started = Instant::now();
    loop {
        let text = server.metrics(&client).await;
        if text.contains("jiangcheng_http_in_flight{pool=\"requests\"} 1") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stuck request never reached its handler:\n{text}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(terminated.success());
    let stopping = Instant::now();
    let mut server = server;
    let exited = wait_exit(&mut server.child, Duration::from_secs(20));
    let took = stopping.elapsed();
    assert!(
        exited.is_some(),
        "serve still running {took:?} after SIGTERM"
    );
    assert!(
        took < Duration::from_secs(2) + Duration::from_secs(4),
        "serve took {took:?} to stop with a grace of 2 s"
    );
    // The stuck client's connection went with the server.
    stuck
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut rest = Vec::new();
    let _ = stuck.read_to_end(&mut rest);
}

#[actix_web::test]
async fn malformed_requests_get_400_and_are_logged_as_one_warning_not_an_error_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr_path = dir.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let port = free_port();
    let command = serve_command(&rules_dir(), &demo_lists(), port, Stdio::from(stderr));
    let (server, client) = Running::until_ready(command, port).await;
    let malformed = 50;
    let answers = actix_web::web::block(move || {
        (0..malformed)
            .map(|i| {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .expect("read timeout");
                let request = if i % 2 == 0 {
                    "NOT HTTP AT ALL\r\n\r\n".to_owned()
                } else {
                    "GET /healthz HTTP/1.1\r\nHost: test\r\nA header without a colon\r\n\r\n"
                        .to_owned()
                };
                stream.write_all(request.as_bytes()).expect("write");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                answer
            })
            .collect::<Vec<_>>()
    })
    .await
    .expect("the malformed requests");
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    let metrics = server.metrics(&client).await;
    assert!(
        metrics.contains(&format!("jiangcheng_http_protocol_errors {malformed}")),
        "every malformed request is counted:\n{metrics}"
    );
    drop(server);
    let logs = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert!(
        !logs.contains("ERROR"),
        "a malformed request is not an error of the service:\n{logs}"
    );
    let warnings = logs
        .lines()
        .filter(|line| line.contains("malformed HTTP requests"))
        .count();
    assert_eq!(
        warnings, 1,
        "the first one is reported at once, the rest within the interval together:\n{logs}"
    );
}
