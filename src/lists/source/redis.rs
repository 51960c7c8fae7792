//! Redis as the shared source of truth for lists (docs/architecture.md).
//!
//! Calls share the source's bounded set of connections (see `pool`); the follower holds one
//! connection of its own, since it blocks on the change stream.
//!
//! # Data model
//! Every key starts with a prefix (default `jc:{lists}:`; the `{lists}` hash tag keeps all keys
//! in one Redis Cluster slot, which the write script needs):
//! - `entries` — hash: `entry_id` → the entry as canonical JSON (the entry format of docs/lists.md);
//! - `subject:<id>` — set of the `entry_id`s of one subject (normalised identifier);
//! - `list:<code>` — set of the `entry_id`s on one list (for a list's full replacement);
//! - `version` — counter, incremented by every change;
//! - `epoch` — a random id (a UUIDv7, so it also tells when it began) set by the first change
//!   written to a store without one: versions count within one epoch. A store that was emptied
//!   (`FLUSHALL`, a restart without persistence) gets a new epoch with its next write, one
//!   restored from another store's backup brings that store's epoch, and one restored from an
//!   older backup of its own goes back in version: a follower checks both on every poll, so it
//!   never takes a replaced store's versions for the ones it has seen;
//! - `repairs`, `disputes` — hashes: `entry_id` → the latest repair or dispute change (who,
//!   when, document or reason), written with the entry;
//! - `repairs:<entry_id>`, `disputes:<entry_id>` — lists: every such change of one entry, oldest
//!   first, so an objection's whole course (under review since when, decided by whom) is kept;
//! - `under_review` — sorted set: the `entry_id`s whose dispute is `under_review`, scored by the
//!   instant (ms) the entry entered that state — the `at` of that dispute change when an admin
//!   set it, else the write that brought it so — for telling overdue objections;
//! - `tombstones` — hash: `entry_id` → who removed an entry, why, when, and the entry;
//! - `changes` — stream, one record per change, with the id `<version>-0`: `version`, `epoch`,
//!   `op` (`put` or `delete`), `entry_id`, `entry` (empty for a delete), `old_subject` (the
//!   subject the entry had before, if any), and `write` (a fresh id of the admin write or
//!   import batch that made it, which tells this change from another history's change at the
//!   same version); trimmed to about the last million records;
//! - `events` — stream, one record per change for the push and the change feed, with the id
//!   `<n>-0` where `n` counts up in `events_seq`: `version`, `at`, `old` and `new` (the entry's
//!   JSON before and after; empty when there was or is none), and `origin`: none for a
//!   write, `expired` for an entry whose window ended (appended by the expiry scan, which keeps
//!   its mark in `expired_through`, ms), `breach` for a breach of a credit commitment (its
//!   record in `new`); trimmed to about the last 200,000 (see `crate::events`).
//!
//! A write is one Lua script, so an entry, its subject index, the new version and the change
//! record land together or not at all. Every key a script touches is passed to it in `KEYS`
//! (Redis Cluster routes a script by them and refuses any other): the sets of the subject and
//! list an entry was filed under are those it is expected on, and the script writes nothing
//! and says where the entry is if it is elsewhere, so that the call is repeated with those. Writing an entry identical to the stored one changes
//! nothing (not even the version), which makes imports idempotent.

mod events;

use std::time::Duration;

use std::sync::Arc;

use redis::{Commands, Script};

use super::change::StreamRecord;
use super::named::{ColdNames, NamedBy};
use super::pool::Connections;
use super::{LoadPath, Loaded};
use crate::lists::entry::{Checked, Dispute, Entry, EntryRecord};
use crate::lists::file::{id_hash, repeated_ids};
use crate::lists::index::{IndexBuilder, ListIndex};
use crate::lists::Shrink;
use crate::redis_client::{Connection, RedisClient};
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

pub const DEFAULT_PREFIX: &str = "jc:{lists}:";
/// How long connecting, sending a command and waiting for its reply may each take before
/// Redis counts as unreachable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a write waits for its replicas by default: well inside [`DEFAULT_TIMEOUT`].
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// How many replicas must confirm a write (Redis's `WAIT`) before it is acknowledged, and for
/// how long they are waited for: with one or more, an acknowledged write survives the loss of
/// the master, since a failover promotes a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaWait {
    pub replicas: u32,
    pub timeout: Duration,
}

impl ReplicaWait {
    /// The default for `url`: one replica behind sentinels or on a cluster (whose point is a
    /// replica to fail over to), none on a lone server (which has none).
    pub fn for_url(url: &str) -> ReplicaWait {
        ReplicaWait {
            replicas: u32::from(crate::redis_client::is_replicated_url(url)),
            timeout: DEFAULT_WAIT_TIMEOUT,
        }
    }
}
/// Writes per pipelined round trip during an import.
const IMPORT_BATCH: usize = 1000;
/// The change stream keeps about this many records; an instance further behind resyncs fully.
const STREAM_MAXLEN: u64 = 1_000_000;
/// Entries read per HSCAN page: each page stays far below the client's response timeout.
const SCAN_PAGE: usize = 10_000;
/// How often one write is tried again when its entry turns out filed under another subject or
/// list than it declared (moved by another write meanwhile) before it fails.
const MOVED_RETRIES: usize = 5;

/// Every key it touches is in `KEYS`, as Redis Cluster requires: `entries`, `tombstones`,
/// `under_review`, `epoch`, `version`, `changes`, `events`, `events_seq`, the new subject's and
/// list's sets, then the
/// sets of the subject and list the stored entry is expected to be on (`ARGV[10]`, `ARGV[11]`),
/// and, with a note, its hash and its entry's list of notes. A stored entry elsewhere than
/// expected changes nothing and answers `2` with where it is, for the caller to call again.
const PUT_SCRIPT: &str = r#"
local id, json, subject, list = ARGV[1], ARGV[2], ARGV[3], ARGV[6]
local old = redis.call('HGET', KEYS[1], id)
if old == json then
  return {0, tonumber(redis.call('GET', KEYS[5]) or '0'), 1, '', ''}
end
local old_subject = ''
if old then
  local previous = cjson.decode(old)
  old_subject = previous['subject_id']
  if old_subject ~= ARGV[10] or previous['list'] ~= ARGV[11] then
    return {2, 0, 1, old_subject, previous['list']}
  end
  if old_subject ~= subject then
    redis.call('SREM', KEYS[11], id)
  end
  if previous['list'] ~= list then
    redis.call('SREM', KEYS[12], id)
  end
end
redis.call('HSET', KEYS[1], id, json)
redis.call('HDEL', KEYS[2], id)
if ARGV[9] == 'under_review' then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[8], id)
else
  redis.call('ZREM', KEYS[3], id)
