//! The canonical-by-construction signer (`saml::dsig`) against libxmlsec1: for the same
//! document, digest and signature values must be identical (RSA PKCS#1 v1.5 is
//! deterministic, so equal signature values mean equal canonical SignedInfo, which
//! holds the digest of the canonical Assertion/Response), and libxmlsec1 must verify
//! what `dsig` signed. Parameters carry every character XML escapes differently.

use proptest::prelude::*;
use regex::bytes::Regex;
use sesame::adapters::grants::file::FileGrants;
use sesame::adapters::Grants as _;
use sesame::core::{decide, Decision, Request};
use sesame::saml::dsig::{DsigKey, Engine};
use sesame::saml::libxmlsec::{Signer, Targets};
use sesame::saml::response::{build_response, ResponseParams};

use crate::common::{at, cert_pem, demo_config, nonce, test_material};

/// Digest and signature values in document order, whitespace removed.
fn values(xml: &[u8]) -> Vec<String> {
    let re = Regex::new(r"<ds:(?:DigestValue|SignatureValue)>([^<]*)</ds:").unwrap();
    re.captures_iter(xml)
        .map(|c| String::from_utf8_lossy(&c[1]).split_whitespace().collect::<String>())
        .collect()
}

struct Fixture {
    params: ResponseParams,
    key: DsigKey,
    signer: Signer,
}

fn fixture() -> Fixture {
    fixture_in(None)
}

/// The fixture signing in `engine` (`None`: the faster on this CPU).
fn fixture_in(engine: Option<Engine>) -> Fixture {
    let m = test_material();
    let cfg = demo_config();
    Fixture {
        params: sesame::edge::wiring::params(&cfg, &m.cert_der),
        key: DsigKey::new(&m.key, engine).unwrap(),
        signer: Signer::new(&m.key_pem).unwrap(),
    }
}

/// The demo's Role value (its home account).
fn demo_role() -> Vec<String> {
    vec![demo_config().aws.accounts.home.value()]
}

/// The demo decision for `user` at `when`.
fn decision(user: &str, when: &str, seed: u8) -> (Request, Decision) {
    let cfg = demo_config();
    let req = Request::parse(user, "i-0fedcba9876543210", "us-east-1").unwrap();
    let groups: Vec<_> =
        ["pam-webserver", "pam-payments"].iter().map(|g| sesame::core::DirGroup::named(g)).collect();
    let (ents, _) = cfg.mapping.map(&groups);
    let grants = FileGrants::open(&crate::common::root().join("policies/demo/grants.toml"))
        .unwrap()
        .grants(&req.user, at(when))
        .unwrap();
    let d = decide(at(when), &nonce(seed), &ents, &grants, None, &cfg.policy);
    (req, d)
}

