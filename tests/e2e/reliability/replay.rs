//! Replays a key's history (oldest event first) through the version state machine's rules
//! (src/rotation: create, stage, test, promote, rollback, discard, expire, finalize, extend,
//! delete) and fails on the first event that the state machine could not have produced: a
//! version staged twice, promoted when not pending, revoked twice, a second current or pending,
//! a `provider_revoked` twice or for a live version, a `provider_revocation_manual` for a live
//! version, twice or beside a confirmed revocation, an acknowledgement without one, an event for
//! an unknown version (except a failed attempt's, which names the number the new version was
//! to get).
//!
//! The final states are compared with the stored record by the caller, so a state change with
//! no event (a lost event) shows up as a difference, and a duplicated event as a refused step.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum St {
    Pending,
    Current,
    Previous,
    Revoked,
    Failed,
    /// Between `rolled_back` of a pending version and its `failed`.
    Discarding,
    /// Between `rolled_back` of the current version and its `revoked`.
    Replaced,
}

impl St {
    pub(crate) fn api(self) -> &'static str {
        match self {
            St::Pending | St::Discarding => "pending",
            St::Current | St::Replaced => "current",
            St::Previous => "previous",
            St::Revoked => "revoked",
            St::Failed => "failed",
        }
    }

    fn live(self) -> bool {
        matches!(
            self,
            St::Pending | St::Current | St::Previous | St::Discarding | St::Replaced
        )
    }
}

/// What a replay found.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Each version's state after the last event (of the key's latest life, after a delete).
    pub states: BTreeMap<u32, St>,
    pub events: usize,
    pub promotions: usize,
    pub provider_revocations: usize,
    /// Whether the last lifecycle event was `deleted`.
    pub deleted: bool,
}

