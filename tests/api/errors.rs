//! Bad input (docs/api.md): every error is an RFC 9457 problem with a stable `code`; field
//! errors name each bad field; nothing a client sends panics a worker or changes server state.

use jiangcheng::http::Limits;
use serde_json::{json, Value};

use crate::follow::HeldLoad;
use crate::helpers::{
    demo_lists, entry, error_fields, problem, rid, rid_with_wrong_check, rules_dir, uscc, Spawn,
    TestApp, AS_OF,
};
use crate::redis::{import, RedisServer};

const LISTED: &str = "91230200MA1B2C3D8T";

fn app_with_one_entry() -> TestApp {
    Spawn::entries(&[entry("E-1", "court_dishonest_debtor", LISTED)]).start()
}

/// The server still decides correctly and its list version has not moved.
async fn still_serving(app: &TestApp, version: u64, what: &str) {
    let decision = app.decide(LISTED, "gov_procurement", AS_OF).await;
    assert_eq!(
        decision["decision"], "block",
        "after {what}: a good request still gets its answer"
    );
    assert_eq!(
        app.lists_version().await,
        version,
        "after {what}: lists_version changed"
    );
}

/// `{"subject": [[[…]]]}` nested far deeper than any parser should recurse.
static DEEP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{{\"subject\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    )
});

#[actix_web::test]
async fn a_malformed_body_gets_400_problem_json() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    let cases: [(&str, &[u8], &str); 11] = [
        (
            "trailing data after the object",
            br#"{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement"} x"#,
            "invalid_json",
        ),
        (
            "nesting 100,000 levels deep",
            DEEP.as_bytes(),
            "invalid_json",
        ),
        (
            "malformed JSON",
            br#"{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "#,
            "invalid_json",
        ),
        (
            "a trailing comma",
            br#"{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement",}"#,
            "invalid_json",
        ),
        (
            "single quotes",
            br#"{'subject': {'id': '91230200MA1B2C3D8T'}, 'matter': 'gov_procurement'}"#,
            "invalid_json",
        ),
        ("an empty body", b"", "invalid_json"),
        ("a body of whitespace", b"  \n ", "invalid_json"),
        (
            "bytes that are not UTF-8",
            b"{\"matter\": \"\xff\xfe\"}",
            "invalid_json",
        ),
        (
            "a JSON array instead of an object",
            br#"[{"subject": {"id": "91230200MA1B2C3D8T"}}]"#,
            "invalid_request",
        ),
        (
            "a JSON string",
            br#""91230200MA1B2C3D8T""#,
            "invalid_request",
        ),
        ("JSON null", b"null", "invalid_request"),
    ];
    for path in ["/v1/decide", "/v1/decide/batch"] {
        for (description, body, code) in cases {
            let what = format!("{description} to {path}");
            let response = app
                .post_raw(path, body.to_vec(), Some("application/json"))
                .await;
            let p = problem(response, 400, code, &what).await;
            if code == "invalid_request" {
                assert_eq!(error_fields(&p), vec!["(body)"], "{what}: {p}");
            }
            still_serving(&app, version, &what).await;
        }
    }
}

#[actix_web::test]
async fn a_wrong_content_type_gets_415() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    let body = json!({"subject": {"id": LISTED}, "matter": "gov_procurement"}).to_string();
    for (description, content_type) in [
        ("text/plain", Some("text/plain")),
        ("no content type", None),
        ("form encoding", Some("application/x-www-form-urlencoded")),
        ("xml", Some("application/xml")),
    ] {
        for path in ["/v1/decide", "/v1/decide/batch"] {
            let what = format!("{description} to {path}");
            let response = app.post_raw(path, body.clone(), content_type).await;
            problem(response, 415, "unsupported_media_type", &what).await;
            still_serving(&app, version, &what).await;
        }
    }
    // JSON with parameters or a +json suffix is accepted.
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge+json",
    ] {
        let response = app
            .post_raw("/v1/decide", body.clone(), Some(content_type))
            .await;
        assert_eq!(response.status(), 200, "{content_type} is JSON");
    }
}

