//! The outbox and its delivery, in process: events written with the history, delivered on the
//! tick as signed CloudEvents to a local receiver, retried after a failure, leftovers of an
//! interrupted write dropped, notices written once.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::backend::record::{self, Actor, HistoryEvent, OutboxEntry, OUTBOX_PREFIX};
use crate::backend::testing::{with_key, Harness, NEW, OLD};
use crate::framework::Storage;

mod changes;
mod markers;
mod notices;
mod revocations;
mod slow;
mod versions;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver got: each request's headers and body.
type Got = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A local webhook receiver: keeps every request (headers, body) and answers `status`.
pub(super) struct Receiver {
    url: String,
    got: Got,
    status: Arc<Mutex<StatusCode>>,
}

impl Receiver {
    pub(super) async fn start() -> Receiver {
        let got: Got = Default::default();
        let status = Arc::new(Mutex::new(StatusCode::NO_CONTENT));
        let (g, s) = (got.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    g.lock().unwrap().push((headers, body.to_vec()));
                    *s.lock().unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got, status }
    }

    /// The events received, each verified with the secret, as JSON.
    pub(super) fn events(&self) -> Vec<Value> {
        let hook = standardwebhooks::Webhook::new(SECRET).unwrap();
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, body)| !body.is_empty())
            .map(|(headers, body)| {
                hook.verify(body, headers).expect("signature verifies");
                assert_eq!(headers["content-type"], "application/cloudevents+json");
                let v: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(headers["webhook-id"].to_str().unwrap(), v["id"]);
                v
            })
            .collect()
    }
}

async fn outbox(h: &Harness) -> Vec<String> {
    h.storage.list(OUTBOX_PREFIX).await.unwrap()
}

pub(super) async fn subscribe(h: &Harness, r: &Receiver) {
    h.create("notifications/ops", json!({"url": r.url, "secret": SECRET}))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rotation_is_delivered_as_signed_cloudevents_without_key_values() {
    let h = with_key().await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    // Written with the history, before any delivery.
    assert_eq!(outbox(&h).await.len(), 3, "staged, tested, promoted");
    h.tick().await.unwrap();
    let events = r.events();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "io.openbao.ai-keys.rotation.staged",
            "io.openbao.ai-keys.rotation.tested",
            "io.openbao.ai-keys.rotation.promoted"
        ]
    );
    let promoted = &events[2];
    assert_eq!(promoted["specversion"], "1.0");
    assert_eq!(promoted["source"], "vault://ai-keys");
    assert_eq!(promoted["subject"], "k");
    assert_eq!(promoted["datacontenttype"], "application/json");
    assert_eq!(promoted["data"]["version"], 2);
    assert_eq!(promoted["data"]["key"], "k");
    assert!(promoted["data"]["actor"].is_object(), "{promoted}");
    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains(NEW) && !all.contains(OLD),
        "no key value in {all}"
    );
    assert!(!all.contains("MfKQ9r8"), "no secret in {all}");
    assert!(
        outbox(&h).await.is_empty(),
        "delivered entries leave the outbox"
    );
    let stats = crate::backend::notify::stats(h.storage.as_ref())
        .await
        .unwrap();
    assert_eq!((stats.delivered, stats.failures), (3, 0));
}

#[tokio::test]
async fn a_receiver_that_fails_gets_the_event_later_with_the_same_id() {
    let h = with_key().await;
    let r = Receiver::start().await;
    h.create(
        "notifications/ops",
        json!({"url": r.url, "secret": SECRET, "events": ["rotation.promoted"]}),
    )
    .await
    .unwrap();
    *r.status.lock().unwrap() = StatusCode::SERVICE_UNAVAILABLE;
    h.write("rotate/k", json!({ "value": NEW })).await.unwrap();
    h.tick().await.unwrap();
    assert_eq!(r.got.lock().unwrap().len(), 1, "one attempt, refused");
    assert_eq!(outbox(&h).await.len(), 1, "kept for a retry");
    let stats = crate::backend::notify::stats(h.storage.as_ref())
        .await
        .unwrap();
    assert_eq!(stats.failures, 1);
    *r.status.lock().unwrap() = StatusCode::OK;
    // The test build's back-off is a second: tick until it is delivered (bounded).
    for _ in 0..40 {
        if outbox(&h).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        h.tick().await.unwrap();
    }
    assert!(
        outbox(&h).await.is_empty(),
        "delivered after the receiver recovered"
    );
    let events = r.events();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["id"], events[1]["id"],
        "a retry carries the same id"
    );
}

#[tokio::test]
async fn webhooks_get_only_their_types_and_keys() {
    let h = Harness::new().await;
    h.create_key("team-a", OLD).await;
    h.create_key("other", OLD).await;
    let r = Receiver::start().await;
    h.create(
        "notifications/ops",
        json!({"url": r.url, "secret": SECRET, "events": ["rotation.promoted"], "key_prefix": "team-"}),
    )
    .await
    .unwrap();
    h.write("rotate/team-a", json!({ "value": NEW }))
        .await
        .unwrap();
    h.write("rotate/other", json!({ "value": NEW }))
        .await
        .unwrap();
    h.tick().await.unwrap();
    let events = r.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["subject"], "team-a");
    assert!(outbox(&h).await.is_empty(), "what nobody wants leaves too");
}

