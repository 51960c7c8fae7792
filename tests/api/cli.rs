//! The command line as a user meets it (docs/operations.md, Command line): errors say what went
//! wrong and what to try, never with a backtrace; `--version`, completions and the man page; and
//! the `LICENSE` file that goes with the licence Cargo.toml declares.

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_jiangcheng");

/// Runs the binary with `args`, a backtrace asked for, and nothing from the environment
/// choosing the rule set.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("NO_COLOR", "1")
        .env_remove("JC_CONFIG")
        .env_remove("JC_RULES")
        .env_remove("JC_LISTS")
        .stdin(Stdio::null())
        .output()
        .expect("run jiangcheng")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_missing_rule_set_folder_is_an_error_and_a_hint_without_a_backtrace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-rules");
    let out = dir.path().join("entries.jsonl");
    let output = run(&[
        "gen",
        "--subjects",
        "10",
        "--rules",
        missing.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{text}");
    assert!(text.starts_with("error: "), "stderr:\n{text}");
    assert!(text.contains("no-such-rules"), "names the folder:\n{text}");
    assert!(text.contains("hint: --rules"), "names the flag:\n{text}");
    assert!(
        !text.to_lowercase().contains("backtrace"),
        "no backtrace:\n{text}"
    );
}

#[test]
fn a_failing_command_hints_at_its_help() {
    let output = run(&["keys", "new", "--department", " ", "--scopes", "decide"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{text}");
    assert!(text.contains("error: --department"), "stderr:\n{text}");
    assert!(
        text.contains("hint: `jiangcheng keys new --help`"),
        "stderr:\n{text}"
    );
    assert!(
        !text.to_lowercase().contains("backtrace"),
        "stderr:\n{text}"
    );
}

#[test]
fn a_usage_error_exits_with_2() {
    let output = run(&["serve", "--no-such-flag"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr:\n{}",
        stderr(&output)
    );
}

/// What `git rev-parse --short HEAD` says of this checkout now, or `unknown` as the build says
/// without git.
fn git_revision() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[test]
fn the_version_names_the_git_revision_it_was_built_from() {
    let output = run(&["--version"]);
    assert!(output.status.success(), "stderr:\n{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let expected = format!(
        "jiangcheng {} (git {})",
        env!("CARGO_PKG_VERSION"),
        git_revision()
    );
    assert_eq!(text.trim(), expected);
}

#[test]
fn bash_completions_offer_the_commands() {
    let output = run(&["completions", "bash"]);
    assert!(output.status.success(), "stderr:\n{}", stderr(&output));
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(script.contains("jiangcheng"), "{script}");
    assert!(script.contains("serve"), "{script}");
    assert!(script.contains("--rules"), "{script}");
}

#[test]
fn the_man_page_is_roff() {
    let output = run(&["man"]);
    assert!(output.status.success(), "stderr:\n{}", stderr(&output));
    let page = String::from_utf8_lossy(&output.stdout);
    assert!(page.contains(".TH jiangcheng"), "{page}");
    assert!(page.contains("serve"), "{page}");
}

#[test]
fn the_licence_file_holds_the_text_of_each_declared_licence() {
    let declared = env!("CARGO_PKG_LICENSE");
    assert_eq!(declared, "MIT OR Apache-2.0");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/LICENSE"))
        .expect("LICENSE at the top level");
    assert!(text.contains("MIT License"), "the MIT text");
    assert!(
        text.contains("Apache License\n                           Version 2.0, January 2004"),
        "the Apache-2.0 text"
    );
    assert!(
        text.contains("END OF TERMS AND CONDITIONS"),
        "the whole Apache-2.0 text"
    );
}
