//! Asking, reviewing and grants in the portal, through the real gateway on the `ManualClock`, the
//! real store and real HTTP: a refusal (page and CONNECT) links to the prefilled request form, a
//! person asks there, an approver approves in `/review`, and the refused page then loads through
//! the proxy with its event carrying the grant; nobody approves their own request; `/review` is
//! for approvers only; withdrawing; and every new POST refused without its CSRF token or from
//! another origin, with nothing changed; bad input in the form; a two-approval scope.

use std::time::Duration;

use access::RequestState;
use gatehouse::identity::hash_password;
use gatehouse::store::{GrantStore, NewGrant, PrincipalStore, Role};
use policy::Tier;
use testkit::{basic, connect_from, Gateway, Origin};
use tokio::io::AsyncWriteExt;

use crate::grants::{get, now, other, scope, start, until_status, CLI, PW};
use crate::portal::{actions, csrf_field, form_encode, json_body, Visitor};

pub(crate) const LIB_PW: &str = "librarian-password-2";
const PURPOSE: &str = "comparing the two catalogues today";

/// An approver with a password (`grants::start`'s `lib1` has none), reviewing `domain:other.test`.
pub(crate) async fn add_approver(gw: &Gateway, name: &str, role: Role) {
    let store = gw.store();
    store
        .add_principal(name, role, Tier::None, &hash_password(LIB_PW).unwrap())
        .unwrap();
    if role == Role::Approver {
        let now = gatehouse::store::now_us();
        store
            .add_approver_scope(name, &scope("domain:other.test"), CLI, now)
            .unwrap();
    }
    gw.wait_for_principals().await;
}

pub(crate) async fn logged_in(gw: &Gateway, name: &str, password: &str) -> Visitor {
    let mut v = Visitor::new(gw);
    assert_eq!(
        v.login(name, password).await.status(),
        303,
        "{name} logs in"
    );
    v
}

/// The form's fields, URL-encoded, with the token `csrf`.
fn ask_body(csrf: &str, destination: &str) -> String {
    format!(
        "scope={}&duration=1h&purpose={}&claim_by=&destination={}&csrf={csrf}",
        form_encode("domain:other.test"),
        form_encode(PURPOSE),
        form_encode(destination),
    )
}