end
redis.call('SADD', KEYS[9], id)
redis.call('SADD', KEYS[10], id)
if #KEYS > 12 then
  redis.call('HSET', KEYS[13], id, ARGV[5])
  redis.call('RPUSH', KEYS[14], ARGV[5])
end
redis.call('SET', KEYS[4], ARGV[7], 'NX')
local epoch = redis.call('GET', KEYS[4])
local version = redis.call('INCR', KEYS[5])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], version .. '-0',
  'version', version, 'epoch', epoch, 'op', 'put', 'entry_id', id, 'entry', json,
  'old_subject', old_subject, 'write', ARGV[7])
local seq = redis.call('INCR', KEYS[8])
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[12], seq .. '-0',
  'version', version, 'at', ARGV[8], 'old', old or '', 'new', json)
return {1, version, old and 1 or 0, '', ''}
"#;

/// `KEYS` as for the write script up to the sets of the subject and list the stored entry is
/// expected to be on (`ARGV[7]`, `ARGV[8]`); answers `2` with where it is if elsewhere.
const DELETE_SCRIPT: &str = r#"
local id, by, reason, at, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local old = redis.call('HGET', KEYS[1], id)
if not old then
  return {0, tonumber(redis.call('GET', KEYS[5]) or '0'), 0, '', ''}
end
local previous = cjson.decode(old)
local old_subject = previous['subject_id']
if old_subject ~= ARGV[7] or previous['list'] ~= ARGV[8] then
  return {2, 0, 1, old_subject, previous['list']}
end
redis.call('HDEL', KEYS[1], id)
redis.call('ZREM', KEYS[3], id)
redis.call('SREM', KEYS[9], id)
redis.call('SREM', KEYS[10], id)
redis.call('HSET', KEYS[2], id,
  cjson.encode({entry = previous, removed_by = by, reason = reason, removed_at = at}))
redis.call('SET', KEYS[4], ARGV[6], 'NX')
local epoch = redis.call('GET', KEYS[4])
local version = redis.call('INCR', KEYS[5])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', maxlen, version .. '-0',
  'version', version, 'epoch', epoch, 'op', 'delete', 'entry_id', id, 'entry', '',
  'old_subject', old_subject, 'write', ARGV[6])
local seq = redis.call('INCR', KEYS[8])
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[9], seq .. '-0',
  'version', version, 'at', at, 'old', old, 'new', '')
return {1, version, 1, '', ''}
"#;

/// The stored entries of each subject whose set is given (`KEYS[2..]`; `KEYS[1]` is
/// `entries`), one array of entry JSON per subject.
const COLD_SCRIPT: &str = r#"
local found = {}
for i = 2, #KEYS do
  local ids = redis.call('SMEMBERS', KEYS[i])
  if #ids > 0 then
    found[i - 1] = {ids, redis.call('HMGET', KEYS[1], unpack(ids))}
  else
    found[i - 1] = {{}, {}}
  end
end
return found
"#;

/// Why a call to the list source failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A file source: the lists change only by editing the file and reloading.
    #[error("the lists come from a file and are read-only")]
    ReadOnly,
    /// The Redis URL cannot be used.
    #[error("redis: {0}")]
    Url(String),
    #[error("redis: all {0} connections of the list source are busy")]
    Busy(usize),
    #[error("the change stream no longer holds version {wanted} (it starts at {found}); a full resync is needed")]
    Gap { wanted: u64, found: u64 },
    #[error("the lists in redis were replaced (epoch {theirs} where ours is {ours}); a full resync is needed")]
    Replaced { ours: String, theirs: String },
    #[error(
        "the lists in redis went back from version {ours} to {theirs}; a full resync is needed"
    )]
    WentBack { ours: u64, theirs: u64 },
    /// A replica that missed the last writes took over, or the store was restored, and new
    /// writes carried its version to ours or past it.
    #[error("the change redis holds at version {version} is not the one applied here (a replica that missed the last writes took over, or the store was restored); a full resync is needed")]
    Diverged { version: u64 },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not confirm the write ({0}); it may still be applied once redis answers: read the entry back, or repeat the write")]
    Unconfirmed(redis::RedisError),
    /// `WAIT` came back with fewer replicas than asked for, as while a master has lost its
    /// replica or during a failover.
    #[error("the write reached the redis master but only {confirmed} of the {wanted} replicas it must reach confirmed it within {waited_ms} ms, so it is not acknowledged: it may or may not survive a failover; retrying is safe (the same write again changes nothing more)")]
    NotReplicated {
        confirmed: u32,
        wanted: u32,
        waited_ms: u128,
    },
    /// Other writes kept moving an entry between subjects or lists while this one was tried.
    #[error("{0} kept moving to another subject or list while it was written; repeat the write")]
    Contended(String),
    #[error("entry `{entry_id}` stored in redis is invalid: {message}")]
    Corrupt { entry_id: String, message: String },
    #[error("cannot store the entries' text: {0}")]
    Text(#[from] std::io::Error),
}

impl SourceError {
    /// A file source, which takes no writes.
    pub fn is_read_only(&self) -> bool {
        matches!(self, SourceError::ReadOnly)
    }

    /// The snapshot no longer matches Redis and only a full load can fix it.
    pub fn needs_resync(&self) -> bool {
        matches!(
            self,
            SourceError::Gap { .. }
                | SourceError::Replaced { .. }
                | SourceError::WentBack { .. }
                | SourceError::Diverged { .. }
        )
    }

    /// A write's error: once the command is sent, a lost connection or a missing reply leaves
    /// its outcome unknown, which the caller must be told rather than a plain failure.
    fn of_write(err: redis::RedisError) -> SourceError {
        if err.is_timeout() || err.is_io_error() || err.is_connection_dropped() {
            SourceError::Unconfirmed(err)
        } else {
            SourceError::Redis(err)
        }
    }
}

/// Where a list state stands in Redis's history: a version counts only within its epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub version: u64,
    /// `None` for a store that no write has given an epoch yet (empty, or last written by a
    /// version of the service that kept none).
    pub epoch: Option<String>,
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportStats {
    /// Entries written because they were new or different.
    pub changed: u64,
    /// Entries already stored exactly so.
    pub unchanged: u64,
    /// Entries removed because a full replacement of their list left them out.
    pub removed: u64,
    /// The list version after the import.
    pub version: u64,
}

/// Why an entry was amended, kept beside it (who, when, the document).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Credit repair (信用修复), with its decision document.
    Repair,
    /// A change of dispute state (异议).
    Dispute,
}

impl Note {
    fn hash(self) -> &'static str {
        match self {
            Note::Repair => "repairs",
            Note::Dispute => "disputes",
        }
    }
}

