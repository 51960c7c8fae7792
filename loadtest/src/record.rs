//! What a run measured: HDR histograms of latency in microseconds (overall, by request kind, by
//! target when there are several, and one summary per second of the run), outcome counts, and
//! the generator's own delay.

use crate::scenario::{RequestKind, Schedule};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Latencies up to a minute, 3 significant digits (1 µs resolution below 1 ms).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

fn micros(duration: Duration) -> u64 {
    (duration.as_micros() as u64).clamp(1, 60_000_000)
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Ok,
    /// The 4xx a malformed identifier is supposed to get.
    Rejected,
    /// Any other status.
    Status(u16),
    /// Connection refused or reset, or a malformed response.
    Transport,
    Timeout,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Requests the schedule asked for.
    pub scheduled: u64,
    /// Requests never sent: every connection busy and the queue full.
    pub dropped: u64,
    pub completed: u64,
    pub ok: u64,
    /// Malformed identifiers answered 4xx, as they should be.
    pub expected_rejections: u64,
    pub unexpected_status: u64,
    pub transport_errors: u64,
    pub timeouts: u64,
}

impl Counts {
    pub fn errors(&self) -> u64 {
        self.dropped + self.unexpected_status + self.transport_errors + self.timeouts
    }

    /// Errors over everything scheduled (or completed, in the closed model).
    pub fn error_ratio(&self) -> f64 {
        let base = self.scheduled.max(self.completed + self.dropped);
        if base == 0 {
            0.0
        } else {
            self.errors() as f64 / base as f64
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub p99_99: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            mean: histogram.mean(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p99_9: histogram.value_at_quantile(0.999),
            p99_99: histogram.value_at_quantile(0.9999),
            max: histogram.max(),
        }
    }
}

/// One second of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    pub second: u32,
    pub target_rate: f64,
    pub completed: u64,
    pub errors: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// Collects a run; single-threaded (the harness runs on one core).
pub struct Recorder {
    started: Instant,
    /// The open model's arrivals, for each second's target rate.
    schedule: Option<Schedule>,
    all: Histogram<u64>,
    by_kind: BTreeMap<&'static str, Histogram<u64>>,
    /// The targets' URLs and, in the same order, their answers' latencies.
    targets: Vec<String>,
    by_target: Vec<Histogram<u64>>,
    /// The dispatcher's delay past each intended send time: the generator's own lateness.
    dispatch_lateness: Histogram<u64>,
    counts: Counts,
    intervals: Vec<Interval>,
    second: Histogram<u64>,
    second_errors: u64,
}

impl Recorder {
    pub fn new(started: Instant, schedule: Option<Schedule>, targets: Vec<String>) -> Self {
        Self {
            started,
            schedule,
            all: histogram(),
            by_kind: BTreeMap::new(),
            by_target: targets.iter().map(|_| histogram()).collect(),
            targets,
            dispatch_lateness: histogram(),
            counts: Counts::default(),
            intervals: Vec::new(),
            second: histogram(),
            second_errors: 0,
        }
    }

    pub fn scheduled(&mut self, lateness: Duration, dropped: bool) {
        self.counts.scheduled += 1;
        // Lateness of zero is recorded as 1 µs, the histogram's floor.
        let _ = self.dispatch_lateness.record(micros(lateness));
        if dropped {
            self.counts.dropped += 1;
            self.second_errors += 1;
        }
    }

    /// A finished request, sent to the `target`-th target; `latency` runs from the intended send
    /// time in the open model.
    pub fn finished(
        &mut self,
        kind: RequestKind,
        target: usize,
        latency: Duration,
        outcome: Outcome,
        now: Instant,
    ) {
        self.roll(now);
        self.counts.completed += 1;
        match outcome {
            Outcome::Ok => self.counts.ok += 1,
            Outcome::Rejected => self.counts.expected_rejections += 1,
            Outcome::Status(_) => self.counts.unexpected_status += 1,
            Outcome::Transport => self.counts.transport_errors += 1,
            Outcome::Timeout => self.counts.timeouts += 1,
        }
        if matches!(outcome, Outcome::Ok | Outcome::Rejected) {
            let value = micros(latency);
            let _ = self.all.record(value);
            let _ = self.second.record(value);
            let _ = self
                .by_kind
                .entry(kind.as_str())
                .or_insert_with(histogram)
                .record(value);
            if let Some(histogram) = self.by_target.get_mut(target) {
                let _ = histogram.record(value);
            }
        } else {
            self.second_errors += 1;
        }
    }

