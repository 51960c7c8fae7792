//! What the `engine` and `load` benchmarks share.

use std::path::PathBuf;
use std::str::FromStr;

use jiangcheng::ruleset::{self, RuleSet};

/// Seed of every generated population, so the benchmarks see the same subjects run after run.
pub const SEED: u64 = 1;

/// The shipped rule set's folder.
pub fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rulesets/qiqihar")
}

/// The shipped rule set, compiled.
pub fn rules() -> RuleSet {
    ruleset::load_dir(&rules_dir()).expect("the shipped rule set compiles")
}

/// A size read from the environment variable `name`, or `default`: a quick run can shrink the
/// fixtures without editing the benchmarks. A value that does not parse stops the run rather
/// than silently measuring the default.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a valid number")),
        Err(_) => default,
    }
}
