//! The hot path:
//! - `ident`: normalise, validate and pack one identifier; mask the ID numbers in a free text;
//! - `decide`: one decision on a miss, on a hit with one entry, on a hit with five entries, and on
//!   a person reached as the legal representative named on a listed organisation's entry;
//! - `batch`: 100, 1,000 and 10,000 subjects, decided one after the other on the calling thread
//!   or by `decide_chunks` on rayon, both collecting the decisions.
//!
//! `decide` and `batch` share one index, built on first use: a population of 10 million subjects
//! of which 2% are listed, one in ten of those with two to five entries (`JC_BENCH_SUBJECTS` and
//! `JC_BENCH_LISTED_RATIO` set others), and two entries filed under older identifiers, so that a
//! USCC pays the lookup of the organisation code it embeds. `cargo bench --bench engine -- ident` never builds it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark whose set-up fails has nothing to measure: it stops with the reason"
)]

mod common;
#[path = "common/decisions.rs"]
mod decisions;

use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jiangcheng::engine::{self, DecideError, Decision};
use jiangcheng::ident::{self, SubjectId, SubjectKey};
use jiangcheng::lists::gen::{self, GenOptions};
use jiangcheng::lists::{parse_entries, ListIndex};
use jiangcheng::ruleset::{MatterId, RuleSet};
use jiangcheng::timestamp::Timestamp;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use common::{env_or, SEED};
use decisions::{AT, MATTER, OLDER_IDENTIFIERS, PERSON_MATTER};

/// Distinct subjects cycled through per benchmark (or all there are of a kind): enough that
/// their index slots do not stay in cache, so a lookup costs what a random one costs at this
/// size. Cycling through 4,096 subjects once gave 15 ns for a miss instead of 97 ns: that is a
/// cache speaking, not the index.
const SAMPLE: usize = 1 << 20;
/// Distinct identifiers per `ident` benchmark: too many for the branch predictor to learn, few
/// enough to stay in cache, as a request body does.
const IDS: usize = 4096;

fn population() -> u64 {
    env_or("JC_BENCH_SUBJECTS", 10_000_000)
}

struct Fixture {
    rules: RuleSet,
    lists: ListIndex,
    matter: MatterId,
    person_matter: MatterId,
    at: Timestamp,
    /// Random members of the population, listed in the population's proportion: batches.
    drawn: Vec<Option<SubjectId>>,
    /// The drawn subjects that no entry lists or names.
    misses: Vec<SubjectId>,
    one_entry: Vec<SubjectId>,
    five_entries: Vec<SubjectId>,
    /// Persons named on some entry through which a measure of `PERSON_MATTER` reaches them.
    responsible: Vec<SubjectId>,
}

/// The shared index and its samples, built by the first benchmark that needs them.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::build)
}

