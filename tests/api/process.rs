//! The binary (docs/operations.md, Configuration): `serve` reloads on SIGHUP and refuses a malformed list file at
//! start naming each bad line; the fail-closed guard refuses an emptied list file on SIGHUP and
//! an empty list snapshot at start, and SIGUSR1 or `--force-next-load` take them on purpose;
//! `check` validates a rule set and prints each problem as `file:line: message`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{copy_rules, entry, rules_dir, uscc, write_jsonl, AS_OF};

const BIN: &str = env!("CARGO_BIN_EXE_jiangcheng");

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Running {
    pub child: Child,
    pub address: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

pub fn serve_command(rules: &Path, lists: &Path, port: u16, stderr: Stdio) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
            "--rules",
        ])
        .arg(rules)
        .arg("--lists")
        .arg(lists)
        .env("NO_COLOR", "1")
        // The register has tests of its own; here it would write into the working directory.
        .env("JC_REGISTER", "off")
        .env_remove("JC_CONFIG")
        .env_remove("JC_LISTEN")
        .env_remove("JC_RULES")
        .env_remove("JC_LISTS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    command
}

/// Every file under `dir`, concatenated (as text).
fn register_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).expect("the register's folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            text += &register_text(&path);
        } else {
            // The hour indexes are binary: read lossily, still searched for ID numbers.
            text += &String::from_utf8_lossy(&std::fs::read(&path).expect("a register file"));
        }
    }
    text
}

/// Runs `serve` on `lists`, which must make it stop at start: the exit status and stderr, or a
/// panic naming `what` if it was still running after 30 s.
fn refused_start(dir: &Path, lists: &Path, what: &str) -> (ExitStatus, String) {
    let stderr_path = dir.join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut child = serve_command(&rules_dir(), lists, free_port(), Stdio::from(stderr))
        .spawn()
        .expect("start");
    let status = wait_exit(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = std::fs::read_to_string(&stderr_path).expect("stderr");
    let status = status.unwrap_or_else(|| panic!("serve kept running {what}; stderr:\n{stderr}"));
    (status, stderr)
}

/// Waits for the child to exit, at most `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Running {
    /// The text of its `/metrics`.
    pub async fn metrics(&self, client: &reqwest::Client) -> String {
        client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Starts `serve` and waits (bounded) until `/readyz` answers 200.
    pub async fn until_ready(mut command: Command, port: u16) -> (Running, reqwest::Client) {
        let server = Running {
            child: command.spawn().expect("start jiangcheng serve"),
            address: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let readyz = format!("{}/readyz", server.address);
        poll("/readyz 200", Duration::from_secs(20), || {
            let request = client.get(&readyz).send();
            async move { request.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        (server, client)
    }
}

pub async fn poll<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {limit:?}");
}

#[actix_web::test]
async fn serve_reloads_its_lists_on_sighup() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    let old = uscc("91", 1);
    let new = uscc("91", 2);
    write_jsonl(&lists, &[entry("H-1", "court_dishonest_debtor", &old)]);
    let port = free_port();
    let (server, client) = Running::until_ready(
        serve_command(&rules_dir(), &lists, port, Stdio::null()),
        port,
    )
    .await;
    let status_url = format!("{}/v1/status", server.address);
    let version = || {
        let request = client.get(&status_url).send();
        async move {
            match request.await {
                Ok(response) => response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|s| s["lists"]["version"].as_u64()),
                Err(_) => None,
            }
        }
    };
    assert_eq!(version().await, Some(1));
    let decide = |subject: String| decision_of(&client, &server.address, subject);
    assert_eq!(decide(new.clone()).await, "allow");

    write_jsonl(
        &lists,
        &[
            entry("H-1", "court_dishonest_debtor", &old),
            entry("H-2", "court_dishonest_debtor", &new),
        ],
    );
    let pid = server.child.id().to_string();
    let kill = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill -HUP");
    assert!(kill.success(), "kill -HUP {pid}");
    poll(
        "lists_version 2 after SIGHUP",
        Duration::from_secs(10),
        || {
            let v = version();
            async move { v.await == Some(2) }
        },
    )
    .await;
    assert_eq!(
        decide(new.clone()).await,
        "block",
        "the reloaded entry is in force"
    );

    // A broken list file on the next SIGHUP: the process keeps serving the last good snapshot.
    std::fs::write(&lists, "{\"entry_id\": \n").expect("write");
    let kill = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill -HUP");
    assert!(kill.success(), "kill -HUP {pid}");
    let failures = || {
        let request = client.get(&status_url).send();
        async move {
            match request.await {
                Ok(response) => response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|s| s["last_load"]["failures"].as_u64()),
                Err(_) => None,
            }
        }
    };
    poll(
        "a failed reload after SIGHUP",
        Duration::from_secs(10),
        || {
            let f = failures();
            async move { f.await == Some(1) }
        },
    )
    .await;
    assert_eq!(version().await, Some(2), "the last good lists keep serving");
    assert_eq!(decide(new).await, "block");
}

#[test]
fn serve_refuses_a_list_file_with_malformed_lines_naming_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("bad-lists.jsonl");
    let good = entry("X-1", "court_dishonest_debtor", &uscc("91", 1)).to_string();
    let unknown_list = entry("X-2", "no_such_list", &uscc("91", 2)).to_string();
    let bad_id = entry("X-4", "court_dishonest_debtor", "91230200MA1B2C3D8").to_string();
    std::fs::write(
        &lists,
        format!("{good}\n{unknown_list}\n{{not json\n{bad_id}\n"),
    )
    .expect("write");
    let (status, stderr) = refused_start(dir.path(), &lists, "with a malformed list file");
    assert!(
        !status.success(),
        "serve must exit non-zero; stderr:\n{stderr}"
    );
    for line in [2, 3, 4] {
        let location = format!("{}:{line}: ", lists.display());
        assert!(
            stderr.contains(&location),
            "stderr names {location}:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains(&format!("{}:1: ", lists.display())),
        "line 1 is fine:\n{stderr}"
    );
}

fn check(rules: &Path) -> Output {
    Command::new(BIN)
        .arg("check")
        .arg("--rules")
        .arg(rules)
        .env_remove("JC_RULES")
        .output()
        .expect("run jiangcheng check")
}

#[test]
fn check_accepts_the_shipped_rule_set_with_8_incentive_and_39_penalty_topics() {
    let output = check(&rules_dir());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "check failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("8 incentive and 39 penalty topics"),
        "{stdout}"
    );
    assert!(stdout.contains("47 lists"), "{stdout}");
}

