//! Trust review: inputs (see ../trust.rs).
