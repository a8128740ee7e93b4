//! The auditor's readers (`audit reconcile`, `audit route`): any CloudTrail file, gzip'd
//! or plain, and any session log is sign-ins or a named error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"));
    let trail = dir.path().join("trail.json");
    std::fs::write(&trail, data).expect("write");
    let mut n = 0u64;
    if let Ok(records) = sesame::forensics::cloudtrail::read_file(&trail, &mut |_| n += 1) {
        assert!(n <= records, "more sign-ins than records");
    }
    let sid = "alice.0123456789ab-0a1b2c3d4e5f60718";
    for name in [format!("{sid}.log"), "events.jsonl".into(), format!("{sid}/000000.gz")] {
        let path = dir.path().join(&name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, data).expect("write");
        let _ = sesame::forensics::session_logs::read_file(&path, &mut |p| {
            assert!(sesame::forensics::session_logs::is_session_id(p.session_id));
            Ok(())
        });
    }
});
