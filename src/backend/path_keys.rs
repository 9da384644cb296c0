//! `keys/`: managed keys. A key's value changes only through a rotation.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::fields;
use super::policy;
use super::record;
use super::shared::{bind, Shared};
use super::view;
use super::workflows::{self, KeySettings, Locked, NewKey};
use crate::framework::{
    existence_check, generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult,
    Operation, Path, Request, Response,
};
use crate::rotation::validate_key_value;

/// How far in the future an imported `created_time` may be (clock skew).
const CREATED_TIME_SKEW_SECS: i64 = 300;

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    let mut key_path = Path::new(&format!("keys/{}", generic_name_regex("name")));
    for f in federated::fields() {
        key_path = key_path.field(f);
    }
    vec![
        Path::new("keys/?")
            .operation(Operation::List, "List managed keys.", bind(shared, list))
            .help(LIST_SYNOPSIS, LIST_DESCRIPTION),
        key_path
            .field(Field::new("name", FieldType::Name, "Name of the key.").required())
            .field(fields::new_key_value(Field::new(
                "value",
                FieldType::String,
                "The API key in use today (create only; it becomes version 1). Without it the key's provider creates version 1 (openai or openrouter with an admin_key), which is tested first. Write-only.",
            )))
            .field(Field::new(
                "created_time",
                FieldType::Time,
                "When the key was really created at the provider (RFC 3339), for importing an existing key; age counts from it. Create only. Default: now.",
            ))
            .field(Field::new(
                "provider",
                FieldType::Name,
                "Name under providers/ used to test, create and revoke this key's versions. Without it tests are skipped.",
            ))
            .field(Field::new(
                "schedule",
                FieldType::Name,
                "Name under schedules/. Default: config's default_schedule.",
            ))
            .field(Field::new(
                "rotation_period",
                FieldType::Duration,
                "Overrides the schedule's rotation period (or its rotation_schedule) for this key; replaces a rotation_schedule override. Mutually exclusive with rotation_schedule. Cleared, the schedule's cadence applies again.",
            ).clearable())
            .field(policy::schedule_field(true))
            .field(policy::key_window_field())
            .field(Field::new(
                "grace_period",
                FieldType::Duration,
                "Overrides the schedule's grace period for this key (0: a promotion revokes the old version at once). Cleared, the schedule's applies again.",
            ).clearable())
            .field(Field::new(
                "usage_quiet_period",
                FieldType::Duration,
                format!("Overrides the schedule's usage_quiet_period for this key. {} Cleared, the schedule's applies again.", policy::USAGE_QUIET_PERIOD_HELP),
            ).clearable())
            .field(Field::new(
                "max_grace",
                FieldType::Duration,
                format!("Overrides the schedule's max_grace for this key. {} Set here, it also lowers config max_grace_period for this key: the largest grace_period promote/ or rotate/ may give. Cleared, the schedule's applies again.", policy::MAX_GRACE_HELP),
            ).clearable())
            .field(Field::new(
                "health_check_interval",
                FieldType::Duration,
                format!("Overrides the schedule's health_check_interval for this key. {} Cleared, the schedule's applies again.", policy::HEALTH_CHECK_INTERVAL_HELP),
            ).max(policy::MAX_WATCH_SECS).clearable())
            .field(Field::new(
                "expiry_warning",
                FieldType::Duration,
                format!("Overrides the schedule's expiry_warning for this key. {} Cleared, the schedule's applies again.", policy::EXPIRY_WARNING_HELP),
            ).max(policy::MAX_WATCH_SECS).clearable())
            .field(Field::new(
                "auto_rotate",
                FieldType::Bool,
                "Rotate automatically when due. Requires a provider that can create keys.",
            ).default(json!(false)))
            .field(Field::new(
                "provider_key_id",
                FieldType::String,
                "The provider's id for the imported value (not secret). Checked with the key's provider (admin_key needed): an id whose provider record does not match the value is a 400. The engine revokes the key at the provider later only if possession of the value proves the id (OpenRouter); otherwise its retirement is left to a person (provider_revocation manual). Create only. At most 256 letters, digits, '_', '-' or '.'.",
            ).max_len(fields::MAX_PROVIDER_KEY_ID_LEN).id_alphabet())
            .field(Field::new(
                "custom_metadata",
                FieldType::Map,
                "Map of strings kept with the key (owner, team, ticket): at most 64 pairs, keys up to 128 bytes, values up to 512 bytes (KV v2's limits).",
            ))
            .operation(Operation::Create, "Create a managed key from its current value, or from a key its provider creates.", bind(shared, create))
            .operation(Operation::Update, "Update a key's settings (not its value).", bind(shared, update))
            .operation(Operation::Read, "Read a key's settings and versions (never values).", bind(shared, read))
            .operation(Operation::Delete, "Delete a key, destroying its values and keeping its history.", bind(shared, delete))
            .existence(existence_check(|req: Request, d: FieldData| async move {
                let name = d.get_string("name").unwrap_or_default();
                let storage = req.storage.as_ref();
                Ok(record::load(storage, &name).await?.is_some()
                    || record::load_federated(storage, &name).await?.is_some())
            }))
            .help(SYNOPSIS, DESCRIPTION),
    ]
}

