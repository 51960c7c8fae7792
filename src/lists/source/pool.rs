//! The connections one Redis list source holds: at most [`MAX_CONNECTIONS`] at once, each
//! reused while its calls succeed. A connection whose call failed (a timeout, a dropped
//! socket, an error reply) is closed, never handed out again: a reply that arrives late must
//! not be read as the answer to the next command.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::redis::SourceError;

/// Connections to Redis one instance's list source holds at most, in use and idle together
/// (the follower's blocking connection and the query register's come on top). A call that
/// finds them all busy waits for one up to the source's timeout.
pub(super) const MAX_CONNECTIONS: usize = 16;

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
    idle: Vec<redis::Connection>,
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
            if let Some(con) = held.idle.pop() {
                held.busy += 1;
                return Ok(con);
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

    /// Returns a connection handed out (`None` when it was dropped as broken).
    fn give_back(&self, con: Option<redis::Connection>) {
        let mut held = self.lock();
        held.busy -= 1;
        held.idle.extend(con);
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
