//! The `lists` test binary (one per crate, so the workspace links few test executables).

mod large;
#[allow(clippy::module_inception)]
mod lists;
