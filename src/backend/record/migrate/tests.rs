//! Converting the previous release's records, from fixtures the previous release wrote (read back
//! from a real OpenBao through `sys/raw`; see tests/fixtures/previous_release).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::backend::testing::Harness;
use crate::framework::{InMemoryStorage, Operation, Storage};

mod withdrawn;

const KEY: &str = include_str!("../../../../tests/fixtures/previous_release/keys_legacy.json");
const ARCHIVE: &str = include_str!("../../../../tests/fixtures/previous_release/history_gone.json");

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

async fn previous_release_storage() -> Arc<InMemoryStorage> {
    let s = Arc::new(InMemoryStorage::new());
    s.put("keys/legacy", KEY.as_bytes().to_vec()).await.unwrap();
    s.put("history/gone", ARCHIVE.as_bytes().to_vec())
        .await
        .unwrap();
    s
}

async fn raw(s: &InMemoryStorage, path: &str) -> Value {
    serde_json::from_slice(&s.get(path).await.unwrap().expect(path)).unwrap()
}

/// Every event as `history/` shows it, newest first, following the cursors.
async fn all_events(h: &Harness, name: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = Value::Null;
    for _ in 0..100 {
        let page = h
            .call(
                Operation::Read,
                &format!("history/{name}"),
                json!({ "limit": 5, "after": after }),
            )
            .await
            .unwrap()
            .map(|r| Value::Object(r.data))
            .unwrap_or_default();
        events.extend(page["events"].as_array().cloned().unwrap_or_default());
        after = page["next_after"].clone();
        if after.is_null() {
            return events;
        }
    }
    panic!("history/{name} never ended");
}

fn same_events(shown: &[Value], stored: &Value) {
    let stored = stored.as_array().unwrap();
    assert_eq!(shown.len(), stored.len());
    for (s, o) in shown.iter().zip(stored.iter().rev()) {
        for field in [
            "event",
            "version",
            "actor",
            "request_id",
            "outcome",
            "detail",
        ] {
            assert_eq!(s[field], o[field], "{field}");
        }
    }
}

#[tokio::test]
async fn initialize_converts_a_previous_release_key_keeping_everything() {
    let h = Harness::over(previous_release_storage().await, false).await;
    let old = fixture(KEY);
    let record = raw(&h.storage, "keys/legacy").await;
    assert_eq!(record["format"], 2);
    assert!(
        record.get("history").is_none(),
        "history left in the record"
    );
    assert!(record["key"].get("idempotency").is_none());
    // The same versions (fields added since the previous release take their defaults).
    let versions = |v: &Value| -> crate::rotation::KeyVersions {
        serde_json::from_value(v["key"]["versions"].clone()).expect("versions")
    };
    assert_eq!(versions(&record), versions(&old));
    assert_eq!(record["log"], json!({"first": 0, "next": 13}));
    assert_eq!(record["replays"].as_array().unwrap().len(), 2);

    let read = h.read("keys/legacy").await;
    let versions = read["versions"].as_object().unwrap();
    assert_eq!(versions.keys().collect::<Vec<_>>(), ["1", "2", "3", "4"]);
    assert_eq!(read["current_version"], 4);
    assert_eq!(read["custom_metadata"], json!({"owner": "team-b"}));
    same_events(&all_events(&h, "legacy").await, &old["history"]);
    let creds = h.read("creds/legacy").await;
    assert_eq!(creds["api_key"], "sk-legacy-value-four-0123456789abcdef");

    // A remembered rotation id still answers with the response of its first use.
    let again = h
        .write(
            "rotate/legacy",
            json!({"value": "sk-legacy-value-two-0123456789abcdef", "rotation_id": "rot-1"}),
        )
        .await
        .unwrap();
    assert_eq!(again, old["key"]["idempotency"][0]["response"]);
    assert_eq!(h.read("keys/legacy").await["current_version"], 4);
}

