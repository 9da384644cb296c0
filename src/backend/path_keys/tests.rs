//! Path tests on in-memory storage.

mod create;
mod created_time;
mod delete;
mod federated;
mod from_provider;
mod names;
mod read;
mod two_person;
mod update;

use chrono::{DateTime, SecondsFormat, Utc};

const OLD: &str = "sk-test-ORIGINAL-0123456789abcdef";

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
