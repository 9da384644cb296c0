//! The key record through the engine: what a record keeps as it ages, the record cache and the
//! report digests kept exact.

mod cache;
mod digests;
mod records;
