//! Renderings for callers, shared by the CLI and the HTTP edge: a mint's decision as
//! JSON, the JSON envelope, the auto-submitting HTML form and the refusal page, a
//! recorded grant, and the launcher's view of a person's access.

use chrono::{DateTime, Utc};
use quick_xml::escape::escape;
use serde_json::{json, Value};

use crate::adapters::StoredGrant;
use crate::core::decision::{Refusal, SetStatus};
use crate::core::text::{console_link, saml_time};
use crate::core::Decision;
use crate::service::access;
use crate::service::mint::Minted;

fn local(t: DateTime<Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string() + &format!(" ({})", zone.name())
}

/// The machine-readable decision a caller can show the person.
pub fn decision_json(d: &Decision) -> Value {
    let sets: Vec<Value> = d
        .sets
        .iter()
        .map(|s| {
            let tags: serde_json::Map<String, Value> =
                s.tags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let mut o = json!({
                "number": s.number,
                "entitlement": s.group.as_str(),
                "tags": tags,
                "ticket": s.ticket,
            });
            match &s.status {
                SetStatus::Open { window } => {
                    o["status"] = json!("open");
                    o["window"] = json!({"start": saml_time(window.start), "end": saml_time(window.end),
                                         "end_local": local(window.end, s.zone)});
                }
                SetStatus::Closed { reason, next_open } => {
                    o["status"] = json!("closed");
                    o["reason"] = json!(reason.code());
                    o["message"] = json!(reason.message());
                    o["next_open"] = json!(next_open.map(saml_time));
                    o["next_open_local"] = json!(next_open.map(|t| local(t, s.zone)));
                }
            }
            o
        })
        .collect();
    let status = match (&d.refusal, d.open_sets(), d.sets.len()) {
        (Some(r), _, _) => r.code(),
        (None, open, all) if open == all => "minted",
        (None, 0, _) => "minted_all_closed",
        _ => "minted_some_closed",
    };
    let mut v = json!({
        "status": status,
        "at": saml_time(d.at),
        "session_duration": d.session_duration,
        "not_on_or_after": saml_time(d.not_on_or_after),
        "session_not_on_or_after": saml_time(d.session_not_on_or_after),
        "sets": sets,
        "omitted": d.omitted.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
    });
    if let Some(Refusal::AllClosed { next_open, zone }) = &d.refusal {
        v["next_open"] = json!(next_open.map(saml_time));
        v["next_open_local"] = json!(next_open.map(|t| local(t, *zone)));
    }
    v
}

/// Content-Security-Policy for [`html_refusal`]: a page of text, nothing else.
pub const HTML_REFUSAL_CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page a browser gets instead of a sign-in: what was refused and, when every set
/// is closed, when the window opens (in the schedule's zone and in UTC).
pub fn html_refusal(d: &Decision) -> String {
    let headline = match &d.refusal {
        Some(Refusal::AllClosed { next_open: Some(t), zone }) => format!(
            "Access is closed now. It opens at {} {} on {} ({} UTC).",
            t.with_timezone(zone).format("%H:%M"),
            zone.name(),
            t.with_timezone(zone).format("%A %-d %B %Y"),
            t.format("%H:%M")
        ),
        Some(r) => format!("No sign-in: {r}."),
        None => "No sign-in.".to_owned(),
    };
    let code = d.refusal.as_ref().map_or("refused", |r| r.code());
    [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>No sign-in to AWS</title></head>\n<body>\n",
        &format!("<h1>{}</h1>\n", escape(&headline)),
        &format!("<p>Code: <code>{}</code></p>\n", escape(code)),
        "</body></html>\n",
    ]
    .concat()
}

/// `{saml_response, relay_state, acs_url, assertion_id, response_id, decision}`.
pub fn minted_text(m: &Minted) -> String {
    // Written without a JSON escape pass over the SAMLResponse, the answer's bulk:
    // base64 (`A-Z a-z 0-9 + / =`) needs none. The other fields are an object whose
    // text ends in '}', and "saml_response" sorts after them all, as serde_json's map would put it.
    let mut out = minted_fields(m).to_string();
    out.pop();
    out.push_str(",\"saml_response\":\"");
    m.base64_into(&mut out);
    out.push_str("\"}");
    out
}

