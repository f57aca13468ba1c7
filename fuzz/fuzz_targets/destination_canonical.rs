//! Fuzz target `destination_canonical`: host, authority, absolute-URI and network canonicalisation
//! of `destination`. Canonical forms parse back to themselves, every spelling of an IP literal
//! parses and classifies like its canonical form, and a host keeps its meaning inside an authority
//! and a URI.
//!
//! The properties live in `crates/destination/tests/properties/mod.rs`, shared with the crate's
//! test binary, which replays this target's seed corpus (`fuzz/corpus/destination_canonical`)
//! through them in every test run.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/destination/tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::check_destination(data);
});
