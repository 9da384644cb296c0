//! The host's `pb.SystemView`, reached through the broker.

use tonic::transport::Channel;

use crate::engine::{SystemError, SystemInfo};
use crate::proto::pb;
use crate::proto::pb::system_view_client::SystemViewClient;

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

    async fn caching_disabled(&self) -> Result<bool, SystemError> {
        let reply = self
            .client
            .clone()
            .caching_disabled(pb::Empty {})
            .await
            .map_err(|s| SystemError::Rpc(s.message().to_string()))?;
        Ok(reply.into_inner().disabled)
    }
}
