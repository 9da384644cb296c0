use super::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate shaped like go-plugin's AutoMTLS host certificate: ECDSA P-521 with SHA-512,
/// self-signed, CA:TRUE (which webpki refuses as an end-entity certificate).
fn host_like() -> Identity {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "HashiCorp");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key_pair).unwrap();
    Identity {
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key_pair.serialize_der()),
    }
}

#[test]
fn pinned_verifier_accepts_exactly_the_pinned_certificate() {
    let host = host_like();
    let other = host_like();
    let pinned = PinnedCert::new(host.cert.clone());
    let now = UnixTime::now();
    assert!(ClientCertVerifier::verify_client_cert(&pinned, &host.cert, &[], now).is_ok());
    assert!(ClientCertVerifier::verify_client_cert(&pinned, &other.cert, &[], now).is_err());
    // The right leaf with an unexpected chain is not what the host sends: refuse it.
    assert!(ClientCertVerifier::verify_client_cert(
        &pinned,
        &host.cert,
        std::slice::from_ref(&other.cert),
        now
    )
    .is_err());
    let name = ServerName::try_from("localhost").unwrap();
    assert!(pinned
        .verify_server_cert(&host.cert, &[], &name, &[], now)
        .is_ok());
    assert!(pinned
        .verify_server_cert(&other.cert, &[], &name, &[], now)
        .is_err());
    assert!(ClientCertVerifier::client_auth_mandatory(&pinned));
    assert!(ClientCertVerifier::root_hint_subjects(&pinned).is_empty());
}

#[test]
fn verifier_supports_p521_signatures() {
    let pinned = PinnedCert::new(host_like().cert);
    let schemes = ServerCertVerifier::supported_verify_schemes(&pinned);
    assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
}

#[test]
fn webpki_would_refuse_the_host_certificate() {
    // Documents why we pin: the stock verifier rejects the CA:TRUE host certificate.
    let host = host_like();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(host.cert.clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
    assert!(verifier
        .verify_client_cert(&host.cert, &[], UnixTime::now())
        .is_err());
}

async fn handshake(
    server: ServerConfig,
    client: ClientConfig,
) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), std::io::Error> {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let server_side = tokio::spawn(async move {
        let mut s = acceptor.accept(a).await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        s.write_all(&buf).await?;
        s.flush().await?;
        Ok::<_, std::io::Error>(s.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
    });
    let name = ServerName::try_from("localhost").unwrap();
    let client_result = async {
        let mut c = connector.connect(name, b).await?;
        c.write_all(b"ping").await?;
        c.flush().await?;
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        Ok::<_, std::io::Error>(c.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
    }
    .await;
    let server_result = server_side.await.unwrap();
    Ok((server_result?, client_result?))
}

#[tokio::test]
async fn host_with_p521_certificate_connects_to_the_plugin_with_h2() {
    let ours = Identity::generate().unwrap();
    let host = host_like();
    let server = server_config(&ours, &host.cert).unwrap();
    // The host side: presents its P-521 certificate and pins ours.
    let client = client_config(&host, &ours.cert).unwrap();
    let (s, c) = handshake(server, client).await.unwrap();
    assert_eq!(s.as_deref(), Some(&b"h2"[..]));
    assert_eq!(c.as_deref(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn plugin_dials_the_host_broker_with_its_certificate() {
    let ours = Identity::generate().unwrap();
    let host = host_like();
    // The host's broker listener requires our certificate and presents its own.
    let server = server_config(&host, &ours.cert).unwrap();
    let client = client_config(&ours, &host.cert).unwrap();
    assert!(handshake(server, client).await.is_ok());
}

#[tokio::test]
async fn a_stranger_cannot_connect() {
    let ours = Identity::generate().unwrap();
    let host = host_like();
    let stranger = host_like();
    let server = server_config(&ours, &host.cert).unwrap();
    let client = client_config(&stranger, &ours.cert).unwrap();
    assert!(handshake(server, client).await.is_err());
}

#[tokio::test]
async fn plugin_refuses_a_broker_with_another_certificate() {
    let ours = Identity::generate().unwrap();
    let host = host_like();
    let impostor = host_like();
    let server = server_config(&impostor, &ours.cert).unwrap();
    let client = client_config(&ours, &host.cert).unwrap();
    assert!(handshake(server, client).await.is_err());
}

#[test]
fn identity_debug_shows_no_key() {
    let id = Identity::generate().unwrap();
    let dbg = format!("{id:?}");
    assert!(dbg.contains("cert_len"));
    assert!(!dbg.contains("key"));
}
