//! What a key's record holds as it ages: live versions plus a bounded tail of retired ones,
//! history and rotation ids outside it; and a record that breaks an invariant is never used.

use serde_json::{json, Value};

use crate::backend::record::RETIRED_KEEP;
use crate::backend::testing::{with_key, OLD};
use crate::framework::{Operation, Storage};

/// Emergency rotations (no grace): each retires the version before it.
async fn rotate_many(h: &crate::backend::testing::Harness, count: usize, ids: bool) {
    for i in 0..count {
        let mut body =
            json!({"value": format!("sk-test-ROTATED-{i:04}-0123456789"), "grace_period": "0s"});
        if ids {
            body["rotation_id"] = json!(format!("rot-{i}"));
        }
        h.write("rotate/k", body).await.unwrap();
    }
}

async fn record(h: &crate::backend::testing::Harness) -> (Value, usize) {
    let raw = h.storage.get("keys/k").await.unwrap().unwrap();
    (serde_json::from_slice(&raw).unwrap(), raw.len())
}

#[tokio::test]
async fn the_record_keeps_live_versions_and_the_newest_retired_ones() {
    let h = with_key().await;
    rotate_many(&h, 40, true).await;
    let (stored, size) = record(&h).await;
    let versions = stored["key"]["versions"]["versions"].as_object().unwrap();
    assert_eq!(versions.len(), 1 + RETIRED_KEEP, "{:?}", versions.keys());
    let numbers: Vec<u32> = versions.keys().map(|n| n.parse().unwrap()).collect();
    assert_eq!(numbers, (41 - RETIRED_KEEP as u32..=41).collect::<Vec<_>>());
    assert_eq!(stored["key"]["versions"]["next_version"], 42);
    assert!(stored.get("history").is_none());
    assert!(stored["replays"].as_array().unwrap().len() <= 32);
    let small = size;

    // 200 more rotations: the record does not grow, numbers never repeat.
    rotate_many(&h, 200, true).await;
    let (stored, size) = record(&h).await;
    assert_eq!(stored["key"]["versions"]["next_version"], 242);
    assert!(
        size <= small + 64,
        "record grew from {small} to {size} bytes"
    );
    let staged = h
        .write(
            "stage/k",
            json!({"value": "sk-test-STAGED-0123456789abcdef"}),
        )
        .await
        .unwrap();
    assert_eq!(staged["version"], 242);
    // Remembered rotation ids are bounded too.
    let ids = h.storage.list("idempotency/k/").await.unwrap();
    assert_eq!(ids.len(), crate::backend::record::REPLAYS_KEPT);
}

/// A retired version left to a person to revoke stays in the record until acknowledged, however
/// many newer ones retire after it (the manual count is read from the record); then it is
/// trimmed like any other.
#[tokio::test]
async fn unacknowledged_manual_revocations_are_never_trimmed() {
    let h = crate::backend::testing::Harness::new().await;
    let fake = crate::backend::testing::FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    h.create("keys/k", json!({ "value": OLD, "provider": "p" }))
        .await
        .unwrap();
    let count = RETIRED_KEEP + 3;
    rotate_many(&h, count, false).await;
    let kept = |stored: &Value| {
        let versions = stored["key"]["versions"]["versions"].as_object().unwrap();
        let mut numbers: Vec<u32> = versions.keys().map(|n| n.parse().unwrap()).collect();
        numbers.sort_unstable();
        numbers
    };
    let all: Vec<u32> = (1..=count as u32 + 1).collect();
    assert_eq!(kept(&record(&h).await.0), all);
    for v in 1..=count {
        h.write("acknowledge/k", json!({ "version": v }))
            .await
            .unwrap();
    }
    rotate_many(&h, 1, false).await;
    let newest: Vec<u32> = (count as u32 + 2 - RETIRED_KEEP as u32..=count as u32 + 2).collect();
    assert_eq!(kept(&record(&h).await.0), newest);
}

