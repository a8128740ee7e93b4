//! IdP metadata: the shape IAM's create-saml-provider needs, valid against the SAML 2.0
//! metadata schema (python3-saml's copy of the OASIS XSDs), and the golden (signed with the public test key, so never to be uploaded).

use base64::Engine as _;
use serde_json::json;

use crate::common::{at, data, demo_config, demo_config_with, root, run_python, test_material};

fn demo_metadata() -> Vec<u8> {
    sesame::edge::trust::metadata(&demo_config(), &test_material(), at("2026-12-01T00:00:00Z")).unwrap()
}

#[test]
fn metadata_validates_against_the_saml_schema() {
    let xml = String::from_utf8(demo_metadata()).unwrap();
    let r = run_python(&json!({"mode": "metadata", "documents": [xml]}));
    assert_eq!(r[0]["valid"], true, "{}", r[0]);
    // A broken document is caught by the same check (the check can fail).
    let broken = xml.replace("md:IDPSSODescriptor", "md:IdpDescriptor");
    let r = run_python(&json!({"mode": "metadata", "documents": [broken]}));
    assert_eq!(r[0]["valid"], false);
}

#[test]
fn metadata_carries_entity_certificate_formats_and_validity() {
    let xml = String::from_utf8(demo_metadata()).unwrap();
    assert!(xml.contains(r#"entityID="https://sesame.localhost/idp""#));
    assert!(xml.contains(r#"validUntil="2027-12-01T00:00:00Z""#));
    assert!(xml.contains(r#"<md:KeyDescriptor use="signing">"#));
    assert!(xml
        .contains("<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"));
    let der = test_material().cert_der;
    assert!(xml.contains(&base64::engine::general_purpose::STANDARD.encode(der)));
}

#[test]
fn rotation_candidates_are_published_after_the_current_certificate() {
    let other = data("other-signing.crt").display().to_string();
    let cfg = demo_config_with(|t| {
        t.replace(
            "generate_if_missing = true",
            &format!("generate_if_missing = true\npublish_certs = [{other:?}]"),
        )
    });
    let xml = String::from_utf8(
        sesame::edge::trust::metadata(&cfg, &test_material(), at("2026-12-01T00:00:00Z")).unwrap(),
    )
    .unwrap();
    assert_eq!(xml.matches(r#"<md:KeyDescriptor use="signing">"#).count(), 2);
    let r = run_python(&json!({"mode": "metadata", "documents": [xml]}));
    assert_eq!(r[0]["valid"], true);
}

#[test]
fn committed_demo_metadata_is_current() {
    let path = root().join("tests/data/golden/demo-idp-metadata.xml");
    let xml = demo_metadata();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &xml).unwrap();
    }
    assert!(
        std::fs::read(&path).unwrap() == xml,
        "tests/data/golden/demo-idp-metadata.xml is stale; UPDATE_GOLDEN=1 rewrites it"
    );
}
