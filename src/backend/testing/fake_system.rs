//! A system view for the harness: the standby and cluster bits tests flip, a host that stops
//! answering, and the caching switch.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::{SystemError, SystemInfo};

/// A system view whose standby bit tests can flip, and which can fail to answer. A lone
/// server unless `clustered` (or `standby`).
#[derive(Debug, Default)]
pub(crate) struct FakeSystem {
    pub standby: AtomicBool,
    pub clustered: AtomicBool,
    pub unreachable: AtomicBool,
    pub caching_disabled: AtomicBool,
}

#[async_trait::async_trait]
impl SystemInfo for FakeSystem {
    async fn replication_state(&self) -> Result<i32, SystemError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(SystemError::Rpc("transport error".into()));
        }
        Ok(if self.standby.load(Ordering::SeqCst) {
            24576
        } else if self.clustered.load(Ordering::SeqCst) {
            8224
        } else {
            12288
        })
    }

    async fn server_version(&self) -> Result<String, SystemError> {
        Ok("2.7.2".into())
    }

    async fn caching_disabled(&self) -> Result<bool, SystemError> {
        Ok(self.caching_disabled.load(Ordering::SeqCst))
    }
}
