//! When recovery believes that an interrupted create made nothing: the streak of "nothing"
//! answers (how long, how many, what ends it), the in-flight bound, the ids it revokes, and the
//! intents it keeps (a provider configuration gone, a lookup that fails).

use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{judge, recover_create, CreateIntent, Patience, Verdict, NOT_FOUND_PERIOD};
use crate::backend::provider_ops::WAL_CREATE;
use crate::backend::testing::{wal_entries, with_key, FakeOpenRouter, Harness};
use crate::framework::{put_json, WalEntry, WalOutcome};

fn intent() -> CreateIntent {
    CreateIntent::new("k", "p", "ai-keys-k-0123456789ab".into())
}

fn at(t0: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    t0 + TimeDelta::minutes(minutes)
}

const NONE: Result<Vec<String>, String> = Ok(Vec::new());

fn ids(list: &[&str]) -> Result<Vec<String>, String> {
    Ok(list.iter().map(|s| s.to_string()).collect())
}

/// A list that left the key out twice (lag, a key hidden once) and shows it on the third
/// lookup: the key is revoked, not given up on, and the streak is over.
#[test]
fn a_key_found_after_two_empty_lookups_is_revoked() {
    let (mut i, t0, p) = (intent(), Utc::now(), Patience::PRODUCTION);
    assert_eq!(judge(&mut i, NONE, &[], t0, p), Verdict::LookAgain);
    assert_eq!(
        i.retry.next_attempt_time,
        Some(at(t0, 5)),
        "the next lookup"
    );
    assert_eq!(i.retry.attempts, 0, "\"nothing\" is no failure");
    assert_eq!(judge(&mut i, NONE, &[], at(t0, 5), p), Verdict::LookAgain);
    assert_eq!((i.not_found_since, i.not_found_lookups), (Some(t0), 2));
    let found = judge(&mut i, ids(&["key_1"]), &[], at(t0, 10), p);
    assert_eq!(found, Verdict::Revoke(vec!["key_1".into()]));
    assert_eq!((i.not_found_since, i.not_found_lookups), (None, 0));
}

/// "Nothing" is believed only after the whole period and at least three lookups: many
/// lookups in a shorter time, or two over a longer one, keep the intent.
#[test]
fn empty_lookups_keep_the_intent_until_the_period_and_the_count_agree() {
    let (mut i, t0, p) = (intent(), Utc::now(), Patience::PRODUCTION);
    for m in 0..15 {
        let v = judge(&mut i, NONE, &[], at(t0, m), p);
        assert_eq!(v, Verdict::LookAgain, "minute {m}: before the period ended");
    }
    let v = judge(&mut i, NONE, &[], at(t0, 15), p);
    assert_eq!(v, Verdict::NothingCreated);

    let mut two = intent();
    assert_eq!(judge(&mut two, NONE, &[], t0, p), Verdict::LookAgain);
    assert_eq!(
        judge(&mut two, NONE, &[], at(t0, 60), p),
        Verdict::LookAgain,
        "two lookups, however far apart, are not enough"
    );
    assert_eq!(
        judge(&mut two, NONE, &[], at(t0, 61), p),
        Verdict::NothingCreated
    );
    assert_eq!(NOT_FOUND_PERIOD.as_secs(), 15 * 60);
}

/// A lookup that fails says nothing about the key: the streak starts again after it.
#[test]
fn a_failed_lookup_starts_the_streak_again() {
    let (mut i, t0, p) = (intent(), Utc::now(), Patience::PRODUCTION);
    judge(&mut i, NONE, &[], t0, p);
    judge(&mut i, NONE, &[], at(t0, 5), p);
    let failed = judge(&mut i, Err("503".into()), &[], at(t0, 10), p);
    assert_eq!(failed, Verdict::Failed("503".into()));
    assert_eq!((i.not_found_since, i.not_found_lookups), (None, 0));
    assert_eq!(judge(&mut i, NONE, &[], at(t0, 16), p), Verdict::LookAgain);
    assert_eq!(judge(&mut i, NONE, &[], at(t0, 21), p), Verdict::LookAgain);
    assert_eq!(
        judge(&mut i, NONE, &[], at(t0, 26), p),
        Verdict::LookAgain,
        "three lookups, but only ten minutes since the failure"
    );
    assert_eq!(
        judge(&mut i, NONE, &[], at(t0, 31), p),
        Verdict::NothingCreated
    );
}

