//! A key's digest: what the reports (`overdue`, `metrics`) and the reference checks (a provider
//! or schedule still in use) read of its record, in a few hundred bytes and with no key
//! material. The record cache keeps one for every key ([`crate::framework::get_summary`]), exact
//! as the records are, and apart from the records' own bound: a report at 10,000 keys reads
//! storage only for the keys changed since the last one, not every record.
//!
//! Only what storage holds, never a view at some time: ages, grace windows and revocation ages
//! are judged against the clock at every report.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::key::{KeyState, Overrides};
use super::store;
use crate::framework::{get_summary, Error, Storage};
use crate::rotation::key::grace_open;
use crate::rotation::{ProviderRevocation, VersionState};

/// A `previous` version's grace end and planned grace end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grace {
    pub expires: Option<DateTime<Utc>>,
    pub planned: Option<DateTime<Utc>>,
}

/// A retired version's revocation at its provider, not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingRevocation {
    pub version: u32,
    /// The provider configuration it waits for.
    pub provider: Box<str>,
    /// When the engine decided the key must die there.
    pub requested: DateTime<Utc>,
}

impl Grace {
    /// Whether the version is kept past its planned grace end: its grace window was moved later
    /// than planned (`extend/`, usage), or it is still live although the planned end passed
    /// (the periodic work has not retired it yet). Records from before the plan was remembered
    /// count their grace end as the plan.
    pub(crate) fn past_plan(&self, now: DateTime<Utc>) -> bool {
        let Some(planned) = self.planned.or(self.expires) else {
            return false;
        };
        self.expires.is_some_and(|g| g > planned) || now >= planned
    }
}

/// What the reports read of one key record (its name is the cache's key, not repeated here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDigest {
    pub provider: Option<Box<str>>,
    pub auto_rotate: bool,
    pub schedule: Box<str>,
    /// The key's own period settings, if it has any (most inherit all of their schedule's).
    settings: Option<Box<Settings>>,
    /// The current version's number and creation time.
    pub current: Option<(u32, DateTime<Utc>)>,
    /// The `previous` versions (one, at most, in a valid record), in version order.
    pub previous: Box<[Grace]>,
    /// Versions staged and waiting for promotion.
    pub pending: usize,
    /// The provider revocations not confirmed yet.
    pub revocations: Box<[PendingRevocation]>,
    /// The live versions (pending, current, previous) the engine will revoke at a provider (it
    /// created the key or proved its id) and the provider configuration each one's key lives at
    /// (the version's own, else the key's): what a provider delete must not orphan.
    pub live: Box<[(u32, Box<str>)]>,
    /// The revocations left to a person (`manual`) that nobody has acknowledged yet.
    pub manual: Box<[PendingRevocation]>,
    pub auto_failures: u32,
    pub last_error: bool,
    pub rotations: u64,
    pub grace_extensions: u64,
    /// Failed rotations by trigger.
    pub rotation_failures: Box<[(Box<str>, u64)]>,
    /// Key tests by outcome.
    pub test_outcomes: Box<[(Box<str>, u64)]>,
    /// What the periodic health checks found of the current key (`None`: nothing to report).
    pub watch: Option<Box<Watch>>,
    /// Every recorded version's fingerprint (the first 8 bytes of its value's SHA-256), so a
    /// leaked value is matched to its key without reading every record (`exposed`).
    pub fingerprints: Box<[(u32, Fingerprint)]>,
    /// The version whose leak is in force ([`super::key::KeyState::exposure`]), if any.
    pub exposed: Option<u32>,
    /// Creates refused by a provider's key-expiry policy, by provider configuration.
    pub policy_refusals: Box<[(Box<str>, u64)]>,
}

/// What the health checks found of a key's current version, and its provider expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watch {
    /// Since when its provider has refused the current key.
    pub rejected_since: Option<DateTime<Utc>>,
    /// When the current key expires at its provider.
    pub provider_expires: Option<DateTime<Utc>>,
    /// Health checks by outcome.
    pub checks: Box<[(Box<str>, u64)]>,
}

