//! Summaries ([`get_summary`]): kept past the entries' eviction, dropped by whatever changes
//! their entry, never kept from a read that raced a write, bounded.

use super::*;

/// The summary of `k/…`: its text upper-cased, read through the cache without filling it (as a
/// scan does); counts the summaries computed.
async fn summary(s: &dyn Storage, key: &str, computed: &AtomicUsize) -> Option<String> {
    get_summary(s, key, || async {
        computed.fetch_add(1, Ordering::SeqCst);
        let text = get_cached(s, key, false, text).await?;
        Ok::<_, StorageError>(text.map(|t| t.to_uppercase()))
    })
    .await
    .unwrap()
    .map(|v| v.as_ref().clone())
}

#[tokio::test]
async fn summaries_outlive_the_entries_and_save_every_read() {
    let limits = CacheLimits {
        max_entries: 2,
        max_bytes: 1 << 20,
        max_summaries: 10,
    };
    let (probe, cache, s) = setup(limits);
    let computed = AtomicUsize::new(0);
    for i in 0..6 {
        probe
            .inner
            .put(&format!("k/{i}"), b"v".to_vec())
            .await
            .unwrap();
    }
    for round in 0..3 {
        for i in 0..6 {
            let got = summary(s.as_ref(), &format!("k/{i}"), &computed).await;
            assert_eq!(got.as_deref(), Some("V"), "round {round}");
        }
    }
    assert_eq!(
        gets(&probe),
        6,
        "one read per entry, in the first round only"
    );
    assert_eq!(computed.load(Ordering::SeqCst), 6);
    assert_eq!(cache.stats().summaries, 6);
    assert!(cache.stats().entries <= 2);
    // Absent entries have no summary and keep none.
    assert_eq!(summary(s.as_ref(), "k/absent", &computed).await, None);
    assert_eq!(cache.stats().summaries, 6);
}

#[tokio::test]
async fn a_write_an_invalidation_or_turning_off_drops_the_summary() {
    let (probe, cache, s) = setup(LIMITS);
    let computed = AtomicUsize::new(0);
    s.put("k/a", b"one".to_vec()).await.unwrap();
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("ONE")
    );
    // This node's write.
    s.put("k/a", b"two".to_vec()).await.unwrap();
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("TWO")
    );
    // The active node's write, replicated, then the host's invalidation.
    probe.inner.put("k/a", b"three".to_vec()).await.unwrap();
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("TWO"),
        "without the host's word the summary stands (it is what the cache holds)"
    );
    cache.invalidate("k/a");
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("THREE")
    );
    // A delete.
    s.delete("k/a").await.unwrap();
    assert_eq!(summary(s.as_ref(), "k/a", &computed).await, None);
    // Off: nothing kept, every summary computed again.
    s.put("k/a", b"four".to_vec()).await.unwrap();
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("FOUR")
    );
    assert_eq!(cache.stats().summaries, 1);
    cache.set_enabled(false);
    assert_eq!(cache.stats().summaries, 0);
    let before = computed.load(Ordering::SeqCst);
    summary(s.as_ref(), "k/a", &computed).await;
    summary(s.as_ref(), "k/a", &computed).await;
    assert_eq!(computed.load(Ordering::SeqCst), before + 2);
    assert_eq!(cache.stats().summaries, 0);
}

#[tokio::test]
async fn a_summary_that_raced_a_write_is_used_once_not_kept() {
    let (probe, cache, s) = setup(LIMITS);
    probe.inner.put("k/a", b"old".to_vec()).await.unwrap();
    probe.hold_gets.store(true, Ordering::SeqCst);
    let computed = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn({
        let (s, computed) = (s.clone(), computed.clone());
        async move { summary(s.as_ref(), "k/a", &computed).await }
    });
    while gets(&probe) == 0 {
        tokio::task::yield_now().await;
    }
    s.put("k/a", b"new".to_vec()).await.unwrap();
    probe.release();
    assert_eq!(reader.await.unwrap().as_deref(), Some("OLD"));
    assert_eq!(cache.stats().summaries, 0);
    probe.hold_gets.store(false, Ordering::SeqCst);
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("NEW")
    );
}

#[tokio::test]
async fn summaries_are_bounded() {
    let (probe, cache, s) = setup(LIMITS);
    let computed = AtomicUsize::new(0);
    let n = LIMITS.max_summaries + 3;
    for i in 0..n {
        probe
            .inner
            .put(&format!("k/{i}"), b"v".to_vec())
            .await
            .unwrap();
        summary(s.as_ref(), &format!("k/{i}"), &computed).await;
    }
    assert_eq!(cache.stats().summaries, LIMITS.max_summaries);
    // Those beyond the bound are computed at every scan, and correct.
    for i in 0..n {
        assert_eq!(
            summary(s.as_ref(), &format!("k/{i}"), &computed)
                .await
                .as_deref(),
            Some("V")
        );
    }
    assert_eq!(computed.load(Ordering::SeqCst), n + 3);
}

#[tokio::test]
async fn a_failed_or_cancelled_write_drops_the_summary() {
    let (probe, _, s) = setup(LIMITS);
    let computed = AtomicUsize::new(0);
    s.put("k/a", b"one".to_vec()).await.unwrap();
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("ONE")
    );
    // Failed after landing: the next summary is of what storage holds.
    probe.fail_puts.store(true, Ordering::SeqCst);
    s.put("k/a", b"two".to_vec()).await.unwrap_err();
    probe.fail_puts.store(false, Ordering::SeqCst);
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("TWO")
    );
    // Cancelled: whether it landed is unknown, so the summary is computed again.
    probe.hold_puts.store(true, Ordering::SeqCst);
    let write = s.put("k/a", b"three".to_vec());
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(10), write).await;
    assert!(timed_out.is_err());
    probe.hold_puts.store(false, Ordering::SeqCst);
    let before = computed.load(Ordering::SeqCst);
    assert_eq!(
        summary(s.as_ref(), "k/a", &computed).await.as_deref(),
        Some("TWO")
    );
    assert_eq!(computed.load(Ordering::SeqCst), before + 1);
}
