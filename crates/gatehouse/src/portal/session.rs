//! Who is looking at the portal: the session cookie, tokens and their hashes, the CSRF token, the
//! origin check, and [`Viewer`], the logged-in person a handler acts for.
//!
//! Guarantees:
//! - a session token is 32 random bytes; the store holds only its BLAKE3 hash;
//! - the CSRF token of a session is derived from the session's token (BLAKE3 `derive_key`), so it
//!   needs no storage and cannot be computed from anything the store or a page of another site
//!   holds; it is compared in constant time;
//! - [`Person`] is how a page handler gets its viewer (a redirect to `/login` otherwise);
//! - a request is a viewer's only while its session is in the store, unexpired, and its principal
//!   exists and is enabled, all read from the store at that request (not from a snapshot);
//! - an `/api/v1` call may instead carry a service-account token ([`api_viewer`]), found the same
//!   way (unrevoked, unexpired, its principal enabled, at that request); a call with both a cookie
//!   and a token is refused, and pages never accept a token.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};

use super::{Portal, PortalError};
use crate::store::{PortalSessionRow, PrincipalRow, Role, StoreError};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "gatehouse_session";
/// The cookie that binds the login form's CSRF token to the browser that loaded the form.
pub(crate) const LOGIN_COOKIE: &str = "gatehouse_login";

/// The logged-in person a request acts for.
pub(crate) struct Viewer {
    pub principal: PrincipalRow,
    /// The portal session; `None` for an API call authenticated by a service-account token.
    pub session: Option<PortalSessionRow>,
    /// The service-account token the call was authenticated by (`/api/v1` only).
    pub token: Option<i64>,
    /// The hash of the session's token (the store's key of the session).
    pub token_hash: String,
    /// The token forms of this session must carry.
    pub csrf: String,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.principal.role == Role::Admin
    }

    /// An approver or an admin: who may open the review queue.
    pub fn reviews(&self) -> bool {
        matches!(self.principal.role, Role::Approver | Role::Admin)
    }

    pub fn name(&self) -> &str {
        &self.principal.name
    }

    /// Authenticated by a service-account token (no cookie, so no CSRF to guard against).
    pub fn bearer(&self) -> bool {
        self.token.is_some()
    }
}

/// A page's logged-in person, as a handler argument: without a live session the page answers
/// with a redirect to `/login` (`303`) and shows nothing.
pub(crate) struct Person(pub Viewer);

impl FromRequestParts<Arc<Portal>> for Person {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Arc<Portal>,
    ) -> Result<Person, Response> {
        match viewer(portal, &parts.headers).await {
            Ok(Some(v)) => Ok(Person(v)),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The value of cookie `name` in the request, if it sent one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A new random token: 32 bytes, URL-safe base64.
pub(crate) fn new_token() -> Result<String, PortalError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| PortalError::Random(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a session token.
pub(crate) fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// The CSRF token of the session whose token is `token`.
pub(crate) fn csrf_of(token: &str) -> String {
    let key = blake3::derive_key("gatehouse portal 2026-12 csrf token", token.as_bytes());
    blake3::Hash::from(key).to_hex().to_string()
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a state-changing request comes from the portal's own pages: its `Origin` is the
/// portal's origin (or `http://` and the `Host` it was sent to); without `Origin`, the browser
/// says `Sec-Fetch-Site: same-origin`. Anything else (another site, `null`, neither header) is
/// refused, and so is a request whose browser says it came from elsewhere (`Sec-Fetch-Site`
/// other than `same-origin`), whatever its `Origin`.
pub(crate) fn same_origin(portal: &Portal, headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site");
    if fetch_site.is_some_and(|v| v.as_bytes() != b"same-origin") {
        return false;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let by_host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| origin.strip_prefix("http://") == Some(h));
        return origin == portal.origin || by_host;
    }
    fetch_site.is_some()
}

/// The `Set-Cookie` value of a new session (or, with `None`, of a session ended).
pub(crate) fn session_cookie(portal: &Portal, token: Option<&str>) -> String {
    cookie_value(
        portal,
        SESSION_COOKIE,
        token,
        portal.settings.session_ttl.as_secs(),
    )
}

/// The `Set-Cookie` value of the login form's token (or, with `None`, its removal).
pub(crate) fn login_cookie(portal: &Portal, token: Option<&str>) -> String {
    cookie_value(portal, LOGIN_COOKIE, token, 3600)
}

fn cookie_value(portal: &Portal, name: &str, value: Option<&str>, max_age: u64) -> String {
    let secure = if portal.origin.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let (value, max_age) = match value {
        Some(v) => (v, max_age),
        None => ("", 0),
    };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}")
}

/// The person whose session the request's cookie names, if it names a live one.
pub(crate) async fn viewer(
    portal: &Portal,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, PortalError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = token_hash(token);
    let csrf = csrf_of(token);
    let now = portal.now_us();
    let key = hash.clone();
    let found = portal
        .with_store(move |s| {
            let Some(session) = s.portal_session(&key, now)? else {
                return Ok(None);
            };
            match s.principal(&session.principal) {
                Ok(p) => Ok(Some((session, p))),
                Err(StoreError::NoSuchPrincipal(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
    Ok(found.map(|(session, principal)| Viewer {
        principal,
        session: Some(session),
        token: None,
        token_hash: hash,
        csrf,
    }))
}

/// Who an `/api/v1` call is from: a portal session's cookie or a service-account token
/// (`Authorization: Bearer gh_…`), never both.
pub(crate) enum ApiAuth {
    Viewer(Box<Viewer>),
    /// Neither a cookie nor a bearer token (or a cookie of no live session).
    Anonymous,
    /// A bearer token that names no live token of an enabled principal.
    BadToken,
    /// A cookie and a bearer token at once: ambiguous, refused (`400`).
    Both,
}

/// The bearer token of an `Authorization: Bearer …` header, if the request has one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller of an API route: [`viewer`] for a cookie, or the principal of a live
/// service-account token, read from the store at this request (its `last_used` moved at most
/// once a minute). Page routes use [`viewer`] and never look at bearer tokens.
pub(crate) async fn api_viewer(
    portal: &Portal,
    headers: &HeaderMap,
) -> Result<ApiAuth, PortalError> {
    let Some(token) = bearer_token(headers) else {
        return Ok(viewer(portal, headers)
            .await?
            .map_or(ApiAuth::Anonymous, |v| ApiAuth::Viewer(Box::new(v))));
    };
    if cookie(headers, SESSION_COOKIE).is_some() {
        return Ok(ApiAuth::Both);
    }
    if !token.starts_with(crate::accounts::TOKEN_PREFIX) {
        return Ok(ApiAuth::BadToken);
    }
    let (hash, now) = (crate::accounts::token_hash(token), portal.now_us());
    let found = portal
        .with_store(move |s| s.token_principal(&hash, now))
        .await?;
    Ok(match found {
        Some((t, principal)) => ApiAuth::Viewer(Box::new(Viewer {
            principal,
            session: None,
            token: Some(t.id),
            token_hash: String::new(),
            csrf: String::new(),
        })),
        None => ApiAuth::BadToken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_tokens_compare_whole() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; gatehouse_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), None);
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
        let t = new_token().unwrap();
        assert_eq!(t.len(), 43);
        assert_ne!(t, new_token().unwrap());
        assert_ne!(
            csrf_of(&t),
            token_hash(&t),
            "the CSRF token is not the stored hash"
        );
    }
}
