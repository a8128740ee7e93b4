//! Many accounts: the configuration's rules, which role/provider pair a request gets
//! (properties of the pure rule and the demo's two accounts end to end), the console's
//! role picker validated by xmlsec1 and python3-saml, the launcher across accounts, and
//! `sesame policy` writing every account's documents and a StackSet template that
//! cfn-lint accepts.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::Value;
use sesame::config::Config;
use sesame::core::accounts::{Accounts, RolePair, Template};
use sesame::service::mint::MintInput;

use crate::common::{
    at, data, demo_config, demo_text, minter, nonce, onelogin, root, sesame, xmlsec1_verifies, Sig,
};

const HOME: &str = "111122223333";
const SECOND: &str = "444455556666";
const WEB_1: &str = "i-0123456789abcdef0";
const WEB_2: &str = "i-0abc1234def567890";
const WHEN: &str = "2026-12-01T15:00:00Z";

fn problems(edit: impl Fn(&str) -> String) -> String {
    match Config::from_toml(&edit(&demo_text()), "t", &root()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// The demo's `[[aws.account]]` entry replaced by `entries` (TOML after `[aws]`'s keys).
fn with_accounts(entries: &str) -> impl Fn(&str) -> String + '_ {
    move |t: &str| {
        let a = t.find("[[aws.account]]").unwrap();
        let b = a + t[a..].find("\n[keys]").unwrap();
        format!("{}{entries}\n{}", &t[..a], &t[b..])
    }
}

#[test]
fn account_entries_and_the_template_are_checked_and_each_problem_named() {
    let cases = [
        ("[[aws.account]]\nid = \"12345\"\nrole_arn = \"x\"\nprovider_arn = \"y\"\n", "aws.account[0].id: must be a 12-digit AWS account ID"),
        ("[[aws.account]]\nid = \"111122223333\"\n", "aws.account[0].id: 111122223333 is aws.role_arn's account"),
        (
            "[[aws.account]]\nid = \"444455556666\"\nrole_arn = \"arn:aws:iam::999999999999:role/r\"\nprovider_arn = \"arn:aws:iam::444455556666:saml-provider/p\"\n",
            "aws.account[0].role_arn: must be in account 444455556666",
        ),
        (
            "[[aws.account]]\nid = \"444455556666\"\nrole_arn = \"arn:aws-cn:iam::444455556666:role/r\"\nprovider_arn = \"arn:aws-cn:iam::444455556666:saml-provider/p\"\n",
            "aws.account[0].role_arn: must be in the partition of aws.role_arn (aws)",
        ),
        ("[[aws.account]]\nid = \"444455556666\"\n", "aws.account[0].role_arn: role_arn and provider_arn are required without [aws.account_template]"),
        (
            "[[aws.account]]\nid = \"444455556666\"\nrole_arn = \"arn:aws:iam::444455556666:role/r\"\n",
            "aws.account[0].role_arn: give both role_arn and provider_arn, or neither",
        ),
        (
            "[[aws.account]]\nid = \"444455556666\"\n[[aws.account]]\nid = \"444455556666\"\n[aws.account_template]\nrole_arn = \"arn:aws:iam::{account}:role/r\"\nprovider_arn = \"arn:aws:iam::{account}:saml-provider/p\"\n",
            "aws.account[1].id: 444455556666 is listed twice",
        ),
        (
            "[aws.account_template]\nrole_arn = \"arn:aws:iam::111122223333:role/r\"\nprovider_arn = \"arn:aws:iam::{account}:saml-provider/p\"\n",
            "aws.account_template.role_arn: must carry {account} once, as the account",
        ),
        (
            "[aws.account_template]\nrole_arn = \"arn:aws:iam::{account}:role/r {account}\"\nprovider_arn = \"arn:aws:iam::{account}:saml-provider/p\"\n",
            "aws.account_template.role_arn: must carry {account} once",
        ),
        (
            "[aws.account_template]\nrole_arn = \"arn:aws:iam::{account}:role/r\"\nprovider_arn = \"arn:aws:iam::{account}:oidc-provider/p\"\n",
            "aws.account_template.provider_arn: must be arn:<partition>:iam::<12-digit account>:saml-provider/<name>",
        ),
    ];
    for (entries, want) in cases {
        let got = problems(with_accounts(entries));
        assert!(got.contains(want), "{entries}\nwant {want:?}\ngot {got}");
    }
    // The reaper ends sessions in one account: with more, a start is refused.
    let got = problems(|t| format!("{t}\n[reaper]\nenabled = true\n"));
    assert!(got.contains("reaper.enabled: the reaper ends sessions in aws.role_arn's account only"), "{got}");
    let got = problems(|t| with_accounts("")(t) + "\n[reaper]\nenabled = true\n");
    assert_eq!(got, "", "one account with the reaper is fine");
    // A template serves any account; entries without ARNs take its pair.
    let cfg = Config::from_toml(
        &with_accounts("[[aws.account]]\nid = \"444455556666\"\n[aws.account_template]\nrole_arn = \"arn:aws:iam::{account}:role/sesame-t\"\nprovider_arn = \"arn:aws:iam::{account}:saml-provider/sesame-t\"\n")(&demo_text()),
        "t",
        &root(),
    )
    .unwrap();
    let a = &cfg.aws.accounts;
    assert_eq!(a.listed[SECOND].role_arn, "arn:aws:iam::444455556666:role/sesame-t");
    assert_eq!(
        a.pair("777788889999").unwrap().provider_arn,
        "arn:aws:iam::777788889999:saml-provider/sesame-t"
    );
    assert_eq!(a.pair("7777"), None);
    assert!(a.has_provider("arn:aws:iam::777788889999:saml-provider/sesame-t"));
    assert!(!a.has_provider("arn:aws:iam::777788889999:saml-provider/other"));
}

#[test]
fn an_inventory_file_with_a_malformed_account_is_refused_naming_the_entry() {
    let env = crate::common::temp_config(
        "",
        &[("inventory.toml", "[[instance]]\nid = \"i-0123456789abcdef0\"\nregion = \"us-east-1\"\naccount = \"4444\"\ntags = {}\n")],
    );
    let out = sesame()
        .arg("--config")
        .arg(&env.path)
        .args(["mint", "--user", "alice", "--instance", WEB_1, "--region", "us-east-1", "--at", WHEN])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("instance[0]: account: must be a 12-digit AWS account ID (got \"4444\")"), "{err}");
}

