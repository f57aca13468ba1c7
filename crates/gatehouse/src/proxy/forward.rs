//! Forwarding one plain-HTTP exchange: our own re-serialised request head, the request body streamed
//! in constant memory with normalised framing, the response relayed as it arrives.
//!
//! The request body and the response run concurrently (an origin may answer before it has read the
//! body, and `Expect: 100-continue` needs the interim response relayed while the body waits). A
//! framing error found mid-body aborts both connections: the origin sees a truncated request, never a
//! second one, and the client a 400 if no response had begun. A failure after the response head
//! reached the client resets the client connection ([`Next::Abort`]), so that the cut is visible.
//! Every read and write is bounded by the idle timeout. Hop-by-hop headers are removed in both
//! directions (RFC 9110 §7.6.1) and `Via` is added, to interim responses too.
//! Body bytes are counted in the request's [`Progress`] as they are written, so an exchange cut
//! short (an error, or shutdown) is recorded with what it relayed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use http1::{
    Chunk, ChunkedDecoder, Parsed, RequestFraming, RequestHead, ResponseFraming, ResponseHead,
    Version,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{ConnParts, Gateway, Next, Progress, Relayed, Runtime, Target, Upstream};

/// Size of the scratch buffer for streaming bodies.
const SCRATCH: usize = 64 * 1024;
/// Flush re-encoded chunked output once it reaches this size.
const FLUSH_AT: usize = 64 * 1024;

/// Why a body or response could not be relayed; each has a stable code for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayError {
    ClientClosed,
    ClientIo,
    ClientTimeout,
    UpstreamClosed,
    UpstreamIo,
    UpstreamTimeout,
    /// The client's chunked body was malformed.
    ClientFraming(&'static str),
    /// The origin's response was malformed.
    UpstreamFraming(&'static str),
    /// The origin switched protocols although nobody asked it to.
    UnexpectedUpgrade,
    /// The response body carries a transfer coding other than chunked (`gzip`), and the client
    /// speaks HTTP/1.0: it cannot be told about the coding, and gatehouse does not decode it.
    CodingForHttp10,
}

impl RelayError {
    pub fn code(self) -> &'static str {
        match self {
            RelayError::ClientClosed => "client_closed",
            RelayError::ClientIo => "client_io",
            RelayError::ClientTimeout => "client_timeout",
            RelayError::UpstreamClosed => "upstream_closed",
            RelayError::UpstreamIo => "upstream_io",
            RelayError::UpstreamTimeout => "upstream_timeout",
            RelayError::ClientFraming(c) | RelayError::UpstreamFraming(c) => c,
            RelayError::UnexpectedUpgrade => "unexpected_upgrade",
            RelayError::CodingForHttp10 => "transfer_coding_for_http10",
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Upstream,
}

impl Side {
    fn closed(self) -> RelayError {
        match self {
            Side::Client => RelayError::ClientClosed,
            Side::Upstream => RelayError::UpstreamClosed,
        }
    }
    fn io(self) -> RelayError {
        match self {
            Side::Client => RelayError::ClientIo,
            Side::Upstream => RelayError::UpstreamIo,
        }
    }
    fn timeout(self) -> RelayError {
        match self {
            Side::Client => RelayError::ClientTimeout,
            Side::Upstream => RelayError::UpstreamTimeout,
        }
    }
    fn framing(self, code: &'static str) -> RelayError {
        match self {
            Side::Client => RelayError::ClientFraming(code),
            Side::Upstream => RelayError::UpstreamFraming(code),
        }
    }
}

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1), plus the ones gatehouse
/// rewrites itself (`Host`, framing) or consumes (`Proxy-Authorization`).
fn is_hop_by_hop(name: &str) -> bool {
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
fn requested_upgrade(head: &RequestHead) -> Option<Vec<u8>> {
    if !head.connection().upgrade {
        return None;
    }
    head.header("upgrade").map(|v| v.to_vec())
}

/// The request head sent to the origin.
fn request_head(
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
fn response_head(
    rt: &Runtime,
    resp: &ResponseHead,
    framing: ResponseFraming,
    client_chunked: bool,
    close: bool,
    upgrade: bool,
) -> Vec<u8> {
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
fn interim_head(rt: &Runtime, resp: &ResponseHead) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status(), resp.reason()).into_bytes();
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
    via(&mut out, resp.version(), &rt.config.proxy.via);
    out.extend_from_slice(b"\r\n");
    out
}

async fn read_timeout<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut [u8],
    idle: Duration,
    side: Side,
) -> Result<usize, RelayError> {
    match tokio::time::timeout(idle, r.read(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(_)) => Err(side.io()),
        Err(_) => Err(side.timeout()),
    }
}

async fn read_more<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    idle: Duration,
    side: Side,
) -> Result<usize, RelayError> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(SCRATCH);
    }
    match tokio::time::timeout(idle, r.read_buf(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(_)) => Err(side.io()),
        Err(_) => Err(side.timeout()),
    }
}

