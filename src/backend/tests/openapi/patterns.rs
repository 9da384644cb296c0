//! The document's patterns accept exactly what the engine's own checks accept.

use super::*;

/// Whether `ProviderConfig::validate` accepts provider setting `name` set to `v`.
fn setting_accepted(name: &str, v: &str) -> bool {
    let mut c = ProviderConfig::new(ProviderType::Openai);
    let setting = match name {
        "project_id" => &mut c.project_id,
        "api_version" => &mut c.api_version,
        "verify_path" => &mut c.verify_path,
        other => panic!("no setting {other}"),
    };
    *setting = Some(v.to_owned());
    c.validate().is_ok()
}

fn pattern(doc: &Value, template: &str, name: &str) -> regex::Regex {
    let all = fields(doc);
    let source = all.schema(template, name)["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{template} {name} has no pattern"));
    regex::Regex::new(source).unwrap_or_else(|e| panic!("{template} {name}: {e}"))
}

/// Each pattern the document shows for a provider setting, a key value, an admin key or a
/// history cursor accepts exactly what the engine's own check (`ProviderConfig::validate`,
/// `validate_key_value`, the cursor parser) accepts, on a non-empty value (the empty string
/// removes a setting).
#[tokio::test]
async fn patterns_accept_what_the_checks_accept() {
    let doc = Harness::new().await.openapi().await;
    let setting_cases: &[(&str, &[&str], usize)] = &[
        (
            "project_id",
            &[
                "proj_abc123",
                "a",
                ".",
                "-",
                "a.b-c_d",
                "a b",
                "a/b",
                "é",
                "p?x",
                " p",
                "",
            ],
            128,
        ),
        (
            "api_version",
            &[
                "2024-10-21",
                "2025-04-01-preview",
                "v1.0",
                "2024&x=1",
                "a_b",
                "é",
                " 1",
                "",
            ],
            40,
        ),
        (
            "verify_path",
            &[
                "/v1/models",
                "/health",
                "health",
                "/",
                "//",
                "/.",
                "/a.",
                "/a.b",
                "/./x",
                "/.well-known/x",
                "/..",
                "/a..",
                "/a..b",
                "/../x",
                "/a?b",
                "/a#b",
                "/a b",
                "/a\tb",
                "/ä",
                "/x\"y",
                "/~$%&'()*+,-;<=>@[]^_`{|}\\",
                "",
            ],
            512,
        ),
    ];
    for (name, samples, max) in setting_cases {
        let re = pattern(&doc, "/providers/{name}", name);
        let long_ok = "a".repeat(*max);
        let long_bad = "a".repeat(*max + 1);
        let mut all: Vec<String> = samples.iter().map(|s| (*s).to_owned()).collect();
        if *name == "verify_path" {
            all.push(format!("/{}", &long_ok[1..]));
            all.push(format!("/{}", &long_bad[1..]));
        } else {
            all.push(long_ok);
            all.push(long_bad);
        }
        for v in all.iter().filter(|v| !v.is_empty()) {
            let documented = re.is_match(v) && v.len() <= *max;
            assert_eq!(documented, setting_accepted(name, v), "{name} {v:?}");
        }
        assert!(re.is_match(""), "{name}: the empty string removes it");
    }

    let values = [
        "sk-abc",
        "a\nb",
        "a\tb",
        "a\rb",
        "\u{0}",
        "a\u{7f}b",
        "a\u{80}b",
        "a\u{85}b",
        "a\u{9f}b",
        "a\u{a0}b",
        "é",
        "a\u{200b}b",
        "a b",
        "🔑",
    ];
    for (template, name) in [
        ("/keys/{name}", "value"),
        ("/stage/{name}", "value"),
        ("/rotate/{name}", "value"),
        ("/providers/{name}", "admin_key"),
    ] {
        let re = pattern(&doc, template, name);
        for v in values {
            assert_eq!(
                re.is_match(v),
                validate_key_value(v).is_ok(),
                "{template} {name} {v:?}"
            );
        }
    }

    // Cursors: every one history/ returns matches; what matches parses, up to u64's range.
    let re = pattern(&doc, "/history/{name}", "after");
    for n in [0, 1, 42, u64::MAX] {
        assert!(re.is_match(&history_cursor(n)), "{n}");
    }
    for v in [
        "e0",
        "e42",
        "e18446744073709551615",
        "e",
        "42",
        "e-1",
        "ex",
        "E5",
        "e 5",
        "e+5",
    ] {
        if re.is_match(v) {
            assert!(parse_history_cursor(v).is_some(), "{v:?}");
        }
    }
}
