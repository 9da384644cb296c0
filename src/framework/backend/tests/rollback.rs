//! Rollback: the periodic function and WAL entries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{req, storage};
use crate::framework::*;

fn wal_backend(calls: Arc<AtomicUsize>, periodic_fails: bool) -> Backend {
    let periodic: PeriodicFn = Arc::new(move |_req| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            if periodic_fails {
                return Err(Error::Internal("periodic broke".into()));
            }
            Ok(())
        })
    });
    let rollback: WalRollbackFn = Arc::new(|_req, _id, entry: WalEntry| {
        Box::pin(async move {
            match entry.kind.as_str() {
                "good" => Ok(WalOutcome::Settled),
                "later" => Ok(WalOutcome::Later),
                _ => Err(Error::Internal(format!("cannot undo {}", entry.data["n"]))),
            }
        })
    });
    Backend::new("")
        .periodic(periodic)
        .wal_rollback(rollback, Duration::from_secs(600))
}

async fn put_entry(s: &InMemoryStorage, id: &str, kind: &str, age_secs: i64) {
    let entry = WalEntry {
        kind: kind.into(),
        data: json!({"n": id}),
        created_at: chrono::Utc::now().timestamp() - age_secs,
    };
    put_json(s, &format!("wal/{id}"), &entry).await.unwrap();
}

#[tokio::test]
async fn rollback_runs_periodic_and_old_wal_entries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (b, s) = (wal_backend(calls.clone(), false), storage());
    put_entry(&s, "old-good", "good", 601).await;
    put_entry(&s, "young-good", "good", 30).await;
    put_entry(&s, "old-bad", "bad", 3600).await;

    let err = b
        .handle_request(req(Operation::Rollback, "", &s))
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(err.status(), 500);
    assert_eq!(
        err.to_string(),
        "error rolling back \"bad\" entry: cannot undo \"old-bad\""
    );
    assert_eq!(
        s.keys(),
        ["wal/old-bad", "wal/young-good"],
        "success deleted, failure and young kept"
    );

    // "immediate" rolls back every entry whatever its age.
    let r = req(Operation::Rollback, "", &s).with_data(json!({"immediate": null}));
    assert!(b.handle_request(r).await.is_err());
    assert_eq!(s.keys(), ["wal/old-bad"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn rollback_collects_all_errors_and_succeeds_when_clean() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (b, s) = (wal_backend(calls.clone(), true), storage());
    put_entry(&s, "a", "bad", 700).await;
    put_entry(&s, "b", "bad", 700).await;
    s.put("wal/corrupt", b"not json".to_vec()).await.unwrap();
    let err = b
        .handle_request(req(Operation::Rollback, "", &s))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("periodic broke; "), "{msg}");
    assert!(
        msg.contains("cannot undo \"a\"") && msg.contains("cannot undo \"b\""),
        "{msg}"
    );
    assert!(msg.contains("wal/corrupt"), "{msg}");

    let (b, s) = (wal_backend(calls, false), storage());
    put_entry(&s, "g", "good", 700).await;
    assert_eq!(
        b.handle_request(req(Operation::Rollback, "", &s))
            .await
            .unwrap(),
        None
    );
    assert!(s.keys().is_empty());
    // Without callbacks rollback is a no-op.
    let plain = Backend::new("");
    assert_eq!(
        plain
            .handle_request(req(Operation::Rollback, "", &s))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn rollback_honours_configured_min_age_and_real_wal_put() {
    let (b, s) = (wal_backend(Arc::new(AtomicUsize::new(0)), false), storage());
    let b = Backend {
        wal_min_age: Duration::from_secs(0),
        ..b
    };
    wal_put(s.as_ref(), "good", &json!({})).await.unwrap();
    // Created this second: not strictly older than now - 0 yet.
    b.handle_request(req(Operation::Rollback, "", &s))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    b.handle_request(req(Operation::Rollback, "", &s))
        .await
        .unwrap();
    assert!(s.keys().is_empty());
}

#[tokio::test]
async fn rollback_keeps_entry_when_delete_fails() {
    let (b, s) = (wal_backend(Arc::new(AtomicUsize::new(0)), false), storage());
    put_entry(&s, "g", "good", 700).await;
    s.set_read_only(true);
    let err = b
        .handle_request(req(Operation::Rollback, "", &s))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "cannot write to readonly storage");
    assert_eq!(s.keys(), ["wal/g"]);
}

#[tokio::test]
async fn later_keeps_an_entry_quietly_and_a_spent_budget_starts_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (b, s) = (wal_backend(calls.clone(), false), storage());
    put_entry(&s, "a", "later", 3600).await;
    put_entry(&s, "b", "good", 3600).await;
    assert!(
        b.handle_request(req(Operation::Rollback, "", &s))
            .await
            .is_ok(),
        "Later is not an error"
    );
    assert_eq!(s.keys(), ["wal/a"]);

    let spent = wal_backend(calls, false).wal_budget(Duration::ZERO);
    put_entry(&s, "c", "good", 3600).await;
    assert!(spent
        .handle_request(req(Operation::Rollback, "", &s))
        .await
        .is_ok());
    assert_eq!(s.keys(), ["wal/a", "wal/c"], "nothing started");
}

/// A rollback never overlaps another: the host starts none while one is in flight, and the tick
/// hook of test builds waits for the host's run (and the other way round), so a test's tick can
/// never make two recoveries of one entry race. Here the host's run holds the periodic function
/// until told to finish; a second run started meanwhile enters it only after.
#[tokio::test]
async fn rollbacks_run_one_at_a_time() {
    let entered = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let (e, r) = (entered.clone(), release.clone());
    let periodic: PeriodicFn = Arc::new(move |_req| {
        let (e, r) = (e.clone(), r.clone());
        Box::pin(async move {
            if e.fetch_add(1, Ordering::SeqCst) == 0 {
                r.notified().await;
            }
            Ok(())
        })
    });
    let b = Arc::new(Backend::new("").periodic(periodic));
    let s = storage();
    let run = |b: Arc<Backend>, s: Arc<InMemoryStorage>| {
        tokio::spawn(async move { b.handle_request(req(Operation::Rollback, "", &s)).await })
    };
    let first = run(b.clone(), s.clone());
    while entered.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let second = run(b.clone(), s.clone());
    // The current-thread runtime polls the second run on these yields: without the lock it
    // would enter the periodic function at once.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        entered.load(Ordering::SeqCst),
        1,
        "two rollbacks overlapped"
    );
    release.notify_one();
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(entered.load(Ordering::SeqCst), 2);
}

/// The tick hook (`test-hooks` builds) runs the backend's rollback work: the periodic function
/// and the WAL entries older than the minimum age, which `wal_min_age` lowers for that run.
#[cfg(feature = "test-hooks")]
#[tokio::test]
async fn the_tick_hook_runs_the_rollback_work() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (b, s) = (wal_backend(calls.clone(), false).test_hooks(), storage());
    put_entry(&s, "old", "good", 601).await;
    put_entry(&s, "young", "good", 30).await;
    let hook =
        |data: serde_json::Value| req(Operation::Update, "test-hooks/tick", &s).with_data(data);
    assert_eq!(b.handle_request(hook(json!({}))).await.unwrap(), None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.keys(), ["wal/young"]);
    b.handle_request(hook(json!({ "wal_min_age": "10s" })))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(s.keys().is_empty());
    let refused = b
        .handle_request(hook(json!({ "wal_min_age": "11m" })))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), 400, "{refused}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a refused run ran");
}
