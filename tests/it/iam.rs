//! IAM documents: generated from the configuration, sized as IAM counts, split when
//! needed, and in exact correspondence with the principal tags the minter emits.

use std::collections::BTreeSet;

use serde_json::Value;
use sesame::core::tags::TagColumn;
use sesame::core::{TagKey, TagSpec};
use sesame::iam::{iam_size, permission_policies, trust_policy, Scope, MANAGED_POLICY_LIMIT};

use crate::common::{at, minter, nonce, root, sesame, wide_config};

pub fn spec(cols: &[(&str, &str)], n: usize) -> TagSpec {
    let cols = cols
        .iter()
        .map(|(e, p)| TagColumn {
            ec2_key: TagKey::parse("k", e).unwrap(),
            principal: TagKey::parse("k", p).unwrap(),
        })
        .collect();
    TagSpec::new(cols, n).unwrap()
}

pub const DEFAULT: [(&str, &str); 3] =
    [("APP_GROUP_NAME", "AppGroupName"), ("APP_ID", "AppId"), ("RELEASE_ID", "ReleaseId")];

fn scope() -> Scope {
    Scope { account: "111122223333".into(), region: "*".into(), partition: "aws".into() }
}

/// (ec2 key, principal name) pairs of every StartSession tag statement.
fn conditions(policies: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in policies {
        for st in p["Statement"].as_array().unwrap().iter().filter(|s| s["Effect"] == "Allow") {
            if let Some(c) = st["Condition"]["StringEquals"].as_object() {
                for (k, v) in c {
                    let key = k.strip_prefix("ssm:resourceTag/").unwrap().to_owned();
                    let name = v
                        .as_str()
                        .unwrap()
                        .strip_prefix("${aws:PrincipalTag/")
                        .unwrap()
                        .strip_suffix('}')
                        .unwrap()
                        .to_owned();
                    out.push((key, name));
                }
            }
        }
    }
    out
}

