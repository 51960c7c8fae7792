//! The register in Redis, shared by every instance. The decision records are sharded by the
//! hour (UTC+8) of their time, which their UUIDv7 id carries, so that on a Cluster the hours
//! spread over the slots and masters: each hour's keys are under the prefix with the hour added
//! to its hash tag (`jc:{audit}:` → `jc:{audit:2026120114}:`; a prefix without a tag gets one
//! of the hour alone, `jc:audit:{2026120114}:`):
//! - `records` — stream, one entry per record, its JSON in the field `r`, in the order stored;
//! - `ids` — hash: record id → its stream entry id (finds a decision; makes a replay idempotent).
//!
//! The rest stays under the prefix itself (default `jc:{audit}:`, one hash tag so that each
//! script's keys share a Cluster slot):
//! - `hours` — sorted set of the hours that have records (each scored by its number since the
//!   epoch), added to before an hour is written: scan, find and retention walk it, not the
//!   keyspace;
//! - `records` and `ids` — the unsharded records an older version stored, read as the oldest
//!   shard until retention empties them;
//! - `feedback` — hash: `<decision id>/<measure>` → the feedback record's JSON (corrected in
//!   place, its history inside);
//! - `feedback_ids` — hash: feedback id → its key in `feedback` (finds a report to correct);
//! - `retention` — the lock of the instance that trims the stream now;
//! - `feedback_log` — stream of feedback keys (`k`) and the department of the key that filed
//!   them (`c`), in the order stored: the cursor of `GET /v1/feedback`;
//! - `active_enterprises` — hash: `YYYY-MM` → the month's uploaded count of active enterprises.

use std::path::Path;
use std::time::Duration;

use redis::Script;
use uuid::Uuid;

use super::archive;
use super::feedback::FeedbackRecord;
use super::record::{hour_of, time_of, Line, RegisterRecord, HOUR_MS};
use super::store::{
    parse_active, parse_feedback, parse_record, ActiveEnterprises, AppendError, Expired,
    FeedbackPage, FeedbackQuery, RegisterStore, StoreError, Stored,
};
use crate::redis_client::{Connection, KeptConnection, Lock, RedisClient};
use crate::timestamp::Timestamp;

/// The keys keep the name they were first stored under: a new default would leave every
/// stored record, feedback and retention lock behind, unseen and never trimmed, with no error.
pub const DEFAULT_PREFIX: &str = "jc:{audit}:";
/// Connecting, and each reply, may take this long before the store counts as down.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Records per script call: each call holds Redis for about a millisecond.
const APPEND_BATCH: usize = 500;
/// How far the service's clock and Redis's (which stamps stream entries) may differ.
const CLOCK_MARGIN_MS: i64 = 60_000;
/// Stream entries read per round trip: far below the client's reply timeout.
const SCAN_PAGE: usize = 1000;
/// Expired entries archived and trimmed per step (about 25 MB of records held at once).
const EXPIRE_CHUNK: usize = 50_000;
/// How long an instance holds the retention lock without renewing it.
const RETENTION_LOCK: Duration = Duration::from_secs(600);

const APPEND_SCRIPT: &str = r"
local stored = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], '') == 1 then
    local id = redis.call('XADD', KEYS[1], '*', 'r', ARGV[i + 1])
    redis.call('HSET', KEYS[2], ARGV[i], id)
    stored = stored + 1
  end
end
return stored
";

/// Deletes a shard once retention has trimmed it empty, unless a late record came meanwhile.
const DROP_SCRIPT: &str = r"
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
";

const FEEDBACK_SCRIPT: &str = r"
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  return {0, existing}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1])
redis.call('XADD', KEYS[2], '*', 'k', ARGV[1], 'c', ARGV[3])
return {1, ARGV[2]}
";

/// Replaces a report with its correction unless its number of corrections is no longer the
/// one it was read with (another correction came first).
const CORRECT_SCRIPT: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  return 0
end
local corrections = cjson.decode(current).corrections
local count = 0
if type(corrections) == 'table' then
  count = #corrections
