//! The `lists` test binary (one per crate, so the workspace links few test executables).

mod corpus;
mod large;
#[allow(clippy::module_inception)]
mod lists;
mod properties;
