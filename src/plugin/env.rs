//! What the host tells a freshly launched plugin through its environment (plugin-protocol.md 1.2,
//! 1.3): the magic cookie, the protocol versions it accepts and its AutoMTLS client certificate.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The magic cookie key and value go-plugin uses for Vault / OpenBao backend plugins.
pub const COOKIE_KEY: &str = "VAULT_BACKEND_PLUGIN";
/// See [`COOKIE_KEY`].
pub const COOKIE_VALUE: &str = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";
/// The only application protocol version we speak.
pub const APP_PROTOCOL_VERSION: u32 = 5;

/// Why this process cannot act as a plugin for the launching host.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LaunchError {
    /// The cookie is missing or different: we were started by hand, or as another plugin kind
    /// (the host probes every binary as a database plugin first).
    #[error(
        "This binary is a plugin for OpenBao / HashiCorp Vault and is not meant to be run directly. \
         Register it in the server's plugin catalog and enable it with `bao secrets enable`."
    )]
    Cookie,
    /// The host offered no protocol version we support.
    #[error(
        "the host offers plugin protocol versions {offered:?}; this plugin speaks only version 5"
    )]
    Version {
        /// The versions the host offered.
        offered: String,
    },
    /// AutoMTLS is required and the host sent no usable client certificate.
    #[error("PLUGIN_CLIENT_CERT is missing or not a PEM certificate; AutoMTLS is required")]
    ClientCert,
}

/// Everything the launch environment decides.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The negotiated application protocol version (always 5).
    pub protocol_version: u32,
    /// The host's client certificate, which we pin on both TLS sides.
    pub client_cert: CertificateDer<'static>,
    /// Directory for the Unix socket (`PLUGIN_UNIX_SOCKET_DIR`, else `TMPDIR`, else /tmp).
    pub socket_dir: std::path::PathBuf,
}

/// Reads the launch environment from `(key, value)` pairs (normally `std::env::vars()`).
pub fn parse<I>(vars: I) -> Result<Launch, LaunchError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
    if vars.get(COOKIE_KEY).map(String::as_str) != Some(COOKIE_VALUE) {
        return Err(LaunchError::Cookie);
    }
    let offered = vars
        .get("PLUGIN_PROTOCOL_VERSIONS")
        .cloned()
        .unwrap_or_default();
    let speaks_five = offered
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == APP_PROTOCOL_VERSION);
    if !speaks_five {
        return Err(LaunchError::Version { offered });
    }
    let pem = vars
        .get("PLUGIN_CLIENT_CERT")
        .ok_or(LaunchError::ClientCert)?;
    let client_cert = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| LaunchError::ClientCert)?
        .into_owned();
    let socket_dir = vars
        .get("PLUGIN_UNIX_SOCKET_DIR")
        .filter(|d| !d.is_empty())
        .or_else(|| vars.get("TMPDIR").filter(|d| !d.is_empty()))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("/tmp"));
    Ok(Launch {
        protocol_version: APP_PROTOCOL_VERSION,
        client_cert,
        socket_dir,
    })
}

/// Reads an OpenBao variable, preferring the `BAO_` spelling over `VAULT_` (OpenBao sets both).
pub fn bao_var(name: &str) -> Option<String> {
    std::env::var(format!("BAO_{name}"))
        .ok()
        .or_else(|| std::env::var(format!("VAULT_{name}")).ok())
}

#[cfg(test)]
mod tests;