end
if count ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
";

pub struct RedisStore {
    /// One connection for short commands; fresh ones for long scans.
    kept: KeptConnection,
    prefix: String,
    append: Script,
    drop: Script,
    feedback: Script,
    correct: Script,
}

impl RedisStore {
    /// Does not connect: the service starts whether or not Redis is up.
    pub fn open(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            kept: KeptConnection::new(RedisClient::open(url)?, TIMEOUT),
            prefix: prefix.to_owned(),
            append: Script::new(APPEND_SCRIPT),
            drop: Script::new(DROP_SCRIPT),
            feedback: Script::new(FEEDBACK_SCRIPT),
            correct: Script::new(CORRECT_SCRIPT),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The keys of the records of `hour` (since the epoch): the prefix with the hour added to
    /// its hash tag, so that each hour has a slot of its own and its script's keys share it.
    fn shard(&self, hour: i64) -> Shard {
        let label = label(hour);
        let tag = self.prefix.find('{').and_then(|open| {
            let close = open + 1 + self.prefix[open + 1..].find('}')?;
            (close > open + 1).then_some(close)
        });
        let prefix = match tag {
            Some(close) => format!("{}:{label}{}", &self.prefix[..close], &self.prefix[close..]),
            None => format!("{}{{{label}}}:", self.prefix),
        };
        Shard {
            records: format!("{prefix}records"),
            ids: format!("{prefix}ids"),
            hour: Some(hour),
        }
    }

    /// The records an older version stored unsharded, under the prefix itself.
    fn legacy(&self) -> Shard {
        Shard {
            records: self.key("records"),
            ids: self.key("ids"),
            hour: None,
        }
    }

    /// The legacy shard, then the indexed hours in `[first, last]`, oldest first.
    fn shards(
        &self,
        connection: &mut Connection,
        first: i64,
        last: i64,
    ) -> redis::RedisResult<Vec<Shard>> {
        let hours: Vec<i64> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.key("hours"))
            .arg(first)
            .arg(last)
            .query(connection)?;
        Ok(std::iter::once(self.legacy())
            .chain(hours.into_iter().map(|hour| self.shard(hour)))
            .collect())
    }

    /// Adds `hour` to the index of hours that have records.
    fn index(&self, connection: &mut Connection, hour: i64) -> redis::RedisResult<()> {
        redis::cmd("ZADD")
            .arg(self.key("hours"))
            .arg(hour)
            .arg(hour)
            .query(connection)
    }

