//! The two renderings of a [`super::metrics`] snapshot, as Vault's own `sys/metrics` has them:
//! the Prometheus text exposition format 0.0.4 (`format=prometheus`, what Prometheus scrapes),
//! written by the `prometheus` crate's encoder, and JSON (the default, so `bao read
//! <mount>/metrics` shows it).

use chrono::{DateTime, Utc};
use prometheus::{CounterVec, Encoder as _, GaugeVec, Opts, Registry, TextEncoder};
use serde_json::{json, Map, Value};

use super::metrics::{Family, Kind};
use super::view;
use crate::framework::Error;

/// The content type of the text format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

fn internal(e: prometheus::Error) -> Error {
    Error::Internal(format!("encoding metrics: {e}"))
}

/// One family registered alone, so it can be encoded and dropped before the next is built.
fn registry_of(f: &Family) -> Result<Registry, Error> {
    let registry = Registry::new();
    let opts = Opts::new(f.name, f.help);
    match f.kind {
        Kind::Gauge => {
            let vec = GaugeVec::new(opts, &f.labels).map_err(internal)?;
            for (values, v) in &f.samples {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                vec.get_metric_with_label_values(&values)
                    .map_err(internal)?
                    .set(*v);
            }
            registry.register(Box::new(vec)).map_err(internal)?;
        }
        Kind::Counter => {
            let vec = CounterVec::new(opts, &f.labels).map_err(internal)?;
            for (values, v) in &f.samples {
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                vec.get_metric_with_label_values(&values)
                    .map_err(internal)?
                    .inc_by(*v);
            }
            registry.register(Box::new(vec)).map_err(internal)?;
        }
    }
    Ok(registry)
}

/// The Prometheus text exposition of `families` (families sorted by name; empty ones left out),
/// encoded one family at a time.
pub fn prometheus_text(families: impl IntoIterator<Item = Family>) -> Result<String, Error> {
    let mut parts = Vec::new();
    for f in families {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry_of(&f)?.gather(), &mut out)
            .map_err(internal)?;
        parts.push((f.name, out));
    }
    parts.sort_by_key(|(name, _)| *name);
    let text: Vec<u8> = parts.into_iter().flat_map(|(_, out)| out).collect();
    String::from_utf8(text).map_err(|e| Error::Internal(format!("encoding metrics: {e}")))
}

/// A whole number as an integer, anything else as a float.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// The JSON rendering: `{mount, timestamp, gauges: [...], counters: [...]}`, each sample as
/// `{name, labels: {...}, value}`. Written as text one sample at a time: at 10,000 keys a tree
/// of values would take hundreds of megabytes for a reply of about 20.
pub fn json(mount: &str, families: impl IntoIterator<Item = Family>, now: DateTime<Utc>) -> String {
    let mut gauges = Vec::new();
    let mut counters = Vec::new();
    for f in families {
        for (values, v) in &f.samples {
            let labels: Map<String, Value> = f
                .labels
                .iter()
                .zip(values)
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            let sample = json!({ "name": f.name, "labels": labels, "value": number(*v) });
            let out = match f.kind {
                Kind::Gauge => &mut gauges,
                Kind::Counter => &mut counters,
            };
            out.push(if out.is_empty() { b'[' } else { b',' });
            serde_json::to_writer(&mut *out, &sample).expect("JSON to memory");
        }
    }
    for out in [&mut gauges, &mut counters] {
        if out.is_empty() {
            out.push(b'[');
        }
        out.push(b']');
    }
    let head = json!({ "mount": mount, "timestamp": view::time(now) }).to_string();
    let mut text = head[..head.len() - 1].to_string();
    text.push_str(",\"counters\":");
    text.push_str(std::str::from_utf8(&counters).expect("JSON is UTF-8"));
    text.push_str(",\"gauges\":");
    text.push_str(std::str::from_utf8(&gauges).expect("JSON is UTF-8"));
    text.push('}');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<Family> {
        vec![
            Family {
                name: "ai_keys_overdue",
                kind: Kind::Gauge,
                help: "1 when overdue.",
                labels: vec!["mount", "key"],
                samples: vec![(vec!["m".into(), "we\"ird\\\nname".into()], 1.0)],
            },
            Family {
                name: "ai_keys_rotations_total",
                kind: Kind::Counter,
                help: "Promotions.",
                labels: vec!["mount", "key"],
                samples: vec![(vec!["m".into(), "a".into()], 3.0)],
            },
            Family {
                name: "ai_keys_empty",
                kind: Kind::Gauge,
                help: "Nothing.",
                labels: vec!["mount"],
                samples: vec![],
            },
        ]
    }

    #[test]
    fn prometheus_text_escapes_and_types() {
        let text = prometheus_text(families()).unwrap();
        assert_eq!(
            text,
            "# HELP ai_keys_overdue 1 when overdue.\n\
             # TYPE ai_keys_overdue gauge\n\
             ai_keys_overdue{key=\"we\\\"ird\\\\\\nname\",mount=\"m\"} 1\n\
             # HELP ai_keys_rotations_total Promotions.\n\
             # TYPE ai_keys_rotations_total counter\n\
             ai_keys_rotations_total{key=\"a\",mount=\"m\"} 3\n"
        );
    }

    #[test]
    fn json_lists_gauges_and_counters_with_labels() {
        let now = Utc::now();
        let v: Value = serde_json::from_str(&json("m", families(), now)).unwrap();
        assert_eq!(v["mount"], "m");
        assert_eq!(
            v["gauges"],
            json!([{ "name": "ai_keys_overdue", "labels": {"mount": "m", "key": "we\"ird\\\nname"}, "value": 1 }])
        );
        assert_eq!(
            v["counters"],
            json!([{ "name": "ai_keys_rotations_total", "labels": {"mount": "m", "key": "a"}, "value": 3 }])
        );
        assert_eq!(number(0.5), json!(0.5));
    }
}
