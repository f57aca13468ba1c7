//! Forwarding one plain-HTTP exchange: our own re-serialised request head, the request body streamed
//! in constant memory with normalised framing, the response relayed as it arrives.
//!
//! The request body and the response run concurrently (an origin may answer before it has read the
//! body, and `Expect: 100-continue` needs the interim response relayed while the body waits). A
//! framing error found mid-body aborts both connections: the origin sees a truncated request, never a
//! second one, and the client a 400 if no response had begun. A failure after the response head
//! reached the client resets the client connection ([`Next::Abort`]), so that the cut is visible.
//! Every read and write is bounded by the idle timeout. Body bytes go through the request's
//! [`Flow`]s, which count them in its [`Progress`] as they are written, so an exchange cut short
//! (an error, or shutdown) is recorded with what it relayed.
//!
//! - [`heads`]: the heads gatehouse writes (request to the origin, responses to the client);
//! - [`response`]: relaying the response, step by step;
//! - this module: the exchange itself, its one retry, and the pages it answers with on failure.

mod heads;
mod response;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http1::{RequestFraming, RequestHead};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::codes::ErrorCode;
use crate::proxy::exchange::{ConnParts, Next, OriginConn, Progress, Relayed, Target};
use crate::proxy::flow::{Body, Flow, Framing, Side};
use crate::proxy::respond::{self, Outcome, Reply, Style};
use crate::state::{Gateway, Runtime};
use response::{relay_response, Exchange, Legs, Response, ResponseError};

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

/// What one forwarded request needs besides the connections.
pub struct Request<'a> {
    pub gw: &'a Arc<Gateway>,
    pub rt: &'a Arc<Runtime>,
    pub head: &'a RequestHead,
    pub target: &'a Target,
    /// The rule that allowed the request, reported on a gateway error page.
    pub rule: &'a str,
    pub progress: &'a Progress,
}

/// One try at sending the request on an origin connection.
enum Attempt {
    /// The kept connection turned out closed before any response byte; the request may be retried.
    Stale,
    /// Relaying the request body failed; the origin connection is dropped, the request truncated.
    BodyFailed(ErrorCode),
    /// The response was relayed (or failed); whether the request body was sent whole.
    Relayed(Result<Response, ResponseError>, bool),
}

/// Forward one plain-HTTP request to `origin` and relay the response.
pub async fn forward(
    req: &Request<'_>,
    cp: ConnParts<'_>,
    client: &mut TcpStream,
    mut origin: OriginConn,
) -> Relayed {
    let upgrade = heads::requested_upgrade(req.head);
    let head_bytes = heads::request_head(req.rt, req.head, req.target, cp.peer, upgrade.as_deref());
    let retryable_method = may_retry(req.head);
    loop {
        let retryable = origin.reused && retryable_method;
        let attempt = if origin.stream.write_all(&head_bytes).await.is_err() {
            if !retryable {
                return gateway_error(req, client, ErrorCode::UpstreamIo).await;
            }
            Attempt::Stale
        } else {
            attempt(
                req,
                cp.buf,
                client,
                &mut origin,
                upgrade.is_some(),
                retryable,
            )
            .await
        };
        let (result, sent) = match attempt {
            Attempt::Relayed(r, sent) => (r, sent),
            Attempt::Stale => (Ok(Response::StaleOrigin), true),
            Attempt::BodyFailed(e) => return body_failed(req, client, e).await,
        };
        match result {
            // The kept connection had been closed by the origin; retry once on a fresh one to
            // the same checked address.
            Ok(Response::StaleOrigin) => match reconnect(req.rt, &origin).await {
                Some(stream) => {
                    origin.stream = stream;
                    origin.buf.clear();
                    origin.reused = false;
                }
                None => return gateway_error(req, client, ErrorCode::UpstreamIo).await,
            },
            Ok(Response::Complete {
                status,
                origin_reusable,
                client_reusable,
            }) => {
                let next = if client_reusable && sent {
                    Next::KeepAlive
                } else {
                    Next::Close
                };
                return Relayed {
                    status,
                    error: None,
                    next,
                    keep_origin: (origin_reusable && sent).then(|| {
                        origin.reused = true;
                        origin
                    }),
                };
            }
            Ok(Response::Upgraded { status }) => {
                let proxy = &req.rt.config.proxy;
                let error = crate::proxy::tunnel::relay(
                    client,
                    cp.buf,
                    &mut origin.stream,
                    &mut origin.buf,
                    proxy.tunnel_idle_timeout,
                    proxy.tunnel_half_close_timeout,
                    req.progress,
                )
                .await;
                return Relayed::closed(status, error);
            }
            // A failure after the response head reached the client: the response is
            // incomplete, and the client must be able to tell, also where the body would have
            // ended with the connection (no length, or de-chunked for HTTP/1.0): the connection
            // is reset, not closed.
            Err(e) if e.head_sent || req.progress.began() => {
                return Relayed {
                    status: e.status,
                    error: Some(e.error),
                    next: Next::Abort,
                    keep_origin: None,
                }
            }
            Err(e) => return gateway_error(req, client, e.error).await,
        }
    }
}

