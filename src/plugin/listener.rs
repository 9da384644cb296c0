//! The Unix-socket listener the host dials, with TLS done by us (plugin-protocol.md 1.4, 11.4).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use super::controller::Lifecycle;

/// A stalled TLS handshake must not hold anything up for longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound Unix socket whose file is removed when dropped.
#[derive(Debug)]
pub struct Socket {
    path: PathBuf,
    listener: Option<UnixListener>,
}

impl Socket {
    /// Binds a fresh `plugin<random>` socket in `dir`, as go-plugin does.
    pub fn bind(dir: &Path) -> std::io::Result<Socket> {
        loop {
            let path = dir.join(format!("plugin{}", rand::random::<u32>()));
            match UnixListener::bind(&path) {
                Ok(listener) => {
                    return Ok(Socket {
                        path,
                        listener: Some(listener),
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The socket's path, for the handshake line.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections forever, running each TLS handshake in its own task with a timeout,
    /// and yields the finished streams. Called once: a second call is an error (the first took
    /// the listener).
    pub fn incoming(
        &mut self,
        tls: Arc<rustls::ServerConfig>,
        lifecycle: Arc<Lifecycle>,
    ) -> std::io::Result<ReceiverStream<std::io::Result<TlsStream<UnixStream>>>> {
        let listener = self.listener.take().ok_or_else(|| {
            std::io::Error::other("the socket's connections are already being accepted")
        })?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx, lifecycle) = (acceptor.clone(), tx.clone(), lifecycle.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            lifecycle.mark_connected();
                            let _ = tx.send(Ok(tls)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "TLS handshake with the host failed")
                        }
                        Err(_) => tracing::warn!("TLS handshake with the host timed out"),
                    }
                });
            }
        });
        Ok(ReceiverStream::new(rx))
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn socket_is_named_like_go_plugin_and_removed_on_drop() {
        let dir = std::env::temp_dir();
        let socket = Socket::bind(&dir).unwrap();
        let path = socket.path().to_path_buf();
        assert!(path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("plugin"));
        assert!(path.exists());
        drop(socket);
        assert!(!path.exists());
    }
}