#[test]
fn every_emittable_principal_tag_has_exactly_one_condition_and_vice_versa() {
    for n in [1, 4, 16] {
        let s = spec(&DEFAULT, n);
        let conds = conditions(&permission_policies(&s, &scope()).unwrap());
        let mut expected = Vec::new();
        for k in 1..=n {
            for (i, c) in s.columns().iter().enumerate() {
                expected.push((c.ec2_key.as_str().to_owned(), s.principal_name(k, i)));
            }
        }
        let (a, b): (BTreeSet<_>, BTreeSet<_>) =
            (conds.iter().cloned().collect(), expected.iter().cloned().collect());
        assert_eq!(a, b, "n = {n}");
        assert_eq!(conds.len(), expected.len(), "no duplicates");
        let trust = trust_policy(
            &s,
            "arn:aws:iam::111122223333:saml-provider/sesame",
            "https://signin.aws.amazon.com/saml",
        );
        let keys: BTreeSet<String> = trust["Statement"][1]["Condition"]["ForAllValues:StringEquals"]
            ["aws:TagKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(keys, expected.iter().map(|(_, n)| n.clone()).collect::<BTreeSet<_>>());
    }
}

#[test]
fn a_real_sixteen_set_response_is_covered_by_the_policy() {
    let env = wide_config(16);
    let cfg = env.config();
    let m = minter(&cfg);
    let xml = String::from_utf8(
        m.mint("wide", "i-0aaaaaaaaaaaaaaaa", "us-east-1", at("2026-12-01T15:00:00Z"), &nonce(2))
            .unwrap()
            .xml()
            .to_vec(),
    )
    .unwrap();
    let emitted: BTreeSet<String> = xml
        .split("Name=\"https://aws.amazon.com/SAML/Attributes/PrincipalTag:")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect();
    assert_eq!(emitted.len(), 48);
    let policy: BTreeSet<String> = conditions(&permission_policies(&cfg.mapping.spec, &scope()).unwrap())
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(emitted, policy);
}

#[test]
fn sizes_are_counted_without_whitespace_and_large_sets_are_split() {
    let doc = serde_json::json!({"a": "b c"});
    assert_eq!(iam_size(&doc), "{\"a\":\"bc\"}".len());
    let long: Vec<(String, String)> = (0..3)
        .map(|i| {
            (
                format!("APPLICATION_TAG_KEY_NUMBER_{i}_{}", "X".repeat(60)),
                format!("PrincipalTagNumber{i}{}", "Y".repeat(60)),
            )
        })
        .collect();
    let cols: Vec<(&str, &str)> = long.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let s = spec(&cols, 16);
    let policies = permission_policies(&s, &scope()).unwrap();
    assert!(policies.len() > 1, "16 sets of long keys cannot fit one managed policy");
    for p in &policies {
        assert!(iam_size(p) <= MANAGED_POLICY_LIMIT, "{}", iam_size(p));
    }
    assert_eq!(conditions(&policies).len(), 48, "no statement lost in the split");
}

#[test]
fn generated_files_in_the_repository_are_current() {
    let dir = tempfile::tempdir().unwrap();
    let out = sesame().args(["policy", "--out-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<String> =
        ["trust-policy.json", "permission-policy-1.json", "reaper-policy.json"].map(String::from).to_vec();
    for a in ["111122223333", "444455556666"] {
        files.push(format!("accounts/{a}/trust-policy.json"));
        files.push(format!("accounts/{a}/permission-policy-1.json"));
    }
    for f in &files {
        let want = std::fs::read_to_string(root().join("policies/generated").join(f)).unwrap();
        let got = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(want == got, "policies/generated/{f} is stale: run `sesame policy`");
    }
    assert!(!root().join("policies/generated/permission-policy-2.json").exists());
}

#[test]
fn cloudformation_and_terraform_create_provider_role_and_policies() {
    let env = crate::common::temp_config("", &[]);
    let out = sesame()
        .arg("--config")
        .arg(&env.path)
        .args(["policy", "--cloudformation", "--terraform", "--out-dir"])
        .arg(env.dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfn: Value = serde_json::from_str(
        &std::fs::read_to_string(env.dir.path().join("sesame-cloudformation.json")).unwrap(),
    )
    .unwrap();
    let r = &cfn["Resources"];
    assert_eq!(r["SesameSamlProvider"]["Type"], "AWS::IAM::SAMLProvider");
    assert!(r["SesameSamlProvider"]["Properties"]["SamlMetadataDocument"]
        .as_str()
        .unwrap()
        .contains("md:EntityDescriptor"));
    assert_eq!(r["SesameRole"]["Properties"]["MaxSessionDuration"], 3600);
    assert_eq!(
        r["SesameRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"]
            ["Ref"],
        "SesameSamlProvider"
    );
    assert_eq!(r["SesamePermissions1"]["Type"], "AWS::IAM::ManagedPolicy");
    let tf: Value =
        serde_json::from_str(&std::fs::read_to_string(env.dir.path().join("sesame.tf.json")).unwrap())
            .unwrap();
    assert!(tf["resource"]["aws_iam_saml_provider"]["sesame"]["saml_metadata_document"].is_string());
    assert!(tf["resource"]["aws_iam_role_policy_attachment"]["sesame_permissions_1"]["policy_arn"]
        .as_str()
        .unwrap()
        .contains("aws_iam_policy.sesame_permissions_1"));
}

#[test]
fn a_trailing_space_in_a_tag_key_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let ent = dir.path().join("e.toml");
    std::fs::write(&ent, "[[tags]]\nec2_key = \"APP_ID \"\nprincipal = \"AppId\"\n").unwrap();
    let text = crate::common::demo_text().replace("policies/entitlements.toml", &ent.display().to_string());
    let e = sesame::config::Config::from_toml(&text, "t", &root()).unwrap_err();
    assert!(e.to_string().contains("trailing whitespace"), "{e}");
}

#[test]
fn account_and_region_scoping() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        sesame().args(["policy", "--region", "eu-west-1", "--out-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p = std::fs::read_to_string(dir.path().join("permission-policy-1.json")).unwrap();
    assert!(p.contains("arn:aws:ec2:eu-west-1:111122223333:instance/*") && !p.contains("ec2:*:"), "{p}");
    let any = sesame().args(["policy", "--any-account", "--out-dir"]).arg(dir.path()).output().unwrap();
    assert!(any.status.success());
    let p = std::fs::read_to_string(dir.path().join("permission-policy-1.json")).unwrap();
    assert!(p.contains("arn:aws:ec2:*:*:instance/*"), "{p}");
    let bad = sesame().args(["policy", "--region", "moon-1", "--out-dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
