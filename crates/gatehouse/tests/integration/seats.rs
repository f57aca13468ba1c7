//! Sessions and seats on real SQLite files: the store's seat transaction (terminal, location,
//! principal, idle and moved sessions), many people arriving at once in one process and across two
//! store connections, a store that does not answer, the seat sweep of a running gateway driven by a
//! `ManualClock` (idle timeouts, closing time, gauges), sessions surviving a restart, and
//! `gatehouse session list|end` through the binary while `serve` runs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gatehouse::clock::{Clock, ManualClock};
use gatehouse::config::Config;
use gatehouse::metrics::Metrics;
use gatehouse::seats::{LocationSeats, OpenHours, SeatRefusal, Seated, Seats, STORE_WAIT};
use gatehouse::server::{Server, ServerOptions};
use gatehouse::store::{
    EndReason, SeatClaim, SeatOutcome, SessionFilter, SessionRow, SessionSelector, SessionStore,
    Store,
};
use jiff::Timestamp;

use crate::cli::{eventually, start_serve};

const IDLE: Duration = Duration::from_secs(15 * 60);

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn claim(principal: &str, terminal: &str, location: &str, seats: Option<u32>) -> SeatClaim {
    SeatClaim {
        principal: principal.into(),
        terminal: terminal.into(),
        location: location.into(),
        seats,
        max_per_principal: 1,
        idle_timeout: IDLE,
        closes_at: None,
        now: at("2026-12-07T09:00:00Z"),
    }
}

fn seated(outcome: &SeatOutcome) -> (&SessionRow, bool) {
    match outcome {
        SeatOutcome::Seated { session, new } => (session, *new),
        other => panic!("not seated: {other:?}"),
    }
}

fn seats_on(dir: &Path) -> (Seats, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let store = Store::open(dir).unwrap();
    (
        Seats::open(Box::new(store), metrics.clone()).unwrap(),
        metrics,
    )
}

fn open_in(store: &Store, location: &str) -> usize {
    let filter = SessionFilter {
        location: Some(location.into()),
        ..Default::default()
    };
    store.sessions(&filter).unwrap().len()
}

