//! The push (自动推送): each department's subscriptions, and the delivery of the list events
//! they want to their URLs, signed, at least once and in order per subscription, retried with
//! exponential backoff up to a horizon, then dead-lettered for listing and replay. A slow or
//! dead subscriber holds up only its own subscription: each is delivered by a task of its own,
//! on threads apart from the decisions'.
//!
//! With Redis, every instance offers to deliver every subscription and one at a time holds its
//! lease; the delivery state (the cursor: every event up to it is done with) is written only
//! by the lease's holder, after each acknowledgement, so an instance that stops mid-delivery
//! leaves the next holder to send that event again (at least once), never to skip it.

mod address;
mod deliver;
pub mod signature;
mod store;
mod subscription;

use std::path::PathBuf;
use std::time::Duration;

use crate::events::EventLog;

pub use address::Networks;
pub use deliver::{spawn, Host, Running};
pub use store::{DeliveryState, Letter, PushStore, StoreError, DEAD_LETTERS_KEPT};
pub use subscription::{Invalid, Subscription};

/// The push of one service: where subscriptions and events are kept, how delivery runs, and
/// the signal that wakes the deliveries when events are stored.
pub struct Push {
    pub store: PushStore,
    pub events: EventLog,
    pub config: PushConfig,
    counters: Counters,
    wake: tokio::sync::watch::Sender<u64>,
}

/// What the delivery counts, for `/metrics`.
pub struct Counters {
    pub delivered: prometheus::IntCounter,
    pub failed: prometheus::IntCounter,
    pub dead_letters: prometheus::IntCounter,
    pub missed: prometheus::IntCounter,
}

impl Push {
    pub fn new(store: PushStore, events: EventLog, config: PushConfig, counters: Counters) -> Push {
        Push {
            store,
            events,
            config,
            counters,
            wake: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Wakes the deliveries: events were stored.
    pub fn nudge(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn woken(&self) -> tokio::sync::watch::Receiver<u64> {
        self.wake.subscribe()
    }
}

/// Prefix of the push's keys in Redis.
pub const DEFAULT_PREFIX: &str = "jc:{push}:";

/// How the push runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushConfig {
    /// Where the subscriptions and (for lists from a file) the events are kept in files.
    pub dir: PathBuf,
    /// Prefix of the push's keys in Redis (when the lists are in Redis).
    pub redis_prefix: String,
    /// Bounds one delivery attempt: connecting, sending, and the subscriber's answer.
    pub timeout: Duration,
    /// How long an event is retried before it is dead-lettered.
    pub horizon: Duration,
    /// The first retry's wait; each next one waits twice as long, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Subscriptions the service holds at most (all departments together).
    pub max_subscriptions: usize,
    /// Networks beyond the public Internet that subscriber URLs may point to.
    pub networks: Networks,
    /// How often entries whose window ended are looked for.
    pub expiry_scan: Duration,
}

impl PushConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_HORIZON: Duration = Duration::from_secs(24 * 3600);
    pub const DEFAULT_FIRST_BACKOFF: Duration = Duration::from_secs(1);
    pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(600);
    pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 1000;
    pub const DEFAULT_EXPIRY_SCAN: Duration = Duration::from_secs(60);

    /// The defaults, keeping files in `dir`.
    pub fn new(dir: PathBuf) -> PushConfig {
        PushConfig {
            dir,
            redis_prefix: DEFAULT_PREFIX.to_owned(),
            timeout: PushConfig::DEFAULT_TIMEOUT,
            horizon: PushConfig::DEFAULT_HORIZON,
            first_backoff: PushConfig::DEFAULT_FIRST_BACKOFF,
            max_backoff: PushConfig::DEFAULT_MAX_BACKOFF,
            max_subscriptions: PushConfig::DEFAULT_MAX_SUBSCRIPTIONS,
            networks: Networks::default(),
            expiry_scan: PushConfig::DEFAULT_EXPIRY_SCAN,
        }
    }

    /// The wait before attempt `failed + 1`, after `failed` failures (at least one).
    pub fn backoff(&self, failed: u32) -> Duration {
        let doubled = self.first_backoff.saturating_mul(
            1u32.checked_shl(failed.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        doubled.min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_twice_as_long_each_time_up_to_the_bound() {
        let config = PushConfig::new(PathBuf::new());
        let waits: Vec<u64> = (1..=12).map(|n| config.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(config.backoff(200), Duration::from_secs(600));
    }
}
