//! The events Redis keeps beside the lists: every write script appends the change it made to
//! the `events` stream (numbered by `events_seq`, the stream id `<n>-0`), and the expiry scan
//! appends the entries whose window ended, once per window whichever instance finds them.

use redis::{Commands, Script};

use super::{RedisLists, SourceError};
use crate::events::{Origin, Page, Stored, RETAINED};
use crate::timestamp::Timestamp;

/// Appends expiries if the scan's mark is still where the caller read it, and moves the mark:
/// `KEYS` `events`, `events_seq`, `expired_through`, `version`; `ARGV` the mark read (empty:
/// none yet), the new mark, the stream's length, then each expiry's instant and entry JSON.
/// Answers how many it appended, or -1 if another instance moved the mark first.
const EXPIRE_SCRIPT: &str = r#"
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then
  return -1
end
local version = redis.call('GET', KEYS[4]) or '0'
local count = 0
for i = 4, #ARGV, 2 do
  local seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], seq .. '-0',
    'version', version, 'at', ARGV[i], 'old', ARGV[i + 1], 'new', '', 'origin', 'expired')
  count = count + 1
end
redis.call('SET', KEYS[3], ARGV[2])
return count
"#;

/// Appends one event that is not a write to the lists (a breach): `KEYS` `events`,
/// `events_seq`, `version`; `ARGV` the stream's length, the origin, the instant, the JSON.
const APPEND_SCRIPT: &str = r#"
local seq = redis.call('INCR', KEYS[2])
local version = redis.call('GET', KEYS[3]) or '0'
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0',
  'version', version, 'at', ARGV[3], 'old', '', 'new', ARGV[4], 'origin', ARGV[2])
return seq
"#;

impl RedisLists {
    /// Appends a breach's record made at `at` as an event.
    pub fn append_breach(&self, at: Timestamp, json: &str) -> Result<(), SourceError> {
        self.connections.with(|con| {
            let script = Script::new(APPEND_SCRIPT);
            let mut invocation = script.prepare_invoke();
            for key in ["events", "events_seq", "version"] {
                invocation.key(self.key(key));
            }
            invocation
                .arg(RETAINED)
                .arg(Origin::Breach.as_str())
                .arg(at.0)
                .arg(json);
            let _: u64 = invocation
                .invoke(&mut *con)
                .map_err(SourceError::of_write)?;
            self.replicated(con)
        })
    }

    /// At most `limit` events after event `after`, oldest first, with the store's bounds.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Page, SourceError> {
        self.connections.with(|con| {
            // The number first: an event appended between the two reads is then after `last`
            // and read next time, never counted as missed.
            let last: u64 = con
                .get::<_, Option<u64>>(self.key("events_seq"))?
                .unwrap_or(0);
            let stream = self.key("events");
            let oldest: redis::streams::StreamRangeReply =
                con.xrange_count(&stream, "-", "+", 1)?;
            let first = oldest
                .ids
                .first()
                .map_or(last + 1, |record| seq_of(&record.id));
            let reply: redis::streams::StreamRangeReply = if limit == 0 || after >= last {
                redis::streams::StreamRangeReply::default()
            } else {
                con.xrange_count(
                    &stream,
                    format!("{}-0", after + 1),
                    format!("{last}-0"),
                    limit,
                )?
            };
            let events = reply
                .ids
                .iter()
                .map(|record| {
                    let field = |name: &str| record.get::<String>(name).unwrap_or_default();
                    Stored {
                        seq: seq_of(&record.id),
                        at: read_at(&field("at")),
                        lists_version: record.get::<u64>("version").unwrap_or(0),
                        old: field("old"),
                        new: field("new"),
                        origin: Origin::parse(&field("origin")),
                    }
                })
                .collect();
            Ok(Page {
                events,
                first,
                last,
            })
        })
    }

    /// Where the expiry scan stands: expiries up to this instant are appended.
    pub fn expired_through(&self) -> Result<Option<Timestamp>, SourceError> {
        self.connections.with(|con| {
            let mark: Option<i64> = con.get(self.key("expired_through"))?;
            Ok(mark.map(Timestamp))
        })
    }

    /// Appends `ended` (each entry's end and stored JSON) and moves the scan's mark from
    /// `read` to `through`, unless another instance moved it first (`false`).
    pub fn append_expired(
        &self,
        read: Option<Timestamp>,
        through: Timestamp,
        ended: &[(Timestamp, String)],
    ) -> Result<bool, SourceError> {
        self.connections.with(|con| {
            let script = Script::new(EXPIRE_SCRIPT);
            let mut invocation = script.prepare_invoke();
            for key in ["events", "events_seq", "expired_through", "version"] {
                invocation.key(self.key(key));
            }
            invocation
                .arg(read.map_or_else(String::new, |at| at.0.to_string()))
                .arg(through.0)
                .arg(RETAINED);
            for (at, json) in ended {
                invocation.arg(at.0).arg(json);
            }
            let appended: i64 = invocation
                .invoke(&mut *con)
                .map_err(SourceError::of_write)?;
            if appended >= 0 {
                self.replicated(con)?;
            }
            Ok(appended >= 0)
        })
    }
}

/// The event number of a stream id `<n>-0`.
fn seq_of(id: &str) -> u64 {
    id.split_once('-')
        .map_or(id, |(n, _)| n)
        .parse()
        .unwrap_or(0)
}

/// A write's instant as the scripts store it: milliseconds, or the text an admin removal gives.
fn read_at(text: &str) -> Timestamp {
    text.parse::<i64>()
        .map(Timestamp)
        .or_else(|_| Timestamp::parse(text))
        .unwrap_or(Timestamp(0))
}
