//! The heads gatehouse writes when it forwards: the request head sent to the origin, and the
//! final and interim response heads sent to the client. gatehouse never forwards received head
//! bytes; it writes new heads from the parsed ones, without the hop-by-hop fields (RFC 9110
//! §7.6.1), with normalised framing and with `Via` (§7.6.3).

use std::net::SocketAddr;

use http1::{RequestFraming, RequestHead, ResponseFraming, ResponseHead, Version};

use crate::proxy::exchange::Target;
use crate::state::Runtime;

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), plus the ones gatehouse
/// rewrites itself (`Host`, framing) or consumes (`Proxy-Authorization`).
pub fn is_hop_by_hop(name: &str) -> bool {
    const NAMES: [&str; 11] = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "host",
        "content-length",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether the client asked for a protocol upgrade (WebSocket), which gatehouse tunnels once the
/// origin agrees with 101.
pub fn requested_upgrade(head: &RequestHead) -> Option<Vec<u8>> {
    if !head.connection().upgrade {
        return None;
    }
    head.header("upgrade").map(|v| v.to_vec())
}

/// The request head sent to the origin.
pub fn request_head(
    rt: &Runtime,
    head: &RequestHead,
    target: &Target,
    peer: SocketAddr,
    upgrade: Option<&[u8]>,
) -> Vec<u8> {
    let uri = match &target.uri {
        Some(u) => u,
        None => unreachable_target(),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(head.method().as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    let a = &target.authority;
    out.extend_from_slice(a.host.to_string().as_bytes());
    if a.port != 80 {
        out.extend_from_slice(format!(":{}", a.port).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    let listed = head.connection();
    let mut xff: Option<Vec<u8>> = None;
    for (name, value) in head.headers() {
        // Names with `_` are dropped (as nginx does by default): CGI-style origins read
        // `Content_Length` as `Content-Length`, which would reopen the ambiguity the parser closed.
        if is_hop_by_hop(name) || listed.lists(name) || name.contains('_') {
            continue;
        }
        if let Some(n) = target.max_forwards {
            if name.eq_ignore_ascii_case("max-forwards") {
                // RFC 9110 §7.6.2: one hop fewer. `n` is at least 1 here: 0 is answered, never
                // forwarded.
                out.extend_from_slice(
                    format!("Max-Forwards: {}\r\n", n.saturating_sub(1)).as_bytes(),
                );
                continue;
            }
        }
        if rt.config.proxy.x_forwarded_for && name.eq_ignore_ascii_case("x-forwarded-for") {
            let v = xff.get_or_insert_with(Vec::new);
            if !v.is_empty() {
                v.extend_from_slice(b", ");
            }
            v.extend_from_slice(value);
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    match head.framing() {
        RequestFraming::None => {}
        RequestFraming::ContentLength(n) => {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes())
        }
        RequestFraming::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    if let Some(u) = upgrade {
        out.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: ");
        out.extend_from_slice(u);
        out.extend_from_slice(b"\r\n");
    }
    via(&mut out, head.version(), &rt.config.proxy.via);
    if rt.config.proxy.x_forwarded_for {
        let v = xff.get_or_insert_with(Vec::new);
        if !v.is_empty() {
            v.extend_from_slice(b", ");
        }
        v.extend_from_slice(peer.ip().to_string().as_bytes());
        out.extend_from_slice(b"X-Forwarded-For: ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The `Via` line gatehouse adds to a message it forwards (RFC 9110 §7.6.3): the protocol version
/// the message was received with, then the configured pseudonym. `HTTP` is the default protocol
/// name, so it is left out (`1.0 gatehouse`).
fn via(out: &mut Vec<u8>, received: Version, pseudonym: &str) {
    out.extend_from_slice(match received {
        Version::Http10 => b"Via: 1.0 ",
        Version::Http11 => b"Via: 1.1 ",
    });
    out.extend_from_slice(pseudonym.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cold]
fn unreachable_target() -> ! {
    // INVARIANT: `forward` is called only for absolute-form targets, which always carry a URI.
    unreachable!("forward called without an absolute URI")
}

/// The response head sent to the client.
pub fn response_head(
    rt: &Runtime,
    resp: &ResponseHead,
    framing: ResponseFraming,
    client_chunked: bool,
    close: bool,
    upgrade: bool,
) -> Vec<u8> {
    let mut out = end_to_end(resp);
    match framing {
        ResponseFraming::ContentLength(n) => {
            out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes())
        }
        // The origin's codings go on to an HTTP/1.1 client, in order: chunked last when the body is
        // re-chunked, none when it runs until the close (`gzip`). An HTTP/1.0 client never gets
        // Transfer-Encoding: `relay_response` refuses a coded body for it, and a body that was only
        // chunked reaches it decoded.
        ResponseFraming::Chunked | ResponseFraming::UntilClose if client_chunked => {
            let mut codings = resp.transfer_codings().peekable();
            if codings.peek().is_some() {
                out.extend_from_slice(b"Transfer-Encoding: ");
                for (i, coding) in codings.enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(coding.to_ascii_lowercase().as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        _ => {}
    }
    // A response to HEAD, and a 304, keep the origin's Content-Length (it describes the body a
    // GET or a 200 would have, RFC 9110 §8.6), unless Transfer-Encoding overrode it.
    if let (ResponseFraming::None, Some(cl)) = (framing, resp.header("content-length")) {
        if resp.status() >= 200 && resp.status() != 204 && resp.transfer_codings().next().is_none()
        {
            out.extend_from_slice(b"Content-Length: ");
            out.extend_from_slice(cl);
            out.extend_from_slice(b"\r\n");
        }
    }
    via(&mut out, resp.version(), &rt.config.proxy.via);
    if upgrade {
        out.extend_from_slice(b"Connection: Upgrade\r\n");
        if let Some(u) = resp.header("upgrade") {
            out.extend_from_slice(b"Upgrade: ");
            out.extend_from_slice(u);
            out.extend_from_slice(b"\r\n");
        }
    } else if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// An interim (1xx) response relayed as it came, minus hop-by-hop headers, plus `Via` (RFC 9110
/// §7.6.3 asks it of every forwarded message).
pub fn interim_head(rt: &Runtime, resp: &ResponseHead) -> Vec<u8> {
    let mut out = end_to_end(resp);
    via(&mut out, resp.version(), &rt.config.proxy.via);
    out.extend_from_slice(b"\r\n");
    out
}

/// A response's status line and its end-to-end fields, as gatehouse passes them on.
fn end_to_end(resp: &ResponseHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", resp.status(), resp.reason()).as_bytes());
    let listed = resp.connection();
    for (name, value) in resp.headers() {
        if is_hop_by_hop(name) || listed.lists(name) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out
}
