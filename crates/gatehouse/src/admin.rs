//! The admin listener's routes: `/metrics` (OpenMetrics text), `/healthz` and `/readyz` (which
//! also answers for the audit log: [`crate::checkpoints::LogHealth::unready`]).
//!
//! [`router`] is a function of the shared state alone, so the routes are tested without a server
//! (a request handed to the router) and served by [`crate::server`] on the admin socket. A new
//! admin route goes here; the portal (a later issue) gets a module of its own beside this one,
//! built the same way from the same `Arc<Gateway>`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::Gateway;

/// The admin routes over `gw`.
pub fn router(gw: Arc<Gateway>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(gw)
}

async fn metrics(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    gw.metrics.audit_queue_depth.set(gw.audit.depth() as i64);
    let now = gw.clock.now().as_microsecond();
    gw.metrics
        .audit_checkpoint_age_seconds
        .set(gw.log.checkpoint_age(now));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gw.metrics.render(),
    )
}

/// 200 when the store answers, the gateway is not draining and the audit log is healthy (its
/// start-up check passed, its store accepts events, no leaf has waited more than 3 checkpoint
/// intervals for a checkpoint); 503 with the reason otherwise.
async fn ready(State(gw): State<Arc<Gateway>>) -> impl IntoResponse {
    let store = gw.store.clone();
    let ok = tokio::task::spawn_blocking(move || store.lock().map(|s| s.ping()).unwrap_or(false))
        .await
        .unwrap_or(false);
    let unready = if *gw.draining.borrow() {
        Some("draining".to_string())
    } else if !ok {
        Some("the store does not answer".to_string())
    } else {
        gw.log.unready(gw.clock.now().as_microsecond())
    };
    match unready {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::router;
    use crate::config::Config;
    use crate::state::Gateway;

    async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_routes_answer_from_the_state_alone() {
        let dir = tempfile::tempdir().unwrap();
        let opened = Gateway::open(
            Config::builtin().unwrap(),
            dir.path(),
            Vec::new(),
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .await
        .unwrap();
        assert!(opened.initial_admin_password.is_some());
        let app = router(opened.gateway.clone());
        assert_eq!(get(&app, "/healthz").await, (StatusCode::OK, "ok\n".into()));
        assert_eq!(
            get(&app, "/readyz").await,
            (StatusCode::OK, "ready\n".into())
        );
        let (status, metrics) = get(&app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            metrics.contains("gatehouse_audit_queue_depth 0"),
            "{metrics}"
        );
        assert!(metrics.ends_with("# EOF\n"), "{metrics}");
        opened.controls.drain.send(true).unwrap();
        assert_eq!(
            get(&app, "/readyz").await,
            (StatusCode::SERVICE_UNAVAILABLE, "draining\n".into())
        );
        assert_eq!(get(&app, "/nothing").await.0, StatusCode::NOT_FOUND);
    }
}
