//! `/metrics` on the admin port of a fresh gateway, before any request: the standard `process_*`
//! metrics read from `/proc/self`, `gatehouse_build_info` with the crate's version, and every
//! per-decision counter already present at zero, so that a rate or an alert has a series to
//! watch from the start.

use testkit::{base_config, curl, Gateway, Origin};

/// The value of the sample line `name` (with its labels, if any) in OpenMetrics text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: `{v}`")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_gateway_exports_process_metrics_build_info_and_zero_counters() {
    let origin = Origin::start("127.0.0.2").await;
    let gw = Gateway::start(&base_config(&origin)).await;
    let reply = curl(&[&format!("http://{}/metrics", gw.admin)]).await;
    assert_eq!(reply.status, 200);
    let m = reply.text();

    // The Prometheus process collector's names and types.
    for (name, kind) in [
        ("process_cpu_seconds", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            m.contains(&format!("# TYPE {name} {kind}\n")),
            "no {kind} {name} in:\n{m}"
        );
    }
    let rss = sample(&m, "process_resident_memory_bytes").unwrap();
    let vsz = sample(&m, "process_virtual_memory_bytes").unwrap();
    assert!(rss > 0.0 && vsz >= rss, "rss {rss}, virtual {vsz}");
    assert!(sample(&m, "process_cpu_seconds_total").unwrap() >= 0.0);
    // The gateway has its listeners and its store open.
    let fds = sample(&m, "process_open_fds").unwrap();
    assert!(
        fds >= 3.0 && fds <= sample(&m, "process_max_fds").unwrap(),
        "{fds}"
    );
    // Started after 2020 and not in the future of this test's own clock.
    let started = sample(&m, "process_start_time_seconds").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        started > 1.6e9 && started <= now + 1.0,
        "{started} vs {now}"
    );

    assert_eq!(
        sample(
            &m,
            &format!(
                "gatehouse_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0),
        "{m}"
    );
    for (decision, rule) in [
        ("deny", "tier-none"),
        ("deny", "auth-required"),
        ("deny", "filtered-default"),
        ("deny", "auth-throttled"),
        ("deny", "principal-disabled"),
        ("allow", "tier-open"),
    ] {
        let series = format!("gatehouse_requests_total{{decision=\"{decision}\",rule=\"{rule}\"}}");
        assert_eq!(sample(&m, &series), Some(0.0), "{series} in:\n{m}");
    }
    for code in [
        "dns_failed",
        "upstream_connect_failed",
        "audit_backlog",
        "shutdown",
    ] {
        let series = format!("gatehouse_request_errors_total{{code=\"{code}\"}}");
        assert_eq!(sample(&m, &series), Some(0.0), "{series} in:\n{m}");
    }
    gw.shutdown().await;
}