impl Fixture {
    fn build() -> Fixture {
        let rules = common::rules();
        let options = GenOptions {
            subjects: population(),
            listed_ratio: env_or("JC_BENCH_LISTED_RATIO", 0.02),
            seed: SEED,
        };
        let mut bytes = Vec::new();
        gen::generate(&rules, options, &mut bytes, None).expect("generate");
        let mut entries = parse_entries(&bytes, &rules).expect("generated entries are valid");
        drop(bytes);
        entries.extend(parse_entries(OLDER_IDENTIFIERS.as_bytes(), &rules).expect("valid"));
        let lists = ListIndex::build(&entries, &rules).expect("the index builds");
        let matter = rules.matter_id(MATTER).expect("matter");
        let person_matter = rules.matter_id(PERSON_MATTER).expect("matter");
        let at = Timestamp::parse(AT).expect("instant");

        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let indices: Vec<u64> = (0..SAMPLE)
            .map(|_| rng.random_range(0..options.subjects))
            .collect();
        let drawn: Vec<Option<SubjectId>> = indices
            .par_iter()
            .map(|&index| Some(parse(&gen::subject_id(SEED, index).0)))
            .collect();
        let misses: Vec<SubjectId> = drawn
            .iter()
            .flatten()
            .filter(|s| !lists.knows(s.key()))
            .copied()
            .collect();

        // A fresh index iterates its entries in subject order.
        let mut listed: Vec<SubjectKey> = lists.iter().map(|e| e.subject).collect();
        listed.dedup();
        let with_entries = |n: usize| -> Vec<SubjectId> {
            listed
                .iter()
                .filter(|&&key| lists.entries_of(key).len() == n)
                .map(|key| parse(&key.to_id_string()))
                .collect()
        };
        let one_entry = sample("one entry", with_entries(1), &mut rng);
        let five_entries = sample("five entries", with_entries(5), &mut rng);

        let mut named: Vec<SubjectKey> = entries
            .iter()
            .flat_map(|e| e.responsible_persons.iter().map(|p| p.id))
            .collect();
        drop(entries);
        named.sort_unstable();
        named.dedup();
        let reached = named
            .iter()
            .map(|key| parse(&key.to_id_string()))
            .filter(|person| {
                engine::decide(
                    &rules,
                    engine::Holdings::of(&lists),
                    person,
                    person_matter,
                    at,
                )
                .is_ok_and(|d| d.reasons.iter().any(|r| r.via.is_some()))
            })
            .collect();
        let responsible = sample("responsible persons", reached, &mut rng);

        eprintln!(
            "fixture: {} subjects, {} listed, {} entries, {} persons named; cycling through \
             {} misses, {} one-entry, {} five-entry subjects, {} reached persons",
            options.subjects,
            lists.subjects(),
            lists.len(),
            named.len(),
            misses.len(),
            one_entry.len(),
            five_entries.len(),
            responsible.len(),
        );
        Fixture {
            rules,
            lists,
            matter,
            person_matter,
            at,
            drawn,
            misses,
            one_entry,
            five_entries,
            responsible,
        }
    }
}

fn parse(id: &str) -> SubjectId {
    ident::parse(id).expect("generated identifiers are valid")
}

/// At most `SAMPLE` of `subjects` in random order: the index keeps entries in key order, and
/// walking them in that order would let the prefetcher hide the cost of a lookup.
fn sample(kind: &str, mut subjects: Vec<SubjectId>, rng: &mut ChaCha8Rng) -> Vec<SubjectId> {
    assert!(
        !subjects.is_empty(),
        "no subject with {kind} at this size: raise JC_BENCH_SUBJECTS or JC_BENCH_LISTED_RATIO"
    );
    subjects.shuffle(rng);
    subjects.truncate(SAMPLE);
    subjects
}

/// The next `size` items of `sample`, starting over at the beginning once it runs out. The
/// cursor lives outside the routine, which criterion calls again for every sample: restarting
/// there would revisit the same leading subjects, warm in cache from the previous sample.
fn window<'a, T>(sample: &'a [T], cursor: &mut usize, size: usize) -> &'a [T] {
    if *cursor + size > sample.len() {
        *cursor = 0;
    }
    let items = &sample[*cursor..*cursor + size];
    *cursor += size;
    items
}

