//! A binary snapshot of the lists kept in Redis beside them, so that a starting instance reads
//! a few large values instead of scanning and parsing every entry.
//!
//! # Keys (under the lists' prefix)
//! - `snapshot` — the manifest (JSON): the generation, the list version and epoch the snapshot
//!   holds, the rule set revision whose list numbers it uses, its length, and the CRC-32 of the
//!   whole and of each chunk. Switching it is one `SET`, so a reader sees the old snapshot or
//!   the new one, never half of each;
//! - `snapshot:<generation>:<n>` — the chunks, [`CHUNK_BYTES`] each (the last shorter): the
//!   binary list snapshot (`JCSNAP02`) followed by who the cold entries name;
//! - `snapshot:writing` — the generation being written, so that the chunks of a writer that
//!   crashed are deleted by the next one: at most two generations are ever stored;
//! - `snapshot:lock` — the one writer's token (`SET NX PX`), renewed with every chunk.

use std::io::{self, Read, Write};
use std::time::Duration;

use redis::Commands;
use serde::{Deserialize, Serialize};

use super::named::{ColdNames, NamedBy};
use super::redis::{Position, RedisLists, SourceError};
use crate::ident::SubjectKey;
use crate::lists::ListIndex;
use crate::redis_client::Lock;
use crate::ruleset::RuleSet;
use crate::timestamp::Timestamp;

/// Bytes per chunk: far below Redis's 512 MB limit on a value, small enough that one `GET`
/// answers within the source's timeout over a slow link (32 MiB at 1 Gbit/s is about 0.3 s)
/// and that Redis, which serves one command at a time, is not held up for long by any one
/// chunk, and large enough that 3 GB take only about a hundred round trips. One page short of
/// 32 MiB, so that the value with Redis's string header fits its allocator's 32 MiB size class:
/// exactly 32 MiB would take the 40 MiB class, a quarter more memory than the data.
const CHUNK_BYTES: usize = (32 << 20) - 4096;
/// How long the writer's lock holds without being renewed (it is renewed with every chunk; the
/// full read before the first chunk takes about 40 s at 10 million entries). A writer that
/// died holds the others off this long at most.
const LOCK_TTL: Duration = Duration::from_secs(300);

/// What the `snapshot` key says about the stored snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    generation: String,
    version: u64,
    epoch: Option<String>,
    revision: String,
    /// Length of the list snapshot proper; who the cold entries name follows it.
    index_bytes: u64,
    bytes: u64,
    crc32: u32,
    /// The CRC-32 of each chunk, in order.
    chunks: Vec<u32>,
    written_at: String,
}

/// Why a stored snapshot cannot be used (the load then scans the entries instead).
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("no list snapshot is stored")]
    Missing,
    #[error("the list snapshot was made for rule set revision `{theirs}`, not `{ours}`")]
    Revision { ours: String, theirs: String },
    #[error("the list snapshot belongs to epoch {theirs}, the lists are in epoch {ours}")]
    Epoch { ours: String, theirs: String },
    #[error("the list snapshot holds version {snapshot}, ahead of the lists' {store}")]
    Ahead { snapshot: u64, store: u64 },
    #[error("the change stream no longer reaches back to the list snapshot's version {0}")]
    Trimmed(u64),
    #[error("the list snapshot is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Source(#[from] SourceError),
}

impl From<redis::RedisError> for Unusable {
    fn from(err: redis::RedisError) -> Unusable {
        Unusable::Source(err.into())
    }
}

/// Why no snapshot was written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("another writer holds the list snapshot's lock")]
    Locked,
    #[error("the stored list snapshot already holds version {0}")]
    NotNewer(u64),
    #[error("lost the list snapshot's lock while writing; nothing was switched")]
    LostLock,
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot write the list snapshot: {0}")]
    Io(#[from] io::Error),
}

impl From<redis::RedisError> for WriteError {
    fn from(err: redis::RedisError) -> WriteError {
        WriteError::Source(err.into())
    }
}

/// What a written snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub version: u64,
    pub bytes: u64,
    pub chunks: usize,
}

/// What the manifest says of the stored snapshot's place in the lists' history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub version: u64,
    pub epoch: Option<String>,
    /// `None` if the manifest's time cannot be read.
    pub written_at: Option<Timestamp>,
}

/// What a load read from a stored snapshot.
pub(super) struct Stored {
    pub index: ListIndex,
    pub cold_names: ColdNames,
    pub position: Position,
}

impl RedisLists {
    fn chunk_key(&self, generation: &str, n: usize) -> String {
        self.key(&format!("snapshot:{generation}:{n}"))
    }