#[tokio::test]
async fn history_is_paged_and_bounded_by_history_limit() {
    let h = with_key().await;
    h.write("config", json!({"history_limit": 120}))
        .await
        .unwrap();
    rotate_many(&h, 60, false).await;
    let first = h.read("history/k").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 100);
    let cursor = first["next_after"].as_str().unwrap().to_string();
    let second = h
        .call(
            Operation::Read,
            "history/k",
            json!({"after": cursor, "limit": 1000}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.data["events"].as_array().unwrap().len(), 20);
    assert!(second.data["next_after"].is_null());
    for bad in [
        json!({"limit": 0}),
        json!({"limit": 1001}),
        json!({"after": "zz"}),
    ] {
        let err = h
            .call(Operation::Read, "history/k", bad.clone())
            .await
            .unwrap_err();
        let field = bad.as_object().unwrap().keys().next().unwrap().clone();
        assert!(err.to_string().contains(&field), "{bad}: {err}");
    }
}

/// Key `k` stored with two current versions.
async fn break_record(h: &crate::backend::testing::Harness) -> Vec<u8> {
    h.write(
        "stage/k",
        json!({"value": "sk-test-SECOND-0123456789abcdef"}),
    )
    .await
    .unwrap();
    let (mut stored, _) = record(h).await;
    stored["key"]["versions"]["versions"]["2"]["state"] = json!("current");
    let bytes = serde_json::to_vec(&stored).unwrap();
    h.cached.put("keys/k", bytes.clone()).await.unwrap();
    bytes
}

#[tokio::test]
async fn a_record_with_two_current_versions_is_refused_everywhere_and_left_untouched() {
    let h = with_key().await;
    h.create_key("other", OLD).await;
    let bytes = break_record(&h).await;
    for (op, path) in [
        (Operation::Read, "creds/k"),
        (Operation::Read, "keys/k"),
        (Operation::Update, "stage/k"),
        (Operation::Update, "rotate/k"),
        (Operation::Update, "verify/k"),
        (Operation::Update, "promote/k"),
        (Operation::Delete, "keys/k"),
    ] {
        // promote/ refuses unknown fields before it reads the record.
        let data = if path == "promote/k" {
            json!({})
        } else {
            json!({"value": "sk-test-THIRD-0123456789abcdef"})
        };
        let err = h.call(op, path, data).await.unwrap_err().to_string();
        assert!(
            err.contains("\"k\"") && err.contains("2 versions are current"),
            "{path}: {err}"
        );
    }
    let tick = h.tick().await.unwrap_err().to_string();
    assert!(tick.contains("k:"), "{tick}");
    assert_eq!(h.storage.get("keys/k").await.unwrap().unwrap(), bytes);
    // The other key, the reports and the broken key's history still work.
    assert_eq!(h.read("creds/other").await["api_key"], OLD);
    h.write(
        "rotate/other",
        json!({"value": "sk-test-OTHER-0123456789abcdef"}),
    )
    .await
    .unwrap();
    h.read("overdue").await;
    assert!(!h.history("k").await.is_empty());
}

/// The invariants are checked where records are saved too: a record whose versions break them
/// (here a reinstatement request naming versions the key does not have as previous and current)
/// is refused with a 500 and nothing is written.
#[tokio::test]
async fn a_record_that_breaks_the_invariants_is_never_saved() {
    let h = with_key().await;
    let storage = h.cached.as_ref();
    let mut entry = crate::backend::record::load(storage, "k")
        .await
        .unwrap()
        .unwrap();
    let before = h.snapshot().await;
    entry.key.versions.reinstatement = Some(crate::rotation::ReinstatementRequest {
        version: 1,
        replaces: 2,
        requested_by: "entity:alice".into(),
        requested_time: chrono::Utc::now(),
    });
    let err = crate::backend::record::save(storage, &entry)
        .await
        .expect_err("saved a broken record");
    assert_eq!(err.status(), 500, "{err:?}");
    assert!(err.to_string().contains("was not saved"), "{err}");
    assert!(!err.to_string().contains(OLD));
    assert_eq!(h.snapshot().await, before);
}

