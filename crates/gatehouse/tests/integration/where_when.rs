//! Where and when, through the real gateway: terminals identified by the client's source address
//! (sockets bound to 127.0.0.x before connecting), opening hours at the gateway's injected clock,
//! rules by group and location, what the audit trail records, and a reload that closes an open
//! tunnel whose decision no longer holds. The clock is a `ManualClock` the tests move: no test
//! waits for an hour to pass.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::clock::ManualClock;

use crate::cli::eventually;
use gatehouse::store::PrincipalStore;
use policy::Tier;
use testkit::Edit;
use testkit::{base_config, basic, connect_from, get_from, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PW: &str = "where-when-pw";

/// 2026-12-07 is a Monday; 10:00 in Berlin is 09:00 UTC.
fn berlin(local: &str) -> jiff::Timestamp {
    let civil: jiff::civil::DateTime = local.parse().unwrap();
    civil
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp()
}

/// A reading room (hours Mon–Fri 09–18 in Berlin, two terminals), a staff office (always open),
/// addresses that are no terminal refused, and two rules.
fn places_config(origin: &Origin, rules_file: &str) -> String {
    format!(
        r#"{base}
[places]
unregistered = "refuse"
time_zone = "Europe/Berlin"

[[locations]]
name = "reading-room"
time_zone = "Europe/Berlin"
seats = 5
closed = ["2026-12-25"]
[locations.hours]
mon = ["09:00-18:00"]
tue = ["09:00-18:00"]
wed = ["09:00-18:00"]
thu = ["09:00-18:00"]
fri = ["09:00-18:00"]

[[locations]]
name = "staff-office"
time_zone = "Europe/Berlin"

[[terminals]]
name = "rr-01"
location = "reading-room"
addresses = ["127.0.0.11"]

[[terminals]]
name = "rr-02"
location = "reading-room"
addresses = ["127.0.0.12"]

[[terminals]]
name = "staff-desk"
location = "staff-office"
addresses = ["127.0.0.21"]

[[locations]]
name = "foyer"
time_zone = "Europe/Berlin"

[[terminals]]
name = "foyer-1"
location = "foyer"
addresses = ["127.0.0.31"]

[rules]
files = ["{rules_file}"]
"#,
        base = base_config(origin).edit(
            "hosts = { ",
            r#"hosts = { "wiki.intranet.test" = ["127.0.0.5"], "internal.test" = ["127.0.0.5"], "#,
        )
    )
}

const RULES: &str = r#"
@id("reading-room-researchers-only")
@reason("the reading room's terminals are reserved for researchers")
forbid (principal, action, resource)
when { context.location == "reading-room" }
unless { principal in Gatehouse::Group::"researchers" };

@id("staff-office-open")
@tier("open")
permit (principal in Gatehouse::Group::"staff", action, resource)
when { context.location == "staff-office" };

@id("foyer-intranet")
@tier("intranet")
permit (principal, action, resource)
when { context.location == "foyer" };
"#;

/// A gateway on `places_config` with the rules in `rules`, its clock at `at`, and principals:
/// `rhea` (researcher, filtered), `gus` (no group, open), `sam` (staff, none).
async fn start(origin: &Origin, rules: &str, at: jiff::Timestamp) -> (Gateway, Arc<ManualClock>) {
    let clock = ManualClock::new(at);
    let dir = tempfile::tempdir().unwrap();
    let rules_path = dir.path().join("rules.cedar");
    std::fs::write(&rules_path, rules).unwrap();
    let text = places_config(origin, rules_path.to_str().unwrap());
    let gw = Gateway::start_with_clock(&text, clock.clone()).await;
    // The rule file must outlive the test's reloads: keep it beside the configuration.
    std::fs::copy(&rules_path, gw.config_path().with_file_name("rules.cedar")).unwrap();
    std::fs::write(gw.config_path(), places_config(origin, "rules.cedar")).unwrap();
    gw.add_user("rhea", Tier::Filtered, PW).await;
    gw.add_user("gus", Tier::Open, PW).await;
    gw.add_user("sam", Tier::None, PW).await;
    let store = gw.store();
    store.add_group("researchers").unwrap();
    store.add_member("researchers", "rhea").unwrap();
    store.add_group("staff").unwrap();
    store.add_member("staff", "sam").unwrap();
    gw.wait_for_principals().await;
    (gw, clock)
}

/// A tunnel to the origin opened by `user` from `source`: the connection, after its `200`.
async fn open_tunnel(source: &str, gw: &Gateway, user: &str, port: u16) -> tokio::net::TcpStream {
    let mut s = connect_from(source, gw.proxy).await;
    let connect = format!(
        "CONNECT origin.test:{port} HTTP/1.1\r\nHost: origin.test:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        basic(user, PW)
    );
    s.write_all(connect.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(SAFETY, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s
}

/// The audit event of the tunnel, once the gateway recorded it.
async fn tunnel_event(gw: &Gateway) -> gatehouse::store::AuditRow {
    tokio::time::sleep(Duration::from_millis(50)).await;
    gw.flush_audit().await;
    gw.audit()
        .into_iter()
        .find(|r| r.method == "CONNECT")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_is_known_by_its_address_and_recorded_with_every_event() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;
    let url = format!("http://origin.test:{}/journal", origin.port());

    let r = get_from("127.0.0.11", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert_eq!(origin.requests(), 1);

    // An address that is no registered terminal is refused, and nothing reaches the origin.
    let r = get_from("127.0.0.99", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("unregistered-terminal"));
    assert_eq!(origin.requests(), 1);

    gw.flush_audit().await;
    let rows = gw.audit();
    let allowed = rows.iter().find(|r| r.decision == "allow").unwrap();
    assert_eq!(allowed.terminal.as_deref(), Some("rr-01"));
    assert_eq!(allowed.location.as_deref(), Some("reading-room"));
    assert_eq!(allowed.groups.as_deref(), Some("researchers"));
    assert_eq!(allowed.tier.as_deref(), Some("filtered"));
    let version = allowed.policy_version.clone().unwrap();
    assert_eq!(version.len(), 16);
    let refused = rows.iter().find(|r| r.decision == "deny").unwrap();
    assert_eq!(refused.rule, "unregistered-terminal");
    assert_eq!(refused.terminal, None);
    assert_eq!(refused.policy_version.as_deref(), Some(version.as_str()));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_location_refuses_outside_its_hours_and_opens_again_on_time() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin, RULES, berlin("2026-12-07T17:59")).await;
    let url = format!("http://origin.test:{}/", origin.port());

    let r = get_from("127.0.0.11", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);

    // 18:00 in Berlin: closed. The page says so, and the origin sees nothing more.
    clock.set(berlin("2026-12-07T18:00"));
    let r = get_from("127.0.0.11", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("location-closed"));
    assert!(r.text.contains("closed"), "{}", r.text);
    assert_eq!(origin.requests(), 1);

    // The staff office has no hours: open at any time.
    let r = get_from("127.0.0.21", gw.proxy, ("sam", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);

    // Christmas Day is a Friday, but a closed date.
    clock.set(berlin("2026-12-25T10:00"));
    let r = get_from("127.0.0.12", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.rule().as_deref(), Some("location-closed"), "{}", r.text);

    // The next morning at nine it is open again.
    clock.set(berlin("2026-12-08T09:00"));
    let r = get_from("127.0.0.11", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert_eq!(origin.requests(), 3);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_decide_by_group_and_location_with_their_own_ids_and_reasons() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;
    let url = format!("http://other.test:{}/", origin.port());

    // gus is on `open`, but not a researcher: refused at the reading room by the rule, with its reason.
    let r = get_from("127.0.0.12", gw.proxy, ("gus", PW), &url).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("reading-room-researchers-only"));
    assert!(
        r.text.contains("reserved for researchers"),
        "the page carries the rule's reason: {}",
        r.text
    );
    assert_eq!(origin.requests(), 0);

    // sam's own tier is `none`; at the staff office the rule applies `open`.
    let r = get_from("127.0.0.21", gw.proxy, ("sam", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert_eq!(origin.requests(), 1);
    gw.flush_audit().await;
    let rows = gw.audit();
    let sam = rows
        .iter()
        .find(|r| r.principal.as_deref() == Some("sam"))
        .unwrap();
    assert_eq!(sam.rule, "tier-open");
    assert_eq!(sam.location.as_deref(), Some("staff-office"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_closes_an_open_tunnel_that_the_new_rules_refuse() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;

    // sam opens a tunnel from the staff office.
    let mut s = open_tunnel("127.0.0.21", &gw, "sam", origin.port()).await;

    // The new rules no longer open the staff office to staff: sam's own tier (`none`) applies.
    let rules_path = gw.config_path().with_file_name("rules.cedar");
    std::fs::write(
        &rules_path,
        RULES.edit("@tier(\"open\")\npermit", "@tier(\"none\")\npermit"),
    )
    .unwrap();
    gw.reload().await.unwrap();

    // The tunnel is closed by the gateway, promptly.
    assert!(
        testkit::closed(&mut s, SAFETY).await,
        "the gateway closed the tunnel"
    );
    let tunnel = tunnel_event(&gw).await;
    assert_eq!(tunnel.decision, "allow");
    assert_eq!(tunnel.revoked_by.as_deref(), Some("tier-none"));
    assert_eq!(tunnel.error.as_deref(), Some("revoked"), "{tunnel:?}");
    // A new request under the new rules is refused.
    let url = format!("http://other.test:{}/", origin.port());
    let r = get_from("127.0.0.21", gw.proxy, ("sam", PW), &url).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("tier-none"));
    gw.shutdown().await;
}

/// `count` principals `p0`, `p1`, … on `open`, in the group `researchers`.
async fn add_researchers(gw: &Gateway, count: usize) {
    let store = gw.store();
    for i in 0..count {
        let name = format!("p{i}");
        store
            .add_principal(
                &name,
                gatehouse::store::Role::User,
                Tier::Open,
                &gatehouse::identity::hash_password(PW).unwrap(),
            )
            .unwrap();
        store.add_member("researchers", &name).unwrap();
    }
    gw.wait_for_principals().await;
}

/// A gateway on `room_config` with five seats, its clock at `at`, and `researchers` researchers.
async fn start_room(
    origin: &Origin,
    at: jiff::Timestamp,
    researchers: usize,
) -> (Gateway, Arc<ManualClock>) {
    let clock = ManualClock::new(at);
    let gw = Gateway::start_with_clock(&room_config(origin, 5), clock.clone()).await;
    gw.store().add_group("researchers").unwrap();
    add_researchers(&gw, researchers).await;
    (gw, clock)
}

/// A reading room with eight terminals (127.0.0.11–18) and `seats` seats, open all week.
fn room_config(origin: &Origin, seats: u32) -> String {
    let terminals: String = (1..=8)
        .map(|i| {
            format!(
                "[[terminals]]\nname = \"rr-0{i}\"\nlocation = \"reading-room\"\naddresses = [\"127.0.0.1{i}\"]\n\n"
            )
        })
        .collect();
    format!(
        r#"{base}
[places]
unregistered = "refuse"
time_zone = "Europe/Berlin"

[[locations]]
name = "reading-room"
time_zone = "Europe/Berlin"
seats = {seats}
idle_timeout = "15m"
[locations.hours]
mon = ["09:00-18:00"]

{terminals}"#,
        base = base_config(origin)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_people_arriving_at_once_never_overfill_the_room_and_the_sixth_is_told_when_a_seat_frees(
) {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start_room(&origin, berlin("2026-12-07T10:00"), 8).await;
    let url = format!("http://origin.test:{}/", origin.port());

    // Eight people sit down at eight terminals at once: exactly five get a seat.
    let arrivals = (0..8).map(|i| {
        let url = url.clone();
        let proxy = gw.proxy;
        tokio::spawn(async move {
            let user = format!("p{i}");
            let source = format!("127.0.0.1{}", i + 1);
            get_from(&source, proxy, (&user, PW), &url).await
        })
    });
    let replies: Vec<_> = futures_join(arrivals).await;
    let seated = replies.iter().filter(|r| r.status() == 200).count();
    let full: Vec<_> = replies
        .iter()
        .filter(|r| r.rule().as_deref() == Some("seats-full"))
        .collect();
    assert_eq!(
        seated,
        5,
        "{:?}",
        replies.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert_eq!(full.len(), 3);
    assert_eq!(origin.requests(), 5, "the refused reached nothing");
    // The page says the room is full, with the seat count and when a seat frees at the latest
    // (15 minutes after the last activity: 10:15 Berlin).
    let page = &full[0].text;
    assert!(page.contains("all 5 seats are taken"), "{page}");
    assert!(page.contains("10:15"), "{page}");
    assert_eq!(gw.server_seats_in_use(), 5);

    // Fifteen idle minutes later the seats free, without anyone waiting for them.
    clock.advance(Duration::from_secs(15 * 60 + 1));
    let r = get_from("127.0.0.16", gw.proxy, ("p5", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    gw.shutdown().await;
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_terminal_holds_one_session_and_a_person_one_terminal() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start_room(&origin, berlin("2026-12-07T10:00"), 2).await;
    let url = format!("http://origin.test:{}/", origin.port());

    assert_eq!(
        get_from("127.0.0.11", gw.proxy, ("p0", PW), &url)
            .await
            .status(),
        200
    );
    // Someone else at the same terminal is refused while the session lasts.
    let r = get_from("127.0.0.11", gw.proxy, ("p1", PW), &url).await;
    assert_eq!(r.rule().as_deref(), Some("terminal-busy"), "{}", r.text);
    // The same person at a second terminal is refused: one session per person.
    let r = get_from("127.0.0.12", gw.proxy, ("p0", PW), &url).await;
    assert_eq!(
        r.rule().as_deref(),
        Some("principal-sessions"),
        "{}",
        r.text
    );
    assert_eq!(origin.requests(), 1);
    // A refused request takes no seat: p1 sits at the second terminal at once.
    assert_eq!(
        get_from("127.0.0.12", gw.proxy, ("p1", PW), &url)
            .await
            .status(),
        200
    );

    // The audit trail names the session of every allowed request, the same one for p0's requests.
    assert_eq!(
        get_from("127.0.0.11", gw.proxy, ("p0", PW), &url)
            .await
            .status(),
        200
    );
    gw.flush_audit().await;
    let rows = gw.audit();
    let sessions: Vec<_> = rows
        .iter()
        .filter(|r| r.principal.as_deref() == Some("p0") && r.decision == "allow")
        .map(|r| r.session_id)
        .collect();
    assert_eq!(sessions.len(), 2);
    assert!(sessions[0].is_some());
    assert_eq!(sessions[0], sessions[1]);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_time_ends_the_sessions_and_closes_their_tunnels() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start_room(&origin, berlin("2026-12-07T17:50"), 1).await;

    let mut s = open_tunnel("127.0.0.11", &gw, "p0", origin.port()).await;
    assert_eq!(gw.server_seats_in_use(), 1);

    // 18:00: the room closes; within the sweep's second the session ends and the tunnel closes.
    clock.set(berlin("2026-12-07T18:00"));
    assert!(
        testkit::closed(&mut s, SAFETY).await,
        "the tunnel was closed at closing time"
    );
    assert_eq!(gw.server_seats_in_use(), 0);
    let tunnel = tunnel_event(&gw).await;
    assert!(tunnel.revoked_by.is_some(), "{tunnel:?}");
    assert_eq!(tunnel.error.as_deref(), Some("revoked"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_does_not_answer_for_seats_refuses_and_says_so() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start_room(&origin, berlin("2026-12-07T10:00"), 1).await;
    let url = format!("http://origin.test:{}/", origin.port());

    // Another process holds the store's write lock for longer than a seat may wait.
    let db = gw.data_path().join("gatehouse.db");
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = get_from("127.0.0.11", gw.proxy, ("p0", PW), &url).await;
    assert_eq!(r.status(), 503, "{}", r.text);
    assert_eq!(r.error().as_deref(), Some("sessions_unavailable"));
    assert!(r.text.contains("could not decide"), "{}", r.text);
    assert_eq!(origin.requests(), 0);
    locker.execute_batch("ROLLBACK").unwrap();

    // Once the store answers again, the seat is taken.
    let r = get_from("127.0.0.11", gw.proxy, ("p0", PW), &url).await;
    assert_eq!(r.status(), 200, "{}", r.text);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reports_what_a_candidate_configuration_would_decide_differently() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;
    let url = format!("http://origin.test:{}/", origin.port());
    // Recorded: gus refused at the reading room (twice), rhea allowed there, sam allowed at the office.
    for _ in 0..2 {
        let r = get_from("127.0.0.12", gw.proxy, ("gus", PW), &url).await;
        assert_eq!(r.status(), 403);
    }
    assert_eq!(
        get_from("127.0.0.11", gw.proxy, ("rhea", PW), &url)
            .await
            .status(),
        200
    );
    assert_eq!(
        get_from("127.0.0.21", gw.proxy, ("sam", PW), &url)
            .await
            .status(),
        200
    );
    gw.flush_audit().await;

    // The candidate lets everyone sit in the reading room; the office rule stays.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.cedar"),
        RULES.edit(
            "forbid (principal, action, resource)",
            "forbid (principal == Gatehouse::Principal::\"nobody\", action, resource)",
        ),
    )
    .unwrap();
    let candidate = dir.path().join("gatehouse.toml");
    std::fs::write(&candidate, places_config(&origin, "rules.cedar")).unwrap();
    let (code, out, err) = crate::cli::cli_in(
        gw.data_path(),
        &candidate,
        &["policy", "replay", "--since", "2026-12-07"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("replayed 4 decisions"), "{out}");
    assert!(out.contains(": 2 would change"), "{out}");
    assert!(
        out.contains("2  deny reading-room-researchers-only → allow tier-open"),
        "{out}"
    );
    assert!(out.contains("gus  GET http://origin.test"), "{out}");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_closes_a_kept_alive_connection_whose_last_request_is_refused_now() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;
    let url = format!("http://other.test:{}/", origin.port());
    let request = |user: &str| {
        format!(
            "GET {url} HTTP/1.1\r\nHost: other.test:{}\r\nProxy-Authorization: {}\r\n\r\n",
            origin.port(),
            basic(user, PW)
        )
    };
    // Two kept-alive connections: sam's from the staff office, rhea's from the reading room.
    let mut sam = connect_from("127.0.0.21", gw.proxy).await;
    sam.write_all(request("sam").as_bytes()).await.unwrap();
    assert!(testkit::read_one_or_eof(&mut sam)
        .await
        .starts_with("HTTP/1.1 200"));
    let mut idle = connect_from("127.0.0.31", gw.proxy).await;

    // The reload takes the office's `open` from staff: sam's connection is closed, promptly.
    let rules_path = gw.config_path().with_file_name("rules.cedar");
    std::fs::write(
        &rules_path,
        RULES.edit("@tier(\"open\")\npermit", "@tier(\"none\")\npermit"),
    )
    .unwrap();
    gw.reload().await.unwrap();
    assert!(
        testkit::closed(&mut sam, SAFETY).await,
        "the kept-alive connection was closed"
    );
    // A connection that carried no request is not touched by the change.
    assert!(!testkit::closed(&mut idle, Duration::from_millis(300)).await);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_cannot_be_evaluated_refuses_and_says_gatehouse_could_not_decide() {
    let origin = Origin::start("127.0.0.2").await;
    // Valid Cedar that fails at evaluation: the multiplication overflows.
    let rules = r#"
@id("overflowing")
@reason("never shown: this rule cannot be evaluated")
forbid (principal, action, resource)
when { context.minute_of_day * 9223372036854775807 > 1 };
"#;
    let (gw, _clock) = start(&origin, rules, berlin("2026-12-07T10:00")).await;
    let url = format!("http://origin.test:{}/", origin.port());
    let r = get_from("127.0.0.11", gw.proxy, ("rhea", PW), &url).await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("undecidable"));
    assert!(r.text.contains("could not decide"), "{}", r.text);
    assert_eq!(origin.requests(), 0, "a failed decision reaches nothing");
    gw.flush_audit().await;
    let rows = gw.audit();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].decision, "deny");
    assert_eq!(rows[0].rule, "undecidable");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_check_applies_the_tier_that_decided_not_the_principals_own() {
    let origin = Origin::start("127.0.0.2").await;
    let internal = Origin::start("127.0.0.5").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;

    // sam's own tier is `none`; at the staff office a rule applies `open`. `open` reaches the
    // allowed networks, but never the intranet tier's internal network (127.0.0.5).
    gw.store().set_tier("sam", Tier::Intranet).unwrap();
    gw.wait_for_principals().await;
    let r = get_from(
        "127.0.0.21",
        gw.proxy,
        ("sam", PW),
        &format!("http://other.test:{}/", origin.port()),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text);
    let r = get_from(
        "127.0.0.21",
        gw.proxy,
        ("sam", PW),
        &format!("http://internal.test:{}/", internal.port()),
    )
    .await;
    assert_eq!(r.status(), 403, "{}", r.text);
    assert_eq!(r.rule().as_deref(), Some("address:loopback"));
    assert_eq!(
        internal.connections(),
        0,
        "the internal network saw nothing"
    );

    // gus's own tier is `open`; in the foyer a rule applies `intranet`: its zone and its network
    // are reachable, the rest is not.
    let r = get_from(
        "127.0.0.31",
        gw.proxy,
        ("gus", PW),
        &format!("http://wiki.intranet.test:{}/", internal.port()),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text);
    assert_eq!(internal.requests(), 1);
    let r = get_from(
        "127.0.0.31",
        gw.proxy,
        ("gus", PW),
        &format!("http://other.test:{}/", origin.port()),
    )
    .await;
    assert_eq!(r.rule().as_deref(), Some("intranet-default"), "{}", r.text);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_account_closes_its_open_tunnels() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin, RULES, berlin("2026-12-07T10:00")).await;
    let mut s = open_tunnel("127.0.0.21", &gw, "sam", origin.port()).await;
    gw.store().set_disabled("sam", true).unwrap();
    assert!(
        testkit::closed(&mut s, SAFETY).await,
        "the tunnel was closed"
    );
    let tunnel = tunnel_event(&gw).await;
    assert_eq!(tunnel.error.as_deref(), Some("revoked"));
    assert_eq!(tunnel.revoked_by.as_deref(), Some("principal-disabled"));
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_fewer_seats_or_without_a_terminal_ends_the_sessions_it_has_no_room_for() {
    use gatehouse::store::SessionStore;
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start_room(&origin, berlin("2026-12-07T10:00"), 3).await;
    let url = format!("http://origin.test:{}/", origin.port());
    for i in 0..3 {
        let source = format!("127.0.0.1{}", i + 1);
        let r = get_from(&source, gw.proxy, (&format!("p{i}"), PW), &url).await;
        assert_eq!(r.status(), 200, "{}", r.text);
        clock.advance(Duration::from_secs(60));
    }
    assert_eq!(gw.server_seats_in_use(), 3);

    // Two seats now: the newest session (p2's) ends; the two oldest keep theirs.
    std::fs::write(gw.config_path(), room_config(&origin, 2)).unwrap();
    gw.reload().await.unwrap();
    eventually("the room holds two sessions", || async {
        gw.server_seats_in_use() == 2
    })
    .await;
    let store = gw.store();
    let ended = store
        .sessions(&gatehouse::store::SessionFilter {
            include_ended: true,
            ..Default::default()
        })
        .unwrap();
    let p2 = ended.iter().find(|s| s.principal == "p2").unwrap();
    assert_eq!(p2.end_reason.as_deref(), Some("removed"));

    // rr-01 is taken out of the configuration: p0's session there ends.
    let without = room_config(&origin, 2).edit(
        "[[terminals]]\nname = \"rr-01\"\nlocation = \"reading-room\"\naddresses = [\"127.0.0.11\"]\n",
        "",
    );
    std::fs::write(gw.config_path(), without).unwrap();
    gw.reload().await.unwrap();
    eventually("p0's session ended", || async {
        gw.server_seats_in_use() == 1
    })
    .await;
    let open = store.open_sessions().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].principal, "p1");
    gw.shutdown().await;
}
