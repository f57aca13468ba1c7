//! The audit trail and the admin port: one event per request (allowed, refused, malformed, cut
//! short by shutdown), the Squid-format access log, metrics, health and readiness.

use std::time::Duration;

use policy::Tier;
use testkit::Edit;
use testkit::{base_config, basic, curl, raw, Gateway, Origin, RawOrigin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_refused_and_malformed_requests_each_leave_one_event() {
    let origin = Origin::start("127.0.0.4").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Filtered, "pw-ada").await;
    let p = gw.proxy_url();
    let ok = format!("http://origin.test:{}/size/1234", origin.port());
    let refused = format!("http://other.test:{}/", origin.port());
    let allowed_reply = curl(&["-x", &p, "-U", "ada:pw-ada", &ok]).await;
    assert_eq!(allowed_reply.status, 200);
    let denied_reply = curl(&["-x", &p, "-U", "ada:pw-ada", &refused]).await;
    assert_eq!(denied_reply.status, 403);
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
    // Squid's reply size: everything sent to the client, head included.
    assert_eq!(
        f[4],
        (allowed_reply.headers.len() + 1234).to_string(),
        "{}",
        lines[0]
    );
    assert_eq!(f[5], "GET");
    assert_eq!(f[7], "ada");
    assert_eq!(f[8], "HIER_DIRECT/127.0.0.4");
    // Squid's type field: the reply's media type, without parameters.
    let sent_type = allowed_reply.header("content-type").unwrap();
    assert_eq!(
        f[9],
        sent_type.split(';').next().unwrap().trim(),
        "{}",
        lines[0]
    );
    assert_eq!(f[9], "application/octet-stream");
    assert!(lines[1].contains(" TCP_DENIED/403 "), "{}", lines[1]);
    // curl is not a browser: its refusal page is plain text, and the log says so.
    assert!(lines[1].ends_with(" text/plain"), "{}", lines[1]);
    assert!(lines[2].ends_with(" text/plain"), "{}", lines[2]);
    let denied_bytes = denied_reply.headers.len() + denied_reply.body.len();
    assert!(
        lines[1].contains(&format!(" TCP_DENIED/403 {denied_bytes} GET ")),
        "{}",
        lines[1]
    );
    let m: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(m[3], "NONE_NONE/400", "{}", lines[3]);
    assert_eq!(m[4], bad.len().to_string(), "{}", lines[3]);
    assert!(
        lines[3].ends_with(" NONE error:invalid-request - HIER_NONE/- text/plain"),
        "{}",
        lines[3]
    );
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
        "gatehouse_config_reloads_total{code=\"invalid\"} 0",
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
    let text = base_config(&origin).edit(
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
    let text = base_config(&origin).edit(
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

/// Read from `s` until `n` bytes arrived in all.
async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0u8; n];
    tokio::time::timeout(SAFETY, s.read_exact(&mut got))
        .await
        .expect("the bytes did not arrive")
        .unwrap();
    got
}

/// Wait until `cond` holds for `origin`'s first connection.
async fn wait_origin(origin: &RawOrigin, what: &str, cond: impl Fn(&[u8]) -> bool) {
    let deadline = tokio::time::Instant::now() + SAFETY;
    while !origin
        .connections()
        .first()
        .is_some_and(|c| cond(&c.received))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cut_at_the_end_of_the_grace_period_are_recorded_with_what_they_relayed() {
    let origin = Origin::start("127.0.0.4").await;
    // Long enough for the admin port to be read during the drain, even on a slow machine.
    let text = base_config(&origin).edit("shutdown_grace_secs = 5", "shutdown_grace_secs = 3");
    let mut gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let auth = basic("ada", "pw");

    // 1. A CONNECT tunnel that carried one exchange and then sits open.
    let p = origin.port();
    let mut tunnel = TcpStream::connect(gw.proxy).await.unwrap();
    let connect = format!(
        "CONNECT origin.test:{p} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\n\r\n"
    );
    tunnel.write_all(connect.as_bytes()).await.unwrap();
    let established = b"HTTP/1.1 200 Connection established\r\nVia: 1.1 gatehouse\r\n\r\n";
    assert_eq!(read_n(&mut tunnel, established.len()).await, established);
    let inner = format!("GET /size/300 HTTP/1.1\r\nHost: origin.test:{p}\r\n\r\n");
    tunnel.write_all(inner.as_bytes()).await.unwrap();
    let inner_head =
        "HTTP/1.1 200 OK\r\nContent-Length: 300\r\nContent-Type: application/octet-stream\r\n\r\n";
    let inner_len = inner_head.len() + 300;
    assert!(read_n(&mut tunnel, inner_len)
        .await
        .starts_with(inner_head.as_bytes()));

    // 2. A download whose origin sent 1,000 of 1,000,000 bytes and stalls.
    let stalled = RawOrigin::start(
        "127.0.0.4",
        &[
            &b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"[..],
            &[b'd'; 1000],
        ]
        .concat(),
        false,
    )
    .await;
    let download_url = format!("http://127.0.0.4:{}/download", stalled.port());
    let mut download = TcpStream::connect(gw.proxy).await.unwrap();
    let get = format!(
        "GET {download_url} HTTP/1.1\r\nHost: 127.0.0.4:{}\r\nProxy-Authorization: {auth}\r\n\r\n",
        stalled.port()
    );
    download.write_all(get.as_bytes()).await.unwrap();
    let download_head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nVia: 1.1 gatehouse\r\n\r\n";
    let got = read_n(&mut download, download_head.len() + 1000).await;
    assert!(got.starts_with(download_head.as_bytes()));

    // 3. An upload that sent 10 of 100,000 body bytes to an origin that has not answered.
    let silent = RawOrigin::start("127.0.0.4", b"", false).await;
    let upload_url = format!("http://127.0.0.4:{}/upload", silent.port());
    let mut upload = TcpStream::connect(gw.proxy).await.unwrap();
    let post = format!(
        "POST {upload_url} HTTP/1.1\r\nHost: 127.0.0.4:{}\r\nProxy-Authorization: {auth}\r\nContent-Length: 100000\r\n\r\n",
        silent.port()
    );
    upload.write_all(post.as_bytes()).await.unwrap();
    upload.write_all(b"0123456789").await.unwrap();
    wait_origin(&silent, "the upload's first bytes reach the origin", |r| {
        r.ends_with(b"\r\n\r\n0123456789")
    })
    .await;

    // SIGTERM's path, in-process: drain, 3 s of grace, then cut. The data directory stays.
    let handle = gw.server.as_ref().unwrap().gateway().clone();
    let shutdown = tokio::spawn(gw.server.take().unwrap().shutdown());
    // While it drains, the admin port still answers: not ready, and the metrics readable.
    let admin = format!("http://{}", gw.admin);
    let mut ready = curl(&[&format!("{admin}/readyz")]).await;
    for _ in 0..50 {
        if ready.status != 200 {
            break;
        }
        // The shutdown task has not started draining yet.
        tokio::time::sleep(Duration::from_millis(10)).await;
        ready = curl(&[&format!("{admin}/readyz")]).await;
    }
    assert_eq!((ready.status, ready.text().as_str()), (503, "draining\n"));
    let during = curl(&[&format!("{admin}/metrics")]).await;
    assert_eq!(during.status, 200);
    assert!(
        during.text().contains("gatehouse_active_connections 3"),
        "{}",
        during.text()
    );
    shutdown.await.unwrap();
    // Once stopped, the admin port is closed too.
    assert_eq!(curl(&[&format!("{admin}/healthz")]).await.status, 0);
    for (name, s) in [
        ("tunnel", &mut tunnel),
        ("download", &mut download),
        ("upload", &mut upload),
    ] {
        assert!(
            testkit::closed(s, Duration::from_secs(5)).await,
            "the {name} stayed open"
        );
    }

    let events = gw.audit();
    assert_eq!(events.len(), 3, "{events:#?}");
    let find = |method: &str| events.iter().find(|e| e.method == method).unwrap();
    let row = |e: &gatehouse::store::AuditRow| {
        (
            e.decision.clone(),
            e.rule.clone(),
            e.status,
            e.bytes_up,
            e.bytes_down,
            e.stage.clone(),
            e.error.clone(),
        )
    };
    let cut = |status, up: usize, down: usize| {
        (
            "allow".to_string(),
            "tier-open".to_string(),
            status,
            up as u64,
            down as u64,
            "forward".to_string(),
            Some("shutdown".to_string()),
        )
    };
    assert_eq!(row(find("CONNECT")), cut(200, inner.len(), inner_len));
    assert_eq!(row(find("GET")), cut(200, 0, 1000));
    // No response head reached the client: status 0.
    assert_eq!(row(find("POST")), cut(0, 10, 0));
    assert_eq!(find("GET").url.as_deref(), Some(&*download_url));

    let metrics = handle.metrics.render();
    for needle in [
        "gatehouse_audit_lost_total 0",
        "gatehouse_request_errors_total{code=\"shutdown\"} 3",
    ] {
        assert!(
            metrics.contains(needle),
            "missing `{needle}` in:\n{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_that_fails_after_the_decision_keeps_the_allowing_rule_and_its_error() {
    let origin = Origin::start("127.0.0.4").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    // A port on an allowed address where nothing listens: allowed, then the connect fails.
    let closed = std::net::TcpListener::bind("127.0.0.4:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = curl(&[
        "-x",
        &gw.proxy_url(),
        "-U",
        "ada:pw",
        &format!("http://origin.test:{port}/"),
    ])
    .await;
    assert_eq!(out.status, 502);
    // The page reports the request's decision as the audit trail and the metrics do: allowed by
    // its rule, with the error beside it.
    assert_eq!(
        (
            out.header("x-gatehouse-decision").as_deref(),
            out.header("x-gatehouse-rule").as_deref(),
            out.header("x-gatehouse-error").as_deref()
        ),
        (
            Some("allow"),
            Some("tier-open"),
            Some("upstream_connect_failed")
        )
    );
    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(
        (
            e.decision.as_str(),
            e.rule.as_str(),
            e.status,
            e.error.as_deref()
        ),
        ("allow", "tier-open", 502, Some("upstream_connect_failed"))
    );
    let metrics = gw.server.as_ref().unwrap().gateway().metrics.render();
    for needle in [
        "gatehouse_requests_total{decision=\"allow\",rule=\"tier-open\"} 1",
        "gatehouse_request_errors_total{code=\"upstream_connect_failed\"} 1",
    ] {
        assert!(
            metrics.contains(needle),
            "missing `{needle}` in:\n{metrics}"
        );
    }
    assert!(!metrics.contains("decision=\"error\""), "{metrics}");
    gw.shutdown().await;
}

/// The Squid log writes what Squid writes (issue 10, point 16). A request Squid could not turn
/// into a proxy request — an origin-form or asterisk-form target, a target that does not parse —
/// is `NONE_NONE/400` with the method and target as received, no user and `HIER_NONE/-` (Squid's
/// `ERR_INVALID_URL` path, `setLogUriToRawUri`); a head that does not parse is `NONE_NONE/400 …
/// NONE error:invalid-request` (`abortRequestParsing`). A refusal connected to nothing, CONNECT
/// included, is `TCP_DENIED` with `HIER_NONE/-`; so is a connect that failed: `HIER_DIRECT/<ip>`
/// names only an origin gatehouse connected to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_squid_log_writes_invalid_and_refused_requests_as_squid_does() {
    let origin = Origin::start("127.0.0.4").await;
    // A CONNECT port on an allowed address where nothing listens: allowed, then the connect fails.
    let closed = std::net::TcpListener::bind("127.0.0.4:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = base_config(&origin).edit(
        "connect_ports = [443, ",
        &format!("connect_ports = [443, {closed_port}, "),
    );
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    gw.add_user("fil", Tier::Filtered, "pw-fil").await;
    let ada = basic("ada", "pw-ada");
    let fil = basic("fil", "pw-fil");
    let p = origin.port();
    let head = |line: &str, auth: &str| {
        format!("{line} HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n")
    };
    // (request, the reply's status) in order; the log lines follow in the same order.
    let requests = [
        head("GET /index.html?q=1", &ada),
        head("OPTIONS *", &ada),
        head(&format!("GET http://origin.test:{p}/#frag"), &ada),
        "GET http://origin.test/ HTTP/1.1\nHost: origin.test\n\n".to_string(),
        format!("CONNECT origin.test:{p} HTTP/1.1\r\nHost: origin.test:{p}\r\n\r\n"),
        format!("CONNECT other.test:{p} HTTP/1.1\r\nHost: other.test:{p}\r\nProxy-Authorization: {fil}\r\n\r\n"),
        format!("CONNECT origin.test:8443 HTTP/1.1\r\nHost: origin.test:8443\r\nProxy-Authorization: {ada}\r\n\r\n"),
        format!("CONNECT loop.test:{p} HTTP/1.1\r\nHost: loop.test:{p}\r\nProxy-Authorization: {ada}\r\n\r\n"),
        format!("CONNECT origin.test:{closed_port} HTTP/1.1\r\nHost: origin.test:{closed_port}\r\nProxy-Authorization: {ada}\r\n\r\n"),
    ];
    let mut sizes = Vec::new();
    for req in &requests {
        let reply = testkit::exchange(gw.proxy, req.as_bytes()).await;
        sizes.push((reply.status(), reply.text.len()));
    }
    gw.flush_audit().await;
    let log = std::fs::read_to_string(gw.data_path().join("access.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), requests.len(), "{log}");
    // Fields after the time and the elapsed milliseconds, which the test cannot know.
    let expected = [
        "NONE_NONE/400 {} GET /index.html?q=1 - HIER_NONE/- text/plain".to_string(),
        "NONE_NONE/400 {} OPTIONS * - HIER_NONE/- text/plain".to_string(),
        format!("NONE_NONE/400 {{}} GET http://origin.test:{p}/#frag - HIER_NONE/- text/plain"),
        "NONE_NONE/400 {} NONE error:invalid-request - HIER_NONE/- text/plain".to_string(),
        format!("TCP_DENIED/407 {{}} CONNECT origin.test:{p} - HIER_NONE/- text/plain"),
        format!("TCP_DENIED/403 {{}} CONNECT other.test:{p} fil HIER_NONE/- text/plain"),
        "TCP_DENIED/403 {} CONNECT origin.test:8443 ada HIER_NONE/- text/plain".to_string(),
        format!("TCP_DENIED/403 {{}} CONNECT loop.test:{p} ada HIER_NONE/- text/plain"),
        format!("TCP_TUNNEL_ABORTED/502 {{}} CONNECT origin.test:{closed_port} ada HIER_NONE/- text/plain"),
    ];
    for ((line, want), (status, size)) in lines.iter().zip(&expected).zip(&sizes) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 10, "{line}");
        assert_eq!(f[2], "127.0.0.1", "{line}");
        assert_eq!(
            f[3],
            format!("{}/{status}", f[3].split('/').next().unwrap()),
            "{line}"
        );
        let want = want.replace("{}", &size.to_string());
        assert_eq!(f[3..].join(" "), want, "{line}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sign_in_records_the_name_it_tried_printable_and_bounded() {
    let origin = Origin::start("127.0.0.4").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let url = format!("http://origin.test:{}/", origin.port());
    let long = format!("m\u{1b}[31m{}", "x".repeat(300));
    for user in ["ada:wrong", "nobody:pw", &format!("{long}:pw")] {
        let out = curl(&["-x", &gw.proxy_url(), "-U", user, &url]).await;
        assert_eq!(out.status, 407, "{user}");
    }
    let out = curl(&["-x", &gw.proxy_url(), &url]).await;
    assert_eq!(out.status, 407);
    gw.flush_audit().await;
    let tried: Vec<(Option<String>, Option<String>, String)> = gw
        .audit()
        .into_iter()
        .map(|e| (e.principal, e.tried_principal, e.rule))
        .collect();
    let bounded = format!("m?[31m{}…", "x".repeat(58));
    assert_eq!(
        tried,
        vec![
            (None, Some("ada".into()), "auth-failed".into()),
            (None, Some("nobody".into()), "auth-failed".into()),
            (None, Some(bounded), "auth-failed".into()),
            (None, None, "auth-required".into()),
        ]
    );
    // Nothing of these reached the origin.
    assert_eq!(origin.requests(), 0);
    gw.shutdown().await;
}
