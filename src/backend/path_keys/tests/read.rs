//! Reads: `keys/` without the value, the list, the existence check and `creds/`.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::backend::testing::Harness;
use crate::backend::testing::OLD;
use crate::framework::Operation;

#[tokio::test]
async fn read_never_contains_the_value_and_shows_the_fingerprint() {
    let h = Harness::new().await;
    let created = h
        .create(
            "keys/k",
            json!({"value": OLD, "custom_metadata": {"owner": "team-a"}}),
        )
        .await
        .unwrap();
    let k = h.read("keys/k").await;
    for doc in [&created, &k] {
        let text = serde_json::to_string(doc).unwrap();
        assert!(!text.contains(OLD), "value leaked: {text}");
        assert!(!text.contains("ORIGINAL"), "value leaked: {text}");
    }
    let digest = hex::encode(Sha256::digest(OLD.as_bytes()));
    assert_eq!(
        k["versions"]["1"]["fingerprint"],
        format!("sha256:{}", &digest[..16])
    );
    assert_eq!(k["name"], "k");
    assert_eq!(k["schedule"], "production");
    assert_eq!(k["provider"], Value::Null);
    assert_eq!(k["current_version"], 1);
    assert_eq!(k["pending_version"], Value::Null);
    assert_eq!(k["last_error"], Value::Null);
    assert_eq!(k["versions"]["1"]["state"], "current");
    assert_eq!(k["custom_metadata"], json!({"owner": "team-a"}));
    assert_eq!(k["rotation_period"], 90 * 86_400);
    assert_eq!(k["grace_period"], 48 * 3_600);
    // neither the history
    let history = serde_json::to_string(&h.history("k").await).unwrap();
    assert!(!history.contains(OLD), "{history}");
}

#[tokio::test]
async fn list_shows_live_keys_only() {
    let h = Harness::new().await;
    let resp = h
        .call(Operation::List, "keys/", Value::Null)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["keys"], json!([]));
    for name in ["b", "a", "c.d"] {
        h.create_key(name, &format!("sk-test-{name}-value")).await;
    }
    h.call(Operation::Delete, "keys/b", Value::Null)
        .await
        .unwrap();
    let resp = h
        .call(Operation::List, "keys/", Value::Null)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.data["keys"], json!(["a", "c.d"]));
}

#[tokio::test]
async fn existence_check_tells_create_from_update() {
    let h = Harness::new().await;
    assert!(!h.exists("keys/k").await);
    h.create_key("k", OLD).await;
    assert!(h.exists("keys/k").await);
}

#[tokio::test]
async fn creds_returns_the_current_value_and_a_ttl() {
    let h = Harness::new().await;
    h.create(
        "keys/k",
        json!({"value": OLD, "schedule": "production-tier1"}),
    )
    .await
    .unwrap();
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], OLD);
    assert_eq!(c["version"], 1);
    let ttl = c["ttl"].as_i64().unwrap();
    assert!((30 * 86_400 - 10..=30 * 86_400).contains(&ttl), "{ttl}");
    assert!(c.get("previous_api_key").is_none(), "{c}");
}
