//! The connections one Redis list source holds: at most [`MAX_CONNECTIONS`] at once, each
//! reused while its calls succeed. A connection whose call failed (a timeout, a dropped
//! socket, an error reply) is closed, never handed out again: a reply that arrives late must
//! not be read as the answer to the next command. One that sat idle for a while is checked
//! with a `PING` before it is used, so that a Redis restarted meanwhile costs no call.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::redis::SourceError;

/// Connections to Redis one instance's list source holds at most, in use and idle together
/// (the follower's blocking connection and the query register's come on top). A call that
/// finds them all busy waits for one up to the source's timeout.
pub(super) const MAX_CONNECTIONS: usize = 16;
/// An idle connection older than this is checked before it is used.
const CHECK_AFTER: Duration = Duration::from_secs(1);

pub(super) struct Connections {
    client: redis::Client,
    /// Bounds connecting, each write to the socket, each wait for a reply, and the wait for a
    /// free connection.
    timeout: Duration,
    held: Mutex<Held>,
    freed: Condvar,
}

#[derive(Default)]
struct Held {
    /// With when each was last given back.
    idle: Vec<(redis::Connection, Instant)>,
    /// Connections handed out (or being opened) and not yet given back.
    busy: usize,
}

impl Connections {
    pub(super) fn new(client: redis::Client, timeout: Duration) -> Connections {
        Connections {
            client,
            timeout,
            held: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A new connection, outside the pool, whose replies may take `reply` at most.
    pub(super) fn open(&self, reply: Duration) -> Result<redis::Connection, SourceError> {
        let con = self.client.get_connection_with_timeout(self.timeout)?;
        con.set_read_timeout(Some(reply))?;
        con.set_write_timeout(Some(self.timeout))?;
        Ok(con)
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `call` on a pooled connection, and keeps the connection only if `call` succeeded.
    pub(super) fn with<T>(
        &self,
        call: impl FnOnce(&mut redis::Connection) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let mut con = self.take()?;
        let result = call(&mut con);
        self.give_back(result.is_ok().then_some(con));
        result
    }

    /// An idle connection, or a new one while fewer than [`MAX_CONNECTIONS`] are held; else
    /// waits for one to come back, up to the timeout.
    fn take(&self) -> Result<redis::Connection, SourceError> {
        let deadline = Instant::now() + self.timeout;
        let mut held = self.lock();
        loop {
            if let Some((con, since)) = held.idle.pop() {
                held.busy += 1;
                drop(held);
                return self.checked(con, since);
            }
            if held.busy < MAX_CONNECTIONS {
                held.busy += 1;
                drop(held);
                return self
                    .open(self.timeout)
                    .inspect_err(|_| self.give_back(None));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(SourceError::Busy(MAX_CONNECTIONS));
            }
            held = self
                .freed
                .wait_timeout(held, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// `con` if it is fresh or answers a `PING`; else (closed under us, say by a restart of
    /// Redis) a new connection in its place. A `PING` that times out fails the call: Redis
    /// does not answer, and another connection would wait as long again.
    fn checked(
        &self,
        mut con: redis::Connection,
        since: Instant,
    ) -> Result<redis::Connection, SourceError> {
        if since.elapsed() < CHECK_AFTER {
            return Ok(con);
        }
        match redis::cmd("PING").query::<()>(&mut con) {
            Ok(()) => Ok(con),
            Err(err) if err.is_timeout() => {
                self.give_back(None);
                Err(err.into())
            }
            Err(_) => self
                .open(self.timeout)
                .inspect_err(|_| self.give_back(None)),
        }
    }

    /// Returns a connection handed out (`None` when it was dropped as broken).
    fn give_back(&self, con: Option<redis::Connection>) {
        let mut held = self.lock();
        held.busy -= 1;
        held.idle.extend(con.map(|con| (con, Instant::now())));
        drop(held);
        self.freed.notify_one();
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
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        Connections::new(client, Duration::from_millis(200))
    }

    #[test]
    fn a_failed_connect_frees_its_place() {
        let connections = unreachable();
        for _ in 0..MAX_CONNECTIONS + 1 {
            assert!(connections.with(|_| Ok(())).is_err());
        }
        assert_eq!(connections.lock().busy, 0);
    }
}
