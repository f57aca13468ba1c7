//! Webhook notifications through the real gateway, its real store and a real HTTP receiver on its
//! own loopback address that records every request it gets: a request submitted with the CLI, its
//! approval and the grant's revocation arrive as signed JSON; a grant nearing its end (moved there
//! by the `ManualClock`) is announced once; a receiver that fails twice gets the event on the
//! third attempt; a receiver that never answers delays neither a proxied request nor a new grant;
//! a restart resumes from the cursor in the store and sends nothing twice.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use access::Scope;
use gatehouse::clock::{Clock, ManualClock};
use gatehouse::config::Config;
use gatehouse::server::{Server, ServerOptions};
use gatehouse::store::{
    Actor, AuditQuery, AuditStore, GrantStore, NewGrant, NewRequest, PrincipalStore, Role,
    Submitted, Verdict,
};
use policy::Tier;
use serde_json::Value;
use testkit::{base_config, get_from, Gateway, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::{cli_in, eventually};

const PW: &str = "notify-test-pw";
const SECRET: &str = "webhook-shared-secret";
const CLI: Actor<'static> = Actor {
    name: "cli",
    via: "cli",
};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    head: String,
    body: Vec<u8>,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// How the receiver answers.
#[derive(Clone, Copy)]
enum Answer {
    /// `500` to the first N requests, then `200`.
    FailFirst(usize),
    /// Read the request and never answer.
    Hang,
}

