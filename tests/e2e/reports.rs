//! The reports an operator or auditor reads: `overdue` (age counted from imported creation
//! times), `history/` (events with their actor and the request id the audit log holds) and the
//! compliance `report` (JSON and CSV: rotations, failures, tests, provider revocations, who
//! promoted). Metrics and alerts are in `metrics`.

mod compliance;
mod overdue_and_history;
