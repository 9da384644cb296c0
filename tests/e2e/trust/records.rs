//! Trust review: records (see ../trust.rs).