    /// Closes the per-second summaries up to `now`.
    pub fn roll(&mut self, now: Instant) {
        let second = now.saturating_duration_since(self.started).as_secs() as u32;
        while (self.intervals.len() as u32) < second {
            let summary = Percentiles::of(&self.second);
            let closing = self.intervals.len() as u32;
            self.intervals.push(Interval {
                second: closing,
                target_rate: self
                    .schedule
                    .as_ref()
                    .map_or(0.0, |s| s.rate_at(f64::from(closing) + 0.5)),
                completed: summary.count,
                errors: self.second_errors,
                p50: summary.p50,
                p99: summary.p99,
                max: summary.max,
            });
            self.second.reset();
            self.second_errors = 0;
        }
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The latest closed second, for the progress line.
    pub fn last_interval(&self) -> Option<&Interval> {
        self.intervals.last()
    }

    pub fn finish(mut self, ended: Instant) -> Recorded {
        self.roll(ended + Duration::from_secs(1));
        let curve = percentile_curve(&self.all);
        Recorded {
            seconds: ended.duration_since(self.started).as_secs_f64(),
            latency: Percentiles::of(&self.all),
            by_kind: self
                .by_kind
                .iter()
                .map(|(kind, h)| ((*kind).to_owned(), Percentiles::of(h)))
                .collect(),
            by_target: self
                .targets
                .into_iter()
                .zip(&self.by_target)
                .map(|(url, h)| (url, Percentiles::of(h)))
                .collect(),
            dispatch_lateness: Percentiles::of(&self.dispatch_lateness),
            counts: self.counts,
            intervals: self.intervals,
            percentile_curve: curve,
        }
    }
}

/// The latency at each percentile from 0 to 99.999, spaced for a log-scaled "nines" axis.
fn percentile_curve(histogram: &Histogram<u64>) -> Vec<(f64, u64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    (0..=50)
        .map(|step| {
            // 1 - 10^(-step/10): 0, 20.6%, 36.9%, … 90% at step 10, 99% at 20, 99.999% at 50.
            let quantile = 1.0 - 10f64.powf(-(step as f64) / 10.0);
            (quantile * 100.0, histogram.value_at_quantile(quantile))
        })
        .collect()
}

/// A finished run's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub seconds: f64,
    pub latency: Percentiles,
    pub by_kind: BTreeMap<String, Percentiles>,
    /// Answered requests by target URL (one entry for a single target).
    pub by_target: BTreeMap<String, Percentiles>,
    pub dispatch_lateness: Percentiles,
    pub counts: Counts,
    pub intervals: Vec<Interval>,
    /// `(percentile, µs)` pairs for the percentile chart.
    pub percentile_curve: Vec<(f64, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_errors_and_seconds_are_kept_apart() {
        let start = Instant::now();
        let schedule = Schedule::new(&[crate::scenario::Stage {
            rate: 100.0,
            seconds: 1.0,
            ramp: false,
        }]);
        let targets = vec!["http://a".to_owned(), "http://b".to_owned()];
        let mut recorder = Recorder::new(start, Some(schedule), targets);
        for i in 0..100u64 {
            recorder.scheduled(Duration::from_micros(3), false);
            let outcome = if i < 98 {
                Outcome::Ok
            } else {
                Outcome::Status(503)
            };
            let at = start + Duration::from_millis(10 * i);
            recorder.finished(
                RequestKind::Decide,
                (i % 2) as usize,
                Duration::from_micros(100 + i),
                outcome,
                at,
            );
        }
        recorder.scheduled(Duration::ZERO, true);
        let recorded = recorder.finish(start + Duration::from_millis(1000));
        assert_eq!(recorded.counts.ok, 98);
        assert_eq!(recorded.counts.unexpected_status, 2);
        assert_eq!(recorded.counts.dropped, 1);
        assert_eq!(recorded.counts.errors(), 3);
        assert_eq!(recorded.latency.count, 98, "errors carry no latency");
        assert_eq!(recorded.latency.max, 197);
        assert_eq!(recorded.by_kind["decide"].count, 98);
        assert_eq!(recorded.by_target["http://a"].count, 49);
        assert_eq!(recorded.by_target["http://b"].count, 49);
        assert_eq!(recorded.intervals.len(), 2);
        assert_eq!(recorded.intervals[0].completed, 98);
        assert_eq!(recorded.intervals[0].errors, 3);
        assert_eq!(recorded.intervals[1].completed, 0);
        assert_eq!(recorded.intervals[0].target_rate, 100.0);
        assert_eq!(recorded.intervals[1].target_rate, 0.0, "past the schedule");
        assert!(recorded
            .percentile_curve
            .windows(2)
            .all(|w| w[0].1 <= w[1].1));
    }
}