    /// The lines of `page` whose records the legacy keys do not hold already, so that a replay
    /// of records stored before an upgrade stores none of them twice.
    fn not_in_legacy<'a>(
        &self,
        connection: &mut Connection,
        page: &'a [Line],
    ) -> redis::RedisResult<Vec<&'a Line>> {
        let ids = self.key("ids");
        if !redis::cmd("EXISTS").arg(&ids).query::<bool>(connection)? {
            return Ok(page.iter().collect());
        }
        let known: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&ids)
            .arg(
                page.iter()
                    .map(|l| l.record_id.to_string())
                    .collect::<Vec<_>>(),
            )
            .query(connection)?;
        Ok(page
            .iter()
            .zip(known)
            .filter_map(|(line, known)| known.is_none().then_some(line))
            .collect())
    }

    /// Archives (if asked) and trims the entries of `shard` up to stream id `end`, a chunk at
    /// a time: each chunk is archived before its ids leave the `ids` hash and its entries the
    /// stream, so that a pass cut short loses nothing. False once the lock is lost.
    fn trim(
        connection: &mut Connection,
        shard: &Shard,
        end: &str,
        before: Timestamp,
        archive: Option<&Path>,
        lock: &Lock,
        expired: &mut Expired,
    ) -> Result<bool, StoreError> {
        loop {
            let mut chunk: Vec<(String, Vec<String>)> = Vec::new();
            let mut start = "-".to_owned();
            while chunk.len() < EXPIRE_CHUNK {
                let page: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                    .arg(&shard.records)
                    .arg(&start)
                    .arg(end)
                    .arg("COUNT")
                    .arg(SCAN_PAGE)
                    .query(connection)?;
                let full = page.len() == SCAN_PAGE;
                if let Some((last, _)) = page.last() {
                    start = format!("({last}");
                }
                chunk.extend(page);
                if !full {
                    break;
                }
            }
            let Some((last, _)) = chunk.last() else {
                return Ok(true);
            };
            let jsons: Vec<&str> = chunk.iter().filter_map(|(_, f)| field(f, "r")).collect();
            if let Some(dir) = archive {
                // Stream ids repeat across shards: the hour keeps the names apart.
                let hour = shard
                    .hour
                    .map_or(String::new(), |h| format!("{}-", label(h)));
                let name = format!(
                    "redis/{}/{hour}{}.jsonl.gz",
                    before.format_cst("%Y-%m-%d"),
                    chunk[0].0
                );
                let mut text = jsons.join("\n").into_bytes();
                text.push(b'\n');
                expired.archived += archive::write(&dir.join(name), &mut text.as_slice())?;
            }
            let record_ids: Vec<String> = jsons
                .iter()
                .filter_map(|json| serde_json::from_str::<RecordId>(json).ok())
                .map(|r| r.record_id.to_string())
                .collect();
            for page in record_ids.chunks(SCAN_PAGE) {
                redis::cmd("HDEL")
                    .arg(&shard.ids)
                    .arg(page)
                    .query::<u64>(connection)?;
            }
            let trimmed: u64 = redis::cmd("XTRIM")
                .arg(&shard.records)
                .arg("MINID")
                .arg(after(last))
                .query(connection)?;
            expired.removed += trimmed;
            if !lock.renew(connection)? {
                // Another instance took the lock after it expired: it trims from here.
                return Ok(false);
            }
        }
    }

    /// Deletes a trimmed hour and takes it out of the index, unless a late record came. A
    /// record appended meanwhile indexes its hour again after writing it, and the check after
    /// the removal puts back an hour written between the deletion and the removal.
    fn drop_hour(&self, connection: &mut Connection, shard: &Shard) -> redis::RedisResult<()> {
        let Some(hour) = shard.hour else {
            return Ok(());
        };
        let dropped: u8 = self
            .drop
            .key(&shard.records)
            .key(&shard.ids)
            .invoke(connection)?;
        if dropped == 1 {
            redis::cmd("ZREM")
                .arg(self.key("hours"))
                .arg(hour)
                .query::<u8>(connection)?;
            if redis::cmd("EXISTS")
                .arg(&shard.records)
                .query::<bool>(connection)?
            {
                self.index(connection, hour)?;
            }
        }
        Ok(())
    }

    /// The record `record_id` in `shard`, if there.
    fn find_in(
        connection: &mut Connection,
        shard: &Shard,
        record_id: Uuid,
    ) -> redis::RedisResult<Option<(String, Vec<String>)>> {
        let stream_id: Option<String> = redis::cmd("HGET")
            .arg(&shard.ids)
            .arg(record_id.to_string())
            .query(connection)?;
        let Some(stream_id) = stream_id.filter(|id| !id.is_empty()) else {
            return Ok(None);
        };
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(&shard.records)
            .arg(&stream_id)
            .arg(&stream_id)
            .query(connection)?;
        Ok(entries.into_iter().next())
    }

    fn connect(&self) -> redis::RedisResult<Connection> {
        self.kept.connect()
    }

    /// Runs `f` on the shared connection; an error drops it, so the next call reconnects.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        Ok(self.kept.with(f)?)
    }

    /// Entries of a stream after `start` (exclusive unless it is `-` or a bare instant).
    fn range(
        connection: &mut Connection,
        stream: &str,
        start: &str,
    ) -> redis::RedisResult<Vec<(String, Vec<String>)>> {
        redis::cmd("XRANGE")
            .arg(stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(SCAN_PAGE)
            .query(connection)
    }
}