/// What a Redis source keeps of the lists' past ([`RedisLists::history`]).
#[derive(Debug, Default)]
pub struct ListHistory {
    /// Each removed entry's tombstone (JSON: `entry`, `removed_by`, `reason`, `removed_at`).
    pub tombstones: Vec<String>,
    /// Each repaired entry's id and its repair notes (JSON: `document`, `by`, `at`).
    pub repairs: Vec<(String, Vec<String>)>,
    /// Each disputed entry's id and its dispute changes (JSON: `dispute`, `by`, `reason`, `at`).
    pub disputes: Vec<(String, Vec<String>)>,
}

/// What a single write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    /// There was no entry of this id before.
    pub created: bool,
    /// The stored entry differs from what was there (false for an identical rewrite).
    pub changed: bool,
    /// The list version after the write.
    pub version: u64,
}

/// The subject and list a stored entry is filed under, whose sets a write script must declare
/// (Redis Cluster runs no script that touches an undeclared key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filed {
    subject: String,
    list: String,
}

impl Filed {
    /// Where a stored entry (its JSON) is filed.
    fn read(entry_id: &str, json: &str) -> Result<Filed, SourceError> {
        #[derive(serde::Deserialize)]
        struct Stored {
            subject_id: String,
            list: String,
        }
        let stored: Stored = serde_json::from_str(json).map_err(|err| SourceError::Corrupt {
            entry_id: entry_id.to_owned(),
            message: err.to_string(),
        })?;
        Ok(Filed {
            subject: stored.subject_id,
            list: stored.list,
        })
    }
}

/// What a write script answered: whether it wrote, the list version after it, whether the
/// entry existed, and where the stored entry was found when it was filed elsewhere than
/// declared (then nothing was written).
struct ScriptReply {
    outcome: u8,
    version: u64,
    existed: bool,
    found: Filed,
}

/// The outcome of a script that found its entry filed elsewhere than declared.
const MOVED: u8 = 2;

impl ScriptReply {
    /// It wrote (or removed) the entry.
    fn done(&self) -> bool {
        self.outcome == 1
    }

    /// Where the entry is filed, if elsewhere than declared.
    fn moved(&self) -> Option<Filed> {
        (self.outcome == MOVED).then(|| self.found.clone())
    }
}

impl redis::FromRedisValue for ScriptReply {
    fn from_redis_value(value: redis::Value) -> Result<ScriptReply, redis::ParsingError> {
        let (outcome, version, existed, subject, list): (u8, u64, u8, String, String) =
            redis::FromRedisValue::from_redis_value(value)?;
        Ok(ScriptReply {
            outcome,
            version,
            existed: existed == 1,
            found: Filed { subject, list },
        })
    }
}

/// The lists in one Redis database. Clones share their connections.
#[derive(Clone)]
pub(super) struct RedisLists {
    pub(super) connections: Arc<Connections>,
    prefix: String,
    scripts: Arc<WriteScripts>,
    wait: ReplicaWait,
}

/// The write scripts, and the keys every one of them touches in the order they declare them:
/// named once, not for each of an import's entries.
struct WriteScripts {
    put: Script,
    delete: Script,
    keys: [String; 8],
}

