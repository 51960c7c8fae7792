//! Executes a run: the open model (arrivals at scheduled times, whatever the server does, wrk2's
//! model) or the closed model (each connection sends its next request when answered).
//!
//! In the open model a dispatcher thread builds each request ahead of time, sleeps until its
//! intended send time and hands it to a pool of keep-alive connections on a single-threaded
//! runtime. Latency runs from the intended send time, so a server that stalls is charged for
//! every request that had to wait (no coordinated omission). The dispatcher's own delay past
//! the intended time is recorded apart, as the generator's lateness.

use crate::client::{Connection, Target};
use crate::population::{Request, Workload};
use crate::record::{Outcome, Recorded, Recorder};
use crate::scenario::{Model, Schedule};
use anyhow::Result;
use rand::prelude::*;
use serde::Serialize;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arrivals waiting for a free connection beyond this many are dropped (and counted): the server
/// is then far past saturation, and an unbounded queue would only hide it.
const QUEUE: usize = 100_000;
/// A send later than this past its intended time means the generator could not keep up.
const LATE: Duration = Duration::from_millis(1);

/// How the load is offered.
#[derive(Clone)]
pub enum Load {
    /// Arrivals on a schedule.
    Open(Schedule),
    /// Busy connections for this many seconds.
    Closed { seconds: f64 },
}

pub struct Plan {
    pub load: Load,
    pub connections: usize,
    pub timeout: Duration,
    /// 0: no limit.
    pub max_requests: u64,
    pub seed: u64,
}

impl Plan {
    pub fn from_scenario(scenario: &crate::scenario::Scenario) -> Self {
        Self {
            load: match scenario.load.model {
                Model::Open => Load::Open(Schedule::new(&scenario.load.stages)),
                Model::Closed => Load::Closed {
                    seconds: scenario.load.seconds,
                },
            },
            connections: scenario.connections,
            timeout: Duration::from_millis(scenario.timeout_ms),
            max_requests: scenario.max_requests,
            seed: scenario.population.seed,
        }
    }

    pub fn seconds(&self) -> f64 {
        match &self.load {
            Load::Open(schedule) => schedule.seconds(),
            Load::Closed { seconds } => *seconds,
        }
    }
}

/// Whether the numbers are the server's or the generator's.
#[derive(Debug, Clone, Serialize)]
pub struct Generator {
    /// CPU time of the thread that sends and receives, over wall time (1.0 = a core busy). The
    /// dispatcher thread, which yields while it waits for send times, is left out.
    pub cpu_cores_used: f64,
    /// Cores the harness may run on (its affinity).
    pub cores_available: usize,
    /// Sends more than 1 ms past their intended time.
    pub late_sends: u64,
    pub bottleneck: bool,
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunOutput {
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Completed requests per second of the run.
    pub achieved_rate: f64,
    pub generator: Generator,
}

type Shared = Arc<Mutex<Recorder>>;

fn lock(recorder: &Shared) -> std::sync::MutexGuard<'_, Recorder> {
    // A panic while recording would already have ended the run; the data stays usable.
    recorder
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs the plan, connection `i` going to `targets[i % targets.len()]`; `progress` prints a
/// progress line every second to standard error.
pub fn run(
    plan: &Plan,
    workload: Arc<Workload>,
    targets: &[Target],
    progress: bool,
) -> Result<RunOutput> {
    anyhow::ensure!(!targets.is_empty(), "no target to send to");
    let cpu_before = thread_cpu_seconds();
    // The schedule starts a moment from now, once the runtime and the connections are set up.
    let started = Instant::now() + Duration::from_millis(20);
    let recorder: Shared = Arc::new(Mutex::new(Recorder::new(
        started,
        match &plan.load {
            Load::Open(schedule) => Some(schedule.clone()),
            Load::Closed { .. } => None,
        },
        targets.iter().map(Target::url).collect(),
    )));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let late_sends = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let progress = progress.then(|| tokio::spawn(report_progress(recorder.clone(), started)));
        match &plan.load {
            Load::Open(schedule) => {
                open(
                    plan,
                    schedule,
                    &workload,
                    targets,
                    &recorder,
                    started,
                    &late_sends,
                )
                .await;
            }
            Load::Closed { seconds } => {
                closed(plan, *seconds, &workload, targets, &recorder, started).await;
            }
        }
        if let Some(progress) = progress {
            progress.abort();
            // An aborted task is dropped, and its share of the recorder with it, only once
            // the runtime gets to it: wait for that here, before the recorder is unwrapped.
            let _cancelled = progress.await;
            eprintln!();
        }
    });
    let ended = Instant::now();
    let cpu = thread_cpu_seconds() - cpu_before;
    let wall = ended.duration_since(started).as_secs_f64();
    let recorder = Arc::try_unwrap(recorder)
        .map_err(|_| anyhow::anyhow!("a connection task outlived the run"))?
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let recorded = recorder.finish(ended);
    let generator = judge_generator(
        cpu / wall.max(1e-9),
        late_sends.load(Ordering::Relaxed),
        &recorded,
    );
    Ok(RunOutput {
        achieved_rate: recorded.counts.completed as f64 / wall.max(1e-9),
        recorded,
        generator,
    })
}

