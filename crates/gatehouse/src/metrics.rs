//! Prometheus metrics, rendered as OpenMetrics text at the admin port's `/metrics`.
//!
//! Labels have bounded cardinality: decisions are labelled with the rule's static id (never a
//! category name or a host), so a list of a million domains cannot explode the series count.
//! Every `gatehouse_requests_total{decision,rule}` pair that a request can produce exists at zero
//! from start ([`DECISION_RULES`]), so a rate or an alert has a series before the first request.
//! `gatehouse_build_info{version}` is always 1, and the standard `process_*` metrics of the
//! Prometheus process collector are read from `/proc/self` at each scrape (Linux); a value that
//! cannot be read is left out, never an error.

use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

use crate::codes::ErrorCode;

/// Every `(decision, rule)` pair that `gatehouse_requests_total` can count besides failures: the
/// `policy::Rule::static_id` of the rule that allowed or refused (the address check's own allow
/// verdicts, `network-allow` and `global-address`, never label a request), and the outcomes the
/// proxy answers itself (`proxy::respond::Outcome::AuthRequired` and the disabled principal).
/// Failures are labelled `error` with their error code, and appear when they first happen; their
/// `gatehouse_request_errors_total{code}` exists at zero from start for every code that is not a
/// parser's (`ErrorCode::FIXED`).
pub const DECISION_RULES: &[(&str, &str)] = &[
    ("allow", "tier-open"),
    ("allow", "filtered-allow"),
    ("allow", "intranet-zone"),
    ("allow", "intranet-network"),
    ("deny", "tier-none"),
    ("deny", "global-deny"),
    ("deny", "filtered-default"),
    ("deny", "intranet-default"),
    ("deny", "connect-port"),
    ("deny", "address"),
    ("deny", "own-socket"),
    ("deny", "auth-required"),
    ("deny", "auth-failed"),
    ("deny", "auth-throttled"),
    ("deny", "principal-disabled"),
    ("deny", "unregistered-terminal"),
    ("deny", "location-closed"),
    ("deny", "undecidable"),
    ("allow", "rule"),
    ("deny", "rule"),
    ("deny", "seats-full"),
    ("deny", "terminal-busy"),
    ("deny", "principal-sessions"),
    ("allow", "grant"),
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub decision: &'static str,
    pub rule: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    pub direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub code: &'static str,
}

/// A location's name: bounded by the configuration, never by requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LocationLabels {
    pub location: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Every reason `gatehouse_seat_refusals_total{reason}` counts: the outcome codes of the seat
