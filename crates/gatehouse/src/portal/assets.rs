//! `/static/`: the portal's two static files, compiled into the binary — the vendored htmx
//! (`htmx.min.js`, from the npm package `htmx.org`, its licence header kept; version in
//! [`HTMX_VERSION`]) and the style sheet (`portal.css`).
//!
//! They are answered with `Cache-Control: public, max-age=86400` and an `ETag` naming the
//! gatehouse and htmx versions, so a browser asks again at most daily and gets `304` when
//! nothing changed. Any other name is `404`.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// The version of the vendored htmx (`assets/htmx.min.js`).
pub const HTMX_VERSION: &str = "4.0.1";

const HTMX: &str = include_str!("../../assets/htmx.min.js");
const CSS: &str = include_str!("../../assets/portal.css");

/// `GET /static/{file}`.
pub(crate) async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "portal.css" => (CSS, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let etag = format!(
        "\"{}-{HTMX_VERSION}-{}\"",
        env!("CARGO_PKG_VERSION"),
        blake3::hash(body.as_bytes())
            .to_hex()
            .as_str()
            .get(..12)
            .unwrap_or("")
    );
    let cache = [
        (header::CACHE_CONTROL, "public, max-age=86400".to_string()),
        (header::ETAG, etag.clone()),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, kind)], body).into_response()
}
