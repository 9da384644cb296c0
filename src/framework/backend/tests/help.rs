//! Help: the root help, a path's help text and its OpenAPI document.

use super::*;

#[tokio::test]
async fn root_help() {
    let (b, s) = (backend(), storage());
    let resp = call(&b, req(Operation::Help, "", &s)).await;
    let keys: Vec<&String> = resp.data.keys().collect();
    assert_eq!(keys, ["help", "openapi", "see_also"]);
    assert_eq!(resp.data["see_also"], Value::Null);
    let help = resp.data["help"].as_str().unwrap();
    assert!(
        help.starts_with("## DESCRIPTION\n\nManages AI keys.\n\n## PATHS\n\nThe following paths"),
        "{help}"
    );
    let name_route = format!("^keys/{}$", generic_name_regex("name"));
    let expected_tail =
        format!("    {name_route}\n        Manage one key.\n\n    ^keys/?$\n        List keys.");
    assert!(help.ends_with(&expected_tail), "{help}");
    assert!(help.find("^config$").unwrap() < help.find("^first/(?P<rest>.+)$").unwrap());
    let doc = &resp.data["openapi"];
    assert_eq!(doc["openapi"], "3.0.2");
    assert_eq!(doc["info"]["version"], "v1.2.3");
    for p in [
        "/keys/{name}",
        "/keys/",
        "/config",
        "/first/{rest}",
        "/first/second",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from {doc}");
    }
}

#[tokio::test]
async fn path_help_text_and_document() {
    let (b, s) = (backend(), storage());
    let resp = call(&b, req(Operation::Help, "keys/k1", &s)).await;
    let expected = format!(
        "Request:        keys/k1\nMatching Route: ^keys/{}$\n\nManage one key.\n\n## PARAMETERS\n\n    \
         api_key (string)\n\n        The key.\n\n    enabled (bool)\n\n        Whether enabled.\n\n    \
         name (name string)\n\n        Name of the key.\n\n    ttl (duration (sec))\n\n        Lifetime.\n\n\
         ## DESCRIPTION\n\nKeys hold versions.\nLong text.",
        generic_name_regex("name")
    );
    assert_eq!(resp.data["help"], expected);
    let paths = resp.data["openapi"]["paths"].as_object().unwrap();
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["/keys/{name}"]);

    // A list route answers help without its trailing slash; no fields, no synopsis placeholders lost.
    let resp = call(&b, req(Operation::Help, "keys", &s)).await;
    assert_eq!(
        resp.data["help"],
        "Request:        keys\nMatching Route: ^keys/?$\n\nList keys.\n\n\n## DESCRIPTION\n\n<no description>"
    );
    let err = b
        .handle_request(req(Operation::Help, "nope", &s))
        .await
        .unwrap_err();
    assert_eq!(err, Error::UnsupportedPath);
}
