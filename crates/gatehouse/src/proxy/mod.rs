//! The data plane: accept client connections, run each request through the decision pipeline, and
//! forward, tunnel or refuse it.
//!
//! The pipeline is legible in one place, [`handle_request`]:
//!
//! ```text
//! read head (strict, http1) → destination (canonical, once) → authenticate → decide (policy)
//!   → reserve audit slot → resolve + check every address → connect → forward | tunnel → record
//! ```
//!
//! Each phase returns `Result<next, Outcome>`; an [`Outcome`] is rendered by one function
//! ([`respond::render`]) and recorded as one audit event, whatever path the request took out.
//!
//! INVARIANTS:
//! - nothing connects to an address that `policy::check_address` did not allow for this request;
//! - the authority of the request target is the one decided on and the one connected to; a `Host`
//!   header that disagrees is refused, never used;
//! - no byte reaches an origin before the whole request head passed the strict parser and the
//!   decision allowed it;
//! - every request produces exactly one audit event, written at the end of [`handle_request`],
//!   also when the shutdown grace period cuts it short: the pipeline is raced against the stop
//!   signal, and what it relayed so far is read from its [`Progress`].

pub mod forward;
pub mod respond;
pub mod tunnel;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::BytesMut;
use destination::{AbsoluteUri, Authority, DestinationError, Host};
use http1::{Parsed, RequestFraming, RequestHead};
use lists::CategorySet;
use policy::{Decision, Inputs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::audit::{Audit, AuditEvent, Slot, Stage};
use crate::config::Config;
use crate::identity::{parse_basic, CredentialCache, Principal, Principals};
use crate::metrics::Metrics;
use crate::store::now_us;
use respond::Outcome;

/// The configuration in force, swapped whole on reload.
pub struct Runtime {
    pub config: Config,
    /// `config.policy` plus the gateway's own listening sockets.
    pub policy: policy::Policy,
}

/// State shared by every connection.
pub struct Gateway {
    pub runtime: ArcSwap<Runtime>,
    pub principals: ArcSwap<Principals>,
    pub credentials: CredentialCache,
    /// Runs argon2 on a fixed pool of threads: a flood of wrong passwords takes at most those
    /// threads and their fixed memory.
    pub verifier: crate::identity::Verifier,
    pub audit: Audit,
    pub metrics: Arc<Metrics>,
    /// Flips to `true` when the gateway drains for shutdown.
    pub draining: watch::Receiver<bool>,
    /// Flips to `true` when the shutdown grace period is over: requests still running end where
    /// they are, are recorded with the error `shutdown`, and close their connections.
    pub stop: watch::Receiver<bool>,
    /// Requests between their complete head and their queued audit event. Shutdown counts those
    /// it could not wait for as lost events.
    pub in_flight: AtomicUsize,
}

/// A connection to an origin kept for the next request of the same client connection.
pub struct Upstream {
    pub host: Host,
    pub port: u16,
    pub addr: SocketAddr,
    pub stream: TcpStream,
    pub buf: BytesMut,
    /// Whether this connection already carried a request (and may have been closed by the origin).
    pub reused: bool,
}

/// Per-client-connection state.
struct Conn {
    peer: SocketAddr,
    buf: BytesMut,
    /// The last `Proxy-Authorization` value and the principal it proved on this connection.
    auth_memo: Option<(Vec<u8>, Arc<Principal>)>,
    upstream: Option<Upstream>,
    /// The client may still be sending when the connection closes: the last request's declared
    /// body was not read whole, or it was a tunnel (or upgrade) that ended while the client's
    /// side was open.
    client_may_send: bool,
}

/// What to do with the client connection after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    KeepAlive,
    Close,
    /// Reset the connection (close with linger 0): the response it carried is incomplete, and a
    /// clean close would look like its end to a client reading until the close.
    Abort,
}

