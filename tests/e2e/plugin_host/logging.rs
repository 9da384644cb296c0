//! Logging through the host: the plugin's lines are parsed hclog entries in the server log.

use regex::Regex;

use super::{log_lines, EXIT_DEADLINE, INIT_MESSAGE};
use crate::support::{server, Bao};

/// The plugin's log lines reach the server's log as parsed hclog entries, at their level,
/// under the mount's logger.
#[tokio::test]
async fn plugin_log_lines_are_structured_in_the_server_log() {
    let bao = Bao::start().await;
    let mounts = bao.client().read("sys/mounts").await;
    mounts.expect_status(200);
    let accessor = mounts.data()["ai-keys/"]["accessor"]
        .as_str()
        .expect("accessor of ai-keys/")
        .to_owned();
    assert!(accessor.starts_with("ai-keys_"), "{accessor}");

    bao.wait_for("the Initialize log line", EXIT_DEADLINE, || {
        !log_lines(&bao, INIT_MESSAGE).is_empty()
    })
    .await;
    // `<timestamp> [INFO]  secrets.<type>.<accessor>.<name>.<binary>: <message>: <key=value ...>`
    let pattern = Regex::new(&format!(
        r"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z \[INFO\] +secrets\.ai-keys\.{}\.ai-keys\.{}: {}: (.*)$",
        regex::escape(&accessor),
        regex::escape(server::PLUGIN_COMMAND),
        regex::escape(INIT_MESSAGE),
    ))
    .unwrap();
    let lines = log_lines(&bao, INIT_MESSAGE);
    for line in &lines {
        let fields = pattern
            .captures(line)
            .unwrap_or_else(|| panic!("not a parsed INFO entry of the mount's logger: {line}"))
            .get(1)
            .unwrap()
            .as_str();
        let pairs: Vec<&str> = fields.split_whitespace().collect();
        let version = format!("version={}", env!("CARGO_PKG_VERSION"));
        assert!(pairs.contains(&version.as_str()), "no {version}: {line}");
        assert!(pairs.contains(&"@module=ai-keys"), "{line}");
        // The host adds the entry's own @timestamp; 0001-01-01 means it was missing or unparsed.
        let timestamp = pairs
            .iter()
            .find_map(|p| p.strip_prefix("timestamp="))
            .unwrap_or_else(|| panic!("no timestamp= (not parsed as hclog): {line}"));
        assert!(!timestamp.starts_with("0001-"), "{line}");
    }

    // Nothing the plugin wrote was logged raw (an unparsed JSON line would appear verbatim at
    // DEBUG, which this server logs).
    let log = bao.server_log();
    for raw in ["\"@message\"", "\"@level\"", "\"@timestamp\""] {
        assert!(
            !log.contains(raw),
            "a raw hclog line in server.log:\n{}",
            log_lines(&bao, raw).join("\n")
        );
    }
}
