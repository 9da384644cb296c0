//! The Vault backend service: `pb.Backend` served to the host, and the host's Storage and
//! SystemView reached back through the broker. Translates between the wire messages and the
//! transport-free [`crate::framework`] (plugin-protocol.md section 6).

pub mod storage;
pub mod system_view;
pub mod translate;
pub mod version;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::framework::{self, Storage};
use crate::plugin::HostLink;
use crate::proto::pb;
use crate::proto::pb::backend_server::Backend as BackendRpc;

pub use crate::engine::{Engine, EngineContext, EngineFactory, SystemInfo};

/// Backend type reported to the host: 1 is a secrets engine.
const TYPE_SECRETS: u32 = 1;

struct Instance {
    engine: Arc<dyn Engine>,
    storage: Arc<dyn Storage>,
    system: Arc<dyn SystemInfo>,
}

/// The host's read-only storage error. A write that fails with exactly this text on a standby is
/// forwarded by the server to the active node.
pub const READ_ONLY_STORAGE: &str = "cannot write to readonly storage";

/// Whether `op` changes state (and so must run on the active node).
fn is_write(op: framework::Operation) -> bool {
    use framework::Operation::*;
    matches!(op, Create | Update | Patch | Delete)
}

/// The `pb.Backend` service.
pub struct BackendService {
    link: HostLink,
    factory: EngineFactory,
    instance: tokio::sync::RwLock<Option<Arc<Instance>>>,
}

impl BackendService {
    /// A service that builds its engine with `factory` when the host calls Setup.
    pub fn new(link: HostLink, factory: EngineFactory) -> BackendService {
        BackendService {
            link,
            factory,
            instance: tokio::sync::RwLock::new(None),
        }
    }

    async fn instance(&self) -> Result<Arc<Instance>, Status> {
        self.instance
            .read()
            .await
            .clone()
            .ok_or_else(|| Status::failed_precondition("backend is not set up"))
    }
}

#[tonic::async_trait]
impl BackendRpc for BackendService {
    async fn handle_request(
        &self,
        request: Request<pb::HandleRequestArgs>,
    ) -> Result<Response<pb::HandleRequestReply>, Status> {
        let instance = self.instance().await?;
        let wire = request.into_inner().request.unwrap_or_default();
        let reply = match translate::request(wire, instance.storage.clone()) {
            // A standby's storage lags the active node's: a write judged against it could be
            // refused wrongly (a 400 is not forwarded). Every write is refused at once with the
            // read-only error, so the server forwards it to the active node, which decides.
            Ok(req) if is_write(req.operation) && instance.system.is_standby().await => {
                translate::reply(Err(framework::Error::Storage(framework::StorageError(
                    READ_ONLY_STORAGE.to_string(),
                ))))
            }
            Ok(req) => {
                let result = instance.engine.backend().handle_request(req).await;
                translate::reply(result)
            }
            Err(e) => translate::reply(Err(e)),
        };
        Ok(Response::new(reply))
    }

    async fn special_paths(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::SpecialPathsReply>, Status> {
        let (seal_wrap_storage, unauthenticated) = match self.instance.read().await.as_ref() {
            Some(i) => (
                i.engine.seal_wrap_storage(),
                i.engine.unauthenticated_paths(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Response::new(pb::SpecialPathsReply {
            paths: Some(pb::Paths {
                seal_wrap_storage,
                unauthenticated,
                ..Default::default()
            }),
        }))
    }

    async fn handle_existence_check(
        &self,
        request: Request<pb::HandleExistenceCheckArgs>,
    ) -> Result<Response<pb::HandleExistenceCheckReply>, Status> {
        let instance = self.instance().await?;
        let wire = request.into_inner().request.unwrap_or_default();
        let result = match translate::request(wire, instance.storage.clone()) {
            Ok(req) => instance.engine.backend().handle_existence_check(req).await,
            Err(e) => Err(e),
        };
        Ok(Response::new(match result {
            Ok(r) => pb::HandleExistenceCheckReply {
                check_found: r.check_found,
                exists: r.exists,
                err: None,
            },
            Err(e) => pb::HandleExistenceCheckReply {
                check_found: false,
                exists: false,
                err: Some(translate::existence_error(&e)),
            },
        }))
    }

    async fn cleanup(&self, _request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        let instance = self.instance.write().await.take();
        if let Some(instance) = instance {
            instance.engine.cleanup().await;
        }
        Ok(Response::new(pb::Empty {}))
    }

    async fn invalidate_key(
        &self,
        request: Request<pb::InvalidateKeyArgs>,
    ) -> Result<Response<pb::Empty>, Status> {
        if let Ok(instance) = self.instance().await {
            instance.engine.invalidate(&request.into_inner().key).await;
        }
        Ok(Response::new(pb::Empty {}))
    }

    async fn setup(
        &self,
        request: Request<pb::SetupArgs>,
    ) -> Result<Response<pb::SetupReply>, Status> {
        let args = request.into_inner();
        // Storage and SystemView are nil on the host during registration probes: connect, but
        // touch neither here.
        let channel = match self.link.connect(args.broker_id).await {
            Ok(channel) => channel,
            Err(e) => return Ok(Response::new(pb::SetupReply { err: e.to_string() })),
        };
        let storage: Arc<dyn Storage> = Arc::new(storage::GrpcStorage::new(channel.clone()));
        let system: Arc<dyn SystemInfo> = Arc::new(system_view::GrpcSystemView::new(channel));
        let engine = (self.factory)(EngineContext {
            system: system.clone(),
            config: args.config,
            backend_uuid: args.backend_uuid,
        });
        let storage = engine.wrap_storage(storage);
        *self.instance.write().await = Some(Arc::new(Instance {
            engine,
            storage,
            system,
        }));
        Ok(Response::new(pb::SetupReply { err: String::new() }))
    }

    async fn initialize(
        &self,
        _request: Request<pb::InitializeArgs>,
    ) -> Result<Response<pb::InitializeReply>, Status> {
        let instance = self.instance().await?;
        tracing::info!(
            version = crate::VERSION,
            "ai-keys secrets engine initializing"
        );
        let err = match instance.engine.initialize(instance.storage.clone()).await {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "initialization failed");
                Some(translate::proto_error(&e))
            }
        };
        Ok(Response::new(pb::InitializeReply { err }))
    }

    async fn r#type(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::TypeReply>, Status> {
        Ok(Response::new(pb::TypeReply {
            r#type: TYPE_SECRETS,
        }))
    }
}

/// The application's gRPC services for [`crate::plugin::serve`].
pub fn routes(link: HostLink, factory: EngineFactory) -> tonic::service::Routes {
    use crate::proto::logical::plugin_version_server::PluginVersionServer;
    use crate::proto::pb::backend_server::BackendServer;
    let backend = BackendServer::new(BackendService::new(link, factory))
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    tonic::service::Routes::new(backend)
        .add_service(PluginVersionServer::new(version::VersionService))
}
