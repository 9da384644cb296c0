//! What `metrics` reports: one snapshot of every key's state and counters, as metric families
//! with a `mount` label on every sample (so two mounts scraped through one server never
//! collide). [`super::metrics_format`] renders it as Prometheus text or JSON.
//!
//! Everything but the tick time is computed from the stored records at read time, so any node
//! reports the same numbers and a plugin restart loses nothing. The tick time only the active
//! node advances: a standby leaves it out, and every snapshot says which node answered
//! (`ai_keys_node_active`, 1 on the active node), so alert rules join on it and fire from the
//! active node only (deploy/prometheus).

use chrono::{DateTime, Utc};

use std::sync::Arc;

use crate::backend::record::KeyDigest;

/// A counter or a gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
}

/// One metric family: its samples share the label names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family<'a> {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// Label names, `mount` first.
    pub labels: Vec<&'static str>,
    /// Label values (in the order of `labels`), borrowed from the snapshot, and the value.
    pub samples: Vec<(Vec<&'a str>, f64)>,
}

impl<'a> Family<'a> {
    pub(super) fn new(
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &[&'static str],
    ) -> Self {
        let mut all = vec!["mount"];
        all.extend_from_slice(labels);
        Family {
            name,
            kind,
            help,
            labels: all,
            samples: Vec::new(),
        }
    }

    /// A sample: `mount`, then the other label values in order.
    pub(super) fn add(
        &mut self,
        mount: &'a str,
        values: impl IntoIterator<Item = &'a str>,
        value: f64,
    ) {
        let all = std::iter::once(mount).chain(values).collect();
        self.samples.push((all, value));
    }
}

/// The mount label: the request's mount point without its trailing slash (`ai-keys`).
pub(crate) fn mount_label(mount_point: &str) -> String {
    mount_point.trim_end_matches('/').to_string()
}

/// One key's figures at the report's time: its digest (what its record holds) and what the
/// clock makes of it. Its age is against its cadence (period or cron schedule), resolved by the
/// caller (`policy::Periods::age_of`).
pub(crate) struct KeyFigures {
    name: String,
    key: Arc<KeyDigest>,
    /// Age of the current version, seconds until due, overdue.
    age: Option<(i64, i64, bool)>,
    in_grace: bool,
    past_plan: usize,
    oldest_revocation_secs: i64,
    /// Seconds until the current key's provider expiry, and whether that is within its
    /// `expiry_warning` (set by [`KeyFigures::expiry_warning`]).
    provider_expiry: Option<(i64, bool)>,
}

/// The triggers of failed rotations, always reported both.
const TRIGGERS: [&str; 2] = ["automatic", "manual"];

impl KeyFigures {
    /// The figures of key `name`, digest `key`, at `now`.
    pub(crate) fn new(
        name: String,
        key: Arc<KeyDigest>,
        age: Option<crate::rotation::AgeReport>,
        now: DateTime<Utc>,
    ) -> Self {
        KeyFigures {
            name,
            age: age.map(|a| {
                let due = (a.next_rotation_time - now).num_seconds();
                (a.age_secs, due, a.overdue)
            }),
            in_grace: key.in_grace(now),
            past_plan: key.previous.iter().filter(|g| g.past_plan(now)).count(),
            oldest_revocation_secs: key
                .revocations
                .iter()
                .map(|r| r.requested)
                .min()
                .map_or(0, |t| (now - t).num_seconds().max(0)),
            provider_expiry: key
                .watch
                .as_ref()
                .and_then(|w| w.provider_expires)
                .map(|t| ((t - now).num_seconds(), false)),
            key,
        }
    }

    /// Judges the provider expiry against the key's `expiry_warning` (seconds).
    pub(crate) fn expiry_warning(mut self, warning: i64) -> Self {
        if let Some((left, near)) = self.provider_expiry.as_mut() {
            *near = *left <= warning;
        }
        self
    }
}

/// The health check outcomes, always reported all for a key with a provider.
const HEALTH_OUTCOMES: [&str; 4] = ["passed", "bad_key", "unfunded", "provider_unavailable"];

impl KeyFigures {
    fn health_checks(&self, outcome: &str) -> u64 {
        self.key
            .watch
            .as_ref()
            .and_then(|w| w.checks.iter().find(|(o, _)| &**o == outcome))
            .map_or(0, |(_, n)| *n)
    }

