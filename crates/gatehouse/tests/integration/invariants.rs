//! Invariants the documentation promises and no other test held to (issue 14, point 7), each
//! checked on the real gateway from the outside: one argon2 verification for many requests with
//! the same credentials; a change in the store honoured by the principal poller within a bounded
//! wait; every event of a store that fails under `on_backlog = "drop"` either written or counted;
//! and a tunnel's batched reads, which must engage when the start-up probe allowed them and must
//! not hold back the tail of a burst for more than a few milliseconds.
//!
//! Time is only ever bounded from above, with deadlines far beyond what the code needs, or read as
//! a median over many samples, so that a loaded machine slows the tests without failing them.

use std::time::{Duration, Instant};

use gatehouse::store::PrincipalStore;
use policy::Tier;
use testkit::{base_config, get_from, within, Edit, Gateway, Origin, SAFETY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VERIFICATIONS: &str = "gatehouse_auth_verifications_total";

/// Credentials verified once are not verified again: many requests with the same user and
/// password, on many connections from several client addresses, some at the same time, cost one
/// argon2 verification in all, and every one of them reached the origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_password_check_serves_many_requests_on_many_connections() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Open, "pw-ada-argon").await;
    assert_eq!(gw.metric(VERIFICATIONS).await, 0.0, "nothing verified yet");
    let url = format!("http://origin.test:{}/v", origin.port());
    let first = get_from("127.0.0.20", gw.proxy, ("ada", "pw-ada-argon"), &url).await;
    assert_eq!(first.status(), 200, "{}", first.head());
    assert_eq!(gw.metric(VERIFICATIONS).await, 1.0);
    // 8 rounds of 8 concurrent connections, each from its own client address.
    const ROUNDS: usize = 8;
    const WIDE: usize = 8;
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for i in 0..WIDE {
            let (proxy, url) = (gw.proxy, format!("{url}/{round}/{i}"));
            tasks.push(tokio::spawn(async move {
                let source = format!("127.0.0.{}", 20 + i);
                get_from(&source, proxy, ("ada", "pw-ada-argon"), &url).await
            }));
        }
        for t in tasks {
            let reply = t.await.unwrap();
            assert_eq!(reply.status(), 200, "{}", reply.head());
        }
    }
    assert_eq!(
        origin.requests(),
        1 + ROUNDS * WIDE,
        "every request reached the origin"
    );
    assert_eq!(
        gw.metric(VERIFICATIONS).await,
        1.0,
        "a request with verified credentials ran argon2 again"
    );
    // The counter does count: a different password is verified (and refused).
    let wrong = get_from("127.0.0.20", gw.proxy, ("ada", "pw-ada-wrong"), &url).await;
    assert_eq!(wrong.status(), 407);
    assert_eq!(gw.metric(VERIFICATIONS).await, 2.0);
    gw.shutdown().await;
}

