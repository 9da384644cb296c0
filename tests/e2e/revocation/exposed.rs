//! `exposed`, the leak response, against a real OpenBao and the fake provider, reported by the
//! shipped `responder` role: a leaked current OpenAI key the engine created is replaced at once
//! and revoked at the fake; a previous version found by its fingerprint is revoked there now, and
//! a revoked one only recorded; an unknown value is a 404 naming no key; an imported key whose
//! provider cannot create keys is marked exposed, its `ai_keys_key_exposed` sample is 1 and the
//! shipped alert fires on it (promtool, on the scraped sample); under the two-person rule a
//! leaked current key is withdrawn at once and its successor waits for the approver. No value involved appears in the
//! server log (the plugin's stderr) or in clear in the audit log.

use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::metrics::promtool;
use crate::providers::{
    assert_no_leaks, configure_provider, create_key, creds, history_events, openai_provider,
    provider_body, read_key, rotate, version,
};
use crate::roles::{install_roles, login};
use crate::support::checks::{data, expect_error, output_text, repo_root, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::{Bao, Client};

/// Reports `leak` (`{value}` or `{fingerprint}`) as `client`; the answer's only match.
async fn expose(client: &Client, mut leak: Value) -> Value {
    leak["source"] = json!("https://github.com/acme/app/commit/1234567");
    leak["reason"] = json!("pushed to a public repository");
    let out = data(&client.write("ai-keys/exposed", leak).await, "exposed");
    let matches = out["matches"].as_array().expect("matches");
    assert_eq!(matches.len(), 1, "{out:#}");
    matches[0].clone()
}

/// The id and value of the key the fake created last.
fn last_created(fake: &FakeProvider) -> (String, String) {
    let (id, value, _) = fake.created_keys().pop().expect("a created key");
    (id, value)
}

#[tokio::test]
async fn a_leaked_current_key_is_replaced_and_revoked_at_once_and_a_previous_one_revoked_by_fingerprint(
) {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let responder = login(&bao, "responder").await;
    openai_provider(&root, &fake, "openai").await;

    // A current key the engine created at OpenAI, leaked: found by value.
    create_key(&root, "current", json!({ "provider": "openai" })).await;
    let (c1, c1_value) = last_created(&fake);
    let m = expose(&responder, json!({ "value": c1_value })).await;
    assert_eq!(
        (m["key"].clone(), m["action"].clone()),
        (json!("current"), json!("rotated")),
        "{m:#}"
    );
    assert_eq!(
        m["retired_versions"][0]["provider_revocation"], "confirmed",
        "{m:#}"
    );
    assert!(
        !fake.is_active(&c1),
        "the leaked key is revoked at the provider"
    );
    let (c2, c2_value) = last_created(&fake);
    assert!(fake.is_active(&c2));
    let c = creds(&root, "current").await;
    assert_eq!(c["api_key"], c2_value.as_str());
    assert!(c.get("previous_api_key").is_none(), "grace 0: {c:#}");
    assert_eq!(read_key(&root, "current").await["exposed"], Value::Null);
    let events = history_events(&root, "current", "exposed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["actor"]["display_name"], "userpass-responder",
        "{events:#?}"
    );

    // A previous version (in its grace window), leaked: found by its fingerprint.
    create_key(&root, "prev", json!({ "provider": "openai" })).await;
    let (p1, p1_value) = last_created(&fake);
    assert!(rotate(&root, "prev", json!({})).await.is_success());
    let fingerprint = version(&read_key(&root, "prev").await, 1)["fingerprint"].clone();
    let m = expose(&responder, json!({ "fingerprint": fingerprint })).await;
    assert_eq!(
        (m["state"].clone(), m["action"].clone()),
        (json!("previous"), json!("revoked")),
        "{m:#}"
    );
    assert!(!fake.is_active(&p1));
    assert!(creds(&root, "prev").await.get("previous_api_key").is_none());
    // The same value again, by its full SHA-256: revoked already, only recorded.
    let full = hex::encode(Sha256::digest(p1_value.as_bytes()));
    let m = expose(&responder, json!({ "fingerprint": full })).await;
    assert_eq!(
        (m["state"].clone(), m["action"].clone()),
        (json!("revoked"), json!("recorded")),
        "{m:#}"
    );
    assert_eq!(history_events(&root, "prev", "exposed").await.len(), 2);

    // A value no key holds: a 404 that names no key.
    let unknown = secret("never-stored");
    let body = json!({ "value": unknown, "source": "scanner", "reason": "test" });
    let reply = responder.write("ai-keys/exposed", body).await;
    expect_error(&reply, 404, &["no version of any key"], "an unknown value");
    assert!(
        !reply.text.contains("current") && !reply.text.contains("prev"),
        "{}",
        reply.text
    );

    assert_no_leaks(&bao, &[&fake], &[c1_value, c2_value, p1_value, unknown]).await;
}

#[tokio::test]
async fn an_imported_key_without_a_creating_provider_is_marked_exposed_and_its_alert_fires() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let responder = login(&bao, "responder").await;
    // No admin key: the provider tests keys but cannot create (or revoke) them.
    configure_provider(&root, "plain", provider_body("openai", &fake, None)).await;
    let value = secret("imported");
    fake.add_key(&value);
    create_key(
        &root,
        "imported",
        json!({ "value": value, "provider": "plain" }),
    )
    .await;

    let m = expose(&responder, json!({ "value": value })).await;
    assert_eq!(m["action"], "marked_exposed", "{m:#}");
    assert!(
        m["waits_for"]
            .as_str()
            .unwrap_or_default()
            .contains("grace_period=0"),
        "{m:#}"
    );
    let key = read_key(&root, "imported").await;
    assert_eq!(key["exposed"]["version"], 1, "{key:#}");
    assert_eq!(
        creds(&root, "imported").await["api_key"],
        value.as_str(),
        "still current"
    );

    let scrape = root.read("ai-keys/metrics?format=prometheus").await;
    assert_eq!(scrape.status, 200, "{}", scrape.text);
    let sample = scrape
        .text
        .lines()
        .find(|l| l.starts_with("ai_keys_key_exposed{") && l.contains("key=\"imported\""))
        .unwrap_or_else(|| panic!("no ai_keys_key_exposed sample:\n{}", scrape.text))
        .to_owned();
    assert!(sample.ends_with(" 1"), "{sample}");
    alert_fires_on(&sample);

    // A new value promoted with no grace ends it.
    let next = secret("imported");
    fake.add_key(&next);
    assert!(rotate(
        &root,
        "imported",
        json!({ "value": next, "grace_period": "0s" })
    )
    .await
    .is_success());
    assert_eq!(read_key(&root, "imported").await["exposed"], Value::Null);
    assert_no_leaks(&bao, &[&fake], &[value, next]).await;
}

