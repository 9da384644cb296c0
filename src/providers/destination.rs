//! Where a provider's `base_url` may point: the engine sends key values (every key test) and
//! the admin key there, so a URL is refused unless it reaches a provider over TLS.
//!
//! Rules: `https`, except for loopback hosts (127.0.0.0/8, `::1`, `localhost`), which may use
//! `http` (tests and local gateways). Link-local addresses (169.254.0.0/16, fe80::/10), cloud
//! metadata endpoints (AWS `fd00:ec2::254`, Alibaba 100.100.100.200, the well-known metadata
//! host names) and the unspecified address are refused whatever the scheme.
//!
//! The host is judged as the URL parser normalises it (WHATWG): `http://2130706433`,
//! `http://0x7f.1` and `http://127.1` are 127.0.0.1, `http://0xa9fea9fe` is 169.254.169.254, and
//! IPv6 literals that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
//! `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that address too. Host
//! names are not resolved: a name whose DNS points at a refused address is not caught here.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// What a host is, for the rules above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostClass {
    /// 127.0.0.0/8, `::1`, `localhost`: `http` allowed.
    Loopback,
    /// Never a provider: the reason, for the message.
    Refused(&'static str),
    /// Anything else: `https` only.
    Remote,
}

const LINK_LOCAL: &str = "a link-local address (169.254.0.0/16, fe80::/10)";
const METADATA: &str = "a cloud metadata address";
const UNSPECIFIED: &str = "the unspecified address";

/// Host names of cloud metadata services (GCP, AWS, generic), compared without a trailing dot.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Checks the scheme and host of a parsed `base_url`; the message never repeats the URL.
pub(super) fn check(url: &Url) -> Result<(), String> {
    check_named(url, "base_url", "keys and the admin key")
}

/// [`check`] for another URL the engine sends something to: `field` names it in the message,
/// `sent` says what goes there.
pub(crate) fn check_named(url: &Url, field: &str, sent: &str) -> Result<(), String> {
    let class = match url.host() {
        Some(host) => classify(&host),
        None => return Err(format!("{field} must name a host")),
    };
    match (class, url.scheme()) {
        (HostClass::Refused(why), _) => Err(format!(
            "{field} must not point at {why}: the engine sends {sent} there"
        )),
        (HostClass::Loopback, "http" | "https") | (HostClass::Remote, "https") => Ok(()),
        (HostClass::Remote, "http") => Err(format!(
            "{field} must use https: {sent} must not cross the network in clear text (http is \
             allowed only for loopback hosts: 127.0.0.0/8, ::1, localhost)"
        )),
        _ => Err(format!(
            "{field} must start with https:// (or http:// for a loopback host)"
        )),
    }
}

/// The class of a URL host.
pub(super) fn classify(host: &Host<&str>) -> HostClass {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" {
                HostClass::Loopback
            } else if METADATA_NAMES.contains(&name.as_str()) {
                HostClass::Refused(METADATA)
            } else {
                HostClass::Remote
            }
        }
        Host::Ipv4(a) => classify_v4(*a),
        Host::Ipv6(a) => classify_v6(*a),
    }
}

fn classify_v4(a: Ipv4Addr) -> HostClass {
    let [first, second, ..] = a.octets();
    if first == 127 {
        HostClass::Loopback
    } else if first == 169 && second == 254 {
        HostClass::Refused(LINK_LOCAL)
    } else if a == Ipv4Addr::new(100, 100, 100, 200) {
        HostClass::Refused(METADATA)
    } else if first == 0 {
        HostClass::Refused(UNSPECIFIED)
    } else {
        HostClass::Remote
    }
}

fn classify_v6(a: Ipv6Addr) -> HostClass {
    let seg = a.segments();
    if a == Ipv6Addr::LOCALHOST {
        return HostClass::Loopback;
    }
    if a.is_unspecified() {
        return HostClass::Refused(UNSPECIFIED);
    }
    if seg[0] & 0xffc0 == 0xfe80 {
        return HostClass::Refused(LINK_LOCAL);
    }
    if a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return HostClass::Refused(METADATA);
    }
    // The socket goes to the IPv4 address itself: judge it as that address.
    let low32 = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    if let Some(v4) = a.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if seg[..6].iter().all(|s| *s == 0) {
        return classify_v4(low32);
    }
    // Translated to IPv4 by a gateway (NAT64, 6to4): refused if the IPv4 address is; never
    // loopback (the gateway's own 127.0.0.1 is not this machine).
    let translated = if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(low32)
    } else if seg[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        ))
    } else {
        None
    };
    match translated.map(classify_v4) {
        Some(HostClass::Refused(why)) => HostClass::Refused(why),
        _ => HostClass::Remote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(u: &str) -> Result<(), String> {
        check(&Url::parse(u).expect(u))
    }

    #[test]
    fn loopback_may_use_http() {
        for u in [
            "http://127.0.0.1:8080",
            "http://127.9.8.7",
            "http://localhost:1234/x",
            "http://LOCALHOST.",
            "http://[::1]:99",
            "http://2130706433",
            "http://0x7f.1",
            "http://127.1",
            "http://[::ffff:127.0.0.1]",
            "https://127.0.0.1",
            "https://api.openai.com",
            "https://10.0.0.5",
            "https://[2001:db8::1]",
        ] {
            assert_eq!(check_str(u), Ok(()), "{u}");
        }
    }

    #[test]
    fn remote_hosts_need_https() {
        for u in [
            "http://api.openai.com",
            "http://10.0.0.5",
            "http://gw.internal/litellm",
            "http://[2001:db8::1]",
            "http://[64:ff9b::7f00:1]",
            "http://localhost.example.com",
        ] {
            let e = check_str(u).expect_err(u);
            assert!(e.contains("https"), "{u}: {e}");
        }
    }

    #[test]
    fn link_local_and_metadata_are_refused_in_every_spelling() {
        for u in [
            "https://169.254.169.254/latest",
            "http://169.254.169.254",
            "https://169.254.0.1",
            "https://0xa9fea9fe",
            "https://2852039166",
            "https://0251.0376.0251.0376",
            "https://169.254.43518",
            "https://[::ffff:169.254.169.254]",
            "https://[::ffff:a9fe:a9fe]",
            "https://[::169.254.169.254]",
            "https://[64:ff9b::a9fe:a9fe]",
            "https://[2002:a9fe:a9fe::1]",
            "https://[fe80::1]",
            "https://[FE80::abcd]",
            "https://[febf::1]",
            "https://[fd00:ec2::254]",
            "https://[fd00:0ec2:0000::0254]",
            "https://100.100.100.200",
            "https://metadata.google.internal",
            "https://METADATA.GOOGLE.INTERNAL.",
            "https://metadata",
            "https://0.0.0.0",
            "http://0",
            "https://[::]",
        ] {
            let e = check_str(u).expect_err(u);
            assert!(e.contains("must not point at"), "{u}: {e}");
            assert!(!e.contains(u), "no URL: {e}");
        }
    }

    #[test]
    fn other_schemes_are_refused() {
        for u in [
            "ftp://api.openai.com",
            "file:///etc/passwd",
            "ws://127.0.0.1",
        ] {
            assert!(check_str(u).is_err(), "{u}");
        }
    }
}
