//! The report's rows of federated keys: no versions, only their token exchanges on this node
//! since it started (in memory, so a standby answers without writing).

use serde_json::{json, Value};

use crate::backend::record;
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};

/// A row per federated key whose name starts with `prefix`, sorted by name.
pub(super) async fn rows(
    s: &Shared,
    storage: &dyn Storage,
    prefix: &str,
) -> Result<Vec<Value>, Error> {
    let node = if s.system.is_standby().await {
        "standby"
    } else {
        "active"
    };
    let mut out = Vec::new();
    for name in record::federated_names(storage).await? {
        if !name.starts_with(prefix) {
            continue;
        }
        let Some(key) = record::load_federated(storage, &name).await? else {
            continue;
        };
        out.push(json!({
            "key": name,
            "federated": true,
            "provider": key.provider,
            "exchanges": s.tokens.stats(&name).json(s.tokens.since, node),
        }));
    }
    Ok(out)
}
