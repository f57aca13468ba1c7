//! The gateway's side of the verifiable audit log: checkpoints signed on schedule (by the injected
//! clock and by the event count) and at a clean stop, the start-up check that signs a tail left by
//! `kill -9` and reports a tampered one, a store locked by another program and a full disk (requests
//! refused, the origin reached by none of them, nothing lost when it comes back), and what `/metrics` and
//! `/readyz` say about all of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditlog::{root_of, Checkpoint, Hash};
use gatehouse::clock::ManualClock;
use gatehouse::config::Config;
use gatehouse::server::{Server, ServerOptions};
use gatehouse::store::{current_tree, event_leaf, AuditStore, LogStore, Store};
use policy::Tier;
use testkit::{base_config, curl, Gateway, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{eventually, start_serve, start_serve_in};

/// `[audit]` settings added to the base configuration.
fn with_audit(origin: &Origin, keys: &str) -> String {
    base_config(origin).replace("[audit]\n", &format!("[audit]\n{keys}\n"))
}

/// Every event's leaf recomputed from the event, in leaf order, checked against the stored leaf
/// rows: the tree a verifier would build.
fn recomputed_leaves(store: &Store) -> Vec<Hash> {
    let size = store.tree_size().unwrap();
    let events: HashMap<i64, _> = store
        .audit(&Default::default())
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let leaves = store.leaves(0, size).unwrap();
    assert_eq!(leaves.len() as u64, size);
    assert_eq!(events.len() as u64, size, "every event has its leaf");
    leaves
        .iter()
        .map(|l| {
            let recomputed = event_leaf(&events[&l.event_id]);
            assert_eq!(recomputed, l.hash, "leaf {}", l.leaf);
            recomputed
        })
        .collect()
}

/// The newest checkpoint covers every event: its note verifies with the data directory's key, and
/// its size and root are those of the tree recomputed from the events.
fn assert_covered(data_dir: &Path) -> u64 {
    let store = Store::open(data_dir).unwrap();
    let leaves = recomputed_leaves(&store);
    let latest = store.latest_checkpoint().unwrap().expect("a checkpoint");
    let key = gatehouse::logkey::verifier(data_dir).unwrap();
    let note = Checkpoint::open(&latest.note, &key).unwrap();
    assert_eq!(note.size(), leaves.len() as u64);
    assert_eq!(*note.root(), root_of(&leaves));
    assert_eq!(current_tree(&store).unwrap().root(), root_of(&leaves));
    latest.size
}

/// The value of a metric without labels in `/metrics`.
async fn metric(admin: &str, name: &str) -> f64 {
    testkit::metric_at(admin, name)
        .await
        .unwrap_or_else(|| panic!("no `{name}` in /metrics"))
}

async fn readyz(admin: &str) -> (u16, String) {
    let out = curl(&[&format!("{admin}/readyz")]).await;
    (out.status, out.text())
}

async fn get(gw: &Gateway, url: &str) -> u16 {
    curl(&["-x", &gw.proxy_url(), "-U", "ada:pw-ada", url])
        .await
        .status
}

/// Poll the store until its newest checkpoint has `size` leaves (the writer signs on its own).
async fn wait_checkpoint(data_dir: &Path, size: u64) -> gatehouse::store::CheckpointRow {
    let start = Instant::now();
    loop {
        let latest = Store::open(data_dir).unwrap().latest_checkpoint().unwrap();
        if let Some(c) = latest.filter(|c| c.size == size) {
            return c;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no checkpoint of size {size}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_follow_the_clock_and_the_event_count_and_a_clean_stop_signs_the_rest() {
    let origin = Origin::start("127.0.0.4").await;
    let t0: jiff::Timestamp = "2026-12-07T09:00:00Z".parse().unwrap();
    let clock = ManualClock::new(t0);
    let text = with_audit(
        &origin,
        "checkpoint_interval = \"10s\"\ncheckpoint_events = 5",
    );
    let mut gw = Gateway::start_with_clock(&text, clock.clone()).await;
    let admin = format!("http://{}", gw.admin);
    // Every metric of the log is there from the start.
    for name in [
        "gatehouse_audit_tree_size",
        "gatehouse_audit_checkpoint_age_seconds",
        "gatehouse_audit_checkpoints_total",
        "gatehouse_audit_verify_failures_total",
        "gatehouse_audit_store_failing",
    ] {
        assert_eq!(metric(&admin, name).await, 0.0, "{name}");
    }
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let url = |i: usize| format!("http://origin.test:{}/c{i}", origin.port());
    for i in 0..3 {
        assert_eq!(get(&gw, &url(i)).await, 200);
    }
    gw.flush_audit().await;
    // Three events, fewer than `checkpoint_events`, and the clock has not moved: none signed yet.
    assert_eq!(gw.store().tree_size().unwrap(), 3);
    assert_eq!(gw.store().latest_checkpoint().unwrap(), None);
    assert_eq!(metric(&admin, "gatehouse_audit_tree_size").await, 3.0);
    // The interval passes on the gateway's clock: the idle writer signs without another event.
    clock.advance(Duration::from_secs(10));
    let first = wait_checkpoint(gw.data_path(), 3).await;
    assert_eq!(
        first.ts_us,
        t0.as_microsecond() + 10_000_000,
        "the checkpoint carries the gateway's time"
    );
    assert!(
        first.note.contains("\ntime 2026-12-07T09:00:10Z\n"),
        "{}",
        first.note
    );
    assert_covered(gw.data_path());
    // Five more events sign a checkpoint at once, with the clock standing still.
    for i in 3..8 {
        assert_eq!(get(&gw, &url(i)).await, 200);
    }
    wait_checkpoint(gw.data_path(), 8).await;
    assert_covered(gw.data_path());
    clock.advance(Duration::from_secs(4));
    assert_eq!(
        metric(&admin, "gatehouse_audit_checkpoints_total").await,
        2.0
    );
    assert_eq!(
        metric(&admin, "gatehouse_audit_checkpoint_age_seconds").await,
        4.0
    );
    assert_eq!(metric(&admin, "gatehouse_audit_tree_size").await, 8.0);
    assert_eq!(readyz(&admin).await, (200, "ready\n".to_string()));
    // One more, not yet due; a clean stop signs it.
    assert_eq!(get(&gw, &url(8)).await, 200);
    gw.server.take().unwrap().shutdown().await;
    assert_eq!(assert_covered(gw.data_path()), 9);
}

/// Start the gateway again on `gw`'s data directory (as a restart of the process would).
async fn restart(gw: &mut Gateway, text: &str, clock: gatehouse::clock::SharedClock) {
    let config = Config::from_toml(text, "gatehouse.toml", Path::new(".")).unwrap();
    let server = Server::start(ServerOptions {
        config,
        config_path: None,
        data_dir: gw.data_path().to_path_buf(),
        clock,
    })
    .await
    .unwrap();
    gw.proxy = server.proxy_addr();
    gw.admin = server.admin_addr();
    gw.server = Some(server);
    gw.wait_for_principals().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_locked_by_another_program_refuses_requests_and_loses_nothing() {
    let origin = Origin::start("127.0.0.4").await;
    let text = with_audit(&origin, "queue_size = 4\nbacklog_wait_ms = 50");
    let mut gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let admin = format!("http://{}", gw.admin);
    let url = |i: usize| format!("http://origin.test:{}/s{i}", origin.port());
    assert_eq!(get(&gw, &url(0)).await, 200);
    gw.flush_audit().await;
    let (mut ok, mut refused) = (1usize, 0usize);
    // Another program takes the store's write lock and keeps it.
    let lock = rusqlite::Connection::open(gw.data_path().join("gatehouse.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for i in 1..60 {
        let before = origin.requests();
        let out = curl(&["-x", &gw.proxy_url(), "-U", "ada:pw-ada", &url(i)]).await;
        if out.status == 503 {
            assert_eq!(
                out.header("x-gatehouse-rule").as_deref(),
                Some("audit_backlog")
            );
            assert_eq!(
                origin.requests(),
                before,
                "a refused request reached the origin"
            );
            refused += 1;
            if refused == 3 {
                break;
            }
        } else {
            assert_eq!(out.status, 200);
            ok += 1;
        }
    }
    assert_eq!(refused, 3, "the audit queue never filled");
    let a = admin.clone();
    eventually("the store shows as failing", || {
        let a = a.clone();
        async move { metric(&a, "gatehouse_audit_store_failing").await == 1.0 }
    })
    .await;
    assert_eq!(
        readyz(&admin).await,
        (503, "the audit store does not accept events\n".to_string())
    );
    // The lock goes away: what was kept is committed, and traffic resumes.
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    gw.flush_audit().await;
    assert_eq!(metric(&admin, "gatehouse_audit_store_failing").await, 0.0);
    assert_eq!(readyz(&admin).await.0, 200);
    assert_eq!(get(&gw, &url(100)).await, 200);
    ok += 1;
    gw.flush_audit().await;
    // Every response the client got has its event; a refusal that found the queue full is counted
    // instead (as documented for `on_backlog`).
    let events = gw.audit();
    let allowed = events
        .iter()
        .filter(|e| e.status == 200 && e.url.as_deref().is_some_and(|u| u.contains("/s")))
        .count();
    let backlog = events.iter().filter(|e| e.status == 503).count();
    let dropped = metric(&admin, "gatehouse_audit_dropped_total").await as usize;
    assert_eq!(allowed, ok, "{events:#?}");
    assert_eq!(backlog + dropped, refused);
    assert_eq!(origin.requests(), ok);
    gw.server.take().unwrap().shutdown().await;
    assert_eq!(assert_covered(gw.data_path()), events.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tail_edited_while_stopped_is_reported_at_start_and_left_for_verify() {
    let origin = Origin::start("127.0.0.4").await;
    let text = with_audit(&origin, "checkpoint_interval = \"10s\"");
    let clock = ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let mut gw = Gateway::start_with_clock(&text, clock.clone()).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let url = format!("http://origin.test:{}/t", origin.port());
    assert_eq!(get(&gw, &url).await, 200);
    gw.server.take().unwrap().shutdown().await;
    let signed = assert_covered(gw.data_path());
    // Two events written after the last checkpoint (as a crash leaves them), one then edited.
    let mut store = Store::open(gw.data_path()).unwrap();
    let row = store.audit(&Default::default()).unwrap().remove(0);
    store.append_audit(&[row.clone(), row.clone()]).unwrap();
    let edited = store.audit(&Default::default()).unwrap().last().unwrap().id;
    drop(store);
    let conn = rusqlite::Connection::open(gw.data_path().join("gatehouse.db")).unwrap();
    conn.execute(
        "UPDATE audit_events SET status = 204 WHERE id = ?1",
        [edited],
    )
    .unwrap();
    drop(conn);
    restart(&mut gw, &text, clock.clone()).await;
    let admin = format!("http://{}", gw.admin);
    let (status, why) = readyz(&admin).await;
    assert_eq!(status, 503);
    assert!(
        why.starts_with(&format!(
            "the audit log failed its start-up check: edited: event {edited} (leaf {})",
            signed + 1
        )),
        "{why}"
    );
    assert_eq!(
        metric(&admin, "gatehouse_audit_verify_failures_total").await,
        1.0
    );
    // Nothing was signed over it or rewritten; the gateway still serves and records.
    let store = Store::open(gw.data_path()).unwrap();
    assert_eq!(store.latest_checkpoint().unwrap().unwrap().size, signed);
    let kept = store.audit(&Default::default()).unwrap();
    assert_eq!(kept.iter().find(|e| e.id == edited).unwrap().status, 204);
    assert_eq!(get(&gw, &url).await, 200);
    gw.shutdown().await;
}

/// A client loop against the proxy: fresh connections, one `GET` each, until `stop`; the time of
/// every `200` received.
async fn load(
    proxy: String,
    url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Instant> {
    use std::sync::atomic::Ordering;
    let auth = testkit::basic("ada", "ada-password");
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut got = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) && n < 100_000 {
        n += 1;
        let Ok(mut s) = tokio::net::TcpStream::connect(&proxy).await else {
            continue;
        };
        let request = format!(
            "GET {url}k{n} HTTP/1.1\r\nHost: {host}\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n"
        );
        if s.write_all(request.as_bytes()).await.is_err() {
            continue;
        }
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        if matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200 ") {
            got.push(Instant::now());
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_leaves_a_tail_the_next_start_signs_and_loses_at_most_the_last_second() {
    let origin = Origin::start("127.0.0.3").await;
    // No checkpoint by count or time while loaded: the tail at the kill is unsigned for sure.
    let text = with_audit(
        &origin,
        "checkpoint_interval = \"1h\"\ncheckpoint_events = 1000000",
    );
    let mut first = start_serve(&text);
    let (data_dir, config): (PathBuf, PathBuf) = (first.data_dir.clone(), first.config.clone());
    let (code, _, err) = first.cli(
        &["user", "add", "ada", "--tier", "open", "--password-stdin"],
        Some("ada-password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let url = format!("http://origin.test:{}/", origin.port());
    let proxy = first.proxy_url();
    eventually("ada can browse", || {
        let (p, u) = (proxy.clone(), url.clone());
        async move { curl(&["-x", &p, "-U", "ada:ada-password", &u]).await.status == 200 }
    })
    .await;
    // A clean stop first: its final checkpoint is where the next run's tail begins.
    first.signal("TERM");
    assert_eq!(first.wait_exit(Duration::from_secs(30)), 0);
    let clean = assert_covered(&data_dir);
    assert!(clean > 0);
    let second = start_serve_in(&config, &data_dir);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| tokio::spawn(load(second.proxy.clone(), url.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.signal("KILL");
    let killed = Instant::now();
    let mut second = second;
    second.wait_exit(Duration::from_secs(10));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut received = Vec::new();
    for c in clients {
        received.extend(c.await.unwrap());
    }
    let older = received
        .iter()
        .filter(|t| killed.duration_since(**t) > Duration::from_secs(1))
        .count();
    assert!(
        received.len() > 10,
        "the load got {} responses",
        received.len()
    );
    let (tree, signed) = {
        let store = Store::open(&data_dir).unwrap();
        let loaded = store
            .audit(&Default::default())
            .unwrap()
            .iter()
            .filter(|e| e.url.as_deref().is_some_and(|u| u.contains("/k")))
            .count();
        assert!(
            loaded >= older,
            "{loaded} events for {} responses, {older} of them older than a second",
            received.len()
        );
        (
            store.tree_size().unwrap(),
            store.latest_checkpoint().unwrap().unwrap().size,
        )
    };
    assert_eq!(signed, clean);
    assert!(tree > signed, "nothing was left unsigned");
    // The next start checks the tail, signs it and says so.
    let third = start_serve_in(&config, &data_dir);
    let log = third.stderr();
    assert!(
        log.contains(&format!(
            "signed {} events left unsigned by an unclean stop",
            tree - signed
        )),
        "{log}"
    );
    assert_eq!(assert_covered(&data_dir), tree);
    let admin = format!("http://{}", third.admin);
    assert_eq!(readyz(&admin).await, (200, "ready\n".to_string()));
    // The data directory belongs to the first run's handle: it goes last.
    drop(third);
    drop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_unready_when_checkpoints_stop_being_written_and_recovers() {
    let origin = Origin::start("127.0.0.4").await;
    let text = with_audit(&origin, "checkpoint_interval = \"10s\"");
    let clock = ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let gw = Gateway::start_with_clock(&text, clock.clone()).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let admin = format!("http://{}", gw.admin);
    assert_eq!(
        get(&gw, &format!("http://origin.test:{}/r", origin.port())).await,
        200
    );
    gw.flush_audit().await;
    // Another program writes a checkpoint row the log cannot continue from: no checkpoint can be
    // signed after it.
    let conn = rusqlite::Connection::open(gw.data_path().join("gatehouse.db")).unwrap();
    conn.execute(
        "INSERT INTO audit_checkpoints (size, ts_us, root, frontier, note)
         VALUES (1000, 0, zeroblob(32), X'', 'not a note')",
        [],
    )
    .unwrap();
    clock.advance(Duration::from_secs(10));
    // The writer tries (and fails); the event has waited one interval: still ready.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(readyz(&admin).await.0, 200);
    assert_eq!(
        metric(&admin, "gatehouse_audit_checkpoints_total").await,
        0.0
    );
    clock.advance(Duration::from_secs(21));
    assert_eq!(
        readyz(&admin).await,
        (
            503,
            "audit events have waited 31s for a checkpoint (more than 3 times \
             `audit.checkpoint_interval`)\n"
                .to_string()
        )
    );
    assert_eq!(
        metric(&admin, "gatehouse_audit_checkpoint_age_seconds").await,
        31.0
    );
    // The row goes away: the writer's next try signs, and the gateway is ready again.
    conn.execute("DELETE FROM audit_checkpoints WHERE size = 1000", [])
        .unwrap();
    let a = admin.clone();
    eventually("a checkpoint is signed again", || {
        let a = a.clone();
        async move { readyz(&a).await.0 == 200 }
    })
    .await;
    assert_eq!(
        metric(&admin, "gatehouse_audit_checkpoints_total").await,
        1.0
    );
    assert_eq!(
        metric(&admin, "gatehouse_audit_checkpoint_age_seconds").await,
        0.0
    );
    gw.shutdown().await;
}

/// A small filesystem mounted over a directory for the length of a test, unmounted on drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// Mount a tmpfs of `bytes` over `dir` (which must be empty); `None` where this machine does
    /// not let the test mount (not root, no mount namespace rights).
    fn mount(dir: &Path, bytes: u64) -> Option<SmallDisk> {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fill `dir`'s filesystem up to `leave` free bytes with a ballast file; returns its path.
fn fill_disk(dir: &Path, leave: u64) -> PathBuf {
    let ballast = dir.join("ballast");
    let free = {
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(dir)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().nth(1).unwrap().trim().parse::<u64>().unwrap()
    };
    std::fs::write(&ballast, vec![0u8; free.saturating_sub(leave) as usize]).unwrap();
    ballast
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_requests_and_loses_nothing_when_space_returns() {
    let origin = Origin::start("127.0.0.4").await;
    let text = with_audit(&origin, "queue_size = 4\nbacklog_wait_ms = 50");
    let mut gw = Gateway::start(&text).await;
    gw.add_user("ada", Tier::Open, "pw-ada").await;
    let url = |i: usize| format!("http://origin.test:{}/d{i}", origin.port());
    assert_eq!(get(&gw, &url(0)).await, 200);
    gw.server.take().unwrap().shutdown().await;
    // The data directory moves onto a 4 MiB filesystem, then that filesystem is filled.
    let data = gw.data_path().to_path_buf();
    let aside = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        std::fs::rename(entry.path(), aside.path().join(entry.file_name())).unwrap();
    }
    let Some(_disk) = SmallDisk::mount(&data, 4 << 20) else {
        eprintln!(
            "SKIPPED: this machine does not let the test mount a small filesystem (needs root)"
        );
        return;
    };
    for entry in std::fs::read_dir(aside.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
    }
    restart(&mut gw, &text, Arc::new(gatehouse::clock::SystemClock)).await;
    let admin = format!("http://{}", gw.admin);
    let ballast = fill_disk(&data, 16 << 10);
    let (mut ok, mut refused) = (1usize, 0usize);
    for i in 1..2000 {
        let before = origin.requests();
        let out = curl(&["-x", &gw.proxy_url(), "-U", "ada:pw-ada", &url(i)]).await;
        if out.status == 503 {
            assert_eq!(
                out.header("x-gatehouse-rule").as_deref(),
                Some("audit_backlog")
            );
            assert_eq!(
                origin.requests(),
                before,
                "a refused request reached the origin"
            );
            refused += 1;
            if refused == 3 {
                break;
            }
        } else {
            assert_eq!(out.status, 200);
            ok += 1;
        }
    }
    assert_eq!(refused, 3, "the disk never filled");
    let a = admin.clone();
    eventually("the store shows as failing", || {
        let a = a.clone();
        async move { metric(&a, "gatehouse_audit_store_failing").await == 1.0 }
    })
    .await;
    assert_eq!(readyz(&admin).await.0, 503);
    // Space returns: what was kept is committed, and traffic resumes.
    std::fs::remove_file(&ballast).unwrap();
    gw.flush_audit().await;
    assert_eq!(metric(&admin, "gatehouse_audit_store_failing").await, 0.0);
    assert_eq!(get(&gw, &url(5000)).await, 200);
    ok += 1;
    gw.flush_audit().await;
    let events = gw.audit();
    let allowed = events
        .iter()
        .filter(|e| e.status == 200 && e.url.as_deref().is_some_and(|u| u.contains("/d")))
        .count();
    assert_eq!(allowed, ok, "every response the client got has its event");
    assert_eq!(origin.requests(), ok);
    gw.server.take().unwrap().shutdown().await;
    assert_eq!(assert_covered(&data), events.len() as u64);
}
