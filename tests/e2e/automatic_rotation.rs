//! Automatic rotation, the engine's own work on the host's periodic tick (every 60 s), against a
//! real OpenBao 2.7.2 and the fake provider: keys due by their
//! `rotation_period` rotated without a request, and a failed automatic rotation recorded; cron
//! schedules (`rotation_schedule`, on `schedules/` and on keys) rotating keys in their minute;
//! current keys watched every `health_check_interval` (a key the provider refuses flagged, and
//! rotated at once with `auto_rotate`; the engine's probes never counted as use);
//! and the periodic work never stopping: a stalled provider delays only its own keys, hostile
//! stored data never stops the tick, a failed automatic rotation backs off and revokes what it
//! created.
//!
//! The tests run the tick themselves through the plugin's tick hook and poll for its work (the
//! cron test still waits for its chosen minute, 20 to 80 s), except
//! `due_keys::tick_rotates_due_keys_automatically`, which waits for the host's own tick (up to
//! two minutes) so that the real path stays covered. Near the start of libtest's name order they
//! run beside the short ones instead of stretching the end of the run.

mod cron;
mod due_keys;
mod health;
mod never_stops;
