//! What the phases of one exchange hand each other: the understood [`Target`], the origin
//! connection ([`OriginConn`]), the request's running [`Progress`], and what a forwarder or tunnel
//! reports back ([`Relayed`], [`Next`]).
//!
//! INVARIANT: a leaf. It imports nothing from the other `proxy` modules, so `forward`, `tunnel`,
//! `respond` and the pipeline share these types without importing each other.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};

use bytes::BytesMut;
use destination::{AbsoluteUri, Authority, Host};
use tokio::net::TcpStream;

use crate::codes::ErrorCode;

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

/// A connection to an origin, kept for the next request of the same client connection. (Not an
/// *upstream*: in gatehouse an upstream is an egress path, such as a parent proxy.)
pub struct OriginConn {
    pub host: Host,
    pub port: u16,
    pub addr: SocketAddr,
    pub stream: TcpStream,
    pub buf: BytesMut,
    /// Whether this connection already carried a request (and may have been closed by the origin).
    pub reused: bool,
}

/// The client-side parts a forwarder needs.
pub struct ConnParts<'a> {
    pub peer: SocketAddr,
    pub buf: &'a mut BytesMut,
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

/// What a forwarder or tunnel reports back. The bytes it relayed are in the request's [`Progress`].
pub struct Relayed {
    pub status: u16,
    pub error: Option<ErrorCode>,
    pub next: Next,
    pub keep_origin: Option<OriginConn>,
}

impl Relayed {
    /// An exchange that ended with the client connection closing.
    pub fn closed(status: u16, error: Option<ErrorCode>) -> Relayed {
        Relayed {
            status,
            error,
            next: Next::Close,
            keep_origin: None,
        }
    }
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
