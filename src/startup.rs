//! Starting and stopping `serve`: [`build`] loads what the service decides with and opens what
//! it holds (the register, the keys), all before any port is bound, and [`Application::run`]
//! serves on a bound listener until asked to stop. The binary and the tests start the service
//! through these two alone, so that what the tests run is what production runs.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::web;
use tokio::signal::unix::SignalKind;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::app::Service;
use crate::config::Settings;
use crate::http::{self, AppState};
use crate::keys::KeysError;
use crate::lists::source::ListSource;
use crate::register::RegisterError;
use crate::ruleset::RuleSource;
use crate::snapshot::{LoadError, Snapshot, Snapshots, Sources};

/// Why the service could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The first load failed or was refused: nothing was bound.
    #[error("the first load of the rule set ({rules}) and lists ({lists}) failed, in the working directory {}: {source}", working_dir.display())]
    FirstLoad {
        rules: String,
        lists: String,
        working_dir: std::path::PathBuf,
        source: Box<LoadError>,
    },
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the query register: {0}")]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
    #[error("cannot start the lists follower: {0}")]
    Follower(std::io::Error),
    #[error("cannot open the push's store: {0}")]
    Push(#[from] crate::app::PushSetupError),
    #[error("cannot start the push: {0}")]
    PushThread(std::io::Error),
    #[error("cannot open the watchlists: {0}")]
    Watchlists(#[from] crate::watchlists::WatchlistError),
}

/// How a [`Application::run`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The server stopped as asked (the shutdown future, or a stop signal).
    Requested,
    /// The first full load of the lists from Redis (which runs once the service listens)
    /// failed or was refused, so the service never became ready and stopped: `serve` exits
    /// non-zero.
    FirstLoadFailed,
}

/// Binds the listener `serve` is configured with.
pub fn bind(settings: &Settings) -> Result<TcpListener, StartupError> {
    http::bind(settings.listen, settings.limits.listen_backlog).map_err(|source| {
        StartupError::Bind {
            address: settings.listen,
            source,
        }
    })
}

/// The service, built and not yet serving.
pub struct Application {
    service: Arc<Service>,
    /// The HTTP side of the state, around the service.
    state: web::Data<AppState>,
    workers: usize,
    bench_routes: bool,
    force_next_load: bool,
    /// The first load, if it is done (else it runs once the service listens), and how long
    /// it took.
    loaded: Option<(Arc<Snapshot>, f64)>,
    first_load: watch::Sender<Option<bool>>,
}

/// Loads the rule set and lists, then opens the register and the keys as `settings` say, to
/// serve once [`Application::run`] is given a listener (bound by [`bind`], or by a test on port
/// 0). A load that fails stops here, before any port is bound. Lists from Redis are the
/// exception: Redis is asked here whether it answers, and the full load, which can take tens
/// of seconds, runs once the service listens, `/readyz` answering 503 until it is done.
/// Logs what the service runs with.
pub fn build(settings: &Settings) -> Result<Application, StartupError> {
    let sources = Sources {
        rules: settings.rules.clone(),
        lists: settings.lists.clone(),
    };
    let service = Service::new(
        Snapshots::new(sources)
            .with_guard(settings.guard)
            .keeping_snapshot(settings.snapshot_keeping),
        settings.cold_cache,
    );
    let loaded = load_before_binding(&service, settings.force_next_load)?;
    let service = service
        .with_register(&settings.register)?
        .with_push(&settings.push)?
        .with_watchlists(&settings.watchlists)?;
    if let Some(watchlists) = service.watchlists() {
        let status = watchlists.status();
        info!(
            store = status.store,
            watchlists = status.watchlists,
            subjects = status.subjects,
            refused = status.refused.len(),
            "watchlists loaded"
        );
    }
    match service.register() {
        Some(register) => {
            let status = register.status();
            info!(
                sink = status.sink,
                dir = %std::path::absolute(&settings.register.dir)
                    .unwrap_or_else(|_| settings.register.dir.clone())
                    .display(),
                spill_pending = status.spill_pending,
                "query register on"
            );
        }
        None => warn!(
            "the query register is OFF (--register off): decisions and profile reads leave no record"
        ),
    }
    let service = match &settings.keys {
        Some(path) => {
            let service = service.with_keys(path)?;
            info!(
                keys = service.keys().map_or(0, |keys| keys.len()),
                file = %path.display(),
                protect_metrics = settings.protect_metrics,
                max_as_of_skew_seconds = settings.access.max_as_of_skew.as_secs(),
                auth_failures_per_minute = settings.access.auth_failures_per_minute,
                "API keys required on /v1"
            );
            service
        }
        None => {
            warn!("NO API KEYS CONFIGURED: every /v1 endpoint is open to anyone who can reach this port; give --keys FILE (jiangcheng keys new makes keys)");
            service
        }
    };
    let service = Arc::new(service);
    let state = AppState::new(Arc::clone(&service), settings.limits)
        .with_access(settings.access)
        .protecting_metrics(settings.protect_metrics)
        .allowing_origins(settings.cors_origins.clone());
    let first_load = watch::Sender::new(loaded.as_ref().map(|_| true));
    Ok(Application {
        service,
        state: web::Data::new(state),
        workers: settings.workers,
        bench_routes: settings.bench_routes,
        force_next_load: settings.force_next_load,
        loaded,
        first_load,
    })
}

