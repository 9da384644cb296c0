//! What the periodic work keeps in memory between ticks on the active node: the index of due
//! times and when the last tick finished without a failure (exported by `metrics`). Rebuilt by
//! a new process, never stored.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

use super::due_index::DueIndex;

/// The periodic work's memory, one per mount.
#[derive(Default)]
pub(crate) struct TickState {
    /// When each key next needs the tick.
    pub due: DueIndex,
    /// When the periodic work last finished without a failure.
    pub ticks: TickClock,
    /// What the notification work remembers between ticks.
    pub notify: crate::backend::notify::Memo,
}

/// When the periodic work last finished with no failure (Unix microseconds): the plugin's start
/// until then (so "no successful tick for N minutes" also covers a plugin that never ticked).
/// In memory on purpose: recording it writes nothing to storage every minute.
#[derive(Debug)]
pub(crate) struct TickClock(AtomicI64);

impl Default for TickClock {
    fn default() -> Self {
        TickClock(AtomicI64::new(Utc::now().timestamp_micros()))
    }
}

impl TickClock {
    /// Records a successful tick at `now`.
    pub(crate) fn record(&self, now: DateTime<Utc>) {
        self.0.fetch_max(now.timestamp_micros(), Ordering::Relaxed);
    }

    /// The last successful tick (or the start), in Unix seconds.
    pub(crate) fn last(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e6
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn tick_clock_starts_at_start_and_never_goes_back() {
        let clock = TickClock::default();
        let start = clock.last();
        assert!((Utc::now().timestamp() as f64 - start).abs() <= 1.0);
        let later = Utc::now() + TimeDelta::minutes(1);
        clock.record(later);
        clock.record(later - TimeDelta::minutes(5));
        assert_eq!(clock.last(), later.timestamp_micros() as f64 / 1e6);
    }
}
