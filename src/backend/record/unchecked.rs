//! A key record as stored, looked at without trusting it: for the administrator's `records/`
//! read and delete, which must be able to name and remove a record the engine refuses to use
//! (newer format, stored under another key's name, breaking an invariant) or whose name no
//! `keys/` path can reach.

use super::format::{self, NEWEST_KEY_FORMAT};
use super::key::KeyEntry;
use super::store;
use crate::framework::{Error, Storage};

/// What is stored at `keys/<name>`.
#[derive(Debug)]
pub(crate) enum Stored {
    /// Nothing.
    Missing,
    /// A record the engine uses as it is.
    Usable(Box<KeyEntry>),
    /// A record the engine refuses: why, and its content if this release can decode it at all
    /// (a newer format or a record that is not one: `None`, nothing can be told of it).
    Refused {
        reason: String,
        entry: Option<Box<KeyEntry>>,
    },
}

/// Looks at `keys/<name>` (call under the name's lock to act on the answer).
pub(crate) async fn inspect(storage: &dyn Storage, name: &str) -> Result<Stored, Error> {
    let path = store::key_path(name);
    let Some(raw) = storage.get(&path).await? else {
        return Ok(Stored::Missing);
    };
    match store::load_with(storage, name, false).await {
        Ok(Some(entry)) => Ok(Stored::Usable(Box::new(entry.as_ref().clone()))),
        Ok(None) => Ok(Stored::Missing),
        Err(Error::Internal(reason)) => {
            let known =
                format::format_in(&path, &raw).is_ok_and(|f| f <= u64::from(NEWEST_KEY_FORMAT));
            let entry = known
                .then(|| format::from_slice::<KeyEntry>(&path, &raw).ok())
                .flatten()
                .map(Box::new);
            Ok(Stored::Refused { reason, entry })
        }
        Err(e) => Err(e),
    }
}
