//! No personal ID number in full in any store: feedback texts and the register's own labels
//! are masked however the number is written (full-width digits, inside a longer run of digits,
//! with spaces), in the files, in `GET /v1/feedback` and in both export formats; the register's
//! files are readable by their owner only; `/v1/status` shows paths to `admin` keys only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use jiangcheng::keys::{new_key, Scope};
use jiangcheng::register::Sink;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    entry, error_fields, files_under, ok_json, problem, rules_dir, uscc, write_jsonl, Spawn,
    TestApp,
};
use crate::register::{app_with, file_records, masked, period_now, stored, subjects};

/// One decision of the open service, now (not a replay, so that the export has it).
pub async fn decide_now(app: &TestApp, subject: &str, matter: &str) -> Value {
    let body = json!({"subject": {"id": subject}, "matter": matter});
    ok_json(app.post_decide(&body).await, "decide").await
}

/// The number as people write it: full-width, inside a longer run of digits, with spaces, with
/// ideographic spaces and hyphens.
fn written_forms(id: &str) -> [String; 4] {
    let wide: String = id
        .chars()
        .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c))
        .collect();
    [
        wide,
        format!("0451{id}77"),
        format!("{} {} {}", &id[..6], &id[6..14], &id[14..]),
        format!("{}\u{3000}{}-{}", &id[..6], &id[6..14], &id[14..]),
    ]
}

/// Half-width digits, without the separators `written_forms` puts in.
fn normalised(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}' | '-'))
        .map(|c| match c {
            '０'..='９' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Asserts that `text` holds `id` in no form, and holds it masked.
fn assert_only_masked(text: &str, id: &str, what: &str) {
    let plain = normalised(text);
    assert!(!plain.contains(id), "{what} holds {id} in full:\n{text}");
    assert!(
        plain.contains(&masked(id)),
        "{what} does not hold {id} masked:\n{text}"
    );
}

#[actix_web::test]
async fn an_id_number_in_feedback_text_is_in_no_store_listing_or_export_in_full() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    // A decision about the person (the listed company's legal representative), whose export
    // row shows the ID only masked: the feedback texts must not give it away.
    let decision = decide_now(&app, &s.person, "high_consumption").await;
    let measure = decision["reasons"][0]["measure"].clone();
    assert!(measure.is_string(), "a measure applies: {decision}");
    stored(&app, 1).await;
    let [wide, run, spaced, hyphened] = written_forms(&s.person);
    let report = json!({"decision_id": decision["decision_id"], "measure": measure,
        "action": "overridden", "executing_department": format!("市中级人民法院（{wide}）"),
        "officer": format!("王某 {}", s.person), "reason": format!("被执行人{spaced}已履行"),
        "content": format!("核对身份证号{run}"), "field": format!("消费{hyphened}"),
        "results": format!("已放行{}", s.person), "start_time": "2026-11-22"});
    let created = app.post_json("/v1/feedback", &report).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_only_masked(
        &created.text().await.expect("body"),
        &s.person,
        "the answer",
    );
    let again = app.post_json("/v1/feedback", &report).await;
    assert_eq!(again.status(), StatusCode::OK, "the same report again");

    let file = std::fs::read_to_string(app.register_dir.path().join("feedback.jsonl"))
        .expect("feedback file");
    assert_only_masked(&file, &s.person, "feedback.jsonl");
    let listed = app.get("/v1/feedback").await.text().await.expect("body");
    assert_only_masked(&listed, &s.person, "GET /v1/feedback");
    for format in ["jsonl", "csv"] {
        let export = app
            .get(&format!(
                "/v1/export/cases?{}&format={format}",
                period_now()
            ))
            .await
            .text()
            .await
            .expect("export");
        assert!(export.contains("已放行"), "the row is exported: {export}");
        assert_only_masked(&export, &s.person, format);
    }
}

#[actix_web::test]
async fn an_id_number_in_the_fraction_of_a_feedback_instant_is_refused() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let decision = decide_now(&app, &s.person, "high_consumption").await;
    stored(&app, 1).await;
    // RFC 3339 takes a fraction of a second of any length, and the instants are stored as
    // they were written: an ID number fits in one.
    for (member, other, at) in [
        ("start_time", "end_time", "10:00"),
        ("end_time", "start_time", "08:00"),
    ] {
        let report = json!({"decision_id": decision["decision_id"],
            "measure": decision["reasons"][0]["measure"], "action": "applied",
            "executing_department": "市中级人民法院",
            member: format!("2026-11-22T09:00:00.{}+08:00", s.person),
            other: format!("2026-11-22T{at}:00+08:00")});
        let refused = app.post_json("/v1/feedback", &report).await;
        let refused = problem(refused, 400, "invalid_request", member).await;
        assert_eq!(error_fields(&refused), [member], "{refused}");
        assert!(!refused.to_string().contains(&s.person), "{refused}");
    }
    let file =
        std::fs::read_to_string(app.register_dir.path().join("feedback.jsonl")).unwrap_or_default();
    assert!(!file.contains(&s.person), "{file}");
}

