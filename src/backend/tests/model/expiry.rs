//! Provider-side expiries in the model (OpenAI configuration `p3`): a key the engine created
//! carries an expiry at its provider well past its planned life; once its version retires, the
//! expiry moves to the grace end (a `provider_expiry` intent written first), and a rollback
//! gives the reinstated version its whole life back. The invariant (i): a current version's key,
//! alive at its origin, never carries an expiry at the provider within the next two hours (the
//! longest grace the model draws is one) unless an intent to give its life back is stored
//! (recovery settles it): otherwise the provider would end the key applications use now.

use chrono::{TimeDelta, Utc};

use super::invariants::{Invariant, Stored, Violation};
use super::world::World;
use crate::rotation::VersionState;

pub(super) fn check(w: &World, s: &Stored, out: &mut Vec<Violation>) {
    let soon = (Utc::now() + TimeDelta::hours(2)).timestamp();
    for e in &s.records {
        for v in e.key.versions.versions.values() {
            if v.state != VersionState::Current {
                continue;
            }
            let Some(id) = v.provider_key_id.as_deref() else {
                continue;
            };
            let Some(h) = w.birth_host(id) else {
                continue;
            };
            let Some(at) = w.fakes[h].key_expires_at(id) else {
                continue;
            };
            if at > soon || !w.fakes[h].is_active(id) {
                continue;
            }
            let restoring = s
                .expiries
                .iter()
                .any(|i| i.provider_key_id == id && i.restore);
            if !restoring {
                out.push(Violation {
                    invariant: Invariant::CurrentKeepsItsLifetime,
                    detail: format!(
                        "{} version {} is current, and its key {id} expires at host {h} in {} s \
                         with no intent to give it its life back",
                        e.key.name,
                        v.number,
                        at - Utc::now().timestamp()
                    ),
                });
            }
        }
    }
}