/// Every listed key no version records is revoked, with the id the intent recorded (even when
/// the list leaves it out) and the ids an earlier attempt could not revoke; recorded ones never.
#[test]
fn every_unrecorded_key_under_the_name_is_revoked() {
    let (t0, p) = (Utc::now(), Patience::PRODUCTION);
    let mut i = intent();
    i.provider_key_id = Some("key_answered".into());
    i.unrevoked_ids = vec!["key_left".into()];
    let v = judge(&mut i, ids(&["key_a", "key_b"]), &["key_a".into()], t0, p);
    assert_eq!(
        v,
        Verdict::Revoke(vec![
            "key_b".into(),
            "key_answered".into(),
            "key_left".into()
        ])
    );
    let mut recorded = intent();
    recorded.provider_key_id = Some("key_a".into());
    let v = judge(&mut recorded, NONE, &["key_a".into()], t0, p);
    assert_eq!(v, Verdict::Recorded, "the version records it");
}

/// No lookup is believed while the create may still wait for its answer: two provider
/// timeouts (the create, and its one retry after the engine's account was gone) plus a margin.
#[test]
fn a_create_is_in_flight_for_two_timeouts_and_the_margin() {
    let now = Utc::now();
    let ten = std::time::Duration::from_secs(10);
    let p = Patience::PRODUCTION;
    let born = |secs_ago: i64| now.timestamp() - secs_ago;
    assert!(p.may_be_in_flight(born(80), ten, now), "20 s + 60 s");
    assert!(!p.may_be_in_flight(born(81), ten, now));
    let quick = p.shortened(std::time::Duration::ZERO);
    assert!(
        quick.may_be_in_flight(born(20), ten, now),
        "the timeouts stay"
    );
    assert!(!quick.may_be_in_flight(born(21), ten, now));
    assert_eq!(
        (quick.period, quick.spacing),
        (Default::default(), Default::default())
    );
}

/// The tick hook's `wal_settle_after` reaches recovery through the rollback request of a test
/// build; without it the production patience holds.
#[cfg(feature = "test-hooks")]
#[tokio::test]
async fn the_tick_hook_shortens_the_patience_for_one_run() {
    let h = Harness::new().await;
    let mut req =
        crate::framework::Request::new(crate::framework::Operation::Rollback, "", h.cached.clone());
    assert_eq!(Patience::of(&req), Patience::PRODUCTION);
    req.wal_settle_after = Some(std::time::Duration::from_secs(6));
    let p = Patience::of(&req);
    assert_eq!(p.period.as_secs(), 6);
    assert_eq!(p.spacing.as_secs(), 2);
}

/// A create intent (as an earlier release wrote it: no streak fields) at `wal/c1`, an hour old.
async fn stored_intent(h: &Harness, provider: &str, extra: Value) -> WalEntry {
    let mut data =
        json!({ "key": "k", "provider": provider, "name_at_provider": "ai-keys-k-0123456789ab" });
    // Where the configuration pointed when the create was sent, as every intent now records.
    let cfg = crate::backend::provider_ops::load(h.storage.as_ref(), provider)
        .await
        .unwrap();
    if let Some(cfg) = cfg {
        data["place"] = serde_json::to_value(crate::backend::provider_ops::place_of(&cfg)).unwrap();
    }
    data.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let entry = WalEntry {
        kind: WAL_CREATE.into(),
        data,
        created_at: Utc::now().timestamp() - 3600,
    };
    put_json(h.storage.as_ref(), "wal/c1", &entry)
        .await
        .unwrap();
    entry
}

/// An intent whose provider configuration is gone may cover a key that nothing else
/// remembers: it is kept, with back-off (it used to be dropped).
#[tokio::test]
async fn an_intent_whose_provider_is_gone_is_kept_with_back_off() {
    let h = Harness::new().await;
    let entry = stored_intent(&h, "gone", json!({})).await;
    let shared = h.engine.shared.clone();
    let outcome = recover_create(
        &shared,
        h.cached.as_ref(),
        "c1",
        &entry,
        Patience::PRODUCTION,
    );
    assert_eq!(outcome.await.unwrap(), WalOutcome::Later);
    h.tick().await.unwrap();
    let kept = wal_entries(&h).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].1.data["attempts"], 1, "{:?}", kept[0].1.data);
    assert!(kept[0].1.data["next_attempt_time"].is_string());
}

