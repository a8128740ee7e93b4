//! The audit reader (`verify`, `search`, the prune planner): any file content is a
//! report or a named breakage, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"));
    let file = dir.path().join("local-000000000001.jsonl");
    std::fs::write(&file, data).expect("write");
    let certs = sesame::audit::verify::Certs::new();
    if let Ok(r) = sesame::audit::verify::verify(&[file.clone()], &certs) {
        let _ = r.require_genesis();
    }
    let _ = sesame::audit::search::search(&[file.clone()], &sesame::audit::search::Filter::default());
    let _ = sesame::audit::search::count_kind(&[file], "grant");
    let _ = sesame::audit::prune::plan(dir.path(), "local", 1);
});
