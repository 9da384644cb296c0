//! Failures reach people with the right version: a rotation whose new key the provider refused
//! names the version it staged, one whose create failed the number the new version was to get
//! (`data.attempted_version` says which); a deleted key's revocation the provider fails is
//! announced at its first failure (`revocation.failed`), once, not at every retry.

use std::time::Duration;

use serde_json::{json, Value};

use super::{subscribed, Receiver};
use crate::providers::{
    create_key, history_events, openai_provider, read_key, rotate, tick_until, version,
    RECOVERY_DEADLINE,
};
use crate::support::checks::read_ok;
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Client, Tick};

const DEADLINE: Duration = Duration::from_secs(20);

/// The events of `ty` (without the prefix) the receiver accepted, in order.
fn of_type(receiver: &Receiver, ty: &str) -> Vec<Value> {
    let full = format!("io.openbao.ai-keys.{ty}");
    receiver
        .events()
        .into_iter()
        .filter(|e| e["type"] == full.as_str())
        .collect()
}

#[tokio::test]
async fn a_failed_rotation_names_the_version_it_staged_or_was_to_create() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let (receiver, _) = subscribed(&root).await;
    openai_provider(&root, &fake, "oa").await;
    create_key(&root, "k", json!({ "provider": "oa" })).await;

    // The provider refuses the new key's test: version 2 stays on record as failed.
    fake.set_mode(Mode::Unauthorized401);
    let reply = rotate(&root, "k", json!({})).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    fake.set_mode(Mode::Normal);
    assert_eq!(version(&read_key(&root, "k").await, 2)["state"], "failed");

    // The provider cannot create a key: nothing is staged; it was to be version 3.
    fake.set_admin_mode(Mode::ServerError500);
    let reply = rotate(&root, "k", json!({})).await;
    assert!(!reply.is_success(), "{}", reply.text);
    fake.set_admin_mode(Mode::Normal);

    let r = &receiver;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "both failures' notifications",
        DEADLINE,
        || async move { of_type(r, "rotation.failed").len() >= 2 },
    )
    .await;
    root.tick(Tick::AsTheHost).await;
    let failed = of_type(&receiver, "rotation.failed");
    let seen: Vec<(Value, Value, Value)> = failed
        .iter()
        .map(|e| {
            let d = &e["data"];
            (
                d["version"].clone(),
                d["attempted_version"].clone(),
                d["outcome"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!(2), json!("staged"), json!("bad_key")),
            (json!(3), json!("planned"), json!("not_staged")),
        ],
        "{failed:#?}"
    );
    // The history says the same.
    let failed = history_events(&root, "k", "failed").await;
    let mut versions: Vec<u64> = failed
        .iter()
        .filter_map(|e| e["version"].as_u64())
        .collect();
    versions.sort();
    assert_eq!(versions, [2, 3], "{failed:#?}");
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
}

/// The pending revocation of the deleted key's version, as `report` shows it.
async fn pending_of_deleted(root: &Client) -> Vec<Value> {
    let report = read_ok(root, "ai-keys/report").await;
    report["deleted_keys_revocations_pending"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_deleted_keys_failed_revocation_is_announced_once_at_its_first_failure() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    let (receiver, _) = subscribed(&root).await;
    openai_provider(&root, &fake, "oa").await;
    create_key(&root, "gone", json!({ "provider": "oa" })).await;
    let (id, _, _) = fake.created_keys().pop().expect("a created key");

    // The provider fails every revocation; the delete tries once and leaves it to recovery.
    fake.set_admin_mode(Mode::ServerError500);
    let reply = root.delete("ai-keys/keys/gone").await;
    assert!(reply.is_success(), "{}", reply.text);
    assert!(fake.is_active(&id));
    let r = &receiver;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the failure's notification",
        DEADLINE,
        || async move { !of_type(r, "revocation.failed").is_empty() },
    )
    .await;
    let failed = of_type(&receiver, "revocation.failed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let d = &failed[0]["data"];
    assert_eq!(
        (&d["version"], &d["incarnation"]),
        (&json!(1), &json!(1)),
        "{d:#}"
    );
    assert_eq!(d["outcome"], "pending", "{d:#}");
    assert!(
        d["reason"].as_str().unwrap_or_default().contains("oa"),
        "{d:#}"
    );

    // Recovery retries (after the intent's minimum age) and fails again: nothing new is sent.
    let c = &root;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "recovery's failed retry",
        RECOVERY_DEADLINE,
        || async move {
            pending_of_deleted(c)
                .await
                .first()
                .is_some_and(|p| p["attempts"].as_u64() >= Some(1))
        },
    )
    .await;
    root.tick(Tick::AsTheHost).await;
    assert_eq!(
        of_type(&receiver, "revocation.failed").len(),
        1,
        "once per revocation"
    );
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
}
