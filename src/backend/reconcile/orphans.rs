//! Keys at the providers under the engine's naming that nothing here claims (see the part's
//! docs): listed, judged, and revoked unless `dry_run`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::backend::provider_ops::{
    self, decode, CreateIntent, RevokeIntent, PROVIDERS_PREFIX, WAL_CREATE, WAL_REVOKE,
};
use crate::backend::record;
use crate::backend::shared::{Shared, NAMING_TAG_LEN};
use crate::framework::{wal_get, wal_list, Error, Storage};

/// How every key the engine creates at a provider is named: `ai-keys-<key>-<tag><12 hex>`,
/// `<tag>` the mount's ([`crate::backend::shared::naming_tag`]); earlier releases named them
/// `ai-keys-<key>-<12 hex>`, with no tag.
pub(super) const NAMING_PREFIX: &str = "ai-keys-";

/// Whose a provider-side name in the engine's naming is: the key's name, and the mount's tag
/// (`None` for an earlier release's untagged name).
fn key_of(name_at_provider: &str) -> Option<(&str, Option<&str>)> {
    let rest = name_at_provider.strip_prefix(NAMING_PREFIX)?;
    let (key, suffix) = rest.rsplit_once('-')?;
    if key.is_empty() || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match suffix.len() {
        12 => Some((key, None)),
        n if n == NAMING_TAG_LEN + 12 => Some((key, Some(&suffix[..NAMING_TAG_LEN]))),
        _ => None,
    }
}

/// The key of this mount (tagged `tag`, holding `keys`) that a provider-side name says it
/// belongs to: `None` for a key this mount does not hold, or one tagged by another mount.
fn key_here<'a>(name_at_provider: &'a str, tag: &str, keys: &BTreeSet<String>) -> Option<&'a str> {
    let (key, made_by) = key_of(name_at_provider)?;
    let ours = made_by.is_none_or(|t| t.eq_ignore_ascii_case(tag));
    (ours && keys.contains(key)).then_some(key)
}

/// What claims keys at providers: provider ids and names in flight.
///
/// An id claims its key whichever configuration lists it: two configurations may reach the same
/// account (one management key saved under two names, or one moved to where another points),
/// and each then lists the keys made through the other. A provider's id names one key wherever
/// it is listed from, so a claim never depends on the configuration a record or intent names
/// (that would revoke a live key through the other configuration).
#[derive(Default)]
struct Claims {
    ids: BTreeSet<String>,
    names: BTreeSet<String>,
    keys: BTreeSet<String>,
}

impl Claims {
    fn claims(&self, id: &str, name: &str) -> bool {
        self.names.contains(name) || self.ids.contains(id)
    }
}

/// The intents, then the records (in that order: see the part's docs). A record the engine
/// refuses (stored under another key's name, breaking an invariant) still claims the provider
/// keys it names, read without trusting it; one this release cannot decode at all (a newer
/// format) is an error: nothing may be revoked on a partial view.
async fn claims(storage: &dyn Storage) -> Result<Claims, Error> {
    let mut c = Claims::default();
    for id in wal_list(storage).await? {
        let Some(entry) = wal_get(storage, &id).await? else {
            continue;
        };
        if entry.kind == WAL_CREATE {
            let intent: CreateIntent = decode(&entry)?;
            c.names.insert(intent.name_at_provider.clone());
            c.ids.extend(intent.provider_key_id.clone());
            c.ids.extend(intent.unrevoked_ids.iter().cloned());
        } else if entry.kind == WAL_REVOKE {
            let intent: RevokeIntent = decode(&entry)?;
            c.ids.insert(intent.provider_key_id.clone());
        }
    }
    for name in record::list_names(storage).await? {
        let entry = match record::inspect_stored(storage, &name).await? {
            record::Stored::Missing => continue,
            record::Stored::Usable(entry) => entry,
            record::Stored::Refused {
                entry: Some(entry), ..
            } => entry,
            record::Stored::Refused {
                entry: None,
                reason,
            } => return Err(Error::Internal(reason)),
        };
        c.keys.insert(name);
        let key = &entry.key;
        c.ids.extend(
            key.versions
                .versions
                .values()
                .filter_map(|v| v.provider_key_id.clone()),
        );
    }
    Ok(c)
}

/// Lists, judges and (unless `dry_run`) revokes the orphans at every provider configuration
/// that creates keys; one entry per configuration.
pub(super) async fn settle(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    dry_run: bool,
) -> Result<Vec<Value>, Error> {
    let mut listed = Vec::new();
    for name in storage.list(PROVIDERS_PREFIX).await? {
        let Some(cfg) = provider_ops::load(storage, &name).await? else {
            continue;
        };
        if !cfg.capabilities().create {
            continue;
        }
        let keys = shared.providers.list_engine_keys(&cfg, NAMING_PREFIX).await;
        listed.push((name, cfg, keys));
    }
    let claims = claims(storage).await?;
    let mut out = Vec::new();
    for (provider, cfg, keys) in listed {
        let keys = match keys {
            Ok(keys) => keys,
            Err(e) => {
                out.push(json!({ "provider": provider, "error": e.to_string() }));
                continue;
            }
        };
        let mut orphans = Vec::new();
        let mut claimed = 0;
        for (id, name) in &keys {
            if claims.claims(id, name) {
                claimed += 1;
                continue;
            }
            let key = key_here(name, &shared.naming_tag, &claims.keys);
            let mut entry = json!({ "provider_key_id": id, "name": name, "key": key });
            entry["action"] = json!(match (key, dry_run) {
                (None, _) => "unknown_key".to_string(),
                (Some(_), true) => "would_revoke".to_string(),
                (Some(k), false) => {
                    let place = provider_ops::place_of(&cfg);
                    match provider_ops::revoke_at(shared, storage, &provider, id, Some(&place))
                        .await
                    {
                        Ok(()) => {
                            tracing::warn!(provider = %provider, key = %k, provider_key_id = %id, "reconcile revoked a key no record claims");
                            "revoked".to_string()
                        }
                        Err(e) => {
                            entry["error"] = json!(e);
                            "revoke_failed".to_string()
                        }
                    }
                }
            });
            orphans.push(entry);
        }
        out.push(json!({
            "provider": provider,
            "listed": keys.len(),
            "claimed": claimed,
            "orphans": orphans,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