/// Edits one rule-set file of a copy; returns the edited text.
fn edit(rules: &Path, file: &str, change: impl FnOnce(String) -> String) -> String {
    let path = rules.join(file);
    let text = change(std::fs::read_to_string(&path).expect("read"));
    std::fs::write(&path, &text).expect("write");
    text
}

/// The 1-based number of the only line of `text` equal to `line` (trimmed).
fn line_of(text: &str, line: &str) -> usize {
    let found: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == line)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(found.len(), 1, "`{line}` should occur exactly once");
    found[0]
}

/// `file:line: message` lines of `check`'s output, as (file name, line, message).
fn problem_lines(stderr: &str) -> Vec<(String, usize, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (location, message) = l.split_once(": ")?;
            let (file, line) = location.rsplit_once(':')?;
            let line: usize = line.parse().ok()?;
            let name = Path::new(file).file_name()?.to_string_lossy().into_owned();
            Some((name, line, message.to_owned()))
        })
        .collect()
}

fn new_measure(code: &str, category: u8, effect: &str, matters: &str) -> String {
    format!(
        "\n[[measure]]\ncode = \"{code}\"\nname = \"测试措施\"\ncategory = {category}\neffect = \"{effect}\"\n\
         legal_basis = \"《中华人民共和国政府采购法》第二十二条\"\ndepartment = \"测试部门\"\ntext = \"测试\"\nmatters = {matters}\n"
    )
}

/// A copy of the shipped rule set in a temp dir.
fn rules_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("broken");
    copy_rules(&rules);
    (dir, rules)
}

fn assert_problems(rules: &Path, expected: &[(&str, usize, &str)]) {
    let output = check(rules);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check must fail:\n{stderr}");
    let mut got = problem_lines(&stderr);
    got.sort();
    let mut want: Vec<(&str, usize, &str)> = expected.to_vec();
    want.sort();
    let located: Vec<(String, usize)> = got.iter().map(|(f, l, _)| (f.clone(), *l)).collect();
    let wanted: Vec<(String, usize)> = want.iter().map(|(f, l, _)| ((*f).to_owned(), *l)).collect();
    assert_eq!(
        located, wanted,
        "one `file:line: message` per problem; stderr:\n{stderr}"
    );
    for ((_, _, message), (_, _, needle)) in got.iter().zip(&want) {
        assert!(
            message.contains(needle),
            "`{message}` should mention `{needle}`; stderr:\n{stderr}"
        );
    }
    for (file, _, _) in &got {
        let full = rules.join(file).display().to_string();
        assert!(
            stderr.contains(&full),
            "problems name the file path {full}:\n{stderr}"
        );
    }
}

