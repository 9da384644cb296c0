//! Short fixed step lists through the model's own driver: each newer operation does what the
//! random runs count on (a health check falls due and sees a disabled key, a leak report takes
//! a version away, reconcile spares another mount's key), and the new checks can fail.

use serde_json::Value;

use super::faults::Fault;
use super::invariants::{self, Invariant};
use super::leaks::{LeakBy, Promise};
use super::ops::{self, Op, Source};
use super::watch;
use super::world::World;
use crate::backend::record;
use crate::framework::Operation;

async fn step(w: &mut World, op: Op) -> String {
    let outcome = ops::apply(w, &op, Fault::None).await;
    let broken = invariants::check(w).await;
    assert!(broken.is_empty(), "{op:?}: {broken:?}\n{}", w.replay());
    outcome
}

async fn created(w: &mut World, key: &'static str) {
    let create = Op::Create {
        key,
        provider: "p1",
        source: Source::Engine,
    };
    assert_eq!(step(w, create).await, "ok");
}

/// A key watched every 30 s, disabled by a person: after time passes, the tick's health check
/// flags it (what (h) requires), and with `auto_rotate` it is rotated instead.
#[tokio::test]
async fn a_disabled_current_key_is_flagged_or_rotated_by_the_next_due_tick() {
    for auto_rotate in [false, true] {
        let mut w = World::new(2, 10).await;
        created(&mut w, "k0").await;
        let watch = Op::Watch {
            key: "k0",
            short: true,
            auto_rotate,
        };
        assert_eq!(step(&mut w, watch).await, "ok");
        step(&mut w, Op::PersonDisables { key: "k0" }).await;
        assert!(watch::refused(&w, true).await.is_empty(), "not due yet");
        step(&mut w, Op::Advance).await;
        assert_eq!(watch::refused(&w, true).await.len(), 1, "due and refused");
        step(&mut w, Op::Tick { immediate: false }).await;
        assert_eq!(w.stats.refused_judged, 1);
        let e = record::load(w.engine.cached.as_ref(), "k0")
            .await
            .unwrap()
            .unwrap();
        let v1 = &e.key.versions.versions[&1];
        if auto_rotate {
            assert_eq!(e.key.versions.current_version(), Some(2), "{auto_rotate}");
        } else {
            assert!(v1.rejected_since().is_some(), "{:?}", v1.health_check);
        }
    }
}

/// A current version reported leaked is rotated away, and never served again; a report of a
/// value no key holds is a 404. The check sees a leaked version made current again.
#[tokio::test]
async fn a_leaked_current_version_is_rotated_away_and_the_check_sees_it_come_back() {
    let mut w = World::new(2, 10).await;
    created(&mut w, "k0").await;
    let unknown = Op::Exposed {
        key: "k0",
        pick: 0,
        by: LeakBy::Unknown,
    };
    assert!(step(&mut w, unknown).await.starts_with("404"));
    let leak = Op::Exposed {
        key: "k0",
        pick: 0,
        by: LeakBy::Sha256,
    };
    assert_eq!(step(&mut w, leak).await, "ok");
    assert_eq!(w.leaked.len(), 1);
    let creds = w
        .engine
        .answer(Operation::Read, "creds/k0", Value::Null)
        .await
        .unwrap();
    assert_eq!(creds["version"], 2, "{creds}");

    // The check can fail: a promise about the version served now is broken at once.
    let e = record::load(w.engine.cached.as_ref(), "k0")
        .await
        .unwrap()
        .unwrap();
    w.leaked.push(Promise {
        key: "k0".into(),
        version: 2,
        fingerprint: e.key.versions.versions[&2].fingerprint.clone(),
        marked: false,
    });
    let broken: Vec<Invariant> = invariants::check(&w)
        .await
        .into_iter()
        .map(|v| v.invariant)
        .collect();
    assert!(
        broken.contains(&Invariant::LeakedStaysRetired),
        "{broken:?}"
    );
}

/// Reconcile leaves another mount's key and the keys records claim alone, also with two
/// provider configurations at one host.
#[tokio::test]
async fn reconcile_spares_claimed_keys_and_another_mounts_key() {
    let mut w = World::new(2, 10).await;
    created(&mut w, "k0").await;
    let together = Op::MoveProvider {
        provider: "p2",
        host: 0,
    };
    assert_eq!(step(&mut w, together).await, "ok");
    for dry_run in [true, false] {
        assert_eq!(step(&mut w, Op::Reconcile { dry_run }).await, "ok");
    }
    assert_eq!(w.stats.reconciled_ok, 2);
    assert_eq!(
        w.fakes[0].active_created_keys().len(),
        2,
        "k0's and another mount's"
    );
}

/// At the OpenAI configuration, a retired version's key gets its grace end as its expiry at
/// the provider, and a rollback gives it its life back; the check (i) sees a current key set
/// to expire soon.
#[tokio::test]
async fn an_openai_key_expires_at_its_grace_end_and_a_rollback_gives_its_life_back() {
    let mut w = World::new(2, 10).await;
    let create = Op::Create {
        key: "k0",
        provider: super::world::OPENAI,
        source: Source::Engine,
    };
    assert_eq!(step(&mut w, create).await, "ok");
    let rotate = Op::Rotate {
        key: "k0",
        grace: 3600,
        source: Source::Engine,
    };
    assert_eq!(step(&mut w, rotate).await, "ok");
    let e = record::load(w.engine.cached.as_ref(), "k0")
        .await
        .unwrap()
        .unwrap();
    let id = e.key.versions.versions[&1].provider_key_id.clone().unwrap();
    let at = w.fakes[0].key_expires_at(&id).expect("an expiry");
    let grace_end = chrono::Utc::now().timestamp() + 3600;
    assert!(
        (grace_end - 60..=grace_end).contains(&at),
        "{at} {grace_end}"
    );
    assert_eq!(step(&mut w, Op::Rollback { key: "k0" }).await, "ok");
    let at = w.fakes[0].key_expires_at(&id).expect("an expiry");
    assert!(
        at > grace_end + 3600,
        "the reinstated key got its life back"
    );

    w.fakes[0].set_key_expires_at(&id, Some(grace_end));
    let broken: Vec<Invariant> = invariants::check(&w)
        .await
        .into_iter()
        .map(|v| v.invariant)
        .collect();
    assert_eq!(broken, [Invariant::CurrentKeepsItsLifetime]);
}