/// Write all of `bytes`. A peer that takes nothing for the idle timeout (its window stays shut)
/// is cut like one that stops sending, instead of holding a connection slot and an origin
/// connection for good; a slow reader that keeps taking bytes is not: the timeout restarts with
/// every write that made progress.
async fn write<W: AsyncWrite + Unpin>(
    w: &mut W,
    mut bytes: &[u8],
    side: Side,
    idle: Duration,
) -> Result<(), RelayError> {
    while !bytes.is_empty() {
        match tokio::time::timeout(idle, w.write(bytes)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(side.io()),
            Ok(Ok(n)) => bytes = &bytes[n..],
            Err(_) => return Err(side.timeout()),
        }
    }
    Ok(())
}

/// Copy exactly `n` body bytes: first those already buffered, then from the socket. Each write
/// is counted in `written`.
#[allow(clippy::too_many_arguments)]
async fn copy_length<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    n: u64,
    idle: Duration,
    from: Side,
    to: Side,
    written: &AtomicU64,
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut remaining = n;
    let k = (buf.len() as u64).min(remaining) as usize;
    if k > 0 {
        write(dst, &buf[..k], to, idle).await?;
        written.fetch_add(k as u64, Ordering::Relaxed);
        buf.advance(k);
        remaining -= k as u64;
    }
    if remaining == 0 {
        return Ok(());
    }
    let mut scratch = vec![0u8; SCRATCH.min(remaining as usize)];
    while remaining > 0 {
        let want = scratch.len().min(remaining as usize);
        let got = read_timeout(src, &mut scratch[..want], idle, from).await?;
        if got == 0 {
            return Err(from.closed());
        }
        write(dst, &scratch[..got], to, idle).await?;
        written.fetch_add(got as u64, Ordering::Relaxed);
        remaining -= got as u64;
    }
    Ok(())
}

/// Relay a chunked body, validating its framing strictly. With `reencode` the output is chunked
/// again (normalised: no extensions, no trailers); without, the data is written bare (for an
/// HTTP/1.0 client, which then sees the end of the body as the end of the connection). The data
/// bytes (not the framing) are counted in `written` once they are written.
#[allow(clippy::too_many_arguments)]
async fn copy_chunked<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    reencode: bool,
    idle: Duration,
    from: Side,
    to: Side,
    written: &AtomicU64,
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut decoder = ChunkedDecoder::new();
    let mut out: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64);
    // Data bytes held in `out`, counted once `out` is written.
    let mut held = 0u64;
    loop {
        let (consumed, chunk) = decoder
            .decode(&buf[..])
            .map_err(|e| from.framing(e.code()))?;
        match chunk {
            Some(Chunk::Data(data)) => {
                if reencode {
                    http1::encode_chunk_header(data.len(), &mut out);
                }
                if data.len() >= FLUSH_AT && out.len() < 64 {
                    // Large chunk: write it straight from the buffer.
                    write(dst, &out, to, idle).await?;
                    out.clear();
                    write(dst, data, to, idle).await?;
                    written.fetch_add(data.len() as u64, Ordering::Relaxed);
                } else {
                    out.extend_from_slice(data);
                    held += data.len() as u64;
                }
                if reencode {
                    out.extend_from_slice(http1::CHUNK_TRAILER);
                }
                buf.advance(consumed);
                if out.len() >= FLUSH_AT {
                    write(dst, &out, to, idle).await?;
                    out.clear();
                    written.fetch_add(std::mem::take(&mut held), Ordering::Relaxed);
                }
            }
            Some(Chunk::End) => {
                buf.advance(consumed);
                if reencode {
                    out.extend_from_slice(http1::LAST_CHUNK);
                }
                if !out.is_empty() {
                    write(dst, &out, to, idle).await?;
                    written.fetch_add(held, Ordering::Relaxed);
                }
                return Ok(());
            }
            None => {
                buf.advance(consumed);
                if !out.is_empty() {
                    write(dst, &out, to, idle).await?;
                    out.clear();
                    written.fetch_add(std::mem::take(&mut held), Ordering::Relaxed);
                }
                if read_more(src, buf, idle, from).await? == 0 {
                    return Err(from.closed());
                }
            }
        }
    }
}

