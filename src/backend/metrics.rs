//! What `metrics` reports: a snapshot of every key's state and counters as metric families
//! ([`collect`]), and its two renderings, Prometheus text and JSON ([`prometheus_text`],
//! [`json`]). Computed from the key digests at read time, so every node reports the same
//! numbers and a restart loses nothing.

mod collect;
mod federation;
mod format;

pub(super) use collect::{
    collect, mount_label, notification_families, records_refused, KeyFigures, Node,
    NotificationFigures,
};
pub(super) use federation::{
    exchanges as federated_exchanges, key_exchanges as federated_key_exchanges,
};
pub(super) use format::{json, prometheus_text, PROMETHEUS_CONTENT_TYPE};