/// The first 8 bytes of a value's SHA-256: what a version's `fingerprint` shows in hex.
pub(crate) type Fingerprint = [u8; 8];

/// The bytes of a fingerprint as versions record it (`sha256:` + 16 hex digits).
pub(crate) fn parse_fingerprint(text: &str) -> Option<Fingerprint> {
    let hex_digits = text.strip_prefix("sha256:")?;
    let mut out = [0u8; 8];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

/// A key's overrides of its schedule's periods.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Settings {
    rotation_period: Option<i64>,
    grace_period: Option<i64>,
    rotation_schedule: Option<Box<str>>,
    rotation_window: Option<i64>,
    usage_quiet_period: Option<i64>,
    max_grace: Option<i64>,
    health_check_interval: Option<i64>,
    expiry_warning: Option<i64>,
}

/// No overrides: everything from the schedule.
static INHERITED: Settings = Settings {
    rotation_period: None,
    grace_period: None,
    rotation_schedule: None,
    rotation_window: None,
    usage_quiet_period: None,
    max_grace: None,
    health_check_interval: None,
    expiry_warning: None,
};

fn counts(m: &std::collections::BTreeMap<String, u64>) -> Box<[(Box<str>, u64)]> {
    m.iter().map(|(k, n)| (k.as_str().into(), *n)).collect()
}

impl KeyDigest {
    /// The digest of `k`.
    pub(crate) fn of(k: &KeyState) -> KeyDigest {
        let versions = || k.versions.versions.values();
        // The versions' revocations of one kind, as the digest lists them.
        let revocations_where = |kind: fn(&ProviderRevocation) -> bool| {
            versions()
                .filter_map(|v| Some((v.number, v.provider_revocation.as_ref()?)))
                .filter(|(_, r)| kind(r))
                .map(|(version, r)| PendingRevocation {
                    version,
                    provider: r.provider.as_str().into(),
                    requested: r.requested_time,
                })
                .collect()
        };
        let settings = Settings {
            rotation_period: k.rotation_period,
            grace_period: k.grace_period,
            rotation_schedule: k.rotation_schedule.as_deref().map(Into::into),
            rotation_window: k.rotation_window,
            usage_quiet_period: k.usage_quiet_period,
            max_grace: k.max_grace,
            health_check_interval: k.health_check_interval,
            expiry_warning: k.expiry_warning,
        };
        KeyDigest {
            provider: k.provider.as_deref().map(Into::into),
            auto_rotate: k.auto_rotate,
            schedule: k.schedule.as_str().into(),
            settings: (settings != INHERITED).then(|| Box::new(settings)),
            current: k.versions.current().map(|v| (v.number, v.created_time)),
            previous: versions()
                .filter(|v| v.state == VersionState::Previous)
                .map(|v| Grace {
                    expires: v.grace_expires_time,
                    planned: v.planned_grace_expires_time,
                })
                .collect(),
            pending: versions()
                .filter(|v| v.state == VersionState::Pending)
                .count(),
            revocations: revocations_where(ProviderRevocation::is_pending),
            live: versions()
                .filter(|v| v.state.keeps_value())
                .filter(|v| v.origin.is_some() || (v.provider_key_id.is_some() && v.owned()))
                .filter_map(|v| {
                    let provider = v.provider.as_deref().or(k.provider.as_deref())?;
                    Some((v.number, provider.into()))
                })
                .collect(),
            manual: revocations_where(ProviderRevocation::is_unacknowledged_manual),
            auto_failures: k.auto.failures,
            last_error: k.last_error.is_some(),
            rotations: k.stats.rotations,
            grace_extensions: k.stats.grace_extensions,
            rotation_failures: counts(&k.stats.rotation_failures),
            test_outcomes: counts(&k.stats.test_outcomes),
            watch: watch_of(k),
            fingerprints: versions()
                .filter_map(|v| Some((v.number, parse_fingerprint(&v.fingerprint)?)))
                .collect(),
            exposed: k.exposure().map(|e| e.version),
            policy_refusals: counts(&k.stats.provider_policy_refusals),
        }
    }

