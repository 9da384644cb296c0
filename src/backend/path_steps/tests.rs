//! `stage/`, `test/`, `promote/`, `rollback/` through the engine on in-memory storage, with
//! `rotation_id` replays, the two-person rule and read-only storage.

mod grace_ceiling;
mod idempotency;
mod promote;
mod read_only;
mod rollback;
mod stage;
mod two_person;
