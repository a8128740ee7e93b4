//! Encrypted assertions: AES-256-GCM content, RSA-OAEP key transport to the IAM
//! provider's certificate. xmlsec1 decrypts with the provider's key and then verifies
//! the inner signature; nothing of the assertion is readable before.

use std::process::Command;

use crate::common::{at, data, minter, nonce, root};

const ACS: &str = "https://signin.aws.amazon.com/saml/acs/SAMLSP4SHN3UIS2D558H46";

struct Provider {
    dir: tempfile::TempDir,
    key: std::path::PathBuf,
    cert: std::path::PathBuf,
}

fn provider() -> Provider {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("iam.key"), dir.path().join("iam.crt"));
    let spec = sesame::keys::GenerateSpec {
        bits: 2048,
        key_path: key.clone(),
        cert_path: cert.clone(),
        common_name: "IAM provider".into(),
        days: 10,
        force: false,
    };
    sesame::keys::generate(&spec, at("2026-11-20T00:00:00Z")).unwrap();
    Provider { dir, key, cert }
}

fn config_text(p: &Provider) -> String {
    crate::common::demo_text().replace(
        "role_max_session_seconds = 3600",
        &format!(
            "role_max_session_seconds = 3600\nacs_url = {ACS:?}\nencryption_cert = {:?}",
            p.cert.display().to_string()
        ),
    )
}

#[test]
fn the_assertion_is_encrypted_and_xmlsec1_decrypts_and_verifies_it() {
    let p = provider();
    let cfg = sesame::config::Config::from_toml(&config_text(&p), "t", &root()).unwrap();
    let m = minter(&cfg);
    let minted =
        m.mint("alice", "i-0fedcba9876543210", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(4)).unwrap();
    let xml = String::from_utf8(minted.xml().to_vec()).unwrap();
    assert!(
        xml.contains(r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">"#)
            && xml.contains("http://www.w3.org/2009/xmlenc11#aes256-gcm")
            && xml.contains("xmlenc#rsa-oaep-mgf1p")
    );
    assert!(
        !xml.contains("<saml:Assertion") && !xml.contains("payments") && !xml.contains("alice"),
        "nothing readable outside"
    );
    assert!(xml.contains(&format!("Destination=\"{ACS}\"")));

    let enc = p.dir.path().join("enc.xml");
    std::fs::write(&enc, minted.xml()).unwrap();
    let out =
        Command::new("xmlsec1").args(["--decrypt", "--privkey-pem"]).arg(&p.key).arg(&enc).output().unwrap();
    assert!(out.status.success(), "xmlsec1 --decrypt: {}", String::from_utf8_lossy(&out.stderr));
    let dec = String::from_utf8(out.stdout).unwrap();
    assert!(dec.contains("<saml:Assertion") && dec.contains(">payments<"));
    let decf = p.dir.path().join("dec.xml");
    std::fs::write(&decf, &dec).unwrap();
    let verify = Command::new("xmlsec1")
        .args(["--verify", "--enabled-key-data", "rsa", "--pubkey-cert-pem"])
        .arg(data("test-signing.crt"))
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--node-xpath",
            "//*[local-name()='Assertion']/*[local-name()='Signature']",
        ])
        .arg(&decf)
        .output()
        .unwrap();
    assert!(verify.status.success(), "inner signature: {}", String::from_utf8_lossy(&verify.stderr));
    // The wrong key cannot decrypt.
    let wrong = Command::new("xmlsec1")
        .args(["--decrypt", "--privkey-pem"])
        .arg(crate::common::key_copy("other-signing").key)
        .arg(&enc)
        .output()
        .unwrap();
    assert!(!wrong.status.success());
}

#[test]
fn encryption_needs_the_providers_acs_url() {
    let p = provider();
    let text = config_text(&p).replace(ACS, "https://signin.aws.amazon.com/saml");
    let e = sesame::config::Config::from_toml(&text, "t", &root()).unwrap_err();
    assert!(e.to_string().contains("saml/acs/<IdP-ID>"), "{e}");
}