/// Every field of the answer but the SAMLResponse.
fn minted_fields(m: &Minted) -> Value {
    json!({
        "relay_state": m.relay_state(),
        "acs_url": m.acs_url(),
        "assertion_id": m.assertion_id(),
        "response_id": m.response_id(),
        "decision": decision_json(m.decision()),
        "roles": m.roles().iter().map(|r| json!({"account": r.account, "role_arn": r.role_arn,
                                                 "provider_arn": r.provider_arn})).collect::<Vec<_>>(),
    })
}

/// The page's only script; [`html_csp`] allows exactly this text by its hash.
pub const AUTO_SUBMIT: &str = "document.forms[0].submit();";

/// Content-Security-Policy for [`html_form`]: no resources, the one script by hash,
/// and form submission only to the ACS URL.
pub fn html_csp(acs_url: &str) -> String {
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(openssl::sha::sha256(AUTO_SUBMIT.as_bytes()));
    format!("default-src 'none'; script-src 'sha256-{hash}'; form-action {acs_url}; base-uri 'none'; frame-ancestors 'none'")
}

/// An HTML page that posts SAMLResponse and RelayState to the ACS URL on load.
/// Every value is attribute-escaped.
pub fn html_form(m: &Minted) -> String {
    let acs = escape(m.acs_url());
    let resp = escape(m.base64());
    let relay = escape(m.relay_state());
    [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signing in to AWS</title></head>\n<body>\n",
        &format!("<form method=\"post\" action=\"{acs}\">\n"),
        &format!("<input type=\"hidden\" name=\"SAMLResponse\" value=\"{resp}\">\n"),
        &format!("<input type=\"hidden\" name=\"RelayState\" value=\"{relay}\">\n"),
        "<noscript><p>JavaScript is off: press the button to continue.</p></noscript>\n",
        "<button type=\"submit\">Continue to AWS</button>\n</form>\n",
        "<script>",
        AUTO_SUBMIT,
        "</script>\n</body></html>\n",
    ]
    .concat()
}

/// A recorded grant as JSON, with its status at `now`.
pub fn grant_json(g: &StoredGrant, now: DateTime<Utc>) -> Value {
    let status = match (g.revoked_at, g.window.end <= now, g.window.start > now) {
        (Some(_), _, _) => "revoked",
        (None, true, _) => "expired",
        (None, false, true) => "scheduled",
        (None, false, false) => "active",
    };
    json!({
        "id": g.id,
        "user": g.user.as_str(),
        "group": g.group.as_str(),
        "start": saml_time(g.window.start),
        "end": saml_time(g.window.end),
        "ticket": g.ticket,
        "approver": g.approver,
        "status": status,
        "created_at": saml_time(g.created_at),
        "created_by": g.created_by,
        "revoked_at": g.revoked_at.map(saml_time),
        "revoked_by": g.revoked_by,
    })
}

/// The launcher's view (`GET /v1/access`, `sesame access`): one page of a person's
/// entitlements, each with its status now and the instances it covers (account, region,
/// ID, Name tag, the console deep link). `next_page` continues the list.
pub struct AccessPage<'a> {
    pub user: &'a str,
    pub at: DateTime<Utc>,
    pub console_url: &'a str,
    pub inventory: bool,
    pub entries: &'a [access::Entry],
    pub next_page: Option<String>,
}

pub fn access_json(p: &AccessPage<'_>) -> Value {
    let entitlements: Vec<Value> = p
        .entries
        .iter()
        .map(|e| {
            let tags: serde_json::Map<String, Value> =
                e.tags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            let instances: Vec<Value> = e
                .instances
                .iter()
                .map(|i| {
                    json!({"account": i.account, "region": i.region, "instance_id": i.id,
                           "name": i.tags.get("Name"),
                           "console_url": console_link(p.console_url, &i.id, &i.region)})
                })
                .collect();
            let mut o = json!({"entitlement": e.entitlement, "tags": tags, "instances": instances,
                               "unserved_instances": e.unserved});
            match &e.status {
                SetStatus::Open { window } => {
                    o["status"] = json!("open");
                    o["window"] = json!({"start": saml_time(window.start), "end": saml_time(window.end),
                                         "end_local": local(window.end, e.zone)});
                }
                SetStatus::Closed { reason, next_open } => {
                    o["status"] = json!("closed");
                    o["reason"] = json!(reason.code());
                    o["next_open"] = json!(next_open.map(saml_time));
                    o["next_open_local"] = json!(next_open.map(|t| local(t, e.zone)));
                }
            }
            o
        })
        .collect();
    json!({"user": p.user, "at": saml_time(p.at), "inventory": p.inventory,
           "entitlements": entitlements, "next_page": p.next_page})
}
