//! The data plane: accept client connections, run each request through the decision pipeline, and
//! forward, tunnel or refuse it.
//!
//! The pipeline is legible in one place, [`pipeline`]:
//!
//! ```text
//! read head (strict, http1) → destination (canonical, once: target) → authenticate → decide
//!   → reserve audit slot → resolve + check every address (origin) → connect → forward | tunnel
//!   → record (ending)
//! ```
//!
//! Each phase returns `Result<next, Outcome>`; an [`Outcome`] is answered by one function
//! ([`respond::send`]) and every request, whatever path it took out, is recorded by one function
//! ([`ending::Record::finish`]).
//!
//! The modules, and where a new thing goes:
//! - `target`: understanding the request target; `decide`: the decision's inputs and its refusal
//!   (a new input of the decision goes there); `origin`: resolving, checking and connecting;
//! - `forward` and `tunnel`: relaying; `flow`: the one path relayed bytes take in each direction
//!   (a new obligation that shapes or filters bytes wraps `flow::Flow`);
//! - `respond`: every page gatehouse answers with (a new page goes there); `ending`: the audit
//!   event and metrics of a request (a new event field is filled there);
//! - `exchange`: the types the others share. `exchange` and `flow` are leaves: no module
//!   imports from a module that imports it.
//!
//! INVARIANTS:
//! - nothing connects to an address that `policy::check_address` did not allow for this request;
//! - the authority of the request target is the one decided on and the one connected to; a `Host`
//!   header that disagrees is refused, never used;
//! - no byte reaches an origin before the whole request head passed the strict parser and the
//!   decision allowed it;
//! - every request produces exactly one audit event, written at the end of [`handle_request`],
//!   also when the shutdown grace period cuts it short: the pipeline is raced against the stop
//!   signal, and what it relayed so far is read from its `Progress`.

mod decide;
mod ending;
mod exchange;
mod flow;
pub mod forward;
mod origin;
pub mod respond;
mod revoke;
mod seat;
mod target;
pub mod tunnel;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use http1::{Parsed, RequestFraming, RequestHead};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::audit::{EventContext, Stage};
use crate::codes::ErrorCode;
use crate::facts::PlaceFacts;
use crate::identity::{AuthMemo, Principal};
use crate::state::{Gateway, InFlight, Runtime};
use ending::{AllowedBy, End, Record};
use exchange::{ConnParts, Next, OriginConn, Target};
use respond::{Outcome, Reply, Style};

/// Per-client-connection state.
struct Conn {
    peer: SocketAddr,
    buf: BytesMut,
    /// The last `Proxy-Authorization` value and the principal it proved on this connection.
    auth_memo: AuthMemo,
    /// The origin connection kept from the last request.
    origin: Option<OriginConn>,
    /// The client may still be sending when the connection closes: the last request's declared
    /// body was not read whole, or it was a tunnel (or upgrade) that ended while the client's
    /// side was open.
    client_may_send: bool,
    /// What the last request on this connection was allowed as: while the connection waits for
    /// its next request, a change that refuses it closes the connection.
    last_allowed: Option<revoke::AllowedOwned>,
}

