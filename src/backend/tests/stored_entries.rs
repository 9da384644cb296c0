//! What the engine stores is readable by an operator through `sys/raw`.

use super::populated;
use crate::backend::testing::Harness;

/// `sys/raw` reads an entry whose first byte is a compression marker (gzip `G`, LZW `L`,
/// snappy `S`, LZ4 `4`) as compressed data, and OpenBao 2.7 answers 400 for LZ4. Every entry the
/// engine writes, the start mark included, is a JSON object, so none can begin with one.
#[tokio::test]
async fn every_stored_entry_is_a_json_object_sys_raw_shows_as_it_is() {
    let h = populated().await;
    h.tick().await.unwrap();
    // A restart of the active plugin writes its start mark again.
    let h = Harness::over(h.storage.clone(), false).await;
    let entries = h.snapshot().await;
    assert!(entries.iter().any(|(k, _)| k == "started"), "no start mark");
    for (key, value) in entries {
        let value = value.unwrap_or_default();
        assert_eq!(value.first(), Some(&b'{'), "{key} does not start with '{{'");
        let parsed: serde_json::Value =
            serde_json::from_slice(&value).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"));
        assert!(parsed.is_object(), "{key}");
    }
}
