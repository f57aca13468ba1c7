//! The portal through the real gateway (started in-process by `Server::start`), driven over real
//! sockets by a raw HTTP/1.1 client that keeps cookies as a browser would: login and its cookie,
//! the throttle, CSRF and cross-site refusals (and that nothing changed), logout, a disabled
//! principal locked out, a person's own trail and nobody else's, an admin's look recorded, the
//! exports, the API, and the portal unreachable through the proxy.

use std::net::SocketAddr;

use gatehouse::identity::hash_password;
use gatehouse::store::{AuditQuery, AuditRow, AuditStore, PortalStore, PrincipalStore, Role};
use policy::Tier;
use testkit::{base_config, basic, exchange, get_from, Gateway, Origin, Reply};

/// One request to the portal on a fresh connection; `headers` are added as given.
pub(crate) async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Reply {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    exchange(addr, req.as_bytes()).await
}

/// Every `Set-Cookie` line of a response.
fn set_cookies(r: &Reply) -> Vec<String> {
    r.head()
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// The value a response sets for cookie `name`.
pub(crate) fn cookie_value(r: &Reply, name: &str) -> Option<String> {
    set_cookies(r).iter().find_map(|c| {
        let (k, v) = c.split(';').next()?.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// The `csrf` hidden field of a page.
pub(crate) fn csrf_field(r: &Reply) -> String {
    let at = r.text.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    r.text[at..].split('"').next().unwrap().to_string()
}

pub(crate) fn form_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A person at the portal, with the cookies a browser would keep.
pub(crate) struct Visitor {
    pub(crate) portal: SocketAddr,
    pub(crate) session: Option<String>,
}

impl Visitor {
    pub(crate) fn new(gw: &Gateway) -> Visitor {
        Visitor {
            portal: gw.portal_addr(),
            session: None,
        }
    }

    pub(crate) fn origin(&self) -> String {
        format!("http://{}", self.portal)
    }

    pub(crate) fn cookies(&self) -> Vec<(&str, String)> {
        match &self.session {
            Some(s) => vec![("Cookie", format!("gatehouse_session={s}"))],
            None => vec![],
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        http(self.portal, "GET", path, &self.cookies(), None).await
    }

    /// Load the login form and post `name` and `password` from the portal's own origin.
    pub(crate) async fn login(&mut self, name: &str, password: &str) -> Reply {
        let form = self.get("/login").await;
        assert_eq!(form.status(), 200, "{}", form.text);
        let bound = cookie_value(&form, "gatehouse_login").expect("the login cookie");
        let body = format!(
            "username={}&password={}&csrf={}",
            form_encode(name),
            form_encode(password),
            csrf_field(&form)
        );
        let r = http(
            self.portal,
            "POST",
            "/login",
            &[
                ("Origin", self.origin()),
                ("Cookie", format!("gatehouse_login={bound}")),
            ],
            Some(&body),
        )
        .await;
        if let Some(s) = cookie_value(&r, "gatehouse_session").filter(|s| !s.is_empty()) {
            self.session = Some(s);
        }
        r
    }

    /// The CSRF token of the session, as the person's page carries it.
    pub(crate) async fn csrf(&self) -> String {
        let home = self.get("/").await;
        assert_eq!(home.status(), 200, "{}", home.text);
        csrf_field(&home)
    }

    pub(crate) async fn post(&self, path: &str, extra: &[(&str, String)], body: &str) -> Reply {
        let mut headers = self.cookies();
        headers.extend(extra.iter().cloned());
        http(self.portal, "POST", path, &headers, Some(body)).await
    }
}

pub(crate) fn actions(gw: &Gateway, action: &str) -> Vec<AuditRow> {
    gw.store()
        .audit(&AuditQuery {
            rule: Some(action.into()),
            decision: Some("action".into()),
            ..Default::default()
        })
        .unwrap()
}

async fn add_admin(gw: &Gateway, name: &str, password: &str) {
    gw.store()
        .add_principal(
            name,
            Role::Admin,
            Tier::None,
            &hash_password(password).unwrap(),
        )
        .unwrap();
    gw.wait_for_principals().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_sets_a_strict_http_only_cookie_and_a_wrong_one_says_nothing_more() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Filtered, "ada-password-1").await;
    let mut ada = Visitor::new(&gw);

    // Without a session every page sends the person to the login form, and shows nothing.
    let r = ada.get("/").await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(r.header("location").as_deref(), Some("/login"));

    let wrong = ada.login("ada", "not-her-password").await;
    let unknown = ada.login("nobody", "ada-password-1").await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status(), 401, "{}", r.text);
        assert!(r.text.contains("Wrong name or password."), "{}", r.text);
        assert!(
            cookie_value(r, "gatehouse_session").is_none(),
            "{r:?}",
            r = r.text
        );
    }
    assert!(ada.session.is_none());
    let failed = actions(&gw, "portal.login_failed");
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!(failed[0].principal.as_deref(), Some("ada"));
    assert_eq!(failed[0].destination, "principal:ada");
    assert_eq!(failed[1].principal.as_deref(), Some("nobody"));

    let r = ada.login("ada", "ada-password-1").await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(r.header("location").as_deref(), Some("/"));
    let cookie = set_cookies(&r)
        .into_iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "served over plain HTTP: {cookie}"
    );
    // Only the token's hash is stored.
    let token = ada.session.clone().unwrap();
    let stored: Vec<String> = rusqlite::Connection::open(gw.data_path().join("gatehouse.db"))
        .unwrap()
        .prepare("SELECT token_hash FROM portal_sessions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&token));

    let home = ada.get("/").await;
    assert_eq!(home.status(), 200, "{}", home.text);
    assert!(home.text.contains("<h1>ada</h1>"), "{}", home.text);
    assert!(home.text.contains("filtered"), "the tier: {}", home.text);
    assert!(home.text.contains("name=\"viewport\""));
    assert_eq!(home.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(home.header("x-frame-options").as_deref(), Some("DENY"));
    let logins = actions(&gw, "portal.login");
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].principal.as_deref(), Some("ada"));
    assert!(
        logins[0].client.starts_with("portal 127.0.0.1:"),
        "{:?}",
        logins[0]
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_throttled_even_with_the_right_password_then() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-password-1").await;
    let mut v = Visitor::new(&gw);
    for i in 0..10 {
        let r = v.login("ada", &format!("guess-{i}")).await;
        assert_eq!(r.status(), 401, "guess {i}: {}", r.text);
    }
    let r = v.login("ada", "ada-password-1").await;
    assert_eq!(r.status(), 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    assert!(r.text.contains("Too many failed logins"), "{}", r.text);
    assert!(v.session.is_none());
    assert_eq!(actions(&gw, "portal.login").len(), 0);
    assert_eq!(actions(&gw, "portal.login_failed").len(), 10);
    // The proxy shares the throttle: the name is cooling down there too.
    let reply = get_from(
        "127.0.0.1",
        gw.proxy,
        ("ada", "ada-password-1"),
        &format!("http://origin.test:{}/", origin.port()),
    )
    .await;
    assert_eq!(reply.status(), 429, "{}", reply.text);
    assert_eq!(reply.rule().as_deref(), Some("auth-throttled"));
    assert_eq!(origin.requests(), 0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_and_posts_without_the_token_change_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-password-1").await;
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", "ada-password-1").await.status(), 303);
    let csrf = ada.csrf().await;
    let evil = ("Origin", "http://evil.example".to_string());
    let own = ("Origin", ada.origin());
    let refusals = [
        ada.post(
            "/logout",
            std::slice::from_ref(&evil),
            &format!("csrf={csrf}"),
        )
        .await,
        ada.post("/logout", std::slice::from_ref(&own), "").await,
        ada.post("/logout", std::slice::from_ref(&own), "csrf=forged")
            .await,
        ada.post("/logout", &[], &format!("csrf={csrf}")).await,
        ada.post(
            "/logout",
            &[("Sec-Fetch-Site", "cross-site".to_string())],
            &format!("csrf={csrf}"),
        )
        .await,
        ada.post(
            "/logout",
            &[("Origin", "null".to_string())],
            &format!("csrf={csrf}"),
        )
        .await,
    ];
    for (i, r) in refusals.iter().enumerate() {
        assert_eq!(r.status(), 403, "refusal {i}: {}", r.text);
        assert!(
            r.text.contains("nothing was changed"),
            "refusal {i}: {}",
            r.text
        );
        assert!(cookie_value(r, "gatehouse_session").is_none());
    }
    // Nothing changed: the session still works, and no logout was recorded.
    assert_eq!(ada.get("/").await.status(), 200);
    assert!(actions(&gw, "portal.logout").is_empty());

    // A login posted from another site, or without the form's token, opens no session.
    let mut other = Visitor::new(&gw);
    let form = other.get("/login").await;
    let bound = cookie_value(&form, "gatehouse_login").unwrap();
    let body = format!(
        "username=ada&password=ada-password-1&csrf={}",
        csrf_field(&form)
    );
    for (headers, what) in [
        (
            vec![evil.clone(), ("Cookie", format!("gatehouse_login={bound}"))],
            "another origin",
        ),
        (vec![own.clone()], "no login cookie"),
    ] {
        let r = http(other.portal, "POST", "/login", &headers, Some(&body)).await;
        assert_eq!(r.status(), 403, "{what}: {}", r.text);
        assert!(cookie_value(&r, "gatehouse_session").is_none(), "{what}");
    }
    other.session = None;
    assert_eq!(
        actions(&gw, "portal.login").len(),
        1,
        "only ada's own login"
    );
    assert!(actions(&gw, "portal.login_failed").is_empty());

    // The real logout, from the portal's page, with the token: the session is over.
    let r = ada.post("/logout", &[own], &format!("csrf={csrf}")).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(r.header("location").as_deref(), Some("/login"));
    assert!(set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("gatehouse_session=;") && c.contains("Max-Age=0")));
    let after = ada.get("/").await;
    assert_eq!(
        after.status(),
        303,
        "the old cookie opens nothing: {}",
        after.text
    );
    assert_eq!(ada.get("/api/v1/me").await.status(), 401);
    let logouts = actions(&gw, "portal.logout");
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].principal.as_deref(), Some("ada"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_disabled_loses_its_portal_session_and_cannot_log_in() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "ada-password-1").await;
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", "ada-password-1").await.status(), 303);
    assert_eq!(ada.get("/api/v1/me").await.status(), 200);

    // Disabled with the store, as `gatehouse user disable` does, while the session is open.
    gw.store().set_disabled("ada", true).unwrap();
    let r = ada.get("/").await;
    assert_eq!(r.status(), 303, "{}", r.text);
    let api = ada.get("/api/v1/me").await;
    assert_eq!(api.status(), 401, "{}", api.text);
    assert!(!api.text.contains("\"name\""), "{}", api.text);

    // The right password no longer opens one, and the refusal says no more than a wrong one.
    let mut again = Visitor::new(&gw);
    let r = again.login("ada", "ada-password-1").await;
    assert_eq!(r.status(), 401, "{}", r.text);
    assert!(r.text.contains("Wrong name or password."), "{}", r.text);
    assert!(again.session.is_none());
    let failed = actions(&gw, "portal.login_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].url.as_deref(), Some("disabled"));
    gw.shutdown().await;
}

/// A gateway with ada, bob and an admin, and traffic of ada and bob through the proxy.
async fn with_traffic() -> (Gateway, Origin) {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Filtered, "ada-password-1").await;
    gw.add_user("bob", Tier::Open, "bob-password-1").await;
    add_admin(&gw, "root", "root-password-1").await;
    let port = origin.port();
    let proxy = gw.proxy;
    for (user, pw, url) in [
        (
            "ada",
            "ada-password-1",
            format!("http://origin.test:{port}/a1"),
        ),
        (
            "ada",
            "ada-password-1",
            format!("http://ads.test:{port}/a2"),
        ),
        (
            "ada",
            "ada-password-1",
            format!("http://other.test:{port}/a3"),
        ),
        (
            "ada",
            "ada-password-1",
            format!("http://allowed.test:{port}/a4"),
        ),
        (
            "bob",
            "bob-password-1",
            format!("http://other.test:{port}/bob-only"),
        ),
        (
            "bob",
            "bob-password-1",
            format!("http://bobs-secret.test:{port}/b"),
        ),
    ] {
        get_from("127.0.0.1", proxy, (user, pw), &url).await;
    }
    gw.flush_audit().await;
    (gw, origin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_their_own_trail_and_nobody_elses() {
    let (gw, _origin) = with_traffic().await;
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", "ada-password-1").await.status(), 303);

    let home = ada.get("/").await;
    assert!(
        home.text.contains("ads.test"),
        "a refusal on her page: {}",
        home.text
    );
    assert!(!home.text.contains("bobs-secret"), "{}", home.text);

    let trail = ada.get("/me/audit").await;
    assert_eq!(trail.status(), 200, "{}", trail.text);
    for own in ["origin.test", "ads.test", "other.test", "allowed.test"] {
        assert!(trail.text.contains(own), "{own}: {}", trail.text);
    }
    assert!(!trail.text.contains("bobs-secret"), "{}", trail.text);
    let denied = ada.get("/me/audit?decision=deny").await;
    assert!(denied.text.contains("ads.test") && !denied.text.contains("allowed.test"));
    let bad = ada.get("/me/audit?since=yesterday").await;
    assert_eq!(bad.status(), 400, "{}", bad.text);
    assert!(
        bad.text.contains("`yesterday` is not a time"),
        "{}",
        bad.text
    );

    // Another person's records and the admin pages: 403, and nothing of bob's in the answer.
    for path in [
        "/people/bob/audit",
        "/people",
        "/people/root/audit?decision=allow",
        "/people/bob/audit.csv",
        "/people/bob/audit.jsonl",
    ] {
        let r = ada.get(path).await;
        assert_eq!(r.status(), 403, "{path}: {}", r.text);
        assert!(!r.text.contains("bobs-secret"), "{path}: {}", r.text);
    }
    // Her own trail by its people path is hers to see.
    assert_eq!(ada.get("/people/ada/audit").await.status(), 200);
    assert!(
        actions(&gw, "audit.read").is_empty(),
        "no look at anyone else's"
    );

    // The API: the same person, the same records.
    let me = ada.get("/api/v1/me").await;
    let me: serde_json::Value =
        serde_json::from_str(me.text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(me["name"], "ada");
    assert_eq!(me["tier"], "filtered");
    let api = ada.get("/api/v1/me/audit?decision=deny").await;
    assert_eq!(
        api.header("content-type").as_deref(),
        Some("application/json")
    );
    let body: serde_json::Value =
        serde_json::from_str(api.text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let events = body["events"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        assert_eq!(e["principal"], "ada");
        assert_eq!(e["decision"], "deny");
    }
    assert_eq!(
        Visitor::new(&gw).get("/api/v1/me/audit").await.status(),
        401
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_look_at_someones_trail_is_itself_recorded() {
    let (gw, _origin) = with_traffic().await;
    let mut root = Visitor::new(&gw);
    assert_eq!(root.login("root", "root-password-1").await.status(), 303);
    let people = root.get("/people").await;
    assert_eq!(people.status(), 200, "{}", people.text);
    for name in ["ada", "bob", "root"] {
        assert!(
            people.text.contains(&format!("/people/{name}/audit")),
            "{}",
            people.text
        );
    }
    assert!(
        actions(&gw, "audit.read").is_empty(),
        "the list itself shows no records"
    );
    let bobs = root.get("/people/bob/audit?decision=allow").await;
    assert_eq!(bobs.status(), 200, "{}", bobs.text);
    assert!(bobs.text.contains("other.test"), "{}", bobs.text);
    assert!(
        !bobs.text.contains("allowed.test"),
        "ada's, not bob's: {}",
        bobs.text
    );
    let reads = actions(&gw, "audit.read");
    assert_eq!(reads.len(), 1, "{reads:#?}");
    assert_eq!(reads[0].principal.as_deref(), Some("root"));
    assert_eq!(reads[0].destination, "principal:bob");
    assert_eq!(reads[0].url.as_deref(), Some("decision=allow"));
    assert!(reads[0].client.starts_with("portal 127.0.0.1:"));
    // An export of someone's trail is a look too, and holds only theirs.
    let csv = root.get("/people/bob/audit.csv").await;
    assert_eq!(csv.status(), 200, "{}", csv.text);
    assert!(csv.text.contains("bobs-secret.test") && !csv.text.contains("allowed.test"));
    let jsonl = root.get("/people/ada/audit.jsonl?decision=deny").await;
    assert_eq!(jsonl.status(), 200, "{}", jsonl.text);
    let reads = actions(&gw, "audit.read");
    let details: Vec<(&str, Option<&str>)> = reads
        .iter()
        .map(|r| (r.destination.as_str(), r.url.as_deref()))
        .collect();
    assert_eq!(
        details,
        [
            ("principal:bob", Some("decision=allow")),
            ("principal:bob", Some("csv export")),
            ("principal:ada", Some("jsonl export decision=deny")),
        ]
    );
    // The look is in the admin's own trail, where anyone auditing the admin finds it.
    let own = root.get("/me/audit?decision=action").await;
    assert!(own.text.contains("audit.read"), "{}", own.text);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_hold_exactly_the_persons_filtered_events() {
    let (gw, _origin) = with_traffic().await;
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", "ada-password-1").await.status(), 303);
    let store = gw.store();
    let ids_of =
        |q: AuditQuery| -> Vec<i64> { store.audit(&q).unwrap().iter().map(|r| r.id).collect() };

    let body = |r: &Reply| r.text.split_once("\r\n\r\n").unwrap().1.to_string();
    let csv = ada.get("/me/audit.csv?decision=deny").await;
    assert_eq!(csv.status(), 200, "{}", csv.text);
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains("attachment"));
    let csv = body(&csv);
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,time,client,method,destination"));
    let csv_ids: Vec<i64> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    let expected = ids_of(AuditQuery {
        principal: Some("ada".into()),
        decision: Some("deny".into()),
        ..Default::default()
    });
    assert!(!expected.is_empty());
    assert_eq!(csv_ids, expected);

    let jsonl = ada.get("/me/audit.jsonl?destination=other.test").await;
    assert_eq!(jsonl.status(), 200);
    let events: Vec<serde_json::Value> = body(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = ids_of(AuditQuery {
        principal: Some("ada".into()),
        destination: Some("other.test".into()),
        ..Default::default()
    });
    assert_eq!(expected.len(), 1, "bob's visit to other.test is not hers");
    let got: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(got, expected);
    assert!(events.iter().all(|e| e["principal"] == "ada"));

    // Everything of hers, and nothing else: her requests, and her login.
    let all = body(&ada.get("/me/audit.jsonl").await);
    let expected = ids_of(AuditQuery {
        principal: Some("ada".into()),
        ..Default::default()
    });
    assert_eq!(all.lines().count(), expected.len());
    assert!(!all.contains("bob"), "{all}");
    assert_eq!(Visitor::new(&gw).get("/me/audit.csv").await.status(), 303);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_is_unreachable_through_the_proxy_for_every_tier() {
    let origin = Origin::start("127.0.0.2").await;
    // Loopback allowed for everyone and in the intranet's networks: only the own-socket rule can
    // refuse the portal's address.
    let config = base_config(&origin)
        .replace(
            "allow = [\"127.0.0.2/32\"",
            "allow = [\"127.0.0.1/32\", \"127.0.0.2/32\"",
        )
        .replace(
            "networks = [\"127.0.0.5/32\"]",
            "networks = [\"127.0.0.1/32\", \"127.0.0.5/32\"]",
        )
        .replace(
            "domains = [\"allowed.test\", \"origin.test\"]",
            "domains = [\"allowed.test\", \"origin.test\", \"loop.test\"]",
        );
    let gw = Gateway::start(&config).await;
    let portal = gw.portal_addr();
    let metrics = || {
        gw.server
            .as_ref()
            .unwrap()
            .gateway()
            .metrics
            .portal_connections
            .get()
    };
    // Control: the portal answers when reached directly (one connection counted).
    assert_eq!(Visitor::new(&gw).get("/login").await.status(), 200);
    assert_eq!(metrics(), 1);
    for (user, tier) in [
        ("open", Tier::Open),
        ("filtered", Tier::Filtered),
        ("intranet", Tier::Intranet),
        ("none", Tier::None),
    ] {
        gw.add_user(user, tier, "pw-for-tier-1").await;
        let auth = basic(user, "pw-for-tier-1");
        let mut rules = Vec::new();
        for authority in [
            format!("127.0.0.1:{}", portal.port()),
            format!("localhost:{}", portal.port()),
            format!("loop.test:{}", portal.port()),
        ] {
            let r = exchange(
                gw.proxy,
                format!(
                    "GET http://{authority}/login HTTP/1.1\r\nHost: {authority}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .await;
            assert_eq!(r.status(), 403, "{user} {authority}: {}", r.text);
            assert!(
                !r.text.contains("Log in"),
                "the portal answered: {}",
                r.text
            );
            rules.push(r.rule().unwrap_or_default());
        }
        // A tier may refuse a name before its address is known (`filtered` allows only its
        // lists, `intranet` its zones, `none` everything); where the name passes, the own-socket
        // rule refuses.
        let expected: &[&str] = match tier {
            Tier::None => &["tier-none"; 3],
            Tier::Filtered => &["filtered-default", "filtered-default", "own-socket"],
            Tier::Intranet => &["own-socket", "intranet-default", "intranet-default"],
            Tier::Open => &["own-socket"; 3],
        };
        assert_eq!(rules, expected, "{user}");
    }
    // The portal's side: no connection came through the proxy.
    assert_eq!(metrics(), 1, "the portal saw a connection from the proxy");
    assert_eq!(origin.seen_bytes(), 0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_static_files_are_cached_and_the_default_portal_can_be_turned_off() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    let v = Visitor::new(&gw);
    let js = v.get("/static/htmx.min.js").await;
    assert_eq!(js.status(), 200);
    assert!(
        js.text.contains("htmx 4.0.1"),
        "the version and licence header"
    );
    assert!(js.text.contains("Zero-Clause BSD"));
    assert_eq!(
        js.header("cache-control").as_deref(),
        Some("public, max-age=86400")
    );
    let etag = js.header("etag").unwrap();
    let again = http(
        v.portal,
        "GET",
        "/static/htmx.min.js",
        &[("If-None-Match", etag)],
        None,
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(v.get("/static/nothing.js").await.status(), 404);
    assert_eq!(v.get("/nowhere").await.status(), 404);
    gw.shutdown().await;

    let off = base_config(&origin).replace(
        "[portal]\nlisten = \"127.0.0.1:0\"",
        "[portal]\nenabled = false\nlisten = \"127.0.0.1:0\"",
    );
    let gw = Gateway::start(&off).await;
    assert_eq!(gw.server.as_ref().unwrap().portal_addr(), None);
    gw.shutdown().await;
}

/// The body of a reply as JSON.
pub(crate) fn json_body(r: &Reply) -> serde_json::Value {
    let body = r.text.split_once("\r\n\r\n").map_or("", |b| b.1);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text))
}

/// The property names of a schema of the document.
pub(crate) fn properties(doc: &serde_json::Value, schema: &str) -> Vec<String> {
    let mut keys: Vec<String> = doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema}: {doc:#}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

pub(crate) fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_api_route_and_what_it_answers() {
    let (gw, _origin) = with_traffic().await;
    let anonymous = Visitor::new(&gw);
    let r = anonymous.get("/api/v1/openapi.json").await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let doc = json_body(&r);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{doc:#}"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["name"],
        "gatehouse_session"
    );
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", "ada-password-1").await.status(), 303);

    // Every route the document names that needs the session: refused anonymously, answered to
    // ada (a matrix generated from the document, so a new route is covered when it is described).
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/me") && paths.contains_key("/api/v1/me/audit"));
    // GETs answer ada (a user) unless they say `403` (the review queue); POSTs without the CSRF
    // token are refused to her (`403`), and every route but the document refuses anonymous callers.
    let mut checked = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "1").replace("{name}", "bob");
        if let Some(op) = item.get("get") {
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            let expected_anonymous = if public { 200 } else { 401 };
            assert_eq!(
                anonymous.get(&concrete).await.status(),
                expected_anonymous,
                "{path}"
            );
            let expected_ada = if op["responses"]["403"].is_object() {
                403
            } else {
                200
            };
            assert_eq!(ada.get(&concrete).await.status(), expected_ada, "{path}");
            checked += 1;
        }
        if item.get("post").is_some() {
            let origin = [("Origin", ada.origin())];
            assert_eq!(
                anonymous.post(&concrete, &origin, "{}").await.status(),
                401,
                "{path}"
            );
            assert_eq!(
                ada.post(&concrete, &origin, "{}").await.status(),
                403,
                "{path}: no CSRF token"
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 29,
        "13 routes of a person or reviewer, 15 of the admin API, the dashboard"
    );
    let params: Vec<&str> = paths["/api/v1/me/audit"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        ["since", "until", "destination", "decision", "page"]
    );

    // The schemas name exactly the fields the answers carry.
    let me = json_body(&ada.get("/api/v1/me").await);
    assert_eq!(properties(&doc, "Me"), keys(&me));
    let page = json_body(&ada.get("/api/v1/me/audit").await);
    assert_eq!(properties(&doc, "AuditPage"), keys(&page));
    let event = &page["events"][0];
    assert_eq!(properties(&doc, "Event"), keys(event));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_portal_in_a_real_browser_on_a_phone() {
    let _heavy = testkit::gate::heavy();
    use crate::clients::{browser_dir, run, CHROMIUM};
    let browser = browser_dir();
    assert!(
        browser
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing: scripts/test runs `npm ci` in tests/browser"
    );
    let (gw, _origin) = with_traffic().await;
    let dir = tempfile::tempdir().unwrap();
    // With JavaScript (htmx swaps the table) and without (the same form as a plain GET).
    for javascript in [true, false] {
        let profile = dir.path().join(format!("profile-{javascript}"));
        std::fs::create_dir(&profile).unwrap();
        let shot = |name: &str| dir.path().join(format!("{name}-{javascript}.png"));
        let cfg = serde_json::json!({
            "executablePath": CHROMIUM,
            "portal": format!("http://{}", gw.portal_addr()),
            "username": "ada",
            "password": "ada-password-1",
            "userDataDir": profile,
            "javaScript": javascript,
            "shots": {"home": shot("home"), "trail": shot("trail")},
        });
        let mut c = std::process::Command::new("node");
        c.arg(browser.join("portal.mjs"))
            .arg(cfg.to_string())
            .current_dir(&browser)
            .env("HOME", dir.path());
        let ran = run(c, std::time::Duration::from_secs(180)).await;
        assert!(ran.ok, "{ran:?}");
        let out: serde_json::Value = serde_json::from_str(ran.stdout.lines().last().unwrap_or(""))
            .unwrap_or_else(|e| panic!("no JSON from the script ({e}): {ran:?}"));
        let steps = out["steps"].as_array().unwrap();
        let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap().clone();
        for s in steps {
            assert_eq!(
                s["error"],
                serde_json::Value::Null,
                "js {javascript}: {out:#}"
            );
            assert_eq!(s["overflow"], false, "wider than a phone: {s:#}");
        }
        let home = step("home");
        let text = home["text"].as_str().unwrap();
        assert!(home["url"].as_str().unwrap().ends_with('/'), "{home:#}");
        for want in ["ada", "filtered", "ads.test", "Your refusals"] {
            assert!(text.contains(want), "{want:?} not on her page: {text}");
        }
        let refusals = step("refusals");
        let text = refusals["text"].as_str().unwrap();
        assert!(refusals["url"].as_str().unwrap().contains("decision=deny"));
        assert!(
            text.contains("ads.test") && text.contains("other.test"),
            "{text}"
        );
        assert!(
            !text.contains("allowed.test"),
            "an allowed event among refusals: {text}"
        );
        assert!(!text.contains("bobs-secret"), "{text}");
        assert!(step("logout")["url"].as_str().unwrap().ends_with("/login"));
        let after = step("after logout");
        assert!(
            after["url"].as_str().unwrap().ends_with("/login"),
            "{after:#}"
        );
        for name in ["home", "trail"] {
            let png = std::fs::read(shot(name)).unwrap();
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000);
        }
        if let Ok(keep) = std::env::var("GATEHOUSE_KEEP_SCREENSHOT_DIR") {
            for name in ["home", "trail"] {
                let to =
                    std::path::Path::new(&keep).join(format!("portal-{name}-{javascript}.png"));
                std::fs::copy(shot(name), to).unwrap();
            }
        }
    }
    // Two logins and two logouts, recorded.
    assert_eq!(actions(&gw, "portal.login").len(), 2);
    assert_eq!(actions(&gw, "portal.logout").len(), 2);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_session_ends_at_its_ttl_on_the_gateways_clock() {
    use gatehouse::clock::{Clock, ManualClock};
    let origin = Origin::start("127.0.0.2").await;
    let clock = ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let config = base_config(&origin).replace(
        "[portal]\nlisten = \"127.0.0.1:0\"",
        "[portal]\nlisten = \"127.0.0.1:0\"\nsession_ttl = \"2h\"",
    );
    let gw = Gateway::start_with_clock(&config, clock.clone()).await;
    gw.add_user("ada", Tier::Open, "ada-password-1").await;
    let mut ada = Visitor::new(&gw);
    let r = ada.login("ada", "ada-password-1").await;
    assert!(
        set_cookies(&r).iter().any(|c| c.contains("Max-Age=7200")),
        "{}",
        r.text
    );
    assert_eq!(ada.get("/").await.status(), 200);
    clock.advance(std::time::Duration::from_secs(2 * 3600 - 1));
    assert_eq!(ada.get("/").await.status(), 200, "a second before its end");
    clock.advance(std::time::Duration::from_secs(1));
    assert_eq!(
        ada.get("/").await.status(),
        303,
        "expired at {}",
        clock.now()
    );
    assert_eq!(ada.get("/api/v1/me").await.status(), 401);
    // The next login clears the expired row away.
    let mut again = Visitor::new(&gw);
    assert_eq!(again.login("ada", "ada-password-1").await.status(), 303);
    let sessions = gw.store().portal_sessions_of("ada").unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_stranger_typed_is_shown_as_text_never_as_markup() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    add_admin(&gw, "root", "root-password-1").await;
    // A failed login records the name tried, in that name's trail.
    let tried = "<script>alert(1)</script>";
    assert_eq!(Visitor::new(&gw).login(tried, "x").await.status(), 401);
    let mut root = Visitor::new(&gw);
    assert_eq!(root.login("root", "root-password-1").await.status(), 303);
    let path = format!("/people/{}/audit", form_encode(tried));
    let page = root.get(&path).await;
    assert_eq!(page.status(), 200, "{}", page.text);
    assert!(
        page.text
            .contains("principal:&#60;script&#62;alert(1)&#60;/script&#62;")
            || page
                .text
                .contains("principal:&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains(tried),
        "markup from the trail: {}",
        page.text
    );
    // The login form shows the name typed back, escaped too.
    let again = Visitor::new(&gw).login(tried, "x").await;
    assert!(!again.text.contains(tried), "{}", again.text);
    gw.shutdown().await;
}
