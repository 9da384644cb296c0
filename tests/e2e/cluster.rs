//! The engine in a real three-node OpenBao 2.7.2 cluster with integrated Raft (see
//! `support::cluster`), one file per behaviour: standbys forwarding writes and failover
//! (`failover`), what `metrics` says on each node (`metrics`), upgrade and rollback of every
//! node (`upgrade`), a snapshot restore seen by every node (`restore`).

mod failover;
mod metrics;
mod restore;
mod upgrade;
