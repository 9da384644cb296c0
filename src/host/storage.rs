//! The host's `pb.Storage`, reached through the broker, behind the framework's Storage trait.

use tonic::transport::Channel;

use crate::framework::{Storage, StorageError};
use crate::proto::pb;
use crate::proto::pb::storage_client::StorageClient;

/// Mount storage served by the host (barrier-encrypted, private to this mount).
#[derive(Debug, Clone)]
pub struct GrpcStorage {
    client: StorageClient<Channel>,
}

impl GrpcStorage {
    /// Storage over an established broker channel.
    pub fn new(channel: Channel) -> GrpcStorage {
        GrpcStorage {
            client: StorageClient::new(channel)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX),
        }
    }
}

fn transport(status: tonic::Status) -> StorageError {
    StorageError(status.message().to_string())
}

fn app(err: String) -> Result<(), StorageError> {
    if err.is_empty() {
        Ok(())
    } else {
        Err(StorageError(err))
    }
}

#[async_trait::async_trait]
impl Storage for GrpcStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let reply = self
            .client
            .clone()
            .get(pb::StorageGetArgs {
                key: key.to_string(),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        app(reply.err)?;
        Ok(reply.entry.map(|e| e.value))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        let reply = self
            .client
            .clone()
            .put(pb::StoragePutArgs {
                entry: Some(pb::StorageEntry {
                    key: key.to_string(),
                    value,
                    seal_wrap: false,
                }),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        app(reply.err)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let reply = self
            .client
            .clone()
            .delete(pb::StorageDeleteArgs {
                key: key.to_string(),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        app(reply.err)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let reply = self
            .client
            .clone()
            .list(pb::StorageListArgs {
                prefix: prefix.to_string(),
                txn: String::new(),
            })
            .await
            .map_err(transport)?
            .into_inner();
        app(reply.err)?;
        Ok(reply.keys)
    }
}
