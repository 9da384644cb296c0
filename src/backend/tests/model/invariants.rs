//! What must hold after every step, judged against the fakes' truth. Each check returns the
//! violations it found with what it saw; the runner prints them with the seed and the steps.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::world::World;
use crate::backend::provider_ops::{
    decode, CreateIntent, ExpiryIntent, RevokeIntent, WAL_CREATE, WAL_EXPIRY, WAL_REVOKE,
};
use crate::backend::record::{self, KeyEntry};
use crate::framework::{get_json, wal_list, Operation, Storage, WalEntry, WAL_PREFIX};
use crate::rotation::VersionState;

/// The invariants, by the letter the model's docs give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Invariant {
    /// (a) Every key alive at a host that the engine created is claimed by a live version
    /// record, or by a create or revoke intent.
    OwnedKeysClaimed,
    /// (b) No delete reached a key the engine does not own (a person's key it was never shown
    /// possession of), nor a host other than the one the key was born at.
    RevokesOnlyOwnedAtOrigin,
    /// (c) Every version whose provider revocation is `confirmed` has its key dead at its
    /// origin.
    ConfirmedIsDead,
    /// (d) The report lists every key, with the records' confirmed and pending revocations,
    /// and each confirmed one is dead at its origin.
    ReportAgrees,
    /// (e) Exactly one current version per key.
    OneCurrent,
    /// (f) A version reported leaked and taken away is never live or served again, and its key
    /// is revoked at its origin, pending with an intent, or left to a person
    /// ([`super::leaks`]).
    LeakedStaysRetired,
    /// (g) `reconcile` deletes no key a live version or create intent claims; a dry run
    /// deletes and writes nothing ([`super::reconcile`]).
    ReconcileSparesClaimed,
    /// (h) A current key its provider refuses is flagged or rotated by a tick that checks it,
    /// and by `reconcile` ([`super::watch`]).
    RefusedCurrentFlagged,
    /// (i) A current version's key carries no provider expiry within two hours, unless an
    /// intent gives it its life back ([`super::expiry`]).
    CurrentKeepsItsLifetime,
}

/// One broken invariant, with what was seen.
#[derive(Debug, Clone)]
pub(super) struct Violation {
    pub invariant: Invariant,
    pub detail: String,
}

/// What storage holds now: records and intents.
pub(super) struct Stored {
    pub records: Vec<KeyEntry>,
    pub creates: Vec<CreateIntent>,
    pub revokes: Vec<RevokeIntent>,
    pub expiries: Vec<ExpiryIntent>,
}

pub(super) async fn stored(storage: &dyn Storage) -> Stored {
    let mut records = Vec::new();
    for name in record::list_names(storage).await.expect("list keys") {
        if let Some(e) = record::load(storage, &name).await.expect("load key") {
            records.push(e);
        }
    }
    let (mut creates, mut revokes, mut expiries) = (Vec::new(), Vec::new(), Vec::new());
    for id in wal_list(storage).await.expect("list intents") {
        let path = format!("{WAL_PREFIX}{id}");
        let Some(entry) = get_json::<WalEntry>(storage, &path).await.expect("intent") else {
            continue;
        };
        match entry.kind.as_str() {
            WAL_CREATE => creates.push(decode(&entry).expect("create intent")),
            WAL_REVOKE => revokes.push(decode(&entry).expect("revoke intent")),
            WAL_EXPIRY => expiries.push(decode(&entry).expect("expiry intent")),
            _ => {}
        }
    }
    Stored {
        records,
        creates,
        revokes,
        expiries,
    }
}

fn live(s: VersionState) -> bool {
    matches!(
        s,
        VersionState::Pending | VersionState::Current | VersionState::Previous
    )
}

/// Every violation after the step just made.
pub(super) async fn check(w: &World) -> Vec<Violation> {
    let s = stored(w.storage.as_ref()).await;
    let mut out = Vec::new();
    owned_keys_claimed(w, &s, &mut out);
    revokes_only_owned_at_origin(w, &s, &mut out);
    confirmed_is_dead(w, &s, &mut out);
    report_agrees(w, &s, &mut out).await;
    one_current(&s, &mut out);
    super::leaks::check(w, &s, &mut out).await;
    super::expiry::check(w, &s, &mut out);
    out.extend(w.findings.iter().cloned());
    out
}

fn owned_keys_claimed(w: &World, s: &Stored, out: &mut Vec<Violation>) {
    let claimed = |id: &str| {
        s.records.iter().any(|e| {
            e.key
                .versions
                .versions
                .values()
                .any(|v| live(v.state) && v.provider_key_id.as_deref() == Some(id))
        }) || s.revokes.iter().any(|i| i.provider_key_id == id)
            || s.creates
                .iter()
                .any(|i| i.provider_key_id.as_deref() == Some(id))
    };
    // A create intent the provider never answered names no id: it covers one key (recovery
    // finds it by the name it was created under).
    let blind = s
        .creates
        .iter()
        .filter(|i| i.provider_key_id.is_none())
        .count();
    let mut unclaimed = Vec::new();
    for (h, fake) in w.fakes.iter().enumerate() {
        for (id, _, active) in fake.created_keys() {
            if active && !w.persons.contains_key(&id) && !claimed(&id) {
                unclaimed.push(format!("{id} at host {h}"));
            }
        }
    }
    if unclaimed.len() > blind {
        out.push(Violation {
            invariant: Invariant::OwnedKeysClaimed,
            detail: format!(
                "engine-created keys alive with no live version and no intent: {unclaimed:?} \
                 ({blind} create intents without an id)"
            ),
        });
    }
}

