//! `help` replies: text in the layout of Go's framework templates, plus an
//! OpenAPI document (plugin-protocol.md 9).

use serde_json::{Map, Value};

use super::backend::Backend;
use super::openapi;
use super::path::Path;
use super::request::{Request, Response};

const PATHS_INTRO: &str = "The following paths are supported by this backend. To view help for
any of the paths below, use the help command with any route matching
the path pattern. Note that depending on the policy of your auth token,
you may or may not be able to access certain paths.";

/// Appended to the help of a [`Path::strict`] path.
pub(super) const STRICT_NOTE: &str = "Unknown fields are refused with a 400, not ignored with \
a warning as on other paths: this path acts at once, and a misspelt field must never let it act \
with settings you did not mean.";

/// Root help: backend help, every route with its synopsis, and the OpenAPI
/// document of all paths.
pub(super) fn root_help(backend: &Backend, req: &Request) -> Response {
    let mut routes: Vec<(String, &str)> = backend
        .paths
        .iter()
        .map(|p| (p.route(), p.synopsis.trim()))
        .collect();
    routes.sort();
    let mut text = format!(
        "## DESCRIPTION\n\n{}\n\n## PATHS\n\n{PATHS_INTRO}\n\n",
        backend.help.trim()
    );
    for (route, synopsis) in routes {
        text.push_str(&indent(4, &route));
        text.push('\n');
        text.push_str(&indent(8, synopsis));
        text.push_str("\n\n");
    }
    let paths: Vec<&Path> = backend.paths.iter().collect();
    let doc = openapi::document(&paths, backend.version_str(), &prefix(req));
    reply(text.trim(), doc)
}

/// Help for one route, in the layout of `vault path-help`.
pub(super) fn path_help(backend: &Backend, path: &Path, req: &Request) -> Response {
    let synopsis = or_placeholder(path.synopsis.trim(), "<no synopsis>");
    let description = or_placeholder(path.description.trim(), "<no description>");
    let mut text = format!(
        "Request:        {}\nMatching Route: {}\n\n{synopsis}\n\n",
        req.path,
        path.route()
    );
    let mut fields: Vec<_> = path.fields.iter().collect();
    fields.sort_by(|a, b| a.name.cmp(&b.name));
    if !fields.is_empty() {
        text.push_str("## PARAMETERS\n");
        for f in fields {
            let desc = or_placeholder(f.description.trim(), "<no description>");
            text.push_str(&format!(
                "\n{} ({})\n\n{}\n",
                indent(4, &f.name),
                f.kind.help_name(),
                indent(8, desc)
            ));
        }
    }
    text.push_str(&format!("\n## DESCRIPTION\n\n{description}"));
    if path.strict {
        text.push_str(&format!("\n\n{STRICT_NOTE}"));
    }
    let doc = openapi::document(&[path], backend.version_str(), &prefix(req));
    reply(text.trim(), doc)
}

fn reply(help: &str, doc: Value) -> Response {
    let mut data = Map::new();
    data.insert("help".into(), Value::from(help));
    data.insert("see_also".into(), Value::Null);
    data.insert("openapi".into(), doc);
    Response {
        data,
        ..Response::default()
    }
}

/// The mount type the host passes for OpenAPI names (may be absent).
fn prefix(req: &Request) -> String {
    req.data
        .get("requestResponsePrefix")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn or_placeholder<'a>(s: &'a str, placeholder: &'a str) -> &'a str {
    if s.is_empty() {
        placeholder
    } else {
        s
    }
}

/// Indents every line of `text` by `n` spaces.
fn indent(n: usize, text: &str) -> String {
    let pad = " ".repeat(n);
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
