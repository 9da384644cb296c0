//! The plugin binary: check that a Vault / OpenBao host launched us, start logging, serve.
//!
//! Run by hand it explains itself on stderr and exits 1 without serving, as Go plugins do;
//! `--version` prints `vault-plugin-secrets-ai-keys vX.Y.Z` on stdout and exits 0.

use std::io::Write as _;
use std::process::ExitCode;

use vault_plugin_secrets_ai_keys::plugin::env::LaunchError;
use vault_plugin_secrets_ai_keys::{backend, framework, host, logging, plugin, VERSION};

/// The binary's name, also the catalog `command` the registration commands use.
const NAME: &str = "vault-plugin-secrets-ai-keys";

fn main() -> ExitCode {
    // `--version` is for people and packaging scripts; the host never passes it (it passes only
    // the catalog's `-args`, and a registration with `-args=--version` would serve nothing).
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-version")
    {
        let _ = writeln!(std::io::stdout(), "{NAME} v{VERSION}");
        return ExitCode::SUCCESS;
    }
    // First, before anything else: the host probes every binary as a database plugin, and people
    // run binaries by hand. Both get a fast, clear exit(1) without starting anything.
    let launch = match plugin::env::parse(std::env::vars()) {
        Ok(launch) => launch,
        Err(LaunchError::Cookie) => {
            let _ = std::io::stderr().write_all(hand_run_help().as_bytes());
            return ExitCode::from(1);
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            return ExitCode::from(1);
        }
    };
    framework::configure_allocator();
    logging::init();
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(plugin::serve(launch, |link| {
        host::routes(link, backend::factory())
    }));
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "plugin stopped");
            1
        }
    };
    // Exit now: open streams (broker, stdio) must not keep the process alive, and the host waits
    // for our stdout and stderr to close.
    std::process::exit(code)
}

/// What a person who runs the binary by hand reads: what it is and how to register it under
/// the file name it was run as (the catalog `command`).
fn hand_run_help() -> String {
    let file = std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| NAME.to_owned());
    format!(
        "{NAME} v{VERSION}: an OpenBao / HashiCorp Vault secrets engine plugin that keeps AI \
         provider API keys safe through their whole life.

This binary is a plugin: the server starts it; it is not meant to be run directly.
To use it, copy it into the server's plugin_directory and run, in that directory
(`vault` takes the same commands):

  bao plugin register -sha256=$(sha256sum {file} | cut -d' ' -f1) -version=v{VERSION} -command={file} secret ai-keys
  bao secrets enable -path=ai-keys -plugin-version=v{VERSION} ai-keys

To upgrade a mount to this build (copy it to every node of a cluster first):

  bao secrets tune -plugin-version=v{VERSION} ai-keys/
  bao plugin reload -plugin=ai-keys -scope=global

then check each node: `bao read -field=running_plugin_version sys/mounts/ai-keys` prints \
v{VERSION}.

`{file} --version` prints the version. docs/operating.md in the repository covers upgrades, \
rollbacks and clusters.
"
    )
}
