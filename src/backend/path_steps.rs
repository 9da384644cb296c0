//! The four rotation steps, each its own path so ACL policies can give them to different
//! people: `stage/`, `test/`, `promote/`, `rollback/`.

use std::sync::Arc;

use serde_json::json;

use super::fields::{self, MAX_PROVIDER_KEY_ID_LEN, MAX_ROTATION_ID_LEN};
use super::shared::{bind, Shared};
use super::view;
use super::workflows::{self, Locked};
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};

fn name_field() -> Field {
    Field::new("name", FieldType::Name, "Name of the key.").required()
}

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("stage/{}", generic_name_regex("name")))
            .field(name_field())
            .field(fields::new_key_value(Field::new("value", FieldType::String, "The new key. Without it the provider is asked to create one (400 if it cannot). Write-only.")))
            .field(Field::new("rotation_id", FieldType::String, "Idempotency id: a retry with the same id and input returns the first result instead of staging twice. At most 128 characters.").max_len(MAX_ROTATION_ID_LEN))
            .field(Field::new("provider_key_id", FieldType::String, "The provider's id for a value given here (not secret). Checked with the key's provider (admin_key needed): an id whose provider record does not match the value is a 400. The engine revokes the key at the provider later only if possession of the value proves the id (OpenRouter); otherwise its retirement is left to a person (provider_revocation manual). At most 256 letters, digits, '_', '-' or '.'.").max_len(MAX_PROVIDER_KEY_ID_LEN).id_alphabet())
            .strict()
            .operation(Operation::Update, "Stage a new pending version.", bind(shared, stage))
            .help(STAGE_SYNOPSIS, STAGE_DESCRIPTION),
        Path::new(&format!("test/{}", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new("version", FieldType::Int, "Version to test (default: the pending version).").min(1).max(i64::from(u32::MAX)))
            .operation(Operation::Update, "Test a version against the provider and record the outcome.", bind(shared, test))
            .help(TEST_SYNOPSIS, TEST_DESCRIPTION),
        Path::new(&format!("promote/{}", generic_name_regex("name")))
            .field(name_field())
            .field(Field::new("grace_period", FieldType::Duration, "Grace for the old current version (default: the key's grace period; 0 revokes it at once). At most config max_grace_period (default 30d), or the key's own max_grace when lower: 400 beyond it."))
            .field(Field::new("force", FieldType::Bool, "Promote even if the pending version's last test did not pass (recorded).").default(json!(false)))
            .strict()
            .operation(Operation::Update, "Promote the pending version to current.", bind(shared, promote))
            .help(PROMOTE_SYNOPSIS, PROMOTE_DESCRIPTION),
        Path::new(&format!("rollback/{}", generic_name_regex("name")))
            .field(name_field())
            .strict()
            .operation(Operation::Update, "Discard the pending version, or restore the previous one within its grace window.", bind(shared, rollback))
            .help(ROLLBACK_SYNOPSIS, ROLLBACK_DESCRIPTION),
    ]
}

async fn stage(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let input = workflows::StageInput {
        value: d.get_string("value"),
        rotation_id: d.get_string("rotation_id").filter(|r| !r.is_empty()),
        provider_key_id: d.get_string("provider_key_id").filter(|i| !i.is_empty()),
    };
    let locked = Locked::open(&s, &req, &name).await?;
    let data = workflows::stage(&s, req.storage.as_ref(), locked, input).await?;
    Ok(Some(Response::with_data(data)))
}

async fn test(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let version = match d.get_int("version") {
        Some(n) => Some(
            u32::try_from(n)
                .map_err(|_| Error::BadRequest("version must be a positive integer".into()))?,
        ),
        None => None,
    };
    let mut locked = Locked::open(&s, &req, &name).await?;
    let (number, result) =
        workflows::run_test(&s, req.storage.as_ref(), &mut locked, version).await?;
    locked.commit(&s, req.storage.as_ref()).await?;
    tracing::info!(key = %name, version = number, outcome = result.outcome.as_str(), "version tested");
    Ok(Some(Response::with_data(json!({
        "version": number,
        "outcome": result.outcome.as_str(),
        "status_code": result.status_code,
        "detail": result.detail,
    }))))
}