/// Serve one client connection until it closes, times out, or the gateway drains.
pub async fn serve_connection(gw: Arc<Gateway>, mut client: TcpStream, peer: SocketAddr) {
    let _ = client.set_nodelay(true);
    let mut conn = Conn {
        peer,
        buf: BytesMut::with_capacity(8 * 1024),
        auth_memo: None,
        upstream: None,
        client_may_send: false,
    };
    let mut draining = gw.draining.clone();
    let mut stop = gw.stop.clone();
    loop {
        let head = {
            let reading = gw.runtime.load();
            read_head(
                &reading,
                &mut client,
                &mut conn.buf,
                &mut draining,
                &mut stop,
            )
            .await
        };
        // The configuration in force when the head is complete decides, not the one from before
        // an idle wait (a reload applies to the next request on a kept connection).
        let rt = gw.runtime.load_full();
        let head = match head {
            HeadRead::Head(h) => h,
            HeadRead::Closed => return,
            HeadRead::Malformed(outcome) => {
                gw.metrics
                    .decided(outcome.decision(), outcome.metric_rule());
                if let Some(code) = outcome.error_code() {
                    gw.metrics.error(code);
                }
                let mut ev = event_for_unparsed(&conn, &outcome);
                let page = unless_stopped(&mut stop, async {
                    let page = finish_refusal(&rt, &mut client, &outcome, false, true).await;
                    close_client(&mut client, false).await;
                    page
                })
                .await;
                ev.reply_bytes = page.unwrap_or(0);
                if ev.reply_bytes > 0 {
                    let media = respond::page_content_type(&outcome, false);
                    ev.content_type = crate::audit::squid_content_type(media.as_bytes());
                }
                gw.audit.record(ev).await;
                return;
            }
        };
        let next = handle_request(&gw, &rt, &mut conn, &mut client, head, &mut stop).await;
        if next == Next::Abort {
            reset(&client);
            return;
        }
        if next == Next::Close || *draining.borrow() {
            unless_stopped(&mut stop, close_client(&mut client, conn.client_may_send)).await;
            return;
        }
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
                    return HeadRead::Malformed(Outcome::BadRequest {
                        status: e.status(),
                        code: e.code(),
                        message: e.to_string(),
                    })
                }
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(8 * 1024);
        }
        let was_empty = buf.is_empty();
        let read = async {
            match deadline {
                Some(d) => tokio::time::timeout_at(d, client.read_buf(buf)).await,
                None => tokio::time::timeout(settings.idle_timeout, client.read_buf(buf)).await,
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
                return HeadRead::Malformed(Outcome::BadRequest {
                    status: 408,
                    code: "header_read_timeout",
                    message: "the request head did not arrive in time".into(),
                })
            }
        }
    }
}

/// Where the request goes, as understood once, before any decision.
pub struct Target {
    pub connect: bool,
    pub authority: Authority,
    /// The absolute URI of a plain HTTP request.
    pub uri: Option<AbsoluteUri>,
    /// The Max-Forwards of an OPTIONS or TRACE request (RFC 9110 §7.6.2): how many more
    /// intermediaries may forward it. `Some(0)` makes gatehouse the last hop, which answers
    /// itself; a larger value is decremented when forwarding. Always `None` for other methods,
    /// whose Max-Forwards is passed on unchanged.
    pub max_forwards: Option<u64>,
}

impl Target {
    pub fn destination(&self) -> String {
        self.authority.to_string()
    }
}

/// Everything recorded about one request, filled in as the pipeline proceeds.
struct Record {
    started: Instant,
    ts_us: i64,
    principal: Option<Arc<str>>,
    destination: String,
    url: Option<String>,
    stage: Stage,
    /// Whether the policy allowed the request (failures after that are recorded as `allow` with an
    /// error code: the decision stands, the transfer failed).
    allowed: bool,
    /// The audit slot reserved before anything was forwarded; failures after it use it too.
    slot: Option<Slot>,
    /// The allowing rule's id and static id, once the policy allowed.
    rule: Option<(String, &'static str)>,
    /// Whether `gatehouse_requests_total` already counted this request.
    counted: bool,
    /// The origin address connected to, once connected.
    upstream: Option<SocketAddr>,
    /// What was relayed so far, kept up to date while forwarding or tunnelling.
    progress: Progress,
}

/// What a request has relayed so far. The forwarder and the tunnel update it as they write, so
/// that it is right however the request ends, including when its pipeline is dropped at the end
/// of the shutdown grace period.
#[derive(Default)]
pub struct Progress {
    /// The status of the response head sent to the client; 0 until one was.
    status: AtomicU16,
    /// Whether any response byte (an interim or final head) may have reached the client: from
    /// then on gatehouse can no longer answer with a page of its own, only cut the connection.
    began: AtomicBool,
    /// Bytes of response heads (and of gatehouse's own pages) written to the client, beside the
    /// body bytes in `bytes_down`: Squid's log counts both.
    pub head_bytes: AtomicU64,
    /// Body or tunnel bytes written to the origin.
    pub bytes_up: AtomicU64,
    /// Body or tunnel bytes written to the client.
    pub bytes_down: AtomicU64,
    /// The media type of the final response (for the Squid log), set once.
    content_type: std::sync::OnceLock<Box<str>>,
    /// The request body was read from the client whole.
    body_read: AtomicBool,
}

impl Progress {
    /// Response bytes are about to be written to the client.
    pub fn begin(&self) {
        self.began.store(true, Ordering::Relaxed);
    }

