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

/// The Prometheus text exposition of `families` (families sorted by name; empty ones left out).
pub fn prometheus_text(families: &[Family]) -> Result<String, Error> {
    let registry = Registry::new();
    for f in families {
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
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .map_err(internal)?;
    String::from_utf8(out).map_err(|e| Error::Internal(format!("encoding metrics: {e}")))
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
/// `{name, labels: {...}, value}`.
pub fn json(mount: &str, families: &[Family], now: DateTime<Utc>) -> Value {
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
            match f.kind {
                Kind::Gauge => gauges.push(sample),
                Kind::Counter => counters.push(sample),
            }
        }
    }
    json!({
        "mount": mount,
        "timestamp": view::time(now),
        "gauges": gauges,
        "counters": counters,
    })
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
        let text = prometheus_text(&families()).unwrap();
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
        let v = json("m", &families(), now);
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
