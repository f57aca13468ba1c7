//! The purpose travels with the traffic, end to end through the real gateway: a grant allows a
//! request, and the person's trail (page, CSV, JSON lines, `/api/v1/me/audit`) and `gatehouse
//! audit` (table and JSON) show that request with the grant's id and purpose, while events no grant
//! allowed show none. And the whole flow in a real browser (Debian's Chromium driven by
//! playwright-core, `tests/browser/ask_approve.mjs`) using the gateway as its proxy: refused, ask,
//! approve, reload, find the event with its purpose under "my activity"; its screenshots are kept
//! under `target/test-artefacts/ask_approve/`.

use std::path::PathBuf;
use std::time::Duration;

use gatehouse::store::{GrantStore, NewRequest, Reviewed, Role, Submitted, Verdict};
use testkit::{Gateway, Origin};

use crate::cli::cli_in;
use crate::grants::{get, now, other, scope, start, until_status, PW};
use crate::portal::json_body;
use crate::portal_grants::{add_approver, LIB_PW};

const PURPOSE: &str = "checking the citations of chapter four";

/// `ada` asks for `domain:other.test` with [`PURPOSE`] and `lib1` approves: the grant's id.
fn ask_and_approve(gw: &Gateway, clock: &gatehouse::clock::ManualClock, port: u16) -> i64 {
    let store = gw.store();
    let ask = NewRequest {
        principal: "ada".into(),
        scope: scope("domain:other.test"),
        duration: Duration::from_secs(3600),
        claim_by: None,
        purpose: PURPOSE.into(),
        destination: Some(format!("other.test:{port}")),
        approvals_needed: 1,
        pending_for: Duration::from_secs(3600),
    };
    let ada = gatehouse::store::Actor {
        name: "ada",
        via: "cli",
    };
    let Submitted::Request(r) = store.submit_request(&ask, ada, now(clock)).unwrap() else {
        panic!("no request")
    };
    let lib1 = gatehouse::store::Actor {
        name: "lib1",
        via: "cli",
    };
    match store.review(r.id, Verdict::Approve, "fine", lib1, now(clock)) {
        Ok(Reviewed::Approved(g)) => g.id,
        other => panic!("not approved: {other:?}"),
    }
}

/// What follows the head of an answer.
fn body(r: &testkit::Reply) -> &str {
    r.text.split_once("\r\n\r\n").map_or("", |b| b.1)
}

