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
//! - [`checkpoints`]: the audit log's start-up check, checkpoint schedule and health;
//! - [`metrics`]: Prometheus metrics;
//! - [`seats`]: open sessions (a principal at a terminal) and the seat phase;
//! - [`state`]: the gateway's shared state, read by the proxy, the admin listener and the portal;
//! - [`codes`]: the decisions and error codes an event is recorded in;
//! - [`admin`]: the admin routes (`/metrics`, `/healthz`, `/readyz`);
//! - [`portal`]: the portal (login, the person's own page and trail, `/api/v1`) on its own listener;
//! - [`server`]: listeners, reload, drain — the entry point the binary and the tests share;
//! - [`facts`]: the facts a decision is made on (place, time, principal), shared by the proxy
//!   and `gatehouse policy`;
//! - [`logcheck`]: the audit log's reader side: `audit verify`, exports, proofs, retention;
//! - [`clock`]: the injected wall clock (opening hours, session timeouts);
//! - [`accounts`]: the checks an account change passes before the store (names, passwords,
//!   tiers, roles, groups, expiries) and service-account tokens, shared by the CLI and the portal;
//! - [`asking`]: the checks a request for access passes before the store, shared by the CLI and
//!   the portal;
//! - [`grants`]: the active access grants as the decision reads them, kept current from the store;
//! - [`dashboard`]: the admins' dashboard figures (seats, pending requests, grants, refusals and
//!   traffic per category from the store's hourly rollup, folded when shown);
//! - [`notify`]: webhook notifications, following the audit trail's action events;
//! - [`cli`]: the command line;
//! - [`printable`]: messages that quote input, bounded and escaped for a terminal or a log.
// The I/O crate reads clocks and the environment by design; the ban applies to the pure crates.
#![allow(clippy::disallowed_methods)]
#![forbid(unsafe_code)]

pub mod accounts;
pub mod admin;
pub mod asking;
pub mod audit;
pub mod bursts;
pub mod checkpoints;
pub mod cli;
pub mod clock;
pub mod codes;
pub mod config;
pub mod dashboard;
pub mod facts;
pub mod grants;
pub mod identity;
pub mod logcheck;
pub mod logkey;
pub mod metrics;
pub mod notify;
pub mod portal;
pub mod printable;
pub mod proxy;
pub mod seats;
pub mod server;
pub mod state;
pub mod store;
