//! gatehouse: a self-hosted access gateway — an explicit forward proxy that authenticates every
//! request, decides on its canonical destination under the principal's tier, and records every
//! decision in an audit trail.
//!
//! The I/O side of the house; the pure parts live in their own crates (`destination`, `lists`,
//! `policy`, `http1`). Module map (see ARCHITECTURE.md):
//! - [`config`]: TOML configuration, validated into a runtime form;
//! - [`store`]: SQLite store of principals, groups, sessions and the audit trail;
//! - [`identity`]: principals snapshot, password hashing, proxy Basic authentication;
//! - [`proxy`]: the data plane and its decision pipeline;
//! - [`audit`]: the batching audit writer;
//! - [`metrics`]: Prometheus metrics;
//! - [`seats`]: open sessions (a principal at a terminal) and the seat phase;
//! - [`state`]: the gateway's shared state, read by the proxy, the admin listener and the portal;
//! - [`codes`]: the decisions and error codes an event is recorded in;
//! - [`admin`]: the admin routes (`/metrics`, `/healthz`, `/readyz`);
//! - [`server`]: listeners, reload, drain — the entry point the binary and the tests share;
//! - [`facts`]: the facts a decision is made on (place, time, principal), shared by the proxy
//!   and `gatehouse policy`;
//! - [`logcheck`]: the audit log's reader side: `audit verify`, exports, proofs, retention;
//! - [`clock`]: the injected wall clock (opening hours, session timeouts);
//! - [`cli`]: the command line.
// The I/O crate reads clocks and the environment by design; the ban applies to the pure crates.
#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

pub mod admin;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod codes;
pub mod config;
pub mod facts;
pub mod identity;
pub mod logcheck;
pub mod logkey;
pub mod metrics;
pub mod proxy;
pub mod seats;
pub mod server;
pub mod state;
pub mod store;
