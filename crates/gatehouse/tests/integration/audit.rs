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

/// Stall the audit writer by holding the store's write lock, so its queue fills up.
fn lock_store(gw: &Gateway) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(gw.data_path().join("gatehouse.db")).unwrap();
    c.execute_batch("BEGIN EXCLUSIVE").unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_audit_queue_refuses_with_503_and_forwards_nothing_unrecorded() {
    let origin = Origin::start("127.0.0.4").await;
    let text = base_config(&origin).replace(
        "[audit]\n",
        "[audit]\nqueue_size = 2\nbacklog_wait_ms = 50\n",
    );
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let url = |i: usize| format!("http://origin.test:{}/b{i}", origin.port());
    assert_eq!(
        curl(&["-x", &gw.proxy_url(), "-U", "ada:pw", &url(0)])
            .await
            .status,
        200
    );
    gw.flush_audit().await;
    let lock = lock_store(&gw);
    let mut refused = None;
    let mut allowed = vec![];
    for i in 1..20 {
        let before = origin.requests();
        let out = curl(&["-x", &gw.proxy_url(), "-U", "ada:pw", &url(i)]).await;
        if out.status == 503 {
            assert_eq!(
                out.header("x-gatehouse-rule").as_deref(),
                Some("audit_backlog")
            );
            assert_eq!(
                origin.requests(),
                before,
                "a request refused for the backlog reached the origin"
            );
            refused = Some(i);
            break;
        }
        assert_eq!(out.status, 200);
        allowed.push(i);
    }
    let refused = refused.expect("the audit queue never filled");
    drop(lock);
    gw.flush_audit().await;
    let events = gw.audit();
    for i in allowed {
        let u = url(i);
        assert!(
            events
                .iter()
                .any(|e| e.url.as_deref() == Some(&*u) && e.decision == "allow"),
            "allowed request {i} is not in the audit trail"
        );
    }
    assert!(!events
        .iter()
        .any(|e| e.url.as_deref() == Some(&*url(refused)) && e.status == 200));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_backlog_drop_requests_go_through_and_every_loss_is_counted() {
    let origin = Origin::start("127.0.0.4").await;
    let text = base_config(&origin).replace(
        "[audit]\n",
        "[audit]\nqueue_size = 2\nbacklog_wait_ms = 50\non_backlog = \"drop\"\n",
    );
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let lock = lock_store(&gw);
    for i in 0..8 {
        let u = format!("http://origin.test:{}/d{i}", origin.port());
        assert_eq!(
            curl(&["-x", &gw.proxy_url(), "-U", "ada:pw", &u])
                .await
                .status,
            200
        );
    }
    let m = curl(&[&format!("http://{}/metrics", gw.admin)])
        .await
        .text();
    let dropped: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("gatehouse_audit_dropped_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    drop(lock);
    gw.flush_audit().await;
    let recorded = gw
        .audit()
        .iter()
        .filter(|e| e.url.as_deref().is_some_and(|u| u.contains("/d")))
        .count() as u64;
    assert!(dropped > 0, "{m}");
    assert_eq!(
        recorded + dropped,
        8,
        "recorded {recorded}, dropped {dropped}"
    );
    gw.shutdown().await;
}