    /// Whether response bytes may have reached the client.
    pub fn began(&self) -> bool {
        self.began.load(Ordering::Relaxed)
    }

    /// A response head with this status reached the client.
    pub fn sent_head(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub fn status(&self) -> u16 {
        self.status.load(Ordering::Relaxed)
    }

    /// The final response carried this `Content-Type` value.
    pub fn sent_content_type(&self, value: &[u8]) {
        if let Some(media) = crate::audit::squid_content_type(value) {
            let _ = self.content_type.set(media);
        }
    }

    /// The media type recorded, taken out for the audit event.
    pub fn take_content_type(&mut self) -> Option<Box<str>> {
        self.content_type.take()
    }

    /// The request body has been read from the client whole.
    pub fn read_body(&self) {
        self.body_read.store(true, Ordering::Relaxed);
    }

    pub fn body_read(&self) -> bool {
        self.body_read.load(Ordering::Relaxed)
    }

    /// (client → origin, origin → client) bytes.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_up.load(Ordering::Relaxed),
            self.bytes_down.load(Ordering::Relaxed),
        )
    }
}

/// Counts a request in [`Gateway::in_flight`] until dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Run `work` unless the shutdown grace period ends first (then `None`; `work` is dropped).
async fn unless_stopped<F: Future>(stop: &mut watch::Receiver<bool>, work: F) -> Option<F::Output> {
    tokio::select! {
        r = work => Some(r),
        _ = stop.wait_for(|s| *s) => None,
    }
}

/// The decision pipeline for one request. Returns whether the client connection may be reused.
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
    let mut rec = Record {
        started: Instant::now(),
        ts_us: now_us(),
        principal: None,
        destination: redact_target(head.target()),
        url: None,
        stage: Stage::Destination,
        allowed: false,
        slot: None,
        rule: None,
        counted: false,
        upstream: None,
        progress: Progress::default(),
    };
    let html = respond::wants_html(head.header("accept"));
    // A request whose body we will not read cannot leave the connection reusable.
    let has_body = !matches!(head.framing(), RequestFraming::None);

    let result = unless_stopped(stop, pipeline(gw, rt, conn, client, &head, &mut rec)).await;
    let (outcome, event_tail, next) = match result {
        Some(Ok(done)) => (None, done.tail, done.next),
        // The grace period is over: the request ends where it is, recorded as far as it got.
        None => (None, cut_short(gw, &mut rec), Next::Close),
        Some(Err(Failure { outcome, upstream })) => (
            Some(outcome),
            Tail {
                decision: "",
                rule: String::new(),
                status: 0,
                bytes_up: 0,
                bytes_down: 0,
                error: None,
                upstream,
                slot: None,
            },
            Next::Close,
        ),
    };

    let (tail, next) = match outcome {
        None => (event_tail, next),
        Some(outcome) => {
            // gatehouse's own answers keep an HTTP/1.0 connection never: they do not carry the
            // `Connection: keep-alive` such a client needs to keep it.
            let close = has_body
                || head.is_connect()
                || !head.keep_alive()
                || head.version() == http1::Version::Http10;
            // A failure after the policy allowed (DNS, connect) keeps the decision and its rule,
            // in the audit trail and the metrics alike, and records the error code; a refusal
            // at the address check is a deny.
            let (decision, rule) = match rec.rule.take() {
                Some((id, static_id)) if rec.allowed && outcome.decision() == "error" => {
                    gw.metrics.decided("allow", static_id);
                    ("allow", id)
                }
                _ => {
                    gw.metrics
                        .decided(outcome.decision(), outcome.metric_rule());
                    (outcome.decision(), outcome.rule().to_string())
                }
            };
            if let Some(code) = outcome.error_code() {
                gw.metrics.error(code);
            }
            let page = unless_stopped(stop, finish_refusal(rt, client, &outcome, html, close))
                .await
                .unwrap_or(0);
            rec.progress.head_bytes.fetch_add(page, Ordering::Relaxed);
            if page > 0 {
                rec.progress
                    .sent_content_type(respond::page_content_type(&outcome, html).as_bytes());
            }
            let tail = Tail {
                decision,
                rule,
                status: outcome.status(),
                bytes_up: 0,
                bytes_down: 0,
                error: outcome.error_code(),
                upstream: event_tail.upstream,
                slot: rec.slot.take(),
            };
            (tail, if close { Next::Close } else { Next::KeepAlive })
        }
    };

    let tunnelled = match rec.progress.status() {
        200 => head.is_connect(),
        101 => true,
        _ => false,
    };
    conn.client_may_send = (has_body && !rec.progress.body_read()) || tunnelled;
    let event = AuditEvent {
        ts_us: rec.ts_us,
        principal: rec.principal,
        client: conn.peer,
        method: head.method().to_string(),
        destination: rec.destination,
        url: rec.url,
        decision: tail.decision,
        rule: tail.rule,
        status: tail.status,
        bytes_up: tail.bytes_up,
        bytes_down: tail.bytes_down,
        reply_bytes: tail.bytes_down + rec.progress.head_bytes.load(Ordering::Relaxed),
        duration_us: rec.started.elapsed().as_micros() as u64,
        stage: rec.stage,
        error: tail.error,
        upstream: tail.upstream,
        content_type: rec.progress.take_content_type(),
    };
    match tail.slot {
        Some(slot) => gw.audit.commit(slot, event),
        None => gw.audit.record(event).await,
    }
    next
}