    fn rejected(&self) -> bool {
        self.key
            .watch
            .as_ref()
            .is_some_and(|w| w.rejected_since.is_some())
    }
}

/// Adds one key's samples to a family: `add(extra label values, value)`.
type Sampler = for<'k> fn(&'k KeyFigures, &mut dyn FnMut(&[&'k str], f64));

fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// The per-key families: name, kind, help, labels after `mount`, and how a key adds samples.
const PER_KEY: [(&str, Kind, &str, &[&str], Sampler); 22] = [
    ("ai_keys_current_version_age_seconds", Kind::Gauge, "Age of the key's current version.", &["key"],
        |k, add| if let Some((age, _, _)) = k.age { add(&[], age as f64) }),
    ("ai_keys_seconds_until_due", Kind::Gauge, "Seconds until the current version is due for rotation (negative when overdue).", &["key"],
        |k, add| if let Some((_, due, _)) = k.age { add(&[], due as f64) }),
    ("ai_keys_overdue", Kind::Gauge, "1 when the current version is older than its rotation period.", &["key"],
        |k, add| if let Some((_, _, overdue)) = k.age { add(&[], flag(overdue)) }),
    ("ai_keys_auto_rotate", Kind::Gauge, "1 when the key rotates automatically when due (auto_rotate).", &["key"],
        |k, add| add(&[], flag(k.key.auto_rotate))),
    ("ai_keys_versions_in_grace", Kind::Gauge, "Previous versions still inside their grace window.", &["key"],
        |k, add| add(&[], flag(k.in_grace))),
    ("ai_keys_versions_past_planned_grace", Kind::Gauge, "Previous versions kept past their planned grace end (extended, or not retired yet).", &["key"],
        |k, add| add(&[], k.past_plan as f64)),
    ("ai_keys_pending_versions", Kind::Gauge, "Staged versions waiting for promotion.", &["key"],
        |k, add| add(&[], k.key.pending as f64)),
    ("ai_keys_provider_revocations_pending", Kind::Gauge, "Retired versions whose revocation at the provider is not confirmed yet.", &["key"],
        |k, add| add(&[], k.key.revocations.len() as f64)),
    ("ai_keys_provider_revocation_oldest_pending_seconds", Kind::Gauge, "Age of the oldest unconfirmed provider revocation (0 when none is pending).", &["key"],
        |k, add| add(&[], k.oldest_revocation_secs as f64)),
    ("ai_keys_provider_revocations_manual", Kind::Gauge, "Retired versions the engine does not own and left to a person to revoke at the provider, not acknowledged yet.", &["key"],
        |k, add| add(&[], k.key.manual.len() as f64)),
    ("ai_keys_auto_rotation_consecutive_failures", Kind::Gauge, "Failed automatic rotation attempts since the last promotion (0: the last one succeeded or none failed).", &["key"],
        |k, add| add(&[], f64::from(k.key.auto_failures))),
    ("ai_keys_last_attempt_failed", Kind::Gauge, "1 while the key records an error from its latest rotation attempt or periodic work (last_error).", &["key"],
        |k, add| add(&[], flag(k.key.last_error))),
    ("ai_keys_key_exposed", Kind::Gauge, "1 while the key's current version was reported leaked (exposed) and no new value has been promoted since (withdrawn or still current).", &["key"],
        |k, add| add(&[], flag(k.key.exposed.is_some()))),
    ("ai_keys_rotations_total", Kind::Counter, "Promotions completed.", &["key"],
        |k, add| add(&[], k.key.rotations as f64)),
    // Both triggers always, so a first failure is an increase from 0 for `increase()`.
    ("ai_keys_rotation_failures_total", Kind::Counter, "Failed one-call rotations (rotate/ and automatic), by trigger.", &["key", "trigger"],
        |k, add| for trigger in TRIGGERS { add(&[trigger], k.key.failures(trigger) as f64) }),
    ("ai_keys_grace_extensions_total", Kind::Counter, "Grace windows postponed because the previous version was still in use at its provider.", &["key"],
        |k, add| add(&[], k.key.grace_extensions as f64)),
    ("ai_keys_provider_policy_refusals_total", Kind::Counter, "Key creates the provider refused under its key-expiry policy (nothing created), by provider configuration.", &["key", "provider"],
        |k, add| for (provider, n) in &k.key.policy_refusals { add(&[provider], *n as f64) }),
    ("ai_keys_test_outcomes_total", Kind::Counter, "Key tests by outcome.", &["key", "outcome"],
        |k, add| for (outcome, n) in &k.key.test_outcomes { add(&[outcome], *n as f64) }),
    // Health checks (periodic/health.rs): every outcome always for a key with a provider.
    ("ai_keys_current_key_rejected", Kind::Gauge, "1 while the provider refuses the key's current version at the engine's health checks (bad_key or unfunded), until a check passes or a new version is promoted.", &["key"],
        |k, add| add(&[], flag(k.rejected()))),
    ("ai_keys_health_checks_total", Kind::Counter, "The engine's periodic health checks of the current key at its provider, by outcome.", &["key", "outcome"],
        |k, add| if k.key.provider.is_some() { for o in HEALTH_OUTCOMES { add(&[o], k.health_checks(o) as f64) } }),
    ("ai_keys_provider_expiry_seconds", Kind::Gauge, "Seconds until the current version's key expires at its provider on its own (negative once past); only keys whose provider reported an expiry.", &["key"],
        |k, add| if let Some((left, _)) = k.provider_expiry { add(&[], left as f64) }),
    ("ai_keys_provider_expiry_near", Kind::Gauge, "1 when the current version's provider expiry is within the key's expiry_warning (default 14d); 0 otherwise, and for keys whose provider reported no expiry.", &["key"],
        |k, add| add(&[], flag(k.provider_expiry.is_some_and(|(_, near)| near)))),
];

/// Which node answers: the active node (or a lone server), or a standby (openbao.md: the
/// performance-standby bit of the replication state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    Active,
    Standby,
}

impl Node {
    /// `active` or `standby`, as the JSON rendering names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Node::Active => "active",
            Node::Standby => "standby",
        }
    }
}