/// The first load, done before the service binds its port: the rule set and lists whole, or,
/// for lists in Redis, the rule set and whether Redis answers (`None`: the lists' load is still
/// to run).
fn load_before_binding(
    service: &Service,
    forced: bool,
) -> Result<Option<(Arc<Snapshot>, f64)>, StartupError> {
    let started = Instant::now();
    let sources = service.snapshots.sources();
    let failed = |source: LoadError| StartupError::FirstLoad {
        rules: sources.rules.to_string(),
        lists: sources.lists.location(),
        working_dir: std::env::current_dir().unwrap_or_default(),
        source: Box::new(source),
    };
    if sources.lists.redis_url().is_some() {
        sources.rules.load().map_err(|err| failed(err.into()))?;
        let version = service
            .snapshots
            .lists()
            .version()
            .map_err(|err| failed(err.into()))?;
        info!(
            lists = %sources.lists.location(),
            lists_version = version,
            "the list source answers; its lists load once the service listens"
        );
        return Ok(None);
    }
    let loaded = load_logged(service, "initial load", forced).map_err(failed)?;
    Ok(Some((loaded, started.elapsed().as_secs_f64())))
}

/// Loads (blocking) as `forced` says and logs a success; the caller reports a failure.
fn load_logged(
    service: &Service,
    what: &'static str,
    forced: bool,
) -> Result<Arc<Snapshot>, LoadError> {
    let started = Instant::now();
    let snapshot = if forced {
        service.force_reload()
    } else {
        service.reload()
    }?;
    info!(
        what,
        ruleset = %snapshot.rules,
        entries = snapshot.lists.len(),
        subjects = snapshot.lists.subjects(),
        lists_version = snapshot.lists_version,
        seconds = started.elapsed().as_secs_f64(),
        "loaded"
    );
    Ok(snapshot)
}

impl Application {
    /// The running service: the snapshot store, metrics, register and keys.
    pub fn service(&self) -> Arc<Service> {
        Arc::clone(&self.service)
    }

