//! `acknowledge/:name`: records that a person revoked by hand, at its provider, a retired
//! version the engine does not own (its `provider_revocation` is `manual`), of a live key or of a
//! deleted one.

use std::sync::Arc;

use super::shared::{bind, Shared};
use super::workflows;
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};

/// Longest `reason` kept in the record and the history.
const MAX_REASON_LEN: usize = 256;

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("acknowledge/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the key.").required())
            .field(
                Field::new(
                    "version",
                    FieldType::Int,
                    "The retired version whose key was revoked by hand.",
                )
                .required()
                .min(1)
                .max(i64::from(u32::MAX)),
            )
            .field(
                Field::new(
                    "reason",
                    FieldType::String,
                    "A short note for the record and the history, such as a ticket (at most 256 \
                 characters).",
                )
                .max_len(MAX_REASON_LEN),
            )
            .field(Field::new(
                "deleted",
                FieldType::Bool,
                "Acknowledge the manual revocation of a deleted key of this name (the newest \
                 deleted one whose version waits for it), even if a live key has the name. \
                 Without it a live key's own versions take precedence; with no live key, the \
                 deleted ones are looked at.",
            ))
            .strict()
            .operation(
                Operation::Update,
                "Record that a manual revocation was done by hand.",
                bind(shared, acknowledge),
            )
            .help(SYNOPSIS, DESCRIPTION),
    ]
}

async fn acknowledge(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let version = d
        .get_int("version")
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| Error::BadRequest("version is required: a version number".into()))?;
    let reason = d.get_string("reason").filter(|r| !r.trim().is_empty());
    let deleted = d.get_bool("deleted").unwrap_or(false);
    let data =
        workflows::acknowledge_named(&s, &req, &name, version, reason.as_deref(), deleted).await?;
    Ok(Some(Response::with_data(data)))
}

const SYNOPSIS: &str = "Record that a key the engine does not own was revoked by hand.";
const DESCRIPTION: &str = "\
The engine revokes at a provider only keys it owns: keys it created, and imported keys whose \
provider_key_id possession of the value proved. Any other retired version records \
provider_revocation with status manual (provider, provider_key_id when known, the version's \
fingerprint, manual_reason): a person must revoke that key at the provider. Once they have, \
an update here with version (required) and an optional short reason records it: the status \
becomes acknowledged with acknowledged_time and acknowledged_by, the history gains a \
provider_revocation_acknowledged event, and the version leaves the manual count \
(ai_keys_provider_revocations_manual, report's revocations_manual). The engine cannot check \
the provider: the record says who said so. A version whose revocation is not manual, or is \
already acknowledged, is a 400 that changes nothing. A deleted key's manual revocations nobody \
acknowledged stay counted after the delete (ai_keys_deleted_key_revocations_manual, report's \
deleted_keys_revocations_manual, providers/<name> manual_revocations, which keeps the provider \
from being deleted): the same update acknowledges one, for the newest deleted key of the name \
whose version waits for it, when no live key has the name or with deleted=true (a live key's own \
versions take precedence otherwise); its answer adds deleted and incarnation, and the event goes \
to that key's kept history (history/<name>?incarnation=N).";

#[cfg(test)]
mod tests;
