//! Tunnels: `CONNECT` and upgraded (WebSocket) connections, relayed byte for byte in both directions.
//!
//! Each direction has its own buffer that starts at 16 KiB and grows, fourfold up to 256 KiB, whenever
//! a read fills it (the socket had more queued): bulk transfers reach large buffers within a few
//! reads, while interactive tunnels, whose reads are small, keep small ones.
//!
//! A direction whose 256 KiB read came back full is moving bulk data, and from then on it reads in
//! batches: the socket's receive low-water mark is raised to 128 KiB, so the kernel wakes the relay
//! once per 128 KiB instead of once per segment the sender wrote (a 16 KiB TLS record, typically).
//! On a busy machine every one of those wake-ups preempts the sender or the receiver; batching
//! them cuts the relay's CPU per byte by about a sixth (BENCHMARKS.md). A read that finds less than
//! the mark for 1 ms (the sender paused; tokio's millisecond timer makes it 1–2 ms) lowers the
//! mark again and takes what is there, so the tail of a burst waits about 2 ms at most, once per
//! bulk phase, and interactive tunnels never wait. When the relay ends, both marks go back to 1:
//! the client connection's lingering close needs to see small arrivals. Batching is on only if
//! [`probe_batching`] found at start that lowering the mark signals queued bytes on this kernel.
//!
//! End of stream in one
//! direction is passed on as a half-close. The tunnel ends when both directions have ended or when
//! neither carried a byte for the tunnel idle timeout. Every byte written on is counted in the
//! request's [`Progress`] as it goes, so a tunnel cut at shutdown is still recorded whole.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::codes::ErrorCode;
use crate::proxy::exchange::{OriginConn, Progress, Relayed};
use crate::proxy::flow::{Flow, Side};
use crate::state::Runtime;

const START: usize = 16 * 1024;
const LARGE: usize = 256 * 1024;
/// The receive low-water mark of a direction moving bulk data.
const BATCH: usize = 128 * 1024;
/// How long a batched read waits for `BATCH` bytes before it takes what there is (tokio's
/// timer counts in milliseconds, so 1–2 ms in practice).
const BATCH_WAIT: Duration = Duration::from_millis(1);

/// Whether batched reads are on: only once [`probe_batching`] found that this kernel signals
/// queued bytes when the low-water mark is lowered, which the fallback relies on.
static BATCHING: AtomicBool = AtomicBool::new(false);

/// How many tunnel directions raised their mark (began a batched phase) since the process
/// started: what shows from outside that batching did engage, not only that it was allowed.
static BATCH_PHASES: AtomicU64 = AtomicU64::new(0);

/// Whether batched tunnel reads are on (the verdict of the last [`probe_batching`]).
pub fn batching() -> bool {
    BATCHING.load(Ordering::Relaxed)
}

/// How many tunnel directions in this process have begun a batched phase so far.
pub fn batch_phases() -> u64 {
    BATCH_PHASES.load(Ordering::Relaxed)
}

/// The longest [`probe_batching`] may take.
const PROBE_LIMIT: Duration = Duration::from_millis(500);

/// Find out whether lowering `SO_RCVLOWAT` makes queued bytes readable at once on this kernel
/// (Linux ≥ 4.19 does), and turn batched tunnel reads on if so. Without that signal a batched
/// read's fallback would wait for the next segment, so batching stays off. It uses a connection
/// over 127.0.0.1 and takes about 20 ms; if loopback cannot carry it, it gives up within
/// [`PROBE_LIMIT`] and batching stays off. Returns the verdict.
pub async fn probe_batching() -> bool {
    let works = async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
        let addr = listener.local_addr().ok()?;
        let (tx, rx) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (mut tx, (rx, _)) = (tx.ok()?, rx.ok()?);
        sockopt::set_recv_lowat(&rx, BATCH).ok()?;
        // A new socket counts as readable until a read says otherwise.
        let mut buf = [0u8; 64];
        if !matches!(rx.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            return None;
        }
        tx.write_all(b"probe").await.ok()?;
        // The bytes arrive but stay below the mark (this wait also lets them arrive, so that
        // the readability below can only come from lowering the mark).
        if tokio::time::timeout(Duration::from_millis(20), rx.readable())
            .await
            .is_ok()
        {
            return None;
        }
        sockopt::set_recv_lowat(&rx, 1).ok()?;
        tokio::time::timeout(Duration::from_millis(400), rx.readable())
            .await
            .ok()?
            .ok()?;
        (rx.try_read(&mut buf).ok()? == 5).then_some(())
    };
    let on = tokio::time::timeout(PROBE_LIMIT, works)
        .await
        .ok()
        .flatten()
        .is_some();
    BATCHING.store(on, Ordering::Relaxed);
    on
}

/// Answer an allowed `CONNECT` and relay the tunnel. Bytes the client sent after the `CONNECT`
/// head (a TLS ClientHello sent early) are forwarded first.
pub async fn connect_tunnel(
    rt: &Runtime,
    client: &mut TcpStream,
    client_buf: &mut BytesMut,
    mut origin: OriginConn,
    progress: &Progress,
) -> Relayed {
    let established = format!(
        "HTTP/1.1 200 Connection established\r\nVia: 1.1 {}\r\n\r\n",
        rt.config.proxy.via
    );
    progress.begin();
    if client.write_all(established.as_bytes()).await.is_err() {
        return Relayed::closed(200, Some(ErrorCode::ClientIo));
    }
    progress.sent_head(200);
    progress
        .head_bytes
        .fetch_add(established.len() as u64, Ordering::Relaxed);
    let error = relay(
        client,
        client_buf,
        &mut origin.stream,
        &mut origin.buf,
        rt.config.proxy.tunnel_idle_timeout,
        rt.config.proxy.tunnel_half_close_timeout,
        progress,
    )
    .await;
    Relayed::closed(200, error)
}

