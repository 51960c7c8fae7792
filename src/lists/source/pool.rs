//! The connections one Redis list source holds, an [`r2d2`] pool: at most the configured
//! number at once, each reused while its calls succeed. A connection whose call failed (a
//! timeout, a dropped socket, an error reply) is closed, never handed out again: a reply that
//! arrives late must not be read as the answer to the next command. One that sat idle for a
//! while is checked with a `PING` before it is used, so that a Redis restarted meanwhile costs
//! no call.
//!
//! r2d2 opens connections on a small thread pool of its own (three threads, ended with the
//! pool), and wakes no waiting call when a connect fails or a broken connection is closed; so a
//! call waits for a connection in steps of [`WAIT_STEP`], and fails at once with the error of a
//! connect tried meanwhile rather than wait out its timeout.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::redis::SourceError;
use crate::redis_client::{Connection, RedisClient};

/// Connections to Redis one instance's list source holds at most unless configured (the
/// follower's blocking connection and the query register's come on top).
pub const DEFAULT_CONNECTIONS: usize = 16;
/// An idle connection older than this is checked before it is used.
const CHECK_AFTER: Duration = Duration::from_secs(1);
/// How often a call waiting for a connection looks whether one is free, or a connect failed.
const WAIT_STEP: Duration = Duration::from_millis(50);

pub(super) struct Connections {
    pool: r2d2::Pool<Manager>,
    connects: Arc<Connects>,
}

/// A connection of the pool, with what the pool must know of it.
struct Pooled {
    con: Connection,
    /// When it was opened or last given back.
    since: Instant,
    /// A call on it failed: it is closed rather than given back.
    broken: bool,
}

/// How connections are opened, and how the last connects went.
struct Connects {
    client: RedisClient,
    /// Bounds connecting, each write to the socket, each wait for a reply, and the wait for a
    /// free connection.
    timeout: Duration,
    failures: Mutex<Failures>,
}

#[derive(Default)]
struct Failures {
    /// Connects that failed so far.
    count: u64,
    /// Why the last connect failed; `None` once one succeeded.
    last: Option<redis::RedisError>,
}

impl Connects {
    /// A new connection whose replies may take `reply` at most.
    fn open(&self, reply: Duration) -> redis::RedisResult<Connection> {
        self.client.connect(self.timeout, reply)
    }

    fn failures(&self) -> MutexGuard<'_, Failures> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why the last connect failed, if one failed after `seen` failures and none succeeded since.
    fn failed_since(&self, seen: u64) -> Option<redis::RedisError> {
        let failures = self.failures();
        (failures.count > seen)
            .then(|| failures.last.clone())
            .flatten()
    }
}

/// Opens the pool's connections for r2d2 with the source's timeouts (the redis crate's own
/// manager sets none), and tells it which to close.
struct Manager(Arc<Connects>);

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = redis::RedisError;

    fn connect(&self) -> redis::RedisResult<Pooled> {
        let opened = self.0.open(self.0.timeout);
        let mut failures = self.0.failures();
        match &opened {
            Ok(_) => failures.last = None,
            Err(err) => {
                failures.count += 1;
                failures.last = Some(err.clone());
            }
        }
        opened.map(|con| Pooled {
            con,
            since: Instant::now(),
            broken: false,
        })
    }

    fn is_valid(&self, pooled: &mut Pooled) -> redis::RedisResult<()> {
        ping(&mut pooled.con)
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.broken
    }
}

fn ping(con: &mut Connection) -> redis::RedisResult<()> {
    redis::cmd("PING").query(con)
}

