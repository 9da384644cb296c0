//! Dialing the host's callback listener as a TLS client (plugin-protocol.md 5.2).

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::{Channel, Endpoint as TonicEndpoint, Uri};

use super::broker::Endpoint;

/// Errors reaching the host's callback listener.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The host announced a network we cannot dial.
    #[error("unsupported broker network {0:?}")]
    Network(String),
    /// The connection or its TLS handshake failed.
    #[error("connecting to the host's broker listener: {0}")]
    Connect(#[from] tonic::transport::Error),
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens a gRPC channel to `endpoint`, doing TLS ourselves with the pinned configuration.
pub async fn dial(
    endpoint: &Endpoint,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Channel, DialError> {
    if endpoint.network != "unix" && endpoint.network != "tcp" {
        return Err(DialError::Network(endpoint.network.clone()));
    }
    let network = endpoint.network.clone();
    let address = endpoint.address.clone();
    let connector = tokio_rustls::TlsConnector::from(tls);
    let channel = TonicEndpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let (network, address, connector) =
                (network.clone(), address.clone(), connector.clone());
            async move {
                let raw: Box<dyn Io> = if network == "unix" {
                    Box::new(tokio::net::UnixStream::connect(&address).await?)
                } else {
                    Box::new(tokio::net::TcpStream::connect(&address).await?)
                };
                let name = ServerName::try_from("localhost")
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                let tls = connector.connect(name, raw).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await?;
    Ok(channel)
}
