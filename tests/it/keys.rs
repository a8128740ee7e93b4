//! Keys: generation (sizes, mode 0600), and loading refuses exposed or mismatched keys.

use std::os::unix::fs::PermissionsExt;

use sesame::keys::{generate, load, GenerateSpec, KeyError};

use crate::common::{at, data, key_copy};

fn spec(dir: &std::path::Path, bits: u32) -> GenerateSpec {
    GenerateSpec {
        bits,
        key_path: dir.join("k.pem"),
        cert_path: dir.join("c.pem"),
        common_name: "t".into(),
        days: 10,
        force: false,
    }
}

#[test]
fn generated_keys_are_private_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path(), 2048);
    generate(&s, at("2026-11-01T00:00:00Z")).unwrap();
    assert_eq!(std::fs::metadata(&s.key_path).unwrap().permissions().mode() & 0o777, 0o600);
    let m = load(&s.key_path, &s.cert_path).unwrap();
    assert_eq!(m.key.bits(), 2048);
    assert!(!format!("{m:?}").contains("BEGIN"), "Debug must not print key material");
}

#[test]
fn larger_sizes_on_request_and_odd_sizes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path(), 3072);
    generate(&s, at("2026-11-01T00:00:00Z")).unwrap();
    assert_eq!(load(&s.key_path, &s.cert_path).unwrap().key.bits(), 3072);
    assert!(matches!(
        generate(&spec(dir.path(), 1024), at("2026-11-01T00:00:00Z")),
        Err(KeyError::BadBits(1024))
    ));
}

#[test]
fn existing_files_are_not_replaced_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(dir.path(), 2048);
    generate(&s, at("2026-11-01T00:00:00Z")).unwrap();
    let before = std::fs::read(&s.key_path).unwrap();
    assert!(matches!(generate(&s, at("2026-11-01T00:00:00Z")), Err(KeyError::Exists { .. })));
    assert_eq!(std::fs::read(&s.key_path).unwrap(), before);
    s.force = true;
    generate(&s, at("2026-11-01T00:00:00Z")).unwrap();
    assert_ne!(std::fs::read(&s.key_path).unwrap(), before);
}

#[test]
fn a_key_readable_by_others_is_refused_with_the_fix() {
    let k = key_copy("test-signing");
    for mode in [0o640, 0o604, 0o644, 0o660] {
        std::fs::set_permissions(&k.key, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = load(&k.key, &k.cert).unwrap_err();
        assert!(matches!(e, KeyError::Permissions { .. }), "{mode:o}: {e}");
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
    std::fs::set_permissions(&k.key, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(load(&k.key, &k.cert).is_ok());
}

#[test]
fn a_certificate_of_another_key_is_refused() {
    let k = key_copy("test-signing");
    let e = load(&k.key, &data("other-signing.crt")).unwrap_err();
    assert!(matches!(e, KeyError::Mismatch { .. }), "{e}");
    assert!(e.to_string().contains("does not match"), "{e}");
}

#[test]
fn garbage_and_missing_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(load(&bad, &data("test-signing.crt")), Err(KeyError::BadKey { .. })));
    assert!(matches!(load(&dir.path().join("none"), &data("test-signing.crt")), Err(KeyError::Read { .. })));
    let k = key_copy("test-signing");
    assert!(matches!(load(&k.key, &bad), Err(KeyError::BadCert { .. })));
}

#[test]
fn the_signer_refuses_a_non_key() {
    assert!(sesame::saml::libxmlsec::Signer::new(
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    .is_err());
}
