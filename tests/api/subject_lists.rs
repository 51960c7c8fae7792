//! `POST /v1/subject-lists`: a bidder list as CSV (UTF-8, with a byte-order mark, or GB18030)
//! or as an Excel workbook, read into the subjects a batch takes; and every way such a file can
//! be wrong or hostile, answered with a problem and never a panic.

use std::io::Write;
use std::time::Duration;

use jiangcheng::http::Limits;
use jiangcheng::sheets::SheetLimits;
use serde_json::{json, Value};

use crate::helpers::{entry, error_fields, ok_json, problem, rid, uscc, Spawn, TestApp, AS_OF};

const CSV: &str = "text/csv";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const LISTED: &str = "91230200MA1B2C3D8T";

fn app() -> TestApp {
    Spawn::entries(&[entry("E-1", "court_dishonest_debtor", LISTED)]).start()
}

async fn read_list(app: &TestApp, body: Vec<u8>, content_type: &str) -> Value {
    let response = app
        .post_raw("/v1/subject-lists", body, Some(content_type))
        .await;
    ok_json(response, "POST /v1/subject-lists").await
}

/// The three bidders of a tender: the listed company, a clean one, and one whose identifier is
/// a character short (which the batch, not the list, refuses).
fn bidders() -> [(String, &'static str); 3] {
    let mut short = uscc("91", 2);
    short.pop();
    [
        (LISTED.to_owned(), "齐齐哈尔某某商贸有限公司"),
        (uscc("91", 1), "黑龙江某某建设工程有限公司"),
        (short, "某某科技有限公司"),
    ]
}

/// The CSV of `bidders` with Chinese headers, an empty line and a line of empty cells.
fn bidders_csv() -> String {
    let [first, second, third] = bidders();
    format!(
        "序号,投标人名称,统一社会信用代码\r\n1,{},{}\r\n\r\n2,{}, {} \r\n,,\r\n3,{},{}\r\n",
        first.1, first.0, second.1, second.0, third.1, third.0
    )
}

/// Asserts the answer for `bidders_csv`, then posts its subjects as a batch, whose items
/// decide the three bidders.
async fn assert_bidders_read(app: &TestApp, list: &Value, format: &str) {
    let bidders = bidders();
    let ids: Vec<Value> = bidders.iter().map(|(id, _)| json!({"id": id})).collect();
    assert_eq!(list["subjects"], json!(ids), "{list}");
    assert_eq!(list["rows"], json!([2, 4, 6]), "{list}");
    let names: Vec<&str> = bidders.iter().map(|(_, name)| *name).collect();
    assert_eq!(list["names"], json!(names), "{list}");
    assert_eq!(list["problems"], json!([]), "{list}");
    assert_eq!(list["format"], format, "{list}");
    let batch = json!({"matter": "gov_procurement", "as_of": AS_OF, "subjects": list["subjects"]});
    let decided = ok_json(
        app.post_batch(&batch).await,
        "the list's subjects as a batch",
    )
    .await;
    let results = decided["results"].as_array().expect("results");
    assert_eq!(results[0]["decision"], "block", "{decided}");
    assert_eq!(results[1]["decision"], "allow", "{decided}");
    assert_eq!(
        results[2]["error"]["code"], "invalid_subject_id",
        "{decided}"
    );
}

#[actix_web::test]
async fn a_utf8_csv_list_gives_the_subjects_a_batch_decides() {
    let app = app();
    let list = read_list(&app, bidders_csv().into_bytes(), "text/csv; charset=utf-8").await;
    assert_bidders_read(&app, &list, "csv").await;
    assert_eq!(list["sheet"], Value::Null);
}

#[actix_web::test]
async fn a_csv_list_saved_with_a_byte_order_mark_is_read_the_same() {
    let app = app();
    let mut body = "\u{FEFF}".as_bytes().to_vec();
    body.extend(bidders_csv().into_bytes());
    let list = read_list(&app, body, CSV).await;
    assert_bidders_read(&app, &list, "csv").await;
}

#[actix_web::test]
async fn a_csv_list_in_gb18030_as_chinese_excel_writes_it_is_read_the_same() {
    let app = app();
    let csv = bidders_csv();
    let (body, _, unmappable) = encoding_rs::GB18030.encode(&csv);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&body).is_err(),
        "the test needs text that is not UTF-8"
    );
    let list = read_list(&app, body.into_owned(), CSV).await;
    assert_bidders_read(&app, &list, "csv").await;
}

