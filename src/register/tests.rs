//! The register's stores and spill file without HTTP: files found by id, scanned by period
//! once per record, torn lines survived; feedback read back after a restart; the spill file
//! replayed only into a store that answers.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

use super::feedback::{feedback_key, Action, CorrectionRequest, FeedbackRecord, Report};
use super::files::FileStore;
use super::record::{time_of, Line, RegisterRecord};
use super::spill::Spill;
use super::store::{
    ActiveEnterprises, AppendError, Expired, FeedbackPage, FeedbackQuery, RegisterStore,
    StoreError, Stored,
};
use crate::timestamp::Timestamp;

fn line(id: Uuid) -> Line {
    Line {
        record_id: id,
        json: format!(
            r#"{{"record_id":"{id}","kind":"decision","time":"{}","caller":null,"subject":{{"kind":"enterprise","id_type":"uscc","id":"91230202MAG6KQ7Y4X","hash":"00"}},"decision":"block","measures":["m"],"ruleset":{{"name":"r","revision":"1"}},"lists_version":1}}"#,
            time_of(id)
        )
        .into_bytes(),
    }
}

/// A UUIDv7 at `ms` since the epoch.
fn id_at(ms: u64) -> Uuid {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, ms / 1000, (ms % 1000) as u32 * 1_000_000);
    Uuid::new_v7(ts)
}

fn scan(store: &dyn RegisterStore, from: i64, to: i64) -> Vec<Uuid> {
    let mut ids = Vec::new();
    store
        .scan(Timestamp(from), Timestamp(to), &mut |r: RegisterRecord| {
            ids.push(r.record_id);
            true
        })
        .expect("scan");
    ids
}

const HOUR: u64 = 3_600_000;
const T0: u64 = 1_795_000_000_000;

#[test]
fn a_file_register_finds_records_by_id_and_scans_a_period_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let ids: Vec<Uuid> = [T0, T0 + 1, T0 + HOUR, T0 + 3 * HOUR].map(id_at).to_vec();
    store
        .append(&ids.iter().map(|id| line(*id)).collect::<Vec<_>>())
        .unwrap();
    // A replay stores the first two again.
    store.append(&[line(ids[0]), line(ids[1])]).unwrap();
    for id in &ids {
        assert_eq!(store.find(*id).unwrap().map(|r| r.record_id), Some(*id));
    }
    assert_eq!(store.find(id_at(T0 + 2)).unwrap(), None);
    assert_eq!(store.find(id_at(T0 + 10 * HOUR)).unwrap(), None);
    let all = scan(&store, T0 as i64, (T0 + 4 * HOUR) as i64);
    assert_eq!(all, ids, "each record once, hour by hour");
    let middle = scan(&store, (T0 + 1) as i64, (T0 + 2 * HOUR) as i64);
    assert_eq!(middle, ids[1..3]);
}

#[test]
fn a_torn_line_is_closed_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let first = id_at(T0);
    {
        let store = FileStore::open(dir.path()).unwrap();
        store.append(&[line(first)]).unwrap();
    }
    // A write cut short by a crash or a full disk.
    let hour_file = walk(dir.path())
        .into_iter()
        .find(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && p.parent().is_some_and(|d| d != dir.path())
        })
        .unwrap();
    let mut text = std::fs::read_to_string(&hour_file).unwrap();
    text += "{\"record_id\":\"0193";
    std::fs::write(&hour_file, text).unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let second = id_at(T0 + 5);
    store.append(&[line(second)]).unwrap();
    assert_eq!(scan(&store, T0 as i64, (T0 + HOUR) as i64), [first, second]);
}

/// The hour file of `T0` and its index files.
fn hour_paths(dir: &std::path::Path) -> [std::path::PathBuf; 3] {
    let hour = walk(dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "jsonl") && p.parent() != Some(dir))
        .unwrap();
    [
        hour.clone(),
        hour.with_extension("idx"),
        hour.with_extension("runs"),
    ]
}

