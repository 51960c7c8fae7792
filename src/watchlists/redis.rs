//! Watchlists in Redis, shared by every instance. Keys, all under `jc:{watchlists}:` (one hash
//! tag: a Redis Cluster keeps them in one slot, which the scripts need):
//! - `meta` — hash: `<department in hex>:<name>` → the watchlist's header (JSON: department,
//!   name, counts, when and by whom, its revision, its chunks and their CRC-32);
//! - `department:<department in hex>` — set of the department's watchlist names;
//! - `chunk:<revision>:<n>` — string: subjects `n·65536` on, packed 12 bytes each (a 1 M
//!   watchlist is 16 commands of 768 KiB, not one of 12 MB);
//! - `version` — counter, incremented by every change; instances poll it every second.
//!
//! A write stores the new revision's chunks first, then swaps the header in, adds the name to
//! the department's set and counts the version in one script, waits for the configured
//! replicas, and only then removes the chunks of the revision it replaced. A reader thus
//! always finds the chunks of the header it read, unless a later write removed them meanwhile
//! (that write counted the version, so it is read again on the next poll).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Commands, Script};

use super::format::{self, Header, KEY_BYTES};
use super::{hex, Loaded, Watchlist, WatchlistError, REDIS_PREFIX};
use crate::lists::source::ReplicaWait;
use crate::redis_client::{Connection, RedisClient};

/// Subjects per chunk.
const CHUNK_KEYS: usize = 65_536;
/// Chunks per pipelined round trip (3 MiB).
const CHUNKS_PER_TRIP: usize = 4;

/// Swaps a header in; answers the header it replaced, or an empty string.
const PUT_SCRIPT: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1]) or ''
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('INCR', KEYS[3])
return old
";

/// Removes a header; answers it, or an empty string if there was none (nothing changes).
const DELETE_SCRIPT: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
  return ''
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[3])
return old
";

pub(super) struct RedisStore {
    client: RedisClient,
    timeout: Duration,
    wait: ReplicaWait,
    /// One connection, made again after an error (watchlist writes are rare and serialised).
    connection: Mutex<Option<Connection>>,
    put: Script,
    delete: Script,
}

fn key(name: &str) -> String {
    format!("{REDIS_PREFIX}{name}")
}

fn field(department: &str, name: &str) -> String {
    format!("{}:{name}", hex(department))
}

fn chunk_key(revision: &str, n: u32) -> String {
    key(&format!("chunk:{revision}:{n}"))
}

fn unavailable(err: impl std::fmt::Display) -> WatchlistError {
    WatchlistError::Unavailable(format!("redis: {err}"))
}

impl RedisStore {
    /// Does not connect.
    pub(super) fn open(
        url: &str,
        timeout: Duration,
        wait: ReplicaWait,
    ) -> Result<RedisStore, WatchlistError> {
        Ok(RedisStore {
            client: RedisClient::open(url).map_err(unavailable)?,
            timeout,
            wait,
            connection: Mutex::new(None),
            put: Script::new(PUT_SCRIPT),
            delete: Script::new(DELETE_SCRIPT),
        })
    }

