//! The one path relayed bytes take in each direction: every body byte and every tunnel byte
//! written on is written by [`Flow::send`], which bounds the write, counts it in the request's
//! progress, and is the place where a bandwidth class (a rate limiter) or a content filter will
//! wrap the stream. Bodies are read by [`Body::relay`], whatever their framing.
//!
//! Errors are [`ErrorCode`]s blamed on the side that failed ([`Side`]): a client that went away
//! or stalled, an origin that closed, timed out or sent a malformed body.
//!
//! INVARIANT: a leaf of `proxy`, like `exchange`: it imports no other `proxy` module.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use http1::{Chunk, ChunkedDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codes::ErrorCode;

/// The most a body read takes at once.
pub const SCRATCH: usize = 64 * 1024;
/// Flush re-encoded chunked output once it reaches this size.
const FLUSH_AT: usize = 64 * 1024;
/// A connection buffer that grew past this for a large body is given back once it is empty, so
/// that an idle kept connection does not hold a body-sized buffer.
const KEEP_CAPACITY: usize = 16 * 1024;

/// A side of an exchange, to blame a failure on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Origin,
}

impl Side {
    pub fn closed(self) -> ErrorCode {
        match self {
            Side::Client => ErrorCode::ClientClosed,
            Side::Origin => ErrorCode::UpstreamClosed,
        }
    }
    pub fn io(self) -> ErrorCode {
        match self {
            Side::Client => ErrorCode::ClientIo,
            Side::Origin => ErrorCode::UpstreamIo,
        }
    }
    pub fn timeout(self) -> ErrorCode {
        match self {
            Side::Client => ErrorCode::ClientTimeout,
            Side::Origin => ErrorCode::UpstreamTimeout,
        }
    }
    pub fn framing(self, code: &'static str) -> ErrorCode {
        match self {
            Side::Client => ErrorCode::ClientFraming(code),
            Side::Origin => ErrorCode::OriginFraming(code),
        }
    }
}

/// One direction of a request's relayed bytes, towards `to`.
pub struct Flow<'a> {
    to: Side,
    /// How long a write may make no progress; `None` leaves it to the caller (a tunnel's
    /// watchdog).
    idle: Option<Duration>,
    written: &'a AtomicU64,
}

impl<'a> Flow<'a> {
    /// Bytes towards `to`, counted in `written`, each write bounded by `idle`.
    pub fn new(to: Side, idle: Option<Duration>, written: &'a AtomicU64) -> Flow<'a> {
        Flow { to, idle, written }
    }

    /// Write all of `bytes`, of which `data` are relayed content (the rest is framing that
    /// gatehouse wrote, such as re-encoded chunk headers), and count `data` once written. A peer
    /// that takes nothing for the idle time (its window stays shut) is cut like one that stops
    /// sending; a slow reader that keeps taking bytes is not: the time restarts with every write
    /// that made progress.
    pub async fn send<W: AsyncWrite + Unpin>(
        &self,
        w: &mut W,
        bytes: &[u8],
        data: u64,
    ) -> Result<(), ErrorCode> {
        match self.idle {
            Some(idle) => write_bounded(w, bytes, self.to, idle).await?,
            None => w.write_all(bytes).await.map_err(|_| self.to.io())?,
        }
        self.written.fetch_add(data, Ordering::Relaxed);
        Ok(())
    }
}

/// Write all of `bytes` to `side`, failing when a write makes no progress for `idle`.
pub async fn write_bounded<W: AsyncWrite + Unpin>(
    w: &mut W,
    mut bytes: &[u8],
    side: Side,
    idle: Duration,
) -> Result<(), ErrorCode> {
    while !bytes.is_empty() {
        match tokio::time::timeout(idle, w.write(bytes)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(side.io()),
            Ok(Ok(n)) => bytes = &bytes[n..],
            Err(_) => return Err(side.timeout()),
        }
    }
    Ok(())
}

/// Read more from `side` into `buf`, at most `limit` bytes; 0 at the end of the stream.
pub async fn fill<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut BytesMut,
    limit: usize,
    idle: Duration,
    side: Side,
) -> Result<usize, ErrorCode> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(SCRATCH);
    }
    let read = async {
        if limit < buf.capacity() - buf.len() {
            (&mut *r).take(limit as u64).read_buf(buf).await
        } else {
            r.read_buf(buf).await
        }
    };
    match tokio::time::timeout(idle, read).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(_)) => Err(side.io()),
        Err(_) => Err(side.timeout()),
    }
}

