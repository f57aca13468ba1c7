//! Fuzz target `http1_response_head`: the response-head parser of `http1` on arbitrary bytes.
//! Accepted heads have no bare CR, no obs-fold, no conflicting Content-Length, transfer codings
//! that are bare tokens with `chunked` at most once and last (other codings are relayed, never
//! decoded), a framing that follows from them, and print → parse → print is a fixed point.
//!
//! The properties live in `crates/http1/tests/properties.rs`, shared with the crate's test binary,
//! which replays this target's seed corpus (`fuzz/corpus/http1_response_head`) through them in
//! every test run.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/http1/tests/properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::check_response_head(data);
});