/// The `<tr>` of the page's events table that holds `needle`.
fn row_with<'a>(html: &'a str, needle: &str) -> &'a str {
    html.split("<tr>")
        .find(|r| r.contains(needle))
        .unwrap_or_else(|| panic!("no row with {needle:?} in:\n{html}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_purpose_of_a_grant_is_shown_next_to_the_traffic_it_allowed_and_nowhere_else() {
    let origin = Origin::start("127.0.0.2").await;
    let (gw, clock) = start(&origin).await;
    let port = origin.port();
    let url = other(&origin);
    // Before the grant: a refusal, and a page her tier allows on its own; neither has a grant.
    assert_eq!(get(&gw, "ada", &url).await.status(), 403);
    let own = format!("http://origin.test:{port}/by-tier");
    assert_eq!(get(&gw, "ada", &own).await.status(), 200);
    let id = ask_and_approve(&gw, &clock, port);
    until_status(&gw, "ada", &url, 200).await;
    assert!(
        origin.seen().contains("GET / HTTP/1.1"),
        "{}",
        origin.seen()
    );
    gw.flush_audit().await;
    let granted = format!("http://other.test:{port}/");

    // The trail page: the allowed request with its purpose and grant; the others without.
    let ada = crate::portal_grants::logged_in(&gw, "ada", PW).await;
    let page = ada.get("/me/audit").await;
    assert_eq!(page.status(), 200, "{}", page.text);
    let allowed = row_with(
        &page.text,
        "class=\"allow\">allow</td><td data-label=\"Rule\">grant",
    );
    assert!(
        allowed.contains(&format!(
            "{PURPOSE} <span class=\"muted\">(grant {id})</span>"
        )),
        "{allowed}"
    );
    for plain in [
        row_with(&page.text, "filtered-default"),
        row_with(&page.text, "filtered-allow:research"),
    ] {
        assert!(
            plain.contains("<td data-label=\"Purpose\" class=\"purpose\"></td>"),
            "{plain}"
        );
    }
    assert_eq!(page.text.matches(PURPOSE).count(), 1, "{}", page.text);

    // CSV: two columns more, filled for the granted request only.
    let csv = ada.get("/me/audit.csv").await;
    assert_eq!(csv.status(), 200, "{}", csv.text);
    let lines: Vec<&str> = body(&csv).split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].ends_with(",grant_id,purpose"), "{}", lines[0]);
    let by_url = |u: &str| -> Vec<&str> {
        lines
            .iter()
            .copied()
            .filter(|l| l.contains(&format!(",{u},")))
            .collect()
    };
    let with_grant = by_url(&granted);
    let granted_line = with_grant
        .iter()
        .find(|l| l.contains(",allow,grant,"))
        .unwrap();
    assert!(
        granted_line.ends_with(&format!(",{id},{PURPOSE}")),
        "{granted_line}"
    );
    let refused_line = with_grant.iter().find(|l| l.contains(",deny,")).unwrap();
    assert!(refused_line.ends_with(",,"), "{refused_line}");
    assert!(by_url(&own)[0].ends_with(",,"), "{}", csv.text);

    // JSON lines and the API: `purpose` next to `grant_id`, null without a grant.
    let jsonl = ada.get("/me/audit.jsonl").await;
    assert_eq!(jsonl.status(), 200, "{}", jsonl.text);
    let exported: Vec<serde_json::Value> = body(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let api = json_body(&ada.get("/api/v1/me/audit").await);
    let listed = api["events"].as_array().unwrap().clone();
    for events in [exported, listed] {
        check_json_events(&events, id, &granted, &own);
    }

    // `gatehouse audit`, as JSON and as the table.
    let (data, config) = (gw.data_path(), gw.config_path());
    let args = ["audit", "--principal", "ada", "--format", "json"];
    let (code, out, err) = cli_in(data, &config, &args, None);
    assert_eq!(code, 0, "{err}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check_json_events(&events, id, &granted, &own);
    let (code, table, err) = cli_in(data, &config, &["audit", "--principal", "ada"], None);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].trim_end().ends_with("GRANT"), "{table}");
    let granted_row = rows.iter().find(|r| r.contains(" grant ")).unwrap();
    assert!(
        granted_row
            .trim_end()
            .ends_with(&format!("{id} ({PURPOSE})")),
        "{table}"
    );
    assert_eq!(table.matches(PURPOSE).count(), 1, "{table}");
    for r in rows
        .iter()
        .filter(|r| r.contains("filtered-default") || r.contains("filtered-allow:research"))
    {
        assert!(r.trim_end().ends_with(" -"), "{r}");
    }
    gw.shutdown().await;
}

/// Events as JSON (export, API, CLI): the granted request carries `grant_id` and `purpose`; the
/// refusal at the same URL and the request the tier allowed carry neither.
fn check_json_events(events: &[serde_json::Value], id: i64, granted: &str, own: &str) {
    let at = |u: &str, decision: &str| {
        events
            .iter()
            .find(|e| e["url"] == u && e["decision"] == decision)
            .unwrap_or_else(|| panic!("no {decision} at {u} in {events:#?}"))
    };
    let allowed = at(granted, "allow");
    assert_eq!(
        (&allowed["rule"], &allowed["grant_id"], &allowed["purpose"]),
        (&"grant".into(), &id.into(), &PURPOSE.into()),
        "{allowed}"
    );
    for plain in [at(granted, "deny"), at(own, "allow")] {
        assert!(
            plain["grant_id"].is_null() && plain["purpose"].is_null(),
            "{plain}"
        );
    }
    assert!(
        events
            .iter()
            .filter(|e| e["grant_id"].is_null())
            .all(|e| e["purpose"].is_null()),
        "{events:#?}"
    );
}

