//! The register in Redis, shared by every instance. Keys, under a prefix (default
//! `jc:{audit}:`, one hash tag so that the scripts' keys share a Cluster slot):
//! - `records` — stream, one entry per record, its JSON in the field `r`, in the order stored;
//! - `ids` — hash: record id → its stream entry id (finds a decision; makes a replay idempotent);
//! - `feedback` — hash: `<decision id>/<measure>` → the feedback record's JSON (corrected in
//!   place, its history inside);
//! - `feedback_ids` — hash: feedback id → its key in `feedback` (finds a report to correct);
//! - `retention` — the lock of the instance that trims the stream now;
//! - `feedback_log` — stream of feedback keys (`k`) and the department of the key that filed
//!   them (`c`), in the order stored: the cursor of `GET /v1/feedback`.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use redis::Script;
use uuid::Uuid;

use super::archive;
use super::feedback::FeedbackRecord;
use super::record::{time_of, Line, RegisterRecord};
use super::store::{
    parse_feedback, parse_record, AppendError, Expired, FeedbackPage, FeedbackQuery, RegisterStore,
    StoreError, Stored,
};
use crate::redis_client::{Connection, Lock, RedisClient};
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
    client: RedisClient,
    prefix: String,
    /// One connection for short commands, made again after an error.
    connection: Mutex<Option<Connection>>,
    append: Script,
    feedback: Script,
    correct: Script,
}

impl RedisStore {
    /// Does not connect: the service starts whether or not Redis is up.
    pub fn open(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            client: RedisClient::open(url)?,
            prefix: prefix.to_owned(),
            connection: Mutex::new(None),
            append: Script::new(APPEND_SCRIPT),
            feedback: Script::new(FEEDBACK_SCRIPT),
            correct: Script::new(CORRECT_SCRIPT),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn connect(&self) -> redis::RedisResult<Connection> {
        self.client.connect(TIMEOUT, TIMEOUT)
    }

    /// Runs `f` on the shared connection; an error drops it, so the next call reconnects.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let connection = match slot.as_mut() {
            Some(connection) => connection,
            None => slot.insert(self.connect()?),
        };
        let result = f(connection);
        if result.is_err() {
            *slot = None;
        }
        Ok(result?)
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
    fn append(&self, lines: &[Line]) -> Result<(), AppendError> {
        let keys = [self.key("records"), self.key("ids")];
        let mut stored = 0;
        for page in lines.chunks(APPEND_BATCH) {
            self.with(|connection| {
                let mut invocation = self.append.prepare_invoke();
                invocation.key(&keys[0]).key(&keys[1]);
                for line in page {
                    invocation.arg(line.record_id.to_string()).arg(&line.json);
                }
                invocation.invoke::<u64>(connection)
            })
            .map_err(|source| AppendError { stored, source })?;
            stored += page.len();
        }
        Ok(())
    }

    fn probe(&self) -> Result<(), StoreError> {
        self.with(|connection| redis::cmd("PING").query::<String>(connection))
            .map(drop)
    }

    /// Trims the stream of entries Redis stamped before `before`, a chunk at a time: each chunk
    /// is archived (if asked) before its ids leave the `ids` hash and its entries the stream,
    /// so that a pass cut short loses nothing. One instance trims at a time.
    fn expire(&self, before: Timestamp, archive: Option<&Path>) -> Result<Expired, StoreError> {
        let mut connection = self.connect()?;
        let (records, ids) = (self.key("records"), self.key("ids"));
        let Some(lock) = Lock::take(&mut connection, self.key("retention"), RETENTION_LOCK)? else {
            return Ok(Expired::default());
        };
        // The last millisecond before `before`, with every sequence number in it.
        let end = (before.0 - 1).max(0).to_string();
        let mut expired = Expired::default();
        loop {
            let mut chunk: Vec<(String, Vec<String>)> = Vec::new();
            let mut start = "-".to_owned();
            while chunk.len() < EXPIRE_CHUNK {
                let page: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                    .arg(&records)
                    .arg(&start)
                    .arg(&end)
                    .arg("COUNT")
                    .arg(SCAN_PAGE)
                    .query(&mut connection)?;
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
                break;
            };
            let jsons: Vec<&str> = chunk.iter().filter_map(|(_, f)| field(f, "r")).collect();
            if let Some(dir) = archive {
                let name = format!(
                    "redis/{}/{}.jsonl.gz",
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
                    .arg(&ids)
                    .arg(page)
                    .query::<u64>(&mut connection)?;
            }
            let trimmed: u64 = redis::cmd("XTRIM")
                .arg(&records)
                .arg("MINID")
                .arg(after(last))
                .query(&mut connection)?;
            expired.removed += trimmed;
            if !lock.renew(&mut connection)? {
                // Another instance took the lock after it expired: it trims from here.
                return Ok(expired);
            }
        }
        lock.release(&mut connection)?;
        Ok(expired)
    }

    fn find(&self, record_id: Uuid) -> Result<Option<RegisterRecord>, StoreError> {
        let (ids, records) = (self.key("ids"), self.key("records"));
        let entry: Option<(String, Vec<String>)> = self.with(|connection| {
            let stream_id: Option<String> = redis::cmd("HGET")
                .arg(&ids)
                .arg(record_id.to_string())
                .query(connection)?;
            let Some(stream_id) = stream_id.filter(|id| !id.is_empty()) else {
                return Ok(None);
            };
            let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                .arg(&records)
                .arg(&stream_id)
                .arg(&stream_id)
                .query(connection)?;
            Ok(entries.into_iter().next())
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
        // Its own connection: an export may take a while, and must not hold up feedback.
        let mut connection = self.connect()?;
        let records = self.key("records");
        // Entries are in the order stored, which is the order asked except for records that
        // were spilled and replayed later: start at `from` (less a margin for the service's and
        // Redis's clocks to differ), read to the end, keep the period.
        let mut start = (from.0 - CLOCK_MARGIN_MS).max(0).to_string();
        loop {
            let page = Self::range(&mut connection, &records, &start)?;
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
                return Ok(());
            }
        }
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
