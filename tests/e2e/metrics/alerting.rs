//! deploy/prometheus/ai-keys.rules.yml passes `promtool check rules`, every rule fires when it
//! should in `promtool test rules` (deploy/prometheus/ai-keys.rules.test.yml), and a real
//! Prometheus 2.42, configured from deploy/prometheus/prometheus.yml (only the server address,
//! the token file and the intervals replaced), scrapes `ai-keys/metrics?format=prometheus`
//! through a real server with a metrics-only token and fires `AiKeyOverdue` for an overdue key,
//! and for that key only.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use super::{prometheus, promtool};
use crate::providers::create_key;
use crate::support::checks::{output_text, repo_root, secret, token_with_policy};
use crate::support::server::poll_until_or;
use crate::support::Bao;

/// Bound of the wait for Prometheus to start, scrape, evaluate and fire (3-6 s measured).
const FIRE_DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

fn rules_file() -> std::path::PathBuf {
    repo_root().join("deploy/prometheus/ai-keys.rules.yml")
}

#[test]
fn the_alert_rules_pass_promtool_check_rules() {
    let out = std::process::Command::new(promtool())
        .args(["check", "rules"])
        .arg(rules_file())
        .output()
        .expect("running promtool");
    assert!(out.status.success(), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SUCCESS: 14 rules found"), "{text}");
    // Every alert has a summary and a runbook line naming a path of the mount.
    let rules = fs::read_to_string(rules_file()).unwrap();
    let alerts = rules.matches("- alert: ").count();
    assert_eq!(alerts, 14);
    assert_eq!(rules.matches("          summary: ").count(), alerts);
    assert_eq!(rules.matches("          runbook: ").count(), alerts);
}

/// The rules' unit tests (deploy/prometheus/ai-keys.rules.test.yml): every alert fires on
/// series shaped like a real scrape, and stays silent before and for keys that do not qualify.
#[test]
fn every_alert_rule_fires_when_it_should_in_promtool_test_rules() {
    let out = std::process::Command::new(promtool())
        .args(["test", "rules", "ai-keys.rules.test.yml"])
        .current_dir(repo_root().join("deploy/prometheus"))
        .output()
        .expect("running promtool");
    assert!(out.status.success(), "{}", output_text(&out));
    let tests = fs::read_to_string(repo_root().join("deploy/prometheus/ai-keys.rules.test.yml"))
        .expect("the rules' unit tests");
    for alert in [
        "AiKeyOverdue",
        "AiKeyDueSoonWithoutAutoRotate",
        "AiKeyRotationFailed",
        "AiKeyPastPlannedGrace",
        "AiKeyProviderRevocationPending",
        "AiKeyManualRevocationUnacknowledged",
        "AiKeyDeletedKeyManualRevocationUnacknowledged",
        "AiKeyCurrentKeyRejected",
        "AiKeyProviderExpiryNear",
        "AiKeyRecordsRefused",
        "AiKeyExposed",
        "AiKeysNotificationsFailing",
        "AiKeysPeriodicWorkStalled",
        "AiKeysNotScraped",
    ] {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} has no unit test"
        );
    }
}

