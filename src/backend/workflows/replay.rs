//! `rotation_id` replays: a retried request with the same id and input gets the first answer
//! back instead of running twice; the same id with other input is a 400.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::locked::Locked;
use crate::framework::{Error, Storage};

/// SHA-256 over the operation and its inputs, to tell a retry from a different request.
pub(crate) fn input_digest(operation: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Returns the remembered response for a retried rotation id, or an error if the id was used
/// with different input. `None` when the id is new.
pub(crate) async fn replay(
    locked: &Locked,
    storage: &dyn Storage,
    rotation_id: Option<&str>,
    operation: &str,
    digest: &str,
) -> Result<Option<Value>, Error> {
    let Some(id) = rotation_id else {
        return Ok(None);
    };
    match locked.recall(storage, id).await? {
        None => Ok(None),
        Some(r) if r.operation == operation && r.input_digest == digest => {
            Ok(Some(r.response.clone()))
        }
        Some(r) => Err(Error::BadRequest(format!(
            "rotation_id {id:?} was already used for a {} with different input",
            r.operation
        ))),
    }
}
