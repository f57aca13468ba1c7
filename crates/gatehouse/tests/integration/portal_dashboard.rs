//! The admins' dashboard (`/dashboard`, `/api/v1/dashboard`) through the real gateway on the
//! `ManualClock`, the real store and real HTTP: after allowed and refused requests through the
//! proxy, a seat taken at a terminal, a pending request and an active grant, the page and the API
//! show exactly those numbers; anyone but an admin gets nothing; and the rollup behind the traffic
//! figures counts each event once however often, and by however many store connections, it is
//! folded.

use std::time::Duration;

use gatehouse::identity::hash_password;
use gatehouse::store::{
    Actor, AuditRow, GrantStore, NewGrant, NewRequest, PrincipalStore, Role, Submitted,
};
use policy::Tier;
use testkit::{base_config, Gateway, Origin};

use crate::grants::{get, now, scope, PW};
use crate::portal::{json_body, keys, properties, Visitor};

const ADMIN_PW: &str = "dashboard-admin-pw";

/// A gateway at Monday 7 December 2026, 09:00 UTC, with a reading room of two seats whose one
/// terminal is 127.0.0.1 (where the test's proxy clients connect from), `ada` (tier `filtered`:
/// `origin.test` is in the allowed `research` list, `denied.origin.test` in the denied `ads` list
/// and `other.test` in none) and the admin `root`.
async fn start(origin: &Origin) -> (Gateway, std::sync::Arc<gatehouse::clock::ManualClock>) {
    let config = format!(
        r#"{base}
[places]
time_zone = "Europe/Berlin"

[[locations]]
name = "reading-room"
time_zone = "Europe/Berlin"
seats = 2

[[terminals]]
name = "desk-1"
location = "reading-room"
addresses = ["127.0.0.1/32"]
"#,
        base = base_config(origin)
    );
    let clock = gatehouse::clock::ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let gw = Gateway::start_with_clock(&config, clock.clone()).await;
    gw.add_user("ada", Tier::Filtered, PW).await;
    gw.store()
        .add_principal(
            "root",
            Role::Admin,
            Tier::None,
            &hash_password(ADMIN_PW).unwrap(),
        )
        .unwrap();
    gw.wait_for_principals().await;
    (gw, clock)
}

const ADMIN: Actor<'static> = Actor {
    name: "root",
    via: "cli",
};

