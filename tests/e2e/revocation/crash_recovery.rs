//! Recovery of a key created at the provider by a request whose plugin process was killed.

use std::time::Instant;

use serde_json::json;

use crate::providers::{
    assert_no_leaks, configure_provider, create_key, creds, provider_body, read_key, tick_until,
    wait_until, RECOVERY_DEADLINE, SHORT_DEADLINE,
};
use crate::support::checks::secret;
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{process, Bao, Tick};

// ---------------------------------------------------------------------------------------------
// Crash between "created at the provider" and "version stored"
// ---------------------------------------------------------------------------------------------

/// `rotate/` without a value while the provider stalls after creating the key; the plugin
/// process is SIGKILLed in that moment. The request fails; the next tick (the test's, through
/// the tick hook, which restarts the plugin, with the intents' minimum age lowered) runs the WAL
/// recovery, which finds the key the provider created (by its unique name, since the answer
/// with its id never arrived) and revokes it. The key is untouched: version 1, same creds.
#[tokio::test]
async fn tick_revokes_a_key_created_by_a_crashed_rotation() {
    let (bao, fake) = tokio::join!(Bao::start(), FakeProvider::start());
    let client = bao.client();
    let admin = secret("admin");
    fake.add_admin_key(&admin);
    configure_provider(&client, "oa", provider_body("openai", &fake, Some(&admin))).await;
    let v1 = secret("v1");
    fake.add_key(&v1);
    create_key(&client, "crash", json!({ "value": v1, "provider": "oa" })).await;
    let before = read_key(&client, "crash").await;

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
        || async move { f.created_keys().len() == 1 },
    )
    .await;
    // OpenBao restarts a plugin that shut down under a request and may send that request once
    // more: its create then fails at the provider (500, before any key is made), so the crash
    // this test is about stays the only thing that happened. Normal again before recovery.
    fake.set_admin_mode(Mode::ServerError500);
    let pids = bao.plugin_pids();
    assert!(!pids.is_empty(), "no plugin process");
    for &pid in &pids {
        assert!(process::signal(pid, "KILL"), "kill -KILL {pid}");
    }
    wait_until(
        &bao,
        "the plugin processes to die",
        SHORT_DEADLINE,
        || async { pids.iter().all(|&p| !process::is_alive(p)) },
    )
    .await;
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
    let created = fake.created_keys();
    assert_eq!(created.len(), 1, "{created:?}");
    let (id, value, active) = created[0].clone();
    assert!(active);

    let killed_at = Instant::now();
    let f = &fake;
    tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "the tick to revoke the unrecorded key",
        RECOVERY_DEADLINE,
        || async move { f.active_created_keys().is_empty() },
    )
    .await;
    eprintln!(
        "unrecorded key revoked {:?} after the SIGKILL",
        killed_at.elapsed()
    );
    assert!(!fake.is_active(&id));
    assert_eq!(fake.created_keys().len(), 1, "nothing else was created");

    let key = read_key(&client, "crash").await;
    assert_eq!(key["current_version"], 1, "{key:#}");
    assert!(key["pending_version"].is_null(), "{key:#}");
    assert_eq!(key["versions"], before["versions"], "the versions changed");
    let c = creds(&client, "crash").await;
    assert_eq!(c["api_key"], v1.as_str());
    assert_eq!(c["version"], 1);
    assert!(
        bao.server_log()
            .contains("revoked a key created at the provider but never recorded"),
        "{}",
        bao.server_log_tail(60)
    );
    assert_no_leaks(&bao, &[&fake], &[v1, admin, value]).await;
}
