//! The host's `pb.SystemView`, reached through the broker.

use tonic::transport::Channel;

use crate::proto::pb;
use crate::proto::pb::system_view_client::SystemViewClient;

/// The replication-state bit set on performance standbys (openbao.md: 16384).
pub const PERF_STANDBY: i32 = 16384;

/// Errors asking the host.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// Transport failure or the host has no system view (registration probes).
    #[error("system view: {0}")]
    Rpc(String),
}

/// The parts of the host's system view the engine uses.
#[async_trait::async_trait]
pub trait SystemInfo: Send + Sync {
    /// The replication state bit set.
    async fn replication_state(&self) -> Result<i32, SystemError>;
    /// The server's version (`2.7.2`).
    async fn server_version(&self) -> Result<String, SystemError>;

    /// Whether this node is a standby that must not write (performance-standby bit set). Fails
    /// closed: a node that cannot ask the host counts as a standby, so it makes no periodic
    /// writes and no provider calls.
    async fn is_standby(&self) -> bool {
        match self.replication_state().await {
            Ok(state) => state & PERF_STANDBY != 0,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether this node is a standby; acting as one");
                true
            }
        }
    }
}

/// SystemView over an established broker channel.
#[derive(Debug, Clone)]
pub struct GrpcSystemView {
    client: SystemViewClient<Channel>,
}

impl GrpcSystemView {
    /// A system view over `channel`.
    pub fn new(channel: Channel) -> GrpcSystemView {
        GrpcSystemView {
            client: SystemViewClient::new(channel)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX),
        }
    }
}

#[async_trait::async_trait]
impl SystemInfo for GrpcSystemView {
    async fn replication_state(&self) -> Result<i32, SystemError> {
        let reply = self
            .client
            .clone()
            .replication_state(pb::Empty {})
            .await
            .map_err(|s| SystemError::Rpc(s.message().to_string()))?;
        Ok(reply.into_inner().state)
    }

    async fn server_version(&self) -> Result<String, SystemError> {
        let reply = self
            .client
            .clone()
            .plugin_env(pb::Empty {})
            .await
            .map_err(|s| SystemError::Rpc(s.message().to_string()))?
            .into_inner();
        if !reply.err.is_empty() {
            return Err(SystemError::Rpc(reply.err));
        }
        Ok(reply
            .plugin_environment
            .map(|e| e.vault_version)
            .unwrap_or_default())
    }
}