/// A workbook as Excel users make them: a title row, Chinese headers, the bidders with a blank
/// row between them, and a last bidder whose identifier was typed as a number.
fn bidders_xlsx() -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("投标人").unwrap();
    sheet
        .write_string(0, 0, "2026年第3号招标 投标人名单")
        .unwrap();
    for (column, header) in ["序号", "投标人名称", " 统一社会信用代码 "]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, column as u16, *header).unwrap();
    }
    let rows = [2, 3, 5];
    for (i, (row, (id, name))) in rows.iter().zip(bidders()).enumerate() {
        sheet.write_number(*row, 0, i as f64 + 1.0).unwrap();
        sheet.write_string(*row, 1, name).unwrap();
        sheet.write_string(*row, 2, &id).unwrap();
    }
    sheet.write_number(6, 0, 4.0).unwrap();
    sheet.write_string(6, 1, "某某个体工商户").unwrap();
    sheet.write_number(6, 2, 230202198503121238.0).unwrap();
    workbook.save_to_buffer().unwrap()
}

#[actix_web::test]
async fn an_xlsx_list_with_chinese_headers_gives_the_subjects_and_a_number_id_is_a_problem() {
    let app = app();
    let list = read_list(&app, bidders_xlsx(), XLSX).await;
    assert_eq!(list["sheet"], "投标人", "{list}");
    assert_eq!(list["format"], "xlsx", "{list}");
    let problems = list["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{list}");
    assert_eq!(problems[0]["row"], 7, "{list}");
    assert_eq!(problems[0]["field"], "id", "{list}");
    let message = problems[0]["message"].as_str().expect("message");
    assert!(message.contains("number"), "{message}");
    assert!(
        !message.contains("2302"),
        "the number is not echoed: {message}"
    );
    // Excel's rows 3, 4 and 6 (the sheet's 2, 3 and 5 from 0).
    assert_eq!(list["rows"], json!([3, 4, 6]), "{list}");
    let mut rows_as_csv = list.clone();
    rows_as_csv["rows"] = json!([2, 4, 6]);
    rows_as_csv["problems"] = json!([]);
    assert_bidders_read(&app, &rows_as_csv, "xlsx").await;
}

#[actix_web::test]
async fn a_list_without_an_identifier_column_is_refused_naming_the_headers_it_takes() {
    let app = app();
    let response = app
        .post_raw(
            "/v1/subject-lists",
            "投标人名称,地址\n某某公司,齐齐哈尔\n",
            Some(CSV),
        )
        .await;
    let problem = problem(response, 422, "invalid_request", "no identifier column").await;
    assert_eq!(error_fields(&problem), ["header"]);
    let message = problem["errors"][0]["message"].as_str().expect("message");
    for accepted in ["统一社会信用代码", "身份证号码", "证照号码", "id"] {
        assert!(message.contains(accepted), "{message}");
    }
}

#[actix_web::test]
async fn a_list_of_another_media_type_gets_415() {
    let app = app();
    for content_type in [
        Some("application/json"),
        Some("text/plain"),
        Some("application/vnd.ms-excel"),
        None,
    ] {
        let response = app
            .post_raw("/v1/subject-lists", bidders_csv(), content_type)
            .await;
        let problem = problem(response, 415, "unsupported_media_type", "media type").await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("text/csv"), "{detail}");
    }
}

#[actix_web::test]
async fn a_list_longer_than_a_batch_gets_413_batch_too_large() {
    let app = Spawn::entries(&[entry("E-1", "court_dishonest_debtor", LISTED)])
        .limits(Limits {
            max_batch: 3,
            ..Limits::default()
        })
        .start();
    let fits = read_list(&app, bidders_csv().into_bytes(), CSV).await;
    assert_eq!(fits["rows"], json!([2, 4, 6]));
    let longer = format!("{}4,某某公司,{}\n", bidders_csv(), uscc("91", 4));
    let response = app.post_raw("/v1/subject-lists", longer, Some(CSV)).await;
    let problem = problem(response, 413, "batch_too_large", "four rows").await;
    let detail = problem["detail"].as_str().expect("detail");
    assert!(
        detail.contains("4 rows") && detail.contains('3'),
        "{detail}"
    );
}

