//! What reads show of a key: everything but values.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::policy::{self, Periods};
use super::record::KeyState;
use crate::rotation::{
    KeyVersions, Origin, ProviderRevocation, TestResult, Version, ENTITY_PREFIX,
};

/// RFC 3339 UTC with whole seconds, as api.md shows times.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map(time).map(Value::String).unwrap_or(Value::Null)
}

/// Grace windows shorter than this rarely let every application re-read `creds/` in time
/// (an agent template re-renders on its own interval).
pub(super) const SHORT_GRACE_SECS: i64 = 300;

/// The warning for a grace window of `grace_secs` shorter than [`SHORT_GRACE_SECS`] (also
/// logged, naming `subject`), or `None`.
pub(super) fn short_grace_warning(subject: &str, grace_secs: i64) -> Option<String> {
    if grace_secs >= SHORT_GRACE_SECS {
        return None;
    }
    tracing::warn!(
        subject,
        grace_secs,
        "grace period shorter than five minutes"
    );
    Some(format!(
        "{subject}: the grace period is {grace_secs}s, shorter than five minutes: applications \
         (and agent templates, on their re-render interval) may still use the previous key when \
         it is revoked; use at least 5m unless this is an emergency rotation"
    ))
}

/// A response with `data` and the short-grace warning for `grace_secs`, if any.
pub(super) fn with_grace_warning(
    data: Value,
    subject: &str,
    grace_secs: i64,
) -> crate::framework::Response {
    let mut response = crate::framework::Response::with_data(data);
    response
        .warnings
        .extend(short_grace_warning(subject, grace_secs));
    response
}

/// A test result as shown to users.
pub(super) fn test_json(t: &TestResult) -> Value {
    json!({
        "outcome": t.outcome.as_str(),
        "status_code": t.status_code,
        "detail": t.detail,
        "time": time(t.time),
    })
}

fn version_json(v: &Version) -> Value {
    json!({
        "state": v.state.as_str(),
        "created_time": time(v.created_time),
        "promoted_time": opt_time(v.promoted_time),
        "grace_expires_time": opt_time(v.grace_expires_time),
        "planned_grace_expires_time": opt_time(v.planned_grace_expires_time),
        "revoked_time": opt_time(v.revoked_time),
        "fingerprint": v.fingerprint,
        "last_test": v.last_test.as_ref().map(test_json),
        "provider_key_id": v.provider_key_id,
        "engine_created": v.engine_created,
        "possession_proven": v.possession_proven,
        "provider": v.provider,
        "origin": v.origin.as_ref().map(origin_json),
        "provider_revocation": v.provider_revocation.as_ref().map(revocation_json),
        "grace_extensions": v.usage_check.as_ref().map_or(0, |c| c.extensions),
        "provider_expires_time": opt_time(v.provider_expires_time),
        "health_check": health_json(v),
    })
}

/// A version's last health check: its test result and `rejected_since` (when the provider
/// first refused the key in the current run of refusals, or null); null when never checked.
pub(super) fn health_json(v: &Version) -> Value {
    let Some(h) = &v.health_check else {
        return Value::Null;
    };
    let mut out = test_json(&h.last);
    out["rejected_since"] = opt_time(h.rejected_since);
    out
}

/// Where a version's key lives: `{provider_type, base_url, scope, provider_key_id}`; null when
/// unknown (not proven, or recorded by an earlier release).
fn origin_json(o: &Origin) -> Value {
    json!({
        "provider_type": o.place.provider_type,
        "base_url": o.place.base_url,
        "scope": o.place.scope,
        "provider_key_id": o.provider_key_id,
    })
}

/// A retired version's revocation at its provider: `pending` (with the last error) until the
/// provider confirms, then `confirmed` with its time; or `manual` (the engine does not own the
/// key: `manual_reason` says why, `provider_key_id` what to revoke by hand) until someone
/// records doing it, then `acknowledged` (`acknowledged_time`, `acknowledged_by`,
/// `acknowledged_reason`).
pub(super) fn revocation_json(r: &ProviderRevocation) -> Value {
    let mut out = json!({
        "status": r.status(),
        "provider": r.provider,
        "requested_time": time(r.requested_time),
        "confirmed_time": opt_time(r.confirmed_time),
        "attempts": r.attempts,
        "last_error": r.last_error,
    });
    if let Some(m) = &r.manual {
        let ack = m.acknowledged.as_ref();
        out["provider_key_id"] = json!(Some(r.provider_key_id.as_str()).filter(|i| !i.is_empty()));
        out["manual_reason"] = json!(m.reason);
        out["acknowledged_time"] = json!(ack.map(|a| time(a.time)));
        out["acknowledged_by"] = json!(ack.map(|a| a.actor.as_str()));
        out["acknowledged_reason"] = json!(ack.and_then(|a| a.reason.as_deref()));
    }
    out
}

/// The versions an operation retired, as its answer lists them:
/// `[{version, state, provider_revocation}]`, where `provider_revocation` is the revocation's
/// status at the provider (`pending`, `confirmed`, ...), or null when the engine revokes nothing
/// there for that version. See [`retirement_warnings`].
pub(super) fn retired_versions_json(versions: &KeyVersions, numbers: &[u32]) -> Value {
    let list: Vec<Value> = numbers
        .iter()
        .filter_map(|n| versions.get(*n))
        .map(|v| {
            let mut out = json!({
                "version": v.number,
                "state": v.state.as_str(),
                "provider_revocation": v.provider_revocation.as_ref().map(ProviderRevocation::status),
            });
            if let Some(r) = v.provider_revocation.as_ref().filter(|r| r.is_pending()) {
                out["provider"] = json!(r.provider);
                out["last_error"] = json!(r.last_error);
            }
            if let Some(r) = v.provider_revocation.as_ref().filter(|r| r.manual.is_some()) {
                out["provider"] = json!(r.provider);
            }
            out
        })
        .collect();
    Value::Array(list)
}

