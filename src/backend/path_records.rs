//! `records/keys/:name`: the administrator's read and delete of a key record by its exact
//! storage path, for records no `keys/` path can use (refused, or named against the name rule).

use std::sync::Arc;

use super::shared::{bind, Shared};
use super::workflows;
use crate::framework::{
    generic_name_regex, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request,
    Response,
};

/// Longest stored name the path accepts (a storage key's bound, far above any real name).
const MAX_NAME_LEN: usize = 512;

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![Path::new(&format!("records/keys/{}", generic_name_regex("name")))
        .field(
            Field::new(
                "name",
                FieldType::String,
                "The stored name after keys/, exactly as keys/ LIST shows it (any characters but \
                 /, also those the name rule refuses).",
            )
            .required()
            .max_len(MAX_NAME_LEN),
        )
        .strict()
        .operation(
            Operation::Read,
            "Show what a stored key record holds, and why the engine refuses it.",
            bind(shared, read),
        )
        .operation(
            Operation::Delete,
            "Delete a key record that no keys/ path can use.",
            bind(shared, delete),
        )
        .help(SYNOPSIS, DESCRIPTION)]
}

async fn read(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let shown = workflows::inspect_record(req.storage.as_ref(), &name).await?;
    Ok(shown.map(Response::with_data))
}

async fn delete(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let removed = workflows::remove_record(&s, &req, &name).await?;
    Ok(removed.map(Response::with_data))
}

const SYNOPSIS: &str = "Read or delete a key record by its exact storage path.";
const DESCRIPTION: &str = "\
For key records no keys/ path can use: one the engine refuses (a newer format, a record stored \
under another key's name, one that breaks the version invariants; overdue, metrics and report \
warn of each) or one whose name breaks the name rule. A read shows path, name_valid, usable, \
reason (why it is refused), stored_name, live_provider_keys ([{version, provider, \
provider_key_id}] of live versions whose keys the engine created or owns) and \
unclaimed_provider_keys (those of them the key the record names does not record live); never a \
value. A delete of a usable record with a valid name is refused (use keys/); of a usable record \
whose name breaks the rule it runs the keys/ delete (values destroyed, revocations written down \
and tried); of a refused record it removes only the record, and only when it holds no \
unclaimed provider key (400 listing them otherwise: revoke them at the provider first) and this \
release can decode it (400 for a newer format). Pending revocations keep their intents, which \
recovery settles. 404 when nothing is stored at keys/<name>.";

#[cfg(test)]
mod tests;