    /// The key's schedule and its overrides, for [`super::view::periods_of`].
    pub(crate) fn overrides(&self) -> Overrides<'_> {
        let own = self.settings.as_deref().unwrap_or(&INHERITED);
        Overrides {
            schedule: &self.schedule,
            rotation_period: own.rotation_period,
            grace_period: own.grace_period,
            rotation_schedule: own.rotation_schedule.as_deref(),
            rotation_window: own.rotation_window,
            usage_quiet_period: own.usage_quiet_period,
            max_grace: own.max_grace,
            health_check_interval: own.health_check_interval,
            expiry_warning: own.expiry_warning,
        }
    }

    /// Whether a `previous` version is still valid at `now` (the first, as `creds/` finds it).
    pub(crate) fn in_grace(&self, now: DateTime<Utc>) -> bool {
        self.previous
            .first()
            .is_some_and(|g| grace_open(g.expires, now))
    }

    /// The versions whose fingerprint is `fingerprint`.
    pub(crate) fn versions_with(&self, fingerprint: Fingerprint) -> impl Iterator<Item = u32> + '_ {
        self.fingerprints
            .iter()
            .filter(move |(_, f)| *f == fingerprint)
            .map(|(n, _)| *n)
    }

    /// Failed rotations with trigger `trigger`.
    pub(crate) fn failures(&self, trigger: &str) -> u64 {
        self.rotation_failures
            .iter()
            .find(|(t, _)| &**t == trigger)
            .map_or(0, |(_, n)| *n)
    }
}

/// The digest's [`Watch`] of `k`, when there is anything to report.
fn watch_of(k: &KeyState) -> Option<Box<Watch>> {
    let current = k.versions.current();
    let watch = Watch {
        rejected_since: current.and_then(|v| v.rejected_since()),
        provider_expires: current.and_then(|v| v.provider_expires_time),
        checks: counts(&k.stats.health_checks),
    };
    let empty = watch.rejected_since.is_none()
        && watch.provider_expires.is_none()
        && watch.checks.is_empty();
    (!empty).then(|| Box::new(watch))
}

