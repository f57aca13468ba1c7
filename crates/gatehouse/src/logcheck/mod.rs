//! The reader side of the verifiable audit log (issue 13): checking the log over the store
//! (`verify.rs`), exports a third party can check with nothing but the log's public key
//! (`export.rs`), inclusion and consistency proofs (`proof.rs`), and retention that keeps what
//! stays verifiable (`retention.rs`). `event.rs` is the JSON form of an event in exports and
//! proofs, `report.rs` what a check found, `error.rs` why a check could not run.
//!
//! It reads the store through [`crate::store::LogReadStore`] and the pure crate `auditlog`; the
//! command line (`cli/auditlog.rs`) and the server's background prune are its only callers.
//! Nothing here writes to the store except [`retention::prune_before`].

mod error;
mod event;
mod export;
mod proof;
mod report;
pub mod retention;
mod verify;

pub use error::CheckError;
pub use event::{event_from_json, event_json};
pub use export::{verify_export, write_export, Exported, EXPORT_FORMAT};
pub use proof::{prove_consistency, prove_event, verify_proof, StoreLeaves};
pub use report::{format_time, Finding, Kind, Report};
pub use retention::{prune_before, Pruned};
pub use verify::verify_store;
