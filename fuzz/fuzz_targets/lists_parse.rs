//! Fuzz target `lists_parse`: the hosts, plain and AdBlock loaders of `lists` against a model of
//! the formats. Counts and strict-mode errors match the model, every accepted name is canonical
//! (also as a request host) and found by lookup with its subdomains, and nothing else is found.
//!
//! The properties live in `crates/lists/tests/properties.rs`, shared with the crate's test binary,
//! which replays this target's seed corpus (`fuzz/corpus/lists_parse`) through them in every test
//! run.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/lists/tests/properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::check_lists(data);
});