/// Replays `events` (oldest first). `Err` names the offending event and why.
pub(crate) fn replay(events: &[Value]) -> Result<Replayed, String> {
    let mut r = Replayed::default();
    let mut confirmed: BTreeMap<u32, usize> = BTreeMap::new();
    // Versions left to a person: whether acknowledged.
    let mut manual: BTreeMap<u32, bool> = BTreeMap::new();
    let mut last_time = String::new();
    for (i, e) in events.iter().enumerate() {
        let kind = e["event"].as_str().unwrap_or("");
        let time = e["time"].as_str().unwrap_or("").to_string();
        let fail = |why: String| Err(format!("event #{i} {e}: {why}"));
        if time < last_time {
            return fail(format!("time goes backwards (after {last_time})"));
        }
        last_time = time;
        let v = e["version"].as_u64().map(|v| v as u32);
        let s = &mut r.states;
        let state = v.and_then(|v| s.get(&v).copied());
        let count =
            |s: &BTreeMap<u32, St>, want: &[St]| s.values().filter(|st| want.contains(st)).count();
        match (kind, v) {
            ("created", Some(v)) => {
                if s.values().any(|st| st.live()) || v != 1 {
                    return fail("created while live versions exist, or not version 1".into());
                }
                s.clear();
                confirmed.clear();
                r.deleted = false;
                s.insert(v, St::Current);
            }
            ("staged", Some(v)) => {
                if state.is_some() || s.keys().next_back().is_some_and(|&m| m >= v) {
                    return fail("version number reused or not increasing".into());
                }
                if count(s, &[St::Pending, St::Discarding]) > 0 || count(s, &[St::Current]) != 1 {
                    return fail("staged while a version is pending or none is current".into());
                }
                s.insert(v, St::Pending);
            }
            ("tested", Some(_)) => {
                if !matches!(state, Some(St::Pending | St::Current)) {
                    return fail(format!("tested a version in state {state:?}"));
                }
            }
            ("promoted", Some(v)) => {
                if state != Some(St::Pending) || count(s, &[St::Previous]) > 0 {
                    return fail(format!(
                        "promoted from {state:?}, or while a previous version is still live"
                    ));
                }
                for st in s.values_mut().filter(|st| **st == St::Current) {
                    *st = St::Previous;
                }
                s.insert(v, St::Current);
                r.promotions += 1;
            }
            ("rolled_back", Some(v)) => match state {
                Some(St::Pending) => {
                    s.insert(v, St::Discarding);
                }
                Some(St::Current) if count(s, &[St::Previous]) == 1 => {
                    for st in s.values_mut().filter(|st| **st == St::Previous) {
                        *st = St::Current;
                    }
                    s.insert(v, St::Replaced);
                }
                _ => return fail(format!("rolled back a version in state {state:?}")),
            },
            // An attempt that staged nothing the history kept (the create failed, or the key
            // was put back as it was after the test): it names the number the new version was
            // to get, which no version holds yet; no state changes.
            ("failed", Some(v)) if state.is_none() => {
                if s.keys().next_back().is_some_and(|&m| m >= v) {
                    return fail("a failed attempt names a number already used".into());
                }
            }
            ("failed", Some(v)) => {
                if !matches!(state, Some(St::Pending | St::Discarding)) {
                    return fail(format!("failed a version in state {state:?}"));
                }
                s.insert(v, St::Failed);
            }
            ("revoked", Some(v)) => {
                if !state.is_some_and(St::live) {
                    return fail(format!("revoked a version in state {state:?}"));
                }
                s.insert(v, St::Revoked);
            }
            ("expired" | "finalized", Some(v)) => {
                if state != Some(St::Previous) {
                    return fail(format!("{kind} a version in state {state:?}"));
                }
                s.insert(v, St::Revoked);
            }
            ("grace_extended", Some(_)) => {
                if state != Some(St::Previous) {
                    return fail(format!("extended a version in state {state:?}"));
                }
            }
            ("provider_revoked", Some(v)) => {
                if !matches!(state, Some(St::Revoked | St::Failed)) {
                    return fail(format!("provider revocation of a version in {state:?}"));
                }
                if manual.contains_key(&v) {
                    return fail("provider revocation of a version left to a person".into());
                }
                let n = confirmed.entry(v).or_default();
                *n += 1;
                if *n > 1 {
                    return fail("provider revocation confirmed twice".into());
                }
                r.provider_revocations += 1;
            }
            ("provider_revocation_failed", Some(_)) => {
                if !matches!(state, Some(St::Revoked | St::Failed)) {
                    return fail(format!("provider revocation of a version in {state:?}"));
                }
            }
            // A retired version the engine does not own, left to a person; then their record
            // of revoking it by hand. Never for a live version, never twice, never both ways.
            ("provider_revocation_manual", Some(v)) => {
                if !matches!(state, Some(St::Revoked | St::Failed)) {
                    return fail(format!("manual revocation of a version in {state:?}"));
                }
                if manual.insert(v, false).is_some() || confirmed.contains_key(&v) {
                    return fail(
                        "manual revocation recorded twice, or after a confirmed one".into(),
                    );
                }
            }
            ("provider_revocation_acknowledged", Some(v)) => {
                if manual.insert(v, true) != Some(false) {
                    return fail("acknowledged without an unacknowledged manual revocation".into());
                }
            }
            // A key's own expiry at its provider, moved with its version's grace end (or given
            // back on a rollback): no version state changes.
            (
                "provider_expiry_set" | "provider_expiry_refused" | "provider_expiry_failed",
                Some(_),
            ) => {
                if state.is_none() {
                    return fail("provider expiry of a version never staged".into());
                }
            }
            ("deleted", _) => {
                if s.values().any(|st| st.live()) {
                    return fail("deleted while versions are live".into());
                }
                r.deleted = true;
            }
            // Settings changes and events other modules add carry no version state.
            (_, None) => {}
            (other, Some(_)) => return fail(format!("unknown versioned event {other:?}")),
        }
        let transient = s
            .values()
            .any(|st| matches!(st, St::Discarding | St::Replaced));
        let current = count(s, &[St::Current]);
        let pending = count(s, &[St::Pending, St::Discarding]);
        if current > 1 || pending > 1 || count(s, &[St::Previous]) > 1 {
            return fail(format!("two current, pending or previous versions: {s:?}"));
        }
        if !transient && !r.deleted && current == 0 && kind != "revoked" {
            return fail(format!("no current version: {s:?}"));
        }
        r.events += 1;
    }
    if r.states
        .values()
        .any(|st| matches!(st, St::Discarding | St::Replaced))
    {
        return Err(format!("history ends inside a rollback: {:?}", r.states));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ev(event: &str, version: Option<u32>) -> Value {
        json!({ "time": "2026-11-29T10:00:00Z", "event": event, "version": version })
    }

    #[test]
    fn a_rotation_with_grace_and_a_rollback_replay() {
        let events = [
            ev("created", Some(1)),
            ev("staged", Some(2)),
            ev("tested", Some(2)),
            ev("promoted", Some(2)),
            ev("rolled_back", Some(2)),
            ev("revoked", Some(2)),
            ev("provider_revoked", Some(2)),
        ];
        let r = replay(&events).unwrap();
        assert_eq!(r.states[&1], St::Current);
        assert_eq!(r.states[&2], St::Revoked);
    }

    #[test]
    fn a_duplicated_or_impossible_event_is_refused() {
        let twice = [
            ev("created", Some(1)),
            ev("staged", Some(2)),
            ev("staged", Some(2)),
        ];
        assert!(replay(&twice).is_err());
        let promoted_twice = [
            ev("created", Some(1)),
            ev("staged", Some(2)),
            ev("promoted", Some(2)),
            ev("promoted", Some(2)),
        ];
        assert!(replay(&promoted_twice).is_err());
        let live_revocation = [ev("created", Some(1)), ev("provider_revoked", Some(1))];
        assert!(replay(&live_revocation).is_err());
    }

    /// A failed attempt names the version it was to get, before or after a stage of that
    /// number; never one a version already holds.
    #[test]
    fn a_failed_attempt_names_the_next_number() {
        let events = [
            ev("created", Some(1)),
            ev("failed", Some(2)),
            ev("failed", Some(2)),
            ev("staged", Some(2)),
            ev("promoted", Some(2)),
        ];
        let r = replay(&events).unwrap();
        assert_eq!(r.states[&2], St::Current);
        assert!(replay(&[ev("created", Some(1)), ev("failed", Some(1))]).is_err());
    }

    #[test]
    fn a_manual_revocation_replays_once_and_is_acknowledged_once() {
        let retired = [
            ev("created", Some(1)),
            ev("staged", Some(2)),
            ev("promoted", Some(2)),
            ev("revoked", Some(1)),
        ];
        let with = |more: &[Value]| {
            let mut all = retired.to_vec();
            all.extend_from_slice(more);
            replay(&all)
        };
        let manual = ev("provider_revocation_manual", Some(1));
        let ack = ev("provider_revocation_acknowledged", Some(1));
        assert!(with(&[manual.clone(), ack.clone()]).is_ok());
        assert!(with(&[manual.clone(), manual.clone()]).is_err());
        assert!(with(&[manual.clone(), ack.clone(), ack.clone()]).is_err());
        assert!(with(std::slice::from_ref(&ack)).is_err());
        assert!(with(&[manual, ev("provider_revoked", Some(1))]).is_err());
        let live = [
            ev("created", Some(1)),
            ev("provider_revocation_manual", Some(1)),
        ];
        assert!(replay(&live).is_err());
    }
}
