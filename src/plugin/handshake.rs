//! The one line a plugin writes on stdout (plugin-protocol.md 1.5):
//! `CORE|APP|NETWORK|ADDR|PROTOCOL|CERT`, the certificate as DER in standard base64 without
//! padding (the host rejects padding).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use std::io::Write;

/// go-plugin's core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// Formats the handshake line, newline included.
pub fn line(app_version: u32, network: &str, address: &str, cert_der: &[u8]) -> String {
    format!(
        "{CORE_PROTOCOL_VERSION}|{app_version}|{network}|{address}|grpc|{}\n",
        STANDARD_NO_PAD.encode(cert_der)
    )
}

/// Writes the line to stdout and flushes it. Nothing else is ever written to stdout.
pub fn announce(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_six_fields_and_unpadded_base64() {
        // 4 bytes encode to 6 base64 characters plus "==" padding when padded.
        let l = line(5, "unix", "/tmp/plugin123", &[1, 2, 3, 4]);
        assert_eq!(l, "1|5|unix|/tmp/plugin123|grpc|AQIDBA\n");
        let fields: Vec<&str> = l.trim_end().split('|').collect();
        assert_eq!(fields.len(), 6);
        assert!(!fields[5].contains('='));
    }

    #[test]
    fn certificate_round_trips_through_the_line() {
        let der: Vec<u8> = (0..=255u8).cycle().take(517).collect();
        let l = line(5, "unix", "/x", &der);
        let b64 = l.trim_end().rsplit('|').next().unwrap();
        assert_eq!(STANDARD_NO_PAD.decode(b64).unwrap(), der);
    }
}
