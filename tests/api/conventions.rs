//! HTTP conventions: the request id on every answer, in the log lines and register records of
//! its request; the process's metrics and the build's, present from the start.

use std::process::Stdio;

use jiangcheng::keys::{new_key, Scope};
use serde_json::{json, Value};

use crate::helpers::{copy_rules, demo_lists, entry, rules_dir, uscc, write_jsonl, Spawn, AS_OF};
use crate::process::{free_port, serve_command, Running};
use crate::register::{app_with, file_records, stored, subjects};

/// The answer's `X-Request-Id`, checked to be there.
fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no X-Request-Id on {}", response.url()))
        .to_str()
        .expect("visible ASCII")
        .to_owned()
}

/// Whether `id` is one the service made: a UUIDv7.
fn made(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|id| id.get_version_num() == 7)
}

#[actix_web::test]
async fn a_sane_request_id_is_echoed_a_missing_one_made_and_a_bad_one_replaced_on_every_answer() {
    let app = Spawn::demo().start();
    let decide = json!({"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement", "as_of": AS_OF});
    let send = |method: reqwest::Method, path: &str, id: Option<&str>| {
        let mut request = app.client.request(method, app.url(path));
        if path == "/v1/decide" {
            request = request.json(&decide);
        }
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        request.send()
    };
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    // A decision, a probe, a problem (404) and a 405, each with the client's own id.
    for (method, path, status) in [
        (post.clone(), "/v1/decide", 200),
        (get.clone(), "/healthz", 200),
        (get.clone(), "/v1/nothing", 404),
        (get.clone(), "/v1/decide", 405),
    ] {
        let response = send(method.clone(), path, Some("trace-7f3a.B_~1"))
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(request_id(&response), "trace-7f3a.B_~1", "{method} {path}");

        let response = send(method.clone(), path, None).await.unwrap();
        assert!(
            made(&request_id(&response)),
            "{method} {path}: a UUIDv7 is made"
        );
    }
    let first = request_id(&send(get.clone(), "/healthz", None).await.unwrap());
    let second = request_id(&send(get.clone(), "/healthz", None).await.unwrap());
    assert_ne!(first, second, "each request gets its own");

    let too_long = "a".repeat(129);
    for bad in [
        too_long.as_str(),
        "two words",
        "semi;colon",
        // A resident ID number would reach the logs and the register whole.
        "230202198503121238",
    ] {
        let response = send(post.clone(), "/v1/decide", Some(bad)).await.unwrap();
        assert_eq!(response.status(), 200);
        let replaced = request_id(&response);
        assert!(
            made(&replaced),
            "{bad:?} replaced by a new id, not {replaced:?}"
        );
    }
    // Two ids in one request: neither is the request's.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "one")
        .header("x-request-id", "two")
        .send()
        .await
        .unwrap();
    assert!(made(&request_id(&response)));
}

#[actix_web::test]
async fn decisions_and_profile_reads_keep_their_request_id_in_the_register() {
    let subjects = subjects();
    let app = app_with(&subjects, |spawn| spawn);
    let decided = app
        .client
        .post(app.url("/v1/decide"))
        .header("x-request-id", "case-17-decide")
        .json(&json!({"subject": {"id": subjects.listed}, "matter": "gov_procurement", "as_of": AS_OF}))
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), 200);
    let decision: Value = decided.json().await.unwrap();
    let batch = app
        .client
        .post(app.url("/v1/decide/batch"))
        .header("x-request-id", "case-17-batch")
        .json(&json!({"matter": "gov_procurement", "as_of": AS_OF,
                      "subjects": [{"id": subjects.listed}, {"id": subjects.unlisted}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 200);
    let batch: Value = batch.json().await.unwrap();
    let read = app
        .client
        .get(app.url(&format!("/v1/subjects/{}", subjects.person)))
        .header("x-request-id", "case-17-profile")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    // Without an id of its own, the request goes by the one the service made, in its answer's
    // header and in its record alike.
    let unnamed = app
        .client
        .post(app.url("/v1/decide"))
        .json(&json!({"subject": {"id": subjects.unlisted}, "matter": "gov_procurement", "as_of": AS_OF}))
        .send()
        .await
        .unwrap();
    assert_eq!(unnamed.status(), 200);
    let made_id = request_id(&unnamed);
    assert!(made(&made_id), "{made_id}");
    let unnamed: Value = unnamed.json().await.unwrap();
    stored(&app, 5).await;

    let (text, records) = file_records(&app);
    let request_of = |record_id: &Value| {
        records
            .iter()
            .find(|record| &record["record_id"] == record_id)
            .unwrap_or_else(|| {
                panic!(
                    "no record {record_id}:
{text}"
                )
            })["request_id"]
            .clone()
    };
    assert_eq!(request_of(&decision["decision_id"]), "case-17-decide");
    assert_eq!(request_of(&unnamed["decision_id"]), made_id.as_str());
    for item in batch["results"].as_array().expect("results") {
        assert_eq!(request_of(&item["decision_id"]), "case-17-batch");
    }
    let profile_read = records
        .iter()
        .find(|record| record["kind"] == "profile_read")
        .unwrap_or_else(|| {
            panic!(
                "no profile read:
{text}"
            )
        });
    assert_eq!(profile_read["request_id"], "case-17-profile");
}

#[actix_web::test]
async fn the_log_lines_of_a_request_name_its_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, new_key("市信用中心", &[Scope::Decide], None).config).expect("keys");
    for format in ["text", "json"] {
        let stderr_path = dir.path().join(format!("stderr-{format}.txt"));
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let port = free_port();
        let mut command = serve_command(&rules_dir(), &demo_lists(), port, Stdio::from(stderr));
        command
            .arg("--keys")
            .arg(&keys)
            .args(["--log-format", format]);
        let (server, client) = Running::until_ready(command, port).await;
        // No key: refused, and the refusal is logged at WARN.
        let response = client
            .get(format!("{}/v1/status", server.address))
            .header("x-request-id", "trace-me-42")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
        assert_eq!(request_id(&response), "trace-me-42");
        drop(server);
        let log = std::fs::read_to_string(&stderr_path).expect("stderr");
        let refused = log
            .lines()
            .find(|line| line.contains("API key refused"))
            .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
        if format == "text" {
            assert!(refused.contains("request_id=trace-me-42"), "{refused}");
        } else {
            let line: Value = serde_json::from_str(refused).expect("a JSON line");
            assert_eq!(line["request_id"], "trace-me-42", "{refused}");
        }
        // Lines made outside any request name none.
        assert!(
            log.lines().any(|line| !line.contains("request_id")),
            "{log}"
        );
    }
}

