//! The harness end to end: the real jiangcheng server (shipped rule set, demo lists, the bare
//! endpoint mounted) on a loopback port, and the real `jiangcheng-load` binary against it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, with the message saying what was expected"
)]

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::web;
use jiangcheng::app::Service;
use jiangcheng::http::{AppState, Limits};
use jiangcheng::lists::source::{ColdCacheConfig, ListSource};
use jiangcheng::snapshot::{Snapshots, Sources};
use serde_json::Value;

/// Held by each test for its whole run. The runs keep schedules to the millisecond and judge the
/// generator by them; on two cores, another test's server and generator running at the same
/// time made `find-max` report its own generator as late.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    // A test that failed while holding it poisons it; the next test may still run.
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts the server on its own thread and returns its address.
fn start_server() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let sources = Sources {
        rules: root.join("rulesets/qiqihar").into(),
        lists: ListSource::File(root.join("rulesets/qiqihar/demo-lists.jsonl")),
    };
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let service = Service::new(Snapshots::new(sources), ColdCacheConfig::default());
            service
                .reload()
                .expect("the shipped rule set and demo lists load");
            let state = web::Data::new(AppState::new(Arc::new(service), Limits::default()));
            jiangcheng::http::server(listener, state, 1, true)
                .expect("server")
                .await
                .expect("server ran");
        });
    });
    address
}

/// Where the harness writes its terminal output.
#[derive(Clone, Copy)]
enum Output {
    /// Into pipes, as the other tests read it.
    Piped,
    /// Onto a pseudo-terminal (util-linux `script`), as an SRE at a shell sees it: standard
    /// error is a terminal, so the harness prints its progress line.
    Terminal,
}

/// Runs `jiangcheng-load <command>` on a scenario with `extra` arguments; returns the JSON
/// report and the terminal output, after checking that the HTML report is whole.
fn run_scenario(command: &str, scenario: &str, extra: &[&str]) -> (Value, String) {
    run_scenario_on(Output::Piped, command, scenario, extra)
}

/// `run_scenario` with the terminal output going to `output` (on a terminal, standard error
/// comes back mixed into the returned output).
fn run_scenario_on(
    output: Output,
    command: &str,
    scenario: &str,
    extra: &[&str],
) -> (Value, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, scenario).expect("write the scenario");
    let out = dir.path().join("report");
    let mut args: Vec<String> = vec![
        env!("CARGO_BIN_EXE_jiangcheng-load").to_owned(),
        command.to_owned(),
        "--scenario".to_owned(),
        path.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|&a| a.to_owned()));
    let mut harness = match output {
        Output::Piped => {
            let mut harness = Command::new(&args[0]);
            harness.args(&args[1..]);
            harness
        }
        Output::Terminal => {
            let line: Vec<String> = args.iter().map(|a| shell_quoted(a)).collect();
            let mut script = Command::new("script");
            // -e: exit with the harness's status; the typescript itself is not kept.
            script.args(["-qec", &line.join(" "), "/dev/null"]);
            script
        }
    };
    let result = harness.output().expect("run jiangcheng-load");
    let stdout = String::from_utf8_lossy(&result.stdout).into_owned();
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let json = std::fs::read(out.with_extension("json")).expect("the JSON report");
    let html = std::fs::read_to_string(out.with_extension("html")).expect("the HTML report");
    assert!(
        html.contains("<svg") && html.ends_with("</html>\n"),
        "{html}"
    );
    assert!(!html.contains("<script"), "the report is self-contained");
    (serde_json::from_slice(&json).expect("JSON"), stdout)
}

/// `text` as one word for `sh -c`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

const MIX: &str = r#"
[population]
invalid_ratio = 0.1

[[matter]]
code = "gov_procurement"

[[request]]
kind = "decide"
weight = 6

[[request]]
kind = "batch"
size = 50
weight = 1

[[request]]
kind = "profile"
weight = 2

[[request]]
kind = "bare"
weight = 1
"#;

#[test]
fn an_open_model_run_sends_on_schedule_and_reports_every_kind() {
    let _serial = one_at_a_time();
    let target = start_server();
    let scenario = format!(
        "name = \"open\"\ntarget = \"{target}\"\nconnections = 4\n{MIX}\n\
             [load]\nmodel = \"open\"\n\
             [[load.stage]]\nrate = 100\nseconds = 1\n\
             [[load.stage]]\nrate = 300\nseconds = 1\nramp = true\n"
    );
    let (report, stdout) = run_scenario("run", &scenario, &[]);
    let run = &report["runs"][0];
    let counts = &run["counts"];
    // 100 in the first second and (100 + 300) / 2 in the ramp.
    assert_eq!(counts["scheduled"], 300, "{counts}");
    assert_eq!(counts["completed"], 300, "{counts}");
    assert_eq!(counts["unexpected_status"], 0, "{counts}");
    assert_eq!(counts["transport_errors"], 0, "{counts}");
    assert!(counts["expected_rejections"].as_u64() > Some(0), "{counts}");
    for kind in ["decide", "batch", "profile", "bare"] {
        assert!(
            run["by_kind"][kind]["count"].as_u64() > Some(0),
            "{kind}: {run}"
        );
    }
    let latency = &run["latency"];
    assert!(latency["p50"].as_u64() <= latency["p99"].as_u64());
    assert!(latency["p99"].as_u64() <= latency["max"].as_u64());
    assert!(run["intervals"].as_array().map_or(0, Vec::len) >= 2);
    assert!(stdout.contains("p99.99"), "{stdout}");
}

