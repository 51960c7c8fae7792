//! The catalogue and operations endpoints: `/v1/matters`, `/v1/topics`, `/v1/lists`,
//! `/v1/status`, `/healthz`, `/readyz`, `/metrics`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{entry, entry_with, rid, spawn_app, uscc, AS_OF, AS_OF_QUERY};

/// rulesets/qiqihar/lists.toml: the 47 list codes of the shipped rule set, ✱ (serious) marked `true`.
pub const LISTS: [(&str, bool); 47] = [
    ("tax_a_grade", false),
    ("customs_aeo_advanced", false),
    ("transport_construction_model", false),
    ("social_org_a_rating", false),
    ("labor_integrity_a", false),
    ("contract_honoring", false),
    ("model_volunteer", false),
    ("personal_credit_score", false),
    ("court_dishonest_debtor", true),
    ("court_consumption_restricted", false),
    ("tax_major_violation", true),
    ("tax_d_grade", false),
    ("gov_procurement_violation", true),
    ("market_serious_violation", true),
    ("market_abnormal_operation", false),
    ("wage_arrears", true),
    ("work_safety_violation", true),
    ("environmental_violation", true),
    ("food_safety_violation", true),
    ("drug_safety_violation", true),
    ("statistics_fraud", true),
    ("customs_dishonest", true),
    ("financial_dishonest", true),
    ("securities_violation", true),
    ("overload_transport", true),
    ("logistics_dishonest", false),
    ("construction_market_blacklist", true),
    ("highway_construction_dishonest", false),
    ("public_resource_trading_violation", true),
    // Serious since it holds only bidders a penalty decision disqualifies, so that it can block.
    ("bidding_violation", true),
    ("social_insurance_fraud", true),
    ("medical_insurance_fraud", true),
    ("ip_serious_dishonest", true),
    ("research_misconduct", true),
    ("culture_tourism_dishonest", true),
    ("housekeeping_dishonest", false),
    ("ecommerce_fake_credit", false),
    ("quality_violation", false),
    ("power_industry_dishonest", false),
    ("oil_gas_dishonest", false),
    ("real_estate_dishonest", false),
    ("foreign_economic_dishonest", false),
    ("marriage_registration_dishonest", false),
    ("medical_order_disruption", false),
    ("social_org_serious_violation", true),
    ("fiscal_fund_dishonest", false),
    ("rail_air_restricted", true),
];

/// rulesets/qiqihar/matters.toml: the matter codes the shipped rule set must have.
pub const MATTERS: [&str; 25] = [
    "gov_procurement",
    "construction_bidding",
    "public_resource_trading",
    "fiscal_subsidy",
    "land_supply",
    "franchise",
    "bond_issuance",
    "admin_license_general",
    "admin_license_safety",
    "business_registration",
    "legal_rep_appointment",
    "honors_awards",
    "civil_service_recruitment",
    "qualification_certification",
    "tax_service",
    "customs_clearance",
    "credit_loan",
    "supervision_inspection",
    "air_rail_ticket",
    "high_consumption",
    "social_insurance_service",
    "construction_permit",
    "transport_operation_permit",
    "research_funding",
    "basic_public_service",
];

fn codes(items: &Value) -> BTreeSet<String> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["code"].as_str().expect("code").to_owned())
        .collect()
}