fn pair(a: &str) -> RolePair {
    RolePair {
        account: a.into(),
        role_arn: format!("arn:aws:iam::{a}:role/r"),
        provider_arn: format!("arn:aws:iam::{a}:saml-provider/p"),
    }
}

fn account() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(HOME.to_owned()),
        Just(SECOND.to_owned()),
        Just("777788889999".to_owned()),
        Just("12".to_owned())
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The inventory's account wins; a differing account_id is refused, never used; an
    /// account that is not served gets no pair; with nothing said, the home account.
    #[test]
    fn the_role_follows_the_instance_never_the_callers_word(
        located in proptest::option::of(account()),
        requested in proptest::option::of(account()),
        template in any::<bool>(),
    ) {
        let accounts = Accounts {
            home: pair(HOME),
            listed: BTreeMap::from([(HOME.to_owned(), pair(HOME)), (SECOND.to_owned(), pair(SECOND))]),
            template: template.then(|| Template {
                role_arn: "arn:aws:iam::{account}:role/r".into(),
                provider_arn: "arn:aws:iam::{account}:saml-provider/p".into(),
            }),
        };
        let served = |a: &str| a == HOME || a == SECOND || (template && a.len() == 12);
        let got = accounts.choose("i-0123456789abcdef0", located.as_deref(), requested.as_deref());
        match (&located, &requested) {
            (_, Some(r)) if r.len() != 12 => prop_assert_eq!(got.unwrap_err().field, "account_id"),
            (Some(l), Some(r)) if l != r => prop_assert_eq!(got.unwrap_err().field, "account_id"),
            (Some(l), _) if !served(l) => prop_assert_eq!(got.unwrap_err().field, "instance_id"),
            (Some(l), _) => {
                let p = got.unwrap();
                prop_assert_eq!(&p.account, l);
                let inside = format!("::{l}:");
                prop_assert!(p.role_arn.contains(&inside) && p.provider_arn.contains(&inside));
            }
            (None, Some(r)) if !served(r) => prop_assert_eq!(got.unwrap_err().field, "account_id"),
            (None, Some(r)) => prop_assert_eq!(&got.unwrap().account, r),
            (None, None) => prop_assert_eq!(got.unwrap(), pair(HOME)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// The picker names at least one role, each served and once; every served account
    /// an open set reaches is named; the instance's account leads whenever it is named.
    #[test]
    fn the_picker_names_served_accounts_once_the_instances_first(
        mine in prop_oneof![Just(HOME), Just(SECOND)],
        reached in proptest::collection::btree_set(account(), 0..4),
    ) {
        let accounts = Accounts {
            home: pair(HOME),
            listed: BTreeMap::from([(HOME.to_owned(), pair(HOME)), (SECOND.to_owned(), pair(SECOND))]),
            template: None,
        };
        let got = accounts.picker(pair(mine), reached.clone());
        let named: Vec<&str> = got.iter().map(|p| p.account.as_str()).collect();
        prop_assert!(!named.is_empty());
        let mut unique = named.clone();
        unique.sort_unstable();
        unique.dedup();
        prop_assert_eq!(unique.len(), named.len());
        for a in &named {
            prop_assert!(*a == HOME || *a == SECOND, "{a} is not served");
        }
        for a in reached.iter().filter(|a| *a == HOME || *a == SECOND) {
            prop_assert!(named.contains(&a.as_str()), "{a} is reached and served");
        }
        if named.contains(&mine) {
            prop_assert_eq!(named[0], mine);
        }
    }
}

fn input(instance: &str, region: &str, account_id: Option<&str>, role_picker: bool) -> MintInput {
    MintInput {
        user: "alice".into(),
        instance_id: instance.into(),
        region: region.into(),
        account_id: account_id.map(Into::into),
        role_picker,
        ..MintInput::default()
    }
}

fn roles(xml: &[u8]) -> Vec<String> {
    let v = serde_json::json!({"saml_response": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, xml)});
    crate::inventory_config::role_values(&v)
}

#[test]
fn each_instance_signs_in_to_its_accounts_role_and_the_picker_names_both_accounts() {
    let m = minter(&demo_config());
    let mut n = 60;
    let mut mint = |i: &MintInput| {
        n += 1;
        m.mint_input(i, at(WHEN), &nonce(n))
    };
    let home = "arn:aws:iam::111122223333:role/sesame-session-manager,arn:aws:iam::111122223333:saml-provider/sesame";
    let second = "arn:aws:iam::444455556666:role/sesame-session-manager,arn:aws:iam::444455556666:saml-provider/sesame";
    // web-1 has no account in the inventory: the home account's pair.
    let x = mint(&input(WEB_1, "us-east-1", None, false)).unwrap();
    assert_eq!(roles(x.xml()), [home]);
    // web-2 is in the second account: its pair, with or without the matching account_id.
    let y = mint(&input(WEB_2, "eu-west-1", None, false)).unwrap();
    assert_eq!(roles(y.xml()), [second]);
    assert_eq!(mint(&input(WEB_2, "eu-west-1", Some(SECOND), false)).unwrap().roles()[0].account, SECOND);
    // An account_id against the inventory, or malformed, is refused and nothing is signed.
    let e = mint(&input(WEB_2, "eu-west-1", Some(HOME), false)).unwrap_err();
    assert_eq!((e.code(), e.to_string().contains("account_id")), ("bad_input", true), "{e}");
    let e = mint(&input(WEB_2, "eu-west-1", Some("4444"), false)).unwrap_err();
    assert!(e.to_string().contains("account_id") && e.to_string().contains("12-digit"), "{e}");
    // Where the inventory is silent (web-1), account_id picks among the served accounts.
    assert_eq!(mint(&input(WEB_1, "us-east-1", Some(SECOND), false)).unwrap().roles()[0].account, SECOND);
    let e = mint(&input(WEB_1, "us-east-1", Some("777788889999"), false)).unwrap_err();
    assert!(e.to_string().contains("must be an account sesame serves"), "{e}");
    // The picker: alice's open webserver set reaches web-1 and web-2, so both accounts,
    // the instance's first; every open set is emitted (payments too, which web-1 does
    // not carry: the picker does not narrow to the instance's set).
    let p = mint(&input(WEB_1, "us-east-1", None, true)).unwrap();
    assert_eq!(roles(p.xml()), [home, second]);
    let q = mint(&input(WEB_2, "eu-west-1", None, true)).unwrap();
    assert_eq!(roles(q.xml()), [second, home]);
    assert_eq!(p.decision().sets.len(), 2, "{:?}", p.decision().sets);
    // Both validators accept the picker's response with its two Role values.
    for r in [&p, &q] {
        assert!(xmlsec1_verifies(r.xml(), &data("test-signing.crt"), Sig::Assertion));
    }
    let b64 = |x: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, x);
    let checked = onelogin(&[b64(p.xml()), b64(x.xml())], at(WHEN) + chrono::Duration::seconds(30), false);
    assert_eq!(checked[0]["valid"], true, "{}", checked[0]);
    assert_eq!(
        checked[0]["attributes"]["https://aws.amazon.com/SAML/Attributes/Role"],
        serde_json::json!([home, second])
    );
    assert_eq!(
        checked[1]["attributes"]["https://aws.amazon.com/SAML/Attributes/Role"],
        serde_json::json!([home])
    );
}

