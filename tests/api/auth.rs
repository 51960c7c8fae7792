//! Callers and scopes: the probes stay open (and `/metrics` too unless protected); a key over its
//! rate is told when to retry, a batch counting by its subjects; with no keys the service says
//! it is open. (`access` tests every endpoint's key and scope, on every spelling of its path.)

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use jiangcheng::keys::{new_key, NewKey, Scope};

use crate::helpers::{uscc, Spawn, TestApp};

/// A key for each scope (the decision key's department also feeds back), and a revoked one.
pub struct Keys {
    pub decide: NewKey,
    pub read: NewKey,
    pub admin: NewKey,
    pub feedback: NewKey,
    pub export: NewKey,
    pub replay: NewKey,
    pub subscribe: NewKey,
    pub revoked: NewKey,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            decide: new_key("市公共资源交易中心", &[Scope::Decide], None),
            read: new_key("市信用中心", &[Scope::ReadSubject], None),
            admin: new_key("市信用中心", &[Scope::Admin], None),
            feedback: new_key("市公共资源交易中心", &[Scope::Feedback], None),
            export: new_key("市信用中心", &[Scope::Export], None),
            replay: new_key("市信用中心", &[Scope::Decide, Scope::Replay], None),
            subscribe: new_key("市市场监管局", &[Scope::Subscribe], None),
            revoked: new_key("已停用", &Scope::ALL, None),
        }
    }

    pub fn config(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}revoked = true\n",
            self.decide.config,
            self.read.config,
            self.admin.config,
            self.feedback.config,
            self.export.config,
            self.replay.config,
            self.subscribe.config,
            self.revoked.config
        )
    }

    /// A key with `scope`, and one without it.
    pub fn for_scope(&self, scope: Scope) -> (&NewKey, &NewKey) {
        match scope {
            Scope::Decide => (&self.decide, &self.read),
            Scope::ReadSubject => (&self.read, &self.decide),
            Scope::Feedback => (&self.feedback, &self.decide),
            Scope::Export => (&self.export, &self.read),
            Scope::Admin => (&self.admin, &self.decide),
            Scope::Replay => (&self.replay, &self.decide),
            Scope::Subscribe => (&self.subscribe, &self.decide),
        }
    }
}

/// Sends a request; a JSON string as the body is sent as a CSV bidder list.
pub async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> Response {
    let mut request = app.client.request(method.clone(), app.url(path));
    match body {
        // The one endpoint whose body is not JSON takes a bidder list.
        Some(Value::String(csv)) => {
            request = request.header("content-type", "text/csv").body(csv.clone());
        }
        Some(body) => request = request.json(body),
        None => {}
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("request")
}

/// A problem+json refusal with this status and code.
pub async fn assert_refused(response: Response, status: StatusCode, code: &str, what: &str) {
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

/// A key limited to a few decisions a second could ask thousands a second if a batch counted
/// as one request; a batch counts by its subjects.
#[actix_web::test]
async fn a_batch_counts_against_the_key_s_rate_by_its_subjects() {
    let key = new_key("市公共资源交易中心", &[Scope::Decide], Some(1));
    let app = Spawn::entries(&[])
        .keys(&format!("{}burst = 5\n", key.config), false)
        .start();
    let batch = |subjects: u64| {
        let subjects: Vec<Value> = (1..=subjects)
            .map(|n| json!({"id": uscc("91", n)}))
            .collect();
        json!({"subjects": subjects, "matter": "gov_procurement"})
    };
    let (app, token) = (&app, key.token.as_str());
    let post = |subjects: u64| {
        let body = batch(subjects);
        async move {
            send(
                app,
                &Method::POST,
                "/v1/decide/batch",
                Some(&body),
                Some(token),
            )
            .await
        }
    };
    // More subjects than the bucket holds could never pass: no wait would help.
    let over = post(6).await;
    let problem = crate::helpers::problem(over, 413, "batch_too_large", "six subjects").await;
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("burst of 5"), "{detail}");
    // That refusal took one unit of five; three subjects take three more.
    assert_eq!(post(3).await.status(), StatusCode::OK);
    // One is left: a batch of three waits for the two more it needs, a second each.
    let limited = post(3).await;
    let retry = limited.headers()[reqwest::header::RETRY_AFTER].clone();
    assert!(
        ["1", "2"].contains(&retry.to_str().unwrap_or("")),
        "{retry:?}"
    );
    assert_refused(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "a batch over what is left",
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
    assert_eq!(status["auth"]["keys"], 8);
    assert_eq!(status["auth"]["metrics_protected"], true);
    assert!(status["auth"].get("warning").is_none());
}
