//! How fast running gateways honour an access grant, measured (`bench/grant-latency.sh` starts the
//! release binary once or twice on one data directory and runs this against it).
//!
//! Each round: `ada` (tier `filtered`) is refused at `http://other.test:PORT/` on every proxy
//! given; she submits a request for `domain:other.test` and `lib` approves it through the store,
//! as the CLI and the portal do (one transaction: the review, the grant, their audit records, the
//! grants' change counter); from the moment that commit returned, each proxy is polled every
//! `--interval-ms` (default 5) on a fresh connection until it answers 200: that delay is the
//! round's *honoured* time for that proxy. Then the grant is revoked the same way and each proxy is
//! polled until it refuses again (the *ended* time). A random pause of 0–300 ms before the approval
//! and before the revocation puts each at a random point of the gateways' 250 ms poll.
//!
//! The origin is this program's own (`--origin 127.0.0.3`, any port; the gateway's `[dns] hosts`
//! must map `other.test` there and allow that address): it answers every request `200`. It prints
//! every round, then per proxy p50, p99 and max of both delays, and exits with status 1 if a poll
//! got an answer other than 200 or 403 (nothing is counted then).
//!
//!   cargo run --release -p gatehouse --example grant_latency -- --data-dir DIR \
//!       --proxy 127.0.0.1:24240 [--proxy 127.0.0.1:24241] [--rounds 100] [--interval-ms 5] \
//!       [--password grants-bench-password]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use access::Scope;
use clap::Parser;
use gatehouse::store::{
    now_us, Actor, GrantStore, NewRequest, Reviewed, Store, Submitted, Verdict,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
struct Args {
    /// The gateways' data directory (their store).
    #[arg(long)]
    data_dir: PathBuf,
    /// A running gateway's proxy address; give it once per gateway on the store.
    #[arg(long, required = true)]
    proxy: Vec<SocketAddr>,
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
    /// The origin's address (any port is taken).
    #[arg(long, default_value = "127.0.0.3")]
    origin: std::net::IpAddr,
    /// `ada`'s password.
    #[arg(long, default_value = "grants-bench-password")]
    password: String,
}

/// Answer every request on `listener` with a small `200` and close.
async fn serve_origin(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                .await;
        });
    }
}

/// Poll `proxy` every `every` until it answers `want`: the time from `from`, or the unexpected
/// status it answered instead (anything but 200, 403 or no answer).
async fn until(
    proxy: SocketAddr,
    url: &str,
    password: &str,
    want: u16,
    every: Duration,
    from: Instant,
) -> Result<Duration, u16> {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let status = testkit::get_from("127.0.0.1", proxy, ("ada", password), url)
            .await
            .status();
        if status == want {
            return Ok(from.elapsed());
        }
        // 0: no answer at all, a request in flight when the gateway closed the connections a
        // revocation refuses; the next poll asks again.
        if ![0, 200, 403].contains(&status) {
            return Err(status);
        }
    }
}

/// The delay at quantile `q` of sorted `v`.
fn quantile(v: &[Duration], q: f64) -> Duration {
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Poll every proxy at once until each answers `want`; their delays from `from`, in order.
async fn all_until(
    args: &Args,
    url: &str,
    want: u16,
    from: Instant,
) -> Result<Vec<Duration>, String> {
    let every = Duration::from_millis(args.interval_ms);
    let polls = args.proxy.iter().map(|p| {
        let (p, url, password) = (*p, url.to_string(), args.password.clone());
        tokio::spawn(async move { until(p, &url, &password, want, every, from).await })
    });
    let mut out = Vec::new();
    for (p, poll) in args.proxy.iter().zip(polls.collect::<Vec<_>>()) {
        match tokio::time::timeout(Duration::from_secs(30), poll).await {
            Ok(Ok(Ok(d))) => out.push(d),
            Ok(Ok(Err(status))) => return Err(format!("{p} answered {status}")),
            _ => return Err(format!("{p} did not answer {want} within 30 s")),
        }
    }
    Ok(out)
}

/// A pause of 0–300 ms (xorshift), so that a change falls anywhere in the gateways' poll period.
async fn pause(seed: &mut u64) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    tokio::time::sleep(Duration::from_millis(*seed % 300)).await;
}

/// One round: refused, approved, honoured, revoked, refused. The delays (honoured, ended) per proxy.
async fn round(
    args: &Args,
    store: &Store,
    url: &str,
    seed: &mut u64,
) -> Result<Vec<(Duration, Duration)>, String> {
    all_until(args, url, 403, Instant::now()).await?;
    pause(seed).await;
    let ask = NewRequest {
        principal: "ada".into(),
        scope: Scope::parse("domain:other.test").unwrap(),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "measuring how fast a grant is honoured".into(),
        destination: None,
        approvals_needed: 1,
        pending_for: Duration::from_secs(3600),
    };
    let ada = Actor {
        name: "ada",
        via: "bench",
    };
    let lib = Actor {
        name: "lib",
        via: "bench",
    };
    let Submitted::Request(r) = store.submit_request(&ask, ada, now_us()).unwrap() else {
        return Err("an identical grant is still active".into());
    };
    let approved = store.review(r.id, Verdict::Approve, "bench", lib, now_us());
    let committed = Instant::now();
    let Ok(Reviewed::Approved(g)) = approved else {
        return Err(format!("not approved: {approved:?}"));
    };
    let honoured = all_until(args, url, 200, committed).await?;
    pause(seed).await;
    store
        .revoke_grant(g.id, "bench round over", lib, now_us())
        .map_err(|e| e.to_string())?;
    let revoked = Instant::now();
    let ended = all_until(args, url, 403, revoked).await?;
    Ok(honoured.into_iter().zip(ended).collect())
}

/// p50, p99 and max per proxy, of both delays.
fn report(args: &Args, delays: &[Vec<(Duration, Duration)>]) {
    for (i, p) in args.proxy.iter().enumerate() {
        let honoured: Vec<Duration> = delays.iter().map(|r| r[i].0).collect();
        let ended: Vec<Duration> = delays.iter().map(|r| r[i].1).collect();
        for (what, mut v) in [("honoured", honoured), ("ended", ended)] {
            v.sort();
            println!(
                "proxy {p} grant {what}: n={} p50={} ms p99={} ms max={} ms",
                v.len(),
                ms(quantile(&v, 0.50)),
                ms(quantile(&v, 0.99)),
                ms(v[v.len() - 1]),
            );
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind((args.origin, 0))
        .await
        .unwrap();
    let url = format!(
        "http://other.test:{}/",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(serve_origin(listener));
    let store = Store::open_existing(&args.data_dir).unwrap();
    let mut delays = Vec::new();
    let mut seed = now_us() as u64 | 1;
    for i in 0..args.rounds {
        match round(&args, &store, &url, &mut seed).await {
            Ok(d) => {
                let line: Vec<String> = d
                    .iter()
                    .map(|(h, e)| format!("honoured {} ms, ended {} ms", ms(*h), ms(*e)))
                    .collect();
                println!("round {i}: {}", line.join(" | "));
                delays.push(d);
            }
            Err(e) => {
                eprintln!("round {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    report(&args, &delays);
    ExitCode::SUCCESS
}