/// The principal poller loads what the CLI wrote to the store within about a second. A change
/// the request path does not look for (a tier changed, the password still valid and cached) is
/// honoured well within 2 s of the commit: the next requests are decided under the new tier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_the_store_is_honoured_within_two_seconds() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    // Added without waiting for the poller: the first request's unknown credentials make the
    // gateway load the principals at once.
    let hash = gatehouse::identity::hash_password("pw-ada-tier").unwrap();
    let store = gw.store();
    store
        .add_principal("ada", gatehouse::store::Role::User, Tier::Open, &hash)
        .unwrap();
    // `other.test` is in no list: the open tier reaches it, the filtered tier does not.
    let url = format!("http://other.test:{}/t", origin.port());
    let get = || get_from("127.0.0.20", gw.proxy, ("ada", "pw-ada-tier"), &url);
    assert_eq!(get().await.status(), 200);
    let verified = gw.metric(VERIFICATIONS).await;
    // What `gatehouse user set-tier` does: one write to the store.
    store.set_tier("ada", Tier::Filtered).unwrap();
    let changed = Instant::now();
    let deadline = changed + Duration::from_secs(2);
    let mut statuses = Vec::new();
    loop {
        let reply = get().await;
        statuses.push(reply.status());
        // A request being forwarded when the poller loads the change is cut at once, with no
        // answer (`proxy::revoke`): that too is the change honoured.
        if reply.status() == 403 || (reply.status() == 0 && reply.text.is_empty()) {
            break;
        }
        assert_eq!(reply.status(), 200, "{}", reply.head());
        assert!(
            Instant::now() < deadline,
            "the tier change was not honoured within 2 s: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = changed.elapsed();
    let refused = get().await;
    assert_eq!(refused.status(), 403, "{}", refused.head());
    assert_eq!(
        refused.decision().as_deref(),
        Some("deny"),
        "{}",
        refused.head()
    );
    // The request path did not find it out by checking the password again: the poller did.
    assert_eq!(gw.metric(VERIFICATIONS).await, verified);
    eprintln!("the tier change was honoured after {took:?}");
    gw.shutdown().await;
}

/// With `on_backlog = "drop"`, a store that refuses every commit (another program holds its write
/// lock) lets requests through and loses their events, but never silently: a batch refused twice
/// is given up and its events counted in `gatehouse_audit_lost_total`, the events that found the
/// queue full in `gatehouse_audit_dropped_total`. When the store accepts commits again, every
/// response the client got is accounted for: its event is in the store, or counted lost or
/// dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_under_drop_counts_every_event_it_loses() {
    const LOST: &str = "gatehouse_audit_lost_total";
    const DROPPED: &str = "gatehouse_audit_dropped_total";
    let origin = Origin::start("127.0.0.4").await;
    let text = base_config(&origin).edit(
        "[audit]\n",
        "[audit]\non_backlog = \"drop\"\nqueue_size = 4\nbacklog_wait_ms = 50\n",
    );
    let gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let url = |i: usize| format!("http://origin.test:{}/d{i}", origin.port());
    let proxy = gw.proxy;
    let get = move |i: usize| {
        let url = url(i);
        async move { get_from("127.0.0.20", proxy, ("ada", "pw-ada"), &url).await }
    };
    assert_eq!(get(0).await.status(), 200);
    gw.flush_audit().await;
    assert_eq!(gw.audit().len(), 1);
    let mut answered = 1usize;
    // Another program takes the store's write lock and keeps it.
    let lock = rusqlite::Connection::open(gw.data_path().join("gatehouse.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for i in 1..=12 {
        let reply = get(i).await;
        assert_eq!(reply.status(), 200, "drop mode refused: {}", reply.head());
        answered += 1;
    }
    assert_eq!(
        origin.requests(),
        answered,
        "drop mode lets every request through"
    );
    // The writer gives a batch up after its second failed commit (each waits out the store's
    // 2 s busy timeout): the lost events are counted.
    let deadline = Instant::now() + SAFETY;
    while gw.metric(LOST).await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "no event counted lost while the store refused every commit (write errors: {})",
            gw.metric("gatehouse_audit_write_errors_total").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gw.metric("gatehouse_audit_write_errors_total").await >= 2.0);
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    gw.flush_audit().await;
    let (lost, dropped) = (gw.metric(LOST).await, gw.metric(DROPPED).await);
    let stored = gw.audit().len();
    assert!(
        stored < answered,
        "nothing was lost: {stored} of {answered} stored"
    );
    assert_eq!(
        stored + lost as usize + dropped as usize,
        answered,
        "events stored {stored} + lost {lost} + dropped {dropped} != responses {answered}"
    );
    assert_eq!(gw.metric("gatehouse_audit_store_failing").await, 0.0);
    gw.shutdown().await;
}

