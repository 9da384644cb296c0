//! The registry: the provider types the engine knows and the one implementation of each. The
//! only place that matches on [`ProviderType`]; adding a provider is a file implementing
//! [`Provider`], a variant here and its line in [`provider`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::provider::Provider;
use super::{anthropic, azure_openai, gemini, openai, openai_compatible, openrouter};

/// The kinds of provider the engine supports (api.md `providers/:name` `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderType {
    /// OpenAI (`api.openai.com`): test, and create/revoke keys of an engine service account.
    Openai,
    /// Anthropic (`api.anthropic.com`): test, and deactivate keys a person created.
    Anthropic,
    /// Google Gemini API (`generativelanguage.googleapis.com`): test only.
    Gemini,
    /// Azure OpenAI (`RESOURCE.openai.azure.com`): test only.
    AzureOpenai,
    /// OpenRouter (`openrouter.ai`): test, and create/delete keys with a management key.
    Openrouter,
    /// Any server speaking the OpenAI API shape (vLLM, LiteLLM, Ollama, ...): test only.
    OpenaiCompatible,
}

/// The implementation of provider type `kind`.
pub(crate) fn provider(kind: ProviderType) -> &'static dyn Provider {
    match kind {
        ProviderType::Openai => &openai::OpenAi,
        ProviderType::Anthropic => &anthropic::Anthropic,
        ProviderType::Gemini => &gemini::Gemini,
        ProviderType::AzureOpenai => &azure_openai::AzureOpenAi,
        ProviderType::Openrouter => &openrouter::OpenRouter,
        ProviderType::OpenaiCompatible => &openai_compatible::OpenAiCompatible,
    }
}

/// How provider type `kind` exchanges a federated key's JWT (`None`: it has no workload
/// identity federation).
pub(crate) fn federation(kind: ProviderType) -> Option<&'static super::federation::Exchange> {
    use super::federation::{ANTHROPIC, OPENAI, OPENROUTER};
    match kind {
        ProviderType::Openai => Some(&OPENAI),
        ProviderType::Anthropic => Some(&ANTHROPIC),
        ProviderType::Openrouter => Some(&OPENROUTER),
        ProviderType::Gemini | ProviderType::AzureOpenai | ProviderType::OpenaiCompatible => None,
    }
}

impl ProviderType {
    /// Every provider type, in documentation order.
    pub const ALL: [ProviderType; 6] = [
        Self::Openai,
        Self::Anthropic,
        Self::Gemini,
        Self::AzureOpenai,
        Self::Openrouter,
        Self::OpenaiCompatible,
    ];

    /// Parses the API spelling (`openai`, `azure_openai`, ...); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The API spelling (`openai`, `anthropic`, `gemini`, `azure_openai`, `openrouter`,
    /// `openai_compatible`).
    pub fn as_str(&self) -> &'static str {
        provider(*self).name()
    }

    /// The provider's public API origin, or `None` where `base_url` is required
    /// (`azure_openai`, `openai_compatible`).
    pub fn default_base_url(&self) -> Option<&'static str> {
        provider(*self).default_base_url()
    }

    /// Whether this type can create keys at all (with the credentials it needs). Keys of a type
    /// that cannot were all made by a person.
    pub fn creates_keys(&self) -> bool {
        provider(*self).features().create
    }

    /// What this type can do at most through its API.
    pub fn features(&self) -> super::Features {
        provider(*self).features()
    }
}

impl fmt::Display for ProviderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_and_names_itself() {
        for t in ProviderType::ALL {
            assert_eq!(ProviderType::parse(t.as_str()), Some(t));
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json, serde_json::Value::String(t.as_str().to_string()));
        }
        assert_eq!(ProviderType::parse("OpenAI"), None);
    }

    /// The registry is the only `match` on the provider type: no other source file names a
    /// variant in a pattern (`ProviderType::X =>` or `| ProviderType::X`) or compares a type
    /// with one (`== ProviderType::X`).
    #[test]
    fn no_provider_type_match_outside_the_registry() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let variants: Vec<String> = ProviderType::ALL
            .iter()
            .map(|t| format!("ProviderType::{t:?}"))
            .collect();
        let mut offenders = Vec::new();
        for file in files
            .iter()
            .filter(|f| !f.ends_with("providers/registry.rs"))
        {
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                let names_variant = variants.iter().any(|v| {
                    code.contains(&format!("{v} =>"))
                        || code.contains(&format!("| {v}"))
                        || code.contains(&format!("== {v}"))
                        || code.contains(&format!("!= {v}"))
                        || code.contains(&format!("{v} |"))
                });
                if names_variant {
                    offenders.push(format!("{}:{}: {code}", file.display(), n + 1));
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }
}
