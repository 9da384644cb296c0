//! Any OpenAI-compatible server (vLLM, LiteLLM, Ollama, ...): probe `GET {verify_path}`
//! (default `/v1/models`) with a Bearer key. Test only.
//!
//! The probe path is the operator's choice and may answer anything on success, so any 2xx
//! passes; errors are read as OpenAI-shaped where they are.

use super::classify::Verdict;
use super::http::Reply;
use super::openai::classify_openai_shaped;

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
