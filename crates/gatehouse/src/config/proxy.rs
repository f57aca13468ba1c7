//! `[proxy]`: the proxy listener, its timeouts and limits, and the words gatehouse shows
//! (`via`, `contact`).
//!
//! `via` ends up in header lines, so it must be printable ASCII without spaces; `contact` ends up
//! only in pages, so it may be any text on one line (no control characters). The global
//! `connect_ports` are read here but belong to the policy (see `policy.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProxy {
    pub(super) listen: Option<Spanned<String>>,
    via: Option<Spanned<String>>,
    contact: Option<Spanned<String>>,
    x_forwarded_for: Option<bool>,
    pub(super) connect_ports: Option<Vec<u16>>,
    max_connections: Option<usize>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    tunnel_idle_timeout_secs: Option<u64>,
    tunnel_half_close_timeout_secs: Option<u64>,
    upstream_connect_timeout_secs: Option<u64>,
    upstream_response_timeout_secs: Option<u64>,
    max_head_bytes: Option<usize>,
    max_headers: Option<usize>,
    max_uri_bytes: Option<usize>,
    shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub listen: SocketAddr,
    pub via: String,
    /// Who to ask for access, named on refusal pages: any text without control characters.
    pub contact: String,
    pub x_forwarded_for: bool,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub tunnel_idle_timeout: Duration,
    /// How long a tunnel stays open for one direction after the other has ended.
    pub tunnel_half_close_timeout: Duration,
    pub upstream_connect_timeout: Duration,
    pub upstream_response_timeout: Duration,
    pub limits: http1::Limits,
    pub shutdown_grace: Duration,
}

const DEFAULT_CONTACT: &str = "your gatehouse administrator";

impl RawProxy {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> ProxySettings {
        let defaults = http1::Limits::default();
        let limits = http1::Limits {
            max_head_bytes: self.max_head_bytes.unwrap_or(defaults.max_head_bytes),
            max_headers: self.max_headers.unwrap_or(defaults.max_headers),
            max_uri_bytes: self.max_uri_bytes.unwrap_or(defaults.max_uri_bytes),
        };
        let secs = |value: Option<u64>, default: u64| Duration::from_secs(value.unwrap_or(default));
        ProxySettings {
            listen: v.socket(&self.listen, "proxy.listen", "127.0.0.1:3128"),
            via: via(v, &self.via),
            contact: contact(v, &self.contact),
            x_forwarded_for: self.x_forwarded_for.unwrap_or(false),
            max_connections: self.max_connections.unwrap_or(10_000).max(1),
            header_read_timeout: secs(self.header_read_timeout_secs, 10),
            idle_timeout: secs(self.idle_timeout_secs, 60),
            tunnel_idle_timeout: secs(self.tunnel_idle_timeout_secs, 600),
            tunnel_half_close_timeout: secs(self.tunnel_half_close_timeout_secs, 30),
            upstream_connect_timeout: secs(self.upstream_connect_timeout_secs, 10),
            upstream_response_timeout: secs(self.upstream_response_timeout_secs, 60),
            limits,
            shutdown_grace: secs(self.shutdown_grace_secs, 30),
        }
    }
}

/// The `Via` pseudonym goes into header lines: printable ASCII without spaces (no CR/LF injection).
fn via(v: &mut Validator<'_>, s: &Option<Spanned<String>>) -> String {
    let Some(s) = s else {
        return "gatehouse".to_string();
    };
    let text = s.get_ref();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_graphic()) {
        v.err(
            s,
            "proxy.via",
            format!(
                "`{}` must be printable ASCII without spaces",
                text.escape_debug()
            ),
        );
        return "gatehouse".to_string();
    }
    text.clone()
}

/// The contact is shown on pages only (escaped there), so any text on one line will do.
fn contact(v: &mut Validator<'_>, s: &Option<Spanned<String>>) -> String {
    let Some(s) = s else {
        return DEFAULT_CONTACT.to_string();
    };
    let text = s.get_ref();
    if text.trim().is_empty() {
        // A refusal page would read "ask  for access": every page must name someone to ask.
        v.err(
            s,
            "proxy.contact",
            "is empty; name whom to ask for access (a person, a desk, an address)".to_string(),
        );
        return DEFAULT_CONTACT.to_string();
    }
    if text.chars().any(char::is_control) {
        v.err(
            s,
            "proxy.contact",
            format!(
                "`{}` contains a control character (a line break or tab, for instance); write it on one line",
                text.escape_debug()
            ),
        );
        return DEFAULT_CONTACT.to_string();
    }
    text.clone()
}
