//! The JSON of `POST /v1/decide` and `/v1/decide/batch`, through the service's own request
//! parser and response writer (`jiangcheng::http::bench_api`):
//! - `json_request`: read and check a request for one subject (`decide/1`) and a batch request
//!   for 100 and 10,000 subjects (`batch/…`), as the endpoints do before deciding;
//! - `json_response`: write the answer of one decision and of those batches into a reused
//!   `Vec`, from the engine's decisions, made beforehand.
//!
//! The bodies are realistic: the subjects are members of a generated population of 100,000
//! (`JC_BENCH_SUBJECTS`), 2% of them listed (`JC_BENCH_LISTED_RATIO`), drawn at random, so a
//! batch holds listed subjects in that proportion, persons among them. The single decision is a
//! block with reasons, on a listed subject, with a case reference, as the API's first example.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark whose set-up fails has nothing to measure: it stops with the reason"
)]

mod common;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use jiangcheng::engine::{self, BatchItem, Decision, Outcome};
use jiangcheng::http::bench_api::{self, Request, Subjects, Writer};
use jiangcheng::ident::{self, SubjectId};
use jiangcheng::lists::gen::{self, GenOptions};
use jiangcheng::lists::{parse_entries, ListIndex};
use jiangcheng::snapshot::Snapshot;
use jiangcheng::timestamp::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use common::{env_or, SEED};

/// The subjects of the batches.
const BATCHES: [usize; 2] = [100, 10_000];
/// The matter of every request (the API's first example, and the batch of 10,000 bidders of
/// the performance figures).
const MATTER: &str = "gov_procurement";
/// The requests' `as_of`, which is also the server's clock: no request is a replay.
const AT: &str = "2026-11-22T10:00:00+08:00";

struct Fixture {
    snapshot: Arc<Snapshot>,
    now: Timestamp,
    /// The body of `POST /v1/decide` on a listed subject, blocked in `MATTER`.
    single: Vec<u8>,
    /// The bodies of `POST /v1/decide/batch`, one per size of `BATCHES`.
    batches: Vec<Vec<u8>>,
}

impl Fixture {
    fn build() -> Fixture {
        let rules = common::rules();
        let options = GenOptions {
            subjects: env_or("JC_BENCH_SUBJECTS", 100_000),
            listed_ratio: env_or("JC_BENCH_LISTED_RATIO", 0.02),
            seed: SEED,
        };
        let mut bytes = Vec::new();
        gen::generate(&rules, options, &mut bytes, None).expect("generate");
        let entries = parse_entries(&bytes, &rules).expect("generated entries are valid");
        let lists = ListIndex::build(&entries, &rules).expect("the index builds");
        let matter = rules.matter_id(MATTER).expect("matter");
        let now = Timestamp::parse(AT).expect("instant");

        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let mut draw = || gen::subject_id(SEED, rng.random_range(0..options.subjects)).0;
        let blocked = std::iter::repeat_with(&mut draw)
            .find(|id| {
                let subject = ident::parse(id).expect("generated identifiers are valid");
                engine::decide(&rules, engine::Holdings::of(&lists), &subject, matter, now)
                    .is_ok_and(|d| d.outcome == Outcome::Block)
            })
            .expect("some subject is blocked in the matter");
        let single = json!({
            "subject": {"id": blocked},
            "matter": MATTER,
            "case_ref": "ZFCG-2026-0815",
            "as_of": AT,
        });
        let batches = BATCHES
            .iter()
            .map(|&size| {
                let subjects: Vec<_> = std::iter::repeat_with(&mut draw)
                    .take(size)
                    .map(|id| json!({"id": id}))
                    .collect();
                let body = json!({"matter": MATTER, "as_of": AT, "subjects": subjects});
                serde_json::to_vec(&body).expect("serialisable")
            })
            .collect();
        Fixture {
            snapshot: Arc::new(Snapshot {
                rules: Arc::new(rules),
                lists,
                cold_names: Default::default(),
                lists_version: 1,
                lists_epoch: None,
                loaded_at: now,
            }),
            now,
            single: serde_json::to_vec(&single).expect("serialisable"),
            batches,
        }
    }