/// phase (`crate::seats::SeatRefusal::code`).
pub const SEAT_REFUSALS: [&str; 4] = [
    "seats-full",
    "terminal-busy",
    "principal-sessions",
    "sessions-unavailable",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<DecisionLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub active_connections: Gauge,
    pub connections: Counter,
    /// Connections the admin listener accepted: what proves that no request through the proxy
    /// ever reached the gateway's own admin socket.
    pub admin_connections: Counter,
    /// Times freed memory was handed back to the system after a burst of connections ended.
    pub memory_trims: Counter,
    pub bytes: Family<DirectionLabels, Counter>,
    /// The two members of `bytes`, resolved once (a family lookup takes a lock per call).
    bytes_up: Counter,
    bytes_down: Counter,
    pub decision_seconds: Histogram,
    pub upstream_connect_seconds: Histogram,
    pub upstream_response_seconds: Histogram,
    pub audit_queue_depth: Gauge,
    pub audit_dropped: Counter,
    pub audit_lost: Counter,
    pub audit_written: Counter,
    pub audit_write_errors: Counter,
    /// The verifiable audit log (issue 13): leaves, checkpoints, the start-up check, the store.
    pub audit_tree_size: Gauge,
    /// Set at each scrape from the newest checkpoint's time and the gateway's clock.
    pub audit_checkpoint_age_seconds: Gauge<f64, AtomicU64>,
    pub audit_checkpoints: Counter,
    pub audit_verify_failures: Counter,
    pub audit_store_failing: Gauge,
    pub auth_verifications: Counter,
    pub auth_failures: Counter,
    pub auth_throttled: Counter,
    pub config_reloads: Family<ErrorLabels, Counter>,
    pub principals_generation: Gauge,
    /// Open sessions per location (updated every second by the seat sweep).
    pub seats_in_use: Family<LocationLabels, Gauge>,
    /// Seats per location with a seat limit.
    pub seats: Family<LocationLabels, Gauge>,
    pub sessions_started: Counter,
    pub sessions_ended: Family<ReasonLabels, Counter>,
    pub seat_refusals: Family<ReasonLabels, Counter>,
    /// Connections the portal listener accepted (what reached the portal, by whatever path).
    pub portal_connections: Counter,
    /// Webhook notifications (`[notify]`).
    pub webhook_delivered: Counter,
    pub webhook_failures: Counter,
    pub webhook_retries: Counter,
    pub webhook_queue_depth: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Register `metric` under `name` and hand it back: each metric is made and registered in one
/// expression.
fn reg<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// A counter family with the given label sets present at zero.
fn family_at_zero<L, I>(labels: I) -> Family<L, Counter>
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    I: IntoIterator<Item = L>,
{
    let family = Family::<L, Counter>::default();
    for l in labels {
        let _ = family.get_or_create(&l);
    }
    family
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut root = Registry::default();
        root.register_collector(Box::new(ProcessCollector));
        let r = root.sub_registry_with_prefix("gatehouse");
        let build_info = Family::<BuildLabels, Gauge>::default();
        let version = env!("CARGO_PKG_VERSION");
        build_info.get_or_create(&BuildLabels { version }).set(1);
        let help = "Always 1; the version of the running gatehouse is in the label";
        r.register("build_info", help, build_info);
        let decisions = DECISION_RULES
            .iter()
            .map(|&(decision, rule)| DecisionLabels { decision, rule });
        let codes = ErrorCode::FIXED.map(|c| ErrorLabels { code: c.as_str() });
        // Both reload outcomes exist from the start, so that an alert on `invalid` has a series.
        let reloads = ["ok", "invalid"].map(|code| ErrorLabels { code });
        let end_reasons = crate::store::EndReason::ALL.map(|r| ReasonLabels { reason: r.as_str() });
        let refusals = SEAT_REFUSALS.map(|reason| ReasonLabels { reason });
        // Decisions take microseconds; the buckets resolve 1 µs to 10 ms.
        let decision_buckets = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2];
        let net_buckets = [
            1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let bytes = reg(
            r,
            "bytes",
            "Body and tunnel bytes relayed: up = client to origin, down = origin to client",
            Family::<DirectionLabels, Counter>::default(),
        );
        let bytes_up = bytes
            .get_or_create(&DirectionLabels { direction: "up" })
            .clone();
        let bytes_down = bytes
            .get_or_create(&DirectionLabels { direction: "down" })
            .clone();
        Metrics {
            requests: reg(r, "requests", "Requests decided, by decision and rule", family_at_zero(decisions)),
            errors: reg(r, "request_errors", "Requests that ended in an error (malformed input, upstream failure), by stable code", family_at_zero(codes)),
            active_connections: reg(r, "active_connections", "Client connections open now", Gauge::default()),
            connections: reg(r, "connections", "Client connections accepted", Counter::default()),
            admin_connections: reg(r, "admin_connections", "Connections accepted by the admin listener", Counter::default()),
            memory_trims: reg(r, "memory_trims", "Times freed memory was handed back to the system after a burst of client connections ended", Counter::default()),
            bytes,
            bytes_up,
            bytes_down,
            decision_seconds: reg(r, "decision_duration_seconds", "Time to categorise the canonical destination and decide (excluding parsing, authentication and DNS)", Histogram::new(decision_buckets)),
            upstream_connect_seconds: reg(r, "upstream_connect_duration_seconds", "Time to resolve and connect to the origin", Histogram::new(net_buckets)),
            upstream_response_seconds: reg(r, "upstream_response_duration_seconds", "Time from sending the request head to the origin's response head", Histogram::new(net_buckets)),
            audit_queue_depth: reg(r, "audit_queue_depth", "Audit events waiting for the writer", Gauge::default()),
            audit_dropped: reg(r, "audit_dropped", "Audit events lost because the queue stayed full (allowed requests only with audit.on_backlog = \"drop\"; refusals in either mode)", Counter::default()),
            audit_lost: reg(r, "audit_lost", "Audit events lost for another reason than a full queue: requests still running when shutdown stopped waiting for them, events still queued when the shutdown flush timed out, a batch the store refused twice with audit.on_backlog = \"drop\"", Counter::default()),
            audit_written: reg(r, "audit_written", "Audit events committed to the store", Counter::default()),
            audit_write_errors: reg(r, "audit_write_errors", "Failed audit batch commits", Counter::default()),
            audit_tree_size: reg(r, "audit_tree_size", "Leaves in the audit log's Merkle tree (one per audit event)", Gauge::default()),
            audit_checkpoint_age_seconds: reg(r, "audit_checkpoint_age_seconds", "Seconds since the newest audit log checkpoint was signed (since the gateway started while there is none)", Gauge::default()),
            audit_checkpoints: reg(r, "audit_checkpoints", "Audit log checkpoints signed by this gateway since it started", Counter::default()),
            audit_verify_failures: reg(r, "audit_verify_failures", "Audit log checks that found the store not matching its log (the start-up check of the tail)", Counter::default()),
            audit_store_failing: reg(r, "audit_store_failing", "1 while the audit store refuses commits (the batch is kept and retried; with on_backlog = \"refuse\" requests are refused once the queue is full), else 0", Gauge::default()),
            auth_verifications: reg(r, "auth_verifications", "Password verifications (argon2) performed; cached credentials are not counted", Counter::default()),
            auth_failures: reg(r, "auth_failures", "Requests with missing, malformed or wrong proxy credentials", Counter::default()),
            auth_throttled: reg(r, "auth_throttled", "Requests refused without a password check because their user name or client address had too many recent failures (not counted in auth_failures)", Counter::default()),
            config_reloads: reg(r, "config_reloads", "Configuration reloads, by outcome (`ok` or `invalid`)", family_at_zero(reloads)),
            principals_generation: reg(r, "principals_generation", "The store's change counter as last loaded by this gateway", Gauge::default()),
            seats_in_use: reg(r, "seats_in_use", "Open sessions per location", Family::default()),
            seats: reg(r, "seats", "Seats per location (absent for a location without a seat limit)", Family::default()),
            sessions_started: reg(r, "sessions_started", "Sessions started (a principal's first request at a terminal)", Counter::default()),
            sessions_ended: reg(r, "sessions_ended", "Sessions ended, by reason (`idle`, `closed`, `admin`, `moved`)", family_at_zero(end_reasons)),
            seat_refusals: reg(r, "seat_refusals", "Requests refused by the seat phase, by outcome", family_at_zero(refusals)),
            portal_connections: reg(r, "portal_connections", "Connections the portal listener accepted", Counter::default()),
            webhook_delivered: reg(r, "webhook_delivered", "Notifications the webhook accepted (a 2xx answer)", Counter::default()),
            webhook_failures: reg(r, "webhook_failures", "Notifications given up after notify.max_attempts failed attempts", Counter::default()),
            webhook_retries: reg(r, "webhook_retries", "Webhook delivery attempts after a failed one", Counter::default()),
            webhook_queue_depth: reg(r, "webhook_queue_depth", "Notifications waiting for the webhook", Gauge::default()),
            registry: root,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn decided(&self, decision: &'static str, rule: &'static str) {
        self.requests
            .get_or_create(&DecisionLabels { decision, rule })
            .inc();
    }

    pub fn error(&self, code: &'static str) {
        self.errors.get_or_create(&ErrorLabels { code }).inc();
    }

    pub fn bytes_up(&self, n: u64) {
        self.bytes_up.inc_by(n);
    }

    pub fn bytes_down(&self, n: u64) {
        self.bytes_down.inc_by(n);
    }
}

/// The gauges of the Prometheus process collector: name and help, in the order `encode` reads them.
const PROCESS_GAUGES: [(&str, &str); 5] = [
    (
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
    ),
    (
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
    ),
    ("process_open_fds", "Number of open file descriptors"),
    ("process_max_fds", "Maximum number of open file descriptors"),
    (
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds",
    ),
];

/// The `process_*` metrics of the Prometheus process collector, read from `/proc/self` at each
/// scrape. Each one is written only when its file could be read and parsed.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let p = process::Sample::read(read);
        if let Some(v) = p.cpu_seconds {
            let m = ConstCounter::new(v);
            let e = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                m.metric_type(),
            )?;
            m.encode(e)?;
        }
        let gauges = PROCESS_GAUGES.iter().zip(p.gauges);
        for (&(name, help), value) in gauges {
            if let Some(v) = value {
                let m = ConstGauge::new(v);
                let e = encoder.encode_descriptor(name, help, None, m.metric_type())?;
                m.encode(e)?;
            }
        }
        Ok(())
    }
}

