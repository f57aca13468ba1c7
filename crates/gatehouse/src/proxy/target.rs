//! Understanding a request's target once, before any decision: [`target_of`] parses and
//! canonicalises it (crate `destination`), refuses what a forward proxy must not take (origin-form,
//! other schemes, a `Connect` that is not `CONNECT`, a body on a `CONNECT`, a malformed
//! `Max-Forwards`), and checks a `Host` header against it — the target's authority decides and
//! routes, a `Host` that names anything else is refused (`host_mismatch`), never used.
//!
//! [`redact_target`] is how a target is recorded before it is understood: without userinfo,
//! bounded.

use destination::{AbsoluteUri, Authority, DestinationError};
use http1::{RequestFraming, RequestHead};

use super::exchange::Target;
use super::respond::Outcome;
use crate::codes::ErrorCode;

fn bad_request(code: ErrorCode, message: String) -> Outcome {
    Outcome::bad_request(code, message)
}

fn destination_error(e: DestinationError) -> Outcome {
    bad_request(ErrorCode::Malformed(e.code()), e.to_string())
}

/// Parse and canonicalise the request target; check the `Host` header against it.
pub fn target_of(head: &RequestHead) -> Result<Target, Outcome> {
    let raw = head.target();
    // Method names are case-sensitive (RFC 9110 §9.1): `Connect` is not CONNECT, so it would skip
    // the CONNECT rules here while an origin that folds case could take it for one.
    if !head.is_connect() && head.method().eq_ignore_ascii_case("CONNECT") {
        return Err(bad_request(
            ErrorCode::AmbiguousMethod,
            format!(
                "`{}` is not `CONNECT`: method names are case-sensitive",
                truncate(head.method(), 20)
            ),
        ));
    }
    let target = if head.is_connect() {
        let authority = Authority::parse(raw, None).map_err(destination_error)?;
        Target {
            connect: true,
            authority,
            uri: None,
            max_forwards: None,
        }
    } else if raw.starts_with('/') || raw == "*" {
        return Err(bad_request(
            ErrorCode::NotAProxyRequest,
            format!(
                "`{}` is not an absolute URI: gatehouse is a forward proxy; send `http://host/path` (or CONNECT for https)",
                truncate(raw, 80)
            ),
        ));
    } else {
        let uri = AbsoluteUri::parse(raw).map_err(|e| match e {
            DestinationError::UnsupportedScheme(s) => bad_request(
                ErrorCode::UnsupportedScheme,
                format!(
                    "the scheme `{}` is not proxied in absolute form; use CONNECT for https",
                    truncate(&s, 20)
                ),
            ),
            other => destination_error(other),
        })?;
        Target {
            connect: false,
            authority: uri.authority.clone(),
            uri: Some(uri),
            max_forwards: None,
        }
    };
    // The authority of the target decides and routes; a Host header that names something else is
    // an attempt to make the two disagree.
    if let Some(host) = head.header("host") {
        // Common case, no parse needed: the Host header repeats the target's authority verbatim.
        if host.eq_ignore_ascii_case(raw_authority(raw, target.connect).as_bytes()) {
            return finish_target(head, target);
        }
        let default_port = if target.connect { 443 } else { 80 };
        let host = std::str::from_utf8(host).map_err(|_| {
            bad_request(
                ErrorCode::HostMismatch,
                "the Host header is not valid text".into(),
            )
        })?;
        match Authority::parse(host, Some(default_port)) {
            Ok(a) if a == target.authority => {}
            _ => {
                return Err(bad_request(
                    ErrorCode::HostMismatch,
                    format!(
                        "the Host header `{}` does not match the request target `{}`",
                        truncate(&without_userinfo(host), 80),
                        target.authority
                    ),
                ))
            }
        }
    }
    finish_target(head, target)
}

/// A chunked request body whose framing is already broken in the bytes that arrived with the head
/// is refused with `400` before anything is forwarded, like a malformed head. (Framing errors
/// found later abort the exchange mid-body.)
pub fn check_early_body(head: &RequestHead, buffered: &[u8]) -> Result<(), Outcome> {
    if head.framing() != RequestFraming::Chunked {
        return Ok(());
    }
    http1::check_chunked_prefix(buffered).map_err(|e| {
        bad_request(
            ErrorCode::ClientFraming(e.code()),
            format!("the request body is malformed: {e}; nothing was forwarded"),
        )
    })
}

/// `host` with anything up to its last `@` (userinfo, which a Host header must not carry) replaced
/// by `…`: a refusal repeats what it refused, but never a password, into responses and logs.
fn without_userinfo(host: &str) -> std::borrow::Cow<'_, str> {
    match host.rfind('@') {
        Some(at) => format!("…{}", &host[at..]).into(),
        None => host.into(),
    }
}

/// The checks that need the parsed target: a CONNECT has no body, and the Max-Forwards of an
/// OPTIONS or TRACE request is one decimal number.
fn finish_target(head: &RequestHead, mut target: Target) -> Result<Target, Outcome> {
    if target.connect && !matches!(head.framing(), RequestFraming::None) {
        return Err(bad_request(
            ErrorCode::ConnectWithBody,
            "a CONNECT request must not carry a body".into(),
        ));
    }
    // RFC 9110 §7.6.2 gives Max-Forwards a meaning for these two methods only; for the others
    // a recipient may ignore it, so it passes unchanged and unchecked.
    if matches!(head.method(), "OPTIONS" | "TRACE") {
        target.max_forwards = head
            .max_forwards()
            .map_err(|e| bad_request(ErrorCode::Malformed(e.code()), e.to_string()))?;
    }
    Ok(target)
}

/// The authority part of a request target as sent (`host:port` of `http://host:port/path`).
/// Only used to recognise a `Host` header that repeats it byte for byte; the target itself has
/// already been parsed and canonicalised, so anything else falls back to a full comparison.
fn raw_authority(raw: &str, connect: bool) -> &str {
    if connect {
        return raw;
    }
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// The raw request target as recorded before it is understood: any userinfo (which may hold a
/// password) is replaced by `***`, and the length is bounded.
pub fn redact_target(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let redacted = match authority.rfind('@') {
        Some(at) => format!("{scheme}***@{}{tail}", &authority[at + 1..]),
        None => raw.to_string(),
    };
    truncate(&redacted, 1024)
}

pub fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_target;

    #[test]
    fn recorded_targets_never_keep_userinfo() {
        assert_eq!(
            redact_target("http://u:pw@h.test/p?q"),
            "http://***@h.test/p?q"
        );
        assert_eq!(redact_target("u:pw@h.test:443"), "***@h.test:443");
        assert_eq!(redact_target("http://h.test/a@b"), "http://h.test/a@b");
        assert_eq!(redact_target("http://a@b@h.test/"), "http://***@h.test/");
        assert!(redact_target(&"x".repeat(5000)).chars().count() <= 1025);
    }
}