    fn read_decide(&self, body: &mut [u8]) -> (SubjectId, Request) {
        bench_api::read_decide(body, &self.snapshot, self.now).expect("a valid request")
    }

    fn read_batch(&self, body: &mut [u8]) -> (Subjects, Request) {
        bench_api::read_batch(body, &self.snapshot, usize::MAX, self.now).expect("a valid request")
    }

    /// The engine's decision in `MATTER` on each item, as the batch endpoint makes them.
    fn decide_batch(&self, subjects: &Subjects) -> Vec<BatchItem<'_>> {
        let matter = self.snapshot.rules.matter_id(MATTER).expect("matter");
        let (rules, lists) = (&self.snapshot.rules, &self.snapshot.lists);
        subjects
            .iter()
            .map(|subject| {
                let subject = subject.as_ref().ok()?;
                Some(engine::decide(
                    rules,
                    engine::Holdings::of(lists),
                    subject,
                    matter,
                    self.now,
                ))
            })
            .collect()
    }

    fn decide(&self, subject: &SubjectId) -> Decision<'_> {
        let matter = self.snapshot.rules.matter_id(MATTER).expect("matter");
        let (rules, lists) = (&self.snapshot.rules, &self.snapshot.lists);
        engine::decide(
            rules,
            engine::Holdings::of(lists),
            subject,
            matter,
            self.now,
        )
        .expect("decidable")
    }
}

/// Reads each body as its endpoint does. A well-formed body is read from a copy, so the same
/// bytes serve every iteration.
fn parse_request(c: &mut Criterion) {
    let fixture = Fixture::build();
    let mut group = c.benchmark_group("json_request");
    let mut single = fixture.single.clone();
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("decide", 1), |b| {
        b.iter(|| black_box(fixture.read_decide(black_box(&mut single))))
    });
    for (size, body) in BATCHES.iter().zip(&fixture.batches) {
        let mut body = body.clone();
        group.throughput(Throughput::Elements(*size as u64));
        group.bench_function(BenchmarkId::new("batch", size), |b| {
            b.iter(|| black_box(fixture.read_batch(black_box(&mut body))))
        });
    }
    group.finish();
}

/// Writes the answers of the parsed requests from the engine's decisions.
fn write_response(c: &mut Criterion) {
    let fixture = Fixture::build();
    let writer = Writer::new(Arc::clone(&fixture.snapshot)).expect("the snapshot renders");
    let mut out = Vec::new();
    let mut group = c.benchmark_group("json_response");

    let (subject, request) = fixture.read_decide(&mut fixture.single.clone());
    let decision = fixture.decide(&subject);
    writer
        .decision(&mut out, &request, &subject, &decision)
        .expect("written");
    assert_eq!(answer(&out)["decision"], "block");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("decide", 1), |b| {
        b.iter(|| {
            out.clear();
            writer
                .decision(&mut out, &request, &subject, &decision)
                .expect("written");
            black_box(out.len())
        })
    });

    for (size, body) in BATCHES.iter().zip(&fixture.batches) {
        let (subjects, request) = fixture.read_batch(&mut body.clone());
        let decisions = fixture.decide_batch(&subjects);
        out.clear();
        writer
            .batch(&mut out, &request, &subjects, decisions.clone())
            .expect("written");
        let summary = &answer(&out)["summary"];
        assert_eq!(summary["invalid"], 0);
        eprintln!("batch of {size}: {summary}");
        group.throughput(Throughput::Elements(*size as u64));
        // Writing consumes the decisions, as the endpoint does: each iteration gets a copy,
        // made outside the timing.
        group.bench_function(BenchmarkId::new("batch", size), |b| {
            b.iter_batched(
                || decisions.clone(),
                |decisions| {
                    out.clear();
                    writer
                        .batch(&mut out, &request, &subjects, decisions)
                        .expect("written");
                    black_box(out.len())
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The answer written into `out`, which must be JSON: a measured answer is a correct one.
fn answer(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).expect("the answer is JSON")
}

criterion_group!(benches, parse_request, write_response);
criterion_main!(benches);
