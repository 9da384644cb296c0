//! `config`: mount-wide settings.

use std::sync::Arc;

use serde_json::json;

use chrono::Utc;

use super::issuer::IssuerSettings;
use super::policy::{
    self, Config, RuleOffRequest, CONFIG_KEY, MAX_HISTORY_LIMIT, MAX_MAX_GRACE_PERIOD,
};
use super::record::Actor;
use super::shared::{bind, Shared};
use crate::framework::{
    put_json, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response,
};

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    let mut path = Path::new("config");
    for f in issuer_fields::fields() {
        path = path.field(f);
    }
    vec![path
        .field(Field::new(
            "default_schedule",
            FieldType::Name,
            "Schedule for keys that name none (a name under schedules/).",
        ).default(json!("production")))
        .field(Field::new(
            "require_separate_approver",
            FieldType::Bool,
            "If true, no single entity can make a value live (two-person rule): promote/ must be made by a different entity than the one that staged the version, a keys/ create leaves version 1 pending for another entity to promote, and a rollback/ that reinstates the previous version needs a second entity to confirm it; violations are 403. Switching it off while it is on takes two entities too: the first write records a request, a different entity's write within an hour switches it off.",
        ).default(json!(false)))
        .field(Field::new(
            "history_limit",
            FieldType::Int,
            "History events kept per key; the oldest are dropped first.",
        ).default(json!(1000)).min(1).max(MAX_HISTORY_LIMIT))
        .field(Field::new(
            "max_grace_period",
            FieldType::Duration,
            "The largest grace_period a request may give on promote/ or rotate/ (a key's own max_grace may lower it); beyond it the request is a 400 naming the limit. Default 30d.",
        ).min(1).max(MAX_MAX_GRACE_PERIOD))
        .operation(Operation::Read, "Read the engine configuration.", bind(shared, read))
        .operation(Operation::Update, "Update the engine configuration.", bind(shared, update))
        .help(CONFIG_SYNOPSIS, CONFIG_DESCRIPTION)]
}

async fn read(_s: Arc<Shared>, req: Request, _d: FieldData) -> HandlerResult {
    let config = Config::load(req.storage.as_ref()).await?;
    let issuer = IssuerSettings::load(req.storage.as_ref()).await?;
    Ok(Some(Response::with_data(with_issuer(
        config.to_json(),
        &issuer,
    ))))
}

/// `config`'s JSON with the issuer's fields beside the rest.
fn with_issuer(mut out: serde_json::Value, settings: &IssuerSettings) -> serde_json::Value {
    if let (Some(out), serde_json::Value::Object(fields)) =
        (out.as_object_mut(), issuer_fields::to_json(settings))
    {
        out.extend(fields);
    }
    out
}

async fn update(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let mut config = Config::load(req.storage.as_ref()).await?;
    if d.is_set("default_schedule") {
        let name = d.get_string("default_schedule").unwrap_or_default();
        policy::require_schedule(req.storage.as_ref(), "default_schedule", &name).await?;
        config.default_schedule = name;
    }
    let mut warning = None;
    if d.is_set("require_separate_approver") {
        let wanted = d.get_bool("require_separate_approver").unwrap_or(false);
        if config.require_separate_approver && !wanted {
            warning = switch_rule_off(&mut config, &Actor::of(&req))?;
        } else {
            config.require_separate_approver = wanted;
            config.rule_off_request = None;
        }
    }
    if d.is_set("history_limit") {
        let limit = d.get_int("history_limit").unwrap_or_default();
        if !(1..=MAX_HISTORY_LIMIT).contains(&limit) {
            return Err(Error::BadRequest(format!(
                "history_limit must be between 1 and {MAX_HISTORY_LIMIT}"
            )));
        }
        config.history_limit = limit;
    }
    if d.is_set("max_grace_period") {
        let limit = d.get_duration("max_grace_period").unwrap_or_default();
        if !(1..=MAX_MAX_GRACE_PERIOD).contains(&limit) {
            return Err(Error::BadRequest(format!(
                "max_grace_period must be between 1s and {}d",
                MAX_MAX_GRACE_PERIOD / 86_400
            )));
        }
        config.max_grace_period = limit;
    }
    // The issuer's fields are checked (and stored) before the rest is written.
    let (issuer, moved) = issuer_fields::update(req.storage.as_ref(), &d).await?;
    *s.issuer_due.lock().unwrap_or_else(|p| p.into_inner()) = None;
    put_json(req.storage.as_ref(), CONFIG_KEY, &config).await?;
    let mut response = Response::with_data(with_issuer(config.to_json(), &issuer));
    response.warnings.extend(warning.into_iter().chain(moved));
    Ok(Some(response))
}

/// Switching the two-person rule off while it is on is itself a two-person act: the first
/// entity's write records a request (the rule stays on; the warning says so), a different
/// entity's write within [`policy::RuleOffRequest`]'s hour switches it off, and the requester's
/// own is a 403. Tokens without an entity cannot ask (as for stage/ and promote/).
fn switch_rule_off(config: &mut Config, actor: &Actor) -> Result<Option<String>, Error> {
    let Some(who) = actor.approver()? else {
        // The scheduler never writes config.
        return Err(Error::PermissionDenied(
            "only an identity entity may switch require_separate_approver off".into(),
        ));
    };
    let now = Utc::now();
    match config.rule_off_request.take().filter(|r| r.is_open_at(now)) {
        Some(r) if r.requested_by == who => {
            config.rule_off_request = Some(r);
            Err(Error::PermissionDenied(
                "require_separate_approver: you asked to switch the two-person rule off; a \
                 different entity must confirm it by writing require_separate_approver=false"
                    .into(),
            ))
        }
        Some(r) => {
            tracing::warn!(requested_by = %r.requested_by, confirmed_by = %who, "two-person rule switched off");
            config.require_separate_approver = false;
            Ok(None)
        }
        None => {
            config.rule_off_request = Some(RuleOffRequest {
                requested_by: who,
                requested_time: now,
            });
            Ok(Some(
                "require_separate_approver stays on: switching the two-person rule off needs a \
                 second entity to write require_separate_approver=false within an hour"
                    .into(),
            ))
        }
    }
}

const CONFIG_SYNOPSIS: &str = "Configure the ai-keys secrets engine.";
const CONFIG_DESCRIPTION: &str = "\
Mount-wide settings: the schedule used by keys that name none, the two-person rule for \
promotions, how many history events each key keeps, and the largest grace_period a promote/ or \
rotate/ may give (max_grace_period, default 30d). For federated keys: the public issuer URL of \
this mount's OpenID issuer and its signing-key schedule (signing_key_rotation_period, \
signing_key_prepublish, signing_key_grace).";

mod issuer_fields;
#[cfg(test)]
mod tests;