/// The end of a request whose pipeline was dropped at the end of the shutdown grace period: the
/// decision if the policy got to decide, the status and bytes relayed so far, error `shutdown`.
fn cut_short(gw: &Gateway, rec: &mut Record) -> Tail {
    let (up, down) = rec.progress.bytes();
    let (decision, rule) = match rec.rule.take() {
        Some((id, static_id)) if rec.allowed => {
            if !rec.counted {
                gw.metrics.decided("allow", static_id);
            }
            ("allow", id)
        }
        _ => {
            gw.metrics.decided("error", "shutdown");
            ("error", "shutdown".to_string())
        }
    };
    gw.metrics.error("shutdown");
    gw.metrics.bytes_up(up);
    gw.metrics.bytes_down(down);
    Tail {
        decision,
        rule,
        status: rec.progress.status(),
        bytes_up: up,
        bytes_down: down,
        error: Some("shutdown"),
        upstream: rec.upstream,
        slot: rec.slot.take(),
    }
}

/// The end of a request that went through, for its audit event.
pub struct Tail {
    pub decision: &'static str,
    pub rule: String,
    pub status: u16,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub error: Option<&'static str>,
    pub upstream: Option<SocketAddr>,
    pub slot: Option<Slot>,
}

struct Done {
    tail: Tail,
    next: Next,
}

struct Failure {
    outcome: Outcome,
    upstream: Option<SocketAddr>,
}

impl From<Outcome> for Failure {
    fn from(outcome: Outcome) -> Self {
        Failure {
            outcome,
            upstream: None,
        }
    }
}