async fn list(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let mut keys = record::list_names(req.storage.as_ref()).await?;
    keys.extend(record::federated_names(req.storage.as_ref()).await?);
    keys.sort();
    keys.dedup();
    // A stored name that breaks the name rule (an older release's, or written by hand) is
    // listed, but no keys/<name> path reaches it: key_info says so, and where it is deleted.
    let flagged: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .filter(|n| !crate::framework::is_valid_name(n))
        .map(|n| {
            let info =
                json!({ "name_valid": false, "manage_through": format!("records/keys/{n}") });
            (n.clone(), info)
        })
        .collect();
    let mut data = json!({ "keys": keys });
    if !flagged.is_empty() {
        data["key_info"] = serde_json::Value::Object(flagged);
    }
    Ok(Some(Response::with_data(data)))
}

async fn read(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    let Some(entry) = record::load_shared(storage, &name).await? else {
        let federated = record::load_federated(storage, &name).await?;
        return Ok(federated.map(|k| Response::with_data(federated::to_json(&k))));
    };
    let key = &entry.key;
    let periods = policy::periods(&s.schedules, storage, key).await?;
    Ok(Some(Response::with_data(view::key_json(
        key,
        periods,
        Utc::now(),
    ))))
}

/// The settings a create or an update sets.
fn settings(d: &FieldData) -> Result<KeySettings, Error> {
    Ok(KeySettings {
        provider: d
            .is_set("provider")
            .then(|| d.get_string("provider").filter(|p| !p.is_empty())),
        schedule: d
            .is_set("schedule")
            .then(|| d.get_string("schedule"))
            .flatten(),
        cadence: policy::cadence_input(d)?,
        rotation_window: d
            .is_set("rotation_window")
            .then(|| d.get_clearable_duration("rotation_window"))
            .flatten(),
        grace_period: d
            .is_set("grace_period")
            .then(|| d.get_clearable_duration("grace_period"))
            .flatten(),
        usage_quiet_period: d
            .is_set("usage_quiet_period")
            .then(|| d.get_clearable_duration("usage_quiet_period"))
            .flatten(),
        max_grace: d
            .is_set("max_grace")
            .then(|| d.get_clearable_duration("max_grace"))
            .flatten(),
        health_check_interval: d
            .is_set("health_check_interval")
            .then(|| d.get_clearable_duration("health_check_interval"))
            .flatten(),
        expiry_warning: d
            .is_set("expiry_warning")
            .then(|| d.get_clearable_duration("expiry_warning"))
            .flatten(),
        auto_rotate: d
            .is_set("auto_rotate")
            .then(|| d.get_bool("auto_rotate"))
            .flatten(),
        custom_metadata: d
            .is_set("custom_metadata")
            .then(|| d.get_map("custom_metadata"))
            .flatten(),
    })
}

