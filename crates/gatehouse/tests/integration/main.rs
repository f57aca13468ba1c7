//! Black-box tests of the real gateway: started in-process through `Server::start` (the binary's
//! entry point) on port 0, or as the binary itself for CLI and signal tests; driven over real sockets
//! by curl and raw clients against recording origins on their own loopback addresses.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod addresses;
mod audit;
mod audit_cli;
mod auth;
mod bounds;
mod browse;
mod canonical;
mod cli;
mod clients;
mod connect_ports;
mod grants;
mod grants_cli;
mod hardening;
mod idle_memory;
mod invariants;
mod kept_upstream;
mod list_files;
mod malformed;
mod metrics;
mod notify;
mod places_config;
mod policy_cli;
mod portal;
mod portal_admin;
mod portal_dashboard;
mod portal_e2e;
mod portal_grants;
mod portal_matrix;
mod protocol;
mod reload_load;
mod response_framing;
mod seats;
mod store_versions;
mod strictness;
mod tidy;
mod tiers;
mod tlog_verify;
mod tlog_write;
mod truncation;
mod upstream_outcomes;
mod where_when;
