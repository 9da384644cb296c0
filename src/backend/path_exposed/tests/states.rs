//! A previous, pending or retired version, found by value, fingerprint or full SHA-256; unknown
//! values; ambiguous fingerprints; bad input that changes nothing.

use serde_json::json;

use super::{events, expose, only, sha256_hex};
use crate::backend::record;
use crate::backend::testing::{expect_bad_request, state, verify, with_key, Harness, NEW, OLD};
use crate::framework::Error;
use crate::rotation::fingerprint_of;

#[tokio::test]
async fn a_previous_version_found_by_fingerprint_is_revoked_now() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    let out = expose(&h, json!({ "fingerprint": fingerprint_of(OLD) }))
        .await
        .unwrap();
    let m = only(&out);
    assert_eq!(
        (m["key"].clone(), m["version"].clone()),
        (json!("k"), json!(1))
    );
    assert_eq!(m["state"], "previous");
    assert_eq!(m["action"], "revoked");
    assert_eq!(m["retired_versions"][0]["version"], 1, "{out}");
    assert_eq!(state(&h, 1).await, "revoked");
    assert_eq!(verify(&h, OLD).await["valid"], false);
    let c = h.read("creds/k").await;
    assert_eq!(c["api_key"], NEW);
    assert!(c.get("previous_api_key").is_none(), "{c}");
    assert!(
        !h.storage_contains(OLD).await,
        "the leaked value is destroyed"
    );
    let exposed = events(&h, "k", "exposed").await;
    assert_eq!(exposed.len(), 1);
    assert_eq!(exposed[0]["version"], 1);
    assert_eq!(exposed[0]["actor"]["entity_id"], "alice");
    let detail = exposed[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("github.com/acme/app") && detail.contains("public repository"),
        "{detail}"
    );
    // Nothing current leaked: no marker.
    assert_eq!(h.read("keys/k").await["exposed"], json!(null));
}

#[tokio::test]
async fn a_pending_version_found_by_its_full_sha256_is_revoked() {
    let h = with_key().await;
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    let full = format!("sha256:{}", sha256_hex(NEW).to_uppercase());
    let out = expose(&h, json!({ "fingerprint": full })).await.unwrap();
    let m = only(&out);
    assert_eq!(
        (m["version"].clone(), m["state"].clone()),
        (json!(2), json!("pending"))
    );
    assert_eq!(m["action"], "revoked");
    assert_eq!(state(&h, 2).await, "revoked");
    let k = h.read("keys/k").await;
    assert_eq!(k["pending_version"], json!(null));
    assert_eq!(k["current_version"], 1);
    assert_eq!(h.read("creds/k").await["api_key"], OLD);
    assert!(!h.storage_contains(NEW).await);
}

#[tokio::test]
async fn a_revoked_version_found_by_value_is_only_recorded() {
    let h = with_key().await;
    h.write("rotate/k", json!({ "value": NEW, "grace_period": 0 }))
        .await
        .unwrap();
    let before = h.read("keys/k").await;
    let out = expose(&h, json!({ "value": OLD })).await.unwrap();
    let m = only(&out);
    assert_eq!(
        (m["state"].clone(), m["action"].clone()),
        (json!("revoked"), json!("recorded"))
    );
    let after = h.read("keys/k").await;
    assert_eq!(
        before["versions"], after["versions"],
        "nothing but the history changes"
    );
    assert_eq!(events(&h, "k", "exposed").await.len(), 1);
    assert!(!out.to_string().contains(OLD));
    assert!(!h
        .history("k")
        .await
        .iter()
        .any(|e| e.to_string().contains(OLD)));
}

#[tokio::test]
async fn an_unknown_value_is_a_404_that_names_no_key_and_changes_nothing() {
    let h = with_key().await;
    h.create_key("other", NEW).await;
    let before = h.snapshot().await;
    for body in [
        json!({ "value": "sk-test-NEVER-SEEN-0000000" }),
        json!({ "fingerprint": fingerprint_of("sk-test-NEVER-SEEN-0000000") }),
        json!({ "fingerprint": sha256_hex("sk-test-NEVER-SEEN-0000000") }),
    ] {
        match expose(&h, body).await {
            Err(Error::NotFound(m)) => {
                assert!(!m.contains("\"k\"") && !m.contains("other"), "{m}")
            }
            other => panic!("expected a 404, got {other:?}"),
        }
    }
    assert_eq!(before, h.snapshot().await);
}

