//! Delivering one notification: an HTTP/1.1 `POST` of its JSON to the webhook (hyper's client, a
//! new connection per attempt, plain `http://`), signed when a secret is set, tried up to
//! `max_attempts` times with a wait that doubles after each failure.
//!
//! Guarantees: an attempt ends within `timeout` whatever the receiver does (refuses, hangs,
//! trickles); only a `2xx` answer counts as delivered; the signature is
//! `X-Gatehouse-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes with the secret>`.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper::Request;
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpStream;

use crate::config::{NotifySettings, Webhook};

/// The header that carries the body's signature.
pub const SIGNATURE_HEADER: &str = "x-gatehouse-signature";

/// `sha256=` and the hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Why one attempt failed (logged; the event is tried again).
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("cannot connect to the webhook: {0}")]
    Connect(std::io::Error),
    #[error("the webhook's HTTP exchange failed: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot build the request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("the webhook answered {0}")]
    Status(u16),
    #[error("the webhook did not answer within {0:?}")]
    Timeout(Duration),
}

/// One `POST` of `body` (event `name`, notification `id`), within `settings.timeout`.
pub async fn attempt(
    settings: &NotifySettings,
    hook: &Webhook,
    (id, name): (i64, &str),
    body: Bytes,
) -> Result<(), AttemptError> {
    let post = async {
        let stream = TcpStream::connect((hook.host.as_str(), hook.port))
            .await
            .map_err(AttemptError::Connect)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection is driven beside the request and dropped with this attempt.
        let driver = tokio::spawn(conn);
        let mut req = Request::post(hook.path.as_str())
            .header(HOST, host_header(hook))
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .header("x-gatehouse-event", name)
            .header("x-gatehouse-delivery", id);
        if let Some(secret) = &settings.secret {
            req = req.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        let answer = sender.send_request(req.body(Full::new(body))?).await;
        driver.abort();
        let status = answer?.status();
        match status.is_success() {
            true => Ok(()),
            false => Err(AttemptError::Status(status.as_u16())),
        }
    };
    tokio::time::timeout(settings.timeout, post)
        .await
        .unwrap_or(Err(AttemptError::Timeout(settings.timeout)))
}

fn host_header(hook: &Webhook) -> String {
    let host = match hook.host.contains(':') {
        true => format!("[{}]", hook.host.trim_matches(['[', ']'])),
        false => hook.host.clone(),
    };
    match hook.port {
        80 => host,
        port => format!("{host}:{port}"),
    }
}

/// The wait before attempt `next` (2, 3, …): `backoff`, doubled each time, at most
/// [`crate::config::NotifySettings`]'s ceiling.
pub fn wait_before(settings: &NotifySettings, next: u32) -> Duration {
    let doublings = next.saturating_sub(2).min(20);
    settings
        .backoff
        .saturating_mul(1 << doublings)
        .min(crate::config::MAX_NOTIFY_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn waits_double_up_to_the_ceiling() {
        let s = NotifySettings {
            backoff: Duration::from_secs(1),
            ..NotifySettings::default()
        };
        let waits: Vec<u64> = (2..=5).map(|n| wait_before(&s, n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8]);
        assert_eq!(wait_before(&s, 40), crate::config::MAX_NOTIFY_BACKOFF);
    }
}
