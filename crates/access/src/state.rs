//! The two state machines, and the one place where their transitions are checked.
//!
//! ```text
//! request:  submitted ─▶ approved | denied | expired | withdrawn   (all four final)
//! grant:    active ─▶ expired | revoked                             (both final)
//! ```
//!
//! An approval moves a request to `approved` only when its approvals reach the number needed;
//! before that the request stays `submitted`. Every other move, and any move out of a final state,
//! is a [`TransitionError`] naming both states.

use std::fmt;

/// Where an access request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestState {
    Submitted,
    Approved,
    Denied,
    Expired,
    Withdrawn,
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEvent {
    /// One more approval: `approvals` now given (this one included), `needed` in all.
    Approve {
        approvals: u32,
        needed: u32,
    },
    Deny,
    /// Its pending time ran out.
    Expire,
    /// The requester took it back.
    Withdraw,
}

/// Where a grant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantState {
    Active,
    Expired,
    Revoked,
}

/// What happens to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEvent {
    Expire,
    Revoke,
}

/// A move the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot go from `{from}` to `{to}`")]
pub struct TransitionError {
    /// `a request` or `a grant`.
    pub what: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

impl RequestState {
    pub const ALL: [RequestState; 5] = [
        RequestState::Submitted,
        RequestState::Approved,
        RequestState::Denied,
        RequestState::Expired,
        RequestState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Submitted => "submitted",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The state after `event`, or why it cannot happen.
    pub fn apply(self, event: RequestEvent) -> Result<RequestState, TransitionError> {
        let to = match event {
            RequestEvent::Approve { approvals, needed } if approvals < needed => {
                RequestState::Submitted
            }
            RequestEvent::Approve { .. } => RequestState::Approved,
            RequestEvent::Deny => RequestState::Denied,
            RequestEvent::Expire => RequestState::Expired,
            RequestEvent::Withdraw => RequestState::Withdrawn,
        };
        match self {
            RequestState::Submitted => Ok(to),
            from => Err(TransitionError {
                what: "a request",
                from: from.as_str(),
                to: to.as_str(),
            }),
        }
    }
}

impl GrantState {
    pub const ALL: [GrantState; 3] = [GrantState::Active, GrantState::Expired, GrantState::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Active => "active",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<GrantState> {
        GrantState::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The state after `event`, or why it cannot happen.
    pub fn apply(self, event: GrantEvent) -> Result<GrantState, TransitionError> {
        let to = match event {
            GrantEvent::Expire => GrantState::Expired,
            GrantEvent::Revoke => GrantState::Revoked,
        };
        match self {
            GrantState::Active => Ok(to),
            from => Err(TransitionError {
                what: "a grant",
                from: from.as_str(),
                to: to.as_str(),
            }),
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for GrantState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EVENTS: [RequestEvent; 6] = [
        RequestEvent::Approve {
            approvals: 1,
            needed: 1,
        },
        RequestEvent::Approve {
            approvals: 1,
            needed: 2,
        },
        RequestEvent::Approve {
            approvals: 2,
            needed: 2,
        },
        RequestEvent::Deny,
        RequestEvent::Expire,
        RequestEvent::Withdraw,
    ];

    /// Every (state, event) pair: the legal ones from `submitted`, and every other one refused
    /// with both states named.
    #[test]
    fn every_request_transition_legal_and_illegal() {
        use RequestState::*;
        let legal = [Approved, Submitted, Approved, Denied, Expired, Withdrawn];
        for (event, to) in EVENTS.iter().zip(legal) {
            assert_eq!(Submitted.apply(*event), Ok(to), "{event:?}");
        }
        for from in [Approved, Denied, Expired, Withdrawn] {
            for (event, to) in EVENTS.iter().zip(legal) {
                let e = from.apply(*event).unwrap_err();
                assert_eq!((e.from, e.to), (from.as_str(), to.as_str()));
                assert_eq!(
                    e.to_string(),
                    format!("a request cannot go from `{from}` to `{to}`")
                );
            }
        }
    }

    #[test]
    fn every_grant_transition_legal_and_illegal() {
        use GrantState::*;
        assert_eq!(Active.apply(GrantEvent::Expire), Ok(Expired));
        assert_eq!(Active.apply(GrantEvent::Revoke), Ok(Revoked));
        for from in [Expired, Revoked] {
            for (event, to) in [(GrantEvent::Expire, Expired), (GrantEvent::Revoke, Revoked)] {
                let e = from.apply(event).unwrap_err();
                assert_eq!(
                    e.to_string(),
                    format!("a grant cannot go from `{from}` to `{to}`")
                );
            }
        }
    }

    #[test]
    fn states_read_back_what_they_print() {
        for s in RequestState::ALL {
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        for s in GrantState::ALL {
            assert_eq!(GrantState::parse(s.as_str()), Some(s));
        }
        assert_eq!(RequestState::parse("pending"), None);
    }
}
