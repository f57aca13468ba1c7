//! Seats under load, counted: new sessions per second through `Seats::seat` (the call the proxy's
//! seat phase makes) on a real SQLite store, with every outcome checked against what the seats
//! allowed.
//!
//! 50 locations of 2 to 6 seats (200 in all) and 10 terminals each (500). A *cycle* first frees
//! seats, then sends one batch of claims from fresh principals (nobody already holds a session):
//!
//! - freeing alternates between moving the claims' clock past the idle timeout (every session is
//!   then idle and the seat transaction ends it) and ending a random number of each location's
//!   sessions from a second store connection, as `gatehouse session end` does;
//! - the batch puts, per location, as many claims as it has free seats plus an extra of 0 (*fit*:
//!   every claim must be seated), 1 to 3 (*crowd*: exactly the free seats are taken, the rest are
//!   refused `seats-full`) or 0 to 3 (*mixed*), at distinct terminals without a live session,
//!   shuffled across locations.
//!
//! After every batch the bench counts: per location, seated == free seats and refused `seats-full`
//! == extra (so no claim was refused while its room had a free seat, and none was seated beyond
//! it), no other refusal, and the store's open sessions (read on the second connection) == seats,
//! never more. After every round, a sweep must leave the gateway's table equal to the store's open
//! set, and `gatehouse_sessions_started_total` must equal the sessions seated. Any miss is printed
//! and the bench exits with status 1.
//!
//! Two kinds of rounds:
//! - *burst*: each batch is spawned at once, one task per claim (many people arriving at the same
//!   moment): the capacity in new sessions per second (seated ÷ wall time of the batches, median
//!   over rounds) and each claim's latency, which includes queueing behind the batch;
//! - *paced*: fit batches only, claims spawned open loop at `--rate` per second (default 1,000, the
//!   target): every claim is a new session, so this offers `--rate` new sessions per second and
//!   reports the latency a claim sees at that rate.
//!
//! Run: `cargo bench -p gatehouse --bench seats` (release profile; options after `--`:
//! `--rounds N` burst rounds, default 7; `--cycles N` per round, default 12; `--paced N` paced
//! rounds, default 3; `--rate N`). Without `--bench` on the command line (`cargo test --benches`)
//! it runs one short round of each kind.

// A benchmark measures time and reads its command line.
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::metrics::Metrics;
use gatehouse::seats::{AlwaysOpen, LocationSeats, SeatRefusal, Seats};
use gatehouse::store::{EndReason, SeatClaim, SessionSelector, SessionStore, Store};
use jiff::Timestamp;

const LOCATIONS: usize = 50;
const TERMINALS: usize = 10;
const IDLE: Duration = Duration::from_secs(15 * 60);

fn seats_of(location: usize) -> u32 {
    2 + (location % 5) as u32
}

fn location_name(l: usize) -> String {
    format!("loc-{l:02}")
}

fn terminal_name(l: usize, t: usize) -> String {
    format!("loc-{l:02}-t{t:02}")
}

/// splitmix64: a fixed seed makes every run send the same batches.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.range(0, i));
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Crowd {
    Fit,
    Over,
    Mixed,
}

impl Crowd {
    fn extra(self, rng: &mut Rng) -> usize {
        match self {
            Crowd::Fit => 0,
            Crowd::Over => rng.range(1, 3),
            Crowd::Mixed => rng.range(0, 3),
        }
    }
}

/// What went wrong, counted over the whole run.
#[derive(Default)]
struct Misses {
    lines: Vec<String>,
}

impl Misses {
    fn add(&mut self, line: String) {
        if self.lines.len() < 50 {
            eprintln!("MISS: {line}");
        }
        self.lines.push(line);
    }
}

#[derive(Default)]
struct Totals {
    claims: u64,
    seated: u64,
    full: u64,
    other: u64,
    batches: u64,
}

/// Open sessions (id, terminal) per location name.
type ByLocation = HashMap<String, Vec<(i64, String)>>;

/// One claim's result: location, seated (`Ok(new)`) or the refusal, latency.
type Outcome = (usize, Result<bool, SeatRefusal>, Duration);

struct Bench {
    seats: Seats,
    /// A second connection to the same store: the counts and `session end` go through it.
    check: Store,
    metrics: Arc<Metrics>,
    now: Timestamp,
    principals: u64,
    rng: Rng,
    totals: Totals,
    misses: Misses,
}

