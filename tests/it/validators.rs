//! Third-party validators: xmlsec1 and OneLogin python3-saml (as AWS's SP, strict,
//! signed assertions required) accept every minted response and reject altered ones.

use base64::Engine as _;
use chrono::Duration;

use crate::common::{
    at, cert_pem, data, demo_config, minter, nonce, onelogin, wide_config, xmlsec1_verifies, Sig,
};
use crate::saml_golden::{golden_path, CASES};

const ASSERTION: Sig = Sig::Assertion;
const RESPONSE: Sig = Sig::Response;

fn b64(x: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(x)
}

fn assert_onelogin_all(responses: &[Vec<u8>], when: &str, response_signed: bool, valid: bool) {
    let now = at(when) + Duration::seconds(30);
    let encoded: Vec<String> = responses.iter().map(|x| b64(x)).collect();
    for (i, r) in onelogin(&encoded, now, response_signed).iter().enumerate() {
        assert_eq!(r["valid"].as_bool(), Some(valid), "response {i}: {r}");
    }
}

#[test]
fn every_golden_is_accepted_by_both_validators() {
    let _ = cert_pem();
    for (file, _, _, when, signed) in CASES {
        let xml = std::fs::read(golden_path(file)).unwrap();
        assert!(xmlsec1_verifies(&xml, &data("test-signing.crt"), ASSERTION), "xmlsec1 rejects {file}");
        if *signed {
            assert!(
                xmlsec1_verifies(&xml, &data("test-signing.crt"), RESPONSE),
                "xmlsec1 rejects {file} (Response)"
            );
        }
        assert_onelogin_all(&[xml], when, *signed, true);
    }
}

#[test]
fn live_responses_for_the_demo_are_accepted() {
    let m = minter(&demo_config());
    let when = "2026-12-01T15:00:00Z";
    let cases = [
        ("alice", "i-0fedcba9876543210"),
        ("alice", "i-0123456789abcdef0"),
        ("alice", "i-0aaaaaaaaaaaaaaaa"),
        ("carol", "i-0123456789abcdef0"),
    ];
    let mut all = Vec::new();
    for (seed, (user, instance)) in cases.iter().enumerate() {
        let x =
            m.mint(user, instance, "us-east-1", at(when), &nonce(seed as u8 + 40)).unwrap().xml().to_vec();
        assert!(xmlsec1_verifies(&x, &data("test-signing.crt"), ASSERTION), "{user} {instance}");
        all.push(x);
    }
    assert_onelogin_all(&all, when, false, true);
}

#[test]
fn sixteen_sets_are_accepted_and_parsed_with_their_values() {
    let env = wide_config(16);
    let m = minter(&env.config());
    let when = "2026-12-01T15:00:00Z";
    let x = m.mint("wide", "i-0123456789abcdef0", "us-east-1", at(when), &nonce(3)).unwrap().xml().to_vec();
    assert!(xmlsec1_verifies(&x, &data("test-signing.crt"), ASSERTION));
    let r = &onelogin(&[b64(&x)], at(when), false)[0];
    assert_eq!(r["valid"], true, "{r}");
    let attrs = r["attributes"].as_object().unwrap();
    assert_eq!(attrs.keys().filter(|k| k.contains("PrincipalTag:")).count(), 48);
    let tag = |n: &str| attrs[&format!("https://aws.amazon.com/SAML/Attributes/PrincipalTag:{n}")][0].clone();
    assert_eq!(tag("AppGroupName"), "app0");
    assert_eq!(tag("AppId16"), "ID15");
}

fn tamperings(xml: &str) -> Vec<(&'static str, String)> {
    vec![
        ("tag value", xml.replacen(">payments<", ">webserver<", 1)),
        ("session duration", xml.replacen(">3600<", ">43200<", 1)),
        ("name id", xml.replacen(">alice</saml:NameID>", ">admin</saml:NameID>", 1)),
        ("audience", xml.replacen("urn:amazon:webservices", "urn:amazon:webservicez", 1)),
        (
            "validity",
            xml.replacen("NotOnOrAfter=\"2026-12-01T15:05:00Z\"", "NotOnOrAfter=\"2026-12-31T15:05:00Z\"", 1),
        ),
        ("signature value", {
            let i = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
            let flip = if &xml[i..i + 1] == "A" { "B" } else { "A" };
            format!("{}{}{}", &xml[..i], flip, &xml[i + 1..])
        }),
    ]
}

#[test]
fn altered_responses_are_rejected_by_both() {
    let xml = String::from_utf8(std::fs::read(golden_path("alice-payments-open.xml")).unwrap()).unwrap();
    let when = "2026-12-01T15:00:00Z";
    let mut bad = Vec::new();
    for (what, t) in tamperings(&xml) {
        assert_ne!(t, xml, "tampering {what} changed nothing");
        assert!(
            !xmlsec1_verifies(t.as_bytes(), &data("test-signing.crt"), ASSERTION),
            "xmlsec1 accepted {what}"
        );
        bad.push(t.into_bytes());
    }
    assert_onelogin_all(&bad, when, false, false);
}

#[test]
fn a_response_signed_by_another_key_is_rejected() {
    let xml = std::fs::read(golden_path("alice-payments-open.xml")).unwrap();
    assert!(!xmlsec1_verifies(&xml, &data("other-signing.crt"), ASSERTION));
    let other = crate::common::key_copy("other-signing");
    let material = sesame::keys::load(&other.key, &other.cert).unwrap();
    let m = crate::common::minter_with(&demo_config(), material);
    let forged =
        m.mint("alice", "i-0fedcba9876543210", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(7)).unwrap();
    assert_onelogin_all(&[forged.xml().to_vec()], "2026-12-01T15:00:00Z", false, false);
}

#[test]
fn an_unsigned_response_is_rejected() {
    let xml = String::from_utf8(std::fs::read(golden_path("alice-payments-open.xml")).unwrap()).unwrap();
    let (a, b) = (xml.find("<ds:Signature").unwrap(), xml.find("</ds:Signature>").unwrap() + 15);
    let stripped = format!("{}{}", &xml[..a], &xml[b..]);
    assert!(!xmlsec1_verifies(stripped.as_bytes(), &data("test-signing.crt"), ASSERTION));
    assert_onelogin_all(&[stripped.into_bytes()], "2026-12-01T15:00:00Z", false, false);
}

#[test]
fn an_expired_response_is_rejected_by_the_sp() {
    let xml = std::fs::read(golden_path("alice-payments-open.xml")).unwrap();
    let r = &onelogin(&[b64(&xml)], at("2026-12-01T15:10:00Z"), false)[0];
    assert_eq!(r["valid"], false, "{r}");
}