/// Relay both directions until both end or the tunnel is idle, counting the bytes written on in
/// `progress` (client→origin up, origin→client down). Returns the error code if it ended
/// abnormally.
pub async fn relay(
    client: &mut TcpStream,
    client_buf: &mut BytesMut,
    origin: &mut TcpStream,
    origin_buf: &mut BytesMut,
    idle: Duration,
    half_close: Duration,
    progress: &Progress,
) -> Option<ErrorCode> {
    // The halves and the pinned directions live in this block, so that both sockets are free
    // again when it ends.
    // Whether a direction raised its socket's low-water mark (set by the direction, read after).
    let raised = AtomicBool::new(false);
    let error = {
        let up_bytes = &progress.bytes_up;
        let down_bytes = &progress.bytes_down;
        let (mut cr, mut cw) = client.split();
        let (mut or, mut ow) = origin.split();
        let pending_up = std::mem::take(client_buf);
        let pending_down = std::mem::take(origin_buf);
        let up = copy_one_way(
            &mut cr,
            &mut ow,
            pending_up,
            Flow::new(Side::Origin, None, up_bytes),
            &raised,
        );
        let down = copy_one_way(
            &mut or,
            &mut cw,
            pending_down,
            Flow::new(Side::Client, None, down_bytes),
            &raised,
        );
        let watchdog = async {
            let mut seen = u64::MAX;
            loop {
                tokio::time::sleep(idle).await;
                let now = up_bytes.load(Ordering::Relaxed) + down_bytes.load(Ordering::Relaxed);
                if now == seen {
                    return;
                }
                seen = now;
            }
        };
        // Once one direction has ended, the other gets `half_close` to finish: a client that went away
        // must not hold a tunnel open until the idle timeout.
        let fin = tokio::time::sleep(idle);
        tokio::pin!(up, down, watchdog, fin);
        let mut fin_armed = false;
        let mut up_done: Option<Result<(), ErrorCode>> = None;
        let mut down_done: Option<Result<(), ErrorCode>> = None;
        let mut timed_out = None;
        while up_done.is_none() || down_done.is_none() {
            tokio::select! {
                r = &mut up, if up_done.is_none() => up_done = Some(r),
                r = &mut down, if down_done.is_none() => down_done = Some(r),
                _ = &mut watchdog => { timed_out = Some(ErrorCode::TunnelIdleTimeout); break; }
                _ = &mut fin, if fin_armed => { timed_out = Some(ErrorCode::TunnelHalfCloseTimeout); break; }
            }
            if !fin_armed && (up_done.is_some() || down_done.is_some()) {
                fin.as_mut().reset(tokio::time::Instant::now() + half_close);
                fin_armed = true;
            }
            // An error in one direction ends the tunnel: the other side learns by the close.
            if matches!(up_done, Some(Err(_))) || matches!(down_done, Some(Err(_))) {
                break;
            }
        }
        [up_done, down_done]
            .into_iter()
            .find_map(|r| r.and_then(Result::err))
            .or(timed_out)
    };
    // A direction may have ended while batching (a timeout, an error, a write that never
    // completed). The mark must not outlive the relay: the client connection's lingering close
    // waits for readability, which a raised mark withholds for small arrivals. This relay's own
    // record decides, not the process-wide switch, which a later probe may have turned off since.
    if raised.load(Ordering::Relaxed) {
        let _ = sockopt::set_recv_lowat(&*client, 1);
        let _ = sockopt::set_recv_lowat(&*origin, 1);
    }
    error
}

/// One direction of a tunnel: what was already read, then everything until the end of stream,
/// through `flow`. Any failure is `tunnel_io`.
async fn copy_one_way(
    r: &mut ReadHalf<'_>,
    w: &mut WriteHalf<'_>,
    pending: BytesMut,
    flow: Flow<'_>,
    raised: &AtomicBool,
) -> Result<(), ErrorCode> {
    const FAILED: ErrorCode = ErrorCode::TunnelIo;
    if !pending.is_empty() {
        flow.send(w, &pending, pending.len() as u64)
            .await
            .map_err(|_| FAILED)?;
    }
    drop(pending);
    let mut buf = vec![0u8; START];
    let mut batching = false;
    loop {
        let read = if batching {
            match tokio::time::timeout(BATCH_WAIT, r.read(&mut buf)).await {
                Ok(read) => read,
                Err(_) => {
                    // The sender paused with less than a batch queued. Lowering the mark makes
                    // what is queued readable at once; should that fail, the tail would wait for
                    // the next segment, so the tunnel ends instead.
                    batching = false;
                    sockopt::set_recv_lowat(r.as_ref(), 1).map_err(|_| FAILED)?;
                    r.read(&mut buf).await
                }
            }
        } else {
            r.read(&mut buf).await
        };
        let n = match read {
            Ok(0) => {
                // Pass the end of stream on as a half-close.
                let _ = w.shutdown().await;
                return Ok(());
            }
            Ok(n) => n,
            Err(_) => return Err(FAILED),
        };
        flow.send(w, &buf[..n], n as u64)
            .await
            .map_err(|_| FAILED)?;
        if n == buf.len() {
            if buf.len() < LARGE {
                buf.resize((buf.len() * 4).min(LARGE), 0);
            } else if !batching && BATCHING.load(Ordering::Relaxed) {
                batching = sockopt::set_recv_lowat(r.as_ref(), BATCH).is_ok();
                if batching {
                    raised.store(true, Ordering::Relaxed);
                    BATCH_PHASES.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
