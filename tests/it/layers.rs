//! The dependency rule as a test: ARCHITECTURE.md's "may use" table is parsed, every
//! `crate::`, `super::` and `self::` path in `src/` is resolved to the file that
//! defines it, and the test fails on any edge the table forbids, on any file that no
//! row of the table owns, and on any cycle between files (modules). No exceptions list.
//!
//! Resolution follows Rust's rules: a path names the longest prefix that is a file
//! (`src/a/b.rs` or `src/a/b/mod.rs`); `super` is the parent module; the unit tests at
//! the bottom of a file (`#[cfg(test)] mod tests`) and comments are not edges.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::root;

/// Files by module path: `["audit", "file"]` → its text with comments and unit tests removed.
type Tree = BTreeMap<Vec<String>, String>;

/// One row: a module (path) and the modules it may use; `None` = everything.
#[derive(Debug, Clone)]
struct Row {
    module: Vec<String>,
    may_use: Option<Vec<Vec<String>>>,
}

fn segs(s: &str) -> Vec<String> {
    s.split("::").filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

/// The code of a file: comments and the trailing unit-test module removed.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let l = line.find(" // ").map_or(line, |i| &line[..i]);
        // `pub(in crate::audit)` restricts visibility; it uses nothing.
        let l = match (l.find("pub(in "), l.find(')')) {
            (Some(a), Some(b)) if b > a => format!("{}pub{}", &l[..a], &l[b + 1..]),
            _ => l.to_owned(),
        };
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Expands `a::{b, c::{d, self}}` into `a::b`, `a::c::d`, `a::c`.
fn expand(tree: &str) -> Vec<String> {
    let t: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = t.find('{') else { return vec![t] };
    let prefix = t[..open].trim_end_matches("::").to_owned();
    let inner = &t[open + 1..t.rfind('}').unwrap_or(t.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let mut out = Vec::new();
    for p in parts.into_iter().filter(|p| !p.is_empty()) {
        for e in expand(p) {
            out.push(if e == "self" { prefix.clone() } else { format!("{prefix}::{e}") });
        }
    }
    out
}

/// `use a::{b as c, d}` → `use a::{b, d}`: the alias is the local name, not the path.
fn drop_aliases(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(" as ") {
        out.push_str(&rest[..i]);
        let after = rest[i + 4..].trim_start();
        let n = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

/// Every path a file's code names, from `use` items and inline paths that start with
/// `crate`, `super`, `self` or one of the file's own child modules (`children`).
fn uses(code: &str, children: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let after = &rest[i + 4..];
        if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
            if let Some(end) = after.find(';') {
                out.extend(expand(&drop_aliases(&after[..end])));
            }
        }
        rest = after;
    }
    let bytes = code.as_bytes();
    let starts: Vec<String> =
        ["crate", "super", "self"].iter().map(|s| s.to_string()).chain(children.iter().cloned()).collect();
    for start in starts.iter().map(|s| format!("{s}::")) {
        let start = start.as_str();
        let mut from = 0;
        while let Some(i) = code[from..].find(start).map(|i| i + from) {
            from = i + start.len();
            if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':')
            {
                continue;
            }
            let end = code[i..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| e + i);
            // `a::{b, c}` is a use group, expanded above; the prefix alone names no item.
            if code[end..].starts_with('{') {
                continue;
            }
            out.push(code[i..end].trim_end_matches(':').to_owned());
        }
    }
    out
}

/// The file (module path) a path in `from` names, if it is inside the crate.
fn resolve(tree: &Tree, from: &[String], path: &str) -> Option<Vec<String>> {
    let mut s = segs(path);
    let mut base: Vec<String> = match s.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") | Some("self") => from.to_vec(),
        // A relative path that starts with a child module (2018 uniform paths).
        Some(first) if tree.contains_key(&[from, &[first.to_owned()]].concat()) => from.to_vec(),
        _ => return None,
    };
    if s.first().map(String::as_str) == Some("crate") {
        s.remove(0);
    }
    while let Some(first) = s.first().map(String::as_str) {
        match first {
            "super" => {
                base.pop();
            }
            "self" => {}
            _ => break,
        }
        s.remove(0);
    }
    base.extend(s);
    (0..=base.len()).rev().map(|n| base[..n].to_vec()).find(|p| tree.contains_key(p))
}

fn row_of<'a>(rows: &'a [Row], m: &[String]) -> Option<&'a Row> {
    rows.iter().filter(|r| m.starts_with(&r.module)).max_by_key(|r| r.module.len())
}

