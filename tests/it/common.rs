//! Fixtures shared by the test modules: the test key (copied to mode 0600), the demo
//! configuration, a minter with pinned randomness, and helpers to run validators.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use sesame::config::Config;
use sesame::core::Nonce;
use sesame::keys::{self, SigningMaterial};
use sesame::service::mint::Minter;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A private copy of a committed test key (git does not keep mode 0600).
pub struct KeyCopy {
    pub _dir: tempfile::TempDir,
    pub key: PathBuf,
    pub cert: PathBuf,
}

pub fn key_copy(stem: &str) -> KeyCopy {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    let cert = dir.path().join("signing.crt");
    std::fs::copy(data(&format!("{stem}.key")), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::copy(data(&format!("{stem}.crt")), &cert).unwrap();
    KeyCopy { _dir: dir, key, cert }
}

pub fn test_material() -> SigningMaterial {
    let k = key_copy("test-signing");
    keys::load(&k.key, &k.cert).unwrap()
}

/// The demo configuration text with the read-only file grants instead of the SQLite
/// store (the database would live in the repository, shared by parallel tests).
pub fn demo_text() -> String {
    let text = sesame::config::EMBEDDED_DEFAULT;
    let a = text.find("[grants]").unwrap();
    let b = a + text[a..].find("\n[inventory]").unwrap();
    format!("{}[grants]\nkind = \"file\"\nfile = \"policies/demo/grants.toml\"\n{}", &text[..a], &text[b..])
}

/// The demo configuration (policies/sesame.toml) with paths resolved from the repository.
pub fn demo_config() -> Config {
    Config::from_toml(&demo_text(), "embedded default", &root()).unwrap()
}

/// Config from the demo text with `edit` applied to the TOML source.
pub fn demo_config_with(edit: impl Fn(&str) -> String) -> Config {
    Config::from_toml(&edit(&demo_text()), "test", &root()).unwrap()
}

/// A minter with the test key whose audit log lives in its own temporary directory.
pub struct TestMinter {
    pub minter: Minter,
    pub audit_dir: tempfile::TempDir,
}

impl std::ops::Deref for TestMinter {
    type Target = Minter;
    fn deref(&self) -> &Minter {
        &self.minter
    }
}

/// The wall clock of test minters (audit record times).
pub fn test_wall_clock() -> DateTime<Utc> {
    at("2026-12-01T15:00:30Z")
}

pub fn minter_with(config: &Config, material: SigningMaterial) -> TestMinter {
    let audit_dir = tempfile::tempdir().unwrap();
    let mut config = config.clone();
    config.audit.dir = audit_dir.path().to_path_buf();
    let audit = sesame::edge::wiring::open_audit(&config, &material, test_wall_clock()).unwrap();
    let mut minter = sesame::edge::wiring::minter(&config, &material, audit).unwrap();
    minter.wall_clock = test_wall_clock;
    TestMinter { minter, audit_dir }
}

pub fn minter(config: &Config) -> TestMinter {
    minter_with(config, test_material())
}

/// A fixed nonce: byte `seed` repeated (goldens), or varied by `seed`.
pub fn nonce(seed: u8) -> Nonce {
    let mut b = [0u8; 48];
    for (i, x) in b.iter_mut().enumerate() {
        *x = seed.wrapping_mul(31).wrapping_add(i as u8);
    }
    Nonce::from_bytes(b)
}

pub fn cert_pem() -> String {
    std::fs::read_to_string(data("test-signing.crt")).unwrap()
}

/// Which signature xmlsec1 checks.
#[derive(Clone, Copy)]
pub enum Sig {
    Assertion,
    Response,
}

/// Runs xmlsec1 --verify on `xml` with `cert`; true when the chosen signature verifies.
/// Only the given key is trusted: X.509 data inside the document is not used.
pub fn xmlsec1_verifies(xml: &[u8], cert: &Path, which: Sig) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("doc.xml");
    std::fs::write(&f, xml).unwrap();
    let xpath = match which {
        Sig::Assertion => {
            "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']"
        }
        Sig::Response => "/*[local-name()='Response']/*[local-name()='Signature']",
    };
    let out = Command::new("xmlsec1")
        .args(["--verify", "--enabled-key-data", "rsa", "--pubkey-cert-pem"])
        .arg(cert)
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"])
        .args(["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response"])
        .args(["--node-xpath", xpath])
        .arg(&f)
        .output()
        .expect("xmlsec1 is installed by scripts/test");
    out.status.success()
}

/// Python3-saml's verdict on each response (base64), as AWS's SP with its clock at `now`.
pub fn onelogin(
    responses: &[String],
    now: DateTime<Utc>,
    want_response_signed: bool,
) -> Vec<serde_json::Value> {
    let cfg = demo_config();
    let req = serde_json::json!({
        "mode": "responses",
        "idp_entity_id": cfg.idp.entity_id,
        "acs_url": cfg.aws.acs_url,
        "audience": cfg.aws.audience,
        "cert_pem": cert_pem(),
        "now": now.timestamp(),
        "want_response_signed": want_response_signed,
        "responses": responses,
    });
    run_python(&req)
}

