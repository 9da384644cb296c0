//! When each key next needs the periodic tick, kept in memory on the active node, so a tick at
//! 10,000 keys when nothing is due reads no key record at all.
//!
//! - Built on the first tick of the process (on the active node: a standby never ticks) from one
//!   listing of `keys/`: every key starts due, so that first tick is the full pass ticks always
//!   were. Rebuilt, not stored: storing it would mean a second write per state change (on an
//!   entry every key shares, or one per key that is no cheaper to scan than the records), and a
//!   crash between the two writes would need the same listing to repair. A new active node (a
//!   failover restarts the plugin process) builds its own on its first tick.
//! - After a key is worked on, its next time is computed from its record as stored
//!   ([`super::plan::next_work_time`]: grace end, overdue warning, automatic rotation).
//! - Any write to a key record or a schedule through this process's storage (requests, the tick
//!   itself, recovery; [`crate::framework::StorageCache::take_written`]) makes that key, or
//!   every key on that schedule, due again at the next tick, which recomputes it. Writes are only
//!   made on the active node, through that storage, so nothing changes a time unseen.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::plan::next_work_time;
use crate::backend::policy::{self, SCHEDULES_PREFIX};
use crate::backend::record::{self, KEYS_PREFIX};
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};

/// Due times by key name; `None` until built.
#[derive(Default)]
pub(crate) struct DueIndex {
    state: Mutex<Option<HashMap<String, Due>>>,
}

struct Due {
    at: DateTime<Utc>,
    schedule: String,
}

impl Due {
    fn now() -> Due {
        Due {
            at: DateTime::<Utc>::MIN_UTC,
            schedule: String::new(),
        }
    }
}

impl DueIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<String, Due>>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys due at `now`, in name order: building the index on the first call, and making
    /// due again whatever was written since the previous call.
    pub(crate) async fn due(
        &self,
        shared: &Shared,
        storage: &dyn Storage,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, Error> {
        let written = shared.records.take_written();
        if self.lock().is_none() {
            // The record of writes started above, so a write during the listing is not lost.
            let names = record::list_names(storage).await?;
            let built = names.into_iter().map(|n| (n, Due::now())).collect();
            *self.lock() = Some(built);
        }
        let mut guard = self.lock();
        let Some(index) = guard.as_mut() else {
            // Built above; a concurrent tick cannot reset it (nothing does).
            return Ok(Vec::new());
        };
        for key in written {
            if let Some(name) = key.strip_prefix(KEYS_PREFIX) {
                index.insert(name.to_string(), Due::now());
            } else if let Some(schedule) = key.strip_prefix(SCHEDULES_PREFIX) {
                // The write has landed: whatever the schedule cache holds is older.
                shared.schedules.forget(schedule);
                for due in index.values_mut().filter(|d| d.schedule == schedule) {
                    due.at = DateTime::<Utc>::MIN_UTC;
                }
            }
        }
        let mut names: Vec<String> = index
            .iter()
            .filter(|(_, d)| d.at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Recomputes key `name`'s next time from its record as stored (after the tick worked on
    /// it). A record that cannot be read stays due, so the next tick tries it again.
    pub(crate) async fn refresh(&self, shared: &Shared, storage: &dyn Storage, name: &str) {
        let due = match record::load_shared(storage, name).await {
            Ok(None) => None,
            Ok(Some(entry)) => {
                let key = &entry.key;
                match policy::periods(&shared.schedules, storage, key).await {
                    Ok(periods) => Some(Due {
                        at: next_work_time(name, key, periods, Utc::now())
                            .unwrap_or(DateTime::<Utc>::MAX_UTC),
                        schedule: key.schedule.clone(),
                    }),
                    Err(_) => Some(Due::now()),
                }
            }
            Err(_) => Some(Due::now()),
        };
        if let Some(index) = self.lock().as_mut() {
            match due {
                Some(due) => index.insert(name.to_string(), due),
                None => index.remove(name),
            };
        }
    }

    #[cfg(test)]
    /// How many keys the index holds (`None` before it is built).
    pub(crate) fn len(&self) -> Option<usize> {
        self.lock().as_ref().map(HashMap::len)
    }
}
