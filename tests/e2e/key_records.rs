//! A key's stored record: what it holds (live versions, a bounded number of retired ones,
//! history in pages), the previous release's records converted on reload, and broken records
//! refused without being touched.
//! The mount's storage is read and written through `sys/raw` (the harness enables it).

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::checks::{data, expect_error, read_ok, secret, write_ok};
use crate::support::raw::{raw_get, raw_list, raw_put, raw_put_reloaded};
use crate::support::{poll_until, Bao, Client};

/// The previous release's `keys/legacy` and `history/gone`, as it wrote them (read back from
/// OpenBao 2.7.2 through `sys/raw`).
const LEGACY_KEY: &str = include_str!("../fixtures/previous_release/keys_legacy.json");
const LEGACY_ARCHIVE: &str = include_str!("../fixtures/previous_release/history_gone.json");

/// Every event of `history/<name>`, following `next_after` with pages of `limit`.
async fn all_events(client: &Client, name: &str, limit: u32) -> Vec<Value> {
    let mut events = Vec::new();
    let mut path = format!("ai-keys/history/{name}?limit={limit}");
    for _ in 0..1000 {
        let page = read_ok(client, &path).await;
        let got = page["events"].as_array().unwrap();
        assert!(
            got.len() <= limit as usize,
            "{} events > limit {limit}",
            got.len()
        );
        events.extend(got.iter().cloned());
        match page["next_after"].as_str() {
            Some(after) => path = format!("ai-keys/history/{name}?limit={limit}&after={after}"),
            None => return events,
        }
    }
    panic!("history/{name} never ended");
}

/// The stored events, oldest first, match what `history/` shows, newest first.
fn same_events(shown: &[Value], stored: &Value) {
    let stored = stored.as_array().unwrap();
    assert_eq!(shown.len(), stored.len(), "{shown:#?}");
    for (s, o) in shown.iter().zip(stored.iter().rev()) {
        for field in [
            "event",
            "version",
            "actor",
            "request_id",
            "outcome",
            "detail",
        ] {
            assert_eq!(s[field], o[field], "{field} of {s}");
        }
    }
}

async fn reload(client: &Client) {
    let reply = client
        .write(
            "sys/plugins/reload/backend",
            json!({"mounts": ["ai-keys/"]}),
        )
        .await;
    assert!(reply.is_success(), "reload: {}", reply.text);
}

