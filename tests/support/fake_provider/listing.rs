//! List answers: which created keys one list request shows ([`Switches::list_lag`],
//! [`Switches::hide_new_keys_once`]) and how lists page.
//!
//! - OpenAI lists (`GET .../api_keys`, `GET .../service_accounts`): `limit` "can range between 1
//!   and 100, and the default is 20" (a value outside is OpenAI's 400), `after` is the id the
//!   page starts after, and the answer carries `first_id`, `last_id` and `has_more`.
//! - OpenRouter (`GET /api/v1/keys`): `offset` keys are skipped, newest first; the reference
//!   names no page size (100 here) and no `has_more`, so a client pages until an empty page.
//!
//! [`Switches::page_cap`] makes every page shorter than asked, which both APIs allow.
//!
//! [`Switches::list_lag`]: super::Switches::list_lag
//! [`Switches::hide_new_keys_once`]: super::Switches::hide_new_keys_once
//! [`Switches::page_cap`]: super::Switches::page_cap

use std::time::Instant;

use axum::http::Uri;
use axum::response::Response;

use super::errors::error;
use super::http::query;
use super::{Flavor, Inner, Kind};

/// OpenAI's default and largest `limit`.
pub(super) const OPENAI_DEFAULT_LIMIT: usize = 20;
pub(super) const OPENAI_MAX_LIMIT: usize = 100;
/// OpenRouter's page size here (its reference names none).
pub(super) const OPENROUTER_PAGE: usize = 100;

/// The page size of an OpenAI list request: `limit` (default 20, 1 to 100) cut to the page cap;
/// a `limit` outside 1 to 100 is OpenAI's 400.
pub(super) fn openai_page_size(st: &Inner, uri: &Uri) -> Result<usize, Box<Response>> {
    let limit = match query(uri, "limit") {
        None => OPENAI_DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n < 1 => return Err(bad_limit("integer below minimum value", "> 0", raw)),
            Ok(n) if n > OPENAI_MAX_LIMIT as i64 => {
                return Err(bad_limit(
                    "integer above maximum value",
                    &format!("<= {OPENAI_MAX_LIMIT}"),
                    raw,
                ))
            }
            Ok(n) => n as usize,
            Err(_) => return Err(bad_limit("expected an integer", "an integer", raw)),
        },
    };
    Ok(st.switches.page_cap.map_or(limit, |cap| limit.min(cap)))
}

fn bad_limit(what: &str, expected: &str, got: &str) -> Box<Response> {
    let msg =
        format!("Invalid 'limit': {what}. Expected a value {expected}, but got {got} instead.");
    Box::new(error(Flavor::OpenAi, 400, Kind::BadRequest, "", &msg))
}

/// The page size of an OpenRouter list request.
pub(super) fn openrouter_page_size(st: &Inner) -> usize {
    st.switches
        .page_cap
        .map_or(OPENROUTER_PAGE, |cap| OPENROUTER_PAGE.min(cap))
}

/// Of the created keys at `candidates` (indices into `minted`, in list order), those this list
/// request shows: each key still lagging is left out, and its remaining count goes down by one.
pub(super) fn shown(st: &mut Inner, candidates: &[usize]) -> Vec<usize> {
    let now = Instant::now();
    let mut out = Vec::new();
    for &i in candidates {
        let listing = &mut st.minted[i].listing;
        let lagging = listing.calls_left > 0 || listing.visible_from.is_some_and(|t| now < t);
        listing.calls_left = listing.calls_left.saturating_sub(1);
        if !lagging {
            out.push(i);
        }
    }
    out
}

/// The page of `shown` that starts after key `after` (or at `skip`), `size` long, without the
/// keys hidden from exactly one answer (which are then shown from the next one on); whether
/// more follow the page.
pub(super) fn page(
    st: &mut Inner,
    shown: &[usize],
    after: Option<&str>,
    skip: usize,
    size: usize,
) -> (Vec<usize>, bool) {
    let start = match after.and_then(|a| st.minted.iter().position(|k| k.id == a)) {
        // Past the cursor's place in creation order (shown or not, deleted or not).
        Some(cursor) => shown.iter().take_while(|&&i| i <= cursor).count(),
        None => skip,
    };
    let window: Vec<usize> = shown.iter().copied().skip(start).take(size).collect();
    let more = start + window.len() < shown.len();
    let mut out = Vec::new();
    for i in window {
        let listing = &mut st.minted[i].listing;
        if listing.hide_once {
            listing.hide_once = false;
        } else {
            out.push(i);
        }
    }
    (out, more)
}