#[test]
fn a_seat_is_the_terminal_s_then_the_location_s_then_the_principal_s() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let room = |p: &str, t: &str, now: &str| SeatClaim {
        now: at(now),
        ..claim(p, t, "room", Some(2))
    };

    let first = store
        .take_seat(&room("alice", "rr-01", "2026-12-07T09:00:00Z"))
        .unwrap();
    let (alice, new) = seated(&first.outcome);
    assert!(new);
    assert_eq!(alice.started, at("2026-12-07T09:00:00Z"));
    // The same person at the same terminal: the same session, seen again.
    let again = store
        .take_seat(&room("alice", "rr-01", "2026-12-07T09:05:00Z"))
        .unwrap();
    let (same, new) = seated(&again.outcome);
    assert!(!new);
    assert_eq!(same.id, alice.id);
    assert_eq!(same.last_seen, at("2026-12-07T09:05:00Z"));

    // Someone else at that terminal: busy until alice's idle timeout, or the closing time if sooner.
    let bob_there = room("bob", "rr-01", "2026-12-07T09:06:00Z");
    let until = at("2026-12-07T09:20:00Z");
    assert_eq!(
        store.take_seat(&bob_there).unwrap().outcome,
        SeatOutcome::TerminalBusy { until }
    );
    let closing = SeatClaim {
        closes_at: Some(at("2026-12-07T09:10:00Z")),
        ..bob_there
    };
    let until = at("2026-12-07T09:10:00Z");
    assert_eq!(
        store.take_seat(&closing).unwrap().outcome,
        SeatOutcome::TerminalBusy { until }
    );

    // Two seats: bob takes the second, carol finds the room full until the first idle end.
    let bob = store
        .take_seat(&room("bob", "rr-02", "2026-12-07T09:06:00Z"))
        .unwrap();
    let bob = seated(&bob.outcome).0.clone();
    let carol = room("carol", "rr-03", "2026-12-07T09:07:00Z");
    let next_free_at = Some(at("2026-12-07T09:20:00Z"));
    assert_eq!(
        store.take_seat(&carol).unwrap().outcome,
        SeatOutcome::Full {
            seats: 2,
            next_free_at
        }
    );
    let closing = SeatClaim {
        closes_at: Some(at("2026-12-07T09:15:00Z")),
        ..carol.clone()
    };
    let next_free_at = Some(at("2026-12-07T09:15:00Z"));
    assert_eq!(
        store.take_seat(&closing).unwrap().outcome,
        SeatOutcome::Full {
            seats: 2,
            next_free_at
        }
    );

    // One session per principal unless configured otherwise, across locations.
    let lab = SeatClaim {
        now: at("2026-12-07T09:08:00Z"),
        ..claim("alice", "lab-01", "lab", None)
    };
    assert_eq!(
        store.take_seat(&lab).unwrap().outcome,
        SeatOutcome::PrincipalLimit { max: 1 }
    );
    let two = SeatClaim {
        max_per_principal: 2,
        ..lab
    };
    let lab_session = seated(&store.take_seat(&two).unwrap().outcome).0.clone();

    // Idle sessions do not hold seats: the claim ends them (alice at 09:20, bob at 09:21).
    let late = SeatClaim {
        now: at("2026-12-07T09:21:00Z"),
        ..carol
    };
    let taken = store.take_seat(&late).unwrap();
    let carol_session = seated(&taken.outcome).0.clone();
    let ended: Vec<(i64, Option<&str>)> = taken
        .ended
        .iter()
        .map(|s| (s.id, s.end_reason.as_deref()))
        .collect();
    assert_eq!(ended, [(alice.id, Some("idle")), (bob.id, Some("idle"))]);
    assert_eq!(open_in(&store, "room"), 1);
    assert_eq!(open_in(&store, "lab"), 1, "the lab has its own timeout");

    // A terminal moved to another location by a reload: the person's old session there ends.
    let moved = SeatClaim {
        location: "lab".into(),
        ..late.clone()
    };
    let taken = store.take_seat(&moved).unwrap();
    assert_eq!(taken.ended.len(), 1);
    assert_eq!(taken.ended[0].id, carol_session.id);
    assert_eq!(taken.ended[0].end_reason.as_deref(), Some("moved"));
    assert_eq!(seated(&taken.outcome).0.location, "lab");

    // A location without seats has none to free.
    let none = SeatClaim {
        seats: Some(0),
        ..claim("dora", "x-01", "closet", Some(0))
    };
    assert_eq!(
        store.take_seat(&none).unwrap().outcome,
        SeatOutcome::Full {
            seats: 0,
            next_free_at: None
        }
    );

    // Touches never move `last_seen` back, and ended sessions stay ended.
    let t = at("2026-12-07T09:30:00Z");
    store
        .touch_sessions(&[(lab_session.id, t), (alice.id, t)])
        .unwrap();
    store
        .touch_sessions(&[(lab_session.id, at("2026-12-07T09:25:00Z"))])
        .unwrap();
    let rows = store.sessions_by_id(&[lab_session.id, alice.id]).unwrap();
    assert_eq!(rows[0].last_seen, t);
    assert_eq!(rows[1].last_seen, at("2026-12-07T09:05:00Z"));
    assert_eq!(rows[1].ended, Some(at("2026-12-07T09:21:00Z")));

    // The sweep's expiry uses each location's timeout.
    let ended = store
        .expire_idle(at("2026-12-07T09:40:00Z"), &|l| match l {
            "lab" => Duration::from_secs(5 * 60),
            _ => IDLE,
        })
        .unwrap();
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(ended.iter().all(|s| s.location == "lab"));
    assert!(store.open_sessions().unwrap().is_empty());

    // Every session, ended ones too, oldest first; a limit keeps the most recent.
    let all = SessionFilter {
        include_ended: true,
        ..Default::default()
    };
    let every = store.sessions(&all).unwrap();
    assert_eq!(every.len(), 5);
    assert_eq!(every[0].principal, "alice");
    let last_two = store
        .sessions(&SessionFilter {
            limit: Some(2),
            ..all
        })
        .unwrap();
    assert_eq!(last_two, every[3..]);
    // An ended session cannot be ended again.
    let again = store
        .end_sessions(&SessionSelector::Ids(vec![alice.id]), EndReason::Admin, t)
        .unwrap();
    assert!(again.is_empty());
}

