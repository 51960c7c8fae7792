//! Supervision watchlists: uploads (streamed, validated, bounded), each department's own,
//! stored in files that survive a restart or in Redis shared by every instance, and screened
//! against the lists as a batch decision.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use jiangcheng::keys::{new_key, NewKey, Scope};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    error_fields, problem, rid, rid_with_wrong_check, uscc, Spawn, TestApp, AS_OF_QUERY,
};
use crate::redis::{import, redis_source, RedisServer};

/// Listed in the demo lists: `court_dishonest_debtor` (blocked in gov_procurement).
const BLOCKED: &str = "91230200MA1B2C3D8T";
/// Listed in the demo lists: `tax_a_grade` (rewarded, so listed in matters it has measures in).
const RED: &str = "91230202MA18XK7PXM";
/// The legal representative named in `BLOCKED`'s entry.
const PERSON: &str = "230202198503121238";

fn subjects(ids: &[&str]) -> Value {
    json!({"subjects": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()})
}

async fn put(app: &TestApp, key: Option<&NewKey>, name: &str, body: &Value) -> Response {
    let mut request = app.client.put(app.url(&format!("/v1/watchlists/{name}")));
    if let Some(key) = key {
        request = request.bearer_auth(&key.token);
    }
    request.json(body).send().await.expect("PUT")
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    key: Option<&NewKey>,
    path: &str,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(&key.token);
    }
    request.send().await.expect("request")
}

