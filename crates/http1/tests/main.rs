//! The `http1` test binary (one per crate, so the workspace links few test executables).

mod chunked;
mod mutations;
mod perf;
mod request;
mod response;
