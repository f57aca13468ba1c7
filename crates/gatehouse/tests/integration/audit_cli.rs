//! `gatehouse audit`, the real binary: dates, RFC 3339 times and ages for `--since`/`--until`;
//! the filters by rule, status and client address; `--limit 0` for every event; the table's stage
//! and error columns. Against a store filled through `Store` and against a real gateway's trail.

use std::path::Path;
use std::process::Command;

use gatehouse::store::{AuditRow, AuditStore, Store};
use policy::Tier;
use testkit::{base_config, curl, Gateway, Origin};

use crate::cli::BIN;

/// `gatehouse audit ARGS --data-dir DIR`: exit code, stdout, stderr.
fn audit(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("audit")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `url` of each event printed as JSON lines (the tests put a label there).
fn labels(data: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, out, err) = audit(data, &all);
    assert_eq!(code, 0, "{args:?}: {err}");
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["url"].as_str().unwrap().to_string()
        })
        .collect()
}

fn us(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}

fn event(label: &str, ts: &str, client: &str, rule: &str, status: u16) -> AuditRow {
    AuditRow {
        id: 0,
        ts_us: us(ts),
        principal: Some("ada".into()),
        tried_principal: None,
        client: client.into(),
        method: "GET".into(),
        destination: "origin.test:80".into(),
        url: Some(label.into()),
        decision: if status == 403 { "deny" } else { "allow" }.into(),
        rule: rule.into(),
        status,
        bytes_up: 0,
        bytes_down: 0,
        duration_us: 1000,
        stage: "done".into(),
        error: None,
        ..Default::default()
    }
}

