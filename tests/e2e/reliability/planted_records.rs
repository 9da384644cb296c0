//! A record is trusted only where it lives: records planted through `sys/raw` (another key's
//! record copied under a new path, one from a newer release, one with two current versions)
//! are refused by `rotate/`, `creds/`, `keys/` reads and deletes with an error naming their
//! path; no write through one key's path changes another key's record, and the provider key of
//! the key whose record was copied stays recorded (never alive with no record). Reports name
//! each refused record instead of leaving it out silently.

use serde_json::{json, Value};

use crate::providers::{create_key, openai_provider, read_key, rotate};
use crate::support::checks::{data, expect_error, read_ok, secret};
use crate::support::fake_provider::FakeProvider;
use crate::support::raw::{raw_get, raw_put_reloaded};
use crate::support::Bao;

/// The paths every planted record is tried through, and what each sends.
fn attempts(name: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        (
            "POST",
            format!("ai-keys/rotate/{name}"),
            Some(json!({ "grace_period": "0s" })),
        ),
        ("GET", format!("ai-keys/creds/{name}"), None),
        ("GET", format!("ai-keys/keys/{name}"), None),
        ("DELETE", format!("ai-keys/keys/{name}"), None),
    ]
}

#[tokio::test]
async fn planted_records_are_refused_where_they_lie_and_never_write_elsewhere() {
    let bao = Bao::start().await;
    let client = bao.client();
    let fake = FakeProvider::start().await;
    openai_provider(&client, &fake, "oa").await;
    // o1 holds a key the engine created at the provider (version 2).
    create_key(
        &client,
        "o1",
        json!({ "value": secret("o1"), "provider": "oa" }),
    )
    .await;
    let r = rotate(&client, "o1", json!({ "grace_period": "0s" })).await;
    assert!(r.is_success(), "{}", r.text);
    let o1 = raw_get(&client, "keys/o1").await.unwrap();
    let o1_key = read_key(&client, "o1").await;
    let o1_id = o1_key["versions"]["2"]["provider_key_id"]
        .as_str()
        .expect("o1's provider key id")
        .to_string();
    assert!(fake.is_active(&o1_id));

    // Another key's record under a new path; one from a newer release; two current versions.
    let mut newer: Value = serde_json::from_str(&o1).unwrap();
    newer["key"]["name"] = json!("m-newer");
    newer["format"] = json!(999);
    let mut twice: Value = serde_json::from_str(&o1).unwrap();
    twice["key"]["name"] = json!("m-twice");
    twice["key"]["versions"]["versions"]["1"]["state"] = json!("current");
    let planted = [
        ("m-mis2", o1.clone(), "names another key"),
        ("m-newer", newer.to_string(), "format 999"),
        ("m-twice", twice.to_string(), "inconsistent stored record"),
    ];
    for (name, record, _) in &planted {
        raw_put_reloaded(&client, &format!("keys/{name}"), record).await;
    }
    for (name, record, why) in &planted {
        let path = format!("keys/{name}");
        for (method, url, body) in attempts(name) {
            let reply = client.request(method, &url, body).await;
            expect_error(&reply, 500, &[&path, why], &url);
        }
        assert_eq!(
            &raw_get(&client, &path).await.unwrap(),
            record,
            "{path} changed"
        );
    }
    // o1 is as it was, its provider key alive and recorded.
    assert_eq!(raw_get(&client, "keys/o1").await.unwrap(), o1);
    assert!(fake.is_active(&o1_id), "o1's provider key was revoked");
    let live: Vec<String> = fake.active_created_keys();
    assert!(live.contains(&o1_id), "{live:?}");
    assert_eq!(live.len(), 1, "a key created with no record: {live:?}");

    // Reports name each refused record.
    let overdue = client.read("ai-keys/overdue").await;
    assert!(overdue.is_success(), "{}", overdue.text);
    for (name, _, _) in &planted {
        assert!(
            overdue.text.contains(&format!("keys/{name}")),
            "overdue hides keys/{name}: {}",
            overdue.text
        );
    }
    let report = read_ok(&client, "ai-keys/report").await;
    assert_eq!(
        report["records_refused"].as_array().unwrap().len(),
        3,
        "{report:#}"
    );
    let list = client.list("ai-keys/keys").await;
    assert_eq!(
        data(&list, "list")["keys"],
        json!(["m-mis2", "m-newer", "m-twice", "o1"])
    );
    // o1 still works through its own path.
    let r = rotate(&client, "o1", json!({ "grace_period": "0s" })).await;
    assert!(r.is_success(), "{}", r.text);
    assert!(!fake.is_active(&o1_id), "o1's retired key revoked");
}
