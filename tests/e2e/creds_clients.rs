//! Applications that read `creds/:name`, against a real OpenBao server: through a `bao agent`
//! template (the rendered file follows rotations and never holds a broken key), with hvac
//! (examples/hvac_client.py: the fallback to `previous_api_key` during a cut-over, the last good
//! credentials kept while Vault is unreachable), and a file the agent rendered outliving a Vault
//! outage and an agent restart.

pub(crate) mod agent;
mod hvac;
mod outage;