/// Serve one client connection until it closes, times out, or the gateway drains.
pub async fn serve_connection(gw: Arc<Gateway>, mut client: TcpStream, peer: SocketAddr) {
    let _ = client.set_nodelay(true);
    let mut conn = Conn {
        peer,
        // Allocated when the first bytes arrive (`read_more`).
        buf: BytesMut::new(),
        auth_memo: None,
        origin: None,
        client_may_send: false,
        last_allowed: None,
    };
    let mut draining = gw.draining.clone();
    let mut stop = gw.stop.clone();
    loop {
        let head = {
            let reading = gw.runtime.load();
            let read = read_head(
                &reading,
                &mut client,
                &mut conn.buf,
                &mut draining,
                &mut stop,
            );
            // A kept-alive connection whose last request a reload or a session's end now refuses
            // is closed rather than kept for a next request.
            tokio::select! {
                h = read => h,
                rule = revoke::until_refused(&gw, conn.last_allowed.as_ref()) => {
                    tracing::debug!(%peer, %rule, "a kept-alive connection is refused now; closing it");
                    HeadRead::Closed
                }
            }
        };
        // The configuration in force when the head is complete decides, not the one from before
        // an idle wait (a reload applies to the next request on a kept connection).
        let rt = gw.runtime.load_full();
        let head = match head {
            HeadRead::Head(h) => h,
            HeadRead::Closed => return,
            HeadRead::Malformed(outcome) => {
                Box::pin(refuse_unparsed(
                    &gw,
                    &rt,
                    &mut client,
                    peer,
                    outcome,
                    &mut stop,
                ))
                .await;
                return;
            }
        };
        // Boxed: the request's future is large, and kept inline it would make every task, idle
        // ones included, that large for the connection's whole life.
        let next = Box::pin(handle_request(
            &gw,
            &rt,
            &mut conn,
            &mut client,
            head,
            &mut stop,
        ))
        .await;
        if next == Next::Abort {
            reset(&client);
            return;
        }
        if next == Next::Close || *draining.borrow() {
            unless_stopped(&mut stop, close_client(&mut client, conn.client_may_send)).await;
            return;
        }
        if conn.buf.is_empty() {
            // A kept-alive connection waiting for its next request holds no read buffer either.
            conn.buf = BytesMut::new();
        }
    }
}

/// Answer a head that did not parse (plain text), close, and record it.
async fn refuse_unparsed(
    gw: &Gateway,
    rt: &Runtime,
    client: &mut TcpStream,
    peer: SocketAddr,
    outcome: Outcome,
    stop: &mut watch::Receiver<bool>,
) {
    let rec = Record::unparsed(gw.clock.now());
    let style = style(rt, false, true);
    let reply = Reply::Outcome {
        outcome: &outcome,
        allowed_by: None,
    };
    let idle = rt.config.proxy.idle_timeout;
    unless_stopped(stop, async {
        respond::send(client, &reply, &style, idle, &rec.progress).await;
        close_client(client, false).await;
    })
    .await;
    rec.finish(gw, peer, End::Answered(outcome)).await;
}

/// How gatehouse's own pages look under `rt`.
fn style(rt: &Runtime, html: bool, close: bool) -> Style<'_> {
    Style {
        html,
        close,
        via: &rt.config.proxy.via,
        contact: &rt.config.proxy.contact,
        portal: None,
    }
}

enum HeadRead {
    Head(RequestHead),
    Closed,
    Malformed(Outcome),
}

/// Read one request head. Between requests the idle timeout applies; once the first byte of a head
/// arrived, the whole head must arrive within the header-read timeout (slow-header clients are dropped).
/// A head still incomplete when the grace period ends is not a request yet: the connection closes
/// without an event.
async fn read_head(
    rt: &Runtime,
    client: &mut TcpStream,
    buf: &mut BytesMut,
    draining: &mut watch::Receiver<bool>,
    stop: &mut watch::Receiver<bool>,
) -> HeadRead {
    let settings = &rt.config.proxy;
    let mut deadline = if buf.is_empty() {
        None
    } else {
        Some(tokio::time::Instant::now() + settings.header_read_timeout)
    };
    loop {
        if !buf.is_empty() {
            match http1::parse_request_head(buf, &settings.limits) {
                Ok(Parsed::Complete { head, len }) => {
                    let _ = buf.split_to(len);
                    return HeadRead::Head(head);
                }
                Ok(Parsed::Partial) => {}
                Err(e) => {
                    return HeadRead::Malformed(Outcome::Failed {
                        status: e.status(),
                        code: ErrorCode::Malformed(e.code()),
                        message: e.to_string(),
                    })
                }
            }
        }
        let was_empty = buf.is_empty();
        let read = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, read_more(client, buf)).await,
                None => tokio::time::timeout(settings.idle_timeout, read_more(client, buf)).await,
            }
        };
        let n = tokio::select! {
            r = read => r,
            _ = draining.changed(), if was_empty => return HeadRead::Closed,
            _ = stop.wait_for(|s| *s) => return HeadRead::Closed,
        };
        match n {
            Ok(Ok(0)) | Ok(Err(_)) => return HeadRead::Closed,
            Ok(Ok(_)) => {
                if deadline.is_none() {
                    deadline = Some(tokio::time::Instant::now() + settings.header_read_timeout);
                }
            }
            Err(_elapsed) if was_empty => return HeadRead::Closed,
            Err(_elapsed) => {
                return HeadRead::Malformed(Outcome::Failed {
                    status: 408,
                    code: ErrorCode::HeaderReadTimeout,
                    message: "the request head did not arrive in time".into(),
                })
            }
        }
    }
}

