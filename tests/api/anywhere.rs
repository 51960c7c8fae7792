//! The binary run from any directory (docs/operations.md, Configuration): the shipped rule set
//! and demo lists are built into it, used when `--rules` and `--lists` are not given, and named
//! `embedded` where a path would be.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::rules_dir;
use crate::process::{decision_of, free_port, json_logs, logged, poll, signal, Running};

const BIN: &str = env!("CARGO_BIN_EXE_jiangcheng");

/// `jiangcheng ARGS` run in `dir`, nothing from the environment choosing its files.
pub fn command_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("JC_CONFIG")
        .env_remove("JC_LISTEN")
        .env_remove("JC_RULES")
        .env_remove("JC_LISTS")
        .env_remove("JC_KEYS")
        .stdin(Stdio::null());
    command
}

/// `serve` on `port` in `dir` with JSON logs into `log`, the register off unless `register`.
pub fn serve_in(dir: &Path, port: u16, log: &Path) -> Command {
    let listen = format!("127.0.0.1:{port}");
    let mut command = command_in(dir, &["serve", "--listen", &listen, "--workers", "1"]);
    command
        .env("JC_LOG_FORMAT", "json")
        .env("JC_REGISTER", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log).expect("log file")));
    command
}

#[actix_web::test]
async fn serve_started_in_an_empty_folder_serves_the_embedded_demo_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let port = free_port();
    let (server, client) = Running::until_ready(serve_in(dir.path(), port, log.path()), port).await;
    let decision = decision_of(&client, &server.address, "91230200MA1B2C3D8T".into()).await;
    assert_eq!(decision, "block", "a subject the demo lists hold");
    let status: serde_json::Value = client
        .get(format!("{}/v1/status", server.address))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    let shipped = jiangcheng::ruleset::load_dir(&rules_dir()).expect("the shipped rule set");
    assert_eq!(
        status["ruleset"]["revision"], shipped.revision,
        "the embedded rule set is the shipped folder's"
    );

    signal(&server, "HUP");
    poll("the reload's log line", Duration::from_secs(10), || {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        async move { text.contains("nothing to reload") }
    })
    .await;
    drop(server);
    let logs = json_logs(log.path());
    let started = logged(&logs, "jiangcheng serving");
    assert_eq!(started["rules"], "embedded", "{started}");
    assert_eq!(started["lists"], "embedded", "{started}");
    let nothing = logged(&logs, "nothing to reload");
    assert_eq!(nothing["what"], "reload on SIGHUP", "{nothing}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("the folder").collect();
    assert!(left.is_empty(), "serve left files behind: {left:?}");
}

#[test]
fn check_in_an_empty_folder_checks_the_embedded_rule_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = command_in(dir.path(), &["check"]).output().expect("check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let shipped = jiangcheng::ruleset::load_dir(&rules_dir()).expect("the shipped rule set");
    assert_eq!(stdout.trim(), format!("ok: {shipped}"));
}
