//! Federated keys (docs/keyless.md), tested as a provider verifies them: the mount's issuer
//! publishes its discovery document and JWKS on unauthenticated paths; `creds/` of a federated
//! key exchanges a JWT the issuer signed at the fake provider's token endpoint, which fetches
//! those documents from the OpenBao server over HTTP and checks the signature, `kid`, `alg`,
//! `iss`, `aud`, `sub`, `exp`, `nbf` and `jti` reuse before it issues an access token.

use crate::support::Client;

mod agent;
mod counts;
mod exchange;
mod standby;

/// The value of counter `name` whose labels include every `(label, value)` of `labels`, from
/// `metrics` (JSON); panics when there is none.
pub(crate) async fn counter(client: &Client, name: &str, labels: &[(&str, &str)]) -> f64 {
    let m = client.read("ai-keys/metrics").await;
    m.expect_status(200);
    m.data()["counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name && labels.iter().all(|(l, v)| c["labels"][*l] == *v))
        .and_then(|c| c["value"].as_f64())
        .unwrap_or_else(|| panic!("no counter {name} {labels:?}: {}", m.text))
}