/// Read what the client sent next into `buf`; 0 when it closed. An idle connection holds no read
/// buffer: `buf` gets its capacity only once the socket is readable, so that thousands of idle
/// connections cost their sockets and small tasks, not 8 KiB each.
async fn read_more(client: &mut TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    if buf.is_empty() && buf.capacity() == 0 {
        client.readable().await?;
    }
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_BUF);
    }
    client.read_buf(buf).await
}

/// Run `work` unless the shutdown grace period ends first (then `None`; `work` is dropped).
async fn unless_stopped<F: Future>(stop: &mut watch::Receiver<bool>, work: F) -> Option<F::Output> {
    tokio::select! {
        r = work => Some(r),
        _ = stop.wait_for(|s| *s) => None,
    }
}

/// Run one request through the pipeline, answer it if it ended in an outcome, and record it.
/// Returns what becomes of the client connection.
async fn handle_request(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    conn: &mut Conn,
    client: &mut TcpStream,
    head: RequestHead,
    stop: &mut watch::Receiver<bool>,
) -> Next {
    // Declared first, dropped last: the request counts as in flight until its event is queued.
    let _in_flight = InFlight::enter(&gw.in_flight);
    let mut rec = Record::new(
        head.method(),
        target::redact_target(head.target()),
        gw.clock.now(),
    );
    let result = unless_stopped(stop, pipeline(gw, rt, conn, client, &head, &mut rec)).await;
    let (end, next) = match result {
        Some(Ok(done)) => done,
        // The grace period is over: the request ends where it is, recorded as far as it got.
        None => (End::CutShort, Next::Close),
        Some(Err(outcome)) => answer(gw, rt, client, &head, &rec, outcome, stop).await,
    };
    let tunnelled = match rec.progress.status() {
        200 => head.is_connect(),
        101 => true,
        _ => false,
    };
    let has_body = !matches!(head.framing(), RequestFraming::None);
    conn.client_may_send = (has_body && !rec.progress.body_read()) || tunnelled;
    rec.finish(gw, conn.peer, end).await;
    next
}

/// Answer an outcome with gatehouse's own page. Its answers keep a connection only for a request
/// without a body that asked for keep-alive, and never an HTTP/1.0 connection: they do not carry
/// the `Connection: keep-alive` such a client needs to keep it.
async fn answer(
    gw: &Gateway,
    rt: &Runtime,
    client: &mut TcpStream,
    head: &RequestHead,
    rec: &Record,
    outcome: Outcome,
    stop: &mut watch::Receiver<bool>,
) -> (End, Next) {
    let close = !matches!(head.framing(), RequestFraming::None)
        || head.is_connect()
        || !head.keep_alive()
        || head.version() == http1::Version::Http10;
    let html = respond::wants_html(head.header("accept"));
    let reply = Reply::Outcome {
        outcome: &outcome,
        allowed_by: rec.allowed_rule(),
    };
    let idle = rt.config.proxy.idle_timeout;
    let style = Style {
        portal: gw.portal_url.get().map(String::as_str),
        ..style(rt, html, close)
    };
    unless_stopped(
        stop,
        respond::send(client, &reply, &style, idle, &rec.progress),
    )
    .await;
    let next = if close { Next::Close } else { Next::KeepAlive };
    (End::Answered(outcome), next)
}

