//! Where subscriptions and their delivery state live: in Redis, shared by every instance (a
//! lease per subscription says which instance delivers it, and only the holder's writes of the
//! state land), or in files, for a single instance whose lists come from a file.
//!
//! Redis keys (prefix default `jc:{push}:`): `subscriptions` (hash: id → JSON), `state:<id>`
//! (the delivery state, JSON), `dead:<id>` and `replay:<id>` (lists of dead letters, and of
//! those waiting to be sent again), `lease:<id>` (the delivering instance's lease).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};

use super::subscription::Subscription;
use crate::lists::source::ReplicaWait;
use crate::redis_client::{Connection, KeptConnection, Lock, RedisClient};

/// Dead letters kept per subscription; older ones are dropped, and counted.
pub const DEAD_LETTERS_KEPT: usize = 1000;

/// Bounds connecting to Redis and each reply.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("the write reached the redis master but only {confirmed} of the {wanted} replicas it must reach confirmed it; it is not acknowledged")]
    NotReplicated { confirmed: u32, wanted: u32 },
}

/// How a subscription's delivery stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// Every event up to this one is delivered, dead-lettered, or not wanted.
    pub cursor: u64,
    /// The newest event delivered.
    pub last_delivered: Option<u64>,
    pub delivered: u64,
    /// Events the store no longer kept when the delivery reached them.
    pub missed: u64,
    /// Failed attempts at the event being delivered now.
    pub attempts: u32,
    /// When the first of those failed (ms).
    pub failing_since: Option<i64>,
    pub last_error: Option<String>,
    /// When the next attempt is due (ms).
    pub next_retry_at: Option<i64>,
    /// Events given up on, ever.
    pub dead_lettered: u64,
    /// Dead letters dropped to keep the newest [`DEAD_LETTERS_KEPT`].
    pub dead_letters_dropped: u64,
}

/// An event given up on after retrying to the horizon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Letter {
    pub event_id: u64,
    /// The event's JSON, as it was sent.
    pub event: String,
    pub attempts: u32,
    pub last_error: String,
    /// When it was given up on (ms).
    pub dead_at: i64,
}

/// The instance's right to deliver one subscription: a lease in Redis; always held with files.
pub enum Lease {
    Redis(Lock),
    File,
}

const ADD_SCRIPT: &str = r"
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4])
return 1
";

/// Writes the state only while the lease holds the writer's token and the subscription is
/// still there (a delivery ending after a delete must not leave its state behind).
const SAVE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1
";

/// Appends a dead letter, dropping the oldest beyond the bound: answers how many it dropped.
const BURY_SCRIPT: &str = r"
redis.call('RPUSH', KEYS[1], ARGV[1])
local dropped = 0
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[2]) do
  redis.call('LPOP', KEYS[1])
  dropped = dropped + 1
end
return dropped
";

/// Moves every dead letter to the end of the replay queue: answers how many.
const REPLAY_SCRIPT: &str = r"
local letters = redis.call('LRANGE', KEYS[1], 0, -1)
for _, letter in ipairs(letters) do
  redis.call('RPUSH', KEYS[2], letter)
end
redis.call('DEL', KEYS[1])
return #letters
";

pub enum PushStore {
    Redis(Box<RedisPush>),
    File(FilePush),
}

pub struct RedisPush {
    /// One connection for short commands, made again after an error.
    kept: KeptConnection,
    prefix: String,
    /// The replicas a department's write (a subscription made or deleted, a replay asked for)
    /// waits for before it is acknowledged, as the lists' writes do.
    wait: ReplicaWait,
}

pub struct FilePush {
    dir: PathBuf,
    /// File changes one at a time.
    lock: Mutex<()>,
}

