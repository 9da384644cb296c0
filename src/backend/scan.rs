//! Reading every key, for the reports (`overdue`, `metrics`, `report`) and the reference checks
//! (a provider or schedule still in use): a stream over the records in name order, never all of
//! them in memory at once.
//!
//! The host answers storage reads concurrently, so the scan keeps [`CONCURRENCY`] reads in
//! flight: at 10,000 keys it costs about 10,000 / 16 round trips of waiting instead of 10,000,
//! and holds at most that many decoded records (plus what the caller keeps). Records come from
//! the record cache when it has them, without pushing its hot entries out.

use futures::stream::{self, Stream, StreamExt, TryStreamExt};

use super::store::{self, KeyState};
use crate::framework::{Error, Storage};

/// Records read at once.
pub const CONCURRENCY: usize = 16;

/// Every live key's settings and versions, in name order. A record that cannot be used (newer
/// format, inconsistent) is left out with an error logged; a key deleted during the scan is
/// simply not there; a storage failure ends the stream with that error.
pub async fn keys(
    storage: &dyn Storage,
) -> Result<impl Stream<Item = Result<KeyState, Error>> + '_, Error> {
    let names = store::list_names(storage).await?;
    Ok(stream::iter(names)
        .map(move |name| async move {
            let loaded = store::load_with(storage, &name, false).await;
            (name, loaded)
        })
        .buffered(CONCURRENCY)
        .filter_map(|(name, loaded)| async move {
            match loaded {
                Ok(entry) => entry.and_then(|e| e.key.clone()).map(Ok),
                Err(e @ Error::Internal(_)) => {
                    tracing::error!(key = %name, error = %e, "key left out of a report");
                    None
                }
                Err(e) => Some(Err(e)),
            }
        }))
}

/// The names of the keys for which `pred` holds, in name order.
pub async fn names_where(
    storage: &dyn Storage,
    pred: impl Fn(&KeyState) -> bool,
) -> Result<Vec<String>, Error> {
    keys(storage)
        .await?
        .try_filter_map(|k| {
            let name = pred(&k).then_some(k.name);
            async move { Ok(name) }
        })
        .try_collect()
        .await
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use serde_json::json;

    use super::*;
    use crate::backend::flow_tests::OLD;
    use crate::backend::testing::Harness;

    /// More keys than reads in flight: every key once, in name order, whatever order the reads
    /// finish in; a record that cannot be used is left out, not the end of the report.
    #[tokio::test]
    async fn a_scan_yields_every_key_once_in_name_order_and_skips_a_broken_record() {
        let h = Harness::new().await;
        let mut names: Vec<String> = (0..3 * CONCURRENCY).map(|i| format!("k{i}")).collect();
        for n in &names {
            h.create(&format!("keys/{n}"), json!({ "value": OLD }))
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
        let scanned: Vec<String> = keys(h.cached.as_ref())
            .await
            .unwrap()
            .map_ok(|k| k.name)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(scanned, names);
        let even = names_where(h.cached.as_ref(), |k| k.name.ends_with('0'))
            .await
            .unwrap();
        let expected: Vec<&String> = names.iter().filter(|n| n.ends_with('0')).collect();
        assert_eq!(even.iter().collect::<Vec<_>>(), expected);
    }
}
