//! In-process benchmarks of the mint path: decide, build, sign (canonical bytes, and the
//! libxmlsec1 path for comparison), the whole mint, and the physical limit (one raw
//! RSA-2048 PKCS#1 v1.5 SHA-256 signature through OpenSSL).
//! Numbers go to BENCHMARKS.md; CI runs this only as a smoke test (`-- --test`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: setup failures should stop it

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sesame::config::Config;
use sesame::core::{decide, Entitlement, Grant, Nonce, Request};
use sesame::keys::SigningMaterial;
use sesame::saml::libxmlsec::Targets;
use sesame::saml::response::build_response;
use sesame::service::mint::Minter;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn material(dir: &tempfile::TempDir) -> SigningMaterial {
    let key = dir.path().join("k.pem");
    std::fs::copy(root().join("tests/data/test-signing.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    sesame::keys::load(&key, &root().join("tests/data/test-signing.crt")).unwrap()
}

fn minter_in(cfg: &Config, m: &SigningMaterial, dir: &tempfile::TempDir) -> Minter {
    let mut cfg = cfg.clone();
    cfg.audit.dir = dir.path().join("audit");
    let audit = sesame::edge::wiring::open_audit(&cfg, m, now()).unwrap();
    sesame::edge::wiring::minter(&cfg, m, audit).unwrap()
}

fn setup() -> (Config, Minter, SigningMaterial, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::from_toml(sesame::config::EMBEDDED_DEFAULT, "bench", &root()).unwrap();
    cfg.grants = sesame::config::Source::File(root().join("policies/demo/grants.toml"));
    let m = material(&dir);
    let minter = minter_in(&cfg, &m, &dir);
    (cfg, minter, m, dir)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T15:00:00Z").unwrap().with_timezone(&Utc)
}

fn benches(c: &mut Criterion) {
    let (cfg, minter, material, _dir) = setup();
    let nonce = Nonce::from_bytes([7; 48]);
    let req = Request::parse("alice", "i-0fedcba9876543210", "us-east-1").unwrap();
    let groups: Vec<_> =
        ["pam-webserver", "pam-payments"].iter().map(|g| sesame::core::DirGroup::named(g)).collect();
    let (ents, _) = cfg.mapping.map(&groups);
    let d = decide(now(), &nonce, &ents, &[], None, &cfg.policy);
    let signing = minter.signing().unwrap();
    let roles = vec![cfg.aws.accounts.home.value()];
    let unsigned = build_response(&signing.params, &roles, &req, &d, &nonce).unwrap();

    let mut g = c.benchmark_group("mint");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decide", |b| b.iter(|| decide(now(), &nonce, &ents, &[], None, &cfg.policy)));
    g.bench_function("build", |b| {
        b.iter(|| build_response(&signing.params, &roles, &req, &d, &nonce).unwrap())
    });
    let cert = &signing.params.cert_b64;
    g.bench_function("sign", |b| b.iter(|| signing.key.sign(&unsigned, cert, false).unwrap()));
    // The same signature through libxmlsec1 (parse, c14n, digest, RSA, dump): the
    // path sesame used before signing canonical bytes directly; encryption still uses it.
    let template = sesame::saml::dsig::template(&unsigned, cert, false).unwrap();
    g.bench_function("sign_libxmlsec1", |b| {
        b.iter(|| signing.signer.sign(&template, Targets::Assertion).unwrap())
    });
    // The in-process figure: decide + build + sign + serialize + base64.
    g.bench_function("pipeline", |b| b.iter(|| pipeline(&minter, &req, &ents, &[], &nonce)));
    // Everything `sesame mint` does per request: lookups, the pipeline, and the audit
    // append with fdatasync (the disk, not the CPU, sets this one).
    g.bench_function("mint_end_to_end", |b| {
        b.iter(|| {
            let m = minter.mint("alice", "i-0fedcba9876543210", "us-east-1", now(), &nonce).unwrap();
            m.base64()
        })
    });
    g.bench_function("openssl_rsa2048_sign_limit", |b| {
        b.iter(|| {
            let mut s =
                openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &material.key).unwrap();
            s.update(b"0123456789abcdef0123456789abcdef").unwrap();
            s.sign_to_vec().unwrap()
        })
    });
    g.finish();

    // 16 sets: the largest session AWS allows with three tag columns.
    let wide_dir = tempfile::tempdir().unwrap();
    let wide = wide_minter(&material, &wide_dir);
    let wide_req = Request::parse("wide", "i-0fedcba9876543210", "us-east-1").unwrap();
    let wide_groups: Vec<_> =
        (0..16).map(|i| sesame::core::DirGroup::named(&format!("pam-{i:02}"))).collect();
    let (wide_ents, _) = wide.mapping.map(&wide_groups);
    let wide_grants = wide.grants.grants(&wide_req.user, now()).unwrap();
    let mut g = c.benchmark_group("mint16");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pipeline_16_sets", |b| {
        b.iter(|| pipeline(&wide, &wide_req, &wide_ents, &wide_grants, &nonce))
    });
    g.bench_function("mint_end_to_end_16_sets", |b| {
        b.iter(|| {
            let m = wide.mint("wide", "i-0fedcba9876543210", "us-east-1", now(), &nonce).unwrap();
            base64::engine::general_purpose::STANDARD.encode(m.xml())
        })
    });
    g.finish();

    // The same two pipelines signed with an RSA-3072 key (issue 17: banks move to them).
    let (k3072_dir, wide3072_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let m3072 = material_3072(&k3072_dir);
    let (minter, wide) = (minter_in(&cfg, &m3072, &k3072_dir), wide_minter(&m3072, &wide3072_dir));
    let mut g = c.benchmark_group("mint3072");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pipeline", |b| b.iter(|| pipeline(&minter, &req, &ents, &[], &nonce)));
    g.bench_function("pipeline_16_sets", |b| {
        b.iter(|| pipeline(&wide, &wide_req, &wide_ents, &wide_grants, &nonce))
    });
    g.finish();
}