impl Bench {
    fn open(dir: &std::path::Path) -> Bench {
        let metrics = Arc::new(Metrics::new());
        let store = Store::open(dir).expect("open the store");
        let seats = Seats::open(Box::new(store), metrics.clone()).expect("open the seats");
        let locations = (0..LOCATIONS)
            .map(|l| LocationSeats {
                name: location_name(l),
                seats: Some(seats_of(l)),
                idle_timeout: IDLE,
            })
            .collect();
        seats.configure(locations, Arc::new(AlwaysOpen));
        Bench {
            seats,
            check: Store::open(dir).expect("open the store a second time"),
            metrics,
            now: "2026-12-07T09:00:00Z".parse().expect("a timestamp"),
            principals: 0,
            rng: Rng(0x5EA7_5EA7),
            totals: Totals::default(),
            misses: Misses::default(),
        }
    }

    /// The store's open sessions per location.
    fn open_per_location(&self) -> (ByLocation, HashSet<i64>) {
        let mut by = ByLocation::new();
        let rows = self.check.open_sessions().expect("read the open sessions");
        let ids = rows.iter().map(|r| r.id).collect();
        for r in rows {
            by.entry(r.location).or_default().push((r.id, r.terminal));
        }
        (by, ids)
    }

    /// Free seats for the next batch; per location the free seats and the terminals that hold a
    /// live session.
    fn free_seats(&mut self, cycle: usize) -> Vec<(usize, HashSet<String>)> {
        if cycle.is_multiple_of(2) {
            // Past the idle timeout: every open session is idle, every seat free.
            self.now += IDLE + Duration::from_secs(60);
            return (0..LOCATIONS)
                .map(|l| (seats_of(l) as usize, HashSet::new()))
                .collect();
        }
        self.now += Duration::from_secs(1);
        let (mut by, _) = self.open_per_location();
        let mut end = Vec::new();
        let mut free = Vec::with_capacity(LOCATIONS);
        for l in 0..LOCATIONS {
            let mut open = by.remove(&location_name(l)).unwrap_or_default();
            self.rng.shuffle(&mut open);
            let k = self.rng.range(0, open.len());
            end.extend(open.drain(..k).map(|(id, _)| id));
            let live: HashSet<String> = open.into_iter().map(|(_, t)| t).collect();
            free.push(((seats_of(l) as usize).saturating_sub(live.len()), live));
        }
        let ended = self
            .check
            .end_sessions(
                &SessionSelector::Ids(end.clone()),
                EndReason::Admin,
                self.now,
            )
            .expect("end sessions");
        if ended.len() != end.len() {
            let line = format!("`session end` ended {} of {}", ended.len(), end.len());
            self.misses.add(line);
        }
        free
    }

    /// The batch: per location `free + extra` claims at distinct terminals without a live
    /// session, from fresh principals, shuffled.
    fn batch(
        &mut self,
        free: &[(usize, HashSet<String>)],
        crowd: Crowd,
    ) -> (Vec<(usize, SeatClaim)>, Vec<usize>) {
        let mut claims = Vec::new();
        let mut extras = Vec::with_capacity(LOCATIONS);
        for (l, (n, live)) in free.iter().enumerate() {
            let extra = crowd.extra(&mut self.rng);
            extras.push(extra);
            let mut terminals: Vec<String> = (0..TERMINALS)
                .map(|t| terminal_name(l, t))
                .filter(|t| !live.contains(t))
                .collect();
            self.rng.shuffle(&mut terminals);
            for terminal in terminals.into_iter().take(n + extra) {
                self.principals += 1;
                let claim = SeatClaim {
                    principal: format!("p{}", self.principals),
                    terminal,
                    location: location_name(l),
                    seats: Some(seats_of(l)),
                    max_per_principal: 1,
                    idle_timeout: IDLE,
                    closes_at: None,
                    now: self.now,
                };
                claims.push((l, claim));
            }
        }
        self.rng.shuffle(&mut claims);
        (claims, extras)
    }

