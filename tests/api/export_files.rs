//! The cases export as Excel and WPS open it (docs/api.md, Export): a CSV export starts with a
//! UTF-8 byte-order mark unless `bom=false`, and its file name carries the period's dates.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_fields, problem, TestApp};
use crate::register::{app_with, stored, subjects};

/// Today and tomorrow in UTC+8, as dates.
fn today_and_tomorrow() -> (String, String) {
    let cst = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&cst).date_naive();
    let tomorrow = today.succ_opt().unwrap();
    (today.to_string(), tomorrow.to_string())
}

/// The body and `Content-Disposition` of an export.
async fn export(app: &TestApp, query: &str) -> (Vec<u8>, String) {
    let response = app.get(&format!("/v1/export/cases?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.bytes().await.unwrap().to_vec(), disposition)
}

#[actix_web::test]
async fn a_csv_export_starts_with_a_bom_unless_told_not_to_and_is_named_by_its_dates() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let body = json!({"subject": {"id": s.listed}, "matter": "gov_procurement",
                      "department": "市公共资源交易中心"});
    assert_eq!(app.post_decide(&body).await.status(), StatusCode::OK);
    stored(&app, 1).await;
    let (today, tomorrow) = today_and_tomorrow();
    let period = format!("from={today}&to={tomorrow}");

    let (with_bom, disposition) = export(&app, &format!("{period}&format=csv")).await;
    assert_eq!(
        disposition,
        format!("attachment; filename=\"jiangcheng-cases-{today}_{tomorrow}.csv\"")
    );
    let text = with_bom
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("a UTF-8 byte-order mark first");
    let text = std::str::from_utf8(text).unwrap();
    assert!(text.starts_with("data_id,decision_id,"), "{text}");
    assert!(text.contains("市公共资源交易中心"), "{text}");

    // The same rows (each export has its own data ids and export time) without the mark.
    let (without, _) = export(&app, &format!("{period}&format=csv&bom=false")).await;
    let without = String::from_utf8(without).unwrap();
    assert!(without.starts_with("data_id,decision_id,"), "{without}");
    assert_eq!(without.lines().count(), text.lines().count(), "{without}");
    let (with, _) = export(&app, &format!("{period}&format=csv&bom=true")).await;
    assert!(with.starts_with(b"\xEF\xBB\xBFdata_id,"));

    let (jsonl, disposition) = export(&app, &period).await;
    assert!(jsonl.starts_with(b"{"), "no mark on JSON Lines");
    assert_eq!(
        disposition,
        format!("attachment; filename=\"jiangcheng-cases-{today}_{tomorrow}.jsonl\"")
    );
    let (_, disposition) = export(
        &app,
        "from=2026-11-29T14:30:00%2B08:00&to=2026-11-30T06:00:00Z&format=csv",
    )
    .await;
    assert_eq!(
        disposition,
        "attachment; filename=\"jiangcheng-cases-2026-11-29T143000_2026-11-30T140000.csv\""
    );
}

#[actix_web::test]
async fn bom_is_true_or_false_and_only_for_a_csv_export() {
    let s = subjects();
    let app = app_with(&s, |spawn| spawn);
    let period = "from=2026-11-01&to=2026-12-01";
    for query in [
        format!("{period}&format=csv&bom=no"),
        format!("{period}&bom=false"),
        format!("{period}&format=jsonl&bom=true"),
    ] {
        let response = app.get(&format!("/v1/export/cases?{query}")).await;
        let refused = problem(response, 400, "invalid_request", &query).await;
        assert_eq!(error_fields(&refused), vec!["bom"], "{query}");
    }
    let response = app.get(&format!("/v1/stats?{period}&bom=false")).await;
    let refused = problem(response, 400, "invalid_request", "stats with bom").await;
    assert_eq!(error_fields(&refused), vec!["bom"]);
}
