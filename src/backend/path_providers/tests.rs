//! `providers/`: create, read, update, list and delete; the admin key written but never read
//! back; refusals (bad type or base_url, an admin key sent elsewhere, a provider keys still
//! need) that leave storage as it was.

use serde_json::{json, Value};

use crate::backend::testing::{created_at_provider, expect_bad_request, with_key, Harness, OLD};

mod belongings;
use crate::framework::Operation;

const ADMIN: &str = "sk-or-admin-SECRET-0123456789abcdef";
const LOCAL: &str = "http://127.0.0.1:9";

/// `providers/name` read, `None` when the engine answers nothing (a 404).
async fn provider(h: &Harness, name: &str) -> Option<Value> {
    h.call(Operation::Read, &format!("providers/{name}"), Value::Null)
        .await
        .unwrap_or_else(|e| panic!("providers/{name}: {e}"))
        .map(|r| r.data_value())
}

async fn list(h: &Harness) -> Value {
    h.call(Operation::List, "providers/", Value::Null)
        .await
        .unwrap()
        .expect("list answers")
        .data_value()["keys"]
        .clone()
}

/// Provider `p`: openrouter at a local address, with [`ADMIN`].
async fn openrouter(h: &Harness) {
    h.create(
        "providers/p",
        json!({"type": "openrouter", "base_url": LOCAL, "admin_key": ADMIN}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn providers_read_shows_the_documented_fields_and_never_the_admin_key() {
    let h = Harness::new().await;
    let written = h
        .create(
            "providers/p",
            json!({"type": "openrouter", "base_url": format!("{LOCAL}/"), "admin_key": ADMIN}),
        )
        .await
        .unwrap();
    let read = provider(&h, "p").await.expect("read answers");
    assert_eq!(read, written, "the write's reply is the read");
    assert_eq!(
        read,
        json!({
            "name": "p",
            "type": "openrouter",
            "base_url": LOCAL,
            "project_id": null,
            "api_version": null,
            "verify_path": null,
            "token_url": format!("{LOCAL}/api/v1/oauth/token"),
            "timeout": 10,
            "max_key_lifetime": null,
            "admin_key_set": true,
            "capabilities": {"test": true, "create": true, "revoke": true},
            "pending_revocations": [],
            "belongings": {
                "keys": [], "federated_keys": [], "live_versions": [], "pending_revocations": [],
                "create_intents": [],
                "manual_revocations": [],
            },
        }),
    );
    assert!(!read.to_string().contains(ADMIN), "{read}");

    // a type with a default base_url shows it, and without an admin key can only test
    let read = h
        .create("providers/o", json!({"type": "openai"}))
        .await
        .unwrap();
    assert_eq!(read["base_url"], "https://api.openai.com", "{read}");
    assert_eq!(read["admin_key_set"], false, "{read}");
    assert_eq!(
        read["capabilities"],
        json!({"test": true, "create": false, "revoke": false}),
        "{read}"
    );
    assert_eq!(
        provider(&h, "absent").await,
        None,
        "an unknown provider is a 404"
    );
}

#[tokio::test]
async fn providers_update_changes_what_is_given_and_keeps_the_admin_key() {
    let h = Harness::new().await;
    openrouter(&h).await;
    assert!(h.exists("providers/p").await);
    assert!(!h.exists("providers/q").await);
    let out = h
        .write("providers/p", json!({"timeout": "3s"}))
        .await
        .unwrap();
    assert_eq!(out["timeout"], 3, "{out}");
    assert_eq!(out["type"], "openrouter", "{out}");
    assert_eq!(out["base_url"], LOCAL, "{out}");
    assert_eq!(
        out["admin_key_set"], true,
        "an update without admin_key keeps it"
    );
    assert_eq!(provider(&h, "p").await.unwrap(), out);
    assert!(h.storage_contains(ADMIN).await, "the admin key is stored");
    // an update never creates: without a type there is nothing to create
    let msg = expect_bad_request(h.write("providers/q", json!({"timeout": "3s"})).await);
    assert!(msg.contains("type"), "{msg}");
    assert_eq!(provider(&h, "q").await, None);
}

#[tokio::test]
async fn providers_refuse_a_bad_type_or_base_url_and_store_nothing() {
    let h = Harness::new().await;
    openrouter(&h).await;
    let before = h.snapshot().await;
    let cases = [
        ("providers/n", json!({"type": "bogus"}), "type"),
        (
            "providers/n",
            json!({"base_url": LOCAL}),
            "type is required",
        ),
        (
            "providers/n",
            json!({"type": "openai_compatible"}),
            "base_url",
        ),
        (
            "providers/n",
            json!({"type": "openai", "base_url": "ftp://127.0.0.1"}),
            "base_url",
        ),
        (
            "providers/n",
            json!({"type": "openai", "base_url": "http://api.example.com"}),
            "base_url",
        ),
        (
            "providers/n",
            json!({"type": "openai", "base_url": "http://169.254.169.254"}),
            "base_url",
        ),
        (
            "providers/n",
            json!({"type": "openai", "base_url": "https://user:pw@api.example.com"}),
            "base_url",
        ),
        ("providers/p", json!({"type": "bogus"}), "type"),
        (
            "providers/p",
            json!({"base_url": "not a url", "admin_key": ADMIN}),
            "base_url",
        ),
    ];
    for (path, body, field) in cases {
        let msg = expect_bad_request(h.create(path, body.clone()).await);
        assert!(msg.contains(field), "{path} {body}: {msg}");
        assert_eq!(h.snapshot().await, before, "{path} {body} changed storage");
    }
    let msg = expect_bad_request(h.create("providers/n", json!({"type": "bogus"})).await);
    assert!(
        msg.contains("openai") && msg.contains("openai_compatible"),
        "names the valid types: {msg}"
    );
    assert_eq!(list(&h).await, json!(["p"]));
}

#[tokio::test]
async fn providers_moving_the_admin_key_elsewhere_needs_it_again() {
    let h = Harness::new().await;
    openrouter(&h).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.write("providers/p", json!({"base_url": "http://localhost:8"}))
            .await,
    );
    assert!(
        msg.contains("base_url") && msg.contains("admin_key"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
    let msg = expect_bad_request(h.write("providers/p", json!({"type": "openai"})).await);
    assert!(msg.contains("type") && msg.contains("admin_key"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    assert_eq!(provider(&h, "p").await.unwrap()["base_url"], LOCAL);

    // given again in the same request, the move is allowed
    let out = h
        .write(
            "providers/p",
            json!({"base_url": "http://localhost:8", "admin_key": ADMIN}),
        )
        .await
        .unwrap();
    assert_eq!(out["base_url"], "http://localhost:8", "{out}");
    assert_eq!(out["admin_key_set"], true, "{out}");
}

#[tokio::test]
async fn providers_list_names_every_provider_and_delete_removes_one() {
    let h = Harness::new().await;
    assert_eq!(list(&h).await, json!([]));
    openrouter(&h).await;
    h.create("providers/a", json!({"type": "anthropic"}))
        .await
        .unwrap();
    assert_eq!(list(&h).await, json!(["a", "p"]));
    let out = h
        .call(Operation::Delete, "providers/a", Value::Null)
        .await
        .unwrap();
    assert!(out.is_none(), "{out:?}");
    assert_eq!(list(&h).await, json!(["p"]));
    assert_eq!(provider(&h, "a").await, None);
    // deleting what is not there is a no-op
    h.call(Operation::Delete, "providers/a", Value::Null)
        .await
        .unwrap();
    // deleting p removes its admin key from storage
    h.call(Operation::Delete, "providers/p", Value::Null)
        .await
        .unwrap();
    assert!(!h.storage_contains(ADMIN).await);
}

#[tokio::test]
async fn providers_a_key_uses_cannot_be_deleted() {
    let h = Harness::new().await;
    h.create("providers/p", json!({"type": "anthropic"}))
        .await
        .unwrap();
    h.create("keys/k", json!({"value": OLD, "provider": "p"}))
        .await
        .unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.call(Operation::Delete, "providers/p", Value::Null).await);
    assert!(
        msg.contains("\"p\"") && msg.contains("used by keys: k"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
    assert!(provider(&h, "p").await.is_some());

    // once the key has moved to another provider, this one can go
    h.create("providers/q", json!({"type": "anthropic"}))
        .await
        .unwrap();
    h.write("keys/k", json!({"provider": "q"})).await.unwrap();
    h.call(Operation::Delete, "providers/p", Value::Null)
        .await
        .unwrap();
    assert_eq!(provider(&h, "p").await, None);
}

#[tokio::test]
async fn providers_with_a_pending_revocation_cannot_be_deleted() {
    // version 1 was created by the engine at p, which cannot revoke: once the key is deleted,
    // its revocation stays pending there
    let h = with_key().await;
    created_at_provider(&h).await;
    h.call(Operation::Delete, "keys/k", Value::Null)
        .await
        .unwrap();
    let before = h.snapshot().await;
    let msg = expect_bad_request(h.call(Operation::Delete, "providers/p", Value::Null).await);
    assert!(
        msg.contains("pending revocations") && msg.contains("k version 1"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
}

#[tokio::test]
async fn providers_an_update_cannot_take_creation_from_auto_rotate_keys() {
    let h = Harness::new().await;
    openrouter(&h).await;
    h.create(
        "keys/k",
        json!({"value": OLD, "provider": "p", "auto_rotate": true}),
    )
    .await
    .unwrap();
    let before = h.snapshot().await;
    // openai_compatible cannot create keys
    let msg = expect_bad_request(
        h.write(
            "providers/p",
            json!({"type": "openai_compatible", "admin_key": ADMIN}),
        )
        .await,
    );
    assert!(msg.contains("auto_rotate") && msg.contains(": k;"), "{msg}");
    assert_eq!(h.snapshot().await, before);
    assert_eq!(provider(&h, "p").await.unwrap()["type"], "openrouter");
}

#[tokio::test]
async fn providers_refuse_an_empty_or_blank_admin_key_naming_it_and_change_nothing() {
    let h = Harness::new().await;
    openrouter(&h).await;
    let before = h.snapshot().await;
    for blank in ["", " ", "\u{3000}"] {
        for (path, body) in [
            ("providers/p", json!({ "admin_key": blank })),
            (
                "providers/p",
                json!({ "admin_key": blank, "timeout": "3s" }),
            ),
            (
                "providers/n",
                json!({ "type": "openrouter", "base_url": LOCAL, "admin_key": blank }),
            ),
        ] {
            let msg = expect_bad_request(h.write(path, body.clone()).await);
            assert!(
                msg.contains("field \"admin_key\"") && msg.contains("must not be empty"),
                "{path} {body}: {msg}"
            );
            assert_eq!(h.snapshot().await, before, "{path} {body} changed storage");
        }
    }
    assert_eq!(provider(&h, "p").await.unwrap()["admin_key_set"], true);
    assert_eq!(provider(&h, "n").await, None);
}

#[tokio::test]
async fn providers_remove_the_admin_key_only_when_asked_by_remove_admin_key() {
    let h = Harness::new().await;
    openrouter(&h).await;
    let before = h.snapshot().await;
    let msg = expect_bad_request(
        h.write(
            "providers/p",
            json!({ "admin_key": ADMIN, "remove_admin_key": true }),
        )
        .await,
    );
    assert!(
        msg.contains("admin_key") && msg.contains("remove_admin_key"),
        "{msg}"
    );
    assert_eq!(h.snapshot().await, before);
    // false asks for nothing
    let out = h
        .write("providers/p", json!({ "remove_admin_key": false }))
        .await
        .unwrap();
    assert_eq!(out["admin_key_set"], true, "{out}");

    // Removing it is also what lets the provider move without giving it again.
    let out = h
        .write(
            "providers/p",
            json!({ "remove_admin_key": true, "base_url": "http://localhost:8" }),
        )
        .await
        .unwrap();
    assert_eq!(out["admin_key_set"], false, "{out}");
    assert_eq!(out["base_url"], "http://localhost:8", "{out}");
    assert_eq!(out["capabilities"]["create"], false, "{out}");
    assert!(
        !h.storage_contains(ADMIN).await,
        "the admin key is still stored"
    );
}