#[test]
fn a_terminal_never_holds_two_open_sessions_whatever_writes_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .take_seat(&claim("alice", "rr-01", "room", None))
        .unwrap();
    let raw = rusqlite::Connection::open(dir.path().join("gatehouse.db")).unwrap();
    let second = raw.execute(
        "INSERT INTO sessions (principal, terminal, location, started_us, last_seen_us)
         VALUES ('bob', 'rr-01', 'room', 1, 1)",
        [],
    );
    assert!(second.is_err(), "a second open session at one terminal");
    let generation = store.session_generation().unwrap();
    store
        .end_sessions(
            &SessionSelector::Terminal("rr-01".into()),
            EndReason::Admin,
            at("2026-12-07T10:00:00Z"),
        )
        .unwrap();
    assert!(store.session_generation().unwrap() > generation);
    let after_end = store.session_generation().unwrap();
    store
        .touch_sessions(&[(1, at("2026-12-07T11:00:00Z"))])
        .unwrap();
    assert_eq!(store.session_generation().unwrap(), after_end);
}

/// 50 claims at once for 5 seats, each from its own terminal and principal, spread over `seats`;
/// how many were seated, and every refusal.
async fn rush(seats: &[Seats], location: &str, prefix: &str) -> (usize, Vec<SeatRefusal>) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = seats[i % seats.len()].clone();
        let c = claim(
            &format!("{prefix}-p{i}"),
            &format!("{prefix}-t{i}"),
            location,
            Some(5),
        );
        tasks.push(tokio::spawn(async move { s.seat(c).await }));
    }
    let mut ok = 0;
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(Seated { .. }) => ok += 1,
            Err(r) => refused.push(r),
        }
    }
    (ok, refused)
}

