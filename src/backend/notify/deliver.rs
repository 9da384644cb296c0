//! Delivery of the outbox, on the active node's tick: oldest entries first (from a random one when
//! more wait than a tick reads), each to every
//! webhook that wants it, at most [`PER_TICK`] entries and [`BUDGET`] per tick, each POST
//! bounded by [`TIMEOUT`]. A failed delivery is retried with exponential back-off
//! ([`backoff`]) and given up after [`MAX_ATTEMPTS`] (counted as dropped); past [`MAX_OUTBOX`]
//! entries the oldest are dropped. Nothing here blocks a key's work: the tick delivers after it.
//!
//! Counters (delivered, failed attempts, dropped) live in `notify/stats`, so they survive a
//! restart and a failover; the metrics read them with the outbox's size and oldest entry.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::config::{self, NotificationConfig};
use super::event::{self, Extra};
use super::memo::Memo;
use crate::backend::policy::Config;
use crate::backend::record::{self, OutboxEntry, OutboxTarget, OUTBOX_PREFIX};
use crate::backend::shared::Shared;
use crate::framework::{get_json, put_json, Error, Storage};

/// Entries kept at most; the oldest beyond are dropped (and counted).
pub(crate) const MAX_OUTBOX: usize = 1000;
/// Entries tried per tick.
const PER_TICK: usize = 50;
/// Entries read per tick (those waiting out a back-off cost a read, no attempt).
const READS_PER_TICK: usize = 200;
/// Time a tick spends delivering at most.
pub(crate) const BUDGET: Duration = Duration::from_secs(15);
/// One POST's timeout (connection included).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
/// Failed attempts after which a delivery is given up (about a day with the release back-off).
pub(crate) const MAX_ATTEMPTS: u32 = 24;
/// Where the counters are kept.
const STATS_PATH: &str = "notify/stats";

/// First and longest wait after a failure. Builds with test hooks wait a second at most, so
/// end-to-end tests drive retries with the tick hook instead of waiting minutes.
#[cfg(not(feature = "test-hooks"))]
const BACKOFF: (i64, i64) = (30, 3600);
#[cfg(feature = "test-hooks")]
const BACKOFF: (i64, i64) = (1, 1);

/// The wait after `attempts` failed attempts: doubling from the first, capped.
pub(crate) fn backoff(attempts: u32) -> TimeDelta {
    let (first, most) = BACKOFF;
    let shift = attempts.saturating_sub(1).min(20);
    TimeDelta::seconds(first.saturating_mul(1 << shift).min(most))
}

/// The delivery counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stats {
    /// Deliveries a webhook accepted (2xx).
    pub delivered: u64,
    /// Attempts that failed (no answer, or not 2xx).
    pub failures: u64,
    /// Deliveries given up: too many attempts, or the outbox over its cap.
    pub dropped: u64,
    /// Entries dropped because their event was never stored (a crash between the two writes).
    pub abandoned: u64,
}

/// The counters as stored.
pub(crate) async fn stats(storage: &dyn Storage) -> Result<Stats, Error> {
    Ok(get_json(storage, STATS_PATH).await?.unwrap_or_default())
}

fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                // A redirect would send the signed event where the answer points.
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!(
                    "vault-plugin-secrets-ai-keys/",
                    env!("CARGO_PKG_VERSION")
                ))
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
                .build()
                .map_err(|_| tracing::error!("could not build the notification HTTP client"))
                .ok()
        })
        .as_ref()
}

