//! The index of an hour file, so that finding a record by id (feedback does, for every report)
//! reads a few kilobytes whatever the hour's size. Beside `HH.jsonl` the writer keeps:
//! - `HH.idx`: entries of 24 bytes, a record id (big-endian) and its line's offset in the hour
//!   file (little-endian), each write's entries sorted by id;
//! - `HH.runs`: one 56-byte descriptor per write: the smallest and largest id of its entries,
//!   where they start in `HH.idx` and how many, and the hour file's length after its lines.
//!
//! Ids are UUIDv7s made as requests come in, so one write's ids hardly overlap the next one's:
//! a lookup reads the descriptors (about 80 KB for an hour of three million records) and
//! binary-searches the one or two runs whose range holds the id. A hand-made index rather than
//! an embedded database: the writer adds two appends per batch, a full disk costs nothing but
//! a cut-back, and retention deletes an hour's index with its file.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use uuid::Uuid;

use super::disk::{self, PartialWrite};

const ENTRY: usize = 24;
const RUN: usize = 56;
/// Entries per run when an hour's unindexed tail is indexed on opening.
const REPAIR_RUN: usize = 20_000;

/// The index files beside an hour file.
pub fn paths(hour_file: &Path) -> [PathBuf; 2] {
    [
        hour_file.with_extension("idx"),
        hour_file.with_extension("runs"),
    ]
}

/// One write's descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    min: u128,
    max: u128,
    first: u64,
    count: u64,
    hour_end: u64,
}

impl Run {
    fn to_bytes(self) -> [u8; RUN] {
        let mut bytes = [0u8; RUN];
        bytes[..16].copy_from_slice(&self.min.to_be_bytes());
        bytes[16..32].copy_from_slice(&self.max.to_be_bytes());
        bytes[32..40].copy_from_slice(&self.first.to_le_bytes());
        bytes[40..48].copy_from_slice(&self.count.to_le_bytes());
        bytes[48..].copy_from_slice(&self.hour_end.to_le_bytes());
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Run {
        let u128_at =
            |at: usize| u128::from_be_bytes(bytes[at..at + 16].try_into().unwrap_or_default());
        let u64_at =
            |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
        Run {
            min: u128_at(0),
            max: u128_at(16),
            first: u64_at(32),
            count: u64_at(40),
            hour_end: u64_at(48),
        }
    }
}

/// The index files of the hour being written, kept open by the writer.
pub struct Writer {
    idx: File,
    runs: File,
}

impl Writer {
    /// Opens (creating) the index of `hour_file`, first making it whole: descriptors whose
    /// entries or lines are missing (a crash between writes) are dropped, and lines beyond the
    /// last descriptor are indexed.
    pub fn open(hour_file: &Path) -> std::io::Result<Writer> {
        let [idx, runs] = paths(hour_file);
        let mut writer = Writer {
            idx: disk::open_append(&idx)?,
            runs: disk::open_append(&runs)?,
        };
        writer.repair(hour_file)?;
        Ok(writer)
    }

    fn repair(&mut self, hour_file: &Path) -> std::io::Result<()> {
        let hour_len = std::fs::metadata(hour_file).map_or(0, |m| m.len());
        let entries = self.idx.metadata()?.len() / ENTRY as u64;
        let mut runs = read_runs(&self.runs)?;
        while runs
            .last()
            .is_some_and(|r| r.first + r.count > entries || r.hour_end > hour_len)
        {
            runs.pop();
        }
        let last = runs.last().copied();
        self.runs.set_len((runs.len() * RUN) as u64)?;
        self.idx
            .set_len(last.map_or(0, |r| r.first + r.count) * ENTRY as u64)?;
        let indexed = last.map_or(0, |r| r.hour_end);
        if indexed < hour_len {
            self.index_tail(hour_file, indexed)?;
        }
        Ok(())
    }