fn identifiers(c: &mut Criterion) {
    let of_kind = |person: bool| -> Vec<String> {
        (0u64..)
            .map(|index| gen::subject_id(SEED, index))
            .filter(|&(_, is_person)| is_person == person)
            .map(|(id, _)| id)
            .take(IDS)
            .collect()
    };
    let uscc = of_kind(false);
    // Full-width digits and letters, as a Chinese input method types them: normalisation's slow
    // path.
    let full_width: Vec<String> = uscc
        .iter()
        .map(|id| {
            id.chars()
                .map(|c| char::from_u32(u32::from(c) + 0xFEE0).expect("full-width form"))
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("ident");
    group.throughput(Throughput::Elements(1));
    for (kind, ids) in [
        ("uscc", uscc),
        ("resident_id", of_kind(true)),
        ("uscc_full_width", full_width),
    ] {
        assert!(ids.iter().all(|id| ident::parse(id).is_ok()), "{kind}");
        let mut cursor = 0;
        group.bench_function(BenchmarkId::new("parse", kind), |b| {
            b.iter(|| {
                let id = &window(&ids, &mut cursor, 1)[0];
                black_box(ident::parse(black_box(id)).map(|s| s.key()))
            })
        });
    }
    // The masking of stored free text: a case reference without an ID number (what the
    // register's writer meets per request), one with an ID number written with spaces, and a
    // feedback text of the longest allowed size with one.
    let prose = "资格审查时查询失信被执行人名单，拒绝其参加本次政府采购。".repeat(45);
    for (case, text) in [
        ("case_ref", "ZFCG-2026-0815".to_owned()),
        (
            "case_ref_with_id",
            "ZFCG-2026-0815 申请人230202 19900101 1238".to_owned(),
        ),
        (
            "4000_bytes_with_id",
            format!("{prose}申请人230202199001011238"),
        ),
    ] {
        group.bench_function(BenchmarkId::new("mask_free_text", case), |b| {
            b.iter(|| black_box(ident::mask_id_numbers(black_box(&text)).len()))
        });
    }
    group.finish();
}

/// The subjects of one `decide` benchmark and the matter they are decided in.
type Case = fn(&Fixture) -> (&[SubjectId], MatterId);

fn single_decision(c: &mut Criterion) {
    let cases: [(&str, Case); 4] = [
        ("miss", |f| (&f.misses, f.matter)),
        ("hit_one_entry", |f| (&f.one_entry, f.matter)),
        ("hit_five_entries", |f| (&f.five_entries, f.matter)),
        ("responsible_person", |f| (&f.responsible, f.person_matter)),
    ];
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    for (name, case) in cases {
        let mut cursor = 0;
        group.bench_function(BenchmarkId::new(name, population()), |b| {
            let f = fixture();
            let (subjects, matter) = case(f);
            b.iter(|| {
                let subject = &window(subjects, &mut cursor, 1)[0];
                black_box(
                    engine::decide(
                        &f.rules,
                        engine::Holdings::of(&f.lists),
                        subject,
                        matter,
                        f.at,
                    )
                    .map(|d| d.outcome),
                )
            })
        });
    }
    group.finish();
}

type Decisions<'s> = Vec<Option<Result<Decision<'s>, DecideError>>>;
/// One way of deciding a batch.
type Run = for<'s> fn(&'s Fixture, &[Option<SubjectId>]) -> Decisions<'s>;

/// Every decision of the batch, one subject after the other on the calling thread.
fn sequential<'s>(f: &'s Fixture, subjects: &[Option<SubjectId>]) -> Decisions<'s> {
    subjects
        .iter()
        .map(|s| {
            s.as_ref().map(|s| {
                engine::decide(&f.rules, engine::Holdings::of(&f.lists), s, f.matter, f.at)
            })
        })
        .collect()
}

/// `decide_chunks`, which spreads batches of `PARALLEL_THRESHOLD` subjects or more over rayon;
/// each chunk collects its decisions, as the service's chunks write theirs.
fn parallel<'s>(f: &'s Fixture, subjects: &[Option<SubjectId>]) -> Decisions<'s> {
    let chunks = engine::decide_chunks(
        &f.rules,
        |_| engine::Holdings::of(&f.lists),
        subjects,
        f.matter,
        f.at,
        Vec::with_capacity,
        |chunk: &mut Decisions<'s>, _, decision| {
            chunk.push(decision);
            Ok::<_, std::convert::Infallible>(())
        },
    );
    match chunks {
        Ok(chunks) => chunks.into_iter().flatten().collect(),
        Err(never) => match never {},
    }
}

fn batch(c: &mut Criterion) {
    let runs: [(&str, Run); 2] = [("sequential", sequential), ("rayon", parallel)];
    let mut group = c.benchmark_group("batch");
    for size in [100, 1_000, 10_000] {
        group.throughput(Throughput::Elements(size as u64));
        for (name, run) in runs {
            let mut cursor = 0;
            group.bench_function(BenchmarkId::new(name, size), |b| {
                let f = fixture();
                b.iter(|| black_box(run(f, window(&f.drawn, &mut cursor, size))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, identifiers, single_decision, batch);
criterion_main!(benches);
