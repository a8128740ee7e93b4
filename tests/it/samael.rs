//! samael as one more independent consumer: its own SAML model (serde over quick-xml)
//! parses live responses and the IdP metadata, and the fields AWS reads must be what
//! sesame decided. It runs as `tests/samael` (a separate package: samael pins a libxml
//! crate version the xmlsec crate cannot share), built by `scripts/test`, which exports
//! `SESAME_TEST_SAMAEL`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use sesame::core::decision::SetStatus;

use crate::common::{at, demo_config, demo_config_with, minter, nonce};

fn consumer() -> PathBuf {
    let p = std::env::var("SESAME_TEST_SAMAEL").unwrap_or_else(|_| {
        panic!(
            "SESAME_TEST_SAMAEL is not set: run the suite with scripts/test, which builds tests/samael \
             (or cargo build --manifest-path tests/samael/Cargo.toml and export its binary's path)"
        )
    });
    PathBuf::from(p)
}

/// samael's reading of each file, one JSON object per file.
fn parse(kind: &str, files: &[PathBuf]) -> Vec<Value> {
    let out = Command::new(consumer()).arg(kind).args(files).output().unwrap();
    assert!(out.status.success(), "samael could not parse: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const ATTR: &str = "https://aws.amazon.com/SAML/Attributes/";

#[test]
fn samael_reads_in_each_response_what_sesame_decided() {
    let dir = tempfile::tempdir().unwrap();
    let plain = demo_config();
    let signed = demo_config_with(|t| t.replace("[idp]\n", "[idp]\nsign_response = true\n"));
    // (user, instance, at, config): open, closed, two sets, Response signed too.
    let cases = [
        ("alice", "i-0fedcba9876543210", "2026-12-01T15:00:00Z", &plain),
        ("alice", "i-0fedcba9876543210", "2026-12-01T12:00:00Z", &plain),
        ("alice", "i-00000000000000000", "2026-12-01T15:00:00Z", &plain),
        ("alice", "i-0123456789abcdef0", "2026-12-01T15:00:00Z", &signed),
    ];
    let mut files = Vec::new();
    let mut minted = Vec::new();
    for (i, (user, instance, when, cfg)) in cases.iter().enumerate() {
        let m = minter(cfg).mint(user, instance, "us-east-1", at(when), &nonce(i as u8 + 60)).unwrap();
        let f = dir.path().join(format!("r{i}.xml"));
        std::fs::write(&f, m.xml()).unwrap();
        files.push(f);
        minted.push((m, *cfg));
    }
    let parsed = parse("response", &files);
    assert_eq!(parsed.len(), cases.len());
    for ((m, cfg), p) in minted.iter().zip(&parsed) {
        let d = m.decision();
        let user = m.request().user.as_str();
        assert_eq!(p["response_id"], m.response_id());
        assert_eq!(p["assertion_id"], m.assertion_id());
        assert_eq!(p["issuer"], cfg.idp.entity_id.as_str());
        assert_eq!(p["assertion_issuer"], cfg.idp.entity_id.as_str());
        assert_eq!(p["status"], "urn:oasis:names:tc:SAML:2.0:status:Success");
        assert_eq!(p["destination"], cfg.aws.acs_url.as_str());
        assert_eq!(p["recipient"], cfg.aws.acs_url.as_str());
        assert_eq!(p["audiences"], serde_json::json!([cfg.aws.audience]));
        assert_eq!(p["name_id"], user);
        assert_eq!(p["assertion_signed"], true);
        assert_eq!(p["response_signed"], cfg.idp.sign_response);
        let noa = d.not_on_or_after.to_rfc3339();
        assert_eq!(p["not_on_or_after"], noa.as_str());
        assert_eq!(p["confirmation_not_on_or_after"], noa.as_str());
        let a = &p["attributes"];
        // Per decision (the default): <user>.<12 hex digits of the assertion ID>.
        let session_name = format!("{user}.{}", &m.assertion_id()[2..14]);
        assert_eq!(a[format!("{ATTR}RoleSessionName")], serde_json::json!([session_name]));
        assert_eq!(a[format!("{ATTR}SourceIdentity")], serde_json::json!([user]));
        assert_eq!(a[format!("{ATTR}SessionDuration")], serde_json::json!([d.session_duration.to_string()]));
        let role = format!("{},{}", cfg.aws.accounts.home.role_arn, cfg.aws.accounts.home.provider_arn);
        assert_eq!(a[format!("{ATTR}Role")], serde_json::json!([role]));
        let mut tags = 0;
        for s in &d.sets {
            for (k, v) in &s.tags {
                let got = &a[format!("{ATTR}PrincipalTag:{k}")];
                match s.status {
                    SetStatus::Open { .. } => assert_eq!(got, &serde_json::json!([v]), "{k}"),
                    SetStatus::Closed { .. } => {
                        assert!(got[0].as_str().unwrap().starts_with("sesame:closed:"), "{k}: {got}")
                    }
                }
                tags += 1;
            }
        }
        let emitted = a.as_object().unwrap().keys().filter(|k| k.contains("PrincipalTag:")).count();
        assert_eq!(emitted, tags, "samael sees exactly the tags of the decision");
    }
    let closed = &parsed[1]["attributes"][format!("{ATTR}PrincipalTag:AppId")];
    assert!(
        closed[0].as_str().unwrap().starts_with("sesame:closed:"),
        "the 12:00 case is outside the window"
    );
}

#[test]
fn samael_reads_the_metadata_iam_is_given() {
    let cfg = demo_config();
    let m = crate::common::test_material();
    let xml = sesame::edge::trust::metadata(&cfg, &m, at("2026-12-01T00:00:00Z")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("idp.xml");
    std::fs::write(&f, xml).unwrap();
    let p = &parse("metadata", &[f])[0];
    assert_eq!(p["entity_id"], cfg.idp.entity_id.as_str());
    assert_eq!(p["protocol"], "urn:oasis:names:tc:SAML:2.0:protocol");
    assert_eq!(
        p["sso"],
        serde_json::json!([{"binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", "location": cfg.idp.sso_url}])
    );
    assert_eq!(p["signing_keys"], 1);
    assert_eq!(
        p["valid_until"], "2027-12-01T00:00:00+00:00",
        "metadata_valid_days = 365 from the pinned now"
    );
}
