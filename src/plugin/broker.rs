//! go-plugin's connection broker (plugin-protocol.md 5.1, 5.2).
//!
//! The host opens `plugin.GRPCBroker/StartStream` right after connecting and keeps it open; on it
//! it announces, per backend instance, the address of a listener where it serves Storage and
//! SystemView. `ConnInfo` may arrive before or after the `Setup` call that names its id, so
//! announcements are buffered by id and `Setup` waits for its own (5 s, as go-plugin does).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::Stream;
use tokio::sync::Notify;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::plugin::grpc_broker_server::GrpcBroker;
use crate::proto::plugin::ConnInfo;

/// How long `Setup` waits for the host to announce its callback address.
pub const CONN_INFO_WAIT: Duration = Duration::from_secs(5);

/// Where the host serves a backend instance's callbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix` or `tcp`.
    pub network: String,
    /// Socket path or `host:port`.
    pub address: String,
}

/// Announcements received on the broker stream, by service id.
#[derive(Debug, Default)]
pub struct Broker {
    announced: Mutex<HashMap<u32, Endpoint>>,
    arrived: Notify,
}

impl Broker {
    /// A new, empty broker.
    pub fn new() -> Arc<Broker> {
        Arc::new(Broker::default())
    }

    /// The announcements, locked. A poisoned lock is taken over: the map is only inserted into
    /// and removed from, one call at a time, so a holder that panicked left it whole.
    fn announced(&self) -> MutexGuard<'_, HashMap<u32, Endpoint>> {
        self.announced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an announcement from the host. Knock messages belong to go-plugin's multiplexed
    /// broker mode, which OpenBao does not use: they are ignored.
    pub fn announce(&self, info: ConnInfo) {
        if info.knock.as_ref().is_some_and(|k| k.knock || k.ack) {
            return;
        }
        let endpoint = Endpoint {
            network: info.network,
            address: info.address,
        };
        self.announced().insert(info.service_id, endpoint);
        self.arrived.notify_waiters();
    }

    /// Takes the announcement for `id`, waiting up to `wait` for it to arrive. Each id is used once.
    pub async fn take(&self, id: u32, wait: Duration) -> Option<Endpoint> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before looking, so an announcement between the look and the
            // wait is not missed.
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self.announced().remove(&id) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// The gRPC face of the broker.
#[derive(Debug, Clone)]
pub struct BrokerService(pub Arc<Broker>);

type ConnInfoStream = Pin<Box<dyn Stream<Item = Result<ConnInfo, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl GrpcBroker for BrokerService {
    type StartStreamStream = ConnInfoStream;

    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut incoming = request.into_inner();
        let broker = self.0.clone();
        // We never send anything; the outgoing half stays open exactly as long as the host's
        // half does (the host reads the end of our half as "broker closed").
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            while let Ok(Some(info)) = incoming.message().await {
                tracing::debug!(
                    service_id = info.service_id,
                    "broker announced a connection"
                );
                broker.announce(info);
            }
            drop(done_tx);
        });
        let out = futures::stream::once(async move {
            let _ = done_rx.await;
            None
        })
        .filter_map(futures::future::ready);
        Ok(Response::new(Box::pin(out)))
    }
}

use futures::StreamExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u32, address: &str) -> ConnInfo {
        ConnInfo {
            service_id: id,
            network: "unix".into(),
            address: address.into(),
            knock: None,
        }
    }

    #[tokio::test]
    async fn conn_info_before_setup_is_buffered() {
        let broker = Broker::new();
        broker.announce(info(1, "/tmp/a"));
        let got = broker.take(1, Duration::from_millis(10)).await.unwrap();
        assert_eq!(got.address, "/tmp/a");
        // used once
        assert!(broker.take(1, Duration::from_millis(10)).await.is_none());
    }

    #[tokio::test]
    async fn conn_info_after_setup_is_awaited() {
        let broker = Broker::new();
        let waiter = {
            let broker = broker.clone();
            tokio::spawn(async move { broker.take(2, Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        broker.announce(info(1, "/tmp/other"));
        broker.announce(info(2, "/tmp/b"));
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.address, "/tmp/b");
        // the other id is still there for its own Setup
        assert!(broker.take(1, Duration::ZERO).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn missing_conn_info_times_out() {
        let broker = Broker::new();
        assert!(broker.take(7, CONN_INFO_WAIT).await.is_none());
    }

    #[tokio::test]
    async fn knocks_are_ignored() {
        let broker = Broker::new();
        let mut knock = info(3, "/tmp/k");
        knock.knock = Some(crate::proto::plugin::conn_info::Knock {
            knock: true,
            ack: false,
            error: String::new(),
        });
        broker.announce(knock);
        assert!(broker.take(3, Duration::ZERO).await.is_none());
    }
}
