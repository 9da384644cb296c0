//! `finalize/:name` and `extend/:name`: the cut-over controls during a grace window, each its own
//! path so ACL policies can give them to different roles.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};

use super::shared::{bind, Shared};
use super::workflows::{self, Locked};
use crate::framework::{
    generic_name_regex, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path,
    Request, Response,
};

/// Longest `reason` kept in the history.
const MAX_REASON_LEN: usize = 256;

fn name_field() -> Field {
    Field::new("name", FieldType::Name, "Name of the key.").required()
}

pub(super) fn paths(shared: &Arc<Shared>) -> Vec<Path> {
    vec![
        Path::new(&format!("finalize/{}", generic_name_regex("name")))
            .field(name_field())
            .strict()
            .operation(
                Operation::Update,
                "End the previous version's grace window now.",
                bind(shared, finalize),
            )
            .help(FINALIZE_SYNOPSIS, FINALIZE_DESCRIPTION),
        Path::new(&format!("extend/{}", generic_name_regex("name")))
            .field(name_field())
            .field(
                Field::new(
                    "grace_period",
                    FieldType::Duration,
                    "New length of the grace window, counted from now.",
                )
                .min(1),
            )
            .field(Field::new(
                "until",
                FieldType::Time,
                "New end of the grace window (RFC 3339).",
            ))
            .field(
                Field::new(
                    "reason",
                    FieldType::String,
                    "Why, for the history (at most 256 characters).",
                )
                .max_len(MAX_REASON_LEN),
            )
            .strict()
            .operation(
                Operation::Update,
                "Keep the previous version valid longer.",
                bind(shared, extend),
            )
            .help(EXTEND_SYNOPSIS, EXTEND_DESCRIPTION),
    ]
}

async fn finalize(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let locked = Locked::open(&s, &req, &name).await?;
    let data = workflows::finalize(&s, req.storage.as_ref(), locked).await?;
    Ok(Some(Response::with_data(data)))
}

async fn extend(s: Arc<Shared>, req: Request, d: FieldData) -> HandlerResult {
    let name = d.get_string("name").unwrap_or_default();
    let until = match (
        d.get_duration("grace_period")
            .filter(|_| d.is_set("grace_period")),
        d.get_time("until").filter(|_| d.is_set("until")),
    ) {
        (Some(secs), None) => TimeDelta::try_seconds(secs)
            .and_then(|g| Utc::now().checked_add_signed(g))
            .ok_or_else(|| Error::BadRequest("grace_period is out of range".into()))?,
        (None, Some(until)) => until,
        _ => {
            return Err(Error::BadRequest(
                "give exactly one of grace_period (from now) and until (a time)".into(),
            ))
        }
    };
    if until <= Utc::now() {
        return Err(Error::BadRequest(
            "the new end of the grace window must be in the future (finalize/ ends it now)".into(),
        ));
    }
    let reason = d.get_string("reason").filter(|r| !r.trim().is_empty());
    let locked = Locked::open(&s, &req, &name).await?;
    let data =
        workflows::extend(&s, req.storage.as_ref(), locked, until, reason.as_deref()).await?;
    Ok(Some(Response::with_data(data)))
}

const FINALIZE_SYNOPSIS: &str = "End a grace window now: every system has moved to the new key.";
const FINALIZE_DESCRIPTION: &str = "\
The previous version's grace window ends now: it is revoked (its value destroyed) and, where the \
engine owns it at its provider (created it, or possession of the value proved its id), revoked \
there too through the same durable intent as a grace end (shown as provider_revocation on the \
version until the provider confirms; a key the engine does not own shows manual). The \
history records a finalized event with who did it. 400 when no version is in its grace window. \
Unknown fields are refused.";
const EXTEND_SYNOPSIS: &str = "Keep the previous version valid longer: some systems still use it.";
const EXTEND_DESCRIPTION: &str = "\
Moves the end of the previous version's grace window later: give grace_period (counted from now) \
or until (a time), and optionally a short reason. The history records a grace_extended event with \
who did it, the old and new ends, and the reason. A window that has ended cannot be extended: a \
revoked key never comes back (400). The new end must be later than the current one (finalize/ \
ends a window early). Bounded by the key's max_grace (default 7d, see schedules/ and keys/) after \
the window's planned end: a later end is a 400 that names the limit. Unknown fields are refused.";

#[cfg(test)]
mod tests;