/// Reading the process's own figures from Linux's `/proc`, as the Prometheus Go client's
/// process collector does (`procfs`): the parsers take the files' text, so they are tested on
/// fixed samples, and every figure is an `Option` (absent on other systems or odd kernels).
mod process {
    /// `USER_HZ`, the unit of the CPU times in `/proc/<pid>/stat`. The kernel exports clock ticks
    /// at this fixed rate whatever its internal `HZ` (`sysconf(_SC_CLK_TCK)` is 100 on every
    /// Linux architecture gatehouse builds for); the Go client's `procfs` hard-codes it too.
    const USER_HZ: f64 = 100.0;

    /// One reading of the process's figures.
    #[derive(Debug, Default, PartialEq)]
    pub struct Sample {
        pub cpu_seconds: Option<f64>,
        /// The gauges, in the order of [`super::PROCESS_GAUGES`]: resident and virtual memory
        /// (bytes), open and maximum file descriptors, start time (seconds since the epoch).
        pub gauges: [Option<f64>; 5],
    }

    impl Sample {
        /// Reads the figures through `read` (a path to the file's text, `None` when unreadable).
        pub fn read(read: impl Fn(&str) -> Option<String>) -> Sample {
            let stat = read("/proc/self/stat").and_then(|t| Stat::parse(&t));
            let status = read("/proc/self/status");
            let kib = |key| status.as_deref().and_then(|t| status_kib(t, key));
            let boot = read("/proc/stat").and_then(|t| boot_time(&t));
            let bytes = |key| kib(key).map(|k| (k * 1024) as f64);
            let open_fds = std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count());
            let max_fds = read("/proc/self/limits").and_then(|t| max_open_files(&t));
            let started = stat.zip(boot);
            Sample {
                cpu_seconds: stat.map(|s| (s.utime + s.stime) as f64 / USER_HZ),
                gauges: [
                    bytes("VmRSS:"),
                    bytes("VmSize:"),
                    open_fds.map(|n| n as f64),
                    max_fds.map(|n| n as f64),
                    started.map(|(s, b)| b as f64 + s.starttime as f64 / USER_HZ),
                ],
            }
        }
    }

    /// The fields of `/proc/<pid>/stat` used here (proc(5)), in clock ticks.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Stat {
        pub utime: u64,
        pub stime: u64,
        /// Time the process started after system boot.
        pub starttime: u64,
    }

    impl Stat {
        pub fn parse(text: &str) -> Option<Stat> {
            // The command name (field 2) is in parentheses and may hold spaces and `)`: the
            // numbered fields start after the last `)`, with field 3 (state) first.
            let rest = &text[text.rfind(')')? + 1..];
            let mut fields = rest.split_ascii_whitespace();
            let mut field = |n: usize| -> Option<u64> {
                // `nth` consumes: each call counts on from the previous field read.
                fields.nth(n).and_then(|f| f.parse().ok())
            };
            let utime = field(14 - 3)?;
            let stime = field(0)?;
            let starttime = field(22 - 15 - 1)?;
            Some(Stat {
                utime,
                stime,
                starttime,
            })
        }
    }

    /// A `Key:   1234 kB` line of `/proc/<pid>/status`, in KiB.
    pub fn status_kib(text: &str, key: &str) -> Option<u64> {
        let line = text.lines().find_map(|l| l.strip_prefix(key))?;
        let mut parts = line.split_ascii_whitespace();
        let value = parts.next()?.parse().ok()?;
        (parts.next() == Some("kB")).then_some(value)
    }

    /// `btime`, the boot time in seconds since the Unix epoch, from `/proc/stat`.
    pub fn boot_time(text: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The soft limit of `Max open files` in `/proc/<pid>/limits`; `unlimited` as `u64::MAX`.
    pub fn max_open_files(text: &str) -> Option<u64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("Max open files"))?;
        match line.split_ascii_whitespace().next()? {
            "unlimited" => Some(u64::MAX),
            soft => soft.parse().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::process::{boot_time, max_open_files, status_kib, Sample, Stat};
    use super::*;

    #[test]
    fn stat_fields_are_found_after_the_command_name() {
        // A command name with spaces and a `)` inside, as a process may name itself.
        let text = "29453 (my (cmd) x) R 29445 29445 10224 0 -1 4194304 99 0 0 0 1234 56 0 0 20 0 1 0 77516 3133440 379 18446744073709551615 0 0\n";
        assert_eq!(
            Stat::parse(text),
            Some(Stat {
                utime: 1234,
                stime: 56,
                starttime: 77516
            })
        );
        assert_eq!(Stat::parse("29453 (cmd) R 1 2"), None);
        assert_eq!(Stat::parse("garbage"), None);
    }

    #[test]
    fn status_limits_and_boot_time_are_parsed() {
        let status =
            "Name:\tgatehouse\nVmPeak:\t  20000 kB\nVmSize:\t   18000 kB\nVmRSS:\t    5120 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(5120));
        assert_eq!(status_kib(status, "VmSize:"), Some(18000));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        assert_eq!(status_kib("VmRSS:\t12 pages\n", "VmRSS:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 1048576              files     \n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            max_open_files(
                "Max open files            unlimited            unlimited            files\n"
            ),
            Some(u64::MAX)
        );
        assert_eq!(max_open_files("Max processes 10 10\n"), None);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1796611603\nprocesses 9\n"),
            Some(1796611603)
        );
        assert_eq!(boot_time("cpu  1 2 3\n"), None);
    }

    #[test]
    fn figures_that_cannot_be_read_are_absent() {
        let sample = Sample::read(|_| None);
        assert_eq!(sample.cpu_seconds, None);
        assert_eq!(sample.gauges[0], None);
        assert_eq!(sample.gauges[4], None);
        let text = Metrics::new().render();
        assert!(text.contains("gatehouse_build_info{version=\""), "{text}");
    }

    #[test]
    fn every_rule_that_labels_a_request_exists_from_start() {
        use destination::net::AddressClass;
        use lists::CategoryId;
        use policy::Rule;
        let every = [
            Rule::TierOpen,
            Rule::TierNone,
            Rule::GlobalDeny(CategoryId(0)),
            Rule::FilteredAllow(CategoryId(0)),
            Rule::FilteredDefault,
            Rule::IntranetZone,
            Rule::IntranetNetwork,
            Rule::IntranetDefault,
            Rule::ConnectPort,
            Rule::Address(AddressClass::Loopback),
            Rule::OwnSocket,
            Rule::NetworkAllowed,
            Rule::GlobalAddress,
            Rule::PrincipalDisabled,
            Rule::UnregisteredTerminal,
            Rule::LocationClosed,
            Rule::Undecidable("gatehouse could not decide".into()),
            Rule::Custom(std::sync::Arc::new(policy::RuleMeta {
                id: "reading-room".into(),
                effect: policy::Effect::Permit,
                reason: None,
                tier: None,
                file: "rules.cedar".into(),
                line: 1,
            })),
            Rule::Grant(7),
        ];
        for rule in every {
            // Exhaustive on purpose: a new rule does not compile here until it is placed.
            let labels_requests = match &rule {
                Rule::NetworkAllowed | Rule::GlobalAddress => false,
                Rule::TierOpen
                | Rule::TierNone
                | Rule::GlobalDeny(_)
                | Rule::FilteredAllow(_)
                | Rule::FilteredDefault
                | Rule::IntranetZone
                | Rule::IntranetNetwork
                | Rule::IntranetDefault
                | Rule::ConnectPort
                | Rule::Address(_)
                | Rule::OwnSocket
                | Rule::PrincipalDisabled
                | Rule::UnregisteredTerminal
                | Rule::LocationClosed
                | Rule::Undecidable(_)
                | Rule::Custom(_)
                | Rule::Grant(_) => true,
            };
            let listed = DECISION_RULES.iter().any(|(_, r)| *r == rule.static_id());
            assert_eq!(listed, labels_requests, "{}", rule.static_id());
        }
        let text = Metrics::new().render();
        for (decision, rule) in DECISION_RULES {
            let line =
                format!("gatehouse_requests_total{{decision=\"{decision}\",rule=\"{rule}\"}} 0\n");
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }
}
