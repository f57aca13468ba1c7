//! Relaying the origin's response to one forwarded request, in named steps: read a response head
//! ([`read_head`]); relay a `101` that turns the exchange into a tunnel ([`relay_upgrade`]) or
//! an interim `1xx` ([`relay_interim`]); relay the final response, head then body
//! ([`relay_final`]).
//!
//! A failure before any response byte reached the client leaves room for a gateway error page; one
//! after it is reported with `head_sent`, so the caller cuts the client connection instead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::{Buf, BytesMut};
use http1::{Parsed, RequestHead, ResponseFraming, ResponseHead, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::heads::{interim_head, response_head};
use crate::codes::ErrorCode;
use crate::proxy::exchange::Progress;
use crate::proxy::flow::{write_bounded, Body, Flow, Framing, Side, SCRATCH};
use crate::state::{Gateway, Runtime};

/// How the response ended.
pub enum Response {
    Complete {
        status: u16,
        origin_reusable: bool,
        client_reusable: bool,
    },
    Upgraded {
        status: u16,
    },
    /// The kept origin connection was closed before any response byte (safe to retry once).
    StaleOrigin,
}

/// A failure, with what was sent to the client before it: a gateway error page may still be sent
/// only when nothing was.
pub struct ResponseError {
    pub error: ErrorCode,
    pub head_sent: bool,
    pub status: u16,
}

fn fail(error: ErrorCode, head_sent: bool, status: u16) -> ResponseError {
    ResponseError {
        error,
        head_sent,
        status,
    }
}

/// The request side of an exchange, as the response relay needs it.
pub struct Exchange<'a> {
    pub gw: &'a Gateway,
    pub rt: &'a Runtime,
    pub head: &'a RequestHead,
    pub wants_upgrade: bool,
    /// The origin connection was kept from an earlier request and the request may be retried.
    pub retryable: bool,
    /// The request body has not been sent whole yet.
    pub body_pending: &'a AtomicBool,
    pub progress: &'a Progress,
}

/// The two connections a response crosses: the origin's (with its read buffer) and the client's.
pub struct Legs<'a, R, W> {
    pub origin: &'a mut R,
    pub obuf: &'a mut BytesMut,
    pub client: &'a mut W,
}

/// Relay the response: interim responses, then the final one or an upgrade.
pub async fn relay_response<R, W>(
    x: &Exchange<'_>,
    legs: Legs<'_, R, W>,
) -> Result<Response, ResponseError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let sent_at = Instant::now();
    let deadline = tokio::time::Instant::now() + x.rt.config.proxy.upstream_response_timeout;
    let mut first = true;
    loop {
        let resp = match read_head(x, legs.origin, legs.obuf, deadline, first).await? {
            Some(resp) => resp,
            None => return Ok(Response::StaleOrigin),
        };
        if first {
            x.gw.metrics
                .upstream_response_seconds
                .observe(sent_at.elapsed().as_secs_f64());
            first = false;
        }
        match resp.status() {
            101 => return relay_upgrade(x, &resp, legs.client).await,
            100..=199 => relay_interim(x, &resp, legs.client).await?,
            _ => return relay_final(x, &resp, legs).await,
        }
    }
}

/// Read one response head. `None`: the kept connection turned out closed before any byte of the
/// first response, so the request may be sent again.
async fn read_head<R: AsyncRead + Unpin>(
    x: &Exchange<'_>,
    origin: &mut R,
    obuf: &mut BytesMut,
    deadline: tokio::time::Instant,
    first: bool,
) -> Result<Option<ResponseHead>, ResponseError> {
    let limits = &x.rt.config.proxy.limits;
    loop {
        if !obuf.is_empty() {
            match http1::parse_response_head(obuf, limits) {
                Ok(Parsed::Complete { head, len }) => {
                    obuf.advance(len);
                    return Ok(Some(head));
                }
                Ok(Parsed::Partial) => {}
                Err(e) => return Err(fail(ErrorCode::OriginFraming(e.code()), false, 0)),
            }
        }
        if obuf.capacity() - obuf.len() < 1024 {
            obuf.reserve(8 * 1024);
        }
        let stale = first && obuf.is_empty() && x.retryable;
        match tokio::time::timeout_at(deadline, origin.read_buf(obuf)).await {
            Ok(Ok(0)) | Ok(Err(_)) if stale => return Ok(None),
            Ok(Ok(0)) => return Err(fail(ErrorCode::UpstreamClosed, false, 0)),
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Err(fail(ErrorCode::UpstreamIo, false, 0)),
            Err(_) => return Err(fail(ErrorCode::UpstreamTimeout, false, 0)),
        }
    }
}

/// Write a head gatehouse built to the client, counting it.
async fn write_head<W: AsyncWrite + Unpin>(
    x: &Exchange<'_>,
    client: &mut W,
    bytes: &[u8],
    status: u16,
) -> Result<(), ResponseError> {
    x.progress.begin();
    write_bounded(client, bytes, Side::Client, x.rt.config.proxy.idle_timeout)
        .await
        .map_err(|e| fail(e, true, status))?;
    x.progress
        .head_bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    Ok(())
}

