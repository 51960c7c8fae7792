//! Access is decided on the route the router matched. Every endpoint of the route table,
//! reached through its exact path and through percent-encoded, doubled-slash and case-changed
//! spellings of it, refuses a request without a key, with a wrong key and with a key of another
//! scope, and changes nothing; its exact path admits the right key. A path that matches no
//! endpoint needs a key too. The lists come from a real Redis, so that an admin write that got
//! through would really write.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jiangcheng::http::{endpoints, Access, AccessConfig};
use jiangcheng::keys::{new_key, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::auth::{assert_refused, send, Keys};
use crate::helpers::{problem, rules_dir, uscc, Spawn, TestApp};
use crate::redis::{redis_source, RedisServer};

/// A repairable list, so that the repair endpoint is reached with the right key.
const ENTRY: &str = "/v1/lists/tax_major_violation/entries/H-1";

/// One route of the table with a concrete path (and query) and a body that its handler
/// accepts, in an order in which each succeeds with the right key.
struct Case {
    method: Method,
    template: &'static str,
    path: String,
    body: Option<Value>,
}

/// Ids the cases name: of a decision, a feedback report, a subscription, a broken commitment.
struct Ids<'a> {
    decision: &'a Value,
    feedback: &'a str,
    subscription: &'a str,
    commitment: &'a str,
}