#[tokio::test]
async fn a_deleted_keys_archive_is_converted_and_kept_when_the_name_is_created_again() {
    let h = Harness::over(previous_release_storage().await, false).await;
    let archive = raw(&h.storage, "history/gone").await;
    assert_eq!(archive, json!({"format": 2, "first": 0, "next": 3}));
    same_events(&all_events(&h, "gone").await, &fixture(ARCHIVE));
    h.create_key("gone", "sk-gone-again-0123456789abcdef").await;
    // The new key's history is its own.
    let events = all_events(&h, "gone").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "created");
    // The converted one stays, linked with who deleted it (from its deleted event).
    let read = h.read("history/gone").await;
    let deleted = &fixture(ARCHIVE)[2];
    assert_eq!(read["incarnation"], 2);
    assert_eq!(read["previous_history"]["incarnation"], 1);
    assert_eq!(read["previous_history"]["deleted_by"], deleted["actor"]);
    assert!(read["previous_history"]["deleted_time"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-29T07:34:11"));
    let old = h
        .call(Operation::Read, "history/gone", json!({"incarnation": 1}))
        .await
        .unwrap()
        .unwrap()
        .data_value();
    same_events(old["events"].as_array().unwrap(), &fixture(ARCHIVE));
}

/// The engine's records as text (without the seeding marker, which holds a time).
async fn layout(h: &Harness) -> Vec<(String, String)> {
    h.snapshot()
        .await
        .into_iter()
        // `started`: the start mark every start of the active plugin rewrites.
        .filter(|(k, _)| !k.starts_with("init/") && k != "started")
        .map(|(k, v)| (k, String::from_utf8(v.unwrap_or_default()).unwrap()))
        .collect()
}

#[tokio::test]
async fn migration_is_idempotent_and_finishes_an_interrupted_run() {
    let clean = Harness::over(previous_release_storage().await, false).await;
    let once = layout(&clean).await;
    super::run(&clean.engine.shared.locks, clean.storage.as_ref())
        .await
        .unwrap();
    assert!(layout(&clean).await == once, "a second run changed storage");

    // Interrupted after the history pages, before the record was rewritten.
    let s = previous_release_storage().await;
    let old: crate::backend::record::KeyEntry = serde_json::from_str(KEY).unwrap();
    crate::backend::record::history::import(s.as_ref(), "legacy", &old.history)
        .await
        .unwrap();
    let resumed = Harness::over(s, false).await;
    assert!(layout(&resumed).await == once, "a resumed run differs");
}

#[tokio::test]
async fn a_standby_reads_previous_release_records_and_writes_nothing() {
    let s = previous_release_storage().await;
    s.set_read_only(true);
    let h = Harness::over(s, true).await;
    assert_eq!(
        h.storage.get("keys/legacy").await.unwrap().unwrap(),
        KEY.as_bytes()
    );
    assert_eq!(h.read("keys/legacy").await["current_version"], 4);
    assert_eq!(
        h.read("creds/legacy").await["api_key"],
        "sk-legacy-value-four-0123456789abcdef"
    );
    let old = fixture(KEY);
    same_events(&all_events(&h, "legacy").await, &old["history"]);
    same_events(&all_events(&h, "gone").await, &fixture(ARCHIVE));
}

#[tokio::test]
async fn a_record_from_a_newer_release_is_refused_and_left_untouched() {
    let s = previous_release_storage().await;
    let mut newer = fixture(KEY);
    // Format 3 is this release's too (records holding a withdrawn version): 4 is newer.
    newer["format"] = json!(4);
    newer["key"]["versions"] = json!("a shape this release does not know");
    let bytes = serde_json::to_vec(&newer).unwrap();
    s.put("keys/future", bytes.clone()).await.unwrap();
    let h = Harness::over(s, false).await;
    for (op, path) in [
        (Operation::Read, "keys/future"),
        (Operation::Read, "creds/future"),
        (Operation::Update, "stage/future"),
    ] {
        let err = h
            .call(op, path, json!({"value": "sk-new-value-0123456789abcdef"}))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"future\"") && err.contains("format 4"),
            "{path}: {err}"
        );
    }
    h.tick().await.unwrap_err();
    assert_eq!(h.storage.get("keys/future").await.unwrap().unwrap(), bytes);
    assert_eq!(h.read("keys/legacy").await["current_version"], 4);
}

#[tokio::test]
async fn an_inconsistent_previous_release_record_is_not_converted() {
    let s = previous_release_storage().await;
    let mut broken = fixture(KEY);
    broken["key"]["name"] = json!("broken");
    broken["key"]["versions"]["versions"]["2"]["state"] = json!("current");
    broken["key"]["versions"]["versions"]["2"]["value"] = json!("sk-second-current-0123456789");
    let bytes = serde_json::to_vec(&broken).unwrap();
    s.put("keys/broken", bytes.clone()).await.unwrap();
    let h = Harness::over(s, false).await;
    assert_eq!(h.storage.get("keys/broken").await.unwrap().unwrap(), bytes);
    let err = h
        .call(Operation::Read, "creds/broken", Value::Null)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"broken\"") && err.contains("2 versions are current"),
        "{err}"
    );
    assert_eq!(h.storage.get("keys/broken").await.unwrap().unwrap(), bytes);
    assert_eq!(raw(&h.storage, "keys/legacy").await["format"], 2);
}
