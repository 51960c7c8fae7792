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
    let started = logged(&logs, "jiangcheng listening");
    assert_eq!(started["rules"], "embedded", "{started}");
    assert_eq!(started["lists"], "embedded", "{started}");
    let ready = logged(&logs, "ready: ");
    assert_eq!(ready["revision"], shipped.revision.as_str(), "{ready}");
    assert_eq!(ready["ruleset"], "qiqihar", "{ready}");
    assert_eq!(ready["entries"], status["lists"]["entries"], "{ready}");
    assert_eq!(ready["subjects"], status["lists"]["subjects"], "{ready}");
    assert_eq!(ready["listen"], format!("127.0.0.1:{port}"), "{ready}");
    assert!(
        ready["load_seconds"].as_f64().is_some_and(|s| s >= 0.0),
        "{ready}"
    );
    let readies = logs
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("ready: "))
        })
        .count();
    assert_eq!(readies, 1, "one ready line: {logs:#?}");
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

/// Stops `server` with SIGTERM and waits (bounded) for it to exit, its register stored.
pub fn stop(mut server: Running) {
    signal(&server, "TERM");
    let exited = crate::process::wait_exit(&mut server.child, Duration::from_secs(20));
    assert!(exited.is_some(), "serve stops on SIGTERM");
}

/// `serve` in `work` with the register in files and no folder set, `HOME` at `home`.
fn serve_with_home(work: &Path, home: &Path, port: u16, log: &Path) -> Command {
    let mut command = serve_in(work, port, log);
    command
        .env("JC_REGISTER", "files")
        .env("HOME", home)
        .env_remove("JC_REGISTER_DIR")
        .env_remove("JC_AUDIT_DIR")
        .env_remove("JC_REGISTER_KEY_FILE")
        .env_remove("JC_AUDIT_KEY_FILE")
        .env_remove("XDG_STATE_HOME")
        .env_remove("STATE_DIRECTORY");
    command
}

/// `jiangcheng register hash ID` run in `work` with `HOME` at `home`: its stdout and stderr.
fn register_hash_in(work: &Path, home: &Path, id: &str) -> (String, String) {
    let output = command_in(work, &["register", "hash", id])
        .env("HOME", home)
        .env_remove("JC_REGISTER_DIR")
        .env_remove("JC_AUDIT_DIR")
        .env_remove("JC_REGISTER_KEY_FILE")
        .env_remove("JC_AUDIT_KEY_FILE")
        .env_remove("XDG_STATE_HOME")
        .env_remove("STATE_DIRECTORY")
        .output()
        .expect("register hash");
    assert!(output.status.success(), "{output:?}");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    (text(&output.stdout), text(&output.stderr))
}

#[actix_web::test]
async fn the_registers_default_folder_is_the_users_state_folder_named_in_the_log_and_found_by_register_hash(
) {
    let (work, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let command = serve_with_home(work.path(), home.path(), port, log.path());
    let (server, client) = Running::until_ready(command, port).await;
    let subject = "91230200MA1B2C3D8T";
    assert_eq!(
        decision_of(&client, &server.address, subject.into()).await,
        "block"
    );
    stop(server);

    let folder = home.path().join(".local/state/jiangcheng/register");
    let logs = json_logs(log.path());
    let register = logged(&logs, "query register on");
    assert_eq!(register["dir"], folder.display().to_string(), "{register}");
    let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
    assert!(
        left.is_empty(),
        "serve left files in the working folder: {left:?}"
    );
    let key = folder.join("subject-hash.key");
    let id = jiangcheng::ident::parse(subject).unwrap();
    let expected = jiangcheng::register::subject_hash(&key, &id).expect("the key was made there");
    let (hash, warnings) = register_hash_in(work.path(), home.path(), subject);
    assert_eq!(hash, expected);
    assert_eq!(warnings, "");
}

#[actix_web::test]
async fn a_register_in_the_old_default_folder_is_still_used_with_a_warning_saying_how_to_keep_it() {
    let (work, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // A register an older version made in the working directory's `audit`.
    let first_log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut command = serve_with_home(work.path(), home.path(), port, first_log.path());
    command.env("JC_REGISTER_DIR", "audit");
    let (server, _client) = Running::until_ready(command, port).await;
    stop(server);
    let old = work.path().join("audit");
    let subject = "91230200MA1B2C3D8T";
    let id = jiangcheng::ident::parse(subject).unwrap();
    let expected = jiangcheng::register::subject_hash(&old.join("subject-hash.key"), &id).unwrap();

    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut command = serve_with_home(work.path(), home.path(), port, log.path());
    // Even under systemd's state directory, the register that is there is kept.
    command.env("STATE_DIRECTORY", home.path().join("state"));
    let (server, _client) = Running::until_ready(command, port).await;
    stop(server);
    let logs = json_logs(log.path());
    let register = logged(&logs, "query register on");
    assert_eq!(register["dir"], old.display().to_string(), "{register}");
    let warning = logged(&logs, "the old default folder");
    assert_eq!(warning["level"], "WARN", "{warning}");
    let keep = format!(
        "--register-dir (JC_REGISTER_DIR, register_dir) {}",
        old.display()
    );
    assert!(
        warning["message"].as_str().unwrap().contains(&keep),
        "{warning}"
    );
    // The push and the watchlists keep their folders there; the register does not.
    assert!(
        !home.path().join("state/register").exists(),
        "no second register was made"
    );
    assert!(
        !home
            .path()
            .join(".local/state/jiangcheng/register")
            .exists(),
        "no second register was made"
    );

    let (hash, warnings) = register_hash_in(work.path(), home.path(), subject);
    assert_eq!(hash, expected, "register hash finds the same key");
    assert!(warnings.contains(&keep), "{warnings}");
}

/// The position of the first log line whose message holds `message`.
fn line_of(logs: &[serde_json::Value], message: &str) -> usize {
    logs.iter()
        .position(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains(message))
        })
        .unwrap_or_else(|| panic!("no `{message}` in the log: {logs:#?}"))
}

