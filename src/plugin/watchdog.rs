//! Exiting when nobody will ever talk to us again (plugin-protocol.md 8.3, 8.5): the host sends
//! no signal when it dies, and leaves us orphaned when its TLS handshake fails.

use std::sync::Arc;
use std::time::Duration;

use super::controller::Lifecycle;

/// Resolves when our parent process is gone (we were re-parented).
pub async fn parent_gone() {
    let parent = std::os::unix::process::parent_id();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != parent {
            tracing::warn!("the server process is gone; exiting");
            return;
        }
    }
}

/// Resolves if the host has not connected within `limit`.
pub async fn never_connected(lifecycle: Arc<Lifecycle>, limit: Duration) {
    tokio::time::sleep(limit).await;
    if lifecycle.connected() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_host_never_connects() {
        let lifecycle = Lifecycle::new();
        tokio::time::timeout(
            Duration::from_secs(61),
            never_connected(lifecycle, Duration::from_secs(60)),
        )
        .await
        .expect("resolves after the limit");
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_running_once_the_host_connected() {
        let lifecycle = Lifecycle::new();
        lifecycle.mark_connected();
        let waited = tokio::time::timeout(
            Duration::from_secs(3600),
            never_connected(lifecycle, Duration::from_secs(60)),
        )
        .await;
        assert!(waited.is_err(), "must never resolve after a connection");
    }
}
