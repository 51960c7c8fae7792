//! The HTML report: one page, charts drawn by plotters as inline SVG, a table per run.

use super::{Report, Step};
use crate::record::Percentiles;
use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::fmt::Write as _;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 340;
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub fn render(report: &Report) -> Result<String> {
    let mut page = String::new();
    let title = escape(&format!("{} — {}", report.scenario.name, report.mode));
    let _ = write!(
        page,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}.warn{{color:#b00}}\
         figure{{margin:1em 0}}</style></head><body><h1>{title}</h1>\
         <p>{} {} · started {} · target <code>{}</code> · {} connections · {:?} model</p>",
        report.tool,
        report.version,
        escape(&report.started_at),
        escape(&report.scenario.target),
        report.scenario.connections,
        report.scenario.load.model,
    );
    if let Some(find_max) = &report.find_max {
        let _ = write!(
            page,
            "<h2>Highest sustainable rate: {}</h2><p>SLO p99 ≤ {} ms, errors ≤ {}%. Stopped because: {}</p>",
            find_max
                .highest_sustainable_rate
                .map_or_else(|| "none".to_owned(), |r| format!("{r:.0} req/s")),
            find_max.slo.p99_ms,
            find_max.slo.max_error_ratio * 100.0,
            escape(&find_max.stopped_because)
        );
        page.push_str(&figure(
            "p99 and p99.9 latency by offered rate",
            &rate_chart(&report.runs)?,
        ));
    }
    page.push_str(&figure(
        "Latency by percentile (from the intended send time)",
        &percentile_chart(&report.runs)?,
    ));
    page.push_str(&summary_table(&report.runs));
    for step in &report.runs {
        let _ = write!(page, "<h2>{}</h2>", escape(&step.label));
        for finding in &step.output.generator.findings {
            let _ = write!(page, "<p class=\"warn\">⚠ {}</p>", escape(finding));
        }
        page.push_str(&figure(
            "Latency over time (per second)",
            &latency_over_time(step)?,
        ));
        page.push_str(&figure(
            "Throughput over time",
            &throughput_over_time(step)?,
        ));
        page.push_str(&kind_table(step));
    }
    page.push_str("</body></html>\n");
    Ok(page)
}

fn figure(caption: &str, svg: &str) -> String {
    format!(
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        escape(caption)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn summary_table(runs: &[Step]) -> String {
    let mut table = String::from(
        "<table><tr><th>run</th><th>offered/s</th><th>done/s</th><th>p50 µs</th><th>p90</th>\
         <th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>errors</th><th>generator</th></tr>",
    );
    for step in runs {
        let output = &step.output;
        let p = &output.recorded.latency;
        let _ = write!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&step.label),
            step.offered_rate
                .map_or_else(|| "–".to_owned(), |r| format!("{r:.0}")),
            output.achieved_rate,
            p.p50,
            p.p90,
            p.p99,
            p.p99_9,
            p.p99_99,
            p.max,
            output.recorded.counts.errors(),
            if output.generator.bottleneck {
                "<span class=\"warn\">bottleneck</span>"
            } else {
                "ok"
            }
        );
    }
    table.push_str("</table>");
    table
}

fn kind_table(step: &Step) -> String {
    let mut table = String::from(
        "<table><tr><th>request</th><th>count</th><th>mean µs</th><th>p50</th><th>p90</th><th>p99</th>\
         <th>p99.9</th><th>max</th></tr>",
    );
    let rows = std::iter::once(("all", &step.output.recorded.latency)).chain(
        step.output
            .recorded
            .by_kind
            .iter()
            .map(|(kind, p)| (kind.as_str(), p)),
    );
    for (kind, p) in rows {
        let _ = write!(
            table,
            "<tr><td>{kind}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.count, p.mean, p.p50, p.p90, p.p99, p.p99_9, p.max
        );
    }
    let counts = &step.output.recorded.counts;
    let _ = write!(
        table,
        "</table><p>{} scheduled, {} completed: {} ok, {} refused as expected (malformed \
         identifiers), {} unexpected status, {} transport errors, {} timeouts, {} dropped.</p>",
        counts.scheduled,
        counts.completed,
        counts.ok,
        counts.expected_rejections,
        counts.unexpected_status,
        counts.transport_errors,
        counts.timeouts,
        counts.dropped
    );
    table
}

/// The top of the y axis: a little above the highest point.
fn y_top(series: &[(String, Vec<(f64, f64)>)]) -> f64 {
    series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|p| p.1))
        .fold(1.0f64, f64::max)
        * 1.2
}

