//! Repository rules a reviewer would otherwise have to remember.

use std::path::{Path, PathBuf};

use crate::common::root;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn src() -> Vec<(PathBuf, String)> {
    rust_files(&root().join("src"))
        .into_iter()
        .map(|p| {
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect()
}

#[test]
fn every_module_says_what_it_is_for() {
    for (p, t) in src() {
        assert!(t.starts_with("//!"), "{} must start with a //! module comment", p.display());
    }
}

#[test]
fn files_stay_readable_in_one_sitting() {
    for p in rust_files(&root().join("src")).into_iter().chain(rust_files(&root().join("tests"))) {
        let n = std::fs::read_to_string(&p).unwrap().lines().count();
        assert!(n <= 500, "{} has {n} lines (limit 500)", p.display());
    }
}

#[test]
fn the_core_does_no_io_and_depends_on_nothing_else_in_the_crate() {
    let forbidden =
        ["std::fs", "std::net", "tokio", "actix", "ldap3", "xmlsec", "openssl", "rand::", "crate::", "serde"];
    for (p, t) in src().into_iter().filter(|(p, _)| p.starts_with(root().join("src/core"))) {
        for f in forbidden {
            assert!(!t.contains(f), "{} uses {f}", p.display());
        }
    }
}

#[test]
fn only_clock_reads_the_clock_and_only_the_libxmlsec1_boundary_is_unsafe() {
    for (p, t) in src() {
        let name = p.strip_prefix(root()).unwrap().display().to_string();
        if name != "src/edge/clock.rs" {
            for f in ["Utc::now", "SystemTime::now", "Local::now", "thread_rng", "OsRng"] {
                assert!(!t.contains(f), "{name} uses {f}");
            }
        }
        if name != "src/saml/libxmlsec.rs" && name != "src/saml/encrypt.rs" {
            for u in ["unsafe {", "unsafe fn", "unsafe impl", "allow(unsafe_code)"] {
                assert!(!t.contains(u), "{name} contains unsafe code");
            }
        }
    }
}

#[test]
fn no_xml_or_ldap_filter_is_built_from_strings() {
    for (p, t) in src() {
        for line in
            t.lines().filter(|l| l.contains("format!") || l.contains("concat!") || l.contains("push_str"))
        {
            for bad in ["\"<saml", "\"<ds:", "\"<md:", "\"(&", "\"(|"] {
                assert!(!line.contains(bad), "{}: string-built markup: {line}", p.display());
            }
        }
    }
}

#[test]
fn architecture_names_only_paths_that_exist() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut checked = 0;
    for chunk in doc.split('`').skip(1).step_by(2) {
        let looks_like_path =
            ["src/", "tests/", "policies/", "benches/", "scripts/", "keys/", "metadata/", "docs/", ".ci/"]
                .iter()
                .any(|p| chunk.starts_with(p));
        if looks_like_path && !chunk.contains(' ') && !chunk.contains('*') {
            assert!(root().join(chunk).exists(), "ARCHITECTURE.md names {chunk}, which does not exist");
            checked += 1;
        }
    }
    assert!(checked > 10, "ARCHITECTURE.md should map the flow to files ({checked} paths found)");
}

/// Every guarding test docs/THREATS.md names exists (as `fn NAME` under tests/ or src/),
/// and every path it names exists: a threat is never guarded by a test that is gone.
#[test]
fn threats_name_only_tests_and_paths_that_exist() {
    let doc = std::fs::read_to_string(root().join("docs/THREATS.md")).unwrap();
    let mut code = String::new();
    for p in rust_files(&root().join("tests")).into_iter().chain(rust_files(&root().join("src"))) {
        code.push_str(&std::fs::read_to_string(p).unwrap());
    }
    let (mut tests, mut paths) = (0, 0);
    for chunk in doc.split('`').skip(1).step_by(2) {
        let name = chunk.rsplit("::").next().unwrap_or(chunk);
        let is_test = name.matches('_').count() >= 2
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_test {
            assert!(code.contains(&format!("fn {name}(")), "docs/THREATS.md names {name}, which is no test");
            tests += 1;
        } else if ["src/", "tests/", "fuzz/", "docs/"].iter().any(|p| chunk.starts_with(p))
            && !chunk.contains(' ')
        {
            assert!(root().join(chunk).exists(), "docs/THREATS.md names {chunk}, which does not exist");
            paths += 1;
        }
    }
    assert!(tests > 30 && paths > 10, "{tests} tests, {paths} paths found");
}