/// A zip archive of one entry, `unzipped` bytes of zeros that deflate to a few kilobytes.
fn zipped_zeros(name: &str, unzipped: usize) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..unzipped / zeros.len() {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

/// Rewrites every size field of the only entry of `archive` (its local header and its central
/// directory record) to say it unzips to `declared` bytes.
fn lie_about_size(mut archive: Vec<u8>, declared: u32) -> Vec<u8> {
    let find = |archive: &[u8], signature: &[u8]| {
        archive
            .windows(4)
            .position(|window| window == signature)
            .expect("a zip record")
    };
    let local = find(&archive, b"PK\x03\x04");
    archive[local + 22..local + 26].copy_from_slice(&declared.to_le_bytes());
    let central = find(&archive, b"PK\x01\x02");
    archive[central + 24..central + 28].copy_from_slice(&declared.to_le_bytes());
    archive
}

#[actix_web::test]
async fn a_zip_bomb_is_refused_before_it_is_unzipped_whatever_its_entries_declare() {
    let limit = 4 << 20;
    let app = Spawn::entries(&[])
        .limits(Limits {
            sheets: SheetLimits {
                max_unzipped_bytes: limit,
                ..SheetLimits::default()
            },
            ..Limits::default()
        })
        .start();
    let bomb = zipped_zeros("xl/worksheets/sheet1.xml", 64 << 20);
    assert!(bomb.len() < 128 << 10, "a small file: {} bytes", bomb.len());
    let liar = lie_about_size(bomb.clone(), 100);
    for (what, body) in [("declared", bomb), ("declared small", liar)] {
        let response = app.post_raw("/v1/subject-lists", body, Some(XLSX)).await;
        let problem = problem(response, 413, "payload_too_large", what).await;
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains(&limit.to_string()), "{what}: {detail}");
    }
    // The service is unharmed, and a workbook within the limit is read.
    let list = read_list(&app, bidders_xlsx(), XLSX).await;
    assert_eq!(list["subjects"].as_array().map(Vec::len), Some(3));
}

#[actix_web::test]
async fn garbage_truncated_or_garbled_workbooks_get_422_and_never_a_panic() {
    let app = app();
    let workbook = bidders_xlsx();
    let mut garbled = workbook.clone();
    for byte in garbled.iter_mut().skip(200).step_by(97) {
        *byte ^= 0x5a;
    }
    let cases = [
        (
            "garbage",
            b"\x00\x01garbage, not a workbook \xff\xfe".to_vec(),
        ),
        ("a CSV sent as a workbook", bidders_csv().into_bytes()),
        ("truncated", workbook[..workbook.len() / 2].to_vec()),
        ("garbled", garbled),
        ("empty", Vec::new()),
    ];
    for (what, body) in cases {
        let response = app.post_raw("/v1/subject-lists", body, Some(XLSX)).await;
        let problem = problem(response, 422, "invalid_request", what).await;
        assert_eq!(error_fields(&problem), ["(body)"], "{what}: {problem}");
    }
    let not_text = app
        .post_raw(
            "/v1/subject-lists",
            vec![0xffu8, 0xff, 0xff, b'\n'],
            Some(CSV),
        )
        .await;
    let problem = problem(not_text, 422, "invalid_request", "not text").await;
    assert_eq!(error_fields(&problem), ["(body)"]);
    read_list(&app, workbook, XLSX).await;
}

#[actix_web::test]
/// A list too costly to read in time would be as costly again: it is refused, not to be retried.
async fn a_list_not_read_in_time_gets_422_naming_the_time_limit_and_no_retry_after() {
    let app = Spawn::entries(&[])
        .limits(Limits {
            sheets: SheetLimits {
                timeout: Duration::ZERO,
                ..SheetLimits::default()
            },
            ..Limits::default()
        })
        .start();
    let response = app
        .post_raw("/v1/subject-lists", bidders_csv(), Some(CSV))
        .await;
    assert!(response.headers().get("retry-after").is_none());
    let problem = problem(response, 422, "invalid_request", "no time to read").await;
    assert_eq!(error_fields(&problem), ["(body)"]);
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("--sheet-timeout-seconds"));
}

#[actix_web::test]
async fn reading_a_list_decides_nothing_and_leaves_no_register_record() {
    let app = app();
    let person = rid(4343);
    let list = format!("{}4,张某,{person}\n", bidders_csv());
    let read = read_list(&app, list.into_bytes(), CSV).await;
    assert_eq!(read["subjects"][3]["id"], person.as_str());
    let metrics = app.metrics().await;
    let counted: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("jiangcheng_decisions_total{") && !line.ends_with(" 0"))
        .collect();
    assert!(counted.is_empty(), "{counted:?}");
    // One decision after it: the register, which keeps records in order, then holds that one
    // decision's record and no other.
    crate::helpers::ok_json(
        app.post_decide(&json!({"subject": {"id": LISTED}, "matter": "gov_procurement"}))
            .await,
        "decide",
    )
    .await;
    crate::register::stored(&app, 1).await;
    let register = app.service.register().expect("the register is on").status();
    assert_eq!(register.stored, 1, "{register:?}");
    let (records, _) = crate::register::file_records(&app);
    assert!(!records.contains(&person), "{records}");
    assert!(!records.contains(&person[..14]), "{records}");
}
