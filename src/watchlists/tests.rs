use super::*;
use crate::ident;

fn owner(department: &str, name: &str) -> Owner {
    Owner {
        department: department.into(),
        name: name.into(),
        updated_by: Some("k1".into()),
    }
}

fn keys(ids: &[&str]) -> Vec<SubjectKey> {
    ids.iter()
        .map(|id| ident::parse(id).map(|s| s.key()).unwrap())
        .collect()
}

const COMPANY: &str = "91230200MA1B2C3D8T";
const PERSON: &str = "230202198503121238";
const CO_OP: &str = "912302061276543275";

fn sample() -> Watchlist {
    Watchlist::new(
        owner("市财政局", "bidders-2026"),
        keys(&[PERSON, COMPANY, CO_OP, COMPANY]),
        Timestamp(1_764_000_000_000),
    )
}

#[test]
fn names_are_short_and_of_a_small_alphabet() {
    assert!(check_name("bidders-2026_q1.v2").is_ok());
    for bad in [
        "",
        "..",
        ".",
        "a/b",
        "名单",
        "a b",
        &"x".repeat(MAX_NAME_LEN + 1),
    ] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    assert!(check_name(&"x".repeat(MAX_NAME_LEN)).is_ok());
}

#[test]
fn a_watchlist_holds_each_subject_once_sorted_and_counts_the_repeats_and_kinds() {
    let list = sample();
    assert_eq!((list.len(), list.duplicates), (3, 1));
    assert!(list.subjects().windows(2).all(|w| w[0] < w[1]));
    assert!(list.contains(keys(&[PERSON])[0]));
    assert!(!list.contains(keys(&["91230200MA1B2C3D9U"])[0]));
    assert_eq!(list.by_kind.get("person"), Some(&1));
    assert_eq!(list.by_kind.get("enterprise"), Some(&2));
}

#[test]
fn the_file_format_reads_back_what_it_wrote_and_refuses_any_damage() {
    let list = sample();
    let bytes = format::encode(&list).unwrap();
    assert_eq!(format::decode(&bytes).unwrap(), list);
    // Any byte changed, or the file cut short, is refused.
    for at in [0, 9, 20, bytes.len() - 20, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        assert!(format::decode(&damaged).is_err(), "byte {at}");
    }
    assert!(format::decode(&bytes[..bytes.len() - 12]).is_err());
    assert!(format::decode(b"").is_err());
}

#[test]
fn keys_that_pack_no_identifier_or_are_out_of_order_are_refused() {
    let good = keys(&[COMPANY, PERSON]);
    let mut sorted = good.clone();
    sorted.sort();
    let mut out = Vec::new();
    assert!(format::unpack_into(&format::pack(&sorted), &mut out).is_ok());
    let reversed: Vec<SubjectKey> = sorted.iter().rev().copied().collect();
    assert!(format::unpack_into(&format::pack(&reversed), &mut Vec::new()).is_err());
    let mut garbage = format::pack(&sorted);
    garbage[0..12].fill(0xff);
    assert!(format::unpack_into(&garbage, &mut Vec::new()).is_err());
    assert!(format::unpack_into(&[0; 5], &mut Vec::new()).is_err());
}

#[test]
fn an_upload_keeps_the_first_invalid_identifiers_counts_all_and_stops_at_its_limit() {
    let problem = |i: u32| (format!("subjects[{i}].id"), "bad".to_owned());
    let mut upload = Upload::new(30);
    upload.push(Ok(ident::parse(COMPANY).unwrap())).unwrap();
    for i in 1..=25 {
        upload.push(Err(problem(i))).unwrap();
    }
    upload.push(Ok(ident::parse(PERSON).unwrap())).unwrap();
    let refused = upload.finish(owner("d", "n"), Timestamp(0)).unwrap_err();
    assert_eq!(refused.invalid.len(), 20);
    assert_eq!(refused.invalid[0], problem(1));
    assert_eq!(refused.invalid_count, 25);
    let mut full = Upload::new(1);
    full.push(Ok(ident::parse(COMPANY).unwrap())).unwrap();
    assert_eq!(full.push(Err(problem(1))), Err(TooMany { limit: 1 }));
}

#[test]
fn the_file_store_keeps_watchlists_across_a_restart_and_refuses_only_a_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = WatchlistConfig {
        store: StoreConfig::Files(dir.path().to_path_buf()),
        max_subjects: 10,
        max_body_bytes: 1000,
    };
    let lists = Watchlists::open(&config).unwrap();
    let first = sample();
    assert!(!lists.put(Arc::new(first.clone())).unwrap());
    let other = Watchlist::new(owner("", "mine"), keys(&[CO_OP]), Timestamp(5));
    lists.put(Arc::new(other)).unwrap();
    assert_eq!(lists.names("市财政局"), vec!["bidders-2026"]);
    assert_eq!(lists.contains("", "mine", keys(&[CO_OP])[0]), Some(true));
    assert_eq!(lists.contains("", "mine", keys(&[PERSON])[0]), Some(false));
    assert_eq!(lists.contains("市财政局", "mine", keys(&[CO_OP])[0]), None);
    drop(lists);

    let again = Watchlists::open(&config).unwrap();
    assert_eq!(
        again.get("市财政局", "bidders-2026").as_deref(),
        Some(&first)
    );
    assert_eq!(again.status().watchlists, 2);
    // A damaged file is refused at load, named; the other still loads.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let damaged = files
        .iter()
        .find(|p| p.to_string_lossy().contains(&hex("mine")))
        .unwrap();
    let mut bytes = std::fs::read(damaged).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 1;
    std::fs::write(damaged, bytes).unwrap();
    let loaded = Watchlists::open(&config).unwrap();
    let status = loaded.status();
    assert_eq!(status.watchlists, 1);
    assert_eq!(status.refused.len(), 1);
    assert!(
        status.refused[0].contains("checksum"),
        "{:?}",
        status.refused
    );
    assert!(loaded.delete("市财政局", "bidders-2026").unwrap());
    assert!(!loaded.delete("市财政局", "bidders-2026").unwrap());
    assert_eq!(Watchlists::open(&config).unwrap().status().watchlists, 0);
}
