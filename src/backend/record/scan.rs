//! Reading every key, for the reports (`overdue`, `metrics`, `report`) and the reference checks
//! (a provider or schedule still in use): a stream over the records in name order, never all of
//! them in memory at once.
//!
//! The host answers storage reads concurrently, so the scan keeps [`CONCURRENCY`] reads in
//! flight: at 10,000 keys it costs about 10,000 / 16 round trips of waiting instead of 10,000,
//! and holds at most that many decoded records (plus what the caller keeps). Records come from
//! the record cache when it has them, without pushing its hot entries out.

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::stream::{self, Stream, StreamExt, TryStreamExt};

use super::digest::{self, KeyDigest};
use super::key::KeyState;
use super::store;
use crate::framework::{Error, Storage};

/// Records read at once.
pub(super) const CONCURRENCY: usize = 16;

/// Every live key's settings and versions, in name order. A record that cannot be used (newer
/// format, naming another key, inconsistent) is left out with an error logged and noted in
/// `refusals` (a report lists them); a key deleted during the scan is simply not there; a
/// storage failure ends the stream with that error.
pub(crate) async fn keys_noting(
    storage: &dyn Storage,
    refusals: Refusals,
) -> Result<impl Stream<Item = Result<KeyState, Error>> + '_, Error> {
    each(storage, Broken::Noted(refusals), move |name| async move {
        let entry = store::load_with(storage, &name, false).await?;
        Ok(entry.map(|e| e.key.clone()))
    })
    .await
}

/// [`keys_noting`], each key with its incarnation (the notices remember what they told per
/// incarnation).
pub(crate) async fn keys_and_incarnations_noting(
    storage: &dyn Storage,
    refusals: Refusals,
) -> Result<impl Stream<Item = Result<(KeyState, u32), Error>> + '_, Error> {
    each(storage, Broken::Noted(refusals), move |name| async move {
        let entry = store::load_with(storage, &name, false).await?;
        Ok(entry.map(|e| (e.key.clone(), e.log.incarnation)))
    })
    .await
}

/// Every live key's name and digest, as [`keys_noting`] (what the reports read): the digests the
/// record cache keeps cost no storage read.
pub(crate) async fn digests(
    storage: &dyn Storage,
) -> Result<impl Stream<Item = Result<(String, Arc<KeyDigest>), Error>> + '_, Error> {
    digests_or(storage, Broken::LeftOut).await
}

/// [`digests`], noting each record it leaves out in `refusals` (a report lists them).
pub(crate) async fn digests_noting(
    storage: &dyn Storage,
    refusals: Refusals,
) -> Result<impl Stream<Item = Result<(String, Arc<KeyDigest>), Error>> + '_, Error> {
    digests_or(storage, Broken::Noted(refusals)).await
}

/// A record a scan could not use: its storage path and why (the refusal's message, which
/// names ids and formats, never a value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub path: String,
    pub reason: String,
}

impl Refused {
    /// The warning a report shows for it.
    pub(crate) fn warning(&self) -> String {
        format!(
            "the record at {} was left out of this report: {}",
            self.path, self.reason
        )
    }
}

/// Where a scan notes the records it leaves out, in name order; shared with the caller, who
/// reads it once the stream ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct Refusals(Arc<Mutex<Vec<Refused>>>);

impl Refusals {
    fn note(&self, refused: Refused) {
        if let Ok(mut list) = self.0.lock() {
            list.push(refused);
        }
    }

    /// What was noted so far.
    pub(crate) fn taken(&self) -> Vec<Refused> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The warnings for what was noted so far.
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.taken().iter().map(Refused::warning).collect()
    }
}

/// What a scan does with a record that cannot be used.
#[derive(Debug, Clone)]
enum Broken {
    /// Logged and left out (a report goes on).
    LeftOut,
    /// Logged, left out and noted (a report goes on and says so).
    Noted(Refusals),
    /// The scan ends with its error (a check that must not pass on what it could not read).
    Refused,
}

/// [`digests`] for a check that must not pass on what it could not read: a record that cannot
/// be used ends the stream with its error (naming the key).
pub(crate) async fn digests_checked(
    storage: &dyn Storage,
) -> Result<impl Stream<Item = Result<(String, Arc<KeyDigest>), Error>> + '_, Error> {
    digests_or(storage, Broken::Refused).await
}

async fn digests_or(
    storage: &dyn Storage,
    broken: Broken,
) -> Result<impl Stream<Item = Result<(String, Arc<KeyDigest>), Error>> + '_, Error> {
    each(storage, broken, move |name| async move {
        let digest = digest::load(storage, &name).await?;
        Ok(digest.map(|d| (name, d)))
    })
    .await
}

/// `load` of every listed key, in name order, [`CONCURRENCY`] at once; see [`keys_noting`] for what
/// is left out (a record that cannot be used only with [`Broken::LeftOut`] or [`Broken::Noted`]).
async fn each<'a, T, F, Fut>(
    storage: &'a dyn Storage,
    broken: Broken,
    load: F,
) -> Result<impl Stream<Item = Result<T, Error>> + 'a, Error>
where
    T: 'a,
    F: Fn(String) -> Fut + 'a,
    Fut: Future<Output = Result<Option<T>, Error>> + 'a,
{
    let names = store::list_names(storage).await?;
    Ok(stream::iter(names)
        .map(move |name| {
            let loading = load(name.clone());
            async move { (name, loading.await) }
        })
        .buffered(CONCURRENCY)
        .filter_map(move |(name, loaded)| {
            let broken = broken.clone();
            async move {
                match (loaded, broken) {
                    (Ok(value), _) => value.map(Ok),
                    (Err(e @ Error::Internal(_)), Broken::LeftOut) => {
                        tracing::error!(key = %name, error = %e, "key left out of a report");
                        None
                    }
                    (Err(Error::Internal(reason)), Broken::Noted(refusals)) => {
                        tracing::error!(key = %name, error = %reason, "key left out of a report");
                        refusals.note(Refused {
                            path: store::key_path(&name),
                            reason,
                        });
                        None
                    }
                    (Err(e), _) => Some(Err(e)),
                }
            }
        }))
}

