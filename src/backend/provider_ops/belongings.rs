//! What still belongs to a provider configuration: the keys that name it, the live versions
//! whose keys live there, the revocations it still owes (records and deleted keys' intents), the
//! manual revocations nobody acknowledged (deleted keys' included), and the create intents whose
//! key it may have made. A configuration cannot be deleted while any of
//! these remains, since nothing else could reach those keys (api.md `providers/:name`).

use futures::TryStreamExt;
use serde_json::{json, Value};

use super::intents::{decode, pending_at, CreateIntent, WAL_CREATE};
use crate::backend::record;
use crate::framework::{wal_get, wal_list, Error, Storage};

/// What belongs to one provider configuration, as sorted labels.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Belongings {
    /// Keys whose `provider` is this configuration.
    pub keys: Vec<String>,
    /// Federated keys whose `provider` is this configuration (their `creds/` exchange there).
    pub federated_keys: Vec<String>,
    /// `key version N` of each pending, current or previous version whose key lives there.
    pub live_versions: Vec<String>,
    /// `key version N` of each revocation there not confirmed yet.
    pub pending_revocations: Vec<String>,
    /// `key (name at the provider)` of each create intent naming it: a key it may have made.
    pub create_intents: Vec<String>,
    /// `key version N` of each revocation there left to a person and not acknowledged yet (a
    /// deleted key's as `key version N (deleted, incarnation I)`): the configuration's read is
    /// where they learn what to revoke.
    pub manual_revocations: Vec<String>,
    /// Key records that cannot be read and might name this configuration (as plain JSON, or
    /// not judgeable at all): they might hold a key living there, so they block a delete.
    pub unreadable_records: Vec<String>,
    /// Warnings naming the key records that cannot be read and do not name it.
    pub warnings: Vec<String>,
}

impl Belongings {
    /// What a read shows.
    pub(crate) fn json(&self) -> Value {
        json!({
            "keys": self.keys,
            "federated_keys": self.federated_keys,
            "live_versions": self.live_versions,
            "pending_revocations": self.pending_revocations,
            "create_intents": self.create_intents,
            "manual_revocations": self.manual_revocations,
        })
    }

    /// Why provider `name` cannot be deleted, listing what still belongs to it; `None` if it can.
    pub(crate) fn refusal(&self, name: &str) -> Option<String> {
        let parts: Vec<String> = [
            ("is used by keys", &self.keys),
            ("is used by federated keys", &self.federated_keys),
            ("holds live versions", &self.live_versions),
            ("has pending revocations", &self.pending_revocations),
            (
                "has create intents (keys it may have made, not yet recorded or revoked)",
                &self.create_intents,
            ),
            (
                "has manual revocations nobody acknowledged (acknowledge/ once revoked by hand)",
                &self.manual_revocations,
            ),
            (
                "may be named by key records that cannot be read (repair them, or delete them \
                 through records/)",
                &self.unreadable_records,
            ),
        ]
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
        .map(|(what, items)| format!("{what}: {}", items.join(", ")))
        .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "provider {name:?} cannot be deleted while anything still belongs to it: {}",
                parts.join("; ")
            )
        })
    }
}

/// Everything that still belongs to provider configuration `provider`. Judged on the digests; a
/// record that cannot be read counts as belonging when it might name `provider` (it might hold
/// a key living there), and is only a warning otherwise.
pub(crate) async fn belongings(storage: &dyn Storage, provider: &str) -> Result<Belongings, Error> {
    let mut out = Belongings {
        pending_revocations: pending_at(storage, provider).await?,
        ..Belongings::default()
    };
    for id in wal_list(storage).await? {
        let Some(entry) = wal_get(storage, &id).await? else {
            continue;
        };
        if entry.kind != WAL_CREATE {
            continue;
        }
        if let Ok(intent) = decode::<CreateIntent>(&entry) {
            if intent.provider == provider {
                out.create_intents
                    .push(format!("{} ({})", intent.key, intent.name_at_provider));
            }
        }
    }
    let refusals = record::Refusals::default();
    let mut keys = std::pin::pin!(record::digests_noting(storage, refusals.clone()).await?);
    while let Some((name, key)) = keys.try_next().await? {
        if key.provider.as_deref() == Some(provider) {
            out.keys.push(name.clone());
        }
        for (version, _) in key.live.iter().filter(|(_, p)| &**p == provider) {
            out.live_versions.push(format!("{name} version {version}"));
        }
        for manual in key.manual.iter().filter(|r| &*r.provider == provider) {
            out.manual_revocations
                .push(format!("{name} version {}", manual.version));
        }
    }
    for name in record::federated_names(storage).await? {
        if let Some(key) = record::load_federated(storage, &name).await? {
            if key.provider == provider {
                out.federated_keys.push(name);
            }
        }
    }
    for manual in super::manual::of_deleted_keys_manual(storage).await? {
        if manual.provider == provider {
            out.manual_revocations.push(format!(
                "{} version {} (deleted, incarnation {})",
                manual.key, manual.version, manual.incarnation
            ));
        }
    }
    for refused in refusals.taken() {
        if record::may_name(storage, &refused, "provider", provider).await? {
            out.unreadable_records
                .push(format!("{} ({})", refused.path, refused.reason));
        } else {
            out.warnings.push(refused.warning());
        }
    }
    out.manual_revocations.sort();
    out.create_intents.sort();
    out.keys.sort();
    out.live_versions.sort();
    Ok(out)
}
