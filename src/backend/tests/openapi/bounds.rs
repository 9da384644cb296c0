//! Every field states its type and bounds, and the bounds the handlers check are the document's.

use super::*;

#[tokio::test]
async fn every_field_states_its_type_and_bounds() {
    let doc = Harness::new().await.openapi().await;
    assert_eq!(doc["openapi"], "3.0.2");
    let all = fields(&doc);
    assert!(all.0.len() > 60, "too few fields: {}", all.0.len());
    let mut problems = Vec::new();
    for (template, place, name, s, _) in &all.0 {
        let at = format!("{template} {place} {name}: {s}");
        match s["type"].as_str() {
            Some("integer") => {
                if !(s["minimum"].is_i64() && s["maximum"].is_i64()) {
                    problems.push(format!("integer without minimum and maximum: {at}"));
                }
                if s["format"] == "seconds"
                    && !(s["minimum"].as_i64() >= Some(0) && s["maximum"].as_i64() <= Some(CENTURY))
                {
                    problems.push(format!("duration beyond 0..100 years: {at}"));
                }
            }
            Some("string") => {
                // The `list` flags are enums, times have their format; every other text is
                // bounded.
                let bounded = s["maxLength"].is_u64()
                    || s["pattern"].is_string()
                    || s["enum"].is_array()
                    || s["format"] == "date-time";
                if !bounded {
                    problems.push(format!("text without maxLength, pattern or enum: {at}"));
                }
            }
            Some("object") => {
                if s["maxProperties"] != 64 || s["additionalProperties"]["maxLength"] != 512 {
                    problems.push(format!("map without its limits: {at}"));
                }
                if s["x-propertyNames"]["maxLength"] != 128 {
                    problems.push(format!("map without its key limit: {at}"));
                }
            }
            Some("boolean") => {}
            // String lists (`FieldType::StringList`): as many items as a list may hold, each
            // bounded.
            Some("array") => {
                if !(s["maxItems"].is_u64()
                    && s["items"]["type"] == "string"
                    && s["items"]["maxLength"].is_u64())
                {
                    problems.push(format!("list without maxItems or item bounds: {at}"));
                }
            }
            _ => problems.push(format!("no type: {at}")),
        }
        if let Some(default) = s.get("default") {
            let fits = match s["type"].as_str() {
                Some("integer") => default.is_i64(),
                Some("string") => default.is_string(),
                Some("boolean") => default.is_boolean(),
                _ => true,
            };
            if !fits {
                problems.push(format!("default not of the field's type: {at}"));
            }
        }
        if let Some(allowed) = s["enum"].as_array() {
            if s.get("default").is_some_and(|d| !allowed.contains(d)) {
                problems.push(format!("default outside the enum: {at}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The bounds each handler checks (history's limit, config's history_limit, provider timeouts,
/// ...) are the document's, which the framework enforces first.
#[tokio::test]
async fn the_bounds_handlers_check_are_in_the_document() {
    let doc = Harness::new().await.openapi().await;
    let all = fields(&doc);
    let bounded: &[(&str, &str, i64, i64)] = &[
        ("/config", "history_limit", 1, 100_000),
        ("/history/{name}", "limit", 1, 1000),
        ("/test/{name}", "version", 1, i64::from(u32::MAX)),
        ("/acknowledge/{name}", "version", 1, i64::from(u32::MAX)),
        ("/providers/{name}", "timeout", 1, 300),
        ("/overdue", "max_age", 1, CENTURY),
        ("/report", "window", 1, CENTURY),
        ("/extend/{name}", "grace_period", 1, CENTURY),
        ("/schedules/{name}", "rotation_period", 0, CENTURY),
        ("/keys/{name}", "rotation_window", 0, CENTURY),
        ("/promote/{name}", "grace_period", 0, CENTURY),
    ];
    for (template, name, min, max) in bounded {
        let s = all.schema(template, name);
        assert_eq!(
            (s["minimum"].as_i64(), s["maximum"].as_i64()),
            (Some(*min), Some(*max)),
            "{template} {name}: {s}"
        );
    }
    let defaults: &[(&str, &str, Value)] = &[
        ("/config", "history_limit", json!(1000)),
        ("/history/{name}", "limit", json!(100)),
        ("/report", "window", json!(365 * 86_400)),
        ("/report", "format", json!("json")),
        ("/metrics", "format", json!("json")),
        ("/promote/{name}", "force", json!(false)),
    ];
    for (template, name, default) in defaults {
        assert_eq!(
            &all.schema(template, name)["default"],
            default,
            "{template} {name}"
        );
    }
    let types: Vec<&str> = ProviderType::ALL.iter().map(|t| t.as_str()).collect();
    let enums: &[(&str, &str, Value)] = &[
        ("/providers/{name}", "type", json!(types)),
        ("/metrics", "format", json!(["json", "prometheus", ""])),
        ("/report", "format", json!(["json", "csv", ""])),
    ];
    for (template, name, allowed) in enums {
        assert_eq!(
            &all.schema(template, name)["enum"],
            allowed,
            "{template} {name}"
        );
    }
    let lengths: &[(&str, &str, u64)] = &[
        ("/keys/{name}", "value", 4096),
        ("/keys/{name}", "provider_key_id", 256),
        ("/stage/{name}", "rotation_id", 128),
        ("/providers/{name}", "base_url", 2048),
        ("/providers/{name}", "admin_key", 4096),
        ("/providers/{name}", "project_id", 128),
        ("/providers/{name}", "api_version", 40),
        ("/providers/{name}", "verify_path", 512),
        ("/extend/{name}", "reason", 256),
        ("/acknowledge/{name}", "reason", 256),
        ("/schedules/{name}", "rotation_schedule", 256),
        ("/history/{name}", "after", 21),
        ("/exposed", "value", 4096),
        ("/exposed", "fingerprint", 71),
        ("/exposed", "source", 256),
        ("/exposed", "reason", 1024),
    ];
    for (template, name, max) in lengths {
        assert_eq!(
            all.schema(template, name)["maxLength"],
            *max,
            "{template} {name}"
        );
    }
    for template in ["/keys/{name}", "/stage/{name}", "/rotate/{name}"] {
        assert_eq!(all.schema(template, "value")["minLength"], 1, "{template}");
    }
    // Required: path parameters, verify/'s value, acknowledge/'s version, and exposed's source
    // and reason.
    for (template, place, name, _, required) in &all.0 {
        let expected = *place == "path"
            || (template == "/verify/{name}" && name == "value")
            || (template == "/exposed" && (name == "source" || name == "reason"))
            || (template == "/acknowledge/{name}" && name == "version");
        if *place != "query" || name != "list" {
            assert_eq!(*required, expected, "{template} {place} {name}");
        }
    }
}
