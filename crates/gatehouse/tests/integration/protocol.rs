//! gatehouse as an HTTP intermediary (RFC 9110 §7.6): Max-Forwards on OPTIONS and TRACE, answered
//! by the gateway itself at 0 and decremented otherwise, always after authentication, the decision
//! and the address check; Via naming the protocol version each message was received with. Each test
//! asserts what the client got and what the origin saw (or that it saw nothing), and the audit event.

use policy::Tier;
use testkit::{base_config, basic, exchange, Gateway, Origin};

async fn setup(ip: &str) -> (Origin, Gateway) {
    let origin = Origin::start(ip).await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    gw.add_user("fil", Tier::Filtered, "pw-fil").await;
    (origin, gw)
}

/// One request head for `method url` through the proxy, with the given extra field lines.
fn request(method: &str, url: &str, host: &str, auth: Option<&str>, fields: &str) -> String {
    let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\r\n"));
    format!("{method} {url} HTTP/1.1\r\nHost: {host}\r\n{auth}{fields}\r\n")
}

/// The head of the request the origin received whose request line starts with `line_start`.
fn origin_request(origin: &Origin, line_start: &str) -> String {
    let seen = origin.seen();
    seen.split("\r\n\r\n")
        .find(|h| h.starts_with(line_start))
        .unwrap_or_else(|| panic!("the origin saw no `{line_start}`:\n{seen}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_with_max_forwards_0_is_answered_by_the_gateway_and_reaches_nothing() {
    let (origin, gw) = setup("127.0.0.2").await;
    let host = format!("origin.test:{}", origin.port());
    let auth = basic("ada", "pw-ada");
    // The answer keeps the connection open: a pipelined GET follows on the same connection.
    let mut req = request(
        "OPTIONS",
        &format!("http://{host}/x"),
        &host,
        Some(&auth),
        "Max-Forwards: 0\r\n",
    );
    req += &request(
        "GET",
        &format!("http://{host}/after"),
        &host,
        Some(&auth),
        "Connection: close\r\n",
    );
    let reply = exchange(gw.proxy, req.as_bytes()).await;
    assert!(reply.closed);
    let (answer, rest) = reply.text.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        answer,
        "HTTP/1.1 200 OK\r\n\
Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH\r\n\
X-Gatehouse-Decision: allow\r\n\
X-Gatehouse-Rule: tier-open\r\n\
Via: 1.1 gatehouse\r\n\
Cache-Control: no-store\r\n\
Content-Length: 0"
    );
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
    assert!(rest.ends_with("\r\n\r\nhello from origin\n"), "{rest}");
    // The origin saw the GET only.
    assert_eq!(origin.requests(), 1);
    assert!(origin.seen().starts_with("GET /after HTTP/1.1\r\n"));
    assert!(!origin.seen().contains("OPTIONS"));

    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 2, "{events:#?}");
    let e = &events[0];
    assert_eq!(
        (e.method.as_str(), e.decision.as_str(), e.rule.as_str()),
        ("OPTIONS", "allow", "tier-open")
    );
    assert_eq!(
        (e.status, e.bytes_up, e.bytes_down, e.stage.as_str()),
        (200, 0, 0, "answered")
    );
    assert_eq!(e.error, None);
    assert_eq!(e.url.as_deref(), Some(&*format!("http://{host}/x")));
    assert_eq!(events[1].stage, "done");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_with_max_forwards_0_echoes_the_head_without_any_credentials() {
    let (origin, gw) = setup("127.0.0.3").await;
    let host = format!("origin.test:{}", origin.port());
    let auth = basic("ada", "pw-ada");
    let req = request(
        "TRACE",
        &format!("http://{host}/t?q=1"),
        &host,
        Some(&auth),
        "Cookie: session=cookie-secret\r\nAuthorization: Bearer origin-secret\r\nX-Trace-Me: yes\r\nmax-forwards: 0\r\nConnection: close\r\n",
    );
    let reply = exchange(gw.proxy, req.as_bytes()).await;
    assert_eq!(reply.status(), 200, "{}", reply.text);
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("message/http")
    );
    assert_eq!(
        reply.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(reply.header("connection").as_deref(), Some("close"));
    let (_, body) = reply.text.split_once("\r\n\r\n").unwrap();
    assert_eq!(
        body,
        format!(
            "TRACE http://{host}/t?q=1 HTTP/1.1\r\nHost: {host}\r\nX-Trace-Me: yes\r\nmax-forwards: 0\r\nConnection: close\r\n\r\n"
        )
    );
    // No credential comes back, in any spelling.
    let lower = reply.text.to_ascii_lowercase();
    for secret in ["cookie-secret", "origin-secret", "authorization", "cookie:"] {
        assert!(
            !lower.contains(secret),
            "`{secret}` echoed:\n{}",
            reply.text
        );
    }
    assert!(!reply.text.contains(auth.trim_start_matches("Basic ")));
    assert_eq!((origin.connections(), origin.seen_bytes()), (0, 0));

    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(
        (
            e.method.as_str(),
            e.decision.as_str(),
            e.status,
            e.stage.as_str()
        ),
        ("TRACE", "allow", 200, "answered")
    );
    assert_eq!((e.bytes_up, e.bytes_down), (0, body.len() as u64));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_forwards_is_decremented_on_options_and_trace_and_left_alone_on_other_methods() {
    let (origin, gw) = setup("127.0.0.4").await;
    let host = format!("origin.test:{}", origin.port());
    let auth = basic("ada", "pw-ada");
    let cases = [
        (
            "OPTIONS",
            "/mf-options",
            "Max-Forwards: 5",
            "Max-Forwards: 4",
        ),
        ("TRACE", "/mf-trace", "Max-Forwards: 01", "Max-Forwards: 0"),
        // Other methods: RFC 9110 §7.6.2 lets a recipient ignore the field; it passes unchanged,
        // even at 0 and even when it is not a number.
        ("GET", "/mf-get", "Max-Forwards: 0", "Max-Forwards: 0"),
        (
            "POST",
            "/mf-post",
            "Max-Forwards: banana",
            "Max-Forwards: banana",
        ),
    ];
    for (method, path, sent, forwarded) in cases {
        let req = request(
            method,
            &format!("http://{host}{path}"),
            &host,
            Some(&auth),
            &format!("{sent}\r\nConnection: close\r\n"),
        );
        let reply = exchange(gw.proxy, req.as_bytes()).await;
        assert_eq!(reply.status(), 200, "{method}: {}", reply.text);
        assert!(
            reply.text.ends_with("hello from origin\n"),
            "{}",
            reply.text
        );
        let seen = origin_request(&origin, &format!("{method} {path} HTTP/1.1\r\n"));
        let lines: Vec<&str> = seen.split("\r\n").collect();
        assert!(lines.contains(&forwarded), "{method}: {seen}");
        let hops = lines
            .iter()
            .filter(|l| l.to_ascii_lowercase().starts_with("max-forwards:"))
            .count();
        assert_eq!(hops, 1, "{method}: {seen}");
    }
    assert_eq!(origin.requests(), cases.len());
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_max_forwards_on_options_or_trace_is_refused_before_anything_else() {
    let (origin, gw) = setup("127.0.0.2").await;
    let host = format!("origin.test:{}", origin.port());
    let auth = basic("ada", "pw-ada");
    let bad = [
        "Max-Forwards: -1\r\n",
        "Max-Forwards: +1\r\n",
        "Max-Forwards: 1.5\r\n",
        "Max-Forwards: 0x1\r\n",
        "Max-Forwards: one\r\n",
        "Max-Forwards:\r\n",
        "Max-Forwards: 0, 5\r\n",
        "Max-Forwards: 5\r\nMax-Forwards: 0\r\n",
        "Max-Forwards: 10000000000000000000\r\n",
    ];
    for method in ["OPTIONS", "TRACE"] {
        for fields in bad {
            let req = request(
                method,
                &format!("http://{host}/"),
                &host,
                Some(&auth),
                &format!("{fields}Connection: close\r\n"),
            );
            let reply = exchange(gw.proxy, req.as_bytes()).await;
            assert_eq!(reply.status(), 400, "{method} {fields:?}: {}", reply.text);
            assert_eq!(reply.rule().as_deref(), Some("bad_max_forwards"));
        }
    }
    assert_eq!((origin.connections(), origin.seen_bytes()), (0, 0));
    gw.flush_audit().await;
    let events = gw.audit();
    assert_eq!(events.len(), 2 * bad.len());
    for e in &events {
        assert_eq!(
            (
                e.decision.as_str(),
                e.rule.as_str(),
                e.status,
                e.stage.as_str()
            ),
            ("error", "bad_max_forwards", 400, "destination"),
            "{e:?}"
        );
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_answers_for_the_last_hop_only_after_authentication_decision_and_address_check()
{
    let (origin, gw) = setup("127.0.0.3").await;
    let p = origin.port();
    let ada = basic("ada", "pw-ada");
    let fil = basic("fil", "pw-fil");
    // (method, host, credentials, status, rule)
    let cases = [
        ("OPTIONS", "origin.test", None, 407, "auth-required"),
        (
            "TRACE",
            "origin.test",
            Some(&*basic("ada", "wrong")),
            407,
            "auth-failed",
        ),
        (
            "OPTIONS",
            "other.test",
            Some(&*fil),
            403,
            "filtered-default",
        ),
        ("TRACE", "ads.test", Some(&*ada), 403, "global-deny:ads"),
        ("OPTIONS", "loop.test", Some(&*ada), 403, "address:loopback"),
        ("TRACE", "meta.test", Some(&*ada), 403, "address:link_local"),
        (
            "OPTIONS",
            "origin.test",
            Some(&*fil),
            200,
            "filtered-allow:research",
        ),
    ];
    for (method, name, auth, status, rule) in cases {
        let host = format!("{name}:{p}");
        let req = request(
            method,
            &format!("http://{host}/"),
            &host,
            auth,
            "Max-Forwards: 0\r\nConnection: close\r\n",
        );
        let reply = exchange(gw.proxy, req.as_bytes()).await;
        assert_eq!(reply.status(), status, "{method} {name}: {}", reply.text);
        assert_eq!(reply.rule().as_deref(), Some(rule), "{method} {name}");
    }
    assert_eq!((origin.connections(), origin.seen_bytes()), (0, 0));
    gw.flush_audit().await;
    let events = gw.audit();
    let recorded: Vec<(&str, u16, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.decision.as_str(),
                e.status,
                e.rule.as_str(),
                e.stage.as_str(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            ("deny", 407, "auth-required", "authenticate"),
            ("deny", 407, "auth-failed", "authenticate"),
            ("deny", 403, "filtered-default", "decide"),
            ("deny", 403, "global-deny:ads", "decide"),
            ("deny", 403, "address:loopback", "resolve"),
            ("deny", 403, "address:link_local", "resolve"),
            ("allow", 200, "filtered-allow:research", "answered"),
        ]
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn via_names_the_protocol_version_each_message_was_received_with() {
    let (origin, gw) = setup("127.0.0.4").await;
    let host = format!("origin.test:{}", origin.port());
    let auth = basic("ada", "pw-ada");
    // (client version, path, Via the origin must see, Via the client must see, body)
    let cases = [
        (
            "HTTP/1.0",
            "/via-a",
            "1.0 gatehouse",
            "1.1 gatehouse",
            "hello from origin\n",
        ),
        (
            "HTTP/1.1",
            "/http10?b",
            "1.1 gatehouse",
            "1.0 gatehouse",
            "hello from an http/1.0 origin\n",
        ),
        (
            "HTTP/1.0",
            "/http10?c",
            "1.0 gatehouse",
            "1.0 gatehouse",
            "hello from an http/1.0 origin\n",
        ),
        (
            "HTTP/1.1",
            "/via-d",
            "1.1 gatehouse",
            "1.1 gatehouse",
            "hello from origin\n",
        ),
    ];
    for (version, path, upstream_via, client_via, body) in cases {
        let req = format!(
            "GET http://{host}{path} {version}\r\nHost: {host}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        let reply = exchange(gw.proxy, req.as_bytes()).await;
        assert_eq!(reply.status(), 200, "{version} {path}: {}", reply.text);
        assert_eq!(
            reply.header("via").as_deref(),
            Some(client_via),
            "{version} {path}"
        );
        assert_eq!(reply.text.matches("\r\nVia:").count(), 1, "{}", reply.text);
        assert!(
            reply.text.ends_with(&format!("\r\n\r\n{body}")),
            "{}",
            reply.text
        );
        let seen = origin_request(&origin, &format!("GET {path} HTTP/1.1\r\n"));
        let vias: Vec<&str> = seen
            .split("\r\n")
            .filter(|l| l.starts_with("Via:"))
            .collect();
        assert_eq!(
            vias,
            [format!("Via: {upstream_via}")],
            "{version} {path}: {seen}"
        );
    }
    gw.shutdown().await;
}
