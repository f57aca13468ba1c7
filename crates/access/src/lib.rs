//! Access requests and grants as values: what a person may ask for ([`Scope`]), the two state
//! machines ([`RequestState`], [`GrantState`]) with the one place where their transitions are
//! checked, and the active grants indexed for the decision ([`GrantSet`]).
//!
//! INVARIANT: this crate knows nothing of sockets, clocks, SQL or configuration files. Times are
//! microseconds since the Unix epoch given by the caller; the store and the gateway (crate
//! `gatehouse`) read the clock and persist the states, and every state change they make goes
//! through [`RequestState::apply`] or [`GrantState::apply`], so an illegal transition is an error,
//! never a silent no-op.
//!
//! `policy` depends on this crate (a grant is data to the decision), never the other way round.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod scope;
mod set;
mod state;

pub use scope::{Scope, ScopeError, ScopeItem};
pub use set::{ActiveGrant, GrantSet};
pub use state::{GrantEvent, GrantState, RequestEvent, RequestState, TransitionError};