/// deploy/prometheus/prometheus.yml with `from` replaced by `to`, each exactly once.
fn example_config(replacements: &[(&str, &str)]) -> String {
    let mut text = fs::read_to_string(repo_root().join("deploy/prometheus/prometheus.yml"))
        .expect("deploy/prometheus/prometheus.yml");
    for (from, to) in replacements {
        assert_eq!(
            text.matches(from).count(),
            1,
            "{from:?} once in the example config"
        );
        text = text.replace(from, to);
    }
    text
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// Prometheus as a child process, killed on drop.
fn spawn_prometheus(dir: &Path, port: u16) -> Child {
    let log = fs::File::create(dir.join("prometheus.log")).expect("prometheus.log");
    Command::new(prometheus())
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .kill_on_drop(true)
        .spawn()
        .expect("starting prometheus")
}

/// The alerts Prometheus has, or nothing while it is not answering yet.
async fn alerts(http: &reqwest::Client, port: u16) -> Vec<Value> {
    let Ok(reply) = http
        .get(format!("http://127.0.0.1:{port}/api/v1/alerts"))
        .send()
        .await
    else {
        return Vec::new();
    };
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn prometheus_scraping_the_server_fires_the_overdue_alert() {
    let bao = Bao::start().await;
    let client = bao.client();
    let long_ago = (Utc::now() - TimeDelta::days(100)).to_rfc3339_opts(SecondsFormat::Secs, true);
    create_key(
        &client,
        "old",
        json!({ "value": secret("old"), "created_time": long_ago }),
    )
    .await;
    create_key(&client, "fresh", json!({ "value": secret("fresh") })).await;

    let dir = tempfile::Builder::new()
        .prefix("ai-keys-prometheus-")
        .tempdir()
        .expect("temp dir");
    let token = token_with_policy(
        &bao,
        "prometheus",
        r#"path "ai-keys/metrics" { capabilities = ["read"] }"#,
    )
    .await;
    let token_file = dir.path().join("ai-keys.token");
    fs::write(&token_file, &token).expect("token file");
    fs::copy(rules_file(), dir.path().join("ai-keys.rules.yml")).expect("copying the rules");
    let target = bao.addr.trim_start_matches("http://").to_owned();
    let config = example_config(&[
        ("scrape_interval: 30s", "scrape_interval: 1s"),
        ("evaluation_interval: 30s", "evaluation_interval: 1s"),
        ("scheme: https", "scheme: http"),
        (
            "/etc/prometheus/ai-keys.token",
            token_file.to_str().unwrap(),
        ),
        (
            r#"["vault-1.example.com:8200", "vault-2.example.com:8200", "vault-3.example.com:8200"]"#,
            &format!("[{target:?}]"),
        ),
    ]);
    fs::write(dir.path().join("prometheus.yml"), &config).expect("prometheus.yml");
    let check = std::process::Command::new(promtool())
        .args(["check", "config"])
        .arg(dir.path().join("prometheus.yml"))
        .output()
        .expect("promtool check config");
    assert!(check.status.success(), "{}", output_text(&check));

    let port = free_port();
    let mut prom = spawn_prometheus(dir.path(), port);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = std::time::Instant::now();
    let log = || {
        format!(
            "--- prometheus.log ---\n{}",
            fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        )
    };
    let (h, p) = (&http, port);
    poll_until_or(
        "Prometheus to fire AiKeyOverdue for key old",
        FIRE_DEADLINE,
        POLL,
        || async move {
            alerts(h, p).await.iter().any(|a| {
                a["labels"]["alertname"] == "AiKeyOverdue"
                    && a["labels"]["key"] == "old"
                    && a["labels"]["mount"] == "ai-keys"
                    && a["state"] == "firing"
            })
        },
        log,
    )
    .await;
    eprintln!(
        "AiKeyOverdue fired {:?} after Prometheus started",
        started.elapsed()
    );
    let all = alerts(&http, port).await;
    let firing: Vec<(String, String)> = all
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| {
            (
                a["labels"]["alertname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                a["labels"]["key"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Only the overdue key: the fresh one (due in 90 days) fires nothing, and the scrape works.
    assert_eq!(
        firing,
        vec![("AiKeyOverdue".to_owned(), "old".to_owned())],
        "{all:#?}"
    );
    let overdue = all
        .iter()
        .find(|a| a["labels"]["alertname"] == "AiKeyOverdue")
        .unwrap();
    assert!(
        overdue["annotations"]["runbook"]
            .as_str()
            .unwrap_or_default()
            .contains("as rotator `bao write ai-keys/rotate/old value=...`"),
        "{overdue:#}"
    );
    let up: Value = http
        .get(format!("http://127.0.0.1:{port}/api/v1/query?query=up"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up:#}");
    prom.kill().await.ok();
}
