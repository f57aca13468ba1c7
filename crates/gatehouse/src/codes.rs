//! The words a request's end is recorded in: the decision of its audit event ([`EventDecision`]) and
//! the stable code of a failure ([`ErrorCode`]), each with the one spelling that the audit trail,
//! the metrics, the response headers and the Squid log use.
//!
//! They are enums so that nothing compares them as strings: code decides on the variant and turns
//! it into text only at a boundary (a log line, a header, a metric label, a stored row).

use std::fmt;

/// The decision an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventDecision {
    /// The policy allowed the request (a transfer that failed afterwards keeps its allow and
    /// records the error beside it).
    Allow,
    /// The policy or authentication refused the request.
    Deny,
    /// The request failed before anything decided on it (malformed, shut down, backlogged).
    Error,
}

impl EventDecision {
    pub const ALL: [EventDecision; 3] = [
        EventDecision::Allow,
        EventDecision::Deny,
        EventDecision::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventDecision::Allow => "allow",
            EventDecision::Deny => "deny",
            EventDecision::Error => "error",
        }
    }
}

impl From<policy::Verdict> for EventDecision {
    fn from(v: policy::Verdict) -> Self {
        match v {
            policy::Verdict::Allow => EventDecision::Allow,
            policy::Verdict::Deny => EventDecision::Deny,
        }
    }
}

impl fmt::Display for EventDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a failure is blamed on; it decides what a page tells the person to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The client sent something gatehouse will not pass on, or went away.
    Client,
    /// The origin could not be reached, or answered badly.
    Origin,
    /// gatehouse itself cannot take the request now.
    Gateway,
}

