//! Problem titles in the language the request prefers: Chinese for `Accept-Language: zh` (any
//! region, weighed by its q-value against English), English otherwise; only the title changes.

use reqwest::header::ACCEPT_LANGUAGE;
use reqwest::Method;
use serde_json::Value;

use crate::auth::Keys;
use crate::helpers::{problem, Spawn, TestApp};

/// Sends a request with this `Accept-Language` (none when `None`) and returns its problem.
async fn refused(
    app: &TestApp,
    (method, path, body, key): (&Method, &str, Option<&str>, Option<&str>),
    language: Option<&str>,
    (status, code): (u16, &str),
) -> Value {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(language) = language {
        request = request.header(ACCEPT_LANGUAGE, language);
    }
    let response = request.send().await.expect("request");
    problem(response, status, code, &format!("{path} in {language:?}")).await
}

#[actix_web::test]
async fn problem_titles_are_chinese_when_the_request_prefers_chinese() {
    let keys = Keys::new();
    let app = Spawn::entries(&[]).keys(&keys.config(), false).start();
    let decide = keys.decide.token.as_str();
    let cases = [
        (
            (
                &Method::POST,
                "/v1/decide",
                Some("{\"subject\":"),
                Some(decide),
            ),
            (400, "invalid_json"),
            "Malformed JSON",
            "JSON 格式错误",
        ),
        (
            (&Method::GET, "/v1/no-such-thing", None, Some(decide)),
            (404, "not_found"),
            "Not found",
            "资源不存在",
        ),
        (
            (&Method::POST, "/v1/decide", Some("{}"), None),
            (401, "unauthorized"),
            "API key missing or not accepted",
            "API 密钥缺失或未被接受",
        ),
    ];
    let chinese = [
        "zh",
        "zh-CN",
        "ZH-cn",
        "zh-Hans-CN",
        "zh-CN,zh;q=0.9,en;q=0.8",
        "en;q=0.5, zh-CN;q=0.8",
        "fr-FR, zh;q=0.3",
    ];
    let english = [
        None,
        Some("en"),
        Some("en-US,zh;q=0.9"),
        Some("zh;q=0.5, en;q=0.7"),
        Some("zh;q=0, *"),
        Some("*"),
        Some("fr"),
        Some("zh;q=nonsense"),
    ];
    for (request, expected, title_en, title_zh) in cases {
        let plain = refused(&app, request, None, expected).await;
        assert_eq!(plain["title"], title_en, "{plain}");
        for language in chinese {
            let problem = refused(&app, request, Some(language), expected).await;
            assert_eq!(problem["title"], title_zh, "{language}: {problem}");
            let mut same = problem.clone();
            same["title"] = plain["title"].clone();
            assert_eq!(same, plain, "only the title changes for {language}");
        }
        for language in english {
            let problem = refused(&app, request, language, expected).await;
            assert_eq!(problem, plain, "{language:?} gets English");
        }
    }
}