fn show(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Every violation of the rule in `tree`: forbidden edges, files in no row, cycles.
fn violations(tree: &Tree, rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, text) in tree {
        let edges = graph.entry(m.clone()).or_default();
        let from_row = row_of(rows, m);
        if from_row.is_none() && !m.is_empty() {
            out.push(format!("{}: no row of the dependency table owns this module", show(m)));
        }
        let children: Vec<String> = tree
            .keys()
            .filter(|k| k.len() == m.len() + 1 && k.starts_with(m))
            .filter_map(|k| k.last().cloned())
            .collect();
        let paths: BTreeSet<String> = uses(text, &children).into_iter().collect();
        for p in paths {
            let Some(to) = resolve(tree, m, &p) else { continue };
            if &to == m || to.is_empty() {
                continue;
            }
            edges.insert(to.clone());
            let (Some(fr), Some(tr)) = (from_row, row_of(rows, &to)) else { continue };
            if fr.module == tr.module {
                continue;
            }
            let allowed = fr.may_use.as_ref().is_none_or(|list| list.contains(&tr.module));
            if !allowed {
                out.push(format!(
                    "{} uses {p} ({}), but `{}` may not use `{}`",
                    show(m),
                    show(&to),
                    show(&fr.module),
                    show(&tr.module)
                ));
            }
        }
    }
    out.extend(
        cycles(&graph)
            .into_iter()
            .map(|c| format!("cycle: {}", c.iter().map(|m| show(m)).collect::<Vec<_>>().join(" → "))),
    );
    out
}

/// One cycle per strongly connected component of more than one file.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    let mut found = Vec::new();
    let mut done: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in graph.keys() {
        if done.contains(start) {
            continue;
        }
        // Depth-first search keeping the path; a back edge to the path is a cycle.
        let mut path: Vec<Vec<String>> = Vec::new();
        let mut stack: Vec<(Vec<String>, Vec<Vec<String>>)> = vec![(start.clone(), Vec::new())];
        let mut on_path: BTreeSet<Vec<String>> = BTreeSet::new();
        while let Some((node, _)) = stack.last().cloned() {
            if !on_path.contains(&node) && path.last() != Some(&node) {
                path.push(node.clone());
                on_path.insert(node.clone());
                let next: Vec<Vec<String>> = graph.get(&node).into_iter().flatten().cloned().collect();
                if let Some(top) = stack.last_mut() {
                    top.1 = next;
                }
            }
            let Some(top) = stack.last_mut() else { break };
            if let Some(n) = top.1.pop() {
                if on_path.contains(&n) {
                    let at = path.iter().position(|p| *p == n).unwrap_or(0);
                    let mut c = path[at..].to_vec();
                    c.push(n);
                    if !found
                        .iter()
                        .any(|f: &Vec<Vec<String>>| f.iter().collect::<BTreeSet<_>>() == c.iter().collect())
                    {
                        found.push(c);
                    }
                } else if !done.contains(&n) {
                    stack.push((n, Vec::new()));
                }
            } else {
                stack.pop();
                if let Some(n) = path.pop() {
                    on_path.remove(&n);
                    done.insert(n);
                }
            }
        }
    }
    found
}

/// The rows of ARCHITECTURE.md's "Dependency rule" table.
fn table(doc: &str) -> Vec<Row> {
    let section = doc.split("## Dependency rule").nth(1).unwrap_or_default();
    let mut rows = Vec::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(first), Some(second)) = (cells.get(1), cells.get(2)) else { continue };
        let ticks = |s: &str| -> Vec<Vec<String>> { s.split('`').skip(1).step_by(2).map(segs).collect() };
        let modules = ticks(first);
        let may_use = if second.contains("everything") { None } else { Some(ticks(second)) };
        for m in modules {
            rows.push(Row { module: m, may_use: may_use.clone() });
        }
    }
    rows
}

