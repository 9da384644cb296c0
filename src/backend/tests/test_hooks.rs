//! The tick hook (`test-hooks/tick`): served only by builds with the `test-hooks` feature, and
//! there it runs what the host's periodic `rollback` call runs, with the WAL entries' minimum age
//! and the recovery's patience lowered for that one run when asked.

use serde_json::Value;

use crate::backend::testing::Harness;

/// The OpenAPI document lists the hook exactly when the build has the feature: scripts/test.sh
/// builds the tests with it, and a release build (no feature) neither serves nor documents it.
/// Run both ways: `cargo test --lib test_hooks` and `cargo test --lib --features test-hooks
/// test_hooks`.
#[tokio::test]
async fn the_tick_hook_is_served_only_by_builds_with_the_feature() {
    let h = Harness::new().await;
    let doc = h.openapi().await;
    let paths = doc["paths"].as_object().expect("paths");
    let hooks: Vec<&String> = paths.keys().filter(|p| p.contains("test-hooks")).collect();
    if cfg!(feature = "test-hooks") {
        assert_eq!(hooks, ["/test-hooks/tick"], "{hooks:?}");
        let item = &paths["/test-hooks/tick"];
        assert!(item["post"].is_object(), "{item:#}");
        assert!(
            item["description"]
                .as_str()
                .is_some_and(|d| d.contains("test builds only")),
            "{item:#}"
        );
    } else {
        assert!(
            hooks.is_empty(),
            "a build without the feature serves {hooks:?}"
        );
        let refused = h
            .write("test-hooks/tick", Value::Object(Default::default()))
            .await;
        assert!(
            matches!(refused, Err(crate::framework::Error::UnsupportedPath)),
            "{refused:?}"
        );
    }
}

#[cfg(feature = "test-hooks")]
mod with_the_feature {
    use serde_json::json;

    use crate::backend::testing::{
        expect_bad_request, revoke_intent_of_a_deleted_key, wal_entries, with_unrecorded_grace_end,
        Harness,
    };

    /// The periodic part: a grace window that has ended (in storage, not yet recorded) is
    /// recorded by one write to the hook, as by the host's tick: `expired` by the scheduler.
    #[tokio::test]
    async fn the_hook_runs_the_periodic_work() {
        let h = with_unrecorded_grace_end().await;
        assert_eq!(
            h.history("k")
                .await
                .iter()
                .filter(|e| e["event"] == "expired")
                .count(),
            0
        );

        assert_eq!(
            h.write("test-hooks/tick", json!({})).await.unwrap(),
            json!(null)
        );
        let events = h.history("k").await;
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "expired" && e["actor"] == "scheduler" && e["version"] == 1),
            "{events:#?}"
        );
    }

    /// The WAL part: an intent ten seconds old is younger than the engine's minimum age (30 s),
    /// so neither the host's tick nor the hook by default touches it; the hook with
    /// `wal_min_age=0` recovers it (here: a revocation tried, refused by a provider type that
    /// cannot revoke, and backed off), and the host's tick keeps its own minimum. The hook never
    /// raises the minimum.
    #[tokio::test]
    async fn the_hook_lowers_the_wal_minimum_age_for_its_run_only() {
        let h = Harness::new().await;
        let young = revoke_intent_of_a_deleted_key(&h, 10).await;
        let stored = || async { wal_entries(&h).await[0].1.data.clone() };

        h.tick().await.unwrap();
        h.write("test-hooks/tick", json!({})).await.unwrap();
        assert_eq!(stored().await, young.data, "a young intent was recovered");

        let above = h
            .write("test-hooks/tick", json!({ "wal_min_age": "31s" }))
            .await;
        let message = expect_bad_request(above);
        assert!(message.contains("wal_min_age"), "{message}");

        h.write("test-hooks/tick", json!({ "wal_min_age": 0 }))
            .await
            .unwrap();
        let after = stored().await;
        assert_eq!(after["attempts"], 1, "not recovered: {after}");
        assert!(after["next_attempt_time"].is_string(), "{after}");
    }

    /// A create intent an hour old whose name the provider (a fake OpenRouter listing nothing)
    /// does not show, as `wal/c1`; the harness, and the fake.
    async fn unfinished_create() -> (Harness, crate::backend::testing::FakeOpenRouter) {
        let h = crate::backend::testing::with_key().await;
        let fake = crate::backend::testing::FakeOpenRouter::start(200).await;
        fake.configure(&h, "p").await;
        let entry = crate::framework::WalEntry {
            kind: crate::backend::provider_ops::WAL_CREATE.into(),
            data: json!({ "key": "k", "provider": "p", "name_at_provider": "ai-keys-k-0123456789ab" }),
            created_at: chrono::Utc::now().timestamp() - 3600,
        };
        crate::framework::put_json(h.storage.as_ref(), "wal/c1", &entry)
            .await
            .unwrap();
        (h, fake)
    }

    /// The host's ticks look once and then wait five minutes (a create that made nothing is
    /// believed only after 15 minutes); the hook with `wal_settle_after=0` looks once a run and
    /// settles the intent at the third. More than a day is refused.
    #[tokio::test]
    async fn the_hook_shortens_the_recovery_patience_for_its_run_only() {
        let (host, _fake) = unfinished_create().await;
        for _ in 0..3 {
            host.tick().await.unwrap();
        }
        let kept = wal_entries(&host).await;
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(
            kept[0].1.data["not_found_lookups"], 1,
            "{:?}",
            kept[0].1.data
        );

        let (h, _fake) = unfinished_create().await;
        let quick = json!({ "wal_min_age": 0, "wal_settle_after": 0 });
        for run in 1..=2 {
            h.write("test-hooks/tick", quick.clone()).await.unwrap();
            let kept = wal_entries(&h).await;
            assert_eq!(kept[0].1.data["not_found_lookups"], run, "{kept:?}");
        }
        h.write("test-hooks/tick", quick).await.unwrap();
        assert!(
            wal_entries(&h).await.is_empty(),
            "settled at the third lookup"
        );

        let above = h
            .write("test-hooks/tick", json!({ "wal_settle_after": "25h" }))
            .await;
        let message = expect_bad_request(above);
        assert!(message.contains("wal_settle_after"), "{message}");
    }
}
