//! The canonical writer against libxml2: any attribute value and text either is refused
//! (a character XML forbids) or, parsed back, gives exactly that value and text, one
//! element, no comment, PI or DTD — and exc-c14n of the parse equals what was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libxml::parser::Parser;
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};
use libxml::tree::NodeType;
use sesame::saml::canon::Canon;

const NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (attr, text) = s.split_once('\u{1}').unwrap_or((s, ""));
    let mut c = Canon::new(256);
    c.start("saml:Attribute", Some(("saml", NS)), &[("Name", attr)]);
    c.leaf("saml:AttributeValue", &[], text);
    c.end("saml:Attribute");
    let Ok(bytes) = c.finish() else { return };
    let doc = Parser::default().parse_string(&bytes).expect("the writer's output parses");
    assert_eq!(doc.as_node().get_child_nodes().len(), 1, "one element, nothing else at the top");
    let root = doc.get_root_element().expect("root");
    assert_eq!(root.get_property("Name").as_deref(), Some(attr), "the attribute value survives");
    let kids = root.get_child_nodes();
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].get_type(), Some(NodeType::ElementNode));
    for n in kids[0].get_child_nodes() {
        assert_eq!(n.get_type(), Some(NodeType::TextNode), "only text inside: no markup from a value");
    }
    assert_eq!(kids[0].get_content(), text, "the text survives");
    let opts = CanonicalizationOptions {
        mode: CanonicalizationMode::ExclusiveCanonical1_0,
        with_comments: false,
        inclusive_ns_prefixes: vec![],
    };
    let c14n = doc.canonicalize(opts, None).expect("c14n");
    assert_eq!(c14n.as_bytes(), bytes.as_slice(), "written in its own canonical form");
});
