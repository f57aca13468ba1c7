//! Places: locations, terminals and schedules (skeleton; filled in by the places work).
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
