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
    let refusals = record::Refusals::default();
    let mut all = std::pin::pin!(record::digests_noting(storage, refusals.clone()).await?);
    while let Some((name, key)) = all.try_next().await? {
        let periods = policy::periods_of(&s.schedules, storage, &key.overrides()).await?;
        let age = key
            .current
            .map(|(n, created)| periods.age_of(n, created, now));
        figures.push(
            metrics::KeyFigures::new(name, key, age, now).expiry_warning(periods.expiry_warning),
        );
    }
    let mount = metrics::mount_label(&req.mount_point);
    let deleted = provider_ops::of_deleted_keys(storage).await?.len();
    let deleted_manual = provider_ops::of_deleted_keys_manual(storage).await?.len();
    let refused = refusals.taken().len();
    let node = if s.system.is_standby().await {
        metrics::Node::Standby
    } else {
        metrics::Node::Active
    };
    let notifications = notification_figures(storage, now).await?;
    // Counted in this node's memory; shown only for keys still defined, since a standby (or a
    // node that was one) never ran the delete that drops a key's counts on the active node.
    let defined = record::federated_names(storage).await?;
    let mut exchanges = s.tokens.all_stats();
    exchanges.retain(|name, _| defined.binary_search(name).is_ok());
    let families = metrics::collect(
        &mount,
        node,
        &figures,
        state.ticks.last(),
        deleted,
        deleted_manual,
    )
    .chain(std::iter::once(metrics::records_refused(&mount, refused)))
    .chain(std::iter::once(metrics::federated_exchanges(
        &mount,
        s.tokens
            .exchanges
            .load(std::sync::atomic::Ordering::Relaxed),
        s.tokens.failures.load(std::sync::atomic::Ordering::Relaxed),
    )))
    .chain(std::iter::once(metrics::federated_key_exchanges(
        &mount, &exchanges,
    )))
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
    let json = metrics::json(&mount, node.name(), families, now)?;
    framework::release_freed_memory();
    let mut response = Response::with_encoded(json);
    response.warnings.extend(refusals.warnings());
    Ok(Some(response))
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
and test outcomes. Per mount: whether the node that answered is the active one (ai_keys_node_active 1, a \
standby 0; the JSON's node says active or standby), the last successful periodic tick (Unix \
seconds; only the active node ticks, so a standby leaves it out), the versions of deleted keys \
whose revocation at the provider is still pending, those left to a person (manual) that nobody \
acknowledged yet, and the key records that cannot be read (ai_keys_records_refused; the JSON's \
warnings name each one's path and why); the token exchanges of federated keys this node made (per key too: \
ai_keys_federated_key_token_exchanges_total{key,outcome}) since \
it started, by outcome; the notification outbox (events waiting, the oldest one's age) and \
counters of deliveries, failed attempts and deliveries given up. No key material ever appears.";

#[cfg(test)]
mod tests;
