//! The store: what happens, as opposed to what an administrator writes in files. Principals, roles,
//! groups, the change counter, sessions and the audit trail, today in one SQLite file.
//!
//! The rest of gatehouse reaches the store through two interfaces, so that another backend
//! (PostgreSQL, when several gateway nodes share state) can be added without touching the proxy,
//! the audit writer or the CLI:
//! - [`PrincipalStore`] (`principals.rs`): principals, roles, tiers, passwords, groups and their
//!   members, and the change counter `generation` that the gateway polls;
//! - [`AuditStore`] (`audit.rs`): appending batches of audit rows and reading them back filtered,
//!   also as [`TrailEvent`]s, each with the purpose of the grant that allowed it;
//! - [`SessionStore`] (`sessions.rs`): sessions (a principal at a terminal), taking a seat in one
//!   transaction, touching, ending and listing them, and their change counter;
//! - [`LogStore`] (`tlog.rs`): the verifiable audit log — each event's leaf (appended with the
//!   event by `AuditStore::append_audit`), where the log starts, and the signed checkpoints;
//!   [`TailStore`] (`tlog_tail.rs`): the events behind a range of leaves, read by the gateway's
//!   start-up check of the log;
//!   [`LogReadStore`] (`tlog_read.rs`): the log read leaf by leaf for verification, export and
//!   proofs, and pruning for retention;
//! - [`PortalStore`] (`portal.rs`): portal sessions (a person logged in to the portal), found by
//!   the hash of their token, deleted at logout and with their principal's account;
//! - [`GrantStore`] (`grants.rs`): access requests and their reviews, grants, approver scopes and
//!   guests; every change of state in one transaction with its audit record, and the grants'
//!   change counter;
//! - [`AccountStore`] (`accounts.rs`): an administrator's changes to principals (created; tier,
//!   role, groups, enabled), each with its audit record, and service-account tokens (stored as
//!   hashes; created, listed, revoked, and found at use);
//! - [`DashboardStore`] (`dashboard.rs`): the dashboard's hourly rollup of the audit trail,
//!   folded from the events above its mark by whoever shows the dashboard (never by the audit
//!   writer), and summaries of pending requests and active grants;
//! - [`NotifyStore`] (`notify.rs`): what webhook notifications need — each webhook's cursor in the
//!   audit trail's action events, those events, and the once-per-grant `grant.expiring` record.
//!
//! [`Store`] is the SQLite backend and implements all of them. `sqlite.rs` opens it: the data directory
//! and the file are created readable by their owner only, the connection uses WAL, `synchronous =
//! NORMAL` (a committed batch survives a process crash) and a 10 s busy timeout, and the schema is
//! brought up to date by the numbered migrations of `migrations.rs`. A store written by a newer
//! gatehouse (a schema version this binary does not know) is refused, never used. `error.rs` holds
//! [`StoreError`], shared by all of them.
//!
//! This file only declares the parts and re-exports their public API; no part imports from it.
//!
//! The store is the truth about principals. The CLI writes to it while `serve` runs; every change to
//! principals, groups or memberships bumps `generation` (by trigger, in the same transaction), and
//! the gateway polls that counter to reload its snapshot within a second.
//!
//! **Where new state goes.** Each kind of state gets a file of its own here (as `sessions.rs` and
//! `grants.rs`: its row types, a `…Store` trait that [`Store`] implements, and its SQL), and its tables come in a new numbered migration
//! (`migrations/000N_….sql`, appended to `migrations::MIGRATIONS`; a migration that has shipped is
//! never edited). No table exists before the code that uses it.
//!
//! Keep the SQL portable where that costs nothing (plain types, `?` parameters, no `REPLACE`);
//! what is SQLite's own (pragmas, triggers, `rowid` order) stays in this backend.

mod accounts;
mod audit;
mod audit_row;
mod dashboard;
mod error;
mod grants;
mod migrations;
mod notify;
mod portal;
mod principals;
mod sessions;
mod sqlite;
mod tlog;
mod tlog_read;
mod tlog_tail;

pub use accounts::{
    AccountError, AccountStore, NewPrincipal, PrincipalChange, TokenRow, LAST_USED_EVERY_US,
};
pub use audit::{AuditQuery, AuditStore, ClientFilter, TrailEvent};
pub use audit_row::AuditRow;
pub use dashboard::{
    DashboardStore, FoldEvent, GrantSummary, PendingRequest, PendingSummary, RollupRow, KEEP_HOURS,
};
pub use error::StoreError;
pub use grants::{
    Actor, GrantError, GrantRow, GrantStore, GuestRow, NewGrant, NewGuest, NewRequest, RequestRow,
    ReviewRow, Reviewed, Submitted, Swept, Verdict, GATEWAY,
};
pub use migrations::SCHEMA_VERSION;
pub use notify::{NotifyStore, GRANT_EXPIRING};
pub use portal::{PortalSessionRow, PortalStore};
pub use principals::{GroupRow, PrincipalRow, PrincipalStore, Role};
pub use sessions::{
    EndReason, SeatClaim, SeatOutcome, SeatTaken, SessionFilter, SessionRow, SessionSelector,
    SessionStore,
};
pub use sqlite::{create_private_file, existing_store_path, now_us, store_path, Store, STORE_FILE};
pub use tlog::{
    catch_up, current_tree, event_leaf, frontier_bytes, leaf_bytes, sign_checkpoint, sign_tree,
    CheckpointRow, LeafRow, LogState, LogStore, LEAF_FORMAT,
};
pub use tlog_read::{leaf_from_row, LeafCheck, LogReadStore};
pub use tlog_tail::TailStore;

/// The principals side of the store, shared by the gateway's readers off the request path (the
/// principals snapshot, `/readyz`); whichever backend it is.
pub type SharedPrincipalStore = std::sync::Arc<std::sync::Mutex<Box<dyn PrincipalStore>>>;
