//! What the targets share: the repository root and the demo configuration with the
//! committed test key (copied to mode 0600), built once per process.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The demo configuration with file grants, the test key and an audit log in `dir`.
#[allow(dead_code)] // not every target mints
pub fn config(dir: &std::path::Path) -> sesame::config::Config {
    let key = dir.join("signing.key");
    let cert = dir.join("signing.crt");
    std::fs::copy(root().join("tests/data/test-signing.key"), &key).expect("test key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::copy(root().join("tests/data/test-signing.crt"), &cert).expect("test cert");
    let text = sesame::config::EMBEDDED_DEFAULT;
    let a = text.find("[grants]").expect("grants section");
    let b = a + text[a..].find("\n[inventory]").expect("inventory section");
    let text = format!(
        "{}[grants]\nkind = \"file\"\nfile = \"policies/demo/grants.toml\"\n{}",
        &text[..a],
        &text[b..]
    );
    let mut cfg = sesame::config::Config::from_toml(&text, "fuzz", &root()).expect("demo config");
    cfg.keys.signing_key = key.clone();
    cfg.keys.signing_cert = cert.clone();
    cfg.audit.checkpoint_key = key;
    cfg.audit.checkpoint_cert = cert;
    cfg.audit.dir = dir.join("audit");
    cfg.audit.rotate_bytes = 1 << 20;
    cfg
}
