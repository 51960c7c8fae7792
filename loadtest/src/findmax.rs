//! `find-max`: raises a constant arrival rate step by step until the latency objective or the
//! error budget breaks, then narrows the gap between the last good and the first bad rate; the
//! answer is the highest rate that held.

use crate::report::{FindMax, Report, Step};
use crate::runner::{Load, Plan, RunOutput};
use crate::scenario::{Scenario, Schedule, Slo, Stage};
use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct FindMaxArgs {
    /// The first rate tried (requests per second).
    #[arg(long, default_value_t = 1000.0)]
    pub start: f64,
    /// Each next rate is the last one times this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Seconds per step.
    #[arg(long, default_value_t = 10.0)]
    pub step_seconds: f64,
    /// Never offer more than this.
    #[arg(long, default_value_t = 1_000_000.0)]
    pub max_rate: f64,
    /// Bisection steps between the last good and the first bad rate.
    #[arg(long, default_value_t = 3)]
    pub refine: u32,
}

/// Steps are bounded even if the server never breaks.
const MAX_STEPS: usize = 40;

/// Why a step failed, or `None` if it held.
pub fn verdict(output: &RunOutput, slo: &Slo) -> Option<String> {
    if output.generator.bottleneck {
        return Some(format!(
            "the generator could not keep up: {}",
            output.generator.findings.join("; ")
        ));
    }
    let error_ratio = output.recorded.counts.error_ratio();
    if error_ratio > slo.max_error_ratio {
        return Some(format!(
            "errors {:.3}% > {}%",
            100.0 * error_ratio,
            100.0 * slo.max_error_ratio
        ));
    }
    let p99_ms = output.recorded.latency.p99 as f64 / 1000.0;
    if p99_ms > slo.p99_ms {
        return Some(format!("p99 {p99_ms:.3} ms > {} ms", slo.p99_ms));
    }
    None
}

pub fn run(
    args: &FindMaxArgs,
    scenario: &Scenario,
    mut step: impl FnMut(&Plan, &str) -> Result<RunOutput>,
    report: &mut Report,
) -> Result<()> {
    anyhow::ensure!(args.start > 0.0, "--start must be > 0");
    anyhow::ensure!(args.factor > 1.0, "--factor must be > 1");
    anyhow::ensure!(args.step_seconds > 0.0, "--step-seconds must be > 0");
    let slo = scenario.slo;
    let plan_at = |rate: f64| Plan {
        load: Load::Open(Schedule::new(&[Stage {
            rate,
            seconds: args.step_seconds,
            ramp: false,
        }])),
        ..Plan::from_scenario(scenario)
    };
    let mut good: Option<f64> = None;
    let mut bad: Option<(f64, String)> = None;
    let mut rate = args.start.min(args.max_rate);
    let mut attempt = |rate: f64, report: &mut Report| -> Result<Option<String>> {
        let label = format!("{rate:.0} req/s");
        let output = step(&plan_at(rate), &label)?;
        let failed = verdict(&output, &slo);
        eprintln!(
            "{label}: p99 {} µs, {} errors → {}",
            output.recorded.latency.p99,
            output.recorded.counts.errors(),
            failed.as_deref().unwrap_or("holds")
        );
        report.runs.push(Step {
            label,
            offered_rate: Some(rate),
            output,
        });
        Ok(failed)
    };
    // Climb.
    let mut climbed_to_limit = false;
    for _ in 0..MAX_STEPS {
        match attempt(rate, report)? {
            Some(reason) => {
                bad = Some((rate, reason));
                break;
            }
            None => good = Some(rate),
        }
        if rate >= args.max_rate {
            climbed_to_limit = true;
            break;
        }
        rate = (rate * args.factor).min(args.max_rate);
    }
    // Narrow.
    if let (Some(mut low), Some((mut high, _))) = (good, bad.clone()) {
        for _ in 0..args.refine {
            let middle = (low + high) / 2.0;
            match attempt(middle, report)? {
                Some(reason) => {
                    high = middle;
                    bad = Some((middle, reason));
                }
                None => low = middle,
            }
        }
        good = Some(low);
    }
    let stopped_because = match (&bad, climbed_to_limit) {
        (Some((rate, reason)), _) => format!("at {rate:.0} req/s: {reason}"),
        (None, true) => format!("reached --max-rate {} req/s", args.max_rate),
        (None, false) => format!("{MAX_STEPS} steps without breaking"),
    };
    report.find_max = Some(FindMax {
        slo,
        highest_sustainable_rate: good,
        stopped_because,
    });
    Ok(())
}