async fn copy_until_close<R, W>(
    src: &mut R,
    buf: &mut BytesMut,
    dst: &mut W,
    idle: Duration,
    written: &AtomicU64,
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if !buf.is_empty() {
        write(dst, &buf[..], Side::Client, idle).await?;
        written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        buf.clear();
    }
    let mut scratch = vec![0u8; SCRATCH];
    loop {
        let got = read_timeout(src, &mut scratch, idle, Side::Upstream).await?;
        if got == 0 {
            return Ok(());
        }
        write(dst, &scratch[..got], Side::Client, idle).await?;
        written.fetch_add(got as u64, Ordering::Relaxed);
    }
}

async fn send_body<R, W>(
    client: &mut R,
    buf: &mut BytesMut,
    upstream: &mut W,
    framing: RequestFraming,
    idle: Duration,
    written: &AtomicU64,
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match framing {
        RequestFraming::None => Ok(()),
        RequestFraming::ContentLength(n) => {
            copy_length(
                client,
                buf,
                upstream,
                n,
                idle,
                Side::Client,
                Side::Upstream,
                written,
            )
            .await
        }
        RequestFraming::Chunked => {
            copy_chunked(
                client,
                buf,
                upstream,
                true,
                idle,
                Side::Client,
                Side::Upstream,
                written,
            )
            .await
        }
    }
}

/// How the response ended.
enum Response {
    Complete {
        status: u16,
        upstream_reusable: bool,
        client_reusable: bool,
    },
    Upgraded {
        status: u16,
    },
    /// The kept origin connection was closed before any response byte (safe to retry once).
    StaleUpstream,
}

/// What was sent to the client before a failure: a gateway error page may still be sent only when
/// nothing was.
struct ResponseError {
    error: RelayError,
    head_sent: bool,
    status: u16,
}