/// Where a test keeps files for people to look at after the run: `target/test-artefacts/NAME/`
/// (the target directory `CARGO_TARGET_DIR` names, else the workspace's), emptied first.
fn artefacts(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artefacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_person_asks_an_approver_approves_and_the_page_loads_in_a_real_browser() {
    let _heavy = testkit::gate::heavy();
    use crate::clients::{browser_dir, run, CHROMIUM};
    let browser = browser_dir();
    assert!(
        browser
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing: scripts/test runs `npm ci` in tests/browser"
    );
    let origin = Origin::start("127.0.0.2").await;
    let (gw, _clock) = start(&origin).await;
    add_approver(&gw, "lib2", Role::Approver).await;
    let dir = tempfile::tempdir().unwrap();
    let shots = artefacts("ask_approve");
    let page_url = format!("http://other.test:{}/chapter-four", origin.port());
    let portal = format!("http://{}", gw.portal_addr());
    let cfg = serde_json::json!({
        "executablePath": CHROMIUM,
        "proxy": gw.proxy_url(),
        "portal": portal,
        "page": page_url,
        "user": {"username": "ada", "password": PW},
        "approver": {"username": "lib2", "password": LIB_PW},
        "purpose": PURPOSE,
        "shots": shots,
    });
    let mut c = std::process::Command::new("node");
    c.arg(browser.join("ask_approve.mjs"))
        .arg(cfg.to_string())
        .current_dir(&browser)
        .env("HOME", dir.path());
    let ran = run(c, Duration::from_secs(240)).await;
    assert!(ran.ok, "{ran:?}");
    let out: serde_json::Value = serde_json::from_str(ran.stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no JSON from the script ({e}): {ran:?}"));
    let steps = out["steps"].as_array().unwrap();
    for s in steps {
        assert_eq!(s["error"], serde_json::Value::Null, "{out:#}");
    }
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name}: {out:#}"))
            .clone()
    };
    let text = |s: &serde_json::Value| s["text"].as_str().unwrap_or_default().to_string();

    // Refused at the page, through the gateway, with the link to ask.
    let refused = step("refused");
    assert_eq!(refused["status"], 403, "{refused:#}");
    assert!(text(&refused).contains("filtered-default"), "{refused:#}");
    let link = refused["link"].as_str().unwrap();
    assert_eq!(
        link,
        format!("{portal}/requests/new?destination=other.test"),
        "{refused:#}"
    );
    // Following it asks her to log in first; then the form is filled in with the destination.
    assert!(step("login")["url"].as_str().unwrap().ends_with("/login"));
    let form = step("form");
    assert_eq!(form["url"], link, "{form:#}");
    assert_eq!(form["scope"], "domain:other.test", "{form:#}");
    assert!(
        text(&step("asked")).contains("Request submitted"),
        "{out:#}"
    );
    let asked = gw.store().requests(Some("ada"), None, 10).unwrap();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].purpose, PURPOSE);

    // The approver sees it with its purpose and approves; one grant, approved by lib2.
    let queue = step("queue");
    assert!(
        text(&queue).contains(PURPOSE) && text(&queue).contains("from ada"),
        "{queue:#}"
    );
    assert_eq!(step("approved")["status"], 200, "{out:#}");
    let grants = gw.store().grants(Some("ada"), false).unwrap();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(
        (grants[0].approvers.as_str(), grants[0].purpose.as_str()),
        ("lib2", PURPOSE)
    );

    // The reload loads the page, and the origin saw exactly that one request for it: every try
    // before the grant was honoured was refused at the gateway. Besides it, only the icon the
    // browser asks for on its own once a page loaded.
    let loaded = step("loaded");
    assert_eq!(loaded["status"], 200, "{loaded:#}");
    assert_eq!(text(&loaded).trim(), "hello from origin", "{loaded:#}");
    let seen = origin.seen();
    let request_lines: Vec<&str> = seen
        .lines()
        .filter(|l| l.ends_with(" HTTP/1.1") && !l.starts_with(' '))
        .collect();
    assert_eq!(
        request_lines
            .iter()
            .filter(|l| **l == "GET /chapter-four HTTP/1.1")
            .count(),
        1,
        "{seen}"
    );
    assert!(
        request_lines
            .iter()
            .all(|l| *l == "GET /chapter-four HTTP/1.1" || *l == "GET /favicon.ico HTTP/1.1"),
        "{seen}"
    );
    assert_eq!(origin.requests(), request_lines.len(), "{seen}");

    // "My activity" shows the request with its purpose and grant.
    let activity = step("activity");
    let t = text(&activity);
    let grant_note = format!("{PURPOSE} (grant {})", grants[0].id);
    assert!(
        t.lines()
            .any(|l| l.contains("other.test") && l.contains("allow") && l.contains(&grant_note)),
        "{t}"
    );
    gw.flush_audit().await;
    let events = gw.audit();
    let allowed: Vec<_> = events
        .iter()
        .filter(|e| e.decision == "allow" && e.url.as_deref() == Some(&*page_url))
        .collect();
    assert_eq!(allowed.len(), 1, "{allowed:#?}");
    assert_eq!(allowed[0].grant_id, Some(grants[0].id));

    // A screenshot of every step, kept.
    for s in steps {
        let png = std::fs::read(s["screenshot"].as_str().unwrap()).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2_000,
            "{s:#}"
        );
    }
    gw.shutdown().await;
}
