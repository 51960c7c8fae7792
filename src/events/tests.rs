use super::*;
use crate::ruleset::RuleSource;

const SCORED: &str = r#"{"entry_id": "P1", "list": "personal_credit_score", "subject_id": "230281196101020166", "listed_on": "2025-01-01", "valid_until": "2026-01-01", "status": "active", "dispute": "none", "score": 588}"#;

/// `SCORED` with `field` set to the JSON value `value`.
fn with(field: &str, value: serde_json::Value) -> String {
    let mut entry: serde_json::Value = serde_json::from_str(SCORED).unwrap();
    entry[field] = value;
    entry.to_string()
}

fn stored(old: &str, new: &str, expired: bool) -> Stored {
    let origin = if expired {
        Origin::Expired
    } else {
        Origin::Write
    };
    Stored {
        seq: 7,
        at: Timestamp(1_764_547_200_000),
        lists_version: 42,
        old: old.to_owned(),
        new: new.to_owned(),
        origin,
    }
}

#[test]
fn each_change_is_one_event_of_the_most_specific_type() {
    let rules = RuleSource::Embedded.load().expect("the shipped rule set");
    let cases = [
        ("", SCORED.to_owned(), false, EventType::Listed),
        (SCORED, String::new(), false, EventType::Removed),
        (
            SCORED,
            with("status", "removed".into()),
            false,
            EventType::Removed,
        ),
        (
            SCORED,
            with("status", "repaired".into()),
            false,
            EventType::Repaired,
        ),
        (
            SCORED,
            with("dispute", "under_review".into()),
            false,
            EventType::DisputeChanged,
        ),
        // 588 is level A (500..600), 650 is AA.
        (
            SCORED,
            with("score", 650.into()),
            false,
            EventType::ScoreLevelChanged,
        ),
        (SCORED, with("score", 590.into()), false, EventType::Changed),
        (
            SCORED,
            with("reason", "更正".into()),
            false,
            EventType::Changed,
        ),
        (SCORED, String::new(), true, EventType::Expired),
        (SCORED, "not json".to_owned(), false, EventType::Changed),
    ];
    for (old, new, expired, kind) in cases {
        let event = Event::of(&stored(old, &new, expired), &rules);
        assert_eq!(event.kind, kind, "{old} -> {new}");
    }
}

#[test]
fn an_event_carries_the_entry_after_the_change_or_before_a_removal() {
    let rules = RuleSource::Embedded.load().expect("the shipped rule set");
    let changed = with("score", 650.into());
    let json: serde_json::Value =
        serde_json::from_str(&Event::of(&stored(SCORED, &changed, false), &rules).to_json())
            .unwrap();
    assert_eq!(json["id"], "7");
    assert_eq!(json["type"], "score.level_changed");
    assert_eq!(json["occurred_at"], "2025-12-01T08:00:00.000+08:00");
    assert_eq!(json["lists_version"], 42);
    assert_eq!(json["entry"]["score"], 650);
    let removed = Event::of(&stored(SCORED, "", false), &rules);
    let json: serde_json::Value = serde_json::from_str(&removed.to_json()).unwrap();
    assert_eq!(json["entry"]["score"], 588);
    assert_eq!(removed.list, "personal_credit_score");
    let unreadable = Event::of(&stored(SCORED, "{", false), &rules);
    let json: serde_json::Value = serde_json::from_str(&unreadable.to_json()).unwrap();
    assert_eq!(json["entry"], serde_json::Value::Null);
}

#[test]
fn an_event_names_every_subject_of_the_entry_before_and_after() {
    let rules = RuleSource::Embedded.load().expect("the shipped rule set");
    let company = r#"{"entry_id": "C1", "list": "court_dishonest_debtor", "subject_id": "91230200MA1B2C3D8T", "listed_on": "2025-01-01", "responsible_persons": [{"role": "principal", "id": "230202198503121238"}]}"#;
    let event = Event::of(&stored("", company, false), &rules);
    let keys: Vec<String> = event.subjects.iter().map(|k| k.to_id_string()).collect();
    assert!(keys.contains(&"91230200MA1B2C3D8T".to_owned()), "{keys:?}");
    assert!(keys.contains(&"230202198503121238".to_owned()), "{keys:?}");
}

#[test]
fn the_event_file_numbers_events_keeps_them_over_a_restart_and_drops_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let events = FileEvents::open(dir.path()).unwrap();
    events
        .append_writes(
            vec![
                (String::new(), SCORED.into()),
                (SCORED.into(), String::new()),
            ],
            Timestamp(1000),
            3,
        )
        .unwrap();
    assert!(events
        .append_expired(
            None,
            Timestamp(5000),
            &[(Timestamp(4000), SCORED.into())],
            3
        )
        .unwrap());
    // The mark moved: a scan that read the old one is refused.
    assert!(!events
        .append_expired(None, Timestamp(6000), &[], 3)
        .unwrap());
    drop(events);
    let path = dir.path().join("events.jsonl");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(r#"{"seq": 4, "at"#);
    std::fs::write(&path, text).unwrap();
    let events = FileEvents::open(dir.path()).unwrap();
    let page = events.read_after(1, 10);
    assert_eq!((page.first, page.last), (1, 3));
    let seqs: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(page.events[1].origin, Origin::Expired);
    assert_eq!(events.expired_through(), Some(Timestamp(5000)));
    assert!(!std::fs::read_to_string(&path)
        .unwrap()
        .contains(r#""seq": 4"#));
}

#[test]
fn a_corrupt_line_inside_the_event_file_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("events.jsonl"),
        "nonsense\n{\"expired_through\": 1}\n",
    )
    .unwrap();
    let err = FileEvents::open(dir.path()).err().expect("refused");
    assert!(err.to_string().contains("events.jsonl:1"), "{err}");
}

#[test]
fn a_reader_behind_what_is_kept_is_told_how_many_it_missed() {
    let page = Page {
        events: Vec::new(),
        first: 11,
        last: 20,
    };
    assert_eq!(page.missed_after(4), 6);
    assert_eq!(page.missed_after(10), 0);
    assert_eq!(page.missed_after(15), 0);
}