impl PushStore {
    /// Subscriptions in Redis at `url`, under `prefix`, waiting for replicas as `wait` says
    /// (does not connect).
    pub fn redis(url: &str, prefix: &str, wait: ReplicaWait) -> Result<PushStore, StoreError> {
        Ok(PushStore::Redis(Box::new(RedisPush {
            kept: KeptConnection::new(RedisClient::open(url)?, TIMEOUT),
            prefix: prefix.to_owned(),
            wait,
        })))
    }

    /// Subscriptions in files in `dir` (made if need be).
    pub fn files(dir: &Path) -> Result<PushStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::File {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(PushStore::File(FilePush {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        }))
    }

    /// Stores a new subscription with its delivery state to start from, unless `max` are
    /// stored (`false`).
    pub fn add(
        &self,
        subscription: &Subscription,
        start: &DeliveryState,
        max: usize,
    ) -> Result<bool, StoreError> {
        let json = to_json(subscription);
        match self {
            PushStore::Redis(redis) => redis
                .with(|con| {
                    let added: i64 = Script::new(ADD_SCRIPT)
                        .key(redis.key("subscriptions"))
                        .key(redis.key(&format!("state:{}", subscription.id)))
                        .arg(&subscription.id)
                        .arg(max)
                        .arg(&json)
                        .arg(to_json(start))
                        .invoke(con)?;
                    Ok(added == 1)
                })
                .and_then(|added| redis.replicated().map(|()| added)),
            PushStore::File(files) => {
                let _guard = files.guard();
                let mut all = files.subscriptions()?;
                if all.len() >= max {
                    return Ok(false);
                }
                files.write(&files.path("state", &subscription.id), &to_json(start))?;
                all.push(subscription.clone());
                files.write(&files.dir.join("subscriptions.json"), &to_json(&all))?;
                Ok(true)
            }
        }
    }

    /// Every subscription, oldest first.
    pub fn all(&self) -> Result<Vec<Subscription>, StoreError> {
        let mut all = match self {
            PushStore::Redis(redis) => redis
                .with(|con| {
                    let stored: Vec<(String, String)> = redis::cmd("HGETALL")
                        .arg(redis.key("subscriptions"))
                        .query(con)?;
                    Ok(stored)
                })?
                .into_iter()
                .filter_map(|(_, json)| serde_json::from_str(&json).ok())
                .collect(),
            PushStore::File(files) => {
                let _guard = files.guard();
                files.subscriptions()?
            }
        };
        all.sort_by(|a: &Subscription, b| a.id.cmp(&b.id));
        Ok(all)
    }

