//! The engine's whole OpenAPI document (the mount's root help) states the constraints the engine
//! enforces: every field has a type, every integer and duration its bounds, every text its
//! length, every map its limits; the bounds the handlers check are the document's; the patterns
//! the document shows accept what the engine's own checks accept; and a value outside them is a
//! 400 naming the field before any handler runs.
//!
//! By subject: [`bounds`] (every field states its type and bounds, and they are the ones the
//! handlers check), [`refusals`] (a value outside them is a 400 first), [`patterns`] (a pattern
//! accepts what the engine's check accepts), [`keywords`] (OpenAPI 3.0 keywords only). The
//! field walk below is theirs.

mod bounds;
mod keywords;
mod patterns;
mod refusals;

use serde_json::{json, Map, Value};

use crate::backend::record::{history_cursor, parse_history_cursor};
use crate::backend::testing::{expect_bad_request, Harness};
use crate::framework::Operation;
use crate::providers::{ProviderConfig, ProviderType};
use crate::rotation::validate_key_value;

/// 100 years in seconds: the framework's bound on every duration.
const CENTURY: i64 = 36_525 * 86_400;

/// Every field of every operation: (path template, where, field name, schema), where is
/// `path`, `query` or `body`; `required` says whether the document requires it.
struct Fields(Vec<(String, &'static str, String, Value, bool)>);

fn fields(doc: &Value) -> Fields {
    let mut out = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let mut params: Vec<&Value> = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        for method in ["get", "post", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            params.extend(op["parameters"].as_array().into_iter().flatten());
            for content in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let schema = &content.1["schema"];
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (name, s) in schema["properties"].as_object().into_iter().flatten() {
                    let req = required.contains(&name.as_str());
                    out.push((template.clone(), "body", name.clone(), s.clone(), req));
                }
            }
        }
        for p in params {
            let place = if p["in"] == "path" { "path" } else { "query" };
            let name = p["name"].as_str().expect("parameter name").to_owned();
            let req = p["required"] == true;
            out.push((template.clone(), place, name, p["schema"].clone(), req));
        }
    }
    Fields(out)
}

impl Fields {
    /// The schema of `name` on `template` (every occurrence must agree).
    fn schema(&self, template: &str, name: &str) -> &Value {
        let found: Vec<&Value> = self
            .0
            .iter()
            .filter(|(t, _, n, _, _)| t == template && n == name)
            .map(|(_, _, _, s, _)| s)
            .collect();
        assert!(!found.is_empty(), "{template} has no field {name}");
        assert!(
            found.windows(2).all(|w| w[0] == w[1]),
            "{template} {name}: {found:?}"
        );
        found[0]
    }
}