#[test]
fn check_prints_each_problem_of_a_broken_rule_set_once_at_its_file_and_line() {
    let (_dir, rules) = rules_copy();
    let measures = edit(&rules, "measures.toml", |text| {
        text + &new_measure(
            "broken_unknown_matter",
            1,
            "block",
            "[\"gov_procurement\", \"no_such_matter\"]",
        ) + &new_measure("broken_category", 2, "block", "[\"gov_procurement\"]")
            + &new_measure(
                "broken_basic_service",
                1,
                "block",
                "[\"basic_public_service\"]",
            )
    });
    let unknown_matter = line_of(
        &measures,
        "matters = [\"gov_procurement\", \"no_such_matter\"]",
    );
    let lines: Vec<&str> = measures.lines().collect();
    let category_block = line_of(&measures, "code = \"broken_category\"") + 3;
    assert_eq!(lines[category_block - 1], "effect = \"block\"");
    let basic = line_of(&measures, "matters = [\"basic_public_service\"]");
    let topics = edit(&rules, "topics.toml", |text| {
        text.replace(
            "measures = [\"rail_air_travel_ban\"]",
            "measures = [\"rail_air_travel_ban\", \"green_channel\"]",
        )
    });
    let reward = line_of(
        &topics,
        "measures = [\"rail_air_travel_ban\", \"green_channel\"]",
    );
    assert_problems(
        &rules,
        &[
            ("measures.toml", unknown_matter, "no_such_matter"),
            ("measures.toml", category_block, "category 1"),
            ("measures.toml", basic, "basic_public_service"),
            ("topics.toml", reward, "green_channel"),
        ],
    );
}

#[test]
fn check_refuses_a_court_order_that_blocks_outside_the_matters_it_binds() {
    let (_dir, rules) = rules_copy();
    edit(&rules, "measures.toml", |text| {
        let travel = "code = \"consumption_order_travel_check\"";
        let (before, after) = text
            .split_once(travel)
            .expect("the court-order travel measure");
        let after = after.replacen(
            "matters = [\"air_rail_ticket\"]",
            "matters = [\"air_rail_ticket\", \"gov_procurement\"]",
            1,
        );
        format!("{before}{travel}{after}")
    });
    let topics = std::fs::read_to_string(rules.join("topics.toml")).expect("read");
    let measures = line_of(
        &topics,
        "\"consumption_order_travel_check\", \"consumption_order_high_check\", \"credit_loan_reference\",",
    );
    assert_problems(
        &rules,
        &[(
            "topics.toml",
            measures,
            "matter `gov_procurement`, which court-order list `court_consumption_restricted` does not bind",
        )],
    );
}

#[test]
fn check_prints_a_duplicate_list_code_once_with_the_other_problems() {
    let (_dir, rules) = rules_copy();
    let lists = edit(&rules, "lists.toml", |text| {
        text + "\n[[list]]\ncode = \"tax_a_grade\"\nname = \"重复\"\nkind = \"red\"\nserious = false\nbody = \"税务部门\"\nsubjects = \"organizations\"\n"
    });
    let duplicate = lists
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "code = \"tax_a_grade\"")
        .map(|(i, _)| i + 1)
        .last();
    let measures = edit(&rules, "measures.toml", |text| {
        text + &new_measure("broken_unknown_matter", 1, "block", "[\"no_such_matter\"]")
            + &new_measure("broken_category", 2, "block", "[\"gov_procurement\"]")
            + &new_measure(
                "broken_basic_service",
                1,
                "block",
                "[\"basic_public_service\"]",
            )
    });
    let unknown_matter = line_of(&measures, "matters = [\"no_such_matter\"]");
    let category_block = line_of(&measures, "code = \"broken_category\"") + 3;
    let basic = line_of(&measures, "matters = [\"basic_public_service\"]");
    let topics = edit(&rules, "topics.toml", |text| {
        text.replace(
            "measures = [\"rail_air_travel_ban\"]",
            "measures = [\"rail_air_travel_ban\", \"green_channel\"]",
        )
    });
    let reward = line_of(
        &topics,
        "measures = [\"rail_air_travel_ban\", \"green_channel\"]",
    );
    assert_problems(
        &rules,
        &[
            ("lists.toml", duplicate.expect("the duplicate"), "duplicate"),
            ("measures.toml", unknown_matter, "no_such_matter"),
            ("measures.toml", category_block, "category 1"),
            ("measures.toml", basic, "basic_public_service"),
            ("topics.toml", reward, "green_channel"),
        ],
    );
}

