//! A small element writer over quick-xml: every name, attribute and text goes through
//! the serializer's escaping, so no XML is ever built from strings.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// Writes into memory; writing to a `Vec` cannot fail, but any error is kept and
/// reported by [`XmlOut::finish`] rather than ignored.
pub struct XmlOut {
    w: Writer<Vec<u8>>,
    failed: bool,
}

impl XmlOut {
    pub fn new(capacity: usize) -> Self {
        let mut out = Self { w: Writer::new(Vec::with_capacity(capacity)), failed: false };
        out.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        out
    }

    fn event(&mut self, e: Event<'_>) {
        if self.w.write_event(e).is_err() {
            self.failed = true;
        }
    }

    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let el = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.event(Event::Start(el));
    }

    pub fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let el = BytesStart::new(name).with_attributes(attrs.iter().copied());
        self.event(Event::Empty(el));
    }

    /// `<name attrs>text</name>` with `text` escaped.
    pub fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.event(Event::Text(BytesText::new(text)));
        self.end(name);
    }

    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.failed).then(|| self.w.into_inner())
    }
}