/// The origin agreed to switch protocols: relay its `101`; the exchange becomes a tunnel.
async fn relay_upgrade<W: AsyncWrite + Unpin>(
    x: &Exchange<'_>,
    resp: &ResponseHead,
    client: &mut W,
) -> Result<Response, ResponseError> {
    if !x.wants_upgrade {
        return Err(fail(ErrorCode::UnexpectedUpgrade, false, 0));
    }
    let bytes = response_head(x.rt, resp, ResponseFraming::None, false, false, true);
    write_head(x, client, &bytes, 101).await?;
    x.progress.sent_head(101);
    Ok(Response::Upgraded { status: 101 })
}

/// Interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients only.
async fn relay_interim<W: AsyncWrite + Unpin>(
    x: &Exchange<'_>,
    resp: &ResponseHead,
    client: &mut W,
) -> Result<(), ResponseError> {
    if x.head.version() == Version::Http10 {
        return Ok(());
    }
    write_head(x, client, &interim_head(x.rt, resp), 0).await
}

/// Relay the final response: its head (with the first body bytes when they fit), then its body.
async fn relay_final<R, W>(
    x: &Exchange<'_>,
    resp: &ResponseHead,
    legs: Legs<'_, R, W>,
) -> Result<Response, ResponseError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Legs {
        origin,
        obuf,
        client,
    } = legs;
    let status = resp.status();
    let client_http10 = x.head.version() == Version::Http10;
    let framing = resp.framing(x.head.is_head(), false);
    let relayed_as = match framing {
        ResponseFraming::None => None,
        ResponseFraming::ContentLength(n) => Some(Framing::Length(n)),
        ResponseFraming::Chunked => Some(Framing::Chunked {
            reencode: !client_http10,
        }),
        ResponseFraming::UntilClose => Some(Framing::UntilClose),
    };
    if client_http10
        && matches!(
            relayed_as,
            Some(Framing::Chunked { .. } | Framing::UntilClose)
        )
        && resp.has_coding_besides_chunked()
    {
        // RFC 9112 §6.1: Transfer-Encoding is not for an HTTP/1.0 recipient, and without it the
        // coded bytes would reach the client as if they were the representation.
        return Err(fail(ErrorCode::TransferCodingForHttp10, false, 0));
    }
    let close_client = must_close_client(x, framing);
    let mut bytes = response_head(x.rt, resp, framing, !client_http10, close_client, false);
    if client_http10 && !close_client {
        // An HTTP/1.0 client keeps the connection only when the response says so.
        let end = bytes.len() - 2;
        bytes.splice(end..end, b"Connection: keep-alive\r\n".iter().copied());
    }
    let head_len = bytes.len() as u64;
    // The body bytes that arrived with the head go out with it: one write for a small response.
    let mut early = 0u64;
    if let ResponseFraming::ContentLength(n) = framing {
        let k = (obuf.len() as u64).min(n).min(SCRATCH as u64) as usize;
        bytes.extend_from_slice(&obuf[..k]);
        obuf.advance(k);
        early = k as u64;
    }
    let idle = x.rt.config.proxy.idle_timeout;
    let down = Flow::new(Side::Client, Some(idle), &x.progress.bytes_down);
    x.progress.begin();
    down.send(client, &bytes, early)
        .await
        .map_err(|e| fail(e, true, status))?;
    x.progress.sent_head(status);
    if let Some(value) = resp.header("content-type") {
        x.progress.sent_content_type(value);
    }
    x.progress.head_bytes.fetch_add(head_len, Ordering::Relaxed);
    if let Some(relayed_as) = relayed_as {
        let rest = match relayed_as {
            Framing::Length(n) => Framing::Length(n - early),
            other => other,
        };
        let body = Body {
            src: origin,
            from: Side::Origin,
            buf: obuf,
            dst: client,
            flow: &down,
            idle,
        };
        body.relay(rest).await.map_err(|e| fail(e, true, status))?;
    }
    Ok(Response::Complete {
        status,
        // A response with both Transfer-Encoding and Content-Length was framed by the former
        // (RFC 9112 §6.3 item 3), but an origin that sends it is not trusted with a next
        // request on the same connection.
        origin_reusable: resp.keep_alive()
            && !matches!(framing, ResponseFraming::UntilClose)
            && !resp.content_length_overridden()
            && obuf.is_empty(),
        client_reusable: !close_client,
    })
}

/// The client connection stays open only for a client that wants it (HTTP/1.0: only with
/// `Connection: keep-alive`), a body whose end the client can see without the close (never
/// chunked for HTTP/1.0), and a request body already sent whole: when the origin answers before
/// it has read the body, the rest of the body cannot be told from a next request, so the answer
/// says `Connection: close`.
fn must_close_client(x: &Exchange<'_>, framing: ResponseFraming) -> bool {
    let client_http10 = x.head.version() == Version::Http10;
    !x.head.keep_alive()
        || matches!(framing, ResponseFraming::UntilClose)
        || (client_http10 && matches!(framing, ResponseFraming::Chunked))
        || x.body_pending.load(Ordering::Relaxed)
}
