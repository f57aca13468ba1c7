//! `[portal]`: the portal's listener (login, the person's own page and trail, `/api/v1`), how long
//! a portal session lasts, and the address people use to reach it. The portal needs an address of
//! its own, never the proxy's or the admin port's.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

/// The portal's default address.
pub const DEFAULT_PORTAL_LISTEN: &str = "127.0.0.1:8080";
/// How long a portal session lasts after its login, by default.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPortal {
    enabled: Option<bool>,
    listen: Option<Spanned<String>>,
    session_ttl: Option<Spanned<String>>,
    public_url: Option<Spanned<String>>,
}

/// The validated `[portal]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalSettings {
    /// `false`: no portal listener.
    pub enabled: bool,
    pub listen: SocketAddr,
    pub session_ttl: Duration,
    /// The portal's address as people reach it (`http://host:port`, no trailing slash); `None`:
    /// `http://` and the address the listener is bound to.
    pub public_url: Option<String>,
}

impl RawPortal {
    /// The portal settings; `taken` are the proxy's and the admin port's addresses as validated.
    pub(super) fn validate(
        &self,
        v: &mut Validator<'_>,
        taken: [(&str, SocketAddr); 2],
    ) -> PortalSettings {
        let listen = v.socket(&self.listen, "portal.listen", DEFAULT_PORTAL_LISTEN);
        let enabled = self.enabled.unwrap_or(true);
        if enabled && listen.port() != 0 {
            for (key, addr) in taken {
                if addr == listen {
                    if let Some(s) = &self.listen {
                        v.err(
                            s,
                            "portal.listen",
                            format!("`{listen}` is also `{key}`; the portal needs an address of its own"),
                        );
                    }
                }
            }
        }
        PortalSettings {
            enabled,
            listen,
            session_ttl: self
                .session_ttl
                .as_ref()
                .map_or(DEFAULT_SESSION_TTL, |raw| ttl(v, raw)),
            public_url: self.public_url.as_ref().and_then(|raw| public_url(v, raw)),
        }
    }
}

/// `"12h"`, `"30m"`, `"1h 30m"` (jiff's friendly format, or ISO 8601 `PT12H`), more than 0.
fn ttl(v: &mut Validator<'_>, raw: &Spanned<String>) -> Duration {
    let text = raw.get_ref();
    match text.parse::<jiff::SignedDuration>().map(Duration::try_from) {
        Ok(Ok(d)) if !d.is_zero() => d,
        _ => {
            let message = format!(
                "`{}` is not a duration of more than 0; write it as `12h`, `30m` or `1h 30m`",
                text.escape_debug()
            );
            v.err(raw, "portal.session_ttl", message);
            DEFAULT_SESSION_TTL
        }
    }
}

/// `http://` or `https://`, a host and maybe a port; no path, query or fragment (the portal serves
/// from the root). Returned without a trailing slash.
fn public_url(v: &mut Validator<'_>, raw: &Spanned<String>) -> Option<String> {
    let text = raw.get_ref().trim_end_matches('/');
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    let fine = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.contains(['/', '?', '#', '@'])
            && r.chars().all(|c| c.is_ascii_graphic())
    });
    if fine {
        Some(text.to_string())
    } else {
        v.err(
            raw,
            "portal.public_url",
            format!(
                "`{}` is not an address of the portal; write it as `http://gatehouse.example:8080` (no path)",
                raw.get_ref().escape_debug()
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Config;

    fn problems(text: &str) -> Vec<String> {
        match Config::from_toml(text, "test.toml", Path::new(".")) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn the_portal_has_defaults_and_its_own_address() {
        let c = Config::builtin().unwrap();
        assert!(c.portal.enabled);
        assert_eq!(c.portal.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.portal.session_ttl, Duration::from_secs(12 * 3600));
        assert_eq!(c.portal.public_url, None);
        let c = Config::from_toml(
            "[portal]\nenabled = false\nsession_ttl = \"1h 30m\"\npublic_url = \"https://gh.example:8443/\"\n",
            "test.toml",
            Path::new("."),
        )
        .unwrap();
        assert!(!c.portal.enabled);
        assert_eq!(c.portal.session_ttl, Duration::from_secs(5400));
        assert_eq!(
            c.portal.public_url.as_deref(),
            Some("https://gh.example:8443")
        );
        assert_eq!(
            problems("[portal]\nlisten = \"127.0.0.1:9090\"\n"),
            ["test.toml:2:10: key `portal.listen`: `127.0.0.1:9090` is also `admin.listen`; the portal needs an address of its own"]
        );
        assert_eq!(
            problems("[portal]\nsession_ttl = \"0s\"\npublic_url = \"http://x/portal\"\n"),
            [
                "test.toml:2:15: key `portal.session_ttl`: `0s` is not a duration of more than 0; write it as `12h`, `30m` or `1h 30m`",
                "test.toml:3:14: key `portal.public_url`: `http://x/portal` is not an address of the portal; write it as `http://gatehouse.example:8080` (no path)",
            ]
        );
        assert_eq!(
            problems("[portal]\nlisten = \"127.0.0.1:0\"\n"),
            Vec::<String>::new()
        );
    }
}
