//! The `gatehouse` binary: parses the command line and hands over to [`gatehouse::cli`].
#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    gatehouse::cli::main()
}
