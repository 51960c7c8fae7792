//! `jiangcheng decide ID MATTER` (docs/operations.md, Command line): the decision the API
//! answers, from a local rule set and lists, without a server and without a register record.

use std::process::Output;

use crate::anywhere::command_in;
use crate::helpers::{entry, rules_dir, uscc, write_jsonl, Spawn, AS_OF};

const DEBTOR: &str = "91230200MA1B2C3D8T";

/// `jiangcheng decide ARGS` run in an empty folder, which must stay empty.
fn decide(args: &[&str]) -> Output {
    let work = tempfile::tempdir().unwrap();
    let mut all = vec!["decide"];
    all.extend_from_slice(args);
    let output = command_in(work.path(), &all).output().expect("decide");
    let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert!(left.is_empty(), "decide left files behind: {left:?}");
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

#[test]
fn decide_explains_a_block_measure_by_measure_with_its_legal_basis_and_exits_0() {
    let output = decide(&[DEBTOR, "gov_procurement", "--as-of", AS_OF]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            format!("block (拦截): {DEBTOR} in gov_procurement, at 2026-11-22T10:00:00.000+08:00")
                .as_str()
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "- block (拦截): measure court_procurement_ban 限制失信被执行人参加政府采购活动"
        ),
        "{text}"
    );
    assert!(
        text.contains("entry QQHR-FY-2026-000123 on list court_dishonest_debtor"),
        "{text}"
    );
    assert!(
        text.contains(
            "  legal basis: 《财政部关于在政府采购活动中查询及使用信用记录有关问题的通知》"
        ),
        "{text}"
    );
    let allowed = decide(&[
        "91230202MA18XK7PXM",
        "admin_license_general",
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(allowed.status.code(), Some(0), "{allowed:?}");
    assert!(
        stdout(&allowed).starts_with("allow (通过): "),
        "{allowed:?}"
    );
}

#[actix_web::test]
async fn decide_json_is_the_answer_of_the_api() {
    let app = Spawn::demo().start();
    for (subject, matter) in [
        (DEBTOR, "gov_procurement"),
        ("230202198503121238", "high_consumption"),
        ("91230202MA18XK7PXM", "admin_license_general"),
    ] {
        let mut served = app.decide(subject, matter, AS_OF).await;
        let output = decide(&[subject, matter, "--as-of", AS_OF, "--json"]);
        assert!(output.status.success(), "{output:?}");
        let mut printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for answer in [&mut served, &mut printed] {
            let id = answer["decision_id"].take();
            assert!(id.as_str().is_some_and(|id| id.len() == 36), "{id}");
        }
        assert_eq!(printed, served, "{subject} in {matter}");
    }
}

#[test]
fn decide_reads_the_rule_set_and_lists_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists.jsonl");
    let listed = uscc("91", 7);
    write_jsonl(&lists, &[entry("L-1", "court_dishonest_debtor", &listed)]);
    let rules = rules_dir();
    let args = [
        listed.as_str(),
        "gov_procurement",
        "--as-of",
        AS_OF,
        "--rules",
        rules.to_str().unwrap(),
        "--lists",
        lists.to_str().unwrap(),
    ];
    let output = decide(&args);
    assert!(stdout(&output).starts_with("block (拦截): "), "{output:?}");
    // Not on the embedded demo lists.
    let output = decide(&[listed.as_str(), "gov_procurement", "--as-of", AS_OF]);
    assert!(stdout(&output).starts_with("allow (通过): "), "{output:?}");
}

#[test]
fn a_matter_the_rule_set_lacks_is_an_error_with_a_hint_and_exit_code_1() {
    let output = decide(&[DEBTOR, "no_such_matter"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: unknown matter `no_such_matter`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `jiangcheng decide --help`"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// `-` reads the identifier from standard input, so a resident ID number need not stand in the
/// process list or the shell's history.
#[test]
fn decide_reads_the_identifier_from_standard_input_for_a_dash() {
    use std::io::Write;
    let work = tempfile::tempdir().unwrap();
    let mut child = command_in(
        work.path(),
        &["decide", "-", "high_consumption", "--as-of", AS_OF],
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("decide");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"230202198503121238\n")
        .unwrap();
    let output = child.wait_with_output().expect("decide");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout(&output).starts_with("block (拦截): 230202198503121238 in high_consumption"),
        "{output:?}"
    );
}
