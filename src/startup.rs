//! Starting and stopping `serve`: [`build`] opens what the service holds (the register, the
//! keys) around a bound listener, and [`Application::run`] serves until asked to stop. The
//! binary and the tests start the service through these two alone, so that what the tests run
//! is what production runs.

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
use crate::keys::{KeyRing, KeysError};
use crate::register::RegisterError;
use crate::snapshot::{LoadError, Snapshots, Sources};

/// Why the service could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
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
}

/// How a [`Application::run`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The server stopped as asked (the shutdown future, or a stop signal).
    Requested,
    /// The first load of the rule set and lists failed or was refused, so the service never
    /// became ready and stopped: `serve` exits non-zero.
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
    listener: TcpListener,
    service: Arc<Service>,
    /// The HTTP side of the state, around the service.
    state: web::Data<AppState>,
    workers: usize,
    bench_routes: bool,
    force_next_load: bool,
    first_load: watch::Sender<Option<bool>>,
}

/// Opens the register and the keys as `settings` say, to serve on `listener` (bound by [`bind`],
/// or by a test on port 0). Logs what the service runs with; loads nothing yet.
pub fn build(settings: &Settings, listener: TcpListener) -> Result<Application, StartupError> {
    let sources = Sources {
        rules: settings.rules.clone(),
        lists: settings.lists.clone(),
    };
    let service = Service::new(
        Snapshots::new(sources).with_guard(settings.guard),
        settings.cold_cache,
    )
    .with_register(&settings.register)?;
    match service.register() {
        Some(register) => {
            let status = register.status();
            info!(
                sink = status.sink,
                dir = %settings.register.dir.display(),
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
            let keys = KeyRing::load(path)?;
            info!(
                keys = keys.len(),
                file = %path.display(),
                protect_metrics = settings.protect_metrics,
                max_as_of_skew_seconds = settings.access.max_as_of_skew.as_secs(),
                auth_failures_per_minute = settings.access.auth_failures_per_minute,
                "API keys required on /v1"
            );
            service.with_keys(keys)
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
    Ok(Application {
        listener,
        service,
        state: web::Data::new(state),
        workers: settings.workers,
        bench_routes: settings.bench_routes,
        force_next_load: settings.force_next_load,
        first_load: watch::Sender::new(None),
    })
}

impl Application {
    /// The address the service answers on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

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

    /// Serves until `shutdown` completes, a stop signal arrives (`SIGINT`, `SIGTERM`,
    /// `SIGQUIT`, handled by the server), or the first load fails. The first load runs while
    /// `/healthz` already answers and `/readyz` says 503; `SIGHUP` reloads and `SIGUSR1`
    /// forces a reload past the fail-closed guard; a Redis source's changes stream in between.
    /// On stop, the follower winds down and the register stores what it still holds.
    ///
    /// Call it inside an actix system (`actix_web::rt::System`).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + 'static,
    ) -> Result<Stop, StartupError> {
        let reloader = self.reloader();
        let server = http::server(
            self.listener,
            self.state.clone(),
            self.workers,
            self.bench_routes,
        )
        .map_err(StartupError::Server)?;
        let failed = Arc::new(AtomicBool::new(false));
        actix_web::rt::spawn({
            let (reloader, failed, handle) =
                (reloader.clone(), Arc::clone(&failed), server.handle());
            let (forced, first_load) = (self.force_next_load, self.first_load);
            async move {
                let loaded = reloader.load("initial load", forced).await;
                first_load.send_replace(Some(loaded));
                if !loaded {
                    failed.store(true, Ordering::SeqCst);
                    handle.stop(true).await;
                }
            }
        });
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
        let served = server.await;
        // The follower winds down while the register closes; neither waits on Redis for longer
        // than the Redis timeouts, whatever Redis does.
        follower.stop();
        // What the register still holds is stored (or spilled) before the service ends.
        if let Some(register) = self.service.register() {
            register.close();
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
    /// Reloads as `reload` says, off the async threads, and logs the outcome; a failure keeps
    /// the current snapshot. Returns whether it succeeded.
    pub async fn reload(&self, reload: Reload) -> bool {
        self.load(reload.what(), reload == Reload::Forced).await
    }

    async fn load(&self, what: &'static str, forced: bool) -> bool {
        let started = Instant::now();
        let loader = Arc::clone(&self.service);
        let loading = tokio::task::spawn_blocking(move || {
            if forced {
                loader.force_reload()
            } else {
                loader.reload()
            }
        });
        match loading.await {
            Ok(Ok(snapshot)) => {
                info!(
                    what,
                    ruleset = %snapshot.rules,
                    entries = snapshot.lists.len(),
                    subjects = snapshot.lists.subjects(),
                    lists_version = snapshot.lists_version,
                    seconds = started.elapsed().as_secs_f64(),
                    "loaded"
                );
                true
            }
            // The store logged the refusal at ERROR, with every reason.
            Ok(Err(LoadError::Refused(_))) => false,
            Ok(Err(err)) => {
                error!(what, error = %err, "load failed; the last good snapshot (if any) keeps serving");
                false
            }
            Err(err) => {
                error!(what, error = %err, "load task failed");
                false
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
