//! Where a provider configuration points, as a [`Place`], and a version's [`Origin`] from the
//! configuration that created its key or proved its id. A revocation is sent only to a
//! configuration whose place equals the key's origin (`calls.rs`, `revoke_at`).
//!
//! What each type records as its place (docs/security.md, "Where a key lives"): the type, the
//! normalized base URL, and as scope OpenAI's `project_id` (its keys live in one project).
//! Anthropic and OpenRouter configurations name no account inside their API: the admin key's
//! organization (Anthropic) or account (OpenRouter) is the scope, and neither API gives the
//! engine a stable name for it, so their scope is `None` and a change of account shows only
//! as a changed admin key (which `providers/` never accepts without the key itself).

use std::sync::Arc;

use super::configs::load;
use super::ownership::{verify_provider_key_id, Ownership};
use crate::backend::shared::Shared;
use crate::framework::{Error, Storage};
use crate::providers::ProviderConfig;
use crate::rotation::{Origin, Place, SecretValue};

/// The place `cfg` points at.
pub(crate) fn place_of(cfg: &ProviderConfig) -> Place {
    let url = cfg.effective_base_url().unwrap_or_default();
    let base_url = match url::Url::parse(&url) {
        // Scheme and host in lower case, default port dropped.
        Ok(u) => u.as_str().trim_end_matches('/').to_string(),
        Err(_) => url.trim_end_matches('/').to_string(),
    };
    let scope = cfg
        .project_id
        .clone()
        .filter(|_| !cfg.unused_fields().contains(&"project_id"));
    Place {
        provider_type: cfg.kind.as_str().to_string(),
        base_url,
        scope,
    }
}

/// The origin of key `provider_key_id` at configuration `cfg`.
pub(crate) fn origin_of(cfg: &ProviderConfig, provider_key_id: &str) -> Origin {
    Origin {
        place: place_of(cfg),
        provider_key_id: provider_key_id.to_string(),
    }
}

/// The origin of key `provider_key_id` at provider configuration `provider` as it is now, for
/// an imported id the configuration just proved; `None` if the configuration is gone.
pub(crate) async fn origin_at(
    storage: &dyn Storage,
    provider: &str,
    provider_key_id: &str,
) -> Result<Option<Origin>, Error> {
    Ok(load(storage, provider)
        .await?
        .map(|cfg| origin_of(&cfg, provider_key_id)))
}

/// Adoption of an imported id: checks with provider `provider` that `provider_key_id` is
/// `value`'s key (400 otherwise, see `ownership.rs`), and says whether possession proved it and,
/// only then, where that key lives (the place of the configuration that proved it). An id only
/// its hint matched has no origin: the engine never revokes it.
pub(crate) async fn prove_and_locate(
    shared: &Arc<Shared>,
    storage: &dyn Storage,
    provider: Option<&str>,
    provider_key_id: &str,
    value: &SecretValue,
) -> Result<(Ownership, Option<Origin>), Error> {
    let ownership =
        verify_provider_key_id(shared, storage, provider, provider_key_id, value).await?;
    match (ownership, provider) {
        (Ownership::Proven, Some(p)) => {
            Ok((ownership, origin_at(storage, p, provider_key_id).await?))
        }
        _ => Ok((ownership, None)),
    }
}

/// Why a configuration at `here` may not revoke a key living at `origin`, or `None` when the
/// places are equal. Names the fields that differ (and the types and scopes, which are not
/// secret; never the base URL, where someone may have pasted a credential).
pub(crate) fn mismatch(provider: &str, origin: &Place, here: &Place) -> Option<String> {
    let fields = origin.differences(here);
    if fields.is_empty() {
        return None;
    }
    let show = |p: &Place| match &p.scope {
        Some(s) => format!("{} scope {s}", p.provider_type),
        None => format!("{} without scope", p.provider_type),
    };
    Some(format!(
        "origin mismatch: provider {provider:?} no longer points where this key lives ({} \
         changed: the key lives at {}, the configuration points at {}); nothing was sent. Point \
         the configuration back at the key's origin (see the version's origin), or revoke the \
         key there by hand",
        fields.join(", "),
        show(origin),
        show(here)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderType;

    fn openai(url: Option<&str>, project: Option<&str>) -> ProviderConfig {
        let mut cfg = ProviderConfig::new(ProviderType::Openai);
        cfg.base_url = url.map(str::to_string);
        cfg.project_id = project.map(str::to_string);
        cfg
    }

    #[test]
    fn a_place_normalizes_the_base_url_and_takes_openai_projects_as_scope() {
        let a = place_of(&openai(Some("HTTPS://API.OpenAI.com:443/"), Some("proj_a")));
        assert_eq!(a.base_url, "https://api.openai.com");
        assert_eq!(a.scope.as_deref(), Some("proj_a"));
        assert_eq!(a, place_of(&openai(None, Some("proj_a"))));
        assert_ne!(a, place_of(&openai(None, Some("proj_b"))));
        // A project id means nothing to OpenRouter: not part of its place.
        let mut or = ProviderConfig::new(ProviderType::Openrouter);
        or.project_id = Some("proj_a".into());
        assert_eq!(place_of(&or).scope, None);
    }

    #[test]
    fn a_mismatch_names_what_changed_but_never_the_base_url() {
        let origin = place_of(&openai(Some("https://a.example"), Some("proj_a")));
        assert_eq!(mismatch("p", &origin, &origin.clone()), None);
        let moved = place_of(&openai(Some("https://b.example"), Some("proj_b")));
        let m = mismatch("p", &origin, &moved).unwrap_or_default();
        assert!(m.contains("base_url, scope changed"), "{m}");
        assert!(m.contains("proj_a") && m.contains("proj_b"), "{m}");
        assert!(!m.contains("example"), "{m}");
    }
}