async fn json_of(response: Response, status: StatusCode, what: &str) -> Value {
    let got = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{what}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[actix_web::test]
async fn a_watchlist_is_created_read_listed_replaced_and_deleted() {
    let app = Spawn::demo().start();
    let sent = subjects(&[BLOCKED, PERSON, RED, BLOCKED, " 91230202ma18xk7pxm "]);
    let response = put(&app, None, "bidders-2026", &sent).await;
    assert_eq!(
        crate::helpers::header(&response, "location"),
        "/v1/watchlists/bidders-2026"
    );
    let created = json_of(response, StatusCode::CREATED, "create").await;
    assert_eq!(created["name"], "bidders-2026");
    assert_eq!(created["subjects"], 3);
    assert_eq!(created["duplicates_dropped"], 2);
    assert_eq!(created["by_kind"], json!({"enterprise": 2, "person": 1}));
    assert_eq!(created["department"], Value::Null);
    assert_eq!(created["updated_by"], Value::Null);
    let shown = json_of(
        app.get("/v1/watchlists/bidders-2026").await,
        StatusCode::OK,
        "get",
    )
    .await;
    assert_eq!(shown, created);
    // Subjects are not shown back: no person's identifier leaves in full or in part.
    assert!(!shown.to_string().contains("230202"), "{shown}");

    let replaced = json_of(
        put(&app, None, "bidders-2026", &subjects(&[RED])).await,
        StatusCode::OK,
        "replace",
    )
    .await;
    assert_eq!(
        (
            replaced["subjects"].as_u64(),
            replaced["duplicates_dropped"].as_u64()
        ),
        (Some(1), Some(0))
    );
    put(&app, None, "licensees", &subjects(&[])).await;
    let listed = json_of(app.get("/v1/watchlists").await, StatusCode::OK, "list").await;
    let names: Vec<&str> = listed["watchlists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|list| list["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bidders-2026", "licensees"]);

    let deleted = call(
        &app,
        reqwest::Method::DELETE,
        None,
        "/v1/watchlists/bidders-2026",
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let gone = call(&app, method, None, "/v1/watchlists/bidders-2026").await;
        problem(gone, 404, "watchlist_not_found", "after DELETE").await;
    }
    // The library surface push filtering uses.
    let lists = app.service.watchlists().unwrap();
    assert_eq!(lists.names(""), ["licensees"]);
    assert_eq!(
        lists.contains(
            "",
            "bidders-2026",
            jiangcheng::ident::parse(RED).unwrap().key()
        ),
        None
    );
    assert_eq!(
        lists.contains(
            "",
            "licensees",
            jiangcheng::ident::parse(RED).unwrap().key()
        ),
        Some(false)
    );
}

#[actix_web::test]
async fn a_department_reaches_only_its_own_watchlists_and_others_are_not_found() {
    let finance = new_key("市财政局", &[Scope::Subscribe], None);
    let housing = new_key("市住房和城乡建设局", &[Scope::Subscribe], None);
    let decider = new_key("市财政局", &[Scope::Decide], None);
    let config = [&finance, &housing, &decider]
        .map(|k| k.config.as_str())
        .concat();
    let app = Spawn::demo().keys(&config, false).start();
    let created = json_of(
        put(&app, Some(&finance), "bidders", &subjects(&[BLOCKED, RED])).await,
        StatusCode::CREATED,
        "finance creates",
    )
    .await;
    assert_eq!(created["department"], "市财政局");
    assert_eq!(
        created["updated_by"],
        finance.token.split('_').nth(1).unwrap()
    );
    // Another department's watchlist answers as one that does not exist, whatever the method.
    for (method, path) in [
        (reqwest::Method::GET, "/v1/watchlists/bidders"),
        (reqwest::Method::DELETE, "/v1/watchlists/bidders"),
        (
            reqwest::Method::GET,
            "/v1/watchlists/bidders/hits?matter=gov_procurement",
        ),
        (reqwest::Method::GET, "/v1/watchlists/nobody-has-this"),
    ] {
        let response = call(&app, method.clone(), Some(&housing), path).await;
        let problem = problem(response, 404, "watchlist_not_found", path).await;
        assert!(!problem.to_string().contains("市财政局"), "{problem}");
    }
    let empty = json_of(
        call(&app, reqwest::Method::GET, Some(&housing), "/v1/watchlists").await,
        StatusCode::OK,
        "housing's",
    )
    .await;
    assert_eq!(empty["watchlists"], json!([]));
    // The same name is another watchlist in another department.
    json_of(
        put(&app, Some(&housing), "bidders", &subjects(&[PERSON])).await,
        StatusCode::CREATED,
        "housing creates",
    )
    .await;
    let own = json_of(
        call(
            &app,
            reqwest::Method::GET,
            Some(&finance),
            "/v1/watchlists/bidders",
        )
        .await,
        StatusCode::OK,
        "finance reads",
    )
    .await;
    assert_eq!(own["subjects"], 2);
    // The subscribe scope is needed.
    let refused = put(&app, Some(&decider), "bidders", &subjects(&[RED])).await;
    problem(refused, 403, "forbidden", "a decide key").await;
    let anonymous = call(&app, reqwest::Method::GET, None, "/v1/watchlists").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn an_invalid_identifier_or_name_stores_nothing_and_is_named() {
    let app = Spawn::demo().start();
    let (bad_check, _) = rid_with_wrong_check(7);
    let body = json!({"subjects": [{"id": RED}, {"id": "91230200MA1B2C3D8"}, {"id": 17}, "x",
                                  {"id": RED, "name": "某公司"}, {"id": bad_check}]});
    let refused = problem(
        put(&app, None, "w", &body).await,
        422,
        "invalid_subject_id",
        "bad ids",
    )
    .await;
    assert_eq!(
        error_fields(&refused),
        [
            "subjects[1].id",
            "subjects[2].id",
            "subjects[3]",
            "subjects[4].name"
        ]
    );
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("18"),
        "{refused}"
    );
    problem(
        app.get("/v1/watchlists/w").await,
        404,
        "watchlist_not_found",
        "nothing stored",
    )
    .await;
    // A resident ID failing its check digit is a well-formed identifier: kept, and screened
    // as a decision would treat it (it is on no list, so it is no hit).
    let kept = json_of(
        put(&app, None, "w", &subjects(&[&bad_check])).await,
        StatusCode::CREATED,
        "check mismatch",
    )
    .await;
    assert_eq!(kept["subjects"], 1);

    for (name, status) in [
        ("a%2Fb", 400),
        ("%E5%90%8D%E5%8D%95", 400),
        (&"x".repeat(65)[..], 400),
    ] {
        let response = put(&app, None, name, &subjects(&[RED])).await;
        let refused = problem(response, status, "invalid_request", name).await;
        assert_eq!(error_fields(&refused), ["name"], "{name}");
    }
    for (body, field) in [
        (json!({"subject": []}), "subject"),
        (json!({"subjects": {}}), "subjects"),
        (json!([]), "(body)"),
    ] {
        let refused = problem(
            put(&app, None, "w2", &body).await,
            400,
            "invalid_request",
            field,
        )
        .await;
        assert!(
            error_fields(&refused).contains(&field.to_owned()),
            "{refused}"
        );
    }
    let response = app
        .client
        .put(app.url("/v1/watchlists/w2"))
        .header("content-type", "application/json")
        .body("{\"subjects\": [{\"id\": \"91230202MA18XK7PXM\"},")
        .send()
        .await
        .unwrap();
    problem(response, 400, "invalid_json", "cut short").await;
    let response = app
        .client
        .put(app.url("/v1/watchlists/w2"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(response, 415, "unsupported_media_type", "text").await;
}

#[actix_web::test]
async fn an_upload_past_its_body_or_subject_limit_is_refused_with_413() {
    let app = Spawn::demo()
        .watchlists(|config| {
            config.max_subjects = 100;
            config.max_body_bytes = 4000;
        })
        .start();
    let ids: Vec<String> = (0..101).map(|n| uscc("91", n)).collect();
    let many: Vec<&str> = ids.iter().map(String::as_str).collect();
    let refused = problem(
        put(&app, None, "w", &subjects(&many)).await,
        413,
        "watchlist_too_large",
        "101 subjects",
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("100"),
        "{refused}"
    );
    json_of(
        put(&app, None, "w", &subjects(&many[..100])).await,
        StatusCode::CREATED,
        "100 subjects",
    )
    .await;
    // A body over the upload limit, whether declared or streamed, is 413 too.
    let padded = json!({"subjects": [{"id": RED}], "padding": "x".repeat(5000)});
    problem(
        put(&app, None, "w", &padded).await,
        413,
        "payload_too_large",
        "declared",
    )
    .await;
    let (status, body) = chunked_put(
        &app,
        "w",
        &format!(
            "{{\"subjects\": [{}]}}",
            vec![format!("{{\"id\": \"{RED}\"}}"); 300].join(",")
        ),
        100,
    );
    assert_eq!(status, 413, "{body}");
    // The normal body limit does not apply: the upload has its own.
    let stored = json_of(app.get("/v1/watchlists/w").await, StatusCode::OK, "kept").await;
    assert_eq!(stored["subjects"], 100);
}

/// Sends `body` to `PUT /v1/watchlists/{name}` in chunks of `chunk` bytes (chunked transfer
/// encoding, no length declared) over a raw connection; the answer's status and body.
fn chunked_put(app: &TestApp, name: &str, body: &str, chunk: usize) -> (u16, String) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "PUT /v1/watchlists/{name} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    for part in body.as_bytes().chunks(chunk) {
        // The server may answer (413) and close before the whole body is sent.
        if write!(stream, "{:x}\r\n", part.len())
            .and_then(|()| stream.write_all(part))
            .and_then(|()| stream.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[actix_web::test]
async fn a_chunked_upload_is_parsed_as_it_streams_in() {
    let app = Spawn::demo().start();
    let ids: Vec<String> = (0..5000)
        .map(|n| uscc("92", n))
        .chain((0..5000).map(rid))
        .collect();
    let items: Vec<String> = ids
        .iter()
        .map(|id| format!("{{ \"id\" : \"{id}\" }}"))
        .collect();
    let body = format!("{{\"subjects\":[\n{}\n]}}", items.join(",\n"));
    // 7-byte chunks split every identifier and member across chunks.
    let (status, answer) = chunked_put(&app, "streamed", &body, 7);
    assert_eq!(status, 201, "{answer}");
    let stored = json_of(
        app.get("/v1/watchlists/streamed").await,
        StatusCode::OK,
        "read",
    )
    .await;
    assert_eq!(stored["subjects"], 10_000);
    assert_eq!(
        stored["by_kind"],
        json!({"individual_business": 5000, "person": 5000})
    );
}

#[actix_web::test]
async fn watchlists_in_files_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_path_buf();
    let in_dir = move |config: &mut jiangcheng::watchlists::WatchlistConfig| {
        config.store = jiangcheng::watchlists::StoreConfig::Files(folder);
    };
    let first = Spawn::demo().watchlists(in_dir.clone()).start();
    let created = json_of(
        put(&first, None, "kept", &subjects(&[BLOCKED, PERSON])).await,
        StatusCode::CREATED,
        "create",
    )
    .await;
    first.stop().await.unwrap();
    let second = Spawn::demo().watchlists(in_dir).start();
    let read = json_of(
        second.get("/v1/watchlists/kept").await,
        StatusCode::OK,
        "after a restart",
    )
    .await;
    assert_eq!(read, created);
    // The file holds no identifier as text.
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("230202"));
    }
}

#[actix_web::test]
async fn an_instance_sharing_redis_sees_another_instances_watchlists_within_seconds() {
    let redis = RedisServer::start();
    assert!(import(&redis, &crate::helpers::demo_lists())
        .status
        .success());
    let source = || Spawn::source(crate::helpers::rules_dir(), redis_source(&redis));
    let (one, two) = (source().start(), source().start());
    let created = json_of(
        put(&one, None, "shared", &subjects(&[BLOCKED, RED, PERSON])).await,
        StatusCode::CREATED,
        "on one",
    )
    .await;
    let seen = until(&two, "/v1/watchlists/shared", StatusCode::OK).await;
    assert_eq!(seen, created);
    // A replacement and a removal reach it too.
    json_of(
        put(&one, None, "shared", &subjects(&[RED])).await,
        StatusCode::OK,
        "replaced",
    )
    .await;
    let started = Instant::now();
    loop {
        let read = json_of(
            two.get("/v1/watchlists/shared").await,
            StatusCode::OK,
            "on two",
        )
        .await;
        if read["subjects"] == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{read}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = json_of(
        two.get(&format!(
            "/v1/watchlists/shared/hits?matter=admin_license_general&as_of={AS_OF_QUERY}"
        ))
        .await,
        StatusCode::OK,
        "hits on two",
    )
    .await;
    assert_eq!(hits["summary"]["subjects"], 1);
    assert_eq!(
        call(&one, reqwest::Method::DELETE, None, "/v1/watchlists/shared")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    until(&two, "/v1/watchlists/shared", StatusCode::NOT_FOUND).await;
    // A new instance loads what Redis holds at start.
    json_of(
        put(&two, None, "later", &subjects(&[RED])).await,
        StatusCode::CREATED,
        "on two",
    )
    .await;
    let three = source().start();
    json_of(
        three.get("/v1/watchlists/later").await,
        StatusCode::OK,
        "on a new instance",
    )
    .await;
}

/// Polls `GET path` until it answers `status` (within 10 s); its body.
async fn until(app: &TestApp, path: &str, status: StatusCode) -> Value {
    let started = Instant::now();
    loop {
        let response = app.get(path).await;
        if response.status() == status {
            return response.json().await.unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path}: still {}",
            response.status()
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a decision is a hit: anything but a plain allow without reasons.
fn is_hit(decision: &Value) -> bool {
    decision["decision"] != "allow"
        || !decision["reasons"].as_array().unwrap().is_empty()
        || decision["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|warning| warning["code"] == "rewards_suppressed")
}

#[actix_web::test]
async fn hits_are_exactly_the_subjects_listed_in_the_matter_a_page_at_a_time() {
    let app = Spawn::demo().start();
    let demo = std::fs::read_to_string(crate::helpers::demo_lists()).unwrap();
    // Every listed subject of the demo lists, a few unlisted ones, and the person named in an
    // entry (reached through it).
    let mut ids: Vec<String> = demo
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["subject_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.extend((0..50).map(|n| uscc("91", 500 + n)));
    ids.push(PERSON.to_owned());
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    json_of(
        put(&app, None, "all", &subjects(&refs)).await,
        StatusCode::CREATED,
        "upload",
    )
    .await;
    let stored = json_of(app.get("/v1/watchlists/all").await, StatusCode::OK, "read").await;
    let count = stored["subjects"].as_u64().unwrap();

    let mut shown = 0;
    for matter in [
        "gov_procurement",
        "admin_license_general",
        "basic_public_service",
    ] {
        // The expected hits: each subject decided alone.
        let mut expected = Vec::new();
        let mut unique: Vec<&str> = refs.clone();
        unique.sort();
        unique.dedup();
        for id in &unique {
            let decision = app.decide(id, matter, crate::helpers::AS_OF).await;
            if is_hit(&decision) {
                expected.push(decision["subject"]["id"].as_str().unwrap().to_owned());
            }
        }
        expected.sort();
        // Paged two at a time, following `next`.
        let mut found = Vec::new();
        let mut after = String::new();
        loop {
            let path = format!(
                "/v1/watchlists/all/hits?matter={matter}&as_of={AS_OF_QUERY}&limit=2{after}"
            );
            let page = json_of(app.get(&path).await, StatusCode::OK, &path).await;
            assert_eq!(page["summary"]["subjects"], count);
            assert_eq!(page["summary"]["hits"], expected.len(), "{matter}");
            let summary = &page["summary"];
            assert_eq!(
                summary["allow"].as_u64().unwrap()
                    + summary["flag"].as_u64().unwrap()
                    + summary["block"].as_u64().unwrap()
                    + summary["invalid"].as_u64().unwrap(),
                count
            );
            for decision in page["results"].as_array().unwrap() {
                assert!(is_hit(decision), "{decision}");
                assert_eq!(decision["case_ref"], "watchlist:all");
                found.push(decision["subject"]["id"].as_str().unwrap().to_owned());
            }
            match page["next"].as_str() {
                Some(next) => after = format!("&after={next}"),
                None => break,
            }
        }
        found.sort();
        assert_eq!(found, expected, "{matter}");
        shown += found.len();
        match matter {
            "gov_procurement" => {
                assert!(found.contains(&BLOCKED.to_owned()));
                assert!(!found.contains(&uscc("91", 500)));
            }
            "basic_public_service" => assert!(
                found.iter().all(|id| id != BLOCKED),
                "no flag or block in basic public services"
            ),
            _ => assert!(found.contains(&RED.to_owned())),
        }
    }
    // Each hit shown is in the query register as a decision of the screening; nothing else is.
    let started = Instant::now();
    loop {
        let recorded: usize = crate::helpers::files_under(app.register_dir.path())
            .iter()
            .filter(|path| path.to_string_lossy().contains("records"))
            .map(|path| {
                std::fs::read_to_string(path)
                    .unwrap_or_default()
                    .matches("\"case_ref\":\"watchlist:all\"")
                    .count()
            })
            .sum();
        if recorded == shown {
            break;
        }
        assert!(
            recorded < shown && started.elapsed() < Duration::from_secs(10),
            "{recorded} of {shown} recorded"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let unknown = app
        .get("/v1/watchlists/all/hits?matter=no_such_matter")
        .await;
    problem(unknown, 422, "unknown_matter", "unknown matter").await;
    let stale = app
        .get("/v1/watchlists/all/hits?matter=gov_procurement&after=0190.3")
        .await;
    let refused = problem(stale, 400, "invalid_request", "a cursor of another upload").await;
    assert_eq!(error_fields(&refused), ["after"]);
    let too_many = app
        .get("/v1/watchlists/all/hits?matter=gov_procurement&limit=10001")
        .await;
    problem(too_many, 400, "invalid_request", "limit").await;
}