/// A fresh id for one write (an admin write, an import batch): the epoch it offers in case the
/// store has none yet, and the `write` of the change records it makes.
fn new_epoch() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl RedisLists {
    /// Does not connect. `timeout` bounds connecting, each write to the socket and each wait
    /// for a reply (more than zero), so that a Redis that stops answering (frozen,
    /// partitioned) fails a call instead of hanging it.
    pub(super) fn open(
        url: &str,
        prefix: &str,
        timeout: Duration,
        connections: usize,
        wait: ReplicaWait,
    ) -> Result<RedisLists, SourceError> {
        Ok(RedisLists {
            connections: Arc::new(Connections::new(
                RedisClient::open(url)?,
                timeout,
                connections,
            )),
            prefix: prefix.to_owned(),
            scripts: Arc::new(WriteScripts {
                put: Script::new(PUT_SCRIPT),
                delete: Script::new(DELETE_SCRIPT),
                keys: [
                    "entries",
                    "tombstones",
                    "under_review",
                    "epoch",
                    "version",
                    "changes",
                    "events",
                    "events_seq",
                ]
                .map(|name| format!("{prefix}{name}")),
            }),
            wait,
        })
    }

    /// Waits until as many replicas as configured hold every write made on `con` so far.
    fn replicated(&self, con: &mut Connection) -> Result<(), SourceError> {
        let wanted = self.wait.replicas;
        if wanted == 0 {
            return Ok(());
        }
        let waited_ms = self.wait.timeout.as_millis();
        let confirmed = con
            .wait_replicas(&self.key("version"), wanted, self.wait.timeout)
            .map_err(SourceError::of_write)?;
        if confirmed < wanted {
            return Err(SourceError::NotReplicated {
                confirmed,
                wanted,
                waited_ms,
            });
        }
        Ok(())
    }

    pub(super) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The current list version (0 before the first write).
    pub fn version(&self) -> Result<u64, SourceError> {
        self.connections
            .with(|con| Ok(con.get::<_, Option<u64>>(self.key("version"))?.unwrap_or(0)))
    }

    /// Writes validated entries in pipelined batches; `progress` is told how many were sent.
    pub fn import(
        &self,
        entries: &[Entry],
        rules: &RuleSet,
        progress: &dyn Fn(u64),
    ) -> Result<ImportStats, SourceError> {
        self.connections.with(|con| {
            self.scripts.put.prepare_invoke().load(&mut *con)?;
            let mut stats = ImportStats::default();
            for batch in entries.chunks(IMPORT_BATCH) {
                // Offered afresh per batch: were the store emptied during the import, the rest of
                // it must not revive the epoch that followers already hold.
                let epoch = new_epoch();
                // Each entry is expected where it goes; one that is filed elsewhere is written
                // again, declaring where it was found.
                let mut pending: Vec<(&Entry, Option<Filed>)> =
                    batch.iter().map(|entry| (entry, None)).collect();
                for _ in 0..MOVED_RETRIES {
                    let mut pipe = redis::pipe();
                    for (entry, filed) in &pending {
                        pipe.invoke_script(&self.put_invocation(
                            entry,
                            rules,
                            None,
                            filed.as_ref(),
                            &epoch,
                            Timestamp::now(),
                        )?);
                    }
                    let replies: Vec<ScriptReply> = pipe.query(&mut *con)?;
                    let mut moved = Vec::new();
                    for ((entry, _), reply) in pending.into_iter().zip(replies) {
                        match reply.moved() {
                            Some(filed) => moved.push((entry, Some(filed))),
                            None if reply.done() => stats.changed += 1,
                            None => stats.unchanged += 1,
                        }
                        stats.version = stats.version.max(reply.version);
                    }
                    pending = moved;
                    if pending.is_empty() {
                        break;
                    }
                }
                if let Some((entry, _)) = pending.first() {
                    return Err(SourceError::Contended(format!(
                        "entry `{}`",
                        entry.entry_id
                    )));
                }
                self.replicated(con)?;
                progress(batch.len() as u64);
            }
            if entries.is_empty() {
                stats.version = con.get::<_, Option<u64>>(self.key("version"))?.unwrap_or(0);
            }
            Ok(stats)
        })
    }

    /// Declares the keys every write script touches.
    fn write_keys<'s>(&self, invocation: &mut redis::ScriptInvocation<'s>) {
        for key in &self.scripts.keys {
            invocation.key(key);
        }
    }

    /// Declares the sets of the subject and list an entry is expected to be filed under.
    fn filed_keys<'s>(&self, invocation: &mut redis::ScriptInvocation<'s>, filed: &Filed) {
        invocation
            .key(format!("{}subject:{}", self.prefix, filed.subject))
            .key(format!("{}list:{}", self.prefix, filed.list));
    }

    /// The write script's call for one entry (stored as its canonical exchange record), with
    /// an optional note (hash name, JSON) recorded in the same script, where the stored entry
    /// is expected to be filed (`None`: where it goes, as for a new or amended entry), and the
    /// epoch to start should the store have none.
    fn put_invocation(
        &self,
        entry: &Entry,
        rules: &RuleSet,
        note: Option<(&str, &str)>,
        filed: Option<&Filed>,
        epoch: &str,
        at: Timestamp,
    ) -> Result<redis::ScriptInvocation<'_>, SourceError> {
        let record = entry.to_record(rules);
        let json = serde_json::to_string(&record).map_err(|err| SourceError::Corrupt {
            entry_id: record.entry_id.to_string(),
            message: err.to_string(),
        })?;
        let goes = Filed {
            subject: record.subject_id.to_string(),
            list: record.list.to_string(),
        };
        let expected = filed.unwrap_or(&goes);
        let mut invocation = self.scripts.put.prepare_invoke();
        self.write_keys(&mut invocation);
        self.filed_keys(&mut invocation, &goes);
        self.filed_keys(&mut invocation, expected);
        if let Some((hash, _)) = note {
            invocation
                .key(self.key(hash))
                .key(format!("{}:{}", self.key(hash), record.entry_id));
        }
        invocation
            .arg(record.entry_id.as_ref())
            .arg(json)
            .arg(record.subject_id.as_ref())
            .arg(STREAM_MAXLEN)
            .arg(note.map_or("", |n| n.1))
            .arg(record.list.as_ref())
            .arg(epoch)
            .arg(at.0)
            .arg(if record.dispute == Dispute::UnderReview {
                "under_review"
            } else {
                ""
            })
            .arg(&expected.subject)
            .arg(&expected.list)
            .arg(crate::events::RETAINED);
        Ok(invocation)
    }

    /// Runs one write script call (first declaring the entry filed where the call assumes by
    /// default), then again declaring where the stored entry was found each time it is filed
    /// elsewhere than declared, a bounded number of times.
    fn filed_call(
        entry_id: &str,
        mut call: impl FnMut(Option<&Filed>) -> Result<ScriptReply, SourceError>,
    ) -> Result<ScriptReply, SourceError> {
        let mut filed = None;
        for _ in 0..MOVED_RETRIES {
            let reply = call(filed.as_ref())?;
            match reply.moved() {
                Some(found) => filed = Some(found),
                None => return Ok(reply),
            }
        }
        Err(SourceError::Contended(format!("entry `{entry_id}`")))
    }

    /// Creates or replaces one entry at `at`; acknowledged once Redis has it. A `note` (why
    /// the entry was amended, as JSON with the same `at`) is stored with it, atomically.
    pub fn put(
        &self,
        entry: &Entry,
        rules: &RuleSet,
        note: Option<(Note, &str)>,
        at: Timestamp,
    ) -> Result<PutOutcome, SourceError> {
        self.connections.with(|con| {
            let note = note.map(|(kind, json)| (kind.hash(), json));
            let epoch = new_epoch();
            let reply = Self::filed_call(&entry.entry_id, |filed| {
                self.put_invocation(entry, rules, note, filed, &epoch, at)?
                    .invoke(&mut *con)
                    .map_err(SourceError::of_write)
            })?;
            self.replicated(con)?;
            Ok(PutOutcome {
                created: !reply.existed,
                changed: reply.done(),
                version: reply.version,
            })
        })
    }

    /// Removes an entry, keeping a tombstone with who removed it, why and when. `None` when
    /// there was no such entry; else the list version after the removal.
    pub fn delete(
        &self,
        entry_id: &str,
        by: &str,
        reason: &str,
        at: &str,
    ) -> Result<Option<u64>, SourceError> {
        self.connections.with(|con| {
            let epoch = new_epoch();
            // Where the entry is filed is not known yet: the first call tells.
            let unknown = Filed::default();
            let reply = Self::filed_call(entry_id, |filed| {
                let filed = filed.unwrap_or(&unknown);
                self.delete_invocation(entry_id, filed, by, reason, at, &epoch)
                    .invoke(&mut *con)
                    .map_err(SourceError::of_write)
            })?;
            self.replicated(con)?;
            Ok(reply.done().then_some(reply.version))
        })
    }

    fn delete_invocation(
        &self,
        entry_id: &str,
        filed: &Filed,
        by: &str,
        reason: &str,
        at: &str,
        epoch: &str,
    ) -> redis::ScriptInvocation<'_> {
        let mut invocation = self.scripts.delete.prepare_invoke();
        self.write_keys(&mut invocation);
        self.filed_keys(&mut invocation, filed);
        invocation
            .arg(entry_id)
            .arg(by)
            .arg(reason)
            .arg(at)
            .arg(STREAM_MAXLEN)
            .arg(epoch)
            .arg(&filed.subject)
            .arg(&filed.list)
            .arg(crate::events::RETAINED);
        invocation
    }

    /// Where each stored entry of `ids` is filed (the default for one that is gone).
    fn filed_of(&self, con: &mut Connection, ids: &[String]) -> Result<Vec<Filed>, SourceError> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IMPORT_BATCH) {
            let stored: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(self.key("entries"))
                .arg(chunk)
                .query(&mut *con)?;
            for (id, json) in chunk.iter().zip(stored) {
                found.push(match json {
                    Some(json) => Filed::read(id, &json)?,
                    None => Filed::default(),
                });
            }
        }
        Ok(found)
    }

    /// Replaces the whole content of one list (a designating body's periodic full push) in one
    /// MULTI/EXEC: every given entry is written, and every entry of the list that is not given
    /// is removed with a tombstone naming `by`. The entries must all be on `list`. Should an
    /// entry be filed elsewhere than read (moved by another write meanwhile), that entry is
    /// left alone and the whole replacement is done again, a bounded number of times: it ends
    /// the same however often it is done.
    pub fn replace_list(
        &self,
        list: &str,
        entries: &[Entry],
        rules: &RuleSet,
        by: &str,
        at: &str,
    ) -> Result<ImportStats, SourceError> {
        self.connections.with(|con| {
            self.scripts.put.prepare_invoke().load(&mut *con)?;
            self.scripts.delete.prepare_invoke().load(&mut *con)?;
            let given: rustc_hash::FxHashSet<&str> = entries.iter().map(|e| &*e.entry_id).collect();
            let reason = format!("not in the full push of list `{list}`");
            let epoch = new_epoch();
            // Where given entries were found filed elsewhere than they go, by an earlier pass.
            let mut moved: rustc_hash::FxHashMap<&str, Filed> = Default::default();
            let mut stats = ImportStats::default();
            for _ in 0..MOVED_RETRIES {
                let current: Vec<String> = con.smembers(self.key(&format!("list:{list}")))?;
                let left_out: Vec<String> = current
                    .into_iter()
                    .filter(|id| !given.contains(id.as_str()))
                    .collect();
                let left_out_filed = self.filed_of(&mut *con, &left_out)?;
                let mut pipe = redis::pipe();
                pipe.atomic();
                for entry in entries {
                    let filed = moved.get(&*entry.entry_id);
                    pipe.invoke_script(&self.put_invocation(
                        entry,
                        rules,
                        None,
                        filed,
                        &epoch,
                        Timestamp::now(),
                    )?);
                }
                for (id, filed) in left_out.iter().zip(&left_out_filed) {
                    pipe.invoke_script(&self.delete_invocation(id, filed, by, &reason, at, &epoch));
                }
                let replies: Vec<ScriptReply> =
                    pipe.query(&mut *con).map_err(SourceError::of_write)?;
                let mut again = false;
                for (i, reply) in replies.iter().enumerate() {
                    match (i < entries.len(), reply.moved()) {
                        (true, Some(filed)) => {
                            moved.insert(&entries[i].entry_id, filed);
                            again = true;
                        }
                        (false, Some(_)) => again = true,
                        (true, None) => stats.changed += u64::from(reply.done()),
                        (false, None) => stats.removed += u64::from(reply.done()),
                    }
                    stats.version = stats.version.max(reply.version);
                }
                if replies.is_empty() {
                    stats.version = self.version_on(&mut *con)?;
                }
                if !again {
                    self.replicated(con)?;
                    stats.unchanged = entries.len() as u64 - stats.changed;
                    return Ok(stats);
                }
            }
            Err(SourceError::Contended(format!("an entry of list `{list}`")))
        })
    }

    /// What writing `entries` would do to the size of each list, read before anything is
    /// written, for the fail-closed guard: an entry stored on another list moves off it, and a
    /// full replacement of list `replacing` removes the entries of it that are not given.
    pub fn shrink_of_write(
        &self,
        entries: &[Entry],
        rules: &RuleSet,
        replacing: Option<&str>,
    ) -> Result<Shrink, SourceError> {
        self.connections.with(|con| {
            let list_key = |code: &str| self.key(&format!("list:{code}"));
            let codes: Vec<&str> = rules.lists().map(|(_, list)| list.code.as_str()).collect();
            let mut pipe = redis::pipe();
            for code in &codes {
                pipe.scard(list_key(code));
            }
            let before: Vec<u64> = pipe.query(&mut *con)?;
            let mut after: rustc_hash::FxHashMap<&str, i64> = codes
                .iter()
                .zip(&before)
                .map(|(&code, &count)| (code, count as i64))
                .collect();
            for batch in entries.chunks(IMPORT_BATCH) {
                // One membership question per list, not per entry.
                let mut by_list: rustc_hash::FxHashMap<&str, Vec<&Entry>> = Default::default();
                for entry in batch {
                    by_list
                        .entry(rules.list(entry.facts.list).code.as_str())
                        .or_default()
                        .push(entry);
                }
                let mut pipe = redis::pipe();
                for (code, group) in &by_list {
                    let ids: Vec<&str> = group.iter().map(|e| &*e.entry_id).collect();
                    pipe.cmd("SMISMEMBER").arg(list_key(code)).arg(ids);
                }
                let on_their_lists: Vec<Vec<bool>> = pipe.query(&mut *con)?;
                // Only entries not yet on their list change a count: new ones, and ones that move.
                let arriving: Vec<&Entry> = by_list
                    .values()
                    .zip(on_their_lists)
                    .flat_map(|(group, on)| {
                        group
                            .iter()
                            .zip(on)
                            .filter_map(|(&entry, on)| (!on).then_some(entry))
                    })
                    .collect();
                if arriving.is_empty() {
                    continue;
                }
                let ids: Vec<&str> = arriving.iter().map(|e| &*e.entry_id).collect();
                let stored: Vec<Option<String>> = redis::cmd("HMGET")
                    .arg(self.key("entries"))
                    .arg(&ids)
                    .query(&mut *con)?;
                for (entry, stored) in arriving.iter().zip(stored) {
                    *after
                        .entry(rules.list(entry.facts.list).code.as_str())
                        .or_default() += 1;
                    if let Some(json) = stored {
                        let previous: StoredList<'_> =
                            serde_json::from_str(&json).map_err(|err| SourceError::Corrupt {
                                entry_id: entry.entry_id.to_string(),
                                message: err.to_string(),
                            })?;
                        if let Some(count) = after.get_mut(previous.list.as_ref()) {
                            *count -= 1;
                        }
                    }
                }
            }
            if let Some(list) = replacing {
                let given: rustc_hash::FxHashSet<&str> =
                    entries.iter().map(|e| &*e.entry_id).collect();
                let current: Vec<String> = con.smembers(list_key(list))?;
                let left_out = current
                    .iter()
                    .filter(|id| !given.contains(id.as_str()))
                    .count();
                if let Some(count) = after.get_mut(list) {
                    *count -= left_out as i64;
                }
            }
            Ok(Shrink::between(
                codes.iter().copied().zip(before),
                codes.iter().map(|&code| {
                    let count = after.get(code).copied().unwrap_or(0);
                    (code, u64::try_from(count).unwrap_or(0))
                }),
            ))
        })
    }

    /// The tombstone of a removed entry (JSON: `entry`, `removed_by`, `reason`, `removed_at`).
    pub fn tombstone(&self, entry_id: &str) -> Result<Option<String>, SourceError> {
        self.connections
            .with(|con| Ok(con.hget(self.key("tombstones"), entry_id)?))
    }

    /// What the store keeps of the lists' past: the tombstone of every removed entry, and
    /// every repair and dispute change of each entry that had one (removed entries' too),
    /// oldest first, each as the JSON it was written with. Read a page at a time.
    pub fn history(&self) -> Result<ListHistory, SourceError> {
        let tombstones = self.hash_values(&self.key("tombstones"))?;
        let mut notes = [Vec::new(), Vec::new()];
        for (note, found) in [Note::Repair, Note::Dispute].into_iter().zip(&mut notes) {
            let ids: Vec<String> = self.hash_fields(&self.key(note.hash()))?;
            for ids in ids.chunks(SCAN_PAGE) {
                found.extend(ids.iter().cloned().zip(self.notes(note, ids)?));
            }
        }
        let [repairs, disputes] = notes;
        Ok(ListHistory {
            tombstones,
            repairs,
            disputes,
        })
    }

    /// Every (field, value) of a hash, an HSCAN page at a time, each field once.
    fn hash_scan(
        &self,
        key: &str,
        each: &mut dyn FnMut(String, String),
    ) -> Result<(), SourceError> {
        let mut seen = rustc_hash::FxHashSet::default();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, ScanPage) = self.connections.with(|con| {
                Ok(redis::cmd("HSCAN")
                    .arg(key)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(SCAN_PAGE)
                    .query(&mut *con)?)
            })?;
            for (field, value) in page {
                if seen.insert(field.clone()) {
                    each(field, value);
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn hash_values(&self, key: &str) -> Result<Vec<String>, SourceError> {
        let mut values = Vec::new();
        self.hash_scan(key, &mut |_, value| values.push(value))?;
        Ok(values)
    }

    fn hash_fields(&self, key: &str) -> Result<Vec<String>, SourceError> {
        let mut fields = Vec::new();
        self.hash_scan(key, &mut |field, _| fields.push(field))?;
        Ok(fields)
    }

    /// Every dispute change of each entry given, oldest first, each as the JSON note it was
    /// written with; in one round trip.
    pub fn dispute_histories(&self, entry_ids: &[String]) -> Result<Vec<Vec<String>>, SourceError> {
        self.notes(Note::Dispute, entry_ids)
    }

    /// Every note of a kind of each entry given, oldest first; in one round trip.
    fn notes(&self, note: Note, entry_ids: &[String]) -> Result<Vec<Vec<String>>, SourceError> {
        self.connections.with(|con| {
            let mut pipe = redis::pipe();
            for id in entry_ids {
                pipe.lrange(format!("{}:{id}", self.key(note.hash())), 0, -1);
            }
            Ok(pipe.query(&mut *con)?)
        })
    }

    /// How many entries are `under_review`, and how many of them entered that state before
    /// `cutoff` (the overdue ones).
    pub fn under_review_counts(&self, cutoff: Timestamp) -> Result<(u64, u64), SourceError> {
        self.connections.with(|con| {
            let key = self.key("under_review");
            Ok(redis::pipe()
                .zcard(&key)
                .zcount(&key, "-inf", format!("({}", cutoff.0))
                .query(&mut *con)?)
        })
    }

    /// At most `limit` entries `under_review` that entered that state before `until` (all
    /// with `None`), oldest first: their id, since when, and the stored entry JSON.
    pub fn under_review(
        &self,
        until: Option<Timestamp>,
        limit: usize,
    ) -> Result<Vec<(String, Timestamp, Option<String>)>, SourceError> {
        self.connections.with(|con| {
            let max = until.map_or_else(|| "+inf".to_owned(), |t| format!("({}", t.0));
            let since: Vec<(String, f64)> = con.zrangebyscore_limit_withscores(
                self.key("under_review"),
                "-inf",
                max,
                0,
                isize::try_from(limit).unwrap_or(isize::MAX),
            )?;
            if since.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<&str> = since.iter().map(|(id, _)| id.as_str()).collect();
            let entries: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(self.key("entries"))
                .arg(&ids)
                .query(&mut *con)?;
            Ok(since
                .into_iter()
                .zip(entries)
                .map(|((id, at), entry)| (id, Timestamp(at as i64), entry))
                .collect())
        })
    }

    /// One stored entry as its JSON record.
    pub fn get(&self, entry_id: &str) -> Result<Option<String>, SourceError> {
        self.connections
            .with(|con| Ok(con.hget(self.key("entries"), entry_id)?))
    }

    /// The entries on cold lists of each subject, in one script call: one reply, so a Redis
    /// that stops answering holds the lookup for one timeout (a pipeline waits a timeout for
    /// each of its replies). A stored entry these rules cannot read (say one on a list that
    /// another instance's newer rules know) is set aside with why, for that subject alone.
    pub fn cold_entries(
        &self,
        subjects: &[crate::ident::SubjectKey],
        rules: &RuleSet,
    ) -> Result<Vec<ColdHeld>, SourceError> {
        self.connections.with(|con| {
            let script = Script::new(COLD_SCRIPT);
            let mut invocation = script.prepare_invoke();
            invocation.key(self.key("entries"));
            for subject in subjects {
                invocation.key(self.key(&format!("subject:{}", subject.to_id_string())));
            }
            let replies: Vec<(Vec<String>, Vec<Option<String>>)> = invocation.invoke(&mut *con)?;
            Ok(replies
                .into_iter()
                .map(|(ids, texts)| ColdHeld::read(ids, texts, rules))
                .collect())
        })
    }

    /// The list version, read on a given connection.
    fn version_on(&self, con: &mut Connection) -> Result<u64, SourceError> {
        Ok(con.get::<_, Option<u64>>(self.key("version"))?.unwrap_or(0))
    }

    /// The version and epoch, read together.
    fn position_on(&self, con: &mut Connection) -> Result<Position, SourceError> {
        let (version, epoch): (Option<u64>, Option<String>) = redis::cmd("MGET")
            .arg(self.key("version"))
            .arg(self.key("epoch"))
            .query(con)?;
        Ok(Position {
            version: version.unwrap_or(0),
            epoch,
        })
    }

    /// The change stream, read on a connection of its own.
    pub(super) fn change_stream(&self) -> ChangeStream<'_> {
        ChangeStream {
            lists: self,
            connection: None,
            standing: Standing::default(),
        }
    }

    /// Changes after `from`, waiting up to `block` for the first. Fails with an error that
    /// [needs a resync](SourceError::needs_resync) when the changes no longer follow on
    /// from `from`: the store has another epoch (emptied, replaced), went back in version
    /// (restored), or the stream was trimmed past `from.version + 1`.
    /// `standing` is the change the caller stands on at `from.version`, checked against the
    /// store's when asked for (see [`Standing`]); the answer comes with the last change read.
    fn changes_after(
        &self,
        con: &mut Connection,
        from: &Position,
        block: Duration,
        standing: &mut Standing,
    ) -> Result<(Vec<StreamRecord>, Option<ChangeMark>), SourceError> {
        let ours = from.epoch.as_deref().unwrap_or_default();
        let shown = |epoch: &str| match epoch {
            "" => "none".to_owned(),
            epoch => format!("`{epoch}`"),
        };
        let replaced = |theirs: &str| SourceError::Replaced {
            ours: shown(ours),
            theirs: shown(theirs),
        };
        let block_ms = usize::try_from(block.as_millis()).unwrap_or(usize::MAX);
        let options = redis::streams::StreamReadOptions::default()
            .block(block_ms)
            .count(1000);
        // The position is read before the stream: a version beyond ours with nothing after
        // ours in the stream then means a trimmed stream, never a write that landed while we
        // waited. Two round trips rather than one pipeline, because a pipeline to a Redis that
        // stops answering waits out the timeout once for each of its replies.
        let Position {
            version: theirs,
            epoch,
        } = self.position_on(con)?;
        let epoch = epoch.unwrap_or_default();
        if epoch != ours {
            return Err(replaced(&epoch));
        }
        if theirs < from.version {
            return Err(SourceError::WentBack {
                ours: from.version,
                theirs,
            });
        }
        self.check_standing(con, from.version, standing)?;
        let reply: Option<redis::streams::StreamReadReply> = con.xread_options(
            &[self.key("changes")],
            &[format!("{}-0", from.version)],
            &options,
        )?;
        let mut changes = Vec::new();
        let mut last = None;
        for record in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            let field = |name: &str| record.get::<String>(name).unwrap_or_default();
            // Written after the position was read: the store may have been replaced since.
            let epoch = field("epoch");
            if epoch != ours {
                return Err(replaced(&epoch));
            }
            let change = StreamRecord {
                version: record.get::<u64>("version").unwrap_or(0),
                delete: field("op") == "delete",
                entry_id: field("entry_id"),
                entry_json: field("entry"),
                old_subject: field("old_subject"),
            };
            let wanted = changes
                .last()
                .map_or(from.version, |c: &StreamRecord| c.version)
                + 1;
            if change.version != wanted {
                return Err(SourceError::Gap {
                    wanted,
                    found: change.version,
                });
            }
            last = Some(ChangeMark::of(&record));
            changes.push(change);
        }
        if changes.is_empty() && theirs > from.version {
            // Redis was further on before we waited, yet nothing after us is in the stream.
            return Err(SourceError::Gap {
                wanted: from.version + 1,
                found: theirs,
            });
        }
        Ok((changes, last))
    }

    /// The change the stream holds at `version`, if it still does.
    fn change_at(
        &self,
        con: &mut Connection,
        version: u64,
    ) -> Result<Option<ChangeMark>, SourceError> {
        let id = format!("{version}-0");
        let reply: redis::streams::StreamRangeReply = con.xrange(self.key("changes"), &id, &id)?;
        Ok(reply.ids.first().map(ChangeMark::of))
    }

    /// Fails with [`SourceError::Diverged`] when the store's change at `version` is not the one
    /// `standing` applied there (or is gone), checked when asked for; learns the store's change
    /// when `standing` holds none for `version` (after a full load).
    fn check_standing(
        &self,
        con: &mut Connection,
        version: u64,
        standing: &mut Standing,
    ) -> Result<(), SourceError> {
        let known = standing
            .applied
            .as_ref()
            .is_some_and(|mark| mark.version == version);
        if version == 0 || (known && !standing.recheck) {
            return Ok(());
        }
        let stored = self.change_at(con, version)?;
        if known && stored != standing.applied {
            return Err(SourceError::Diverged { version });
        }
        standing.applied = stored;
        standing.recheck = false;
        Ok(())
    }

    /// Reads the lists from the stored snapshot when one fits (see `snapshot`), else by
    /// scanning every entry, and says which it did and why.
    pub fn load_all(&self, rules: &RuleSet) -> Result<Loaded, SourceError> {
        let store = self.connections.with(|con| self.position_on(con))?;
        let why = match self.read_snapshot(rules, &store) {
            Ok(read) => {
                return Ok(Loaded {
                    index: read.index,
                    cold_names: read.cold_names,
                    position: Some(read.position),
                    path: LoadPath::Snapshot,
                })
            }
            Err(why) => why.to_string(),
        };
        tracing::info!(reason = %why, "loading the lists by scanning every entry");
        let (index, named, position) = self.scan_all(rules)?;
        Ok(Loaded {
            index,
            cold_names: ColdNames::of_named(&named),
            position: Some(position),
            path: LoadPath::Scan { why },
        })
    }

    /// Reads every entry, page by page, and indexes them, with who the cold entries name. The
    /// position is read first: changes made during the scan are at most replayed later from
    /// the change stream, never missed.
    pub(super) fn scan_all(
        &self,
        rules: &RuleSet,
    ) -> Result<(ListIndex, Vec<NamedBy>, Position), SourceError> {
        self.connections.with(|con| {
            let position = self.position_on(&mut *con)?;
            let entries_key = self.key("entries");
            // One thread reads pages while this one parses the previous page on rayon, so Redis's
            // reply time and the parsing overlap.
            let (pages_tx, pages_rx) = std::sync::mpsc::sync_channel::<ScanPage>(4);
            std::thread::scope(|scope| {
                let reader = scope.spawn(move || -> Result<(), SourceError> {
                    let mut cursor: u64 = 0;
                    loop {
                        let (next, page): (u64, ScanPage) = redis::cmd("HSCAN")
                            .arg(&entries_key)
                            .arg(cursor)
                            .arg("COUNT")
                            .arg(SCAN_PAGE)
                            .query(&mut *con)?;
                        if pages_tx.send(page).is_err() || next == 0 {
                            return Ok(());
                        }
                        cursor = next;
                    }
                });
                let parsed = parse_pages(pages_rx, rules);
                // The reader does not panic; if it ever did, its panic goes on here.
                let read = reader
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                // A read error explains a short parse better than the parse result does.
                read?;
                let (builder, named) = parsed?;
                let index = builder.finish(rules.lists().len())?;
                Ok((index, named, position))
            })
        })
    }
}