#[actix_web::test]
async fn serve_configured_by_environment_never_logs_a_resident_id_in_full_even_at_debug_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    let company = uscc("91", 1);
    let person = crate::helpers::rid(11);
    write_jsonl(
        &lists,
        &[crate::helpers::entry_with(
            "L-1",
            "court_dishonest_debtor",
            &company,
            serde_json::json!({"responsible_persons": [{"role": "legal_rep", "id": person}]}),
        )],
    );
    let stderr_path = dir.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let port = free_port();
    // Configured through the environment only (docs/operations.md, Configuration: every flag has a variable).
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("JC_LISTEN", format!("127.0.0.1:{port}"))
        .env("JC_RULES", rules_dir())
        .env("JC_LISTS", &lists)
        .env("JC_WORKERS", "1")
        .env("JC_LOG", "debug")
        // The register's folder under its old variable, which is still read (with a warning).
        .env("JC_AUDIT_DIR", dir.path().join("audit"))
        .env("NO_COLOR", "1")
        .env_remove("JC_CONFIG")
        .env_remove("JC_REGISTER")
        .env_remove("JC_REGISTER_DIR")
        .env_remove("JC_AUDIT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr));
    let (server, client) = Running::until_ready(command, port).await;
    let (wrong_check, _) = crate::helpers::rid_with_wrong_check(12);
    for (matter, id) in [
        ("high_consumption", person.as_str()),
        ("gov_procurement", person.as_str()),
        ("gov_procurement", wrong_check.as_str()),
        ("no_such_matter", person.as_str()),
    ] {
        let body = serde_json::json!({"subject": {"id": id}, "matter": matter, "as_of": AS_OF});
        let url = format!("{}/v1/decide", server.address);
        client.post(url).json(&body).send().await.expect("decide");
    }
    let batch = serde_json::json!({"matter": "high_consumption", "subjects": [{"id": person}, {"id": wrong_check}]});
    let url = format!("{}/v1/decide/batch", server.address);
    client.post(url).json(&batch).send().await.expect("batch");
    for path in [
        format!("/v1/subjects/{person}"),
        format!("/v1/subjects/{wrong_check}"),
    ] {
        let url = format!("{}{path}", server.address);
        client.get(url).send().await.expect("profile");
    }
    // A graceful stop: the register stores what it still holds before the process ends.
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(terminated.success());
    let mut server = server;
    assert!(
        wait_exit(&mut server.child, Duration::from_secs(20)).is_some(),
        "serve stops on SIGTERM"
    );
    drop(server);
    let logs = std::fs::read_to_string(&stderr_path).expect("stderr");
    let register = register_text(&dir.path().join("audit/records"));
    let masked = format!("{}********{}", &person[..6], &person[14..]);
    assert!(
        register.contains(&masked) && register.contains("\"profile_read\""),
        "the register holds the decisions and profile reads, the person masked:\n{register}"
    );
    for id in [&person, &wrong_check] {
        assert!(
            !register.contains(id.as_str()),
            "the register holds the resident ID {id} in full:\n{register}"
        );
    }
    // Whoever holds the key finds the person's records by its hash (`--audit-dir` is the old
    // name of `--register-dir`, kept as an alias).
    let hashed = Command::new(BIN)
        .args(["register", "hash", &person, "--audit-dir"])
        .arg(dir.path().join("audit"))
        .env_remove("JC_REGISTER_KEY_FILE")
        .env_remove("JC_AUDIT_KEY_FILE")
        .output()
        .expect("register hash");
    assert!(hashed.status.success(), "{hashed:?}");
    let hash = String::from_utf8(hashed.stdout).expect("UTF-8");
    let hash = hash.trim();
    assert_eq!(hash.len(), 32, "{hash}");
    let records_of_person = register
        .lines()
        .filter(|line| line.contains(&format!("\"hash\":\"{hash}\"")))
        .count();
    assert!(
        records_of_person >= 2,
        "the person's decisions and profile read carry its hash {hash}:\n{register}"
    );
    assert!(
        logs.contains("loaded"),
        "the server logged its start:\n{logs}"
    );
    assert!(
        logs.contains("NO API KEYS CONFIGURED"),
        "a server without keys says it runs open:\n{logs}"
    );
    assert!(
        logs.contains("JC_AUDIT_DIR is read in place of JC_REGISTER_DIR"),
        "the old variable's name is warned about:\n{logs}"
    );
    for id in [&person, &wrong_check] {
        assert!(
            !logs.contains(id.as_str()),
            "the log holds the resident ID {id} in full:\n{logs}"
        );
    }
}