/// Draws one chart into an SVG string; `series` are (label, points).
fn line_chart<X, Y>(
    x_range: X,
    y_range: Y,
    (x_desc, y_desc): (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
    (x_labels, x_formatter): (usize, &dyn Fn(&f64) -> String),
) -> Result<String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range, y_range)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_labels(x_labels)
            .x_label_formatter(x_formatter)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (index, (label, points)) in series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| anyhow!("{e}"))?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg)
}

/// A chart of latencies in microseconds, on a logarithmic axis.
fn latency_chart(
    x_range: std::ops::Range<f64>,
    x_desc: &str,
    series: &[(String, Vec<(f64, f64)>)],
    x_axis: (usize, &dyn Fn(&f64) -> String),
) -> Result<String> {
    line_chart(
        x_range,
        (1.0..y_top(series)).log_scale(),
        (x_desc, "latency µs (log)"),
        series,
        x_axis,
    )
}

/// Seconds of the run, each second's value drawn at its middle.
fn seconds_labels(x: &f64) -> String {
    format!("{x:.0}")
}

fn seconds_axis(step: &Step) -> std::ops::Range<f64> {
    0.0..(step.output.recorded.intervals.len().max(1) as f64)
}

fn latency_over_time(step: &Step) -> Result<String> {
    let intervals = &step.output.recorded.intervals;
    let series = |label: &str, value: fn(&crate::record::Interval) -> u64| {
        (
            label.to_owned(),
            intervals
                .iter()
                .filter(|i| i.completed > 0)
                .map(|i| (f64::from(i.second) + 0.5, value(i) as f64))
                .collect::<Vec<_>>(),
        )
    };
    latency_chart(
        seconds_axis(step),
        "seconds",
        &[
            series("p50", |i| i.p50),
            series("p99", |i| i.p99),
            series("max", |i| i.max),
        ],
        (11, &seconds_labels),
    )
}

fn throughput_over_time(step: &Step) -> Result<String> {
    let intervals = &step.output.recorded.intervals;
    let mut series = vec![(
        "completed/s".to_owned(),
        intervals
            .iter()
            .map(|i| (f64::from(i.second) + 0.5, i.completed as f64))
            .collect(),
    )];
    if intervals.iter().any(|i| i.target_rate > 0.0) {
        series.push((
            "target/s".to_owned(),
            intervals
                .iter()
                .map(|i| (f64::from(i.second) + 0.5, i.target_rate))
                .collect(),
        ));
    }
    series.push((
        "errors/s".to_owned(),
        intervals
            .iter()
            .map(|i| (f64::from(i.second) + 0.5, i.errors as f64))
            .collect(),
    ));
    line_chart(
        seconds_axis(step),
        0.0..y_top(&series),
        ("seconds", "requests per second"),
        &series,
        (11, &seconds_labels),
    )
}

/// Latency against percentile on a "nines" axis: x = -log10(1 - p), so 90%, 99%, 99.9% are
/// evenly spaced, as in HdrHistogram's plots.
fn percentile_chart(runs: &[Step]) -> Result<String> {
    let nines = |percentile: f64| -(1.0 - percentile / 100.0).max(1e-6).log10();
    let series: Vec<_> = runs
        .iter()
        .map(|step| {
            (
                step.label.clone(),
                step.output
                    .recorded
                    .percentile_curve
                    .iter()
                    .map(|&(p, micros)| (nines(p), micros as f64))
                    .collect(),
            )
        })
        .collect();
    latency_chart(
        0.0f64..5.0,
        "percentile",
        &series,
        (6, &|x: &f64| {
            // Ticks at whole nines: 0%, 90%, 99%, 99.9%, …
            let percentile = 100.0 * (1.0 - 10f64.powf(-x.round()));
            format!("{percentile:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_owned()
                + "%"
        }),
    )
}

fn rate_chart(runs: &[Step]) -> Result<String> {
    let points = |value: fn(&Percentiles) -> u64| -> Vec<(f64, f64)> {
        runs.iter()
            .filter_map(|s| {
                s.offered_rate
                    .map(|r| (r, value(&s.output.recorded.latency) as f64))
            })
            .collect()
    };
    let max_rate = runs
        .iter()
        .filter_map(|s| s.offered_rate)
        .fold(1.0f64, f64::max)
        * 1.05;
    latency_chart(
        0.0..max_rate,
        "offered rate (req/s)",
        &[
            ("p99".to_owned(), points(|p| p.p99)),
            ("p99.9".to_owned(), points(|p| p.p99_9)),
        ],
        (11, &|x| format!("{x:.0}")),
    )
}