#[test]
fn a_closed_model_run_is_bounded_by_its_request_count() {
    let _serial = one_at_a_time();
    let target = start_server();
    let scenario = format!(
        "name = \"closed\"\ntarget = \"{target}\"\nconnections = 3\nmax_requests = 500\n{MIX}\n\
             [load]\nmodel = \"closed\"\nseconds = 60\n"
    );
    let (report, _) = run_scenario("run", &scenario, &[]);
    assert_eq!(report["runs"][0]["counts"]["completed"], 500);
    assert!(report["runs"][0]["seconds"].as_f64() < Some(60.0));
}

#[test]
fn find_max_climbs_until_the_limit_and_names_why_it_stopped() {
    let _serial = one_at_a_time();
    let target = start_server();
    let scenario = format!(
        "name = \"max\"\ntarget = \"{target}\"\nconnections = 4\n{MIX}\n\
             [load]\nmodel = \"open\"\n[[load.stage]]\nrate = 1\nseconds = 1\n\
             [slo]\np99_ms = 1000\n"
    );
    // A stall of this shared machine can make the generator miss its schedule at a step, and
    // find-max then rightly stops there, saying so. That is the generator's verdict on this
    // machine, not a fault of find-max: such a run is repeated, up to three times in all.
    let mut attempts = 0;
    let (report, stdout) = loop {
        attempts += 1;
        let (report, stdout) = run_scenario(
            "find-max",
            &scenario,
            &[
                "--start",
                "50",
                "--factor",
                "2",
                "--step-seconds",
                "0.5",
                "--max-rate",
                "200",
            ],
        );
        let generator_late = report["find_max"]["stopped_because"]
            .as_str()
            .is_some_and(|s| s.contains("the generator could not keep up"));
        if !generator_late || attempts == 3 {
            break (report, stdout);
        }
    };
    let find_max = &report["find_max"];
    assert_eq!(find_max["highest_sustainable_rate"], 200.0, "{find_max}");
    assert!(
        find_max["stopped_because"]
            .as_str()
            .is_some_and(|s| s.contains("--max-rate")),
        "{find_max}"
    );
    let offered: Vec<f64> = report["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter_map(|r| r["offered_rate"].as_f64())
        .collect();
    assert_eq!(offered, [50.0, 100.0, 200.0]);
    assert!(stdout.contains("highest sustainable rate"), "{stdout}");
}

#[test]
fn a_remote_target_is_refused_unless_allowed() {
    let _serial = one_at_a_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = dir.path().join("remote.toml");
    std::fs::write(
        &scenario,
        format!(
            "target = \"http://192.0.2.1:8080\"\n{MIX}\n[load]\nmodel = \"closed\"\nseconds = 1\n"
        ),
    )
    .expect("write the scenario");
    let result = Command::new(env!("CARGO_BIN_EXE_jiangcheng-load"))
        .arg("run")
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .expect("run");
    assert!(!result.status.success());
    assert!(String::from_utf8_lossy(&result.stderr).contains("--allow-remote"));
}

/// On a terminal the harness prints a progress line every second; the run and find-max still
/// end with their report (the progress task used to keep the run's recorder alive).
#[test]
fn run_and_find_max_on_a_terminal_end_with_their_report() {
    let _serial = one_at_a_time();
    let target = start_server();
    let scenario = format!(
        "name = \"terminal\"\ntarget = \"{target}\"\nconnections = 2\n{MIX}\n\
             [load]\nmodel = \"open\"\n[[load.stage]]\nrate = 50\nseconds = 2\n\
             [slo]\np99_ms = 1000\n"
    );
    let (report, output) = run_scenario_on(Output::Terminal, "run", &scenario, &[]);
    assert_eq!(report["runs"][0]["counts"]["scheduled"], 100, "{report}");
    assert!(output.contains("reports: "), "{output}");

    let (report, output) = run_scenario_on(
        Output::Terminal,
        "find-max",
        &scenario,
        &["--start", "50", "--step-seconds", "1.5", "--max-rate", "50"],
    );
    assert!(
        report["find_max"]["stopped_because"].is_string(),
        "{report}"
    );
    assert!(output.contains("reports: "), "{output}");
}

#[test]
fn repeated_targets_share_the_load_by_connection_and_are_reported_apart() {
    let _serial = one_at_a_time();
    let (first, second) = (start_server(), start_server());
    let scenario = format!(
        "name = \"two instances\"\nconnections = 4\nmax_requests = 400\n{MIX}\n\
             [load]\nmodel = \"closed\"\nseconds = 60\n"
    );
    let (report, stdout) =
        run_scenario("run", &scenario, &["--target", &first, "--target", &second]);
    let run = &report["runs"][0];
    assert_eq!(run["counts"]["completed"], 400, "{run}");
    let answered: u64 = [&first, &second]
        .iter()
        .map(|url| {
            let count = run["by_target"][url.as_str()]["count"]
                .as_u64()
                .unwrap_or(0);
            assert!(count > 0, "{url} got nothing: {run}");
            count
        })
        .sum();
    assert_eq!(Some(answered), run["latency"]["count"].as_u64(), "{run}");
    assert!(stdout.contains(&format!("{first}: ")), "{stdout}");
}