/// The phases, in order. Each either continues with its output or ends the request with an [`Outcome`].
async fn pipeline(
    gw: &Arc<Gateway>,
    rt: &Arc<Runtime>,
    conn: &mut Conn,
    client: &mut TcpStream,
    head: &RequestHead,
    rec: &mut Record,
) -> Result<Done, Failure> {
    // 1. Destination: canonical, once, before any decision.
    let target = target_of(head)?;
    rec.destination = target.destination();
    rec.url = target.uri.as_ref().map(|u| u.to_string());

    // 2. Who is asking.
    rec.stage = Stage::Authenticate;
    let principal = authenticate(gw, conn, head).await?;
    rec.principal = Some(principal.name.clone());
    if principal.disabled {
        return Err(refused(
            "principal-disabled",
            "principal-disabled",
            "this account is disabled",
            &principal,
            &target,
        )
        .into());
    }

    // 3. Decide.
    rec.stage = Stage::Decide;
    let decision_started = Instant::now();
    let decision = decide(rt, &principal, &target);
    gw.metrics
        .decision_seconds
        .observe(decision_started.elapsed().as_secs_f64());
    if !decision.is_allow() {
        return Err(refusal_of(rt, &decision, &principal, &target).into());
    }
    rec.rule = Some((
        decision.rule.id(&rt.config.lists),
        decision.rule.static_id(),
    ));

    // 4. Room in the audit trail before anything is forwarded.
    match gw.audit.reserve().await {
        Ok(s) => rec.slot = Some(s),
        Err(_) => {
            return Err(Outcome::Unavailable {
                code: "audit_backlog",
                message: "the gateway cannot record requests fast enough right now".into(),
            }
            .into())
        }
    };
    rec.allowed = true;

    // 5. Resolve and check every address; reuse this connection's origin connection when it matches.
    rec.stage = Stage::Resolve;
    if target.max_forwards == Some(0) {
        // Max-Forwards: 0 makes gatehouse the last hop of an OPTIONS or TRACE: it answers itself.
        // The address check still runs, so that the answer is never a 200 where a forward would
        // have been refused; nothing connects.
        checked_addresses(rt, &principal, &target).await?;
        rec.stage = Stage::Answered;
        gw.metrics.decided("allow", decision.rule.static_id());
        rec.counted = true;
        return Ok(answer_last_hop(rt, client, head, rec).await);
    }
    let connect_started = Instant::now();
    let upstream = match take_reusable(rt, conn, &principal, &target) {
        Some(u) => u,
        None => {
            let addrs = checked_addresses(rt, &principal, &target).await?;
            rec.stage = Stage::Connect;
            connect(rt, &target.authority, &addrs).await?
        }
    };
    gw.metrics
        .upstream_connect_seconds
        .observe(connect_started.elapsed().as_secs_f64());

    // 6. Forward or tunnel.
    rec.stage = Stage::Forward;
    gw.metrics.decided("allow", decision.rule.static_id());
    rec.counted = true;
    let upstream_addr = upstream.addr;
    rec.upstream = Some(upstream_addr);
    let progress = &rec.progress;
    let result = if target.connect {
        tunnel::connect_tunnel(rt, client, &mut conn.buf, upstream, progress).await
    } else {
        forward::forward(
            gw,
            rt,
            conn_parts(conn),
            client,
            head,
            &target,
            upstream,
            progress,
        )
        .await
    };
    let (bytes_up, bytes_down) = progress.bytes();
    rec.stage = if result.error.is_none() {
        Stage::Done
    } else {
        Stage::Forward
    };
    if let Some(code) = result.error {
        gw.metrics.error(code);
    }
    gw.metrics.bytes_up(bytes_up);
    gw.metrics.bytes_down(bytes_down);
    if let Some(u) = result.keep_upstream {
        conn.upstream = Some(u);
    }
    Ok(Done {
        tail: Tail {
            decision: "allow",
            rule: rec.rule.take().map(|(id, _)| id).unwrap_or_default(),
            status: result.status,
            bytes_up,
            bytes_down,
            error: result.error,
            upstream: Some(upstream_addr),
            slot: rec.slot.take(),
        },
        next: result.next,
    })
}

/// Resolve the destination and check every address for this principal; the first refusal refuses
/// the request.
async fn checked_addresses(
    rt: &Runtime,
    principal: &Principal,
    target: &Target,
) -> Result<Vec<SocketAddr>, Outcome> {
    let addrs = resolve(rt, &target.authority).await?;
    for addr in &addrs {
        let d = policy::check_address(
            &rt.policy,
            &inputs_of(principal, target, CategorySet::default()),
            *addr,
        );
        if !d.is_allow() {
            return Err(refusal_of(rt, &d, principal, target));
        }
    }
    Ok(addrs)
}