/// How a body is delimited, as relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked, validated strictly; re-encoded (normalised: no extensions, no trailers) when
    /// `reencode`, written bare otherwise (for an HTTP/1.0 client, which sees the end of the body
    /// as the end of the connection).
    Chunked { reencode: bool },
    /// Until the sender closes (a response only).
    UntilClose,
}

/// One body being relayed: read from `src` (the `from` side; bytes already read are in `buf`),
/// written through `flow` to `dst`. Only the body is taken from `buf`: what follows it (a
/// pipelined request) stays.
pub struct Body<'a, R, W> {
    pub src: &'a mut R,
    pub from: Side,
    pub buf: &'a mut BytesMut,
    pub dst: &'a mut W,
    pub flow: &'a Flow<'a>,
    /// How long a read may wait.
    pub idle: Duration,
}

impl<R, W> Body<'_, R, W>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    /// Relay the whole body, framed as `framing`.
    pub async fn relay(mut self, framing: Framing) -> Result<(), ErrorCode> {
        let relayed = match framing {
            Framing::Length(n) => self.length(n).await,
            Framing::Chunked { reencode } => self.chunked(reencode).await,
            Framing::UntilClose => self.until_close().await,
        };
        if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            *self.buf = BytesMut::new();
        }
        relayed
    }

    /// Read more from the source, at most `limit` bytes; 0 at its end.
    async fn fill(&mut self, limit: usize) -> Result<usize, ErrorCode> {
        fill(self.src, self.buf, limit, self.idle, self.from).await
    }

    async fn length(&mut self, n: u64) -> Result<(), ErrorCode> {
        let mut remaining = n;
        while remaining > 0 {
            if self.buf.is_empty() && self.fill((remaining as usize).min(SCRATCH)).await? == 0 {
                return Err(self.from.closed());
            }
            let k = (self.buf.len() as u64).min(remaining) as usize;
            self.flow.send(self.dst, &self.buf[..k], k as u64).await?;
            self.buf.advance(k);
            remaining -= k as u64;
        }
        Ok(())
    }

    /// A chunked body, validated strictly; re-encoded (normalised: no extensions, no trailers)
    /// when `reencode`, written bare otherwise.
    async fn chunked(&mut self, reencode: bool) -> Result<(), ErrorCode> {
        let mut decoder = ChunkedDecoder::new();
        let mut out: Vec<u8> = Vec::with_capacity(FLUSH_AT + 64);
        // Data bytes held in `out`, counted once `out` is written.
        let mut held = 0u64;
        loop {
            let (consumed, chunk) = decoder
                .decode(&self.buf[..])
                .map_err(|e| self.from.framing(e.code()))?;
            match chunk {
                Some(Chunk::Data(data)) => {
                    if reencode {
                        http1::encode_chunk_header(data.len(), &mut out);
                    }
                    if data.len() >= FLUSH_AT && out.len() < 64 {
                        // Large chunk: written straight from the buffer.
                        self.flow.send(self.dst, &out, 0).await?;
                        out.clear();
                        self.flow.send(self.dst, data, data.len() as u64).await?;
                    } else {
                        out.extend_from_slice(data);
                        held += data.len() as u64;
                    }
                    if reencode {
                        out.extend_from_slice(http1::CHUNK_TRAILER);
                    }
                    self.buf.advance(consumed);
                    if out.len() >= FLUSH_AT {
                        self.flow
                            .send(self.dst, &out, std::mem::take(&mut held))
                            .await?;
                        out.clear();
                    }
                }
                Some(Chunk::End) => {
                    self.buf.advance(consumed);
                    if reencode {
                        out.extend_from_slice(http1::LAST_CHUNK);
                    }
                    if !out.is_empty() {
                        self.flow.send(self.dst, &out, held).await?;
                    }
                    return Ok(());
                }
                None => {
                    self.buf.advance(consumed);
                    if !out.is_empty() {
                        self.flow
                            .send(self.dst, &out, std::mem::take(&mut held))
                            .await?;
                        out.clear();
                    }
                    if self.fill(SCRATCH).await? == 0 {
                        return Err(self.from.closed());
                    }
                }
            }
        }
    }

    async fn until_close(&mut self) -> Result<(), ErrorCode> {
        loop {
            if !self.buf.is_empty() {
                let n = self.buf.len();
                self.flow.send(self.dst, &self.buf[..], n as u64).await?;
                self.buf.clear();
            }
            if self.fill(SCRATCH).await? == 0 {
                return Ok(());
            }
        }
    }
}