/// xmlsec1 (the command-line tool) signs the Response signature of `xml` after its
/// DigestValue and SignatureValue were emptied; the Assertion stays as it is.
fn xmlsec1_signs_response(xml: &[u8]) -> Vec<u8> {
    let re = Regex::new(r"<ds:DigestValue>[^<]*</ds:DigestValue>(.*?)<ds:SignatureValue>[^<]*</ds:").unwrap();
    let blank = re.replace(xml, &b"<ds:DigestValue></ds:DigestValue>$1<ds:SignatureValue></ds:"[..]);
    let dir = tempfile::tempdir().unwrap();
    let (doc, key) = (dir.path().join("t.xml"), crate::common::key_copy("test-signing"));
    std::fs::write(&doc, &blank).unwrap();
    let out = std::process::Command::new("xmlsec1")
        .args(["--sign", "--privkey-pem"])
        .arg(&key.key)
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response"])
        .args(["--node-xpath", "/*[local-name()='Response']/*[local-name()='Signature']"])
        .arg(&doc)
        .output()
        .expect("xmlsec1 is installed by scripts/test");
    assert!(out.status.success(), "xmlsec1 --sign: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Signs one document both ways; returns the `dsig` output after the checks: the
/// Assertion's values equal libxmlsec1's for the template, the Response's (if any)
/// equal xmlsec1's for the same signed Assertion.
fn both_ways(f: &Fixture, p: &ResponseParams, roles: &[String], user: &str, when: &str, seed: u8) -> Vec<u8> {
    let (req, d) = decision(user, when, seed);
    let u = build_response(p, roles, &req, &d, &nonce(seed)).unwrap();
    let fast = f.key.sign(&u, &p.cert_b64, p.sign_response).unwrap();
    let targets = if p.sign_response { Targets::AssertionThenResponse } else { Targets::Assertion };
    let slow = f
        .signer
        .sign(&sesame::saml::dsig::template(&u, &p.cert_b64, p.sign_response).unwrap(), targets)
        .unwrap();
    let (vf, vs) = (values(&fast), values(&slow));
    assert_eq!(vf.len(), if p.sign_response { 4 } else { 2 });
    // The Assertion's signature is the last one in document order.
    assert_eq!(vf[vf.len() - 2..], vs[vs.len() - 2..], "dsig and libxmlsec1 disagree on the Assertion");
    if p.sign_response {
        // libxmlsec1 wraps base64 text, so its Response digest covers other bytes:
        // compare with xmlsec1 signing the Response over dsig's signed Assertion.
        assert_eq!(vf[..2], values(&xmlsec1_signs_response(&fast))[..2], "disagree on the Response");
    }
    sesame::saml::libxmlsec::verify_assertion(&fast, cert_pem().as_bytes()).unwrap();
    fast
}

#[test]
fn dsig_matches_libxmlsec1_on_demo_responses() {
    for engine in [Engine::AwsLc, Engine::OpenSsl] {
        let f = fixture_in(Some(engine));
        assert_eq!(f.key.engine(), engine);
        for sign_response in [false, true] {
            let p = ResponseParams { sign_response, ..f.params.clone() };
            for when in ["2026-12-01T15:00:00Z", "2026-12-01T12:00:00Z"] {
                for user in ["alice", "bob", "carol"] {
                    both_ways(&f, &p, &demo_role(), user, when, 3);
                }
            }
        }
    }
}

/// Without an engine named, both are timed on the key and the faster signs; named, the
/// named one signs and nothing is timed.
#[test]
fn the_faster_engine_signs_unless_one_is_named() {
    let f = fixture_in(None);
    let m = f.key.measured().unwrap();
    assert!(m.aws_lc_us > 0 && m.openssl_us > 0, "{m:?}");
    let faster = if m.openssl_us < m.aws_lc_us { Engine::OpenSsl } else { Engine::AwsLc };
    assert_eq!(f.key.engine(), faster, "{m:?}");
    for engine in [Engine::AwsLc, Engine::OpenSsl] {
        let named = fixture_in(Some(engine));
        assert_eq!((named.key.engine(), named.key.measured()), (engine, None));
    }
}

/// AWS-LC signs with 3072-bit keys through other code than with 2048 (AVX-512 IFMA where
/// the CPU has it): libxmlsec1 (OpenSSL) must give the same bytes and verify them.
#[test]
fn dsig_matches_libxmlsec1_with_a_3072_bit_key() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sesame::keys::GenerateSpec {
        bits: 3072,
        key_path: dir.path().join("k.pem"),
        cert_path: dir.path().join("k.crt"),
        common_name: "dsig test".into(),
        days: 2,
        force: false,
    };
    sesame::keys::generate(&spec, at("2026-12-01T00:00:00Z")).unwrap();
    let m = sesame::keys::load(&spec.key_path, &spec.cert_path).unwrap();
    for engine in [Engine::AwsLc, Engine::OpenSsl] {
        let f = Fixture {
            params: sesame::edge::wiring::params(&demo_config(), &m.cert_der),
            key: DsigKey::new(&m.key, Some(engine)).unwrap(),
            signer: Signer::new(&m.key_pem).unwrap(),
        };
        let (req, d) = decision("alice", "2026-12-01T15:00:00Z", 5);
        let u = build_response(&f.params, &demo_role(), &req, &d, &nonce(5)).unwrap();
        let fast = f.key.sign(&u, &f.params.cert_b64, false).unwrap();
        let template = sesame::saml::dsig::template(&u, &f.params.cert_b64, false).unwrap();
        let slow = f.signer.sign(&template, Targets::Assertion).unwrap();
        let (vf, vs) = (values(&fast), values(&slow));
        assert_eq!(vf, vs, "dsig ({engine:?}) and libxmlsec1 (OpenSSL) disagree with a 3072-bit key");
        assert_eq!(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &vf[1]).unwrap().len(),
            384
        );
        let pem = std::fs::read(&spec.cert_path).unwrap();
        sesame::saml::libxmlsec::verify_assertion(&fast, &pem).unwrap();
    }
}

#[test]
fn a_response_signature_covers_the_signed_assertion() {
    let f = fixture();
    let p = ResponseParams { sign_response: true, ..f.params.clone() };
    let xml = both_ways(&f, &p, &demo_role(), "alice", "2026-12-01T15:00:00Z", 4);
    let cert = crate::common::data("test-signing.crt");
    assert!(crate::common::xmlsec1_verifies(&xml, &cert, crate::common::Sig::Response));
    assert!(crate::common::xmlsec1_verifies(&xml, &cert, crate::common::Sig::Assertion));
}

#[test]
fn characters_xml_forbids_are_refused_not_signed() {
    let f = fixture();
    let (req, d) = decision("alice", "2026-12-01T15:00:00Z", 1);
    for bad in ["a\u{0}b", "a\u{1b}b", "\u{fffe}"] {
        let p = ResponseParams { issuer: bad.into(), ..f.params.clone() };
        let e = build_response(&p, &demo_role(), &req, &d, &nonce(1)).unwrap_err();
        assert!(e.to_string().contains("character XML does not allow"), "{e}");
    }
}

fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('&'),
            Just('<'),
            Just('>'),
            Just('"'),
            Just('\''),
            Just('\t'),
            Just('\n'),
            Just('\r'),
            Just(' '),
            Just('é'),
            Just('€'),
            Just('𝄞'),
            Just('\u{85}'),
            Just('\u{2028}'),
            proptest::char::range('a', 'z'),
        ],
        0..24,
    )
    .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn dsig_matches_libxmlsec1_for_any_text(
        issuer in xml_text(), audience in xml_text(), acs in xml_text(),
        roles in proptest::collection::vec(xml_text(), 1..4),
        sign_response in any::<bool>(), seed in any::<u8>(),
    ) {
        let f = fixture();
        let p = ResponseParams {
            issuer, audience, acs_url: acs, sign_response, ..f.params.clone()
        };
        both_ways(&f, &p, &roles, "alice", "2026-12-01T15:00:00Z", seed);
    }
}
