//! go-plugin's controller and stdio services, and the process lifecycle they drive.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::Stream;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use crate::proto::plugin::grpc_controller_server::GrpcController;
use crate::proto::plugin::grpc_stdio_server::GrpcStdio;
use crate::proto::plugin::{Empty, StdioData};

/// Process-wide lifecycle signals.
#[derive(Debug, Default)]
pub struct Lifecycle {
    shutdown: Notify,
    requested: AtomicBool,
    connected: AtomicBool,
}

impl Lifecycle {
    /// A new lifecycle.
    pub fn new() -> Arc<Lifecycle> {
        Arc::new(Lifecycle::default())
    }

    /// Asks the process to exit.
    pub fn request_shutdown(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        self.shutdown.notify_one();
    }

    /// Resolves once a shutdown was requested.
    pub async fn shutdown_requested(&self) {
        if self.requested.load(Ordering::SeqCst) {
            return;
        }
        self.shutdown.notified().await;
    }

    /// Records that the host completed a TLS handshake with us.
    pub fn mark_connected(&self) {
        self.connected.store(true, Ordering::SeqCst);
    }

    /// Whether the host ever connected.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
}

/// `plugin.GRPCController`: the host's request to exit.
#[derive(Debug, Clone)]
pub struct ControllerService(pub Arc<Lifecycle>);

#[tonic::async_trait]
impl GrpcController for ControllerService {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("host requested shutdown");
        self.0.request_shutdown();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: we log on stderr, so the stream carries nothing; it stays open until the
/// process exits so the host does not log a stream error.
#[derive(Debug, Clone, Copy)]
pub struct StdioService;

type StdioStream = Pin<Box<dyn Stream<Item = Result<StdioData, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl GrpcStdio for StdioService {
    type StreamStdioStream = StdioStream;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(futures::stream::pending())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_request_wakes_a_waiter_and_later_callers() {
        let lifecycle = Lifecycle::new();
        let waiter = {
            let l = lifecycle.clone();
            tokio::spawn(async move { l.shutdown_requested().await })
        };
        tokio::task::yield_now().await;
        ControllerService(lifecycle.clone())
            .shutdown(Request::new(Empty {}))
            .await
            .unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("waiter woken")
            .unwrap();
        // A caller arriving after the request returns at once.
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            lifecycle.shutdown_requested(),
        )
        .await
        .expect("already requested");
    }
}