fn material_3072(dir: &tempfile::TempDir) -> SigningMaterial {
    let spec = sesame::keys::GenerateSpec {
        bits: 3072,
        key_path: dir.path().join("k3072.pem"),
        cert_path: dir.path().join("k3072.crt"),
        common_name: "bench".into(),
        days: 30,
        force: false,
    };
    sesame::keys::generate(&spec, now()).unwrap();
    let m = sesame::keys::load(&spec.key_path, &spec.cert_path).unwrap();
    assert_eq!(m.key.bits(), 3072);
    m
}

/// decide + build + sign + base64, as the minter runs them (no lookups, no audit).
fn pipeline(m: &Minter, req: &Request, ents: &[Entitlement], grants: &[Grant], nonce: &Nonce) -> String {
    let d = decide(now(), nonce, ents, grants, None, &m.policy);
    assert_eq!(d.refusal, None);
    let signing = m.signing().unwrap();
    let u = build_response(&signing.params, &[m.accounts.home.value()], req, &d, nonce).unwrap();
    let xml = signing.key.sign(&u, &signing.params.cert_b64, false).unwrap();
    base64::engine::general_purpose::STANDARD.encode(xml)
}

fn wide_minter(material: &SigningMaterial, audit_dir: &tempfile::TempDir) -> Minter {
    let dir = tempfile::tempdir().unwrap();
    let (mut ent, mut grants, mut groups) = ("max_sets = 16\n".to_owned(), String::new(), Vec::new());
    for i in 0..16 {
        ent += &format!("[[entitlement]]\ngroup = \"pam-{i:02}\"\nvalues = {{ APP_GROUP_NAME = \"app{i}\", APP_ID = \"ID{i}\", RELEASE_ID = \"{i}.0\" }}\n");
        grants += &format!("[[grant]]\nuser = \"wide\"\ngroup = \"pam-{i:02}\"\nstart = \"2026-01-01T00:00:00Z\"\nend = \"2030-01-01T00:00:00Z\"\nticket = \"T\"\napprover = \"a\"\n");
        groups.push(format!("\"pam-{i:02}\""));
    }
    std::fs::write(dir.path().join("e.toml"), ent).unwrap();
    std::fs::write(dir.path().join("g.toml"), grants).unwrap();
    std::fs::write(
        dir.path().join("d.toml"),
        format!("[[user]]\nname = \"wide\"\ngroups = [{}]\n", groups.join(",")),
    )
    .unwrap();
    std::fs::write(dir.path().join("i.toml"), "").unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let text = sesame::config::EMBEDDED_DEFAULT
        .replace("policies/entitlements.toml", &p("e.toml"))
        .replace("policies/demo/grants.toml", &p("g.toml"))
        .replace("policies/demo/directory.toml", &p("d.toml"))
        .replace("policies/demo/inventory.toml", &p("i.toml"));
    let mut cfg = Config::from_toml(&text, "bench16", &root()).unwrap();
    cfg.grants = sesame::config::Source::File(dir.path().join("g.toml"));
    minter_in(&cfg, material, audit_dir)
}

criterion_group!(all, benches);
criterion_main!(all);
