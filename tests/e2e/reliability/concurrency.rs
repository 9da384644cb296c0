//! Issue 8.4: concurrency.