#[test]
fn check_with_lists_names_each_bad_line_of_the_list_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    let good = entry("C-1", "court_dishonest_debtor", &uscc("91", 1)).to_string();
    let wrong_scope = entry("C-2", "model_volunteer", &uscc("91", 2)).to_string();
    std::fs::write(&lists, format!("{good}\n\n{wrong_scope}\n{{\n")).expect("write");
    let output = Command::new(BIN)
        .arg("check")
        .arg("--rules")
        .arg(rules_dir())
        .arg("--lists")
        .arg(&lists)
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check must fail:\n{stderr}");
    for line in [3, 4] {
        let location = format!("{}:{line}: ", lists.display());
        assert!(stderr.contains(&location), "names {location}:\n{stderr}");
    }
    assert_eq!(
        problem_lines(&stderr).len(),
        2,
        "one line per bad line:\n{stderr}"
    );

    std::fs::write(&lists, format!("{good}\n")).expect("write");
    let output = Command::new(BIN)
        .arg("check")
        .arg("--rules")
        .arg(rules_dir())
        .arg("--lists")
        .arg(&lists)
        .output()
        .expect("run check");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 entries"));
}

#[test]
fn check_names_the_line_of_an_unknown_key() {
    let (_dir, rules) = rules_copy();
    let matters = edit(&rules, "matters.toml", |text| {
        text.replacen(
            "code = \"franchise\"\n",
            "code = \"franchise\"\ncolour = \"red\"\n",
            1,
        )
    });
    let line = line_of(&matters, "colour = \"red\"");
    assert_problems(&rules, &[("matters.toml", line, "colour")]);
}

#[test]
fn gen_writes_a_population_that_check_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("gen.jsonl");
    let status = Command::new(BIN)
        .args([
            "gen",
            "--subjects",
            "500",
            "--listed-ratio",
            "0.6",
            "--seed",
            "3",
            "--rules",
        ])
        .arg(rules_dir())
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run gen");
    assert!(status.success());
    let lines = std::fs::read_to_string(&out)
        .expect("gen output")
        .lines()
        .count();
    assert!(
        lines >= 250,
        "about 300 listed subjects, got {lines} entries"
    );
    let output = Command::new(BIN)
        .arg("check")
        .arg("--rules")
        .arg(rules_dir())
        .arg("--lists")
        .arg(&out)
        .output()
        .expect("run check");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("ok: {lines} entries")));
}

#[test]
fn a_list_file_whose_text_cannot_be_stored_is_refused_naming_tmpdir() {
    let output = Command::new(BIN)
        .arg("check")
        .arg("--rules")
        .arg(rules_dir())
        .arg("--lists")
        .arg(rules_dir().join("demo-lists.jsonl"))
        .env_remove("JC_RULES")
        .env("TMPDIR", "/nonexistent/jiangcheng-tmp")
        .output()
        .expect("run jiangcheng check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check must fail:\n{stderr}");
    assert!(
        stderr.contains("TMPDIR needs room for a copy of the list file"),
        "{stderr}"
    );
}

#[test]
fn check_writes_a_list_snapshot_that_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("demo.snap");
    let run = |lists: &Path, write: Option<&Path>| {
        let mut command = Command::new(BIN);
        command
            .arg("check")
            .arg("--rules")
            .arg(rules_dir())
            .arg("--lists")
            .arg(lists)
            .env_remove("JC_RULES");
        if let Some(out) = write {
            command.arg("--write-snapshot").arg(out);
        }
        command.output().expect("run jiangcheng check")
    };
    let written = run(&rules_dir().join("demo-lists.jsonl"), Some(&snapshot));
    let stdout = String::from_utf8_lossy(&written.stdout);
    assert!(written.status.success(), "{stdout}");
    assert!(stdout.contains("wrote the list snapshot"), "{stdout}");
    let read = run(&snapshot, None);
    let again = String::from_utf8_lossy(&read.stdout);
    assert!(read.status.success(), "{again}");
    let counts = |text: &str| {
        text.lines()
            .find(|l| l.contains("entries for"))
            .map(|l| l.split(" in ").next().unwrap_or_default().to_owned())
    };
    assert_eq!(counts(&stdout), counts(&again), "{stdout}\n{again}");
}