#[test]
fn audit_filters_by_date_time_age_rule_status_and_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let now = jiff::Timestamp::now();
    let an_hour_ago = now - jiff::SignedDuration::from_hours(1);
    let three_days_ago = now - jiff::SignedDuration::from_hours(72);
    store
        .append_audit(&[
            event(
                "a",
                "2025-02-28T23:59:59.999999Z",
                "10.0.0.1:5000",
                "tier-open",
                200,
            ),
            event(
                "b",
                "2025-03-01T00:00:00Z",
                "10.0.0.1:5001",
                "deny-ads",
                403,
            ),
            event(
                "c",
                "2025-03-01T12:00:00+01:00",
                "10.0.0.10:5000",
                "tier-open",
                502,
            ),
            event(
                "d",
                "2025-03-02T00:00:00Z",
                "[::ffff:10.0.0.1]:6000",
                "tier-open",
                200,
            ),
            event(
                "e",
                &three_days_ago.to_string(),
                "[2001:db8::1]:5000",
                "deny-ads",
                403,
            ),
            event(
                "f",
                &an_hour_ago.to_string(),
                "10.0.0.2:7000",
                "filtered-default",
                200,
            ),
        ])
        .unwrap();
    let data = dir.path();
    // A date is midnight UTC: `--since D --until D+1` is that whole day.
    assert_eq!(
        labels(data, &["--since", "2025-03-01", "--until", "2025-03-02"]),
        ["b", "c"]
    );
    assert_eq!(labels(data, &["--until", "2025-03-01"]), ["a"]);
    assert_eq!(
        labels(
            data,
            &[
                "--since",
                "2025-03-01T11:00:00Z",
                "--until",
                "2025-03-02T00:00:00.000001Z"
            ]
        ),
        ["c", "d"]
    );
    // Ages count back from now.
    assert_eq!(labels(data, &["--since", "2h"]), ["f"]);
    assert_eq!(labels(data, &["--since", "4d", "--until", "2d"]), ["e"]);
    // Exact rule and status.
    assert_eq!(labels(data, &["--rule", "deny-ads"]), ["b", "e"]);
    assert_eq!(labels(data, &["--rule", "deny"]), Vec::<String>::new());
    assert_eq!(labels(data, &["--status", "502"]), ["c"]);
    // A client address matches every port of it (and its dual-stack form), an address with a
    // port one connection.
    assert_eq!(labels(data, &["--client", "10.0.0.1"]), ["a", "b", "d"]);
    assert_eq!(labels(data, &["--client", "10.0.0.1:5001"]), ["b"]);
    assert_eq!(labels(data, &["--client", "2001:db8::1"]), ["e"]);
    assert_eq!(labels(data, &["--client", "[2001:db8::1]:5000"]), ["e"]);
    assert_eq!(
        labels(data, &["--client", "10.0.0.1", "--status", "200"]),
        ["a", "d"]
    );
    // Values that mean nothing are errors, never an empty answer.
    for (args, says) in [
        (&["--since", "2026-12-7"][..], "is not a time"),
        (&["--since", "2026-12-07T10:00:00"], "is not a time"),
        (&["--until", "3w"], "the unit of an age"),
        (&["--client", "origin.test"], "is not an IP address"),
        (&["--status", "ok"], "invalid value"),
        (&["--since", "2026-02-30"], "`2026-02-30` is not a date"),
        (&["--since", "2026-13-01"], "`2026-13-01` is not a date"),
        (
            &["--since", "1m", "--until", "2h"],
            "`--until 2h` is before `--since 1m`",
        ),
    ] {
        let (code, out, err) = audit(data, args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn limit_zero_lists_every_event_and_a_limit_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let rows: Vec<AuditRow> = (0..1500)
        .map(|i| {
            let mut e = event(
                &format!("n{i}"),
                "2026-12-07T00:00:00Z",
                "10.0.0.1:1",
                "tier-open",
                200,
            );
            e.ts_us += i;
            e
        })
        .collect();
    store.append_audit(&rows).unwrap();
    let data = dir.path();
    // The default shows the newest 1000, oldest first.
    let default = labels(data, &[]);
    assert_eq!(default.len(), 1000);
    assert_eq!(
        (default[0].as_str(), default[999].as_str()),
        ("n500", "n1499")
    );
    let all = labels(data, &["--limit", "0"]);
    assert_eq!(all.len(), 1500);
    assert_eq!((all[0].as_str(), all[1499].as_str()), ("n0", "n1499"));
    assert_eq!(labels(data, &["--limit", "2"]), ["n1498", "n1499"]);
    let help = Command::new(BIN)
        .args(["audit", "--help"])
        .output()
        .unwrap()
        .stdout;
    let help = String::from_utf8_lossy(&help);
    for needle in [
        "`0` means no limit",
        "midnight UTC",
        "--rule",
        "--status",
        "--client",
    ] {
        assert!(help.contains(needle), "`{needle}` missing from:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_of_a_real_run_shows_stage_and_error_and_filters_apply() {
    let origin = Origin::start("127.0.0.3").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    gw.add_user("ada", Tier::Filtered, "ada-password").await;
    let p = gw.proxy_url();
    let ok = format!("http://origin.test:{}/ok", origin.port());
    let refused = format!("http://other.test:{}/", origin.port());
    // A port on an allowed address where nothing listens: allowed, then the connect fails.
    let closed = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let failed = format!("http://origin.test:{port}/");
    assert_eq!(
        curl(&["-x", &p, "-U", "ada:ada-password", &ok])
            .await
            .status,
        200
    );
    assert_eq!(
        curl(&["-x", &p, "-U", "ada:ada-password", &refused])
            .await
            .status,
        403
    );
    assert_eq!(
        curl(&["-x", &p, "-U", "ada:ada-password", &failed])
            .await
            .status,
        502
    );
    gw.flush_audit().await;
    let data = gw.data_path();

    let (code, table, err) = audit(data, &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let head = &lines[0];
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (status, stage, error) = (col("STATUS"), col("STAGE"), col("ERROR"));
    // In the order the events were committed, which a request that ended a moment later than the
    // next one began may change: compare the set.
    let mut rows: Vec<(&str, &str, &str)> = lines[1..]
        .iter()
        .map(|r| (r[status], r[stage], r[error]))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("200", "done", "-"),
            ("403", "decide", "-"),
            ("502", "connect", "upstream_connect_failed"),
        ],
        "{table}"
    );

    let (_, denied, _) = audit(data, &["--rule", "filtered-default", "--format", "json"]);
    let denied: Vec<serde_json::Value> = denied
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(
        denied[0]["destination"],
        format!("other.test:{}", origin.port())
    );
    let (_, failed_json, _) = audit(data, &["--status", "502", "--format", "json"]);
    assert!(failed_json.contains("upstream_connect_failed") && failed_json.lines().count() == 1);
    // Every request came from 127.0.0.1; none from another address.
    let client = denied[0]["client"].as_str().unwrap().to_string();
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert_eq!(labels(data, &["--client", "127.0.0.1"]).len(), 3);
    assert_eq!(labels(data, &["--client", &client]).len(), 1);
    assert_eq!(labels(data, &["--client", "127.0.0.2"]).len(), 0);
    gw.shutdown().await;
}