/// The warnings an answer's `retired_versions` and `cut_short` call for: a retired key still
/// valid at its provider (its revocation pending: the engine retries it; or `manual`: a person
/// must), and a version whose
/// grace window this change ended early (its planned end named).
pub(super) fn retirement_warnings(data: &Value, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(cut) = data.get("cut_short").filter(|c| !c.is_null()) {
        out.push(format!(
            "key {name:?}: version {} was still in its grace window, planned to end at {}; this \
             change revoked it early",
            cut["version"],
            cut["grace_expires_time"]
                .as_str()
                .unwrap_or("an unknown time")
        ));
    }
    for v in data["retired_versions"].as_array().into_iter().flatten() {
        if v["provider_revocation"] == "pending" {
            out.push(format!(
                "key {name:?}: version {} is revoked here but still valid at provider {}: its \
                 revocation there is pending ({}); the engine retries it",
                v["version"],
                v["provider"],
                v["last_error"].as_str().unwrap_or("not attempted yet")
            ));
        }
        if v["provider_revocation"] == "manual" {
            out.push(format!(
                "key {name:?}: version {} is revoked here but the engine does not own its key \
                 and never revokes it at provider {}: revoke it there by hand, then record that \
                 with acknowledge/{name} (the version's history says what to revoke)",
                v["version"], v["provider"]
            ));
        }
    }
    out
}

/// The versions map as shown, with grace applied at `now` (a previous version past its grace is
/// shown revoked even before the periodic tick has recorded it).
pub(super) fn versions_json(versions: &KeyVersions, now: DateTime<Utc>) -> Value {
    let mut effective = versions.clone();
    effective.expire(now);
    let map: Map<String, Value> = effective
        .versions
        .values()
        .map(|v| (v.number.to_string(), version_json(v)))
        .collect();
    Value::Object(map)
}

/// A request to reinstate the previous version (two-person rule) while it still holds at `now`:
/// `{version, replaces, requested_by (entity id), requested_time, expires_time}`, or null.
pub(super) fn reinstatement_json(versions: &KeyVersions, now: DateTime<Utc>) -> Value {
    let Some(r) = versions.reinstatement(now) else {
        return Value::Null;
    };
    let expires = versions.get(r.version).and_then(|v| v.grace_expires_time);
    json!({
        "version": r.version,
        "replaces": r.replaces,
        "requested_by": r.requested_by.strip_prefix(ENTITY_PREFIX).unwrap_or(&r.requested_by),
        "requested_time": time(r.requested_time),
        "expires_time": opt_time(expires),
    })
}

/// The full `keys/:name` read.
pub(super) fn key_json(key: &KeyState, periods: Periods, now: DateTime<Utc>) -> Value {
    let versions = &key.versions;
    let age = periods.age(versions, now);
    let cadence = policy::cadence_json(periods.rotation_schedule.as_ref(), periods.rotation_period);
    let rejected = versions.current().and_then(Version::rejected_since);
    json!({
        "name": key.name,
        "provider": key.provider,
        "schedule": key.schedule,
        "rotation_period": cadence["rotation_period"],
        "rotation_schedule": cadence["rotation_schedule"],
        "grace_period": periods.grace_period,
        "rotation_window": periods.rotation_window,
        "usage_quiet_period": periods.usage_quiet_period,
        "max_grace": periods.max_grace,
        "health_check_interval": periods.health_check_interval,
        "expiry_warning": periods.expiry_warning,
        "auto_rotate": key.auto_rotate,
        "custom_metadata": key.custom_metadata,
        "current_version": versions.current_version(),
        "pending_version": versions.pending().map(|v| v.number),
        "versions": versions_json(versions, now),
        "age_days": age.as_ref().map(|a| a.age_days),
        "last_rotation_time": opt_time(versions.last_rotation_time()),
        "next_rotation_time": opt_time(age.as_ref().map(|a| a.next_rotation_time)),
        "overdue": age.as_ref().is_some_and(|a| a.overdue),
        "overdue_days": age.as_ref().map(|a| a.overdue_days).unwrap_or(0),
        "missed_rotation_time": opt_time(age.as_ref().and_then(|a| a.missed_rotation_time)),
        "last_error": key.last_error,
        "reinstatement_request": reinstatement_json(versions, now),
        "last_health_check": versions.current().map_or(Value::Null, health_json),
        "current_key_rejected": rejected.is_some(),
        "current_key_rejected_time": opt_time(rejected),
        "exposed": exposure_json(key),
    })
}

/// The leak in force on a key (`exposed`): `{version, time, source, reason, withdrawn}`, or
/// null once a new value was promoted.
pub(super) fn exposure_json(key: &KeyState) -> Value {
    let Some(e) = key.exposure() else {
        return Value::Null;
    };
    json!({
        "version": e.version,
        "time": time(e.time),
        "source": e.source,
        "reason": e.reason,
        "withdrawn": key.versions.withdrawn == Some(e.version),
    })
}

/// The response of a promotion with an explicit `grace` (and the short-grace warning, except
/// for 0, a deliberate emergency rotation), with the warnings of [`retirement_warnings`].
pub(super) fn grace_response(
    data: serde_json::Value,
    name: &str,
    grace: Option<i64>,
) -> crate::framework::Response {
    let warnings = retirement_warnings(&data, name);
    let mut response = match grace.filter(|g| *g > 0) {
        Some(g) => with_grace_warning(data, &format!("key {name:?}"), g),
        None => crate::framework::Response::with_data(data),
    };
    response.warnings.extend(warnings);
    response
}