/// `serve` restarts itself once, in the same process, with glibc's malloc tunables; an
/// operator's own `GLIBC_TUNABLES` is left as it is.
#[actix_web::test]
async fn serve_runs_with_the_malloc_tunables_unless_the_environment_sets_its_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    write_jsonl(
        &lists,
        &[entry("H-1", "court_dishonest_debtor", &uscc("91", 1))],
    );
    for (preset, expected, restarted) in [
        (None, "glibc.malloc.hugetlb=1", true),
        (
            Some("glibc.malloc.tcache_count=7"),
            "glibc.malloc.tcache_count=7",
            false,
        ),
    ] {
        let port = free_port();
        let mut command = serve_command(&rules_dir(), &lists, port, Stdio::null());
        command.env_remove("JC_MALLOC_TUNED");
        match preset {
            Some(value) => command.env("GLIBC_TUNABLES", value),
            None => command.env_remove("GLIBC_TUNABLES"),
        };
        let (server, _client) = Running::until_ready(command, port).await;
        let environ = std::fs::read(format!("/proc/{}/environ", server.child.id()))
            .expect("the server's environment");
        let vars: Vec<String> = environ
            .split(|&b| b == 0)
            .map(|var| String::from_utf8_lossy(var).into_owned())
            .collect();
        let tunables = vars
            .iter()
            .find_map(|var| var.strip_prefix("GLIBC_TUNABLES="))
            .unwrap_or_else(|| panic!("no GLIBC_TUNABLES with {preset:?}"));
        // glibc rewrites the variable in place as it reads it; the first tunable stays.
        assert!(
            tunables.starts_with(expected),
            "{preset:?}: GLIBC_TUNABLES={tunables}"
        );
        assert_eq!(
            vars.iter().any(|var| var == "JC_MALLOC_TUNED=1"),
            restarted,
            "{preset:?}"
        );
    }
}

/// `keys new` prints a key once and the table for the keys file; `serve --keys` then admits
/// that key (a replay too, with the `replay` scope), refuses a request without one or with a
/// wrong secret, logs those refusals at WARN with the key's id within its budget of lines, and
/// never writes a key or a secret to its log.
#[actix_web::test]
async fn a_key_made_by_keys_new_is_admitted_by_serve_refusals_are_logged_and_no_key_is() {
    let made = Command::new(BIN)
        .args([
            "keys",
            "new",
            "--department",
            "市公共资源交易中心",
            "--scopes",
            "decide,read_subject,replay",
        ])
        .output()
        .expect("run keys new");
    assert!(made.status.success(), "{made:?}");
    let stdout = String::from_utf8(made.stdout).expect("utf-8");
    let (token, config) = stdout.split_once('\n').expect("the key, then the table");
    assert!(token.starts_with("jc_"), "{token}");
    assert!(
        config.contains("[[key]]") && !config.contains(token),
        "{config}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let keys = dir.path().join("keys.toml");
    std::fs::write(&keys, config).expect("keys file");
    let lists = dir.path().join("lists.jsonl");
    let company = uscc("91", 1);
    write_jsonl(&lists, &[entry("H-1", "court_dishonest_debtor", &company)]);
    let stderr_path = dir.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let port = free_port();
    let mut command = serve_command(&rules_dir(), &lists, port, Stdio::from(stderr));
    command
        .arg("--keys")
        .arg(&keys)
        .args(["--auth-warnings-per-minute", "2"])
        .env("JC_LOG", "debug");
    let (server, client) = Running::until_ready(command, port).await;
    let decide = |key: Option<&str>| {
        let mut request = client
            .post(format!("{}/v1/decide", server.address))
            .json(&serde_json::json!({"subject": {"id": company}, "matter": "gov_procurement", "as_of": AS_OF}));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(decide(None).await.expect("decide").status(), 401);
    assert_eq!(decide(Some(token)).await.expect("decide").status(), 200);
    let id = token.split('_').nth(1).expect("an id");
    let wrong_secret = format!("jc_{id}_{}", "0".repeat(64));
    for _ in 0..4 {
        let refused = decide(Some(&wrong_secret)).await.expect("decide");
        assert_eq!(refused.status(), 401);
    }
    let metrics = server.metrics(&client).await;
    for counted in [
        r#"jiangcheng_auth_refusals_total{reason="missing"} 1"#,
        r#"jiangcheng_auth_refusals_total{reason="unknown"} 4"#,
    ] {
        assert!(metrics.contains(counted), "{counted} in {metrics}");
    }
    drop(server);
    let logs = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert!(logs.contains("API keys required"), "{logs}");
    assert!(!logs.contains(token), "the key was logged");
    assert!(!logs.contains(&wrong_secret[12..]), "a secret was logged");
    let refusals: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("API key refused"))
        .collect();
    assert_eq!(refusals.len(), 2, "two lines a minute: {logs}");
    assert!(refusals.iter().all(|line| line.contains("WARN")), "{logs}");
    assert!(refusals[0].contains(r#"reason="missing""#), "{logs}");
    assert!(
        refusals[1].contains(r#"reason="unknown""#) && refusals[1].contains(id),
        "the refused key is named by its id: {logs}"
    );
}

/// The server's JSON log lines (`JC_LOG_FORMAT=json`).
pub fn json_logs(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("the server's log")
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The first log line with this message; panics naming the log if there is none.
pub fn logged<'a>(logs: &'a [serde_json::Value], message: &str) -> &'a serde_json::Value {
    logs.iter()
        .find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.contains(message))
        })
        .unwrap_or_else(|| panic!("no `{message}` in the log: {logs:#?}"))
}

