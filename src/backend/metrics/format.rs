//! The two renderings of a [`super::metrics`] snapshot, as Vault's own `sys/metrics` has them:
//! the Prometheus text exposition format 0.0.4 (`format=prometheus`, what Prometheus scrapes),
//! written by the `prometheus` crate's encoder, and JSON (the default, so `bao read
//! <mount>/metrics` shows it).

use chrono::{DateTime, Utc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder as _, TextEncoder};
use serde::ser::SerializeMap as _;
use serde::Serialize;
use serde_json::{json, Value};

use super::collect::{Family, Kind};
use crate::backend::view;
use crate::framework::Error;

/// The content type of the text format.
pub(crate) const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

fn internal(e: prometheus::Error) -> Error {
    Error::Internal(format!("encoding metrics: {e}"))
}

/// The family as the encoder takes it, built directly (no registry: at 10,000 keys a registry's
/// hashing of every label set cost seconds). Label pairs sorted by name and samples by label
/// values, as a registry gathers them.
fn family_proto(f: &Family<'_>) -> MetricFamily {
    let mut order: Vec<usize> = (0..f.labels.len()).collect();
    order.sort_by_key(|&i| f.labels[i]);
    let mut samples: Vec<&(Vec<&str>, f64)> = f.samples.iter().collect();
    samples.sort_by(|a, b| {
        order
            .iter()
            .map(|&i| &a.0[i])
            .cmp(order.iter().map(|&i| &b.0[i]))
    });
    let metrics = samples
        .into_iter()
        .map(|(values, v)| {
            let mut m = Metric::default();
            m.set_label(
                order
                    .iter()
                    .map(|&i| {
                        let mut pair = LabelPair::default();
                        pair.set_name(f.labels[i].to_string());
                        pair.set_value(values[i].to_string());
                        pair
                    })
                    .collect(),
            );
            match f.kind {
                Kind::Gauge => {
                    let mut g = Gauge::default();
                    g.set_value(*v);
                    m.set_gauge(g);
                }
                Kind::Counter => {
                    let mut c = Counter::default();
                    c.set_value(*v);
                    m.set_counter(c);
                }
            }
            m
        })
        .collect();
    let mut family = MetricFamily::default();
    family.set_name(f.name.to_string());
    family.set_help(f.help.to_string());
    family.set_field_type(match f.kind {
        Kind::Gauge => MetricType::GAUGE,
        Kind::Counter => MetricType::COUNTER,
    });
    family.set_metric(metrics);
    family
}

/// The Prometheus text exposition of `families` (families sorted by name; empty ones left out),
/// encoded one family at a time.
pub(crate) fn prometheus_text<'a>(
    families: impl IntoIterator<Item = Family<'a>>,
) -> Result<String, Error> {
    let mut parts = Vec::new();
    for f in families.into_iter().filter(|f| !f.samples.is_empty()) {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&[family_proto(&f)], &mut out)
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

/// A sample's labels, written as a JSON object straight from the family (no map built).
struct Labels<'f>(&'f [&'static str], &'f [&'f str]);

impl Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter().zip(self.1) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Sample<'f> {
    name: &'f str,
    labels: Labels<'f>,
    value: Value,
}

/// The JSON rendering: `{mount, node, timestamp, gauges: [...], counters: [...]}` (`node`:
/// `active` or `standby`, the node that answered), each sample as
/// `{name, labels: {...}, value}`. Written as text one sample at a time: at 10,000 keys a tree
/// of values would take hundreds of megabytes for a reply of about 20.
pub(crate) fn json<'a>(
    mount: &str,
    node: &str,
    families: impl IntoIterator<Item = Family<'a>>,
    now: DateTime<Utc>,
) -> Result<String, Error> {
    let mut gauges = Vec::new();
    let mut counters = Vec::new();
    for f in families {
        for (values, v) in &f.samples {
            let sample = Sample {
                name: f.name,
                labels: Labels(&f.labels, values),
                value: number(*v),
            };
            let out = match f.kind {
                Kind::Gauge => &mut gauges,
                Kind::Counter => &mut counters,
            };
            out.push(if out.is_empty() { b'[' } else { b',' });
            serde_json::to_writer(&mut *out, &sample)
                .map_err(|e| Error::Internal(format!("encoding metrics: {e}")))?;
        }
    }
    for out in [&mut gauges, &mut counters] {
        if out.is_empty() {
            out.push(b'[');
        }
        out.push(b']');
    }
    let head = json!({ "mount": mount, "node": node, "timestamp": view::time(now) }).to_string();
    let mut text = head[..head.len() - 1].to_string();
    text.push_str(",\"counters\":");
    text.push_str(&String::from_utf8_lossy(&counters));
    text.push_str(",\"gauges\":");
    text.push_str(&String::from_utf8_lossy(&gauges));
    text.push('}');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<Family<'static>> {
        vec![
            Family {
                name: "ai_keys_overdue",
                kind: Kind::Gauge,
                help: "1 when overdue.",
                labels: vec!["mount", "key"],
                samples: vec![(vec!["m", "we\"ird\\\nname"], 1.0)],
            },
            Family {
                name: "ai_keys_rotations_total",
                kind: Kind::Counter,
                help: "Promotions.",
                labels: vec!["mount", "key"],
                samples: vec![(vec!["m", "b"], 4.0), (vec!["m", "a"], 3.0)],
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
             ai_keys_rotations_total{key=\"a\",mount=\"m\"} 3\n\
             ai_keys_rotations_total{key=\"b\",mount=\"m\"} 4\n"
        );
    }

    #[test]
    fn json_lists_gauges_and_counters_with_labels() {
        let now = Utc::now();
        let v: Value =
            serde_json::from_str(&json("m", "standby", families(), now).unwrap()).unwrap();
        assert_eq!(v["mount"], "m");
        assert_eq!(v["node"], "standby");
        assert_eq!(
            v["gauges"],
            json!([{ "name": "ai_keys_overdue", "labels": {"mount": "m", "key": "we\"ird\\\nname"}, "value": 1 }])
        );
        assert_eq!(
            v["counters"],
            json!([
                { "name": "ai_keys_rotations_total", "labels": {"mount": "m", "key": "b"}, "value": 4 },
                { "name": "ai_keys_rotations_total", "labels": {"mount": "m", "key": "a"}, "value": 3 },
            ])
        );
        assert_eq!(number(0.5), json!(0.5));
    }
}
