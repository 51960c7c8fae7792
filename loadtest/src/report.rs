//! The three reports of a run: a terminal summary, a JSON file for machines and a self-contained
//! HTML page (inline SVG charts, no scripts, no external files) for people.

use crate::record::Percentiles;
use crate::runner::RunOutput;
use crate::scenario::{Scenario, Slo};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

mod html;

#[derive(Debug, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub started_at: String,
    pub mode: &'static str,
    pub scenario: Scenario,
    /// One run, or the steps of `find-max`.
    pub runs: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub find_max: Option<FindMax>,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub label: String,
    /// The arrival rate asked for (open model).
    pub offered_rate: Option<f64>,
    #[serde(flatten)]
    pub output: RunOutput,
}

#[derive(Debug, Serialize)]
pub struct FindMax {
    pub slo: Slo,
    /// The highest offered rate that held the SLO and error budget, if any did.
    pub highest_sustainable_rate: Option<f64>,
    /// Why the search stopped.
    pub stopped_because: String,
}

impl Report {
    pub fn new(mode: &'static str, scenario: Scenario) -> Self {
        Self {
            tool: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            started_at: jiangcheng::timestamp::Timestamp::now().to_string(),
            mode,
            scenario,
            runs: Vec::new(),
            find_max: None,
        }
    }

    /// Writes `<prefix>.json` and `<prefix>.html`; returns their paths.
    pub fn write(&self, prefix: &Path) -> Result<(String, String)> {
        let json_path = format!("{}.json", prefix.display());
        let html_path = format!("{}.html", prefix.display());
        if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let json = serde_json::to_vec_pretty(self)?;
        std::fs::write(&json_path, json).with_context(|| format!("cannot write {json_path}"))?;
        std::fs::write(&html_path, html::render(self)?)
            .with_context(|| format!("cannot write {html_path}"))?;
        Ok((json_path, html_path))
    }

    /// The terminal summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} — {} against {}",
            self.scenario.name, self.mode, self.scenario.target
        );
        for step in &self.runs {
            let _ = write!(out, "{}", step_summary(step));
        }
        if let Some(find_max) = &self.find_max {
            let _ = writeln!(
                out,
                "\nhighest sustainable rate (p99 ≤ {} ms, errors ≤ {}%): {}\nstopped because: {}",
                find_max.slo.p99_ms,
                find_max.slo.max_error_ratio * 100.0,
                find_max
                    .highest_sustainable_rate
                    .map_or_else(|| "none".to_owned(), |r| format!("{r:.0} req/s")),
                find_max.stopped_because
            );
        }
        out
    }
}

fn step_summary(step: &Step) -> String {
    let output = &step.output;
    let counts = &output.recorded.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== {} ({:.1} s){}",
        step.label,
        output.recorded.seconds,
        step.offered_rate
            .map_or_else(String::new, |r| format!(", offered {r:.0} req/s"))
    );
    let _ = writeln!(
        out,
        "requests: {} completed ({:.0}/s), {} ok, {} refused as expected, {} errors \
         ({} status, {} transport, {} timeouts, {} dropped)",
        counts.completed,
        output.achieved_rate,
        counts.ok,
        counts.expected_rejections,
        counts.errors(),
        counts.unexpected_status,
        counts.transport_errors,
        counts.timeouts,
        counts.dropped
    );
    let _ = writeln!(
        out,
        "latency µs      {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "p50", "p90", "p99", "p99.9", "p99.99", "max", "count"
    );
    let _ = writeln!(out, "{}", latency_row("all", &output.recorded.latency));
    for (kind, percentiles) in &output.recorded.by_kind {
        let _ = writeln!(out, "{}", latency_row(kind, percentiles));
    }
    if output.recorded.by_target.len() > 1 {
        for (url, percentiles) in &output.recorded.by_target {
            let rate = percentiles.count as f64 / output.recorded.seconds.max(1e-9);
            let _ = writeln!(out, "  {url}: {rate:.0}/s answered");
            let _ = writeln!(out, "{}", latency_row("", percentiles));
        }
    }
    let generator = &output.generator;
    let _ = writeln!(
        out,
        "generator: network thread {:.0}% busy, dispatch lateness p50 {} µs p99 {} µs, {} sends > 1 ms late",
        generator.cpu_cores_used * 100.0,
        output.recorded.dispatch_lateness.p50,
        output.recorded.dispatch_lateness.p99,
        generator.late_sends
    );
    for finding in &generator.findings {
        let _ = writeln!(out, "WARNING: {finding}");
    }
    out
}

fn latency_row(label: &str, p: &Percentiles) -> String {
    format!(
        "  {label:<13} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max, p.count
    )
}
