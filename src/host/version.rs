//! `logical.PluginVersion`: the version the host shows as "Running Version".

use tonic::{Request, Response, Status};

use crate::proto::logical::plugin_version_server::PluginVersion;
use crate::proto::logical::{Empty, VersionReply};

/// Reports `v` + the crate version, the form registration uses (`-version=v0.1.0`).
#[derive(Debug, Clone, Copy)]
pub struct VersionService;

#[tonic::async_trait]
impl PluginVersion for VersionService {
    async fn version(&self, _request: Request<Empty>) -> Result<Response<VersionReply>, Status> {
        Ok(Response::new(VersionReply {
            plugin_version: format!("v{}", crate::VERSION),
        }))
    }
}