/// The value of the series `series` (name and labels exactly as rendered).
fn series(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .filter(|rest| rest.starts_with(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

#[actix_web::test]
async fn each_request_is_counted_by_route_method_and_status_and_timed_by_route_and_class() {
    let app = Spawn::entries(&[]).start();
    let decide = |matter: &str| json!({"subject": {"id": uscc("91", 1)}, "matter": matter});
    for body in [
        decide("gov_procurement"),
        decide("gov_procurement"),
        decide("no_such_matter"),
    ] {
        app.post_json("/v1/decide", &body).await;
    }
    assert_eq!(app.get("/v1/decide").await.status(), 405);
    assert_eq!(app.get("/v1/nothing-here").await.status(), 404);
    app.post_json("/v1/decide", &decide("gov_procurement"))
        .await;

    let metrics = app.metrics().await;
    for (labels, count) in [
        (r#"method="POST",route="/v1/decide",status="200""#, 3.0),
        (r#"method="POST",route="/v1/decide",status="422""#, 1.0),
        (r#"method="GET",route="/v1/decide",status="405""#, 1.0),
        (r#"method="GET",route="unmatched",status="404""#, 1.0),
    ] {
        let name = format!("jiangcheng_http_requests_total{{{labels}}}");
        assert_eq!(series(&metrics, &name), Some(count), "{name}:\n{metrics}");
    }
    for (labels, count) in [
        (r#"outcome="2xx",route="/v1/decide""#, 3.0),
        (r#"outcome="4xx",route="/v1/decide""#, 2.0),
        (r#"outcome="4xx",route="unmatched""#, 1.0),
    ] {
        let name = format!("jiangcheng_http_request_duration_seconds_count{{{labels}}}");
        assert_eq!(series(&metrics, &name), Some(count), "{name}:\n{metrics}");
    }
}

#[actix_web::test]
async fn metrics_show_the_process_the_build_and_reload_failures_from_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    copy_rules(&rules);
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(
        &lists,
        &[entry("G-1", "court_dishonest_debtor", &uscc("91", 1))],
    );
    let app = Spawn::files(rules.clone(), lists).start();

    let metrics = app.metrics().await;
    assert!(series(&metrics, "process_cpu_seconds_total").is_some());
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            series(&metrics, name).is_some_and(|value| value > 0.0),
            "{name} in /metrics:\n{metrics}"
        );
    }
    assert_eq!(
        series(&metrics, "jiangcheng_reloads_total{result=\"failure\"}"),
        Some(0.0),
        "an alert on reload failures has a series before the first failure:\n{metrics}"
    );
    let revision = app.status().await["ruleset"]["revision"]
        .as_str()
        .expect("the rule set's revision")
        .to_owned();
    let build = |revision: &str| {
        format!(
            "jiangcheng_build_info{{git_revision=\"{}\",ruleset_revision=\"{revision}\",version=\"{}\"}}",
            env!("JC_GIT_REVISION"),
            env!("CARGO_PKG_VERSION"),
        )
    };
    assert_eq!(series(&metrics, &build(&revision)), Some(1.0), "{metrics}");

    // A reloaded rule set replaces the revision's series.
    let ruleset = rules.join("ruleset.toml");
    let head = std::fs::read_to_string(&ruleset).expect("ruleset.toml");
    std::fs::write(&ruleset, head.replace("title = ", "# edited\ntitle = ")).expect("write");
    app.service.reload().expect("a valid rule set reloads");
    let changed = app.status().await["ruleset"]["revision"]
        .as_str()
        .expect("the rule set's revision")
        .to_owned();
    assert_ne!(changed, revision);
    let metrics = app.metrics().await;
    assert_eq!(series(&metrics, &build(&changed)), Some(1.0), "{metrics}");
    assert_eq!(
        metrics.matches("jiangcheng_build_info{").count(),
        1,
        "only the loaded revision's series:\n{metrics}"
    );
}

/// A batch answer without its decision ids (each request makes its own).
fn without_ids(mut answer: Value) -> Value {
    for item in answer["results"].as_array_mut().expect("results") {
        item.as_object_mut().expect("an item").remove("decision_id");
    }
    answer
}

#[actix_web::test]
async fn a_large_answer_is_compressed_as_the_client_accepts_and_a_decision_never_is() {
    use std::io::Read as _;

    let app = Spawn::files(rules_dir(), demo_lists()).start();
    let subjects: Vec<Value> = (0..10_000)
        .map(|n| json!({"id": uscc("91", 100 + n)}))
        .collect();
    let batch = json!({"matter": "gov_procurement", "subjects": subjects, "as_of": AS_OF});
    let send = |encoding: Option<&'static str>| {
        let mut request = app.client.post(app.url("/v1/decide/batch")).json(&batch);
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.send()
    };
    let plain = send(None).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(
        crate::helpers::header(&plain, "vary"),
        "accept-encoding",
        "a large answer varies with Accept-Encoding even when sent plain"
    );
    let plain_bytes = plain.bytes().await.unwrap();
    let plain: Value = serde_json::from_slice(&plain_bytes).unwrap();

    for (accepted, encoding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br", "gzip"),
        ("br, gzip;q=0", "br"),
    ] {
        let response = send(Some(accepted)).await.unwrap();
        assert_eq!(response.status(), 200, "{accepted}");
        assert_eq!(
            crate::helpers::header(&response, "content-encoding"),
            encoding,
            "{accepted}"
        );
        assert!(
            crate::helpers::header(&response, "vary").contains("accept-encoding"),
            "{accepted}"
        );
        let compressed = response.bytes().await.unwrap();
        assert!(
            compressed.len() * 5 < plain_bytes.len(),
            "{accepted}: {} bytes of {}",
            compressed.len(),
            plain_bytes.len()
        );
        let mut decoded = Vec::new();
        match encoding {
            "gzip" => flate2::read::GzDecoder::new(&compressed[..])
                .read_to_end(&mut decoded)
                .unwrap(),
            _ => brotli_decompressor::Decompressor::new(&compressed[..], 4096)
                .read_to_end(&mut decoded)
                .unwrap(),
        };
        let decoded: Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(
            without_ids(decoded),
            without_ids(plain.clone()),
            "{accepted}"
        );
    }

    // A decision (about a kilobyte) goes out plain whatever the client accepts.
    let decision = app
        .client
        .post(app.url("/v1/decide"))
        .header("accept-encoding", "gzip, br")
        .json(&json!({"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement", "as_of": AS_OF}))
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), 200);
    assert!(decision.headers().get("content-encoding").is_none());
    assert!(decision.headers().get("vary").is_none());
    let decision: Value = decision.json().await.unwrap();
    assert_eq!(decision["decision"], "block");
}

#[actix_web::test]
async fn the_index_links_the_console_openapi_and_the_docs_which_are_served_from_the_binary() {
    let keys = new_key("市信用中心", &[Scope::Decide], None);
    let app = Spawn::demo().keys(&keys.config, true).start();

    // Open: no key needed.
    let index = app
        .client
        .get(app.url("/"))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(
        crate::helpers::header(&index, "content-type"),
        "text/html; charset=utf-8"
    );
    let html = index.text().await.unwrap();
    for link in [
        "/console",
        "/openapi.json",
        "/docs/api.md",
        "/docs/operations.md",
    ] {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "{link} in {html}"
        );
    }

    let links: Value = app
        .client
        .get(app.url("/"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(links["console"], "/console");
    assert_eq!(links["openapi"], "/openapi.json");

    // Every document of the repository's docs/ is linked and served as it is.
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut served = 0;
    for file in std::fs::read_dir(&docs).expect("docs/") {
        let path = file.expect("an entry").path();
        if path.extension().is_none_or(|ext| ext != "md") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let link = format!("/docs/{name}");
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "{link} in {html}"
        );
        assert_eq!(links["docs"][name.trim_end_matches(".md")], link.as_str());
        let response = app.get(&link).await;
        assert_eq!(response.status(), 200, "{link}");
        assert_eq!(
            crate::helpers::header(&response, "content-type"),
            "text/markdown; charset=utf-8"
        );
        assert_eq!(
            response.text().await.unwrap(),
            std::fs::read_to_string(&path).unwrap(),
            "{link}"
        );
        served += 1;
    }
    assert!(served >= 4, "the docs were found");
    // Only the known documents: nothing else is read.
    for path in [
        "/docs/nothing.md",
        "/docs/..%2FCargo.toml",
        "/docs/%2E%2E%2FREADME.md",
        "/docs/api",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    // Anything else still needs a key.
    assert_eq!(app.get("/v1/status").await.status(), 401);
}

/// The answer's `Access-Control-*` headers, by name.
fn cors_headers(response: &reqwest::Response) -> Vec<(String, String)> {
    response
        .headers()
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("access-control-"))
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn without_cors_origins_no_answer_carries_cors_headers() {
    let app = Spawn::demo().start();
    let response = app
        .client
        .get(app.url("/v1/status"))
        .header("origin", "https://portal.example.gov.cn")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(cors_headers(&response), []);
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/decide"))
        .header("origin", "https://portal.example.gov.cn")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(cors_headers(&preflight), []);
}

#[actix_web::test]
async fn allowed_origins_get_cors_headers_and_a_keyless_preflight_and_others_get_none() {
    const PORTAL: &str = "https://portal.example.gov.cn";
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys.toml");
    let key = new_key("市信用中心", &[Scope::Decide], None);
    std::fs::write(&keys, &key.config).expect("keys");
    let port = free_port();
    let mut command = serve_command(&rules_dir(), &demo_lists(), port, Stdio::null());
    command
        .arg("--keys")
        .arg(&keys)
        .env("JC_CORS_ORIGINS", format!("{PORTAL},http://localhost:5173"));
    let (server, client) = Running::until_ready(command, port).await;
    let url = |path: &str| format!("{}{path}", server.address);

    // A preflight needs no key, and names exactly what may follow.
    let preflight = |origin: &'static str, method: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, url("/v1/decide"))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-request-id, accept-language",
            )
            .send()
    };
    let allowed = preflight(PORTAL, "POST").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let headers = cors_headers(&allowed);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(get("access-control-allow-origin"), PORTAL);
    for method in ["get", "post", "put", "delete"] {
        assert!(
            get("access-control-allow-methods").contains(method),
            "{headers:?}"
        );
    }
    for header in [
        "authorization",
        "content-type",
        "x-request-id",
        "accept-language",
    ] {
        assert!(
            get("access-control-allow-headers").contains(header),
            "{headers:?}"
        );
    }
    assert_eq!(
        get("access-control-allow-credentials"),
        "",
        "no credentials mode"
    );
    assert!(!allowed.headers().contains_key("www-authenticate"));

    for (origin, method) in [("https://evil.example", "POST"), (PORTAL, "PATCH")] {
        let refused = preflight(origin, method).await.unwrap();
        assert!(
            !cors_headers(&refused)
                .iter()
                .any(|(name, _)| name == "access-control-allow-origin"),
            "{origin} {method}: {:?}",
            cors_headers(&refused)
        );
    }

    // The call itself: the key still decides; the allowed origin may read the answer.
    let call = |origin: &'static str, with_key: bool| {
        let mut request = client
            .post(url("/v1/decide"))
            .header("origin", origin)
            // Now: a decision at another instant would need the replay scope.
            .json(&json!({"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement"}));
        if with_key {
            request = request.bearer_auth(&key.token);
        }
        request.send()
    };
    let decided = call(PORTAL, true).await.unwrap();
    assert_eq!(decided.status(), 200);
    assert_eq!(
        crate::helpers::header(&decided, "access-control-allow-origin"),
        PORTAL
    );
    assert!(
        crate::helpers::header(&decided, "access-control-expose-headers")
            .to_lowercase()
            .contains("x-request-id")
    );
    assert!(crate::helpers::header(&decided, "vary")
        .to_lowercase()
        .contains("origin"));
    let keyless = call(PORTAL, false).await.unwrap();
    assert_eq!(keyless.status(), 401, "CORS admits no one");
    let elsewhere = call("https://evil.example", true).await.unwrap();
    assert_eq!(
        elsewhere.status(),
        200,
        "served, but not readable by the page"
    );
    assert!(elsewhere
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
