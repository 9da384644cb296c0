//! Notifications people receive: webhook configurations (`notifications/`), the delivery of
//! the durable outbox the record layer writes with the history (`record/outbox.rs`), as signed
//! CloudEvents, and the tick's own notices (due, overdue, expiry near, revocations pending too
//! long), de-duplicated per key.
//!
//! Between [`super::periodic`] (which calls [`deliver`] and [`notices`] on the active node's
//! tick) and [`super::workflows`]; knows nothing of paths.

mod config;
mod deliver;
mod event;
mod memo;
mod notices;

pub(super) use config::{
    check_events, check_secret, check_url, delete as delete_config, load as load_config,
    names as config_names, save as save_config, NotificationConfig, MAX_CONFIGS,
    MAX_KEY_PREFIX_LEN, MAX_SECRET_LEN, MAX_URL_LEN, TYPES,
};
pub(super) use deliver::{deliver, pending, stats};
pub(super) use memo::Memo;
pub(super) use notices::notices;

#[cfg(test)]
mod tests;
