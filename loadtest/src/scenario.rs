//! Scenario files (TOML): what to send, to whom, over which population, at what rate.
//!
//! ```toml
//! name = "morning approval rush"
//! target = "http://127.0.0.1:8080"
//! # targets = ["http://127.0.0.1:8081", "http://127.0.0.1:8082"]  # several instances instead
//! connections = 64
//!
//! [population]
//! file = "/tmp/jc/10m.jsonl"  # a `jiangcheng gen` file; listed subjects are sampled from it
//! hit_ratio = 0.02            # share of subjects that are listed
//! invalid_ratio = 0.01        # share of malformed identifiers (answered 422, not errors)
//!
//! [[matter]]
//! code = "gov_procurement"
//! weight = 3
//!
//! [[request]]
//! kind = "decide"              # decide | batch | profile
//! weight = 95
//!
//! [[request]]
//! kind = "batch"
//! size = 1000                  # bidders per batch
//! weight = 1
//!
//! [load]
//! model = "open"               # open (arrival rate) | closed (busy connections)
//! [[load.stage]]
//! rate = 2000                  # requests per second at the end of the stage
//! seconds = 60
//! ramp = true                  # linear from the previous stage's rate; false = a step
//! ```

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_target")]
    pub target: String,
    /// Several instances to spread the load over, round-robin by connection; when given,
    /// `target` is not used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Keep-alive connections (open model: the pool the arrivals are sent on; closed model: the
    /// number of callers, each sending its next request when the last one is answered).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// A request unanswered after this long counts as an error.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Stop after this many requests, whatever the stages say (0: no limit).
    #[serde(default)]
    pub max_requests: u64,
    #[serde(default)]
    pub population: PopulationSpec,
    #[serde(default = "default_matters", rename = "matter")]
    pub matters: Vec<Weighted<String>>,
    #[serde(rename = "request")]
    pub requests: Vec<RequestSpec>,
    pub load: LoadSpec,
    #[serde(default)]
    pub slo: Slo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// A `jiangcheng gen` file; without one, listed subjects cannot be chosen and `hit_ratio`
    /// must be 0.
    pub file: Option<PathBuf>,
    /// Listed subjects held in memory for hits (a uniform sample of the file).
    #[serde(default = "default_sample")]
    pub sample: usize,
    #[serde(default)]
    pub hit_ratio: f64,
    #[serde(default)]
    pub invalid_ratio: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

