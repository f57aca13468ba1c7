//! The admin pages and API through the real gateway, the real store and real HTTP: an admin
//! creates a user who then browses through the proxy under the tier set; a tier changed in the
//! portal is applied by the running gateway within a second; a disabled user's open tunnel closes
//! and their portal session ends; non-admins get 403 everywhere and change nothing; POSTs without
//! the CSRF token or from another origin change nothing; bad input is refused with the CLI's
//! words; service-account tokens made by the CLI work as bearer tokens on `/api/v1` only, until
//! revoked or their principal is disabled; and every action is in the audit trail with its actor.
//! Groups: an admin creates one, gives it a member, and deletes it (each recorded); a rule on the
//! group opens a destination to the member and closes it again once the group is deleted. An
//! approver creates guests sponsored by themself within their approver scopes only; a user cannot.

use gatehouse::identity::hash_password;
use gatehouse::store::{AccountStore, GrantStore, PrincipalStore, Role};
use policy::Tier;
use testkit::{basic, closed, connect_from, curl, get_from, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{cli_in, eventually};
use crate::grants::{other, start};
use crate::portal::{actions, form_encode, http, json_body, Visitor};

const ROOT_PW: &str = "root-password-12";
const BEA_PW: &str = "bea-password-123";

/// The gateway of `grants::start` with the admin `root` (the only enabled one), logged in to the
/// portal.
async fn with_admin(origin: &Origin) -> (Gateway, Visitor) {
    let (gw, _clock) = start(origin).await;
    let store = gw.store();
    store
        .add_principal(
            "root",
            Role::Admin,
            Tier::None,
            &hash_password(ROOT_PW).unwrap(),
        )
        .unwrap();
    // `root` is the one enabled admin (the first start's `admin` is put aside).
    store.set_disabled("admin", true).unwrap();
    gw.wait_for_principals().await;
    let mut root = Visitor::new(&gw);
    assert_eq!(root.login("root", ROOT_PW).await.status(), 303);
    (gw, root)
}

/// A form POST from the portal's own origin with the session's token.
async fn post_form(v: &Visitor, path: &str, fields: &[(&str, &str)]) -> testkit::Reply {
    let mut body = format!("csrf={}", v.csrf().await);
    for (k, val) in fields {
        body.push_str(&format!("&{k}={}", form_encode(val)));
    }
    v.post(path, &[("Origin", v.origin())], &body).await
}

async fn create_bea(root: &Visitor, tier: &str) -> testkit::Reply {
    let fields = [
        ("name", "bea"),
        ("password", BEA_PW),
        ("tier", tier),
        ("role", "user"),
    ];
    post_form(root, "/admin/principals", &fields).await
}

async fn browse(gw: &Gateway, url: &str) -> u16 {
    get_from("127.0.0.1", gw.proxy, ("bea", BEA_PW), url)
        .await
        .status()
}

/// The recorded actions named `action` not made at the command line (the setup's), each checked
/// to be by `actor` through the portal.
fn recorded_by(gw: &Gateway, action: &str, actor: &str) -> Vec<String> {
    let rows: Vec<_> = actions(gw, action)
        .into_iter()
        .filter(|r| r.client != "cli")
        .collect();
    for r in &rows {
        assert_eq!(r.principal.as_deref(), Some(actor), "{r:?}");
        assert!(r.client.starts_with("portal 127.0.0.1:"), "{r:?}");
    }
    rows.into_iter()
        .map(|r| r.url.unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_user_who_browses_and_a_tier_change_applies_within_a_second() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    let r = create_bea(&root, "open").await;
    assert_eq!(r.status(), 201, "{}", r.text);
    assert!(r.text.contains("`bea` can log in now"), "{}", r.text);
    let mut bea = Visitor::new(&gw);
    assert_eq!(
        bea.login("bea", BEA_PW).await.status(),
        303,
        "she logs in to the portal"
    );
    let url = other(&origin);
    eventually("bea browses under `open`", || async {
        browse(&gw, &url).await == 200
    })
    .await;
    assert!(
        origin.seen().contains("other.test"),
        "the origin saw her request"
    );

    // The list shows her; the change form moves her to `filtered`, where other.test is refused.
    let list = root.get("/admin").await;
    assert!(list.text.contains("/admin/principals/bea"), "{}", list.text);
    let seen = origin.requests();
    let fields = [
        ("tier", "filtered"),
        ("role", "user"),
        ("groups", ""),
        ("enabled", "true"),
    ];
    let r = post_form(&root, "/admin/principals/bea", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    eventually("the running gateway applies the tier", || async {
        browse(&gw, &url).await == 403
    })
    .await;
    assert_eq!(gw.store().principal("bea").unwrap().tier, Tier::Filtered);
    let refused_from = origin.requests();
    assert_eq!(browse(&gw, &url).await, 403);
    assert_eq!(
        origin.requests(),
        refused_from,
        "a refused request reaches no origin"
    );
    assert!(refused_from >= seen);

    assert_eq!(
        recorded_by(&gw, "principal.create", "root"),
        ["role=user tier=open"]
    );
    assert_eq!(
        recorded_by(&gw, "principal.update", "root"),
        ["tier=filtered (was open)"]
    );
    gw.shutdown().await;
}

/// A tunnel to other.test opened by `bea`, with one request relayed through it.
async fn bea_tunnel(gw: &Gateway, origin: &Origin) -> tokio::net::TcpStream {
    let mut s = connect_from("127.0.0.1", gw.proxy).await;
    let port = origin.port();
    let connect = format!(
        "CONNECT other.test:{port} HTTP/1.1\r\nHost: other.test:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        basic("bea", BEA_PW)
    );
    s.write_all(connect.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_closes_their_tunnel_and_ends_their_portal_session() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    assert_eq!(create_bea(&root, "open").await.status(), 201);
    let mut bea = Visitor::new(&gw);
    assert_eq!(bea.login("bea", BEA_PW).await.status(), 303);
    assert_eq!(bea.get("/").await.status(), 200);
    let url = other(&origin);
    eventually("bea browses", || async { browse(&gw, &url).await == 200 }).await;
    let mut tunnel = bea_tunnel(&gw, &origin).await;

    // The list's one-click disable.
    let r = post_form(&root, "/admin/principals/bea", &[("enabled", "false")]).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert!(
        closed(&mut tunnel, SAFETY).await,
        "the gateway closed her tunnel"
    );
    let page = bea.get("/").await;
    assert_eq!(
        page.status(),
        303,
        "her portal session is gone: {}",
        page.text
    );
    assert_eq!(page.header("location").as_deref(), Some("/login"));
    let next = get_from("127.0.0.1", gw.proxy, ("bea", BEA_PW), &url).await;
    assert_eq!(next.status(), 403, "her next request is refused");
    assert_eq!(next.rule().as_deref(), Some("principal-disabled"));
    assert_eq!(
        recorded_by(&gw, "principal.disable", "root"),
        ["was enabled"]
    );

    // Enabled again, she browses again (and the enable is recorded).
    let r = post_form(&root, "/admin/principals/bea", &[("enabled", "true")]).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    eventually("bea browses again", || async {
        browse(&gw, &url).await == 200
    })
    .await;
    assert_eq!(recorded_by(&gw, "principal.enable", "root").len(), 1);
    gw.shutdown().await;
}

/// Every admin page and API route, as `(method, path, body)`: the pages' form bodies get a valid
/// CSRF token added, the API's are JSON.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/admin", ""),
    ("GET", "/admin/principals/ada", ""),
    ("GET", "/admin/approvers", ""),
    ("GET", "/admin/guests", ""),
    ("GET", "/admin/tokens", ""),
    ("GET", "/admin/config", ""),
    (
        "POST",
        "/admin/principals",
        "name=eve&password=eve-password-1&tier=open&role=admin",
    ),
    (
        "POST",
        "/admin/principals/ada",
        "tier=open&role=admin&enabled=true",
    ),
    (
        "POST",
        "/admin/approvers",
        "approver=ada&scope=domain:x.test",
    ),
    (
        "POST",
        "/admin/approvers/remove",
        "approver=lib1&scope=domain:other.test",
    ),
    ("POST", "/admin/guests", "name=gus&tier=open&expires=3d"),
    ("POST", "/admin/tokens", "principal=ada"),
    ("POST", "/admin/tokens/1/revoke", ""),
    ("GET", "/admin/groups", ""),
    ("POST", "/admin/groups", "name=staff2"),
    ("POST", "/admin/groups/staff/delete", "confirm=staff"),
    ("GET", "/api/v1/admin/groups", ""),
    ("POST", "/api/v1/admin/groups", r#"{"name":"staff2"}"#),
    ("POST", "/api/v1/admin/groups/staff/delete", ""),
    ("GET", "/api/v1/admin/principals", ""),
    ("GET", "/api/v1/admin/approvers", ""),
    ("GET", "/api/v1/admin/guests", ""),
    ("GET", "/api/v1/admin/tokens", ""),
    ("GET", "/api/v1/admin/config", ""),
    (
        "POST",
        "/api/v1/admin/principals",
        r#"{"name":"eve","password":"eve-password-1","tier":"open","role":"admin"}"#,
    ),
    (
        "POST",
        "/api/v1/admin/principals/ada",
        r#"{"tier":"open","role":"admin"}"#,
    ),
    (
        "POST",
        "/api/v1/admin/approvers",
        r#"{"approver":"ada","scope":"domain:x.test"}"#,
    ),
    (
        "POST",
        "/api/v1/admin/approvers/remove",
        r#"{"approver":"lib1","scope":"domain:other.test"}"#,
    ),
    (
        "POST",
        "/api/v1/admin/guests",
        r#"{"name":"gus","tier":"open","expires":"3d"}"#,
    ),
    ("POST", "/api/v1/admin/tokens", r#"{"principal":"ada"}"#),
    ("POST", "/api/v1/admin/tokens/1/revoke", ""),
];

/// What an admin action could change: principals, groups, approver scopes, tokens, and the
/// change counter.
fn state(gw: &Gateway) -> String {
    let s = gw.store();
    format!(
        "{:?} {:?} {:?} {:?} {}",
        s.principals().unwrap(),
        s.groups().unwrap(),
        s.approver_scopes().unwrap(),
        s.tokens(None).unwrap(),
        s.generation().unwrap()
    )
}

/// Send `route` as `v` (a page form with `csrf` and the portal's origin; API calls with the
/// origin and `X-CSRF-Token`).
async fn send(v: &Visitor, (method, path, body): (&str, &str, &str), csrf: &str) -> testkit::Reply {
    let mut headers = v.cookies();
    headers.push(("Origin", v.origin()));
    if method == "GET" {
        return http(v.portal, "GET", path, &headers, None).await;
    }
    if path.starts_with("/api/") {
        headers.push(("X-CSRF-Token", csrf.to_string()));
        return http(v.portal, "POST", path, &headers, Some(body)).await;
    }
    let body = format!("{body}&csrf={csrf}");
    http(v.portal, "POST", path, &headers, Some(&body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admins_get_403_on_every_admin_page_and_api_route_and_nothing_changes() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _root) = with_admin(&origin).await;
    gw.store().add_group("staff").unwrap();
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", crate::grants::PW).await.status(), 303);
    let csrf = ada.csrf().await;
    let anonymous = Visitor::new(&gw);
    let before = state(&gw);
    for &route in ROUTES {
        let r = send(&ada, route, &csrf).await;
        assert_eq!(r.status(), 403, "{route:?}: {}", r.text);
        let a = send(&anonymous, route, "").await;
        let expected = if route.1.starts_with("/api/") {
            401
        } else {
            303
        };
        assert_eq!(a.status(), expected, "anonymous {route:?}: {}", a.text);
    }
    assert_eq!(state(&gw), before, "nothing changed");
    assert!(
        !ada.get("/").await.text.contains("href=\"/admin\""),
        "no Admin link for her"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_posts_without_the_csrf_token_or_from_another_origin_change_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    gw.store().add_group("staff").unwrap();
    let csrf = root.csrf().await;
    let before = state(&gw);
    for &(method, path, body) in ROUTES.iter().filter(|r| r.0 == "POST") {
        // No token (an empty one), from the portal's origin.
        let r = send(&root, (method, path, body), "").await;
        assert_eq!(r.status(), 403, "{path} without a token: {}", r.text);
        // The right token, from another site.
        let mut headers = root.cookies();
        headers.push(("Origin", "http://evil.test".to_string()));
        headers.push(("X-CSRF-Token", csrf.clone()));
        let form = format!("{body}&csrf={csrf}");
        let sent = if path.starts_with("/api/") {
            body
        } else {
            &form
        };
        let r = http(root.portal, "POST", path, &headers, Some(sent)).await;
        assert_eq!(r.status(), 403, "{path} cross-origin: {}", r.text);
    }
    assert_eq!(state(&gw), before, "nothing changed");
    gw.shutdown().await;
}

/// A form's path, its fields, the status and the message expected.
type BadCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    u16,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_message_and_changes_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    let before = state(&gw);
    let cases: &[BadCase] = &[
        (
            "/admin/principals",
            &[("name", "bea"), ("password", BEA_PW), ("tier", "wide")],
            400,
            "`wide` is not a tier: use one of `open`, `filtered`, `intranet`, `none`",
        ),
        (
            "/admin/principals",
            &[("name", ""), ("password", BEA_PW), ("tier", "open")],
            400,
            "`` is not a valid name",
        ),
        (
            "/admin/principals",
            &[("name", "ada"), ("password", BEA_PW), ("tier", "open")],
            409,
            "a principal named `ada` already exists",
        ),
        (
            "/admin/principals",
            &[("name", "bea"), ("password", "short"), ("tier", "open")],
            400,
            "the password is too short",
        ),
        (
            "/admin/principals/ada",
            &[("tier", "wide")],
            400,
            "`wide` is not a tier",
        ),
        (
            "/admin/principals/ada",
            &[("groups", "nosuch")],
            400,
            "no group named `nosuch`",
        ),
        (
            "/admin/principals/root",
            &[("enabled", "false")],
            409,
            "`root` is the last enabled admin",
        ),
        (
            "/admin/guests",
            &[
                ("name", "gus"),
                ("tier", "open"),
                ("expires", "2020-01-01T00:00:00Z"),
            ],
            400,
            "the expiry `2020-01-01T00:00:00Z` is in the past: it must be later than now",
        ),
        (
            "/admin/guests",
            &[("name", "gus"), ("expires", "3d")],
            400,
            "give the guest a tier or a scope",
        ),
        (
            "/admin/approvers",
            &[("approver", "lib1"), ("scope", "category:nosuch")],
            400,
            "`category:nosuch` names no category",
        ),
        (
            "/admin/tokens",
            &[("principal", "nobody")],
            404,
            "no principal named `nobody`",
        ),
    ];
    for (path, fields, status, message) in cases {
        let r = post_form(&root, path, fields).await;
        assert_eq!(r.status(), *status, "{path} {fields:?}: {}", r.text);
        assert!(
            r.text.contains(&message.replace('`', "&#96;")) || r.text.contains(message),
            "{path} {fields:?}: {}",
            r.text
        );
        assert!(r.text.contains("Nothing was changed"), "{}", r.text);
    }
    // The API answers the same words.
    let mut headers = root.cookies();
    headers.push(("Origin", root.origin()));
    headers.push(("X-CSRF-Token", root.csrf().await));
    let r = http(
        root.portal,
        "POST",
        "/api/v1/admin/principals",
        &headers,
        Some(r#"{"name":"bea","password":"bea-password-123","tier":"wide"}"#),
    )
    .await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(
        json_body(&r)["error"],
        "`wide` is not a tier: use one of `open`, `filtered`, `intranet`, `none`"
    );
    assert_eq!(state(&gw), before, "nothing changed");
    // The CLI refuses a past expiry with the same words.
    let (code, _, err) = cli_in(
        gw.data_path(),
        &gw.config_path(),
        &[
            "guest",
            "add",
            "gus",
            "--sponsor",
            "root",
            "--tier",
            "open",
            "--expires",
            "2020-01-01T00:00:00Z",
        ],
        None,
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("`2020-01-01T00:00:00Z` is in the past: it must be later than now"),
        "{err}"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approver_scopes_and_guests_are_managed_and_recorded() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    let r = post_form(
        &root,
        "/admin/approvers",
        &[("approver", "lib1"), ("scope", "domain:extra.test")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text);
    let page = root.get("/admin/approvers").await;
    assert!(page.text.contains("domain:extra.test"), "{}", page.text);
    let r = post_form(
        &root,
        "/admin/approvers/remove",
        &[("approver", "lib1"), ("scope", "domain:extra.test")],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(
        recorded_by(&gw, "approver.add", "root"),
        ["scope=domain:extra.test"]
    );
    assert_eq!(recorded_by(&gw, "approver.remove", "root").len(), 1);

    let fields = [
        ("name", "gus"),
        ("sponsor", "lib1"),
        ("tier", "open"),
        ("expires", "3d"),
    ];
    let r = post_form(&root, "/admin/guests", &fields).await;
    assert_eq!(r.status(), 201, "{}", r.text);
    let pw = r
        .text
        .split("shown only this once: ")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(pw.len() >= 20, "{pw}");
    let created = recorded_by(&gw, "guest.create", "root");
    assert!(
        created[0].starts_with("sponsor=lib1 tier=open"),
        "{created:?}"
    );
    let list = root.get("/admin/guests").await;
    assert!(
        list.text.contains("gus") && list.text.contains("lib1"),
        "{}",
        list.text
    );
    let mut gus = Visitor::new(&gw);
    assert_eq!(
        gus.login("gus", &pw).await.status(),
        303,
        "the guest logs in with the password shown"
    );
    let url = other(&origin);
    eventually("the guest browses", || async {
        get_from("127.0.0.1", gw.proxy, ("gus", &pw), &url)
            .await
            .status()
            == 200
    })
    .await;
    // The configuration is shown, read-only.
    let c = root.get("/admin/config").await;
    assert_eq!(c.status(), 200, "{}", c.text);
    assert!(
        c.text.contains("edited in the configuration files"),
        "{}",
        c.text
    );
    gw.shutdown().await;
}

/// `GET path` with `Authorization: Bearer token` (and `extra` headers).
async fn bearer(gw: &Gateway, path: &str, token: &str, extra: &[(&str, String)]) -> testkit::Reply {
    let mut headers = vec![("Authorization", format!("Bearer {token}"))];
    headers.extend(extra.iter().cloned());
    http(gw.portal_addr(), "GET", path, &headers, None).await
}

fn created_token(out: &str) -> String {
    out.split("shown only this once: ")
        .nth(1)
        .expect("a token")
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_token_works_as_a_bearer_on_the_api_only_until_revoked_or_disabled() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    let cli = |args: &[&str]| cli_in(gw.data_path(), &gw.config_path(), args, None);
    let (code, out, err) = cli(&[
        "token",
        "create",
        "--principal",
        "ada",
        "--label",
        "ci",
        "--expires",
        "90d",
    ]);
    assert_eq!(code, 0, "{err}");
    let token = created_token(&out);
    assert!(token.starts_with("gh_") && token.len() == 46, "{token}");

    // As a program would call it: curl with the bearer header, no cookie, no CSRF token.
    let auth = format!("Authorization: Bearer {token}");
    let url = format!("http://{}/api/v1/me", gw.portal_addr());
    let me = curl(&["--noproxy", "*", "-H", &auth, &url]).await;
    assert_eq!(me.status, 200, "{me:?}");
    let me: serde_json::Value = serde_json::from_slice(&me.body).unwrap();
    assert_eq!(
        (me["name"].as_str(), me["role"].as_str()),
        (Some("ada"), Some("user"))
    );
    // Pages ignore it; a cookie with it is refused; an admin route is not hers.
    let page = bearer(&gw, "/", &token, &[]).await;
    assert_eq!(page.status(), 303, "{}", page.text);
    let both = bearer(&gw, "/api/v1/me", &token, &root.cookies()).await;
    assert_eq!(both.status(), 400, "{}", both.text);
    assert_eq!(
        bearer(&gw, "/api/v1/admin/principals", &token, &[])
            .await
            .status(),
        403
    );
    assert_eq!(
        bearer(&gw, "/api/v1/me", "gh_not-a-token", &[])
            .await
            .status(),
        401
    );
    let (_, listed, _) = cli(&["token", "list", "--format", "json"]);
    let row: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(
        (row["principal"].as_str(), row["label"].as_str()),
        (Some("ada"), Some("ci"))
    );
    assert!(row["last_used"].is_string(), "its use is recorded: {row}");
    let stored = gw.store().tokens(None).unwrap();
    assert!(
        !format!("{stored:?}").contains(&token[3..]),
        "only its hash is stored"
    );

    // Revoked: 401 at once.
    let id = row["id"].as_i64().unwrap().to_string();
    let (code, _, err) = cli(&["token", "revoke", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(bearer(&gw, "/api/v1/me", &token, &[]).await.status(), 401);

    // A second token stops when its principal is disabled, and works again when enabled.
    let (_, out, _) = cli(&["token", "create", "--principal", "ada"]);
    let second = created_token(&out);
    assert_eq!(bearer(&gw, "/api/v1/me", &second, &[]).await.status(), 200);
    let r = post_form(&root, "/admin/principals/ada", &[("enabled", "false")]).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(bearer(&gw, "/api/v1/me", &second, &[]).await.status(), 401);

    let created = actions(&gw, "token.create");
    assert_eq!(created.len(), 2);
    assert!(created
        .iter()
        .all(|r| r.principal.as_deref() == Some("cli") && r.client == "cli"));
    assert_eq!(actions(&gw, "token.revoke").len(), 1);
    // The CLI's own account changes are recorded the same way, as `cli`.
    let (code, _, err) = cli(&["user", "set-tier", "ada", "open"]);
    assert_eq!(code, 0, "{err}");
    let by_cli: Vec<_> = actions(&gw, "principal.update")
        .into_iter()
        .filter(|r| r.client == "cli")
        .collect();
    assert_eq!(by_cli.len(), 1, "{by_cli:?}");
    assert_eq!(by_cli[0].url.as_deref(), Some("tier=open (was filtered)"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_token_administers_through_the_api_without_csrf_and_the_portal_makes_tokens() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    let r = post_form(
        &root,
        "/admin/tokens",
        &[("principal", "root"), ("label", "automation")],
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text);
    let token = r
        .text
        .split("shown only this once: ")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_string();
    let headers = [("Authorization", format!("Bearer {token}"))];
    let body = r#"{"name":"bea","password":"bea-password-123","tier":"open"}"#;
    let r = http(
        gw.portal_addr(),
        "POST",
        "/api/v1/admin/principals",
        &headers,
        Some(body),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text);
    assert_eq!(json_body(&r)["principal"]["tier"], "open");
    let change = r#"{"tier":"filtered","enabled":false}"#;
    let r = http(
        gw.portal_addr(),
        "POST",
        "/api/v1/admin/principals/bea",
        &headers,
        Some(change),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let answer = json_body(&r);
    assert_eq!(
        answer["recorded"],
        serde_json::json!(["principal.update", "principal.disable"])
    );
    assert_eq!(answer["principal"]["enabled"], false);
    let list = bearer(&gw, "/api/v1/admin/tokens", &token, &[]).await;
    assert_eq!(json_body(&list)["tokens"][0]["label"], "automation");
    let created = actions(&gw, "principal.create");
    assert_eq!(created[0].principal.as_deref(), Some("root"));
    assert!(created[0].client.starts_with("portal 127.0.0.1:"));
    // The document lists the admin routes, their access class and the bearer scheme.
    let doc = json_body(&http(gw.portal_addr(), "GET", "/api/v1/openapi.json", &[], None).await);
    assert_eq!(
        doc["paths"]["/api/v1/admin/principals"]["post"]["x-gatehouse-access"],
        "admin"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    gw.shutdown().await;
}

/// `POST path` with a JSON body as `v`, from the portal's origin with the session's CSRF token.
async fn post_json(v: &Visitor, path: &str, body: &str) -> testkit::Reply {
    let mut headers = v.cookies();
    headers.push(("Origin", v.origin()));
    headers.push(("X-CSRF-Token", v.csrf().await));
    http(v.portal, "POST", path, &headers, Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_group_gives_it_a_member_and_deletes_it_each_recorded() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, root) = with_admin(&origin).await;
    let generation = gw.store().generation().unwrap();
    let r = post_form(&root, "/admin/groups", &[("name", "staff")]).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    let fields = [
        ("tier", ""),
        ("role", ""),
        ("groups", "staff"),
        ("enabled", ""),
    ];
    let r = post_form(&root, "/admin/principals/ada", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(gw.store().principal("ada").unwrap().groups, ["staff"]);
    let page = root.get("/admin/groups").await;
    assert!(page.text.contains("1 (ada)"), "{}", page.text);
    let (code, out, err) = cli_in(gw.data_path(), &gw.config_path(), &["group", "list"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("staff") && l.contains("ada")),
        "{out}"
    );
    let mut headers = root.cookies();
    headers.push(("Origin", root.origin()));
    let r = http(root.portal, "GET", "/api/v1/admin/groups", &headers, None).await;
    assert_eq!(json_body(&r)["groups"][0]["member_count"], 1, "{}", r.text);

    // Deleting needs the name typed again; a wrong one changes nothing.
    let before = state(&gw);
    let r = post_form(&root, "/admin/groups/staff/delete", &[("confirm", "staf")]).await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert!(r.text.contains("to confirm deleting it"), "{}", r.text);
    assert_eq!(state(&gw), before, "nothing changed");
    let r = post_form(&root, "/admin/groups/staff/delete", &[("confirm", "staff")]).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert!(r.text.contains("had members ada"), "{}", r.text);
    assert!(gw.store().groups().unwrap().is_empty());
    assert!(gw.store().principal("ada").unwrap().groups.is_empty());
    assert!(
        gw.store().generation().unwrap() > generation,
        "the gateway's change counter moved, so its rules stop seeing the group"
    );
    assert_eq!(recorded_by(&gw, "group.create", "root"), ["name=staff"]);
    assert_eq!(recorded_by(&gw, "group.delete", "root"), ["members=ada"]);
    let subjects: Vec<_> = actions(&gw, "group.delete")
        .into_iter()
        .map(|r| r.destination)
        .collect();
    assert_eq!(subjects, ["group:staff"]);

    // The API: the CLI's words for a bad name and a taken one; create and delete.
    let before = state(&gw);
    let r = post_json(&root, "/api/v1/admin/groups", r#"{"name":"bad name"}"#).await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(
        json_body(&r)["error"],
        "`bad name` is not a valid name: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
    );
    let r = post_form(&root, "/admin/groups", &[("name", "bad/name")]).await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert!(r.text.contains("is not a valid name"), "{}", r.text);
    assert_eq!(state(&gw), before, "nothing changed");
    let (code, _, err) = cli_in(
        gw.data_path(),
        &gw.config_path(),
        &["group", "add", "bad name"],
        None,
    );
    assert_ne!(code, 0);
    assert!(err.contains("`bad name` is not a valid name"), "{err}");
    let r = post_json(&root, "/api/v1/admin/groups", r#"{"name":"desk"}"#).await;
    assert_eq!(r.status(), 201, "{}", r.text);
    assert_eq!(json_body(&r)["group"]["name"], "desk");
    let r = post_json(&root, "/api/v1/admin/groups", r#"{"name":"desk"}"#).await;
    assert_eq!(r.status(), 409, "{}", r.text);
    assert_eq!(
        json_body(&r)["error"],
        "a group named `desk` already exists"
    );
    let r = post_json(&root, "/api/v1/admin/groups/desk/delete", "").await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let r = post_json(&root, "/api/v1/admin/groups/desk/delete", "").await;
    assert_eq!(r.status(), 400, "{}", r.text);
    assert_eq!(json_body(&r)["error"], "no group named `desk`");
    assert_eq!(recorded_by(&gw, "group.create", "root").len(), 2);
    assert_eq!(recorded_by(&gw, "group.delete", "root").len(), 2);
    gw.shutdown().await;
}

/// The password a guest-created page shows once.
fn shown_password(text: &str) -> String {
    text.split("shown only this once: ")
        .nth(1)
        .expect("a password")
        .split('<')
        .next()
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_creates_a_guest_within_their_scopes_only_and_sponsored_by_themself() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _root) = with_admin(&origin).await;
    let store = gw.store();
    let pw = crate::grants::PW;
    store
        .add_principal(
            "lib2",
            Role::Approver,
            Tier::None,
            &hash_password(pw).unwrap(),
        )
        .unwrap();
    let cli = crate::grants::CLI;
    store
        .add_approver_scope("lib2", &crate::grants::scope("domain:other.test"), cli, 0)
        .unwrap();
    gw.wait_for_principals().await;
    let mut lib2 = Visitor::new(&gw);
    assert_eq!(lib2.login("lib2", pw).await.status(), 303);
    let page = lib2.get("/guests").await;
    assert_eq!(page.status(), 200, "{}", page.text);
    assert!(page.text.contains("Create a guest"), "{}", page.text);

    // Outside her scopes, or for another sponsor: refused, nothing created.
    let before = state(&gw);
    let refused: &[(&[(&str, &str)], &str)] = &[
        (
            &[("name", "gus"), ("tier", "open"), ("expires", "3d")],
            "cannot give a guest `tier:open`: no approver scope of theirs covers it",
        ),
        (
            &[
                ("name", "gus"),
                ("scope", "domain:elsewhere.test"),
                ("expires", "3d"),
            ],
            "cannot give a guest `domain:elsewhere.test`",
        ),
        (
            &[
                ("name", "gus"),
                ("sponsor", "lib1"),
                ("scope", "domain:other.test"),
                ("expires", "3d"),
            ],
            "`lib2` sponsors only their own guests, not `lib1`'s",
        ),
    ];
    for (fields, message) in refused {
        let r = post_form(&lib2, "/guests", fields).await;
        assert_eq!(r.status(), 403, "{fields:?}: {}", r.text);
        assert!(
            r.text.contains(&message.replace('\'', "&#39;")),
            "{fields:?}: {}",
            r.text
        );
    }
    let r = post_json(
        &lib2,
        "/api/v1/guests",
        r#"{"name":"gus","tier":"open","expires":"3d"}"#,
    )
    .await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert!(
        json_body(&r)["error"]
            .as_str()
            .unwrap()
            .contains("cannot give a guest `tier:open`"),
        "{}",
        r.text
    );
    assert_eq!(state(&gw), before, "nothing changed");

    // Within her scope: created, sponsored by her, recorded, and the guest browses there.
    let fields = [
        ("name", "gus"),
        ("scope", "domain:other.test"),
        ("expires", "3d"),
    ];
    let r = post_form(&lib2, "/guests", &fields).await;
    assert_eq!(r.status(), 201, "{}", r.text);
    let gus_pw = shown_password(&r.text);
    let created = recorded_by(&gw, "guest.create", "lib2");
    assert!(
        created[0].starts_with("sponsor=lib2 tier=none"),
        "{created:?}"
    );
    assert!(lib2.get("/guests").await.text.contains("gus"));
    let url = other(&origin);
    eventually("the guest browses within the grant", || async {
        get_from("127.0.0.1", gw.proxy, ("gus", &gus_pw), &url)
            .await
            .status()
            == 200
    })
    .await;
    assert!(origin.seen().contains("other.test"), "the origin saw it");
    let r = post_json(
        &lib2,
        "/api/v1/guests",
        r#"{"name":"gwen","scope":"domain:sub.other.test","expires":"1d"}"#,
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text);
    assert_eq!(json_body(&r)["guest"]["sponsor"], "lib2");

    // A user without the approver role: 403 on the page and the API, nothing changed.
    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", pw).await.status(), 303);
    let before = state(&gw);
    assert_eq!(ada.get("/guests").await.status(), 403);
    let r = post_form(&ada, "/guests", &fields).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    let r = post_json(
        &ada,
        "/api/v1/guests",
        r#"{"name":"gil","scope":"domain:other.test","expires":"1d"}"#,
    )
    .await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(
        json_body(&r)["error"],
        "only approvers and admins create guests"
    );
    assert!(!ada.get("/").await.text.contains("href=\"/guests\""));
    assert_eq!(state(&gw), before, "nothing changed");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_on_a_group_follows_the_group_made_and_deleted_in_the_portal() {
    let origin = Origin::start("127.0.0.2").await;
    let rules = tempfile::tempdir().unwrap();
    let rules_path = rules.path().join("rules.cedar");
    std::fs::write(
        &rules_path,
        "@id(\"staff-open\")\n@tier(\"open\")\npermit (principal in Gatehouse::Group::\"staff\", action, resource);\n",
    )
    .unwrap();
    let config = format!(
        "{}\n[rules]\nfiles = [\"{}\"]\n",
        testkit::base_config(&origin),
        rules_path.display()
    );
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Filtered, crate::grants::PW).await;
    gw.store()
        .add_principal(
            "root",
            Role::Admin,
            Tier::None,
            &hash_password(ROOT_PW).unwrap(),
        )
        .unwrap();
    gw.wait_for_principals().await;
    let mut root = Visitor::new(&gw);
    assert_eq!(root.login("root", ROOT_PW).await.status(), 303);
    let url = other(&origin);
    let ada = |want: u16| {
        let (gw, url) = (&gw, &url);
        async move { crate::grants::get(gw, "ada", url).await.status() == want }
    };
    assert!(ada(403).await, "filtered: other.test is refused");

    let r = post_form(&root, "/admin/groups", &[("name", "staff")]).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    let fields = [("tier", ""), ("role", ""), ("groups", "staff")];
    let r = post_form(&root, "/admin/principals/ada", &fields).await;
    assert_eq!(r.status(), 303, "{}", r.text);
    eventually("the rule on `staff` opens other.test to ada", || ada(200)).await;
    assert!(origin.seen().contains("other.test"), "the origin saw her");

    let r = post_form(&root, "/admin/groups/staff/delete", &[("confirm", "staff")]).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    eventually("the group gone, the rule no longer matches her", || {
        ada(403)
    })
    .await;
    let seen = origin.requests();
    assert!(ada(403).await);
    assert_eq!(
        origin.requests(),
        seen,
        "a refused request reaches no origin"
    );
    gw.shutdown().await;
}
