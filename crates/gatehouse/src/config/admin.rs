//! `[admin]`: the admin listener (`/metrics`, `/healthz`, `/readyz`), which needs an address of its
//! own, never the proxy's.

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    listen: Option<Spanned<String>>,
}

impl RawAdmin {
    /// The admin address; `proxy` is the proxy's `listen` as written and as validated.
    pub(super) fn validate(
        &self,
        v: &mut Validator<'_>,
        proxy: (&Option<Spanned<String>>, SocketAddr),
    ) -> SocketAddr {
        let admin_listen = v.socket(&self.listen, "admin.listen", "127.0.0.1:9090");
        if admin_listen == proxy.1 && admin_listen.port() != 0 {
            if let Some(s) = self.listen.as_ref().or(proxy.0.as_ref()) {
                v.err(
                    s,
                    "admin.listen",
                    format!(
                        "`{admin_listen}` is also `proxy.listen`; the admin port needs an address of its own"
                    ),
                );
            }
        }
        admin_listen
    }
}
