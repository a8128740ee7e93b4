//! `samael-consumer response FILE…` / `samael-consumer metadata FILE`: parses each file
//! with samael's SAML model and prints, one JSON line per file, the fields AWS sign-in
//! reads, so the test suite can compare them with what sesame meant to write. Exits 1
//! on the first file samael cannot parse.

use std::str::FromStr;

use samael::metadata::EntityDescriptor;
use samael::schema::Response;
use serde_json::{json, Value};

fn response(text: &str) -> Result<Value, String> {
    let r = Response::from_str(text).map_err(|e| e.to_string())?;
    let a = r.assertion.ok_or("no Assertion")?;
    let subject = a.subject.ok_or("no Subject")?;
    let name_id = subject.name_id.ok_or("no NameID")?;
    let confirmation = subject
        .subject_confirmations
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|c| c.subject_confirmation_data)
        .ok_or("no SubjectConfirmationData")?;
    let conditions = a.conditions.ok_or("no Conditions")?;
    let audiences: Vec<String> =
        conditions.audience_restrictions.unwrap_or_default().into_iter().flat_map(|r| r.audience).collect();
    let mut attributes = serde_json::Map::new();
    for s in a.attribute_statements.unwrap_or_default() {
        for at in s.attributes {
            let values: Vec<Value> = at.values.into_iter().map(|v| json!(v.value)).collect();
            attributes.insert(at.name.unwrap_or_default(), Value::Array(values));
        }
    }
    Ok(json!({
        "response_id": r.id,
        "destination": r.destination,
        "issuer": r.issuer.and_then(|i| i.value),
        "status": r.status.and_then(|s| s.status_code.value),
        "response_signed": r.signature.is_some(),
        "assertion_id": a.id,
        "assertion_issuer": a.issuer.value,
        "assertion_signed": a.signature.is_some(),
        "name_id": name_id.value,
        "name_id_format": name_id.format,
        "recipient": confirmation.recipient,
        "confirmation_not_on_or_after": confirmation.not_on_or_after.map(|t| t.to_rfc3339()),
        "not_before": conditions.not_before.map(|t| t.to_rfc3339()),
        "not_on_or_after": conditions.not_on_or_after.map(|t| t.to_rfc3339()),
        "audiences": audiences,
        "attributes": attributes,
    }))
}

fn metadata(text: &str) -> Result<Value, String> {
    let m = EntityDescriptor::from_str(text).map_err(|e| e.to_string())?;
    let idp = m.idp_sso_descriptors.unwrap_or_default().into_iter().next().ok_or("no IDPSSODescriptor")?;
    let sso: Vec<Value> = idp
        .single_sign_on_services
        .iter()
        .map(|e| json!({"binding": e.binding, "location": e.location}))
        .collect();
    let signing = idp.key_descriptors.iter().filter(|k| k.is_signing()).count();
    Ok(json!({
        "entity_id": m.entity_id,
        "valid_until": m.valid_until.map(|t| t.to_rfc3339()),
        "protocol": idp.protocol_support_enumeration,
        "sso": sso,
        "name_id_formats": idp.name_id_formats,
        "signing_keys": signing,
    }))
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((kind, files)) = args.split_first() else {
        eprintln!("usage: samael-consumer response|metadata FILE…");
        return std::process::ExitCode::from(2);
    };
    for f in files {
        let parsed =
            std::fs::read_to_string(f).map_err(|e| e.to_string()).and_then(|t| match kind.as_str() {
                "response" => response(&t),
                "metadata" => metadata(&t),
                other => Err(format!("unknown kind {other:?}")),
            });
        match parsed {
            Ok(v) => println!("{v}"),
            Err(e) => {
                eprintln!("{f}: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    std::process::ExitCode::SUCCESS
}
