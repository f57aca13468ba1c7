//! The `http1` test binary (one per crate, so the workspace links few test executables).

mod chunked;
mod corpus;
mod mutations;
mod perf;
mod properties;
mod request;
mod response;