/// An HTTP receiver on its own loopback address that records what it gets.
struct Receiver {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(ip: &str, answer: Answer) -> Receiver {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let h = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(receive(s, h.clone(), answer));
            }
        });
        Receiver { addr, hits, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// The events received so far, as `(event, id)` of their JSON.
    fn events(&self) -> Vec<(String, i64)> {
        self.hits()
            .iter()
            .map(|h| {
                let j = h.json();
                (
                    j["event"].as_str().unwrap().to_string(),
                    j["id"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    /// Wait until an event named `name` has arrived; its JSON.
    async fn wait_for(&self, name: &str) -> Value {
        eventually(&format!("the webhook gets `{name}`"), || async {
            self.events().iter().any(|(e, _)| e == name)
        })
        .await;
        self.hits()
            .iter()
            .map(Hit::json)
            .find(|j| j["event"] == name)
            .unwrap()
    }
}

async fn receive(mut s: TcpStream, hits: Arc<Mutex<Vec<Hit>>>, answer: Answer) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < end + length {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let n = {
        let mut hits = hits.lock().unwrap();
        hits.push(Hit {
            head,
            body: buf[end..end + length].to_vec(),
        });
        hits.len()
    };
    let status = match answer {
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        Answer::FailFirst(k) if n <= k => "500 Internal Server Error",
        Answer::FailFirst(_) => "200 OK",
    };
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = s.write_all(reply.as_bytes()).await;
}

/// The test configuration with `[notify]` sending to `hook`.
fn config(origin: &Origin, hook: &Receiver, extra: &str) -> String {
    format!(
        "{}\n[notify]\nwebhook = \"{}\"\nsecret = \"{SECRET}\"\nbackoff = \"50ms\"\n{extra}",
        base_config(origin),
        hook.url()
    )
}

/// A gateway on a `ManualClock`, with `ada` (tier `filtered`) and the approver `lib1` for
/// `domain:other.test`.
async fn start(text: &str) -> (Gateway, Arc<ManualClock>) {
    let clock = ManualClock::new("2026-12-07T09:00:00Z".parse().unwrap());
    let gw = Gateway::start_with_clock(text, clock.clone()).await;
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

fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

fn now(clock: &ManualClock) -> i64 {
    clock.now().as_microsecond()
}

/// `ada` asks for `domain:other.test` for an hour, directly in the store; the request's id.
fn ask(gw: &Gateway, clock: &ManualClock, purpose: &str) -> i64 {
    let new = NewRequest {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: purpose.into(),
        destination: Some("other.test".into()),
        approvals_needed: 1,
        pending_for: Duration::from_secs(3600),
    };
    let by = Actor {
        name: "ada",
        via: "cli",
    };
    match gw.store().submit_request(&new, by, now(clock)).unwrap() {
        Submitted::Request(r) => r.id,
        other => panic!("{other:?}"),
    }
}

/// A webhook counter, 0 before it first moves.
async fn metric(gw: &Gateway, name: &str) -> f64 {
    testkit::metric_at(&gw.admin.to_string(), name)
        .await
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_its_approval_and_the_revocation_reach_the_webhook_as_signed_json() {
    let origin = Origin::start("127.0.0.2").await;
    let hook = Receiver::start("127.0.0.7", Answer::FailFirst(0)).await;
    let (gw, clock) = start(&config(&origin, &hook, "")).await;
    // Another process: the command line writes the request to the store.
    let (code, out, err) = cli_in(
        gw.data_path(),
        &gw.config_path(),
        &[
            "request",
            "create",
            "--as",
            "ada",
            "--scope",
            "domain:other.test",
            "--duration",
            "1h",
            "--purpose",
            "checking the other catalogue for the seminar",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let submit = hook.wait_for("request.submit").await;
    let id = submit["request"]["id"].as_i64().unwrap();
    assert_eq!(submit["subject"], format!("request:{id}"));
    assert_eq!(submit["actor"], "ada");
    assert_eq!(submit["via"], "cli");
    assert_eq!(submit["request"]["principal"], "ada");
    assert_eq!(submit["request"]["scope"], "domain:other.test");
    assert_eq!(
        submit["request"]["purpose"],
        "checking the other catalogue for the seminar"
    );
    let first = &hook.hits()[0];
    assert!(
        first.head.starts_with("POST /hook HTTP/1.1\r\n"),
        "{}",
        first.head
    );
    assert_eq!(
        first.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        first.header("x-gatehouse-event").as_deref(),
        Some("request.submit")
    );
    assert_eq!(
        first.header("x-gatehouse-signature"),
        Some(gatehouse::notify::signature(SECRET, &first.body)),
        "the signature is the HMAC of the exact body"
    );

    let by = Actor {
        name: "lib1",
        via: "cli",
    };
    gw.store()
        .review(
            id,
            Verdict::Approve,
            "fine for a week of reading",
            by,
            now(&clock),
        )
        .unwrap();
    let approve = hook.wait_for("request.approve").await;
    assert_eq!(approve["actor"], "lib1");
    assert_eq!(approve["request"]["state"], "approved");
    assert_eq!(
        approve["request"]["reviews"][0]["comment"],
        "fine for a week of reading"
    );
    let created = hook.wait_for("grant.create").await;
    let grant = created["grant"]["id"].as_i64().unwrap();
    assert_eq!(created["grant"]["request_id"], id);
    assert_eq!(created["grant"]["principal"], "ada");
    assert_eq!(created["grant"]["approvers"], "lib1");

    gw.store()
        .revoke_grant(grant, "the seminar was cancelled", CLI, now(&clock))
        .unwrap();
    let revoke = hook.wait_for("grant.revoke").await;
    assert_eq!(revoke["grant"]["id"], grant);
    assert_eq!(revoke["grant"]["state"], "revoked");
    assert_eq!(revoke["grant"]["end_reason"], "the seminar was cancelled");
    assert_eq!(
        revoke["grant"]["purpose"],
        "checking the other catalogue for the seminar"
    );
    // In the order they happened, each once, and nothing that is not about requests or grants
    // (the approver scope added before) was sent.
    let names: Vec<String> = hook.events().into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        names,
        [
            "request.submit",
            "request.approve",
            "grant.create",
            "grant.revoke"
        ]
    );
    assert_eq!(metric(&gw, "gatehouse_webhook_delivered_total").await, 4.0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_nearing_its_end_is_announced_once() {
    let origin = Origin::start("127.0.0.2").await;
    let hook = Receiver::start("127.0.0.7", Answer::FailFirst(0)).await;
    let (gw, clock) = start(&config(&origin, &hook, "expiry_warning = \"15m\"\n")).await;
    let new = NewGrant {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "an hour in the other catalogue".into(),
    };
    let grant = gw.store().add_grant(&new, CLI, now(&clock)).unwrap().id;
    hook.wait_for("grant.create").await;
    // 44 minutes in: not yet within 15 minutes of the end.
    clock.advance(Duration::from_secs(44 * 60));
    // 46 minutes in: within them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!hook.events().iter().any(|(e, _)| e == "grant.expiring"));
    clock.advance(Duration::from_secs(2 * 60));
    let expiring = hook.wait_for("grant.expiring").await;
    assert_eq!(expiring["grant"]["id"], grant);
    assert_eq!(expiring["grant"]["principal"], "ada");
    assert_eq!(expiring["grant"]["expires"], "2026-12-07T10:00:00Z");
    assert_eq!(expiring["detail"], "expires_us=1796637600000000 left=840s");
    // More sweeps within the window announce nothing more; a later action arrives after them.
    clock.advance(Duration::from_secs(60));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gw.store()
        .revoke_grant(grant, "done early", CLI, now(&clock))
        .unwrap();
    hook.wait_for("grant.revoke").await;
    let names: Vec<String> = hook.events().into_iter().map(|(e, _)| e).collect();
    assert_eq!(names, ["grant.create", "grant.expiring", "grant.revoke"]);
    let recorded = gw
        .store()
        .audit(&AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.rule == "grant.expiring" && r.grant_id == Some(grant))
        .count();
    assert_eq!(recorded, 1, "the announcement is in the audit trail once");
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_twice_gets_the_event_on_the_third_attempt() {
    let origin = Origin::start("127.0.0.2").await;
    let hook = Receiver::start("127.0.0.7", Answer::FailFirst(2)).await;
    let (gw, clock) = start(&config(&origin, &hook, "max_attempts = 3\n")).await;
    let id = ask(&gw, &clock, "reading the other catalogue for a paper");
    eventually("the third attempt is accepted", || async {
        metric(&gw, "gatehouse_webhook_delivered_total").await == 1.0
    })
    .await;
    let events = hook.events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        events.iter().all(|e| e == &events[0]),
        "the same event each time"
    );
    assert!(hook.hits().iter().all(|h| h.json()["request"]["id"] == id));
    assert_eq!(metric(&gw, "gatehouse_webhook_retries_total").await, 2.0);
    assert_eq!(metric(&gw, "gatehouse_webhook_failures_total").await, 0.0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_never_answers_delays_no_request_and_no_grant() {
    let origin = Origin::start("127.0.0.2").await;
    let hook = Receiver::start("127.0.0.7", Answer::Hang).await;
    let (gw, clock) = start(&config(&origin, &hook, "timeout = \"1h\"\n")).await;
    ask(&gw, &clock, "reading the other catalogue for a paper");
    eventually("the webhook holds a delivery", || async {
        !hook.hits().is_empty()
    })
    .await;
    // While it hangs: a proxied request is answered, and reached the origin.
    let url = format!("http://origin.test:{}/", origin.port());
    let reply = get_from("127.0.0.1", gw.proxy, ("ada", PW), &url).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(origin.requests(), 1);
    // A grant made now is honoured as fast as ever (the grants poller is not held up).
    let other = format!("http://other.test:{}/", origin.port());
    assert_eq!(
        get_from("127.0.0.1", gw.proxy, ("ada", PW), &other)
            .await
            .status(),
        403
    );
    let new = NewGrant {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: "while the webhook hangs".into(),
    };
    gw.store().add_grant(&new, CLI, now(&clock)).unwrap();
    eventually("the grant is honoured", || async {
        get_from("127.0.0.1", gw.proxy, ("ada", PW), &other)
            .await
            .status()
            == 200
    })
    .await;
    // The webhook still holds the first delivery: nothing was delivered, nothing more sent.
    assert_eq!(hook.hits().len(), 1);
    assert_eq!(metric(&gw, "gatehouse_webhook_delivered_total").await, 0.0);
    assert!(metric(&gw, "gatehouse_webhook_queue_depth").await <= 1.0);
    gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_restart_and_are_not_sent_twice() {
    let origin = Origin::start("127.0.0.2").await;
    let hook = Receiver::start("127.0.0.7", Answer::FailFirst(0)).await;
    let text = config(&origin, &hook, "");
    let (mut gw, clock) = start(&text).await;
    let first = ask(&gw, &clock, "first: the catalogue before the restart");
    eventually("the first is delivered", || async {
        metric(&gw, "gatehouse_webhook_delivered_total").await == 1.0
    })
    .await;
    gw.server.take().unwrap().shutdown().await;
    // While no gateway runs.
    let second = ask(&gw, &clock, "second: asked while the gateway was down");
    let config = Config::from_toml(&text, "restart.toml", gw.config_dir.path()).unwrap();
    let again = Server::start(ServerOptions {
        config,
        config_path: None,
        data_dir: gw.data_path().to_path_buf(),
        clock: clock.clone(),
    })
    .await
    .unwrap();
    let third = ask(&gw, &clock, "third: after the restart");
    eventually("the third arrives", || async {
        hook.hits()
            .iter()
            .any(|h| h.json()["request"]["id"] == third)
    })
    .await;
    let ids: Vec<i64> = hook
        .hits()
        .iter()
        .map(|h| h.json()["request"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [first, second, third], "each once, in order");
    again.shutdown().await;
}
