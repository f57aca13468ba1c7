//! Reaching the origin: resolve the destination ([`resolve`]: IP literals as they are, names
//! through the static hosts table and then the system resolver), check every address with the
//! policy ([`checked_addresses`]), connect to the first checked address that answers
//! ([`connect`]), or reuse the client connection's kept origin connection ([`take_reusable`]).
//!
//! INVARIANT: nothing here connects to an address that `policy::check_address` did not allow for
//! this request and principal; a connection goes to the address that was checked, never to a
//! fresh lookup.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use destination::{Authority, Host};
use policy::Inputs;
use tokio::net::TcpStream;

use super::decide::refusal_of;
use super::exchange::{OriginConn, Target};
use super::respond::Outcome;
use crate::codes::ErrorCode;
use crate::identity::Principal;
use crate::state::Runtime;

/// Reuse `kept` (the client connection's origin connection) when it goes to the same
/// destination and its address is still allowed for this principal under the current policy.
pub fn take_reusable(
    rt: &Runtime,
    kept: &mut Option<OriginConn>,
    inputs: &Inputs<'_>,
    target: &Target,
) -> Option<OriginConn> {
    if target.connect {
        *kept = None;
        return None;
    }
    let o = kept.take()?;
    if o.host == target.authority.host
        && o.port == target.authority.port
        && policy::check_address(&rt.policy, inputs, o.addr).is_allow()
        && still_open(&o.stream)
    {
        Some(o)
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

/// Resolve the destination and check every address for this principal; the first refusal refuses
/// the request.
pub async fn checked_addresses(
    rt: &Runtime,
    principal: &Principal,
    inputs: &Inputs<'_>,
    target: &Target,
) -> Result<Vec<SocketAddr>, Outcome> {
    let addrs = resolve(rt, &target.authority).await?;
    for addr in &addrs {
        let d = policy::check_address(&rt.policy, inputs, *addr);
        if !d.is_allow() {
            return Err(refusal_of(rt, &d, principal, target));
        }
    }
    Ok(addrs)
}

/// Resolve a destination: IP literals as they are, names through the static hosts table first and
/// then the system resolver. A name the table lists with no address does not resolve.
async fn resolve(rt: &Runtime, authority: &Authority) -> Result<Vec<SocketAddr>, Outcome> {
    let port = authority.port;
    let name = match &authority.host {
        Host::V4(ip) => return Ok(vec![SocketAddr::new((*ip).into(), port)]),
        Host::V6(ip) => return Ok(vec![SocketAddr::new((*ip).into(), port)]),
        Host::Domain(name) => name,
    };
    let no_answer = || Outcome::Failed {
        status: 502,
        code: ErrorCode::DnsFailed,
        message: format!("cannot resolve `{name}`"),
    };
    if let Some(ips) = rt.config.dns_hosts.get(name) {
        // An entry without addresses: the name does not resolve, and no resolver is asked.
        if ips.is_empty() {
            return Err(no_answer());
        }
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
        return Err(no_answer());
    }
    Ok(addrs)
}

/// Connect to the first address that answers. Every address was checked before this is called.
pub async fn connect(
    rt: &Runtime,
    authority: &Authority,
    addrs: &[SocketAddr],
) -> Result<OriginConn, Outcome> {
    let timeout = rt.config.proxy.upstream_connect_timeout;
    let mut last = Outcome::Failed {
        status: 502,
        code: ErrorCode::UpstreamConnectFailed,
        message: format!("cannot connect to `{authority}`"),
    };
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(OriginConn {
                    host: authority.host.clone(),
                    port: authority.port,
                    addr: *addr,
                    stream,
                    buf: BytesMut::with_capacity(8 * 1024),
                    reused: false,
                });
            }
            Ok(Err(e)) => {
                last = Outcome::Failed {
                    status: 502,
                    code: ErrorCode::UpstreamConnectFailed,
                    message: format!("cannot connect to `{authority}` ({addr}): {e}"),
                };
            }
            Err(_) => {
                last = Outcome::Failed {
                    status: 504,
                    code: ErrorCode::UpstreamConnectTimeout,
                    message: format!("connecting to `{authority}` ({addr}) timed out"),
                };
            }
        }
    }
    Err(last)
}