#[actix_web::test]
async fn matters_lists_every_matter_of_the_design_with_its_measure_count() {
    let app = spawn_app(&[]);
    let body = app.get_json("/v1/matters").await;
    assert_eq!(body["ruleset"]["name"], "qiqihar");
    assert!(body["ruleset"]["revision"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let matters = body["matters"].as_array().expect("matters");
    assert_eq!(body["count"], matters.len());
    let found = codes(&body["matters"]);
    for code in MATTERS {
        assert!(
            found.contains(code),
            "matter `{code}` missing from /v1/matters"
        );
    }
    for matter in matters {
        for field in ["code", "name", "department"] {
            assert!(
                matter[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} of {matter}"
            );
        }
        assert!(matter["basic_public_service"].is_boolean(), "{matter}");
        assert!(matter["measures"].is_u64(), "measures count of {matter}");
    }
    let by_code = |code: &str| {
        matters
            .iter()
            .find(|m| m["code"] == code)
            .expect("matter")
            .clone()
    };
    assert_eq!(
        by_code("basic_public_service")["basic_public_service"],
        true
    );
    assert_eq!(by_code("gov_procurement")["basic_public_service"], false);
    assert_eq!(
        by_code("basic_public_service")["measures"],
        0,
        "no measure applies in basic public services"
    );
    assert!(
        by_code("gov_procurement")["measures"].as_u64().unwrap_or(0) >= 5,
        "procurement has many measures"
    );
}

#[actix_web::test]
async fn topics_has_8_incentive_and_39_penalty_topics() {
    let app = spawn_app(&[]);
    let body = app.get_json("/v1/topics").await;
    assert_eq!(body["incentive"], 8);
    assert_eq!(body["penalty"], 39);
    assert_eq!(body["count"], 47);
    let topics = body["topics"].as_array().expect("topics");
    assert_eq!(topics.len(), 47);
    let incentive = topics.iter().filter(|t| t["kind"] == "incentive").count();
    let penalty = topics.iter().filter(|t| t["kind"] == "penalty").count();
    assert_eq!((incentive, penalty), (8, 39));
    let list_codes: BTreeSet<String> = LISTS.iter().map(|(c, _)| (*c).to_owned()).collect();
    assert_eq!(
        codes(&body["topics"]),
        list_codes,
        "one topic per list, same code"
    );
    for topic in topics {
        let measures = topic["measures"].as_array().expect("measures");
        let details = topic["measure_details"]
            .as_array()
            .expect("measure_details");
        assert!(!measures.is_empty(), "{}", topic["code"]);
        assert_eq!(
            measures.len(),
            details.len(),
            "every measure of {} is detailed",
            topic["code"]
        );
        for detail in details {
            let effect = detail["effect"].as_str().expect("effect");
            match topic["kind"].as_str() {
                Some("incentive") => {
                    assert_eq!(effect, "reward", "{}: {}", topic["code"], detail["code"])
                }
                _ => assert_ne!(effect, "reward", "{}: {}", topic["code"], detail["code"]),
            }
            assert!(detail["legal_basis"]
                .as_str()
                .is_some_and(|s| !s.is_empty()));
            assert!(detail["matters"].as_array().is_some_and(|m| !m.is_empty()));
        }
        assert!(topic["lists"].as_array().is_some_and(|l| !l.is_empty()));
    }
    let debtor = topics
        .iter()
        .find(|t| t["code"] == "court_dishonest_debtor")
        .expect("topic");
    assert!(
        debtor["responsible_person_roles"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("legal_rep"))),
        "{debtor}"
    );
}

#[actix_web::test]
async fn lists_has_the_47_lists_with_entry_counts() {
    let mut entries = vec![
        entry("L-1", "court_dishonest_debtor", &uscc("91", 1)),
        entry("L-2", "court_dishonest_debtor", &uscc("91", 2)),
        entry_with(
            "L-3",
            "court_dishonest_debtor",
            &uscc("91", 3),
            json!({"status": "removed"}),
        ),
        entry("L-4", "tax_a_grade", &uscc("91", 1)),
        entry_with(
            "L-5",
            "personal_credit_score",
            &rid(1),
            json!({"score": 720}),
        ),
    ];
    entries.push(entry("L-6", "rail_air_restricted", &rid(2)));
    let app = spawn_app(&entries);
    let body = app.get_json("/v1/lists").await;
    assert_eq!(body["count"], 47);
    assert_eq!(body["lists_version"], 1);
    let lists = body["lists"].as_array().expect("lists");
    assert_eq!(lists.len(), 47);
    for (code, serious) in LISTS {
        let list = lists
            .iter()
            .find(|l| l["code"] == code)
            .unwrap_or_else(|| panic!("list `{code}` missing"));
        assert_eq!(list["serious"], serious, "serious flag of `{code}`");
        assert!(list["name"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            ["red", "black", "watch", "grey", "court_order"]
                .contains(&list["kind"].as_str().unwrap_or_default()),
            "{list}"
        );
        // Only a court order names the matters it binds, the only ones it may block in.
        if code == "court_consumption_restricted" {
            assert_eq!(list["kind"], "court_order", "{list}");
            assert_eq!(
                list["order_matters"],
                json!(["air_rail_ticket", "high_consumption"]),
                "{list}"
            );
        } else {
            assert!(list.get("order_matters").is_none(), "{list}");
        }
        let expected = match code {
            "court_dishonest_debtor" => 3,
            "tax_a_grade" | "personal_credit_score" | "rail_air_restricted" => 1,
            _ => 0,
        };
        assert_eq!(
            list["entries"], expected,
            "entry count of `{code}` (entries held, in force or not)"
        );
        assert_eq!(list["topics"], json!([code]), "`{code}` triggers its topic");
    }
    let red = lists.iter().filter(|l| l["kind"] == "red").count();
    assert_eq!(red, 8, "8 incentive (red) lists");
    assert_eq!(
        lists
            .iter()
            .find(|l| l["code"] == "personal_credit_score")
            .expect("list")["scored"],
        true
    );
}

#[actix_web::test]
async fn status_reports_the_rule_set_the_lists_and_the_last_load() {
    let app = spawn_app(&[
        entry("S-1", "court_dishonest_debtor", &uscc("91", 1)),
        entry("S-2", "tax_a_grade", &uscc("91", 1)),
    ]);
    let status = app.status().await;
    assert_eq!(status["service"], "jiangcheng");
    assert_eq!(status["ready"], true);
    assert!(
        crate::helpers::is_rfc3339_plus8(status["started_at"].as_str().unwrap_or_default()),
        "{status}"
    );
    let ruleset = &status["ruleset"];
    assert_eq!(ruleset["name"], "qiqihar");
    assert_eq!(ruleset["incentive_topics"], 8);
    assert_eq!(ruleset["penalty_topics"], 39);
    assert_eq!(ruleset["lists"], 47);
    assert!(ruleset["matters"].as_u64().unwrap_or(0) >= 25);
    let decision = app.decide(&uscc("91", 1), "gov_procurement", AS_OF).await;
    assert_eq!(
        ruleset["revision"], decision["ruleset"]["revision"],
        "status and decisions name the same revision"
    );
    let lists = &status["lists"];
    assert_eq!(lists["source"], "file");
    assert_eq!(lists["version"], 1);
    assert_eq!(lists["entries"], 2);
    assert_eq!(lists["subjects"], 1);
    assert_eq!(lists["stale"], false);
    assert_eq!(lists["per_list"]["court_dishonest_debtor"], 1);
    assert_eq!(lists["per_list"]["wage_arrears"], 0);
    assert_eq!(lists["per_list"].as_object().map(|o| o.len()), Some(47));
    assert!(crate::helpers::is_rfc3339_plus8(
        lists["loaded_at"].as_str().unwrap_or_default()
    ));
    let load = &status["last_load"];
    assert_eq!(load["attempts"], 1);
    assert_eq!(load["failures"], 0);
    assert!(load["last_error"].is_null());
    assert!(
        crate::helpers::is_rfc3339_plus8(load["last_success"].as_str().unwrap_or_default()),
        "{load}"
    );
}

#[actix_web::test]
async fn healthz_and_readyz_answer_200_once_loaded() {
    let app = spawn_app(&[]);
    assert_eq!(app.get_json("/healthz").await["status"], "live");
    assert_eq!(app.get_json("/readyz").await["status"], "ready");
}

/// The value of the sample of `name` whose labels include all of `labels`.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let rest = series.strip_prefix(name)?;
            if !(rest.is_empty() || rest.starts_with('{')) {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok()).flatten()
        })
}

