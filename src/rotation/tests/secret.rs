//! `SecretValue` and `validate_key_value`.

use super::super::{fingerprint_of, validate_key_value, SecretValue, MAX_KEY_VALUE_BYTES};
use super::sv;

#[test]
fn fingerprint_is_sha256_prefix_of_the_value() {
    // printf %s "sk-test" | sha256sum
    assert_eq!(sv("sk-test").fingerprint(), "sha256:f3abf2a6cc4f0098");
    assert_eq!(fingerprint_of(""), "sha256:e3b0c44298fc1c14");
    assert_eq!(sv("sk-test").fingerprint().len(), "sha256:".len() + 16);
}

#[test]
fn expose_returns_the_value() {
    assert_eq!(sv("sk-test").expose(), "sk-test");
}

#[test]
fn ct_eq_matches_only_the_exact_value() {
    let v = sv("sk-test");
    assert!(v.ct_eq("sk-test"));
    assert!(!v.ct_eq("sk-tesT"));
    assert!(!v.ct_eq("sk-tes"));
    assert!(!v.ct_eq("sk-test "));
    assert!(!v.ct_eq(""));
    assert!(sv("").ct_eq(""));
}

#[test]
fn equality_compares_values() {
    assert_eq!(sv("a"), sv("a"));
    assert_ne!(sv("a"), sv("b"));
    let v = sv("sk-clone");
    assert_eq!(v.clone().expose(), "sk-clone");
}

#[test]
fn debug_is_redacted() {
    let v = sv("sk-very-secret");
    assert_eq!(format!("{v:?}"), "SecretValue([redacted])");
    assert!(!format!("{v:#?}").contains("very-secret"));
    assert!(!format!("{:?}", Some(v)).contains("very-secret"));
}

#[test]
fn serializes_as_a_plain_json_string() {
    let v = sv("sk-\"quoted\"");
    let json = serde_json::to_string(&v).expect("serialize");
    assert_eq!(json, r#""sk-\"quoted\"""#);
    let back: SecretValue = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back.expose(), "sk-\"quoted\"");
    assert!(serde_json::from_str::<SecretValue>("42").is_err());
}

#[test]
fn validate_accepts_ordinary_keys() {
    assert_eq!(validate_key_value("sk-proj-abc_DEF-123"), Ok(()));
    assert_eq!(validate_key_value("x"), Ok(()));
    assert_eq!(validate_key_value("ключ with spaces"), Ok(()));
    assert_eq!(validate_key_value(&"a".repeat(MAX_KEY_VALUE_BYTES)), Ok(()));
}

#[test]
fn validate_refuses_empty() {
    let err = validate_key_value("").expect_err("empty");
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn validate_refuses_more_than_4096_bytes() {
    let long = "s".repeat(MAX_KEY_VALUE_BYTES + 1);
    let err = validate_key_value(&long).expect_err("too long");
    assert!(err.contains("4097") && err.contains("4096"), "{err}");
    assert!(!err.contains("sss"), "{err}");
    // Multi-byte characters count in bytes: 2049 two-byte characters are 4098 bytes.
    assert!(validate_key_value(&"é".repeat(2049)).is_err());
    assert!(validate_key_value(&"é".repeat(2048)).is_ok());
}

#[test]
fn validate_refuses_control_characters_without_echoing_the_value() {
    for bad in [
        "sk-SECRET\n",
        "sk-SECRET\r",
        "\tsk-SECRET",
        "sk-\0SECRET",
        "sk-SECRET\u{7f}",
        "sk-SECRET\u{85}",
        "sk-SE\u{1b}[0mCRET",
    ] {
        let err = validate_key_value(bad).expect_err("control character");
        assert!(err.contains("control character"), "{err}");
        assert!(!err.contains("SECRET") && !err.contains("SE"), "{err}");
    }
}

#[test]
fn validate_refuses_a_value_of_only_whitespace() {
    for blank in [" ", "   ", "\u{3000}"] {
        let err = validate_key_value(blank).expect_err("blank");
        assert!(err.contains("whitespace"), "{err}");
    }
    assert_eq!(validate_key_value(" sk-with-space"), Ok(()));
}