pub fn signal(server: &Running, name: &str) {
    let pid = server.child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("kill");
    assert!(sent.success(), "kill -{name} {pid}");
}

#[actix_web::test]
async fn serve_refuses_an_emptied_list_file_on_sighup_and_takes_it_on_sigusr1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lists = dir.path().join("lists.jsonl");
    let listed = uscc("91", 1);
    write_jsonl(
        &lists,
        &[
            entry("F-1", "court_dishonest_debtor", &listed),
            entry("F-2", "tax_d_grade", &uscc("91", 2)),
        ],
    );
    let log = dir.path().join("log.jsonl");
    let port = free_port();
    let mut command = serve_command(
        &rules_dir(),
        &lists,
        port,
        Stdio::from(std::fs::File::create(&log).expect("log file")),
    );
    command.env("JC_LOG_FORMAT", "json");
    let (server, client) = Running::until_ready(command, port).await;
    let status = || {
        let request = client.get(format!("{}/v1/status", server.address)).send();
        async move {
            match request.await {
                Ok(response) => response.json::<serde_json::Value>().await.ok(),
                Err(_) => None,
            }
        }
    };
    let decide = || decision_of(&client, &server.address, listed.clone());

    // The list file emptied, as a failed copy leaves it.
    std::fs::write(&lists, "").expect("empty the list file");
    signal(&server, "HUP");
    poll("a refusal after SIGHUP", Duration::from_secs(10), || {
        let s = status();
        async move { s.await.is_some_and(|s| s["last_load"]["refusals"] == 1) }
    })
    .await;
    let refused = status().await.expect("status");
    assert_eq!(refused["lists"]["entries"], 2, "{refused}");
    assert!(
        refused["last_load"]["last_refusal"]["reason"]
            .as_str()
            .is_some_and(
                // The path is shown to admin keys only; the status names the source instead.
                |r| r.contains("<lists>") && r.contains("no entries at all")
            ),
        "{refused}"
    );
    assert_eq!(decide().await, "block", "the listed subject stays blocked");

    // The operator means it.
    signal(&server, "USR1");
    poll(
        "the forced load after SIGUSR1",
        Duration::from_secs(10),
        || {
            let s = status();
            async move { s.await.is_some_and(|s| s["lists"]["entries"] == 0) }
        },
    )
    .await;
    assert_eq!(decide().await, "allow");
    drop(server);

    let logs = json_logs(&log);
    let refusal = logged(&logs, "list load refused");
    assert_eq!(refusal["level"], "ERROR", "{refusal}");
    assert!(
        refusal["refusal"]
            .as_str()
            .is_some_and(|r| r.contains("no entries at all")),
        "{refusal}"
    );
    let forced = logged(&logs, "forced");
    assert_eq!(forced["level"], "WARN", "{forced}");
    assert!(
        forced["shrink"]
            .as_str()
            .is_some_and(|s| s.contains("list `court_dishonest_debtor` 1 → 0")),
        "the forced load names what it removed: {forced}"
    );
}

#[actix_web::test]
async fn serve_refuses_to_start_on_an_empty_list_snapshot_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("lists.snap");
    std::fs::write(&snapshot, "").expect("a 0-byte list snapshot");
    let (status, stderr) = refused_start(dir.path(), &snapshot, "on an empty list snapshot");
    assert!(!status.success(), "serve must exit non-zero:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "the list load from {} refused (fail-closed): it would leave no entries at all",
            snapshot.display()
        )),
        "{stderr}"
    );

    // Started with no entries on purpose.
    let port = free_port();
    let mut command = serve_command(&rules_dir(), &snapshot, port, Stdio::null());
    command.arg("--force-next-load");
    let (server, client) = Running::until_ready(command, port).await;
    let status: serde_json::Value = client
        .get(format!("{}/v1/status", server.address))
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["lists"]["entries"], 0, "{status}");
}

