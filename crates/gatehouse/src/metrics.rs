//! Prometheus metrics, rendered as text at the admin port's `/metrics`.
//!
//! Labels have bounded cardinality: decisions are labelled with the rule's static id (never a
//! category name or a host), so a list of a million domains cannot explode the series count.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<DecisionLabels, Counter>,
    pub errors: Family<ErrorLabels, Counter>,
    pub active_connections: Gauge,
    pub connections: Counter,
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
    pub auth_verifications: Counter,
    pub auth_failures: Counter,
    pub auth_throttled: Counter,
    pub config_reloads: Family<ErrorLabels, Counter>,
    pub principals_generation: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("gatehouse");
        let requests = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests decided, by decision and rule",
            requests.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "request_errors",
            "Requests that ended in an error (malformed input, upstream failure), by stable code",
            errors.clone(),
        );
        let active_connections = Gauge::default();
        registry.register(
            "active_connections",
            "Client connections open now",
            active_connections.clone(),
        );
        let connections = Counter::default();
        registry.register(
            "connections",
            "Client connections accepted",
            connections.clone(),
        );
        let bytes = Family::<DirectionLabels, Counter>::default();
        registry.register(
            "bytes",
            "Body and tunnel bytes relayed: up = client to origin, down = origin to client",
            bytes.clone(),
        );
        // Decisions take microseconds; the buckets resolve 1 µs to 10 ms.
        let decision_seconds =
            Histogram::new([1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2]);
        registry.register(
            "decision_duration_seconds",
            "Time to categorise the canonical destination and decide (excluding parsing, authentication and DNS)",
            decision_seconds.clone(),
        );
        let net_buckets = [
            1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let upstream_connect_seconds = Histogram::new(net_buckets);
        registry.register(
            "upstream_connect_duration_seconds",
            "Time to resolve and connect to the origin",
            upstream_connect_seconds.clone(),
        );
        let upstream_response_seconds = Histogram::new(net_buckets);
        registry.register(
            "upstream_response_duration_seconds",
            "Time from sending the request head to the origin's response head",
            upstream_response_seconds.clone(),
        );
        let audit_queue_depth = Gauge::default();
        registry.register(
            "audit_queue_depth",
            "Audit events waiting for the writer",
            audit_queue_depth.clone(),
        );
        let audit_dropped = Counter::default();
        registry.register(
            "audit_dropped",
            "Audit events lost because the queue stayed full (allowed requests only with audit.on_backlog = \"drop\"; refusals in either mode)",
            audit_dropped.clone(),
        );
        let audit_lost = Counter::default();
        registry.register(
            "audit_lost",
            "Audit events lost for another reason than a full queue: requests still running when shutdown stopped waiting for them, events still queued when the shutdown flush timed out",
            audit_lost.clone(),
        );
        let audit_written = Counter::default();
        registry.register(
            "audit_written",
            "Audit events committed to the store",
            audit_written.clone(),
        );
        let audit_write_errors = Counter::default();
        registry.register(
            "audit_write_errors",
            "Failed audit batch commits",
            audit_write_errors.clone(),
        );
        let auth_verifications = Counter::default();
        registry.register(
            "auth_verifications",
            "Password verifications (argon2) performed; cached credentials are not counted",
            auth_verifications.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Requests with missing, malformed or wrong proxy credentials",
            auth_failures.clone(),
        );
        let auth_throttled = Counter::default();
        registry.register(
            "auth_throttled",
            "Requests refused without a password check because their user name or client address had too many recent failures (not counted in auth_failures)",
            auth_throttled.clone(),
        );
        let config_reloads = Family::<ErrorLabels, Counter>::default();
        // Both outcomes exist from the start, so that an alert on `invalid` has a series to watch.
        for code in ["ok", "invalid"] {
            let _ = config_reloads.get_or_create(&ErrorLabels { code });
        }
        registry.register(
            "config_reloads",
            "Configuration reloads, by outcome (`ok` or `invalid`)",
            config_reloads.clone(),
        );
        let principals_generation = Gauge::default();
        registry.register(
            "principals_generation",
            "The store's change counter as last loaded by this gateway",
            principals_generation.clone(),
        );
        let bytes_up = bytes
            .get_or_create(&DirectionLabels { direction: "up" })
            .clone();
        let bytes_down = bytes
            .get_or_create(&DirectionLabels { direction: "down" })
            .clone();
        Metrics {
            registry,
            requests,
            errors,
            active_connections,
            connections,
            bytes,
            bytes_up,
            bytes_down,
            decision_seconds,
            upstream_connect_seconds,
            upstream_response_seconds,
            audit_queue_depth,
            audit_dropped,
            audit_lost,
            audit_written,
            audit_write_errors,
            auth_verifications,
            auth_failures,
            auth_throttled,
            config_reloads,
            principals_generation,
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
