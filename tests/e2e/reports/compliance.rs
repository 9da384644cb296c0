//! The compliance report (`report`) end to end: after provider-backed rotations by the rotator
//! (one with grace 0, so the replaced key is revoked at the provider at once) and a failed one,
//! the auditor's `report` (JSON and CSV) shows the rotations, the failure, the last test, the
//! confirmed provider revocation and who promoted each version, and no key value.

use serde_json::json;

use crate::providers::provider_body;
use crate::roles::{install_roles, login};
use crate::support::checks::{data, expect_error, read_ok, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::Bao;

#[tokio::test]
async fn auditor_reads_a_report_of_rotations_failures_revocations_and_promoters() {
    let bao = Bao::start().await;
    let fake = FakeProvider::start().await;
    let root = bao.client();
    install_roles(&root).await;
    let [rotator, auditor, admin] = [
        login(&bao, "rotator").await,
        login(&bao, "auditor").await,
        login(&bao, "admin").await,
    ];
    let admin_key = secret("admin");
    fake.add_admin_key(&admin_key);
    let body = provider_body("openai", &fake, Some(&admin_key));
    data(
        &admin.write("ai-keys/providers/fake", body).await,
        "provider",
    );
    let mut values = vec![admin_key.clone()];
    for name in ["team-a-app", "team-b-app"] {
        let v = secret(name);
        fake.add_key(&v);
        let body = json!({ "value": v, "provider": "fake" });
        data(
            &admin.write(&format!("ai-keys/keys/{name}"), body).await,
            name,
        );
        values.push(v);
    }
    let rotate = |body| rotator.write("ai-keys/rotate/team-a-app", body);
    data(
        &rotate(json!({})).await,
        "first rotation (provider creates v2)",
    );
    data(
        &rotate(json!({ "grace_period": "0s" })).await,
        "second rotation, grace 0 (v2 revoked at the provider now)",
    );
    let bad = secret("bad");
    values.push(bad.clone());
    expect_error(
        &rotate(json!({ "value": bad })).await,
        400,
        &["bad_key"],
        "bad rotation",
    );
    values.extend(fake.created_keys().into_iter().map(|(_, v, _)| v));

    let report = read_ok(&auditor, "ai-keys/report?prefix=team-a-").await;
    let keys = report["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{report:#}");
    let k = &keys[0];
    assert_eq!(k["key"], "team-a-app", "{k:#}");
    assert_eq!(k["current_version"], 3, "{k:#}");
    assert_eq!(k["rotations"], 2, "{k:#}");
    assert_eq!(k["failed_rotations"], 1, "{k:#}");
    assert_eq!(k["within_period"], true, "{k:#}");
    assert_eq!(k["rotation_period_days"], 90, "{k:#}");
    assert_eq!(k["last_test"]["outcome"], "bad_key", "{k:#}");
    assert_eq!(k["versions_in_grace"], json!([]), "{k:#}");
    let confirmed: Vec<_> = k["revocations_confirmed"]
        .as_array()
        .expect("revocations_confirmed")
        .iter()
        .map(|r| r["version"].clone())
        .collect();
    assert!(confirmed.contains(&json!(2)), "{k:#}");
    assert_eq!(k["revocations_pending"], json!([]), "{k:#}");
    // Version 1 was imported: the engine does not own it, so it is left to a person (version 4,
    // which the provider rejected, is not live there).
    let manual: Vec<_> = k["revocations_manual"]
        .as_array()
        .expect("revocations_manual")
        .iter()
        .map(|r| r["version"].clone())
        .collect();
    assert_eq!(manual, [json!(1)], "{k:#}");
    assert_eq!(k["revocations_acknowledged"], json!([]), "{k:#}");
    let promoters: Vec<_> = k["promoted_by"]
        .as_array()
        .expect("promoted_by")
        .iter()
        .map(|p| (p["version"].clone(), p["actor"]["display_name"].clone()))
        .collect();
    assert_eq!(
        promoters,
        vec![
            (json!(2), json!("userpass-rotator")),
            (json!(3), json!("userpass-rotator"))
        ],
        "{k:#}"
    );

    let csv = auditor.read("ai-keys/report?format=csv").await;
    csv.expect_status(200);
    let content_type = csv.headers["content-type"].to_str().unwrap_or_default();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two keys: {}", csv.text);
    assert!(
        lines[0].starts_with("key,schedule,rotation_period_days,"),
        "{}",
        csv.text
    );
    assert!(
        lines[1].starts_with("team-a-app,production,90,3,0,0,true,2,1,bad_key,")
            && lines[1]
                .ends_with("v2:userpass-rotator;v3:userpass-rotator,1,,false,,,false,,false,,,"),
        "{}",
        csv.text
    );
    for v in &values {
        assert!(!report.to_string().contains(v.as_str()) && !csv.text.contains(v.as_str()));
    }
    // The auditor may not read a value.
    assert_eq!(auditor.read("ai-keys/creds/team-a-app").await.status, 403);

    // The documented command (docs/operating.md): the CLI passes prefix and window as query parameters.
    let out = bao.bao(&[
        "read",
        "-format=json",
        "ai-keys/report",
        "window=365d",
        "prefix=team-b-",
    ]);
    assert!(out.status.success(), "{out:?}");
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from the CLI");
    let names: Vec<_> = cli["data"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["key"].clone())
        .collect();
    assert_eq!(names, vec![json!("team-b-app")], "{cli:#}");

    // path-help documents the parameters and every field of the report.
    let out = bao.bao(&["path-help", "ai-keys/report"]);
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    let fields = k.as_object().expect("a key's report").keys().cloned();
    for field in fields.chain(["prefix", "window", "format"].map(String::from)) {
        assert!(
            help.contains(field.as_str()),
            "path-help report lacks {field}:\n{help}"
        );
    }
}