/// The snapshot, one family at a time (so only one family's samples exist at once): the
/// per-key families for `keys` (in their order), then the mount's own: which node answers, the
/// last tick (left out on a standby: only the active node ticks, so a standby's would be its
/// plugin's start), and `deleted_pending`, the revocations of deleted keys the provider has not
/// confirmed (no key's samples show those).
pub(crate) fn collect<'a>(
    mount: &'a str,
    node: Node,
    keys: &'a [KeyFigures],
    last_tick: f64,
    deleted_pending: usize,
    deleted_manual: usize,
) -> impl Iterator<Item = Family<'a>> + 'a {
    let per_key = PER_KEY
        .iter()
        .map(move |(name, kind, help, labels, sampler)| {
            let mut family = Family::new(name, *kind, help, labels);
            for k in keys {
                sampler(k, &mut |extra, value| {
                    let values = std::iter::once(k.name.as_str()).chain(extra.iter().copied());
                    family.add(mount, values, value);
                });
            }
            family
        });
    let active = std::iter::once_with(move || {
        let mut family = Family::new(
            "ai_keys_node_active",
            Kind::Gauge,
            "1 when the node that answered is the active node (or a lone server), 0 on a standby; alert rules fire only where it is 1.",
            &[],
        );
        family.add(mount, [], flag(node == Node::Active));
        family
    });
    let tick = (node == Node::Active).then(|| {
        let mut tick = Family::new(
            "ai_keys_last_successful_tick_timestamp_seconds",
            Kind::Gauge,
            "When the periodic work last finished without a failure (the plugin's start until then), Unix seconds.",
            &[],
        );
        tick.add(mount, [], last_tick);
        tick
    });
    let deleted = std::iter::once_with(move || {
        let mut family = Family::new(
            "ai_keys_deleted_key_revocations_pending",
            Kind::Gauge,
            "Versions of deleted keys whose revocation at the provider is not confirmed yet (the engine retries them; providers/<name> and report name them).",
            &[],
        );
        family.add(mount, [], deleted_pending as f64);
        family
    });
    let deleted_manual = std::iter::once_with(move || {
        let mut family = Family::new(
            "ai_keys_deleted_key_revocations_manual",
            Kind::Gauge,
            "Versions of deleted keys left to a person to revoke at the provider (manual) that nobody acknowledged yet (acknowledge/<key> with deleted=true records one done; providers/<name> and report name them).",
            &[],
        );
        family.add(mount, [], deleted_manual as f64);
        family
    });
    per_key
        .chain(active)
        .chain(tick)
        .chain(deleted)
        .chain(deleted_manual)
}

