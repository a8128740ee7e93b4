//! An XML writer whose output is already in Exclusive XML Canonicalization form
//! (exc-c14n 1.0 without comments), so that a digest over the written bytes *is* the
//! digest over the canonical form and signing needs no parse and no canonicalizer.
//!
//! What makes bytes canonical, and what this writer therefore enforces:
//! - no XML declaration inside, no whitespace between elements, no self-closing tags
//!   (an empty element is written `<a></a>`);
//! - namespace declarations first, then attributes in code-point order of their names
//!   (sesame's attributes are all unqualified); the caller lists attributes in that
//!   order and the writer refuses any other order, so a wrong call fails every test;
//! - a namespace is declared on exactly the elements where exc-c14n renders it — the
//!   caller decides that (see [`super::response`]);
//! - text escapes `&`, `<`, `>` and CR; attribute values escape `&`, `<`, `"`, TAB, LF
//!   and CR, exactly as the canonical form writes them;
//! - characters XML 1.0 does not allow (most C0 controls, U+FFFE, U+FFFF) are refused,
//!   not written: a parser would reject the document.
//!
//! `tests/it/dsig.rs` checks the claim against libxmlsec1: for generated documents the
//! digest and signature values computed here equal the ones libxmlsec1 computes after
//! parsing and canonicalizing the same document.

/// Why the writer produced no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonError {
    #[error("a value contains a character XML does not allow (U+{0:04X})")]
    Char(u32),
    #[error("attributes of <{0}> are not in canonical order (a bug in the builder)")]
    Order(String),
    #[error("unbalanced elements (a bug in the builder)")]
    Unbalanced,
}

/// Appends canonical XML to a buffer; the first error is kept and returned by
/// [`Canon::finish`], later writes are ignored.
pub struct Canon {
    buf: Vec<u8>,
    depth: usize,
    error: Option<CanonError>,
}

impl Canon {
    pub fn new(capacity: usize) -> Self {
        Self { buf: Vec::with_capacity(capacity), depth: 0, error: None }
    }

    /// Bytes written so far: an offset into the finished document.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn fail(&mut self, e: CanonError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// `<name xmlns:p="uri" a="v" ...>`; `ns` is the declaration exc-c14n renders here.
    pub fn start(&mut self, name: &str, ns: Option<(&str, &str)>, attrs: &[(&str, &str)]) {
        if attrs.windows(2).any(|w| w[0].0 >= w[1].0) {
            self.fail(CanonError::Order(name.to_owned()));
        }
        self.depth += 1;
        self.buf.push(b'<');
        self.buf.extend_from_slice(name.as_bytes());
        if let Some((prefix, uri)) = ns {
            self.buf.extend_from_slice(b" xmlns:");
            self.buf.extend_from_slice(prefix.as_bytes());
            self.attr_value(uri);
        }
        for (k, v) in attrs {
            self.buf.push(b' ');
            self.buf.extend_from_slice(k.as_bytes());
            self.attr_value(v);
        }
        self.buf.push(b'>');
    }

    pub fn end(&mut self, name: &str) {
        if self.depth == 0 {
            self.fail(CanonError::Unbalanced);
            return;
        }
        self.depth -= 1;
        self.buf.extend_from_slice(b"</");
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(b'>');
    }

    /// An element without content, in canonical form `<name ...></name>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.start(name, None, attrs);
        self.end(name);
    }

    /// `<name attrs>text</name>`.
    pub fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, None, attrs);
        self.text(text);
        self.end(name);
    }

    pub fn text(&mut self, text: &str) {
        self.escaped(text, false);
    }

    fn attr_value(&mut self, v: &str) {
        self.buf.extend_from_slice(b"=\"");
        self.escaped(v, true);
        self.buf.push(b'"');
    }

    fn escaped(&mut self, s: &str, in_attr: bool) {
        // Most text needs no escape: one pass over the bytes finds out. Every byte the
        // loop below may act on is below 0x20, one of `&<>"`, or 0xEF (the lead byte
        // of U+FFFE and U+FFFF).
        if !s.bytes().any(|b| b < 0x20 || matches!(b, b'&' | b'<' | b'>' | b'"' | 0xEF)) {
            self.buf.extend_from_slice(s.as_bytes());
            return;
        }
        self.escaped_each(s, in_attr);
    }

    fn escaped_each(&mut self, s: &str, in_attr: bool) {
        let mut from = 0;
        for (i, c) in s.char_indices() {
            let rep: &[u8] = match c {
                '&' => b"&amp;",
                '<' => b"&lt;",
                '>' if !in_attr => b"&gt;",
                '"' if in_attr => b"&quot;",
                '\t' if in_attr => b"&#x9;",
                '\n' if in_attr => b"&#xA;",
                '\r' => b"&#xD;",
                '\t' | '\n' => continue,
                '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                    self.fail(CanonError::Char(u32::from(c)));
                    continue;
                }
                _ => continue,
            };
            self.buf.extend_from_slice(&s.as_bytes()[from..i]);
            self.buf.extend_from_slice(rep);
            from = i + c.len_utf8();
        }
        self.buf.extend_from_slice(&s.as_bytes()[from..]);
    }

    pub fn finish(self) -> Result<Vec<u8>, CanonError> {
        match self.error {
            Some(e) => Err(e),
            None if self.depth != 0 => Err(CanonError::Unbalanced),
            None => Ok(self.buf),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn one(f: impl FnOnce(&mut Canon)) -> Result<String, CanonError> {
        let mut c = Canon::new(64);
        f(&mut c);
        c.finish().map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn escapes_as_the_canonical_form_does() {
        let s = one(|c| c.leaf("a", &[("v", "&<>\"'\t\n\r")], "&<>\"'\t\n\r")).unwrap();
        assert_eq!(s, "<a v=\"&amp;&lt;>&quot;'&#x9;&#xA;&#xD;\">&amp;&lt;&gt;\"'\t\n&#xD;</a>");
    }

    proptest::proptest! {
        /// The one-pass check before escaping changes nothing: every string, with or
        /// without characters to escape or refuse (U+EFFF shares U+FFFF's lead byte),
        /// comes out as the character-by-character escape makes it.
        #[test]
        fn the_fast_path_escapes_as_the_character_loop_does(
            s in "[a-z &<>\"'\t\n\r\u{1}\u{7f}\u{e9}\u{efff}\u{fffd}\u{fffe}\u{ffff}\u{1f600}]{0,12}",
            in_attr: bool,
        ) {
            let (mut fast, mut each) = (Canon::new(16), Canon::new(16));
            fast.escaped(&s, in_attr);
            each.escaped_each(&s, in_attr);
            proptest::prop_assert_eq!(fast.buf, each.buf);
            proptest::prop_assert_eq!(fast.error, each.error);
        }
    }

    #[test]
    fn empty_elements_are_not_self_closing() {
        assert_eq!(
            one(|c| c.empty("p:e", &[("A", "1"), ("B", "2")])).unwrap(),
            "<p:e A=\"1\" B=\"2\"></p:e>"
        );
    }

    #[test]
    fn refuses_out_of_order_attributes_and_bad_characters() {
        assert_eq!(one(|c| c.empty("e", &[("b", "1"), ("a", "2")])), Err(CanonError::Order("e".into())));
        assert_eq!(one(|c| c.leaf("e", &[], "x\u{1}y")), Err(CanonError::Char(1)));
        assert_eq!(one(|c| c.leaf("e", &[("a", "\u{ffff}")], "")), Err(CanonError::Char(0xffff)));
        assert_eq!(one(|c| c.start("e", None, &[])), Err(CanonError::Unbalanced));
    }
}