/// The phases, in order. Each either continues with its output or ends the request with an
/// [`Outcome`]; `rec` follows the request for its audit event.
async fn pipeline(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    conn: &mut Conn,
    client: &mut TcpStream,
    head: &RequestHead,
    rec: &mut Record,
) -> Result<(End, Next), Outcome> {
    // 1. Destination: canonical, once, before any decision.
    let target = target::target_of(head)?;
    rec.destination = target.destination();
    rec.url = target.uri.as_ref().map(|u| u.to_string());
    // A chunked body already broken in what arrived with the head is refused like a bad head.
    target::check_early_body(head, &conn.buf)?;

    // 2. Who is asking.
    rec.stage = Stage::Authenticate;
    let principal = gw
        .identity
        .authenticate(
            head.header("proxy-authorization"),
            conn.peer.ip(),
            &mut conn.auth_memo,
        )
        .await
        .map_err(|failure| {
            rec.tried_principal = failure.tried_name().map(crate::audit::printable_name);
            Outcome::from(failure)
        })?;
    rec.principal = Some(principal.name.clone());

    // 3. Where and when: the terminal and location of the client's address, at the gateway's clock.
    rec.stage = Stage::Decide;
    let now = rec.at;
    let place = PlaceFacts::at_cached(&rt.config.places, &rt.minutes, conn.peer.ip(), now);
    rec.context = event_context(rt, &principal, &place);
    // From the decision on, a change (a reload, sessions ending) reaches this request's relay.
    let changes = gw.changes.subscribe();

    // 4. Decide, on inputs gathered once: the address check later takes the same ones, under the
    // tier that decided. The session the principal holds at this terminal is a fact of the decision.
    let held = held_session(gw, rt, &principal, &place, now)?;
    let grants = gw.grants.set(&rt.config.lists);
    let at = (&*grants, now.as_microsecond());
    let mut inputs = decide::inputs(rt, &principal, &target, head.method(), &place, held, at);
    let (allowed, tier, grant) = decided(gw, rt, &principal, &inputs, &target, (&place, now))?;
    inputs.tier = tier;
    // The grant that allowed the request travels with its event (and its purpose with it).
    rec.context.grant_id = grant;

    // 5. Room in the audit trail before anything is forwarded.
    rec.slot = Some(reserve_slot(gw).await?);
    rec.allowed = Some(allowed);

    // 6. Resolve and check every address, then connect (or reuse the kept origin connection).
    rec.stage = Stage::Resolve;
    if target.max_forwards == Some(0) {
        // Max-Forwards: 0 makes gatehouse the last hop of an OPTIONS or TRACE: it answers itself.
        // The address check still runs, so that the answer is never a 200 where a forward would
        // have been refused; nothing connects.
        origin::checked_addresses(rt, &principal, &inputs, &target).await?;
        rec.stage = Stage::Answered;
        return Ok(answer_last_hop(rt, client, head, rec).await);
    }
    let origin = reach(gw, rt, conn, (&principal, &inputs), &target, rec).await?;

    // 7. A seat, taken only when everything before the relay succeeded: a request refused or
    // failed on the way never holds one. A seat refusal is recorded as the refusal it is.
    let seated = seat::take(gw, rt, (&principal, held), &place, &rec.destination, now)
        .await
        .inspect_err(|_| rec.allowed = None)?;
    rec.context.session_id = seated;

    // 8. Forward or tunnel, for as long as the decision holds.
    rec.stage = Stage::Forward;
    rec.origin = Some(origin.addr);
    let step = Relay {
        head,
        target: &target,
        principal: &principal,
        changes,
    };
    let relayed = relay(gw, rt, conn, client, step, rec, origin).await;
    if relayed.error.is_none() {
        rec.stage = Stage::Done;
    }
    if let Some(o) = relayed.keep_origin {
        conn.origin = Some(o);
    }
    conn.last_allowed = Some(revoke::AllowedOwned::of(
        &principal, conn.peer, target, head, rec,
    ));
    let end = End::Relayed {
        status: relayed.status,
        error: relayed.error,
    };
    Ok((end, relayed.next))
}

/// Room for the request's audit event, or `503 audit_backlog`.
async fn reserve_slot(gw: &Gateway) -> Result<crate::audit::Slot, Outcome> {
    gw.audit.reserve().await.map_err(|_| Outcome::Failed {
        status: 503,
        code: ErrorCode::AuditBacklog,
        message: "the gateway cannot record requests fast enough right now".into(),
    })
}

/// What step 8 relays.
struct Relay<'a> {
    head: &'a RequestHead,
    target: &'a Target,
    principal: &'a Principal,
    /// Subscribed when the request was decided.
    changes: tokio::sync::watch::Receiver<crate::state::Changes>,
}