    /// Send the claims, at once or one every `pace`; the outcomes and the wall time from the first
    /// claim to the last answer.
    async fn send(
        &self,
        claims: Vec<(usize, SeatClaim)>,
        pace: Option<Duration>,
    ) -> (Vec<Outcome>, Duration) {
        let mut tick = pace.map(|p| {
            let mut i = tokio::time::interval(p);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            i
        });
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(claims.len());
        for (l, claim) in claims {
            if let Some(tick) = tick.as_mut() {
                tick.tick().await;
            }
            let seats = self.seats.clone();
            tasks.push(tokio::spawn(async move {
                let now = claim.now;
                let t0 = Instant::now();
                let result = seats.seat(claim).await;
                let took = t0.elapsed();
                (l, result.map(|s| s.started == now), took)
            }));
        }
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.expect("a claim task"));
        }
        (out, start.elapsed())
    }

    /// Count one batch's outcomes against the free seats and extras, then the store.
    fn count(
        &mut self,
        cycle: usize,
        free: &[(usize, HashSet<String>)],
        extras: &[usize],
        outcomes: &[Outcome],
    ) -> u64 {
        let mut seated = vec![0usize; LOCATIONS];
        let mut full = vec![0usize; LOCATIONS];
        for (l, result, _) in outcomes {
            self.totals.claims += 1;
            match result {
                Ok(true) => seated[*l] += 1,
                Ok(false) => self.misses.add(format!(
                    "cycle {cycle}: a fresh principal was seated in an old session"
                )),
                Err(SeatRefusal::Full { .. }) => full[*l] += 1,
                Err(other) => {
                    self.totals.other += 1;
                    self.misses
                        .add(format!("cycle {cycle}: {}: {other}", location_name(*l)));
                }
            }
        }
        for l in 0..LOCATIONS {
            let (want_seated, want_full) = (free[l].0, extras[l]);
            if seated[l] != want_seated || full[l] != want_full {
                self.misses.add(format!(
                    "cycle {cycle}: {}: {} free seats and {} more claims: {} seated, {} refused full",
                    location_name(l), want_seated, want_full, seated[l], full[l]
                ));
            }
        }
        let new: usize = seated.iter().sum();
        self.totals.seated += new as u64;
        self.totals.full += full.iter().sum::<usize>() as u64;
        self.totals.batches += 1;
        self.check_store(cycle);
        new as u64
    }

    /// The store: never more open sessions than seats; after a batch, exactly as many.
    fn check_store(&mut self, cycle: usize) {
        let (by, _) = self.open_per_location();
        for l in 0..LOCATIONS {
            let open = by.get(&location_name(l)).map_or(0, Vec::len);
            let seats = seats_of(l) as usize;
            if open > seats {
                self.misses.add(format!(
                    "cycle {cycle}: {} over-filled: {open} sessions, {seats} seats",
                    location_name(l)
                ));
            } else if open < seats {
                self.misses.add(format!(
                    "cycle {cycle}: {} has a seat left free: {open} sessions, {seats} seats",
                    location_name(l)
                ));
            }
        }
    }

    /// After a round: a sweep brings the gateway's table to the store's open set.
    async fn check_table(&mut self) {
        self.seats.sweep(self.now).await.expect("sweep");
        let (_, store_ids) = self.open_per_location();
        let table: HashSet<i64> = self.seats.list().iter().map(|r| r.id).collect();
        if table != store_ids {
            let line = format!(
                "after a sweep the gateway holds {} sessions, the store {}",
                table.len(),
                store_ids.len()
            );
            self.misses.add(line);
        }
        let started = self.metrics.sessions_started.get();
        if started != self.totals.seated {
            let line = format!(
                "sessions_started_total is {started}, {} were seated",
                self.totals.seated
            );
            self.misses.add(line);
        }
    }

    /// One round of `cycles` batches: new sessions, wall time of the batches, latencies.
    async fn round(
        &mut self,
        cycles: usize,
        pace: Option<Duration>,
    ) -> (u64, u64, Duration, Vec<Duration>) {
        let (mut new, mut claims, mut wall, mut lat) = (0, 0, Duration::ZERO, Vec::new());
        for cycle in 0..cycles {
            let crowd = match (pace, cycle % 3) {
                (Some(_), _) => Crowd::Fit,
                (None, 0) => Crowd::Fit,
                (None, 1) => Crowd::Over,
                (None, _) => Crowd::Mixed,
            };
            let free = self.free_seats(cycle);
            let (batch, extras) = self.batch(&free, crowd);
            claims += batch.len() as u64;
            let (outcomes, took) = self.send(batch, pace).await;
            wall += took;
            lat.extend(outcomes.iter().map(|o| o.2));
            new += self.count(cycle, &free, &extras, &outcomes);
        }
        self.check_table().await;
        (new, claims, wall, lat)
    }
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[(v.len() - 1) / 2]
}

