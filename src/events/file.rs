//! The event file of a service whose lists come from a file: one JSON line per event, appended
//! and synced before anyone is told of it, read back whole at start. The expiry scan's mark is
//! a line of its own, written in the same append as the expiries it covers. Once the file holds
//! twice the events kept, it is rewritten with those alone (a new file, synced, renamed over).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{Origin, Page, Stored, RETAINED};
use crate::timestamp::Timestamp;

const FILE_NAME: &str = "events.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum FileEventsError {
    #[error("event file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("event file {}:{line}: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// One line of the file.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Event {
        seq: u64,
        at: i64,
        version: u64,
        #[serde(default)]
        old: String,
        #[serde(default)]
        new: String,
        #[serde(default)]
        origin: Origin,
    },
    /// Expiries up to this instant (ms) are in the file.
    Mark { expired_through: i64 },
}

impl Line {
    fn of(stored: &Stored) -> Line {
        Line::Event {
            seq: stored.seq,
            at: stored.at.0,
            version: stored.lists_version,
            old: stored.old.clone(),
            new: stored.new.clone(),
            origin: stored.origin,
        }
    }
}

/// The events of one service, kept in a file and, the newest [`RETAINED`], in memory.
pub struct FileEvents {
    path: PathBuf,
    held: Mutex<Held>,
}

struct Held {
    file: File,
    events: VecDeque<Stored>,
    last: u64,
    expired_through: Option<Timestamp>,
    /// Lines in the file, to tell when to rewrite it.
    lines: u64,
}

impl FileEvents {
    /// Opens (or starts) the event file in `dir`. A last line cut short by a crash is dropped
    /// (it was never acknowledged); any other line that does not read refuses the file.
    pub fn open(dir: &Path) -> Result<FileEvents, FileEventsError> {
        let path = dir.join(FILE_NAME);
        let io = |source| FileEventsError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let mut held = Held {
            // The entries hold ID numbers in full, as the list file does: the owner's alone.
            file: OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?,
            events: VecDeque::new(),
            last: 0,
            expired_through: None,
            lines: 0,
        };
        let mut good_len = 0u64;
        let mut reader = BufReader::new(File::open(&path).map_err(io)?);
        let mut text = String::new();
        loop {
            text.clear();
            let read = reader.read_line(&mut text).map_err(io)?;
            if read == 0 {
                break;
            }
            if !text.ends_with('\n') {
                // Cut short by a crash: never acknowledged.
                break;
            }
            held.lines += 1;
            let line: Line =
                serde_json::from_str(&text).map_err(|err| FileEventsError::Corrupt {
                    path: path.clone(),
                    line: held.lines as usize,
                    message: err.to_string(),
                })?;
            held.take(line);
            good_len += read as u64;
        }
        held.file.set_len(good_len).map_err(io)?;
        Ok(FileEvents {
            path,
            held: Mutex::new(held),
        })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn read_after(&self, after: u64, limit: usize) -> Page {
        let held = self.held();
        let first = held.events.front().map_or(held.last + 1, |e| e.seq);
        let skip = after.saturating_add(1).saturating_sub(first);
        let events = held
            .events
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(limit)
            .cloned()
            .collect();
        Page {
            events,
            first,
            last: held.last,
        }
    }

    pub fn expired_through(&self) -> Option<Timestamp> {
        self.held().expired_through
    }

    /// Appends the changes a reload made, each `(old, new)` entry JSON at `at` and
    /// `lists_version`; acknowledged once synced.
    pub fn append_writes(
        &self,
        changes: Vec<(String, String)>,
        at: Timestamp,
        lists_version: u64,
    ) -> Result<(), FileEventsError> {
        let mut held = self.held();
        let first = held.last + 1;
        let events: Vec<Stored> = changes
            .into_iter()
            .enumerate()
            .map(|(i, (old, new))| Stored {
                seq: first + i as u64,
                at,
                lists_version,
                old,
                new,
                origin: Origin::Write,
            })
            .collect();
        self.append(&mut held, events, None)
    }

    /// Appends a breach's record made at `at`; acknowledged once synced.
    pub fn append_breach(
        &self,
        at: Timestamp,
        json: String,
        lists_version: u64,
    ) -> Result<(), FileEventsError> {
        let mut held = self.held();
        let event = Stored {
            seq: held.last + 1,
            at,
            lists_version,
            old: String::new(),
            new: json,
            origin: Origin::Breach,
        };
        self.append(&mut held, vec![event], None)
    }

    /// Appends expiries and moves the mark, if it is still at `read` (`false` otherwise).
    pub fn append_expired(
        &self,
        read: Option<Timestamp>,
        through: Timestamp,
        ended: &[(Timestamp, String)],
        lists_version: u64,
    ) -> Result<bool, FileEventsError> {
        let mut held = self.held();
        if held.expired_through != read {
            return Ok(false);
        }
        let first = held.last + 1;
        let events = ended
            .iter()
            .enumerate()
            .map(|(i, (at, json))| Stored {
                seq: first + i as u64,
                at: *at,
                lists_version,
                old: json.clone(),
                new: String::new(),
                origin: Origin::Expired,
            })
            .collect();
        self.append(&mut held, events, Some(through))?;
        Ok(true)
    }

    /// Writes `events` (and the expiry mark) in one append, syncs, then holds them.
    fn append(
        &self,
        held: &mut Held,
        events: Vec<Stored>,
        mark: Option<Timestamp>,
    ) -> Result<(), FileEventsError> {
        if events.is_empty() && mark.is_none() {
            return Ok(());
        }
        let mut text = Vec::new();
        let lines: Vec<Line> = events
            .iter()
            .map(Line::of)
            .chain(mark.map(|at| Line::Mark {
                expired_through: at.0,
            }))
            .collect();
        for line in &lines {
            serde_json::to_writer(&mut text, line).map_err(|err| self.io(err.into()))?;
            text.push(b'\n');
        }
        held.file
            .write_all(&text)
            .and_then(|()| held.file.sync_data())
            .map_err(|err| self.io(err))?;
        held.lines += lines.len() as u64;
        for line in lines {
            held.take(line);
        }
        if held.lines > 2 * RETAINED {
            self.rewrite(held)?;
        }
        Ok(())
    }

    /// Rewrites the file with the events held and the mark.
    fn rewrite(&self, held: &mut Held) -> Result<(), FileEventsError> {
        let mut text = Vec::new();
        let mark = held.expired_through.map(|at| Line::Mark {
            expired_through: at.0,
        });
        for line in held.events.iter().map(Line::of).chain(mark) {
            serde_json::to_writer(&mut text, &line).map_err(|err| self.io(err.into()))?;
            text.push(b'\n');
        }
        let write = || -> std::io::Result<File> {
            crate::durable::replace(&self.path, &text)?;
            OpenOptions::new().append(true).open(&self.path)
        };
        held.file = write().map_err(|err| self.io(err))?;
        held.lines = held.events.len() as u64 + u64::from(held.expired_through.is_some());
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> FileEventsError {
        FileEventsError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Held {
    fn take(&mut self, line: Line) {
        match line {
            Line::Event {
                seq,
                at,
                version,
                old,
                new,
                origin,
            } => {
                self.last = seq;
                self.events.push_back(Stored {
                    seq,
                    at: Timestamp(at),
                    lists_version: version,
                    old,
                    new,
                    origin,
                });
                while self.events.len() as u64 > RETAINED {
                    self.events.pop_front();
                }
            }
            Line::Mark { expired_through } => {
                self.expired_through = Some(Timestamp(expired_through));
            }
        }
    }
}
