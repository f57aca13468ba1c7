//! The seat phase: a request the policy allowed from a registered terminal takes its principal's
//! session there, or keeps the one it holds (`seats::Seats::seat`). A person who finds the room
//! full, the terminal held by someone else, or their own sessions at the limit is refused with a
//! page that says so, with the seat count and when the next seat frees at the latest; a store that
//! does not answer refuses (fail closed).
//!
//! Seats are taken last, after the decision, the audit slot, the address check and the connect:
//! a request refused or failed on the way never holds a seat.

use jiff::Timestamp;
use policy::Ask;

use super::respond::{Outcome, Refusal};
use crate::codes::ErrorCode;
use crate::facts::PlaceFacts;
use crate::identity::Principal;
use crate::seats::{SeatClaim, SeatRefusal};
use crate::state::{Gateway, Runtime};

/// Take or keep the principal's seat at the terminal of `place`: the session's id, or `None` at an
/// unregistered address.
/// `held` is the session the decision found the principal holding there (already seen at `now`).
pub async fn take(
    gw: &Gateway,
    rt: &Runtime,
    (principal, held): (&Principal, Option<policy::SessionFacts>),
    place: &PlaceFacts,
    destination: &str,
    now: Timestamp,
) -> Result<Option<i64>, Outcome> {
    if let Some(held) = held {
        return Ok(Some(held.id));
    }
    let (Some(terminal), Some(id)) = (&place.terminal, place.location_id) else {
        return Ok(None);
    };
    let places = &rt.config.places;
    let location = places.location(id).ok_or_else(undecidable)?;
    let claim = SeatClaim {
        principal: principal.name.to_string(),
        terminal: terminal.to_string(),
        location: location.name.to_string(),
        seats: location.seats,
        max_per_principal: places.max_sessions_per_principal(),
        idle_timeout: location.idle_timeout,
        closes_at: location.state_at(now).closes_at,
        now,
    };
    match gw.seats.seat(claim).await {
        Ok(seated) => Ok(Some(seated.session_id)),
        Err(refusal) => Err(refused(principal, location, refusal, destination)),
    }
}

/// A terminal whose location is not in the configuration that named it: refused, never seated
/// unchecked (fail closed).
pub fn undecidable() -> Outcome {
    Outcome::Failed {
        status: 503,
        code: ErrorCode::SessionsUnavailable,
        message: "gatehouse could not decide: the terminal's location is not in the configuration"
            .into(),
    }
}

/// The page for a seat refusal.
fn refused(
    principal: &Principal,
    location: &places::Location,
    refusal: SeatRefusal,
    destination: &str,
) -> Outcome {
    let at = |t: Timestamp| crate::facts::at_location(t, location);
    let explanation = match &refusal {
        SeatRefusal::Full {
            seats,
            next_free_at,
        } => format!(
            "{} is full: all {seats} seats are taken{}",
            location.name,
            match next_free_at {
                Some(t) => format!(
                    "; the next seat frees at {} at the latest, unless the person holding it is still at work",
                    at(*t)
                ),
                None => String::new(),
            }
        ),
        SeatRefusal::TerminalBusy { until } => format!(
            "this terminal holds another person's session until {} at the latest (or until staff end it)",
            at(*until)
        ),
        SeatRefusal::PrincipalLimit { max } => format!(
            "you already hold {max} session(s) at other terminals, the most one person may; end it there or wait until it ends"
        ),
        SeatRefusal::Unavailable(why) => {
            return Outcome::Failed {
                status: 503,
                code: ErrorCode::SessionsUnavailable,
                message: format!(
                    "gatehouse could not decide: the sessions store did not answer ({why}); the request is refused"
                ),
            }
        }
    };
    Outcome::Refused(Refusal {
        rule: refusal.code().to_string(),
        static_rule: refusal.code(),
        explanation,
        ask: Ask::Destination,
        principal: Some(principal.name.to_string()),
        tier: Some(principal.tier),
        destination: destination.to_string(),
    })
}
