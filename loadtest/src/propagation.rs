//! `propagation`: how long a list change written through one instance takes to show in the
//! decisions of the others (a change must be visible everywhere within milliseconds).
//!
//! Each round lists a fresh subject on a blocking list through the writer's admin API, then polls
//! `/v1/decide` on every watcher at once until each blocks; the latency of a watcher is from the
//! writer's acknowledgement to the first blocking answer. The entry is then removed, and the next
//! round waits until every watcher allows again, so rounds do not overlap.

use crate::client::{Connection, Target};
use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct PropagationArgs {
    /// The instance that takes the writes.
    #[arg(long)]
    pub write: String,
    /// An instance whose decisions must change (repeat for several; the writer may be one).
    #[arg(long = "watch", required = true)]
    pub watchers: Vec<String>,
    /// Rounds (one listed subject each).
    #[arg(long, default_value_t = 200)]
    pub rounds: u64,
    /// A blocking list of the target's rule set, and a matter it blocks.
    #[arg(long, default_value = "tax_major_violation")]
    pub list: String,
    #[arg(long, default_value = "gov_procurement")]
    pub matter: String,
    /// Seeds the fresh subjects, so that repeated runs list different ones.
    #[arg(long, default_value_t = 0x5052_4f50)]
    pub seed: u64,
    /// Give up on a round after this long.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
    #[arg(long)]
    pub allow_remote: bool,
}

/// The fixed moment every decision is asked about, inside the entries' validity window, so a run
/// does not depend on today's date.
const AS_OF: &str = "2026-11-22T10:00:00+08:00";

pub async fn run(args: PropagationArgs) -> Result<()> {
    let writer_target = Target::parse(&args.write, args.allow_remote)?;
    let mut writer = Connection::open(&writer_target).await?;
    let mut watchers = Vec::new();
    for url in &args.watchers {
        let target = Target::parse(url, args.allow_remote)?;
        watchers.push((url.clone(), Connection::open(&target).await?));
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut per_watcher: Vec<Histogram<u64>> = (0..watchers.len())
        .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3))
        .collect::<Result<_, _>>()?;
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut candidate = 0u64;
    for round in 0..args.rounds {
        // A subject every watcher allows now, so that the change is what turns it to `block`.
        let (subject, decide) = loop {
            let (subject, _) = jiangcheng::lists::gen::subject_id(args.seed, candidate);
            candidate += 1;
            let decide = Bytes::from(
                serde_json::json!({"subject": {"id": subject}, "matter": args.matter, "as_of": AS_OF})
                    .to_string(),
            );
            if decided_everywhere(&mut watchers, &decide, "allow").await? {
                break (subject, decide);
            }
        };
        let entry_id = format!("LOADTEST-PROP-{:x}-{round}", args.seed);
        let path = format!("/v1/lists/{}/entries/{entry_id}", args.list);
        let entry = serde_json::json!({
            "subject_id": subject, "reason": "jiangcheng-load propagation",
            "listed_on": "2026-11-01", "valid_until": "2029-11-01",
        });
        let reply = writer
            .send(Method::PUT, &path, Bytes::from(entry.to_string()))
            .await?;
        let acknowledged = Instant::now();
        ensure!(
            reply.status.is_success(),
            "PUT {path} answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        let seen = await_decision(&mut watchers, &decide, "block", acknowledged, timeout).await?;
        for (index, latency) in seen.into_iter().enumerate() {
            let micros = latency.as_micros().max(1) as u64;
            per_watcher[index].record(micros)?;
            all.record(micros)?;
        }
        let removal =
            serde_json::json!({"by": "jiangcheng-load", "reason": "propagation round done"});
        let reply = writer
            .send(Method::DELETE, &path, Bytes::from(removal.to_string()))
            .await?;
        ensure!(
            reply.status.is_success(),
            "DELETE {path} answered {}",
            reply.status
        );
        await_decision(&mut watchers, &decide, "allow", Instant::now(), timeout).await?;
    }
    println!(
        "{} rounds: write acknowledged on {} → decision changed (µs)",
        args.rounds, args.write
    );
    for ((url, _), histogram) in watchers.iter().zip(&per_watcher) {
        println!("  {url:<28} {}", summary(histogram));
    }
    println!("  {:<28} {}", "all watchers", summary(&all));
    Ok(())
}

fn summary(histogram: &Histogram<u64>) -> String {
    format!(
        "p50 {:>6}  p90 {:>6}  p99 {:>6}  max {:>6}",
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.9),
        histogram.value_at_quantile(0.99),
        histogram.max()
    )
}

/// Polls every watcher concurrently until its decision is `wanted`; returns, per watcher, the
/// time from `since` to the first such answer.
async fn await_decision(
    watchers: &mut [(String, Connection)],
    decide: &Bytes,
    wanted: &str,
    since: Instant,
    timeout: Duration,
) -> Result<Vec<Duration>> {
    futures_util::future::try_join_all(watchers.iter_mut().map(|(url, connection)| async move {
        poll_until(connection, decide, wanted, since, timeout)
            .await
            .with_context(|| format!("watching {url}"))
    }))
    .await
}

/// Whether every watcher's decision is `wanted` right now.
async fn decided_everywhere(
    watchers: &mut [(String, Connection)],
    decide: &Bytes,
    wanted: &str,
) -> Result<bool> {
    for (url, connection) in watchers.iter_mut() {
        if decision(connection, decide)
            .await
            .with_context(|| format!("asking {url}"))?
            != wanted
        {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn decision(connection: &mut Connection, decide: &Bytes) -> Result<serde_json::Value> {
    let reply = connection
        .send(Method::POST, "/v1/decide", decide.clone())
        .await?;
    let body: serde_json::Value =
        serde_json::from_slice(&reply.body).context("the decision is not JSON")?;
    ensure!(
        reply.status.is_success(),
        "/v1/decide answered {}: {body}",
        reply.status
    );
    Ok(body["decision"].clone())
}

/// Polls one watcher until its decision is `wanted`.
async fn poll_until(
    connection: &mut Connection,
    decide: &Bytes,
    wanted: &str,
    since: Instant,
    timeout: Duration,
) -> Result<Duration> {
    loop {
        let decided = decision(connection, decide).await?;
        let now = Instant::now();
        if decided == wanted {
            return Ok(now - since);
        }
        if now - since > timeout {
            bail!("still `{decided}`, not `{wanted}`, after {timeout:?}");
        }
    }
}
