//! stage / test / promote / rollback / rotate, idempotency and the two-person rule.

mod idempotency;
mod promote;
mod read_only;
mod rollback;
mod rotate;
mod stage;
mod two_person;
