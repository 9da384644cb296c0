//! Federated keys (docs/keyless.md), tested as a provider verifies them: the mount's issuer
//! publishes its discovery document and JWKS on unauthenticated paths; `creds/` of a federated
//! key exchanges a JWT the issuer signed at the fake provider's token endpoint, which fetches
//! those documents from the OpenBao server over HTTP and checks the signature, `kid`, `alg`,
//! `iss`, `aud`, `sub`, `exp`, `nbf` and `jti` reuse before it issues an access token.

mod agent;
mod counts;
mod exchange;
mod standby;
