//! Configuration TOML: any text is a configuration or a list of problems, never a panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = sesame::config::Config::from_toml(text, "fuzz", &common::root()) {
        assert!(!e.problems.0.is_empty(), "an error names at least one problem");
    }
});