/// A lookup the provider refuses ends the streak the intent had recorded, and backs off.
#[tokio::test]
async fn a_refused_lookup_resets_the_stored_streak_and_backs_off() {
    let h = Harness::new().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    fake.list_status.store(404, Ordering::SeqCst);
    let since = (Utc::now() - TimeDelta::minutes(10)).to_rfc3339();
    let streak = json!({ "not_found_since": since, "not_found_lookups": 2 });
    let entry = stored_intent(&h, "p", streak).await;
    let shared = h.engine.shared.clone();
    let outcome = recover_create(
        &shared,
        h.cached.as_ref(),
        "c1",
        &entry,
        Patience::PRODUCTION,
    );
    assert_eq!(outcome.await.unwrap(), WalOutcome::Later);
    let stored = &wal_entries(&h).await[0].1.data;
    assert!(stored.get("not_found_since").is_none(), "{stored}");
    assert!(stored.get("not_found_lookups").is_none(), "{stored}");
    assert_eq!(stored["attempts"], 1, "{stored}");
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.starts_with("GET /api/v1/keys?")));
    assert!(fake.requests().iter().all(|r| !r.starts_with("DELETE")));
}

/// Recovery of the stored intent `wal/c1` once, in a test's hurry (no period, no spacing).
async fn recover_now(h: &Harness, entry: &WalEntry) -> WalOutcome {
    let stored = wal_entries(h).await;
    let entry = stored
        .first()
        .map(|(_, e)| e.clone())
        .unwrap_or(entry.clone());
    let quick = Patience::PRODUCTION.shortened(std::time::Duration::ZERO);
    let shared = h.engine.shared.clone();
    recover_create(&shared, h.cached.as_ref(), "c1", &entry, quick)
        .await
        .unwrap()
}

fn events(history: &[Value], event: &str) -> Vec<Value> {
    history
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

/// The list leaves the key out twice, then shows it: recovery keeps the intent, looks again,
/// revokes the key it finds (and no other), settles, and the key's history tells it.
#[tokio::test]
async fn a_key_the_list_shows_on_the_third_lookup_is_revoked_and_told_in_history() {
    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    let entry = stored_intent(&h, "p", json!({})).await;
    assert_eq!(recover_now(&h, &entry).await, WalOutcome::Later);
    assert_eq!(recover_now(&h, &entry).await, WalOutcome::Later);
    fake.listed.lock().unwrap().extend([
        json!({ "name": "ai-keys-k-0123456789ab", "hash": "hash-77" }),
        json!({ "name": "ai-keys-k-0123456789ac", "hash": "hash-78" }),
    ]);
    assert_eq!(recover_now(&h, &entry).await, WalOutcome::Settled);
    let deletes: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("DELETE"))
        .collect();
    assert_eq!(deletes, ["DELETE /api/v1/keys/hash-77"]);
    let told = events(&h.history("k").await, "unrecorded_key_revoked");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0]["detail"].as_str().unwrap().contains("hash-77"));
}

/// Lookups that keep finding nothing settle the intent after the third, and the key's history
/// says that the interrupted create made nothing.
#[tokio::test]
async fn a_create_that_made_nothing_is_settled_after_three_lookups_and_told_in_history() {
    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    let entry = stored_intent(&h, "p", json!({})).await;
    assert_eq!(recover_now(&h, &entry).await, WalOutcome::Later);
    assert_eq!(recover_now(&h, &entry).await, WalOutcome::Later);
    assert!(events(&h.history("k").await, "unfinished_create_settled").is_empty());
    assert_eq!(recover_now(&h, &entry).await, WalOutcome::Settled);
    let lists = fake.requests();
    let lists = lists.iter().filter(|r| r.starts_with("GET /api/v1/keys?"));
    assert_eq!(
        lists.count(),
        3,
        "one list a lookup (an empty first page ends it)"
    );
    let told = events(&h.history("k").await, "unfinished_create_settled");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["outcome"], "nothing_created");
}

/// A configuration that points elsewhere now cannot say what an unfinished create left where
/// it was sent: the intent is kept, with back-off, and nothing is asked of the new place.
#[tokio::test]
async fn an_intent_whose_configuration_now_points_elsewhere_is_kept() {
    let h = with_key().await;
    let fake = FakeOpenRouter::start(200).await;
    fake.configure(&h, "p").await;
    let mut place =
        json!({ "provider_type": "openrouter", "base_url": "https://elsewhere.example" });
    place["scope"] = Value::Null;
    let entry = stored_intent(&h, "p", json!({ "place": place })).await;
    for _ in 0..4 {
        let stored = wal_entries(&h).await[0].1.clone();
        let shared = h.engine.shared.clone();
        let mut due = stored.clone();
        due.data["next_attempt_time"] = Value::Null;
        let quick = Patience::PRODUCTION.shortened(std::time::Duration::ZERO);
        let outcome = recover_create(&shared, h.cached.as_ref(), "c1", &due, quick)
            .await
            .unwrap();
        assert_eq!(outcome, WalOutcome::Later);
    }
    assert_eq!(wal_entries(&h).await.len(), 1, "{entry:?}");
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}