/// Why a POST failed, naming neither the URL (it may carry a token) nor any secret.
async fn post(
    cfg: &NotificationConfig,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(), String> {
    let client = client().ok_or("no HTTP client")?;
    let mut req = client
        .post(&cfg.url)
        .header("content-type", event::CONTENT_TYPE)
        .body(body.to_vec());
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    match req.send().await {
        Ok(reply) if reply.status().is_success() => Ok(()),
        Ok(reply) => Err(format!("answered HTTP {}", reply.status().as_u16())),
        Err(e) if e.is_timeout() => Err(format!("no answer within {}s", TIMEOUT.as_secs())),
        Err(e) if e.is_connect() => Err("could not connect".to_string()),
        Err(_) => Err("the request failed (TLS or protocol)".to_string()),
    }
}

/// Delivers what is due in the outbox (active node only: the tick's caller checks).
pub(crate) async fn deliver(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    mount_point: &str,
    memo: &Memo,
) {
    if let Err(e) = deliver_outbox(shared, storage, mount_point, memo).await {
        tracing::warn!(error = %e, "notification delivery stopped early; the outbox is kept for the next tick");
    }
}

async fn deliver_outbox(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    mount_point: &str,
    memo: &Memo,
) -> Result<(), Error> {
    // An outbox found empty is listed again once this process wrote to it, or after a while
    // (another node may have, before a failover): an idle tick lists nothing.
    let writes = record::outbox_writes();
    if memo.outbox_known_empty(writes) {
        return Ok(());
    }
    let mut names = storage.list(OUTBOX_PREFIX).await?;
    if names.is_empty() {
        memo.set_outbox_empty(Some(writes));
        return Ok(());
    }
    memo.set_outbox_empty(None);
    names.sort();
    let before = stats(storage).await?;
    let mut stats = before;
    if names.len() > MAX_OUTBOX {
        let over = names.len() - MAX_OUTBOX;
        for name in names.drain(..over) {
            storage.delete(&format!("{OUTBOX_PREFIX}{name}")).await?;
        }
        stats.dropped += over as u64;
        tracing::error!(
            dropped = over,
            "notification outbox over its cap: the oldest entries were dropped"
        );
    }
    let configs: HashMap<String, NotificationConfig> =
        config::all(storage).await?.into_iter().collect();
    let source = event::source(mount_point);
    let started = Instant::now();
    // More than a tick reads: start at a random entry (then on in order, wrapping), so entries
    // waiting out a back-off at the head never keep later ones from being tried.
    if names.len() > READS_PER_TICK {
        let start = rand::random_range(0..names.len());
        names.rotate_left(start);
    }
    let mut attempted = 0;
    for name in names.into_iter().take(READS_PER_TICK) {
        if started.elapsed() >= BUDGET || attempted >= PER_TICK {
            break;
        }
        let path = format!("{OUTBOX_PREFIX}{name}");
        let Some(mut entry) = get_json::<OutboxEntry>(storage, &path).await? else {
            continue;
        };
        let original = entry.clone();
        if entry.targets.is_none() {
            // Under the key's lock, no save of this key is between its outbox and its record.
            let stored = {
                let _guard = shared.locks.lock(&entry.key).await;
                record::outbox_committed(storage, &entry).await?
            };
            if !stored {
                tracing::info!(key = %entry.key, id = %entry.id, "outbox entry of an event that was never stored (interrupted write) dropped");
                stats.abandoned += 1;
                storage.delete(&path).await?;
                continue;
            }
            let ty = event::type_of(&entry.event);
            entry.targets = Some(
                configs
                    .iter()
                    .filter(|(_, c)| ty.is_some_and(|t| c.wants(t, &entry.key)))
                    .map(|(n, _)| OutboxTarget {
                        name: n.clone(),
                        attempts: 0,
                        next_attempt: None,
                    })
                    .collect(),
            );
        }
        let deadline = started + BUDGET;
        attempted +=
            deliver_entry(storage, &configs, &source, &mut entry, &mut stats, deadline).await?;
        if entry.targets.as_ref().is_none_or(Vec::is_empty) {
            storage.delete(&path).await?;
        } else if entry != original {
            put_json(storage, &path, &entry).await?;
        }
    }
    if stats != before {
        put_json(storage, STATS_PATH, &stats).await?;
    }
    Ok(())
}

/// Tries each due target of one entry once, until `deadline` (the tick's budget: each POST may
/// take [`TIMEOUT`], and an entry may have [`config::MAX_CONFIGS`] targets, so the budget is
/// kept between targets too; those left wait, untouched, for the next tick); whether it tried
/// any (0 or 1).
async fn deliver_entry(
    storage: &dyn Storage,
    configs: &HashMap<String, NotificationConfig>,
    source: &str,
    entry: &mut OutboxEntry,
    stats: &mut Stats,
    deadline: Instant,
) -> Result<usize, Error> {
    let Some(ty) = event::type_of(&entry.event) else {
        entry.targets = Some(Vec::new());
        return Ok(0);
    };
    let now = Utc::now();
    // A target is judged by its configuration as it is now: one deleted since, or changed so it
    // no longer wants this event (`events`, `key_prefix`; its `url` may name another receiver
    // now), gets nothing more of it.
    let wanted = |name: &str| configs.get(name).filter(|c| c.wants(ty, &entry.key));
    let due = entry
        .targets
        .iter()
        .flatten()
        .any(|t| wanted(&t.name).is_some() && t.next_attempt.is_none_or(|at| at <= now));
    let mut extra = Extra::default();
    if due && ty == "rotation.tested" && Config::load(storage).await?.require_separate_approver {
        extra.approval = Some(format!(
            "an entity other than the one that staged the version, with update on promote/{}",
            entry.key
        ));
    }
    let body = if due {
        event::body(
            &entry.id,
            source,
            &entry.key,
            entry.incarnation,
            ty,
            &entry.event,
            &extra,
        )?
    } else {
        Vec::new()
    };
    let mut kept = Vec::new();
    for mut target in entry.targets.take().unwrap_or_default() {
        let Some(cfg) = wanted(&target.name) else {
            continue;
        };
        if target.next_attempt.is_some_and(|t| t > now) || Instant::now() >= deadline {
            kept.push(target);
            continue;
        }
        let headers = event::sign(cfg.secret.expose(), &entry.id, Utc::now(), &body)?;
        match post(cfg, &headers, &body).await {
            Ok(()) => {
                stats.delivered += 1;
                tracing::info!(notification = %target.name, id = %entry.id, key = %entry.key, "notification delivered");
            }
            Err(why) => {
                stats.failures += 1;
                target.attempts += 1;
                if target.attempts >= MAX_ATTEMPTS {
                    stats.dropped += 1;
                    tracing::error!(notification = %target.name, id = %entry.id, key = %entry.key, attempts = target.attempts, reason = %why, "notification given up after too many failed attempts");
                    continue;
                }
                let next: DateTime<Utc> = now + backoff(target.attempts);
                tracing::warn!(notification = %target.name, id = %entry.id, key = %entry.key, attempts = target.attempts, reason = %why, "notification delivery failed; retried later");
                target.next_attempt = Some(next);
                kept.push(target);
            }
        }
    }
    entry.targets = Some(kept);
    Ok(usize::from(due))
}

/// The outbox as the metrics show it: entries waiting, and the age of the oldest (seconds).
pub(crate) async fn pending(
    storage: &dyn Storage,
    now: DateTime<Utc>,
) -> Result<(usize, i64), Error> {
    let names = storage.list(OUTBOX_PREFIX).await?;
    let oldest = names
        .iter()
        .filter_map(|n| record::outbox_recorded_at(n))
        .min()
        .map_or(0, |t| (now - t).num_seconds().max(0));
    Ok((names.len(), oldest))
}