fn cases(company: &str, ids: &Ids<'_>) -> Vec<Case> {
    let (decision_id, feedback_id) = (ids.decision, ids.feedback);
    let (subscription, commitment) = (ids.subscription, ids.commitment);
    let case = |method: Method, template: &'static str, path: &str, body: Option<Value>| Case {
        method,
        template,
        path: path.to_owned(),
        body,
    };
    let entry = "/v1/lists/{list}/entries/{entry_id}";
    let period = "from=2026-01-01&to=2027-01-01";
    vec![
        case(
            Method::POST,
            "/v1/decide",
            "/v1/decide",
            Some(json!({"subject": {"id": company}, "matter": "gov_procurement"})),
        ),
        case(
            Method::POST,
            "/v1/decide/batch",
            "/v1/decide/batch",
            Some(json!({"subjects": [{"id": company}], "matter": "gov_procurement"})),
        ),
        case(
            Method::POST,
            "/v1/subject-lists",
            "/v1/subject-lists",
            Some(Value::String(format!("统一社会信用代码\n{company}\n"))),
        ),
        case(
            Method::GET,
            "/v1/subjects/{id}",
            &format!("/v1/subjects/{company}"),
            None,
        ),
        case(Method::GET, "/v1/matters", "/v1/matters", None),
        case(Method::GET, "/v1/topics", "/v1/topics", None),
        case(Method::GET, "/v1/lists", "/v1/lists", None),
        case(Method::GET, "/v1/status", "/v1/status", None),
        case(Method::GET, "/", "/", None),
        case(Method::GET, "/docs/{name}", "/docs/api.md", None),
        case(Method::GET, "/healthz", "/healthz", None),
        case(Method::GET, "/openapi.json", "/openapi.json", None),
        case(Method::GET, "/readyz", "/readyz", None),
        case(Method::GET, "/console", "/console", None),
        case(Method::GET, "/console/", "/console/", None),
        case(Method::GET, "/console/{asset}", "/console/main.js", None),
        case(Method::GET, "/metrics", "/metrics", None),
        case(
            Method::PUT,
            entry,
            ENTRY,
            Some(json!({"subject_id": company, "listed_on": "2026-01-01", "reason": "已履行"})),
        ),
        case(Method::GET, entry, ENTRY, None),
        case(
            Method::POST,
            "/v1/lists/{list}/entries/{entry_id}/dispute",
            &format!("{ENTRY}/dispute"),
            Some(json!({"dispute": "under_review", "by": "市信用中心", "reason": "异议"})),
        ),
        case(
            Method::GET,
            "/v1/disputes",
            "/v1/disputes?state=under_review&overdue=true",
            None,
        ),
        case(
            Method::POST,
            "/v1/lists/{list}/entries/{entry_id}/repair",
            &format!("{ENTRY}/repair"),
            Some(json!({"document": "齐信修〔2026〕8号", "by": "市信用中心"})),
        ),
        case(
            Method::DELETE,
            entry,
            ENTRY,
            Some(json!({"by": "市信用中心", "reason": "撤销"})),
        ),
        case(
            Method::POST,
            "/v1/feedback",
            "/v1/feedback",
            Some(
                json!({"decision_id": decision_id, "measure": "tax_procurement_ban",
                        "action": "applied", "executing_department": "市公共资源交易中心"}),
            ),
        ),
        case(
            Method::POST,
            "/v1/feedback/{feedback_id}/corrections",
            &format!("/v1/feedback/{feedback_id}/corrections"),
            Some(json!({"reason": "录入有误", "changes": {"results": "已放行"}})),
        ),
        case(Method::GET, "/v1/feedback", "/v1/feedback", None),
        case(
            Method::GET,
            "/v1/export/cases",
            &format!("/v1/export/cases?{period}"),
            None,
        ),
        case(
            Method::GET,
            "/v1/stats",
            &format!("/v1/stats?{period}"),
            None,
        ),
        case(
            Method::GET,
            "/v1/indicators",
            "/v1/indicators?month=2026-11",
            None,
        ),
        case(
            Method::PUT,
            "/v1/indicators/active-enterprises",
            "/v1/indicators/active-enterprises",
            Some(json!({"month": "2026-11", "count": 40})),
        ),
        case(
            Method::PUT,
            "/v1/watchlists/{name}",
            "/v1/watchlists/bidders",
            Some(json!({"subjects": [{"id": company}]})),
        ),
        case(Method::GET, "/v1/watchlists", "/v1/watchlists", None),
        case(
            Method::GET,
            "/v1/watchlists/{name}",
            "/v1/watchlists/bidders",
            None,
        ),
        case(
            Method::GET,
            "/v1/watchlists/{name}/hits",
            "/v1/watchlists/bidders/hits?matter=gov_procurement",
            None,
        ),
        case(
            Method::DELETE,
            "/v1/watchlists/{name}",
            "/v1/watchlists/bidders",
            None,
        ),
        case(
            Method::POST,
            "/v1/subscriptions",
            "/v1/subscriptions",
            Some(
                json!({"url": "https://hooks.example.gov.cn/x", "secret": "a-department-secret-0123"}),
            ),
        ),
        case(Method::GET, "/v1/subscriptions", "/v1/subscriptions", None),
        case(
            Method::GET,
            "/v1/subscriptions/{id}",
            &format!("/v1/subscriptions/{subscription}"),
            None,
        ),
        case(
            Method::GET,
            "/v1/subscriptions/{id}/dead-letters",
            &format!("/v1/subscriptions/{subscription}/dead-letters"),
            None,
        ),
        case(
            Method::POST,
            "/v1/subscriptions/{id}/dead-letters/replay",
            &format!("/v1/subscriptions/{subscription}/dead-letters/replay"),
            None,
        ),
        case(
            Method::DELETE,
            "/v1/subscriptions/{id}",
            &format!("/v1/subscriptions/{subscription}"),
            None,
        ),
        case(Method::GET, "/v1/changes", "/v1/changes?after=0", None),
        case(
            Method::POST,
            "/v1/commitments",
            "/v1/commitments",
            Some(json!({
                "subject": {"id": company}, "matter": "admin_license_general",
                "text": "齐审批承诺〔2026〕1号", "signed_at": "2026-11-20T09:30:00+08:00",
                "valid_until": "2027-11-20T00:00:00+08:00",
            })),
        ),
        case(
            Method::GET,
            "/v1/commitments",
            &format!("/v1/commitments?subject={company}"),
            None,
        ),
        case(
            Method::POST,
            "/v1/commitments/{commitment_id}/proposal",
            &format!("/v1/commitments/{commitment}/proposal"),
            Some(json!({"list": "wage_arrears"})),
        ),
    ]
}

/// The path with its byte at `at` percent-encoded.
fn encoded_at(path: &str, at: usize) -> String {
    format!(
        "{}%{:02X}{}",
        &path[..at],
        path.as_bytes()[at],
        &path[at + 1..]
    )
}

/// Other spellings of `path` (a query stays as it is): the first and the last character of each
/// segment percent-encoded, every character encoded, slashes doubled, and letters upper-cased.
fn spellings(path: &str) -> Vec<String> {
    let (path, query) = match path.split_once('?') {
        Some((path, query)) => (path, format!("?{query}")),
        None => (path, String::new()),
    };
    let mut spelt = BTreeSet::new();
    let mut start = 1;
    for segment in path[1..].split('/') {
        spelt.insert(encoded_at(path, start));
        spelt.insert(encoded_at(path, start + segment.len() - 1));
        start += segment.len() + 1;
    }
    let every: String = path
        .bytes()
        .map(|b| match b {
            b'/' => "/".to_owned(),
            b => format!("%{b:02x}"),
        })
        .collect();
    let second_slash = path[1..].find('/').map_or(path.len(), |i| i + 1);
    spelt.extend([
        every,
        format!("/{path}"),
        format!("{}/{}", &path[..second_slash], &path[second_slash..]),
        format!("{path}/"),
        path.to_uppercase(),
        format!("{}{}", path[..2].to_uppercase(), &path[2..]),
    ]);
    spelt.remove(path);
    spelt.into_iter().map(|p| format!("{p}{query}")).collect()
}

