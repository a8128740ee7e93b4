//! The AWS Config inventory (`[inventory] kind = "aws-config"`) through the real AWS SDK
//! pointed at a loopback stand-in (`tests/standins/config.py`: the JSON 1.1 protocol,
//! SigV4 checked, the query grammar sesame emits evaluated with AWS's any-element rule,
//! Limit ≤ 100 and NextToken paging, injectable throttling): tags for one instance,
//! every instance a set covers across pages and accounts, unknown instances refused by
//! default, throttling retried, failures closed, answers cached.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::common::{sesame, temp_config, TempConfig};
use crate::reaper::AKID;

const SECRET: &str = "sesame-test-secret-key";

struct Config {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Config {
    fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(crate::common::root().join("tests/standins/config.py"))
            .args([
                "--access-key",
                AKID,
                "--secret-key",
                SECRET,
                "--account",
                "111122223333",
                "--aggregator",
                "org",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("stand-in: {line:?}"));
        Config { child, url: format!("http://127.0.0.1:{port}"), http: reqwest::blocking::Client::new() }
    }

    fn control(&self, path: &str, body: Value) -> Value {
        let r = self.http.post(format!("{}/_control/{path}", self.url)).json(&body).send().unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().unwrap()
    }

    fn calls(&self) -> usize {
        let v: Value = self.http.get(format!("{}/_control/state", self.url)).send().unwrap().json().unwrap();
        v["calls"].as_array().unwrap().len()
    }
}

fn instance(id: &str, account: &str, tags: Value) -> Value {
    json!({"resourceId": id, "awsRegion": "us-east-1", "accountId": account, "tags": tags})
}

/// The demo instances, 150 more webservers in a second account, and a decoy tagged so
/// that `tags.key = 'APP_ID' AND tags.value = 'PAY'` matches it but `APP_ID=PAY` does not.
fn fleet(c: &Config) {
    let web = json!({"APP_GROUP_NAME": "webserver", "APP_ID": "ABC", "RELEASE_ID": "1.0", "Name": "web-1"});
    let pay = json!({"APP_GROUP_NAME": "payments", "APP_ID": "PAY", "RELEASE_ID": "2.3", "Name": "pay-1"});
    let decoy = json!({"APP_GROUP_NAME": "payments", "APP_ID": "ABC", "RELEASE_ID": "2.3", "OWNER": "PAY"});
    let mut all = vec![
        instance("i-0123456789abcdef0", "111122223333", web.clone()),
        instance("i-0fedcba9876543210", "111122223333", pay),
        instance("i-0dec0dec0dec0dec0", "111122223333", decoy),
    ];
    for n in 0..150u32 {
        all.push(instance(&format!("i-{n:017x}"), "444455556666", web.clone()));
    }
    c.control("resources", json!(all));
}

fn env(c: &Config, extra: &str) -> TempConfig {
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path).unwrap();
    let a = text.find("[inventory]").unwrap();
    let b = a + text[a..].find("\n[audit]").unwrap();
    let inv = format!(
        "[inventory]\nkind = \"aws-config\"\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\ntimeout_ms = 2000\nattempts = 3\n{extra}\n",
        c.url
    );
    std::fs::write(&env.path, format!("{}{inv}{}", &text[..a], &text[b..])).unwrap();
    env
}

fn run(env: &TempConfig, args: &[&str]) -> std::process::Output {
    sesame()
        .arg("--config")
        .arg(&env.path)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", AKID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .output()
        .unwrap()
}

fn mint(env: &TempConfig, instance: &str) -> (Option<i32>, Value, String) {
    mint_with(env, instance, &[])
}

/// The second account of the stand-in's fleet, served with its own role and provider.
pub const SECOND_ACCOUNT: &str = "\n[[aws.account]]\nid = \"444455556666\"\nrole_arn = \"arn:aws:iam::444455556666:role/sesame-b\"\nprovider_arn = \"arn:aws:iam::444455556666:saml-provider/sesame-b\"\n";

