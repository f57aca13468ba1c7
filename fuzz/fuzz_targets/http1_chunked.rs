//! Fuzz target `http1_chunked`: the `ChunkedDecoder` of `http1`. The first input byte and those
//! after it choose split points; the decoder must give the same data and verdict fed whole, split
//! there, or byte by byte, never more output than input, and its re-encoded output must decode the
//! same.
//!
//! The properties live in `crates/http1/tests/properties.rs`, shared with the crate's test binary,
//! which replays this target's seed corpus (`fuzz/corpus/http1_chunked`) through them in every test
//! run.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/http1/tests/properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    properties::check_chunked(data);
});
