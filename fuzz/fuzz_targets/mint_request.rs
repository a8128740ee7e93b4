//! The request JSON → mint path: any body either is refused with an error or yields a
//! response whose bytes are their own exclusive canonical form (libxml2's c14n, the
//! engine libxmlsec1 uses), hold exactly one Assertion and no comment, PI or DTD, and
//! verify with libxmlsec1.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use libxml::parser::Parser;
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};
use libxml::tree::NodeType;
use sesame::edge::http::routes::MintBody;
use sesame::service::mint::{MintInput, Minter};

struct Fixture {
    _dir: tempfile::TempDir,
    minter: Minter,
    cert: Vec<u8>,
    audit_dir: std::path::PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();
static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = common::config(dir.path());
        let now = chrono::DateTime::from_timestamp(1_764_601_200, 0).unwrap_or_default();
        let (material, _) = sesame::edge::wiring::load_keys(&cfg, now).expect("keys");
        let audit = sesame::edge::wiring::open_audit(&cfg, &material, now).expect("audit");
        let minter = sesame::edge::wiring::minter(&cfg, &material, audit).expect("minter");
        let cert = std::fs::read(&cfg.keys.signing_cert).expect("cert");
        Fixture { audit_dir: cfg.audit.dir.clone(), _dir: dir, minter, cert }
    })
}

/// Keeps the log small: every file but the live one goes now and then.
fn trim(dir: &std::path::Path) {
    if let Ok(files) = sesame::audit::files::log_files(dir, "local") {
        for f in files.iter().rev().skip(1) {
            let _ = std::fs::remove_file(f);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = sesame::edge::http::body::parse::<MintBody>(data) else { return };
    let f = fixture();
    if COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2000 == 0 {
        trim(&f.audit_dir);
    }
    let input = MintInput {
        user: body.user,
        instance_id: body.instance_id,
        region: body.region,
        caller: None,
        request_id: None,
        account_id: body.account_id,
        role_picker: body.role_picker,
    };
    let now = chrono::DateTime::from_timestamp(1_764_601_200, 0).unwrap_or_default();
    let mut nonce = [7u8; 48];
    for (i, b) in data.iter().take(48).enumerate() {
        nonce[i] ^= b;
    }
    let Ok(m) = f.minter.mint_input(&input, now, &sesame::core::Nonce::from_bytes(nonce)) else { return };
    let xml = m.xml();
    let decl = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    assert!(xml.starts_with(decl));
    let doc = Parser::default().parse_string(xml).expect("sesame's output parses");
    let root = doc.get_root_element().expect("a root");
    let top: Vec<_> = doc.as_node().get_child_nodes();
    assert_eq!(top.len(), 1, "only the Response at the top: no comment, PI or DTD");
    let mut assertions = 0;
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match n.get_type() {
            Some(
                NodeType::CommentNode
                | NodeType::PiNode
                | NodeType::DocumentTypeNode
                | NodeType::CDataSectionNode,
            ) => {
                panic!("markup sesame never writes")
            }
            Some(NodeType::ElementNode) if n.get_name() == "Assertion" => assertions += 1,
            _ => {}
        }
        stack.extend(n.get_child_nodes());
    }
    assert_eq!(assertions, 1);
    let opts = CanonicalizationOptions {
        mode: CanonicalizationMode::ExclusiveCanonical1_0,
        with_comments: false,
        inclusive_ns_prefixes: vec![],
    };
    let c14n = doc.canonicalize(opts, None).expect("c14n");
    assert_eq!(c14n.as_bytes(), &xml[decl.len()..], "the signed bytes are their own canonical form");
    sesame::saml::libxmlsec::verify_assertion(xml, &f.cert).expect("libxmlsec1 verifies");
});