#[tokio::test]
async fn under_the_two_person_rule_a_leaked_current_key_is_withdrawn_until_an_approver_promotes_its_successor(
) {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let responder = login(&bao, "responder").await;
    let approver = login(&bao, "approver").await;
    openai_provider(&root, &fake, "openai").await;
    create_key(&root, "ruled", json!({ "provider": "openai" })).await;
    let (c1, c1_value) = last_created(&fake);
    let rule = json!({ "require_separate_approver": true });
    assert!(root.write("ai-keys/config", rule).await.is_success());

    // Found by the fingerprint keys/ shows.
    let fingerprint = version(&read_key(&root, "ruled").await, 1)["fingerprint"].clone();
    let m = expose(&responder, json!({ "fingerprint": fingerprint })).await;
    assert_eq!(m["action"], "withdrawn", "{m:#}");
    assert_eq!(m["pending_version"], 2, "{m:#}");
    assert!(
        !fake.is_active(&c1),
        "the leaked key is revoked at once, approver or not"
    );
    let (_, c2_value) = last_created(&fake);
    let reply = root.read("ai-keys/creds/ruled").await;
    expect_error(
        &reply,
        404,
        &["withdrawn", "version 2"],
        "creds/ of a withdrawn key",
    );
    let key = read_key(&root, "ruled").await;
    assert_eq!(key["exposed"]["withdrawn"], true, "{key:#}");
    assert_eq!(key["current_version"], Value::Null);

    // A different person (the approver) makes the successor live.
    let promoted = approver.write("ai-keys/promote/ruled", json!({})).await;
    assert!(promoted.is_success(), "{}", promoted.text);
    assert_eq!(creds(&root, "ruled").await["api_key"], c2_value.as_str());
    assert_eq!(read_key(&root, "ruled").await["exposed"], Value::Null);
    // c2 went through creds/ (hashed in the audit log); c1 never left the engine.
    assert_no_leaks(&bao, &[&fake], &[c2_value, c1_value]).await;
}

/// The shipped AiKeyExposed rule's expression, read from deploy/prometheus/ai-keys.rules.yml
/// and evaluated by `promtool test rules` on the scraped `sample` (with the job label Prometheus
/// adds), is true: one series, value 1.
fn alert_fires_on(sample: &str) {
    let (series, _) = sample.rsplit_once(' ').expect("a sample line");
    let rules_path = repo_root().join("deploy/prometheus/ai-keys.rules.yml");
    let rules = std::fs::read_to_string(&rules_path).expect("the alert rules");
    let expr = rules
        .split("- alert: AiKeyExposed")
        .nth(1)
        .and_then(|rest| rest.lines().find_map(|l| l.trim().strip_prefix("expr: ")))
        .expect("AiKeyExposed has an expr")
        .to_owned();
    let labelled = series.replacen('{', "{job=\"ai-keys\",", 1);
    let expected = format!(
        "ai_keys_key_exposed{}",
        &labelled["ai_keys_key_exposed".len()..]
    );
    // The alerts fire only from the active node (ai_keys_node_active 1 on the same scrape).
    let node = "ai_keys_node_active{job=\"ai-keys\",mount=\"ai-keys\"}";
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("rules.yml"), "groups: []\n").expect("rules");
    let test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  input_series:\n  - series: '{labelled}'\n    values: 1x3\n  - series: '{node}'\n    values: 1x3\n  promql_expr_test:\n  - expr: '{expr}'\n    eval_time: 2m\n    exp_samples:\n    - labels: '{expected}'\n      value: 1\n"
    );
    std::fs::write(dir.path().join("test.yml"), test).expect("test file");
    let out = Command::new(promtool())
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "AiKeyExposed's expression ({expr}) is not true on {sample}:\n{}",
        output_text(&out)
    );
}
