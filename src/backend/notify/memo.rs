//! What the notification work of one mount remembers between ticks, so an idle tick lists
//! nothing: whether its outbox was empty, whether any webhook is configured, when the notices
//! were last checked. Held by the mount's tick state; every answer is re-checked after
//! [`RECHECK`] (another node may have written, before a failover) or once this process wrote
//! an outbox entry or a configuration since (the counters in `record/outbox.rs` and
//! `config.rs`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a remembered answer is trusted without a write in this process.
pub(crate) const RECHECK: Duration = Duration::from_secs(600);

#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// The outbox writes counted when the outbox was found empty, and when.
    outbox_empty: Option<(u64, Instant)>,
    /// The configuration writes counted when the webhooks were listed, the answer, and when.
    configured: Option<(u64, bool, Instant)>,
    /// When the notices were last checked.
    notices: Option<Instant>,
}

/// One mount's memory (see the module's doc).
#[derive(Debug, Default)]
pub(crate) struct Memo(Mutex<Seen>);

impl Memo {
    fn with<T>(&self, f: impl FnOnce(&mut Seen) -> T) -> Option<T> {
        self.0.lock().ok().map(|mut s| f(&mut s))
    }

    /// Whether the outbox is known empty at `writes` outbox writes.
    pub(crate) fn outbox_known_empty(&self, writes: u64) -> bool {
        self.with(|s| {
            s.outbox_empty
                .is_some_and(|(w, at)| w == writes && at.elapsed() < RECHECK)
        })
        .unwrap_or(false)
    }

    /// Remembers the outbox empty (`Some(writes)`) or not (`None`).
    pub(crate) fn set_outbox_empty(&self, writes: Option<u64>) {
        self.with(|s| s.outbox_empty = writes.map(|w| (w, Instant::now())));
    }

    /// Whether webhooks are configured, if known at `changes` configuration writes.
    pub(crate) fn configured(&self, changes: u64) -> Option<bool> {
        self.with(|s| {
            s.configured
                .filter(|(c, _, at)| *c == changes && at.elapsed() < RECHECK)
                .map(|(_, any, _)| any)
        })
        .flatten()
    }

    /// Remembers whether webhooks are configured, at `changes` configuration writes.
    pub(crate) fn set_configured(&self, changes: u64, any: bool) {
        self.with(|s| s.configured = Some((changes, any, Instant::now())));
    }

    /// Whether the notices are due for a check (`every` since the last), and if so notes now.
    pub(crate) fn notices_due(&self, every: Duration) -> bool {
        self.with(|s| {
            let due = every.is_zero() || s.notices.is_none_or(|t| t.elapsed() >= every);
            if due {
                s.notices = Some(Instant::now());
            }
            due
        })
        .unwrap_or(true)
    }
}