#[actix_web::test]
async fn metrics_count_decisions_and_requests_by_template_and_never_name_a_subject() {
    let company = "91230200MA1B2C3D8T";
    let person = rid(77);
    let app = spawn_app(&[entry_with(
        "M-1",
        "court_dishonest_debtor",
        company,
        json!({"responsible_persons": [{"role": "legal_rep", "id": person}]}),
    )]);
    // Before any decision: no decision sample, but the reload is counted.
    let before = app.metrics().await;
    assert_eq!(
        sample(
            &before,
            "jiangcheng_reloads_total",
            &[("result", "success")]
        ),
        Some(1.0),
        "{before}"
    );
    assert_eq!(sample(&before, "jiangcheng_lists_version", &[]), Some(1.0));

    assert_eq!(
        app.decide(company, "gov_procurement", AS_OF).await["decision"],
        "block"
    );
    assert_eq!(
        app.decide(&person, "high_consumption", AS_OF).await["decision"],
        "block"
    );
    assert_eq!(
        app.decide(&person, "gov_procurement", AS_OF).await["decision"],
        "allow"
    );
    let batch = json!({"matter": "gov_procurement", "subjects": [{"id": company}, {"id": person}, {"id": "bad"}], "as_of": AS_OF});
    assert_eq!(app.post_batch(&batch).await.status(), 200);
    for path in [
        format!("/v1/subjects/{company}"),
        format!("/v1/subjects/{person}"),
        format!("/v1/subjects/{person}?as_of={AS_OF_QUERY}"),
    ] {
        assert_eq!(app.get(&path).await.status(), 200, "{path}");
    }
    // Errors that carry the identifiers in the path or body.
    assert_eq!(
        app.get(&format!("/v1/subjects/{person}/history"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.client
            .delete(app.url(&format!("/v1/subjects/{company}")))
            .send()
            .await
            .expect("DELETE")
            .status(),
        405
    );
    let unknown = json!({"subject": {"id": person}, "matter": "no_such_matter"});
    assert_eq!(app.post_decide(&unknown).await.status(), 422);

    let metrics = app.metrics().await;
    let blocks = sample(
        &metrics,
        "jiangcheng_decisions_total",
        &[("decision", "block"), ("matter", "gov_procurement")],
    );
    assert_eq!(
        blocks,
        Some(2.0),
        "one single and one batch block in gov_procurement:\n{metrics}"
    );
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("jiangcheng_decisions_total{")
                && l.contains("gov_procurement")
                && l.contains("block")
        })
        .expect("decision line");
    assert!(
        line.starts_with(
            r#"jiangcheng_decisions_total{decision="block",matter="gov_procurement"}"#
        ),
        "{line}"
    );
    assert_eq!(
        sample(
            &metrics,
            "jiangcheng_decisions_total",
            &[("decision", "allow"), ("matter", "gov_procurement")]
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "jiangcheng_decisions_total",
            &[("decision", "block"), ("matter", "high_consumption")]
        ),
        Some(1.0)
    );
    let profile_requests = sample(
        &metrics,
        "jiangcheng_http_requests_total",
        &[
            ("route", "/v1/subjects/{id}"),
            ("method", "GET"),
            ("status", "200"),
        ],
    );
    assert_eq!(
        profile_requests,
        Some(3.0),
        "requests counted by route template:\n{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "jiangcheng_http_requests_total",
            &[
                ("route", "/v1/decide"),
                ("method", "POST"),
                ("status", "200")
            ]
        ),
        Some(3.0)
    );
    assert!(sample(
        &metrics,
        "jiangcheng_http_requests_total",
        &[("route", "/v1/decide"), ("status", "422")]
    )
    .is_some());
    assert!(
        metrics.contains("jiangcheng_http_request_duration_seconds_bucket"),
        "latency histogram"
    );
    assert!(
        metrics.contains("# TYPE jiangcheng_decisions_total counter"),
        "Prometheus text format"
    );
    assert_eq!(
        sample(
            &metrics,
            "jiangcheng_list_entries",
            &[("list", "court_dishonest_debtor")]
        ),
        Some(1.0)
    );

    for secret in [company, person.as_str()] {
        assert!(
            !metrics.contains(secret),
            "/metrics names a subject identifier (`{secret}`):\n{metrics}"
        );
    }
}

#[actix_web::test]
async fn metrics_labels_stay_bounded_whatever_method_a_client_sends() {
    let person = rid(78);
    let app = spawn_app(&[entry("M-1", "court_dishonest_debtor", &person)]);
    // HTTP allows extension methods; a client can put anything token-shaped there.
    for (method, path) in [
        (person.clone(), format!("/v1/subjects/{person}")),
        (format!("X{person}"), "/v1/decide".to_owned()),
        ("PROPFIND".to_owned(), "/metrics".to_owned()),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("token");
        let response = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .expect("request");
        assert!(response.status().is_client_error(), "{path}");
    }
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains(&person),
        "/metrics names the resident ID sent as a method:\n{metrics}"
    );
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("jiangcheng_http_requests_total{"))
    {
        let method = line
            .split("method=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        assert!(
            ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "other"].contains(&method),
            "unbounded method label `{method}` in {line}"
        );
    }
}
