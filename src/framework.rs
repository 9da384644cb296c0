//! Transport-free routing for Vault-style backends: the Rust counterpart of
//! Go's `sdk/framework`.
//!
//! A [`Backend`] is a list of [`Path`]s. Each path is a regular expression
//! (anchored automatically), a set of typed [`Field`]s and one handler per
//! [`Operation`]. [`Backend::handle_request`] picks the first path whose
//! pattern matches the request path, merges the named captures into the body
//! data, validates every declared field by its [`FieldType`] (with Vault's
//! loose coercion rules, so `bao write x flag=true` works) and the constraints
//! its [`Field`] declares (lengths, pattern, allowed values, bounds, required),
//! and calls the handler with a [`FieldData`] of typed values.
//!
//! The framework also answers what every Vault backend answers the same way:
//! `help` (text and an OpenAPI 3.0.2 document), `rollback` (the periodic
//! function plus write-ahead-log rollback, see [`wal_put`]) and the existence
//! check used by the host to tell `create` from `update`. Builds with the `test-hooks` feature
//! (the tests', never a release) can add a path that runs the `rollback` work now
//! ([`Backend::test_hooks`]).
//!
//! Nothing here knows about gRPC: the transport translates protobuf requests
//! into [`Request`]s, provides a [`Storage`] implementation, and maps
//! [`Error::status`] and [`Response`] back onto the wire. Tests drive a
//! backend directly on [`InMemoryStorage`].

mod backend;
mod cache;
mod duration;
mod error;
mod field;
mod help;
mod memory;
mod openapi;
mod path;
mod request;
mod storage;
#[cfg(feature = "test-hooks")]
mod test_hooks;
mod wal;

pub use backend::{Backend, ExistenceResult, PeriodicFn, WalOutcome, WalRollbackFn};
pub use cache::{get_cached, get_summary, CacheLimits, CacheStats, CachedStorage, StorageCache};
pub use duration::{parse_duration, parse_duration_str};
pub use error::Error;
pub use field::{
    is_valid_name, Field, FieldData, FieldType, TextPattern, CLEARABLE_NOTE, DEFAULT_MAX_LEN,
};
pub use memory::{configure_allocator, release_freed_memory};
pub use path::{
    existence_check, generic_name_regex, handler, ExistenceCheck, Handler, HandlerResult,
    OperationSpec, Path,
};
pub use request::{Operation, Request, Response};
pub use storage::{get_json, put_json, InMemoryStorage, Storage, StorageError};
pub use wal::{wal_delete, wal_get, wal_list, wal_put, WalEntry, WAL_PREFIX};
