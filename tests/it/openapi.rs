//! docs/openapi.json against the running server's real responses: every response the
//! tests provoke must be documented for its route, method and status, and its JSON
//! body must validate against the documented schema.

use reqwest::blocking::Response;
use serde_json::{json, Value};

use crate::common::root;
use crate::server::{anonymous, mint_body, start_with};

pub fn spec() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("docs/openapi.json")).unwrap()).unwrap()
}

/// Checks one real response against the document.
pub fn check(spec: &Value, path: &str, method: &str, r: Response) {
    let status = r.status().as_u16().to_string();
    let ctype = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let doc = &spec["paths"][path][method]["responses"][&status];
    assert!(doc.is_object(), "{method} {path} answered {status}, which the document does not list");
    let media =
        doc["content"].as_object().and_then(|m| m.keys().find(|k| ctype.starts_with(k.as_str())).cloned());
    let media =
        media.unwrap_or_else(|| panic!("{method} {path} {status}: content type {ctype:?} not documented"));
    if media == "application/json" {
        let body: Value = r.json().unwrap();
        let mut schema = doc["content"][&media]["schema"].clone();
        if let Some(o) = schema.as_object_mut() {
            o.insert("components".into(), spec["components"].clone());
        }
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{method} {path} {status}: {errors:?}\n{body}");
    }
}

#[test]
fn real_responses_match_the_document() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let s = start_with("[[server.client]]\nidentity = \"cn:nobody\"\nroles = []\n", |t| t);
    let c = s.client();
    let u = |p: &str| format!("{}{p}", s.url);
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(u("/v1/assertions")).json(&mint_body("alice", "i-0123456789abcdef0")).send().unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(u("/v1/assertions")).json(&mint_body("carol", "i-0123456789abcdef0")).send().unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(u("/v1/assertions"))
            .header("accept", "text/html")
            .json(&mint_body("alice", "i-0123456789abcdef0"))
            .send()
            .unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(u("/v1/assertions")).json(&mint_body("bob", "i-0123456789abcdef0")).send().unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(u("/v1/assertions")).json(&mint_body("mallory", "i-0123456789abcdef0")).send().unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(u("/v1/assertions")).json(&json!({"user": "x"})).send().unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        anonymous(&s.tls.ca_cert)
            .post(u("/v1/assertions"))
            .json(&mint_body("alice", "i-0123456789abcdef0"))
            .send()
            .unwrap(),
    );
    check(
        &spec,
        "/v1/assertions",
        "post",
        s.client_as("nobody")
            .post(u("/v1/assertions"))
            .json(&mint_body("alice", "i-0123456789abcdef0"))
            .send()
            .unwrap(),
    );
    let g = c.post(u("/v1/grants")).json(&json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 600, "ticket": "T-1", "approver": "dana"})).send().unwrap();
    check(&spec, "/v1/grants", "post", g);
    check(&spec, "/v1/grants", "post", c.post(u("/v1/grants")).json(&json!({"user": "carol", "group": "pam-webserver", "duration_seconds": 600, "ticket": "T-1", "approver": "dana"})).send().unwrap());
    check(&spec, "/v1/grants", "get", c.get(u("/v1/grants?user=carol")).send().unwrap());
    check(&spec, "/v1/grants", "get", c.get(u("/v1/grants?user=c%20d")).send().unwrap());
    check(&spec, "/v1/grants/{id}", "delete", c.delete(u("/v1/grants/3")).send().unwrap());
    check(&spec, "/v1/grants/{id}", "delete", c.delete(u("/v1/grants/3")).send().unwrap());
    check(&spec, "/v1/grants/{id}", "delete", c.delete(u("/v1/grants/999")).send().unwrap());
    check(&spec, "/v1/grants/{id}", "delete", c.delete(u("/v1/grants/abc")).send().unwrap());
    check(&spec, "/v1/grants/{id}/release", "post", c.post(u("/v1/grants/4/release")).send().unwrap());
    check(&spec, "/v1/grants/{id}/release", "post", c.post(u("/v1/grants/4/release")).send().unwrap());
    check(&spec, "/v1/grants/{id}/release", "post", c.post(u("/v1/grants/999/release")).send().unwrap());
    let firecall = json!({"user": "carol", "group": "pam-webserver", "reason": "db down", "ticket": "INC-1"});
    check(&spec, "/v1/firecalls", "post", c.post(u("/v1/firecalls")).json(&firecall).send().unwrap());
    let note = json!({"note": "fine"});
    check(
        &spec,
        "/v1/firecalls/{id}/review",
        "post",
        c.post(u("/v1/firecalls/1/review")).json(&note).send().unwrap(),
    );
    check(
        &spec,
        "/v1/firecalls/{id}/review",
        "post",
        c.post(u("/v1/firecalls/999/review")).json(&note).send().unwrap(),
    );
    check(&spec, "/metadata", "get", c.get(u("/metadata")).send().unwrap());
    check(&spec, "/healthz", "get", c.get(u("/healthz")).send().unwrap());
    check(&spec, "/readyz", "get", c.get(u("/readyz")).send().unwrap());
    check(&spec, "/metrics", "get", c.get(u("/metrics")).send().unwrap());
    check(&spec, "/metrics", "get", s.client_as("nobody").get(u("/metrics")).send().unwrap());
    drop(s);
    let down = start_with("", crate::server::dead_directory);
    let c = down.client();
    check(&spec, "/readyz", "get", c.get(format!("{}/readyz", down.url)).send().unwrap());
    check(
        &spec,
        "/v1/assertions",
        "post",
        c.post(format!("{}/v1/assertions", down.url))
            .json(&mint_body("alice", "i-0123456789abcdef0"))
            .send()
            .unwrap(),
    );
}

#[test]
fn the_schema_check_rejects_what_the_document_forbids() {
    let spec = spec();
    let mut schema = json!({"$ref": "#/components/schemas/Minted"});
    schema.as_object_mut().unwrap().insert("components".into(), spec["components"].clone());
    let v = jsonschema::validator_for(&schema).unwrap();
    assert!(!v.is_valid(&json!({"saml_response": 1})));
    assert!(!v.is_valid(&json!({"saml_response": "x", "relay_state": "r", "acs_url": "a", "assertion_id": "nope", "response_id": "_R00000000000000000000000000000000", "decision": {}})));
}