/// Answer an OPTIONS or TRACE whose Max-Forwards reached 0 (RFC 9110 §7.6.2, §9.3.7, §9.3.8):
/// 200 with `Allow`, or the received head echoed as `message/http` without its credentials.
/// A body is never read, so a request with one closes the connection.
async fn answer_last_hop(
    rt: &Runtime,
    client: &mut TcpStream,
    head: &RequestHead,
    rec: &mut Record,
) -> Done {
    let close = !matches!(head.framing(), RequestFraming::None)
        || !head.keep_alive()
        || head.version() == http1::Version::Http10;
    let answer = if head.method() == "TRACE" {
        respond::Answer::Trace(head)
    } else {
        respond::Answer::Options
    };
    let rule = rec.rule.as_ref().map_or("", |(id, _)| id.as_str());
    let (bytes, body_len) = respond::render_answer(&answer, rule, close, &rt.config.proxy.via);
    let error = client.write_all(&bytes).await.err().map(|_| "client_io");
    if error.is_none() {
        rec.progress.sent_head(200);
        if matches!(answer, respond::Answer::Trace(_)) {
            rec.progress.sent_content_type(b"message/http");
        }
        rec.progress.bytes_down.store(body_len, Ordering::Relaxed);
        rec.progress
            .head_bytes
            .fetch_add(bytes.len() as u64 - body_len, Ordering::Relaxed);
    }
    Done {
        tail: Tail {
            decision: "allow",
            rule: rec.rule.take().map(|(id, _)| id).unwrap_or_default(),
            status: 200,
            bytes_up: 0,
            bytes_down: body_len,
            error,
            upstream: None,
            slot: rec.slot.take(),
        },
        next: if close || error.is_some() {
            Next::Close
        } else {
            Next::KeepAlive
        },
    }
}

/// The client-side parts a forwarder needs.
pub struct ConnParts<'a> {
    pub peer: SocketAddr,
    pub buf: &'a mut BytesMut,
}

fn conn_parts(conn: &mut Conn) -> ConnParts<'_> {
    ConnParts {
        peer: conn.peer,
        buf: &mut conn.buf,
    }
}

/// What a forwarder or tunnel reports back. The bytes it relayed are in the request's [`Progress`].
pub struct Relayed {
    pub status: u16,
    pub error: Option<&'static str>,
    pub next: Next,
    pub keep_upstream: Option<Upstream>,
}

fn bad_request(code: &'static str, message: String) -> Outcome {
    Outcome::BadRequest {
        status: 400,
        code,
        message,
    }
}

fn destination_error(e: DestinationError) -> Outcome {
    bad_request(e.code(), e.to_string())
}

