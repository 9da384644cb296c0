//! The go-plugin transport: everything between "the host started this process" and "a gRPC
//! request for the backend arrived". It knows nothing of paths or AI providers.
//!
//! Sequence (plugin-protocol.md section 0): check the launch environment, generate a fresh
//! certificate, listen on a Unix socket, serve gRPC over mutual TLS, print the handshake line,
//! then run until the host asks us to shut down, sends SIGTERM, dies, or never connects.

pub mod broker;
pub mod controller;
pub mod dial;
pub mod env;
pub mod handshake;
pub mod listener;
pub mod tls;
pub mod watchdog;

use std::sync::Arc;
use std::time::Duration;

use tonic::service::Routes;
use tonic::transport::{Channel, Server};

use crate::proto::plugin::grpc_broker_server::GrpcBrokerServer;
use crate::proto::plugin::grpc_controller_server::GrpcControllerServer;
use crate::proto::plugin::grpc_stdio_server::GrpcStdioServer;

pub use env::{Launch, LaunchError};

/// How long we wait for the host's first connection before giving up (the host leaves plugins
/// orphaned when its side of the TLS handshake fails).
pub const FIRST_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long after the host's Shutdown request we let the reply drain before exiting.
const SHUTDOWN_DRAIN: Duration = Duration::from_millis(100);

/// Errors that stop the plugin from serving.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Certificate or TLS configuration failure.
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    /// Socket or stdout failure.
    #[error("plugin I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Errors reaching the host's callback services for a backend instance.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host never announced the broker id that `Setup` named.
    #[error("timeout waiting for connection info for broker id {0}")]
    NoConnInfo(u32),
    /// Dialing failed.
    #[error(transparent)]
    Dial(#[from] dial::DialError),
}

/// What the host layer needs from the transport: a way to reach the host's callback services.
#[derive(Debug, Clone)]
pub struct HostLink {
    broker: Arc<broker::Broker>,
    tls: Arc<rustls::ClientConfig>,
}

impl HostLink {
    /// Waits for the host to announce `broker_id` and dials it over pinned mutual TLS.
    pub async fn connect(&self, broker_id: u32) -> Result<Channel, ConnectError> {
        let endpoint = self
            .broker
            .take(broker_id, broker::CONN_INFO_WAIT)
            .await
            .ok_or(ConnectError::NoConnInfo(broker_id))?;
        Ok(dial::dial(&endpoint, self.tls.clone()).await?)
    }
}

/// Serves the plugin until it should exit. `services` builds the application's gRPC services
/// (the Backend and PluginVersion services) given the link to the host.
pub async fn serve<F>(launch: Launch, services: F) -> Result<(), ServeError>
where
    F: FnOnce(HostLink) -> Routes,
{
    let identity = tls::Identity::generate()?;
    let server_tls = Arc::new(tls::server_config(&identity, &launch.client_cert)?);
    let client_tls = Arc::new(tls::client_config(&identity, &launch.client_cert)?);
    let lifecycle = controller::Lifecycle::new();
    let broker = broker::Broker::new();

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;

    let routes = services(HostLink {
        broker: broker.clone(),
        tls: client_tls,
    })
    .add_service(GrpcBrokerServer::new(broker::BrokerService(broker)))
    .add_service(GrpcControllerServer::new(controller::ControllerService(
        lifecycle.clone(),
    )))
    .add_service(GrpcStdioServer::new(controller::StdioService))
    .add_service(health_service);

    let mut socket = listener::Socket::bind(&launch.socket_dir)?;
    let line = handshake::line(
        launch.protocol_version,
        "unix",
        &socket.path().to_string_lossy(),
        identity.cert.as_ref(),
    );
    let incoming = socket.incoming(server_tls, lifecycle.clone())?;
    let server = tokio::spawn(
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming(incoming),
    );

    handshake::announce(&line)?;
    tracing::debug!("plugin listening");

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // A terminal Ctrl-C reaches the whole process group of `bao server -dev`; the host decides
    // when we stop, so SIGINT is received and ignored.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    tokio::spawn(async move { while sigint.recv().await.is_some() {} });

    tokio::select! {
        () = lifecycle.shutdown_requested() => {
            tokio::time::sleep(SHUTDOWN_DRAIN).await;
        }
        _ = sigterm.recv() => tracing::debug!("SIGTERM received"),
        () = watchdog::parent_gone() => {},
        () = watchdog::never_connected(lifecycle.clone(), FIRST_CONNECTION_TIMEOUT) => {
            tracing::warn!("the host never connected; exiting");
        }
        result = server => {
            if let Ok(Err(e)) = result {
                tracing::error!(error = %e, "gRPC server stopped");
            }
        }
    }
    drop(socket);
    Ok(())
}
