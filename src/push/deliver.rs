//! The delivery: a thread of its own with a small async runtime. A supervisor task takes the
//! lease of every subscription no instance delivers and starts a task for it, wakes the tasks
//! when new events are stored, and looks for entries whose window ended. Each subscription's
//! task sends its events one at a time, in order, and moves its cursor after each.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{info, warn};

use super::store::{DeliveryState, Lease, Letter};
use super::{signature, Push, Subscription};
use crate::events::{self, Event, EventLogError, Stored};
use crate::ident::SubjectKey;
use crate::snapshot::Snapshot;
use crate::timestamp::Timestamp;

/// How long a lease lasts unless renewed; renewed every third of it.
const LEASE: Duration = Duration::from_secs(15);
/// How often the supervisor looks for new subscriptions and new events.
const TICK: Duration = Duration::from_millis(200);
/// Subscriptions re-read (and leases offered for) every so many ticks.
const SUBSCRIPTIONS_EVERY: u32 = 5;
/// Events read at a time by a subscription's task.
const PAGE: usize = 100;
/// Expiries appended in one call at most.
const EXPIRIES_PER_APPEND: usize = 5000;

/// What the push needs of the service it runs in.
pub trait Host: Send + Sync + 'static {
    /// The rules and lists in use (`None` before the first load).
    fn current(&self) -> Option<Arc<Snapshot>>;
    /// Whether `subject` is on watchlist `name` of `department`.
    fn on_watchlist(&self, department: &str, name: &str, subject: SubjectKey) -> bool;
}