#[allow(clippy::too_many_arguments)]
async fn relay_response<R, W>(
    gw: &Gateway,
    rt: &Runtime,
    upstream: &mut R,
    ubuf: &mut BytesMut,
    client: &mut W,
    head: &RequestHead,
    wants_upgrade: bool,
    reused: bool,
    body_pending: &AtomicBool,
    progress: &Progress,
) -> Result<Response, ResponseError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let settings = &rt.config.proxy;
    let client_http10 = head.version() == Version::Http10;
    let fail = |error, head_sent, status| ResponseError {
        error,
        head_sent,
        status,
    };
    let sent_at = Instant::now();
    let deadline = tokio::time::Instant::now() + settings.upstream_response_timeout;
    let mut first = true;
    loop {
        // Read one response head.
        let resp = loop {
            if !ubuf.is_empty() {
                match http1::parse_response_head(ubuf, &settings.limits) {
                    Ok(Parsed::Complete { head, len }) => {
                        ubuf.advance(len);
                        break head;
                    }
                    Ok(Parsed::Partial) => {}
                    Err(e) => return Err(fail(RelayError::UpstreamFraming(e.code()), false, 0)),
                }
            }
            if ubuf.capacity() - ubuf.len() < 1024 {
                ubuf.reserve(8 * 1024);
            }
            let n = match tokio::time::timeout_at(deadline, upstream.read_buf(ubuf)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) if first && ubuf.is_empty() && reused => {
                    return Ok(Response::StaleUpstream)
                }
                Ok(Err(_)) => return Err(fail(RelayError::UpstreamIo, false, 0)),
                Err(_) => return Err(fail(RelayError::UpstreamTimeout, false, 0)),
            };
            if n == 0 {
                if first && ubuf.is_empty() && reused {
                    return Ok(Response::StaleUpstream);
                }
                return Err(fail(RelayError::UpstreamClosed, false, 0));
            }
        };
        if first {
            gw.metrics
                .upstream_response_seconds
                .observe(sent_at.elapsed().as_secs_f64());
        }
        first = false;
        let status = resp.status();
        if status == 101 {
            if !wants_upgrade {
                return Err(fail(RelayError::UnexpectedUpgrade, false, 0));
            }
            let bytes = response_head(rt, &resp, ResponseFraming::None, false, false, true);
            progress.begin();
            write(client, &bytes, Side::Client, settings.idle_timeout)
                .await
                .map_err(|e| fail(e, true, status))?;
            progress.sent_head(status);
            progress
                .head_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            return Ok(Response::Upgraded { status });
        }
        if (100..200).contains(&status) {
            // Interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients only.
            if !client_http10 {
                progress.begin();
                let interim = interim_head(rt, &resp);
                write(client, &interim, Side::Client, settings.idle_timeout)
                    .await
                    .map_err(|e| fail(e, true, 0))?;
                progress
                    .head_bytes
                    .fetch_add(interim.len() as u64, Ordering::Relaxed);
            }
            continue;
        }
        let framing = resp.framing(head.is_head(), false);
        if client_http10
            && matches!(
                framing,
                ResponseFraming::Chunked | ResponseFraming::UntilClose
            )
            && resp.has_coding_besides_chunked()
        {
            // RFC 9112 §6.1: Transfer-Encoding is not for an HTTP/1.0 recipient, and without it the
            // coded bytes would reach the client as if they were the representation.
            return Err(fail(RelayError::CodingForHttp10, false, 0));
        }
        let client_chunked = !client_http10;
        // The client connection stays open only for a client that wants it (HTTP/1.0: only
        // with `Connection: keep-alive`), a body whose end the client can see without the close
        // (never chunked for HTTP/1.0), and a request body already sent whole: when the origin
        // answers before it has read the body, the rest of the body cannot be told from a next
        // request, so the answer says `Connection: close`.
        let close_client = !head.keep_alive()
            || matches!(framing, ResponseFraming::UntilClose)
            || (client_http10 && matches!(framing, ResponseFraming::Chunked))
            || body_pending.load(Ordering::Relaxed);
        let mut bytes = response_head(rt, &resp, framing, client_chunked, close_client, false);
        if client_http10 && !close_client {
            // An HTTP/1.0 client keeps the connection only when the response says so.
            let end = bytes.len() - 2;
            bytes.splice(end..end, b"Connection: keep-alive\r\n".iter().copied());
        }
        // The body bytes that arrived with the head go out with it: one write for a small response.
        let mut early = 0u64;
        if let ResponseFraming::ContentLength(n) = framing {
            let k = (ubuf.len() as u64).min(n).min(SCRATCH as u64) as usize;
            bytes.extend_from_slice(&ubuf[..k]);
            ubuf.advance(k);
            early = k as u64;
        }
        progress.begin();
        write(client, &bytes, Side::Client, settings.idle_timeout)
            .await
            .map_err(|e| fail(e, true, status))?;
        progress.sent_head(status);
        if let Some(value) = resp.header("content-type") {
            progress.sent_content_type(value);
        }
        progress
            .head_bytes
            .fetch_add(bytes.len() as u64 - early, Ordering::Relaxed);
        let down = &progress.bytes_down;
        down.fetch_add(early, Ordering::Relaxed);
        let idle = settings.idle_timeout;
        let body = match framing {
            ResponseFraming::None => Ok(()),
            ResponseFraming::ContentLength(n) => {
                copy_length(
                    upstream,
                    ubuf,
                    client,
                    n - early,
                    idle,
                    Side::Upstream,
                    Side::Client,
                    down,
                )
                .await
            }
            ResponseFraming::Chunked => {
                copy_chunked(
                    upstream,
                    ubuf,
                    client,
                    client_chunked,
                    idle,
                    Side::Upstream,
                    Side::Client,
                    down,
                )
                .await
            }
            ResponseFraming::UntilClose => {
                copy_until_close(upstream, ubuf, client, idle, down).await
            }
        };
        body.map_err(|e| fail(e, true, status))?;
        return Ok(Response::Complete {
            status,
            // A response with both Transfer-Encoding and Content-Length was framed by the former
            // (RFC 9112 §6.3 item 3), but an origin that sends it is not trusted with a next
            // request on the same connection.
            upstream_reusable: resp.keep_alive()
                && !matches!(framing, ResponseFraming::UntilClose)
                && !resp.content_length_overridden()
                && ubuf.is_empty(),
            client_reusable: !close_client,
        });
    }
}