/// A mount written by the previous release keeps every key, version, history event and
/// rotation id: after a reload the records are converted (format 2, history in pages, rotation
/// ids in entries of their own) and everything reads as before.
#[tokio::test]
async fn previous_release_records_are_migrated_on_reload() {
    let bao = Bao::start().await;
    let client = bao.client();
    raw_put(&client, "keys/legacy", LEGACY_KEY).await;
    raw_put(&client, "history/gone", LEGACY_ARCHIVE).await;
    let old: Value = serde_json::from_str(LEGACY_KEY).unwrap();

    reload(&client).await;
    poll_until("keys/legacy migrated", Duration::from_secs(20), || async {
        raw_get(&client, "keys/legacy")
            .await
            .is_some_and(|t| t.starts_with(r#"{"format":2"#))
    })
    .await;

    let stored: Value =
        serde_json::from_str(&raw_get(&client, "keys/legacy").await.unwrap()).unwrap();
    assert!(
        stored.get("history").is_none(),
        "history left in the record"
    );
    assert!(
        stored["key"].get("idempotency").is_none(),
        "rotation ids left in the record"
    );
    // The same versions (fields added since the previous release take their defaults).
    let versions = |v: &Value| -> vault_plugin_secrets_ai_keys::rotation::KeyVersions {
        serde_json::from_value(v["key"]["versions"].clone()).expect("versions")
    };
    assert_eq!(versions(&stored), versions(&old), "versions changed");
    assert_eq!(stored["log"], json!({"first": 0, "next": 13}));
    assert_eq!(raw_list(&client, "history/legacy/").await, ["0"]);
    assert_eq!(raw_list(&client, "idempotency/legacy/").await.len(), 2);
    let archive = raw_get(&client, "history/gone").await.unwrap();
    assert_eq!(archive, r#"{"format":2,"first":0,"next":3}"#);

    let key = read_ok(&client, "ai-keys/keys/legacy").await;
    let numbers: Vec<&String> = key["versions"].as_object().unwrap().keys().collect();
    assert_eq!(numbers, ["1", "2", "3", "4"]);
    assert_eq!(key["current_version"], 4);
    assert_eq!(key["custom_metadata"], json!({"owner": "team-b"}));
    for (n, state) in [
        ("1", "revoked"),
        ("2", "revoked"),
        ("3", "failed"),
        ("4", "current"),
    ] {
        assert_eq!(key["versions"][n]["state"], state, "version {n}");
    }
    let creds = read_ok(&client, "ai-keys/creds/legacy").await;
    assert_eq!(creds["api_key"], "sk-legacy-value-four-0123456789abcdef");
    same_events(&all_events(&client, "legacy", 5).await, &old["history"]);
    let gone: Value = serde_json::from_str(LEGACY_ARCHIVE).unwrap();
    same_events(&all_events(&client, "gone", 2).await, &gone);

    // A rotation id remembered by the previous release still replays its first answer.
    let again = write_ok(
        &client,
        "ai-keys/rotate/legacy",
        json!({"value": "sk-legacy-value-two-0123456789abcdef", "rotation_id": "rot-1"}),
    )
    .await;
    assert_eq!(again, old["key"]["idempotency"][0]["response"]);
    // The key lives on: a new rotation continues the version numbers and the history.
    let rotated = write_ok(
        &client,
        "ai-keys/rotate/legacy",
        json!({"value": secret("after-migration")}),
    )
    .await;
    assert_eq!(rotated["version"], 5);
    let events = all_events(&client, "legacy", 100).await;
    assert_eq!(events[0]["event"], "promoted");
    same_events(&events[events.len() - 13..], &old["history"]);
    // A deleted key created again starts a fresh history; the converted one stays, linked.
    write_ok(
        &client,
        "ai-keys/keys/gone",
        json!({"value": secret("gone-again")}),
    )
    .await;
    let events = all_events(&client, "gone", 100).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "created");
    let fresh = read_ok(&client, "ai-keys/history/gone").await;
    assert_eq!(fresh["previous_history"]["incarnation"], 1, "{fresh:#}");
    assert_eq!(fresh["previous_history"]["deleted_by"], gone[2]["actor"]);
    let old = read_ok(&client, "ai-keys/history/gone?incarnation=1").await;
    same_events(old["events"].as_array().unwrap(), &gone);
}

/// After many rotations the record holds the live versions and the newest 10 retired
/// ones, numbers never repeat, and history/ pages instead of returning everything.
#[tokio::test]
async fn a_key_record_stays_small_and_history_pages() {
    let bao = Bao::start().await;
    let client = bao.client();
    write_ok(&client, "ai-keys/keys/app", json!({"value": secret("v1")})).await;
    for i in 0..30 {
        write_ok(
            &client,
            "ai-keys/rotate/app",
            json!({"value": secret(&format!("v{}", i + 2)), "grace_period": "0s", "rotation_id": format!("r{i}")}),
        )
        .await;
    }
    let key = read_ok(&client, "ai-keys/keys/app").await;
    let numbers: Vec<u32> = key["versions"]
        .as_object()
        .unwrap()
        .keys()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(numbers, (21..=31).collect::<Vec<_>>(), "{key:#}");
    let staged = write_ok(
        &client,
        "ai-keys/stage/app",
        json!({"value": secret("v32")}),
    )
    .await;
    assert_eq!(staged["version"], 32);

    let stored = raw_get(&client, "keys/app").await.unwrap();
    assert!(stored.len() < 16 * 1024, "record of {} bytes", stored.len());
    assert!(!stored.contains("\"history\""), "history inside the record");

    // Every event once, newest first, whatever the page size; the default page is 100.
    let all = all_events(&client, "app", 7).await;
    assert!(all.len() > 100, "{} events", all.len());
    assert_eq!(all[0]["event"], "staged");
    assert_eq!(all.last().unwrap()["event"], "created");
    assert_eq!(all_events(&client, "app", 1000).await, all);
    let page = read_ok(&client, "ai-keys/history/app").await;
    assert_eq!(page["events"].as_array().unwrap()[..], all[..100]);
    assert!(page["next_after"].is_string());
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=nope", "after"),
    ] {
        let reply = client.read(&format!("ai-keys/history/app?{query}")).await;
        expect_error(&reply, 400, &[field], query);
    }
}

/// A record that breaks an invariant (two current versions) is refused by creds/, keys/
/// reads, stage/ and verify/ with an error naming the key, and stays byte-identical; other
/// keys keep working.
#[tokio::test]
async fn a_broken_record_is_refused_and_left_untouched() {
    let bao = Bao::start().await;
    let client = bao.client();
    let (v1, v2) = (secret("b1"), secret("b2"));
    write_ok(&client, "ai-keys/keys/broken", json!({"value": v1})).await;
    write_ok(&client, "ai-keys/stage/broken", json!({"value": v2})).await;
    let other = secret("other");
    write_ok(&client, "ai-keys/keys/other", json!({"value": other})).await;

    let mut record: Value =
        serde_json::from_str(&raw_get(&client, "keys/broken").await.unwrap()).unwrap();
    record["key"]["versions"]["versions"]["2"]["state"] = json!("current");
    let planted = serde_json::to_string(&record).unwrap();
    raw_put_reloaded(&client, "keys/broken", &planted).await;

    for (method, path, body) in [
        ("GET", "ai-keys/creds/broken", None),
        ("GET", "ai-keys/keys/broken", None),
        (
            "POST",
            "ai-keys/stage/broken",
            Some(json!({"value": secret("b3")})),
        ),
        ("POST", "ai-keys/verify/broken", Some(json!({"value": v1}))),
        ("POST", "ai-keys/promote/broken", Some(json!({}))),
    ] {
        let reply = client.request(method, path, body).await;
        expect_error(
            &reply,
            500,
            &["\"broken\"", "2 versions are current", "operator"],
            path,
        );
        assert!(
            !reply.text.contains(&v1) && !reply.text.contains(&v2),
            "{path}: value leaked"
        );
    }
    assert_eq!(raw_get(&client, "keys/broken").await.unwrap(), planted);

    assert_eq!(
        read_ok(&client, "ai-keys/creds/other").await["api_key"],
        other.as_str()
    );
    write_ok(
        &client,
        "ai-keys/rotate/other",
        json!({"value": secret("other2")}),
    )
    .await;
    read_ok(&client, "ai-keys/overdue").await;
    let list = client.list("ai-keys/keys").await;
    assert_eq!(data(&list, "list")["keys"], json!(["broken", "other"]));
    // A reload (Initialize migrates) leaves it alone too.
    reload(&client).await;
    read_ok(&client, "ai-keys/creds/other").await;
    assert_eq!(raw_get(&client, "keys/broken").await.unwrap(), planted);
}