fn src_tree() -> Tree {
    let src = root().join("src");
    let mut tree = Tree::new();
    let mut todo = vec![src.clone()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap().with_extension("");
            let mut m: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            match m.last().map(String::as_str) {
                Some("main") if m.len() == 1 => continue, // the binary: uses the library by name
                Some("lib") if m.len() == 1 => m.clear(),
                Some("mod") => {
                    m.pop();
                }
                _ => {}
            }
            tree.insert(m, code(&std::fs::read_to_string(&p).unwrap()));
        }
    }
    tree
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap()
}

#[test]
fn every_import_follows_the_dependency_table_and_no_modules_form_a_cycle() {
    let rows = table(&architecture());
    assert!(rows.len() >= 8, "the dependency table was not found in ARCHITECTURE.md: {rows:?}");
    let tree = src_tree();
    let v = violations(&tree, &rows);
    assert!(v.is_empty(), "the dependency rule is broken:\n  {}", v.join("\n  "));
}

#[test]
fn the_table_itself_points_one_way() {
    let rows = table(&architecture());
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for r in &rows {
        let targets: Vec<Vec<String>> = match &r.may_use {
            Some(l) => l.clone(),
            None => rows.iter().map(|o| o.module.clone()).filter(|m| *m != r.module).collect(),
        };
        for t in targets {
            assert!(
                rows.iter().any(|o| o.module == t),
                "`{}` may use `{}`, which is no row",
                show(&r.module),
                show(&t)
            );
            graph.entry(r.module.clone()).or_default().insert(t);
        }
    }
    assert!(cycles(&graph).is_empty(), "the table has a cycle: {:?}", cycles(&graph));
}

/// The checker catches what it claims to: a synthetic tree with a forbidden edge, a
/// cycle through a `mod.rs` re-export, and a file no row owns.
#[test]
fn the_checker_finds_forbidden_edges_cycles_and_orphans() {
    let rows = table(
        "## Dependency rule\n\n| module | may use |\n| --- | --- |\n| `core` | — |\n| `saml` | `core` |\n| `edge` | everything |\n",
    );
    let mut tree = Tree::new();
    let put = |t: &mut Tree, m: &str, s: &str| t.insert(segs(m), code(s));
    put(&mut tree, "", "pub mod core;\npub mod saml;\n");
    put(&mut tree, "core", "pub mod ids;\n// use crate::saml::x; (a comment is no edge)\n");
    put(&mut tree, "core::ids", "use crate::saml::{ns, response::{Unsigned, self}};\n");
    put(&mut tree, "saml", "pub mod response;\npub mod ns;\npub use response::Unsigned;\n");
    put(&mut tree, "saml::ns", "use super::{response};\npub(in crate::saml) fn f() {}\n");
    put(&mut tree, "saml::response", "use super::Thing as T;\nfn f() { crate::core::ids::parse(); }\n");
    put(&mut tree, "stray", "\n");
    put(
        &mut tree,
        "edge",
        "use crate::saml::response::Unsigned;\n#[cfg(test)]\nmod tests { use crate::stray; }\n",
    );
    let v = violations(&tree, &rows);
    let has = |s: &str| v.iter().any(|x| x.contains(s));
    assert!(has("core::ids uses crate::saml::ns (saml::ns), but `core` may not use `saml`"), "{v:#?}");
    assert!(has("core::ids uses crate::saml::response::Unsigned (saml::response)"), "{v:#?}");
    let cycle = |names: &[&str]| {
        v.iter().filter(|x| x.starts_with("cycle: ")).any(|x| {
            let nodes: Vec<&str> = x["cycle: ".len()..].split(" → ").collect();
            names.iter().all(|n| nodes.contains(n)) && nodes.len() == names.len() + 1
        })
    };
    assert!(cycle(&["saml", "saml::response"]), "a child using its parent's re-export: {v:#?}");
    assert!(cycle(&["core::ids", "saml::response"]), "{v:#?}");
    assert!(has("stray: no row"), "{v:#?}");
    assert!(!v.iter().any(|x| x.starts_with("edge")), "edges may use everything; tests are no edge: {v:#?}");
    assert!(!v.iter().any(|x| x.starts_with("core uses")), "comments are no edge: {v:#?}");
    assert!(!cycle(&["saml", "saml::ns"]), "a use group's prefix and pub(in …) are no edges: {v:#?}");
    assert_eq!(expand("a::{b, c::{d, self}}"), ["a::b", "a::c::d", "a::c"]);
    assert_eq!(drop_aliases("a::{b as c, d as e}"), "a::{b, d}");
}
