//! The tick's own notices, about what no history event says: a key due within its schedule's
//! `notice_before` (once per version), overdue (once a day at most), a revocation at the
//! provider pending longer than [`REVOCATION_PENDING_NOTICE`] (once per version), a live
//! version whose key expires at its provider within [`PROVIDER_EXPIRY_NOTICE`] (once per
//! version). Only while some webhook is configured, at most every [`EVERY`] per mount (a scan
//! of every record). What was sent is remembered per key in
//! `notify/notices/<key>`, written after the outbox entry: a crash in between sends a notice
//! twice, with the same id. The marker names the key's incarnation and is trusted only for it:
//! the key's delete removes it, and one a crash left behind (or an earlier release wrote,
//! naming none) does not silence a key created again under the name; at worst a notice is sent
//! again, with the same id.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::memo::Memo;
use crate::backend::policy;
use crate::backend::record::{self, Actor, HistoryEvent, KeyDigest, OutboxEntry};
use crate::backend::shared::Shared;
use crate::backend::view;
use crate::framework::{get_json, put_json, Error, Storage};

/// How long a revocation at the provider may stay unconfirmed before a person hears of it.
pub(crate) const REVOCATION_PENDING_NOTICE: TimeDelta = TimeDelta::hours(1);
/// How long before a live version's provider expiry (`provider_expires_time`) it is announced.
pub(crate) const PROVIDER_EXPIRY_NOTICE: TimeDelta = TimeDelta::days(14);
/// Time a scan spends at most (the keys after wait for the next scan).
const SCAN_BUDGET: Duration = Duration::from_secs(15);
/// Most notices written per scan (the rest wait for the next).
const MAX_PER_SCAN: usize = 100;
/// Time between two scans of one mount (each reads every record; test builds: every tick).
#[cfg(not(feature = "test-hooks"))]
const EVERY: Duration = Duration::from_secs(3600);
#[cfg(feature = "test-hooks")]
const EVERY: Duration = Duration::ZERO;

/// What was already announced about one key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Sent {
    /// The incarnation of the key this was sent about (absent in an earlier release's marker,
    /// which is then not trusted).
    #[serde(default)]
    incarnation: Option<u32>,
    /// The creation time of the current version announced as due soon.
    #[serde(default)]
    due_soon: Option<DateTime<Utc>>,
    /// The day (UTC) of the last overdue notice.
    #[serde(default)]
    overdue: Option<String>,
    /// Versions whose long-pending revocation was announced (the newest few).
    #[serde(default)]
    revocations: Vec<u32>,
    /// Versions whose provider expiry was announced (the newest few).
    #[serde(default)]
    expiry: Vec<u32>,
}

/// Writes the notices due now to the outbox (active node only: the tick's caller checks).
pub(crate) async fn notices(shared: &Arc<Shared>, storage: &dyn Storage, memo: &Memo) {
    match super::config::configured(storage, memo).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not list the notification webhooks; notices wait");
            return;
        }
    }
    if !memo.notices_due(EVERY) {
        return;
    }
    if let Err(e) = scan(shared, storage).await {
        tracing::warn!(error = %e, "could not check keys for notices; tried again later");
    }
}

async fn scan(shared: &Arc<Shared>, storage: &dyn Storage) -> Result<(), Error> {
    let now = Utc::now();
    let mut written = 0;
    let started = std::time::Instant::now();
    let refusals = record::Refusals::default();
    let mut all =
        std::pin::pin!(record::scan_keys_and_incarnations_noting(storage, refusals).await?);
    while let Some((state, incarnation)) = all.try_next().await? {
        if written >= MAX_PER_SCAN || started.elapsed() >= SCAN_BUDGET {
            break;
        }
        let name = state.name.clone();
        let key = KeyDigest::of(&state);
        let mut due: Vec<(String, Option<u32>, String)> = Vec::new();
        let path = format!("{}{name}", record::NOTICES_PREFIX);
        // Another incarnation's marker (a deleted key's) or an unnamed one is not this key's.
        let mut sent = get_json::<Sent>(storage, &path)
            .await?
            .filter(|sent| sent.incarnation == Some(incarnation))
            .unwrap_or_default();
        let before = sent.clone();
        if let Some((number, created)) = key.current {
            let periods = policy::periods_of(&shared.schedules, storage, &key.overrides()).await?;
            let age = periods.age_of(number, created, now);
            let notice_before = shared
                .schedules
                .get(storage, &key.schedule)
                .await?
                .map_or(policy::DEFAULT_NOTICE_BEFORE, |s| s.notice_before);
            if age.overdue {
                let day = now.format("%Y-%m-%d").to_string();
                if sent.overdue.as_deref() != Some(day.as_str()) {
                    due.push((
                        "overdue".into(),
                        Some(number),
                        format!(
                            "version {number} is overdue for rotation since {} ({} day(s) old)",
                            view::time(age.next_rotation_time),
                            age.age_days
                        ),
                    ));
                    sent.overdue = Some(day);
                }
            } else if notice_before > 0
                && age.next_rotation_time - now <= TimeDelta::seconds(notice_before)
                && sent.due_soon != Some(created)
            {
                due.push((
                    "due_soon".into(),
                    Some(number),
                    format!(
                        "version {number} is due for rotation at {}",
                        view::time(age.next_rotation_time)
                    ),
                ));
                sent.due_soon = Some(created);
            }
        }
        for r in key.revocations.iter() {
            if now - r.requested >= REVOCATION_PENDING_NOTICE
                && !sent.revocations.contains(&r.version)
            {
                due.push(("revocation_pending_long".into(), Some(r.version), format!(
                    "the revocation of version {} at provider {:?} is not confirmed since {}; the engine keeps retrying",
                    r.version, r.provider, view::time(r.requested)
                )));
                sent.revocations.push(r.version);
                let len = sent.revocations.len();
                sent.revocations.drain(..len.saturating_sub(10));
            }
        }
        // Live versions whose key dies at its provider soon (the provider's own expiry).
        for v in state.versions.versions.values() {
            let Some(expires) = v.provider_expires_time else {
                continue;
            };
            if v.state.keeps_value()
                && expires - now <= PROVIDER_EXPIRY_NOTICE
                && !sent.expiry.contains(&v.number)
            {
                due.push((
                    "provider_expiry_near".into(),
                    Some(v.number),
                    format!(
                        "version {} ({}) expires at its provider at {}",
                        v.number,
                        v.state.as_str(),
                        view::time(expires)
                    ),
                ));
                sent.expiry.push(v.number);
                let len = sent.expiry.len();
                sent.expiry.drain(..len.saturating_sub(10));
            }
        }
        if due.is_empty() {
            continue;
        }
        sent.incarnation = Some(incarnation);
        for (kind, version, detail) in due {
            let marker = match kind.as_str() {
                "overdue" => sent.overdue.clone().unwrap_or_default(),
                "due_soon" => sent.due_soon.map(view::time).unwrap_or_default(),
                _ => String::new(),
            };
            let discriminator = format!("{kind}:{}:{marker}", version.unwrap_or(0));
            let event = HistoryEvent {
                time: now,
                event: kind,
                version,
                actor: Actor::Scheduler,
                request_id: None,
                outcome: None,
                detail,
            };
            record::put_outbox(
                storage,
                &OutboxEntry::new(&name, incarnation, None, &discriminator, event),
            )
            .await?;
            written += 1;
        }
        if sent != before {
            put_json(storage, &path, &sent).await?;
        }
    }
    Ok(())
}
