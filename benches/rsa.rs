//! The signature limit: RSA PKCS#1 v1.5 SHA-256 signing of one SignedInfo-sized message
//! (700 bytes) through each well-kept implementation this machine builds from its
//! registries — OpenSSL 3 (the `openssl` crate, as `saml::dsig` signs today), aws-lc-rs
//! and ring — with 2048- and 3072-bit keys, each key loaded once. PKCS#1 v1.5 is
//! deterministic, so the setup first checks that all three produce the same bytes for the
//! same key and message (and that OpenSSL verifies them): a faster implementation that
//! signed something else would fail here, not in a benchmark table.
//!
//! `cargo bench --bench rsa` (numbers in BENCHMARKS.md); `-- --test` runs each once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: setup failures should stop it

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;

const MESSAGE: [u8; 700] = [b'x'; 700];

fn keys() -> Vec<(u32, PKey<Private>)> {
    let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/test-signing.key")).unwrap();
    let k2048 = PKey::private_key_from_pem(&pem).unwrap();
    assert_eq!(k2048.bits(), 2048);
    let k3072 = PKey::from_rsa(Rsa::generate(3072).unwrap()).unwrap();
    vec![(2048, k2048), (3072, k3072)]
}

fn openssl_sign(k: &PKey<Private>) -> Vec<u8> {
    let mut s = openssl::sign::Signer::new(MessageDigest::sha256(), k).unwrap();
    s.update(&MESSAGE).unwrap();
    s.sign_to_vec().unwrap()
}

fn benches(c: &mut Criterion) {
    let rng = ring::rand::SystemRandom::new();
    let lc_rng = aws_lc_rs::rand::SystemRandom::new();
    let mut g = c.benchmark_group("rsa_sign");
    g.throughput(Throughput::Elements(1));
    for (bits, key) in keys() {
        let pkcs8 = key.private_key_to_pkcs8().unwrap();
        let ring_key = ring::signature::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
        let lc_key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
        let ring_sign = || {
            let mut sig = vec![0; ring_key.public().modulus_len()];
            ring_key.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &MESSAGE, &mut sig).unwrap();
            sig
        };
        let lc_sign = || {
            let mut sig = vec![0; lc_key.public_modulus_len()];
            lc_key.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &lc_rng, &MESSAGE, &mut sig).unwrap();
            sig
        };
        let reference = openssl_sign(&key);
        assert_eq!(ring_sign(), reference, "ring signs other bytes ({bits} bits)");
        assert_eq!(lc_sign(), reference, "aws-lc-rs signs other bytes ({bits} bits)");
        let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), &key).unwrap();
        v.update(&MESSAGE).unwrap();
        assert!(v.verify(&reference).unwrap());
        g.bench_function(format!("openssl/{bits}"), |b| b.iter(|| openssl_sign(&key)));
        g.bench_function(format!("aws-lc-rs/{bits}"), |b| b.iter(lc_sign));
        g.bench_function(format!("ring/{bits}"), |b| b.iter(ring_sign));
    }
    g.finish();
}

criterion_group!(rsa, benches);
criterion_main!(rsa);
