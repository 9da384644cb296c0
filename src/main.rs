//! The plugin binary: check that a Vault / OpenBao host launched us, start logging, serve.

use std::io::Write as _;
use std::process::ExitCode;

use vault_plugin_secrets_ai_keys::{backend, host, logging, plugin};

fn main() -> ExitCode {
    // First, before anything else: the host probes every binary as a database plugin, and people
    // run binaries by hand. Both get a fast, clear exit(1).
    let launch = match plugin::env::parse(std::env::vars()) {
        Ok(launch) => launch,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            return ExitCode::from(1);
        }
    };
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