#[actix_web::test]
async fn missing_and_mistyped_fields_are_each_named_in_errors() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "missing subject",
            json!({"matter": "gov_procurement"}),
            vec!["subject"],
        ),
        (
            "missing subject.id",
            json!({"subject": {}, "matter": "gov_procurement"}),
            vec!["subject.id"],
        ),
        (
            "subject.id null",
            json!({"subject": {"id": null}, "matter": "gov_procurement"}),
            vec!["subject.id"],
        ),
        (
            "subject.id a number",
            json!({"subject": {"id": 91230200}, "matter": "gov_procurement"}),
            vec!["subject.id"],
        ),
        (
            "subject a string",
            json!({"subject": LISTED, "matter": "gov_procurement"}),
            vec!["subject"],
        ),
        (
            "missing matter",
            json!({"subject": {"id": LISTED}}),
            vec!["matter"],
        ),
        (
            "matter a number",
            json!({"subject": {"id": LISTED}, "matter": 7}),
            vec!["matter"],
        ),
        (
            "missing subject and matter",
            json!({}),
            vec!["subject", "matter"],
        ),
        (
            "missing subject.id and matter, and a subject.name that is no member",
            json!({"subject": {"name": "x"}}),
            vec!["subject.name", "subject.id", "matter"],
        ),
        (
            "an invalid as_of",
            json!({"subject": {"id": LISTED}, "matter": "gov_procurement", "as_of": "yesterday"}),
            vec!["as_of"],
        ),
        (
            "as_of without an offset",
            json!({"subject": {"id": LISTED}, "matter": "gov_procurement", "as_of": "2026-11-22T10:00:00"}),
            vec!["as_of"],
        ),
        (
            "as_of a number",
            json!({"subject": {"id": LISTED}, "matter": "gov_procurement", "as_of": 1_700_000_000}),
            vec!["as_of"],
        ),
        (
            "an unknown id_type",
            json!({"subject": {"id": LISTED, "id_type": "passport"}, "matter": "gov_procurement"}),
            vec!["subject.id_type"],
        ),
        (
            "a department longer than 128 bytes",
            json!({"subject": {"id": LISTED}, "matter": "gov_procurement", "department": "x".repeat(129)}),
            vec!["department"],
        ),
        (
            "a malformed identifier and a missing matter",
            json!({"subject": {"id": "91230200MA1B2C3D8"}}),
            vec!["subject.id", "matter"],
        ),
        (
            "a bad as_of and a missing matter",
            json!({"subject": {"id": LISTED}, "as_of": "2026-13-01"}),
            vec!["matter", "as_of"],
        ),
    ];
    for (description, body, fields) in cases {
        let response = app.post_decide(&body).await;
        let p = problem(response, 400, "invalid_request", description).await;
        let mut got = error_fields(&p);
        got.sort();
        let mut expected: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        expected.sort();
        assert_eq!(got, expected, "{description}: fields named in {p}");
        for error in p["errors"].as_array().expect("errors") {
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{description}: message of {error}"
            );
        }
        still_serving(&app, version, description).await;
    }
}

#[actix_web::test]
async fn a_malformed_identifier_gets_400_invalid_subject_id_naming_subject_id() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    let good = uscc("91", 1);
    let cases: Vec<(&str, String, &str)> = vec![
        ("an empty string", String::new(), "empty"),
        ("only spaces", "   ".into(), "empty"),
        ("a USCC of 17 characters", good[..17].to_owned(), "length"),
        ("a USCC of 19 characters", format!("{good}0"), "length"),
        (
            "a first-generation resident ID of 15 digits without a real date",
            "230202850230123".into(),
            "positions 7-12 of the 15-digit resident id",
        ),
        (
            "15 characters that are not all digits",
            "23020285031212X".into(),
            "length",
        ),
        (
            "the letter O in a USCC",
            format!("{}O{}", &good[..10], &good[11..]),
            "`O`",
        ),
        (
            "the letter I in a USCC",
            format!("{}I{}", &good[..12], &good[13..]),
            "`I`",
        ),
        ("the letter Z in a USCC", format!("{}Z", &good[..17]), "`Z`"),
        (
            "a letter in USCC positions 3-8",
            format!("{}A{}", &good[..4], &good[5..]),
            "position 5",
        ),
        (
            "punctuation in a USCC",
            format!("{}-{}", &good[..10], &good[11..]),
            "`-`",
        ),
        (
            "a Chinese character",
            format!("{}码", &good[..17]),
            "position 18",
        ),
        (
            "a resident ID with month 13",
            "230202198513121234".into(),
            "month",
        ),
        (
            "a resident ID with day 32",
            "230202198503321234".into(),
            "day",
        ),
        (
            "a resident ID with 29 February of a common year",
            "230202198502291234".into(),
            "day",
        ),
        (
            "a resident ID born in 1899",
            "230202189903121234".into(),
            "year",
        ),
    ];
    for (description, id, hint) in cases {
        let all_digits = id.len() == 18 && id.bytes().all(|b| b.is_ascii_digit());
        assert!(
            !all_digits || crate::helpers::uscc_check(&id[..17]) != char::from(id.as_bytes()[17]),
            "{description}: {id} would read as a valid all-digit USCC"
        );
        let response = app
            .post_decide(&json!({"subject": {"id": id}, "matter": "gov_procurement"}))
            .await;
        let p = problem(response, 400, "invalid_subject_id", description).await;
        assert_eq!(error_fields(&p), vec!["subject.id"], "{description}: {p}");
        let message = p["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(hint),
            "{description}: the message should say what is wrong ({hint}): {message}"
        );
        still_serving(&app, version, description).await;
    }
}

