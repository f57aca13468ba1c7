//! Access grants through the real gateway, with the injected `ManualClock`: a refused page allowed
//! after approval (its event carrying the grant), revocation and expiry closing an open tunnel
//! (the client's connection ends and the origin sees nothing more) and refusing new requests, a
//! claim-by window starting at the first use, a guest disabled at its expiry, and two gateways on
//! one store seeing a new grant within a second.

use std::sync::Arc;
use std::time::Duration;

use access::{GrantState, Scope};
use gatehouse::clock::{Clock, ManualClock};
use gatehouse::config::Config;
use gatehouse::server::{Server, ServerOptions};
use gatehouse::store::{
    Actor, GrantStore, NewGrant, NewGuest, NewRequest, PrincipalStore, Reviewed, Role, Submitted,
    Verdict,
};
use policy::Tier;
use testkit::{base_config, basic, closed, connect_from, get_from, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{cli_in, eventually};

pub(crate) const PW: &str = "grants-test-pw";
pub(crate) const CLI: Actor<'static> = Actor {
    name: "cli",
    via: "cli",
};

/// A gateway on a `ManualClock` at Monday 7 December 2026, 09:00 UTC, with `ada` (tier `filtered`:
/// `other.test` is in no allowed category, so she is refused there) and the approver `lib1`, who
/// reviews requests for `domain:other.test`.
pub(crate) async fn start(origin: &Origin) -> (Gateway, Arc<ManualClock>) {
    let clock = ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let gw = Gateway::start_with_clock(&base_config(origin), clock.clone()).await;
    gw.add_user("ada", Tier::Filtered, PW).await;
    let store = gw.store();
    store
        .add_principal("lib1", Role::Approver, Tier::None, "x")
        .unwrap();
    store
        .add_approver_scope("lib1", &scope("domain:other.test"), CLI, now(&clock))
        .unwrap();
    gw.wait_for_principals().await;
    (gw, clock)
}

pub(crate) fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

pub(crate) fn now(clock: &ManualClock) -> i64 {
    clock.now().as_microsecond()
}

pub(crate) fn other(origin: &Origin) -> String {
    format!("http://other.test:{}/", origin.port())
}

/// A grant of `domain:other.test` to `ada`, added by an administrator at the clock's time.
fn grant_other(gw: &Gateway, clock: &ManualClock, claim_by: Option<Duration>) -> i64 {
    let new = NewGrant {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by,
        purpose: "checking the other catalogue".into(),
    };
    gw.store().add_grant(&new, CLI, now(clock)).unwrap().id
}

pub(crate) async fn get(gw: &Gateway, user: &str, url: &str) -> testkit::Reply {
    get_from("127.0.0.1", gw.proxy, (user, PW), url).await
}

/// Wait until `user` gets `status` at `url` through `gw` (a grant is honoured within a second).
pub(crate) async fn until_status(gw: &Gateway, user: &str, url: &str, status: u16) {
    eventually(&format!("{user} gets {status} at {url}"), || async {
        get(gw, user, url).await.status() == status
    })
    .await;
}

