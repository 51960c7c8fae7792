//! Single decisions on a generated index: 8 million subjects, about 10 million entries, by
//! default (`JC_BENCH_SUBJECTS` sets another size). A miss, and a hit on a subject with one entry.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jiangcheng::engine;
use jiangcheng::ident::{self, SubjectId};
use jiangcheng::lists::gen::{self, GenOptions};
use jiangcheng::lists::{parse_entries, ListIndex};
use jiangcheng::ruleset::{self, RuleSet};
use jiangcheng::timestamp::Timestamp;

const SEED: u64 = 1;
/// Distinct subjects cycled through per benchmark: enough that their index slots do not stay in
/// cache, so a lookup costs what a random one costs at this size.
const SAMPLE: usize = 1 << 20;

struct Fixture {
    rules: RuleSet,
    lists: ListIndex,
    population: u64,
}

fn fixture() -> Fixture {
    let rules = ruleset::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets/qiqihar"))
        .expect("rule set");
    let population = std::env::var("JC_BENCH_SUBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8_000_000);
    let mut bytes = Vec::new();
    let options = GenOptions {
        subjects: population,
        listed_ratio: 1.0,
        seed: SEED,
    };
    gen::generate(&rules, options, &mut bytes, None).expect("generate");
    let entries = parse_entries(&bytes, &rules).expect("generated entries are valid");
    drop(bytes);
    let lists = ListIndex::build(entries, rules.lists().len());
    Fixture {
        rules,
        lists,
        population,
    }
}

/// Subjects with exactly one entry, and subjects outside the population (never listed).
fn subjects(fixture: &Fixture) -> (Vec<SubjectId>, Vec<SubjectId>) {
    let parse = |index| ident::parse(&gen::subject_id(SEED, index).0).expect("valid id");
    let step = (fixture.population / SAMPLE as u64 / 2).max(1);
    let hits = (0..fixture.population)
        .step_by(step as usize)
        .map(parse)
        .filter(|s| fixture.lists.entries_of(s.key()).len() == 1)
        .take(SAMPLE)
        .collect();
    let misses = (0..SAMPLE as u64)
        .map(|i| parse(fixture.population + 1 + i * 7919))
        .collect();
    (hits, misses)
}

fn single_decision(c: &mut Criterion) {
    let fixture = fixture();
    let (hits, misses) = subjects(&fixture);
    let matter = fixture.rules.matter_id("gov_procurement").expect("matter");
    let at = Timestamp::parse("2026-11-22T10:00:00+08:00").expect("instant");
    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    for (name, sample) in [("miss", &misses), ("hit_one_entry", &hits)] {
        group.bench_with_input(
            BenchmarkId::new(name, fixture.lists.len()),
            sample,
            |b, sample| {
                let mut i = 0;
                b.iter(|| {
                    i = (i + 1) % sample.len();
                    black_box(
                        engine::decide(&fixture.rules, &fixture.lists, &sample[i], matter, at)
                            .map(|d| d.outcome),
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, single_decision);
criterion_main!(benches);
