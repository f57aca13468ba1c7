//! Reload atomicity under concurrent load (issue 14, point 6): two configurations that answer the
//! same URL differently, many clients sending requests without pause, and reloads back and forth
//! through the entry point the binary's SIGHUP handler calls (`Server::reload`). Every response must
//! be exactly one configuration's answer, none may fail other than a request being forwarded when a
//! reload refuses it (cut at once by design, and recorded as `revoked`), a request sent wholly between two reloads
//! must get the answer of the configuration then in force, and the load must provably overlap the
//! reloads: requests in flight across reloads, both answers received between the first reload and
//! the last, the reload counter moved once per reload.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use policy::Tier;
use testkit::{base_config, get_from, within, Edit, Gateway, Origin};

/// What a response says about the configuration that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    decision: Option<String>,
    rule: Option<String>,
}

/// One request as a client saw it: the sequence numbers taken before it was sent and after its
/// response arrived (one counter shared with the reloader), and the answer.
struct Seen {
    sent: u64,
    done: u64,
    answer: Answer,
    head: String,
}

/// One reload: sequence numbers taken just before it began and just after it returned, and which
/// configuration it put in force (0 = allowing, 1 = refusing).
struct Reload {
    began: u64,
    ended: u64,
    config: usize,
}

const CLIENTS: usize = 12;
const RELOADS: usize = 20;
/// Responses each configuration must have answered after a reload before the next one.
const EACH: usize = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_switch_whole_and_fail_nothing() {
    let _heavy = testkit::gate::heavy();
    let origin = Origin::start("127.0.0.2").await;
    let allowing = base_config(&origin);
    // The same URL refused by a rule of its own: `origin.test` added to the denied list.
    let refusing = allowing.edit(
        "domains = [\"ads.test\", \"denied.origin.test\"]",
        "domains = [\"ads.test\", \"denied.origin.test\", \"origin.test\"]",
    );
    let configs = [allowing, refusing];
    let gw = Arc::new(Gateway::start(&configs[0]).await);
    gw.add_user("ada", Tier::Open, "pw-ada-reload").await;
    let url = format!("http://origin.test:{}/r", origin.port());
    let answer = |r: &testkit::Reply| Answer {
        status: r.status(),
        decision: r.decision(),
        rule: r.rule(),
    };
    // Each configuration's answer, learnt before the load.
    let mut expected = Vec::new();
    for (i, text) in configs.iter().enumerate() {
        std::fs::write(gw.config_path(), text).unwrap();
        gw.reload().await.unwrap();
        let r = get_from("127.0.0.20", gw.proxy, ("ada", "pw-ada-reload"), &url).await;
        assert_eq!(r.status(), [200, 403][i], "{}", r.head());
        expected.push(answer(&r));
    }
    assert_ne!(expected[0], expected[1]);
    std::fs::write(gw.config_path(), &configs[0]).unwrap();
    gw.reload().await.unwrap();
    let reloads_before = gw
        .metric("gatehouse_config_reloads_total{code=\"ok\"}")
        .await;
    let origin_before = origin.requests();

    let seq = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (gw, seq, stop, answered, url) = (
                gw.clone(),
                seq.clone(),
                stop.clone(),
                answered.clone(),
                url.clone(),
            );
            tokio::spawn(async move {
                let source = format!("127.0.0.{}", 20 + c);
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let sent = seq.fetch_add(1, Ordering::SeqCst);
                    let r = get_from(&source, gw.proxy, ("ada", "pw-ada-reload"), &url).await;
                    let done = seq.fetch_add(1, Ordering::SeqCst);
                    answered.fetch_add(1, Ordering::SeqCst);
                    let answer = Answer {
                        status: r.status(),
                        decision: r.decision(),
                        rule: r.rule(),
                    };
                    seen.push(Seen {
                        sent,
                        done,
                        answer,
                        head: r.head().to_string(),
                    });
                }
                seen
            })
        })
        .collect();

    // Reload back and forth; before each next reload, wait until enough responses arrived
    // (a count, not a time, so that a slow machine only makes the test slower).
    let mut reloads = Vec::new();
    for k in 0..RELOADS {
        let config = (k + 1) % 2;
        std::fs::write(gw.config_path(), &configs[config]).unwrap();
        let began = seq.fetch_add(1, Ordering::SeqCst);
        gw.reload().await.unwrap();
        let ended = seq.fetch_add(1, Ordering::SeqCst);
        reloads.push(Reload {
            began,
            ended,
            config,
        });
        let target = answered.load(Ordering::SeqCst) + EACH as u64;
        within("responses between reloads", async {
            while answered.load(Ordering::SeqCst) < target {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for c in clients {
        seen.extend(within("a client to finish", c).await.unwrap());
    }
    assert!(
        seen.len() >= RELOADS * EACH,
        "only {} responses",
        seen.len()
    );

    // Every response is one configuration's answer; nothing else failed. A request being
    // forwarded when a reload refuses it is cut at once, by design (`proxy::revoke`): the client
    // gets no answer. Such a cut must span a reload into the refusing configuration and be
    // recorded with the error `revoked`.
    let mut kinds = [0usize; 2];
    let mut cut = 0usize;
    for s in &seen {
        if s.answer.status == 0 && s.head.is_empty() {
            assert!(
                reloads
                    .iter()
                    .any(|r| r.config == 1 && s.sent < r.ended && s.done > r.began),
                "a request got no answer though no reload refused it while in flight"
            );
            cut += 1;
            continue;
        }
        let kind = expected
            .iter()
            .position(|e| *e == s.answer)
            .unwrap_or_else(|| panic!("a response of neither configuration:\n{}", s.head));
        kinds[kind] += 1;
    }
    assert!(
        (kinds[0]..=kinds[0] + cut).contains(&(origin.requests() - origin_before)),
        "the origin saw other requests than the allowed ones (and those cut)"
    );
    gw.flush_audit().await;
    let revoked = gw
        .audit()
        .iter()
        .filter(|e| e.error.as_deref() == Some("revoked"))
        .count();
    assert!(
        cut <= revoked,
        "{cut} requests cut without answer, {revoked} recorded as revoked"
    );
    // A request sent after a reload returned and answered before the next began got the
    // configuration that reload put in force.
    let mut judged = 0;
    for (k, r) in reloads.iter().enumerate() {
        let next = reloads.get(k + 1).map_or(u64::MAX, |n| n.began);
        for s in seen.iter().filter(|s| s.sent > r.ended && s.done < next) {
            assert_eq!(
                s.answer, expected[r.config],
                "a request after reload {k} got the other configuration's answer:\n{}",
                s.head
            );
            judged += 1;
        }
    }
    assert!(judged > 0, "no request fell wholly between two reloads");
    // The load overlapped the reloads: both answers arrived between the first reload and the
    // last, and requests were in flight across reloads.
    let (first, last) = (reloads[0].began, reloads[RELOADS - 1].ended);
    for (kind, e) in expected.iter().enumerate() {
        assert!(
            seen.iter()
                .any(|s| s.sent > first && s.done < last && s.answer == *e),
            "no response of configuration {kind} between the first and the last reload"
        );
    }
    let spanning = reloads
        .iter()
        .filter(|r| seen.iter().any(|s| s.sent < r.began && s.done > r.ended))
        .count();
    assert!(
        spanning >= RELOADS / 2,
        "only {spanning} of {RELOADS} reloads had a request in flight across them"
    );
    assert_eq!(
        gw.metric("gatehouse_config_reloads_total{code=\"ok\"}")
            .await
            - reloads_before,
        RELOADS as f64
    );
    eprintln!(
        "{} requests ({} allowed, {} refused, {cut} cut by a refusing reload), {judged} between reloads, {spanning} reloads with requests in flight",
        seen.len(),
        kinds[0],
        kinds[1]
    );
    Arc::try_unwrap(gw).ok().unwrap().shutdown().await;
}
