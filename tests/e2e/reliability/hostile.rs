//! Issue 8.5: hostile input.
