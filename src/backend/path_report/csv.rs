//! The compliance report as CSV (`format=csv`): one row per key, lists of version numbers
//! separated by `;`; every flag the JSON has (`federated`, `rejected`, `exposed` and its
//! `withdrawn`) has a column. Columns are only ever added at the end.

use serde_json::Value;

const CSV_COLUMNS: [&str; 26] = [
    "key",
    "schedule",
    "rotation_period_days",
    "current_version",
    "current_age_days",
    "oldest_age_days",
    "within_period",
    "rotations",
    "failed_rotations",
    "last_test_outcome",
    "last_test_time",
    "versions_in_grace",
    "revocations_confirmed",
    "revocations_pending",
    "promoted_by",
    "revocations_manual",
    "revocations_acknowledged",
    "federated",
    "exchanges_ok",
    "exchanges_failed",
    "rejected",
    "current_key_rejected_time",
    "exposed",
    "exposed_version",
    "exposed_time",
    "exposed_withdrawn",
];

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
fn field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A federated key's failed exchanges, all outcomes summed (empty for a valued key).
fn failed(v: &Value) -> String {
    v.as_object().map_or_else(String::new, |m| {
        m.values()
            .filter_map(Value::as_u64)
            .sum::<u64>()
            .to_string()
    })
}

/// Whether a valued key has a leak in force (`exposed` an object): `true` or `false`; empty
/// for a federated key (no value to leak).
fn exposed(v: &Value, federated: bool) -> String {
    match federated {
        true => String::new(),
        false => v.is_object().to_string(),
    }
}

/// The report as CSV: a header and one row per key; lists are `;`-separated.
pub(super) fn to_csv(keys: &[Value]) -> String {
    let mut out = CSV_COLUMNS.join(",") + "\n";
    for k in keys {
        let versions = |list: &Value| -> String {
            list.as_array().map_or_else(String::new, |a| {
                a.iter()
                    .map(|x| plain(&x["version"]))
                    .collect::<Vec<_>>()
                    .join(";")
            })
        };
        let promoted = k["promoted_by"].as_array().map_or_else(String::new, |a| {
            a.iter()
                .map(|p| {
                    let who = match &p["actor"] {
                        Value::String(s) => s.clone(),
                        actor => plain(&actor["display_name"]),
                    };
                    format!("v{}:{who}", plain(&p["version"]))
                })
                .collect::<Vec<_>>()
                .join(";")
        });
        let row = [
            plain(&k["key"]),
            plain(&k["schedule"]),
            plain(&k["rotation_period_days"]),
            plain(&k["current_version"]),
            plain(&k["current_age_days"]),
            plain(&k["oldest_age_days"]),
            plain(&k["within_period"]),
            plain(&k["rotations"]),
            plain(&k["failed_rotations"]),
            plain(&k["last_test"]["outcome"]),
            plain(&k["last_test"]["time"]),
            versions(&k["versions_in_grace"]),
            versions(&k["revocations_confirmed"]),
            versions(&k["revocations_pending"]),
            promoted,
            versions(&k["revocations_manual"]),
            versions(&k["revocations_acknowledged"]),
            plain(&k["federated"]),
            plain(&k["exchanges"]["ok"]),
            failed(&k["exchanges"]["failed"]),
            plain(&k["rejected"]),
            plain(&k["current_key_rejected_time"]),
            exposed(
                &k["exposed"],
                k.get("federated") == Some(&Value::Bool(true)),
            ),
            plain(&k["exposed"]["version"]),
            plain(&k["exposed"]["time"]),
            plain(&k["exposed"]["withdrawn"]),
        ];
        out += &row.iter().map(|f| field(f)).collect::<Vec<_>>().join(",");
        out.push('\n');
    }
    out
}