/// The change stream of one source, read by the follower on a connection of its own whose
/// replies may take the wait on the stream longer than other calls'.
pub(crate) struct ChangeStream<'a> {
    lists: &'a RedisLists,
    connection: Option<Connection>,
    standing: Standing,
}

/// What tells one change from any other at the same version: the write that made it and its
/// entry. A replica promoted after missing the last writes holds, at those versions, changes
/// that new writes made, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChangeMark {
    version: u64,
    write: String,
    entry_id: String,
}

impl ChangeMark {
    fn of(record: &redis::streams::StreamId) -> ChangeMark {
        let field = |name: &str| record.get::<String>(name).unwrap_or_default();
        ChangeMark {
            version: record.get::<u64>("version").unwrap_or(0),
            write: field("write"),
            entry_id: field("entry_id"),
        }
    }
}

/// The change a follower stands on (the last it applied, or the one the store held at the
/// version of a full load), and whether to check it is still the store's: on every new
/// connection, since the server behind the URL may have changed (a failover, a restore).
#[derive(Debug, Default)]
struct Standing {
    applied: Option<ChangeMark>,
    recheck: bool,
}

impl ChangeStream<'_> {
    /// How long Redis may take to answer one call.
    pub(crate) fn timeout(&self) -> Duration {
        self.lists.connections.timeout()
    }

    /// The lists were loaded whole: they stand on the store's change at the version loaded,
    /// learnt on the next call.
    pub(crate) fn loaded_whole(&mut self) {
        self.standing = Standing::default();
    }

    /// Records after `from`, waiting up to `block` for the first (see
    /// `RedisLists::changes_after`). A failed call closes the connection; the next one
    /// opens another.
    pub(crate) fn after(
        &mut self,
        from: &Position,
        block: Duration,
    ) -> Result<Vec<StreamRecord>, SourceError> {
        let con = match self.connection.as_mut() {
            Some(con) => con,
            None => {
                self.standing.recheck = true;
                self.connection
                    .insert(self.lists.connections.open(self.timeout() + block)?)
            }
        };
        match self
            .lists
            .changes_after(con, from, block, &mut self.standing)
        {
            Ok((records, last)) => {
                if last.is_some() {
                    self.standing.applied = last;
                }
                Ok(records)
            }
            // Until a full load replaces what it stands on (see `loaded_whole`), the change
            // it stands on stays what the store is checked against.
            Err(err) if err.needs_resync() => Err(err),
            Err(err) => {
                self.connection = None;
                Err(err)
            }
        }
    }
}

