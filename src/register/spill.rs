//! The spill file: records the store could not take (it is down, or the writer fell behind),
//! kept on local disk and replayed into the store once it answers again.
//!
//! New records go to `spill.jsonl`. A replay first renames it to `spill.replaying.jsonl`, so
//! that records spilled meanwhile start a new file, then stores the renamed file's records a
//! slice at a time and deletes it once all are stored. A record stored twice (a replay cut
//! short after the store took a slice) is harmless: the stores ignore a record id they have.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Deserialize;
use uuid::Uuid;

use super::disk;
use super::record::Line;
use super::store::{lock, RegisterStore, StoreError};

/// Records stored per step of a replay, so that the writer goes back to new records between.
const REPLAY_SLICE: usize = 20_000;

/// A failed append: the first `spilled` records are in the spill file, the rest are not.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct SpillError {
    pub spilled: usize,
    #[source]
    pub source: std::io::Error,
}

impl SpillError {
    fn none(source: std::io::Error) -> SpillError {
        SpillError { spilled: 0, source }
    }
}

pub struct Spill {
    path: PathBuf,
    replaying: PathBuf,
    file: Mutex<Option<File>>,
    /// Records in both files that are not yet stored.
    pending: AtomicU64,
    /// Whether records were appended since the last sync.
    unsynced: AtomicBool,
    /// How far into the replaying file the store has taken (bytes); only the writer replays.
    replayed_to: Mutex<u64>,
}

#[derive(Deserialize)]
struct RecordId {
    record_id: Uuid,
}

impl Spill {
    /// Opens the spill files under `dir` (the spill folder), counting what a previous run left
    /// to replay.
    pub fn open(dir: &Path) -> std::io::Result<Spill> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("spill.jsonl");
        let replaying = dir.join("spill.replaying.jsonl");
        let pending = count_lines(&path)? + count_lines(&replaying)?;
        Ok(Spill {
            path,
            replaying,
            file: Mutex::new(None),
            pending: AtomicU64::new(pending),
            unsynced: AtomicBool::new(false),
            replayed_to: Mutex::new(0),
        })
    }

    /// Records waiting to be replayed.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Appends records. They reach the disk with the next [`Spill::sync`], which the writer
    /// calls every second: a sync per append would cost the request threads that spill a full
    /// queue milliseconds each. A failure says how many of the first records were spilled all
    /// the same (a full disk takes part of a write); the file keeps none of the rest.
    pub fn append(&self, lines: &[Line]) -> Result<(), SpillError> {
        let mut slot = lock(&self.file);
        let file = match slot.as_mut() {
            Some(file) => file,
            None => {
                let mut file = disk::open_append(&self.path).map_err(SpillError::none)?;
                // A write that failed and could not be cut back left a torn line.
                disk::end_line(&mut file).map_err(SpillError::none)?;
                slot.insert(file)
            }
        };
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.json.len() + 1).sum());
        for line in lines {
            bytes.extend_from_slice(&line.json);
            bytes.push(b'\n');
        }
        let written = disk::append(file, &bytes, Some(b'\n'));
        self.unsynced.store(true, Ordering::Relaxed);
        let spilled = match &written {
            Ok(_) => lines.len(),
            Err(partial) => memchr::memchr_iter(b'\n', &bytes[..partial.kept]).count(),
        };
        self.pending.fetch_add(spilled as u64, Ordering::Relaxed);
        written.map(drop).map_err(|partial| {
            *slot = None;
            SpillError {
                spilled,
                source: partial.source,
            }
        })
    }

    /// Whether the spill folder takes writes now.
    pub fn probe(&self) -> std::io::Result<()> {
        disk::probe(self.path.parent().unwrap_or(Path::new(".")))
    }

    /// Syncs what was appended since the last sync.
    pub fn sync(&self) -> std::io::Result<()> {
        if !self.unsynced.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        match lock(&self.file).as_ref() {
            Some(file) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// Stores up to a slice of spilled records; returns how many. Call until `pending` is 0.
    pub fn replay(&self, store: &dyn RegisterStore) -> Result<u64, StoreError> {
        let mut replayed_to = lock(&self.replayed_to);
        if !self.replaying.exists() {
            let mut file = lock(&self.file);
            if !self.path.exists() {
                return Ok(0);
            }
            *file = None;
            std::fs::rename(&self.path, &self.replaying)?;
            *replayed_to = 0;
        }
        let mut reader = BufReader::new(File::open(&self.replaying)?);
        reader.seek(SeekFrom::Start(*replayed_to))?;
        let mut lines = Vec::new();
        // The bytes consumed up to the end of each line kept, to resume after a partial store.
        let mut ends = Vec::new();
        let mut consumed = 0u64;
        let mut text = String::new();
        while lines.len() < REPLAY_SLICE {
            text.clear();
            let read = reader.read_line(&mut text)?;
            if read == 0 {
                break;
            }
            consumed += read as u64;
            let json = text.trim_end();
            // A torn line is what a failed append left; its records were counted as dropped.
            if let Ok(RecordId { record_id }) = serde_json::from_str(json) {
                lines.push(Line {
                    record_id,
                    json: json.as_bytes().to_vec(),
                });
                ends.push(consumed);
            }
        }
        // A store that took part of the slice keeps it: the rest waits for the next call.
        let stored = match store.append(&lines) {
            Ok(()) => lines.len(),
            Err(err) if err.stored > 0 => err.stored,
            Err(err) => return Err(err.source),
        };
        *replayed_to += if stored == lines.len() {
            consumed
        } else {
            ends[stored - 1]
        };
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(stored as u64))
            });
        if stored == lines.len() && lines.len() < REPLAY_SLICE {
            std::fs::remove_file(&self.replaying)?;
            *replayed_to = 0;
            // What is left to replay is the new spill file.
            let _file = lock(&self.file);
            self.pending
                .store(count_lines(&self.path)?, Ordering::Relaxed);
        }
        Ok(stored as u64)
    }
}

fn count_lines(path: &Path) -> std::io::Result<u64> {
    match File::open(path) {
        Ok(file) => {
            let mut count = 0;
            for line in BufReader::new(file).split(b'\n') {
                if !line?.is_empty() {
                    count += 1;
                }
            }
            Ok(count)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(err) => Err(err),
    }
}
