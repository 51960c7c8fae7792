//! The monthly indicators, on fixtures whose figures were worked out by hand: list files and
//! register files for the figures of a file source and the register, Redis tombstones and
//! notes for those only Redis keeps.

use jiangcheng::keys::{new_key, Scope};
use jiangcheng::lists::source::DEFAULT_PREFIX;
use jiangcheng::timestamp::Timestamp;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{entry_with, error_fields, ok_json, problem, uscc, Spawn, TestApp};
use crate::redis::{redis_source, write, RedisServer};

const MONTH: &str = "2026-11";

/// A list entry of the fixture.
fn listed(id: &str, list: &str, subject: &str, from: &str, until: Option<&str>) -> Value {
    entry_with(
        id,
        list,
        subject,
        json!({"listed_on": from, "valid_until": until}),
    )
}

/// A UUIDv7 of an instant (RFC 3339), with `n` in its random bits.
fn id_at(at: &str, n: u64) -> uuid::Uuid {
    let ms = Timestamp::parse(at).expect("an instant").0 as u128;
    uuid::Uuid::from_u128((ms << 80) | (0x7 << 76) | (0b10 << 62) | u128::from(n))
}

/// A decision record of the register, asked at `at` (UTC+8) by `department`, that applied
/// `measures` (code, effect).
fn record(at: &str, n: u64, department: &str, measures: &[(&str, &str)], replay: bool) -> Value {
    let reasons: Vec<Value> = measures
        .iter()
        .map(|(measure, effect)| {
            json!({"topic": "court_dishonest_debtor", "measure": measure, "list": "court_dishonest_debtor",
                   "entry_id": "E", "effect": effect, "incentive": false})
        })
        .collect();
    let mut record = json!({
        "record_id": id_at(at, n), "kind": "decision", "time": at, "matter": "gov_procurement",
        "evaluated_at": at, "department": department,
        "subject": {"kind": "enterprise", "id_type": "uscc", "id": uscc("91", 900 + n), "hash": "00"},
        "decision": if measures.is_empty() { "allow" } else { "block" },
        "measures": measures.iter().map(|(m, _)| m).collect::<Vec<_>>(),
        "reasons": reasons,
        "ruleset": {"name": "qiqihar", "revision": "r"}, "lists_version": 1, "caller": null,
    });
    if replay {
        record["replay"] = json!(true);
    }
    record
}

/// A feedback record of the register.
fn feedback(decision: &Value, measure: &str, action: &str) -> Value {
    json!({"feedback_id": uuid::Uuid::now_v7(), "decision_id": decision["record_id"],
           "measure": measure, "action": action, "executing_department": "市财政局",
           "reason": "理由", "officer": "王某",
           "recorded_at": "2026-11-25T10:00:00.000+08:00", "caller": null})
}

/// Writes records into the hour files of a file register at `dir`, and feedback beside them.
fn write_register(dir: &std::path::Path, records: &[Value], feedback: &[Value]) {
    for record in records {
        let at = Timestamp::parse(record["time"].as_str().unwrap()).unwrap();
        let file = dir
            .join("records")
            .join(at.format_cst("%Y-%m-%d"))
            .join(at.format_cst("%H.jsonl"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(&file).unwrap_or_default();
        text += &format!("{record}\n");
        std::fs::write(&file, text).unwrap();
    }
    let text: String = feedback.iter().map(|f| format!("{f}\n")).collect();
    std::fs::write(dir.join("feedback.jsonl"), text).unwrap();
}

fn figure<'a>(answer: &'a Value, name: &str) -> &'a Value {
    let figure = &answer["figures"][name];
    assert_eq!(
        figure["definition"],
        format!("/docs/indicators.md#{name}"),
        "{name} names its definition"
    );
    figure
}

fn value<'a>(answer: &'a Value, name: &str) -> &'a Value {
    &figure(answer, name)["value"]
}