#[test]
fn the_spellings_of_a_path_include_the_ones_that_bypassed_admission() {
    let spelt = spellings("/v1/export/cases?from=x");
    for bypass in [
        "/%761/export/cases?from=x",
        "/v%31/export/cases?from=x",
        "/v1/%65xport/cases?from=x",
        "/%76%31/%65%78%70%6f%72%74/%63%61%73%65%73?from=x",
        "//v1/export/cases?from=x",
        "/V1/export/cases?from=x",
    ] {
        assert!(spelt.iter().any(|s| s == bypass), "{bypass} in {spelt:?}");
    }
}

/// A refusal is problem+json with one of these codes, never a handler's answer.
async fn assert_not_admitted(response: reqwest::Response, codes: &[&str], what: &str) {
    let status = response.status();
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
    let text = response.text().await.expect("body");
    assert!(!status.is_success(), "{what}: {status} {text}");
    assert_eq!(content_type, "application/problem+json", "{what}: {text}");
    let problem: Value = serde_json::from_str(&text).expect("a problem");
    assert!(
        codes.contains(&problem["code"].as_str().unwrap_or("")),
        "{what}: {status} {text}"
    );
}

/// Polls until `decide` answers `decision` for the company, returning that decision.
async fn decided(app: &TestApp, keys: &Keys, body: &Value, decision: &str) -> Value {
    let started = Instant::now();
    loop {
        let response = send(
            app,
            &Method::POST,
            "/v1/decide",
            Some(body),
            Some(&keys.decide.token),
        )
        .await;
        let answer: Value = response.json().await.expect("a decision");
        if answer["decision"] == decision {
            return answer;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{answer}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn every_endpoint_refuses_a_missing_wrong_or_other_scoped_key_on_every_spelling_of_its_path()
{
    let redis = RedisServer::start();
    let keys = Keys::new();
    let app = Spawn::source(rules_dir(), redis_source(&redis))
        .keys(&keys.config(), true)
        .start();
    let company = uscc("91", 7);
    let nobodys = uuid::Uuid::now_v7().to_string();
    let placeholder_ids = Ids {
        decision: &Value::Null,
        feedback: &nobodys,
        subscription: &nobodys,
        commitment: &nobodys,
    };
    let placeholder = cases(&company, &placeholder_ids);
    let table: BTreeSet<(String, &str)> = endpoints(false)
        .into_iter()
        .map(|(method, template, _)| (method.to_string(), template))
        .collect();
    let tested: BTreeSet<(String, &str)> = placeholder
        .iter()
        .map(|case| (case.method.to_string(), case.template))
        .collect();
    assert_eq!(tested, table, "every route of the table is tested");

    // The company, listed by an admin key, is blocked; that decision gets feedback at the end.
    let listed =
        json!({"subject_id": company, "listed_on": "2026-01-01", "reason": "虚开增值税专用发票"});
    let put = send(
        &app,
        &Method::PUT,
        ENTRY,
        Some(&listed),
        Some(&keys.admin.token),
    );
    assert_eq!(put.await.status(), StatusCode::CREATED);
    let decide = placeholder[0].body.clone().expect("a decision request");
    let blocked = decided(&app, &keys, &decide, "block").await;
    let register = app.service.register().expect("the register is on");
    while register.status().stored < 1 {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    let read_entry = || async {
        let response = send(&app, &Method::GET, ENTRY, None, Some(&keys.admin.token)).await;
        response.json::<Value>().await.expect("the entry")
    };
    let before = read_entry().await;

    let unknown = new_key("不存在", &Scope::ALL, None);
    let needs: Vec<(String, &str, Access)> = endpoints(false)
        .into_iter()
        .map(|(method, template, access)| (method.to_string(), template, access))
        .collect();
    let mut refused = 0;
    let refused_ids = Ids {
        decision: &blocked["decision_id"],
        ..placeholder_ids
    };
    for case in cases(&company, &refused_ids) {
        let access = needs
            .iter()
            .find(|(method, template, _)| {
                *method == case.method.as_str() && *template == case.template
            })
            .map(|(_, _, access)| *access)
            .expect("in the table");
        let other = match access {
            Access::Open => continue,
            Access::Scope(scope) => keys.for_scope(scope).1,
            Access::AnyScope(scopes) => keys.for_scope(scopes[0]).1,
            Access::Metrics => keys.for_scope(Scope::Admin).1,
            // Any valid key passes; a revoked one is the key that must not.
            Access::AnyKey => &keys.revoked,
        };
        let mut paths = spellings(&case.path);
        paths.push(case.path.clone());
        for path in paths {
            let what = |key: &str| format!("{} {path} with {key}", case.method);
            let body = case.body.as_ref();
            for (key, name) in [(None, "no key"), (Some(&unknown.token), "an unknown key")] {
                let response = send(&app, &case.method, &path, body, key.map(String::as_str));
                assert_refused(
                    response.await,
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    &what(name),
                )
                .await;
            }
            let response = send(&app, &case.method, &path, body, Some(&other.token)).await;
            let codes: &[&str] = match access {
                Access::AnyKey => &["unauthorized"],
                _ => &["forbidden", "not_found"],
            };
            assert_not_admitted(response, codes, &what("a key of another scope")).await;
            refused += 3;
        }
    }
    assert!(refused > 400, "only {refused} refusals tried");

    // Nothing was written, removed, repaired or disputed.
    assert_eq!(read_entry().await, before);
    let again = decided(&app, &keys, &decide, "block").await;
    assert_eq!(again["lists_version"], blocked["lists_version"]);

    // The right key, on the exact path, reaches every handler (the correction, of a report
    // the feedback key filed first).
    let report = cases(&company, &refused_ids)
        .into_iter()
        .find(|case| case.method == Method::POST && case.template == "/v1/feedback")
        .and_then(|case| case.body)
        .expect("a feedback report");
    let filed = send(
        &app,
        &Method::POST,
        "/v1/feedback",
        Some(&report),
        Some(&keys.feedback.token),
    )
    .await;
    assert_eq!(filed.status(), StatusCode::CREATED);
    let filed: Value = filed.json().await.expect("the report");
    let feedback_id = filed["feedback_id"].as_str().expect("its id");
    // A subscription, and a commitment with a breach, for the routes that name one.
    let subscribed = send(
        &app,
        &Method::POST,
        "/v1/subscriptions",
        Some(
            &json!({"url": "https://hooks.example.gov.cn/y", "secret": "a-department-secret-0123"}),
        ),
        Some(&keys.subscribe.token),
    )
    .await;
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    let subscribed: Value = subscribed.json().await.expect("the subscription");
    let committed = send(
        &app,
        &Method::POST,
        "/v1/commitments",
        Some(&json!({
            "subject": {"id": company}, "matter": "admin_license_general",
            "text": "齐审批承诺〔2026〕2号", "signed_at": "2026-11-20T09:30:00+08:00",
            "valid_until": "2027-11-20T00:00:00+08:00",
        })),
        Some(&keys.feedback.token),
    )
    .await;
    assert_eq!(committed.status(), StatusCode::CREATED);
    let committed: Value = committed.json().await.expect("the commitment");
    let breach = json!({
        "action": "commitment_breached", "commitment_id": committed["commitment_id"],
        "reason": "核查未履行承诺",
    });
    let broken = send(
        &app,
        &Method::POST,
        "/v1/feedback",
        Some(&breach),
        Some(&keys.feedback.token),
    );
    assert_eq!(broken.await.status(), StatusCode::CREATED);
    let ids = Ids {
        decision: &blocked["decision_id"],
        feedback: feedback_id,
        subscription: subscribed["id"].as_str().expect("its id"),
        commitment: committed["commitment_id"].as_str().expect("its id"),
    };
    for case in cases(&company, &ids) {
        let access = needs
            .iter()
            .find(|(method, template, _)| {
                *method == case.method.as_str() && *template == case.template
            })
            .map(|(_, _, access)| *access)
            .expect("in the table");
        let right = match access {
            Access::Open => None,
            Access::Scope(scope) => Some(&keys.for_scope(scope).0.token),
            Access::AnyScope(scopes) => Some(&keys.for_scope(scopes[0]).0.token),
            Access::Metrics => Some(&keys.admin.token),
            Access::AnyKey => Some(&keys.read.token),
        };
        let response = send(
            &app,
            &case.method,
            &case.path,
            case.body.as_ref(),
            right.map(String::as_str),
        )
        .await;
        let status = response.status();
        assert!(
            status.is_success(),
            "{} {} with its key: {status} {}",
            case.method,
            case.path,
            response.text().await.unwrap_or_default()
        );
    }
}

#[actix_web::test]
async fn a_path_that_matches_no_endpoint_needs_a_key_and_is_404_only_to_a_valid_one() {
    let keys = Keys::new();
    let app = Spawn::entries(&[]).keys(&keys.config(), false).start();
    for path in ["/nothing", "/v1", "/v1/decide/", "//metrics", "/bench/bare"] {
        for method in [Method::GET, Method::POST] {
            let what = format!("{method} {path}");
            let none = send(&app, &method, path, None, None).await;
            assert_refused(none, StatusCode::UNAUTHORIZED, "unauthorized", &what).await;
            let valid = send(&app, &method, path, None, Some(&keys.decide.token)).await;
            problem(valid, 404, "not_found", &what).await;
        }
    }
    // A method an endpoint does not have is refused before it is told so.
    let put = send(&app, &Method::PUT, "/v1/decide", None, None).await;
    assert_refused(
        put,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "PUT /v1/decide",
    )
    .await;
    let put = send(
        &app,
        &Method::PUT,
        "/v1/decide",
        None,
        Some(&keys.read.token),
    )
    .await;
    assert_refused(put, StatusCode::FORBIDDEN, "forbidden", "PUT /v1/decide").await;
}

#[actix_web::test]
async fn the_bench_endpoint_is_admitted_like_a_decision() {
    let keys = Keys::new();
    let app = Spawn::demo()
        .keys(&keys.config(), false)
        .bench_routes()
        .start();
    assert!(endpoints(true)
        .iter()
        .any(|(method, path, access)| method.as_str() == "POST"
            && *path == "/bench/bare"
            && *access == Access::Scope(Scope::Decide)));
    let body = json!({"subject": {"id": "91230202MAG6KQ7Y4X"}, "matter": "gov_procurement"});
    for path in ["/bench/bare", "/bench/b%61re"] {
        let none = send(&app, &Method::POST, path, Some(&body), None).await;
        assert_refused(none, StatusCode::UNAUTHORIZED, "unauthorized", path).await;
        let read = send(
            &app,
            &Method::POST,
            path,
            Some(&body),
            Some(&keys.read.token),
        )
        .await;
        assert_refused(read, StatusCode::FORBIDDEN, "forbidden", path).await;
    }
    let decide = send(
        &app,
        &Method::POST,
        "/bench/bare",
        Some(&body),
        Some(&keys.decide.token),
    );
    assert_eq!(decide.await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn requests_are_counted_under_the_route_they_reached() {
    let app = Spawn::demo().start();
    let body = json!({"subject": {"id": "91230202MAG6KQ7Y4X"}, "matter": "gov_procurement"});
    for path in ["/v%31/decide", "/%76%31/decide"] {
        assert_eq!(app.post_json(path, &body).await.status(), StatusCode::OK);
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"jiangcheng_http_requests_total{method="POST",route="/v1/decide",status="200"} 2"#
        ),
        "{metrics}"
    );
}

#[actix_web::test]
async fn an_address_refused_again_and_again_gets_429_while_a_valid_key_still_passes() {
    let keys = Keys::new();
    let app = Spawn::entries(&[])
        .keys(&keys.config(), false)
        .access(AccessConfig {
            auth_failures_per_minute: 3,
            ..AccessConfig::default()
        })
        .start();
    for n in 0..3 {
        let refused = send(
            &app,
            &Method::GET,
            "/v1/status",
            None,
            Some("jc_0badbeef_x"),
        )
        .await;
        assert_refused(
            refused,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            &n.to_string(),
        )
        .await;
    }
    let limited = send(&app, &Method::GET, "/v1/status", None, None).await;
    let retry: u64 = limited.headers()[reqwest::header::RETRY_AFTER]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("whole seconds");
    assert!(
        (1..=20).contains(&retry),
        "three a minute: one back within 20 s, not {retry}"
    );
    problem(limited, 429, "too_many_auth_failures", "the fourth refusal").await;
    let valid = send(
        &app,
        &Method::GET,
        "/v1/status",
        None,
        Some(&keys.read.token),
    )
    .await;
    assert_eq!(
        valid.status(),
        StatusCode::OK,
        "a valid key is never held back"
    );
    let metrics = app.service.metrics.render();
    for line in [
        r#"jiangcheng_auth_refusals_total{reason="unknown"} 3"#,
        r#"jiangcheng_auth_refusals_total{reason="address_limited"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
