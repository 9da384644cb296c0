//! `exposed` interrupted: the plugin is SIGKILLed while the provider holds its answer to the
//! create of the leaked key's successor. The leaked key stays current and marked exposed (the
//! first write), the key created for the successor is found and revoked by the recovery, and the
//! responder's report sent again finishes the job.

use serde_json::json;

use crate::providers::{
    assert_no_leaks, create_intents, create_key, openai_provider, read_key, tick_until, wait_until,
    RECOVERY_DEADLINE, SHORT_DEADLINE,
};
use crate::roles::{install_roles, login};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Tick};

#[tokio::test]
async fn a_leak_response_killed_mid_rotation_leaves_the_key_marked_and_no_orphan() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let root = bao.client();
    install_roles(&root).await;
    let responder = login(&bao, "responder").await;
    openai_provider(&root, &fake, "openai").await;
    create_key(&root, "leaky", json!({ "provider": "openai" })).await;
    let (leaked_id, leaked, _) = fake.created_keys().pop().expect("the key's first value");
    let report = json!({
        "value": leaked, "source": "a scanner's alert", "reason": "found in a public gist",
    });

    fake.set_stall_after_create(true);
    let background = {
        let (responder, report) = (responder.clone(), report.clone());
        tokio::spawn(async move { responder.write("ai-keys/exposed", report).await })
    };
    let f = &fake;
    wait_until(
        &bao,
        "the provider to create the successor",
        SHORT_DEADLINE,
        || async move { f.created_keys().len() == 2 },
    )
    .await;
    // A request the host sends again after the plugin's restart fails at the provider (500,
    // before any key is made), so the kill stays the only thing that happened.
    fake.set_admin_mode(Mode::ServerError500);
    bao.kill_plugins().await;
    fake.set_stall_after_create(false);
    let reply = tokio::time::timeout(SHORT_DEADLINE, background)
        .await
        .expect("the interrupted request ends")
        .expect("the request task");
    eprintln!("interrupted exposed: HTTP {}: {}", reply.status, reply.text);
    fake.set_admin_mode(Mode::Normal);
    let (held_id, held, _) = fake.created_keys()[1].clone();

    // Until the host has marked the killed plugin done, a request gets its raw gRPC error (500
    // `Unavailable`, see plugin_host::lifetime); the next one restarts the plugin.
    let c = &root;
    wait_until(
        &bao,
        "the host to serve the mount again",
        SHORT_DEADLINE,
        || async move { c.read("ai-keys/keys/leaky").await.status == 200 },
    )
    .await;
    // The first write stands: the leaked version is still current, marked exposed.
    let key = read_key(&root, "leaky").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert_eq!(key["exposed"]["version"], 1, "{key:#}");
    // The successor's key, made under a create intent, is revoked by the recovery.
    let (c, f) = (&root, &fake);
    let held_ref = held_id.as_str();
    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "the recovery to revoke the successor nobody recorded",
        RECOVERY_DEADLINE,
        || async move { !f.is_active(held_ref) && create_intents(c).await.is_empty() },
    )
    .await;
    assert!(
        fake.is_active(&leaked_id),
        "still current: only a new value replaces it"
    );

    // The report again: the emergency rotation completes, the leaked key is revoked.
    let again = responder.write("ai-keys/exposed", report).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.data()["matches"][0]["action"],
        "rotated",
        "{}",
        again.text
    );
    assert!(!fake.is_active(&leaked_id), "the leaked key is revoked");
    let key = read_key(&root, "leaky").await;
    assert_eq!(
        key["current_version"], 2,
        "the interrupted successor took no number: {key:#}"
    );
    assert!(key["exposed"].is_null(), "{key:#}");
    let live: Vec<String> = fake
        .created_keys()
        .into_iter()
        .filter(|(_, _, active)| *active)
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(live.len(), 1, "only the new current key lives: {live:?}");
    assert_no_leaks(&bao, &[&fake], &[leaked, held]).await;
}