/// Retirements are saved with their revocation: a record in which an owned key leaves the live
/// states with no revocation at its provider (pending or confirmed) is refused as a bug, and
/// nothing is written; with a revocation of any status it is saved.
#[tokio::test]
async fn a_record_that_retires_an_owned_key_without_a_revocation_is_never_saved() {
    let h = with_key().await;
    crate::backend::testing::created_at_provider(&h).await;
    let storage = h.cached.as_ref();
    let mut entry = crate::backend::record::load(storage, "k")
        .await
        .unwrap()
        .unwrap();
    let before = h.snapshot().await;
    let now = chrono::Utc::now();
    entry
        .key
        .versions
        .stage(
            crate::rotation::SecretValue::new(crate::backend::testing::NEW.to_string()),
            now,
            None,
            None,
            false,
        )
        .unwrap();
    entry
        .key
        .versions
        .promote(now, 0, true, None, false)
        .unwrap();
    assert_eq!(
        entry.key.versions.get(1).unwrap().state,
        crate::rotation::VersionState::Revoked
    );
    let err = crate::backend::record::save(storage, &entry)
        .await
        .expect_err("saved a retirement without its revocation");
    assert_eq!(err.status(), 500, "{err:?}");
    assert!(err.to_string().starts_with("bug: "), "{err}");
    assert!(err.to_string().contains("[1]"), "{err}");
    assert!(!err.to_string().contains(OLD));
    assert_eq!(h.snapshot().await, before);

    let v1 = entry.key.versions.versions.get_mut(&1).unwrap();
    v1.provider_revocation = Some(crate::rotation::ProviderRevocation::requested(
        "p", "key_1", now,
    ));
    crate::backend::record::save(storage, &entry).await.unwrap();
}

/// A record is trusted only where it lives: one stored at `keys/m` that names key `o` (copied
/// or planted) is refused by every read and write through `m`, with an error naming its path,
/// and no write through `m` changes `keys/o`; an entry is never saved under another name.
#[tokio::test]
async fn a_record_that_names_another_key_is_refused_and_never_written_elsewhere() {
    let h = with_key().await;
    h.create_key("o", crate::backend::testing::NEW).await;
    let copied = h.storage.get("keys/o").await.unwrap().unwrap();
    h.storage.put("keys/m", copied.clone()).await.unwrap();
    h.invalidate("keys/m").await;
    let before = h.snapshot().await;
    for (op, path, body) in [
        (Operation::Read, "creds/m", json!({})),
        (Operation::Read, "keys/m", json!({})),
        (
            Operation::Update,
            "rotate/m",
            json!({"value": "sk-test-PLANTED-0123456789abcdef", "grace_period": "0s"}),
        ),
        (Operation::Update, "keys/m", json!({"auto_rotate": true})),
        (Operation::Delete, "keys/m", json!({})),
    ] {
        let err = h.call(op, path, body).await.expect_err(path);
        assert_eq!(err.status(), 500, "{path}: {err:?}");
        let text = err.to_string();
        assert!(
            text.contains("keys/m") && text.contains("\"o\""),
            "{path}: {text}"
        );
        assert!(
            !text.contains(crate::backend::testing::NEW),
            "{path}: value leaked"
        );
        assert_eq!(h.snapshot().await, before, "{path} changed storage");
    }
    let storage = h.cached.as_ref();
    let entry = crate::backend::record::load(storage, "o")
        .await
        .unwrap()
        .unwrap();
    let err = crate::backend::record::save_at(storage, "k", &entry)
        .await
        .expect_err("saved an entry under another key's name");
    assert_eq!(err.status(), 500, "{err:?}");
    assert!(err.to_string().contains("keys/k"), "{err}");
    assert_eq!(h.snapshot().await, before);
}
