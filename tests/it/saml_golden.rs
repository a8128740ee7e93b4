//! Golden files: signed responses with pinned time, IDs and nonce, byte for byte.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test --test it golden` (then review the diff;
//! tests/it/validators.rs checks every golden with xmlsec1 and python3-saml).

use std::path::PathBuf;

use crate::common::{at, demo_config, demo_config_with, minter, nonce, root};

/// (file, user, instance, at, sign the Response too)
pub const CASES: &[(&str, &str, &str, &str, bool)] = &[
    ("alice-payments-open.xml", "alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z", false),
    ("alice-payments-closed.xml", "alice", "i-0fedcba9876543210", "2026-12-01T12:00:00Z", false),
    ("alice-two-sets.xml", "alice", "i-00000000000000000", "2026-12-01T15:00:00Z", false),
    ("carol-webserver-expired.xml", "carol", "i-0123456789abcdef0", "2026-12-01T15:00:00Z", false),
    ("alice-webserver-response-signed.xml", "alice", "i-0123456789abcdef0", "2026-12-01T15:00:00Z", true),
];

pub fn golden_path(name: &str) -> PathBuf {
    root().join("tests/data/golden").join(name)
}

/// Mints one golden case with the test key and nonce 7.
pub fn mint_case(user: &str, instance: &str, when: &str, sign_response: bool) -> Vec<u8> {
    let cfg = if sign_response {
        demo_config_with(|t| t.replace("[idp]\n", "[idp]\nsign_response = true\n"))
    } else {
        demo_config()
    };
    minter(&cfg).mint(user, instance, "us-east-1", at(when), &nonce(7)).unwrap().xml().to_vec()
}

#[test]
fn golden_responses_are_byte_stable() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (file, user, instance, when, signed) in CASES {
        let xml = mint_case(user, instance, when, *signed);
        let path = golden_path(file);
        if update {
            std::fs::write(&path, &xml).unwrap();
            continue;
        }
        let want = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
        assert!(xml == want, "{file} differs from the golden; if intended, regenerate with UPDATE_GOLDEN=1");
    }
}

#[test]
fn golden_shape_has_what_aws_requires() {
    let xml = String::from_utf8(std::fs::read(golden_path("alice-payments-open.xml")).unwrap()).unwrap();
    for needle in [
        r#"Destination="https://signin.aws.amazon.com/saml""#,
        r#"<saml:Audience>urn:amazon:webservices</saml:Audience>"#,
        r#"Method="urn:oasis:names:tc:SAML:2.0:cm:bearer""#,
        r#"Recipient="https://signin.aws.amazon.com/saml""#,
        r#"Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice</saml:NameID>"#,
        r#"<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>"#,
        r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>"#,
        r#"<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>"#,
        r#"Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"><saml:AttributeValue>3600<"#,
        r#"Name="https://aws.amazon.com/SAML/Attributes/SourceIdentity"><saml:AttributeValue>alice<"#,
        r#"Name="https://aws.amazon.com/SAML/Attributes/PrincipalTag:AppGroupName"><saml:AttributeValue>payments<"#,
    ] {
        assert!(xml.contains(needle), "missing {needle}");
    }
    assert_eq!(xml.matches("<saml:SubjectConfirmation ").count(), 1, "exactly one SubjectConfirmation");
    // The signature sits right after the Assertion's Issuer.
    let a = xml.find("<saml:Assertion ").unwrap();
    let issuer_end = a + xml[a..].find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    assert!(xml[issuer_end..].starts_with("<ds:Signature"), "Signature must follow the Assertion's Issuer");
}

#[test]
fn two_sets_use_numbered_names() {
    let xml = String::from_utf8(std::fs::read(golden_path("alice-two-sets.xml")).unwrap()).unwrap();
    for name in ["AppGroupName", "AppId", "ReleaseId", "AppGroupName2", "AppId2", "ReleaseId2"] {
        let attr = format!("PrincipalTag:{name}\"");
        assert_eq!(xml.matches(&attr).count(), 1, "{name}");
    }
    assert!(!xml.contains("PrincipalTag:AppGroupName3"));
}

#[test]
fn closed_golden_carries_only_sentinels() {
    let xml = String::from_utf8(std::fs::read(golden_path("alice-payments-closed.xml")).unwrap()).unwrap();
    assert!(!xml.contains(">payments<") && !xml.contains(">PAY<") && !xml.contains(">2.3<"));
    assert_eq!(xml.matches(&format!(">{}<", nonce(7).sentinel())).count(), 3);
    assert!(xml.contains("SessionDuration\"><saml:AttributeValue>900<"));
}

/// The role picker's shape: one Role attribute, one value per account, the instance's
/// account first; accepted by xmlsec1 like every golden.
#[test]
fn the_role_picker_golden_is_byte_stable_and_verifies() {
    let input = sesame::service::mint::MintInput {
        user: "alice".into(),
        instance_id: "i-0123456789abcdef0".into(),
        region: "us-east-1".into(),
        role_picker: true,
        ..Default::default()
    };
    let xml = minter(&demo_config())
        .mint_input(&input, at("2026-12-01T15:00:00Z"), &nonce(7))
        .unwrap()
        .xml()
        .to_vec();
    let path = golden_path("alice-role-picker.xml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &xml).unwrap();
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        xml == want,
        "alice-role-picker.xml differs from the golden; if intended, regenerate with UPDATE_GOLDEN=1"
    );
    let text = String::from_utf8(xml).unwrap();
    assert!(text.contains(concat!(
        r#"<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">"#,
        "<saml:AttributeValue>arn:aws:iam::111122223333:role/sesame-session-manager,arn:aws:iam::111122223333:saml-provider/sesame</saml:AttributeValue>",
        "<saml:AttributeValue>arn:aws:iam::444455556666:role/sesame-session-manager,arn:aws:iam::444455556666:saml-provider/sesame</saml:AttributeValue>",
        "</saml:Attribute>"
    )));
    let cert = crate::common::data("test-signing.crt");
    assert!(crate::common::xmlsec1_verifies(text.as_bytes(), &cert, crate::common::Sig::Assertion));
}
