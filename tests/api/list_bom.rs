//! A list file saved by Excel or WPS starts with a UTF-8 byte-order mark (docs/lists.md): it is
//! read as the same file without one, by `serve` and by `jiangcheng check`.

use std::process::Command;

use crate::helpers::{demo_lists, rules_dir, Spawn, AS_OF_QUERY};

/// The demo lists as Excel saves them, in `dir`.
fn demo_lists_with_bom(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("demo-lists-bom.jsonl");
    let mut text = "\u{FEFF}".as_bytes().to_vec();
    text.extend(std::fs::read(demo_lists()).expect("the demo lists"));
    std::fs::write(&path, text).expect("write the list file");
    path
}

#[actix_web::test]
async fn the_demo_lists_with_a_byte_order_mark_serve_the_same_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let with_bom = Spawn::files(rules_dir(), demo_lists_with_bom(dir.path())).start();
    let plain = Spawn::demo().start();
    assert_eq!(
        with_bom.get_json("/v1/lists").await,
        plain.get_json("/v1/lists").await
    );
    // The first line's subject, whose entry text is read at offsets that count the mark.
    let first = std::fs::read_to_string(demo_lists()).expect("the demo lists");
    let first: serde_json::Value =
        serde_json::from_str(first.lines().next().expect("a first line")).expect("JSON");
    let subject = first["subject_id"].as_str().expect("subject_id");
    let path = format!("/v1/subjects/{subject}?as_of={AS_OF_QUERY}");
    let profile = with_bom.get_json(&path).await;
    assert!(
        profile
            .to_string()
            .contains(first["entry_id"].as_str().expect("entry_id")),
        "{profile}"
    );
    assert_eq!(profile, plain.get_json(&path).await);
}

#[test]
fn check_reads_a_list_file_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().expect("temp dir");
    let check = |lists: &std::path::Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_jiangcheng"))
            .arg("check")
            .arg("--rules")
            .arg(rules_dir())
            .arg("--lists")
            .arg(lists)
            .output()
            .expect("run check");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "stderr:\n{stderr}");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .expect("the lists' line")
            .split(" in ")
            .next()
            .expect("the counts")
            .to_owned()
    };
    assert_eq!(
        check(&demo_lists_with_bom(dir.path())),
        check(&demo_lists())
    );
}