async fn create(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    if d.get_bool("federated").unwrap_or(false) {
        let input = federated::input(&d)?;
        let key = workflows::define_federated(&s, req.storage.as_ref(), &name, input, true).await?;
        return Ok(Some(Response::with_data(federated::to_json(&key))));
    }
    if federated::names_federated_fields(&d) {
        return Err(Error::BadRequest(
            "subject, audience, token_ttl and federation ids go with federated=true".into(),
        ));
    }
    if record::load_federated(req.storage.as_ref(), &name)
        .await?
        .is_some()
    {
        return Err(Error::BadRequest(format!(
            "key {name:?} already exists (federated)"
        )));
    }
    let value = d.get_string("value");
    if let Some(value) = &value {
        validate_key_value(value).map_err(|e| Error::BadRequest(format!("value: {e}")))?;
    } else {
        // Without a value the key's provider creates version 1 (400 if it cannot, naming why).
        if d.is_set("provider_key_id") {
            return Err(Error::BadRequest(
                "provider_key_id goes with value: a key the provider creates gets its id from the provider".into(),
            ));
        }
        if d.is_set("created_time") {
            return Err(Error::BadRequest(
                "created_time goes with value (the creation time of an imported key): a key the provider creates is created now".into(),
            ));
        }
        if d.get_string("provider").filter(|p| !p.is_empty()).is_none() {
            return Err(Error::BadRequest(
                "value is required to create a key without a provider: give the key in use today, or a provider that creates keys (openai with admin_key and project_id, or openrouter with admin_key)".into(),
            ));
        }
    }
    let created_time = d.get_time("created_time");
    if let Some(given) = created_time {
        if (given - Utc::now()).num_seconds() > CREATED_TIME_SKEW_SECS {
            return Err(Error::BadRequest(
                "created_time must not be in the future".into(),
            ));
        }
    }
    let new = NewKey {
        name: name.clone(),
        value,
        created_time,
        provider_key_id: d.get_string("provider_key_id").filter(|i| !i.is_empty()),
        settings: settings(&d)?,
    };
    let workflows::CreatedKey { key, now, test } = workflows::create_key(&s, &req, new).await?;
    let periods = policy::periods(&s.schedules, req.storage.as_ref(), &key).await?;
    let mut data = view::key_json(&key, periods, now);
    if let Some(t) = &test {
        let mut shown = view::test_json(t);
        shown["version"] = json!(1);
        data["test"] = shown;
    }
    let mut response =
        view::with_grace_warning(data, &format!("key {name:?}"), periods.grace_period);
    if let Some(pending) = key
        .versions
        .pending()
        .filter(|_| key.versions.current().is_none())
    {
        response.warnings.push(format!(
            "require_separate_approver is set: version {} is pending; creds/ returns nothing until a different entity {}promotes it",
            pending.number,
            if pending.last_test.is_some() { "" } else { "tests and " }
        ));
    }
    Ok(Some(response))
}

async fn update(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    if record::load_federated(req.storage.as_ref(), &name)
        .await?
        .is_some()
    {
        if d.get_bool("federated") == Some(false) {
            return Err(Error::BadRequest(
                "federated cannot be changed: delete the key and create it again".into(),
            ));
        }
        let input = federated::input(&d)?;
        let key =
            workflows::define_federated(&s, req.storage.as_ref(), &name, input, false).await?;
        return Ok(Some(Response::with_data(federated::to_json(&key))));
    }
    if d.is_set("federated") || federated::names_federated_fields(&d) {
        return Err(Error::BadRequest(
            "federated and its fields can only be given when a federated key is created".into(),
        ));
    }
    if d.is_set("value") {
        return Err(Error::BadRequest(
            "value cannot be changed by an update: stage/ and promote/ (or rotate/) change a key's value, so every change is tested and recorded".into(),
        ));
    }
    if d.is_set("created_time") {
        return Err(Error::BadRequest(
            "created_time can only be set when a key is created".into(),
        ));
    }
    if d.is_set("provider_key_id") {
        return Err(Error::BadRequest(
            "provider_key_id can only be set when a key is created (for its first value) or with stage/ (for a new value): it names the provider's key for one value".into(),
        ));
    }
    let settings = settings(&d)?;
    let mut locked = Locked::open(&s, &req, &name).await?;
    let changed = settings.apply(locked.key());
    workflows::check_references(req.storage.as_ref(), locked.key_ref()).await?;
    if !changed.is_empty() {
        locked.note(
            "updated",
            None,
            None,
            &format!("changed {}", changed.join(", ")),
        );
    }
    locked.commit(&s, req.storage.as_ref()).await?;
    let periods = policy::periods(&s.schedules, req.storage.as_ref(), locked.key_ref()).await?;
    Ok(Some(view::with_grace_warning(
        view::key_json(locked.key_ref(), periods, locked.now),
        &format!("key {name:?}"),
        periods.grace_period,
    )))
}