struct Args {
    rounds: usize,
    cycles: usize,
    paced: usize,
    rate: u32,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let bench = argv.iter().any(|a| a == "--bench");
    let mut a = match bench {
        true => Args {
            rounds: 7,
            cycles: 12,
            paced: 3,
            rate: 1000,
        },
        false => Args {
            rounds: 1,
            cycles: 3,
            paced: 1,
            rate: 1000,
        },
    };
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse::<usize>().ok())
                .expect("a number after the option")
        };
        match k.as_str() {
            "--rounds" => a.rounds = value(),
            "--cycles" => a.cycles = value(),
            "--paced" => a.paced = value(),
            "--rate" => a.rate = value() as u32,
            _ => {}
        }
    }
    a
}

/// Run `n` rounds; the rates (sessions/s, claims/s) of each and every latency.
async fn rounds(
    b: &mut Bench,
    kind: &str,
    n: usize,
    cycles: usize,
    pace: Option<Duration>,
) -> (Vec<f64>, Vec<f64>, Vec<Duration>) {
    let (mut rates, mut claim_rates, mut all) = (Vec::new(), Vec::new(), Vec::new());
    for r in 1..=n {
        let (new, claims, wall, mut lat) = b.round(cycles, pace).await;
        lat.sort();
        let (rate, claim_rate) = (
            new as f64 / wall.as_secs_f64(),
            claims as f64 / wall.as_secs_f64(),
        );
        println!(
            "{kind} round {r}: {cycles} batches, {claims} claims, {new} new sessions in {:.3} s = {rate:.0} sessions/s ({claim_rate:.0} claims/s); claim latency p50 {} p99 {}",
            wall.as_secs_f64(), ms(quantile(&lat, 0.5)), ms(quantile(&lat, 0.99))
        );
        rates.push(rate);
        claim_rates.push(claim_rate);
        all.extend(lat);
    }
    all.sort();
    (rates, claim_rates, all)
}

fn summary(kind: &str, rates: &[f64], claim_rates: &[f64], lat: &[Duration]) {
    if rates.is_empty() {
        return;
    }
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "{kind}: {:.0} new sessions/s median of {} rounds (min {lo:.0}, max {hi:.0}); {:.0} claims/s; claim latency p50 {} p99 {} p99.9 {} max {} ({} claims)",
        median(rates), rates.len(), median(claim_rates),
        ms(quantile(lat, 0.5)), ms(quantile(lat, 0.99)), ms(quantile(lat, 0.999)), ms(quantile(lat, 1.0)), lat.len()
    );
}

fn main() -> ExitCode {
    let a = args();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut b = Bench::open(dir.path());
    let total_seats: u32 = (0..LOCATIONS).map(seats_of).sum();
    println!(
        "seats: {LOCATIONS} locations of 2-6 seats ({total_seats} in all), {} terminals, SQLite store in {}",
        LOCATIONS * TERMINALS,
        dir.path().display()
    );
    rt.block_on(async {
        let (r, c, l) = rounds(&mut b, "burst", a.rounds, a.cycles, None).await;
        let pace = Duration::from_secs_f64(1.0 / f64::from(a.rate.max(1)));
        let (pr, pc, pl) = rounds(
            &mut b,
            &format!("paced {}/s", a.rate),
            a.paced,
            a.cycles,
            Some(pace),
        )
        .await;
        println!();
        summary("burst (all claims of a batch at once)", &r, &c, &l);
        summary(
            &format!(
                "paced (fit batches, one claim every {} µs)",
                pace.as_micros()
            ),
            &pr,
            &pc,
            &pl,
        );
    });
    let t = &b.totals;
    let misses = b.misses.lines.len();
    println!(
        "counts: {} batches, {} claims: {} seated, {} refused full, {} other refusals; {misses} misses (over-filled, a free seat refused or left, table and store apart)",
        t.batches, t.claims, t.seated, t.full, t.other
    );
    if misses == 0 {
        println!("OK: every count holds");
        ExitCode::SUCCESS
    } else {
        println!("FAILED: {misses} misses (see MISS lines)");
        ExitCode::FAILURE
    }
}
