use super::*;
use base64::Engine as _;

fn pem_of(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

fn good_env() -> Vec<(String, String)> {
    let cert = crate::plugin::tls::Identity::generate().unwrap().cert;
    vec![
        (COOKIE_KEY.into(), COOKIE_VALUE.into()),
        ("PLUGIN_PROTOCOL_VERSIONS".into(), "5".into()),
        ("PLUGIN_CLIENT_CERT".into(), pem_of(cert.as_ref())),
    ]
}

fn with(mut env: Vec<(String, String)>, key: &str, value: Option<&str>) -> Vec<(String, String)> {
    env.retain(|(k, _)| k != key);
    if let Some(v) = value {
        env.push((key.into(), v.into()));
    }
    env
}

#[test]
fn accepts_a_backend_v5_launch() {
    let env = good_env();
    let pem = env[2].1.clone();
    let launch = parse(env).unwrap();
    assert_eq!(launch.protocol_version, 5);
    assert_eq!(
        launch.client_cert.as_ref(),
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .as_ref()
    );
    assert_eq!(launch.socket_dir, std::path::PathBuf::from("/tmp"));
}

#[test]
fn missing_or_wrong_cookie_is_refused() {
    assert_eq!(
        parse(with(good_env(), COOKIE_KEY, None)).unwrap_err(),
        LaunchError::Cookie
    );
    assert_eq!(
        parse(with(good_env(), COOKIE_KEY, Some("nope"))).unwrap_err(),
        LaunchError::Cookie
    );
}

#[test]
fn database_plugin_probe_is_refused_by_cookie() {
    // The host probes every binary as a database plugin first (different cookie key).
    let env = vec![
        (
            "VAULT_DATABASE_PLUGIN".to_string(),
            "926a0820-aea2-be28-51d6-83cdf00e8edb".to_string(),
        ),
        ("PLUGIN_PROTOCOL_VERSIONS".into(), "5,6".into()),
    ];
    assert_eq!(parse(env).unwrap_err(), LaunchError::Cookie);
}

#[test]
fn protocol_versions_are_negotiated() {
    for offered in ["5", "4,5", " 3 , 5 ,6", "5,6"] {
        assert!(
            parse(with(good_env(), "PLUGIN_PROTOCOL_VERSIONS", Some(offered))).is_ok(),
            "{offered}"
        );
    }
    for offered in ["3,4", "", "6", "five", "55"] {
        let err = parse(with(good_env(), "PLUGIN_PROTOCOL_VERSIONS", Some(offered))).unwrap_err();
        assert!(
            matches!(err, LaunchError::Version { .. }),
            "{offered}: {err:?}"
        );
    }
    assert!(matches!(
        parse(with(good_env(), "PLUGIN_PROTOCOL_VERSIONS", None)).unwrap_err(),
        LaunchError::Version { .. }
    ));
}

#[test]
fn client_certificate_is_required() {
    assert_eq!(
        parse(with(good_env(), "PLUGIN_CLIENT_CERT", None)).unwrap_err(),
        LaunchError::ClientCert
    );
    assert_eq!(
        parse(with(good_env(), "PLUGIN_CLIENT_CERT", Some("not pem"))).unwrap_err(),
        LaunchError::ClientCert
    );
}

#[test]
fn socket_dir_prefers_plugin_dir_then_tmpdir() {
    let env = with(good_env(), "TMPDIR", Some("/var/tmp"));
    assert_eq!(
        parse(env.clone()).unwrap().socket_dir,
        std::path::PathBuf::from("/var/tmp")
    );
    let env = with(env, "PLUGIN_UNIX_SOCKET_DIR", Some("/run/x"));
    assert_eq!(
        parse(env).unwrap().socket_dir,
        std::path::PathBuf::from("/run/x")
    );
}