struct Job {
    intended: Instant,
    request: Request,
}

async fn open(
    plan: &Plan,
    schedule: &Schedule,
    workload: &Arc<Workload>,
    targets: &[Target],
    recorder: &Shared,
    started: Instant,
    late_sends: &Arc<AtomicU64>,
) {
    let (jobs_tx, jobs_rx) = async_channel::bounded::<Job>(QUEUE);
    let mut connections = tokio::task::JoinSet::new();
    for index in 0..plan.connections {
        let jobs = jobs_rx.clone();
        let to = index % targets.len();
        let (target, recorder) = (targets[to].clone(), recorder.clone());
        let timeout = plan.timeout;
        connections.spawn(async move {
            let mut connection = None;
            while let Ok(job) = jobs.recv().await {
                let outcome = send(&mut connection, &target, &job.request, timeout).await;
                let now = Instant::now();
                lock(&recorder).finished(job.request.kind, to, now - job.intended, outcome, now);
            }
        });
    }
    drop(jobs_rx);
    let dispatcher = {
        let (workload, recorder, late_sends) =
            (workload.clone(), recorder.clone(), late_sends.clone());
        let (schedule, max_requests, seed) = (schedule.clone(), plan.max_requests, plan.seed);
        std::thread::spawn(move || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut n = 0u64;
            while max_requests == 0 || n < max_requests {
                let Some(at) = schedule.time_of(n) else { break };
                let intended = started + Duration::from_secs_f64(at);
                let request = workload.next(&mut rng);
                sleep_until(intended);
                let lateness = Instant::now().saturating_duration_since(intended);
                if lateness > LATE {
                    late_sends.fetch_add(1, Ordering::Relaxed);
                }
                let dropped = jobs_tx.try_send(Job { intended, request }).is_err();
                lock(&recorder).scheduled(lateness, dropped);
                n += 1;
            }
        })
    };
    // The dispatcher ends with the schedule and drops the sender; the connections then drain.
    while connections.join_next().await.is_some() {}
    let _ = dispatcher.join();
}

/// Sleeps to within ~100 µs of `deadline`, then yields until it: the OS timer alone wakes up
/// tens to hundreds of microseconds late, which would be charged to the server. Yielding (not
/// spinning) leaves the core to the connections when both share one.
fn sleep_until(deadline: Instant) {
    const SPIN: Duration = Duration::from_micros(100);
    let now = Instant::now();
    if deadline > now + SPIN {
        std::thread::sleep(deadline - now - SPIN);
    }
    while Instant::now() < deadline {
        std::thread::yield_now();
    }
}

async fn closed(
    plan: &Plan,
    seconds: f64,
    workload: &Arc<Workload>,
    targets: &[Target],
    recorder: &Shared,
    started: Instant,
) {
    let deadline = started + Duration::from_secs_f64(seconds);
    let issued = Arc::new(AtomicU64::new(0));
    let mut callers = tokio::task::JoinSet::new();
    for index in 0..plan.connections {
        let to = index % targets.len();
        let (workload, target, recorder, issued) = (
            workload.clone(),
            targets[to].clone(),
            recorder.clone(),
            issued.clone(),
        );
        let (timeout, max_requests) = (plan.timeout, plan.max_requests);
        let mut rng = rand::rngs::StdRng::seed_from_u64(plan.seed ^ (index as u64 + 1));
        callers.spawn(async move {
            let mut connection = None;
            loop {
                let sent = issued.fetch_add(1, Ordering::Relaxed);
                if Instant::now() >= deadline || (max_requests > 0 && sent >= max_requests) {
                    break;
                }
                let request = workload.next(&mut rng);
                let intended = Instant::now();
                lock(&recorder).scheduled(Duration::ZERO, false);
                let outcome = send(&mut connection, &target, &request, timeout).await;
                let now = Instant::now();
                lock(&recorder).finished(request.kind, to, now - intended, outcome, now);
            }
        });
    }
    while callers.join_next().await.is_some() {}
}

