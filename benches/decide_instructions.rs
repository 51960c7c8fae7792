//! Instructions per decision, for callgrind: a gap of a few nanoseconds drowns in the noise of a
//! shared machine, an instruction count does not. Builds the engine bench's population
//! (`JC_BENCH_SUBJECTS`, 100,000 by default: the count hardly depends on the size), then decides
//! `ROUNDS` subjects of one case inside `decide_all`, which alone is counted:
//!
//! ```text
//! cargo build --release --example decide_instructions
//! valgrind --tool=callgrind --toggle-collect='*decide_all*' --callgrind-out-file=/dev/null \
//!     target/release/examples/decide_instructions uscc_miss
//! ```
//!
//! and divide the `Collected` instructions by `ROUNDS`. Cases: `uscc_miss`, `person_miss`,
//! `hit_one_entry`, `hit_five_entries`, `responsible_person`. `JC_BENCH_OLDER_IDENTIFIERS=1`
//! adds the engine bench's two entries filed under older identifiers.
//!
//! The cases `parse_uscc` and `parse_person` instead parse `ROUNDS` identifiers of the
//! population inside `parse_all` (`--toggle-collect='*parse_all*'`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark whose set-up fails has nothing to measure: it stops with the reason"
)]

mod common;
#[path = "common/decisions.rs"]
mod decisions;

use std::hint::black_box;

use jiangcheng::engine;
use jiangcheng::ident::{self, SubjectId, SubjectKey};
use jiangcheng::lists::gen::{self, GenOptions};
use jiangcheng::lists::{parse_entries, ListIndex};
use jiangcheng::ruleset::{MatterId, RuleSet};
use jiangcheng::timestamp::Timestamp;

use common::{env_or, SEED};
use decisions::{AT, MATTER, OLDER_IDENTIFIERS, PERSON_MATTER};

/// Decisions counted per run.
const ROUNDS: usize = 10_000;

fn main() {
    let case = std::env::args().nth(1).expect("a case");
    if let Some(kind) = case.strip_prefix("parse_") {
        let person = match kind {
            "uscc" => false,
            "person" => true,
            other => panic!("unknown case parse_{other}"),
        };
        let ids: Vec<String> = (0u64..)
            .map(|i| gen::subject_id(SEED, i))
            .filter(|&(_, is_person)| is_person == person)
            .map(|(id, _)| id)
            .take(ROUNDS)
            .collect();
        let parsed = parse_all(&ids);
        println!("{case}: {ROUNDS} identifiers, {parsed} parsed");
        return;
    }
    let var = |name: &str| std::env::var(name).ok();
    let subjects: u64 = env_or("JC_BENCH_SUBJECTS", 100_000);
    let rules = common::rules();
    let options = GenOptions {
        subjects,
        listed_ratio: 0.02,
        seed: SEED,
    };
    let mut bytes = Vec::new();
    gen::generate(&rules, options, &mut bytes, None).expect("generate");
    if var("JC_BENCH_OLDER_IDENTIFIERS").as_deref() == Some("1") {
        bytes.extend_from_slice(OLDER_IDENTIFIERS.as_bytes());
    }
    let entries = parse_entries(&bytes, &rules).expect("valid entries");
    let lists = ListIndex::build(&entries, &rules).expect("the index builds");
    let parse = |id: &str| ident::parse(id).expect("valid identifier");
    let (sample, matter): (Vec<SubjectId>, &str) = match case.as_str() {
        "uscc_miss" | "person_miss" => {
            let person = case == "person_miss";
            let misses = (0..subjects)
                .map(|i| gen::subject_id(SEED, i))
                .filter(|&(_, is_person)| is_person == person)
                .map(|(id, _)| parse(&id))
                .filter(|s| !lists.knows(s.key()));
            (misses.collect(), MATTER)
        }
        "hit_one_entry" | "hit_five_entries" => {
            let n = if case == "hit_one_entry" { 1 } else { 5 };
            let mut listed: Vec<SubjectKey> = lists.iter().map(|e| e.subject).collect();
            listed.dedup();
            let hits = listed
                .into_iter()
                .filter(|&key| lists.entries_of(key).len() == n)
                .map(|key| parse(&key.to_id_string()));
            (hits.collect(), MATTER)
        }
        "responsible_person" => {
            let mut named: Vec<SubjectKey> = entries
                .iter()
                .flat_map(|e| e.responsible_persons.iter().map(|p| p.id))
                .collect();
            named.sort_unstable();
            named.dedup();
            let person_matter = rules.matter_id(PERSON_MATTER).expect("matter");
            let at = Timestamp::parse(AT).expect("instant");
            let reached = named
                .into_iter()
                .map(|key| parse(&key.to_id_string()))
                .filter(|p| {
                    engine::decide(&rules, engine::Holdings::of(&lists), p, person_matter, at)
                        .is_ok_and(|d| d.reasons.iter().any(|r| r.via.is_some()))
                });
            (reached.collect(), PERSON_MATTER)
        }
        other => panic!("unknown case {other}"),
    };
    assert!(!sample.is_empty(), "no subject for {case}");
    let matter = rules.matter_id(matter).expect("matter");
    let at = Timestamp::parse(AT).expect("instant");
    let blocked = decide_all(&rules, &lists, &sample, matter, at);
    println!(
        "{case}: {ROUNDS} decisions of {} subjects, {blocked} not allowed",
        sample.len()
    );
}

/// The counted part: `ROUNDS` decisions, cycling through `sample`.
#[inline(never)]
fn decide_all(
    rules: &RuleSet,
    lists: &ListIndex,
    sample: &[SubjectId],
    matter: MatterId,
    at: Timestamp,
) -> usize {
    sample
        .iter()
        .cycle()
        .take(ROUNDS)
        .filter(|s| {
            engine::decide(rules, engine::Holdings::of(lists), black_box(s), matter, at)
                .is_ok_and(|d| d.outcome != engine::Outcome::Allow)
        })
        .count()
}

/// The counted part of the `parse_*` cases: every identifier parsed once.
#[inline(never)]
fn parse_all(ids: &[String]) -> usize {
    ids.iter()
        .filter(|id| ident::parse(black_box(id)).is_ok())
        .count()
}