/// Step 8: forward or tunnel while the decision holds (`revoke::while_allowed`); a relay closed
/// because its decision no longer holds records the rule that refuses it now.
async fn relay(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    conn: &mut Conn,
    client: &mut TcpStream,
    step: Relay<'_>,
    rec: &mut Record,
    origin: OriginConn,
) -> exchange::Relayed {
    let Relay {
        head,
        target,
        principal,
        changes,
    } = step;
    let allowed = revoke::Allowed {
        principal: &principal.name,
        client: conn.peer.ip(),
        target,
        method: head.method(),
        session: rec.context.session_id,
    };
    let watch = (changes, &rec.progress);
    let (relayed, revoked_by) = if target.connect {
        let tunnel = tunnel::connect_tunnel(rt, client, &mut conn.buf, origin, &rec.progress);
        revoke::while_allowed(gw, allowed, watch, tunnel).await
    } else {
        let request = forward::Request {
            gw,
            rt,
            head,
            target,
            rule: rec.allowed_rule().unwrap_or_default(),
            progress: &rec.progress,
        };
        let parts = ConnParts {
            peer: conn.peer,
            buf: &mut conn.buf,
        };
        let forward = forward::forward(&request, parts, client, origin);
        revoke::while_allowed(gw, allowed, watch, forward).await
    };
    rec.context.revoked_by = revoked_by;
    relayed
}

/// What the audit event records of the facts the decision is made on.
fn event_context(rt: &Runtime, principal: &Principal, place: &PlaceFacts) -> EventContext {
    EventContext {
        terminal: place.terminal.clone(),
        location: place.location.clone(),
        session_id: None,
        groups: Some(principal.groups_joined.clone()),
        tier: Some(principal.tier.as_str()),
        role: Some(principal.role.as_str()),
        policy_version: Some(rt.config.version.clone()),
        revoked_by: None,
        grant_id: None,
    }
}

/// The session `principal` holds at the terminal of `place`, if any. A terminal whose location
/// the configuration does not have is refused (it cannot happen: both come from one configuration).
fn held_session(
    gw: &Gateway,
    rt: &Runtime,
    principal: &Principal,
    place: &PlaceFacts,
    now: jiff::Timestamp,
) -> Result<Option<policy::SessionFacts>, Outcome> {
    let Some(terminal) = place.terminal.as_deref() else {
        return Ok(None);
    };
    let location = place
        .location_id
        .and_then(|id| rt.config.places.location(id))
        .ok_or_else(seat::undecidable)?;
    let at = (terminal, location.name.as_ref());
    Ok(gw
        .seats
        .held(at, &principal.name, location.idle_timeout, now))
}

/// Ask the policy, timing the decision; the allowing rule, the tier the address check applies and
/// the grant that allowed (a grant waiting for its first use starts now), or the refusal.
fn decided(
    gw: &Gateway,
    rt: &Runtime,
    principal: &Principal,
    inputs: &policy::Inputs<'_>,
    target: &Target,
    at: (&PlaceFacts, jiff::Timestamp),
) -> Result<(AllowedBy, policy::Tier, Option<i64>), Outcome> {
    let started = Instant::now();
    let decision = policy::decide(&rt.policy, inputs);
    gw.metrics
        .decision_seconds
        .observe(started.elapsed().as_secs_f64());
    if !decision.is_allow() {
        return Err(decide::refusal_at(rt, &decision, principal, target, at));
    }
    decide::obligations(&decision)?;
    if let (Some(id), Some(set)) = (decision.grant(), inputs.grants) {
        gw.grants.used(set, id, inputs.now_us);
    }
    let allowed = AllowedBy {
        id: decision.rule.id(&rt.config.lists),
        static_id: decision.rule.static_id(),
    };
    let tier = decision.address_tier(&rt.policy, inputs);
    Ok((allowed, tier, decision.grant()))
}

