//! The bodies of the `cargo fuzz` targets (fuzz/fuzz_targets/*.rs), shared with the ordinary
//! test that replays the committed corpora (tests/e2e/reliability/fuzz_corpora.rs), so both exercise the same
//! code. Each must never panic, whatever the bytes; where the input is accepted, the result
//! must be within the documented bounds.

// Each fuzz target binary uses one of these functions.
#![allow(dead_code)]

use serde_json::{Map, Value};
use vault_plugin_secrets_ai_keys::framework::{
    parse_duration, parse_duration_str, Field, FieldData, FieldType,
};
use vault_plugin_secrets_ai_keys::host::translate::parse_data;
use vault_plugin_secrets_ai_keys::plugin::env;

/// The longest duration any field accepts (framework::duration::MAX_DURATION_SECS).
const MAX_DURATION_SECS: i64 = 36_525 * 86_400;

/// Request decoding: the JSON text the host sends as request data.
pub fn request_decoding(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(map) = parse_data(text) {
        // Whatever was accepted is an object that survives a round trip.
        let again = Value::Object(map.clone()).to_string();
        assert_eq!(parse_data(&again).expect("re-parse"), map);
    }
}

fn all_fields() -> Vec<Field> {
    [
        ("s", FieldType::String),
        ("b", FieldType::Bool),
        ("i", FieldType::Int),
        ("d", FieldType::Duration),
        ("t", FieldType::Time),
        ("m", FieldType::Map),
        ("l", FieldType::StringList),
        ("n", FieldType::Name),
    ]
    .into_iter()
    .map(|(name, kind)| Field::new(name, kind, "fuzzed"))
    .collect()
}

/// Field coercion: a request's data against one field of every type.
pub fn field_coercion(data: &[u8]) {
    let Ok(Value::Object(raw)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let fields = all_fields();
    for d in [
        FieldData::new(&fields, &raw).ok(),
        Some(FieldData::lenient(&fields, &raw)),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (
            d.get_string("s"),
            d.get_bool("b"),
            d.get_int("i"),
            d.get_time("t"),
        );
        let _ = (d.get_map("m"), d.get_list("l"), d.get_string("n"));
        if let Some(secs) = d.get_duration("d") {
            assert!(
                (0..=MAX_DURATION_SECS).contains(&secs),
                "duration {secs} out of bounds"
            );
        }
    }
    let _: Map<String, Value> = raw;
}

/// Vault duration parsing: a JSON value (number, string, ...) or the string itself.
pub fn duration_parsing(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_duration_str(text);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let _ = parse_duration(&v);
    }
}

/// The handshake environment: `KEY=VALUE` lines as the host would set them.
pub fn handshake_env(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let vars: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Ok(launch) = env::parse(vars) {
        assert_eq!(launch.protocol_version, env::APP_PROTOCOL_VERSION);
    }
}
