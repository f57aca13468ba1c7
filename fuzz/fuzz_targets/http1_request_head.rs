//! Fuzz target `http1_request_head`: the strict request-head parser of `http1` on arbitrary bytes.
//! Accepted heads keep every promise of the crate docs (CRLF only, one Host, no obs-fold, no
//! ambiguous framing) and print → parse → print is a fixed point; prefixes of a head are partial; a
//! refused head stays refused.
//!
//! The properties live in `crates/http1/tests/properties.rs`, shared with the crate's test binary,
//! which replays this target's seed corpus (`fuzz/corpus/http1_request_head`) through them in every
//! test run.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/http1/tests/properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::check_request_head(data);
});
