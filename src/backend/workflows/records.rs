//! The administrator's way out for a key record no `keys/` path can use: one the engine refuses
//! (newer format, stored under another key's name, breaking an invariant) or whose name breaks
//! the name rule (stored by an older release or by hand). [`inspect`] tells what it holds
//! without values; [`remove`] deletes it by its exact storage path, never leaving a key alive
//! at a provider with no record: a usable record goes through the `keys/` delete workflow (its
//! revocations written down first), and a refused one is removed only when every live key it
//! holds that the engine owns is recorded by the key it names.

use std::sync::Arc;

use serde_json::{json, Value};

use super::delete::delete as delete_key;
use crate::backend::record::{self, KeyEntry, Stored};
use crate::backend::shared::Shared;
use crate::framework::{is_valid_name, Error, Request, Storage};

/// One live version whose key the engine owns at a provider: (version, provider, provider key
/// id).
type LiveOwned = (u32, String, String);

fn live_owned(entry: &KeyEntry) -> Vec<LiveOwned> {
    let key = &entry.key;
    key.versions
        .versions
        .values()
        .filter(|v| v.state.keeps_value())
        .filter(|v| v.origin.is_some() || v.owned())
        .filter_map(|v| {
            let id = v.provider_key_id.clone()?;
            let provider = v.provider.clone().or_else(|| key.provider.clone())?;
            Some((v.number, provider, id))
        })
        .collect()
}

/// The live owned keys of `entry` that no usable record claims: the key `entry` names, read
/// from its own path, recording the same provider key id live.
async fn unclaimed(storage: &dyn Storage, entry: &KeyEntry) -> Vec<LiveOwned> {
    let claimed: Vec<String> = match record::load(storage, &entry.key.name).await {
        Ok(Some(owner)) => live_owned(&owner)
            .into_iter()
            .map(|(_, _, id)| id)
            .collect(),
        _ => Vec::new(),
    };
    live_owned(entry)
        .into_iter()
        .filter(|(_, _, id)| !claimed.contains(id))
        .collect()
}

fn live_json(live: &[LiveOwned]) -> Value {
    live.iter()
        .map(|(version, provider, id)| {
            json!({ "version": version, "provider": provider, "provider_key_id": id })
        })
        .collect()
}

/// What `keys/<name>` holds, without values: `None` if nothing is stored there.
pub(crate) async fn inspect(storage: &dyn Storage, name: &str) -> Result<Option<Value>, Error> {
    let path = record::key_path(name);
    let mut out = json!({ "path": path, "name_valid": is_valid_name(name) });
    match record::inspect_stored(storage, name).await? {
        Stored::Missing => return Ok(None),
        Stored::Usable(entry) => {
            out["usable"] = json!(true);
            out["stored_name"] = json!(entry.key.name);
            out["live_provider_keys"] = live_json(&live_owned(&entry));
            out["unclaimed_provider_keys"] = json!([]);
        }
        Stored::Refused { reason, entry } => {
            out["usable"] = json!(false);
            out["reason"] = json!(reason);
            if let Some(entry) = entry {
                out["stored_name"] = json!(entry.key.name);
                out["live_provider_keys"] = live_json(&live_owned(&entry));
                out["unclaimed_provider_keys"] = live_json(&unclaimed(storage, &entry).await);
            }
        }
    }
    Ok(Some(out))
}

/// Deletes `keys/<name>` by its exact path (see the module doc); 404 naming the path if
/// nothing is stored there (an exact-path delete that found nothing says so).
pub(crate) async fn remove(
    shared: &Arc<Shared>,
    req: &Request,
    name: &str,
) -> Result<Option<Value>, Error> {
    let storage = req.storage.as_ref();
    let path = record::key_path(name);
    let stored = record::inspect_stored(storage, name).await?;
    match stored {
        Stored::Missing => Err(Error::NotFound(format!("nothing is stored at {path}"))),
        Stored::Usable(_) if is_valid_name(name) => Err(Error::BadRequest(format!(
            "the record at {path} is usable: delete it through keys/{name}, which revokes what \
             it owns"
        ))),
        // Readable, but no keys/ path reaches its name: the keys/ delete workflow, as is.
        Stored::Usable(_) => {
            let retired = delete_key(shared, req, name).await?;
            Ok(Some(json!({ "path": path, "retired_versions": retired })))
        }
        Stored::Refused {
            reason,
            entry: None,
        } => Err(Error::BadRequest(format!(
            "the record at {path} cannot be decoded by this release ({reason}); what it holds \
             cannot be told, so it is not deleted: run the plugin release that wrote it"
        ))),
        Stored::Refused {
            entry: Some(entry), ..
        } => {
            let _guard = shared.locks.lock(name).await;
            let left = unclaimed(storage, &entry).await;
            if !left.is_empty() {
                let listed: Vec<String> = left
                    .iter()
                    .map(|(v, p, id)| format!("version {v} ({id} at {p})"))
                    .collect();
                return Err(Error::BadRequest(format!(
                    "the record at {path} holds live keys the engine created or owns that no \
                     other record claims: {}; deleting it would leave them alive with no \
                     record. Revoke them at the provider first, then repair the record",
                    listed.join(", ")
                )));
            }
            // Its pending revocations keep their intents, which recovery settles on its own.
            storage.delete(&path).await?;
            record::forget_notices(storage, name).await;
            tracing::warn!(path = %path, "refused key record deleted by an administrator");
            Ok(Some(json!({ "path": path, "retired_versions": [] })))
        }
    }
}
