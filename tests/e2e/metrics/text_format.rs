//! Prometheus metrics through the HTTP API, checked with a strict text-format parser.

use std::collections::{BTreeMap, BTreeSet};

use crate::rotation::rotate_by_steps;
use crate::support::checks::secret;
use crate::support::Bao;

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A strict parser of the Prometheus text format 0.0.4: `# HELP name text`, `# TYPE name
/// kind`, and samples `name{k="v",...} value`; each family declares its TYPE once, before its
/// samples. Anything else (other comments, blank lines, malformed samples) is an error.
fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut helps = BTreeSet::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    if !text.ends_with('\n') {
        return Err("the body does not end with a newline".into());
    }
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or(format!("line {n}: HELP without text: {line:?}"))?;
            if !is_metric_name(name) || help.trim().is_empty() || !helps.insert(name.to_owned()) {
                return Err(format!("line {n}: bad or repeated HELP: {line:?}"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or(format!("line {n}: TYPE without kind: {line:?}"))?;
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            if !is_metric_name(name) || !known.contains(&kind) || types.contains_key(name) {
                return Err(format!("line {n}: bad or repeated TYPE: {line:?}"));
            }
            if samples.iter().any(|s: &Sample| s.name == name) {
                return Err(format!("line {n}: TYPE after samples of {name}"));
            }
            types.insert(name.to_owned(), kind.to_owned());
        } else {
            let sample = parse_sample(line).map_err(|e| format!("line {n}: {e}: {line:?}"))?;
            if !types.contains_key(&sample.name) {
                return Err(format!("line {n}: sample of {} without TYPE", sample.name));
            }
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("neither labels nor a value")?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let close;
        loop {
            let (start, c) = chars.next().ok_or("unterminated labels")?;
            if c == '}' {
                close = start;
                break;
            }
            let eq = body[start..].find('=').ok_or("label without =")? + start;
            let label = &body[start..eq];
            if !is_label_name(label) {
                return Err(format!("bad label name {label:?}"));
            }
            while chars.peek().is_some_and(|&(i, _)| i <= eq) {
                chars.next();
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err("label value not quoted".into());
            }
            let mut value = String::new();
            loop {
                match chars.next().ok_or("unterminated label value")?.1 {
                    '"' => break,
                    '\\' => match chars.next().ok_or("dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    '\n' => return Err("newline in a label value".into()),
                    c => value.push(c),
                }
            }
            if labels.insert(label.to_owned(), value).is_some() {
                return Err(format!("repeated label {label}"));
            }
            match chars.peek() {
                Some(&(_, ',')) => {
                    chars.next();
                }
                Some(&(_, '}')) => {}
                _ => return Err("expected , or } after a label".into()),
            }
        }
        rest = &body[close + 1..];
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected one space before the value")?;
    let mut parts = rest.split(' ');
    let value_text = parts.next().unwrap_or_default();
    let number = regex::Regex::new(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
        .expect("number pattern");
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v if number.is_match(v) => v
            .parse::<f64>()
            .map_err(|e| format!("bad value {v:?}: {e}"))?,
        v => return Err(format!("bad value {v:?}")),
    };
    if let Some(timestamp) = parts.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("bad timestamp {timestamp:?}"))?;
    }
    if parts.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[test]
fn prometheus_parser_is_strict() {
    let good = "# HELP a_total Things.\n# TYPE a_total counter\na_total{key=\"x\",o=\"q\\\"\"} 3\n";
    let samples = parse_prometheus(good).unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].labels["o"], "q\"");
    assert_eq!(samples[0].value, 3.0);
    for bad in [
        "a_total 1\n",                           // no TYPE
        "# TYPE a gauge\na{k=\"v\"}  1\n",       // two spaces
        "# TYPE a gauge\na{k=v} 1\n",            // unquoted
        "# TYPE a gauge\na{k=\"v\"} one\n",      // not a number
        "# TYPE a gauge\n\na 1\n",               // blank line
        "# TYPE a gauge\n# a comment\na 1\n",    // other comment
        "# TYPE a gauge\na{k=\"v\" 1\n",         // unterminated
        "# TYPE a gauge\n# TYPE a gauge\na 1\n", // repeated TYPE
        "# TYPE a gauge\na 1",                   // no final newline
        "# TYPE a gauge\na{1k=\"v\"} 1\n",       // bad label name
        "# TYPE a gauge\na{k=\"v\"} 1 2 3\n",    // trailing fields
    ] {
        assert!(parse_prometheus(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test]
async fn metrics_are_prometheus_text_through_the_http_api() {
    let bao = Bao::start().await;
    let client = bao.client();
    rotate_by_steps(&client, &secret("k1"), &secret("k2"), "1h").await;

    let scraper = bao
        .client_with_token("")
        .with_header("Authorization", "Bearer root");
    let reply = scraper.read("ai-keys/metrics?format=prometheus").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.headers["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );
    let samples = parse_prometheus(&reply.text)
        .unwrap_or_else(|e| panic!("not Prometheus text: {e}\n{}", reply.text));
    let get = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == name && s.labels == want)
            .collect();
        assert_eq!(found.len(), 1, "{name}{want:?} in:\n{}", reply.text);
        found[0].value
    };
    assert!(reply
        .text
        .contains("ai_keys_rotations_total{key=\"app\",mount=\"ai-keys\"}"));
    assert_eq!(
        get(
            "ai_keys_rotations_total",
            &[("key", "app"), ("mount", "ai-keys")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "ai_keys_test_outcomes_total",
            &[("key", "app"), ("mount", "ai-keys"), ("outcome", "skipped")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "ai_keys_versions_in_grace",
            &[("key", "app"), ("mount", "ai-keys")]
        ),
        1.0
    );
    assert_eq!(
        get("ai_keys_overdue", &[("key", "app"), ("mount", "ai-keys")]),
        0.0
    );
    let age = get(
        "ai_keys_current_version_age_seconds",
        &[("key", "app"), ("mount", "ai-keys")],
    );
    assert!((0.0..60.0).contains(&age), "age {age}");

    let anonymous = bao
        .client_with_token("")
        .read("ai-keys/metrics?format=prometheus")
        .await;
    assert_eq!(
        anonymous.status, 403,
        "metrics need a token: {}",
        anonymous.text
    );
}