async fn delete(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    if workflows::delete_federated(&s, req.storage.as_ref(), &name).await? {
        return Ok(None);
    }
    // A delete that revoked keys at a provider says how each revocation stands (and warns of any
    // key still valid there); otherwise there is nothing to say (204).
    let retired = workflows::delete_key(&s, &req, &name).await?;
    let Some(retired) = retired.filter(|r| {
        r.as_array()
            .is_some_and(|l| l.iter().any(|v| !v["provider_revocation"].is_null()))
    }) else {
        return Ok(None);
    };
    let data = serde_json::json!({ "retired_versions": retired });
    let warnings = view::retirement_warnings(&data, &name);
    let mut response = Response::with_data(data);
    response.warnings.extend(warnings);
    Ok(Some(response))
}

const LIST_SYNOPSIS: &str = "List managed keys.";
const LIST_DESCRIPTION: &str = "Lists the names of every managed key. A stored name that breaks \
the name rule is listed too, with key_info {name_valid: false, manage_through: records/keys/<name>}: \
no keys/<name> path reaches it.";
const SYNOPSIS: &str = "Manage an AI provider API key.";
const DESCRIPTION: &str = "\
A managed key holds numbered versions: pending (staged), current (what creds/ returns), previous \
(still valid during its grace window), revoked and failed (values destroyed). Create a key from \
the value in use today, or without a value from a key its provider creates (openai or openrouter \
with an admin_key; the new key is tested first, and one that fails its test is revoked and no key \
is created); change it only through stage/, test/, promote/ or rotate/. With config \
require_separate_approver, a create is a stage: the creator needs an identity entity (403 \
otherwise), version 1 is pending, creds/ answers 404 until a different entity tests and promotes \
it, and rollback/ discards it (a new first version can then be staged). Reads never \
return values: each version shows its fingerprint (sha256: plus 16 hex digits of the value's \
SHA-256), so a leaked key can be matched to its version. Delete destroys every stored value, \
revokes at the provider what the engine owns there (keys it created, and imports whose \
provider_key_id possession of the value proved; the others are recorded manual, for a person to \
revoke), and keeps the key's history; when it revoked keys at a provider it answers \
retired_versions with each revocation's status (and warns of any key still valid there), \
otherwise 204. \
next_rotation_time is when the current version is due: created_time plus rotation_period, or the \
first time of its rotation_schedule (cron, UTC) after it was created; with a cron schedule and a \
rotation_window, a scheduled time whose window closed without a rotation shows as \
missed_rotation_time and next_rotation_time moves to the next scheduled time (the key stays \
overdue). rotation_period reads 0 while a rotation_schedule is in force. \
Each override of the schedule (rotation_period, rotation_schedule, rotation_window, \
grace_period, usage_quiet_period, max_grace, health_check_interval, expiry_warning) is removed by giving it as an empty string (\"\"), \
on update or create: the key then follows its schedule's value again, and reads show that value. \
0 is a value, not a removal (grace_period=0 revokes the old version at once). \
A federated key (federated=true, see docs/keyless.md) holds no value: it names a provider \
(openai, anthropic or openrouter), the subject and audience of the JWT this mount's issuer signs, \
token_ttl and the provider's federation ids; creds/ exchanges a signed JWT for a short-lived \
provider token. Rotation paths answer 400 for it.";

mod federated;
#[cfg(test)]
mod tests;