#[test]
fn the_picker_needs_an_inventory_and_the_record_names_every_role() {
    let cfg = crate::common::demo_config_with(|t| {
        let a = t.find("[inventory]").unwrap();
        let b = a + t[a..].find("\n[audit]").unwrap();
        format!("{}{}", &t[..a], &t[b..])
    });
    let m = minter(&cfg);
    let e = m.mint_input(&input(WEB_1, "us-east-1", None, true), at(WHEN), &nonce(80)).unwrap_err();
    assert!(e.to_string().contains("role_picker") && e.to_string().contains("needs an [inventory]"), "{e}");
    let m = minter(&demo_config());
    m.mint_input(&input(WEB_1, "us-east-1", None, true), at(WHEN), &nonce(81)).unwrap();
    let records = crate::common::audit_json(m.audit_dir.path());
    let last = records.iter().rev().find(|r| r["kind"] == "decision").unwrap();
    assert_eq!(
        last["roles"],
        serde_json::json!([
            "arn:aws:iam::111122223333:role/sesame-session-manager",
            "arn:aws:iam::444455556666:role/sesame-session-manager"
        ])
    );
}

#[test]
fn the_launcher_lists_the_demo_instances_of_both_accounts() {
    let env = crate::common::temp_config("", &[]);
    crate::inventory_config::serve_second_account(&env);
    let out = sesame()
        .arg("--config")
        .arg(&env.path)
        .args(["access", "--user", "alice", "--at", WHEN, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let web =
        v["entitlements"].as_array().unwrap().iter().find(|e| e["entitlement"] == "pam-webserver").unwrap();
    let got: Vec<(&str, &str, &str)> = web["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["account"].as_str().unwrap(), i["region"].as_str().unwrap(), i["name"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [(SECOND, "eu-west-1", "web-2"), (HOME, "us-east-1", "web-1")]);
}

fn cfn_lint(path: &std::path::Path) -> std::process::Output {
    let lint = std::env::var("SESAME_TEST_CFN_LINT")
        .expect("SESAME_TEST_CFN_LINT is not set: run the suite with scripts/test, which installs cfn-lint");
    std::process::Command::new(lint).arg(path).output().unwrap()
}

#[test]
fn policy_writes_every_accounts_documents_and_a_stackset_template_cfn_lint_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = sesame()
        .args(["policy", "--stackset", "--cloudformation", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |p: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(p)).unwrap()).unwrap()
    };
    for (a, other) in [(HOME, SECOND), (SECOND, HOME)] {
        let perms = read(&format!("accounts/{a}/permission-policy-1.json")).to_string();
        assert!(perms.contains(&format!(":{a}:instance/*")) && !perms.contains(other), "{a}: {perms}");
        let trust = read(&format!("accounts/{a}/trust-policy.json"));
        assert_eq!(
            trust["Statement"][0]["Principal"]["Federated"],
            format!("arn:aws:iam::{a}:saml-provider/sesame")
        );
    }
    // The StackSet template: every account-scoped ARN left to CloudFormation, IAM's own
    // variables escaped so Fn::Sub keeps them literal.
    let set = read("sesame-stackset.json");
    let text = set.to_string();
    assert!(!text.contains(HOME) && !text.contains(SECOND), "no account is written into the StackSet");
    let res = &set["Resources"]["SesamePermissions1"]["Properties"]["PolicyDocument"]["Statement"];
    let start = res.as_array().unwrap().iter().find(|s| s["Sid"] == "StartSessionTagSet1").unwrap();
    assert_eq!(start["Resource"][0]["Fn::Sub"], "arn:aws:ec2:*:${AWS::AccountId}:instance/*");
    assert_eq!(start["Condition"]["StringEquals"]["ssm:resourceTag/APP_ID"], "${aws:PrincipalTag/AppId}");
    for f in ["sesame-stackset.json", "sesame-cloudformation.json"] {
        let o = cfn_lint(&dir.path().join(f));
        assert!(o.status.success(), "cfn-lint rejects {f}: {}", String::from_utf8_lossy(&o.stdout));
    }
    // The check can fail: an IAM variable left unescaped inside Fn::Sub is an error.
    let broken = std::fs::read_to_string(dir.path().join("sesame-stackset.json"))
        .unwrap()
        .replace("session/*\"", "session/${aws:userid}\"");
    assert!(
        broken.contains(":${AWS::AccountId}:session/${aws:userid}\""),
        "the edit must land inside an Fn::Sub"
    );
    std::fs::write(dir.path().join("broken.json"), broken).unwrap();
    assert!(!cfn_lint(&dir.path().join("broken.json")).status.success());
}

/// Found in review: when the person's open sets covered instances only in accounts
/// sesame does not serve, the picker named no role at all and the mint failed
/// (`build_failed`). It names the instance's account, as with no open set.
#[test]
fn a_picker_whose_sets_reach_only_unserved_accounts_names_the_instances_account() {
    let inventory = "[[instance]]\nid = \"i-0123456789abcdef0\"\nregion = \"us-east-1\"\naccount = \"444455556666\"\ntags = { APP_GROUP_NAME = \"webserver\", APP_ID = \"ABC\", RELEASE_ID = \"1.0\" }\n\n[[instance]]\nid = \"i-0aaaaaaaaaaaaaaaa\"\nregion = \"us-east-1\"\ntags = { Name = \"bare\" }\n";
    let env = crate::common::temp_config("", &[("inventory.toml", inventory)]);
    let m = minter(&env.config());
    // 03:00Z: payments is closed, webserver open — and it covers only the unserved account.
    let r = m.mint_input(
        &input("i-0aaaaaaaaaaaaaaaa", "us-east-1", None, true),
        at("2026-12-01T03:00:00Z"),
        &nonce(90),
    );
    let r = r.unwrap();
    assert_eq!(r.roles().iter().map(|p| p.account.as_str()).collect::<Vec<_>>(), [HOME]);
    assert_eq!(r.decision().open_sets(), 1);
}