/// The stable code of a failure, recorded in the audit trail (`error`), counted in
/// `gatehouse_request_errors_total{code}` and sent in the headers of gatehouse's own pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request head or the request target broke a rule of the strict parsers; the code is
    /// the parser's own (`http1`, `destination`), e.g. `bare_lf`.
    Malformed(&'static str),
    /// The request body's chunked framing was malformed; the code is `http1`'s.
    ClientFraming(&'static str),
    /// The origin's response was malformed; the code is `http1`'s.
    OriginFraming(&'static str),
    HeaderReadTimeout,
    AmbiguousMethod,
    NotAProxyRequest,
    UnsupportedScheme,
    ConnectWithBody,
    HostMismatch,
    AuditBacklog,
    Shutdown,
    /// The decision allowed with an obligation this gateway cannot apply: refused, never dropped.
    UnsupportedObligation,
    DnsFailed,
    UpstreamConnectFailed,
    UpstreamConnectTimeout,
    UpstreamClosed,
    UpstreamIo,
    UpstreamTimeout,
    UnexpectedUpgrade,
    TransferCodingForHttp10,
    ClientClosed,
    ClientIo,
    ClientTimeout,
    TunnelIo,
    TunnelIdleTimeout,
    TunnelHalfCloseTimeout,
    /// An open tunnel whose decision no longer holds (a reload, the location closing, the
    /// session ending, the account disabled) was closed.
    Revoked,
    /// The store did not answer for the seat in time: refused rather than seated unchecked.
    SessionsUnavailable,
}

impl ErrorCode {
    /// Every code that is not a parser's, for metrics that exist at zero from start.
    pub const FIXED: [ErrorCode; 25] = [
        ErrorCode::HeaderReadTimeout,
        ErrorCode::AmbiguousMethod,
        ErrorCode::NotAProxyRequest,
        ErrorCode::UnsupportedScheme,
        ErrorCode::ConnectWithBody,
        ErrorCode::HostMismatch,
        ErrorCode::AuditBacklog,
        ErrorCode::Shutdown,
        ErrorCode::UnsupportedObligation,
        ErrorCode::DnsFailed,
        ErrorCode::UpstreamConnectFailed,
        ErrorCode::UpstreamConnectTimeout,
        ErrorCode::UpstreamClosed,
        ErrorCode::UpstreamIo,
        ErrorCode::UpstreamTimeout,
        ErrorCode::UnexpectedUpgrade,
        ErrorCode::TransferCodingForHttp10,
        ErrorCode::ClientClosed,
        ErrorCode::ClientIo,
        ErrorCode::ClientTimeout,
        ErrorCode::TunnelIo,
        ErrorCode::TunnelIdleTimeout,
        ErrorCode::TunnelHalfCloseTimeout,
        ErrorCode::Revoked,
        ErrorCode::SessionsUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed(c) | ErrorCode::ClientFraming(c) | ErrorCode::OriginFraming(c) => {
                c
            }
            ErrorCode::HeaderReadTimeout => "header_read_timeout",
            ErrorCode::AmbiguousMethod => "ambiguous_method",
            ErrorCode::NotAProxyRequest => "not_a_proxy_request",
            ErrorCode::UnsupportedScheme => "unsupported_scheme",
            ErrorCode::ConnectWithBody => "connect_with_body",
            ErrorCode::HostMismatch => "host_mismatch",
            ErrorCode::AuditBacklog => "audit_backlog",
            ErrorCode::Shutdown => "shutdown",
            ErrorCode::UnsupportedObligation => "unsupported_obligation",
            ErrorCode::DnsFailed => "dns_failed",
            ErrorCode::UpstreamConnectFailed => "upstream_connect_failed",
            ErrorCode::UpstreamConnectTimeout => "upstream_connect_timeout",
            ErrorCode::UpstreamClosed => "upstream_closed",
            ErrorCode::UpstreamIo => "upstream_io",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::UnexpectedUpgrade => "unexpected_upgrade",
            ErrorCode::TransferCodingForHttp10 => "transfer_coding_for_http10",
            ErrorCode::ClientClosed => "client_closed",
            ErrorCode::ClientIo => "client_io",
            ErrorCode::ClientTimeout => "client_timeout",
            ErrorCode::TunnelIo => "tunnel_io",
            ErrorCode::TunnelIdleTimeout => "tunnel_idle_timeout",
            ErrorCode::TunnelHalfCloseTimeout => "tunnel_half_close_timeout",
            ErrorCode::Revoked => "revoked",
            ErrorCode::SessionsUnavailable => "sessions_unavailable",
        }
    }

    pub fn blame(self) -> Blame {
        match self {
            ErrorCode::Malformed(_)
            | ErrorCode::ClientFraming(_)
            | ErrorCode::HeaderReadTimeout
            | ErrorCode::AmbiguousMethod
            | ErrorCode::NotAProxyRequest
            | ErrorCode::UnsupportedScheme
            | ErrorCode::ConnectWithBody
            | ErrorCode::HostMismatch
            | ErrorCode::ClientClosed
            | ErrorCode::ClientIo
            | ErrorCode::ClientTimeout => Blame::Client,
            ErrorCode::OriginFraming(_)
            | ErrorCode::DnsFailed
            | ErrorCode::UpstreamConnectFailed
            | ErrorCode::UpstreamConnectTimeout
            | ErrorCode::UpstreamClosed
            | ErrorCode::UpstreamIo
            | ErrorCode::UpstreamTimeout
            | ErrorCode::UnexpectedUpgrade
            | ErrorCode::TransferCodingForHttp10
            | ErrorCode::TunnelIo
            | ErrorCode::TunnelIdleTimeout
            | ErrorCode::TunnelHalfCloseTimeout => Blame::Origin,
            ErrorCode::AuditBacklog
            | ErrorCode::Shutdown
            | ErrorCode::UnsupportedObligation
            | ErrorCode::Revoked
            | ErrorCode::SessionsUnavailable => Blame::Gateway,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::FIXED {
            let s = c.as_str();
            assert!(seen.insert(s), "`{s}` twice");
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "`{s}`"
            );
        }
    }
}