/// ada asks for `domain:other.test` (pending) and is granted `domain:allowed.test` for an hour.
fn pending_and_granted(gw: &Gateway, at: i64) -> (i64, i64) {
    let store = gw.store();
    let ask = NewRequest {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "comparing the two catalogues".into(),
        destination: None,
        approvals_needed: 1,
        pending_for: Duration::from_secs(3600),
    };
    let by = Actor {
        name: "ada",
        via: "cli",
    };
    let Submitted::Request(r) = store.submit_request(&ask, by, at).unwrap() else {
        panic!("no request")
    };
    let new = NewGrant {
        principal: "ada".into(),
        scope: scope("domain:allowed.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "reading the allowed journal".into(),
    };
    let g = store.add_grant(&new, ADMIN, at).unwrap();
    (r.id, g.id)
}

async fn admin(gw: &Gateway) -> Visitor {
    let mut v = Visitor::new(gw);
    assert_eq!(v.login("root", ADMIN_PW).await.status(), 303);
    v
}

/// The request events the gateway recorded (not the portal's actions).
fn requests(gw: &Gateway) -> Vec<AuditRow> {
    gw.audit()
        .into_iter()
        .filter(|e| e.method != AuditRow::ACTION_METHOD)
        .collect()
}

/// `(category, requests)` of the API's traffic, most first, then by name.
fn per_category(d: &serde_json::Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = d["traffic"]["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["category"].as_str().unwrap().to_string();
            (name, c["requests"].as_u64().unwrap())
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_gateway_s_seats_requests_grants_refusals_and_traffic() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let port = origin.port();
    let allowed = get(&gw, "ada", &format!("http://origin.test:{port}/size/1000")).await;
    assert_eq!(allowed.status(), 200, "{}", allowed.head());
    let ads = get(&gw, "ada", &format!("http://denied.origin.test:{port}/")).await;
    assert_eq!(ads.status(), 403);
    let other = get(&gw, "ada", &format!("http://other.test:{port}/")).await;
    assert_eq!(other.status(), 403);
    assert_eq!(
        origin.requests(),
        1,
        "the origin saw the allowed request only"
    );
    gw.flush_audit().await;
    let (request_id, grant_id) = pending_and_granted(&gw, now(&clock));
    let events = requests(&gw);
    assert_eq!(events.len(), 3, "{events:?}");
    let bytes: u64 = events.iter().map(|e| e.bytes_up + e.bytes_down).sum();
    let (ads_rule, other_rule) = (events[1].rule.clone(), events[2].rule.clone());

    let root = admin(&gw).await;
    let r = root.get("/api/v1/dashboard").await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let d = json_body(&r);
    assert_eq!(d["time"], "2026-12-07T09:00:00.000Z");
    assert_eq!(d["since"], "2026-12-06T10:00:00.000Z");
    // ada holds the reading room's desk: one of its two seats.
    assert_eq!(d["sessions"], 1);
    let room = &d["locations"][0];
    assert_eq!(
        (&room["name"], &room["seats"], &room["in_use"]),
        (&"reading-room".into(), &2.into(), &1.into())
    );
    assert_eq!(
        (
            &room["sessions"][0]["principal"],
            &room["sessions"][0]["terminal"]
        ),
        (&"ada".into(), &"desk-1".into())
    );
    assert_eq!(d["pending_requests"]["count"], 1);
    assert_eq!(d["pending_requests"]["oldest"]["id"], request_id);
    assert_eq!(d["active_grants"]["count"], 1);
    assert_eq!(d["active_grants"]["ending_soonest"][0]["id"], grant_id);
    assert_eq!(d["refusals"]["total"], 2);
    let mut rules: Vec<(String, u64)> = d["refusals"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().into(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    rules.sort();
    let mut expected = vec![(ads_rule.clone(), 1), (other_rule.clone(), 1)];
    expected.sort();
    assert_eq!(rules, expected);
    let all = &d["traffic"]["all"];
    assert_eq!(
        (all["requests"].as_u64(), all["bytes"].as_u64()),
        (Some(3), Some(bytes))
    );
    assert!(
        bytes >= 1000,
        "the allowed answer's body is counted: {bytes}"
    );
    let buckets = all["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24);
    assert_eq!(buckets[23]["start"], "2026-12-07T09:00:00.000Z");
    assert_eq!(buckets[23]["requests"], 3);
    // `denied.origin.test` is in `ads` and, as a name under `origin.test`, in `research` too: it
    // counts in both, so the categories add up to more than all traffic.
    assert_eq!(
        per_category(&d),
        [
            ("research".to_string(), 2),
            ("ads".to_string(), 1),
            ("uncategorised".to_string(), 1)
        ]
    );

    // The page shows the same numbers, with the charts drawn in SVG.
    let page = root.get("/dashboard").await;
    assert_eq!(page.status(), 200, "{}", page.text);
    let t = &page.text;
    for shown in [
        "<span class=\"seats\">1 of 2</span>",
        "ada at desk-1 since 2026-12-07T09:00:00.000Z",
        "<strong>1</strong> waiting for review",
        format!("the oldest is request {request_id} for <code>domain:other.test</code>").as_str(),
        "<strong>1</strong> active.",
        "<strong>2</strong> refused in the last 24 hours.",
        format!("<tr><td>{ads_rule}</td><td>1</td></tr>").as_str(),
        "<tr data-category=\"research\"><td>research</td><td>2</td>",
        "<title id=\"requests-t\">Requests per hour</title>",
        "<title>09:00: 3</title>",
        "href=\"/review\"",
    ] {
        assert!(t.contains(shown), "the page shows {shown:?}:\n{t}");
    }
    assert!(!t.contains("<script>"), "no inline script");

    // The API's keys are the document's.
    let doc = json_body(&Visitor::new(&gw).get("/api/v1/openapi.json").await);
    assert_eq!(keys(&d), properties(&doc, "Dashboard"));
    assert_eq!(keys(room), properties(&doc, "DashboardLocation"));
    assert_eq!(
        keys(&d["traffic"]["categories"][0]),
        properties(&doc, "DashboardCategory")
    );
    assert_eq!(keys(&buckets[0]), properties(&doc, "DashboardBucket"));
    assert_eq!(
        doc["paths"]["/api/v1/dashboard"]["get"]["x-gatehouse-access"],
        "admin"
    );
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_see_the_dashboard() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin).await;
    let port = origin.port();
    assert_eq!(
        get(&gw, "ada", &format!("http://origin.test:{port}/"))
            .await
            .status(),
        200
    );
    gw.flush_audit().await;

    let anonymous = Visitor::new(&gw);
    let r = anonymous.get("/dashboard").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.header("location").as_deref(), Some("/login"));
    let r = anonymous.get("/api/v1/dashboard").await;
    assert_eq!(r.status(), 401);
    assert!(json_body(&r)["error"].is_string());

    let mut ada = Visitor::new(&gw);
    assert_eq!(ada.login("ada", PW).await.status(), 303);
    let page = ada.get("/dashboard").await;
    assert_eq!(page.status(), 403);
    for secret in ["reading-room", "desk-1", "Sessions and seats", "research"] {
        assert!(
            !page.text.contains(secret),
            "{secret} shown to ada:\n{}",
            page.text
        );
    }
    assert!(
        !ada.get("/").await.text.contains("href=\"/dashboard\""),
        "no link for ada"
    );
    let api = ada.get("/api/v1/dashboard").await;
    assert_eq!(api.status(), 403);
    assert_eq!(keys(&json_body(&api)), ["error"]);

    let root = admin(&gw).await;
    assert!(
        root.get("/").await.text.contains("href=\"/dashboard\""),
        "the admin's link"
    );
    assert_eq!(root.get("/dashboard").await.status(), 200);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollup_counts_each_event_once_however_often_and_by_whom_it_is_folded() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let url = format!("http://origin.test:{}/", origin.port());
    assert_eq!(get(&gw, "ada", &url).await.status(), 200);
    gw.flush_audit().await;
    let root = admin(&gw).await;
    let first = json_body(&root.get("/api/v1/dashboard").await);
    assert_eq!(first["traffic"]["all"]["requests"], 1);
    // Viewed again with nothing new: the very same figures (the clock did not move).
    let second = json_body(&root.get("/api/v1/dashboard").await);
    assert_eq!(first, second);

    // Two more requests, then another store connection (as another gateway process or the CLI
    // would) folds them before the portal does; then one more that only the portal folds.
    assert_eq!(get(&gw, "ada", &url).await.status(), 200);
    assert_eq!(get(&gw, "ada", &url).await.status(), 200);
    gw.flush_audit().await;
    let lists = gw
        .server
        .as_ref()
        .unwrap()
        .gateway()
        .runtime
        .load()
        .config
        .lists
        .clone();
    let other = gw.store();
    assert_eq!(
        gatehouse::dashboard::fold(&other, &lists, now(&clock)).unwrap(),
        2
    );
    assert_eq!(
        gatehouse::dashboard::fold(&other, &lists, now(&clock)).unwrap(),
        0
    );
    assert_eq!(get(&gw, "ada", &url).await.status(), 200);
    gw.flush_audit().await;
    let third = json_body(&root.get("/api/v1/dashboard").await);
    let fourth = json_body(&root.get("/api/v1/dashboard").await);
    assert_eq!(third, fourth);
    assert_eq!(third["traffic"]["all"]["requests"], 4);
    assert_eq!(per_category(&third), [("research".to_string(), 4)]);
    assert_eq!(requests(&gw).len(), 4);

    // An hour later the same events are in the same bucket, one hour further from the end.
    clock.advance(Duration::from_secs(3600));
    let later = json_body(&root.get("/api/v1/dashboard").await);
    let buckets = later["traffic"]["all"]["buckets"].as_array().unwrap();
    assert_eq!(
        (&buckets[22]["requests"], &buckets[23]["requests"]),
        (&4.into(), &0.into())
    );
    gw.shutdown().await;
}