impl Connections {
    /// Does not connect: connections are opened as calls need them, `size` at most.
    pub(super) fn new(client: RedisClient, timeout: Duration, size: usize) -> Connections {
        let connects = Arc::new(Connects {
            client,
            timeout,
            failures: Mutex::default(),
        });
        let pool = r2d2::Pool::builder()
            .max_size(u32::try_from(size).unwrap_or(u32::MAX))
            .min_idle(Some(0))
            // Checked in `take`, only when idle for a while, and a `PING` that times out fails
            // the call instead of trying the next connection.
            .test_on_check_out(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connection_timeout(timeout)
            // A failed connect is counted in `Connects` and reported to the call waiting.
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(Manager(Arc::clone(&connects)));
        Connections { pool, connects }
    }

    pub(super) fn timeout(&self) -> Duration {
        self.connects.timeout
    }

    /// A new connection, outside the pool, whose replies may take `reply` at most.
    pub(super) fn open(&self, reply: Duration) -> Result<Connection, SourceError> {
        Ok(self.connects.open(reply)?)
    }

    /// Runs `call` on a pooled connection, and keeps the connection only if `call` succeeded.
    /// It is marked broken before the call, so that a call that panics (its reply perhaps
    /// still on the way) closes it too when the unwinding gives it back.
    pub(super) fn with<T>(
        &self,
        call: impl FnOnce(&mut Connection) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let mut pooled = self.take()?;
        pooled.broken = true;
        let result = call(&mut pooled.con);
        pooled.broken = result.is_err();
        pooled.since = Instant::now();
        result
    }

    /// A free connection that is fresh or answers a `PING`. One closed under us (say by a
    /// restart of Redis) is dropped and another taken; a `PING` that times out fails the call:
    /// Redis does not answer, and another connection would wait as long again.
    fn take(&self) -> Result<r2d2::PooledConnection<Manager>, SourceError> {
        loop {
            let mut pooled = self.free()?;
            if pooled.since.elapsed() < CHECK_AFTER {
                return Ok(pooled);
            }
            match ping(&mut pooled.con) {
                Ok(()) => return Ok(pooled),
                Err(err) => {
                    pooled.broken = true;
                    if err.is_timeout() {
                        return Err(err.into());
                    }
                }
            }
        }
    }

    /// An idle connection, or a new one while fewer than the pool's size are held; else waits
    /// for one to come back, up to the timeout. Fails at once when a connect fails meanwhile.
    fn free(&self) -> Result<r2d2::PooledConnection<Manager>, SourceError> {
        let deadline = Instant::now() + self.connects.timeout;
        let seen = self.connects.failures().count;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Ok(pooled) = self.pool.get_timeout(left.min(WAIT_STEP)) {
                return Ok(pooled);
            }
            if let Some(err) = self.connects.failed_since(seen) {
                return Err(err.into());
            }
            if left <= WAIT_STEP {
                return Err(SourceError::Busy(self.pool.max_size() as usize));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port nothing listens on: connecting fails at once.
    fn unreachable() -> Connections {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = RedisClient::open(&format!("redis://127.0.0.1:{port}/")).unwrap();
        Connections::new(client, Duration::from_secs(10), 2)
    }

    /// Each call fails with why it could not connect, well before its 10 s timeout, and takes
    /// no place in the pool: more calls than the pool holds are not told it is busy.
    #[test]
    fn a_failed_connect_fails_the_call_and_frees_its_place() {
        let connections = unreachable();
        let started = Instant::now();
        for _ in 0..3 {
            match connections.with(|_| Ok(())) {
                Err(SourceError::Redis(err)) => assert!(err.is_connection_refusal(), "{err}"),
                other => panic!("not a refused connect: {:?}", other.err()),
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(9),
            "three calls took {:?}",
            started.elapsed()
        );
        assert_eq!(connections.pool.state().connections, 0);
    }

    /// A call that timed out leaves its reply on the way, which the next call on the same
    /// connection could read as its own: the connection is closed, and the next call opens
    /// another, even with one connection to share.
    #[test]
    fn a_connection_whose_call_failed_is_not_reused() {
        // Accepts connections and answers nothing, as a frozen Redis does.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/", silent.local_addr().unwrap());
        let accepted = std::thread::spawn(move || {
            (0..2)
                .map(|_| silent.accept().unwrap().0)
                .collect::<Vec<_>>()
        });
        let client = RedisClient::open(&url).unwrap();
        let connections = Connections::new(client, Duration::from_millis(200), 1);
        for _ in 0..2 {
            match connections.with(|con| Ok(ping(con)?)) {
                Err(SourceError::Redis(err)) => assert!(err.is_timeout(), "{err}"),
                other => panic!("not a timeout: {:?}", other.err()),
            }
            assert_eq!(connections.pool.state().connections, 0);
        }
        assert_eq!(accepted.join().unwrap().len(), 2);
    }

    /// A call that panics may leave a reply on the way, as one that timed out does: its
    /// connection is closed when the unwinding gives it back, and the next call connects
    /// anew, even with one connection to share.
    #[test]
    fn a_connection_whose_call_panicked_is_not_reused() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://{}/", server.local_addr().unwrap());
        let accepted = std::thread::spawn(move || {
            (0..2)
                .map(|_| server.accept().unwrap().0)
                .collect::<Vec<_>>()
        });
        let client = RedisClient::open(&url).unwrap();
        let connections = Connections::new(client, Duration::from_secs(5), 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            connections.with(|_| -> Result<(), SourceError> { panic!("a call that panics") })
        }));
        assert!(panicked.is_err());
        assert_eq!(connections.pool.state().connections, 0);
        connections.with(|_| Ok(())).unwrap();
        assert_eq!(connections.pool.state().connections, 1);
        assert_eq!(accepted.join().unwrap().len(), 2);
    }
}