    /// Requests reloads in-process, as `SIGHUP` and `SIGUSR1` do.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            service: Arc::clone(&self.service),
        }
    }

    /// The outcome of the first load, once it is known.
    pub fn first_load(&self) -> FirstLoad {
        FirstLoad(self.first_load.subscribe())
    }

    /// Serves on `listener` until `shutdown` completes, a stop signal arrives (`SIGINT`,
    /// `SIGTERM`, `SIGQUIT`, handled by the server), or the first load of lists from Redis
    /// fails. That load runs while `/healthz` already answers and `/readyz` says 503; `SIGHUP`
    /// reloads and `SIGUSR1` forces a reload past the fail-closed guard; a Redis source's
    /// changes stream in between. On stop, the follower winds down and the register stores
    /// what it still holds.
    ///
    /// Call it inside an actix system (`actix_web::rt::System`).
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + 'static,
    ) -> Result<Stop, StartupError> {
        let reloader = self.reloader();
        let listen = listener.local_addr().map_err(StartupError::Server)?;
        let server = http::server(
            listener,
            self.state.clone(),
            self.workers,
            self.bench_routes,
        )
        .map_err(StartupError::Server)?;
        let failed = Arc::new(AtomicBool::new(false));
        match self.loaded {
            Some((snapshot, seconds)) => log_ready(listen, &snapshot, seconds),
            None => {
                let (reloader, failed, handle) =
                    (reloader.clone(), Arc::clone(&failed), server.handle());
                let (forced, first_load) = (self.force_next_load, self.first_load);
                actix_web::rt::spawn(async move {
                    let started = Instant::now();
                    let loaded = reloader.load("initial load", forced).await;
                    first_load.send_replace(Some(loaded.is_some()));
                    match loaded {
                        Some(snapshot) => {
                            log_ready(listen, &snapshot, started.elapsed().as_secs_f64());
                        }
                        None => {
                            failed.store(true, Ordering::SeqCst);
                            handle.stop(true).await;
                        }
                    }
                });
            }
        }
        for reload in [Reload::Guarded, Reload::Forced] {
            actix_web::rt::spawn(reload_on_signal(reloader.clone(), reload));
        }
        actix_web::rt::spawn({
            let handle = server.handle();
            async move {
                shutdown.await;
                handle.stop(true).await;
            }
        });
        // With a Redis source, changes stream in between loads; it stops with the server.
        let follower = crate::snapshot::spawn_follower(Arc::clone(&self.service))
            .map_err(StartupError::Follower)?;
        let mut push = match self.service.push() {
            Some(push) => Some(
                crate::push::spawn(Arc::clone(&self.service), Arc::clone(push))
                    .map_err(StartupError::PushThread)?,
            ),
            None => None,
        };
        // Other instances' watchlist changes, read from Redis every second.
        let watchlist_poller = match self.service.watchlists() {
            Some(watchlists) => watchlists.follow().map_err(StartupError::Follower)?,
            None => None,
        };
        let served = server.await;
        // Deliveries finish their attempt (bounded by the push timeout) and free their leases.
        if let Some(push) = &mut push {
            push.stop();
        }
        // The follower winds down while the register closes; neither waits on Redis for longer
        // than the Redis timeouts, whatever Redis does.
        follower.stop();
        drop(watchlist_poller);
        // What the register still holds is stored (or spilled) before the service ends.
        match self.service.register() {
            Some(register) => {
                let before = register.status();
                register.close();
                let after = register.status();
                info!(
                    queued = before.queued,
                    stored = after.stored - before.stored,
                    spilled = after.spilled - before.spilled,
                    dropped = after.dropped - before.dropped,
                    spill_pending = after.spill_pending,
                    stored_since_start = after.stored,
                    spilled_since_start = after.spilled,
                    dropped_since_start = after.dropped,
                    "stopped; the query register flushed {} record(s) it held: {} stored, {} spilled, {} dropped",
                    before.queued,
                    after.stored - before.stored,
                    after.spilled - before.spilled,
                    after.dropped - before.dropped,
                );
            }
            None => info!("stopped; the query register was off"),
        }
        drop(follower);
        served.map_err(StartupError::Server)?;
        Ok(if failed.load(Ordering::SeqCst) {
            Stop::FirstLoadFailed
        } else {
            Stop::Requested
        })
    }
}

/// The one line that says the service is ready: where it listens, what it decides with, and
/// how long the first load took.
fn log_ready(listen: SocketAddr, snapshot: &Snapshot, load_seconds: f64) {
    info!(
        %listen,
        ruleset = %snapshot.rules.name,
        revision = %snapshot.rules.revision,
        lists = snapshot.rules.lists().len(),
        entries = snapshot.lists.len(),
        subjects = snapshot.lists.subjects(),
        lists_version = snapshot.lists_version,
        load_seconds,
        "ready: rule set {} revision {}, {} entries for {} subjects, loaded in {load_seconds:.3} s; serving on {listen}",
        snapshot.rules.name,
        snapshot.rules.revision,
        snapshot.lists.len(),
        snapshot.lists.subjects(),
    );
}