fn all_full(refused: &[SeatRefusal]) -> bool {
    refused
        .iter()
        .all(|r| matches!(r, SeatRefusal::Full { seats: 5, .. }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_people_arriving_at_once_take_exactly_five_seats() {
    let dir = tempfile::tempdir().unwrap();
    let (seats, metrics) = seats_on(dir.path());
    let (ok, refused) = rush(std::slice::from_ref(&seats), "room", "a").await;
    assert_eq!(ok, 5, "{refused:?}");
    assert!(all_full(&refused), "{refused:?}");
    assert_eq!(seats.list().len(), 5);
    assert_eq!(open_in(&Store::open(dir.path()).unwrap(), "room"), 5);
    let text = metrics.render();
    assert!(
        text.contains("gatehouse_sessions_started_total 5\n"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_seat_refusals_total{reason=\"seats-full\"} 45\n"),
        "{text}"
    );
    // Every other reason has a series from the start, so that an alert has one to watch.
    for zero in [
        "gatehouse_seat_refusals_total{reason=\"terminal-busy\"} 0\n",
        "gatehouse_seat_refusals_total{reason=\"principal-sessions\"} 0\n",
        "gatehouse_seat_refusals_total{reason=\"sessions-unavailable\"} 0\n",
        "gatehouse_sessions_ended_total{reason=\"idle\"} 0\n",
        "gatehouse_sessions_ended_total{reason=\"closed\"} 0\n",
        "gatehouse_sessions_ended_total{reason=\"admin\"} 0\n",
        "gatehouse_sessions_ended_total{reason=\"moved\"} 0\n",
    ] {
        assert!(text.contains(zero), "missing {zero} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_store_connections_never_overfill_a_room_nor_refuse_a_free_seat() {
    let dir = tempfile::tempdir().unwrap();
    // Two seat tables on two connections to one store file, as two gateway processes would have.
    let pair = [seats_on(dir.path()).0, seats_on(dir.path()).0];
    let (ok, refused) = rush(&pair, "room", "a").await;
    assert_eq!(ok, 5, "{refused:?}");
    assert!(all_full(&refused), "{refused:?}");
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(open_in(&store, "room"), 5);

    // Two people leave; of the next fifty, exactly two sit down.
    let open = store.open_sessions().unwrap();
    let leaving = SessionSelector::Ids(vec![open[0].id, open[3].id]);
    let now = at("2026-12-07T09:01:00Z");
    assert_eq!(
        store
            .end_sessions(&leaving, EndReason::Admin, now)
            .unwrap()
            .len(),
        2
    );
    let (ok, refused) = rush(&pair, "room", "b").await;
    assert_eq!(ok, 2, "{refused:?}");
    assert!(all_full(&refused), "{refused:?}");
    assert_eq!(open_in(&store, "room"), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_does_not_answer_refuses_new_sessions_and_seats_nobody_later() {
    let dir = tempfile::tempdir().unwrap();
    let (seats, metrics) = seats_on(dir.path());
    let alice = seats
        .seat(claim("alice", "rr-01", "room", Some(5)))
        .await
        .unwrap();
    // Another process holds the store's write lock for longer than a request waits.
    let raw = rusqlite::Connection::open(dir.path().join("gatehouse.db")).unwrap();
    raw.execute_batch("BEGIN IMMEDIATE").unwrap();
    let refused = seats.seat(claim("bob", "rr-02", "room", Some(5))).await;
    assert!(
        matches!(&refused, Err(SeatRefusal::Unavailable(_))),
        "{refused:?}"
    );
    assert_eq!(refused.unwrap_err().code(), "sessions-unavailable");
    // A session already open goes on: memory answers it without the store.
    let again = seats
        .seat(SeatClaim {
            now: at("2026-12-07T09:01:00Z"),
            ..claim("alice", "rr-01", "room", Some(5))
        })
        .await;
    assert_eq!(again, Ok(alice));
    // The refused claim's work gave up with its request: released now, it seats nobody.
    tokio::time::sleep(STORE_WAIT / 2).await;
    raw.execute_batch("ROLLBACK").unwrap();
    let store = Store::open(dir.path()).unwrap();
    let open: Vec<String> = store
        .open_sessions()
        .unwrap()
        .into_iter()
        .map(|s| s.principal)
        .collect();
    assert_eq!(open, ["alice"]);
    let bob = seats.seat(claim("bob", "rr-02", "room", Some(5))).await;
    assert!(bob.is_ok(), "{bob:?}");
    let text = metrics.render();
    assert!(
        text.contains("gatehouse_seat_refusals_total{reason=\"sessions-unavailable\"} 1\n"),
        "{text}"
    );
}

/// The lab closes at `closes`; every other location is always open.
struct LabHours {
    closes: Timestamp,
}

impl OpenHours for LabHours {
    fn is_open(&self, location: &str, now: Timestamp) -> bool {
        location != "lab" || now < self.closes
    }
}

async fn metrics_of(admin: std::net::SocketAddr) -> String {
    testkit::curl(&[&format!("http://{admin}/metrics")])
        .await
        .text()
}

/// Poll (bounded) until the running gateway's seat table holds exactly these principals.
async fn wait_for_seated(seats: &Seats, expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    let seats = seats.clone();
    eventually(&format!("seated: {expected:?}"), || {
        let (seats, expected) = (seats.clone(), expected.clone());
        async move {
            let mut now: Vec<String> = seats.list().into_iter().map(|s| s.principal).collect();
            now.sort();
            now == expected
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_ends_idle_sessions_and_those_of_a_closed_location_by_the_gateway_s_clock() {
    let clock = ManualClock::new(at("2026-12-07T09:00:00Z"));
    let origin = testkit::Origin::start("127.0.0.2").await;
    let gw =
        testkit::Gateway::start_with_clock(&testkit::base_config(&origin), clock.clone()).await;
    let g = gw.server.as_ref().unwrap().gateway().clone();
    let room = LocationSeats {
        name: "reading-room".into(),
        seats: Some(5),
        idle_timeout: IDLE,
    };
    let lab = LocationSeats {
        name: "lab".into(),
        seats: None,
        idle_timeout: Duration::from_secs(10 * 60),
    };
    let closes = at("2026-12-07T18:00:00Z");
    g.seats
        .configure(vec![room, lab], Arc::new(LabHours { closes }));
    let now = |p: &str, t: &str, l: &str, idle: u64| SeatClaim {
        now: clock.now(),
        idle_timeout: Duration::from_secs(idle * 60),
        ..claim(p, t, l, None)
    };
    let alice = g
        .seats
        .seat(now("alice", "rr-01", "reading-room", 15))
        .await
        .unwrap();
    g.seats.seat(now("bob", "lab-01", "lab", 10)).await.unwrap();
    wait_for_seated(&g.seats, &["alice", "bob"]).await;
    let admin = gw.admin;
    eventually("the seat gauges", || async move {
        let text = metrics_of(admin).await;
        text.contains("gatehouse_seats_in_use{location=\"reading-room\"} 1\n")
            && text.contains("gatehouse_seats_in_use{location=\"lab\"} 1\n")
            && text.contains("gatehouse_seats{location=\"reading-room\"} 5\n")
            && !text.contains("gatehouse_seats{location=\"lab\"}")
    })
    .await;

    // Alice is back at 09:09; at 09:20 bob has been idle for his 10 minutes, alice for 11 of her 15.
    clock.advance(Duration::from_secs(9 * 60));
    let back = g
        .seats
        .seat(now("alice", "rr-01", "reading-room", 15))
        .await;
    assert_eq!(back, Ok(alice));
    clock.advance(Duration::from_secs(11 * 60));
    wait_for_seated(&g.seats, &["alice"]).await;
    // At 09:24 alice's 15 minutes are over too.
    clock.advance(Duration::from_secs(4 * 60));
    wait_for_seated(&g.seats, &[]).await;

    // Carol sits in the lab until it closes at 18:00.
    clock.set(at("2026-12-07T17:55:00Z"));
    g.seats
        .seat(now("carol", "lab-02", "lab", 10))
        .await
        .unwrap();
    wait_for_seated(&g.seats, &["carol"]).await;
    clock.set(closes);
    wait_for_seated(&g.seats, &[]).await;

    let all = SessionFilter {
        include_ended: true,
        ..Default::default()
    };
    let ended: Vec<(String, Option<String>, Option<Timestamp>)> = gw
        .store()
        .sessions(&all)
        .unwrap()
        .into_iter()
        .map(|s| (s.principal, s.end_reason, s.ended))
        .collect();
    let row = |p: &str, r: &str, t: &str| (p.to_string(), Some(r.to_string()), Some(at(t)));
    assert_eq!(
        ended,
        [
            row("alice", "idle", "2026-12-07T09:24:00Z"),
            row("bob", "idle", "2026-12-07T09:20:00Z"),
            row("carol", "closed", "2026-12-07T18:00:00Z"),
        ]
    );
    eventually("the counters and the emptied gauges", || async move {
        let text = metrics_of(admin).await;
        text.contains("gatehouse_sessions_started_total 3\n")
            && text.contains("gatehouse_sessions_ended_total{reason=\"idle\"} 2\n")
            && text.contains("gatehouse_sessions_ended_total{reason=\"closed\"} 1\n")
            && text.contains("gatehouse_seats_in_use{location=\"lab\"} 0\n")
    })
    .await;
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_restart_of_the_gateway() {
    let data = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2026-12-07T09:00:00Z"));
    // The location and terminal of the sessions are configured: a location the configuration
    // does not name counts as closed, and its sessions end at the next sweep.
    let text = "[proxy]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[portal]\nlisten = \"127.0.0.1:0\"\n\n\
                [[locations]]\nname = \"room\"\nseats = 5\n\n\
                [[terminals]]\nname = \"rr-01\"\nlocation = \"room\"\naddresses = [\"127.0.0.11\"]\n";
    let start = || async {
        Server::start(ServerOptions {
            config: Config::from_toml(text, "gatehouse.toml", data.path()).unwrap(),
            config_path: None,
            data_dir: data.path().to_path_buf(),
            clock: clock.clone(),
        })
        .await
        .unwrap()
    };
    let server = start().await;
    let seats = server.gateway().seats.clone();
    let alice = seats
        .seat(claim("alice", "rr-01", "room", Some(5)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    let later = SeatClaim {
        now: clock.now(),
        ..claim("alice", "rr-01", "room", Some(5))
    };
    assert_eq!(seats.seat(later.clone()).await, Ok(alice));
    server.shutdown().await;

    let server = start().await;
    let open = server.gateway().seats.list();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, alice.session_id);
    assert_eq!(open[0].last_seen, at("2026-12-07T09:01:00Z"));
    assert_eq!(server.gateway().seats.seat(later).await, Ok(alice));
    // Someone else at her terminal is still turned away after the restart.
    let bob = server
        .gateway()
        .seats
        .seat(claim("bob", "rr-01", "room", Some(5)))
        .await;
    assert!(
        matches!(bob, Err(SeatRefusal::TerminalBusy { .. })),
        "{bob:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_list_and_end_work_while_serving_and_the_gateway_frees_the_seat() {
    let s = start_serve(
        "[proxy]\nlisten = \"127.0.0.1:0\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[portal]\nlisten = \"127.0.0.1:0\"\n\n\
         [[locations]]\nname = \"reading-room\"\nseats = 5\n\n\
         [[locations]]\nname = \"lab\"\n\n\
         [[terminals]]\nname = \"rr-01\"\nlocation = \"reading-room\"\naddresses = [\"127.0.0.11\"]\n\n\
         [[terminals]]\nname = \"rr-02\"\nlocation = \"reading-room\"\naddresses = [\"127.0.0.12\"]\n\n\
         [[terminals]]\nname = \"lab-01\"\nlocation = \"lab\"\naddresses = [\"127.0.0.13\"]\n",
    );
    // Sessions taken through the store, as another gateway on the same store would.
    let store = Store::open(&s.data_dir).unwrap();
    let now = Timestamp::now();
    let take = |p: &str, t: &str, l: &str| {
        let c = SeatClaim {
            now,
            ..claim(p, t, l, Some(5))
        };
        seated(&store.take_seat(&c).unwrap().outcome).0.clone()
    };
    let alice = take("alice", "rr-01", "reading-room");
    take("bob", "rr-02", "reading-room");
    take("carol", "lab-01", "lab");
    let admin: std::net::SocketAddr = s.admin.parse().unwrap();
    eventually("the gateway counts the sessions", || async move {
        metrics_of(admin)
            .await
            .contains("gatehouse_seats_in_use{location=\"reading-room\"} 2\n")
    })
    .await;

    let (code, out, err) = s.cli(&["session", "list"], None);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with("ID  PRINCIPAL  TERMINAL  LOCATION"),
        "{out}"
    );
    assert!(
        lines[1].contains("alice      rr-01     reading-room"),
        "{out}"
    );
    let (code, out, _) = s.cli(
        &["session", "list", "--location", "lab", "--format", "json"],
        None,
    );
    assert_eq!(code, 0);
    let carol: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(carol["principal"], "carol");
    assert_eq!(carol["terminal"], "lab-01");
    assert_eq!(carol["ended"], serde_json::Value::Null);

    let (code, out, err) = s.cli(&["session", "end", "--terminal", "rr-01"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "ended session {}: `alice` at terminal `rr-01` (reading-room), since ",
            alice.id
        )),
        "{out}"
    );
    assert!(out.contains("1 session ended"), "{out}");
    eventually("the gateway frees alice's seat", || async move {
        let text = metrics_of(admin).await;
        text.contains("gatehouse_seats_in_use{location=\"reading-room\"} 1\n")
            && text.contains("gatehouse_sessions_ended_total{reason=\"admin\"} 1\n")
    })
    .await;

    let id = alice.id.to_string();
    let (code, _, err) = s.cli(&["session", "end", &id], None);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("session `{id}` already ended at")) && err.contains("(admin)"),
        "{err}"
    );
    let (code, _, err) = s.cli(&["session", "end", "--location", "nowhere"], None);
    assert_ne!(code, 0);
    assert!(
        err.contains("no open session at the location `nowhere`"),
        "{err}"
    );
    let (code, _, err) = s.cli(&["session", "end"], None);
    assert_ne!(code, 0);
    assert!(err.contains("--terminal"), "{err}");

    let (code, out, err) = s.cli(&["session", "end", "--location", "reading-room"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("`bob` at terminal `rr-02`"), "{out}");
    eventually(
        "a configured room's gauge falls to zero with its last session",
        || async move {
            metrics_of(admin)
                .await
                .contains("gatehouse_seats_in_use{location=\"reading-room\"} 0\n")
        },
    )
    .await;

    let (code, out, _) = s.cli(&["session", "list", "--all"], None);
    assert_eq!(code, 0);
    let head: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head[head.len() - 2..], ["ENDED", "REASON"], "{out}");
    let alice_line = out.lines().find(|l| l.contains("alice")).unwrap();
    assert!(alice_line.ends_with("admin"), "{out}");
    let carol_line: Vec<&str> = out
        .lines()
        .find(|l| l.contains("carol"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(carol_line[carol_line.len() - 2..], ["-", "-"], "{out}");
}