    pub fn get(&self, id: &str) -> Result<Option<Subscription>, StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                let json: Option<String> = redis::cmd("HGET")
                    .arg(redis.key("subscriptions"))
                    .arg(id)
                    .query(con)?;
                Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
            }),
            PushStore::File(_) => Ok(self.all()?.into_iter().find(|s| s.id == id)),
        }
    }

    /// Removes a subscription with its state and letters; `false` if there was none.
    pub fn remove(&self, id: &str) -> Result<bool, StoreError> {
        match self {
            PushStore::Redis(redis) => redis
                .with(|con| {
                    let removed: i64 = redis::pipe()
                        .atomic()
                        .cmd("HDEL")
                        .arg(redis.key("subscriptions"))
                        .arg(id)
                        .cmd("DEL")
                        .arg(redis.key(&format!("state:{id}")))
                        .arg(redis.key(&format!("dead:{id}")))
                        .arg(redis.key(&format!("replay:{id}")))
                        .ignore()
                        .query::<(i64,)>(con)?
                        .0;
                    Ok(removed == 1)
                })
                .and_then(|removed| redis.replicated().map(|()| removed)),
            PushStore::File(files) => {
                let _guard = files.guard();
                let mut all = files.subscriptions()?;
                let before = all.len();
                all.retain(|s| s.id != id);
                if all.len() == before {
                    return Ok(false);
                }
                files.write(&files.dir.join("subscriptions.json"), &to_json(&all))?;
                for part in ["state", "dead", "replay"] {
                    let _ = std::fs::remove_file(files.path(part, id));
                }
                Ok(true)
            }
        }
    }

    pub fn state(&self, id: &str) -> Result<DeliveryState, StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                let json: Option<String> = redis::cmd("GET")
                    .arg(redis.key(&format!("state:{id}")))
                    .query(con)?;
                Ok(json
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default())
            }),
            PushStore::File(files) => {
                let _guard = files.guard();
                files.read(&files.path("state", id))
            }
        }
    }

    /// Stores the state if `lease` still holds (`false`: another instance took over).
    pub fn save_state(
        &self,
        id: &str,
        state: &DeliveryState,
        lease: &Lease,
    ) -> Result<bool, StoreError> {
        let json = to_json(state);
        match (self, lease) {
            (PushStore::Redis(redis), Lease::Redis(lock)) => redis.with(|con| {
                let saved: i64 = Script::new(SAVE_SCRIPT)
                    .key(lock.key())
                    .key(redis.key(&format!("state:{id}")))
                    .key(redis.key("subscriptions"))
                    .arg(lock.token())
                    .arg(&json)
                    .arg(id)
                    .invoke(con)?;
                Ok(saved == 1)
            }),
            (PushStore::Redis(_), Lease::File) => Ok(false),
            (PushStore::File(files), _) => {
                let _guard = files.guard();
                if !files.subscriptions()?.iter().any(|s| s.id == id) {
                    return Ok(false);
                }
                files.write(&files.path("state", id), &json)?;
                Ok(true)
            }
        }
    }

    /// Takes the lease to deliver subscription `id` for `ttl`, unless another instance holds it.
    pub fn lease(&self, id: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                Ok(Lock::take(con, redis.key(&format!("lease:{id}")), ttl)?.map(Lease::Redis))
            }),
            PushStore::File(_) => Ok(Some(Lease::File)),
        }
    }

    /// Holds the lease for another `ttl`: `false` if it was lost.
    pub fn renew(&self, lease: &Lease) -> Result<bool, StoreError> {
        match (self, lease) {
            (PushStore::Redis(redis), Lease::Redis(lock)) => redis.with(|con| lock.renew(con)),
            (PushStore::Redis(_), Lease::File) => Ok(false),
            (PushStore::File(_), _) => Ok(true),
        }
    }

    /// Gives the lease up (at a stop), so another instance takes over at once.
    pub fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        match (self, lease) {
            (PushStore::Redis(redis), Lease::Redis(lock)) => redis.with(|con| lock.release(con)),
            _ => Ok(()),
        }
    }

    /// Adds a dead letter; answers how many old ones it dropped.
    pub fn bury(&self, id: &str, letter: &Letter) -> Result<u64, StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                Script::new(BURY_SCRIPT)
                    .key(redis.key(&format!("dead:{id}")))
                    .arg(to_json(letter))
                    .arg(DEAD_LETTERS_KEPT)
                    .invoke(con)
            }),
            PushStore::File(files) => {
                let _guard = files.guard();
                let path = files.path("dead", id);
                let mut letters: Vec<Letter> = files.read(&path)?;
                letters.push(letter.clone());
                let dropped = letters.len().saturating_sub(DEAD_LETTERS_KEPT);
                letters.drain(..dropped);
                files.write(&path, &to_json(&letters))?;
                Ok(dropped as u64)
            }
        }
    }

    /// The oldest `limit` dead letters, and how many there are.
    pub fn dead_letters(&self, id: &str, limit: usize) -> Result<(Vec<Letter>, u64), StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                let key = redis.key(&format!("dead:{id}"));
                let (texts, total): (Vec<String>, u64) = redis::pipe()
                    .cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(limit.saturating_sub(1))
                    .cmd("LLEN")
                    .arg(&key)
                    .query(con)?;
                let letters = if limit == 0 {
                    Vec::new()
                } else {
                    read_all(&texts)
                };
                Ok((letters, total))
            }),
            PushStore::File(files) => {
                let _guard = files.guard();
                let letters: Vec<Letter> = files.read(&files.path("dead", id))?;
                let total = letters.len() as u64;
                Ok((letters.into_iter().take(limit).collect(), total))
            }
        }
    }

    /// Queues every dead letter to be sent again, before new events: answers how many.
    pub fn replay(&self, id: &str) -> Result<u64, StoreError> {
        match self {
            PushStore::Redis(redis) => redis
                .with(|con| {
                    Script::new(REPLAY_SCRIPT)
                        .key(redis.key(&format!("dead:{id}")))
                        .key(redis.key(&format!("replay:{id}")))
                        .invoke(con)
                })
                .and_then(|count| redis.replicated().map(|()| count)),
            PushStore::File(files) => {
                let _guard = files.guard();
                let dead: Vec<Letter> = files.read(&files.path("dead", id))?;
                let mut queued: Vec<Letter> = files.read(&files.path("replay", id))?;
                let count = dead.len() as u64;
                queued.extend(dead);
                files.write(&files.path("replay", id), &to_json(&queued))?;
                files.write(&files.path("dead", id), "[]")?;
                Ok(count)
            }
        }
    }

    /// The first letter waiting to be sent again.
    pub fn next_replay(&self, id: &str) -> Result<Option<Letter>, StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                let text: Option<String> = redis::cmd("LINDEX")
                    .arg(redis.key(&format!("replay:{id}")))
                    .arg(0)
                    .query(con)?;
                Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
            }),
            PushStore::File(files) => {
                let _guard = files.guard();
                let queued: Vec<Letter> = files.read(&files.path("replay", id))?;
                Ok(queued.into_iter().next())
            }
        }
    }

    /// Takes the first letter off the replay queue (it was sent, or buried again).
    pub fn replayed(&self, id: &str) -> Result<(), StoreError> {
        match self {
            PushStore::Redis(redis) => redis.with(|con| {
                redis::cmd("LPOP")
                    .arg(redis.key(&format!("replay:{id}")))
                    .query::<Option<String>>(con)
                    .map(drop)
            }),
            PushStore::File(files) => {
                let _guard = files.guard();
                let path = files.path("replay", id);
                let mut queued: Vec<Letter> = files.read(&path)?;
                if !queued.is_empty() {
                    queued.remove(0);
                }
                files.write(&path, &to_json(&queued))
            }
        }
    }
}