async fn promote(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let grace = d
        .is_set("grace_period")
        .then(|| d.get_duration("grace_period"))
        .flatten();
    let force = d.get_bool("force").unwrap_or(false);
    let mut locked = Locked::open(&s, &req, &name).await?;
    let mut data = workflows::promote(&s, req.storage.as_ref(), &mut locked, grace, force).await?;
    locked.commit(&s, req.storage.as_ref()).await?;
    data["retired_versions"] = locked.retired_json();
    tracing::info!(key = %name, "version promoted");
    Ok(Some(view::grace_response(data, &name, grace)))
}

async fn rollback(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let locked = Locked::open(&s, &req, &name).await?;
    let data = workflows::rollback(&s, req.storage.as_ref(), locked).await?;
    let request = &data["reinstatement_request"];
    let warning = (!request.is_null()).then(|| {
        format!(
            "require_separate_approver is set: nothing changed yet; reinstating version {} needs a \
             different entity to call rollback/ on this key before {}",
            request["version"],
            request["expires_time"].as_str().unwrap_or("its grace window ends")
        )
    });
    let warnings = view::retirement_warnings(&data, &name);
    let mut response = Response::with_data(data);
    response.warnings.extend(warning);
    response.warnings.extend(warnings);
    Ok(Some(response))
}

const STAGE_SYNOPSIS: &str = "Stage a new version of a key.";
const STAGE_DESCRIPTION: &str = "\
Creates the pending version from value, or without value asks the key's provider to create a key \
(400 if it cannot). At most one version is pending; a second stage is a 400 naming it (so is a \
stage while a key's first version waits for approval). A key whose first version was rolled back \
before approval stages a new first version here. With rotation_id, a retry with the same id and \
input returns the first result.";
const TEST_SYNOPSIS: &str = "Test a version against the provider.";
const TEST_DESCRIPTION: &str = "\
Checks the pending version (or version=N) with the provider's cheapest authenticated call and \
records the outcome: passed, bad_key (the provider rejects the key), unfunded (valid but out of \
quota or credit), provider_unavailable (rate limit, 5xx, timeout: says nothing about the key) or \
skipped (no provider). Returns version, outcome, status_code and detail.";
const PROMOTE_SYNOPSIS: &str = "Promote the pending version.";
const PROMOTE_DESCRIPTION: &str = "\
The pending version becomes current; the old current becomes previous, valid until now + \
grace_period (0 revokes it at once). A version still previous from an earlier rotation is revoked. \
Refused unless the pending version's last test passed or was skipped, or force=true (recorded). \
A grace_period beyond config max_grace_period (or the key's own max_grace when lower) is a 400 \
naming the limit. A version still in its grace window that the promotion revokes early is named \
in cut_short and in a warning with its planned end; retired_versions lists each version the \
promotion retired with its provider_revocation status, and a warning names any still valid at its \
provider (revocation pending). \
With require_separate_approver, the entity that staged the version cannot promote it (403), and \
stage/ and promote/ need a service token of an identity entity (403 otherwise); a key created \
under the rule has its first version pending, its creator as stager, and is promoted here like \
any staged version.";
const ROLLBACK_SYNOPSIS: &str = "Undo a rotation.";
const ROLLBACK_DESCRIPTION: &str = "\
With a pending version, discards it (failed; revoked at the provider if the engine created it); \
a key's first version pending approval is discarded too, leaving the key with no live version \
until a new first version is staged and promoted. Without one, if the previous version is inside \
its grace window, makes it current again and revokes the version that replaced it. Otherwise \
400. Returns current_version, discarded_version, revoked_versions, retired_versions (each with \
its provider_revocation status) and reinstatement_request. \
With config require_separate_approver, making the previous version current again is an \
approval, so it takes two entities: the first rollback/ changes no version, records a request \
(who, when, which version; shown as reinstatement_request here and on keys/, and as a \
rollback_requested history event) and answers with a warning; a rollback/ by a different entity \
performs it; the requester again is a 403. The request lapses when the previous version's grace \
window ends and is dropped by any other change of the versions (a stage, promotion, finalize, \
grace end, discard). Discarding a pending version stays a one-person action. Reinstating needs \
a service token of an identity entity (403 otherwise).";

#[cfg(test)]
mod tests;
