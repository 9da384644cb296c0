//! A federated key (`federated/<name>`): no value versions, only what `creds/` needs to have
//! the mount's issuer sign an assertion and exchange it at the provider for a short-lived token.
//! The provider's ids are kept as plain strings; which ones a type needs is the providers'
//! business. Tokens are never stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::framework::{get_json, put_json, Error, Storage};

/// Prefix of federated key definitions.
pub(crate) const FEDERATED_PREFIX: &str = "federated/";

/// A federated key's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FederatedKey {
    /// The key's name (shared with `keys/`: a name is either kind, never both).
    pub name: String,
    /// Name under `providers/`.
    pub provider: String,
    /// The assertion's `sub`.
    pub subject: String,
    /// The assertion's `aud`.
    pub audience: String,
    /// The assertion's lifetime in seconds.
    pub token_ttl: i64,
    /// The provider's federation ids, by field name.
    #[serde(default)]
    pub ids: BTreeMap<String, String>,
    /// When it was defined.
    pub created_time: DateTime<Utc>,
    /// Owner, team, ticket.
    #[serde(default)]
    pub custom_metadata: BTreeMap<String, String>,
}

fn path(name: &str) -> String {
    format!("{FEDERATED_PREFIX}{name}")
}

/// The definition of federated key `name`, if there is one.
pub(crate) async fn load(storage: &dyn Storage, name: &str) -> Result<Option<FederatedKey>, Error> {
    Ok(get_json(storage, &path(name)).await?)
}

/// Stores a definition.
pub(crate) async fn save(storage: &dyn Storage, key: &FederatedKey) -> Result<(), Error> {
    Ok(put_json(storage, &path(&key.name), key).await?)
}

/// Removes a definition.
pub(crate) async fn delete(storage: &dyn Storage, name: &str) -> Result<(), Error> {
    Ok(storage.delete(&path(name)).await?)
}

/// Every federated key's name, sorted.
pub(crate) async fn names(storage: &dyn Storage) -> Result<Vec<String>, Error> {
    super::store::names_under(storage, FEDERATED_PREFIX).await
}
