//! Hardening that is not about malformed input: hop-by-hop headers never cross the gateway,
//! `X-Forwarded-For` is off by default and configurable, and the connection limit holds.

use std::time::Duration;

use policy::Tier;
use testkit::Edit;
use testkit::{base_config, basic, raw, Gateway, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_are_removed_and_via_is_added_both_ways() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let req = format!(
        "GET http://origin.test:{p}/echo HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {a}\r\n\
Connection: close, X-Secret-Hop\r\nX-Secret-Hop: must-not-pass\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\
TE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\nVia: 1.1 client-proxy\r\nX_Under_Score: dropped\r\n\r\n",
        p = origin.port(),
        a = basic("ada", "pw")
    );
    let out = raw(gw.proxy, req.as_bytes(), Duration::from_secs(20)).await;
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    let seen = origin.seen().to_ascii_lowercase();
    for gone in [
        "x-secret-hop",
        "keep-alive",
        "proxy-connection",
        "\r\nte:",
        "\r\ntrailer:",
        "upgrade:",
        "proxy-authorization",
        "x_under_score",
        "connection: close",
    ] {
        assert!(!seen.contains(gone), "`{gone}` reached the origin:\n{seen}");
    }
    assert!(seen.contains("x-end-to-end: kept\r\n"), "{seen}");
    assert!(seen.contains("via: 1.1 client-proxy\r\n"), "{seen}");
    assert!(seen.contains("via: 1.1 gatehouse\r\n"), "{seen}");
    // Without the option, no X-Forwarded-For is added.
    assert!(!seen.contains("x-forwarded-for"), "{seen}");
    // The response to the client carries Via and the client's own connection handling.
    let head = format!("{}\r\n", out.split_once("\r\n\r\n").unwrap().0);
    assert!(head.contains("Via: 1.1 gatehouse\r\n"), "{head}");
    assert!(head.contains("Connection: close\r\n"), "{head}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_forwarded_for_is_added_only_when_configured() {
    let origin = Origin::start("127.0.0.2").await;
    let text = base_config(&origin).edit("[proxy]\n", "[proxy]\nx_forwarded_for = true\n");
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let req = format!(
        "GET http://origin.test:{p}/echo HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {a}\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n",
        p = origin.port(),
        a = basic("ada", "pw")
    );
    let out = raw(gw.proxy, req.as_bytes(), Duration::from_secs(20)).await;
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    let seen = origin.seen();
    assert!(
        seen.contains("X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n"),
        "{seen}"
    );
    assert_eq!(seen.matches("X-Forwarded-For").count(), 1, "{seen}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_further_clients_until_one_leaves() {
    let origin = Origin::start("127.0.0.2").await;
    let text = base_config(&origin).edit("[proxy]\n", "[proxy]\nmax_connections = 2\n");
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let req = format!(
        "GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {a}\r\n\r\n",
        p = origin.port(),
        a = basic("ada", "pw")
    );
    async fn one(s: &mut tokio::net::TcpStream, req: &str, wait: Duration) -> Option<String> {
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = vec![0u8; 4096];
        let mut got = String::new();
        while !got.ends_with("hello from origin\n") {
            let n = tokio::time::timeout(wait, s.read(&mut buf))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Some(got)
    }
    let mut a = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    assert!(one(&mut a, &req, Duration::from_secs(20)).await.is_some());
    assert!(one(&mut b, &req, Duration::from_secs(20)).await.is_some());
    // Two kept-alive clients hold both places: a third is not served while they stay.
    let mut c = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    assert!(one(&mut c, &req, Duration::from_millis(800))
        .await
        .is_none());
    // When one leaves, the waiting client is served.
    drop(a);
    let mut got = String::new();
    let mut buf = vec![0u8; 4096];
    while !got.ends_with("hello from origin\n") {
        let n = tokio::time::timeout(Duration::from_secs(20), c.read(&mut buf))
            .await
            .expect("the third client was never served")
            .unwrap();
        assert!(n > 0);
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let origin = Origin::start("127.0.0.2").await;
    let text = base_config(&origin).edit("idle_timeout_secs = 5", "idle_timeout_secs = 1");
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw").await;
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    let req = format!(
        "GET http://origin.test:{p}/ HTTP/1.1\r\nHost: origin.test:{p}\r\nProxy-Authorization: {a}\r\n\r\n",
        p = origin.port(),
        a = basic("ada", "pw")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with("hello from origin\n") {
        let n = testkit::within("the response", s.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0);
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // Nothing more is sent: the gateway closes the connection. The wait is longer than the second
    // this test set and shorter than the base configuration's 5 s, so only the setting can close
    // it in time.
    assert!(testkit::closed(&mut s, Duration::from_secs(3)).await);
    gw.shutdown().await;
}
