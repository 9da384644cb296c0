//! What a delivery carries: a CloudEvents 1.0 event in structured JSON mode (the
//! `cloudevents-sdk` crate builds and serializes it), signed with the Standard Webhooks scheme
//! (the `standardwebhooks` crate: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`). The data names the key, version, actor, reason and the provider's
//! answer as the history recorded them: never a key value (history events hold none).

use chrono::{DateTime, Utc};
use cloudevents::{EventBuilder, EventBuilderV10};
use serde_json::json;

use crate::backend::record::{self, HistoryEvent};
use crate::framework::Error;

/// Prefix of every notification type.
pub(crate) const TYPE_PREFIX: &str = "io.openbao.ai-keys.";
/// The content type of a structured-mode CloudEvent.
pub(crate) const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The notification type (after [`TYPE_PREFIX`]) of a history or notice event, if it has one.
/// A rotation that failed because the provider's key-expiry policy refused the create is
/// recorded as `failed` with the outcome [`record::OUTCOME_POLICY_REFUSED`] and delivered as
/// `key.provider_policy_refused`.
pub(crate) fn type_of(event: &HistoryEvent) -> Option<&'static str> {
    Some(match event.event.as_str() {
        "staged" => "rotation.staged",
        "tested" => "rotation.tested",
        "promoted" => "rotation.promoted",
        "failed" if event.outcome.as_deref() == Some(record::OUTCOME_POLICY_REFUSED) => {
            "key.provider_policy_refused"
        }
        "failed" => "rotation.failed",
        "provider_revoked" => "revocation.confirmed",
        "provider_revocation_manual" => "revocation.manual_required",
        "revocation_pending_long" => "revocation.pending_long",
        // Only ever a notice (a deleted key's first failure, `provider_ops`): the history
        // event of that name is not notified (`record::NOTIFIED_EVENTS`).
        "provider_revocation_failed" => "revocation.failed",
        "current_key_rejected" => "key.rejected",
        "exposed" => "key.exposed",
        "due_soon" => "key.due_soon",
        "overdue" => "key.overdue",
        "provider_expiry_near" => "key.provider_expiry_near",
        "grace_extended" => "grace.extended",
        "usage_checked" if event.outcome.as_deref() == Some("max_grace") => "grace.max_reached",
        _ => return None,
    })
}

/// The facts a delivery's `data` adds to the event (who may approve a tested version).
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// Under the two-person rule: who may promote.
    pub approval: Option<String>,
}

/// The CloudEvent of an outbox event as JSON bytes (structured mode).
pub(crate) fn body(
    id: &str,
    source: &str,
    key: &str,
    incarnation: u32,
    ty: &str,
    event: &HistoryEvent,
    extra: &Extra,
) -> Result<Vec<u8>, Error> {
    let mut data = json!({
        "key": key,
        "incarnation": incarnation,
        "event": event.event,
        "version": event.version,
        "actor": event.actor,
        "request_id": event.request_id,
        "outcome": event.outcome,
        "reason": event.detail,
    });
    // A failed rotation's version: the one staged, or the number the new one was to get.
    if let Some(attempted) = record::attempted(event) {
        data["attempted_version"] = json!(attempted);
    }
    if let Some(a) = &extra.approval {
        data["awaiting_approval"] = json!({ "may_approve": a });
    }
    let ce = EventBuilderV10::new()
        .id(id)
        .source(source)
        .ty(format!("{TYPE_PREFIX}{ty}"))
        .subject(key)
        .time(event.time)
        .data("application/json", data)
        .build()
        .map_err(|e| Error::Internal(format!("could not build a notification event: {e}")))?;
    serde_json::to_vec(&ce)
        .map_err(|e| Error::Internal(format!("could not encode a notification event: {e}")))
}

/// The `source` of every event of a mount: `vault://<mount path>`.
pub(crate) fn source(mount_point: &str) -> String {
    let mount = mount_point.trim_matches('/');
    if mount.is_empty() {
        "vault://ai-keys".to_string()
    } else {
        format!("vault://{mount}")
    }
}

/// The Standard Webhooks headers of a delivery: id, timestamp, signature. The secret was
/// checked when configured; one that no longer decodes is an error naming no value.
pub(crate) fn sign(
    secret: &str,
    id: &str,
    at: DateTime<Utc>,
    body: &[u8],
) -> Result<[(&'static str, String); 3], Error> {
    let hook = standardwebhooks::Webhook::new(secret)
        .map_err(|_| Error::Internal("the stored signing secret does not decode".into()))?;
    let ts = at.timestamp();
    let signature = hook
        .sign(id, ts, body)
        .map_err(|_| Error::Internal("could not sign a notification".into()))?;
    Ok([
        (standardwebhooks::HEADER_WEBHOOK_ID, id.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string()),
        (standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature),
    ])
}
