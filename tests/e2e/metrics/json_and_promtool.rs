//! `metrics` as JSON through the real `bao read`, and as Prometheus text (scraped with a
//! metrics-only token) that `promtool check metrics` accepts; the gauges and counters on
//! real records (a failed manual rotation, a revocation the provider refuses, an extended grace
//! window, an overdue key); a `mount` label that keeps two mounts apart.

use std::io::Write as _;
use std::process::{Command, Stdio};

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use super::promtool;
use crate::providers::{create_key, openai_provider, read_key, rotate, version};
use crate::support::checks::{
    data, expect_error, output_text, repo_root, secret, token_with_policy, write_ok,
};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::Bao;

/// Runs the `bao` CLI against `bao`; panics with its output unless it succeeds.
#[track_caller]
fn cli_ok(bao: &Bao, args: &[&str]) -> String {
    let out = bao.bao(args);
    assert!(out.status.success(), "bao {args:?}: {}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of the one JSON sample `name` (in `gauges` or `counters`) whose labels are
/// exactly `labels`.
#[track_caller]
fn sample(metrics: &Value, section: &str, name: &str, labels: Value) -> f64 {
    let found: Vec<&Value> = metrics[section]
        .as_array()
        .unwrap_or_else(|| panic!("no {section} in {metrics:#}"))
        .iter()
        .filter(|s| s["name"] == name && s["labels"] == labels)
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels} in {metrics:#}");
    found[0]["value"].as_f64().expect("numeric value")
}

/// `promtool check metrics` on `body` (its stdin); panics with promtool's output on a problem.
pub(crate) fn promtool_check_metrics(body: &str) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("writing the scrape to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n--- scrape ---\n{body}",
        output_text(&out)
    );
}

#[tokio::test]
async fn metrics_are_json_for_bao_read_and_prometheus_text_for_promtool() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    bao.mount_plugin("team-b").await;

    // app: a key the engine created, then a manual rotation the provider fails (counted), then
    // a rotation to a value whose retirement of the created key the provider refuses (pending).
    openai_provider(&client, &fake, "oa").await;
    let v0 = secret("v0");
    fake.add_key(&v0);
    create_key(&client, "app", json!({ "value": v0, "provider": "oa" })).await;
    data(
        &rotate(&client, "app", json!({})).await,
        "rotate/app (created)",
    );
    fake.set_admin_mode(Mode::ServerError500);
    let failed = rotate(&client, "app", json!({})).await;
    assert!(!failed.is_success(), "{}", failed.text);
    let v2 = secret("v2");
    fake.add_key(&v2);
    data(
        &rotate(&client, "app", json!({ "value": v2, "grace_period": 0 })).await,
        "rotate/app to a value, grace 0",
    );
    let key = read_key(&client, "app").await;
    assert_eq!(
        version(&key, 2)["provider_revocation"]["status"],
        "pending",
        "{key:#}"
    );
    // ext: a previous version kept past its plan by extend/.
    create_key(&client, "ext", json!({ "value": secret("e0") })).await;
    data(
        &rotate(
            &client,
            "ext",
            json!({ "value": secret("e1"), "grace_period": "1h" }),
        )
        .await,
        "rotate/ext",
    );
    write_ok(
        &client,
        "ai-keys/extend/ext",
        json!({ "grace_period": "3h" }),
    )
    .await;
    // old: overdue against its 90-day schedule.
    let created = (Utc::now() - TimeDelta::days(100)).to_rfc3339_opts(SecondsFormat::Secs, true);
    create_key(
        &client,
        "old",
        json!({ "value": secret("old"), "created_time": created }),
    )
    .await;
    // the same name on the other mount
    write_ok(
        &client,
        "team-b/keys/app",
        json!({ "value": secret("b"), "auto_rotate": false }),
    )
    .await;

    // `bao read` shows it (it failed to parse the text format before).
    let table = cli_ok(&bao, &["read", "ai-keys/metrics"]);
    assert!(
        table.contains("gauges") && table.contains("counters"),
        "{table}"
    );
    let out: Value =
        serde_json::from_str(&cli_ok(&bao, &["read", "-format=json", "ai-keys/metrics"]))
            .expect("bao read -format=json");
    let m = &out["data"];
    assert_eq!(m["mount"], "ai-keys", "{m:#}");
    let l = |key: &str| json!({ "mount": "ai-keys", "key": key });
    let failures = |trigger: &str| json!({ "mount": "ai-keys", "key": "app", "trigger": trigger });
    let c = "counters";
    assert_eq!(
        sample(m, c, "ai_keys_rotation_failures_total", failures("manual")),
        1.0
    );
    assert_eq!(
        sample(
            m,
            c,
            "ai_keys_rotation_failures_total",
            failures("automatic")
        ),
        0.0
    );
    assert_eq!(sample(m, c, "ai_keys_rotations_total", l("app")), 2.0);
    let g = "gauges";
    assert_eq!(
        sample(m, g, "ai_keys_provider_revocations_pending", l("app")),
        1.0
    );
    let age = sample(
        m,
        g,
        "ai_keys_provider_revocation_oldest_pending_seconds",
        l("app"),
    );
    assert!((0.0..120.0).contains(&age), "{age}");
    assert_eq!(sample(m, g, "ai_keys_last_attempt_failed", l("app")), 0.0);
    assert_eq!(
        sample(m, g, "ai_keys_versions_past_planned_grace", l("ext")),
        1.0
    );
    assert_eq!(
        sample(m, g, "ai_keys_versions_past_planned_grace", l("app")),
        0.0
    );
    assert_eq!(sample(m, g, "ai_keys_overdue", l("old")), 1.0);
    assert_eq!(sample(m, g, "ai_keys_overdue", l("ext")), 0.0);
    assert_eq!(sample(m, g, "ai_keys_auto_rotate", l("old")), 0.0);
    let tick = sample(
        m,
        g,
        "ai_keys_last_successful_tick_timestamp_seconds",
        json!({ "mount": "ai-keys" }),
    );
    assert!(
        (Utc::now().timestamp() as f64 - tick).abs() < 600.0,
        "{tick}"
    );

    // Prometheus text, as a scraper with a metrics-only token gets it.
    let token = token_with_policy(
        &bao,
        "scraper",
        r#"path "ai-keys/metrics" { capabilities = ["read"] }
path "team-b/metrics" { capabilities = ["read"] }"#,
    )
    .await;
    let scraper = bao
        .client_with_token("")
        .with_header("Authorization", &format!("Bearer {token}"));
    let mut bodies = Vec::new();
    for mount in ["ai-keys", "team-b"] {
        let reply = scraper
            .read(&format!("{mount}/metrics?format=prometheus"))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.headers["content-type"].to_str().unwrap(),
            "text/plain; version=0.0.4"
        );
        promtool_check_metrics(&reply.text);
        bodies.push(reply.text);
    }
    for line in [
        "ai_keys_rotation_failures_total{key=\"app\",mount=\"ai-keys\",trigger=\"manual\"} 1\n",
        "ai_keys_provider_revocations_pending{key=\"app\",mount=\"ai-keys\"} 1\n",
        "ai_keys_versions_past_planned_grace{key=\"ext\",mount=\"ai-keys\"} 1\n",
        "ai_keys_overdue{key=\"old\",mount=\"ai-keys\"} 1\n",
    ] {
        assert!(bodies[0].contains(line), "{line} in:\n{}", bodies[0]);
    }
    // Every metric the alert rules use is in a real scrape.
    let rules = std::fs::read_to_string(repo_root().join("deploy/prometheus/ai-keys.rules.yml"))
        .expect("the alert rules");
    let used = regex::Regex::new(r"ai_keys_[a-z_]+").unwrap();
    for name in used.find_iter(&rules).map(|m| m.as_str()) {
        assert!(
            bodies[0].contains(&format!("# TYPE {name} ")),
            "the rules use {name}, which the scrape does not have:\n{}",
            bodies[0]
        );
    }
    // The other mount's `app` is its own series.
    assert!(
        bodies[1].contains("ai_keys_rotations_total{key=\"app\",mount=\"team-b\"} 0\n"),
        "{}",
        bodies[1]
    );
    assert!(!bodies[1].contains("mount=\"ai-keys\""), "{}", bodies[1]);

    // An unknown format is a 400 naming the field; no format is JSON.
    let bad = client.read("ai-keys/metrics?format=xml").await;
    expect_error(&bad, 400, &["format"], "format=xml");
    let plain = scraper.read("ai-keys/metrics").await;
    assert_eq!(data(&plain, "metrics as JSON")["mount"], "ai-keys");
}