#[tokio::test]
async fn a_404_says_when_records_the_engine_refuses_were_not_searched() {
    use crate::framework::Storage;
    let h = with_key().await;
    // Key k's record becomes one this release refuses (a newer format, after a downgrade): its
    // key still lives at the provider, so "no key holds it" would mislead the reporter.
    let raw = h.storage.get("keys/k").await.unwrap().unwrap();
    let mut record: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    record["format"] = json!(999);
    h.storage
        .put("keys/k", serde_json::to_vec(&record).unwrap())
        .await
        .unwrap();
    h.invalidate("keys/k").await;
    let before = h.snapshot().await;
    match expose(&h, json!({ "value": OLD })).await {
        Err(Error::NotFound(m)) => {
            assert!(
                m.contains("1 key record") && m.contains("records/keys/"),
                "{m}"
            );
            assert!(!m.contains("\"k\""), "names no key: {m}");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    assert_eq!(before, h.snapshot().await);
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_changes_nothing() {
    let h = with_key().await;
    let before = h.snapshot().await;
    let cases = [
        (json!({}), "exactly one of value and fingerprint"),
        (
            json!({ "value": OLD, "fingerprint": fingerprint_of(OLD) }),
            "exactly one",
        ),
        (json!({ "fingerprint": "sha256:abc" }), "fingerprint"),
        (json!({ "fingerprint": "0123456789abcdef" }), "fingerprint"),
        (json!({ "value": "" }), "value"),
        (json!({ "value": "a\nb" }), "value"),
    ];
    for (body, needle) in cases {
        let msg = expect_bad_request(expose(&h, body.clone()).await);
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    // source and reason: required, bounded, and never the leaked value.
    for (body, needle) in [
        (json!({ "value": OLD, "reason": "r" }), "source"),
        (json!({ "value": OLD, "source": "s" }), "reason"),
        (
            json!({ "value": OLD, "source": "  ", "reason": "r" }),
            "source",
        ),
        (
            json!({ "value": OLD, "source": "x".repeat(257), "reason": "r" }),
            "source",
        ),
        (
            json!({ "value": OLD, "source": "s", "reason": format!("found {OLD} in a log") }),
            "reason",
        ),
    ] {
        let r = h
            .call(crate::framework::Operation::Update, "exposed", body.clone())
            .await;
        let msg = expect_bad_request(r);
        assert!(msg.contains(needle), "{body}: {msg}");
        assert!(!msg.contains(OLD), "{msg}");
    }
    assert_eq!(before, h.snapshot().await);
}

/// Two versions sharing a 16-hex fingerprint (made here by hand: by chance it takes 2^32 keys):
/// the fingerprint alone is a 409 naming no key; the value finds the one that holds it.
#[tokio::test]
async fn a_fingerprint_two_versions_share_is_a_409_and_the_value_tells_them_apart() {
    let h = with_key().await;
    h.create_key("twin", NEW).await;
    let mut entry = record::load(h.cached.as_ref(), "twin")
        .await
        .unwrap()
        .unwrap();
    entry.key.versions.versions.get_mut(&1).unwrap().fingerprint = fingerprint_of(OLD);
    record::save(h.cached.as_ref(), &entry).await.unwrap();
    let before = h.snapshot().await;
    match expose(&h, json!({ "fingerprint": fingerprint_of(OLD) })).await {
        Err(Error::Coded {
            status: 409,
            message,
        }) => {
            assert!(
                message.contains("2 versions") && !message.contains("twin"),
                "{message}"
            )
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    assert_eq!(before, h.snapshot().await);
    let out = expose(&h, json!({ "value": OLD })).await.unwrap();
    assert_eq!(only(&out)["key"], "k");
    let twin = h.read("keys/twin").await;
    assert_eq!(twin["exposed"], json!(null), "the other key is untouched");
}

/// One value imported into two keys: both versions are acted on.
#[tokio::test]
async fn a_value_two_keys_hold_is_acted_on_in_both() {
    let h = Harness::new().await;
    h.create_key("a", OLD).await;
    h.create_key("b", OLD).await;
    let out = expose(&h, json!({ "value": OLD })).await.unwrap();
    let keys: Vec<_> = out["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].clone())
        .collect();
    assert_eq!(keys, [json!("a"), json!("b")]);
    for name in ["a", "b"] {
        assert_eq!(
            h.read(&format!("keys/{name}")).await["exposed"]["version"],
            1
        );
    }
}
