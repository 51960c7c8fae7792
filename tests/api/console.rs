//! The console (`/console`) driven end to end in headless Chromium through Debian's
//! chromedriver (WebDriver, `fantoccini`), against the real server: a listed company looked up,
//! three bidders screened (pasted, then uploaded as CSV) and the report printed to PDF, the rule set browsed, the status
//! polled, the English labels, and a list entry added on a Redis source. Each view is saved as
//! a PNG in `target/console-screenshots/`, and in `docs/images/` with
//! `JC_UPDATE_SCREENSHOTS=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, PrintConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use jiangcheng::keys::{new_key, Scope};
use serde_json::{json, Value};

use crate::helpers::{demo_lists, rules_dir, Spawn, TestApp};
use crate::process::free_port;
use crate::redis::{import, redis_source, RedisServer};

/// How long the page may take to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// Blocked in `construction_bidding` (失信被执行人), flagged (审慎参考), allowed.
const BLOCKED: &str = "91230202MA1HUCCP1G";
const FLAGGED: &str = "91230200MA171AK48U";
const ALLOWED: &str = "91230202MA18XK7PXM";

/// chromedriver on a free loopback port, driving a Chromium with a fresh profile that talks to
/// nothing but loopback.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "chromedriver could not be started ({err}): install Debian's chromium and \
                     chromium-driver (apt-get install chromium chromium-driver poppler-utils \
                     fonts-wqy-microhei; tests/run.sh does)"
                )
            });
        let profile = tempfile::tempdir().expect("temp dir");
        let mut options = json!({"args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
            "--window-size=1280,900", "--lang=zh-CN",
            format!("--user-data-dir={}", profile.path().display()),
        ]});
        if Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut capabilities = Capabilities::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(err) if started.elapsed() > PATIENCE => {
                    panic!("no WebDriver session from chromedriver: {err}")
                }
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    async fn open(&self, app: &TestApp, view: &str) {
        self.client
            .goto(&app.url(&format!("/console#{view}")))
            .await
            .expect("open the console");
        self.wait(&format!("#view-{view}:not([hidden])")).await;
    }

    /// Enters the key as a user does.
    async fn sign_in(&self, app: &TestApp, key: &str) {
        self.client
            .goto(&app.url("/console"))
            .await
            .expect("open the console");
        self.find("#key-input").await.send_keys(key).await.unwrap();
        self.find("#key-save").await.click().await.unwrap();
        self.wait_text("#key-state", "已设置").await;
    }

    async fn wait(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css} did not appear: {err}"))
    }

    async fn find(&self, css: &str) -> Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("no {css}: {err}"))
    }

    /// Waits until the element's text holds `needle`, and returns the text.
    async fn wait_text(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{css} never showed {needle:?}; it shows {text:?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element.clear().await.unwrap();
        element.send_keys(text).await.unwrap();
    }

    /// Sets a field by script (a date input's typing depends on the browser's locale).
    async fn set(&self, css: &str, value: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        self.wait(&format!("{css} option[value=\"{value}\"]")).await;
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|err| panic!("{css} has no option {value}: {err}"));
    }

    /// The whole page as a PNG, under `target/console-screenshots/` and, with
    /// `JC_UPDATE_SCREENSHOTS=1`, as `docs/images/console-NAME.png`.
    async fn screenshot(&self, name: &str) {
        let height: Value = self
            .client
            .execute(
                "window.scrollTo(0, 0); \
                 return Math.min(1800, document.documentElement.scrollHeight);",
                vec![],
            )
            .await
            .unwrap();
        let height = height.as_u64().unwrap_or(900).max(700) as u32;
        self.client.set_window_size(1280, height).await.unwrap();
        let png = self.client.screenshot().await.expect("a screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        self.client.set_window_size(1280, 900).await.unwrap();
        let file = format!("console-{name}.png");
        std::fs::write(screenshots().join(&file), &png).unwrap();
        if std::env::var("JC_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(&file), &png).unwrap();
        }
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of a PDF, by poppler's `pdftotext`.
fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap_or_else(|err| {
            panic!("pdftotext could not be run ({err}): install Debian's poppler-utils")
        });
    assert!(out.status.success(), "pdftotext failed on {pdf:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The screening table's rows: class, row number, subject.
async fn screened(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "return [...document.querySelectorAll('#screen-table tbody tr')]\
             .map((row) => [row.className, row.cells[0].textContent, row.cells[1].textContent]);",
            vec![],
        )
        .await
        .unwrap()
}

fn all_scopes_key() -> (String, String) {
    let key = new_key("市住房和城乡建设局", &Scope::ALL, None);
    (key.token, key.config)
}

#[actix_web::test]
async fn an_officer_looks_up_screens_prints_browses_and_reads_the_status_in_the_console() {
    let (token, config) = all_scopes_key();
    let app = Spawn::demo().keys(&config, false).start();
    let page = app.get("/console").await;
    assert_eq!(page.status(), 200);
    let csp = crate::helpers::header(&page, "content-security-policy");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        crate::helpers::header(&page, "x-content-type-options"),
        "nosniff"
    );
    assert_eq!(
        crate::helpers::header(&page, "referrer-policy"),
        "no-referrer"
    );
    // The address typed with a slash leads to the page.
    let slash = app.get("/console/").await;
    assert_eq!(slash.status(), 200);
    assert_eq!(slash.url().path(), "/console");

    let browser = Browser::start().await;
    browser.sign_in(&app, &token).await;

    // A listed company: its entries, and a block in a matter with the measure's legal basis.
    browser.open(&app, "lookup").await;
    browser.fill("#lookup-id", BLOCKED).await;
    browser.choose("#lookup-matter", "gov_procurement").await;
    browser
        .find("#lookup-form button")
        .await
        .click()
        .await
        .unwrap();
    browser.wait(".decision.block").await;
    let shown = browser
        .wait_text("#lookup-out", "QQHR-FY-2025-000047")
        .await;
    for expected in [
        "拦截",
        "限制失信被执行人参加政府采购活动",
        "《中华人民共和国政府采购法》第二十二条",
        "失信被执行人",
        "异议审核中",
        "法定代表人",
        "2025-06-09 — 2027-06-09",
    ] {
        assert!(shown.contains(expected), "the lookup lacks {expected:?}");
    }
    assert!(
        !shown.contains("230202197906238954"),
        "a responsible person's ID number is shown in full"
    );
    browser.screenshot("lookup").await;

    // A malformed identifier: the API's problem, in Chinese.
    browser.fill("#lookup-id", "bad").await;
    browser
        .find("#lookup-form button")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_text("#error", "identifier length is 3").await;

    // Three bidders pasted with names: blocked first, then flagged, then allowed.
    browser.open(&app, "screen").await;
    browser
        .choose("#screen-matter", "construction_bidding")
        .await;
    browser.fill("#screen-case", "QQZB-2026-0118").await;
    browser
        .fill("#screen-department", "市住房和城乡建设局")
        .await;
    let paste = format!("{ALLOWED},乙建材公司\n{FLAGGED},丙工程公司\n{BLOCKED},甲贸易公司\n");
    browser.fill("#screen-paste", &paste).await;
    browser
        .find("#screen-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    browser.wait("#screen-table tbody tr").await;
    assert_eq!(
        screened(&browser).await,
        json!([
            ["row-block", "3", format!("{BLOCKED}甲贸易公司")],
            ["row-flag", "2", format!("{FLAGGED}丙工程公司")],
            ["row-allow", "1", format!("{ALLOWED}乙建材公司")],
        ])
    );

    // The same bidders uploaded as a CSV file with a header, and a row Excel spoilt: the
    // spreadsheet's rows, and the spoilt one named.
    let upload = tempfile::tempdir().unwrap();
    let csv = upload.path().join("投标人名单.csv");
    std::fs::write(
        &csv,
        format!(
            "投标人名称,统一社会信用代码\n乙建材公司,{ALLOWED}\n丙工程公司,{FLAGGED}\n\
             甲贸易公司,{BLOCKED}\n丁建设公司,9.12302E+17\n"
        ),
    )
    .unwrap();
    browser.find("#screen-paste").await.clear().await.unwrap();
    browser
        .find("#screen-file")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    browser
        .find("#screen-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_text("#screen-out", "scientific").await;
    assert_eq!(
        screened(&browser).await,
        json!([
            ["row-block", "4", format!("{BLOCKED}甲贸易公司")],
            ["row-flag", "3", format!("{FLAGGED}丙工程公司")],
            ["row-allow", "2", format!("{ALLOWED}乙建材公司")],
        ])
    );
    let problems = browser.find("#screen-problems").await.text().await.unwrap();
    assert!(problems.contains("5 id reads like a number"), "{problems}");
    let status: Value = app
        .client
        .get(app.url("/v1/status"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = browser.wait_text("#report", "QQZB-2026-0118").await;
    assert!(report.contains("信用核查报告") && report.contains("市住房和城乡建设局"));
    browser.screenshot("screen").await;

    // The report printed to PDF, as the browser's print does (the print sheet shows only it).
    let pdf = browser
        .client
        .print(PrintConfiguration::default())
        .await
        .expect("the page printed");
    assert!(pdf.starts_with(b"%PDF-"), "the print is not a PDF");
    let pdf_path = screenshots().join("console-report.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let text = pdf_text(&pdf_path)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        format!("名单版本 {}", status["lists"]["version"]),
        status["ruleset"]["revision"].as_str().unwrap().to_owned(),
        "QQZB-2026-0118".to_owned(),
        ALLOWED.to_owned(),
    ] {
        assert!(text.contains(&expected), "the PDF lacks {expected}: {text}");
    }
    assert!(
        !text.contains("API"),
        "the PDF carries the page's controls: {text}"
    );

    // The rule set, filtered.
    browser.open(&app, "rules").await;
    browser.wait("details.topic").await;
    browser.fill("#rules-filter", "政府采购法").await;
    let rules = browser
        .wait_text("#rules-out", "限制失信被执行人参加政府采购活动")
        .await;
    assert!(
        !rules.contains("纳税信用A级办税便利"),
        "the filter kept an unrelated measure"
    );
    browser.screenshot("rules").await;

    // The status, with rates from two polls.
    browser.open(&app, "status").await;
    browser.wait_text("#status-out", "qiqihar").await;
    browser.wait_text("#status-out", "拦截").await;
    browser.screenshot("status").await;

    // The admin view on a file source: the service's refusal, as it words it.
    browser.open(&app, "admin").await;
    browser.choose("#admin-list", "tax_major_violation").await;
    browser.fill("#admin-entry", "QQHR-SW-2026-000777").await;
    browser
        .fill("#admin-put [name=subject_id]", "91230202MA18XK7PXM")
        .await;
    browser
        .fill("#admin-put [name=reason]", "虚开增值税专用发票")
        .await;
    browser
        .set("#admin-put [name=listed_on]", "2026-11-01")
        .await;
    browser
        .find("#admin-put button")
        .await
        .click()
        .await
        .unwrap();
    browser.find("#confirm-ok").await.click().await.unwrap();
    browser.wait_text("#error", "名单来源只读").await;

    // English labels, the last lookup redrawn in them.
    browser.open(&app, "lookup").await;
    browser.find("#lang-toggle").await.click().await.unwrap();
    browser.wait_text("#tabs", "Look up a subject").await;
    browser.fill("#lookup-id", BLOCKED).await;
    browser.choose("#lookup-matter", "gov_procurement").await;
    browser
        .find("#lookup-form button")
        .await
        .click()
        .await
        .unwrap();
    let english = browser.wait_text("#lookup-out", "Legal basis").await;
    assert!(english.contains("block") && english.contains("in force"));
    browser.screenshot("lookup-en").await;

    browser.close().await;
}

#[actix_web::test]
async fn an_administrator_adds_an_entry_confirms_and_sees_the_change_in_the_console() {
    let redis = RedisServer::start();
    assert!(import(&redis, &demo_lists()).status.success());
    let (token, config) = all_scopes_key();
    let app = Spawn::source(rules_dir(), redis_source(&redis))
        .keys(&config, false)
        .start();
    let browser = Browser::start().await;
    browser.sign_in(&app, &token).await;
    browser.open(&app, "admin").await;
    browser.choose("#admin-list", "tax_major_violation").await;
    browser.fill("#admin-entry", "QQHR-SW-2026-000777").await;
    browser
        .fill("#admin-put [name=subject_id]", "91230202MA18XK7PXM")
        .await;
    browser
        .fill(
            "#admin-put [name=subject_name]",
            "齐齐哈尔市龙沙区某某科技有限公司",
        )
        .await;
    browser
        .fill("#admin-put [name=reason]", "虚开增值税专用发票")
        .await;
    browser
        .set("#admin-put [name=listed_on]", "2026-11-01")
        .await;
    browser
        .set("#admin-put [name=valid_until]", "2029-11-01")
        .await;

    // Cancelled: nothing is written.
    browser
        .find("#admin-put button")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_text("#confirm-body", "虚开增值税专用发票")
        .await;
    browser.find("#confirm-cancel").await.click().await.unwrap();
    let path = "/v1/lists/tax_major_violation/entries/QQHR-SW-2026-000777";
    let absent = app
        .client
        .get(app.url(path))
        .bearer_auth(&token)
        .send()
        .await;
    assert_eq!(absent.unwrap().status(), 404, "a cancelled write was made");

    // Confirmed: written, and shown as before → after.
    browser
        .find("#admin-put button")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_text("#confirm-body", "PUT").await;
    browser.screenshot("admin-confirm").await;
    browser.find("#confirm-ok").await.click().await.unwrap();
    let diff = browser.wait_text("#admin-out", "已变更").await;
    assert!(diff.contains("虚开增值税专用发票") && diff.contains("2029-11-01"));
    let changed: Value = browser
        .client
        .execute(
            "return [...document.querySelectorAll('#admin-diff tr.changed')]\
             .map((row) => row.cells[1].textContent + ' → ' + row.cells[2].textContent);",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        changed
            .as_array()
            .unwrap()
            .contains(&json!("（无此条目） → 虚开增值税专用发票")),
        "the change is not shown: {changed}"
    );
    let stored: Value = app
        .client
        .get(app.url(path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["entry"]["reason"], "虚开增值税专用发票");
    browser.screenshot("admin").await;

    // The dispute state set: the change shows the state it had and the one it has.
    browser.fill("#admin-dispute [name=by]", "市信用中心").await;
    browser
        .find("#admin-dispute button")
        .await
        .click()
        .await
        .unwrap();
    browser.find("#confirm-ok").await.click().await.unwrap();
    browser.wait_text("#admin-diff", "异议审核中").await;

    // Markup in a list's text is shown as text: no element is made of it, no script runs.
    let markup = r#"<img src="/nowhere" onerror="window.pwned = 1">虚报"#;
    let entry = json!({"subject_id": ALLOWED, "reason": markup, "listed_on": "2026-11-02"});
    let written = app
        .client
        .put(app.url("/v1/lists/tax_major_violation/entries/QQHR-SW-2026-000778"))
        .bearer_auth(&token)
        .json(&entry)
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 201);
    let started = Instant::now();
    loop {
        let profile: Value = app
            .client
            .get(app.url(&format!("/v1/subjects/{ALLOWED}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if profile.to_string().contains("QQHR-SW-2026-000778") {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the entry never reached the instance"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    browser.open(&app, "lookup").await;
    browser.fill("#lookup-id", ALLOWED).await;
    browser
        .find("#lookup-form button")
        .await
        .click()
        .await
        .unwrap();
    browser.wait_text("#lookup-out", markup).await;
    let ran: Value = browser
        .client
        .execute(
            "return [document.querySelectorAll('#lookup-out img').length, window.pwned ?? null];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        ran,
        json!([0, null]),
        "the list's markup became part of the page"
    );
    browser.close().await;
}