/// The mount's gauge of key records that cannot be read (newer format, naming another key,
/// breaking an invariant): every report leaves them out, so they are counted here for an alert.
pub(crate) fn records_refused(mount: &str, refused: usize) -> Family<'_> {
    let mut family = Family::new(
        "ai_keys_records_refused",
        Kind::Gauge,
        "Key records the engine refuses to use (newer format, stored under another key's name, breaking an invariant): left out of every report; overdue and metrics warnings name each path.",
        &[],
    );
    family.add(mount, [], refused as f64);
    family
}

/// The notification outbox's figures (`notify/`): entries waiting, the oldest one's age, and
/// the delivery counters kept in storage.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NotificationFigures {
    pub pending: usize,
    pub oldest_secs: i64,
    pub delivered: u64,
    pub failures: u64,
    pub dropped: u64,
}

/// The mount's notification families.
pub(crate) fn notification_families(
    mount: &str,
    n: NotificationFigures,
) -> impl Iterator<Item = Family<'_>> {
    let rows: [(&'static str, Kind, &'static str, f64); 5] = [
        ("ai_keys_notification_outbox_pending", Kind::Gauge, "Notification events waiting in the outbox for delivery (or a retry).", n.pending as f64),
        ("ai_keys_notification_outbox_oldest_seconds", Kind::Gauge, "Age of the oldest event waiting in the notification outbox (0 when empty).", n.oldest_secs as f64),
        ("ai_keys_notifications_delivered_total", Kind::Counter, "Notification deliveries a webhook accepted (2xx).", n.delivered as f64),
        ("ai_keys_notification_failures_total", Kind::Counter, "Notification delivery attempts that failed (no answer within the timeout, or not 2xx); each is retried with back-off.", n.failures as f64),
        ("ai_keys_notifications_dropped_total", Kind::Counter, "Notification deliveries given up (too many failed attempts, or the outbox over its cap).", n.dropped as f64),
    ];
    rows.into_iter().map(move |(name, kind, help, value)| {
        let mut family = Family::new(name, kind, help, &[]);
        family.add(mount, [], value);
        family
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::backend::record::Grace;

    fn previous(grace: Option<i64>, planned: Option<i64>, now: DateTime<Utc>) -> Grace {
        let at = |h: i64| now + TimeDelta::hours(h);
        Grace {
            expires: grace.map(at),
            planned: planned.map(at),
        }
    }

    #[test]
    fn past_planned_grace_is_an_extension_or_a_live_version_after_the_plan() {
        let now = Utc::now();
        // on plan, inside the window
        assert!(!previous(Some(2), Some(2), now).past_plan(now));
        // extended beyond the plan, even before the plan ends
        assert!(previous(Some(5), Some(2), now).past_plan(now));
        // the plan ended and the version is still previous
        assert!(previous(Some(-1), Some(-1), now).past_plan(now));
        // an old record without a plan: its grace end is the plan
        assert!(!previous(Some(2), None, now).past_plan(now));
        assert!(previous(Some(-2), None, now).past_plan(now));
    }

    #[test]
    fn mount_label_drops_the_trailing_slash() {
        assert_eq!(mount_label("ai-keys/"), "ai-keys");
        assert_eq!(mount_label("team/ai/"), "team/ai");
        assert_eq!(mount_label(""), "");
    }
}
