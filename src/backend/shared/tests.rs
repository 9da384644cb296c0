//! The federated keys' exchange counts: by key and outcome, the error text bounded, a deleted
//! key's dropped, the mount-wide counters kept in step.

use std::sync::atomic::Ordering;

use chrono::Utc;
use serde_json::json;

use super::TokenCache;

#[test]
fn exchange_counts_are_per_key_and_outcome_with_a_bounded_error_text() {
    let cache = TokenCache::default();
    let now = Utc::now();
    cache.count("a", now, Ok(()));
    cache.count("a", now, Err(("bad_key", "refused (invalid_grant)")));
    // A long error (multi-byte characters across the cut) is kept to 512 bytes, whole chars.
    let long = format!("a{}", "é".repeat(400));
    cache.count("b", now, Err(("provider_unavailable", &long)));
    cache.count("b", now, Err(("provider_unavailable", &long)));

    let a = cache.stats("a");
    assert_eq!((a.ok, a.failed.get("bad_key")), (1, Some(&1)));
    let shown = a.json(cache.since, "active");
    assert_eq!(
        shown["failed"],
        json!({"bad_key": 1, "provider_unavailable": 0})
    );
    assert_eq!(shown["last_error"], "refused (invalid_grant)");
    let b = cache.stats("b");
    let (_, error) = b.last_failure.clone().unwrap();
    assert_eq!(
        error.len(),
        511,
        "cut before the character byte 512 falls in"
    );
    assert_eq!(b.failed.get("provider_unavailable"), Some(&2));
    assert_eq!(cache.exchanges.load(Ordering::Relaxed), 1);
    assert_eq!(cache.failures.load(Ordering::Relaxed), 3);

    // A key never read shows zeros; a deleted key's counts go.
    assert_eq!(cache.stats("c").json(cache.since, "standby")["ok"], 0);
    cache.forget_counts("a");
    assert_eq!(cache.stats("a").ok, 0);
    assert_eq!(cache.all_stats().keys().collect::<Vec<_>>(), ["b"]);
}
