//! Proxy authentication against the real gateway: a principal added or a password changed with the
//! CLI works on the very next request (the binary, spawned), and failed attempts are throttled per
//! tried name and per client address without running argon2 (in-process, clients bound to their own
//! loopback source addresses).

use std::net::SocketAddr;

use gatehouse::identity::throttle::{ADDRESS_LIMITS, NAME_LIMITS};
use gatehouse::store::{PrincipalStore, Store};
use policy::Tier;
use testkit::{base_config, basic, curl, read_to_close, Gateway, Origin, Reply, SAFETY};
use tokio::io::AsyncWriteExt;

use crate::cli::start_serve;

/// One value of the gateway's `/metrics`.
async fn metric(admin: &str, name: &str) -> u64 {
    testkit::metric_at(admin, name)
        .await
        .unwrap_or_else(|| panic!("no `{name}` in /metrics")) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_added_or_a_password_changed_with_the_cli_works_at_once() {
    let origin = Origin::start("127.0.0.2").await;
    let s = start_serve(&base_config(&origin));
    let proxy = s.proxy_url();
    let url = format!("http://origin.test:{}/", origin.port());
    let get = |user: &'static str, password: &'static str| {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", &format!("{user}:{password}"), &u]).await }
    };

    // The README's block: `user add`, then at once `curl`.
    let (code, _, err) = s.cli(
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-passwd-1\n"),
    );
    assert_eq!(code, 0, "{err}");
    let out = get("ada", "ada-passwd-1").await;
    assert_eq!(out.status, 200, "{:?}", out.header("x-gatehouse-rule"));
    assert_eq!(origin.requests(), 1, "the origin saw the request");

    // A new password works at once; the old one is refused as soon as the gateway has seen the
    // change, which the new password's own check made happen.
    assert_eq!(
        s.cli(
            &["user", "passwd", "ada", "--password-stdin"],
            Some("ada-passwd-2\n")
        )
        .0,
        0
    );
    assert_eq!(get("ada", "ada-passwd-2").await.status, 200);
    assert_eq!(origin.requests(), 2);
    let out = get("ada", "ada-passwd-1").await;
    assert_eq!(
        (out.status, out.header("x-gatehouse-rule").as_deref()),
        (407, Some("auth-failed"))
    );
    assert_eq!(origin.requests(), 2, "the old password reached nothing");

    // The old password, still in the gateway's cache of verified credentials, is refused once
    // the gateway has loaded the store's new generation (the poller does, within a second).
    assert_eq!(
        s.cli(
            &["user", "passwd", "ada", "--password-stdin"],
            Some("ada-passwd-3\n")
        )
        .0,
        0
    );
    let generation = Store::open(&s.data_dir).unwrap().generation().unwrap();
    let mut seen = 0;
    for _ in 0..200 {
        seen = metric(&s.admin, "gatehouse_principals_generation").await;
        if seen as i64 >= generation {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen as i64, generation,
        "the gateway never loaded the change"
    );
    assert_eq!(get("ada", "ada-passwd-2").await.status, 407);
    assert_eq!(get("ada", "ada-passwd-3").await.status, 200);
    assert_eq!(origin.requests(), 3);
}

/// A `GET` through the proxy from a client socket bound to `source`.
async fn get_from(source: &str, proxy: SocketAddr, origin: &Origin, auth: &str) -> Reply {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    let mut s = socket.connect(proxy).await.unwrap();
    let authority = format!("origin.test:{}", origin.port());
    let request = format!(
        "GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.unwrap();
    read_to_close(&mut s, SAFETY).await
}

async fn throttled_setup() -> (Origin, Gateway, String) {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-right").await;
    gw.add_user("bob", Tier::Open, "bob-right").await;
    let admin = gw.admin.to_string();
    (origin, gw, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_for_a_name_pause_its_sign_ins_without_argon2() {
    let (origin, gw, admin) = throttled_setup().await;
    for i in 0..NAME_LIMITS.failures {
        let r = get_from(
            "127.0.0.1",
            gw.proxy,
            &origin,
            &basic("ada", &format!("guess-{i}")),
        )
        .await;
        assert_eq!(
            (r.status(), r.rule().as_deref()),
            (407, Some("auth-failed")),
            "guess {i}"
        );
    }
    let verifications = metric(&admin, "gatehouse_auth_verifications_total").await;
    let failures = metric(&admin, "gatehouse_auth_failures_total").await;
    assert_eq!(failures, u64::from(NAME_LIMITS.failures));

    // The right password, during the cool-down, from the same address and from another one.
    for source in ["127.0.0.1", "127.0.0.9"] {
        let r = get_from(source, gw.proxy, &origin, &basic("ada", "ada-right")).await;
        assert_eq!(
            (r.status(), r.rule().as_deref()),
            (429, Some("auth-throttled")),
            "{source}: {}",
            r.text
        );
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!(
            retry > 0 && retry <= NAME_LIMITS.cool_down.as_secs(),
            "{retry}"
        );
        assert!(r.header("proxy-authenticate").is_none());
        assert!(r.text.contains("when to try again"), "{}", r.text);
    }
    assert_eq!(
        metric(&admin, "gatehouse_auth_verifications_total").await,
        verifications,
        "argon2 ran for a throttled name"
    );
    assert_eq!(metric(&admin, "gatehouse_auth_throttled_total").await, 2);
    assert_eq!(origin.requests(), 0);

    // Another name still signs in, from another address and from the same one: the address has
    // not reached its own limit.
    for source in ["127.0.0.9", "127.0.0.1"] {
        let r = get_from(source, gw.proxy, &origin, &basic("bob", "bob-right")).await;
        assert_eq!(r.status(), 200, "{source}: {}", r.text);
    }
    assert_eq!(origin.requests(), 2);
    // Bob's success did not lift ada's cool-down.
    let r = get_from("127.0.0.9", gw.proxy, &origin, &basic("ada", "ada-right")).await;
    assert_eq!(r.status(), 429);

    gw.flush_audit().await;
    let throttled: Vec<_> = gw
        .audit()
        .into_iter()
        .filter(|e| e.rule == "auth-throttled")
        .collect();
    assert_eq!(throttled.len(), 3);
    assert!(throttled
        .iter()
        .all(|e| e.status == 429 && e.decision == "deny" && e.stage == "authenticate"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_address_pause_its_sign_ins_but_not_another_addresses() {
    let (origin, gw, admin) = throttled_setup().await;
    // Password spraying: one try for each of many names, from one address.
    for i in 0..ADDRESS_LIMITS.failures {
        let r = get_from(
            "127.0.0.7",
            gw.proxy,
            &origin,
            &basic(&format!("user-{i}"), "x"),
        )
        .await;
        assert_eq!(r.status(), 407, "try {i}");
    }
    let verifications = metric(&admin, "gatehouse_auth_verifications_total").await;
    let r = get_from("127.0.0.7", gw.proxy, &origin, &basic("bob", "bob-right")).await;
    assert_eq!(
        (r.status(), r.rule().as_deref()),
        (429, Some("auth-throttled"))
    );
    assert_eq!(
        metric(&admin, "gatehouse_auth_verifications_total").await,
        verifications
    );
    let r = get_from("127.0.0.9", gw.proxy, &origin, &basic("bob", "bob-right")).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert_eq!(origin.requests(), 1);
    gw.shutdown().await;
}
