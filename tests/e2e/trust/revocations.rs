//! Trust review: revocations (see ../trust.rs).