    /// Reads every entry (as a load does, by scanning) and stores it as the new snapshot,
    /// unless another writer holds the lock. The previous generation is deleted once the
    /// manifest names the new one.
    pub(super) fn write_snapshot(&self, rules: &RuleSet) -> Result<Written, WriteError> {
        self.under_lock(|lock| {
            let (index, named, position) = self.scan_all(rules)?;
            self.store(rules, (&index, &named, position), lock)
        })
    }

    /// Stores `index`, which holds exactly the lists at `position` and no cold entries (a
    /// running instance's), as the new snapshot, unless another writer holds the lock or the
    /// stored one is as new.
    pub(super) fn write_snapshot_of(
        &self,
        rules: &RuleSet,
        index: &ListIndex,
        position: Position,
    ) -> Result<Written, WriteError> {
        self.under_lock(|lock| {
            if let Some(stored) = self
                .manifest()?
                .filter(|m| m.epoch == position.epoch && m.version >= position.version)
            {
                return Err(WriteError::NotNewer(stored.version));
            }
            self.store(rules, (index, &[], position), lock)
        })
    }

    /// The version, epoch and age of the stored snapshot, if there is one.
    pub(super) fn stored_snapshot(&self) -> Result<Option<StoredSnapshot>, SourceError> {
        Ok(self.manifest()?.map(|m| StoredSnapshot {
            version: m.version,
            epoch: m.epoch,
            written_at: Timestamp::parse(&m.written_at).ok(),
        }))
    }

    /// Runs `write` holding the writers' lock, unless another writer holds it.
    fn under_lock(
        &self,
        write: impl FnOnce(&Lock) -> Result<Written, WriteError>,
    ) -> Result<Written, WriteError> {
        let lock = self
            .connections
            .with(|con| Ok(Lock::take(con, self.key("snapshot:lock"), LOCK_TTL)?))?
            .ok_or(WriteError::Locked)?;
        let written = write(&lock);
        let released = self.connections.with(|con| Ok(lock.release(con)?));
        let written = written?;
        released?;
        Ok(written)
    }

    /// Stores the index and who its cold entries name, at `position`, as the new snapshot.
    fn store(
        &self,
        rules: &RuleSet,
        (index, named, position): (&ListIndex, &[NamedBy], Position),
        lock: &Lock,
    ) -> Result<Written, WriteError> {
        let (manifest_key, writing_key) = (self.key("snapshot"), self.key("snapshot:writing"));
        let previous = self.manifest()?;
        let orphan: Option<String> = self.connections.with(|con| Ok(con.get(&writing_key)?))?;
        if let Some(orphan) =
            orphan.filter(|g| previous.as_ref().is_none_or(|p| &p.generation != g))
        {
            self.delete_generation(&orphan, None)?;
        }
        let generation = uuid::Uuid::now_v7().to_string();
        self.connections
            .with(|con| Ok(con.set::<_, _, ()>(&writing_key, &generation)?))?;
        let mut out = ChunkWriter {
            lists: self,
            generation: &generation,
            lock,
            buffer: Vec::with_capacity(CHUNK_BYTES),
            chunks: Vec::new(),
            bytes: 0,
            crc: crc32fast::Hasher::new(),
        };
        let index_bytes = match out.write_all_parts(index, named, &rules.revision) {
            Ok(index_bytes) => index_bytes,
            Err(err) => {
                let written = out.chunks.len();
                // Best effort: the next writer deletes what is left, as `writing` names it.
                let _ = self.delete_generation(&generation, Some(written + 1));
                return Err(if err.kind() == io::ErrorKind::PermissionDenied {
                    WriteError::LostLock
                } else {
                    err.into()
                });
            }
        };
        let manifest = Manifest {
            generation: generation.clone(),
            version: position.version,
            epoch: position.epoch,
            revision: rules.revision.clone(),
            index_bytes,
            bytes: out.bytes,
            crc32: out.crc.clone().finalize(),
            chunks: out.chunks.clone(),
            written_at: Timestamp::now().to_string(),
        };
        let text = serde_json::to_string(&manifest).map_err(io::Error::other)?;
        self.connections.with(|con| {
            redis::pipe()
                .atomic()
                .set(&manifest_key, text)
                .del(&writing_key)
                .query::<()>(con)?;
            Ok(())
        })?;
        if let Some(previous) = previous.filter(|p| p.generation != generation) {
            self.delete_generation(&previous.generation, Some(previous.chunks.len()))?;
        }
        Ok(Written {
            version: manifest.version,
            bytes: manifest.bytes,
            chunks: manifest.chunks.len(),
        })
    }

