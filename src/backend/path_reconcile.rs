//! `reconcile`: compares the engine's records with what its providers hold (run it after a
//! restore): revokes keys the engine made that no record claims, and tests every live version.

use std::sync::Arc;

use serde_json::json;

use super::reconcile;
use super::shared::{bind, Shared};
use crate::framework::{
    Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response,
};

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![Path::new("reconcile")
        .field(
            Field::new(
                "dry_run",
                FieldType::Bool,
                "Only report what would be done: nothing is revoked, recorded or rotated.",
            )
            .default(json!(false)),
        )
        .strict()
        .operation(
            Operation::Update,
            "Compare the records with the providers: revoke unclaimed keys the engine made, test every live version.",
            bind(shared, run),
        )
        .help(SYNOPSIS, DESCRIPTION)]
}

async fn run(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let dry_run = d.get_bool("dry_run").unwrap_or(false);
    let request_id = Some(req.id.clone()).filter(|i| !i.is_empty());
    let data = reconcile::reconcile(&s, req.storage.as_ref(), request_id, dry_run).await?;
    Ok(Some(Response::with_data(data)))
}

const SYNOPSIS: &str = "Compare the records with the providers (after a restore).";
const DESCRIPTION: &str = "\
Mount-wide, on the active node. For every provider configuration that creates keys, lists the keys \
the engine made there (named ai-keys-<key>-<suffix>; at OpenAI, those of the engine's service \
account) and revokes each one that no version of any record and no create or revoke intent \
claims, when <key> is a key of this mount and the suffix carries this mount's tag (a key \
restored from a snapshot older than the provider's state); others (another mount's at a shared \
account, a key this mount does not hold) are listed as unknown_key and left alone, and a person's \
key is never touched. A record the engine refuses still claims the keys it names; one this release cannot decode \
at all (a newer format) stops it before anything is revoked. Then tests the current \
and previous version of every key with a provider at once, eight keys at a time, and records each \
answer as a health check: a refusal is flagged (current_key_rejected or previous_key_rejected) \
and a key with auto_rotate whose current version is refused is rotated at once with no grace. \
dry_run=true reports the same and changes nothing. Returns dry_run; providers ([{provider, \
listed, claimed, orphans: [{provider_key_id, name, key, action (revoked, would_revoke, \
revoke_failed with error, or unknown_key)}]}], or {provider, error} when its list failed); \
versions_tested; versions_rejected ([{key, version, state, outcome}]); rotated ([{key, \
error?}]); key_errors ([{key, error}]). Ids and counts only, never values. Running it again is \
harmless: a key the provider says is gone (404) counts as revoked.";

#[cfg(test)]
mod tests;
