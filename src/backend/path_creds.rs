//! `creds/:name`: what applications read. The only path that returns key values.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::policy;
use super::record;
use super::shared::{bind, Shared};
use super::view;
use crate::framework::{
    generic_name_regex, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request,
    Response,
};

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
        return Ok(None);
    };
    let key = &entry.key;
    let now = Utc::now();
    let versions = &key.versions;
    let Some(current) = versions.current() else {
        return Ok(None);
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

const SYNOPSIS: &str = "Read the key applications should use.";
const DESCRIPTION: &str = "\
Returns api_key (the current version's value), version, provider, last_rotation_time and ttl \
(seconds until the current version is due for rotation, 0 when overdue). While a previous version \
is inside its grace window, also previous_api_key and previous_expires_time, so a client can fall \
back during a cut-over; the moment the grace window closes they are no longer returned.";

#[cfg(test)]
mod tests;