#[actix_web::test]
async fn serve_binds_its_port_only_once_the_rule_set_and_lists_have_loaded_and_says_so_once() {
    let gate = crate::helpers::Gate::new();
    let work = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut command = serve_in(work.path(), port, log.path());
    command.arg("--rules").arg(gate.rules());
    let server = Running {
        child: command.spawn().expect("start serve"),
        address: format!("http://127.0.0.1:{port}"),
    };
    // While the rule set is being read, nothing listens on the port.
    gate.open_after(|| {
        let refused = std::net::TcpStream::connect(("127.0.0.1", port));
        assert!(refused.is_err(), "the port is bound during the first load");
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(!text.contains("listening"), "{text}");
    });
    let client = reqwest::Client::new();
    poll("/readyz 200", Duration::from_secs(20), || {
        let request = client.get(format!("{}/readyz", server.address)).send();
        async move { request.await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    stop(server);
    let logs = json_logs(log.path());
    let (loaded, listening, ready) = (
        line_of(&logs, "loaded"),
        line_of(&logs, "jiangcheng listening"),
        line_of(&logs, "ready: "),
    );
    assert!(loaded < listening && listening < ready, "{logs:#?}");
}

#[test]
fn serve_whose_first_load_fails_names_the_path_and_the_working_folder_and_binds_nothing() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let output = command_in(
        work.path(),
        &[
            "serve",
            "--listen",
            &listen,
            "--lists",
            "lists/missing.jsonl",
        ],
    )
    .env("JC_REGISTER", "off")
    .env("RUST_BACKTRACE", "1")
    .output()
    .expect("serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let error = stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {stderr}"));
    assert!(error.contains("lists/missing.jsonl"), "{error}");
    let working_dir = format!("working directory {}", work.path().display());
    assert!(error.contains(&working_dir), "{error}");
    assert!(stderr.contains("\nhint: --rules and --lists"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}

#[actix_web::test]
async fn serve_says_at_stop_what_the_register_stored_in_text_logs_on_the_clock_asked_for() {
    let (work, register) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut command = serve_in(work.path(), port, log.path());
    command
        .args(["--log-time", "+08:00"])
        .env("JC_LOG_FORMAT", "text")
        .env("JC_REGISTER", "files")
        .env("JC_REGISTER_DIR", register.path());
    let (server, client) = Running::until_ready(command, port).await;
    for _ in 0..3 {
        decision_of(&client, &server.address, "91230200MA1B2C3D8T".into()).await;
    }
    stop(server);
    let text = std::fs::read_to_string(log.path()).unwrap();
    let stopped = text
        .lines()
        .find(|line| line.contains("stopped; the query register flushed"))
        .unwrap_or_else(|| panic!("no stop line:\n{text}"));
    for field in [
        "stored_since_start=3",
        "spilled_since_start=0",
        "dropped_since_start=0",
    ] {
        assert!(stopped.contains(field), "{field}: {stopped}");
    }
    // Every line starts with its time at +08:00 (`2026-11-30T10:00:00.000000+08:00`).
    for line in text.lines().filter(|line| line.contains(" INFO ")) {
        let time = line.split_whitespace().next().unwrap();
        assert!(time.len() == 32 && time.ends_with("+08:00"), "{line}");
    }
}

#[actix_web::test]
async fn serve_says_once_when_it_lost_the_list_source_and_once_when_it_answers_again() {
    let redis = crate::redis::RedisServer::start();
    assert!(crate::redis::import(&redis, &crate::helpers::demo_lists())
        .status
        .success());
    let work = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut command = serve_in(work.path(), port, log.path());
    command.args(["--lists", &redis.url(), "--redis-timeout-ms", "300"]);
    let (server, _client) = Running::until_ready(command, port).await;
    let count = |message: &str| {
        json_logs(log.path())
            .iter()
            .filter(|line| {
                line["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(message))
            })
            .count()
    };
    let frozen = crate::follow::Frozen::new(&redis);
    // Several of the follower's calls fail while Redis is frozen (each within 300 ms).
    poll("the loss logged", Duration::from_secs(10), || {
        let lost = count("lost the list source");
        async move { lost == 1 }
    })
    .await;
    std::thread::sleep(Duration::from_secs(2));
    drop(frozen);
    poll("the reconnection logged", Duration::from_secs(10), || {
        let back = count("the list source answers again");
        async move { back == 1 }
    })
    .await;
    stop(server);
    let logs = json_logs(log.path());
    assert_eq!(count("lost the list source"), 1, "{logs:#?}");
    assert_eq!(count("the list source answers again"), 1, "{logs:#?}");
    let back = logged(&logs, "the list source answers again");
    assert!(
        back["failed_calls"].as_u64().is_some_and(|n| n > 1),
        "{back}"
    );
    assert!(
        back["lost_seconds"].as_f64().is_some_and(|s| s >= 2.0),
        "{back}"
    );
    assert!(
        line_of(&logs, "lost the list source") < line_of(&logs, "the list source answers again")
    );
}
