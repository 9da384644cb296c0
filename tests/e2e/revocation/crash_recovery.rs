//! Recovery of a key created at the provider by a request whose plugin process was killed.

use std::time::Instant;

use serde_json::json;

use crate::providers::{
    assert_no_leaks, claimed_provider_keys, configure_provider, create_intents, create_key, creds,
    history_events, provider_body, read_key, rotate, tick_until, wait_until, PROJECT,
    RECOVERY_DEADLINE, SHORT_DEADLINE,
};
use crate::support::checks::secret;
use crate::support::fake_provider::{FakeProvider, Mode, Switches};
use crate::support::{Bao, Tick};

// ---------------------------------------------------------------------------------------------
// Crash between "created at the provider" and "version stored"
// ---------------------------------------------------------------------------------------------

/// `rotate/` without a value while the provider stalls after creating the key; the plugin
/// process is SIGKILLed in that moment. The request fails; the next ticks (the test's, through
/// the tick hook, which restarts the plugin, with the intents' minimum age and the recovery's
/// patience lowered) run the WAL recovery, which finds the key the provider created (by its
/// unique name, since the answer with its id never arrived) and revokes it. The project is
/// crowded (a person's key, another engine's keys named like this key's, a legacy account),
/// lists come in pages of 2, and the new key is left out of the first list that would show it:
/// recovery looks again instead of concluding that nothing was created, and touches no other
/// key. The key is untouched: version 2, same creds, one provider key alive as its record says.
#[tokio::test]
async fn tick_revokes_a_key_created_by_a_crashed_rotation() {
    let switches = Switches {
        page_cap: Some(2),
        hide_new_keys_once: true,
        ..Switches::default()
    };
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start_with(switches));
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let crowd = fake.crowd_openai_project(PROJECT, "crash");
    let v1 = secret("v1");
    fake.add_key(&v1);
    create_key(&client, "crash", json!({ "value": v1, "provider": "oa" })).await;
    // Version 2 is created at the provider: the record claims one provider key.
    let r = rotate(&client, "crash", json!({ "grace_period": "0s" })).await;
    assert!(r.is_success(), "the first rotation: {}", r.text);
    let names = vec!["crash".to_string()];
    let claimed = claimed_provider_keys(&client, &names).await;
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let before = read_key(&client, "crash").await;
    let ours = |fake: &FakeProvider| {
        fake.created_keys()
            .into_iter()
            .filter(|(id, _, _)| !crowd.contains(id))
            .collect::<Vec<_>>()
    };

    fake.set_stall_after_create(true);
    let background = {
        let client = client.clone();
        tokio::spawn(async move { client.write("ai-keys/rotate/crash", json!({})).await })
    };
    let f = &fake;
    wait_until(
        &bao,
        "the provider to create a key",
        SHORT_DEADLINE,
        || async move { ours(f).len() == 2 },
    )
    .await;
    // OpenBao restarts a plugin that shut down under a request and may send that request once
    // more: its create then fails at the provider (500, before any key is made), so the crash
    // this test is about stays the only thing that happened. Normal again before recovery.
    fake.set_admin_mode(Mode::ServerError500);
    bao.kill_plugins().await;
    fake.set_stall_after_create(false);
    let reply = tokio::time::timeout(SHORT_DEADLINE, background)
        .await
        .expect("the interrupted request ends")
        .expect("the request task");
    assert!(
        !reply.is_success(),
        "the interrupted rotation succeeded: {}",
        reply.text
    );
    eprintln!(
        "interrupted rotate/: HTTP {}: {}",
        reply.status,
        reply.errors()
    );
    fake.set_admin_mode(Mode::Normal);
    let held: Vec<_> = ours(&fake)
        .into_iter()
        .filter(|(id, _, _)| !claimed.contains(id))
        .collect();
    assert_eq!(held.len(), 1, "one create held at the kill: {held:?}");
    let (id, value, active) = held[0].clone();
    assert!(active);
    let intents = create_intents(&client).await;
    assert_eq!(
        intents.len(),
        1,
        "one create intent left by the kill: {intents:?}"
    );
    assert_eq!(intents[0].0, "crash");

    let killed_at = Instant::now();
    let (c, f, held_id) = (&client, &fake, id.as_str());
    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "the tick to revoke the unrecorded key and settle its intent",
        RECOVERY_DEADLINE,
        || async move { !f.is_active(held_id) && create_intents(c).await.is_empty() },
    )
    .await;
    eprintln!(
        "unrecorded key revoked {:?} after the SIGKILL",
        killed_at.elapsed()
    );
    assert_eq!(ours(&fake).len(), 2, "nothing else was created");
    let live: Vec<String> = ours(&fake)
        .into_iter()
        .filter(|(_, _, active)| *active)
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(
        live,
        claimed_provider_keys(&client, &names).await,
        "the provider's live keys are the ones the record claims"
    );
    crowd.assert_untouched(&fake);

    let key = read_key(&client, "crash").await;
    assert_eq!(key["current_version"], 2, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    assert_eq!(key["versions"], before["versions"], "the versions changed");
    let creds_now = creds(&client, "crash").await;
    assert_eq!(creds_now["api_key"], before_value(&fake, &claimed[0]));
    assert_eq!(creds_now["version"], 2);
    let told = history_events(&client, "crash", "unrecorded_key_revoked").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0]["detail"]
        .as_str()
        .unwrap()
        .contains(held[0].0.as_str()));
    let log = bao.server_log();
    assert!(
        log.contains("revoked a key created at the provider but never recorded"),
        "{}",
        bao.server_log_tail(60)
    );
    assert!(
        log.contains("no key under an unfinished create's name yet"),
        "the first lookup (the list hid the new key) did not make recovery look again: {}",
        bao.server_log_tail(60)
    );
    assert_no_leaks(&bao, &[&fake], &[v1, admin, value]).await;
}

/// The value the fake created as key `id`.
fn before_value(fake: &FakeProvider, id: &str) -> String {
    let created = fake.created_keys().into_iter().find(|(i, _, _)| i == id);
    created.expect("a created key").1
}
