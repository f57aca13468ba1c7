//! Canonical destinations: every spelling of a host (case, trailing dot, percent-encoding, IDN,
//! decimal/octal/hex/short IPv4, IPv4-mapped IPv6) reaches the decision in one canonical form, so no
//! spelling bypasses a list or an address rule; the origin sees the canonical `Host`; and a `Host`
//! header can never name something other than the target that was decided on. Each refusal is
//! checked from both sides: what the client got, and that the listener the spelling points at (which
//! would have answered had the rule been bypassed) saw nothing.

use policy::Tier;
use testkit::get_head as get;
use testkit::Edit;
use testkit::{base_config, basic, exchange, with_hosts, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `GET http://authority/path` with `Host: authority`, spelled exactly the same way.
fn get_as_spelled(authority: &str, path: &str, auth: &str) -> Vec<u8> {
    get(&format!("http://{authority}{path}"), authority, auth)
}

/// The origin's bytes received since `mark`.
fn seen_since(origin: &Origin, mark: usize) -> String {
    let all = origin.received.lock().unwrap().bytes.clone();
    String::from_utf8_lossy(&all[mark..]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_an_allowed_name_is_allowed_and_forwarded_in_canonical_form() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("fil", Tier::Filtered, "s3cret-fil").await;
    let auth = basic("fil", "s3cret-fil");
    let p = origin.port();
    let spellings = [
        format!("origin.test:{p}"),
        format!("ORIGIN.TEST:{p}"),
        format!("origin.test.:{p}"),
        format!("Origin.Test:{p}"),
        format!("ORIGIN.TEST.:{p}"),
        format!("%6Frigin.test:{p}"),
        format!("%4F%52IGIN.test:{p}"),
        format!("origin%2Etest:{p}"),
        format!("origin.test:0{p}"),
        format!("allowed.test:{p}"),
    ];
    for authority in &spellings {
        let mark = origin.seen_bytes();
        let r = exchange(gw.proxy, &get_as_spelled(authority, "/canon?q=1", &auth)).await;
        assert_eq!(r.status(), 200, "{authority}: {}", r.text);
        assert!(
            r.text.ends_with("hello from origin\n"),
            "{authority}: {}",
            r.text
        );
        let seen = seen_since(&origin, mark);
        let want_host = if authority.starts_with("allowed") {
            "allowed.test"
        } else {
            "origin.test"
        };
        assert!(
            seen.starts_with("GET /canon?q=1 HTTP/1.1\r\n"),
            "{authority}: {seen}"
        );
        assert!(
            seen.contains(&format!("\r\nHost: {want_host}:{p}\r\n")),
            "{authority}: {seen}"
        );
        assert_eq!(seen.matches("Host:").count(), 1, "{authority}: {seen}");
        if authority.as_str() != format!("{want_host}:{p}") {
            assert!(
                !seen.contains(authority.as_str()),
                "{authority} reached the origin as spelled: {seen}"
            );
        }
    }
    assert_eq!(origin.requests(), spellings.len());
    // The audit trail records the canonical destination and the list that allowed it.
    gw.flush_audit().await;
    let rows = gw.audit();
    assert_eq!(rows.len(), spellings.len(), "{rows:#?}");
    for row in &rows {
        assert!(
            row.destination == format!("origin.test:{p}")
                || row.destination == format!("allowed.test:{p}"),
            "{row:?}"
        );
        assert_eq!(row.rule, "filtered-allow:research", "{row:?}");
        assert_eq!(row.decision, "allow", "{row:?}");
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_denied_name_is_refused_by_the_list() {
    // The denied names resolve to the origin (`denied.origin.test` through the base configuration),
    // so a spelling that slipped past the list would reach it.
    let origin = Origin::start("127.0.0.2").await;
    let ip = origin.addr.ip().to_string();
    let config = with_hosts(
        &base_config(&origin),
        &[
            ("ads.test", &ip),
            ("x.ads.test", &ip),
            ("a.b.ads.test", &ip),
            ("notads.test", &ip),
            ("ads.test.example.test", &ip),
        ],
    );
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    gw.add_user("fil", Tier::Filtered, "s3cret-fil").await;
    let p = origin.port();
    let spellings = [
        format!("ads.test:{p}"),
        format!("ads.test.:{p}"),
        format!("ADS.test:{p}"),
        format!("ADS.TEST.:{p}"),
        format!("x.ads.test:{p}"),
        format!("X.Ads.Test.:{p}"),
        format!("a.b.ads.test:{p}"),
        format!("%61ds.test:{p}"),
        format!("ads%2Etest:{p}"),
        format!("x%2eads.test:{p}"),
        // UTS #46 maps the ideographic full stop to `.` and fullwidth letters to ASCII.
        format!("ads%E3%80%82test:{p}"),
        format!("%EF%BD%81ds.test:{p}"),
        format!("denied.origin.test:{p}"),
        format!("DENIED.Origin.Test.:{p}"),
    ];
    // Filtered users are refused by the global list too (it comes before their allow list, which
    // allows origin.test and so every subdomain of it).
    for (user, auth) in [
        ("ada", basic("ada", "s3cret-ada")),
        ("fil", basic("fil", "s3cret-fil")),
    ] {
        for authority in &spellings {
            let r = exchange(gw.proxy, &get_as_spelled(authority, "/", &auth)).await;
            let ctx = format!("{user} {authority}: {}", r.text);
            assert_eq!(r.status(), 403, "{ctx}");
            assert_eq!(r.rule().as_deref(), Some("global-deny:ads"), "{ctx}");
            assert_eq!(
                r.header("x-gatehouse-decision").as_deref(),
                Some("deny"),
                "{ctx}"
            );
            assert_eq!(origin.connections(), 0, "{ctx}");
            assert_eq!(origin.seen_bytes(), 0, "{ctx}");
        }
    }
    // Without a port too (80: nothing listens there, and nothing is tried).
    let auth = basic("ada", "s3cret-ada");
    for authority in ["ads.test.", "ADS.test", "x.ads.test"] {
        let r = exchange(gw.proxy, &get_as_spelled(authority, "/", &auth)).await;
        assert_eq!(r.status(), 403, "{authority}: {}", r.text);
        assert_eq!(r.rule().as_deref(), Some("global-deny:ads"), "{authority}");
    }
    gw.flush_audit().await;
    let rows = gw.audit();
    assert!(
        rows.iter()
            .all(|r| r.rule == "global-deny:ads" && r.decision == "deny"),
        "{rows:#?}"
    );
    assert_eq!(origin.seen_bytes(), 0);
    // Control: the list matches whole labels only, so names that merely end in the same letters go
    // through to the same origin.
    for authority in [
        format!("notads.test:{p}"),
        format!("ads.test.example.test:{p}"),
    ] {
        let r = exchange(gw.proxy, &get_as_spelled(&authority, "/", &auth)).await;
        assert_eq!(r.status(), 200, "{authority}: {}", r.text);
    }
    assert_eq!(origin.requests(), 2);
    // Recorded canonically.
    assert!(rows
        .iter()
        .any(|r| r.destination == format!("ads.test:{p}")));
    assert!(rows.iter().any(|r| r.destination == "ads.test:80"));
    assert!(
        !rows
            .iter()
            .any(|r| r.destination.contains("ADS") || r.destination.contains('%')),
        "{rows:#?}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_loopback_is_refused_by_the_address_rule() {
    let origin = Origin::start("127.0.0.2").await;
    let forbidden = Origin::start("127.0.0.1").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let l = forbidden.port();
    // Listeners on the same port at the other loopback addresses the spellings below name, so that
    // a spelling that slipped through would land somewhere and be counted. A host without IPv6
    // loopback cannot be reached at `[::1]` at all.
    let also = [
        Some(Origin::start_on(([127, 0, 0, 9], l).into()).await.unwrap()),
        Origin::start_on((std::net::Ipv6Addr::LOCALHOST, l).into())
            .await
            .ok(),
    ];
    let listeners: Vec<&Origin> = std::iter::once(&forbidden)
        .chain(also.iter().flatten())
        .collect();
    let loopback = [
        "127.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "0x7f.1",
        "0X7F.1",
        "127.1",
        "127.0.1",
        "0x7F000001",
        "017700000001",
        "0x7f.0.0.1",
        "%31%32%37.0.0.1",
        // Fullwidth digits and full stop, percent-encoded.
        "%EF%BC%91%EF%BC%92%EF%BC%97%EF%BC%8E0.0.1",
        "LOOP.Test.",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::FFFF:7F00:1]",
        "[0:0:0:0:0:ffff:7f00:1]",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        // IPv6 forms that embed 127.0.0.1 (IPv4-compatible, NAT64) are classified by it.
        "[::127.0.0.1]",
        "[64:ff9b::127.0.0.1]",
        "localhost",
        "LOCALHOST.",
        "loop.test",
        // Elsewhere in 127/8, outside the allowed 127.0.0.2-4.
        "127.0.0.9",
        "0x7f000009",
    ];
    for host in loopback {
        let authority = format!("{host}:{l}");
        let r = exchange(gw.proxy, &get_as_spelled(&authority, "/secret", &auth)).await;
        let ctx = format!("{authority}: {}", r.text);
        assert_eq!(r.status(), 403, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("address:loopback"), "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-decision").as_deref(),
            Some("deny"),
            "{ctx}"
        );
        assert!(!r.text.contains("hello from origin"), "{ctx}");
        for listener in &listeners {
            assert_eq!(
                listener.connections(),
                0,
                "{} was reached: {ctx}",
                listener.addr
            );
        }
    }
    // The unspecified address connects to the local host: refused by its own class.
    for host in ["0.0.0.0", "0", "0x0", "[::]"] {
        let authority = format!("{host}:{l}");
        let r = exchange(gw.proxy, &get_as_spelled(&authority, "/secret", &auth)).await;
        let ctx = format!("{authority}: {}", r.text);
        assert_eq!(r.status(), 403, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("address:unspecified"), "{ctx}");
        for listener in &listeners {
            assert_eq!(
                listener.connections(),
                0,
                "{} was reached: {ctx}",
                listener.addr
            );
        }
    }
    gw.flush_audit().await;
    let rows = gw.audit();
    // IP spellings are recorded canonically.
    assert!(
        rows.iter()
            .any(|r| r.destination == format!("127.0.0.1:{l}")),
        "{rows:#?}"
    );
    for row in &rows {
        let d = row.destination.to_ascii_lowercase();
        assert!(
            ![
                "0x",
                "%",
                "2130706433",
                "0177",
                "ffff",
                "127.1:",
                "127.0.1:",
                "127.0.0.1.:"
            ]
            .iter()
            .any(|s| d.contains(s)),
            "not canonical: {row:?}"
        );
    }
    assert_eq!(forbidden.seen_bytes(), 0);
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

/// The base configuration with a deny list holding a Unicode name and a punycode name.
fn idn_config(origin: &Origin, deny_idn: bool) -> String {
    let ip = origin.addr.ip().to_string();
    let mut config = with_hosts(
        &base_config(origin),
        &[
            ("xn--bcher-kva.test", &ip),
            ("sub.xn--bcher-kva.test", &ip),
            ("xn--caf-dma.test", &ip),
        ],
    );
    if deny_idn {
        config = config.edit("deny = [\"ads\"]", "deny = [\"ads\", \"idn\"]");
    }
    config.push_str("\n[lists.idn]\ndomains = [\"bücher.test\", \"xn--caf-dma.test\"]\n");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idn_spellings_are_refused_by_a_list_holding_the_other_spelling() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&idn_config(&origin, true)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let p = origin.port();
    let spellings = [
        // `bücher.test` is listed in Unicode; requests come in punycode or percent-encoded UTF-8.
        format!("xn--bcher-kva.test:{p}"),
        format!("XN--BCHER-KVA.TEST:{p}"),
        format!("xn--bcher-kva.test.:{p}"),
        format!("sub.xn--bcher-kva.test:{p}"),
        format!("b%C3%BCcher.test:{p}"),
        format!("B%C3%9CCHER.test:{p}"),
        format!("sub.b%c3%bccher.test:{p}"),
        // `café.test` is listed in punycode; requests come percent-encoded.
        format!("caf%C3%A9.test:{p}"),
        format!("CAF%C3%89.TEST:{p}"),
        format!("xn--caf-dma.test:{p}"),
    ];
    for authority in &spellings {
        let r = exchange(gw.proxy, &get_as_spelled(authority, "/", &auth)).await;
        let ctx = format!("{authority}: {}", r.text);
        assert_eq!(r.status(), 403, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("global-deny:idn"), "{ctx}");
        assert_eq!(origin.connections(), 0, "{ctx}");
    }
    // Raw UTF-8 in the request target is not visible ASCII: refused by the parser.
    for host in ["bücher.test", "BÜCHER.test", "café.test"] {
        let target = format!("http://{host}:{p}/");
        let r = exchange(
            gw.proxy,
            &get(&target, &format!("xn--bcher-kva.test:{p}"), &auth),
        )
        .await;
        let ctx = format!("{host}: {}", r.text);
        assert_eq!(r.status(), 400, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("bad_request_line"), "{ctx}");
        assert!(r.closed, "{ctx}");
    }
    // A raw UTF-8 Host header (obs-text is legal in a field value) that agrees with the target
    // canonicalises to the same name and is refused by the list.
    let r = exchange(
        gw.proxy,
        &get(
            &format!("http://xn--bcher-kva.test:{p}/"),
            &format!("bücher.test:{p}"),
            &auth,
        ),
    )
    .await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("global-deny:idn"), "{}", r.text);
    assert_eq!(origin.connections(), 0);
    assert_eq!(origin.seen_bytes(), 0);
    gw.flush_audit().await;
    let rows = gw.audit();
    for row in rows.iter().filter(|r| r.rule == "global-deny:idn") {
        assert!(
            [
                format!("xn--bcher-kva.test:{p}"),
                format!("sub.xn--bcher-kva.test:{p}"),
                format!("xn--caf-dma.test:{p}")
            ]
            .contains(&row.destination),
            "not canonical: {row:?}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idn_spelling_that_no_list_names_reaches_the_origin_in_punycode() {
    // Control for the test above: the same names without the deny list go through, and the origin
    // sees the punycode name whatever the spelling of the request.
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&idn_config(&origin, false)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let p = origin.port();
    for authority in [
        format!("b%C3%BCcher.test:{p}"),
        format!("XN--BCHER-KVA.test:{p}"),
    ] {
        let mark = origin.seen_bytes();
        let r = exchange(gw.proxy, &get_as_spelled(&authority, "/idn", &auth)).await;
        assert_eq!(r.status(), 200, "{authority}: {}", r.text);
        let seen = seen_since(&origin, mark);
        assert!(
            seen.contains(&format!("\r\nHost: xn--bcher-kva.test:{p}\r\n")),
            "{authority}: {seen}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_in_the_target_is_refused_and_reaches_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let p = origin.port();
    let o = format!("origin.test:{p}");
    for target in [
        format!("http://user:pw@{o}/"),
        format!("http://user@{o}/"),
        format!("http://@{o}/"),
        format!("http://{o}@ads.test/"),
        format!("http://ads.test@{o}/"),
        format!("http://user:pw@{o}@other.test:{p}/"),
    ] {
        let r = exchange(gw.proxy, &get(&target, &o, &auth)).await;
        let ctx = format!("{target}: {}", r.text);
        assert_eq!(r.status(), 400, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("userinfo"), "{ctx}");
        assert_eq!(
            r.header("x-gatehouse-decision").as_deref(),
            Some("error"),
            "{ctx}"
        );
        assert!(!r.text.contains("user:pw"), "userinfo echoed: {ctx}");
        assert!(r.closed, "{ctx}");
        assert_eq!(origin.connections(), 0, "{ctx}");
    }
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_header_that_disagrees_with_the_target_is_refused() {
    // other.test resolves to the same origin and is allowed for ada: only the disagreement refuses.
    let origin = Origin::start("127.0.0.2").await;
    let ip = origin.addr.ip().to_string();
    let gw = Gateway::start(&with_hosts(&base_config(&origin), &[("ads.test", &ip)])).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let p = origin.port();
    let target = format!("http://origin.test:{p}/");
    let mismatched = [
        format!("other.test:{p}"),
        format!("ads.test:{p}"),
        "origin.test".to_string(),
        "origin.test:80".to_string(),
        format!("origin.test:{}", p.wrapping_add(1).max(1)),
        format!("127.0.0.2:{p}"),
        format!("[::ffff:127.0.0.2]:{p}"),
        format!("origin.test:{p}:{p}"),
        format!("user@origin.test:{p}"),
        format!("origin.test:{p}/x"),
        String::new(),
    ];
    for host in &mismatched {
        let r = exchange(gw.proxy, &get(&target, host, &auth)).await;
        let ctx = format!("Host `{host}`: {}", r.text);
        assert_eq!(r.status(), 400, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("host_mismatch"), "{ctx}");
        assert!(r.closed, "{ctx}");
        assert_eq!(origin.connections(), 0, "{ctx}");
        assert_eq!(origin.seen_bytes(), 0, "{ctx}");
    }
    // Userinfo in a Host header is refused without being repeated: not to the client, not into
    // the audit trail.
    let r = exchange(
        gw.proxy,
        &get(
            &target,
            &format!("ada:hunter2-in-host@origin.test:{p}"),
            &auth,
        ),
    )
    .await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("host_mismatch"));
    assert!(!r.text.contains("hunter2"), "{}", r.text);
    assert!(r.text.contains("…@origin.test"), "{}", r.text);
    gw.flush_audit().await;
    assert!(
        !format!("{:?}", gw.audit()).contains("hunter2"),
        "the audit trail holds the Host header's password"
    );
    assert_eq!(origin.seen_bytes(), 0);
    // The reverse shape: a denied target with an allowed Host is refused, not routed by Host.
    let r = exchange(
        gw.proxy,
        &get(
            &format!("http://ads.test:{p}/"),
            &format!("origin.test:{p}"),
            &auth,
        ),
    )
    .await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("host_mismatch"));
    assert_eq!(origin.seen_bytes(), 0);

    // Agreeing after canonicalisation: allowed, and the origin sees the canonical Host only.
    for host in [
        format!("ORIGIN.TEST:{p}"),
        format!("origin.test.:{p}"),
        format!("%6Frigin.test:0{p}"),
    ] {
        let mark = origin.seen_bytes();
        let r = exchange(gw.proxy, &get(&target, &host, &auth)).await;
        assert_eq!(r.status(), 200, "Host `{host}`: {}", r.text);
        let seen = seen_since(&origin, mark);
        assert!(
            seen.contains(&format!("\r\nHost: origin.test:{p}\r\n")),
            "{seen}"
        );
        assert!(!seen.contains(&host), "{seen}");
    }
    // Port 80 is the default on both sides.
    let r = exchange(gw.proxy, &get("http://ads.test/", "ads.test:80", &auth)).await;
    assert_eq!(r.rule().as_deref(), Some("global-deny:ads"), "{}", r.text);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_a_disagreeing_host_is_refused_and_an_agreeing_one_tunnels() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "s3cret-ada").await;
    let auth = basic("ada", "s3cret-ada");
    let p = origin.port();
    let connect = |authority: &str, host: &str| {
        format!(
            "CONNECT {authority} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: {auth}\r\n\r\n"
        )
        .into_bytes()
    };
    for host in [
        format!("other.test:{p}"),
        "origin.test".to_string(),
        "origin.test:443".to_string(),
    ] {
        let r = exchange(gw.proxy, &connect(&format!("origin.test:{p}"), &host)).await;
        let ctx = format!("Host `{host}`: {}", r.text);
        assert_eq!(r.status(), 400, "{ctx}");
        assert_eq!(r.rule().as_deref(), Some("host_mismatch"), "{ctx}");
        assert!(r.closed, "{ctx}");
        assert_eq!(origin.connections(), 0, "{ctx}");
    }
    // CONNECT's default port is 443 on both sides.
    let r = exchange(gw.proxy, &connect("origin.test:443", "origin.test")).await;
    assert_ne!(r.rule().as_deref(), Some("host_mismatch"), "{}", r.text);

    // An agreeing spelling tunnels to the canonical destination.
    let mut s = TcpStream::connect(gw.proxy).await.unwrap();
    s.write_all(&connect(
        &format!("ORIGIN.test.:{p}"),
        &format!("origin.TEST:{p}"),
    ))
    .await
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200 Connection established\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // The origin keeps its side open, so read until its complete answer arrived.
    s.write_all(b"GET /through HTTP/1.1\r\nHost: origin.test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    while !answer.ends_with(b"hello from origin\n") {
        let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    drop(s);
    assert!(origin.seen().starts_with("GET /through HTTP/1.1\r\n"));
    // The tunnel's event is written when both directions have ended, after our close.
    let want = format!("origin.test:{p}");
    gw.wait_for_audit(|r| r.method == "CONNECT" && r.decision == "allow" && r.destination == want)
        .await;
    gw.shutdown().await;
}
