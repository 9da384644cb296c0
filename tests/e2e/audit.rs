//! What the audit log and the server log show of key values: never a value in clear (old, new,
//! a provider's admin key, over HTTP and the CLI, nor in reads that should not carry it), and
//! the HMAC of each new value exactly where a `creds/` response handed it out.

mod hashed_values;
mod leaks;