#[tokio::test]
async fn an_outbox_entry_whose_event_was_never_stored_is_dropped_unsent() {
    let h = with_key().await;
    let r = Receiver::start().await;
    subscribe(&h, &r).await;
    // What a crash between the outbox write and the record's leaves: an event past the log.
    let event = HistoryEvent {
        time: chrono::Utc::now(),
        event: "promoted".into(),
        version: Some(9),
        actor: Actor::Scheduler,
        request_id: None,
        outcome: None,
        detail: String::new(),
    };
    let entry = OutboxEntry::new("k", 1, Some(40), "40", event);
    record::put_outbox(h.storage.as_ref(), &entry)
        .await
        .unwrap();
    h.tick().await.unwrap();
    assert!(r.got.lock().unwrap().is_empty(), "nothing sent");
    assert!(outbox(&h).await.is_empty());
    let stats = crate::backend::notify::stats(h.storage.as_ref())
        .await
        .unwrap();
    assert_eq!(stats.abandoned, 1);
}

#[tokio::test]
async fn a_tested_version_under_the_two_person_rule_says_who_may_approve() {
    let h = with_key().await;
    h.write("config", json!({"require_separate_approver": true}))
        .await
        .unwrap();
    let r = Receiver::start().await;
    h.create(
        "notifications/ops",
        json!({"url": r.url, "secret": SECRET, "events": ["rotation.tested"]}),
    )
    .await
    .unwrap();
    h.write("stage/k", json!({ "value": NEW })).await.unwrap();
    h.write("test/k", json!({})).await.unwrap();
    h.tick().await.unwrap();
    let events = r.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let approval = &events[0]["data"]["awaiting_approval"]["may_approve"];
    assert!(
        approval
            .as_str()
            .unwrap()
            .contains("other than the one that staged"),
        "{approval}"
    );
}

/// Every history event the outbox keeps has a notification type, every type a webhook may ask
/// for has a cause (history events named by other parts before they exist included), and
/// nothing else is notified.
#[test]
fn every_notified_event_has_a_type_and_every_type_a_cause() {
    use super::config::TYPES;
    use super::event::type_of;
    let event = |kind: &str, outcome: Option<&str>| HistoryEvent {
        time: chrono::Utc::now(),
        event: kind.into(),
        version: Some(1),
        actor: Actor::Scheduler,
        request_id: None,
        outcome: outcome.map(str::to_string),
        detail: String::new(),
    };
    let notices = [
        "revocation_pending_long",
        "provider_revocation_failed",
        "due_soon",
        "overdue",
        "provider_expiry_near",
    ];
    let mut caused = std::collections::BTreeSet::new();
    for kind in record::NOTIFIED_EVENTS.iter().chain(notices.iter()) {
        let outcome = (*kind == "usage_checked").then_some("max_grace");
        let ty = type_of(&event(kind, outcome)).unwrap_or_else(|| panic!("{kind} has no type"));
        assert!(
            TYPES.contains(&ty),
            "{ty} is not a type webhooks may ask for"
        );
        caused.insert(ty);
    }
    // A rotation refused by the provider's key-expiry policy: a `failed` event saying so.
    let refused = event("failed", Some(record::OUTCOME_POLICY_REFUSED));
    caused.extend(type_of(&refused));
    assert_eq!(
        caused.len(),
        TYPES.len(),
        "a type nothing causes: {caused:?}"
    );
    for kind in [
        "created",
        "updated",
        "deleted",
        "expired",
        "rolled_back",
        "usage_checked",
    ] {
        assert_eq!(type_of(&event(kind, None)), None, "{kind} is not notified");
    }
}

/// A rotation the provider's key-expiry policy refused (a `failed` event with that outcome)
/// is delivered as `key.provider_policy_refused`, its version the number the new version was
/// to get; any other failure as `rotation.failed`, whatever its detail says.
#[test]
fn a_key_expiry_policy_refusal_is_delivered_as_provider_policy_refused() {
    use super::event::type_of;
    let failed = |outcome: Option<&str>, detail: &str| HistoryEvent {
        time: chrono::Utc::now(),
        event: "failed".into(),
        version: Some(4),
        actor: Actor::Scheduler,
        request_id: None,
        outcome: outcome.map(str::to_string),
        detail: detail.into(),
    };
    let refused = failed(Some(record::OUTCOME_POLICY_REFUSED), "refused");
    assert!(record::NOTIFIED_EVENTS.contains(&"failed"));
    assert_eq!(type_of(&refused), Some("key.provider_policy_refused"));
    assert_eq!(record::attempted(&refused), Some("planned"));
    // A detail that reads like one is not one: the outcome decides.
    let other = failed(
        Some(record::OUTCOME_NOT_STAGED),
        "creating a key at the provider: key-expiry policy refusal: made up",
    );
    assert_eq!(type_of(&other), Some("rotation.failed"));
    assert_eq!(record::attempted(&other), Some("planned"));
    assert_eq!(
        record::attempted(&failed(Some("bad_key"), "")),
        Some("staged")
    );
    // The engine writes no history event of that name: only the `failed` one causes the type.
    assert!(!record::NOTIFIED_EVENTS.contains(&"provider_policy_refused"));
}
