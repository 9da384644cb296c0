//! The ai-keys engine: every path of docs/api.md, grouped by family, plus the periodic work.
//!
//! One [`AiKeys`] serves one mount. Handlers are plain `async fn`s taking the shared engine
//! state, the request and its validated fields; [`bind`] turns them into framework handlers.

mod path_config;

use std::future::Future;
use std::sync::Arc;

use crate::framework::{self, FieldData, Handler, HandlerResult, Request, Storage};
use crate::host::{Engine, EngineContext, EngineFactory, SystemInfo};

pub use path_config::Config;

const BACKEND_HELP: &str = "\
The ai-keys secrets engine keeps AI provider API keys (OpenAI, Anthropic, Gemini, Azure OpenAI, \
OpenRouter, any OpenAI-compatible API) safe through their whole life: two live versions during a \
cut-over, rotation schedules and grace windows, and rotations that stage a new key, test it \
against the provider and promote it. Applications read creds/<name>.";

/// State shared by every handler of one mount.
pub struct Shared {
    /// The host's system view (standby detection, server version).
    pub system: Arc<dyn SystemInfo>,
}

/// One mounted engine.
pub struct AiKeys {
    backend: framework::Backend,
}

impl AiKeys {
    /// Builds the engine for a mount.
    pub fn new(system: Arc<dyn SystemInfo>) -> AiKeys {
        let shared = Arc::new(Shared { system });
        let mut backend =
            framework::Backend::new(BACKEND_HELP).version(&format!("v{}", crate::VERSION));
        for path in path_config::paths(&shared) {
            backend = backend.path(path);
        }
        AiKeys { backend }
    }
}

#[async_trait::async_trait]
impl Engine for AiKeys {
    fn backend(&self) -> &framework::Backend {
        &self.backend
    }

    async fn initialize(&self, _storage: Arc<dyn Storage>) -> Result<(), framework::Error> {
        Ok(())
    }
}

/// The factory the host glue calls at Setup.
pub fn factory() -> EngineFactory {
    Arc::new(|ctx: EngineContext| Arc::new(AiKeys::new(ctx.system)) as Arc<dyn Engine>)
}

/// Turns `async fn(shared, request, fields)` into a framework handler.
pub(crate) fn bind<F, Fut>(shared: &Arc<Shared>, f: F) -> Handler
where
    F: Fn(Arc<Shared>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let shared = shared.clone();
    framework::handler(move |req, data| f(shared.clone(), req, data))
}

#[cfg(test)]
pub(crate) mod testing;
