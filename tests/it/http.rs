//! `sesame serve` end to end: mutual TLS, roles, every error code, grants lifecycle,
//! concurrency with the audit log verified, SIGHUP reload, readiness.

use reqwest::StatusCode;
use serde_json::Value;

use crate::server::{anonymous, client, mint_body, start, start_with};

const WEB: &str = "i-0123456789abcdef0";

fn audit_records(s: &crate::server::Server) -> Vec<Value> {
    crate::common::audit_json(&s.audit_dir())
}

#[test]
fn mints_json_and_the_html_form_for_the_demo() {
    let s = start();
    let c = s.client();
    let r = c.post(format!("{}/v1/assertions", s.url)).json(&mint_body("alice", WEB)).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rid = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = r.json().unwrap();
    assert_eq!(v["decision"]["sets"][0]["entitlement"], "pam-webserver");
    assert_eq!(v["decision"]["sets"][0]["status"], "open");
    assert_eq!(
        v["relay_state"],
        "https://console.aws.amazon.com/systems-manager/session-manager/i-0123456789abcdef0?region=us-east-1"
    );
    let html = c
        .post(format!("{}/v1/assertions", s.url))
        .header("accept", "text/html")
        .json(&mint_body("alice", WEB))
        .send()
        .unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = html.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let body = html.text().unwrap();
    let script = &body[body.find("<script>").unwrap() + 8..body.find("</script>").unwrap()];
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(script.as_bytes()));
    assert!(csp.contains(&format!("script-src 'sha256-{hash}'")), "{csp}");
    assert!(
        csp.contains("form-action https://signin.aws.amazon.com/saml") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert!(
        body.contains(r#"action="https://signin.aws.amazon.com/saml""#)
            && body.contains("name=\"SAMLResponse\"")
    );
    // The request ID reaches the audit record.
    let recs = audit_records(&s);
    let rec = recs.iter().find(|r| r["assertion_id"] == v["assertion_id"]).unwrap();
    assert_eq!(rec["request_id"], rid);
    assert_eq!(rec["caller"], "cn:demo-access-manager");
}

#[test]
fn every_failure_is_a_json_error_with_a_stable_code() {
    let s = start();
    let c = s.client();
    let post = |body: String| {
        c.post(format!("{}/v1/assertions", s.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
    };
    let cases: Vec<(String, u16, &str)> = vec![
        (mint_body("alice", "i-XYZ").to_string(), 400, "bad_input"),
        (mint_body("al ice", WEB).to_string(), 400, "bad_input"),
        ("{\"user\": \"alice\"".into(), 400, "bad_input"),
        (r#"{"user":"alice","instance_id":"i-0123456789abcdef0","region":"us-east-1","extra":1}"#.into(), 400, "bad_input"),
        (r#"{"user":"alice","instance_id":"i-0123456789abcdef0","region":"us-east-1","account_id":"999999999999"}"#.into(), 400, "bad_input"),
        (format!(r#"{{"user":"{}","instance_id":"i-0123456789abcdef0","region":"us-east-1"}}"#, "a".repeat(20_000)), 413, "body_too_large"),
        (mint_body("mallory", WEB).to_string(), 404, "unknown_user"),
        (mint_body("bob", WEB).to_string(), 409, "no_entitlement"),
        (mint_body("alice", "i-0fedcba9876543210").to_string(), 200, ""),
    ];
    for (body, status, code) in cases {
        let r = post(body.clone());
        assert_eq!(r.status().as_u16(), status, "{}", &body[..body.len().min(120)]);
        if status != 200 {
            let v: Value = r.json().unwrap();
            assert_eq!(v["error"]["code"], code, "{v}");
            assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    }
    let r = c.get(format!("{}/nope", s.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "not_found");
}

#[test]
fn a_request_without_a_certificate_never_reaches_a_handler_and_is_audited() {
    let s = start();
    let r = anonymous(&s.tls.ca_cert)
        .post(format!("{}/v1/assertions", s.url))
        .json(&mint_body("alice", WEB))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "unauthenticated");
    // Denials are counted and written per interval; a graceful stop writes the last.
    let dir = s.audit_dir();
    assert!(s.stop().success());
    let recs = crate::common::audit_json(&dir);
    assert!(recs.iter().any(|r| r["kind"] == "access" && r["code"] == "unauthenticated"));
    assert!(!recs.iter().any(|r| r["kind"] == "decision"), "no mint happened");
}

#[test]
fn a_certificate_from_another_ca_fails_the_handshake_and_is_audited() {
    let s = start();
    let other = tempfile::tempdir().unwrap();
    let set = sesame::keys::dev_tls::DevTls::in_dir(other.path());
    sesame::keys::dev_tls::generate(
        &set,
        "demo-access-manager",
        crate::common::at("2026-11-20T00:00:00Z"),
        30,
    )
    .unwrap();
    let c = client(&s.tls.ca_cert, &set.client_cert, &set.client_key);
    assert!(c.get(format!("{}/healthz", s.url)).send().is_err(), "the handshake must fail");
    let dir = s.audit_dir();
    assert!(s.stop().success());
    let recs = crate::common::audit_json(&dir);
    let denied = recs.iter().find(|r| r["code"] == "client_certificate_rejected").expect("audited");
    assert_eq!(denied["caller"], "cn:demo-access-manager");
}

#[test]
fn a_certificate_without_the_role_gets_403_and_is_audited() {
    let s = start_with("[[server.client]]\nidentity = \"cn:approver-only\"\nroles = [\"approver\"]\n", |t| t);
    let c = s.client_as("approver-only");
    let r = c.post(format!("{}/v1/assertions", s.url)).json(&mint_body("alice", WEB)).send().unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().unwrap()["error"]["code"], "forbidden");
    let unknown = s.client_as("stranger");
    assert_eq!(unknown.get(format!("{}/metrics", s.url)).send().unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        unknown.get(format!("{}/healthz", s.url)).send().unwrap().status(),
        StatusCode::OK,
        "no role needed"
    );
    let dir = s.audit_dir();
    assert!(s.stop().success());
    let recs = crate::common::audit_json(&dir);
    let forbidden: u64 = recs
        .iter()
        .filter(|r| r["kind"] == "access" && r["code"] == "forbidden")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(forbidden, 2, "both refusals are counted");
}

#[test]
fn grant_then_mint_inside_then_revoke_then_mint_closed() {
    let s = start();
    let c = s.client();
    let mint = || -> Value {
        c.post(format!("{}/v1/assertions", s.url))
            .json(&mint_body("carol", WEB))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert_eq!(mint()["decision"]["sets"][0]["status"], "closed");
    let g: Value = c
        .post(format!("{}/v1/grants", s.url))
        .json(&serde_json::json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 3600, "ticket": "INC-42", "approver": "dana"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(g["status"], "active", "{g}");
    let open = mint();
    assert_eq!(open["decision"]["sets"][0]["status"], "open");
    assert_eq!(open["decision"]["sets"][0]["ticket"], "INC-42");
    let id = g["id"].as_i64().unwrap();
    let r = c.delete(format!("{}/v1/grants/{id}", s.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        mint()["decision"]["sets"][0]["status"],
        "closed",
        "revocation is effective for the next request"
    );
    let list: Value = c.get(format!("{}/v1/grants?user=carol", s.url)).send().unwrap().json().unwrap();
    let statuses: Vec<&str> =
        list["grants"].as_array().unwrap().iter().map(|g| g["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["expired", "revoked"], "expired and revoked grants are kept");
    // Refusals with clear errors.
    for (body, code) in [
        (
            serde_json::json!({"user": "carol", "group": "pam-nope", "duration_seconds": 60, "ticket": "T", "approver": "a"}),
            "bad_input",
        ),
        (
            serde_json::json!({"user": "carol", "group": "pam-webserver", "start": "2031-01-02T00:00:00Z", "end": "2031-01-01T00:00:00Z", "ticket": "T", "approver": "a"}),
            "bad_input",
        ),
        (
            serde_json::json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 200_000_000, "ticket": "T", "approver": "a"}),
            "bad_input",
        ),
    ] {
        let r = c.post(format!("{}/v1/grants", s.url)).json(&body).send().unwrap();
        assert!(r.status().is_client_error());
        assert_eq!(r.json::<Value>().unwrap()["error"]["code"], code, "{body}");
    }
    // A grant overlapping alice's seeded one stacks (access is the union).
    let stacked = c
        .post(format!("{}/v1/grants", s.url))
        .json(&serde_json::json!({"user": "alice", "group": "pam-webserver", "duration_seconds": 60, "ticket": "T", "approver": "a"}))
        .send()
        .unwrap();
    assert_eq!(stacked.status(), StatusCode::CREATED);
    assert_eq!(c.delete(format!("{}/v1/grants/{id}", s.url)).send().unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(
        c.delete(format!("{}/v1/grants/99999", s.url)).send().unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let kinds: Vec<String> = audit_records(&s)
        .iter()
        .filter(|r| r["kind"] == "grant")
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"grant_added".into())
            && kinds.contains(&"grant_revoked".into())
            && kinds.contains(&"grant_refused".into()),
        "{kinds:?}"
    );
}

#[test]
fn hundreds_of_concurrent_mints_each_have_their_record() {
    let s = start();
    let url = format!("{}/v1/assertions", s.url);
    let threads: Vec<_> = (0..12)
        .map(|_| {
            let c = s.client();
            let url = url.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        let r = c.post(&url).json(&mint_body("alice", WEB)).send().unwrap();
                        assert_eq!(r.status(), StatusCode::OK);
                        r.json::<Value>().unwrap()["assertion_id"].as_str().unwrap().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let ids: Vec<String> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    assert_eq!(ids.len(), 300);
    let path = s.config_path().to_path_buf();
    let audit_dir = s.audit_dir();
    assert!(s.stop().success(), "graceful shutdown");
    let out = crate::common::sesame()
        .arg("--config")
        .arg(&path)
        .args(["audit", "verify", "--sealed"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recs: Vec<Value> = crate::common::audit_json(&audit_dir);
    let minted: std::collections::HashSet<&str> =
        recs.iter().filter(|r| r["outcome"] == "minted").filter_map(|r| r["assertion_id"].as_str()).collect();
    assert_eq!(minted.len(), 300, "record count equals responses received");
    assert!(ids.iter().all(|i| minted.contains(i.as_str())));
}

#[test]
fn sighup_reloads_certificates_without_dropping_connections() {
    let s = start();
    let old = s.client();
    assert_eq!(old.get(format!("{}/healthz", s.url)).send().unwrap().status(), StatusCode::OK);
    // A whole new CA, server and client certificate replace the files.
    let new_dir = tempfile::tempdir().unwrap();
    let new = sesame::keys::dev_tls::DevTls::in_dir(new_dir.path());
    sesame::keys::dev_tls::generate(
        &new,
        "demo-access-manager",
        crate::common::at("2026-11-20T00:00:00Z"),
        30,
    )
    .unwrap();
    for (from, to) in [
        (&new.server_cert, &s.tls.server_cert),
        (&new.server_key, &s.tls.server_key),
        (&new.ca_cert, &s.tls.ca_cert),
    ] {
        std::fs::copy(from, to).unwrap();
    }
    s.signal("-HUP");
    std::thread::sleep(std::time::Duration::from_millis(500));
    // The pooled connection from before the reload keeps working.
    assert_eq!(old.get(format!("{}/healthz", s.url)).send().unwrap().status(), StatusCode::OK);
    // New connections use the new server certificate and trust the new client CA.
    let fresh = client(&new.ca_cert, &new.client_cert, &new.client_key);
    assert_eq!(fresh.get(format!("{}/healthz", s.url)).send().unwrap().status(), StatusCode::OK);
    // A new connection with the old client certificate is refused: the client CA changed.
    let stale = client(&new.ca_cert, &s.tls.client_cert, &s.tls.client_key);
    assert!(stale.get(format!("{}/healthz", s.url)).send().is_err());
}

#[test]
fn metrics_and_metadata_are_served() {
    let s = start();
    let c = s.client();
    c.post(format!("{}/v1/assertions", s.url)).json(&mint_body("alice", WEB)).send().unwrap();
    let m = c.get(format!("{}/metrics", s.url)).send().unwrap().text().unwrap();
    for needle in [
        "sesame_http_requests_total{",
        "sesame_http_request_duration_seconds_bucket",
        "sesame_decisions_total{outcome=\"minted\"} 1",
        "sesame_audit_fsyncs_total",
        "sesame_directory_lookups_total",
    ] {
        assert!(m.contains(needle), "{needle} in\n{m}");
    }
    let md = c.get(format!("{}/metadata", s.url)).send().unwrap();
    assert_eq!(md.headers()["content-type"], "application/samlmetadata+xml");
    assert!(md.text().unwrap().contains("md:EntityDescriptor"));
}

#[test]
fn readiness_fails_when_the_directory_is_down() {
    let s = start_with("", crate::server::dead_directory);
    let c = s.client();
    let r = c.get(format!("{}/readyz", s.url)).send().unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = r.json().unwrap();
    assert_eq!(v["status"], "not_ready");
    assert!(v["checks"]["directory"].as_str().unwrap().contains("cannot connect"), "{v}");
    assert_eq!(v["checks"]["audit"], "ok");
    let m = c.post(format!("{}/v1/assertions", s.url)).json(&mint_body("alice", WEB)).send().unwrap();
    assert_eq!(m.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(m.json::<Value>().unwrap()["error"]["code"], "directory_unavailable");
}

#[test]
fn plain_http_is_refused_off_loopback_and_served_on_it_only_with_the_flag() {
    let env = crate::common::temp_config("", &[]);
    let out = crate::common::sesame()
        .arg("--config")
        .arg(&env.path)
        .args(["serve", "--insecure-dev-http", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only on a loopback address"));
    let tls_dir = env.dir.path().join("tls");
    let s = crate::server::spawn(env, tls_dir, &["--insecure-dev-http", "--listen", "127.0.0.1:0"]);
    assert!(s.url.starts_with("http://127.0.0.1:"));
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v1/assertions", s.url))
        .json(&mint_body("alice", WEB))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Issue 17: the mint answer is written without serde_json's escape pass over the
/// base64; it is still exactly the text serde_json makes of the same fields, and its
/// SAMLResponse decodes to the signed XML.
#[test]
fn the_mint_answer_is_the_json_serde_json_would_write() {
    use base64::Engine as _;
    let m = crate::common::minter(&crate::common::demo_config());
    let at = crate::common::at("2026-12-01T15:00:00Z");
    let minted = m.mint("alice", "i-0fedcba9876543210", "us-east-1", at, &crate::common::nonce(1)).unwrap();
    let text = sesame::edge::render::minted_text(&minted);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.to_string(), text, "the same bytes as serde_json's sorted map");
    let b64 = v["saml_response"].as_str().unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), minted.xml());
    assert_eq!(v["assertion_id"], minted.assertion_id());
    assert!(v["decision"]["sets"].as_array().is_some_and(|s| !s.is_empty()), "{v}");
}