/// The requests of `who` in the store, newest last.
fn requests_of(gw: &Gateway, who: &str) -> Vec<gatehouse::store::RequestRow> {
    gw.store().requests(Some(who), None, 100).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_person_asks_in_the_portal_an_approver_approves_and_the_page_loads() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    add_approver(&gw, "lib2", Role::Approver).await;
    let url = other(&origin);
    let form_path = "/requests/new?destination=other.test";
    let link = format!("http://{}{form_path}", gw.portal_addr());

    // The refusal page and a refused CONNECT both link to the prefilled form.
    let refused = get(&gw, "ada", &url).await;
    assert_eq!(refused.status(), 403, "{}", refused.text);
    assert!(
        refused
            .text
            .contains(&format!("ask in the portal: {link}\n")),
        "{}",
        refused.text
    );
    let mut s = connect_from("127.0.0.1", gw.proxy).await;
    let port = origin.port();
    let connect = format!(
        "CONNECT other.test:{port} HTTP/1.1\r\nHost: other.test:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        basic("ada", PW)
    );
    s.write_all(connect.as_bytes()).await.unwrap();
    let answer = testkit::read_all(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains(&link), "{answer}");
    gw.flush_audit().await;

    // Her page lists the refusals with “ask for this”; the link opens the prefilled form.
    let ada = logged_in(&gw, "ada", PW).await;
    let home = ada.get("/").await;
    assert!(home.text.contains("ask for this"), "{}", home.text);
    assert!(
        home.text.contains(&format!("href=\"{form_path}\"")),
        "{}",
        home.text
    );
    let form = ada.get(form_path).await;
    assert_eq!(form.status(), 200, "{}", form.text);
    assert!(
        form.text.contains("value=\"domain:other.test\""),
        "{}",
        form.text
    );

    // She asks; the store has her request, recorded as the CLI records one.
    let headers = [("Origin", ada.origin())];
    let r = ada
        .post(
            "/requests/new",
            &headers,
            &ask_body(&csrf_field(&form), "other.test"),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert!(r.text.contains("Request submitted"), "{}", r.text);
    let asked = requests_of(&gw, "ada");
    assert_eq!(asked.len(), 1);
    let id = asked[0].id;
    assert_eq!(
        (
            asked[0].state,
            asked[0].purpose.as_str(),
            asked[0].scope.as_str()
        ),
        (RequestState::Submitted, PURPOSE, "domain:other.test")
    );
    let submitted = actions(&gw, "request.submit");
    assert_eq!(submitted.len(), 1);
    assert!(
        submitted[0].client.starts_with("portal 127.0.0.1:"),
        "{:?}",
        submitted[0]
    );
    assert!(ada.get("/requests").await.text.contains(PURPOSE));

    // She is no approver: the queue is not hers to see, nor to act on.
    assert_eq!(ada.get("/review").await.status(), 403);
    assert_eq!(ada.get("/api/v1/review").await.status(), 403);
    let body = format!("verdict=approve&comment=&csrf={}", ada.csrf().await);
    assert_eq!(
        ada.post(&format!("/review/{id}"), &headers, &body)
            .await
            .status(),
        403
    );
    assert_eq!(requests_of(&gw, "ada")[0].state, RequestState::Submitted);

    // The approver sees it with its purpose and approves it.
    let lib2 = logged_in(&gw, "lib2", LIB_PW).await;
    let queue = lib2.get("/review").await;
    assert_eq!(queue.status(), 200, "{}", queue.text);
    assert!(
        queue.text.contains(PURPOSE) && queue.text.contains("from ada"),
        "{}",
        queue.text
    );
    // Showing ada's requests to the approver is a look at her records, and recorded.
    let looks = actions(&gw, "audit.read");
    assert_eq!(looks.len(), 1, "{looks:?}");
    assert_eq!(
        (looks[0].principal.as_deref(), looks[0].destination.as_str()),
        (Some("lib2"), "principal:ada")
    );
    let body = format!("verdict=approve&comment=fine&csrf={}", csrf_field(&queue));
    let lib_headers = [("Origin", lib2.origin())];
    let done = lib2
        .post(&format!("/review/{id}"), &lib_headers, &body)
        .await;
    assert_eq!(done.status(), 200, "{}", done.text);
    let grant = gw.store().grants(Some("ada"), false).unwrap();
    assert_eq!(grant.len(), 1, "one grant");
    assert_eq!(grant[0].approvers, "lib2");

    // Within a second the proxy lets her through, and the event carries the grant.
    until_status(&gw, "ada", &url, 200).await;
    assert!(
        origin.seen().contains("GET / HTTP/1.1"),
        "the origin got the request"
    );
    gw.flush_audit().await;
    let allowed = gw
        .audit()
        .into_iter()
        .rev()
        .find(|e| e.method == "GET" && e.decision == "allow")
        .unwrap();
    assert_eq!(
        (allowed.rule.as_str(), allowed.grant_id),
        ("grant", Some(grant[0].id))
    );

    // Her grants page shows it with its purpose and time left; the API too.
    let grants = ada.get("/grants").await;
    assert!(
        grants.text.contains(PURPOSE) && grants.text.contains("left"),
        "{}",
        grants.text
    );
    let api = json_body(&ada.get("/api/v1/grants").await);
    assert_eq!(api["grants"][0]["id"], grant[0].id);
    let _ = now(&clock);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_approves_their_own_request_in_the_portal() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin).await;
    add_approver(&gw, "lib2", Role::Approver).await;
    let lib2 = logged_in(&gw, "lib2", LIB_PW).await;
    let headers = [("Origin", lib2.origin())];
    let csrf = lib2.csrf().await;
    let r = lib2
        .post("/requests/new", &headers, &ask_body(&csrf, ""))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let id = requests_of(&gw, "lib2")[0].id;
    let queue = lib2.get("/review").await;
    assert!(
        !queue.text.contains(&format!("Request {id} from")),
        "{}",
        queue.text
    );
    let body = format!("verdict=approve&comment=mine&csrf={csrf}");
    let own = lib2.post(&format!("/review/{id}"), &headers, &body).await;
    assert_eq!(own.status(), 403, "{}", own.text);
    assert!(
        own.text.contains("nobody approves their own request"),
        "{}",
        own.text
    );
    assert_eq!(requests_of(&gw, "lib2")[0].state, RequestState::Submitted);
    assert!(actions(&gw, "request.approve").is_empty());
    assert!(gw.store().grants(Some("lib2"), true).unwrap().is_empty());
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawing_and_every_new_post_without_its_token_or_from_elsewhere_changes_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    add_approver(&gw, "lib2", Role::Approver).await;
    add_approver(&gw, "boss", Role::Admin).await;
    let ada = logged_in(&gw, "ada", PW).await;
    let lib2 = logged_in(&gw, "lib2", LIB_PW).await;
    let boss = logged_in(&gw, "boss", LIB_PW).await;
    let csrf = ada.csrf().await;
    let mine = [("Origin", ada.origin())];
    let elsewhere = [("Origin", "http://evil.test".to_string())];
    let r = ada.post("/requests/new", &mine, &ask_body(&csrf, "")).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let id = requests_of(&gw, "ada")[0].id;
    let given = NewGrant {
        principal: "ada".into(),
        scope: scope("domain:allowed.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "reading the allowed catalogue".into(),
    };
    let g = gw.store().add_grant(&given, CLI, now(&clock)).unwrap().id;

    // Each new POST: without the token, and with it from another origin.
    let lib_csrf = lib2.csrf().await;
    let boss_csrf = boss.csrf().await;
    let cases: Vec<(&Visitor, String, String, &str)> = vec![
        (&ada, "/requests/new".into(), ask_body("{}", ""), &csrf),
        (
            &ada,
            format!("/requests/{id}/withdraw"),
            "csrf={}".into(),
            &csrf,
        ),
        (
            &lib2,
            format!("/review/{id}"),
            "verdict=approve&comment=&csrf={}".into(),
            &lib_csrf,
        ),
        (
            &boss,
            format!("/grants/{g}/revoke"),
            "reason=testing+it&csrf={}".into(),
            &boss_csrf,
        ),
    ];
    for (who, path, body, token) in &cases {
        let origin = [("Origin", who.origin())];
        let without = who.post(path, &origin, &body.replace("{}", "")).await;
        assert_eq!(
            without.status(),
            403,
            "{path} without a token: {}",
            without.text
        );
        let other_site = who.post(path, &elsewhere, &body.replace("{}", token)).await;
        assert_eq!(
            other_site.status(),
            403,
            "{path} from elsewhere: {}",
            other_site.text
        );
    }
    // The API's POSTs: the token travels in a header.
    let api = [
        ("/api/v1/requests".to_string(), &ada),
        (format!("/api/v1/requests/{id}/withdraw"), &ada),
        (format!("/api/v1/review/{id}"), &lib2),
    ];
    for (path, who) in &api {
        let r = who
            .post(
                path,
                &[("Origin", who.origin())],
                "{\"verdict\":\"approve\"}",
            )
            .await;
        assert_eq!(r.status(), 403, "{path}: {}", r.text);
    }
    assert_eq!(requests_of(&gw, "ada").len(), 1, "nothing new was asked");
    assert_eq!(requests_of(&gw, "ada")[0].state, RequestState::Submitted);
    assert!(
        gw.store().grant(g).unwrap().is_live(now(&clock)),
        "the grant still stands"
    );
    for action in ["request.withdraw", "request.approve", "grant.revoke"] {
        assert!(actions(&gw, action).is_empty(), "{action} recorded");
    }

    // With the token, from the portal: withdrawn, and recorded.
    let r = ada
        .post(
            &format!("/requests/{id}/withdraw"),
            &mine,
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert_eq!(requests_of(&gw, "ada")[0].state, RequestState::Withdrawn);
    assert_eq!(actions(&gw, "request.withdraw").len(), 1);
    assert!(ada.get("/requests").await.text.contains("withdrawn"));

    // The API asks and withdraws with the header token.
    let body = format!(
        "{{\"scope\":\"domain:other.test\",\"duration\":\"30m\",\"purpose\":\"{PURPOSE}\"}}"
    );
    let with_token = [("Origin", ada.origin()), ("X-CSRF-Token", csrf.clone())];
    let made = ada.post("/api/v1/requests", &with_token, &body).await;
    assert_eq!(made.status(), 201, "{}", made.text);
    let new_id = json_body(&made)["request"]["id"].as_i64().unwrap();
    let gone = ada
        .post(
            &format!("/api/v1/requests/{new_id}/withdraw"),
            &with_token,
            "",
        )
        .await;
    assert_eq!(gone.status(), 200, "{}", gone.text);
    assert_eq!(json_body(&gone)["request"]["state"], "withdrawn");
    let mine_now = json_body(&ada.get("/api/v1/requests").await);
    assert_eq!(mine_now["requests"].as_array().unwrap().len(), 2);

    // An admin revokes with a reason, from the portal.
    let r = boss
        .post(
            &format!("/grants/{g}/revoke"),
            &[("Origin", boss.origin())],
            &format!("reason=no+longer+needed&csrf={boss_csrf}"),
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text);
    assert!(!gw.store().grant(g).unwrap().is_live(now(&clock)));
    assert_eq!(actions(&gw, "grant.revoke").len(), 1);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_refuses_bad_input_as_the_cli_does_and_asks_nothing() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin).await;
    let ada = logged_in(&gw, "ada", PW).await;
    let csrf = ada.csrf().await;
    let headers = [("Origin", ada.origin())];
    let cases = [
        ("domain:other.test", "1h", "research", "is too short"),
        ("domain:other.test", "9h", PURPOSE, "is longer than the 8h"),
        ("category:nothing-here", "1h", PURPOSE, "names no category"),
        ("domain:other.test", "soon", PURPOSE, "is not a duration"),
    ];
    for (scope_text, duration, purpose, why) in cases {
        let body = format!(
            "scope={}&duration={duration}&purpose={}&claim_by=&destination=&csrf={csrf}",
            form_encode(scope_text),
            form_encode(purpose)
        );
        let r = ada.post("/requests/new", &headers, &body).await;
        assert_eq!(r.status(), 400, "{scope_text} {duration}: {}", r.text);
        assert!(r.text.contains(why), "{why}: {}", r.text);
        // The form comes back with what she wrote.
        assert!(
            r.text.contains(&format!("value=\"{scope_text}\"")),
            "{}",
            r.text
        );
    }
    assert!(requests_of(&gw, "ada").is_empty(), "nothing was asked");
    assert!(actions(&gw, "request.submit").is_empty());
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_approval_scope_needs_two_different_approvers_in_the_portal() {
    let origin = Origin::start("127.0.0.2").await;
    let config = format!(
        "{}\n[grants]\n[[grants.scopes]]\nscope = \"domain:other.test\"\napprovals = 2\n",
        testkit::base_config(&origin)
    );
    let clock = gatehouse::clock::ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let gw = Gateway::start_with_clock(&config, clock.clone()).await;
    gw.add_user("ada", Tier::Filtered, PW).await;
    add_approver(&gw, "lib2", Role::Approver).await;
    add_approver(&gw, "lib3", Role::Approver).await;
    let ada = logged_in(&gw, "ada", PW).await;
    let with_token = [("Origin", ada.origin()), ("X-CSRF-Token", ada.csrf().await)];
    let body = format!(
        "{{\"scope\":\"domain:other.test\",\"duration\":\"1h\",\"purpose\":\"{PURPOSE}\"}}"
    );
    let made = ada.post("/api/v1/requests", &with_token, &body).await;
    assert_eq!(made.status(), 201, "{}", made.text);
    let asked = json_body(&made);
    assert_eq!(asked["request"]["approvals_needed"], 2);
    let id = asked["request"]["id"].as_i64().unwrap();
    let lib2 = logged_in(&gw, "lib2", LIB_PW).await;
    let first = approve(&lib2, id).await;
    assert!(first.text.contains("1 of 2 approvals"), "{}", first.text);
    let again = approve(&lib2, id).await;
    assert_eq!(again.status(), 409, "{}", again.text);
    assert!(
        gw.store().grants(Some("ada"), false).unwrap().is_empty(),
        "no grant yet"
    );
    let lib3 = logged_in(&gw, "lib3", LIB_PW).await;
    let queue = json_body(&lib3.get("/api/v1/review").await);
    assert_eq!(queue["queue"][0]["request"]["id"], id);
    let second = approve(&lib3, id).await;
    assert_eq!(second.status(), 200, "{}", second.text);
    let grant = gw.store().grants(Some("ada"), false).unwrap();
    assert_eq!(grant.len(), 1);
    assert_eq!(grant[0].approvers, "lib2,lib3");
    gw.shutdown().await;
}

/// `v` approves request `id` in `/review`.
async fn approve(v: &Visitor, id: i64) -> testkit::Reply {
    let body = format!("verdict=approve&comment=ok&csrf={}", v.csrf().await);
    v.post(&format!("/review/{id}"), &[("Origin", v.origin())], &body)
        .await
}
