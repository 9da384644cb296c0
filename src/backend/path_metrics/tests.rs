//! `metrics`: counters, overdue keys, formats and the last successful tick.

use crate::backend::testing::OLD;
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;
use base64::Engine as _;
use chrono::{Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The decoded metrics body, after checking the raw response's envelope.
async fn metrics(h: &Harness) -> String {
    let resp = h
        .call(Operation::Read, "metrics", json!({"format": "prometheus"}))
        .await
        .unwrap()
        .expect("metrics response");
    assert_eq!(
        resp.data["http_content_type"], "text/plain; version=0.0.4",
        "{:?}",
        resp.data
    );
    assert_eq!(resp.data["http_status_code"], 200);
    let body = base64::engine::general_purpose::STANDARD
        .decode(resp.data["http_raw_body"].as_str().expect("raw body"))
        .expect("standard base64");
    String::from_utf8(body).expect("utf-8")
}

fn check_format(body: &str) {
    let sample =
        regex::Regex::new(r#"^[a-zA-Z_:][a-zA-Z0-9_:]*\{[^{}]*\} -?[0-9]+(\.[0-9]+)?$"#).unwrap();
    for line in body.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        assert!(sample.is_match(line), "malformed sample line: {line:?}");
    }
}

#[tokio::test]
async fn metrics_count_rotations_and_test_outcomes() {
    let h = Harness::new().await;
    let body = metrics(&h).await;
    check_format(&body);

    h.create_key("k", OLD).await;
    h.create_key("idle", "sk-test-IDLE-00000000").await;
    for n in 1..=3 {
        h.write(
            "rotate/k",
            json!({"value": format!("sk-test-ROT{n}-abcdef")}),
        )
        .await
        .unwrap();
    }
    // one more test through test/ on the current version, and a forced promotion
    h.write("test/k", json!({"version": 4})).await.unwrap();
    h.write("stage/k", json!({"value": "sk-test-ROT4-abcdef"}))
        .await
        .unwrap();
    h.write("promote/k", json!({"force": true})).await.unwrap();

    let body = metrics(&h).await;
    check_format(&body);
    assert!(
        body.contains("ai_keys_rotations_total{key=\"k\",mount=\"ai-keys\"} 4\n"),
        "{body}"
    );
    assert!(
        body.contains("ai_keys_rotations_total{key=\"idle\",mount=\"ai-keys\"} 0\n"),
        "{body}"
    );
    assert!(
        body.contains(
            "ai_keys_test_outcomes_total{key=\"k\",mount=\"ai-keys\",outcome=\"skipped\"} 4\n"
        ),
        "{body}"
    );
    assert!(
        body.contains("ai_keys_versions_in_grace{key=\"k\",mount=\"ai-keys\"} 1\n"),
        "{body}"
    );
    assert!(
        body.contains("ai_keys_overdue{key=\"idle\",mount=\"ai-keys\"} 0\n"),
        "{body}"
    );
    assert!(
        body.contains("# TYPE ai_keys_rotations_total counter"),
        "{body}"
    );
    assert!(
        body.contains("ai_keys_current_version_age_seconds{key=\"k\",mount=\"ai-keys\"}"),
        "{body}"
    );
    assert!(
        body.contains("ai_keys_seconds_until_due{key=\"k\",mount=\"ai-keys\"}"),
        "{body}"
    );
    // metrics never carry key material
    for n in 1..=4 {
        assert!(!body.contains(&format!("ROT{n}")), "{body}");
    }
    assert!(!body.contains(OLD));
}

#[tokio::test]
async fn metrics_show_an_overdue_key() {
    let h = Harness::new().await;
    let created = (Utc::now() - Duration::days(45)).to_rfc3339_opts(SecondsFormat::Secs, true);
    h.create(
        "keys/old",
        json!({"value": OLD, "created_time": created, "schedule": "production-tier1"}),
    )
    .await
    .unwrap();
    let body = metrics(&h).await;
    check_format(&body);
    assert!(
        body.contains("ai_keys_overdue{key=\"old\",mount=\"ai-keys\"} 1\n"),
        "{body}"
    );
    let due = body
        .lines()
        .find(|l| l.starts_with("ai_keys_seconds_until_due{key=\"old\",mount=\"ai-keys\"}"))
        .expect("seconds until due");
    let secs: i64 = due.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (-15 * 86_400 - 60..=-15 * 86_400 + 60).contains(&secs),
        "{due}"
    );
}

#[tokio::test]
async fn metrics_default_to_json_and_refuse_an_unknown_format() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let m = h.read("metrics").await;
    assert_eq!(m["mount"], "ai-keys", "{m}");
    let rotations: Vec<&Value> = m["counters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "ai_keys_rotations_total")
        .collect();
    assert_eq!(
        rotations,
        vec![
            &json!({"name": "ai_keys_rotations_total", "labels": {"mount": "ai-keys", "key": "k"}, "value": 0})
        ]
    );
    assert!(!m.to_string().contains(OLD));
    let msg = expect_bad_request(
        h.call(Operation::Read, "metrics", json!({"format": "text"}))
            .await,
    );
    assert!(msg.contains("format"), "{msg}");
}

/// The tick gauge: the plugin's start, then each tick that finished without a failure.
#[tokio::test]
async fn metrics_show_the_last_successful_tick() {
    let h = Harness::new().await;
    let tick = |m: &Value| {
        m["gauges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "ai_keys_last_successful_tick_timestamp_seconds")
            .map(|s| (s["labels"].clone(), s["value"].as_f64().unwrap()))
            .expect("the tick gauge")
    };
    let (labels, started) = tick(&h.read("metrics").await);
    assert_eq!(labels, json!({"mount": "ai-keys"}));
    let now = Utc::now().timestamp_micros() as f64 / 1e6;
    assert!((now - 60.0..=now).contains(&started), "{started} {now}");
    h.tick().await.unwrap();
    let (_, ticked) = tick(&h.read("metrics").await);
    assert!(ticked > started, "{ticked} after {started}");
}

/// Which node answered: the active node reports `ai_keys_node_active 1` and its tick; a standby
/// (which never ticks, so its tick gauge would only be its plugin's start) reports 0 and no tick
/// gauge, and names itself in the JSON, with the same per-key figures as the active node.
#[tokio::test]
async fn a_standby_says_so_and_leaves_out_the_tick_it_never_advances() {
    let h = Harness::new().await;
    h.create_key("k", OLD).await;
    let active = metrics(&h).await;
    assert!(
        active.contains("ai_keys_node_active{mount=\"ai-keys\"} 1\n"),
        "{active}"
    );
    assert!(
        active.contains("ai_keys_last_successful_tick_timestamp_seconds{"),
        "{active}"
    );
    assert_eq!(h.read("metrics").await["node"], "active");

    let standby = Harness::over(h.storage.clone(), true).await;
    let text = metrics(&standby).await;
    check_format(&text);
    assert!(
        text.contains("ai_keys_node_active{mount=\"ai-keys\"} 0\n"),
        "{text}"
    );
    assert!(!text.contains("ai_keys_last_successful_tick"), "{text}");
    assert!(
        text.contains("ai_keys_overdue{key=\"k\",mount=\"ai-keys\"} 0\n"),
        "{text}"
    );
    let m = standby.read("metrics").await;
    assert_eq!(m["node"], "standby", "{m}");
    let names: Vec<&Value> = m["gauges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert!(
        !names.contains(&&json!("ai_keys_last_successful_tick_timestamp_seconds")),
        "{m}"
    );
}
