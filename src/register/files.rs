//! The register in files, for a single instance without Redis: records in JSON Lines files, one
//! per hour (UTC+8) of the time they were asked, `records/YYYY-MM-DD/HH.jsonl`; feedback in
//! `feedback.jsonl`, held in memory as well (it is a few records per decision at most). A
//! corrected report is appended whole again; the last line of a report is the one that counts.
//! The monthly counts of active enterprises are in `active_enterprises.jsonl` the same way: the
//! last line of a month counts.
//!
//! A record's hour file follows from its id (a UUIDv7 carries its instant), so finding a
//! decision reads one hour's index and one line (see `hour_index`), and an export reads only
//! the hours of its period. Retention renames an expired hour out of the writer's way, then
//! archives or deletes it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use uuid::Uuid;

use super::feedback::FeedbackRecord;
use super::record::{hour_of, time_of, Line, RegisterRecord, HOUR_MS};
use super::store::{
    lock, parse_active, parse_feedback, parse_record, ActiveEnterprises, AppendError, Expired,
    FeedbackPage, FeedbackQuery, RegisterStore, StoreError, Stored,
};
use super::{archive, disk, hour_index};
use crate::timestamp::Timestamp;

/// What an hour file is renamed to once it has expired, until it is archived or deleted.
const EXPIRING: &str = "jsonl.expiring";
/// The buffer of an hour's writes kept between them: a batch's lines and more.
const KEPT_BYTES: usize = 2 << 20;

