//! What idle client connections cost (issue 14, point 1), measured on the real binary: thousands of
//! connections that send nothing must not each hold a read buffer or a request-sized task. The precise figures are `bench/idle-conns.sh`'s (release
//! build, 10,000 connections, in `BENCHMARKS.md`); this test asserts generous bounds derived from
//! the target (10,000 idle connections under 100 MiB resident in all), so that noise cannot fail it
//! and a per-connection buffer or task of a few KiB cannot pass it; and that once they close the
//! memory comes back to within a fifth of where it was (the issue's target, asserted as it is).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::cli::{start_serve, Serve};

/// Idle connections the test opens.
const CONNS: usize = 2_000;
/// The most each idle connection may add to the gateway's resident memory. The target allows
/// about 9 KiB each (100 MiB for 10,000 connections, less the ~13 MiB a started gateway holds).
/// The debug build this test runs has larger tasks than the release build: measured 6 KiB each
/// here, 35–40 KiB before idle connections stopped carrying a 16 KiB close buffer and a
/// request-sized task.
const PER_CONN_KIB: u64 = 12;

fn config() -> String {
    format!(
        r#"
[proxy]
listen = "127.0.0.1:0"
max_connections = {max}
header_read_timeout_secs = 60
idle_timeout_secs = 600

[admin]
listen = "127.0.0.1:0"

[portal]
listen = "127.0.0.1:0"
"#,
        max = CONNS + 500
    )
}

/// A line of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{key}` in /proc/{pid}/status"))
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Open `n` connections that send nothing, and wait until the gateway holds them all (its open
/// descriptors), so that what is measured is accepted connections, not the kernel's backlog.
fn open_idle(s: &Serve, n: usize) -> Vec<TcpStream> {
    let before = open_fds(s.pid());
    let conns: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect(&s.proxy).unwrap())
        .collect();
    let start = Instant::now();
    while open_fds(s.pid()) < before + n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the gateway accepted only {} of {n} connections",
            open_fds(s.pid()).saturating_sub(before)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    conns
}

/// The soft limit on open files of this process: the test holds `CONNS` sockets itself.
fn open_files_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap_or(u64::MAX)
}

#[test]
fn idle_connections_cost_little() {
    let _heavy = testkit::gate::heavy();
    assert!(
        open_files_limit() >= (CONNS + 200) as u64,
        "this test holds {CONNS} sockets: raise `ulimit -n` (it is {})",
        open_files_limit()
    );
    let s = start_serve(&config());
    let pid = s.pid();
    // Warm up what a first burst allocates once (runtime workers, timer wheels, metrics).
    drop(open_idle(&s, 200));
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);

    let mut conns = open_idle(&s, CONNS);
    std::thread::sleep(Duration::from_millis(300));
    let open = rss_kib(pid);
    let grew = open.saturating_sub(before);
    assert!(
        grew < CONNS as u64 * PER_CONN_KIB,
        "{CONNS} idle connections added {grew} KiB ({} KiB each; RSS {before} → {open} KiB)",
        grew / CONNS as u64
    );

    // Held, not dropped: the last idle connection still gets an answer once it speaks.
    let last = conns.last_mut().unwrap();
    last.write_all(b"GET /not-a-proxy-request HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    last.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = [0u8; 12];
    last.read_exact(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );

    // They close: the gateway gives the freed memory back within a few looks at the peak
    // (`gatehouse::bursts`), to within a fifth of what it held before the burst.
    let baseline = open_fds(pid) - CONNS;
    drop(conns);
    let start = Instant::now();
    while open_fds(pid) > baseline + 10 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the connections did not close"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let bound = before + before / 5;
    let start = Instant::now();
    let mut after = rss_kib(pid);
    while after > bound && start.elapsed() < gatehouse::bursts::LOOK_EVERY * 4 {
        std::thread::sleep(Duration::from_millis(200));
        after = rss_kib(pid);
    }
    assert!(
        after <= bound,
        "RSS {before} KiB before the burst, {open} KiB with it, still {after} KiB after it ended"
    );
    assert!(metric(&s.admin, "gatehouse_memory_trims_total") >= 1.0);
}

/// The value of a metric without labels, read from the admin listener's `/metrics`.
fn metric(admin: &str, name: &str) -> f64 {
    let addr = admin.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no `{name}` in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}
