//! Providers that stall past the timeout (one before answering at all, one after creating the key,
//! so the answer with its id never comes), reset connections, answer with garbage or not even HTTP,
//! or rate limit for minutes. While their keys are rotated (by requests, and by the periodic tick:
//! they are auto-rotated and long overdue), a key on a healthy provider rotates normally and its
//! grace window ends on that same tick; no faulty rotation promotes anything or loses the current
//! key, and the key the stalling provider created for a timed-out request is revoked by the
//! recovery on that tick (never recorded, never left alive). The test runs the tick through the
//! plugin's tick hook (recovering every intent older than a second) instead of waiting for the
//! host's.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::figures;
use super::invariants::check_key;
use crate::providers::{
    configure_provider, create_key, openai_provider, read_key, tick_until, wait_until, PROJECT,
    RECOVERY_DEADLINE,
};
use crate::support::checks::{history, secret};
use crate::support::fake_provider::{FakeProvider, Mode};
use crate::support::{Bao, Client, Tick};

/// A TCP server on a free loopback port that answers every connection with `answer` (after
/// reading the request), or, when `answer` is empty, resets it: closing a socket whose request
/// is still unread makes the kernel send RST. Returns its base URL.
async fn raw_server(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                if answer.is_empty() {
                    let _ = sock.readable().await;
                    return; // dropped with the request unread: RST
                }
                let mut buf = vec![0; 65536];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(answer).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn openai_at(client: &Client, name: &str, base_url: &str) {
    let body = json!({ "type": "openai", "base_url": base_url, "timeout": "2s",
        "project_id": PROJECT, "admin_key": secret("admin") });
    configure_provider(client, name, body).await;
}

/// A key on `provider`, long overdue and auto-rotated when `auto`.
async fn overdue_key(client: &Client, name: &str, provider: &str, auto: bool) -> String {
    let v = secret(name);
    let body = json!({ "value": v, "provider": provider, "auto_rotate": auto,
        "created_time": "2020-01-01T00:00:00Z" });
    create_key(client, name, body).await;
    v
}

#[tokio::test]
async fn faulty_providers_block_nothing_promote_nothing_and_orphan_nothing() {
    let (bao, good, stall, hang, limited) = tokio::join!(
        Bao::start(),
        FakeProvider::start(),
        FakeProvider::start(),
        FakeProvider::start(),
        FakeProvider::start()
    );
    let client = bao.client();
    openai_provider(&client, &good, "good").await;
    openai_provider(&client, &stall, "stall").await;
    openai_provider(&client, &hang, "hang").await;
    openai_provider(&client, &limited, "limited").await;
    stall.set_stall_after_create(true);
    hang.set_admin_mode(Mode::Stall);
    limited.set_admin_mode(Mode::RateLimited429);
    limited.set_mode(Mode::RateLimited429);
    let garbage = raw_server(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 24\r\n\r\n{\"api_key\": \x00\xff garbage").await;
    let not_http = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02").await;
    let reset = raw_server(b"").await;
    openai_at(&client, "garbage", &garbage).await;
    openai_at(&client, "not-http", &not_http).await;
    openai_at(&client, "reset", &reset).await;

    // The tick auto-rotates all but on-stall (whose create-then-stall is for the request only,
    // so that one tick's recovery settles it).
    let faulty = ["stall", "hang", "limited", "garbage", "not-http", "reset"];
    let mut before = Vec::new();
    for p in faulty {
        overdue_key(&client, &format!("on-{p}"), p, p != "stall").await;
        before.push(read_key(&client, &format!("on-{p}")).await);
    }
    let v1 = secret("healthy");
    good.add_key(&v1);
    create_key(
        &client,
        "healthy",
        json!({ "value": v1, "provider": "good" }),
    )
    .await;

    // Requests: every faulty rotation in flight at once, then the healthy key rotates (twice:
    // once with a 1 s grace, so the next tick has its expiry to do) while they still are.
    let started = Instant::now();
    let mut inflight = Vec::new();
    for p in faulty {
        let c = client.clone();
        inflight.push(tokio::spawn(async move {
            c.write(&format!("ai-keys/rotate/on-{p}"), json!({})).await
        }));
    }
    let s = &stall;
    wait_until(
        &bao,
        "the stalling provider to create a key",
        Duration::from_secs(15),
        || async move { !s.created_keys().is_empty() },
    )
    .await;
    let healthy_rotate = |grace: &'static str| {
        let c = client.clone();
        async move {
            let r = c
                .write("ai-keys/rotate/healthy", json!({ "grace_period": grace }))
                .await;
            assert_eq!(r.status, 200, "healthy rotation: {}", r.text);
        }
    };
    healthy_rotate("0s").await;
    let healthy_secs = started.elapsed().as_secs_f64();
    let still_stalled = !inflight[0].is_finished();
    healthy_rotate("1s").await;
    let mut statuses = Vec::new();
    for (p, task) in faulty.iter().zip(inflight) {
        let r = task.await.expect("rotation task");
        assert!(
            (400..600).contains(&r.status) && r.status != 500,
            "rotate/on-{p}: expected a clear 4xx/503, got HTTP {}: {}",
            r.status,
            r.text
        );
        statuses.push(format!("{p}:{}", r.status));
    }

    // The tick: the healthy key's grace ends (and its previous key is revoked at its provider)
    // although the same tick auto-rotates five keys whose providers misbehave (each records
    // its failure), and the recovery revokes the key the stalling provider made.
    let (c, st) = (&client, &stall);
    let tick = tick_until(
        &bao,
        Tick::RecoverYoungIntents,
        "the tick's work on every key",
        RECOVERY_DEADLINE,
        || async move {
            let events = history(c, "healthy").await;
            let mut failed = 0;
            for p in &faulty[1..] {
                let k: Value = read_key(c, &format!("on-{p}")).await;
                failed += usize::from(!k["last_error"].is_null());
            }
            events.iter().any(|e| e["event"] == "expired")
                && failed == faulty.len() - 1
                && st.active_created_keys().is_empty()
        },
    )
    .await;

    for (p, was) in faulty.iter().zip(&before) {
        let name = format!("on-{p}");
        let now = read_key(&client, &name).await;
        assert_eq!(
            now["current_version"], was["current_version"],
            "{name} promoted: {now:#}"
        );
        assert!(
            now["pending_version"].is_null(),
            "{name} kept a pending version: {now:#}"
        );
    }
    assert_eq!(stall.created_keys().len(), 1, "{:?}", stall.created_keys());
    assert!(hang.created_keys().is_empty() && limited.created_keys().is_empty());
    let facts = check_key(&client, &good, "healthy").await;
    let (orphans, lost) = super::invariants::provider_disagreements(&good, &facts.live);
    assert!(
        orphans.is_empty() && lost.is_empty(),
        "{orphans:?} {lost:?}"
    );

    figures(
        "provider_faults",
        &[
            ("faulty_providers", &faulty.len()),
            ("request_statuses", &statuses.join(",")),
            (
                "healthy_rotation_during_faults_secs",
                &format!("{healthy_secs:.2}"),
            ),
            ("faulty_request_still_in_flight", &still_stalled),
            ("tick_secs", &tick.as_secs()),
            ("auto_rotations_failed_recorded", &(faulty.len() - 1)),
            ("created_by_stalling_provider", &stall.created_keys().len()),
        ],
    );
}
