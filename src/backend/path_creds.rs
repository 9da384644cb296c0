//! `creds/:name`: what applications read. The only path that returns key values.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::policy;
use super::record;
use super::shared::{bind, Shared};
use super::view;
use super::workflows;
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response, Storage,
};
use crate::rotation::KeyVersions;

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![Path::new(&format!("creds/{}", generic_name_regex("name")))
        .field(Field::new("name", FieldType::Name, "Name of the key.").required())
        .operation(
            Operation::Read,
            "Read the current key (and the previous one during its grace window).",
            bind(shared, read),
        )
        .help(SYNOPSIS, DESCRIPTION)]
}

async fn read(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let storage = req.storage.as_ref();
    // The record as stored (from the cache when warm); what it shows is judged now.
    let Some(entry) = record::load_shared(storage, &name).await? else {
        return federated(&s, storage, &name).await;
    };
    let key = &entry.key;
    let now = Utc::now();
    let versions = &key.versions;
    let Some(current) = versions.current() else {
        // A key whose first value waits for approval says so; one whose values were destroyed
        // (a delete interrupted before the record went) answers nothing.
        return match no_current_yet(&name, versions) {
            Some(e) => Err(e),
            None => Ok(None),
        };
    };
    let value = current.value.as_ref().map(|v| v.expose().to_string());
    let periods = policy::periods(&s.schedules, storage, key).await?;
    let mut data = json!({
        "api_key": value,
        "version": current.number,
        "provider": key.provider,
        "last_rotation_time": versions.last_rotation_time().map(view::time),
        "ttl": periods.age(versions, now).map_or(0, |a| a.ttl_secs),
    });
    // Grace is judged now, not by the last periodic tick.
    if let Some(prev) = versions.previous_in_grace(now) {
        if let (Some(v), Some(exp)) = (prev.value.as_ref(), prev.grace_expires_time) {
            data["previous_api_key"] = json!(v.expose());
            data["previous_version"] = json!(prev.number);
            data["previous_expires_time"] = json!(view::time(exp));
        }
    }
    Ok(Some(Response::with_data(data)))
}

/// A federated key's short-lived provider token (the audit device HMACs `api_key` like any key).
async fn federated(s: &Arc<Shared>, storage: &dyn Storage, name: &str) -> HandlerResult {
    let Some(t) = workflows::federated_creds(s, storage, name).await? else {
        return Ok(None);
    };
    let ttl = (t.expires - Utc::now()).num_seconds().max(0);
    Ok(Some(Response::with_data(json!({
        "api_key": t.value.expose(),
        "federated": true,
        "provider": t.provider,
        "expires_time": view::time(t.expires),
        "ttl": ttl,
    }))))
}

/// Why a key that never had a current version has no value to give yet (404 with the reason):
/// its first version waits for approval (two-person rule), or was discarded before it. `None`
/// for a key whose values were destroyed.
fn no_current_yet(name: &str, versions: &KeyVersions) -> Option<Error> {
    if let Some(withdrawn) = versions.withdrawn {
        let next = match versions.pending() {
            Some(p) => format!(
                "version {} is pending until a different entity promotes it",
                p.number
            ),
            None => "stage/ a new value for a different entity to promote".to_string(),
        };
        return Some(Error::NotFound(format!(
            "key {name:?} has no current version: version {withdrawn} was withdrawn because its              value leaked (exposed); {next} (require_separate_approver)"
        )));
    }
    if !versions.never_current() {
        return None;
    }
    Some(Error::NotFound(match versions.pending() {
        Some(p) => {
            format!(
            "key {name:?} has no current version yet (awaiting approval): version {} is pending \
             until an entity other than its creator {}promotes it (require_separate_approver)",
            p.number,
            if p.last_test.is_some() { "" } else { "tests and " }
        )
        }
        None => format!(
            "key {name:?} has no current version: its first version was rolled back before it \
             was approved; stage/ a new one for another entity to promote"
        ),
    }))
}

const SYNOPSIS: &str = "Read the key applications should use.";
const DESCRIPTION: &str = "\
Returns api_key (the current version's value), version, provider, last_rotation_time and ttl \
(seconds until the current version is due for rotation, 0 when overdue). While a previous version \
is inside its grace window, also previous_api_key and previous_expires_time, so a client can fall \
back during a cut-over; the moment the grace window closes they are no longer returned. A key \
created under require_separate_approver has no current version until a different entity promotes \
its first version: until then creds/ is a 404 saying so (awaiting approval) and naming the \
pending version. So is a key whose current version was withdrawn by exposed under that rule, until \
its replacement is promoted. For a federated key: api_key is a short-lived provider access token (obtained by \
exchanging a JWT this mount's issuer signs, reused until two thirds of its life is spent), with \
expires_time and ttl (seconds left); a provider refusal is a 502 (bad_key), an outage a 503 \
(provider_unavailable).";

#[cfg(test)]
mod tests;