    /// Runs `call` on the connection (made if there is none); an error closes it.
    fn with<T>(
        &self,
        call: impl FnOnce(&mut Connection) -> Result<T, WatchlistError>,
    ) -> Result<T, WatchlistError> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut con = match slot.take() {
            Some(con) => con,
            None => self
                .client
                .connect(self.timeout, self.timeout)
                .map_err(unavailable)?,
        };
        let result = call(&mut con);
        if result.is_ok() {
            *slot = Some(con);
        }
        result
    }

    /// Waits for the configured replicas to hold every write made on `con`.
    fn replicated(&self, con: &mut Connection) -> Result<(), WatchlistError> {
        if self.wait.replicas == 0 {
            return Ok(());
        }
        let confirmed = con
            .wait_replicas(&key("version"), self.wait.replicas, self.wait.timeout)
            .map_err(unavailable)?;
        if confirmed < self.wait.replicas {
            return Err(WatchlistError::Unavailable(format!(
                "only {confirmed} of the {} redis replicas the write must reach confirmed it within {} ms; it is not acknowledged (sending it again is safe)",
                self.wait.replicas,
                self.wait.timeout.as_millis()
            )));
        }
        Ok(())
    }

    /// The version, counted by every change (0 before the first).
    pub(super) fn version(&self) -> Result<u64, WatchlistError> {
        self.with(|con| {
            let version: Option<u64> = con.get(key("version")).map_err(unavailable)?;
            Ok(version.unwrap_or(0))
        })
    }

    pub(super) fn put(&self, list: &Watchlist) -> Result<(), WatchlistError> {
        let mut header = Header::of(list);
        let chunks: Vec<Vec<u8>> = list
            .subjects()
            .chunks(CHUNK_KEYS)
            .map(format::pack)
            .collect();
        let mut crc = crc32fast::Hasher::new();
        for chunk in &chunks {
            crc.update(chunk);
        }
        header.chunks = Some(chunks.len() as u32);
        header.crc32 = Some(crc.finalize());
        let json = serde_json::to_string(&header).map_err(unavailable)?;
        let old = self.with(|con| {
            for (trip, group) in chunks.chunks(CHUNKS_PER_TRIP).enumerate() {
                let mut pipe = redis::pipe();
                for (i, chunk) in group.iter().enumerate() {
                    let n = (trip * CHUNKS_PER_TRIP + i) as u32;
                    pipe.set(chunk_key(&list.revision, n), chunk.as_slice())
                        .ignore();
                }
                pipe.query::<()>(con).map_err(unavailable)?;
            }
            let old: String = self
                .put
                .key(key("meta"))
                .key(key(&format!("department:{}", hex(&list.department))))
                .key(key("version"))
                .arg(field(&list.department, &list.name))
                .arg(&json)
                .arg(&list.name)
                .invoke(con)
                .map_err(unavailable)?;
            self.replicated(con)?;
            Ok(old)
        })?;
        self.drop_chunks(&old);
        Ok(())
    }

    /// Removes the department's watchlist `name`; false if there was none.
    pub(super) fn delete(&self, department: &str, name: &str) -> Result<bool, WatchlistError> {
        let old = self.with(|con| {
            let old: String = self
                .delete
                .key(key("meta"))
                .key(key(&format!("department:{}", hex(department))))
                .key(key("version"))
                .arg(field(department, name))
                .arg(name)
                .invoke(con)
                .map_err(unavailable)?;
            if !old.is_empty() {
                self.replicated(con)?;
            }
            Ok(old)
        })?;
        self.drop_chunks(&old);
        Ok(!old.is_empty())
    }

    /// Removes the chunks of a replaced or removed revision, whose header was `old` (nothing
    /// if empty). A failure leaves them behind, which is logged: they are no longer named.
    fn drop_chunks(&self, old: &str) {
        let Ok(old) = serde_json::from_str::<Header>(old) else {
            return;
        };
        let keys: Vec<String> = (0..old.chunks.unwrap_or(0))
            .map(|n| chunk_key(&old.revision, n))
            .collect();
        if keys.is_empty() {
            return;
        }
        let dropped = self.with(|con| con.del::<_, ()>(&keys).map_err(unavailable));
        if let Err(err) = dropped {
            tracing::warn!(error = %err, revision = %old.revision, "the chunks of a replaced watchlist were left in redis");
        }
    }

    /// Every watchlist Redis holds, each read or refused; one whose revision is in `known` is
    /// taken from there rather than read again.
    pub(super) fn load_all(
        &self,
        known: &HashMap<String, Arc<Watchlist>>,
    ) -> Result<Loaded, WatchlistError> {
        self.with(|con| {
            let headers: HashMap<String, String> = con.hgetall(key("meta")).map_err(unavailable)?;
            let mut loaded = Vec::with_capacity(headers.len());
            for (field, json) in headers {
                let corrupt = |why: String| WatchlistError::Corrupt {
                    what: format!("`{field}`"),
                    why,
                };
                let header = match serde_json::from_str::<Header>(&json) {
                    Ok(header) => header,
                    Err(err) => {
                        loaded.push(Err(corrupt(format!("its header: {err}"))));
                        continue;
                    }
                };
                if let Some(list) = known.get(&header.revision) {
                    loaded.push(Ok(Arc::clone(list)));
                    continue;
                }
                loaded.push(read_chunks(con, header).map(Arc::new).map_err(corrupt));
            }
            Ok(loaded)
        })
    }
}

/// The watchlist `header` describes, its subjects read from its chunks.
fn read_chunks(con: &mut Connection, header: Header) -> Result<Watchlist, String> {
    let chunks = header.chunks.ok_or("its header names no chunks")?;
    let mut subjects = Vec::with_capacity(usize::try_from(header.count).unwrap_or(0));
    let mut crc = crc32fast::Hasher::new();
    let numbers: Vec<u32> = (0..chunks).collect();
    for trip in numbers.chunks(CHUNKS_PER_TRIP) {
        let mut pipe = redis::pipe();
        for n in trip {
            pipe.get(chunk_key(&header.revision, *n));
        }
        let found: Vec<Option<Vec<u8>>> = pipe.query(con).map_err(|err| err.to_string())?;
        for (n, bytes) in trip.iter().zip(found) {
            let bytes = bytes
                .ok_or_else(|| format!("its chunk {n} is missing (replaced meanwhile, or lost)"))?;
            if bytes.len() > CHUNK_KEYS * KEY_BYTES {
                return Err(format!("its chunk {n} is larger than a chunk"));
            }
            crc.update(&bytes);
            format::unpack_into(&bytes, &mut subjects)?;
        }
    }
    if Some(crc.finalize()) != header.crc32 {
        return Err("its subjects' checksum does not match".into());
    }
    header.watchlist(subjects)
}