/// The names of the keys for which `pred` holds (judged on their digests), in name order. A
/// record that cannot be used fails the call (naming its key): a reference check must not pass
/// on a record it could not read.
pub(crate) async fn names_where(
    storage: &dyn Storage,
    pred: impl Fn(&KeyDigest) -> bool,
) -> Result<Vec<String>, Error> {
    digests_checked(storage)
        .await?
        .try_filter_map(|(name, k)| {
            let name = pred(&k).then_some(name);
            async move { Ok(name) }
        })
        .try_collect()
        .await
}

/// [`names_where`] for a delete that a record it cannot use need not block: the names of the
/// keys for which `pred` holds, and the records left out (noted, not failing the call). The
/// caller decides with [`may_name`] whether a left-out record might refer to what it deletes.
pub(crate) async fn names_where_noting(
    storage: &dyn Storage,
    pred: impl Fn(&KeyDigest) -> bool,
) -> Result<(Vec<String>, Vec<Refused>), Error> {
    let refusals = Refusals::default();
    let names = digests_noting(storage, refusals.clone())
        .await?
        .try_filter_map(|(name, k)| {
            let name = pred(&k).then_some(name);
            async move { Ok(name) }
        })
        .try_collect()
        .await?;
    Ok((names, refusals.taken()))
}

/// Whether a refused record might refer to `value` through a field named `field` (`schedule`,
/// `provider`), read as plain JSON since it cannot be read as a record: true when any object
/// in it has `field` equal to `value`, and when it cannot be judged at all (not JSON, or a
/// format newer than this binary knows, whose fields may mean something else).
pub(crate) async fn may_name(
    storage: &dyn Storage,
    refused: &Refused,
    field: &str,
    value: &str,
) -> Result<bool, Error> {
    let Some(raw) = storage.get(&refused.path).await? else {
        return Ok(false);
    };
    let newer = super::format::format_in(&refused.path, &raw)
        .map_or(true, |f| f > u64::from(super::format::NEWEST_KEY_FORMAT));
    if newer {
        return Ok(true);
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&raw) else {
        return Ok(true);
    };
    Ok(names_value(&json, field, value))
}

fn names_value(json: &serde_json::Value, field: &str, value: &str) -> bool {
    match json {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            (k == field && v.as_str() == Some(value)) || names_value(v, field, value)
        }),
        serde_json::Value::Array(items) => items.iter().any(|v| names_value(v, field, value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use serde_json::json;

    use super::*;
    use crate::backend::testing::Harness;
    use crate::backend::testing::OLD;

    /// More keys than reads in flight: every key once, in name order, whatever order the reads
    /// finish in; a record that cannot be used is left out, not the end of the report (records
    /// and digests alike).
    #[tokio::test]
    async fn a_scan_yields_every_key_once_in_name_order_and_skips_a_broken_record() {
        let h = Harness::new().await;
        let mut names: Vec<String> = (0..3 * CONCURRENCY).map(|i| format!("k{i}")).collect();
        for n in &names {
            let schedule = if n.ends_with('0') {
                "staging"
            } else {
                "production"
            };
            h.create(
                &format!("keys/{n}"),
                json!({ "value": OLD, "schedule": schedule }),
            )
            .await
            .unwrap();
        }
        h.storage
            .put("keys/k7", b"{\"format\": 999}".to_vec())
            .await
            .unwrap();
        h.invalidate("keys/k7").await;
        names.sort();
        names.retain(|n| n != "k7");
        let refusals = Refusals::default();
        let scanned: Vec<String> = keys_noting(h.cached.as_ref(), refusals.clone())
            .await
            .unwrap()
            .map_ok(|k| k.name)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(scanned, names);
        let refused = refusals.taken();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].path, "keys/k7");
        assert!(refused[0].reason.contains("format 999"), "{refused:?}");
        let staging: Vec<String> = digests(h.cached.as_ref())
            .await
            .unwrap()
            .try_filter_map(|(n, k)| async move { Ok((&*k.schedule == "staging").then_some(n)) })
            .try_collect()
            .await
            .unwrap();
        let expected: Vec<&String> = names.iter().filter(|n| n.ends_with('0')).collect();
        assert_eq!(staging.iter().collect::<Vec<_>>(), expected);
    }

    /// A schedule (or provider) delete must not pass because the record naming it is damaged.
    #[tokio::test]
    async fn a_reference_check_fails_on_a_record_it_cannot_use() {
        let h = Harness::new().await;
        h.write(
            "schedules/s",
            json!({ "rotation_period": "30d", "grace_period": "1h" }),
        )
        .await
        .unwrap();
        h.create("keys/k", json!({ "value": OLD, "schedule": "s" }))
            .await
            .unwrap();
        let users = names_where(h.cached.as_ref(), |k| &*k.schedule == "s").await;
        assert_eq!(users.unwrap(), ["k"]);
        h.storage
            .put("keys/k", b"{\"format\": 999}".to_vec())
            .await
            .unwrap();
        h.invalidate("keys/k").await;
        let err = names_where(h.cached.as_ref(), |k| &*k.schedule == "s")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("\"k\""), "{err}");
        let refused = h
            .call(
                crate::framework::Operation::Delete,
                "schedules/s",
                json!({}),
            )
            .await;
        assert!(refused.is_err(), "{refused:?}");
        assert!(h.read("schedules/s").await.get("rotation_period").is_some());
    }
}
