//! Anthropic API keys made in the Console (the Admin API has no create): their object, their
//! status (`active`, `inactive`, `archived`, or `expired` once `expires_at` has passed), and
//! `POST /v1/organizations/api_keys/{id}` `{name?, status?}`, which sets `active`, `inactive` or
//! `archived`. `archived` is permanent, and `expired` is the API's to set: a status update of
//! such a key is refused with Anthropic's 400 `invalid_request_error` (fake_provider.rs "What it
//! follows").

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::{error, gate};
use super::http::{anthropic_hint, base62, body_json, header, note_mutation, respond};
use super::{expiry, FakeProvider, Flavor, Inner, Kind, Shared};

/// The status Anthropic shows for key `id` whose stored status is `stored`: `expired` once its
/// `expires_at` has passed (unless archived or inactive already).
pub(super) fn status(st: &Inner, id: &str, stored: &str) -> String {
    let past = st
        .expires
        .get(id)
        .is_some_and(|t| *t <= chrono::Utc::now().timestamp());
    if past && stored == "active" {
        "expired".to_string()
    } else {
        stored.to_string()
    }
}

/// The API key object (never the value).
pub(super) fn anthropic_view(st: &Inner, id: &str, value: &str, stored: &str) -> Value {
    let expires_at = st
        .expires
        .get(id)
        .and_then(|t| chrono::DateTime::from_timestamp(*t, 0))
        .map_or(Value::Null, |t| {
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        });
    json!({"type": "api_key", "id": id,
        "name": "Staged key", "created_at": "2026-01-05T10:00:00Z", "created_by": {"id": "user_01WCz1FkmYMm4gnmykNKUu3Q", "type": "user"},
        "expires_at": expires_at, "partial_key_hint": anthropic_hint(value), "status": status(st, id, stored),
        "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"})
}

fn request_id() -> [(&'static str, String); 1] {
    [("request-id", format!("req_011C{}", base62(20)))]
}

/// `POST /v1/organizations/api_keys/{id}` `{name?, status?}`.
pub(super) async fn anthropic_update(
    State(s): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    note_mutation(&s, &id);
    if let Err(r) = gate(
        &s,
        &uri,
        Flavor::Anthropic,
        header(&headers, "x-api-key"),
        true,
    )
    .await
    {
        return r;
    }
    let bad = |msg: &str| error(Flavor::Anthropic, 400, Kind::BadRequest, "", msg);
    if header(&headers, "anthropic-version").is_none() {
        return bad("anthropic-version: header is required");
    }
    let wanted = body_json(&body)["status"].as_str().map(str::to_string);
    let mut st = s.lock().unwrap();
    let Some((value, stored)) = st.anthropic.get(&id).cloned() else {
        return error(
            Flavor::Anthropic,
            404,
            Kind::NotFound,
            "",
            "API key not found",
        );
    };
    let shown = status(&st, &id, &stored);
    let new = match wanted.as_deref() {
        None => stored.clone(),
        Some(_) if shown == "archived" => return bad("An archived API key cannot be changed."),
        Some(_) if shown == "expired" => return bad("An expired API key cannot be changed."),
        Some(w @ ("active" | "inactive" | "archived")) => w.to_string(),
        Some(_) => return bad("status: Input should be 'active', 'inactive' or 'archived'"),
    };
    if new == "active" {
        st.keys.insert(value.clone())
    } else {
        st.keys.remove(&value)
    };
    st.anthropic
        .insert(id.clone(), (value.clone(), new.clone()));
    respond(200, &request_id(), anthropic_view(&st, &id, &value, &new))
}

impl FakeProvider {
    /// Sets Anthropic key `id`'s stored status (`active`, `inactive`, `archived`), as a person
    /// in the Console would; only `active` keys pass their test.
    pub fn set_anthropic_status(&self, id: &str, status: &str) {
        let mut st = self.lock();
        let Some((value, _)) = st.anthropic.get(id).cloned() else {
            panic!("no Anthropic key {id}");
        };
        if status == "active" {
            st.keys.insert(value.clone());
        } else {
            st.keys.remove(&value);
        }
        st.anthropic
            .insert(id.to_string(), (value, status.to_string()));
    }

    /// Registers an Anthropic key (as made in the Console) that expires at `at` (Unix seconds).
    pub fn add_anthropic_key_expiring(&self, id: &str, value: &str, at: i64) {
        self.add_anthropic_key(id, value);
        expiry::record(&mut self.lock(), id, Some(at));
    }
}