/// Waits for the outcome of an [`Application`]'s first load.
pub struct FirstLoad(watch::Receiver<Option<bool>>);

impl FirstLoad {
    /// Whether the first load succeeded; `None` if the application ended before it was known.
    pub async fn outcome(&mut self) -> Option<bool> {
        self.0
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|outcome| *outcome)
    }
}

/// A reload a running [`Application`] can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// Recompile the rule set and reload the lists, refused past the fail-closed guard
    /// (`SIGHUP`).
    Guarded,
    /// The same, taking lists the guard would refuse (`SIGUSR1`).
    Forced,
}

impl Reload {
    fn signal(self) -> SignalKind {
        match self {
            Reload::Guarded => SignalKind::hangup(),
            Reload::Forced => SignalKind::user_defined1(),
        }
    }

    /// As the log names it.
    fn what(self) -> &'static str {
        match self {
            Reload::Guarded => "reload on SIGHUP",
            Reload::Forced => "forced reload on SIGUSR1",
        }
    }
}

/// Asks a running [`Application`] for reloads, as its signals do.
#[derive(Clone)]
pub struct Reloader {
    service: Arc<Service>,
}

impl Reloader {
    /// Reloads the keys file, then the rule set and lists as `reload` says, off the async
    /// threads, and logs the outcome; a failure keeps the keys, or the snapshot, in use.
    /// Returns whether all of it succeeded. The rule set and lists built into the binary cannot
    /// change: with both embedded, they are not reloaded.
    pub async fn reload(&self, reload: Reload) -> bool {
        let what = reload.what();
        let service = Arc::clone(&self.service);
        let keys = match tokio::task::spawn_blocking(move || service.reload_keys()).await {
            Ok(None) => true,
            Ok(Some(Ok(keys))) => {
                info!(what, keys, "keys reloaded");
                true
            }
            Ok(Some(Err(err))) => {
                error!(what, error = %err, "keys reload failed; the keys in use stay");
                false
            }
            Err(err) => {
                error!(what, error = %err, "keys reload task failed");
                false
            }
        };
        let sources = self.service.snapshots.sources();
        if sources.rules == RuleSource::Embedded && sources.lists == ListSource::Embedded {
            info!(
                what,
                "nothing to reload: the rule set and lists are the ones embedded in the binary"
            );
            return keys;
        }
        let loaded = self.load(what, reload == Reload::Forced).await.is_some();
        keys && loaded
    }

    /// Loads off the async threads and logs a failure: the snapshot, if it loaded.
    async fn load(&self, what: &'static str, forced: bool) -> Option<Arc<Snapshot>> {
        let loader = Arc::clone(&self.service);
        let loading = tokio::task::spawn_blocking(move || load_logged(&loader, what, forced));
        match loading.await {
            Ok(Ok(snapshot)) => Some(snapshot),
            // The store logged the refusal at ERROR, with every reason.
            Ok(Err(LoadError::Refused(_))) => None,
            Ok(Err(err)) => {
                error!(what, error = %err, "load failed; the last good snapshot (if any) keeps serving");
                None
            }
            Err(err) => {
                error!(what, error = %err, "load task failed");
                None
            }
        }
    }
}

/// Reloads as `reload` says on each of its signal.
async fn reload_on_signal(reloader: Reloader, reload: Reload) {
    let mut signals = match tokio::signal::unix::signal(reload.signal()) {
        Ok(signals) => signals,
        Err(err) => {
            warn!(error = %err, what = reload.what(), "cannot listen for the signal; these reloads are unavailable");
            return;
        }
    };
    while signals.recv().await.is_some() {
        reloader.reload(reload).await;
    }
}
