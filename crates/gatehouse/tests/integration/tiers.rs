//! Tiers and refusals: what each tier allows, what a refused person sees (HTML for browsers, text for
//! other clients, headers for scripts), and that changes to a principal apply to their next request.

use std::time::Duration;

use gatehouse::store::PrincipalStore;
use policy::Tier;
use testkit::Edit;
use testkit::{base_config, basic, curl, raw, Gateway, Origin};

const PW: &str = "tier-test-pw";

async fn setup() -> (Origin, Gateway) {
    let origin = Origin::start("127.0.0.3").await;
    let text = base_config(&origin).edit(
        "hosts = { ",
        r#"hosts = { "wiki.intranet.test" = ["127.0.0.5"], "#,
    );
    let gw = Gateway::start(&text).await;
    gw.add_user("olive", Tier::Open, PW).await;
    gw.add_user("fred", Tier::Filtered, PW).await;
    gw.add_user("ian", Tier::Intranet, PW).await;
    gw.add_user("nora", Tier::None, PW).await;
    (origin, gw)
}

async fn get(gw: &Gateway, user: &str, url: &str) -> testkit::CurlOutput {
    curl(&["-x", &gw.proxy_url(), "-U", &format!("{user}:{PW}"), url]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tier_allows_what_it_should_and_nothing_more() {
    let (origin, gw) = setup().await;
    let intranet = Origin::start("127.0.0.5").await;
    let p = origin.port();
    let ip = intranet.port();
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        ("olive", format!("http://other.test:{p}/"), 200, None),
        (
            "olive",
            format!("http://ads.test:{p}/"),
            403,
            Some("global-deny:ads"),
        ),
        (
            "olive",
            format!("http://denied.origin.test:{p}/"),
            403,
            Some("global-deny:ads"),
        ),
        ("fred", format!("http://allowed.test:{p}/"), 200, None),
        ("fred", format!("http://origin.test:{p}/"), 200, None),
        (
            "fred",
            format!("http://other.test:{p}/"),
            403,
            Some("filtered-default"),
        ),
        (
            "fred",
            format!("http://denied.origin.test:{p}/"),
            403,
            Some("global-deny:ads"),
        ),
        (
            "fred",
            format!("http://127.0.0.3:{p}/"),
            403,
            Some("filtered-default"),
        ),
        ("ian", format!("http://wiki.intranet.test:{ip}/"), 200, None),
        ("ian", format!("http://127.0.0.5:{ip}/"), 200, None),
        (
            "ian",
            format!("http://origin.test:{p}/"),
            403,
            Some("intranet-default"),
        ),
        (
            "nora",
            format!("http://origin.test:{p}/"),
            403,
            Some("tier-none"),
        ),
        (
            "nora",
            format!("http://other.test:{p}/"),
            403,
            Some("tier-none"),
        ),
    ];
    for (user, url, status, rule) in &cases {
        let before = origin.requests() + intranet.requests();
        let out = get(&gw, user, url).await;
        assert_eq!(out.status, *status, "{user} {url}: {}", out.text());
        let after = origin.requests() + intranet.requests();
        if let Some(rule) = rule {
            assert_eq!(out.header("x-gatehouse-decision").as_deref(), Some("deny"));
            assert_eq!(
                out.header("x-gatehouse-rule").as_deref(),
                Some(*rule),
                "{user} {url}"
            );
            assert_eq!(
                after, before,
                "a refused request reached an origin: {user} {url}"
            );
        } else {
            assert_eq!(after, before + 1, "{user} {url}");
        }
    }
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_says_rule_tier_destination_and_how_to_ask() {
    let (origin, gw) = setup().await;
    let url = format!("http://OTHER.test.:{}/page", origin.port());
    // A script gets plain text.
    let out = get(&gw, "fred", &url).await;
    assert_eq!(out.status, 403);
    let text = out.text();
    for needle in [
        "refused by rule: filtered-default",
        "tier: filtered",
        "principal: fred",
        &format!("destination: other.test:{}", origin.port()),
        "how to ask: ask your gatehouse administrator",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    // A browser gets a page.
    let out = curl(&[
        "-x",
        &gw.proxy_url(),
        "-U",
        &format!("fred:{PW}"),
        "-H",
        "Accept: text/html,application/xhtml+xml,*/*;q=0.8",
        &url,
    ])
    .await;
    assert_eq!(out.status, 403);
    assert!(out.header("content-type").unwrap().starts_with("text/html"));
    let page = out.text();
    assert!(
        page.contains("<th>refused by rule</th><td>filtered-default</td>"),
        "{page}"
    );
    assert!(page.contains("<th>tier</th><td>filtered</td>"), "{page}");
    // A refused CONNECT carries the same reason in its body.
    let req = format!(
        "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\nProxy-Authorization: {}\r\n\r\n",
        basic("fred", PW)
    );
    let out = raw(gw.proxy, req.as_bytes(), Duration::from_secs(20)).await;
    assert!(out.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{out}");
    assert!(
        out.contains("X-Gatehouse-Rule: filtered-default\r\n"),
        "{out}"
    );
    assert!(out.contains("refused by rule: filtered-default"), "{out}");
    assert!(out.contains("destination: other.test:443"), "{out}");
    assert_eq!(origin.requests(), 0);
    // The Squid log's type field names what each refusal was: text, a page, text again.
    gw.flush_audit().await;
    let log = std::fs::read_to_string(gw.data_path().join("access.log")).unwrap();
    let types: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" TCP_DENIED/403 "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(types, ["text/plain", "text/html", "text/plain"], "{log}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tier_and_a_disabled_account_apply_to_the_next_request_on_the_same_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (origin, gw) = setup().await;
    let mut s = tokio::net::TcpStream::connect(gw.proxy).await.unwrap();
    let req = format!(
        "GET http://other.test:{p}/ HTTP/1.1\r\nHost: other.test:{p}\r\nProxy-Authorization: {a}\r\n\r\n",
        p = origin.port(),
        a = basic("olive", PW)
    );
    async fn exchange(s: &mut tokio::net::TcpStream, req: &str) -> String {
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 8192];
        let mut got = Vec::new();
        loop {
            let n = testkit::within("the response", s.read(&mut buf))
                .await
                .unwrap();
            assert!(n > 0, "connection closed");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if body.len() >= len {
                    return text;
                }
            }
        }
    }
    assert!(exchange(&mut s, &req).await.starts_with("HTTP/1.1 200"));
    gw.store().set_tier("olive", Tier::Filtered).unwrap();
    gw.wait_for_principals().await;
    let out = exchange(&mut s, &req).await;
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert!(out.contains("X-Gatehouse-Rule: filtered-default"), "{out}");
    gw.store().set_tier("olive", Tier::Open).unwrap();
    gw.store().set_disabled("olive", true).unwrap();
    gw.wait_for_principals().await;
    let out = exchange(&mut s, &req).await;
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert!(
        out.contains("X-Gatehouse-Rule: principal-disabled"),
        "{out}"
    );
    assert_eq!(origin.requests(), 1);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_invalidates_cached_credentials() {
    let (origin, gw) = setup().await;
    let url = format!("http://other.test:{}/", origin.port());
    assert_eq!(get(&gw, "olive", &url).await.status, 200);
    gw.store()
        .set_password_hash(
            "olive",
            &gatehouse::identity::hash_password("new-pw").unwrap(),
        )
        .unwrap();
    gw.wait_for_principals().await;
    assert_eq!(get(&gw, "olive", &url).await.status, 407);
    let out = curl(&["-x", &gw.proxy_url(), "-U", "olive:new-pw", &url]).await;
    assert_eq!(out.status, 200);
    gw.shutdown().await;
}