impl Default for PopulationSpec {
    fn default() -> Self {
        Self {
            file: None,
            sample: default_sample(),
            hit_ratio: 0.0,
            invalid_ratio: 0.0,
            seed: default_seed(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighted<T> {
    pub code: T,
    #[serde(default = "one")]
    pub weight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `POST /v1/decide`, one subject.
    Decide,
    /// `POST /v1/decide/batch`, `size` subjects (a bidder list).
    Batch,
    /// `GET /v1/subjects/{id}`, a credit-centre look-up.
    Profile,
    /// `POST /bench/bare`: the server's reference endpoint, a decide-sized request and reply
    /// without decision logic (the server needs `--bench-routes`).
    Bare,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Decide => "decide",
            RequestKind::Batch => "batch",
            RequestKind::Profile => "profile",
            RequestKind::Bare => "bare",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub kind: RequestKind,
    #[serde(default = "one")]
    pub weight: u32,
    /// Subjects per batch.
    #[serde(default = "default_batch")]
    pub size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Open,
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub model: Model,
    /// Open model: the arrival-rate profile.
    #[serde(default, rename = "stage")]
    pub stages: Vec<Stage>,
    /// Closed model: how long to run.
    #[serde(default)]
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Requests per second at the end of the stage.
    pub rate: f64,
    pub seconds: f64,
    /// Rise (or fall) linearly from the previous stage's rate; otherwise jump to `rate`.
    #[serde(default)]
    pub ramp: bool,
}

/// The latency objective and error budget `find-max` holds the service to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    #[serde(default = "default_p99_ms")]
    pub p99_ms: f64,
    #[serde(default = "default_error_ratio")]
    pub max_error_ratio: f64,
}

impl Default for Slo {
    fn default() -> Self {
        Self {
            p99_ms: default_p99_ms(),
            max_error_ratio: default_error_ratio(),
        }
    }
}

fn default_name() -> String {
    "unnamed".to_owned()
}
fn default_target() -> String {
    "http://127.0.0.1:8080".to_owned()
}
fn default_connections() -> usize {
    32
}
fn default_timeout_ms() -> u64 {
    2000
}
fn default_sample() -> usize {
    100_000
}
fn default_seed() -> u64 {
    1
}
fn default_batch() -> usize {
    100
}
fn default_matters() -> Vec<Weighted<String>> {
    vec![Weighted {
        code: "gov_procurement".to_owned(),
        weight: 1,
    }]
}
fn one() -> u32 {
    1
}
fn default_p99_ms() -> f64 {
    1.0
}
fn default_error_ratio() -> f64 {
    0.001
}

/// The longest run a scenario may ask for: load tests are bounded in time.
const MAX_SECONDS: f64 = 6.0 * 3600.0;

impl Scenario {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario {}", path.display()))?;
        let scenario: Scenario = toml::from_str(&text)
            .with_context(|| format!("scenario {} is not valid", path.display()))?;
        scenario
            .validate()
            .with_context(|| format!("scenario {}", path.display()))?;
        Ok(scenario)
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(self.connections > 0, "`connections` must be at least 1");
        ensure!(
            self.targets.len() <= self.connections,
            "`targets` lists more instances than there are `connections` to reach them"
        );
        ensure!(self.timeout_ms > 0, "`timeout_ms` must be at least 1");
        ensure!(!self.requests.is_empty(), "give at least one [[request]]");
        ensure!(
            self.requests.iter().any(|r| r.weight > 0),
            "every [[request]] has weight 0"
        );
        ensure!(!self.matters.is_empty(), "give at least one [[matter]]");
        for request in &self.requests {
            ensure!(
                request.kind != RequestKind::Batch || (1..=10_000).contains(&request.size),
                "a batch `size` must be 1..=10000"
            );
        }
        let population = &self.population;
        for (name, ratio) in [
            ("hit_ratio", population.hit_ratio),
            ("invalid_ratio", population.invalid_ratio),
        ] {
            ensure!(
                (0.0..=1.0).contains(&ratio),
                "`population.{name}` must be within 0..=1"
            );
        }
        ensure!(
            population.hit_ratio + population.invalid_ratio <= 1.0,
            "`hit_ratio` + `invalid_ratio` must not exceed 1"
        );
        if population.hit_ratio > 0.0 && population.file.is_none() {
            bail!("`population.hit_ratio` needs `population.file` to draw listed subjects from");
        }
        match self.load.model {
            Model::Open => {
                ensure!(
                    !self.load.stages.is_empty(),
                    "the open model needs at least one [[load.stage]]"
                );
                for stage in &self.load.stages {
                    ensure!(
                        stage.rate >= 0.0 && stage.rate.is_finite(),
                        "a stage `rate` must be a number ≥ 0"
                    );
                    ensure!(
                        stage.seconds > 0.0 && stage.seconds.is_finite(),
                        "a stage's `seconds` must be > 0"
                    );
                }
            }
            Model::Closed => ensure!(
                self.load.seconds > 0.0 && self.load.seconds.is_finite(),
                "the closed model needs `load.seconds` > 0"
            ),
        }
        ensure!(
            self.duration().as_secs_f64() <= MAX_SECONDS,
            "the run would last longer than {} hours",
            MAX_SECONDS / 3600.0
        );
        Ok(())
    }

    /// The URLs the load goes to: `targets` when given, otherwise `target`.
    pub fn target_urls(&self) -> Vec<String> {
        if self.targets.is_empty() {
            vec![self.target.clone()]
        } else {
            self.targets.clone()
        }
    }

    pub fn duration(&self) -> Duration {
        let seconds = match self.load.model {
            Model::Open => self.load.stages.iter().map(|s| s.seconds).sum(),
            Model::Closed => self.load.seconds,
        };
        Duration::from_secs_f64(seconds)
    }
}

/// The arrival schedule of the open model: when the `n`-th request is due.
#[derive(Debug, Clone)]
pub struct Schedule {
    stages: Vec<Stage>,
}

impl Schedule {
    pub fn new(stages: &[Stage]) -> Self {
        Self {
            stages: stages.to_vec(),
        }
    }

    /// The stages as linear pieces of the rate over time.
    fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        self.stages
            .iter()
            .scan((0.0, 0.0), |(start, previous_rate), stage| {
                let segment = Segment {
                    start: *start,
                    seconds: stage.seconds,
                    from: if stage.ramp {
                        *previous_rate
                    } else {
                        stage.rate
                    },
                    to: stage.rate,
                };
                *start += stage.seconds;
                *previous_rate = stage.rate;
                Some(segment)
            })
    }

    /// The requests due in the first `elapsed` seconds: the integral of the rate profile (the
    /// tests check [`Schedule::time_of`] against it).
    #[cfg(test)]
    pub fn due_by(&self, elapsed: f64) -> f64 {
        self.segments()
            .map(|s| s.due_within((elapsed - s.start).clamp(0.0, s.seconds)))
            .sum()
    }

    /// The target rate at `elapsed` seconds.
    pub fn rate_at(&self, elapsed: f64) -> f64 {
        self.segments()
            .find(|s| elapsed < s.start + s.seconds)
            .map_or(0.0, |s| s.from + s.slope() * (elapsed - s.start))
    }

    pub fn seconds(&self) -> f64 {
        self.stages.iter().map(|s| s.seconds).sum()
    }

    /// When request `n` (from 0) is due, in seconds from the start; `None` past the last stage.
    /// The inverse of [`Schedule::due_by`], so arrivals are spaced exactly, ramps included.
    pub fn time_of(&self, n: u64) -> Option<f64> {
        let mut remaining = n as f64;
        for segment in self.segments() {
            let area = segment.due_within(segment.seconds);
            if remaining < area {
                // Solve from·t + slope·t²/2 = remaining for t within the segment.
                let (from, slope) = (segment.from, segment.slope());
                let t = if slope.abs() < 1e-12 {
                    remaining / from
                } else {
                    (-from + (from * from + 2.0 * slope * remaining).max(0.0).sqrt()) / slope
                };
                return Some(segment.start + t);
            }
            remaining -= area;
        }
        None
    }
}

/// One stage: the rate runs linearly from `from` to `to` over `seconds`, from `start`.
struct Segment {
    start: f64,
    seconds: f64,
    from: f64,
    to: f64,
}

impl Segment {
    fn slope(&self) -> f64 {
        (self.to - self.from) / self.seconds
    }

