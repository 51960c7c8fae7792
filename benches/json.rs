//! JSON of `POST /v1/decide` and `/v1/decide/batch`, serde_json against
//! simd-json with reused buffers (without them simd-json allocates its buffers on every call and
//! loses on small bodies):
//! - `json_request`: parse a request for 1 subject and a batch request for 1,000;
//! - `json_response`: write the response of 1 decision and of a 1,000-subject batch into a
//!   reused `Vec`.
//!
//! The service's request and response types are private to `src/http`, so the structs below
//! mirror their shapes (field names, optional fields, `null`s); the responses are the README's
//! examples of "A decision". The service itself parses a body into a simd-json `BorrowedValue`
//! and reads it field by field (`src/http/body.rs`); `simd_json_value` measures that parse.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use jiangcheng::lists::gen;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Subjects of the batch request and response.
const BATCH: usize = 1_000;
/// One in this many subjects of the batch is listed (2%, as in the `engine` benchmark).
const LISTED_EVERY: usize = 50;
/// The seed of the `engine` benchmark's population, whose identifiers fill the batch.
const SEED: u64 = 1;
/// The instant of the README's examples, as responses write it.
const EVALUATED_AT: &str = "2026-11-22T10:00:00.000+08:00";
/// The README's request.
const REQUEST: &str = r#"{"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement", "case_ref": "ZFCG-2026-0815", "as_of": "2026-11-22T10:00:00+08:00"}"#;

/// A body of either endpoint: `subject` for one decision, `subjects` for a batch.
#[derive(Deserialize)]
#[expect(dead_code, reason = "only parsed: parsing is what is measured")]
struct Request<'a> {
    #[serde(borrow)]
    subject: Option<SubjectRef<'a>>,
    #[serde(borrow, default)]
    subjects: Vec<SubjectRef<'a>>,
    matter: &'a str,
    #[serde(borrow)]
    as_of: Option<&'a str>,
    #[serde(borrow)]
    department: Option<&'a str>,
    #[serde(borrow)]
    case_ref: Option<&'a str>,
}

#[derive(Deserialize)]
#[expect(dead_code, reason = "only parsed: parsing is what is measured")]
struct SubjectRef<'a> {
    id: &'a str,
    #[serde(borrow)]
    id_type: Option<&'a str>,
}

#[derive(Serialize)]
struct DecisionView {
    decision_id: String,
    decision: &'static str,
    subject: SubjectView,
    matter: &'static str,
    reasons: Vec<ReasonView>,
    warnings: Vec<WarningView>,
    ruleset: RuleSetView,
    lists_version: u64,
    evaluated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    department: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_ref: Option<&'static str>,
}

#[derive(Serialize)]
struct SubjectView {
    id: String,
    kind: &'static str,
    id_type: &'static str,
}

#[derive(Serialize)]
struct ReasonView {
    topic: &'static str,
    list: &'static str,
    entry_id: &'static str,
    measure: &'static str,
    measure_name: &'static str,
    effect: &'static str,
    category: u8,
    legal_basis: &'static str,
    department: &'static str,
    text: &'static str,
    /// `null` in the README's examples (the subject is the listed one).
    via: Option<()>,
    warnings: Vec<WarningView>,
}

#[derive(Serialize)]
struct WarningView {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<char>,
}

#[derive(Serialize)]
struct RuleSetView {
    name: &'static str,
    revision: &'static str,
}

#[derive(Serialize)]
struct BatchView {
    results: Vec<DecisionView>,
    summary: Summary,
    ruleset: RuleSetView,
    lists_version: u64,
    evaluated_at: String,
}

#[derive(Serialize)]
struct Summary {
    allow: usize,
    flag: usize,
    block: usize,
    invalid: usize,
}

/// The README's single decision: a block for a court-listed dishonest debtor.
fn court_reason() -> ReasonView {
    ReasonView {
        topic: "court_dishonest_debtor",
        list: "court_dishonest_debtor",
        entry_id: "QQHR-FY-2026-000123",
        measure: "court_procurement_ban",
        measure_name: "限制失信被执行人参加政府采购活动",
        effect: "block",
        category: 1,
        legal_basis: "《中华人民共和国政府采购法》第二十二条；《关于对失信被执行人实施联合惩戒的合作备忘录》（发改财金〔2016〕141号）；《关于加快推进失信被执行人信用监督、警示和惩戒机制建设的意见》",
        department: "市财政局、采购人、采购代理机构",
        text: "资格审查时查询失信被执行人名单，限制失信被执行人作为供应商参加政府采购活动",
        via: None,
        warnings: Vec::new(),
    }
}