#[test]
fn the_hour_index_finds_every_record_whatever_order_the_writes_came_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    // Writes of 100 records whose ranges overlap (requests that raced), a batch's ids made
    // one after another from its first, and a late replay of the oldest.
    let mut ids = Vec::new();
    for write in 0..50u64 {
        let batch: Vec<Uuid> = (0..100u64)
            .map(|n| id_at(T0 + 1000 + write * 50 + (n * 7919) % 150))
            .collect();
        store
            .append(&batch.iter().map(|id| line(*id)).collect::<Vec<_>>())
            .unwrap();
        ids.extend(batch);
    }
    let first = Uuid::from_u128(id_at(T0 + 2).as_u128());
    let consecutive: Vec<Uuid> = (0..300)
        .map(|n| Uuid::from_u128(first.as_u128() + n))
        .collect();
    store
        .append(&consecutive.iter().map(|id| line(*id)).collect::<Vec<_>>())
        .unwrap();
    store.append(&[line(ids[0]), line(ids[1])]).unwrap();
    ids.extend(consecutive);
    for id in &ids {
        assert_eq!(store.find(*id).unwrap().map(|r| r.record_id), Some(*id));
    }
    assert_eq!(store.find(id_at(T0 + 1)).unwrap(), None, "not in any run");
    assert_eq!(
        store.find(id_at(T0 + 1100)).unwrap(),
        None,
        "inside runs' ranges"
    );
    let [_, idx, runs] = hour_paths(dir.path());
    assert_eq!(
        std::fs::metadata(runs).unwrap().len(),
        52 * 56,
        "one run per write"
    );
    assert_eq!(
        std::fs::metadata(idx).unwrap().len(),
        (ids.len() as u64 + 2) * 24
    );
}