#[actix_web::test]
async fn case_refs_and_departments_with_an_id_number_in_any_form_are_masked_in_the_register() {
    let s = subjects();
    let key = new_key(&format!("窗口{}", s.person), &[Scope::Decide], None);
    let app = app_with(&s, |spawn| spawn.keys(&key.config, false));
    let forms = written_forms(&s.person);
    for form in &forms {
        let body = json!({"subject": {"id": s.listed}, "matter": "gov_procurement",
                          "case_ref": format!("ZFCG-2026-0815 申请人{form}"),
                          "department": format!("经办人 {form}")});
        let response = app
            .client
            .post(app.url("/v1/decide"))
            .bearer_auth(&key.token)
            .json(&body)
            .send()
            .await
            .expect("decide");
        assert_eq!(response.status(), StatusCode::OK);
    }
    stored(&app, forms.len() as u64).await;
    let (text, records) = file_records(&app);
    assert_eq!(records.len(), forms.len());
    assert_only_masked(&text, &s.person, "the register");
    for record in &records {
        for field in [
            &record["case_ref"],
            &record["department"],
            &record["caller"]["department"],
        ] {
            assert!(field.as_str().is_some_and(|t| t.contains('*')), "{record}");
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[actix_web::test]
async fn register_feedback_and_spill_files_are_created_readable_by_their_owner_only() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let decision = decide_now(&app, &s.listed, "gov_procurement").await;
    stored(&app, 1).await;
    let created = app
        .post_json(
            "/v1/feedback",
            &crate::register::applied(&decision["decision_id"]),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let files = files_under(app.register_dir.path());
    for name in ["feedback.jsonl", "subject-hash.key"] {
        assert!(files.iter().any(|f| f.ends_with(name)), "{files:?}");
    }
    assert!(files.len() >= 3, "an hour file too: {files:?}");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }

    // A register whose Redis is not there spills every record.
    let nobody = crate::process::free_port();
    let sink = Sink::Redis {
        url: format!("redis://127.0.0.1:{nobody}/"),
        prefix: jiangcheng::register::DEFAULT_PREFIX.to_owned(),
    };
    let app = app_with(&s, |spawn| spawn.register(sink, 65_536));
    decide_now(&app, &s.listed, "gov_procurement").await;
    let register = app.service.register().expect("on");
    let started = Instant::now();
    while register.status().spilled == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing spilled"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let spill = app.register_dir.path().join("spill.jsonl");
    assert_eq!(mode(&spill), 0o600, "{}", spill.display());
}

/// `/v1/status` as `key` sees it.
async fn status(app: &TestApp, key: &str) -> String {
    let request = app.client.get(app.url("/v1/status")).bearer_auth(key);
    request
        .send()
        .await
        .expect("status")
        .text()
        .await
        .expect("body")
}

#[actix_web::test]
async fn status_shows_the_services_paths_to_admin_keys_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(
        &lists,
        &[entry("S-1", "court_dishonest_debtor", &uscc("91", 5))],
    );
    let admin = new_key("市信用中心", &[Scope::Admin], None);
    let department = new_key("市财政局", &[Scope::Decide, Scope::Export], None);
    let config = format!("{}{}", admin.config, department.config);
    let app = Spawn::files(rules_dir(), lists.clone())
        .keys(&config, false)
        .start();
    // A refused reload leaves an error that names the file and its line.
    std::fs::write(&lists, "{\"entry_id\": \n").expect("write");
    assert!(app.service.reload().is_err());
    let paths = [
        lists.display().to_string(),
        rules_dir().display().to_string(),
    ];
    let shown: Value = serde_json::from_str(&status(&app, &admin.token).await).expect("JSON");
    assert_eq!(shown["ruleset"]["path"], paths[1].as_str());
    assert_eq!(shown["lists"]["location"], paths[0].as_str());
    assert!(shown["last_load"]["last_error"]
        .as_str()
        .is_some_and(|e| e.contains(&format!("{}:1:", paths[0]))));

    let text = status(&app, &department.token).await;
    let hidden: Value = serde_json::from_str(&text).expect("JSON");
    for path in &paths {
        assert!(!text.contains(path.as_str()), "{path} shown: {text}");
    }
    assert!(hidden["ruleset"].get("path").is_none(), "{hidden}");
    assert!(hidden["lists"].get("location").is_none(), "{hidden}");
    assert_eq!(hidden["lists"]["source"], "file");
    assert!(
        hidden["last_load"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("<lists>:1:")),
        "the error still says what and where in the file: {hidden}"
    );

    // Open, nobody is an administrator.
    let open = Spawn::files(rules_dir(), rules_dir().join("demo-lists.jsonl")).start();
    let text = open.get("/v1/status").await.text().await.expect("body");
    assert!(!text.contains(&paths[1]), "{text}");
}
