//! Keys on a running service (docs/operations.md, Runbook): `keys revoke` edits the keys file,
//! `SIGHUP` reloads it without a restart, and a keys file that does not read keeps the keys in
//! use.

use std::time::Duration;

use jiangcheng::keys::{new_key, Scope};

use crate::anywhere::{command_in, serve_in, stop};
use crate::process::{free_port, json_logs, logged, poll, signal, Running};

/// The status of `GET /v1/matters` with `token`.
async fn status_with(client: &reqwest::Client, address: &str, token: &str) -> u16 {
    client
        .get(format!("{address}/v1/matters"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /v1/matters")
        .status()
        .as_u16()
}

/// The value of `series` in `/metrics`.
async fn metric(server: &Running, client: &reqwest::Client, series: &str) -> Option<f64> {
    let text = server.metrics(client).await;
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn a_key_revoked_through_the_cli_is_refused_after_sighup_and_another_key_still_works() {
    let work = tempfile::tempdir().unwrap();
    let (kept, revoked) = (
        new_key("市场监管局", &[Scope::Decide], None),
        new_key("财政局", &[Scope::Decide], None),
    );
    let keys = work.path().join("keys.toml");
    let text = format!("# the platform's keys\n{}\n{}", kept.config, revoked.config);
    std::fs::write(&keys, text).unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let port = free_port();
    let mut command = serve_in(work.path(), port, log.path());
    command.arg("--keys").arg(&keys);
    let (server, client) = Running::until_ready(command, port).await;
    let address = server.address.clone();
    assert_eq!(status_with(&client, &address, &revoked.token).await, 200);

    let id = &revoked.token[3..11];
    let output = command_in(work.path(), &["keys", "revoke", id, "--keys"])
        .arg(&keys)
        .output()
        .expect("keys revoke");
    assert!(output.status.success(), "{output:?}");
    let listed = command_in(work.path(), &["keys", "list", "--keys"])
        .arg(&keys)
        .output()
        .expect("keys list");
    let listed = String::from_utf8(listed.stdout).unwrap();
    let line = listed
        .lines()
        .find(|l| l.starts_with(id))
        .expect("the key listed");
    assert!(
        line.contains("\t财政局\tdecide\tnone\trevoked\t"),
        "{listed}"
    );
    // Until the service reloads, the key it holds still works.
    assert_eq!(status_with(&client, &address, &revoked.token).await, 200);

    signal(&server, "HUP");
    poll("the keys reloaded", Duration::from_secs(10), || {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        async move { text.contains("keys reloaded") }
    })
    .await;
    assert_eq!(status_with(&client, &address, &revoked.token).await, 401);
    assert_eq!(status_with(&client, &address, &kept.token).await, 200);
    let reloads = r#"jiangcheng_key_reloads_total{result="success"}"#;
    assert_eq!(metric(&server, &client, reloads).await, Some(1.0));

    // A keys file that does not read: the keys in use stay, and the failure is counted.
    std::fs::write(&keys, "[[key]]\nid = \n").unwrap();
    signal(&server, "HUP");
    poll("the failed keys reload", Duration::from_secs(10), || {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        async move { text.contains("keys reload failed") }
    })
    .await;
    let failures = r#"jiangcheng_key_reloads_total{result="failure"}"#;
    assert_eq!(metric(&server, &client, failures).await, Some(1.0));
    assert_eq!(status_with(&client, &address, &kept.token).await, 200);
    assert_eq!(status_with(&client, &address, &revoked.token).await, 401);
    stop(server);
    let logs = json_logs(log.path());
    let failed = logged(&logs, "keys reload failed");
    assert_eq!(failed["level"], "ERROR", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("keys.toml"),
        "{failed}"
    );
}

#[test]
fn revoking_an_unknown_key_is_an_error_with_a_hint() {
    let work = tempfile::tempdir().unwrap();
    let keys = work.path().join("keys.toml");
    std::fs::write(&keys, new_key("市场监管局", &[Scope::Decide], None).config).unwrap();
    let output = command_in(work.path(), &["keys", "revoke", "0badf00d", "--keys"])
        .arg(&keys)
        .output()
        .expect("keys revoke");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no [[key]] table has the id `0badf00d`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `jiangcheng keys list --keys"),
        "{stderr}"
    );
}