/// An origin connection for the request: the kept one when it still fits, or a new one to a
/// checked address.
async fn reach(
    gw: &Gateway,
    rt: &Runtime,
    conn: &mut Conn,
    (principal, inputs): (&Principal, &policy::Inputs<'_>),
    target: &Target,
    rec: &mut Record,
) -> Result<OriginConn, Outcome> {
    let started = Instant::now();
    let origin = match origin::take_reusable(rt, &mut conn.origin, inputs, target) {
        Some(o) => o,
        None => {
            let addrs = origin::checked_addresses(rt, principal, inputs, target).await?;
            rec.stage = Stage::Connect;
            origin::connect(rt, &target.authority, &addrs).await?
        }
    };
    gw.metrics
        .upstream_connect_seconds
        .observe(started.elapsed().as_secs_f64());
    Ok(origin)
}

/// Answer an OPTIONS or TRACE whose Max-Forwards reached 0 (RFC 9110 §7.6.2, §9.3.7, §9.3.8):
/// 200 with `Allow`, or the received head echoed as `message/http` without its credentials.
/// A body is never read, so a request with one closes the connection.
async fn answer_last_hop(
    rt: &Runtime,
    client: &mut TcpStream,
    head: &RequestHead,
    rec: &Record,
) -> (End, Next) {
    let close = !matches!(head.framing(), RequestFraming::None)
        || !head.keep_alive()
        || head.version() == http1::Version::Http10;
    let answer = if head.method() == "TRACE" {
        respond::Answer::Trace(head)
    } else {
        respond::Answer::Options
    };
    let reply = Reply::Answer {
        answer,
        rule: rec.allowed_rule().unwrap_or_default(),
    };
    let idle = rt.config.proxy.idle_timeout;
    let sent = respond::send(
        client,
        &reply,
        &style(rt, false, close),
        idle,
        &rec.progress,
    )
    .await;
    let error = (!sent).then_some(ErrorCode::ClientIo);
    let next = if close || !sent {
        Next::Close
    } else {
        Next::KeepAlive
    };
    (End::Relayed { status: 200, error }, next)
}

/// Make the close of `client` a reset (RST), so that a client reading until the close sees an
/// error, not the end of a complete response.
#[expect(
    deprecated,
    reason = "tokio deprecates SO_LINGER because a non-zero linger blocks the thread on drop; a zero linger does not block, it resets"
)]
fn reset(client: &TcpStream) {
    let _ = client.set_linger(Some(Duration::ZERO));
}

/// What a client connection's read buffer grows by (a typical request head fits).
const READ_BUF: usize = 8 * 1024;

/// The longest a closing connection keeps reading what the client still sends.
const LINGER_MAX: Duration = Duration::from_secs(2);
/// A lingering close ends once the client has sent nothing for this long.
const LINGER_IDLE: Duration = Duration::from_millis(200);
/// The longest a close lingers for bytes nothing announced (the request was read whole): enough
/// to drain pipelined requests behind a close, not enough for a client that keeps writing to hold
/// the connection's slot.
const LINGER_UNANNOUNCED: Duration = Duration::from_millis(500);

/// Close the client connection after the last response. If the client is still sending (a
/// refused upload, a body the origin did not wait for, pipelined requests behind a close),
/// closing at once makes the kernel answer with a reset that can destroy the response before
/// the client has read it; so, as nginx's lingering close does, what still arrives is read and
/// discarded until the client pauses or [`LINGER_MAX`] passes. When the client may still be
/// sending although nothing is pending yet (`client_may_send`: a declared body not read whole,
/// refused before it began or over a slow link; a tunnel that ended while the client's side was
/// open), the close waits up to [`LINGER_IDLE`] for it; otherwise, with nothing pending, the
/// connection closes at once, and bytes nothing announced are drained for at most
/// [`LINGER_UNANNOUNCED`]. Every read is awaited, so a client that keeps sending neither holds
/// a worker thread nor keeps a stopping gateway waiting.
async fn close_client(client: &mut TcpStream, client_may_send: bool) {
    let _ = client.shutdown().await;
    let max = if client_may_send {
        LINGER_MAX
    } else {
        LINGER_UNANNOUNCED
    };
    let deadline = tokio::time::Instant::now() + max;
    // On the heap, and only now: an array here would be part of every connection's task, idle
    // ones included, for the connection's whole life.
    let mut scratch = vec![0u8; 16 * 1024];
    let mut lingering = client_may_send;
    loop {
        match client.try_read(&mut scratch) {
            Ok(0) => return,
            Ok(_) => {
                lingering = true;
                // Let other tasks (and a stop signal) in between reads.
                tokio::task::yield_now().await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if !lingering {
                    return;
                }
                let idle = (tokio::time::Instant::now() + LINGER_IDLE).min(deadline);
                match tokio::time::timeout_at(idle, client.readable()).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
            Err(_) => return,
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
    }
}