impl RedisPush {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Waits until the configured replicas hold the writes made on the kept connection.
    fn replicated(&self) -> Result<(), StoreError> {
        let wanted = self.wait.replicas;
        if wanted == 0 {
            return Ok(());
        }
        let confirmed = self
            .with(|con| con.wait_replicas(&self.key("subscriptions"), wanted, self.wait.timeout))?;
        if confirmed < wanted {
            return Err(StoreError::NotReplicated { confirmed, wanted });
        }
        Ok(())
    }

    /// Runs `f` on the kept connection; an error drops it, so the next call reconnects.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        Ok(self.kept.with(f)?)
    }
}

impl FilePush {
    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn path(&self, part: &str, id: &str) -> PathBuf {
        self.dir.join(format!("{part}-{id}.json"))
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.read(&self.dir.join("subscriptions.json"))
    }

    /// A JSON file's value; the default when there is no file.
    fn read<T: serde::de::DeserializeOwned + Default>(&self, path: &Path) -> Result<T, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|err| StoreError::Corrupt {
                path: path.to_path_buf(),
                message: err.to_string(),
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(source) => Err(StoreError::File {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn write(&self, path: &Path, json: &str) -> Result<(), StoreError> {
        crate::durable::replace(path, json.as_bytes()).map_err(|source| StoreError::File {
            path: path.to_path_buf(),
            source,
        })
    }
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| unreachable!("plain data serializes"))
}

fn read_all(texts: &[String]) -> Vec<Letter> {
    texts
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}
