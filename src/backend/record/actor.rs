//! Who made a change: the engine's scheduler or a Vault client (its entity, display name and
//! token accessor), and who that is as a person for the two-person rule.

use serde::{Deserialize, Serialize};

use crate::framework::{Error, Request};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    /// The engine itself, on its periodic tick.
    Scheduler,
    /// A Vault client.
    Client {
        /// Identity entity id (empty for tokens without an entity).
        entity_id: String,
        /// Token display name.
        display_name: String,
        /// Token accessor.
        accessor: String,
    },
}

impl Actor {
    /// The actor of a request.
    pub(crate) fn of(req: &Request) -> Actor {
        Actor::Client {
            entity_id: req.entity_id.clone(),
            display_name: req.display_name.clone(),
            accessor: req.client_token_accessor.clone(),
        }
    }

    /// The person behind the actor, for the two-person rule: `entity:<entity id>`, or `None` for
    /// the scheduler and for a client that cannot be told apart as a person (a token without an
    /// identity entity, such as the root token and tokens created from it, or a batch token,
    /// which has no accessor). Never the token accessor: two tokens of one entity are one person.
    pub(crate) fn identity(&self) -> Option<String> {
        match self {
            Actor::Scheduler => None,
            Actor::Client {
                entity_id,
                accessor,
                ..
            } => (!entity_id.is_empty() && !accessor.is_empty())
                .then(|| format!("{}{entity_id}", crate::rotation::ENTITY_PREFIX)),
        }
    }

    /// The identity a stage, a promote, a `keys/` create or a reinstating rollback needs while
    /// `require_separate_approver` is on: the entity (see [`Actor::identity`]), `None` for the
    /// scheduler, or a 403 for a client without one.
    pub(crate) fn approver(&self) -> Result<Option<String>, Error> {
        match (self, self.identity()) {
            (Actor::Scheduler, _) => Ok(None),
            (_, Some(id)) => Ok(Some(id)),
            (Actor::Client { entity_id, .. }, None) => {
                let why = if entity_id.is_empty() {
                    "this token has no identity entity (tokens from the token store, such as the \
                     root token and tokens created from it, have none)"
                } else {
                    "this is a batch token, which cannot be told apart from other tokens"
                };
                Err(Error::PermissionDenied(format!(
                    "require_separate_approver is set: the two-person rule needs to know who \
                     stages and who promotes, so stage/, promote/, keys/ create and a rollback/ \
                     that reinstates a version need a service token of an identity entity (log \
                     in through an auth method such as userpass); {why}"
                )))
            }
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Actor::Scheduler => s.serialize_str("scheduler"),
            Actor::Client {
                entity_id,
                display_name,
                accessor,
            } => serde_json::json!({
                "entity_id": entity_id,
                "display_name": display_name,
                "accessor": accessor,
            })
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Name(String),
            Client {
                #[serde(default)]
                entity_id: String,
                #[serde(default)]
                display_name: String,
                #[serde(default)]
                accessor: String,
            },
        }
        Ok(match Wire::deserialize(d)? {
            Wire::Name(n) if n == "scheduler" => Actor::Scheduler,
            Wire::Name(other) => {
                return Err(serde::de::Error::custom(format!("unknown actor {other:?}")))
            }
            Wire::Client {
                entity_id,
                display_name,
                accessor,
            } => Actor::Client {
                entity_id,
                display_name,
                accessor,
            },
        })
    }
}
