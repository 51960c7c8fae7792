//! Callers and scopes: with keys configured, every `/v1` endpoint needs a key, and most a key
//! with their scope; the probes stay open (and `/metrics` too unless protected); a key over its
//! rate is told when to retry; with no keys the service says it is open.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use jiangcheng::keys::{new_key, NewKey, Scope};

use crate::helpers::{entry, uscc, Spawn, TestApp, AS_OF};

const ENTRY: &str = "/v1/lists/court_dishonest_debtor/entries/H-1";

/// Every `/v1` endpoint, with a body where it takes one and the scope it needs (`None`: any
/// valid key).
fn endpoints(company: &str) -> Vec<(Method, String, Option<Value>, Option<Scope>)> {
    let decide = json!({"subject": {"id": company}, "matter": "gov_procurement", "as_of": AS_OF});
    let batch = json!({"subjects": [{"id": company}], "matter": "gov_procurement", "as_of": AS_OF});
    let get = |path: &str, scope| (Method::GET, path.to_owned(), None, scope);
    vec![
        (
            Method::POST,
            "/v1/decide".into(),
            Some(decide),
            Some(Scope::Decide),
        ),
        (
            Method::POST,
            "/v1/decide/batch".into(),
            Some(batch),
            Some(Scope::Decide),
        ),
        get(&format!("/v1/subjects/{company}"), Some(Scope::ReadSubject)),
        get("/v1/matters", None),
        get("/v1/topics", None),
        get("/v1/lists", None),
        get("/v1/status", None),
        get("/v1/no-such-endpoint", None),
        get(ENTRY, Some(Scope::Admin)),
        (
            Method::PUT,
            ENTRY.into(),
            Some(entry("H-1", "court_dishonest_debtor", company)),
            Some(Scope::Admin),
        ),
        (Method::DELETE, ENTRY.into(), None, Some(Scope::Admin)),
        (
            Method::POST,
            format!("{ENTRY}/repair"),
            Some(json!({"by": "市信用中心", "reason": "信用修复"})),
            Some(Scope::Admin),
        ),
        (
            Method::POST,
            format!("{ENTRY}/dispute"),
            Some(json!({"dispute": "under_review", "by": "市信用中心", "reason": "异议"})),
            Some(Scope::Admin),
        ),
        (
            Method::POST,
            "/v1/feedback".into(),
            Some(
                json!({"decision_id": "01936f4e-8a2b-7c3d-9e4f-0123456789ab",
                "measure": "court_procurement_ban", "action": "applied",
                "executing_department": "市财政局"}),
            ),
            Some(Scope::Feedback),
        ),
        (
            Method::POST,
            "/v1/feedback/01936f4e-8a2b-7c3d-9e4f-0123456789ab/corrections".into(),
            Some(json!({"reason": "录入有误", "changes": {"results": "已放行"}})),
            Some(Scope::Feedback),
        ),
        get("/v1/feedback", Some(Scope::Feedback)),
        get(
            "/v1/export/cases?from=2026-11-01&to=2026-12-01",
            Some(Scope::Export),
        ),
        get(
            "/v1/stats?from=2026-11-01&to=2026-12-01",
            Some(Scope::Export),
        ),
    ]
}

struct Keys {
    decide: NewKey,
    read: NewKey,
    admin: NewKey,
    feedback: NewKey,
    export: NewKey,
    revoked: NewKey,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            decide: new_key("市公共资源交易中心", &[Scope::Decide], None),
            read: new_key("市信用中心", &[Scope::ReadSubject], None),
            admin: new_key("市信用中心", &[Scope::Admin], None),
            feedback: new_key("市财政局", &[Scope::Feedback], None),
            export: new_key("市信用中心", &[Scope::Export], None),
            revoked: new_key("已停用", &Scope::ALL, None),
        }
    }

    fn config(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}revoked = true\n",
            self.decide.config,
            self.read.config,
            self.admin.config,
            self.feedback.config,
            self.export.config,
            self.revoked.config
        )
    }

    /// A key with `scope`, and one without it.
    fn for_scope(&self, scope: Scope) -> (&NewKey, &NewKey) {
        match scope {
            Scope::Decide => (&self.decide, &self.read),
            Scope::ReadSubject => (&self.read, &self.decide),
            Scope::Feedback => (&self.feedback, &self.decide),
            Scope::Export => (&self.export, &self.read),
            Scope::Admin => (&self.admin, &self.decide),
        }
    }
}

async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("request")
}

/// A problem+json refusal with this status and code.
async fn assert_refused(response: Response, status: StatusCode, code: &str, what: &str) {
    assert_eq!(response.status(), status, "{what}");
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].clone();
    assert_eq!(content_type, "application/problem+json", "{what}");
    if status == StatusCode::UNAUTHORIZED {
        assert!(
            response
                .headers()
                .contains_key(reqwest::header::WWW_AUTHENTICATE),
            "{what}"
        );
    }
    let problem: Value = response.json().await.expect("problem");
    assert_eq!(problem["code"], code, "{what}: {problem}");
}

