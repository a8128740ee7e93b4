//! Load for `POST /v1/assertions`: starts the real `sesame serve` (release build) on
//! loopback with development certificates, drives it over mutual TLS with keep-alive
//! at several concurrency levels for a bounded time each, and prints requests per
//! second and p50/p99 latency next to `openssl speed rsa2048` (`cargo bench --bench
//! http_load`). CI runs it with `-- --test` (one request per level) as the smoke test of
//! the service path; the published figures come from oha in `scripts/bench-load`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a load harness

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn client(dir: &Path) -> reqwest::blocking::Client {
    let t = dir.join("keys/dev-tls");
    let mut pem = std::fs::read(t.join("client.crt")).unwrap();
    pem.extend(std::fs::read(t.join("client.key")).unwrap());
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(t.join("ca.crt")).unwrap()).unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .pool_max_idle_per_host(1)
        .build()
        .unwrap()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn openssl_speed() -> Option<f64> {
    let out = Command::new("openssl").args(["speed", "-seconds", "3", "rsa2048"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("rsa 2048 bits"))?;
    line.split_whitespace().nth(5)?.parse().ok()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sesame"));
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-r").arg(root().join("policies")).arg(dir.path()).status().unwrap();
    assert!(status.success());
    let mut child = Command::new(&bin)
        .current_dir(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SESAME_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = format!("{}/v1/assertions", line.trim().strip_prefix("listening on ").unwrap());
    let body =
        serde_json::json!({"user": "alice", "instance_id": "i-0123456789abcdef0", "region": "us-east-1"});
    let warm = client(dir.path());
    for _ in 0..50 {
        assert!(warm.post(&url).json(&body).send().unwrap().status().is_success());
    }
    let limit = if quick { None } else { openssl_speed() };
    let per_level = Duration::from_secs(if quick { 0 } else { 8 });
    println!(
        "| concurrency | requests | req/s | p50 ms | p99 ms | vs openssl speed rsa2048 ({}) |",
        limit.map_or("n/a".into(), |l| format!("{l:.0}/s"))
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for conc in [1usize, 4, 16, 64] {
        let start = Instant::now();
        let threads: Vec<_> = (0..conc)
            .map(|_| {
                let c = client(dir.path());
                let (url, body) = (url.clone(), body.clone());
                std::thread::spawn(move || {
                    let mut lat = Vec::new();
                    let t0 = Instant::now();
                    loop {
                        let s = Instant::now();
                        let r = c.post(&url).json(&body).send().unwrap();
                        assert!(r.status().is_success());
                        let _ = r.bytes().unwrap();
                        lat.push(s.elapsed().as_secs_f64() * 1e3);
                        if t0.elapsed() >= per_level || lat.len() >= 200_000 {
                            break;
                        }
                    }
                    lat
                })
            })
            .collect();
        let mut all: Vec<f64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let secs = start.elapsed().as_secs_f64();
        let rps = all.len() as f64 / secs;
        let ratio = limit.map_or("n/a".into(), |l| format!("{:.0} %", 100.0 * rps / l));
        println!(
            "| {conc} | {} | {rps:.0} | {:.2} | {:.2} | {ratio} |",
            all.len(),
            pct(&mut all, 0.5),
            pct(&mut all, 0.99)
        );
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}