/// Parse and canonicalise the request target; check the `Host` header against it.
fn target_of(head: &RequestHead) -> Result<Target, Outcome> {
    let raw = head.target();
    // Method names are case-sensitive (RFC 9110 §9.1): `Connect` is not CONNECT, so it would skip
    // the CONNECT rules here while an origin that folds case could take it for one.
    if !head.is_connect() && head.method().eq_ignore_ascii_case("CONNECT") {
        return Err(bad_request(
            "ambiguous_method",
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
            "not_a_proxy_request",
            format!(
                "`{}` is not an absolute URI: gatehouse is a forward proxy; send `http://host/path` (or CONNECT for https)",
                truncate(raw, 80)
            ),
        ));
    } else {
        let uri = AbsoluteUri::parse(raw).map_err(|e| match e {
            DestinationError::UnsupportedScheme(s) => bad_request(
                "unsupported_scheme",
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
            bad_request("host_mismatch", "the Host header is not valid text".into())
        })?;
        match Authority::parse(host, Some(default_port)) {
            Ok(a) if a == target.authority => {}
            _ => {
                return Err(bad_request(
                    "host_mismatch",
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
            "connect_with_body",
            "a CONNECT request must not carry a body".into(),
        ));
    }
    // RFC 9110 §7.6.2 gives Max-Forwards a meaning for these two methods only; for the others
    // a recipient may ignore it, so it passes unchanged and unchecked.
    if matches!(head.method(), "OPTIONS" | "TRACE") {
        target.max_forwards = head
            .max_forwards()
            .map_err(|e| bad_request(e.code(), e.to_string()))?;
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
fn redact_target(raw: &str) -> String {
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

fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Find who is asking. Verification is cached (see `identity`), so argon2 runs once per credential.
async fn authenticate(
    gw: &Gateway,
    conn: &mut Conn,
    head: &RequestHead,
) -> Result<Arc<Principal>, Outcome> {
    let principals = gw.principals.load();
    let Some(value) = head.header("proxy-authorization") else {
        gw.metrics.auth_failures.inc();
        return Err(Outcome::AuthRequired {
            rule: "auth-required",
        });
    };
    // Same credentials as the previous request on this connection: a byte compare.
    if let Some((memo, p)) = &conn.auth_memo {
        if memo.as_slice() == value {
            if let Some(current) = principals.get(&p.name) {
                if current.password_hash == p.password_hash {
                    return Ok(current.clone());
                }
            }
        }
    }
    let key = gw.credentials.key_of(value);
    if let Some(p) = gw.credentials.lookup(&key, &principals) {
        conn.auth_memo = Some((value.to_vec(), p.clone()));
        return Ok(p);
    }
    let failed = |gw: &Gateway| {
        gw.metrics.auth_failures.inc();
        Outcome::AuthRequired {
            rule: "auth-failed",
        }
    };
    let Some(creds) = parse_basic(value) else {
        return Err(failed(gw));
    };
    let Some(principal) = principals.get(&creds.user).cloned() else {
        gw.verifier.verify_unknown(creds.password).await;
        return Err(failed(gw));
    };
    gw.metrics.auth_verifications.inc();
    let ok = gw
        .verifier
        .verify(creds.password, principal.password_hash.clone())
        .await;
    if !ok {
        return Err(failed(gw));
    }
    gw.credentials.insert(key, &principal);
    conn.auth_memo = Some((value.to_vec(), principal.clone()));
    Ok(principal)
}

/// Categorise the canonical destination and ask the policy.
fn decide(rt: &Runtime, principal: &Principal, target: &Target) -> Decision {
    let categories = match target.authority.host.as_domain() {
        Some(d) => rt.config.lists.lookup(d.as_str()),
        None => CategorySet::default(),
    };
    policy::decide(&rt.policy, &inputs_of(principal, target, categories))
}

/// What the policy decides on for this request (the address check needs no categories).
fn inputs_of<'a>(principal: &Principal, target: &'a Target, categories: CategorySet) -> Inputs<'a> {
    Inputs {
        tier: principal.tier,
        host: &target.authority.host,
        port: target.authority.port,
        connect: target.connect,
        categories,
    }
}

fn refused(
    rule: &str,
    static_rule: &'static str,
    explanation: &'static str,
    principal: &Principal,
    target: &Target,
) -> Outcome {
    Outcome::Refused {
        rule: rule.to_string(),
        static_rule,
        explanation,
        principal: Some(principal.name.to_string()),
        tier: Some(principal.tier),
        destination: target.destination(),
    }
}

fn refusal_of(rt: &Runtime, d: &Decision, principal: &Principal, target: &Target) -> Outcome {
    refused(
        &d.rule.id(&rt.config.lists),
        d.rule.static_id(),
        d.rule.explanation(),
        principal,
        target,
    )
}

/// Reuse the connection's kept origin connection when it goes to the same destination and its
/// address is still allowed for this principal under the current policy.
fn take_reusable(
    rt: &Runtime,
    conn: &mut Conn,
    principal: &Principal,
    target: &Target,
) -> Option<Upstream> {
    if target.connect {
        conn.upstream = None;
        return None;
    }
    let u = conn.upstream.take()?;
    if u.host == target.authority.host
        && u.port == target.authority.port
        && policy::check_address(
            &rt.policy,
            &inputs_of(principal, target, CategorySet::default()),
            u.addr,
        )
        .is_allow()
        && still_open(&u.stream)
    {
        Some(u)
    } else {
        None
    }
}

/// Whether an idle kept origin connection shows no sign of having been closed: nothing to read,
/// not even the end of the stream. A kept connection is reused only then: bytes an origin sent
/// unasked (a `408` before its idle close) would otherwise be taken for the next response. The
/// race with a close still in flight remains; an idempotent request without a body is then sent
/// once more on a new connection, any other fails with 502 rather than being sent twice.
fn still_open(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Resolve a destination: IP literals as they are, names through the static hosts table first and
/// then the system resolver.
async fn resolve(rt: &Runtime, authority: &Authority) -> Result<Vec<SocketAddr>, Outcome> {
    let port = authority.port;
    match &authority.host {
        Host::V4(ip) => Ok(vec![SocketAddr::new((*ip).into(), port)]),
        Host::V6(ip) => Ok(vec![SocketAddr::new((*ip).into(), port)]),
        Host::Domain(name) => {
            if let Some(ips) = rt.config.dns_hosts.get(name) {
                return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
            }
            let looked = tokio::time::timeout(
                Duration::from_secs(10),
                tokio::net::lookup_host((name.as_str(), port)),
            )
            .await;
            let addrs: Vec<SocketAddr> = match looked {
                Ok(Ok(it)) => it
                    .map(|a| SocketAddr::new(destination::net::canonical_ip(a.ip()), a.port()))
                    .collect(),
                _ => Vec::new(),
            };
            if addrs.is_empty() {
                return Err(Outcome::Upstream {
                    status: 502,
                    code: "dns_failed",
                    message: format!("cannot resolve `{name}`"),
                });
            }
            Ok(addrs)
        }
    }
}

/// Connect to the first address that answers. Every address was checked before this is called.
async fn connect(
    rt: &Runtime,
    authority: &Authority,
    addrs: &[SocketAddr],
) -> Result<Upstream, Failure> {
    let timeout = rt.config.proxy.upstream_connect_timeout;
    let mut last = Outcome::Upstream {
        status: 502,
        code: "upstream_connect_failed",
        message: format!("cannot connect to `{authority}`"),
    };
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(Upstream {
                    host: authority.host.clone(),
                    port: authority.port,
                    addr: *addr,
                    stream,
                    buf: BytesMut::with_capacity(8 * 1024),
                    reused: false,
                });
            }
            Ok(Err(e)) => {
                last = Outcome::Upstream {
                    status: 502,
                    code: "upstream_connect_failed",
                    message: format!("cannot connect to `{authority}` ({addr}): {e}"),
                };
            }
            Err(_) => {
                last = Outcome::Upstream {
                    status: 504,
                    code: "upstream_connect_timeout",
                    message: format!("connecting to `{authority}` ({addr}) timed out"),
                };
            }
        }
    }
    Err(Failure {
        outcome: last,
        upstream: addrs.first().copied(),
    })
}

/// Send the answer for `outcome`; the bytes written (0 if the write failed).
async fn finish_refusal(
    rt: &Runtime,
    client: &mut TcpStream,
    outcome: &Outcome,
    html: bool,
    close: bool,
) -> u64 {
    let settings = &rt.config.proxy;
    let bytes = respond::render(outcome, html, close, &settings.via, &settings.contact);
    match client.write_all(&bytes).await {
        Ok(()) => bytes.len() as u64,
        Err(_) => 0,
    }
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

/// The longest a closing connection keeps reading what the client still sends.
const LINGER_MAX: Duration = Duration::from_secs(2);
/// A lingering close ends once the client has sent nothing for this long.
const LINGER_IDLE: Duration = Duration::from_millis(200);

/// Close the client connection after the last response. If the client is still sending (a
/// refused upload, a body the origin did not wait for, pipelined requests behind a close),
/// closing at once makes the kernel answer with a reset that can destroy the response before
/// the client has read it; so, as nginx's lingering close does, what still arrives is read and
/// discarded until the client pauses or [`LINGER_MAX`] passes. When the client may still be
/// sending although nothing is pending yet (`client_may_send`: a declared body not read whole,
/// refused before it began or over a slow link; a tunnel that ended while the client's side was
/// open), the close waits up to [`LINGER_IDLE`] for it; otherwise, with nothing pending, the
/// connection closes at once. Every read is awaited, so a client that keeps sending neither holds
/// a worker thread nor keeps a stopping gateway waiting.
async fn close_client(client: &mut TcpStream, client_may_send: bool) {
    let _ = client.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_MAX;
    let mut scratch = [0u8; 16 * 1024];
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

fn event_for_unparsed(conn: &Conn, outcome: &Outcome) -> AuditEvent {
    AuditEvent {
        ts_us: now_us(),
        principal: None,
        client: conn.peer,
        method: "-".into(),
        destination: "-".into(),
        url: None,
        decision: outcome.decision(),
        rule: outcome.rule().to_string(),
        status: outcome.status(),
        bytes_up: 0,
        bytes_down: 0,
        reply_bytes: 0,
        duration_us: 0,
        stage: Stage::Parse,
        error: outcome.error_code(),
        upstream: None,
        content_type: None,
    }
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
