//! The register in files, for a single instance without Redis: records in JSON Lines files, one
//! per hour (UTC+8) of the time they were asked, `records/YYYY-MM-DD/HH.jsonl`; feedback in
//! `feedback.jsonl`, held in memory as well (it is a few records per decision at most). A
//! corrected report is appended whole again; the last line of a report is the one that counts.
//!
//! A record's hour file follows from its id (a UUIDv7 carries its instant), so finding a
//! decision reads one file, and an export reads only the hours of its period.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use uuid::Uuid;

use super::feedback::FeedbackRecord;
use super::record::{time_of, AuditRecord, Line};
use super::store::{
    lock, open_private, parse_feedback, parse_record, FeedbackPage, FeedbackQuery, RegisterStore,
    StoreError, Stored,
};
use crate::timestamp::Timestamp;

const HOUR_MS: i64 = 3_600_000;

pub struct FileStore {
    dir: PathBuf,
    /// The hour file last appended to, kept open.
    current: Mutex<Option<(PathBuf, File)>>,
    feedback: Mutex<FeedbackFile>,
}

struct FeedbackFile {
    file: File,
    /// In the order filed; a correction replaces its report in place.
    records: Vec<FeedbackRecord>,
    by_key: HashMap<String, usize>,
    by_id: HashMap<Uuid, usize>,
}

impl FileStore {
    /// Opens (creating) the register under `dir` and reads its feedback.
    pub fn open(dir: &Path) -> Result<FileStore, StoreError> {
        std::fs::create_dir_all(dir.join("records"))?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            current: Mutex::new(None),
            feedback: Mutex::new(FeedbackFile::open(&dir.join("feedback.jsonl"))?),
        })
    }

    /// The file of the hour (UTC+8) that holds records asked at `at`.
    fn hour_file(&self, at: Timestamp) -> PathBuf {
        self.dir
            .join("records")
            .join(at.format_cst("%Y-%m-%d"))
            .join(at.format_cst("%H.jsonl"))
    }

    fn write_group(&self, path: &Path, lines: &[&Line]) -> Result<(), StoreError> {
        let mut current = lock(&self.current);
        if current.as_ref().is_none_or(|(open, _)| open != path) {
            // The hour is over: what was written to it goes to disk before it is closed.
            if let Some((_, done)) = current.take() {
                done.sync_data()?;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = open_private(
                OpenOptions::new().create(true).read(true).append(true),
                path,
            )?;
            end_line(&mut file)?;
            *current = Some((path.to_path_buf(), file));
        }
        let Some((_, file)) = current.as_mut() else {
            unreachable!("opened above")
        };
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.json.len() + 1).sum());
        for line in lines {
            bytes.extend_from_slice(&line.json);
            bytes.push(b'\n');
        }
        let written = file.write_all(&bytes);
        if written.is_err() {
            // Reopen next time: the file may end in a torn line, which end_line closes.
            *current = None;
        }
        Ok(written?)
    }

    /// The records of one hour file, each once (a replay may have stored one twice); a torn
    /// line (a write that failed half-way) is skipped.
    fn read_hour(
        &self,
        path: &Path,
        each: &mut dyn FnMut(AuditRecord) -> bool,
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

/// Ends a file that was left with a torn last line, so the next record starts on its own line.
fn end_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

impl RegisterStore for FileStore {
    fn append(&self, lines: &[Line]) -> Result<(), StoreError> {
        // By hour (a batch rarely spans two), so each hour's path is made once.
        let mut groups: Vec<(i64, Vec<&Line>)> = Vec::new();
        for line in lines {
            let hour = time_of(line.record_id).0.div_euclid(HOUR_MS);
            match groups.iter_mut().find(|(h, _)| *h == hour) {
                Some((_, group)) => group.push(line),
                None => groups.push((hour, vec![line])),
            }
        }
        for (hour, group) in &groups {
            self.write_group(&self.hour_file(Timestamp(hour * HOUR_MS)), group)?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        if let Some((_, file)) = lock(&self.current).as_ref() {
            file.sync_data()?;
        }
        Ok(())
    }

    fn find(&self, record_id: Uuid) -> Result<Option<AuditRecord>, StoreError> {
        let path = self.hour_file(time_of(record_id));
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let needle = format!("\"record_id\":\"{record_id}\"");
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line)? > 0 {
            if finder.find(&line).is_some() {
                if let Ok(record) = serde_json::from_slice::<AuditRecord>(&line) {
                    return Ok(Some(record));
                }
            }
            line.clear();
        }
        Ok(None)
    }

    fn scan(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: &mut dyn FnMut(AuditRecord) -> bool,
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

impl FeedbackFile {
    /// Reads the stored feedback; a torn last line (a crash during a write, which was then
    /// never acknowledged) is cut off.
    fn open(path: &Path) -> Result<FeedbackFile, StoreError> {
        let mut file = open_private(
            OpenOptions::new().create(true).read(true).append(true),
            path,
        )?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let complete = text.rfind('\n').map_or(0, |end| end + 1);
        if complete < text.len() {
            file.set_len(complete as u64)?;
        }
        let mut feedback = FeedbackFile {
            file,
            records: Vec::new(),
            by_key: HashMap::new(),
            by_id: HashMap::new(),
        };
        for line in text[..complete].lines().filter(|l| !l.is_empty()) {
            feedback.insert(parse_feedback(line)?);
        }
        Ok(feedback)
    }

    /// Appends a record (a new report, or a corrected one) and syncs it to disk.
    fn write(&mut self, record: &FeedbackRecord) -> Result<(), StoreError> {
        let mut line =
            serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        Ok(self.file.sync_data()?)
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