/// The keys of one shard of the decision records.
struct Shard {
    records: String,
    ids: String,
    /// Its hour since the epoch; `None` for the legacy keys.
    hour: Option<i64>,
}

/// An hour as its shard's keys and archives name it (UTC+8): `2026120114`.
fn label(hour: i64) -> String {
    Timestamp(hour * HOUR_MS).format_cst("%Y%m%d%H")
}

/// The value of `name` among a stream entry's fields.
fn field<'a>(fields: &'a [String], name: &str) -> Option<&'a str> {
    fields
        .chunks_exact(2)
        .find(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str())
}

/// The stream id just after `id` (`ms-seq`).
fn after(id: &str) -> String {
    match id.split_once('-') {
        Some((ms, seq)) => format!("{ms}-{}", seq.parse::<u64>().map_or(0, |s| s + 1)),
        None => id.to_owned(),
    }
}

#[derive(serde::Deserialize)]
struct RecordId {
    record_id: Uuid,
}

fn is_stream_id(text: &str) -> bool {
    let mut parts = text.split('-');
    let numeric = |part: Option<&str>| {
        part.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

impl RegisterStore for RedisStore {
    /// Each run of lines of one hour goes to that hour's shard, indexed before it is written
    /// (a crash leaves no shard unindexed) and again after (retention may have dropped the
    /// hour meanwhile).
    fn append(&self, lines: &[Line]) -> Result<(), AppendError> {
        let mut stored = 0;
        let hour = |line: &Line| hour_of(time_of(line.record_id));
        for run in lines.chunk_by(|a, b| hour(a) == hour(b)) {
            let shard = self.shard(hour(&run[0]));
            for page in run.chunks(APPEND_BATCH) {
                let written = self
                    .with(|connection| {
                        let fresh = self.not_in_legacy(connection, page)?;
                        if fresh.is_empty() {
                            return Ok(false);
                        }
                        self.index(connection, hour(&run[0]))?;
                        let mut invocation = self.append.prepare_invoke();
                        invocation.key(&shard.records).key(&shard.ids);
                        for line in fresh {
                            invocation.arg(line.record_id.to_string()).arg(&line.json);
                        }
                        invocation.invoke::<u64>(connection).map(|_| true)
                    })
                    .map_err(|source| AppendError { stored, source })?;
                stored += page.len();
                if written {
                    self.with(|connection| self.index(connection, hour(&run[0])))
                        .map_err(|source| AppendError { stored, source })?;
                }
            }
        }
        Ok(())
    }

    fn probe(&self) -> Result<(), StoreError> {
        self.with(|connection| redis::cmd("PING").query::<String>(connection))
            .map(drop)
    }

    /// Archives (if asked) and removes the records before `before`: whole hours, then deleted
    /// and taken out of the index; in the hour `before` falls in and in the legacy keys, the
    /// entries Redis stamped before it. One instance trims at a time.
    fn expire(&self, before: Timestamp, archive: Option<&Path>) -> Result<Expired, StoreError> {
        let mut connection = self.connect()?;
        let Some(lock) = Lock::take(&mut connection, self.key("retention"), RETENTION_LOCK)? else {
            return Ok(Expired::default());
        };
        // The last millisecond before `before`, with every sequence number in it.
        let last = (before.0 - 1).max(0);
        let mut expired = Expired::default();
        for shard in self.shards(&mut connection, i64::MIN, hour_of(Timestamp(last)))? {
            let whole = shard.hour.is_some_and(|h| (h + 1) * HOUR_MS <= before.0);
            let end = if whole {
                "+".to_owned()
            } else {
                last.to_string()
            };
            if !Self::trim(
                &mut connection,
                &shard,
                &end,
                before,
                archive,
                &lock,
                &mut expired,
            )? {
                return Ok(expired);
            }
            if whole {
                self.drop_hour(&mut connection, &shard)?;
            }
        }
        lock.release(&mut connection)?;
        Ok(expired)
    }

    fn find(&self, record_id: Uuid) -> Result<Option<RegisterRecord>, StoreError> {
        let shards = [self.shard(hour_of(time_of(record_id))), self.legacy()];
        let entry = self.with(|connection| {
            for shard in &shards {
                if let Some(entry) = Self::find_in(connection, shard, record_id)? {
                    return Ok(Some(entry));
                }
            }
            Ok(None)
        })?;
        entry
            .and_then(|(_, fields)| field(&fields, "r").map(parse_record))
            .transpose()
    }

    fn scan(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: &mut dyn FnMut(RegisterRecord) -> bool,
    ) -> Result<(), StoreError> {
        if to <= from {
            return Ok(());
        }
        // Its own connection: an export may take a while, and must not hold up feedback.
        let mut connection = self.connect()?;
        for shard in self.shards(&mut connection, hour_of(from), hour_of(Timestamp(to.0 - 1)))? {
            // Entries are in the order stored, which is the order asked except for records
            // that were spilled and replayed later: start at `from` (less a margin for the
            // service's and Redis's clocks to differ), read to the end, keep the period.
            let mut start = (from.0 - CLOCK_MARGIN_MS).max(0).to_string();
            loop {
                let page = Self::range(&mut connection, &shard.records, &start)?;
                let full = page.len() == SCAN_PAGE;
                for (stream_id, fields) in &page {
                    let Some(json) = field(fields, "r") else {
                        continue;
                    };
                    let record = parse_record(json)?;
                    let at = time_of(record.record_id);
                    if from <= at && at < to && !each(record) {
                        return Ok(());
                    }
                    start = format!("({stream_id}");
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }

    fn put_active_enterprises(&self, count: &ActiveEnterprises) -> Result<(), StoreError> {
        let json = serde_json::to_string(count).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let key = self.key("active_enterprises");
        self.with(|connection| {
            redis::cmd("HSET")
                .arg(&key)
                .arg(&count.month)
                .arg(&json)
                .query::<()>(connection)
        })
    }

    fn active_enterprises(&self, month: &str) -> Result<Option<ActiveEnterprises>, StoreError> {
        let key = self.key("active_enterprises");
        let stored: Option<String> =
            self.with(|connection| redis::cmd("HGET").arg(&key).arg(month).query(connection))?;
        stored.as_deref().map(parse_active).transpose()
    }

    fn put_feedback(&self, record: &FeedbackRecord) -> Result<Stored, StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let keys = [
            self.key("feedback"),
            self.key("feedback_log"),
            self.key("feedback_ids"),
        ];
        let filed_by = record.caller.as_ref().map_or("", |c| c.department.as_str());
        let (created, stored): (u8, String) = self.with(|connection| {
            self.feedback
                .key(&keys[0])
                .key(&keys[1])
                .key(&keys[2])
                .arg(record.key())
                .arg(&json)
                .arg(filed_by)
                .arg(record.feedback_id.to_string())
                .invoke(connection)
        })?;
        let stored = parse_feedback(&stored)?;
        Ok(if created == 1 {
            Stored::Created(stored)
        } else {
            Stored::Existing(stored)
        })
    }

    fn feedback_page(&self, query: &FeedbackQuery) -> Result<FeedbackPage, StoreError> {
        let mut start = match (&query.cursor, query.since) {
            (Some(cursor), _) if is_stream_id(cursor) => format!("({cursor}"),
            (Some(cursor), _) => return Err(StoreError::BadCursor(cursor.clone())),
            (None, Some(since)) => since.0.max(0).to_string(),
            (None, None) => "-".to_owned(),
        };
        let log = self.key("feedback_log");
        let mut page = FeedbackPage::default();
        loop {
            let entries = self.with(|connection| Self::range(connection, &log, &start))?;
            let full = entries.len() == SCAN_PAGE;
            // Who filed a report is in the log; its executing department, which a correction
            // may change, only in the report itself.
            let wanted: Vec<(&str, Option<&str>)> = entries
                .iter()
                .map(|(stream_id, fields)| {
                    let filed_by = field(fields, "c").unwrap_or_default();
                    let key = field(fields, "k")
                        .filter(|_| query.filed_by.as_deref().is_none_or(|d| d == filed_by));
                    (stream_id.as_str(), key)
                })
                .collect();
            // Reports are read as many at a time as the page still needs (a whole log page
            // when a department filter may pass over many), not a log page's worth each time.
            let mut rest = wanted.as_slice();
            while !rest.is_empty() && page.next_cursor.is_none() {
                let size = match query.department {
                    Some(_) => rest.len(),
                    None => query.limit.saturating_sub(page.items.len()).max(1),
                };
                let (chunk, after) = rest.split_at(size.min(rest.len()));
                rest = after;
                let keys: Vec<String> = chunk
                    .iter()
                    .filter_map(|(_, key)| key.map(str::to_owned))
                    .collect();
                let mut records = self.feedback_of(&keys)?.into_iter();
                for (stream_id, key) in chunk {
                    start = format!("({stream_id}");
                    let record = match key {
                        Some(_) => records.next().flatten(),
                        None => None,
                    };
                    let Some(record) = record.filter(|r| {
                        query
                            .department
                            .as_deref()
                            .is_none_or(|d| d == r.report.executing_department)
                    }) else {
                        continue;
                    };
                    page.items.push(record);
                    if page.items.len() == query.limit {
                        page.next_cursor = Some((*stream_id).to_owned());
                        break;
                    }
                }
            }
            if page.next_cursor.is_some() || !full {
                break;
            }
        }
        Ok(page)
    }

    fn feedback_by_id(&self, feedback_id: Uuid) -> Result<Option<FeedbackRecord>, StoreError> {
        let (ids, feedback) = (self.key("feedback_ids"), self.key("feedback"));
        let stored: Option<String> = self.with(|connection| {
            let key: Option<String> = redis::cmd("HGET")
                .arg(&ids)
                .arg(feedback_id.to_string())
                .query(connection)?;
            match key {
                Some(key) => redis::cmd("HGET").arg(&feedback).arg(key).query(connection),
                None => Ok(None),
            }
        })?;
        stored.as_deref().map(parse_feedback).transpose()
    }

    fn correct_feedback(
        &self,
        current: &FeedbackRecord,
        corrected: &FeedbackRecord,
    ) -> Result<bool, StoreError> {
        let json =
            serde_json::to_string(corrected).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let feedback = self.key("feedback");
        let replaced: u8 = self.with(|connection| {
            self.correct
                .key(&feedback)
                .arg(current.key())
                .arg(current.corrections.len())
                .arg(&json)
                .invoke(connection)
        })?;
        Ok(replaced == 1)
    }

    fn feedback_of(&self, keys: &[String]) -> Result<Vec<Option<FeedbackRecord>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let feedback = self.key("feedback");
        let stored: Vec<Option<String>> = self.with(|connection| {
            redis::cmd("HMGET")
                .arg(&feedback)
                .arg(keys)
                .query(connection)
        })?;
        stored
            .iter()
            .map(|json| json.as_deref().map(parse_feedback).transpose())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::RedisStore;

    /// 2026-12-01 14:00 UTC+8, in hours since the epoch.
    const HOUR: i64 = 498_918;

    fn records_key(prefix: &str) -> String {
        let store = RedisStore::open("redis://127.0.0.1:1/", prefix).expect("a valid URL");
        store.shard(HOUR).records
    }

    #[test]
    fn an_hours_keys_add_the_hour_to_the_prefixs_hash_tag_or_tag_the_hour_alone() {
        assert_eq!(records_key("jc:{audit}:"), "jc:{audit:2026120114}:records");
        assert_eq!(records_key("a{b}c{d}:"), "a{b:2026120114}c{d}:records");
        assert_eq!(records_key("jc:audit:"), "jc:audit:{2026120114}:records");
        // `{}` is no hash tag to Redis, and hides any later one: such a prefix's keys hash
        // whole, as they did before, and it cannot serve a Cluster.
        assert_eq!(records_key("jc:{}:"), "jc:{}:{2026120114}:records");
    }
}
