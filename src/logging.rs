//! Logging as hclog JSON lines on stderr, which the host re-logs at their level under the mount's
//! logger (plugin-protocol.md section 3).
//!
//! Hand-written on purpose: the host parses `@level`, `@message` and `@timestamp` with unchecked
//! type assertions, so any of them as a non-string crashes the whole server, and the timestamp
//! must carry exactly six fractional digits. Every value we write is a JSON string.
//!
//! Never log a secret: log key names, version numbers and fingerprints.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The `@module` of every line.
const MODULE: &str = "ai-keys";

/// Installs the stderr logger. The level comes from `AI_KEYS_LOG_LEVEL` (trace, debug, info,
/// warn, error; default info); the server drops lines below its own level anyway.
pub fn init() {
    let level = std::env::var("AI_KEYS_LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    let _ = tracing_subscriber::registry()
        .with(HclogLayer { max_level: level })
        .try_init();
}

/// A tracing layer writing one hclog JSON object per event.
#[derive(Debug, Clone, Copy)]
pub struct HclogLayer {
    /// Events above this verbosity are dropped.
    pub max_level: Level,
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= self.max_level
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event, chrono::Utc::now());
        // stderr may be closed when the host is gone; never panic over a log line.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// hclog's level names (`warning` is not recognised by the host).
pub fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// hclog's timestamp layout `2006-01-02T15:04:05.000000Z07:00`: exactly six fractional digits.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[derive(Default)]
struct Fields {
    message: String,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        self.put(field, s);
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            let name = field.name().trim_start_matches("r#");
            // The three keys the host type-asserts are ours alone.
            let name = if name.starts_with('@') {
                format!("field{name}")
            } else {
                name.to_string()
            };
            self.extra.insert(name, serde_json::Value::String(value));
        }
    }
}

/// Formats one event as a JSON line, newline included.
pub fn format_event(event: &Event<'_>, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut fields = Fields::default();
    event.record(&mut fields);
    format_line(event.metadata().level(), &fields.message, fields.extra, now)
}

fn format_line(
    level: &Level,
    message: &str,
    extra: serde_json::Map<String, serde_json::Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("@level".into(), level_name(level).into());
    obj.insert("@message".into(), message.into());
    obj.insert("@module".into(), MODULE.into());
    obj.insert("@timestamp".into(), timestamp(now).into());
    obj.extend(extra);
    let mut line = serde_json::Value::Object(obj).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use std::sync::{Arc, Mutex};

    #[test]
    fn timestamp_has_exactly_six_fractional_digits() {
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 25, 18, 39, 35)
            .unwrap()
            + chrono::Duration::nanoseconds(252_123_999);
        assert_eq!(timestamp(t), "2026-11-25T18:39:35.252123Z");
        let whole = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(timestamp(whole), "2026-01-02T03:04:05.000000Z");
    }

    #[test]
    fn level_names_are_the_ones_hclog_knows() {
        let names: Vec<_> = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .iter()
        .map(level_name)
        .collect();
        assert_eq!(names, ["trace", "debug", "info", "warn", "error"]);
    }

    /// Captures what the layer would write, through a real tracing dispatch.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let now = chrono::Utc::now();
            self.0.lock().unwrap().push(format_event(event, now));
        }
    }

    #[test]
    fn every_reserved_key_is_a_string_and_fields_are_kept() {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                key = "prod-openai",
                version = 3u32,
                ok = true,
                "rotation failed"
            );
            tracing::info!(count = 5, "number only");
        });
        let lines = capture.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 2);
        for line in &lines {
            assert!(line.ends_with('\n'));
            let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
            for key in ["@level", "@message", "@timestamp", "@module"] {
                assert!(v[key].is_string(), "{key} in {line}");
            }
            let ts = v["@timestamp"].as_str().unwrap();
            let frac = ts.split('.').nth(1).unwrap().trim_end_matches('Z');
            assert_eq!(frac.len(), 6, "{ts}");
        }
        let first: serde_json::Value = serde_json::from_str(lines[0].trim_end()).unwrap();
        assert_eq!(first["@level"], "warn");
        assert_eq!(first["@message"], "rotation failed");
        assert_eq!(first["key"], "prod-openai");
        assert_eq!(first["version"], "3");
        assert_eq!(first["ok"], "true");
    }

    #[test]
    fn a_field_cannot_overwrite_the_reserved_keys() {
        let mut extra = serde_json::Map::new();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("@level" = 5, "x");
        });
        extra.insert("k".into(), "v".into());
        let v: serde_json::Value =
            serde_json::from_str(capture.0.lock().unwrap()[0].trim_end()).unwrap();
        assert_eq!(v["@level"], "info");
        assert_eq!(v["field@level"], "5");
        let line = format_line(&Level::ERROR, "m", extra, chrono::Utc::now());
        assert!(line.contains("\"k\":\"v\""));
    }
}