/// Key `name`'s digest: the one kept if its record has not changed since, otherwise read from
/// its record (checked as [`store::load_with`] checks it). `None` when the key does not exist.
pub(crate) async fn load(
    storage: &dyn Storage,
    name: &str,
) -> Result<Option<Arc<KeyDigest>>, Error> {
    get_summary(storage, &store::key_path(name), || async {
        let entry = store::load_with(storage, name, false).await?;
        Ok(entry.map(|e| KeyDigest::of(&e.key)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::backend::testing::Harness;
    use crate::backend::testing::OLD;

    /// A digest resolves to the same periods as its record, and holds no key material.
    #[tokio::test]
    async fn a_digest_has_its_records_settings_and_no_value() {
        let h = Harness::new().await;
        for (name, settings) in [
            ("plain", json!({})),
            (
                "own",
                json!({ "rotation_period": "30d", "grace_period": "2h", "max_grace": "1d" }),
            ),
            (
                "cron",
                json!({ "rotation_schedule": "0 3 * * 1", "rotation_window": "2h" }),
            ),
        ] {
            let mut body = settings;
            body["value"] = json!(OLD);
            h.create(&format!("keys/{name}"), body).await.unwrap();
            let key = store::load_key(h.cached.as_ref(), name)
                .await
                .unwrap()
                .unwrap();
            let digest = KeyDigest::of(&key);
            assert_eq!(
                format!("{:?}", digest.overrides()),
                format!("{:?}", key.overrides()),
                "{name}"
            );
            assert_eq!(digest.settings.is_none(), name == "plain");
            assert_eq!(digest.current.map(|c| c.0), Some(1));
            assert!(!format!("{digest:?}").contains(OLD));
        }
    }

    /// Every version's fingerprint is in the digest, retired ones too (a leak of a revoked value
    /// is still found), as bytes: no value, and no text beyond the first 8 bytes of SHA-256.
    #[tokio::test]
    async fn a_digest_finds_every_versions_fingerprint() {
        let h = Harness::new().await;
        h.create_key("k", OLD).await;
        h.write(
            "rotate/k",
            json!({ "value": "sk-test-NEXT-0123456789", "grace_period": 0 }),
        )
        .await
        .unwrap();
        let key = store::load_key(h.cached.as_ref(), "k")
            .await
            .unwrap()
            .unwrap();
        let digest = KeyDigest::of(&key);
        let old = parse_fingerprint(&crate::rotation::fingerprint_of(OLD)).unwrap();
        assert_eq!(digest.versions_with(old).collect::<Vec<_>>(), [1]);
        let next = parse_fingerprint(&crate::rotation::fingerprint_of("sk-test-NEXT-0123456789"));
        assert_eq!(digest.versions_with(next.unwrap()).collect::<Vec<_>>(), [2]);
        assert_eq!(digest.exposed, None);
        assert_eq!(parse_fingerprint("sha256:0123"), None);
        assert_eq!(parse_fingerprint("0123456789abcdef"), None);
    }

    /// Pending revocations carry their version and provider (what a provider delete checks);
    /// confirmed ones are gone.
    #[tokio::test]
    async fn a_digest_lists_the_pending_revocations() {
        let h = Harness::new().await;
        h.create_key("k", OLD).await;
        let mut key = store::load_key(h.cached.as_ref(), "k")
            .await
            .unwrap()
            .unwrap();
        let v = key.versions.versions.values_mut().next().unwrap();
        let requested = Utc::now();
        v.provider_revocation = Some(crate::rotation::ProviderRevocation {
            provider: "p".into(),
            provider_key_id: "key-1".into(),
            requested_time: requested,
            confirmed_time: None,
            attempts: 2,
            last_error: None,
            intent_id: None,
            origin: None,
            manual: None,
        });
        let pending = KeyDigest::of(&key).revocations;
        let expected = PendingRevocation {
            version: 1,
            provider: "p".into(),
            requested,
        };
        assert_eq!(&*pending, [expected]);
        let v = key.versions.versions.values_mut().next().unwrap();
        v.provider_revocation.as_mut().unwrap().confirmed_time = Some(Utc::now());
        assert!(KeyDigest::of(&key).revocations.is_empty());
    }

    /// A manual revocation is never pending; it is listed apart until acknowledged.
    #[tokio::test]
    async fn a_digest_lists_the_unacknowledged_manual_revocations() {
        let h = Harness::new().await;
        h.create_key("k", OLD).await;
        let mut key = store::load_key(h.cached.as_ref(), "k")
            .await
            .unwrap()
            .unwrap();
        let v = key.versions.versions.values_mut().next().unwrap();
        let requested = Utc::now();
        v.provider_revocation = Some(crate::rotation::ProviderRevocation::manual(
            "p",
            Some("key-1"),
            requested,
            "not owned",
        ));
        let digest = KeyDigest::of(&key);
        assert!(digest.revocations.is_empty());
        let expected = PendingRevocation {
            version: 1,
            provider: "p".into(),
            requested,
        };
        assert_eq!(&*digest.manual, [expected]);
        let v = key.versions.versions.values_mut().next().unwrap();
        let r = v.provider_revocation.as_mut().unwrap();
        r.acknowledge(Utc::now(), "entity:e", None).unwrap();
        assert!(r.acknowledge(Utc::now(), "entity:e", None).is_err());
        assert!(KeyDigest::of(&key).manual.is_empty());
    }
}
