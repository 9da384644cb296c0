//! `rotate/:name` (stage, test and promote in one call) and `verify/:name`.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::fields::{self, MAX_KEY_VALUE_LEN, MAX_ROTATION_ID_LEN};
use super::record;
use super::shared::{bind, Shared};
use super::view;
use super::workflows::{self, Locked};
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("rotate/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the key.").required())
            .field(fields::new_key_value(Field::new("value", FieldType::String, "The new key. Without it the provider is asked to create one. Write-only.")))
            .field(Field::new("grace_period", FieldType::Duration, "Grace for the old current version (default: the key's grace period; 0 for an emergency rotation that leaves only the new key valid). At most config max_grace_period (default 30d), or the key's own max_grace when lower: 400 beyond it."))
            .field(Field::new("rotation_id", FieldType::String, "Idempotency id: a retry with the same id and input returns the first result. At most 128 characters.").max_len(MAX_ROTATION_ID_LEN))
            .strict()
            .operation(Operation::Update, "Stage, test and promote a new version in one call.", bind(shared, rotate))
            .help(ROTATE_SYNOPSIS, ROTATE_DESCRIPTION),
        Path::new(&format!("verify/{}", generic_name_regex("name")))
            .field(Field::new("name", FieldType::Name, "Name of the key.").required())
            .field(Field::new("value", FieldType::String, "The value to check. Write-only.").sensitive().max_len(MAX_KEY_VALUE_LEN).required())
            .operation(Operation::Update, "Check whether a value is a valid version of the key.", bind(shared, verify))
            .help(VERIFY_SYNOPSIS, VERIFY_DESCRIPTION),
    ]
}

async fn rotate(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let value = d.get_string("value");
    let grace = d
        .is_set("grace_period")
        .then(|| d.get_duration("grace_period"))
        .flatten();
    let rotation_id = d.get_string("rotation_id").filter(|r| !r.is_empty());
    let digest = workflows::input_digest(
        "rotate",
        &[
            value.as_deref().unwrap_or(""),
            &grace.map(|g| g.to_string()).unwrap_or_default(),
        ],
    );
    let locked = Locked::open(&s, &req, &name).await?;
    if let Some(previous) = workflows::replay(
        &locked,
        req.storage.as_ref(),
        rotation_id.as_deref(),
        "rotate",
        &digest,
    )
    .await?
    {
        return Ok(Some(Response::with_data(previous)));
    }
    if locked.config.require_separate_approver {
        return Err(Error::PermissionDenied(
            "require_separate_approver is set: a rotation needs stage/ and promote/ by two different entities, so rotate/ is refused".into(),
        ));
    }
    let remember = rotation_id.map(|id| (id, digest));
    let data = workflows::rotate(&s, req.storage.as_ref(), locked, value, grace, remember).await?;
    Ok(Some(view::grace_response(data, &name, grace)))
}

async fn verify(_s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let value = d
        .get_string("value")
        .ok_or_else(|| Error::BadRequest("value is required".into()))?;
    let Some(key) = record::load_key(req.storage.as_ref(), &name).await? else {
        return Err(Error::BadRequest(format!("key {name:?} does not exist")));
    };
    let data = match key.versions.verify(&value, Utc::now()) {
        Some((version, state)) => {
            json!({"valid": true, "version": version, "state": state.as_str()})
        }
        None => json!({"valid": false}),
    };
    Ok(Some(Response::with_data(data)))
}

const ROTATE_SYNOPSIS: &str = "Rotate a key in one call.";
const ROTATE_DESCRIPTION: &str = "\
Stages a new version (from value, or created by the provider), tests it and promotes it. If the \
test does not pass the current version is untouched: a key the provider refused is kept as a \
failed version (value destroyed) and the call fails with 400 (bad_key, unfunded); when the \
provider is unavailable nothing changes but the history and the call fails with 503. \
grace_period=0 is an emergency rotation: only the new key stays valid. grace_period is at most \
config max_grace_period (or the key's own max_grace when lower; 400 beyond). Returns what \
promote/ returns (with retired_versions, cut_short and their warnings) plus test. With \
require_separate_approver set, use stage/ and promote/ instead.";
const VERIFY_SYNOPSIS: &str = "Check a value against a key's live versions.";
const VERIFY_DESCRIPTION: &str = "\
Returns valid and, when valid, the version and its state. Accepts the current version, a pending \
one, and the previous version while inside its grace window; compares in constant time.";

#[cfg(test)]
mod tests;