#[actix_web::test]
async fn every_v1_endpoint_needs_a_key_with_its_scope() {
    let company = uscc("91", 7);
    let keys = Keys::new();
    let app = Spawn::entries(&[entry("H-1", "court_dishonest_debtor", &company)])
        .keys(&keys.config(), false)
        .start();
    for (method, path, body, scope) in endpoints(&company) {
        let what = format!("{method} {path}");
        let body = body.as_ref();
        let none = send(&app, &method, &path, body, None).await;
        assert_refused(none, StatusCode::UNAUTHORIZED, "unauthorized", &what).await;
        let bad = send(&app, &method, &path, body, Some("not-a-key")).await;
        assert_refused(bad, StatusCode::UNAUTHORIZED, "unauthorized", &what).await;
        let revoked = send(&app, &method, &path, body, Some(&keys.revoked.token)).await;
        assert_refused(revoked, StatusCode::UNAUTHORIZED, "unauthorized", &what).await;
        let right = match scope {
            Some(scope) => {
                let (right, wrong) = keys.for_scope(scope);
                let refused = send(&app, &method, &path, body, Some(&wrong.token)).await;
                assert_refused(refused, StatusCode::FORBIDDEN, "forbidden", &what).await;
                right
            }
            None => &keys.read,
        };
        let admitted = send(&app, &method, &path, body, Some(&right.token)).await;
        let status = admitted.status();
        // A handler may refuse what the key asks of it (feedback on a decision that is not its
        // department's), but not for want of a key or a scope.
        let answer: Value =
            serde_json::from_str(&admitted.text().await.expect("body")).unwrap_or(Value::Null);
        assert!(
            status != StatusCode::UNAUTHORIZED && answer["code"] != "forbidden",
            "{what} with a key that has its scope: {status} {answer}"
        );
    }
    // What a decision looks like once admitted.
    let decided = send(
        &app,
        &Method::POST,
        "/v1/decide",
        endpoints(&company)[0].2.as_ref(),
        Some(&keys.decide.token),
    )
    .await;
    assert_eq!(decided.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_probes_stay_open_and_metrics_can_be_protected() {
    let keys = Keys::new();
    for protect in [false, true] {
        let app = Spawn::entries(&[]).keys(&keys.config(), protect).start();
        for path in ["/healthz", "/readyz"] {
            let response = send(&app, &Method::GET, path, None, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }
        let metrics = send(&app, &Method::GET, "/metrics", None, None).await;
        if protect {
            assert_refused(metrics, StatusCode::UNAUTHORIZED, "unauthorized", "metrics").await;
            let decide = send(
                &app,
                &Method::GET,
                "/metrics",
                None,
                Some(&keys.decide.token),
            );
            assert_refused(decide.await, StatusCode::FORBIDDEN, "forbidden", "metrics").await;
            let admin = send(
                &app,
                &Method::GET,
                "/metrics",
                None,
                Some(&keys.admin.token),
            );
            assert_eq!(admin.await.status(), StatusCode::OK);
        } else {
            assert_eq!(metrics.status(), StatusCode::OK);
        }
    }
}

#[actix_web::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let key = new_key("市公共资源交易中心", &[Scope::Decide], Some(1));
    let app = Spawn::entries(&[])
        .keys(&format!("{}burst = 2\n", key.config), false)
        .start();
    let body = json!({"subject": {"id": uscc("91", 1)}, "matter": "gov_procurement"});
    for _ in 0..2 {
        let response = send(
            &app,
            &Method::POST,
            "/v1/decide",
            Some(&body),
            Some(&key.token),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let limited = send(
        &app,
        &Method::POST,
        "/v1/decide",
        Some(&body),
        Some(&key.token),
    )
    .await;
    assert_eq!(
        limited.headers()[reqwest::header::RETRY_AFTER],
        "1",
        "one request a second: retry within a second"
    );
    assert_refused(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "third",
    )
    .await;
}

#[actix_web::test]
async fn status_says_whether_the_service_runs_open() {
    let open = Spawn::entries(&[]).start();
    let status: Value = send(&open, &Method::GET, "/v1/status", None, None)
        .await
        .json()
        .await
        .expect("status");
    assert_eq!(status["auth"]["mode"], "open");
    assert!(status["auth"]["warning"]
        .as_str()
        .is_some_and(|w| w.contains("open")));

    let keys = Keys::new();
    let closed = Spawn::entries(&[]).keys(&keys.config(), true).start();
    let status: Value = send(
        &closed,
        &Method::GET,
        "/v1/status",
        None,
        Some(&keys.read.token),
    )
    .await
    .json()
    .await
    .expect("status");
    assert_eq!(status["auth"]["mode"], "keys");
    assert_eq!(status["auth"]["keys"], 6);
    assert_eq!(status["auth"]["metrics_protected"], true);
    assert!(status["auth"].get("warning").is_none());
}
