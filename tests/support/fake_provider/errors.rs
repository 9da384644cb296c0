//! Each provider's errors: status, body and headers in its own words, and the gate every
//! endpoint passes first (mode, then the key from the provider's header).

use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::json;

use super::http::{base62, enter, hex, masked, respond};
use super::{Flavor, Kind, Mode, Shared};

fn mode_kind(mode: Mode, flavor: Flavor) -> (u16, Kind) {
    match mode {
        Mode::Unauthorized401 => (401, Kind::Denied),
        Mode::Billing402 => (402, Kind::Billing),
        Mode::RateLimited429 => (429, Kind::Rate),
        Mode::QuotaExhausted429 => (429, Kind::Quota),
        Mode::ServerError500 => (500, Kind::Server),
        Mode::Overloaded529 if flavor == Flavor::Anthropic => (529, Kind::Overloaded),
        Mode::Overloaded529 => (503, Kind::Overloaded),
        Mode::Normal | Mode::Stall | Mode::EchoKey => unreachable!("not an error mode"),
    }
}

/// The provider's error answer; `key` is the presented key (for masked echoes), `msg` the
/// message of `NotFound` and `BadRequest`. (A table per provider: kept one row a line.)
#[rustfmt::skip]
pub(super) fn error(flavor: Flavor, status: u16, kind: Kind, key: &str, msg: &str) -> Response {
    use Kind::*;
    let limited = matches!(kind, Rate | Quota);
    match flavor {
        Flavor::OpenAi => {
            let incorrect = format!("Incorrect API key provided: {}.", masked(key));
            let (ty, code, message) = match kind {
                Invalid => ("invalid_request_error", Some("invalid_api_key"), incorrect.as_str()),
                Missing => ("invalid_request_error", None, "You didn't provide an API key."),
                Denied => ("invalid_request_error", Some("invalid_api_key"), "Invalid key."),
                NoRole => ("invalid_request_error", None, "You have insufficient permissions for this operation. Missing scopes: api.model.read. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Viewer, Member, Owner), and if you're using a restricted API key, that it has the necessary scopes."),
                Billing => ("billing_error", Some("billing_not_active"), "Account not active."),
                Rate => ("requests", Some("rate_limit_exceeded"), "Rate limit reached for requests."),
                Quota => ("insufficient_quota", Some("insufficient_quota"), "You exceeded your current quota, please check your plan and billing details."),
                Server => ("server_error", None, "The server had an error while processing your request."),
                Overloaded => ("server_error", Some("engine_overloaded"), "The engine is currently overloaded."),
                NotFound | BadRequest => ("invalid_request_error", None, msg),
            };
            let mut h = vec![("x-request-id", format!("req_{}", hex(32)))];
            if limited {
                h.push(("x-ratelimit-limit-requests", "500".into()));
                h.push(("x-ratelimit-remaining-requests", "0".into()));
                h.push(("x-ratelimit-reset-requests", "120ms".into()));
            }
            let e = json!({"message": message, "type": ty, "param": null, "code": code});
            respond(status, &h, json!({ "error": e }))
        }
        Flavor::Anthropic => {
            let (ty, message) = match kind {
                Invalid | Denied | NoRole => ("authentication_error", "invalid x-api-key"),
                Missing => ("authentication_error", "x-api-key header is required"),
                Billing => ("billing_error", "Your credit balance is too low to access the Anthropic API."),
                Rate | Quota => ("rate_limit_error", "This request would exceed your rate limit."),
                Server => ("api_error", "Internal server error"),
                Overloaded => ("overloaded_error", "Overloaded"),
                NotFound => ("not_found_error", msg),
                BadRequest => ("invalid_request_error", msg),
            };
            let rid = format!("req_011C{}", base62(20));
            let mut h = vec![("request-id", rid.clone())];
            if limited {
                h.push(("retry-after", "1".into()));
                h.push(("anthropic-ratelimit-requests-remaining", "0".into()));
            }
            let e = json!({"type": ty, "message": message});
            respond(status, &h, json!({"type": "error", "error": e, "request_id": rid}))
        }
        Flavor::Gemini => {
            let (st, message, reason) = match kind {
                Invalid => ("INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", Some("API_KEY_INVALID")),
                Missing => ("PERMISSION_DENIED", "Method doesn't allow unregistered callers.", None),
                Denied | NoRole => ("UNAUTHENTICATED", "Request had invalid authentication credentials.", None),
                Billing => ("FAILED_PRECONDITION", "Billing is not enabled.", None),
                Rate | Quota => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", None),
                Server => ("INTERNAL", "An internal error has occurred.", None),
                Overloaded => ("UNAVAILABLE", "The model is overloaded.", None),
                NotFound => ("NOT_FOUND", msg, None),
                BadRequest => ("INVALID_ARGUMENT", msg, None),
            };
            let status = if kind == Invalid { 400 } else { status };
            let mut e = json!({"code": status, "message": message, "status": st});
            if let Some(reason) = reason {
                e["details"] = json!([
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
                     "metadata": {"service": "generativelanguage.googleapis.com"}},
                    {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message}]);
            }
            respond(status, &[], json!({ "error": e }))
        }
        Flavor::Azure => {
            let message = match kind {
                Invalid | Missing | Denied | NoRole => "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
                Rate | Quota => "Requests have exceeded call rate limit of your current pricing tier.",
                Billing => "Payment required.",
                Server | Overloaded => "The service is temporarily unavailable.",
                NotFound | BadRequest => msg,
            };
            let uuid = format!("{}-{}-4{}-a{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12));
            let mut h = vec![("apim-request-id", uuid)];
            if limited {
                h.push(("retry-after", "1".into()));
                h.push(("retry-after-ms", "250".into()));
            }
            let e = json!({"code": status.to_string(), "message": message});
            respond(status, &h, json!({ "error": e }))
        }
        Flavor::OpenRouter => {
            let message = match kind {
                Invalid | Missing | Denied | NoRole => "No auth credentials found",
                Billing => "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
                Rate | Quota => "Rate limit exceeded",
                Server => "Internal Server Error",
                Overloaded => "Service temporarily unavailable",
                NotFound | BadRequest => msg,
            };
            let h = [("x-ratelimit-remaining", if limited { "0" } else { "19" }.to_string())];
            respond(status, &h, json!({"error": {"code": status, "message": message}}))
        }
    }
}

