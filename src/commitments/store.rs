//! Where commitments and breaches are kept: a JSON Lines file in the register's folder (one
//! instance; each record synced to disk before it is acknowledged), or a Redis stream under the
//! register's prefix (shared by every instance; each record acknowledged once Redis has it and
//! the configured replicas confirm it). Records are only ever added.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::Record;
use crate::ident::mask_id_numbers;
use crate::lists::source::ReplicaWait;
use crate::redis_client::{Connection, RedisClient};

/// Connecting, and each reply.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the commitments' Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the write reached the redis master but only {confirmed} of the {wanted} replicas it must reach confirmed it in time, so it is not acknowledged; retrying records it again")]
    NotReplicated { confirmed: u32, wanted: u32 },
    #[error("the commitments' file: {0}")]
    Io(#[from] std::io::Error),
    #[error("a stored commitment record could not be read: {0}")]
    Corrupt(String),
}

pub trait CommitmentStore: Send + Sync {
    /// Stores `record` durably.
    fn append(&self, record: &Record) -> Result<(), StoreError>;

    /// Up to `limit` records stored after `cursor` (from the first when `None`), in order, and
    /// the cursor after the last of them.
    fn read_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Record>, Option<String>), StoreError>;

    /// Whether other instances write to the store too.
    fn shared(&self) -> bool;
}

fn parse(line: &str) -> Result<Record, StoreError> {
    serde_json::from_str(line).map_err(|err| {
        let start: String = line.chars().take(60).collect();
        StoreError::Corrupt(format!("{err} in `{}…`", mask_id_numbers(&start)))
    })
}

/// Locks a mutex, taking over from a thread that panicked while holding it.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `commitments.jsonl` in the register's folder.
pub struct FileStore {
    file: Mutex<File>,
    /// What the file held when opened, handed out by the first read.
    opened: Mutex<Option<Vec<Record>>>,
}

impl FileStore {
    pub fn open(dir: &Path) -> Result<FileStore, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("commitments.jsonl");
        // Owner-only (0600), as the register's files: the records say who committed what.
        let mut file = crate::register::open_append(&path)?;
        let mut records = Vec::new();
        let mut whole = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line)?;
            if read == 0 {
                break;
            }
            if !line.ends_with('\n') {
                // A torn last line: a crash during a write that was never acknowledged.
                tracing::warn!(file = %path.display(), "the commitments' file ends in a torn line; it is cut off");
                break;
            }
            records.push(parse(line.trim_end())?);
            whole += read as u64;
        }
        if whole < file.metadata()?.len() {
            file.set_len(whole)?;
            file.sync_all()?;
        }
        file.flush()?;
        Ok(FileStore {
            file: Mutex::new(file),
            opened: Mutex::new(Some(records)),
        })
    }
}

impl CommitmentStore for FileStore {
    fn append(&self, record: &Record) -> Result<(), StoreError> {
        let mut line =
            serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        line.push(b'\n');
        let mut file = lock(&self.file);
        file.write_all(&line)?;
        file.sync_data()?;
        Ok(())
    }

    fn read_after(
        &self,
        _cursor: Option<&str>,
        _limit: usize,
    ) -> Result<(Vec<Record>, Option<String>), StoreError> {
        // One instance writes the file, and holds what it wrote: only the opening read has
        // records to give.
        Ok((lock(&self.opened).take().unwrap_or_default(), None))
    }

    fn shared(&self) -> bool {
        false
    }
}

/// The stream `<prefix>commitments`: one entry a record, its JSON in the field `r`.
pub struct RedisStore {
    client: RedisClient,
    stream: String,
    wait: ReplicaWait,
    connection: Mutex<Option<Connection>>,
}

impl RedisStore {
    /// Does not connect: the service starts whether or not Redis is up.
    pub fn open(url: &str, prefix: &str, wait: ReplicaWait) -> Result<RedisStore, StoreError> {
        Ok(RedisStore {
            client: RedisClient::open(url)?,
            stream: format!("{prefix}commitments"),
            wait,
            connection: Mutex::new(None),
        })
    }

    /// Runs `f` on the shared connection; an error drops it, so the next call reconnects.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = lock(&self.connection);
        let connection = match slot.as_mut() {
            Some(connection) => connection,
            None => slot.insert(self.client.connect(TIMEOUT, TIMEOUT)?),
        };
        let result = f(connection);
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

impl CommitmentStore for RedisStore {
    fn append(&self, record: &Record) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.with(|connection| {
            let _: String = redis::cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg("r")
                .arg(&json)
                .query(connection)?;
            if self.wait.replicas > 0 {
                let confirmed = connection.wait_replicas(
                    &self.stream,
                    self.wait.replicas,
                    self.wait.timeout,
                )?;
                if confirmed < self.wait.replicas {
                    return Err(StoreError::NotReplicated {
                        confirmed,
                        wanted: self.wait.replicas,
                    });
                }
            }
            Ok(())
        })
    }

    fn read_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Record>, Option<String>), StoreError> {
        let start = cursor.map_or_else(|| "-".to_owned(), |id| format!("({id}"));
        let entries: Vec<(String, Vec<(String, String)>)> = self.with(|connection| {
            Ok(redis::cmd("XRANGE")
                .arg(&self.stream)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(limit)
                .query(connection)?)
        })?;
        let next = entries.last().map(|(id, _)| id.clone());
        let records = entries
            .iter()
            .flat_map(|(_, fields)| fields.iter().filter(|(name, _)| name == "r"))
            .map(|(_, json)| parse(json))
            .collect::<Result<_, _>>()?;
        Ok((records, next))
    }

    fn shared(&self) -> bool {
        true
    }
}