#[actix_web::test]
async fn an_unlisted_resident_id_with_a_wrong_check_digit_gets_400_id_check_mismatch() {
    let app = app_with_one_entry();
    let (id, expected) = rid_with_wrong_check(5);
    let response = app
        .post_decide(&json!({"subject": {"id": id}, "matter": "gov_procurement"}))
        .await;
    let p = problem(
        response,
        400,
        "id_check_mismatch",
        "unlisted wrong-check resident ID",
    )
    .await;
    assert_eq!(error_fields(&p), vec!["subject.id"]);
    assert!(
        p["detail"].as_str().unwrap_or_default().contains(expected),
        "the expected digit in {p}"
    );
}

#[actix_web::test]
async fn an_unknown_matter_gets_422_naming_the_matters_endpoint() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    for matter in ["no_such_matter", "GOV_PROCUREMENT", ""] {
        let response = app
            .post_decide(&json!({"subject": {"id": LISTED}, "matter": matter}))
            .await;
        let p = problem(response, 422, "unknown_matter", matter).await;
        assert!(
            p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("/v1/matters"),
            "names the valid codes endpoint: {p}"
        );
        assert_eq!(error_fields(&p), vec!["matter"]);
        still_serving(&app, version, matter).await;
    }
}

#[actix_web::test]
async fn a_batch_over_the_limit_gets_413_batch_too_large() {
    let app = Spawn::entries(&[entry("E-1", "court_dishonest_debtor", LISTED)])
        .limits(Limits {
            max_batch: 5,
            ..Limits::default()
        })
        .start();
    let version = app.lists_version().await;
    let subjects = |n: u64| {
        (0..n)
            .map(|i| json!({"id": uscc("91", i)}))
            .collect::<Vec<_>>()
    };
    let response = app
        .post_batch(&json!({"matter": "gov_procurement", "subjects": subjects(5), "as_of": AS_OF}))
        .await;
    assert_eq!(response.status(), 200, "a batch at the limit is served");
    let response = app
        .post_batch(&json!({"matter": "gov_procurement", "subjects": subjects(6), "as_of": AS_OF}))
        .await;
    let p = problem(
        response,
        413,
        "batch_too_large",
        "6 subjects with max_batch 5",
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap_or_default().contains('5'),
        "names the limit: {p}"
    );
    still_serving(&app, version, "a batch over the limit").await;
}

#[actix_web::test]
async fn a_body_over_the_limit_gets_413_payload_too_large() {
    let app = Spawn::entries(&[entry("E-1", "court_dishonest_debtor", LISTED)])
        .limits(Limits {
            max_body_bytes: 512,
            ..Limits::default()
        })
        .start();
    let version = app.lists_version().await;
    let padding = "x".repeat(600);
    let body = json!({"subject": {"id": LISTED}, "matter": "gov_procurement", "case_ref": padding})
        .to_string();
    for path in ["/v1/decide", "/v1/decide/batch"] {
        let response = app
            .post_raw(path, body.clone(), Some("application/json"))
            .await;
        problem(response, 413, "payload_too_large", path).await;
        still_serving(&app, version, "a body over the limit").await;
    }
    // Without a Content-Length (chunked), the limit holds as the body is read.
    let (status, content_type) = post_chunked(&app.address, "/v1/decide", body.as_bytes()).await;
    assert_eq!(status, 413, "a chunked body over the limit");
    assert_eq!(content_type, "application/problem+json");
    still_serving(&app, version, "a chunked body over the limit").await;
}