/// The hostile answer of [`Mode::EchoKey`].
fn echo(key: &str) -> Response {
    let e = json!({"type": key, "code": key, "status": key, "message": key, "details": [{"reason": key}]});
    respond(
        401,
        &[],
        json!({"type": "error", "request_id": key, "error": e}),
    )
}

/// Mode, then the key from the provider's header, checked against `valid`.
pub(super) async fn gate(
    state: &Shared,
    uri: &Uri,
    flavor: Flavor,
    key: Option<&str>,
    admin: bool,
) -> Result<String, Response> {
    let mode = enter(state, uri, admin).await;
    let key = key.unwrap_or_default();
    match mode {
        Mode::Normal => {}
        Mode::EchoKey => return Err(echo(key)),
        other => {
            let (status, kind) = mode_kind(other, flavor);
            return Err(error(flavor, status, kind, key, ""));
        }
    }
    let mut s = state.lock().unwrap();
    let valid = if admin { &s.admin_keys } else { &s.keys };
    if key.is_empty() {
        let status = if flavor == Flavor::Gemini { 403 } else { 401 };
        Err(error(flavor, status, Kind::Missing, key, ""))
    } else if !valid.contains(key) {
        Err(error(flavor, 401, Kind::Invalid, key, ""))
    } else if let Some(refused) = (!admin)
        .then(|| super::key_state::refusal(&s, flavor, key))
        .flatten()
    {
        Err(refused)
    } else {
        if !admin {
            super::usage::touch(&mut s, key);
        }
        Ok(key.to_string())
    }
}

/// OpenAI's 400 for a request parameter it refuses, naming the parameter in `param`.
pub(super) fn openai_invalid(param: &str, msg: &str) -> Response {
    let e = json!({"message": msg, "type": "invalid_request_error", "param": param, "code": null});
    respond(
        400,
        &[("x-request-id", format!("req_{}", hex(32)))],
        json!({ "error": e }),
    )
}
