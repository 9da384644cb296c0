//! Deliveries: every one verified and parsed by the receiver; a receiver that is down gets
//! everything once it is back; a SIGKILLed plugin loses nothing (duplicates allowed, the same
//! id); no key value or signing secret in any delivery, the server log (the plugin's stderr) or
//! the audit log.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{signing_secret, Receiver};
use crate::providers::tick_until;
use crate::support::checks::secret;
use crate::support::{Bao, Client, Tick};

const DEADLINE: Duration = Duration::from_secs(60);

async fn ok(client: &Client, path: &str, body: Value) -> Value {
    let r = client.write(path, body).await;
    assert_eq!(r.status, 200, "POST {path}: {}", r.text);
    r.data().clone()
}

/// The value of the mount-wide metric `name` (JSON metrics).
async fn metric(client: &Client, name: &str) -> f64 {
    let m = client.read("ai-keys/metrics").await;
    assert_eq!(m.status, 200, "{}", m.text);
    let data = m.data();
    data["gauges"]
        .as_array()
        .into_iter()
        .chain(data["counters"].as_array())
        .flatten()
        .find(|s| s["name"] == name)
        .and_then(|s| s["value"].as_f64())
        .unwrap_or_else(|| panic!("no metric {name} in {data}"))
}

/// The events received, one per id (a duplicate must be the same event).
fn unique(receiver: &Receiver) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for e in receiver.events() {
        let id = e["id"].as_str().expect("id").to_string();
        if let Some(seen) = out.get(&id) {
            assert_eq!(seen["body"], e["body"], "a duplicate of {id} differs");
        }
        out.insert(id, e);
    }
    out
}

fn types_of(events: &BTreeMap<String, Value>, key_version: u64) -> Vec<String> {
    let mut t: Vec<String> = events
        .values()
        .filter(|e| e["data"]["version"] == key_version)
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn webhooks_get_every_event_signed_through_an_outage_and_a_plugin_kill_without_secrets() {
    let bao = Bao::start().await;
    let client = bao.client();
    let whsec = signing_secret();
    let receiver = Receiver::start(&whsec);

    // Refused as a user would see it: a 400 naming the field, nothing stored.
    let bad = client
        .write(
            "ai-keys/notifications/ops",
            json!({"url": "http://hooks.example.com/x", "secret": whsec}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("url must use https"), "{}", bad.text);
    assert!(
        !bad.text.contains(&whsec[6..]),
        "the secret is never repeated"
    );

    let shown = ok(
        &client,
        "ai-keys/notifications/ops",
        json!({"url": receiver.url, "secret": whsec}),
    )
    .await;
    assert_eq!(shown["secret_set"], true);
    assert!(!shown.to_string().contains(&whsec[6..]));

    let (v1, v2, v3) = (secret("notify1"), secret("notify2"), secret("notify3"));
    ok(&client, "ai-keys/keys/nk", json!({ "value": v1 })).await;

    // The receiver is down: the rotation goes on, the events wait and the failures count.
    receiver.set_down(true);
    ok(&client, "ai-keys/rotate/nk", json!({ "value": v2 })).await;
    let c = &client;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "failed deliveries to be counted",
        DEADLINE,
        || async move { metric(c, "ai_keys_notification_failures_total").await >= 1.0 },
    )
    .await;
    assert!(metric(&client, "ai_keys_notification_outbox_pending").await >= 3.0);
    assert!(receiver.events().is_empty());

    // The plugin dies while events wait in its outbox.
    bao.kill_plugins().await;

    // Back up: everything arrives (the next request starts the plugin again).
    receiver.set_down(false);
    let r = &receiver;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the waiting events to arrive",
        DEADLINE,
        || async move { types_of(&unique(r), 2).len() == 3 },
    )
    .await;
    ok(&client, "ai-keys/rotate/nk", json!({ "value": v3 })).await;
    tick_until(
        &bao,
        Tick::AsTheHost,
        "the next rotation's events",
        DEADLINE,
        || async move { types_of(&unique(r), 3).len() == 3 },
    )
    .await;

    let events = unique(&receiver);
    for version in [2, 3] {
        assert_eq!(
            types_of(&events, version),
            [
                "io.openbao.ai-keys.rotation.promoted",
                "io.openbao.ai-keys.rotation.staged",
                "io.openbao.ai-keys.rotation.tested"
            ],
            "version {version}"
        );
    }
    assert_eq!(events.len(), 6, "nothing else: {events:?}");
    for e in events.values() {
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["source"], "vault://ai-keys");
        assert_eq!(e["subject"], "nk");
        assert_eq!(e["datacontenttype"], "application/json");
        assert_eq!(e["headers"]["webhook-id"], e["id"]);
        assert!(e["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .starts_with("v1,"));
    }
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    assert_eq!(
        metric(&client, "ai_keys_notification_outbox_pending").await,
        0.0
    );
    assert!(metric(&client, "ai_keys_notifications_delivered_total").await >= 6.0);

    // Nothing secret anywhere: deliveries, the plugin's stderr, the audit log.
    let delivered = serde_json::to_string(&receiver.events()).unwrap();
    let logs = [
        ("deliveries", delivered),
        ("server log", bao.server_log()),
        ("audit log", bao.audit_log()),
    ];
    for s in [&v1, &v2, &v3, &whsec, &whsec[6..].to_string()] {
        for (what, text) in &logs {
            assert!(!text.contains(s.as_str()), "a secret in the {what}");
        }
    }
}