/// The configuration with [`SECOND_ACCOUNT`] at the end of `[aws]`.
pub fn serve_second_account(env: &TempConfig) {
    let text = std::fs::read_to_string(&env.path).unwrap();
    std::fs::write(&env.path, text.replacen("\n[keys]", &format!("{SECOND_ACCOUNT}\n[keys]"), 1)).unwrap();
}

fn mint_with(env: &TempConfig, instance: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let out = run(
        env,
        &[
            &[
                "mint",
                "--user",
                "alice",
                "--instance",
                instance,
                "--region",
                "us-east-1",
                "--at",
                "2026-12-01T15:00:00Z",
                "--format",
                "json",
            ][..],
            extra,
        ]
        .concat(),
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), v, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_stand_in_holds_to_the_any_element_rule_sesame_avoids() {
    let c = Config::start();
    fleet(&c);
    let ids = |e: &str| c.control("select", json!({"Expression": e}))["ids"].clone();
    let base = "SELECT resourceId WHERE resourceType = 'AWS::EC2::Instance'";
    // Per-element conditions over-match: the decoy has APP_ID=ABC and OWNER=PAY.
    assert_eq!(
        ids(&format!("{base} AND tags.key = 'APP_ID' AND tags.value = 'PAY'")),
        json!(["i-0dec0dec0dec0dec0", "i-0fedcba9876543210"])
    );
    // What sesame writes matches only the instance really tagged APP_ID=PAY.
    let q = sesame::core::config_query::expression(sesame::core::config_query::Want::Covering(&[(
        "APP_ID", "PAY",
    )]))
    .unwrap();
    assert_eq!(ids(&q), json!(["i-0fedcba9876543210"]));
}

#[test]
fn the_inventory_comes_from_aws_config() {
    let c = Config::start();
    fleet(&c);
    // One account: the known instance gets only its covering set.
    let env1 = env(&c, "");
    let (code, v, err) = mint(&env1, "i-0fedcba9876543210");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["decision"]["sets"].as_array().unwrap().len(), 1);
    assert_eq!(v["decision"]["sets"][0]["entitlement"], "pam-payments");
    assert_eq!(v["decision"]["omitted"], json!(["pam-webserver"]));
    // An instance Config does not know is refused by default with aws-config.
    let (code, _, err) = mint(&env1, "i-0aaaaaaaaaaaaaaaa");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the inventory does not know this instance"), "{err}");

    // Through the aggregator, the launcher lists every covering instance of every
    // account, across pages of 100; the decoy is not among them.
    let env2 = env(&c, "aggregator = \"org\"");
    let out = run(&env2, &["access", "--user", "alice", "--at", "2026-12-01T15:00:00Z", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let web =
        v["entitlements"].as_array().unwrap().iter().find(|e| e["entitlement"] == "pam-webserver").unwrap();
    // Only aws.role_arn's account is served: the other account's 150 are counted, not listed.
    let instances = web["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "{web}");
    assert_eq!(instances[0]["account"], "111122223333");
    assert_eq!(web["unserved_instances"], 150);
    let pay =
        v["entitlements"].as_array().unwrap().iter().find(|e| e["entitlement"] == "pam-payments").unwrap();
    assert_eq!(pay["instances"].as_array().unwrap().len(), 1, "{pay}");
    // No Role could reach an instance Config places in an account that is not served: it
    // is refused, naming the field and the account, and nothing is minted.
    let (code, v, err) = mint(&env2, "i-00000000000000000");
    assert_eq!(code, Some(2), "{err}");
    assert!(v.is_null(), "{v}");
    assert!(err.contains("instance_id") && err.contains("in account 444455556666"), "{err}");
    // An instance in the role's account mints as before.
    let (code, _, err) = mint(&env2, "i-0123456789abcdef0");
    assert_eq!(code, Some(0), "{err}");

    // With the second account served, the launcher lists all 151 and a mint for an
    // instance there names that account's role and provider.
    serve_second_account(&env2);
    let out = run(&env2, &["access", "--user", "alice", "--at", "2026-12-01T15:00:00Z", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let web =
        &v["entitlements"].as_array().unwrap().iter().find(|e| e["entitlement"] == "pam-webserver").unwrap();
    let instances = web["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 151);
    assert_eq!(instances.iter().filter(|i| i["account"] == "444455556666").count(), 150);
    assert_eq!(web["unserved_instances"], 0);
    let (code, v, err) = mint(&env2, "i-00000000000000000");
    assert_eq!(code, Some(0), "{err}");
    let role = "arn:aws:iam::444455556666:role/sesame-b,arn:aws:iam::444455556666:saml-provider/sesame-b";
    assert_eq!(role_values(&v), vec![role.to_owned()]);
    assert_eq!(v["roles"][0]["account"], "444455556666");
    // The caller's account_id must be the one Config reports.
    let (code, v, err) = mint_with(&env2, "i-00000000000000000", &["--account-id", "111122223333"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(v.is_null(), "{v}");
    assert!(
        err.contains("account_id") && err.contains("places i-00000000000000000 in 444455556666"),
        "{err}"
    );
    let (code, _, err) = mint_with(&env2, "i-00000000000000000", &["--account-id", "444455556666"]);
    assert_eq!(code, Some(0), "{err}");
    // The role picker: alice's open set (webserver) reaches instances in both accounts.
    let (code, v, err) = mint_with(&env2, "i-0123456789abcdef0", &["--role-picker"]);
    assert_eq!(code, Some(0), "{err}");
    let values = role_values(&v);
    assert_eq!(values.len(), 2, "{values:?}");
    assert!(values[0].starts_with("arn:aws:iam::111122223333:role/"), "{values:?}");
    assert_eq!(values[1], role);
}

/// The Role attribute's values of a minted JSON answer, in document order.
pub fn role_values(minted: &Value) -> Vec<String> {
    use base64::Engine as _;
    let xml =
        base64::engine::general_purpose::STANDARD.decode(minted["saml_response"].as_str().unwrap()).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let at = xml.find("Name=\"https://aws.amazon.com/SAML/Attributes/Role\"").unwrap();
    let attr = &xml[at..at + xml[at..].find("</saml:Attribute>").unwrap()];
    attr.split("<saml:AttributeValue>").skip(1).map(|v| v[..v.find('<').unwrap()].to_owned()).collect()
}

#[test]
fn throttling_is_retried_failures_fail_closed_and_answers_are_cached() {
    let c = Config::start();
    fleet(&c);
    let env = env(&c, "cache_seconds = 0");
    // One throttled answer: the SDK retries and the mint goes through.
    c.control("fail", json!({"operation": "SelectResourceConfig", "status": 400, "type": "ThrottlingException", "count": 1}));
    let (code, _, err) = mint(&env, "i-0fedcba9876543210");
    assert_eq!(code, Some(0), "{err}");
    // More failures than attempts: nothing minted, a dependency error, and the record says so.
    c.control(
        "fail",
        json!({"operation": "SelectResourceConfig", "status": 500, "type": "InternalFailure", "count": 10}),
    );
    let (code, v, err) = mint(&env, "i-0fedcba9876543210");
    assert_eq!(code, Some(3), "{err}");
    assert!(v.is_null() && err.contains("AWS Config"), "{err}");
    let recs = crate::common::audit_json(&env.dir.path().join("audit"));
    let last = recs.iter().rev().find(|r| r["kind"] == "decision").unwrap();
    assert_eq!(
        (last["outcome"].as_str(), last["code"].as_str()),
        (Some("failed"), Some("inventory_unavailable"))
    );
    assert!(last["assertion_id"].is_null());

    // Within one process and the TTL, the same question is asked of Config once.
    let c2 = Config::start();
    fleet(&c2);
    let three = |env: &TempConfig| {
        let args = ["mint", "--user", "alice", "--instance", "i-0fedcba9876543210", "--region", "us-east-1"];
        let out = run(
            env,
            &[&args[..], &["--at", "2026-12-01T15:00:00Z", "--count", "3", "--format", "json"]].concat(),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    };
    three(&self::env(&c2, "cache_seconds = 300"));
    assert_eq!(c2.calls(), 1);
    three(&self::env(&c2, "cache_seconds = 0"));
    assert_eq!(c2.calls(), 4);
}

#[test]
fn the_server_mints_and_lists_from_aws_config() {
    let c = Config::start();
    fleet(&c);
    let (env, tls) = crate::server::config_with("", |t| {
        let a = t.find("[inventory]").unwrap();
        let b = a + t[a..].find("\n[").unwrap();
        let t = format!(
            "{}[inventory]\nkind = \"aws-config\"\nregion = \"us-east-1\"\naggregator = \"org\"\nendpoint_url = \"{}\"\n{}",
            &t[..a],
            c.url,
            &t[b..]
        );
        t.replacen("\n[keys]", &format!("{SECOND_ACCOUNT}\n[keys]"), 1)
    });
    let vars = [
        ("AWS_ACCESS_KEY_ID", AKID.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
    ];
    let s = crate::server::spawn_env(env, tls, &[], &vars);
    let http = s.client();
    let r = http
        .post(format!("{}/v1/assertions", s.url))
        .json(&crate::server::mint_body("alice", "i-0123456789abcdef0"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["decision"]["sets"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["decision"]["sets"][0]["entitlement"], "pam-webserver");
    let r = http.get(format!("{}/v1/access?user=alice&limit=1&page=1", s.url)).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["entitlements"][0]["instances"].as_array().unwrap().len(), 151);
    // The role picker over HTTP: both accounts' pairs; a wrong account_id is a 400.
    let mut body = crate::server::mint_body("alice", "i-0123456789abcdef0");
    body["role_picker"] = json!(true);
    let spec = crate::openapi::spec();
    let post = || http.post(format!("{}/v1/assertions", s.url)).json(&body);
    crate::openapi::check(&spec, "/v1/assertions", "post", post().send().unwrap());
    let r = post().send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(role_values(&v).len(), 2, "{v}");
    let accounts: Vec<&str> =
        v["roles"].as_array().unwrap().iter().map(|r| r["account"].as_str().unwrap()).collect();
    assert_eq!(accounts, ["111122223333", "444455556666"]);
    let mut body = crate::server::mint_body("alice", "i-00000000000000000");
    body["account_id"] = json!("111122223333");
    let post = || http.post(format!("{}/v1/assertions", s.url)).json(&body);
    crate::openapi::check(&spec, "/v1/assertions", "post", post().send().unwrap());
    let r = post().send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "bad_input");
    assert!(v["error"]["message"].as_str().unwrap().contains("account_id"), "{v}");
    let r = http
        .post(format!("{}/v1/assertions", s.url))
        .json(&crate::server::mint_body("alice", "i-0aaaaaaaaaaaaaaaa"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let v: Value = r.json().unwrap();
    assert_eq!(v["error"]["code"], "unknown_instance");
}

#[test]
fn the_aws_config_settings_are_checked() {
    let c = Config::start();
    for (extra, field) in [
        ("aggregator = \"no spaces\"", "inventory.aggregator"),
        ("cache_seconds = -1", "inventory.cache_seconds"),
        ("attempts = 0", "inventory.attempts"),
    ] {
        let env = env(&c, "");
        let text = std::fs::read_to_string(&env.path).unwrap();
        let text = if extra.starts_with("attempts") {
            text.replace("attempts = 3", extra)
        } else {
            text.replace("attempts = 3", &format!("attempts = 3\n{extra}"))
        };
        std::fs::write(&env.path, text).unwrap();
        let out = run(&env, &["check"]);
        assert_eq!(out.status.code(), Some(2), "{extra}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(field),
            "{extra}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let env = temp_config("", &[]);
    let text = std::fs::read_to_string(&env.path)
        .unwrap()
        .replace("[inventory]\n", "[inventory]\nregion = \"us-east-1\"\n");
    std::fs::write(&env.path, text).unwrap();
    let out = run(&env, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inventory.region"));
}