#[actix_web::test]
async fn an_unknown_route_gets_404_and_a_wrong_method_405_as_problems() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    for path in [
        "/v1",
        "/v2/decide",
        "/v1/decide/extra",
        "/v1/subjects/",
        "/v1/subjects/x/y",
        "/metrics/x",
    ] {
        problem(app.get(path).await, 404, "not_found", path).await;
        still_serving(&app, version, path).await;
    }
    for (method, path) in [
        ("GET", "/v1/decide"),
        ("PUT", "/v1/decide"),
        ("DELETE", "/v1/decide/batch"),
        ("GET", "/v1/decide/batch"),
        ("POST", "/v1/subjects/91230200MA1B2C3D8T"),
        ("POST", "/v1/matters"),
        ("DELETE", "/v1/topics"),
        ("POST", "/v1/lists"),
        ("POST", "/v1/status"),
        ("POST", "/healthz"),
        ("POST", "/readyz"),
        ("POST", "/metrics"),
        ("POST", "/"),
        ("PUT", "/docs/api.md"),
    ] {
        let method: reqwest::Method = method.parse().expect("method");
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("request");
        problem(
            response,
            405,
            "method_not_allowed",
            &format!("{method} {path}"),
        )
        .await;
        still_serving(&app, version, &format!("{method} {path}")).await;
    }
}

#[actix_web::test]
async fn a_malformed_subject_path_gets_400_and_a_bad_as_of_query_400() {
    let app = app_with_one_entry();
    let p = problem(
        app.get("/v1/subjects/91230200MA1B2C3D8").await,
        400,
        "invalid_subject_id",
        "17 chars",
    )
    .await;
    assert_eq!(error_fields(&p), vec!["id"]);
    problem(
        app.get("/v1/subjects/9123020OMA1B2C3D8T").await,
        400,
        "invalid_subject_id",
        "O",
    )
    .await;
    let (bad, _) = rid_with_wrong_check(9);
    problem(
        app.get(&format!("/v1/subjects/{bad}")).await,
        400,
        "id_check_mismatch",
        "unlisted wrong check",
    )
    .await;
    let p = problem(
        app.get(&format!("/v1/subjects/{LISTED}?as_of=tomorrow"))
            .await,
        400,
        "invalid_request",
        "as_of",
    )
    .await;
    assert_eq!(error_fields(&p), vec!["as_of"]);
    let ok = app.get(&format!("/v1/subjects/{}", rid(3))).await;
    assert_eq!(
        ok.status(),
        200,
        "an unlisted valid resident ID has an (empty) profile"
    );
}

/// Lists from Redis load once the service listens: until then it is live and not ready. The
/// load is held by freezing Redis once the service has found it answering.
#[actix_web::test]
async fn the_server_is_not_ready_until_loaded_and_says_why() {
    let redis = std::sync::Arc::new(RedisServer::start());
    assert!(import(&redis, &demo_lists()).status.success());
    let held = HeldLoad::new(&redis);
    let mut app = Spawn::source(rules_dir(), held.source.clone())
        .unloaded()
        .before_run(held.freeze())
        .start();
    let health = app.get_json("/healthz").await;
    assert_eq!(health["status"], "live");
    let response = app.get("/readyz").await;
    assert_eq!(crate::helpers::header(&response, "retry-after"), "1");
    problem(response, 503, "not_ready", "readyz before the first load").await;
    let response = app
        .post_decide(&json!({"subject": {"id": LISTED}, "matter": "gov_procurement"}))
        .await;
    problem(response, 503, "not_ready", "decide before the first load").await;
    problem(
        app.get("/v1/lists").await,
        503,
        "not_ready",
        "lists before the first load",
    )
    .await;
    let status = app.status().await;
    assert_eq!(status["ready"], false);
    assert!(
        status["lists"].is_null() && status["ruleset"].is_null(),
        "{status}"
    );

    held.release();
    assert_eq!(app.first_load().await, Some(true));
    assert_eq!(app.get_json("/readyz").await["status"], "ready");
    assert_eq!(app.status().await["ready"], true);
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) over a plain socket;
/// returns the status and content type of the answer.
async fn post_chunked(address: &str, path: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://").to_owned();
    let path = path.to_owned();
    let body = body.to_vec();
    actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&host).expect("connect");
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        for chunk in body.chunks(100) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        // The server may answer and close before reading everything; a write error is fine.
        let _ = stream.write_all(&request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let content_type = text
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()))
            .unwrap_or_default();
        (status, content_type)
    })
    .await
    .expect("chunked request")
}