    /// The stored manifest, if any; one that cannot be read counts as none.
    fn manifest(&self) -> Result<Option<Manifest>, SourceError> {
        let text: Option<String> = self
            .connections
            .with(|con| Ok(con.get(self.key("snapshot"))?))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Deletes a generation's chunks: `count` of them, or (unknown count) up to the first
    /// missing one, since they are written in order.
    fn delete_generation(&self, generation: &str, count: Option<usize>) -> Result<(), SourceError> {
        self.connections.with(|con| {
            for n in 0.. {
                if count.is_some_and(|count| n >= count) {
                    break;
                }
                let deleted: u64 = con.del(self.chunk_key(generation, n))?;
                if deleted == 0 && count.is_none() {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Reads the stored snapshot if it fits `rules` and the store's position `store`, and the
    /// change stream still reaches back to it; else why not.
    pub(super) fn read_snapshot(
        &self,
        rules: &RuleSet,
        store: &Position,
    ) -> Result<Stored, Unusable> {
        let manifest = self.manifest()?.ok_or(Unusable::Missing)?;
        if manifest.revision != rules.revision {
            return Err(Unusable::Revision {
                ours: rules.revision.clone(),
                theirs: manifest.revision,
            });
        }
        if manifest.epoch != store.epoch {
            let shown =
                |e: Option<String>| e.map_or_else(|| "none".to_owned(), |e| format!("`{e}`"));
            return Err(Unusable::Epoch {
                ours: shown(store.epoch.clone()),
                theirs: shown(manifest.epoch),
            });
        }
        if manifest.version > store.version {
            return Err(Unusable::Ahead {
                snapshot: manifest.version,
                store: store.version,
            });
        }
        if manifest.version < store.version && !self.stream_holds(manifest.version + 1)? {
            return Err(Unusable::Trimmed(manifest.version));
        }
        let (chunks_tx, chunks_rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, Unusable>>(2);
        std::thread::scope(|scope| {
            let manifest = &manifest;
            scope.spawn(move || {
                let mut whole = crc32fast::Hasher::new();
                for (n, &sum) in manifest.chunks.iter().enumerate() {
                    let chunk = self.fetch_chunk(manifest, n, sum, &mut whole);
                    let failed = chunk.is_err();
                    if chunks_tx.send(chunk).is_err() || failed {
                        return;
                    }
                }
                if whole.finalize() != manifest.crc32 {
                    let _ = chunks_tx.send(Err(Unusable::Damaged(
                        "the checksum of the whole does not match".to_owned(),
                    )));
                }
            });
            let mut input = Chunks {
                chunks: chunks_rx,
                current: Vec::new(),
                at: 0,
                failure: None,
            };
            let read = read_parts(&mut input, manifest.index_bytes, rules);
            // Drain to the end, so that a failure of the whole's checksum is seen.
            let rest = io::copy(&mut input, &mut io::sink());
            match (input.failure.take(), read, rest) {
                (Some(why), _, _) => Err(why),
                (None, Err(err), _) | (None, Ok(_), Err(err)) => {
                    Err(Unusable::Damaged(err.to_string()))
                }
                (None, Ok((index, cold_names)), Ok(0)) => Ok(Stored {
                    index,
                    cold_names,
                    position: Position {
                        version: manifest.version,
                        epoch: manifest.epoch.clone(),
                    },
                }),
                (None, Ok(_), Ok(_)) => Err(Unusable::Damaged("bytes after the end".to_owned())),
            }
        })
    }

    /// Chunk `n`, checked against its checksum `sum` and added to the whole's.
    fn fetch_chunk(
        &self,
        manifest: &Manifest,
        n: usize,
        sum: u32,
        whole: &mut crc32fast::Hasher,
    ) -> Result<Vec<u8>, Unusable> {
        let chunk: Option<Vec<u8>> = self
            .connections
            .with(|con| Ok(con.get(self.chunk_key(&manifest.generation, n))?))?;
        let chunk = chunk.ok_or_else(|| Unusable::Damaged(format!("chunk {n} is missing")))?;
        if crc32fast::hash(&chunk) != sum {
            return Err(Unusable::Damaged(format!(
                "the checksum of chunk {n} does not match"
            )));
        }
        whole.update(&chunk);
        Ok(chunk)
    }

    /// Whether the change stream holds the change of `version`.
    fn stream_holds(&self, version: u64) -> Result<bool, SourceError> {
        self.connections.with(|con| {
            let reply: redis::streams::StreamRangeReply =
                con.xrange_count(self.key("changes"), format!("{version}-0"), "+", 1)?;
            Ok(reply
                .ids
                .first()
                .is_some_and(|first| first.id == format!("{version}-0")))
        })
    }
}

/// The index (its first `index_bytes`) and who the cold entries name.
fn read_parts(
    input: &mut impl Read,
    index_bytes: u64,
    rules: &RuleSet,
) -> io::Result<(ListIndex, ColdNames)> {
    let index = ListIndex::read_snapshot(&mut input.by_ref().take(index_bytes), rules)?;
    Ok((index, read_named(input)?))
}

/// Who the cold entries name: the count, then for each naming the person's and the filer's
/// keys and the entry's id (the table's own id hashes are keyed per process).
fn write_named(out: &mut impl Write, named: &[NamedBy]) -> io::Result<()> {
    out.write_all(&(named.len() as u64).to_le_bytes())?;
    for naming in named {
        out.write_all(&naming.person.as_u128().to_le_bytes())?;
        out.write_all(&naming.filer.as_u128().to_le_bytes())?;
        out.write_all(&(naming.entry_id.len() as u32).to_le_bytes())?;
        out.write_all(naming.entry_id.as_bytes())?;
    }
    Ok(())
}

fn read_named(input: &mut impl Read) -> io::Result<ColdNames> {
    let damaged = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
    let mut word = [0u8; 8];
    input.read_exact(&mut word)?;
    let count = u64::from_le_bytes(word);
    let mut named = Vec::new();
    for _ in 0..count {
        let mut key = || -> io::Result<SubjectKey> {
            let mut bytes = [0u8; 16];
            input.read_exact(&mut bytes)?;
            SubjectKey::from_u128(u128::from_le_bytes(bytes))
                .ok_or_else(|| damaged("bad subject key"))
        };
        let (person, filer) = (key()?, key()?);
        let mut len = [0u8; 4];
        input.read_exact(&mut len)?;
        let mut id = vec![0u8; u32::from_le_bytes(len).min(4096) as usize];
        input.read_exact(&mut id)?;
        let entry_id = String::from_utf8(id).map_err(|_| damaged("bad entry id"))?;
        named.push(NamedBy {
            person,
            filer,
            entry_id,
        });
    }
    Ok(ColdNames::of_named(&named))
}

/// Stores what is written to it as chunks of a generation, renewing the writer's lock with
/// each; a lock lost meanwhile fails the write (as `PermissionDenied`).
struct ChunkWriter<'a> {
    lists: &'a RedisLists,
    generation: &'a str,
    lock: &'a Lock,
    buffer: Vec<u8>,
    /// The checksum of each chunk stored.
    chunks: Vec<u32>,
    /// Bytes stored so far.
    bytes: u64,
    crc: crc32fast::Hasher,
}

impl ChunkWriter<'_> {
    /// The index, then who the cold entries name, every chunk stored; returns the index's
    /// length.
    fn write_all_parts(
        &mut self,
        index: &ListIndex,
        named: &[NamedBy],
        revision: &str,
    ) -> io::Result<u64> {
        index.write_snapshot(self, revision)?;
        let index_bytes = self.bytes + self.buffer.len() as u64;
        write_named(self, named)?;
        self.flush_chunk()?;
        Ok(index_bytes)
    }

    fn flush_chunk(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let key = self.lists.chunk_key(self.generation, self.chunks.len());
        let held = self
            .lists
            .connections
            .with(|con| {
                con.set::<_, _, ()>(&key, &self.buffer)?;
                Ok(self.lock.renew(con)?)
            })
            .map_err(io::Error::other)?;
        self.chunks.push(crc32fast::hash(&self.buffer));
        self.crc.update(&self.buffer);
        self.bytes += self.buffer.len() as u64;
        self.buffer.clear();
        if !held {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "lost the lock",
            ));
        }
        Ok(())
    }
}

impl Write for ChunkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..taken]);
        if self.buffer.len() == CHUNK_BYTES {
            self.flush_chunk()?;
        }
        Ok(taken)
    }

    /// Chunks are stored whole; the last, short one by `flush_chunk` once all is written.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The chunks as one stream of bytes, as the fetching thread hands them over; the first
/// failure ends the stream and is kept.
struct Chunks {
    chunks: std::sync::mpsc::Receiver<Result<Vec<u8>, Unusable>>,
    current: Vec<u8>,
    at: usize,
    failure: Option<Unusable>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.failure.is_some() {
                return Err(io::Error::other("the list snapshot could not be read"));
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Err(why)) => {
                    self.failure = Some(why);
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
