//! Fixture: the real `sesame serve` on a loopback port with real certificates, and
//! HTTPS clients holding client certificates.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use sesame::keys::dev_tls::{self, DevTls};

use crate::common::{sesame, temp_config, TempConfig};

pub const ALL_ROLES: &str = r#"["minter", "approver", "auditor", "admin"]"#;

/// A running server; SIGTERM on drop (graceful shutdown seals the audit log).
pub struct Server {
    pub child: Child,
    pub url: String,
    pub tls: DevTls,
    pub env: TempConfig,
}

impl Server {
    pub fn config_path(&self) -> &Path {
        &self.env.path
    }
    pub fn audit_dir(&self) -> PathBuf {
        self.env.dir.path().join("audit")
    }
    /// A client with the demo certificate (every role).
    pub fn client(&self) -> reqwest::blocking::Client {
        client(&self.tls.ca_cert, &self.tls.client_cert, &self.tls.client_key)
    }
    /// A client with a new certificate `CN=<cn>` from the server's CA.
    pub fn client_as(&self, cn: &str) -> reqwest::blocking::Client {
        let dir = self.env.dir.path();
        let (c, k) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
        dev_tls::issue_client(&self.tls, cn, &c, &k, crate::common::at("2026-11-20T00:00:00Z")).unwrap();
        client(&self.tls.ca_cert, &c, &k)
    }
    pub fn signal(&self, sig: &str) {
        let ok =
            std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }
    /// SIGTERM and wait for the process to exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

pub fn client(ca: &Path, cert: &Path, key: &Path) -> reqwest::blocking::Client {
    let mut pem = std::fs::read(cert).unwrap();
    pem.extend(std::fs::read(key).unwrap());
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A client that trusts the server's CA but presents no certificate.
pub fn anonymous(ca: &Path) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap())
        .build()
        .unwrap()
}

/// Starts a server on the demo data with an SQLite grants store; `extra` is appended
/// to the configuration (more `[[server.client]]` tables, say); `edit` rewrites it.
pub fn start_with(extra: &str, edit: impl Fn(String) -> String) -> Server {
    let (env, tls_dir) = config_with(extra, edit);
    spawn(env, tls_dir, &[])
}

/// The configuration of [`start_with`], not started.
pub fn config_with(extra: &str, edit: impl Fn(String) -> String) -> (TempConfig, PathBuf) {
    let env = temp_config("", &[]);
    let tls_dir = env.dir.path().join("tls");
    let text = std::fs::read_to_string(&env.path).unwrap();
    let a = text.find("[grants]").unwrap();
    let b = a + text[a..].find("\n[inventory]").unwrap();
    let grants = format!(
        "[grants]\nkind = \"sqlite\"\nfile = {:?}\nseed = {:?}\nmax_seconds = 157680000\n",
        env.dir.path().join("grants.db").display().to_string(),
        crate::common::root().join("policies/demo/grants.toml").display().to_string()
    );
    let text = format!(
        "{}{}{}\n[server]\nlisten = \"127.0.0.1:0\"\ndev_tls_dir = {:?}\n\n[[server.client]]\nidentity = \"cn:demo-access-manager\"\nroles = {ALL_ROLES}\n{extra}\n",
        &text[..a],
        grants,
        &text[b..],
        tls_dir.display().to_string()
    );
    std::fs::write(&env.path, edit(text)).unwrap();
    (env, tls_dir)
}

pub fn start() -> Server {
    start_with("", |t| t)
}

pub fn spawn(env: TempConfig, tls_dir: PathBuf, args: &[&str]) -> Server {
    spawn_env(env, tls_dir, args, &[])
}

/// As [`spawn`], with environment variables for the server (AWS credentials, say).
pub fn spawn_env(env: TempConfig, tls_dir: PathBuf, args: &[&str], vars: &[(&str, String)]) -> Server {
    let mut child = sesame()
        .arg("--config")
        .arg(&env.path)
        .arg("serve")
        .args(args)
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("SESAME_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("server did not start: {line:?}"))
        .to_owned();
    Server { child, url, tls: DevTls::in_dir(&tls_dir), env }
}

pub fn mint_body(user: &str, instance: &str) -> serde_json::Value {
    serde_json::json!({"user": user, "instance_id": instance, "region": "us-east-1"})
}

/// Rewrites a configuration so its directory is LDAP on a port where nothing listens.
pub fn dead_directory(t: String) -> String {
    let a = t.find("[directory]").unwrap();
    let b = a + t[a..].find("\n[").unwrap();
    format!(
        "{}[directory]\nkind = \"ldap\"\nurl = \"ldap://127.0.0.1:1\"\nallow_plaintext = true\nbind_dn = \"cn=x\"\nbind_password_env = \"HOME\"\nuser_base = \"dc=x\"\ntimeout_ms = 300\n{}",
        &t[..a],
        &t[b..]
    )
}