/// The list a stored entry is on, read from its JSON.
#[derive(serde::Deserialize)]
struct StoredList<'a> {
    #[serde(borrow)]
    list: std::borrow::Cow<'a, str>,
}

/// The cold entries filed under one subject, and those stored that could not be read.
pub struct ColdHeld {
    pub entries: Vec<Entry>,
    /// Each entry's id and why it could not be read.
    pub unreadable: Vec<(String, String)>,
}

impl ColdHeld {
    /// The entries of one subject from their ids and stored texts (an id whose entry is gone
    /// meanwhile reads as none).
    fn read(ids: Vec<String>, texts: Vec<Option<String>>, rules: &RuleSet) -> ColdHeld {
        let mut held = ColdHeld {
            entries: Vec::new(),
            unreadable: Vec::new(),
        };
        for (entry_id, text) in ids.into_iter().zip(texts) {
            let Some(text) = text.filter(|t| !t.is_empty()) else {
                continue;
            };
            let read = serde_json::from_str::<EntryRecord<'_>>(&text)
                .map_err(|err| err.to_string())
                .and_then(|record| {
                    Entry::from_record(record, rules).map_err(|err| err.to_string())
                });
            match read {
                Ok(entry) if rules.list(entry.facts.list).cold => held.entries.push(entry),
                Ok(_) => {}
                Err(why) => held.unreadable.push((entry_id, why)),
            }
        }
        held
    }
}

