//! Canonical proxy destinations and IP address classification.
//!
//! Every proxied request's destination is parsed here once, before any policy decision, into a
//! canonical form ([`Host`], [`Authority`], [`AbsoluteUri`]) so that no spelling of a host
//! (case, trailing dot, IDN, percent-encoding, octal/hex/short IPv4, IPv4-mapped IPv6) can
//! bypass a rule. The [`net`] module classifies resolved IP addresses and matches them against
//! CIDR sets for the check made after DNS resolution.
//!
//! Guarantees: pure (no I/O, clock, environment or async runtime); no `unsafe`; no panics on any
//! input; parsing is idempotent (the `Display` form of a parsed value parses back to the same
//! value).

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(missing_docs)]

mod authority;
mod error;
mod host;
pub mod net;

pub use authority::{AbsoluteUri, Authority, Scheme};
pub use error::DestinationError;
pub use host::{domain_is_within, DomainName, Host, MAX_DOMAIN_LEN, MAX_LABEL_LEN};
pub use net::{classify, parse_net, AddressClass, NetSet};