/// Whether a request may be sent again, once, on a fresh connection when the kept origin
/// connection it was sent on turns out closed before any response byte. Only idempotent methods
/// without a body (RFC 9112 §9.3.1.1, RFC 9110 §9.2.2): the origin may have received and acted on
/// the first copy, and a body already read from the client cannot be sent twice. Requests that
/// may not be retried are sent on a kept connection only after it showed no sign of closing.
pub fn may_retry(head: &RequestHead) -> bool {
    matches!(head.framing(), RequestFraming::None)
        && matches!(
            head.method(),
            "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
        )
}

/// Forward one plain-HTTP request to `upstream` and relay the response, counting what was relayed
/// in `progress`.
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    cp: ConnParts<'_>,
    client: &mut tokio::net::TcpStream,
    head: &RequestHead,
    target: &Target,
    mut upstream: Upstream,
    progress: &Progress,
) -> Relayed {
    let upgrade = requested_upgrade(head);
    let req = request_head(rt, head, target, cp.peer, upgrade.as_deref());
    let framing = head.framing();
    let idle = rt.config.proxy.idle_timeout;
    let mut reused = upstream.reused;
    let may_retry = may_retry(head);
    // A failure after the response head reached the client: the response is incomplete, and the
    // client must be able to tell, also where the body would have ended with the connection
    // (no length, or de-chunked for HTTP/1.0): the connection is reset, not closed.
    let failed = |error: RelayError, status: u16| Relayed {
        status,
        error: Some(error.code()),
        next: Next::Abort,
        keep_upstream: None,
    };
    loop {
        let attempt = {
            let (mut cr, mut cw) = client.split();
            let (mut ur, mut uw) = upstream.stream.split();
            if uw.write_all(&req).await.is_err() {
                if reused && may_retry {
                    Attempt::Stale
                } else {
                    return gateway_error(rt, client, RelayError::UpstreamIo, progress).await;
                }
            } else {
                let body_pending = AtomicBool::new(!matches!(framing, RequestFraming::None));
                let send = async {
                    let sent =
                        send_body(&mut cr, cp.buf, &mut uw, framing, idle, &progress.bytes_up)
                            .await;
                    if sent.is_ok() {
                        body_pending.store(false, Ordering::Relaxed);
                        progress.read_body();
                    }
                    sent
                };
                let recv = relay_response(
                    gw,
                    rt,
                    &mut ur,
                    &mut upstream.buf,
                    &mut cw,
                    head,
                    upgrade.is_some(),
                    reused && may_retry,
                    &body_pending,
                    progress,
                );
                tokio::pin!(send, recv);
                // A request without a body is fully sent with its head. The sender is polled first
                // so that a body finished in the same wake-up as the response is seen as finished
                // (otherwise a fast origin's response could win the race and the client connection
                // would be closed for no reason).
                let mut sent = matches!(framing, RequestFraming::None);
                // The origin stopped taking the body (closed, reset, or its window stayed shut):
                // it may still answer, or be answering already; the response decides.
                let mut stopped_sending = false;
                loop {
                    tokio::select! {
                        biased;
                        s = &mut send, if !sent && !stopped_sending => match s {
                            Ok(()) => sent = true,
                            Err(
                                RelayError::UpstreamIo
                                | RelayError::UpstreamClosed
                                | RelayError::UpstreamTimeout,
                            ) => stopped_sending = true,
                            // A framing error mid-body aborts both connections: the origin sees a
                            // truncated request, never a second one. A client that went away or
                            // stalled ends the exchange too.
                            Err(e) => break Attempt::BodyFailed(e),
                        },
                        r = &mut recv => break Attempt::Relayed(r, sent),
                    }
                }
            }
        };
        let (result, sent) = match attempt {
            Attempt::Relayed(r, sent) => (r, sent),
            Attempt::Stale => (Ok(Response::StaleUpstream), true),
            Attempt::BodyFailed(e) => return body_failed(rt, client, e, progress).await,
        };
        match result {
            Ok(Response::StaleUpstream) => {
                // The kept connection had been closed by the origin; retry once on a fresh one to
                // the same checked address.
                match tokio::time::timeout(
                    rt.config.proxy.upstream_connect_timeout,
                    tokio::net::TcpStream::connect(upstream.addr),
                )
                .await
                {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        upstream.stream = s;
                        upstream.buf.clear();
                        upstream.reused = false;
                        reused = false;
                        continue;
                    }
                    _ => return gateway_error(rt, client, RelayError::UpstreamIo, progress).await,
                }
            }
            Ok(Response::Complete {
                status,
                upstream_reusable,
                client_reusable,
            }) => {
                let body_done = sent;
                let keep_up = upstream_reusable && body_done;
                let next = if client_reusable && body_done {
                    Next::KeepAlive
                } else {
                    Next::Close
                };
                return Relayed {
                    status,
                    error: None,
                    next,
                    keep_upstream: keep_up.then(|| {
                        upstream.reused = true;
                        upstream
                    }),
                };
            }
            Ok(Response::Upgraded { status }) => {
                let error = super::tunnel::relay(
                    client,
                    cp.buf,
                    &mut upstream.stream,
                    &mut upstream.buf,
                    rt.config.proxy.tunnel_idle_timeout,
                    rt.config.proxy.tunnel_half_close_timeout,
                    progress,
                )
                .await;
                return Relayed {
                    status,
                    error,
                    next: Next::Close,
                    keep_upstream: None,
                };
            }
            Err(e) => {
                if e.head_sent || progress.began() {
                    return failed(e.error, e.status);
                }
                return gateway_error(rt, client, e.error, progress).await;
            }
        }
    }
}

