//! The audit trail and the admin port: one event per request (allowed, refused, malformed), the
//! Squid-format access log, metrics, health and readiness.

use std::time::Duration;

use policy::Tier;
use testkit::{base_config, curl, raw, Gateway, Origin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_refused_and_malformed_requests_each_leave_one_event() {
    let origin = Origin::start("127.0.0.4").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Filtered, "pw-ada").await;
    let p = gw.proxy_url();
    let ok = format!("http://origin.test:{}/size/1234", origin.port());
    let refused = format!("http://other.test:{}/", origin.port());
    assert_eq!(curl(&["-x", &p, "-U", "ada:pw-ada", &ok]).await.status, 200);
    assert_eq!(
        curl(&["-x", &p, "-U", "ada:pw-ada", &refused]).await.status,
        403
    );
    assert_eq!(curl(&["-x", &p, &ok]).await.status, 407);
    let bad = raw(
        gw.proxy,
        b"GET http://origin.test/ HTTP/1.1\nHost: origin.test\n\n",
        Duration::from_secs(20),
    )
    .await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 4, "{events:#?}");
    let allowed = &events[0];
    assert_eq!(allowed.principal.as_deref(), Some("ada"));
    assert_eq!(allowed.method, "GET");
    assert_eq!(
        allowed.destination,
        format!("origin.test:{}", origin.port())
    );
    assert_eq!(
        allowed.url.as_deref(),
        Some(&*format!("http://origin.test:{}/size/1234", origin.port()))
    );
    assert_eq!(
        (allowed.decision.as_str(), allowed.rule.as_str()),
        ("allow", "filtered-allow:research")
    );
    assert_eq!(
        (allowed.status, allowed.bytes_down, allowed.stage.as_str()),
        (200, 1234, "done")
    );
    assert!(allowed.client.starts_with("127.0.0.1:"));
    let denied = &events[1];
    assert_eq!(
        (
            denied.decision.as_str(),
            denied.rule.as_str(),
            denied.status
        ),
        ("deny", "filtered-default", 403)
    );
    assert_eq!(denied.destination, format!("other.test:{}", origin.port()));
    let anon = &events[2];
    assert_eq!(
        (anon.decision.as_str(), anon.rule.as_str(), anon.status),
        ("deny", "auth-required", 407)
    );
    assert_eq!(anon.principal, None);
    let malformed = &events[3];
    assert_eq!(
        (
            malformed.decision.as_str(),
            malformed.rule.as_str(),
            malformed.status
        ),
        ("error", "bare_lf", 400)
    );
    assert_eq!(malformed.stage, "parse");
    // The Squid-format log has the same four lines, in Squid's native shape.
    let log = std::fs::read_to_string(gw.data_path().join("access.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    let f: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(f.len(), 10, "{}", lines[0]);
    assert!(f[0].contains('.'));
    assert_eq!(f[2], "127.0.0.1");
    assert_eq!(f[3], "TCP_MISS/200");
    assert_eq!(f[4], "1234");
    assert_eq!(f[5], "GET");
    assert_eq!(f[7], "ada");
    assert_eq!(f[8], "HIER_DIRECT/127.0.0.4");
    assert!(lines[1].contains(" TCP_DENIED/403 "), "{}", lines[1]);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_readiness_on_the_admin_port() {
    let origin = Origin::start("127.0.0.4").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let url = format!("http://origin.test:{}/", origin.port());
    assert_eq!(
        curl(&["-x", &gw.proxy_url(), "-U", "ada:pw-ada", &url])
            .await
            .status,
        200
    );
    let admin = format!("http://{}", gw.admin);
    let health = curl(&[&format!("{admin}/healthz")]).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let ready = curl(&[&format!("{admin}/readyz")]).await;
    assert_eq!(ready.status, 200);
    let m = curl(&[&format!("{admin}/metrics")]).await.text();
    for needle in [
        "gatehouse_requests_total{decision=\"allow\",rule=\"tier-open\"} 1",
        "gatehouse_active_connections ",
        "gatehouse_bytes_total{direction=\"down\"} 18",
        "gatehouse_decision_duration_seconds_bucket{le=\"0.000005\"}",
        "gatehouse_upstream_connect_duration_seconds_count 1",
        "gatehouse_audit_queue_depth ",
        "gatehouse_audit_dropped_total 0",
    ] {
        assert!(m.contains(needle), "missing `{needle}` in metrics:\n{m}");
    }
    gw.shutdown().await;
}