pub fn run_python(req: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut child = Command::new("/usr/bin/python3")
        .arg(root().join("tests/validators/onelogin_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3-saml is installed by scripts/test");
    child.stdin.take().unwrap().write_all(req.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "validator crashed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The sesame binary built for this test run.
pub fn sesame() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sesame"));
    c.current_dir(root()).env_remove("SESAME_CONFIG");
    c
}

/// A configuration in a temporary directory: the repository's policies and demo data
/// unless overridden, the test key, and `extra` TOML appended to sections.
pub struct TempConfig {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub _key: KeyCopy,
}

impl TempConfig {
    pub fn config(&self) -> Config {
        Config::load(Some(&self.path)).unwrap()
    }
}

/// Writes a full config file. `files` are (name, content) written next to it; the
/// entitlements/schedules/directory/grants/inventory entries point at them when given,
/// else at the repository's demo files.
pub fn temp_config(idp_extra: &str, files: &[(&str, &str)]) -> TempConfig {
    temp_config_with(idp_extra, files, &|_: &Path, pick: &Pick<'_>| {
        format!("kind = \"file\"\nfile = {:?}\n", pick("directory.toml", "policies/demo/directory.toml"))
    })
}

/// Picks a data file: the one written beside the configuration, or a repository default.
pub type Pick<'a> = dyn Fn(&str, &str) -> String + 'a;

/// As [`temp_config`], with the `[directory]` table's lines written by `directory`,
/// which gets the configuration's directory (for files such as a password) and the
/// file picker.
pub fn temp_config_with(
    idp_extra: &str,
    files: &[(&str, &str)],
    directory: &dyn Fn(&Path, &Pick<'_>) -> String,
) -> TempConfig {
    let dir = tempfile::tempdir().unwrap();
    let key = key_copy("test-signing");
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let pick = |name: &str, default: &str| -> String {
        if files.iter().any(|(n, _)| *n == name) {
            dir.path().join(name).display().to_string()
        } else {
            root().join(default).display().to_string()
        }
    };
    let text = format!(
        r#"
[idp]
entity_id = "https://sesame.localhost/idp"
sso_url = "https://sesame.localhost/sso"
{idp_extra}

[aws]
role_arn = "arn:aws:iam::111122223333:role/sesame-session-manager"
provider_arn = "arn:aws:iam::111122223333:saml-provider/sesame"

[keys]
signing_key = {key:?}
signing_cert = {cert:?}

[policies]
entitlements = {ent:?}
schedules = {sched:?}

[grants]
kind = "file"
file = {grants:?}

[inventory]
kind = "file"
file = {inv:?}

[audit]
dir = {audit:?}

[directory]
{directory}
"#,
        key = key.key.display().to_string(),
        cert = key.cert.display().to_string(),
        ent = pick("entitlements.toml", "policies/entitlements.toml"),
        sched = pick("schedules.toml", "policies/schedules.toml"),
        grants = pick("grants.toml", "policies/demo/grants.toml"),
        inv = pick("inventory.toml", "policies/demo/inventory.toml"),
        audit = dir.path().join("audit").display().to_string(),
        directory = directory(dir.path(), &pick),
    );
    let path = dir.path().join("sesame.toml");
    std::fs::write(&path, text).unwrap();
    TempConfig { dir, path, _key: key }
}

pub fn wide_config(n: usize) -> TempConfig {
    let mut ent = format!("max_sets = {n}\n");
    let mut grants = String::new();
    let mut groups = Vec::new();
    for i in 0..n {
        ent += &format!(
            "[[entitlement]]\ngroup = \"pam-{i:02}\"\nvalues = {{ APP_GROUP_NAME = \"app{i}\", APP_ID = \"ID{i}\", RELEASE_ID = \"{i}.0\" }}\n"
        );
        grants += &format!(
            "[[grant]]\nuser = \"wide\"\ngroup = \"pam-{i:02}\"\nstart = \"2026-01-01T00:00:00Z\"\nend = \"2030-01-01T00:00:00Z\"\nticket = \"T-{i}\"\napprover = \"dana\"\n"
        );
        groups.push(format!("\"pam-{i:02}\""));
    }
    let dirf = format!("[[user]]\nname = \"wide\"\ngroups = [{}]\n", groups.join(", "));
    temp_config(
        "",
        &[
            ("entitlements.toml", &ent),
            ("directory.toml", &dirf),
            ("grants.toml", &grants),
            ("inventory.toml", ""),
        ],
    )
}

/// Every record of the `local` chain in `dir`, in order, as `T` (JSON values or records).
pub fn audit_records<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    sesame::audit::files::log_files(dir, "local")
        .unwrap()
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<T>>()
        })
        .collect()
}

/// Every record of the `local` chain in `dir`, as JSON, in order.
pub fn audit_json(dir: &Path) -> Vec<serde_json::Value> {
    audit_records(dir)
}