    /// Requests due in the first `within` seconds of the segment (the area under the rate).
    fn due_within(&self, within: f64) -> f64 {
        self.from * within + self.slope() * within * within / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(rate: f64, seconds: f64, ramp: bool) -> Stage {
        Stage {
            rate,
            seconds,
            ramp,
        }
    }

    #[test]
    fn a_constant_rate_is_due_linearly() {
        let schedule = Schedule::new(&[stage(1000.0, 10.0, false)]);
        assert_eq!(schedule.due_by(0.0), 0.0);
        assert!((schedule.due_by(2.5) - 2500.0).abs() < 1e-9);
        assert!((schedule.due_by(10.0) - 10_000.0).abs() < 1e-9);
        assert!((schedule.due_by(99.0) - 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn a_ramp_rises_from_the_previous_rate_and_a_step_jumps() {
        // 100/s for 10 s, a ramp to 300/s over 10 s, then a step down to 50/s for 10 s.
        let schedule = Schedule::new(&[
            stage(100.0, 10.0, false),
            stage(300.0, 10.0, true),
            stage(50.0, 10.0, false),
        ]);
        assert!((schedule.rate_at(15.0) - 200.0).abs() < 1e-9);
        assert!((schedule.rate_at(25.0) - 50.0).abs() < 1e-9);
        assert!((schedule.due_by(10.0) - 1000.0).abs() < 1e-9);
        // The ramp's area: (100 + 300) / 2 × 10.
        assert!((schedule.due_by(20.0) - 3000.0).abs() < 1e-9);
        assert!((schedule.due_by(30.0) - 3500.0).abs() < 1e-9);
        assert_eq!(schedule.rate_at(31.0), 0.0);
    }

    #[test]
    fn arrival_times_invert_the_due_count() {
        let schedule = Schedule::new(&[
            stage(100.0, 10.0, false),
            stage(300.0, 10.0, true),
            stage(0.0, 5.0, false),
            stage(50.0, 10.0, false),
        ]);
        assert_eq!(schedule.time_of(0), Some(0.0));
        assert!((schedule.time_of(100).expect("due") - 1.0).abs() < 1e-9);
        for n in [1u64, 999, 1000, 1500, 2999, 3000, 3499] {
            let t = schedule.time_of(n).expect("within the profile");
            assert!(
                (schedule.due_by(t) - n as f64).abs() < 1e-6,
                "request {n} at {t}"
            );
        }
        // The silent stage is skipped: request 3000 is the first of the last stage.
        assert!((schedule.time_of(3000).expect("due") - 25.0).abs() < 1e-9);
        assert_eq!(schedule.time_of(3500), None);
    }

    #[test]
    fn the_shipped_scenarios_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut read = 0;
        for file in std::fs::read_dir(&dir).expect("loadtest/scenarios") {
            let path = file.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                Scenario::read(&path).unwrap_or_else(|err| panic!("{err:#}"));
                read += 1;
            }
        }
        assert!(read >= 4, "{read} scenarios");
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_field_named() {
        let base = r#"
            [[request]]
            kind = "decide"
            [load]
            model = "open"
            [[load.stage]]
            rate = 100
            seconds = 1
        "#;
        let parse = |text: &str| -> Result<Scenario> {
            let scenario: Scenario = toml::from_str(text)?;
            scenario.validate()?;
            Ok(scenario)
        };
        assert!(parse(base).is_ok());
        let with_hits = format!("{base}\n[population]\nhit_ratio = 0.1\n");
        let err = parse(&with_hits).expect_err("hits need a file");
        assert!(err.to_string().contains("population.file"), "{err}");
        let closed = base.replace("model = \"open\"", "model = \"closed\"");
        let err = parse(&closed).expect_err("closed needs seconds");
        assert!(err.to_string().contains("load.seconds"), "{err}");
        let err =
            parse(&base.replace("seconds = 1", "seconds = 100000")).expect_err("bounded in time");
        assert!(err.to_string().contains("hours"), "{err}");
        assert!(parse(&base.replace("kind = \"decide\"", "kind = \"delete\"")).is_err());
    }
}
