//! Polling a condition until it holds, bounded in time, instead of sleeping.

use std::future::Future;
use std::time::{Duration, Instant};

use super::POLL_INTERVAL;

/// Polls the async condition `f` until it returns true; panics naming `what` after `timeout`.
///
/// Borrow what the condition needs outside and move the reference in:
/// `let c = &client; poll_until("x", t, || async move { c.read("p").await.status == 200 })`.
pub async fn poll_until<F, Fut>(what: &str, timeout: Duration, f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_until_or(what, timeout, POLL_INTERVAL, f, String::new).await;
}

/// [`poll_until`] every `interval`, returning how long the condition took; on timeout the panic
/// message adds `context()` (log tails, say).
pub async fn poll_until_or<F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut f: F,
    context: impl FnOnce() -> String,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                context()
            );
        }
        tokio::time::sleep(interval).await;
    }
}
