//! Any OpenAI-compatible server (vLLM, LiteLLM, Ollama, ...): probe `GET {verify_path}`
//! (default `/v1/models`) with a Bearer key. Test only.
//!
//! The probe path is the operator's choice and may answer anything on success, so any 2xx
//! passes; errors are read as OpenAI-shaped where they are.

use super::classify::Verdict;
use super::http::Reply;
use super::openai::classify_openai_shaped;
use super::provider::{Provider, Settings};
use super::ProviderConfig;

/// An OpenAI-compatible server: key tests only.
pub(crate) struct OpenAiCompatible;

impl Provider for OpenAiCompatible {
    fn name(&self) -> &'static str {
        "openai_compatible"
    }

    fn settings(&self) -> Settings {
        Settings {
            verify_path: true,
            ..Settings::default()
        }
    }

    fn probe(
        &self,
        c: &reqwest::Client,
        cfg: &ProviderConfig,
        base: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        probe(c, base, cfg.effective_verify_path(), key)
    }

    fn classify(&self, reply: &Reply) -> Verdict {
        classify_test(reply)
    }
}

/// The key-test request. `verify_path` was validated to start with `/`.
pub(super) fn probe(
    c: &reqwest::Client,
    base: &str,
    verify_path: &str,
    key: &str,
) -> reqwest::RequestBuilder {
    c.get(format!("{base}{verify_path}")).bearer_auth(key)
}

/// Classifies an answer like OpenAI's, without requiring a JSON body on success.
pub(crate) fn classify_test(reply: &Reply) -> Verdict {
    classify_openai_shaped(reply, false)
}
