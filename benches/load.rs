//! Loading:
//! - `load`: index a snapshot file (read, parse, validate, build), as `serve` and `check` do;
//! - `ruleset`: read, validate and compile the shipped rule set.
//!
//! The snapshot file holds 800,000 listed subjects, about a million entries, by default
//! (`JC_BENCH_FILE_SUBJECTS` sets another count): a tenth of the README's 10-million-entry file,
//! so that `cargo bench` stays short: a load of a million entries takes seconds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark whose set-up fails has nothing to measure: it stops with the reason"
)]

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use jiangcheng::lists::gen::{self, GenOptions};
use jiangcheng::lists::load_file;
use jiangcheng::ruleset;

use common::{env_or, SEED};

fn snapshot_file(c: &mut Criterion) {
    let rules = common::rules();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("lists.jsonl");
    let options = GenOptions {
        subjects: env_or("JC_BENCH_FILE_SUBJECTS", 800_000),
        listed_ratio: 1.0,
        seed: SEED,
    };
    let mut out = BufWriter::new(File::create(&path).expect("create the snapshot file"));
    let stats = gen::generate(&rules, options, &mut out, None).expect("generate");
    drop(out);

    let mut group = c.benchmark_group("load");
    // Seconds per iteration: ten samples of one load each say enough, where criterion's
    // default (100 samples of 1, 2, 3… iterations) would run it thousands of times.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(stats.entries));
    group.bench_function(BenchmarkId::new("file", stats.entries), |b| {
        // Freeing the index is left out: a loaded index lives on until the next reload.
        b.iter_with_large_drop(|| load_file(&path, &rules).expect("the generated file loads"))
    });
    group.finish();
}

fn rule_set(c: &mut Criterion) {
    let dir = common::rules_dir();
    let mut group = c.benchmark_group("ruleset");
    group.bench_function(BenchmarkId::new("compile", "qiqihar"), |b| {
        b.iter(|| ruleset::load_dir(&dir).expect("the shipped rule set compiles"))
    });
    group.finish();
}

criterion_group!(benches, snapshot_file, rule_set);
criterion_main!(benches);