    /// Indexes the lines of `hour_file` from `from` on.
    fn index_tail(&mut self, hour_file: &Path, from: u64) -> std::io::Result<()> {
        let mut reader = BufReader::new(File::open(hour_file)?);
        reader.seek(SeekFrom::Start(from))?;
        let mut offset = from;
        let mut entries = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line)? as u64;
            if read == 0 || line.last() != Some(&b'\n') {
                break;
            }
            if let Some(id) = record_id(&line) {
                entries.push((id, offset));
            }
            offset += read;
            if entries.len() == REPAIR_RUN {
                self.append(&mut entries, offset).map_err(|e| e.source)?;
                entries.clear();
            }
        }
        if !entries.is_empty() || offset > from {
            self.append(&mut entries, offset).map_err(|e| e.source)?;
        }
        Ok(())
    }

    /// Adds a run: `entries` (id, line offset) of lines that end the hour file at `hour_end`.
    /// All or nothing: on a failure, neither file keeps any of it.
    pub fn append(
        &mut self,
        entries: &mut [(u128, u64)],
        hour_end: u64,
    ) -> Result<(), PartialWrite> {
        entries.sort_unstable();
        let mut bytes = Vec::with_capacity(entries.len() * ENTRY);
        for (id, offset) in entries.iter() {
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(&offset.to_le_bytes());
        }
        let start = disk::append(&mut self.idx, &bytes, None)?;
        let run = Run {
            min: entries.first().map_or(0, |e| e.0),
            max: entries.last().map_or(0, |e| e.0),
            first: start / ENTRY as u64,
            count: entries.len() as u64,
            hour_end,
        };
        if let Err(err) = disk::append(&mut self.runs, &run.to_bytes(), None) {
            if let Err(cut) = self.idx.set_len(start) {
                tracing::warn!(error = %cut, "an hour index could not be cut back");
            }
            return Err(err);
        }
        Ok(())
    }

    pub fn sync(&self) -> std::io::Result<()> {
        self.idx.sync_data()?;
        self.runs.sync_data()
    }
}

/// The offsets in `hour_file` of lines indexed under `id` (more than one if a replay stored
/// the record again).
pub fn find(hour_file: &Path, id: Uuid) -> std::io::Result<Vec<u64>> {
    let [idx, runs] = paths(hour_file);
    let (idx, runs) = match (File::open(idx), File::open(runs)) {
        (Ok(idx), Ok(runs)) => (idx, runs),
        (Err(err), _) | (_, Err(err)) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Vec::new())
        }
        (Err(err), _) | (_, Err(err)) => return Err(err),
    };
    let id = id.as_u128();
    let mut found = Vec::new();
    for run in read_runs(&runs)?
        .into_iter()
        .filter(|r| r.min <= id && id <= r.max)
    {
        // The first entry of the run not below `id`.
        let (mut low, mut high) = (run.first, run.first + run.count);
        let mut entry = [0u8; ENTRY];
        while low < high {
            let middle = low + (high - low) / 2;
            idx.read_exact_at(&mut entry, middle * ENTRY as u64)?;
            if u128::from_be_bytes(entry[..16].try_into().unwrap_or_default()) < id {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        while low < run.first + run.count {
            idx.read_exact_at(&mut entry, low * ENTRY as u64)?;
            if u128::from_be_bytes(entry[..16].try_into().unwrap_or_default()) != id {
                break;
            }
            found.push(u64::from_le_bytes(
                entry[16..].try_into().unwrap_or_default(),
            ));
            low += 1;
        }
    }
    Ok(found)
}

/// The whole descriptors of a runs file (a torn last one is left out).
fn read_runs(file: &File) -> std::io::Result<Vec<Run>> {
    let len = file.metadata()?.len() as usize;
    let mut bytes = vec![0u8; len - len % RUN];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes.chunks_exact(RUN).map(Run::from_bytes).collect())
}

#[derive(Deserialize)]
struct RecordId {
    record_id: Uuid,
}

/// The id of a record line; `None` for a torn one.
fn record_id(line: &[u8]) -> Option<u128> {
    serde_json::from_slice::<RecordId>(line)
        .ok()
        .map(|r| r.record_id.as_u128())
}