#[actix_web::test]
async fn a_malformed_query_string_gets_400_problem_json() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    for query in [
        "as_of=2026-11-22&as_of=2026-11-23",
        "as_of=2026-11-22T10:00:00%2B08:00&as_of=2026-11-22",
    ] {
        let what = format!("GET /v1/subjects/{LISTED}?{query}");
        let response = app.get(&format!("/v1/subjects/{LISTED}?{query}")).await;
        problem(response, 400, "invalid_request", &what).await;
        still_serving(&app, version, &what).await;
    }
}

#[actix_web::test]
async fn the_default_batch_limit_is_10000_subjects() {
    let app = app_with_one_entry();
    let subjects = |n: usize| vec![json!({ "id": LISTED }); n];
    let response = app
        .post_batch(
            &json!({"matter": "gov_procurement", "subjects": subjects(10_000), "as_of": AS_OF}),
        )
        .await;
    let batch = crate::helpers::ok_json(response, "10,000 subjects").await;
    assert_eq!(batch["summary"]["block"], 10_000);
    let response = app
        .post_batch(
            &json!({"matter": "gov_procurement", "subjects": subjects(10_001), "as_of": AS_OF}),
        )
        .await;
    problem(response, 413, "batch_too_large", "10,001 subjects").await;
}

#[actix_web::test]
async fn a_malformed_body_is_told_in_plain_words_with_its_line_and_column() {
    let app = app_with_one_entry();
    let version = app.lists_version().await;
    let cases: [(&str, &[u8], &str); 5] = [
        (
            "a body cut short",
            b"{\n  \"subject\": {\"id\": \"91230200MA1B2C3D8T\"},\n  \"matter\": \"gov_",
            "unexpected end of the body at line 3, column 17",
        ),
        (
            "a trailing comma",
            br#"{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement",}"#,
            "a comma before a closing bracket or brace at line 1, column 71",
        ),
        (
            "a bare word on line 3",
            b"{\n  \"subject\": {\"id\": \"91230200MA1B2C3D8T\"},\n  \"matter\": gov_procurement\n}",
            "expected a value at line 3, column 13",
        ),
        (
            "text after the object",
            b"{\"subject\": {\"id\": \"91230200MA1B2C3D8T\"},\n \"matter\": \"gov_procurement\"} x",
            "more text after the JSON value at line 2, column 31",
        ),
        (
            "a byte that is not UTF-8 after Chinese text on line 2",
            b"{\"subject\": {\"id\": \"91230200MA1B2C3D8T\"},\n \"case_ref\": \"\xe6\xa1\x88\xff\"}",
            "text that is not UTF-8 at line 2, column 16",
        ),
    ];
    for path in ["/v1/decide", "/v1/decide/batch"] {
        for (description, body, words) in cases {
            let what = format!("{description} to {path}");
            let response = app
                .post_raw(path, body.to_vec(), Some("application/json"))
                .await;
            let p = problem(response, 400, "invalid_json", &what).await;
            let detail = p["detail"].as_str().unwrap_or_default();
            assert_eq!(
                detail,
                format!("the body is not valid JSON: {words}"),
                "{what}"
            );
            for internal in ["InternalError", "simd", "byte"] {
                assert!(!detail.contains(internal), "{what}: {detail}");
            }
            still_serving(&app, version, &what).await;
        }
    }
}

#[actix_web::test]
async fn a_wrong_method_gets_405_with_the_paths_methods_in_allow() {
    let app = app_with_one_entry();
    for (method, path, allow) in [
        ("GET", "/v1/decide", "POST"),
        (
            "PATCH",
            "/v1/lists/court_dishonest_debtor/entries/E-1",
            "PUT, GET, DELETE",
        ),
        ("POST", "/v1/feedback/F-1/corrections/x", ""),
    ] {
        let method: reqwest::Method = method.parse().expect("method");
        let what = format!("{method} {path}");
        let response = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .expect("request");
        let got = crate::helpers::header(&response, "allow");
        if allow.is_empty() {
            problem(response, 404, "not_found", &what).await;
            assert_eq!(
                got, "",
                "{what}: a path the table does not have allows nothing"
            );
        } else {
            assert_eq!(got, allow, "{what}");
            problem(response, 405, "method_not_allowed", &what).await;
        }
    }
}
