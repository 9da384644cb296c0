//! The key record: what a managed key is ([`KeyState`], [`KeyEntry`]), how it is stored
//! (`keys/<name>`, checked when loaded, with format versions and the migration of the previous
//! release's records), who changed it ([`Actor`]), its history pages and remembered rotation
//! ids (entries of their own, so a record never grows with a key's age), the per-key write
//! locks, and the small digests and streaming scans the reports read.
//!
//! The bottom of the backend: it knows storage and the version state machine
//! ([`crate::rotation`]), nothing of schedules, providers or paths. Everything else reads and
//! writes keys through this facade.

mod actor;
mod digest;
mod federated;
mod format;
mod history;
mod key;
mod locks;
mod migrate;
mod outbox;
mod replays;
mod scan;
mod store;
mod unchecked;

pub(super) use actor::Actor;
pub(super) use digest::{load as load_digest, parse_fingerprint, Fingerprint, KeyDigest};
pub(super) use federated::{
    delete as delete_federated, load as load_federated, names as federated_names,
    save as save_federated, FederatedKey, FEDERATED_PREFIX,
};
pub(super) use history::{
    archive as archive_history, cursor as history_cursor, find as find_history,
    fresh_log as fresh_history, legacy_page as legacy_history_page, page as history_page,
    parse_cursor as parse_history_cursor, Events as HistoryEvents, HistoryEvent,
};
pub(super) use key::{AutoState, Exposure, KeyEntry, KeyState, Overrides, Stats};
pub(super) use locks::{KeyGuard, KeyLocks};
pub(super) use migrate::{key as migrate_key, run as migrate_all};
pub(super) use outbox::{
    attempted, forget_notices, put as put_outbox, recorded_at as outbox_recorded_at, stage_notice,
    writes as outbox_writes, OutboxEntry, Target as OutboxTarget, NOTICES_PREFIX,
    NOTIFY_CONFIG_PREFIX, OUTBOX_PREFIX, OUTCOME_NOT_STAGED, OUTCOME_POLICY_REFUSED,
};
pub(super) use replays::{forget as forget_replays, Idempotency};
pub(super) use scan::{
    digests, digests_noting, keys_and_incarnations_noting as scan_keys_and_incarnations_noting,
    keys_noting as scan_keys_noting, may_name, names_where, names_where_noting, Refusals, Refused,
};
#[cfg(test)]
pub(super) use store::save;
pub(super) use store::{
    append_to_deleted_history, key_path, list_names, load, load_existing, load_key, load_shared,
    outbox_committed, read, save_at, write_final_history, KEYS_PREFIX,
};
pub(super) use unchecked::{inspect as inspect_stored, Stored};

#[cfg(test)]
pub(super) use digest::Grace;
#[cfg(test)]
pub(super) use history::KEPT_INCARNATIONS;
#[cfg(test)]
pub(super) use key::RETIRED_KEEP;
#[cfg(test)]
pub(super) use outbox::NOTIFIED_EVENTS;
#[cfg(test)]
pub(super) use replays::KEEP as REPLAYS_KEPT;

#[cfg(test)]
mod tests;