/// One try at sending the request on an origin connection.
enum Attempt {
    /// The kept connection turned out closed before any response byte; the request may be retried.
    Stale,
    /// Relaying the request body failed; the origin connection is dropped, the request truncated.
    BodyFailed(RelayError),
    /// The response was relayed (or failed); whether the request body was sent whole.
    Relayed(Result<Response, ResponseError>, bool),
}

/// The client's side of the request body failed (malformed, or the client went away or
/// stalled): the origin connection is dropped with the request truncated. A malformed body found
/// before any response byte went to the client is answered with `400` and the reason (the client
/// learns what was wrong, as for a malformed head); once a response began, it is cut, visibly;
/// otherwise the connection just closes.
async fn body_failed(
    rt: &Runtime,
    client: &mut tokio::net::TcpStream,
    error: RelayError,
    progress: &Progress,
) -> Relayed {
    let mut status = progress.status();
    if progress.began() {
        return Relayed {
            status,
            error: Some(error.code()),
            next: Next::Abort,
            keep_upstream: None,
        };
    }
    if let RelayError::ClientFraming(code) = error {
        let outcome = super::respond::Outcome::BadRequest {
            status: 400,
            code,
            message: format!("the request body is malformed ({code}); nothing after the last good chunk was forwarded"),
        };
        if send_page(rt, client, &outcome, progress).await {
            progress.sent_head(400);
            status = 400;
        }
    }
    Relayed {
        status,
        error: Some(error.code()),
        next: Next::Close,
        keep_upstream: None,
    }
}

/// Send gatehouse's own answer (plain text, closing the connection); whether it was written.
async fn send_page(
    rt: &Runtime,
    client: &mut tokio::net::TcpStream,
    outcome: &super::respond::Outcome,
    progress: &Progress,
) -> bool {
    let settings = &rt.config.proxy;
    let bytes = super::respond::render(outcome, false, true, &settings.via, &settings.contact);
    let sent = write(client, &bytes, Side::Client, settings.idle_timeout)
        .await
        .is_ok();
    if sent {
        progress
            .head_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        progress.sent_content_type(super::respond::page_content_type(outcome, false).as_bytes());
    }
    sent
}

/// Tell the client the origin failed (nothing of the response was sent yet), then close.
async fn gateway_error(
    rt: &Runtime,
    client: &mut tokio::net::TcpStream,
    error: RelayError,
    progress: &Progress,
) -> Relayed {
    let status = match error {
        RelayError::UpstreamTimeout => 504,
        _ => 502,
    };
    let outcome = super::respond::Outcome::Upstream {
        status,
        code: error.code(),
        message: match error {
            RelayError::UpstreamTimeout => "the origin did not answer in time".to_string(),
            RelayError::UpstreamFraming(_) => "the origin sent a malformed response".to_string(),
            RelayError::UnexpectedUpgrade => {
                "the origin switched protocols although the client did not ask".to_string()
            }
            RelayError::CodingForHttp10 => {
                "the origin sent the body with a transfer coding an HTTP/1.0 client cannot receive"
                    .to_string()
            }
            _ => "the origin closed the connection or failed".to_string(),
        },
    };
    send_page(rt, client, &outcome, progress).await;
    Relayed {
        status,
        error: Some(error.code()),
        next: Next::Close,
        keep_upstream: None,
    }
}