/// A tunnel direction moving bulk data reads in batches once the start-up probe said this kernel
/// allows it, and what follows a burst is not held back: batched reads wait 1 ms (1–2 ms by
/// tokio's timer) before taking what is there.
///
/// Each round, a burst piles up in the gateway while the client does not read (so the gateway's
/// reads come back full and batching engages), the client drains it, asks the far end for a short
/// tail and times the round trip. Checked: the probe turned batching on (on Linux 4.19 or later),
/// tunnel directions did begin batched phases, and the median round trip stays under 50 ms.
/// The documented bound, about 2 ms, is not asserted: it is below what a shared 2-core machine
/// times robustly, and on the kernel this was written on a tail below the mark was delivered
/// without waiting for the timer at all (a 100 ms wait did not show in the round trips).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_bursts_are_batched_and_their_tails_not_held_back() {
    const BURST: usize = 16 << 20;
    const TAIL: usize = 1000;
    const ROUNDS: usize = 7;
    let origin = Origin::start("127.0.0.2").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.3:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = base_config(&origin).edit(
        "connect_ports = [443, ",
        &format!("tunnel_idle_timeout_secs = 60\nconnect_ports = [443, {port}, "),
    );
    let gw = Gateway::start(&config).await;
    gw.add_user("ada", Tier::Open, "pw-ada-tunnel").await;
    let probed = gatehouse::proxy::tunnel::batching();
    let linux_with_signal = linux_at_least(4, 19);
    assert!(
        probed || !linux_with_signal,
        "the start-up probe turned batching off on a kernel that supports it"
    );
    let phases_before = gatehouse::proxy::tunnel::batch_phases();
    // The far end: per round, a burst in one write; on the client's go-ahead, a short tail.
    let far_end = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let burst = vec![b'd'; BURST];
        for _ in 0..ROUNDS {
            s.write_all(&burst).await.unwrap();
            let mut go = [0u8; 1];
            within("the go-ahead", s.read_exact(&mut go)).await.unwrap();
            s.write_all(&[b't'; TAIL]).await.unwrap();
        }
    });
    // A small, fixed receive buffer at the client, so that a burst the client does not read
    // stays queued in the gateway's direction instead of in the client's socket.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1 << 20).unwrap();
    let mut s = socket.connect(gw.proxy).await.unwrap();
    let req = format!(
        "CONNECT 127.0.0.3:{port} HTTP/1.1\r\nHost: 127.0.0.3:{port}\r\nProxy-Authorization: {}\r\n\r\n",
        testkit::basic("ada", "pw-ada-tunnel")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = within("the CONNECT answer", s.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0, "closed before the CONNECT answer");
        got.extend_from_slice(&buf[..n]);
    }
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(
        got.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let mut have = got.len() - head_end;
    // Per round, from the go-ahead sent to the tail received.
    let mut gaps = Vec::new();
    for round in 0..ROUNDS {
        // Let the burst pile up in the gateway: its reads from the far end then come back full.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while have < BURST {
            let n = within("the burst", s.read(&mut buf)).await.unwrap();
            assert!(n > 0, "round {round}: closed at {have} of {BURST} bytes");
            have += n;
        }
        assert_eq!(have, BURST, "round {round}: more than the burst arrived");
        // The gateway's batched read is now waiting for a batch that will not come; the tail,
        // far less than a batch, must not wait long for it.
        let asked = Instant::now();
        s.write_all(b"g").await.unwrap();
        let mut tail = [0u8; TAIL];
        within("the tail", s.read_exact(&mut tail)).await.unwrap();
        gaps.push(asked.elapsed());
        assert!(
            tail.iter().all(|&b| b == b't'),
            "round {round}: not the tail"
        );
        have = 0;
    }
    within("the far end", far_end).await.unwrap();
    let phases = gatehouse::proxy::tunnel::batch_phases() - phases_before;
    gaps.sort();
    let median = gaps[ROUNDS / 2];
    eprintln!("batching {probed}, batched phases {phases}, tail round trips {gaps:?}");
    if probed {
        assert!(
            phases >= 1,
            "batching is on, but no tunnel direction ever batched"
        );
    }
    assert!(
        median < Duration::from_millis(50),
        "the tail after a burst was held back: round trips {gaps:?}"
    );
    drop(s);
    gw.shutdown().await;
}

/// Whether the running kernel is Linux `major.minor` or later.
fn linux_at_least(major: u32, minor: u32) -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}
