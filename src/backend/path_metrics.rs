//! `metrics`: every key's state and counters for alerting, as JSON (the default, as `bao read`
//! shows it) or Prometheus text (`format=prometheus`).

use std::sync::Arc;

use chrono::Utc;
use futures::TryStreamExt;
use serde_json::json;

use super::metrics;
use super::notify;
use super::periodic::TickState;
use super::policy;
use super::provider_ops;
use super::record;
use super::shared::Shared;
use crate::framework::{
    self, Error, Field, FieldData, FieldType, HandlerResult, Operation, Path, Request, Response,
};

pub(super) fn paths(shared: &Arc<Shared>, state: &Arc<TickState>) -> Vec<Path> {
    let (shared, state) = (shared.clone(), state.clone());
    vec![Path::new("metrics")
        .field(
            Field::new(
                "format",
                FieldType::String,
                "prometheus for the Prometheus text format; json (the default) otherwise.",
            )
            .allowed(&["json", "prometheus", ""])
            .default(json!("json"))
            .query(),
        )
        .operation(
            Operation::Read,
            "Metrics for every key: JSON, or Prometheus text with format=prometheus.",
            framework::handler(move |req, data| metrics(shared.clone(), state.clone(), req, data)),
        )
        .help(METRICS_SYNOPSIS, METRICS_DESCRIPTION)]
}

async fn metrics(
    s: Arc<Shared>,
    state: Arc<TickState>,
    req: Request,
    d: FieldData,
) -> HandlerResult {
    let prometheus = match d.get_string("format").unwrap_or_default().as_str() {
        "prometheus" => true,
        "" | "json" => false,
        _ => {
            return Err(Error::BadRequest(
                "format must be prometheus or json (the default)".into(),
            ))
        }
    };
    let storage = req.storage.as_ref();
    let now = Utc::now();
    let mut figures = Vec::new();
    let mut all = std::pin::pin!(record::digests(storage).await?);
    while let Some((name, key)) = all.try_next().await? {
        let periods = policy::periods_of(&s.schedules, storage, &key.overrides()).await?;
        let age = key
            .current
            .map(|(n, created)| periods.age_of(n, created, now));
        figures.push(metrics::KeyFigures::new(name, key, age, now));
    }
    let mount = metrics::mount_label(&req.mount_point);
    let deleted = provider_ops::of_deleted_keys(storage).await?.len();
    let deleted_manual = provider_ops::of_deleted_keys_manual(storage).await?.len();
    let notifications = notification_figures(storage, now).await?;
    let families = metrics::collect(
        &mount,
        &figures,
        state.ticks.last(),
        deleted,
        deleted_manual,
    )
    .chain(metrics::notification_families(&mount, notifications));
    if prometheus {
        let body = metrics::prometheus_text(families)?;
        framework::release_freed_memory();
        return Ok(Some(Response::raw(
            200,
            metrics::PROMETHEUS_CONTENT_TYPE,
            body.as_bytes(),
        )));
    }
    let json = metrics::json(&mount, families, now)?;
    framework::release_freed_memory();
    Ok(Some(Response::with_encoded(json)))
}

/// The notification outbox and delivery counters.
async fn notification_figures(
    storage: &dyn framework::Storage,
    now: chrono::DateTime<Utc>,
) -> Result<metrics::NotificationFigures, Error> {
    let (pending, oldest_secs) = notify::pending(storage, now).await?;
    let stats = notify::stats(storage).await?;
    Ok(metrics::NotificationFigures {
        pending,
        oldest_secs,
        delivered: stats.delivered,
        failures: stats.failures,
        dropped: stats.dropped,
    })
}

const METRICS_SYNOPSIS: &str = "Metrics for alerting: JSON, or Prometheus text.";
const METRICS_DESCRIPTION: &str = "\
Like sys/metrics: format=prometheus returns the Prometheus text format (text/plain; \
version=0.0.4), what Prometheus scrapes through Vault with a token (Authorization: Bearer); \
without format (or format=json) the same samples as JSON data {mount, timestamp, gauges, \
counters}, each {name, labels, value}, so bao read works. Every sample has a mount label. Per \
key: current version age, seconds until due, overdue (0/1), auto_rotate (0/1), versions in \
grace, versions past their planned grace end, pending versions, provider revocations pending \
and the age of the oldest, consecutive failed automatic rotations, whether the latest attempt \
failed (last_error), and counters of rotations, failed rotations by trigger (automatic, manual) \
and test outcomes. Per mount: the last successful periodic tick (Unix seconds), the versions of deleted keys \
whose revocation at the provider is still pending, and those left to a person (manual) that nobody \
acknowledged yet; the notification outbox (events waiting, the oldest one's age) and counters of \
deliveries, failed attempts and deliveries given up. No key material ever appears.";

#[cfg(test)]
mod tests;
