//! Azure OpenAI: probe `GET {base_url}/openai/models?api-version=...` with the key in
//! `api-key`. Test only: its two key slots are regenerated through ARM, not this API.
//!
//! Azure answers a wrong key and a wrong endpoint with the same 401 ("Access denied due to
//! invalid subscription key or wrong API endpoint"), so `base_url` is worth checking first.

use super::classify::{token, Verdict};
use super::http::{secret_header, Reply};
use super::openai::classify_openai_shaped;
use super::provider::{Provider, Settings};
use super::ProviderConfig;

/// Azure OpenAI: key tests only.
pub(crate) struct AzureOpenAi;

impl Provider for AzureOpenAi {
    fn name(&self) -> &'static str {
        "azure_openai"
    }

    fn example_base_url(&self) -> &'static str {
        "https://RESOURCE.openai.azure.com"
    }

    fn own_path_segment(&self) -> Option<&'static str> {
        Some("openai")
    }

    fn settings(&self) -> Settings {
        Settings {
            api_version: true,
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
        probe(c, base, cfg.azure_api_version(), key)
    }

    fn classify(&self, reply: &Reply) -> Verdict {
        classify_test(reply)
    }
}

/// The key-test request. `api_version` was validated to letters, digits, `-` and `.`.
pub(super) fn probe(
    c: &reqwest::Client,
    base: &str,
    api_version: &str,
    key: &str,
) -> reqwest::RequestBuilder {
    c.get(format!("{base}/openai/models?api-version={api_version}"))
        .header("api-key", secret_header(key))
}

/// Classifies an answer: OpenAI-shaped (`{"error":{"code","message"}}`), where Azure's `code`
/// is often the status again ("401"), which adds nothing to the detail.
pub(crate) fn classify_test(reply: &Reply) -> Verdict {
    let mut verdict = classify_openai_shaped(reply, true);
    let code = token(reply.json().as_ref(), &["/error/code"]);
    if code.as_deref() == Some(reply.status.to_string().as_str()) {
        let echoed = format!(", {}", reply.status);
        verdict.detail = verdict.detail.replacen(&echoed, "", 1);
    }
    verdict
}
