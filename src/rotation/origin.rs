//! Where a version's key lives: the provider place (type, API base URL, account scope) and the
//! key's id there, recorded when the engine created the key or proved an imported id, and never
//! changed afterwards. A revocation goes only to a provider configuration at the same place
//! (docs/security.md, "Where a key lives").

use serde::{Deserialize, Serialize};

/// A provider place: what must be equal for two provider configurations to reach the same keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Place {
    /// The provider type (`openai`, `anthropic`, `openrouter`, ...).
    pub provider_type: String,
    /// The API's base URL, normalized (scheme and host in lower case, no trailing `/`).
    pub base_url: String,
    /// The account scope inside that API, where the type has one the configuration names
    /// (OpenAI: the project id); `None` where the base URL and the admin key's own account are
    /// all there is.
    #[serde(default)]
    pub scope: Option<String>,
}

impl Place {
    /// `type at base_url (scope)`, for messages (never secret).
    pub fn describe(&self) -> String {
        match &self.scope {
            Some(s) => format!("{} at {} (scope {s})", self.provider_type, self.base_url),
            None => format!("{} at {}", self.provider_type, self.base_url),
        }
    }

    /// What differs from `other`, as field names (`type`, `base_url`, `scope`).
    pub fn differences(&self, other: &Place) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.provider_type != other.provider_type {
            out.push("type");
        }
        if self.base_url != other.base_url {
            out.push("base_url");
        }
        if self.scope != other.scope {
            out.push("scope");
        }
        out
    }
}

/// Where one version's key lives: its place and the provider's id of the key. Immutable once set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The provider place.
    #[serde(flatten)]
    pub place: Place,
    /// The provider's id of the key there.
    pub provider_key_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(t: &str, url: &str, scope: Option<&str>) -> Place {
        Place {
            provider_type: t.into(),
            base_url: url.into(),
            scope: scope.map(str::to_string),
        }
    }

    #[test]
    fn places_differ_by_each_field_and_say_which() {
        let a = place("openai", "https://api.openai.com", Some("proj_a"));
        assert!(a.differences(&a.clone()).is_empty());
        let b = place("openai", "https://api.openai.com", Some("proj_b"));
        assert_eq!(a.differences(&b), vec!["scope"]);
        let c = place("openrouter", "https://openrouter.ai", None);
        assert_eq!(a.differences(&c), vec!["type", "base_url", "scope"]);
    }

    #[test]
    fn an_origin_is_stored_flat_and_reads_back_equal() {
        let o = Origin {
            place: place("openai", "https://api.openai.com", Some("proj_a")),
            provider_key_id: "key_1".into(),
        };
        let json = serde_json::to_value(&o).unwrap_or_default();
        assert_eq!(json["provider_type"], "openai");
        assert_eq!(json["scope"], "proj_a");
        assert_eq!(json["provider_key_id"], "key_1");
        let back: Origin = serde_json::from_value(json).unwrap_or_else(|_| o.clone());
        assert_eq!(back, o);
    }
}
