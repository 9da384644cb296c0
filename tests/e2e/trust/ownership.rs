//! Trust review: ownership (see ../trust.rs).