/// Sends on the connection, opening one if there is none; a connection that failed or timed
/// out is dropped, and the next request opens a new one.
async fn send(
    connection: &mut Option<Connection>,
    target: &Target,
    request: &Request,
    timeout: Duration,
) -> Outcome {
    if connection.is_none() {
        match tokio::time::timeout(timeout, Connection::open(target)).await {
            Ok(Ok(opened)) => *connection = Some(opened),
            Ok(Err(_)) => return Outcome::Transport,
            Err(_) => return Outcome::Timeout,
        }
    }
    let Some(open) = connection.as_mut() else {
        return Outcome::Transport;
    };
    let reply = tokio::time::timeout(
        timeout,
        open.send(request.method.clone(), &request.path, request.body.clone()),
    )
    .await;
    match reply {
        Ok(Ok(reply)) => classify(reply.status.as_u16(), request.expect_rejection),
        Ok(Err(_)) => {
            *connection = None;
            Outcome::Transport
        }
        Err(_) => {
            *connection = None;
            Outcome::Timeout
        }
    }
}

fn classify(status: u16, expect_rejection: bool) -> Outcome {
    match status {
        200..=299 if !expect_rejection => Outcome::Ok,
        400..=499 if expect_rejection => Outcome::Rejected,
        _ => Outcome::Status(status),
    }
}

fn judge_generator(cpu_cores_used: f64, late_sends: u64, recorded: &Recorded) -> Generator {
    let cores_available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut findings = Vec::new();
    let scheduled = recorded.counts.scheduled.max(1);
    // A few late sends are the OS scheduler's noise, not a generator at its limit.
    if late_sends >= 10 && late_sends as f64 / scheduled as f64 > 0.01 {
        findings.push(format!(
            "{late_sends} of {scheduled} requests ({:.1}%) were sent more than 1 ms late \
             (dispatch lateness p99 {} µs): the generator could not keep the schedule, and its \
             delay is counted into the latencies",
            100.0 * late_sends as f64 / scheduled as f64,
            recorded.dispatch_lateness.p99
        ));
    }
    if cpu_cores_used > 0.9 {
        findings.push(format!(
            "the generator's network thread was busy {:.0}% of the time: it is likely the \
             bottleneck; run several generators or a lower rate",
            100.0 * cpu_cores_used
        ));
    }
    Generator {
        cpu_cores_used,
        cores_available,
        late_sends,
        bottleneck: !findings.is_empty(),
        findings,
    }
}

/// User + system CPU seconds of the calling thread, from `/proc/thread-self/stat` (Linux; clock
/// ticks of 1/100 s). Elsewhere 0, and the CPU check stays silent.
fn thread_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One line, rewritten every second: where the run is and how the last second went.
async fn report_progress(recorder: Shared, started: Instant) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let elapsed = started.elapsed().as_secs_f64();
        let line = {
            let mut recorder = lock(&recorder);
            recorder.roll(Instant::now());
            let counts = recorder.counts().clone();
            match recorder.last_interval() {
                Some(last) => format!(
                    "\r{elapsed:6.0} s  target {:>8.0}/s  done {:>8}/s  p50 {:>6} µs  p99 {:>7} µs  errors {:>6} total {}   ",
                    last.target_rate, last.completed, last.p50, last.p99, last.errors, counts.errors()
                ),
                None => format!("\r{elapsed:6.0} s"),
            }
        };
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_identifier_is_expected_to_be_refused_and_nothing_else_is() {
        assert_eq!(classify(200, false), Outcome::Ok);
        assert_eq!(classify(422, true), Outcome::Rejected);
        assert_eq!(classify(200, true), Outcome::Status(200));
        assert_eq!(classify(422, false), Outcome::Status(422));
        assert_eq!(classify(503, true), Outcome::Status(503));
    }

    #[test]
    fn the_process_uses_some_cpu() {
        // The counter moves in clock ticks, and a busy machine may give this thread none for a
        // while: spin until it moves, within a bound far above any scheduling gap.
        let before = thread_cpu_seconds();
        let mut x = 0u64;
        let until = Instant::now() + Duration::from_secs(30);
        while thread_cpu_seconds() <= before && Instant::now() < until {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert!(thread_cpu_seconds() > before, "{x}");
    }
}