fn revokes_only_owned_at_origin(w: &World, s: &Stored, out: &mut Vec<Violation>) {
    let mut ids: BTreeSet<String> = w.persons.keys().cloned().collect();
    for fake in &w.fakes {
        ids.extend(fake.created_keys().into_iter().map(|(id, _, _)| id));
    }
    for e in &s.records {
        ids.extend(
            e.key
                .versions
                .versions
                .values()
                .filter_map(|v| v.provider_key_id.clone()),
        );
    }
    ids.extend(s.revokes.iter().map(|i| i.provider_key_id.clone()));
    for (h, fake) in w.fakes.iter().enumerate() {
        for id in &ids {
            let external = w.external.get(&(h, id.clone())).copied().unwrap_or(0);
            let sent = fake.mutation_requests(id).saturating_sub(external);
            if sent == 0 {
                continue;
            }
            let born = w.birth_host(id);
            let owned = match w.persons.get(id) {
                Some(p) => p.proven,
                None => born.is_some(),
            };
            if born != Some(h) || !owned {
                let whose = match w.persons.get(id) {
                    Some(p) if p.proven => "a person's key imported with its own value",
                    Some(_) => "a person's key the engine was never shown possession of",
                    None => "an engine-created key",
                };
                out.push(Violation {
                    invariant: Invariant::RevokesOnlyOwnedAtOrigin,
                    detail: format!(
                        "host {h} received {sent} delete(s) of {id} ({whose}, born at host {born:?})"
                    ),
                });
            }
        }
    }
}

/// Whether key `id` is dead at the host that made it (`Err`: what is wrong).
fn dead_at_origin(w: &World, id: &str) -> Result<(), String> {
    let Some(h) = w.birth_host(id) else {
        return Err(format!("{id} was never made at any host"));
    };
    let alive = w.fakes[h]
        .created_keys()
        .into_iter()
        .any(|(kid, _, active)| kid == id && active);
    if alive {
        Err(format!("{id} is still alive at its origin, host {h}"))
    } else {
        Ok(())
    }
}

fn confirmed_is_dead(w: &World, s: &Stored, out: &mut Vec<Violation>) {
    for e in &s.records {
        for v in e.key.versions.versions.values() {
            let Some(r) = &v.provider_revocation else {
                continue;
            };
            // Pending, or left to a person (`manual`): nothing claims it is dead.
            if r.is_pending() || r.manual.is_some() {
                continue;
            }
            if let Err(why) = dead_at_origin(w, &r.provider_key_id) {
                out.push(Violation {
                    invariant: Invariant::ConfirmedIsDead,
                    detail: format!(
                        "{} version {} confirmed revoked, but {why}",
                        e.key.name, v.number
                    ),
                });
            }
        }
    }
}

/// The version numbers of a report list.
fn numbers(list: &Value) -> BTreeSet<u64> {
    list.as_array()
        .map(|a| a.iter().filter_map(|l| l["version"].as_u64()).collect())
        .unwrap_or_default()
}

async fn report_agrees(w: &World, s: &Stored, out: &mut Vec<Violation>) {
    let report = match w
        .engine
        .answer(Operation::Read, "report", Value::Null)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return out.push(Violation {
                invariant: Invariant::ReportAgrees,
                detail: format!("report refused: {e}"),
            })
        }
    };
    let mut listed: BTreeMap<String, (BTreeSet<u64>, BTreeSet<u64>)> = BTreeMap::new();
    for k in report["keys"].as_array().cloned().unwrap_or_default() {
        let name = k["key"].as_str().unwrap_or_default().to_string();
        listed.insert(
            name,
            (
                numbers(&k["revocations_confirmed"]),
                numbers(&k["revocations_pending"]),
            ),
        );
    }
    for e in &s.records {
        let (mut confirmed, mut pending) = (BTreeSet::new(), BTreeSet::new());
        for v in e.key.versions.versions.values() {
            if let Some(r) = &v.provider_revocation {
                let n = u64::from(v.number);
                if r.manual.is_some() {
                    // The report's own columns (revocations_manual, _acknowledged).
                    continue;
                }
                if r.is_pending() {
                    pending.insert(n);
                } else {
                    confirmed.insert(n);
                }
            }
        }
        let name = &e.key.name;
        match listed.remove(name) {
            None => out.push(Violation {
                invariant: Invariant::ReportAgrees,
                detail: format!("{name} is stored but not in the report"),
            }),
            Some((c, p)) if c != confirmed || p != pending => out.push(Violation {
                invariant: Invariant::ReportAgrees,
                detail: format!(
                    "{name}: report confirmed {c:?} pending {p:?}, records confirmed \
                     {confirmed:?} pending {pending:?}"
                ),
            }),
            Some((c, _)) => {
                for n in c {
                    let v = u32::try_from(n)
                        .ok()
                        .and_then(|n| e.key.versions.versions.get(&n));
                    let id = v
                        .and_then(|v| v.provider_key_id.clone())
                        .unwrap_or_default();
                    if let Err(why) = dead_at_origin(w, &id) {
                        out.push(Violation {
                            invariant: Invariant::ReportAgrees,
                            detail: format!("report: {name} version {n} confirmed, but {why}"),
                        });
                    }
                }
            }
        }
    }
    for name in listed.keys() {
        out.push(Violation {
            invariant: Invariant::ReportAgrees,
            detail: format!("the report lists {name}, which is not stored"),
        });
    }
}

fn one_current(s: &Stored, out: &mut Vec<Violation>) {
    for e in &s.records {
        let current = e
            .key
            .versions
            .versions
            .values()
            .filter(|v| v.state == VersionState::Current)
            .count();
        if current != 1 {
            out.push(Violation {
                invariant: Invariant::OneCurrent,
                detail: format!("{} has {current} current versions", e.key.name),
            });
        }
    }
}
