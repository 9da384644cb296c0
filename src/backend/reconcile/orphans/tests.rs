//! Whose a provider-side name in the engine's naming is: this mount's (its tag, or an earlier
//! release's untagged name), another mount's (another tag), or nobody's here.

use std::collections::BTreeSet;

use super::{key_here, key_of};

#[test]
fn a_name_tells_its_key_and_the_mount_that_made_it() {
    assert_eq!(key_of("ai-keys-app-0123456789ab"), Some(("app", None)));
    assert_eq!(
        key_of("ai-keys-team-a-app-abcdef0123456789ab"),
        Some(("team-a-app", Some("abcdef")))
    );
    for not_ours in [
        "app-0123456789ab",
        "ai-keys--0123456789ab",
        "ai-keys-app-0123456789a",
        "ai-keys-app-0123456789abc",
        "ai-keys-app-abcdef0123456789ag",
        "ai-keys-app",
    ] {
        assert_eq!(key_of(not_ours), None, "{not_ours}");
    }
}

#[test]
fn only_this_mounts_tag_or_no_tag_makes_a_key_this_mounts() {
    let keys: BTreeSet<String> = ["app".to_string()].into();
    let tag = "abcdef";
    assert_eq!(
        key_here("ai-keys-app-abcdef0123456789ab", tag, &keys),
        Some("app")
    );
    assert_eq!(
        key_here("ai-keys-app-ABCDEF0123456789ab", tag, &keys),
        Some("app")
    );
    assert_eq!(
        key_here("ai-keys-app-0123456789ab", tag, &keys),
        Some("app"),
        "an earlier release's name carries no tag"
    );
    assert_eq!(
        key_here("ai-keys-app-fedcba0123456789ab", tag, &keys),
        None,
        "another mount's key of the same name"
    );
    assert_eq!(
        key_here("ai-keys-other-abcdef0123456789ab", tag, &keys),
        None,
        "a key this mount does not hold"
    );
}