/// The hour (since the epoch) of a record.
fn hour_of_line(line: &Line) -> i64 {
    hour_of(time_of(line.record_id))
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

pub struct FileStore {
    dir: PathBuf,
    /// The hour file last appended to, kept open with its index.
    current: Mutex<Option<OpenHour>>,
    feedback: Mutex<FeedbackFile>,
    active: Mutex<ActiveFile>,
}

/// The monthly counts of active enterprises: the file, and the last count of each month.
struct ActiveFile {
    file: File,
    by_month: HashMap<String, ActiveEnterprises>,
}

struct OpenHour {
    /// The hour since the epoch, which names the file: the path is made only when it changes.
    hour: i64,
    path: PathBuf,
    file: File,
    index: hour_index::Writer,
    /// The lines of a write, kept from one batch to the next.
    bytes: Vec<u8>,
}

struct FeedbackFile {
    file: File,
    /// In the order filed; a correction replaces its report in place.
    records: Vec<FeedbackRecord>,
    by_key: HashMap<String, usize>,
    by_id: HashMap<Uuid, usize>,
}

impl FileStore {
    /// Opens (creating) the register under `dir` and reads its feedback. Hour files whose
    /// index misses lines (a crash between the writes) are indexed first.
    pub fn open(dir: &Path) -> Result<FileStore, StoreError> {
        std::fs::create_dir_all(dir.join("records"))?;
        for (path, _) in hour_files(&dir.join("records"), "jsonl")? {
            hour_index::Writer::open(&path)?;
        }
        Ok(FileStore {
            dir: dir.to_path_buf(),
            current: Mutex::new(None),
            feedback: Mutex::new(FeedbackFile::open(&dir.join("feedback.jsonl"))?),
            active: Mutex::new(ActiveFile::open(&dir.join("active_enterprises.jsonl"))?),
        })
    }

    /// The file of the hour (UTC+8) that holds records asked at `at`.
    fn hour_file(&self, at: Timestamp) -> PathBuf {
        self.dir
            .join("records")
            .join(at.format_cst("%Y-%m-%d"))
            .join(at.format_cst("%H.jsonl"))
    }

    /// Appends lines of one hour to its file and index. A failure says how many of the first
    /// lines are in the file (and indexed); the file keeps none of the rest.
    fn write_group(&self, hour: i64, lines: &[Line]) -> Result<(), AppendError> {
        let mut current = lock(&self.current);
        if current.as_ref().is_none_or(|open| open.hour != hour) {
            // The hour is over: what was written to it goes to disk before it is closed.
            if let Some(done) = current.take() {
                done.sync().map_err(AppendError::none_stored)?;
            }
            let path = self.hour_file(Timestamp(hour * HOUR_MS));
            *current = Some(OpenHour::open(hour, path).map_err(AppendError::none_stored)?);
        }
        let Some(open) = current.as_mut() else {
            unreachable!("opened above")
        };
        let written = open.append(lines);
        if written.is_err() {
            // Reopen next time, which makes the file and its index whole again.
            *current = None;
        }
        written
    }

    /// The records of one hour file, each once (a replay may have stored one twice); a torn
    /// line (a write that failed half-way) is skipped.
    fn read_hour(
        &self,
        path: &Path,
        each: &mut dyn FnMut(RegisterRecord) -> bool,
    ) -> Result<bool, StoreError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(err) => return Err(err.into()),
        };
        let mut seen = HashSet::new();
        for line in BufReader::new(file).lines() {
            let Ok(record) = parse_record(&line?) else {
                tracing::warn!(file = %path.display(), "skipped a torn register line");
                continue;
            };
            if seen.insert(record.record_id) && !each(record) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl OpenHour {
    fn open(hour: i64, path: PathBuf) -> std::io::Result<OpenHour> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = disk::open_append(&path)?;
        disk::end_line(&mut file)?;
        Ok(OpenHour {
            hour,
            index: hour_index::Writer::open(&path)?,
            path,
            file,
            bytes: Vec::new(),
        })
    }

    fn append(&mut self, lines: &[Line]) -> Result<(), AppendError> {
        let bytes = &mut self.bytes;
        bytes.clear();
        for line in lines {
            bytes.extend_from_slice(&line.json);
            bytes.push(b'\n');
        }
        let (start, kept, failure) = match disk::append(&mut self.file, bytes, Some(b'\n')) {
            Ok(start) => (start, bytes.len(), None),
            Err(partial) => (partial.start, partial.kept, Some(partial.source)),
        };
        // A spill file's replay writes many batches' worth at once: not kept for the next.
        bytes.clear();
        bytes.shrink_to(KEPT_BYTES);
        let mut entries = Vec::with_capacity(lines.len());
        let mut offset = start;
        for line in lines {
            if offset + line.json.len() as u64 + 1 > start + kept as u64 {
                break;
            }
            entries.push((line.record_id.as_u128(), offset));
            offset += line.json.len() as u64 + 1;
        }
        let stored = entries.len();
        if stored > 0 {
            if let Err(err) = self.index.append(&mut entries, start + kept as u64) {
                // Lines without their index would not be found: the file keeps none of them.
                if let Err(cut) = self.file.set_len(start) {
                    tracing::warn!(error = %cut, "an hour file could not be cut back");
                }
                return Err(AppendError::none_stored(err.source));
            }
        }
        match failure {
            None => Ok(()),
            Some(source) => Err(AppendError {
                stored,
                source: source.into(),
            }),
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()?;
        self.index.sync()
    }
}

/// The files under the register's `records` folder named `HH.<extension>`, each with the
/// instant its hour starts, oldest first.
fn hour_files(records: &Path, extension: &str) -> std::io::Result<Vec<(PathBuf, Timestamp)>> {
    let mut hours = Vec::new();
    for day in read_dir_or_empty(records)? {
        let day = day?;
        if !day.file_type()?.is_dir() {
            continue;
        }
        let date = day.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(day.path())? {
            let path = file?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let Some((hour, rest)) = name.split_once('.') else {
                continue;
            };
            if rest != extension {
                continue;
            }
            if let Ok(at) = Timestamp::parse(&format!("{date}T{hour}:00:00+08:00")) {
                hours.push((path, at));
            }
        }
    }
    hours.sort_by_key(|(_, at)| *at);
    Ok(hours)
}

fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<std::io::Result<std::fs::DirEntry>>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}

impl RegisterStore for FileStore {
    fn append(&self, lines: &[Line]) -> Result<(), AppendError> {
        // By runs of one hour, in order (a batch rarely spans two), so that a failure leaves
        // the lines before it stored and none after.
        let mut stored = 0;
        let mut rest = lines;
        while let Some(first) = rest.first() {
            let hour = hour_of_line(first);
            let end = rest
                .iter()
                .position(|line| hour_of_line(line) != hour)
                .unwrap_or(rest.len());
            let (group, after) = rest.split_at(end);
            self.write_group(hour, group).map_err(|err| AppendError {
                stored: stored + err.stored,
                source: err.source,
            })?;
            stored += group.len();
            rest = after;
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        if let Some(open) = lock(&self.current).as_ref() {
            open.sync()?;
        }
        Ok(())
    }

    fn probe(&self) -> Result<(), StoreError> {
        Ok(disk::probe(&self.dir.join("records"))?)
    }

    fn expire(&self, before: Timestamp, archive: Option<&Path>) -> Result<Expired, StoreError> {
        let records = self.dir.join("records");
        for (path, at) in hour_files(&records, "jsonl")? {
            if at.0 + HOUR_MS > before.0 {
                break;
            }
            // Out of the writer's way first (a replay may still bring an old record: it starts
            // the hour's file anew, for the next pass); then archived at leisure.
            let mut current = lock(&self.current);
            if current.as_ref().is_some_and(|open| open.path == path) {
                *current = None;
            }
            std::fs::rename(&path, path.with_extension(EXPIRING))?;
            for index in hour_index::paths(&path) {
                remove_if_present(&index)?;
            }
        }
        let mut expired = Expired::default();
        // This pass's, and any that a pass cut short left.
        for (path, at) in hour_files(&records, EXPIRING)? {
            let records = match archive {
                Some(dir) => {
                    let name = format!("{}.jsonl.gz", at.format_cst("%Y-%m-%d/%H"));
                    let records = archive::write(&dir.join(name), &mut File::open(&path)?)?;
                    expired.archived += records;
                    records
                }
                None => archive::count_lines(&mut File::open(&path)?)?,
            };
            std::fs::remove_file(&path)?;
            expired.removed += records;
        }
        let today = before.format_cst("%Y-%m-%d");
        for day in read_dir_or_empty(&records)? {
            let day = day?;
            if day.file_name().to_string_lossy().as_ref() < today.as_str() {
                // Fails, and stays, if a replay brought an hour back meanwhile.
                let _ = std::fs::remove_dir(day.path());
            }
        }
        Ok(expired)
    }

    fn find(&self, record_id: Uuid) -> Result<Option<RegisterRecord>, StoreError> {
        let path = self.hour_file(time_of(record_id));
        let offsets = hour_index::find(&path, record_id)?;
        let Some(&offset) = offsets.first() else {
            return Ok(None);
        };
        let mut reader = BufReader::new(File::open(&path)?);
        reader.seek(SeekFrom::Start(offset))?;
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line)?;
        match serde_json::from_slice::<RegisterRecord>(&line) {
            Ok(record) if record.record_id == record_id => Ok(Some(record)),
            _ => Err(StoreError::Corrupt(format!(
                "the index of {} points at no record {record_id}",
                path.display()
            ))),
        }
    }

    fn scan(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: &mut dyn FnMut(RegisterRecord) -> bool,
    ) -> Result<(), StoreError> {
        let mut hour = from.0.div_euclid(HOUR_MS) * HOUR_MS;
        while hour < to.0 {
            let path = self.hour_file(Timestamp(hour));
            let more = self.read_hour(&path, &mut |record| {
                let at = time_of(record.record_id);
                !(from <= at && at < to) || each(record)
            })?;
            if !more {
                break;
            }
            hour += HOUR_MS;
        }
        Ok(())
    }

    fn put_active_enterprises(&self, count: &ActiveEnterprises) -> Result<(), StoreError> {
        let mut active = lock(&self.active);
        write_line(&mut active.file, count)?;
        active.by_month.insert(count.month.clone(), count.clone());
        Ok(())
    }

    fn active_enterprises(&self, month: &str) -> Result<Option<ActiveEnterprises>, StoreError> {
        Ok(lock(&self.active).by_month.get(month).cloned())
    }

    fn put_feedback(&self, record: &FeedbackRecord) -> Result<Stored, StoreError> {
        let mut feedback = lock(&self.feedback);
        let key = record.key();
        if let Some(&index) = feedback.by_key.get(&key) {
            return Ok(Stored::Existing(feedback.records[index].clone()));
        }
        feedback.write(record)?;
        feedback.insert(record.clone());
        Ok(Stored::Created(record.clone()))
    }

    fn feedback_by_id(&self, feedback_id: Uuid) -> Result<Option<FeedbackRecord>, StoreError> {
        let feedback = lock(&self.feedback);
        Ok(feedback
            .by_id
            .get(&feedback_id)
            .map(|&index| feedback.records[index].clone()))
    }

    fn correct_feedback(
        &self,
        current: &FeedbackRecord,
        corrected: &FeedbackRecord,
    ) -> Result<bool, StoreError> {
        let mut feedback = lock(&self.feedback);
        let Some(&index) = feedback.by_key.get(&current.key()) else {
            return Ok(false);
        };
        if feedback.records[index].corrections.len() != current.corrections.len() {
            return Ok(false);
        }
        feedback.write(corrected)?;
        feedback.records[index] = corrected.clone();
        Ok(true)
    }

    fn feedback_page(&self, query: &FeedbackQuery) -> Result<FeedbackPage, StoreError> {
        let feedback = lock(&self.feedback);
        let records = &feedback.records;
        let start = match &query.cursor {
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .filter(|&index| index <= records.len())
                .ok_or_else(|| StoreError::BadCursor(cursor.clone()))?,
            None => query.since.map_or(0, |since| {
                records.partition_point(|r| r.recorded_ms() < since.0)
            }),
        };
        let mut page = FeedbackPage::default();
        let mut index = start;
        while index < records.len() && page.items.len() < query.limit {
            let record = &records[index];
            index += 1;
            if query
                .since
                .is_some_and(|since| record.recorded_ms() < since.0)
            {
                continue;
            }
            if query
                .department
                .as_deref()
                .is_some_and(|d| d != record.report.executing_department)
            {
                continue;
            }
            if query.filed_by.as_deref().is_some_and(|d| {
                record
                    .caller
                    .as_ref()
                    .is_none_or(|caller| caller.department != d)
            }) {
                continue;
            }
            page.items.push(record.clone());
        }
        page.next_cursor = (index < records.len()).then(|| index.to_string());
        Ok(page)
    }

    fn feedback_of(&self, keys: &[String]) -> Result<Vec<Option<FeedbackRecord>>, StoreError> {
        let feedback = lock(&self.feedback);
        Ok(keys
            .iter()
            .map(|key| {
                feedback
                    .by_key
                    .get(key)
                    .map(|&index| feedback.records[index].clone())
            })
            .collect())
    }
}

/// Opens a file of JSON lines for appending and reads its whole lines; a torn last line (a
/// crash during a write, which was then never acknowledged) is cut off.
fn open_lines(path: &Path) -> Result<(File, String), StoreError> {
    let mut file = disk::open_append(path)?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let complete = text.rfind('\n').map_or(0, |end| end + 1);
    if complete < text.len() {
        file.set_len(complete as u64)?;
        text.truncate(complete);
    }
    Ok((file, text))
}

/// Appends `value` as a JSON line and syncs it to disk.
fn write_line(file: &mut File, value: &impl serde::Serialize) -> Result<(), StoreError> {
    let mut line = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    line.push(b'\n');
    file.write_all(&line)?;
    Ok(file.sync_data()?)
}

impl ActiveFile {
    fn open(path: &Path) -> Result<ActiveFile, StoreError> {
        let (file, text) = open_lines(path)?;
        let mut by_month = HashMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let count = parse_active(line)?;
            by_month.insert(count.month.clone(), count);
        }
        Ok(ActiveFile { file, by_month })
    }
}

impl FeedbackFile {
    /// Reads the stored feedback.
    fn open(path: &Path) -> Result<FeedbackFile, StoreError> {
        let (file, text) = open_lines(path)?;
        let mut feedback = FeedbackFile {
            file,
            records: Vec::new(),
            by_key: HashMap::new(),
            by_id: HashMap::new(),
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            feedback.insert(parse_feedback(line)?);
        }
        Ok(feedback)
    }

    /// Appends a record (a new report, or a corrected one) and syncs it to disk.
    fn write(&mut self, record: &FeedbackRecord) -> Result<(), StoreError> {
        write_line(&mut self.file, record)
    }

    /// Holds a record read or written: a new report at the end, a corrected one in its place.
    fn insert(&mut self, record: FeedbackRecord) {
        match self.by_key.get(&record.key()) {
            Some(&index) => self.records[index] = record,
            None => {
                let index = self.records.len();
                self.by_key.insert(record.key(), index);
                self.by_id.insert(record.feedback_id, index);
                self.records.push(record);
            }
        }
    }
}