/// The running delivery; stops when dropped or told to.
pub struct Running {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Stops the delivery: tasks finish the attempt they are in (bounded by the timeout) and
    /// give their leases up.
    pub fn stop(&mut self) {
        self.stop.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the delivery for `host`.
pub fn spawn<H: Host>(host: Arc<H>, push: Arc<Push>) -> std::io::Result<Running> {
    let (stop, stopped) = watch::channel(false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(8)
        .thread_name("push")
        .enable_all()
        .build()?;
    let networks = Arc::new(push.config.networks.clone());
    let client = reqwest::Client::builder()
        .timeout(push.config.timeout)
        .connect_timeout(push.config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        // A proxy would connect to addresses the resolver below never sees.
        .no_proxy()
        .dns_resolver(Arc::new(super::address::Resolver(networks)))
        .user_agent(concat!("jiangcheng/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(std::io::Error::other)?;
    let thread = std::thread::Builder::new()
        .name("push".into())
        .spawn(move || runtime.block_on(supervise(host, push, client, stopped)))?;
    Ok(Running {
        stop,
        thread: Some(thread),
    })
}

/// Runs a blocking call off the async threads.
async fn blocking<T: Send + 'static, E: Send + 'static>(
    call: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Option<Result<T, E>> {
    tokio::task::spawn_blocking(call).await.ok()
}

async fn supervise<H: Host>(
    host: Arc<H>,
    push: Arc<Push>,
    client: reqwest::Client,
    stopped: watch::Receiver<bool>,
) {
    let mut tasks: HashMap<String, (Arc<AtomicBool>, tokio::task::JoinHandle<()>)> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    let mut last_seen = 0u64;
    let mut next_scan = Instant::now();
    while !*stopped.borrow() {
        tick.tick().await;
        // New events wake the tasks.
        let log = push.events.clone();
        if let Some(Ok(page)) = blocking(move || log.read_after(u64::MAX - 1, 0)).await {
            if page.last != last_seen {
                last_seen = page.last;
                push.nudge();
            }
        }
        if Instant::now() >= next_scan {
            next_scan = Instant::now() + push.config.expiry_scan;
            let (scanning, log) = (Arc::clone(&host), push.events.clone());
            match blocking(move || scan_expiries(&*scanning, &log)).await {
                Some(Ok(0)) | None => {}
                Some(Ok(found)) => {
                    info!(
                        entries = found,
                        "entries whose window ended appended as events"
                    );
                    push.nudge();
                }
                Some(Err(err)) => warn!(error = %err, "the expiry scan failed; it runs again"),
            }
        }
        ticks = ticks.wrapping_add(1);
        if ticks % SUBSCRIPTIONS_EVERY != 1 {
            continue;
        }
        tasks.retain(|_, (_, task)| !task.is_finished());
        let store = Arc::clone(&push);
        let Some(Ok(all)) = blocking(move || store.store.all()).await else {
            continue;
        };
        for (id, (live, _)) in &tasks {
            if !all.iter().any(|s| &s.id == id) {
                live.store(false, Ordering::SeqCst);
            }
        }
        for subscription in all {
            if tasks.contains_key(&subscription.id) {
                continue;
            }
            let (store, id) = (Arc::clone(&push), subscription.id.clone());
            let Some(Ok(Some(lease))) = blocking(move || store.store.lease(&id, LEASE)).await
            else {
                continue;
            };
            let live = Arc::new(AtomicBool::new(true));
            let task = tokio::spawn(deliver(
                Arc::clone(&host),
                Arc::clone(&push),
                client.clone(),
                subscription.clone(),
                lease,
                Arc::clone(&live),
                stopped.clone(),
            ));
            tasks.insert(subscription.id, (live, task));
        }
    }
    for (_, (live, task)) in tasks {
        live.store(false, Ordering::SeqCst);
        let _ = task.await;
    }
}

/// What became of one event.
enum Outcome {
    Delivered,
    Buried,
    /// The task must end: stopped, deleted, lease lost or the store failing.
    Ended,
}

/// One subscription's task, while it holds the lease.
struct Delivery<H: Host> {
    host: Arc<H>,
    push: Arc<Push>,
    client: reqwest::Client,
    subscription: Arc<Subscription>,
    lease: Arc<Lease>,
    renewed: Instant,
    live: Arc<AtomicBool>,
    stopped: watch::Receiver<bool>,
    state: DeliveryState,
}

async fn deliver<H: Host>(
    host: Arc<H>,
    push: Arc<Push>,
    client: reqwest::Client,
    subscription: Subscription,
    lease: Lease,
    live: Arc<AtomicBool>,
    stopped: watch::Receiver<bool>,
) {
    let (store, id) = (Arc::clone(&push), subscription.id.clone());
    let Some(Ok(state)) = blocking(move || store.store.state(&id)).await else {
        return;
    };
    let mut delivery = Delivery {
        host,
        push,
        client,
        subscription: Arc::new(subscription),
        lease: Arc::new(lease),
        renewed: Instant::now(),
        live,
        stopped,
        state,
    };
    delivery.run().await;
    let (push, lease) = (Arc::clone(&delivery.push), Arc::clone(&delivery.lease));
    let _ = blocking(move || push.store.release(&lease)).await;
}

impl<H: Host> Delivery<H> {
    fn ending(&self) -> bool {
        *self.stopped.borrow() || !self.live.load(Ordering::SeqCst)
    }

    async fn run(&mut self) {
        let mut woken = self.push.woken();
        while !self.ending() {
            if !self.keep_lease().await {
                return;
            }
            match self.replay_one().await {
                Some(true) => continue,
                Some(false) => {}
                None => return,
            }
            let (log, cursor) = (self.push.events.clone(), self.state.cursor);
            let page = match blocking(move || log.read_after(cursor, PAGE)).await {
                Some(Ok(page)) => page,
                Some(Err(err)) => {
                    self.pause(&format!("the event store failed: {err}")).await;
                    continue;
                }
                None => return,
            };
            if page.last < self.state.cursor {
                warn!(subscription = %self.subscription.id, cursor = self.state.cursor, newest = page.last,
                    "the event store holds fewer events than this subscription's cursor (it was reset); delivering from its start");
                self.state.cursor = 0;
                if !self.save().await {
                    return;
                }
                continue;
            }
            let missed = page.missed_after(self.state.cursor);
            if missed > 0 {
                warn!(subscription = %self.subscription.id, missed, "events were trimmed before this subscription reached them");
                self.state.missed += missed;
                self.push.counters.missed.inc_by(missed);
                self.state.cursor = page.first - 1;
                if !self.save().await {
                    return;
                }
            }
            if page.events.is_empty() {
                tokio::select! {
                    _ = woken.changed() => {}
                    () = tokio::time::sleep(LEASE / 3) => {}
                }
                continue;
            }
            let Some(snapshot) = self.host.current() else {
                self.pause("the rules are not loaded yet").await;
                continue;
            };
            for stored in &page.events {
                match self.handle(stored, &snapshot).await {
                    Outcome::Delivered | Outcome::Buried => {}
                    Outcome::Ended => return,
                }
            }
            if !self.save().await {
                return;
            }
        }
    }

    /// Sends one event if the subscription wants it, and moves the cursor past it.
    async fn handle(&mut self, stored: &Stored, snapshot: &Snapshot) -> Outcome {
        let event = Event::of(stored, &snapshot.rules);
        let subscription = Arc::clone(&self.subscription);
        let host = Arc::clone(&self.host);
        let wanted = subscription.wants(&event, |subject| {
            subscription
                .watchlist
                .as_deref()
                .is_some_and(|name| host.on_watchlist(&subscription.department, name, subject))
        });
        if !wanted {
            self.state.cursor = stored.seq;
            return Outcome::Delivered;
        }
        let outcome = self
            .send_until_done(event.id, event.kind.as_str(), event.to_json())
            .await;
        if !matches!(outcome, Outcome::Ended) {
            self.state.cursor = stored.seq;
            if !self.save().await {
                return Outcome::Ended;
            }
        }
        outcome
    }

    /// Sends the first letter waiting for a replay: `Some(true)` if there was one.
    async fn replay_one(&mut self) -> Option<bool> {
        let (push, id) = (Arc::clone(&self.push), self.subscription.id.clone());
        let letter = match blocking(move || push.store.next_replay(&id)).await? {
            Ok(Some(letter)) => letter,
            Ok(None) => return Some(false),
            Err(err) => {
                self.pause(&format!("the subscription store failed: {err}"))
                    .await;
                return Some(false);
            }
        };
        let kind = serde_json::from_str::<serde_json::Value>(&letter.event)
            .ok()
            .and_then(|event| event["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        match self
            .send_until_done(letter.event_id, &kind, letter.event)
            .await
        {
            Outcome::Ended => None,
            Outcome::Delivered | Outcome::Buried => {
                let (push, id) = (Arc::clone(&self.push), self.subscription.id.clone());
                blocking(move || push.store.replayed(&id)).await?.ok()?;
                self.save().await.then_some(true)
            }
        }
    }

    /// Attempts an event until the subscriber acknowledges it, the horizon passes (buried as
    /// a dead letter), or the task must end.
    async fn send_until_done(&mut self, event_id: u64, kind: &str, body: String) -> Outcome {
        let config = &self.push.config;
        let (horizon, push) = (config.horizon, Arc::clone(&self.push));
        loop {
            if self.ending() {
                return Outcome::Ended;
            }
            match self.attempt(event_id, kind, &body).await {
                Ok(()) => {
                    self.push.counters.delivered.inc();
                    self.state.delivered += 1;
                    self.state.last_delivered = Some(event_id);
                    self.state.attempts = 0;
                    self.state.failing_since = None;
                    self.state.next_retry_at = None;
                    return Outcome::Delivered;
                }
                Err(error) => {
                    self.push.counters.failed.inc();
                    let now = Timestamp::now();
                    self.state.attempts += 1;
                    let since = *self.state.failing_since.get_or_insert(now.0);
                    self.state.last_error = Some(error.clone());
                    let failing = Duration::from_millis(now.0.saturating_sub(since) as u64);
                    if failing >= horizon {
                        let letter = Letter {
                            event_id,
                            event: body,
                            attempts: self.state.attempts,
                            last_error: error,
                            dead_at: now.0,
                        };
                        let id = self.subscription.id.clone();
                        let push = Arc::clone(&push);
                        let Some(Ok(dropped)) =
                            blocking(move || push.store.bury(&id, &letter)).await
                        else {
                            return Outcome::Ended;
                        };
                        warn!(subscription = %self.subscription.id, event = event_id, attempts = self.state.attempts,
                            "an event was not acknowledged within the retry horizon; it is a dead letter now");
                        self.state.dead_lettered += 1;
                        self.push.counters.dead_letters.inc();
                        self.state.dead_letters_dropped += dropped;
                        self.state.attempts = 0;
                        self.state.failing_since = None;
                        self.state.next_retry_at = None;
                        return Outcome::Buried;
                    }
                    let wait = self.push.config.backoff(self.state.attempts);
                    self.state.next_retry_at = Some(now.0 + wait.as_millis() as i64);
                    if !self.save().await || !self.wait(wait).await {
                        return Outcome::Ended;
                    }
                }
            }
        }
    }

    /// One POST of an event: `Ok` on a 2xx answer, else why not.
    async fn attempt(&self, event_id: u64, kind: &str, body: &str) -> Result<(), String> {
        let config = &self.push.config;
        // The URL was checked when the subscription was made; an address given as such is
        // checked again here (a host name's addresses are checked as they are resolved).
        config.networks.check_url(&self.subscription.url)?;
        let t = Timestamp::now().0.div_euclid(1000);
        let sent = self
            .client
            .post(&self.subscription.url)
            .header("Content-Type", "application/json")
            .header("X-Jiangcheng-Event", kind)
            .header("X-Jiangcheng-Event-Id", event_id.to_string())
            .header("X-Jiangcheng-Subscription", &self.subscription.id)
            .header(
                signature::HEADER,
                signature::sign(&self.subscription.secret, t, body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Ok(()),
            Ok(answer) => Err(format!("the subscriber answered {}", answer.status())),
            Err(err) if err.is_timeout() => Err(format!(
                "no answer within {} s",
                config.timeout.as_secs_f64()
            )),
            Err(err) if err.is_connect() => Err(format!("cannot connect: {}", source_of(&err))),
            Err(err) => Err(source_of(&err)),
        }
    }

    /// Waits `wait` (renewing the lease); `false` if the task must end meanwhile.
    async fn wait(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        while Instant::now() < until {
            if self.ending() || !self.keep_lease().await {
                return false;
            }
            let step = (until - Instant::now())
                .min(LEASE / 3)
                .min(Duration::from_millis(250));
            tokio::time::sleep(step).await;
        }
        true
    }

    /// Logs why the task waits, and waits a little before trying again.
    async fn pause(&mut self, why: &str) {
        warn!(subscription = %self.subscription.id, "{why}; trying again");
        let _ = self.wait(Duration::from_secs(1)).await;
    }

    /// Renews the lease when a third of it has passed: `false` if it was lost.
    async fn keep_lease(&mut self) -> bool {
        if self.renewed.elapsed() < LEASE / 3 {
            return true;
        }
        let (push, lease) = (Arc::clone(&self.push), Arc::clone(&self.lease));
        match blocking(move || push.store.renew(&lease)).await {
            Some(Ok(true)) => {
                self.renewed = Instant::now();
                true
            }
            Some(Ok(false)) => {
                warn!(subscription = %self.subscription.id, "lost the lease to deliver this subscription; another instance delivers it");
                false
            }
            Some(Err(err)) => {
                warn!(subscription = %self.subscription.id, error = %err, "cannot renew the lease");
                // Within the lease, another instance cannot take it yet.
                self.renewed.elapsed() < LEASE * 2 / 3
            }
            None => false,
        }
    }

    /// Stores the state: `false` if the lease was lost or the store keeps failing.
    async fn save(&mut self) -> bool {
        for _ in 0..3 {
            let (push, lease) = (Arc::clone(&self.push), Arc::clone(&self.lease));
            let (id, state) = (self.subscription.id.clone(), self.state.clone());
            match blocking(move || push.store.save_state(&id, &state, &lease)).await {
                Some(Ok(saved)) => return saved,
                Some(Err(err)) => {
                    warn!(subscription = %self.subscription.id, error = %err, "cannot store the delivery state");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                None => return false,
            }
        }
        false
    }
}

/// An error's innermost cause, which says what went wrong (reqwest's own says only "error
/// sending request").
fn source_of(err: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// Appends an event for each in-memory entry whose window ended since the last scan; the
/// first scan only sets the mark. Answers how many it appended.
fn scan_expiries<H: Host>(host: &H, log: &events::EventLog) -> Result<usize, EventLogError> {
    let Some(snapshot) = host.current() else {
        return Ok(0);
    };
    let read = log.expired_through()?;
    let now = Timestamp::now();
    let Some(from) = read else {
        log.append_expired(None, now, &[], snapshot.lists_version)?;
        return Ok(0);
    };
    let rules = &snapshot.rules;
    let mut ended: Vec<(Timestamp, String)> = snapshot
        .lists
        .iter()
        .filter(|entry| events::ends_within(&entry.facts, from, now))
        .filter_map(|entry| {
            let record = entry.record(rules).ok()?;
            let end = entry.facts.valid_until()?;
            Some((end, serde_json::to_string(&record).ok()?))
        })
        .collect();
    ended.sort_unstable();
    let mut mark = from;
    let mut appended = 0;
    let mut rest = &ended[..];
    while !rest.is_empty() || mark < now {
        // A chunk ends where an instant ends, so the mark never splits one instant's entries.
        let mut cut = rest.len().min(EXPIRIES_PER_APPEND);
        while cut < rest.len() && rest[cut].0 == rest[cut - 1].0 {
            cut += 1;
        }
        let through = if cut == rest.len() {
            now
        } else {
            rest[cut - 1].0
        };
        if !log.append_expired(Some(mark), through, &rest[..cut], snapshot.lists_version)? {
            // Another instance appended them.
            return Ok(appended);
        }
        appended += cut;
        mark = through;
        rest = &rest[cut..];
    }
    Ok(appended)
}
