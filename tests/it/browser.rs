//! sesame's browser pages in a real headless Chromium (Debian chromium and
//! chromium-driver, driven by tests/browser/drive.py): the sign-in page, served with its
//! Content-Security-Policy as a portal passes it on, runs its one script and posts
//! itself to a loopback service provider standing in for AWS sign-in, which validates
//! the response with python3-saml in strict mode; and the closed-window page says when
//! the window opens. The test reads the pages the browser landed on.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use chrono::{Datelike, TimeZone, Weekday};
use serde_json::{json, Value};

use crate::common::{cert_pem, root};

#[test]
fn the_pages_work_in_a_real_browser() {
    let mut driver = Command::new("/usr/bin/python3")
        .arg(root().join("tests/browser/drive.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3, chromium and chromium-driver are installed by scripts/test");
    let mut out = BufReader::new(driver.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let acs = line.trim().strip_prefix("sp ").unwrap_or_else(|| panic!("driver: {line:?}")).to_owned();

    // alice: webserver open (grant to 2030); payments needs a grant that starts at 09:00
    // New York time on a weekday at least two days ahead, inside its schedule.
    let ny = chrono_tz::America::New_York;
    let mut day = (sesame::edge::clock::now() + chrono::Duration::days(2)).with_timezone(&ny).date_naive();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day = day.succ_opt().unwrap();
    }
    let start = ny.from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap()).single().unwrap().to_utc();
    let t = sesame::core::text::saml_time;
    let dir = tempfile::tempdir().unwrap();
    let ents = dir.path().join("entitlements.toml");
    let grants = dir.path().join("grants.toml");
    let base = std::fs::read_to_string(root().join("policies/entitlements.toml")).unwrap();
    let head = &base[..base.find("[[entitlement]]").unwrap()];
    std::fs::write(&ents, format!("{head}[[entitlement]]\ngroup = \"pam-webserver\"\nvalues = {{ APP_GROUP_NAME = \"webserver\", APP_ID = \"ABC\", RELEASE_ID = \"1.0\" }}\n\n[[entitlement]]\ngroup = \"pam-payments\"\nvalues = {{ APP_GROUP_NAME = \"payments\", APP_ID = \"PAY\", RELEASE_ID = \"2.3\" }}\nschedule = \"ny-business-hours\"\n")).unwrap();
    let demo = std::fs::read_to_string(root().join("policies/demo/grants.toml")).unwrap();
    std::fs::write(&grants, format!("{demo}\n[[grant]]\nuser = \"alice\"\ngroup = \"pam-payments\"\nstart = \"{}\"\nend = \"{}\"\nticket = \"CHG-2\"\napprover = \"dana\"\n", t(start), t(start + chrono::Duration::hours(8)))).unwrap();
    let s = crate::server::start_with("", |text| {
        text.replace("[aws]\n", &format!("[aws]\nwhen_all_closed = \"refuse\"\nacs_url = \"{acs}\"\n"))
            .replace(
                &root().join("policies/entitlements.toml").display().to_string(),
                &ents.display().to_string(),
            )
            .replace(
                &root().join("policies/demo/grants.toml").display().to_string(),
                &grants.display().to_string(),
            )
    });
    let c = s.client();
    let page = |instance: &str| {
        let r = c
            .post(format!("{}/v1/assertions", s.url))
            .header("accept", "text/html")
            .json(&crate::server::mint_body("alice", instance))
            .send()
            .unwrap();
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
        json!({"html": r.text().unwrap(), "csp": csp})
    };
    let signin = page("i-0123456789abcdef0");
    // The same page under a policy without its script's hash: the browser must block it.
    let blocked =
        json!({"html": signin["html"], "csp": "default-src 'none'; script-src 'none'; form-action 'none'"});
    let pages = [signin, page("i-0fedcba9876543210"), blocked];
    let cfg = s.env.config();
    let req = json!({"idp_entity_id": cfg.idp.entity_id, "audience": cfg.aws.audience, "cert_pem": cert_pem(), "pages": pages});
    let mut stdin = driver.stdin.take().unwrap();
    writeln!(stdin, "{req}").unwrap();
    drop(stdin);
    let mut answer = String::new();
    out.read_line(&mut answer).unwrap();
    let status = driver.wait().unwrap();
    assert!(status.success(), "driver failed: {answer}");
    let seen: Vec<Value> = serde_json::from_str(&answer).unwrap();

    // The sign-in page ran its script under its CSP and posted itself to the SP, which
    // found the response valid in strict mode and read the attributes.
    let signed_in = &seen[0];
    assert_eq!(signed_in["url"], acs.as_str(), "{signed_in}");
    assert_eq!(signed_in["title"], "SP: valid", "{signed_in}");
    let text = signed_in["text"].as_str().unwrap();
    assert!(
        text.contains("\"https://aws.amazon.com/SAML/Attributes/PrincipalTag:AppId\": [\"ABC\"]"),
        "{text}"
    );
    assert!(text.contains("https://console.aws.amazon.com/systems-manager/session-manager/i-0123456789abcdef0?region=us-east-1"), "{text}");
    assert_eq!(signed_in["csp_violations"], json!([]));
    // The closed-window page stays where it is and says when the window opens.
    let closed = &seen[1];
    assert!(closed["url"].as_str().unwrap().contains("/page/1"), "{closed}");
    let want = format!(
        "It opens at 09:00 America/New_York on {} ({} UTC).",
        day.format("%A %-d %B %Y"),
        start.format("%H:%M")
    );
    assert!(closed["text"].as_str().unwrap().contains(&want), "{want}: {closed}");
    assert_eq!(closed["csp_violations"], json!([]));
    // The check can fail: without the hash the script does not run and nothing is posted.
    let stopped = &seen[2];
    assert!(stopped["url"].as_str().unwrap().contains("/page/2"), "{stopped}");
    assert!(!stopped["csp_violations"].as_array().unwrap().is_empty(), "{stopped}");
}