#[test]
fn an_hour_index_cut_short_by_a_crash_or_lost_is_made_whole_on_opening() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<Uuid> = (0..30).map(|n| id_at(T0 + n)).collect();
    {
        let store = FileStore::open(dir.path()).unwrap();
        for chunk in ids[..20].chunks(5) {
            store
                .append(&chunk.iter().map(|id| line(*id)).collect::<Vec<_>>())
                .unwrap();
        }
    }
    let [hour, idx, runs] = hour_paths(dir.path());
    // A crash: the last run's entries never reached the disk, the hour file's lines did, and
    // more lines than the index knows of (written, not yet indexed).
    let entries = std::fs::metadata(&idx).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&idx)
        .unwrap()
        .set_len(entries - 24)
        .unwrap();
    let mut tail = String::new();
    for id in &ids[20..] {
        tail += std::str::from_utf8(&line(*id).json).unwrap();
        tail.push('\n');
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(&hour)
        .unwrap()
        .write_all(tail.as_bytes())
        .unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    for id in &ids {
        assert_eq!(
            store.find(*id).unwrap().map(|r| r.record_id),
            Some(*id),
            "{id}"
        );
    }
    drop(store);
    // An index lost altogether is made again from the hour file.
    std::fs::remove_file(&idx).unwrap();
    std::fs::remove_file(&runs).unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    for id in &ids {
        assert_eq!(
            store.find(*id).unwrap().map(|r| r.record_id),
            Some(*id),
            "{id}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn feedback(decision_id: Uuid, department: &str) -> FeedbackRecord {
    FeedbackRecord {
        feedback_id: Uuid::now_v7(),
        report: Report {
            decision_id,
            measure: "m".into(),
            action: Action::Applied,
            executing_department: department.into(),
            officer: None,
            reason: None,
            content: None,
            field: None,
            results: None,
            start_time: None,
            end_time: None,
        },
        recorded_at: Timestamp::now().to_string(),
        caller: None,
        corrections: Vec::new(),
    }
}

#[test]
fn file_feedback_is_stored_once_and_read_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (id_at(T0), id_at(T0 + 1));
    {
        let store = FileStore::open(dir.path()).unwrap();
        let first = feedback(a, "市财政局");
        assert_eq!(
            store.put_feedback(&first).unwrap(),
            Stored::Created(first.clone())
        );
        assert_eq!(
            store.put_feedback(&feedback(a, "市住建局")).unwrap(),
            Stored::Existing(first)
        );
        assert!(matches!(
            store.put_feedback(&feedback(b, "市住建局")).unwrap(),
            Stored::Created(_)
        ));
    }
    // A crash during a write leaves a torn last line, which was never acknowledged.
    let path = dir.path().join("feedback.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text += "{\"feedback_id\":";
    std::fs::write(&path, text).unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let found = store
        .feedback_of(&[
            feedback_key(a, "m"),
            feedback_key(b, "m"),
            feedback_key(b, "x"),
        ])
        .unwrap();
    let departments: Vec<_> = found
        .iter()
        .map(|f| f.as_ref().map(|f| f.report.executing_department.as_str()))
        .collect();
    assert_eq!(departments, [Some("市财政局"), Some("市住建局"), None]);
    let page = |cursor: Option<String>, department: Option<&str>| -> FeedbackPage {
        store
            .feedback_page(&FeedbackQuery {
                since: None,
                department: department.map(str::to_owned),
                filed_by: None,
                cursor,
                limit: 1,
            })
            .unwrap()
    };
    let first = page(None, None);
    assert_eq!(first.items[0].report.decision_id, a);
    let second = page(first.next_cursor, None);
    assert_eq!(second.items[0].report.decision_id, b);
    assert_eq!(second.next_cursor, None);
    assert_eq!(page(None, Some("市住建局")).items[0].report.decision_id, b);
    assert!(matches!(
        store.feedback_page(&FeedbackQuery {
            cursor: Some("99".into()),
            limit: 1,
            ..FeedbackQuery::default()
        }),
        Err(StoreError::BadCursor(_))
    ));
}

#[test]
fn a_corrected_report_replaces_its_original_in_place_and_keeps_its_history_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (id_at(T0), id_at(T0 + 1));
    let first = feedback(a, "市财政局");
    let corrected = {
        let store = FileStore::open(dir.path()).unwrap();
        store.put_feedback(&first).unwrap();
        store.put_feedback(&feedback(b, "市住建局")).unwrap();
        let request = CorrectionRequest {
            reason: Some("结果录入有误".into()),
            changes: vec![("results".into(), Some("已放行".into()))],
        };
        let corrected = first
            .corrected(request, None, Timestamp::now())
            .expect("a valid correction");
        assert!(store.correct_feedback(&first, &corrected).unwrap());
        assert!(
            !store.correct_feedback(&first, &corrected).unwrap(),
            "read before the first correction: refused"
        );
        corrected
    };
    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(
        store.feedback_by_id(first.feedback_id).unwrap(),
        Some(corrected.clone())
    );
    let history = &corrected.corrections[0];
    assert_eq!(history.reason, "结果录入有误");
    assert_eq!(
        (
            history.changes[0].field.as_str(),
            history.changes[0].to.as_deref()
        ),
        ("results", Some("已放行"))
    );
    let all = store.feedback_page(&FeedbackQuery {
        limit: 10,
        ..FeedbackQuery::default()
    });
    let order: Vec<Uuid> = all
        .unwrap()
        .items
        .iter()
        .map(|f| f.report.decision_id)
        .collect();
    assert_eq!(order, [a, b], "in the order filed, each once");
}

#[test]
fn what_an_earlier_version_left_is_read_masked_and_its_files_made_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedback.jsonl");
    let mut legacy = serde_json::to_value(feedback(id_at(T0), "市财政局")).unwrap();
    legacy["officer"] = "王某 230202198503124242".into();
    std::fs::write(&path, format!("{legacy}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let page = store
        .feedback_page(&FeedbackQuery {
            limit: 1,
            ..FeedbackQuery::default()
        })
        .unwrap();
    assert_eq!(
        page.items[0].report.officer.as_deref(),
        Some("王某 230202********4242")
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// A file store that fails while `down` is set.
struct Flaky {
    store: FileStore,
    down: AtomicBool,
}

impl RegisterStore for Flaky {
    fn append(&self, lines: &[Line]) -> Result<(), AppendError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(AppendError::none_stored(std::io::Error::other("down")));
        }
        self.store.append(lines)
    }
    fn probe(&self) -> Result<(), StoreError> {
        self.store.probe()
    }
    fn expire(&self, before: Timestamp, archive: Option<&Path>) -> Result<Expired, StoreError> {
        self.store.expire(before, archive)
    }
    fn find(&self, id: Uuid) -> Result<Option<RegisterRecord>, StoreError> {
        self.store.find(id)
    }
    fn scan(
        &self,
        from: Timestamp,
        to: Timestamp,
        each: &mut dyn FnMut(RegisterRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.store.scan(from, to, each)
    }
    fn put_feedback(&self, record: &FeedbackRecord) -> Result<Stored, StoreError> {
        self.store.put_feedback(record)
    }
    fn put_active_enterprises(&self, count: &ActiveEnterprises) -> Result<(), StoreError> {
        self.store.put_active_enterprises(count)
    }
    fn active_enterprises(&self, month: &str) -> Result<Option<ActiveEnterprises>, StoreError> {
        self.store.active_enterprises(month)
    }
    fn feedback_page(&self, query: &FeedbackQuery) -> Result<FeedbackPage, StoreError> {
        self.store.feedback_page(query)
    }
    fn feedback_of(&self, keys: &[String]) -> Result<Vec<Option<FeedbackRecord>>, StoreError> {
        self.store.feedback_of(keys)
    }
    fn feedback_by_id(&self, feedback_id: Uuid) -> Result<Option<FeedbackRecord>, StoreError> {
        self.store.feedback_by_id(feedback_id)
    }
    fn correct_feedback(
        &self,
        current: &FeedbackRecord,
        corrected: &FeedbackRecord,
    ) -> Result<bool, StoreError> {
        self.store.correct_feedback(current, corrected)
    }
}

#[test]
fn the_spill_file_is_replayed_once_the_store_answers_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = Flaky {
        store: FileStore::open(&dir.path().join("store")).unwrap(),
        down: AtomicBool::new(true),
    };
    let ids: Vec<Uuid> = (0..5).map(|n| id_at(T0 + n)).collect();
    {
        let spill = Spill::open(dir.path()).unwrap();
        spill.append(&[line(ids[0]), line(ids[1])]).unwrap();
        spill.append(&[line(ids[2])]).unwrap();
        spill.sync().unwrap();
        assert_eq!(spill.pending(), 3);
        assert!(spill.replay(&store).is_err(), "the store is down");
        // Spilled while a replay waits: a new spill file.
        spill.append(&[line(ids[3])]).unwrap();
        assert_eq!(spill.pending(), 4);
    }
    let spill = Spill::open(dir.path()).unwrap();
    assert_eq!(spill.pending(), 4, "a restart finds both files");
    store.down.store(false, Ordering::Relaxed);
    assert_eq!(
        spill.replay(&store).unwrap(),
        3,
        "the file being replayed first"
    );
    spill.append(&[line(ids[4])]).unwrap();
    assert_eq!(spill.replay(&store).unwrap(), 2);
    assert_eq!(spill.pending(), 0);
    assert_eq!(spill.replay(&store).unwrap(), 0);
    assert_eq!(scan(&store, T0 as i64, (T0 + HOUR) as i64), ids);
}

#[test]
fn the_writer_runs_at_a_lower_scheduling_priority_than_the_process() {
    /// The nice value of thread `task` of this process (the 19th field of its `stat`).
    fn nice(task: &str) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{task}/stat")).unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }
    let dir = tempfile::tempdir().unwrap();
    let config = super::RegisterConfig {
        dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let records =
        prometheus::IntCounterVec::new(prometheus::Opts::new("records", "r"), &["outcome"])
            .unwrap();
    let _register = super::Register::open(&config, &records).unwrap().unwrap();
    let ours = nice(&rustix::thread::gettid().as_raw_nonzero().to_string());
    let wanted = (ours + super::WRITER_NICE).min(19);
    let writers = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|task| task.unwrap().file_name().into_string().unwrap())
            .filter(|task| {
                std::fs::read_to_string(format!("/proc/self/task/{task}/comm"))
                    .is_ok_and(|name| name.trim() == "register-writer")
            })
            .map(|task| nice(&task))
            .collect::<Vec<_>>()
    };
    // The writer lowers its priority as it starts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !writers().contains(&wanted) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        writers().contains(&wanted),
        "{:?}, wanted {wanted}",
        writers()
    );
}
