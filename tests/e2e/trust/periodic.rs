//! Trust review: periodic (see ../trust.rs).
