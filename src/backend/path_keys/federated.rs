//! `keys/`'s federated keys: their fields, how a write of one is read, and how one is shown.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::backend::record::FederatedKey;
use crate::backend::workflows::{
    FederatedInput, DEFAULT_TOKEN_TTL, MAX_CLAIM_LEN, MAX_TOKEN_TTL, MIN_TOKEN_TTL,
};
use crate::framework::{Error, Field, FieldData, FieldType};
use crate::providers::FEDERATION_ID_FIELDS;

/// Longest provider id.
const MAX_ID_LEN: usize = 256;

/// The fields a federated key adds to `keys/`.
pub(super) fn fields() -> Vec<Field> {
    let mut out = vec![
        Field::new(
            "federated",
            FieldType::Bool,
            "Create only. If true the key holds no value: creds/ returns a short-lived provider access token, obtained by exchanging a JWT this mount's issuer signs (config issuer must be set). Needs provider (openai, anthropic or openrouter), subject, audience and the provider's federation ids.",
        ),
        Field::new("subject", FieldType::String, "Federated keys: the sub claim of the signed assertion (what the provider's trust rule matches).")
            .max_len(MAX_CLAIM_LEN),
        Field::new("audience", FieldType::String, "Federated keys: the aud claim of the signed assertion.")
            .max_len(MAX_CLAIM_LEN),
        Field::new("token_ttl", FieldType::Duration, format!("Federated keys: lifetime of the signed assertion (exp - iat), {MIN_TOKEN_TTL}s to {MAX_TOKEN_TTL}s. Default {DEFAULT_TOKEN_TTL}s."))
            .min(MIN_TOKEN_TTL)
            .max(MAX_TOKEN_TTL),
    ];
    for (name, help) in [
        ("identity_provider_id", "Federated openai keys: the workload identity provider configured for this mount's issuer."),
        ("service_account_id", "Federated openai and anthropic keys: the service account the token acts as (anthropic: svac_...)."),
        ("federation_rule_id", "Federated anthropic keys: the federation rule (fdrl_...)."),
        ("organization_id", "Federated anthropic keys: the organization's UUID."),
        ("workspace_id", "Federated anthropic keys, optional: the workspace (wrkspc_... or default) when the rule has several."),
        ("federation_policy_id", "Federated openrouter keys: the federation policy."),
    ] {
        out.push(
            Field::new(name, FieldType::String, format!("{help} An empty string clears it."))
                .max_len(MAX_ID_LEN)
                .pattern(r"^[A-Za-z0-9_.:-]*$", "must use only letters, digits, '_', '-', '.' or ':'"),
        );
    }
    out
}

/// Whether the request names any federated-only field.
pub(super) fn names_federated_fields(d: &FieldData) -> bool {
    ["subject", "audience", "token_ttl"]
        .iter()
        .chain(FEDERATION_ID_FIELDS.iter())
        .any(|f| d.is_set(f))
}

/// The federated key fields a write gives. Fields a federated key does not have are a 400.
pub(super) fn input(d: &FieldData) -> Result<FederatedInput, Error> {
    for field in [
        "value",
        "created_time",
        "provider_key_id",
        "schedule",
        "rotation_period",
        "rotation_schedule",
        "rotation_window",
        "grace_period",
        "usage_quiet_period",
        "max_grace",
        "auto_rotate",
    ] {
        if d.is_set(field) {
            return Err(Error::BadRequest(format!(
                "{field} does not apply to a federated key (it has no value versions)"
            )));
        }
    }
    let text = |f: &str| {
        d.is_set(f)
            .then(|| d.get_string(f).unwrap_or_default().trim().to_string())
    };
    let mut ids = BTreeMap::new();
    for field in FEDERATION_ID_FIELDS {
        if let Some(v) = text(field) {
            ids.insert(field.to_string(), v);
        }
    }
    Ok(FederatedInput {
        provider: text("provider"),
        subject: text("subject"),
        audience: text("audience"),
        token_ttl: d
            .is_set("token_ttl")
            .then(|| d.get_duration("token_ttl").unwrap_or(DEFAULT_TOKEN_TTL)),
        ids,
        custom_metadata: d
            .is_set("custom_metadata")
            .then(|| d.get_map("custom_metadata"))
            .flatten(),
    })
}

/// How a read shows a federated key (no value, no token).
pub(super) fn to_json(key: &FederatedKey) -> Value {
    let mut out = json!({
        "name": key.name,
        "federated": true,
        "provider": key.provider,
        "subject": key.subject,
        "audience": key.audience,
        "token_ttl": key.token_ttl,
        "created_time": key.created_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "custom_metadata": key.custom_metadata,
    });
    for (field, value) in &key.ids {
        out[field] = json!(value);
    }
    out
}