/// One HSCAN reply: `(entry_id, entry JSON)` pairs.
type ScanPage = Vec<(String, String)>;

/// Parses HSCAN pages into an index of the entries held in memory, skipping repeats (HSCAN may
/// return an entry more than once; the first is kept) and cold lists (looked up on demand), of
/// whose entries only the persons they name are kept.
/// Repeats are found as a list file's duplicates are, by sorted hashes of the ids, so that the
/// load keeps no set of ten million strings. Stops at the first corrupt entry, which drops the
/// receiver and so stops the reader.
fn parse_pages(
    pages: std::sync::mpsc::Receiver<ScanPage>,
    rules: &RuleSet,
) -> Result<(IndexBuilder, Vec<NamedBy>), SourceError> {
    use rayon::prelude::*;
    let mut builder = IndexBuilder::new()?;
    let mut namings = Vec::new();
    let mut id_hashes: Vec<(u64, u32)> = Vec::new();
    for page in pages {
        let parsed: Vec<Checked<'_>> = page
            .par_iter()
            .map(|(entry_id, json)| {
                let corrupt = |message: String| SourceError::Corrupt {
                    entry_id: entry_id.clone(),
                    message,
                };
                let record: EntryRecord<'_> =
                    serde_json::from_str(json).map_err(|err| corrupt(err.to_string()))?;
                Checked::new(record, rules).map_err(|err| corrupt(err.to_string()))
            })
            .collect::<Result<_, SourceError>>()?;
        for (checked, (entry_id, json)) in parsed.into_iter().zip(&page) {
            if rules.list(checked.facts.list).cold {
                namings.extend(checked.persons.iter().map(|&person| NamedBy {
                    person,
                    filer: checked.subject,
                    entry_id: entry_id.clone(),
                }));
            } else {
                id_hashes.push((id_hash(entry_id), builder.pushed()));
                builder.carry(checked.subject, &checked.legacy_ids);
                builder.push(
                    checked.subject,
                    checked.facts,
                    checked.named(),
                    json.as_bytes(),
                )?;
            }
        }
    }
    let repeats = repeated_ids(id_hashes, &mut |i| builder.pushed_entry_id(i))?;
    for (repeat, _, _) in repeats {
        builder.skip(repeat);
    }
    Ok((builder, namings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::testing::mini;

    fn line(id: &str, subject: &str) -> (String, String) {
        let json = format!(
            r#"{{"entry_id":"{id}","list":"debtor","subject_id":"{subject}","listed_on":"2026-03-01"}}"#
        );
        (id.to_owned(), json)
    }

    #[test]
    fn an_entry_hscan_returns_twice_is_indexed_once() {
        let rules = mini();
        let (pages, receiver) = std::sync::mpsc::sync_channel(4);
        pages
            .send(vec![
                line("e1", "91230200MA1B2C3D8T"),
                line("e2", "91230202MA18XK7PXM"),
            ])
            .unwrap();
        pages.send(vec![line("e1", "91230200MA1B2C3D8T")]).unwrap();
        drop(pages);
        let index = parse_pages(receiver, &rules)
            .unwrap()
            .0
            .finish(rules.lists().len())
            .unwrap();
        assert_eq!((index.len(), index.subjects()), (2, 2));
        let mut ids: Vec<String> = index
            .iter()
            .map(|e| e.entry_id().unwrap().into_owned())
            .collect();
        ids.sort();
        assert_eq!(ids, ["e1", "e2"]);
    }
}