/// The README's batch: a block for wage arrears, on an entry under dispute review.
fn wage_reason() -> ReasonView {
    ReasonView {
        topic: "wage_arrears",
        list: "wage_arrears",
        entry_id: "QQHR-RS-2026-000045",
        measure: "wage_bidding_restriction",
        measure_name: "限制拖欠农民工工资失信联合惩戒对象参加依法必须招标项目投标",
        effect: "block",
        category: 1,
        legal_basis: "《保障农民工工资支付条例》第四十八条；《全国失信惩戒措施基础清单》；《关于对严重拖欠农民工工资用人单位及其有关人员开展联合惩戒的合作备忘录》（发改财金〔2017〕2058号）",
        department: "市住房和城乡建设局、市交通运输局、市水务局等招标投标行政监督部门",
        text: "对列入拖欠农民工工资失信联合惩戒对象名单的用人单位，在名单有效期内限制其参加依法必须进行招标项目的投标",
        via: None,
        warnings: vec![WarningView {
            code: "entry_under_dispute",
            message: "the entry is under dispute review".into(),
            expected: None,
        }],
    }
}

/// A decision on `id` in the README's shape: `block` with `reasons`, `allow` without.
fn decision(
    index: usize,
    (id, is_person): (String, bool),
    matter: &'static str,
    reasons: Vec<ReasonView>,
) -> DecisionView {
    let (kind, id_type) = if is_person {
        ("person", "resident_id")
    } else {
        ("enterprise", "uscc")
    };
    DecisionView {
        decision_id: format!("01a207cd-4c7b-735f-9412-{index:012x}"),
        decision: if reasons.is_empty() { "allow" } else { "block" },
        subject: SubjectView { id, kind, id_type },
        matter,
        reasons,
        warnings: Vec::new(),
        ruleset: ruleset(),
        lists_version: 1,
        evaluated_at: EVALUATED_AT.into(),
        department: None,
        case_ref: None,
    }
}

fn ruleset() -> RuleSetView {
    RuleSetView {
        name: "qiqihar",
        revision: "7fff0874aea8",
    }
}

/// The population members whose identifiers fill the batch.
fn batch_subjects() -> impl Iterator<Item = (String, bool)> {
    (0..BATCH as u64).map(|index| gen::subject_id(SEED, index))
}

fn parse_request(c: &mut Criterion) {
    let batch = serde_json::to_vec(&json!({
        "matter": "construction_bidding",
        "as_of": "2026-11-22T10:00:00+08:00",
        "subjects": batch_subjects().map(|(id, _)| json!({"id": id})).collect::<Vec<_>>(),
    }))
    .expect("serialisable");
    let mut buffers = simd_json::Buffers::default();
    let mut group = c.benchmark_group("json_request");
    for (subjects, body) in [(1, REQUEST.as_bytes()), (BATCH, &batch[..])] {
        group.throughput(Throughput::Elements(subjects as u64));
        group.bench_function(BenchmarkId::new("serde_json", subjects), |b| {
            b.iter(|| serde_json::from_slice::<Request>(black_box(body)).expect("valid request"))
        });
        // simd-json rewrites its input: each iteration gets a fresh copy, made outside the
        // timing.
        group.bench_function(BenchmarkId::new("simd_json", subjects), |b| {
            b.iter_batched_ref(
                || body.to_vec(),
                |copy| {
                    let request =
                        simd_json::serde::from_slice_with_buffers::<Request>(copy, &mut buffers)
                            .expect("valid request");
                    black_box(&request);
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(BenchmarkId::new("simd_json_value", subjects), |b| {
            b.iter_batched_ref(
                || body.to_vec(),
                |copy| {
                    let value = simd_json::to_borrowed_value_with_buffers(copy, &mut buffers)
                        .expect("valid JSON");
                    black_box(&value);
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn write_response(c: &mut Criterion) {
    let single = DecisionView {
        case_ref: Some("ZFCG-2026-0815"),
        ..decision(
            0,
            ("91230200MA1B2C3D8T".into(), false),
            "gov_procurement",
            vec![court_reason()],
        )
    };
    let results: Vec<DecisionView> = batch_subjects()
        .enumerate()
        .map(|(index, subject)| {
            let reasons = if index % LISTED_EVERY == 0 {
                vec![wage_reason()]
            } else {
                Vec::new()
            };
            decision(index, subject, "construction_bidding", reasons)
        })
        .collect();
    let block = results.iter().filter(|r| !r.reasons.is_empty()).count();
    let batch = BatchView {
        summary: Summary {
            allow: results.len() - block,
            flag: 0,
            block,
            invalid: 0,
        },
        results,
        ruleset: ruleset(),
        lists_version: 1,
        evaluated_at: EVALUATED_AT.into(),
    };
    let mut group = c.benchmark_group("json_response");
    write(&mut group, 1, &single);
    write(&mut group, BATCH, &batch);
    group.finish();
}

/// Benchmarks writing `view`, the response for `subjects` subjects, with both serialisers.
fn write<T: Serialize>(group: &mut BenchmarkGroup<'_, WallTime>, subjects: usize, view: &T) {
    let mut out = Vec::new();
    group.throughput(Throughput::Elements(subjects as u64));
    group.bench_function(BenchmarkId::new("serde_json", subjects), |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, view).expect("serialisable");
            black_box(out.len())
        })
    });
    group.bench_function(BenchmarkId::new("simd_json", subjects), |b| {
        b.iter(|| {
            out.clear();
            simd_json::to_writer(&mut out, view).expect("serialisable");
            black_box(out.len())
        })
    });
}

criterion_group!(benches, parse_request, write_response);
criterion_main!(benches);