fn app_on(lists: &[Value], register: &std::path::Path, keys: &str) -> TestApp {
    let dir = register.to_path_buf();
    Spawn::entries(lists)
        .keys(keys, false)
        .register_settings(move |config| {
            config.dir = dir;
            // The fixture's records are from 2026-11, whenever the test runs.
            config.retention_days = 100_000;
        })
        .start()
}

#[actix_web::test]
async fn the_indicators_of_a_file_source_and_register_are_the_hand_computed_ones() {
    let e = |n: u64| uscc("91", n);
    // Month 2026-11: its last instant is 2026-11-30T23:59:59.999+08:00, and its 12 months
    // start on 2025-12-01.
    let lists = [
        // E1 on a serious list since before the 12 months, still: in force, neither new nor
        // exited. Also an A-grade taxpayer.
        listed("E1", "court_dishonest_debtor", &e(1), "2025-06-01", None),
        listed(
            "E1a",
            "tax_a_grade",
            &e(1),
            "2026-04-01",
            Some("2027-04-01"),
        ),
        // E2 listed within the 12 months, in force: in force and new.
        listed(
            "E2",
            "tax_major_violation",
            &e(2),
            "2026-03-01",
            Some("2029-03-01"),
        ),
        // E3 in force at the 12 months' start, expired 2026-05-01: exited.
        listed(
            "E3",
            "market_serious_violation",
            &e(3),
            "2024-01-01",
            Some("2026-05-01"),
        ),
        // E4 listed and expired within the 12 months: new and exited.
        listed(
            "E4",
            "court_dishonest_debtor",
            &e(4),
            "2026-02-01",
            Some("2026-08-01"),
        ),
        // E5 on a serious list before (2023-2025), again since 2026-07-01: in force; its first
        // listing is before the 12 months, so not new.
        listed(
            "E5a",
            "tax_major_violation",
            &e(5),
            "2023-01-01",
            Some("2025-01-01"),
        ),
        listed("E5b", "court_dishonest_debtor", &e(5), "2026-07-01", None),
        // E6 on a list that is not serious: in no figure.
        listed("E6", "tax_d_grade", &e(6), "2026-01-01", None),
        // E7 listed after the month: in no figure.
        listed("E7", "court_dishonest_debtor", &e(7), "2026-12-15", None),
        // E8 repaired at a time the file does not say: left out.
        entry_with(
            "E8",
            "market_serious_violation",
            &e(8),
            json!({"listed_on": "2025-03-01", "status": "repaired"}),
        ),
        // E9 valid until 2026-12-01 (exclusive): in force at the month's last instant, and new.
        listed(
            "E9",
            "court_dishonest_debtor",
            &e(9),
            "2026-10-01",
            Some("2026-12-01"),
        ),
        // An individual business (92) is no enterprise, on either list.
        listed(
            "I1",
            "court_dishonest_debtor",
            &uscc("92", 10),
            "2026-03-01",
            None,
        ),
        listed("I2", "tax_a_grade", &uscc("92", 10), "2026-04-01", None),
        // A-grade: E12 in force, E11 expired before the month's end.
        listed(
            "E11",
            "tax_a_grade",
            &e(11),
            "2025-04-01",
            Some("2026-04-01"),
        ),
        listed("E12", "tax_a_grade", &e(12), "2026-04-01", None),
        // Public bodies: an organ (11) and a public institution (12) in force, a mass
        // organisation (13) expired, an organ on a list that is not serious.
        listed(
            "O1",
            "court_dishonest_debtor",
            &uscc("11", 21),
            "2026-01-01",
            None,
        ),
        listed(
            "O2",
            "tax_major_violation",
            &uscc("12", 22),
            "2025-01-01",
            Some("2027-01-01"),
        ),
        listed(
            "O3",
            "court_dishonest_debtor",
            &uscc("13", 23),
            "2026-01-01",
            Some("2026-06-01"),
        ),
        listed("O4", "tax_d_grade", &uscc("11", 24), "2026-01-01", None),
    ];
    // serious_enterprises = {E1, E2, E5, E9} = 4; new = {E2, E4, E9} = 3; exited = {E3, E4} = 2;
    // a_grade_taxpayers = {E1, E12} = 2; public bodies = {O1: state_organ, O2:
    // public_institution} = 2; left out: E8.

    const BAN: (&str, &str) = ("court_procurement_ban", "block");
    const LOAN: (&str, &str) = ("credit_loan_reference", "inform");
    const PROJECTS: (&str, &str) = ("court_gov_project_restriction", "block");
    const SUPERVISION: (&str, &str) = ("key_supervision", "flag");
    let (finance, housing) = ("市财政局", "市住房和城乡建设局");
    let r1 = record(
        "2026-11-10T10:00:00.000+08:00",
        1,
        finance,
        &[BAN, LOAN],
        false,
    );
    let r2 = record("2026-11-12T10:00:00.000+08:00", 2, finance, &[BAN], false);
    let r3 = record(
        "2026-11-20T10:00:00.000+08:00",
        3,
        housing,
        &[PROJECTS, SUPERVISION],
        false,
    );
    let r4 = record("2026-11-21T10:00:00.000+08:00", 4, housing, &[BAN], true);
    let r5 = record("2026-10-31T23:00:00.000+08:00", 5, finance, &[BAN], false);
    let r6 = record("2026-11-15T10:00:00.000+08:00", 6, finance, &[], false);
    let r7 = record("2026-11-16T10:00:00.000+08:00", 7, finance, &[LOAN], false);
    let reports = [
        feedback(&r1, BAN.0, "applied"),
        feedback(&r3, PROJECTS.0, "overridden"),
        feedback(&r3, SUPERVISION.0, "not_applicable"),
        feedback(&r4, BAN.0, "applied"),
        feedback(&r5, BAN.0, "applied"),
    ];
    // Cases needing feedback in the month (not inform, no replay, asked in 2026-11):
    // 市财政局 r1's ban (reported), r2's ban (not) = 2, 1 with feedback; 市住房和城乡建设局 r3's two
    // (both reported) = 2, 2. r4 is a replay, r5 of October, r6 applied nothing, r7 only informs.
    // substantive_cases = 3 (applied 1, overridden 1, not_applicable 1); feedback_rate = 3 / 4.
    let register = tempfile::tempdir().unwrap();
    write_register(register.path(), &[r1, r2, r3, r4, r5, r6, r7], &reports);

    let export = new_key("市信用中心", &[Scope::Export], None);
    let admin = new_key("市信用中心", &[Scope::Admin], None);
    let keys = format!("{}{}", export.config, admin.config);
    let app = app_on(&lists, register.path(), &keys);
    let get = |query: String| {
        let app = &app;
        let token = export.token.clone();
        async move {
            app.client
                .get(app.url(&format!("/v1/indicators?{query}")))
                .bearer_auth(token)
                .send()
                .await
                .expect("GET")
        }
    };

    let answer = ok_json(get(format!("month={MONTH}")).await, "indicators").await;
    assert_eq!(answer["month"], MONTH);
    assert_eq!(answer["from"], "2026-11-01T00:00:00.000+08:00");
    assert_eq!(answer["to"], "2026-12-01T00:00:00.000+08:00");
    assert_eq!(answer["window_from"], "2025-12-01T00:00:00.000+08:00");
    assert_eq!(answer["complete"], true);
    assert_eq!(value(&answer, "serious_enterprises"), 4);
    assert_eq!(value(&answer, "serious_enterprises_new"), 3);
    assert_eq!(value(&answer, "serious_enterprises_exited"), 2);
    assert_eq!(value(&answer, "a_grade_taxpayers"), 2);
    assert_eq!(answer["left_out"]["entries_ended_at_unknown_time"], 1);
    let bodies = figure(&answer, "public_bodies_on_serious_lists");
    assert_eq!(bodies["value"], 2);
    assert_eq!(
        bodies["parts"],
        json!({"state_organ": 1, "public_institution": 1, "mass_organization": 0})
    );
    let cases = figure(&answer, "substantive_cases");
    assert_eq!(cases["value"], 3);
    assert_eq!(
        cases["parts"],
        json!({"applied": 1, "overridden": 1, "not_applicable": 1})
    );
    let rate = figure(&answer, "feedback_rate");
    assert_eq!(rate["value"], 0.75);
    assert_eq!(
        rate["parts"],
        json!({finance: {"needing_feedback": 2, "with_feedback": 1, "rate": 0.5},
               housing: {"needing_feedback": 2, "with_feedback": 2, "rate": 1.0}})
    );
    // A file keeps no history of objections and repairs: those figures say so.
    for name in [
        "objections_answered",
        "objections_answered_in_time",
        "objections_in_time_rate",
        "objections_overdue_at_month_end",
        "repairs",
    ] {
        let figure = figure(&answer, name);
        assert_eq!(figure["value"], Value::Null, "{name}");
        assert!(
            figure["reason"].as_str().unwrap().contains("file"),
            "{name}"
        );
    }
    // No count of active enterprises yet: no share, and why.
    for name in ["active_enterprises", "a_grade_share"] {
        let figure = figure(&answer, name);
        assert_eq!(figure["value"], Value::Null, "{name}");
        assert!(
            figure["reason"].as_str().unwrap().contains("uploaded"),
            "{name}"
        );
    }

    // The substantive export gives the same cases as the figure.
    let exported = app
        .client
        .get(app.url("/v1/export/cases?from=2026-11-01&to=2026-12-01&substantive=true"))
        .bearer_auth(&export.token)
        .send()
        .await
        .expect("export");
    assert_eq!(exported.status(), StatusCode::OK);
    assert_eq!(exported.text().await.unwrap().lines().count(), 3);

    // The count of active enterprises: admin only, checked, stored, and the share follows.
    let put = |key: &str, body: Value| {
        let app = &app;
        let key = key.to_owned();
        async move {
            app.client
                .put(app.url("/v1/indicators/active-enterprises"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("PUT")
        }
    };
    let count = json!({"month": MONTH, "count": 40});
    assert_eq!(put(&export.token, count.clone()).await.status(), 403);
    for (body, status, field) in [
        (json!({"month": MONTH, "count": -1}), 400, "count"),
        (json!({"month": MONTH, "count": 1.5}), 400, "count"),
        (json!({"month": MONTH}), 400, "count"),
        (
            json!({"month": MONTH, "count": 4, "city": "鹤岗"}),
            400,
            "city",
        ),
        (json!({"month": "2026-13", "count": 4}), 422, "month"),
        (json!({"month": "2999-01", "count": 4}), 422, "month"),
    ] {
        let refused = put(&admin.token, body.clone()).await;
        assert_eq!(refused.status().as_u16(), status, "{body}");
        let refused: Value = refused.json().await.unwrap();
        assert_eq!(error_fields(&refused), [field], "{body}");
    }
    let stored = ok_json(put(&admin.token, count).await, "upload").await;
    assert_eq!(stored["count"], 40);
    assert_eq!(stored["month"], MONTH);
    let answer = ok_json(get(format!("month={MONTH}")).await, "indicators").await;
    assert_eq!(value(&answer, "active_enterprises"), 40);
    // 2 A-grade taxpayers of 40 active enterprises.
    assert_eq!(value(&answer, "a_grade_share"), 0.05);

    let csv = get(format!("month={MONTH}&format=csv&bom=false")).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(
        csv.headers()["content-disposition"],
        "attachment; filename=\"jiangcheng-indicators-2026-11.csv\""
    );
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("month,figure,part,value,reason,definition")
    );
    for row in [
        "2026-11,serious_enterprises,,4,,/docs/indicators.md#serious_enterprises",
        "2026-11,a_grade_share,,0.05,,/docs/indicators.md#a_grade_share",
        "2026-11,feedback_rate,市财政局.rate,0.5,,/docs/indicators.md#feedback_rate",
        "2026-11,public_bodies_on_serious_lists,state_organ,1,,/docs/indicators.md#public_bodies_on_serious_lists",
    ] {
        assert!(text.lines().any(|line| line == row), "{row} in\n{text}");
    }

    for (query, status, field) in [
        ("", 422, "month"),
        ("month=2026-13", 422, "month"),
        ("month=26-11", 422, "month"),
        ("month=2999-01", 422, "month"),
        ("month=2026-11&format=xml", 400, "format"),
        ("month=2026-11&bom=false", 400, "bom"),
    ] {
        let response = get(query.to_owned()).await;
        let code = if status == 422 {
            "invalid_month"
        } else {
            "invalid_request"
        };
        let refused = problem(response, status, code, query).await;
        assert_eq!(error_fields(&refused), [field], "{query}");
    }

    // The count survives a restart.
    drop(app);
    let again = app_on(&lists, register.path(), &keys);
    let answer = again
        .client
        .get(again.url(&format!("/v1/indicators?month={MONTH}")))
        .bearer_auth(&export.token)
        .send()
        .await
        .expect("GET");
    let answer = ok_json(answer, "indicators after a restart").await;
    assert_eq!(value(&answer, "active_enterprises"), 40);
}

/// A dispute or repair note as the list source writes it.
fn note(dispute: Option<&str>, at: &str) -> String {
    match dispute {
        Some(dispute) => {
            json!({"dispute": dispute, "by": "市信用中心", "reason": "核查", "at": at})
        }
        None => json!({"document": "修复决定书", "by": "市信用中心", "at": at}),
    }
    .to_string()
}

#[actix_web::test]
async fn removals_repairs_and_objections_kept_in_redis_give_the_hand_computed_indicators() {
    let redis = RedisServer::start();
    let e = |n: u64| uscc("91", 100 + n);
    let on = |id: &str, n: u64, from: &str, fields: Value| {
        let mut entry = entry_with(
            id,
            "market_serious_violation",
            &e(n),
            json!({"listed_on": from}),
        );
        for (key, value) in fields.as_object().unwrap() {
            entry[key] = value.clone();
        }
        entry
    };
    // Current entries (the month is 2026-11, its 12 months start 2025-12-01):
    // A1 in force since 2025, repaired 2026-11-12: exited; a repair of the month.
    // A2 listed 2026-01-15, objection upheld 2026-11-06: new and exited; answered in time
    //    (under review Monday 11-02 09:00, answered Friday 11-06: 4 working days).
    // A3 in force since 2024, objection rejected 11-17 after review from Tuesday 11-03: in
    //    force; answered, late (11-17 less 5 working days is 11-10).
    // A4 listed 2026-09-01, under review since Friday 11-20: in force and new; at the month's
    //    last instant (Monday 11-30) 5 working days back is 11-23, so overdue.
    // A5 in force since 2020, under review since Friday 11-27: in force; not overdue.
    // A6 listed 2026-03-01, repaired 2026-10-20: new and exited; its repair is October's.
    // A7 repaired with no note of when: left out.
    let current = [
        on("A1", 1, "2025-05-01", json!({"status": "repaired"})),
        on("A2", 2, "2026-01-15", json!({"dispute": "upheld"})),
        on("A3", 3, "2024-06-01", json!({"dispute": "rejected"})),
        on("A4", 4, "2026-09-01", json!({"dispute": "under_review"})),
        on("A5", 5, "2020-01-01", json!({"dispute": "under_review"})),
        on("A6", 6, "2026-03-01", json!({"status": "repaired"})),
        on("A7", 7, "2025-01-01", json!({"status": "repaired"})),
    ];
    write(&redis, &current);
    // Removed entries (tombstones):
    // T1 in force since 2025-01-01, removed 2026-03-10: exited.
    // T2 listed 2026-02-01, removed 2026-12-05 (after the month): in force and new.
    // T3 listed 2026-05-01, removed 2026-06-01: new and exited.
    let tombstones = [
        ("T1", 11, "2025-01-01", "2026-03-10T10:00:00.000+08:00"),
        ("T2", 12, "2026-02-01", "2026-12-05T10:00:00.000+08:00"),
        ("T3", 13, "2026-05-01", "2026-06-01T10:00:00.000+08:00"),
    ];
    // serious_enterprises = {A3, A4, A5, T2} = 4; new = {A2, A4, A6, T2, T3} = 5;
    // exited = {A1, A2, A6, T1, T3} = 5; objections answered 2, in time 1, rate 0.5, overdue
    // at the month's end 1; repairs 1; left out 1 (A7).
    let mut con = redis.connection();
    let key = |name: &str| format!("{DEFAULT_PREFIX}{name}");
    for (id, n, from, removed_at) in tombstones {
        let entry = on(id, n, from, json!({}));
        let tomb = json!({"entry": entry, "removed_by": "市信用中心", "reason": "撤销", "removed_at": removed_at});
        redis::cmd("HSET")
            .arg(key("tombstones"))
            .arg(id)
            .arg(tomb.to_string())
            .query::<()>(&mut con)
            .unwrap();
    }
    let notes: [(&str, &str, Vec<String>); 7] = [
        (
            "repairs",
            "A1",
            vec![note(None, "2026-11-12T10:00:00.000+08:00")],
        ),
        (
            "repairs",
            "A6",
            vec![note(None, "2026-10-20T10:00:00.000+08:00")],
        ),
        (
            "disputes",
            "A2",
            vec![
                note(Some("under_review"), "2026-11-02T09:00:00.000+08:00"),
                note(Some("upheld"), "2026-11-06T17:00:00.000+08:00"),
            ],
        ),
        (
            "disputes",
            "A3",
            vec![
                note(Some("under_review"), "2026-11-03T10:00:00.000+08:00"),
                note(Some("rejected"), "2026-11-17T10:00:00.000+08:00"),
            ],
        ),
        (
            "disputes",
            "A4",
            vec![note(Some("under_review"), "2026-11-20T10:00:00.000+08:00")],
        ),
        (
            "disputes",
            "A5",
            vec![note(Some("under_review"), "2026-11-27T10:00:00.000+08:00")],
        ),
        // A withdrawn objection of October: neither answered nor open.
        (
            "disputes",
            "A1",
            vec![
                note(Some("under_review"), "2026-10-05T10:00:00.000+08:00"),
                note(Some("none"), "2026-10-06T10:00:00.000+08:00"),
            ],
        ),
    ];
    for (hash, id, notes) in notes {
        let latest = notes.last().unwrap();
        redis::cmd("HSET")
            .arg(key(hash))
            .arg(id)
            .arg(latest)
            .query::<()>(&mut con)
            .unwrap();
        redis::cmd("RPUSH")
            .arg(key(&format!("{hash}:{id}")))
            .arg(&notes)
            .query::<()>(&mut con)
            .unwrap();
    }

    let app = Spawn::source(crate::helpers::rules_dir(), redis_source(&redis)).start();
    let answer = app.get_json(&format!("/v1/indicators?month={MONTH}")).await;
    assert_eq!(value(&answer, "serious_enterprises"), 4);
    assert_eq!(value(&answer, "serious_enterprises_new"), 5);
    assert_eq!(value(&answer, "serious_enterprises_exited"), 5);
    assert_eq!(value(&answer, "objections_answered"), 2);
    assert_eq!(value(&answer, "objections_answered_in_time"), 1);
    assert_eq!(value(&answer, "objections_in_time_rate"), 0.5);
    assert_eq!(value(&answer, "objections_overdue_at_month_end"), 1);
    assert_eq!(value(&answer, "repairs"), 1);
    assert_eq!(answer["left_out"]["entries_ended_at_unknown_time"], 1);
    assert_eq!(answer["left_out"]["unreadable_tombstones"], 0);
}
