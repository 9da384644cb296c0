//! Time passing, without waiting for it. The engine reads the wall clock (`Utc::now()`), so the
//! model moves what the engine compares the clock with instead: every grace window still open
//! ends a second ago, and every intent is a minute older with its retry back-off over. That is
//! what an hour passing looks like to the engine's tick and recovery, written to storage between
//! requests (as a replicated write would be) through the instance's cached storage, so its
//! record cache drops what changed.

use chrono::{TimeDelta, Utc};

use super::driver::Instance;
use crate::backend::record;
use crate::framework::{get_json, put_json, wal_list, WalEntry, WAL_PREFIX};
use crate::rotation::VersionState;

/// Ends every open grace window and ages every intent past its minimum age and back-off.
pub(super) async fn advance(engine: &Instance) {
    let storage = engine.cached.as_ref();
    let now = Utc::now();
    for name in record::list_names(storage).await.expect("list keys") {
        let Some(mut entry) = record::load(storage, &name).await.expect("load key") else {
            continue;
        };
        let mut changed = false;
        for v in entry.key.versions.versions.values_mut() {
            changed |= super::watch::age(v);
            if v.state == VersionState::Previous && v.grace_expires_time.is_some_and(|t| t > now) {
                v.grace_expires_time = Some(now - TimeDelta::seconds(1));
                changed = true;
            }
        }
        if changed {
            record::save(storage, &entry).await.expect("save key");
        }
    }
    for id in wal_list(storage).await.expect("list intents") {
        let path = format!("{WAL_PREFIX}{id}");
        let Some(mut entry) = get_json::<WalEntry>(storage, &path).await.expect("intent") else {
            continue;
        };
        entry.created_at -= 60;
        if let Some(next) = entry.data.get_mut("next_attempt_time") {
            *next = serde_json::Value::Null;
        }
        put_json(storage, &path, &entry).await.expect("age intent");
    }
}