/// `SIGTERM` while the list source's Redis (which also holds the register) is frozen: the
/// follower, a pending admin write and the register's last store each give up within their
/// Redis timeouts, so the process exits within its grace period, and the decision made during
/// the freeze is kept (stored, or spilled to the local file to be replayed).
#[actix_web::test]
async fn serve_exits_on_sigterm_within_its_grace_period_while_redis_is_frozen() {
    let redis = crate::redis::RedisServer::start();
    assert!(crate::redis::import(&redis, &crate::helpers::demo_lists())
        .status
        .success());
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut command = serve_command(&rules_dir(), Path::new(&redis.url()), port, Stdio::null());
    command
        .env("JC_REGISTER", "auto")
        .env("JC_REGISTER_DIR", dir.path().join("audit"));
    let (mut server, client) = Running::until_ready(command, port).await;
    let decide = || {
        let body = serde_json::json!({"subject": {"id": "91230200MA1B2C3D8T"}, "matter": "gov_procurement", "as_of": AS_OF});
        client
            .post(format!("{}/v1/decide", server.address))
            .json(&body)
            .send()
    };
    assert_eq!(decide().await.expect("decide").status(), 200);

    let frozen = crate::follow::Frozen::new(&redis);
    let during: serde_json::Value = decide()
        .await
        .expect("decide with redis frozen")
        .json()
        .await
        .expect("JSON");
    assert_eq!(during["decision"], "block", "{during}");
    let decision_id = during["decision_id"]
        .as_str()
        .expect("decision_id")
        .to_owned();
    // An admin write in flight when the stop comes.
    let write = client
        .put(format!(
            "{}/v1/lists/court_dishonest_debtor/entries/P-1",
            server.address
        ))
        .json(&serde_json::json!({"subject_id": uscc("91", 3), "listed_on": "2026-01-01"}))
        .send();
    let write = actix_web::rt::spawn(write);
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(terminated.success());
    // The HTTP grace period is 10 s; Redis stays frozen the whole time.
    let exited = wait_exit(&mut server.child, Duration::from_secs(15));
    let took = started.elapsed();
    assert!(
        exited.is_some(),
        "serve did not exit within 15 s of SIGTERM with redis frozen"
    );
    eprintln!("serve exited {took:?} after SIGTERM with redis frozen");
    if let Ok(Ok(response)) = write.await {
        assert_ne!(
            response.status(),
            200,
            "a write redis never answered was acknowledged"
        );
    }
    drop(frozen);

    // The spill file, or the one a replay had taken up when the process stopped.
    let spill: String = ["spill.jsonl", "spill.replaying.jsonl"]
        .iter()
        .filter_map(|name| std::fs::read_to_string(dir.path().join("audit").join(name)).ok())
        .collect();
    let stored: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("{}records", jiangcheng::register::DEFAULT_PREFIX))
        .arg("-")
        .arg("+")
        .query(&mut redis.connection())
        .expect("XRANGE");
    let stored = format!("{stored:?}");
    assert!(
        spill.contains(&decision_id) || stored.contains(&decision_id),
        "the decision made while redis was frozen is neither stored nor spilled"
    );
}

/// The decision (`allow`, `flag`, `block`) the server at `address` gives `subject` for
/// `gov_procurement` at [`AS_OF`].
pub fn decision_of(
    client: &reqwest::Client,
    address: &str,
    subject: String,
) -> impl std::future::Future<Output = serde_json::Value> {
    let body = serde_json::json!({"subject": {"id": subject}, "matter": "gov_procurement", "as_of": AS_OF});
    let request = client
        .post(format!("{address}/v1/decide"))
        .json(&body)
        .send();
    async move {
        request
            .await
            .expect("decide")
            .json::<serde_json::Value>()
            .await
            .expect("JSON")["decision"]
            .clone()
    }
}

#[actix_web::test]
async fn serve_writes_no_colour_codes_into_a_log_that_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let port = free_port();
    let mut command = serve_command(
        &rules_dir(),
        &rules_dir().join("demo-lists.jsonl"),
        port,
        Stdio::from(log),
    );
    command.env_remove("NO_COLOR");
    let (server, _client) = Running::until_ready(command, port).await;
    drop(server);
    let text = std::fs::read_to_string(&log_path).expect("read log");
    assert!(text.contains("loaded"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file:\n{text}"
    );
}