/// A tunnel to `other.test` opened by `ada`, with one request relayed through it: the connection.
async fn tunnel_with_traffic(gw: &Gateway, origin: &Origin) -> tokio::net::TcpStream {
    let mut s = connect_from("127.0.0.1", gw.proxy).await;
    let port = origin.port();
    let connect = format!(
        "CONNECT other.test:{port} HTTP/1.1\r\nHost: other.test:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        basic("ada", PW)
    );
    s.write_all(connect.as_bytes()).await.unwrap();
    let head = read_some(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s.write_all(b"GET /size/5 HTTP/1.1\r\nHost: other.test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_some(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s
}

async fn read_some(s: &mut tokio::net::TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The tunnel's connection ends, and bytes the client sends afterwards never reach the origin.
async fn assert_cut(s: &mut tokio::net::TcpStream, origin: &Origin) {
    let seen = origin.seen_bytes();
    assert!(closed(s, SAFETY).await, "the gateway closed the tunnel");
    let _ = s
        .write_all(b"GET /after HTTP/1.1\r\nHost: other.test\r\n\r\n")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(origin.seen_bytes(), seen, "the origin saw nothing more");
    assert!(!origin.seen().contains("/after"));
}

/// The tunnel's audit event, once recorded.
async fn tunnel_event(gw: &Gateway) -> gatehouse::store::AuditRow {
    gw.flush_audit().await;
    let mut found = None;
    for _ in 0..100 {
        found = gw.audit().into_iter().find(|r| r.method == "CONNECT");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        gw.flush_audit().await;
    }
    found.expect("the tunnel was recorded")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_page_is_allowed_after_approval_and_its_event_carries_the_grant() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let url = other(&origin);
    let refused = get(&gw, "ada", &url).await;
    assert_eq!(refused.status(), 403, "{}", refused.text);
    assert_eq!(refused.rule().as_deref(), Some("filtered-default"));
    let store = gw.store();
    let ask = NewRequest {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "comparing the two catalogues".into(),
        destination: Some(format!("other.test:{}", origin.port())),
        approvals_needed: 1,
        pending_for: Duration::from_secs(3600),
    };
    let ada = Actor {
        name: "ada",
        via: "cli",
    };
    let Submitted::Request(r) = store.submit_request(&ask, ada, now(&clock)).unwrap() else {
        panic!("no request")
    };
    let lib1 = Actor {
        name: "lib1",
        via: "cli",
    };
    let Reviewed::Approved(g) = store
        .review(r.id, Verdict::Approve, "fine", lib1, now(&clock))
        .unwrap()
    else {
        panic!("not approved")
    };
    until_status(&gw, "ada", &url, 200).await;
    assert!(
        origin.seen().contains("GET / HTTP/1.1"),
        "the origin got the request"
    );
    gw.flush_audit().await;
    let events = gw.audit();
    let event = events
        .iter()
        .rev()
        .find(|e| e.method == "GET" && e.decision == "allow")
        .unwrap();
    assert_eq!((event.rule.as_str(), event.grant_id), ("grant", Some(g.id)));
    let first = events.iter().find(|e| e.method == "GET").unwrap();
    assert_eq!(first.grant_id, None, "the refusal carries no grant");
    // `gatehouse audit` shows the purpose next to the traffic; `policy explain` names the grant.
    let (data, config) = (gw.data_path(), gw.config_path());
    let (code, out, err) = cli_in(data, &config, &["audit", "--format", "json"], None);
    assert_eq!(code, 0, "{err}");
    let allowed: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["rule"] == "grant")
        .unwrap();
    assert_eq!(allowed["grant_id"], g.id);
    assert_eq!(allowed["purpose"], "comparing the two catalogues");
    let at = clock.now().to_string();
    let explain = [
        "policy",
        "explain",
        "--principal",
        "ada",
        "--address",
        "127.0.0.1",
        "--at",
        &at,
        &url,
    ];
    let (code, out, err) = cli_in(data, &config, &explain, None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("decision: allow by `grant`"), "{out}");
    assert!(
        out.contains(&format!(
            "access grant: {}, purpose: comparing the two catalogues",
            g.id
        )),
        "{out}"
    );
    // Someone else is still refused there.
    gw.add_user("bob", Tier::Filtered, PW).await;
    assert_eq!(get(&gw, "bob", &url).await.status(), 403);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_grant_closes_its_open_tunnel_and_refuses_new_requests() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let id = grant_other(&gw, &clock, None);
    until_status(&gw, "ada", &other(&origin), 200).await;
    let mut s = tunnel_with_traffic(&gw, &origin).await;
    gw.store()
        .revoke_grant(id, "the catalogue moved", CLI, now(&clock))
        .unwrap();
    assert_cut(&mut s, &origin).await;
    let t = tunnel_event(&gw).await;
    assert_eq!(t.error.as_deref(), Some("revoked"), "{t:?}");
    assert_eq!(t.revoked_by.as_deref(), Some("filtered-default"));
    assert_eq!(
        t.grant_id,
        Some(id),
        "the tunnel was allowed under the grant"
    );
    let r = get(&gw, "ada", &other(&origin)).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("filtered-default"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_ends_at_its_expiry_closing_its_tunnel_without_waiting_for_the_store() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let id = grant_other(&gw, &clock, None);
    until_status(&gw, "ada", &other(&origin), 200).await;
    let mut s = tunnel_with_traffic(&gw, &origin).await;
    // One second before its end it still holds.
    clock.advance(Duration::from_secs(3599));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(&gw, "ada", &other(&origin)).await.status(), 200);
    clock.advance(Duration::from_secs(1));
    assert_cut(&mut s, &origin).await;
    let t = tunnel_event(&gw).await;
    assert_eq!(t.error.as_deref(), Some("revoked"), "{t:?}");
    assert_eq!(t.revoked_by.as_deref(), Some("filtered-default"));
    assert_eq!(get(&gw, "ada", &other(&origin)).await.status(), 403);
    // The sweep writes the expiry down, recorded as the gateway's action.
    let store = gw.store();
    eventually("the grant is recorded as expired", || async {
        store.grant(id).unwrap().state == GrantState::Expired
    })
    .await;
    gw.flush_audit().await;
    assert!(gw
        .audit()
        .iter()
        .any(|e| e.rule == "grant.expire" && e.grant_id == Some(id)));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_by_grant_starts_its_clock_at_the_first_use() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let id = grant_other(&gw, &clock, Some(Duration::from_secs(24 * 3600)));
    // Ten hours later (the grant lasts one hour once started) it is still there to be claimed.
    clock.advance(Duration::from_secs(10 * 3600));
    until_status(&gw, "ada", &other(&origin), 200).await;
    let first_use = now(&clock);
    let store = gw.store();
    eventually("the first use is recorded", || async {
        store.grant(id).unwrap().starts_us.is_some()
    })
    .await;
    let g = store.grant(id).unwrap();
    assert_eq!(g.starts_us, Some(first_use));
    assert_eq!(g.expires_us, Some(first_use + 3600 * 1_000_000));
    // An hour after the first use it has ended.
    clock.advance(Duration::from_secs(3600));
    until_status(&gw, "ada", &other(&origin), 403).await;
    gw.flush_audit().await;
    let claims = gw
        .audit()
        .iter()
        .filter(|e| e.rule == "grant.claim")
        .count();
    assert_eq!(claims, 1, "claimed once");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_is_disabled_at_its_expiry_and_its_tunnel_closes() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let store = gw.store();
    let guest = NewGuest {
        name: "visitor".into(),
        sponsor: "lib1".into(),
        tier: Tier::Filtered,
        password_hash: gatehouse::identity::hash_password(PW).unwrap(),
        lasts: Duration::from_secs(3 * 24 * 3600),
        scope: None,
        purpose: "visiting researcher".into(),
    };
    let lib1 = Actor {
        name: "lib1",
        via: "cli",
    };
    store.add_guest(&guest, lib1, now(&clock)).unwrap();
    gw.wait_for_principals().await;
    let url = format!("http://origin.test:{}/", origin.port());
    assert_eq!(get(&gw, "visitor", &url).await.status(), 200);
    let mut s = connect_from("127.0.0.1", gw.proxy).await;
    let port = origin.port();
    let connect = format!(
        "CONNECT origin.test:{port} HTTP/1.1\r\nHost: origin.test:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        basic("visitor", PW)
    );
    s.write_all(connect.as_bytes()).await.unwrap();
    assert!(read_some(&mut s).await.starts_with("HTTP/1.1 200"));
    clock.advance(Duration::from_secs(3 * 24 * 3600));
    assert_cut(&mut s, &origin).await;
    assert!(store.principal("visitor").unwrap().disabled);
    let r = get(&gw, "visitor", &url).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("principal-disabled"));
    gw.flush_audit().await;
    assert!(gw
        .audit()
        .iter()
        .any(|e| e.rule == "guest.expire" && e.destination == "principal:visitor"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_store_both_honour_a_new_grant_within_a_second() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let config = Config::from_file(&gw.config_path()).unwrap();
    let second = Server::start(ServerOptions {
        config,
        config_path: None,
        data_dir: gw.data_path().to_path_buf(),
        clock: clock.clone(),
    })
    .await
    .unwrap();
    let url = other(&origin);
    let via_second = || async {
        get_from("127.0.0.1", second.proxy_addr(), ("ada", PW), &url)
            .await
            .status()
    };
    assert_eq!(via_second().await, 403);
    assert_eq!(get(&gw, "ada", &url).await.status(), 403);
    let id = grant_other(&gw, &clock, None);
    until_status(&gw, "ada", &url, 200).await;
    eventually("the second gateway honours the grant", || async {
        via_second().await == 200
    })
    .await;
    // And both honour its end.
    gw.store()
        .revoke_grant(id, "done", CLI, now(&clock))
        .unwrap();
    until_status(&gw, "ada", &url, 403).await;
    eventually("the second gateway honours the revocation", || async {
        via_second().await == 403
    })
    .await;
    second.shutdown().await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_never_beats_a_global_deny_and_a_tier_grant_decides_with_its_tier() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    gw.add_user("sam", Tier::None, PW).await;
    let store = gw.store();
    let give = |who: &str, items: &str| NewGrant {
        principal: who.into(),
        scope: scope(items),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "testing what a grant can open".into(),
    };
    // `ads.test` is on a global deny list: a grant naming it opens nothing.
    store
        .add_grant(
            &give("ada", "domain:ads.test domain:other.test"),
            CLI,
            now(&clock),
        )
        .unwrap();
    let tier = store
        .add_grant(&give("sam", "tier:open"), CLI, now(&clock))
        .unwrap();
    until_status(&gw, "ada", &other(&origin), 200).await;
    let denied = get(&gw, "ada", &format!("http://ads.test:{}/", origin.port())).await;
    assert_eq!(denied.status(), 403, "{}", denied.text);
    assert_eq!(denied.rule().as_deref(), Some("global-deny:ads"));
    // `sam` has the tier `none`; the grant decides with `open`.
    until_status(&gw, "sam", &other(&origin), 200).await;
    gw.flush_audit().await;
    let event = gw
        .audit()
        .into_iter()
        .rev()
        .find(|e| e.principal.as_deref() == Some("sam") && e.decision == "allow")
        .unwrap();
    assert_eq!(
        (event.rule.as_str(), event.grant_id),
        ("tier-open", Some(tier.id))
    );
    assert!(
        !origin.seen().contains("ads.test"),
        "the denied request never reached the origin"
    );
    gw.shutdown().await;
}