/// Send the request body (if any) while relaying the response; the head was sent already.
async fn attempt(
    req: &Request<'_>,
    client_buf: &mut bytes::BytesMut,
    client: &mut TcpStream,
    origin: &mut OriginConn,
    wants_upgrade: bool,
    retryable: bool,
) -> Attempt {
    let framing = req.head.framing();
    let idle = req.rt.config.proxy.idle_timeout;
    let (mut cr, mut cw) = client.split();
    let (mut or, mut ow) = origin.stream.split();
    let body_pending = AtomicBool::new(!matches!(framing, RequestFraming::None));
    let send = async {
        let up = Flow::new(Side::Origin, Some(idle), &req.progress.bytes_up);
        let framing = match framing {
            RequestFraming::None => None,
            RequestFraming::ContentLength(n) => Some(Framing::Length(n)),
            RequestFraming::Chunked => Some(Framing::Chunked { reencode: true }),
        };
        let sent = match framing {
            None => Ok(()),
            Some(f) => {
                let body = Body {
                    src: &mut cr,
                    from: Side::Client,
                    buf: client_buf,
                    dst: &mut ow,
                    flow: &up,
                    idle,
                };
                body.relay(f).await
            }
        };
        if sent.is_ok() {
            body_pending.store(false, Ordering::Relaxed);
            req.progress.read_body();
        }
        sent
    };
    let exchange = Exchange {
        gw: req.gw,
        rt: req.rt,
        head: req.head,
        wants_upgrade,
        retryable,
        body_pending: &body_pending,
        progress: req.progress,
    };
    let legs = Legs {
        origin: &mut or,
        obuf: &mut origin.buf,
        client: &mut cw,
    };
    let recv = relay_response(&exchange, legs);
    tokio::pin!(send, recv);
    // A request without a body is fully sent with its head. The sender is polled first so that a
    // body finished in the same wake-up as the response is seen as finished (otherwise a fast
    // origin's response could win the race and the client connection would be closed for no
    // reason).
    let mut sent = matches!(framing, RequestFraming::None);
    // The origin stopped taking the body (closed, reset, or its window stayed shut): it may
    // still answer, or be answering already; the response decides.
    let mut stopped_sending = false;
    loop {
        tokio::select! {
            biased;
            s = &mut send, if !sent && !stopped_sending => match s {
                Ok(()) => sent = true,
                Err(ErrorCode::UpstreamIo | ErrorCode::UpstreamClosed | ErrorCode::UpstreamTimeout) => {
                    stopped_sending = true
                }
                // A framing error mid-body aborts both connections: the origin sees a truncated
                // request, never a second one. A client that went away or stalled ends the
                // exchange too.
                Err(e) => return Attempt::BodyFailed(e),
            },
            r = &mut recv => return Attempt::Relayed(r, sent),
        }
    }
}

/// A fresh connection to the kept connection's checked address.
async fn reconnect(rt: &Runtime, origin: &OriginConn) -> Option<TcpStream> {
    let connected = tokio::time::timeout(
        rt.config.proxy.upstream_connect_timeout,
        TcpStream::connect(origin.addr),
    )
    .await;
    let stream = connected.ok()?.ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

/// The client's side of the request body failed (malformed, or the client went away or
/// stalled): the origin connection is dropped with the request truncated. A malformed body found
/// before any response byte went to the client is answered with `400` and the reason (the client
/// learns what was wrong, as for a malformed head); once a response began, it is cut, visibly;
/// otherwise the connection just closes.
async fn body_failed(req: &Request<'_>, client: &mut TcpStream, error: ErrorCode) -> Relayed {
    if req.progress.began() {
        return Relayed {
            status: req.progress.status(),
            error: Some(error),
            next: Next::Abort,
            keep_origin: None,
        };
    }
    if let ErrorCode::ClientFraming(code) = error {
        let outcome = Outcome::bad_request(
            error,
            format!("the request body is malformed ({code}); nothing after the last good chunk was forwarded"),
        );
        send_page(req, client, &outcome).await;
    }
    Relayed::closed(req.progress.status(), Some(error))
}

/// Tell the client the origin failed (nothing of the response was sent yet), then close.
async fn gateway_error(req: &Request<'_>, client: &mut TcpStream, error: ErrorCode) -> Relayed {
    let status = match error {
        ErrorCode::UpstreamTimeout => 504,
        _ => 502,
    };
    let message = match error {
        ErrorCode::UpstreamTimeout => "the origin did not answer in time",
        ErrorCode::OriginFraming(_) => "the origin sent a malformed response",
        ErrorCode::UnexpectedUpgrade => {
            "the origin switched protocols although the client did not ask"
        }
        ErrorCode::TransferCodingForHttp10 => {
            "the origin sent the body with a transfer coding an HTTP/1.0 client cannot receive"
        }
        _ => "the origin closed the connection or failed",
    };
    let outcome = Outcome::Failed {
        status,
        code: error,
        message: message.to_string(),
    };
    send_page(req, client, &outcome).await;
    Relayed::closed(status, Some(error))
}

/// gatehouse's own answer to a request that was allowed (plain text, closing the connection).
async fn send_page(req: &Request<'_>, client: &mut TcpStream, outcome: &Outcome) {
    let proxy = &req.rt.config.proxy;
    let style = Style {
        html: false,
        close: true,
        via: &proxy.via,
        contact: &proxy.contact,
        portal: None,
    };
    let reply = Reply::Outcome {
        outcome,
        allowed_by: Some(req.rule),
    };
    respond::send(client, &reply, &style, proxy.idle_timeout, req.progress).await;
}
