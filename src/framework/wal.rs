//! Write-ahead log entries, stored as `sdk/framework` stores them so that
//! the layout stays familiar: key `wal/<uuid>`, value
//! `{"type": kind, "data": data, "created_at": unix seconds}`.
//!
//! Write an entry before work that spans several steps (e.g. creating a key
//! at a provider, then persisting it), delete it when done. Entries still
//! there after [`super::Backend::wal_min_age`] are handed to the backend's
//! WAL rollback handler on the next rollback tick.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::storage::{get_json, put_json, Storage, StorageError};

/// Storage prefix of WAL entries.
pub const WAL_PREFIX: &str = "wal/";

/// One WAL entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalEntry {
    /// What the entry is about; chosen by the backend.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whatever the rollback handler needs.
    pub data: Value,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// Writes a new entry and returns its id.
pub async fn wal_put(s: &dyn Storage, kind: &str, data: &Value) -> Result<String, StorageError> {
    let id = uuid::Uuid::new_v4().to_string();
    let entry = WalEntry {
        kind: kind.to_owned(),
        data: data.clone(),
        created_at: chrono::Utc::now().timestamp(),
    };
    put_json(s, &format!("{WAL_PREFIX}{id}"), &entry).await?;
    Ok(id)
}

/// Reads an entry; `None` when it does not exist.
pub async fn wal_get(s: &dyn Storage, id: &str) -> Result<Option<WalEntry>, StorageError> {
    get_json(s, &format!("{WAL_PREFIX}{id}")).await
}

/// Deletes an entry (the work it covered is complete or undone).
pub async fn wal_delete(s: &dyn Storage, id: &str) -> Result<(), StorageError> {
    s.delete(&format!("{WAL_PREFIX}{id}")).await
}

/// Ids of all entries.
pub async fn wal_list(s: &dyn Storage) -> Result<Vec<String>, StorageError> {
    let keys = s.list(WAL_PREFIX).await?;
    // Entries are flat; anything nested under wal/ is not ours.
    Ok(keys.into_iter().filter(|k| !k.ends_with('/')).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::framework::storage::InMemoryStorage;

    #[tokio::test]
    async fn put_get_list_delete() {
        let s = InMemoryStorage::new();
        let before = chrono::Utc::now().timestamp();
        let id = wal_put(&s, "create-key", &json!({"name": "k"}))
            .await
            .unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert_eq!(s.keys(), [format!("wal/{id}")]);

        let raw: Value = get_json(&s, &format!("wal/{id}")).await.unwrap().unwrap();
        assert_eq!(raw["type"], "create-key");
        assert_eq!(raw["data"], json!({"name": "k"}));
        assert!(raw["created_at"].as_i64().unwrap() >= before);

        let entry = wal_get(&s, &id).await.unwrap().unwrap();
        assert_eq!(entry.kind, "create-key");
        assert_eq!(wal_list(&s).await.unwrap(), vec![id.clone()]);
        wal_delete(&s, &id).await.unwrap();
        assert_eq!(wal_get(&s, &id).await.unwrap(), None);
        assert!(wal_list(&s).await.unwrap().is_empty());
    }
}
