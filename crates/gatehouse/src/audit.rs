//! The audit trail's write side: one [`AuditEvent`] per request, queued without blocking the request
//! path and committed in batches by one writer thread.
//!
//! Guarantees:
//! - an allowed request is never forwarded unrecorded: before forwarding, the request reserves a slot
//!   in the bounded queue ([`Audit::reserve`]); the slot is filled when the request ends. When no slot
//!   frees up within `audit.backlog_wait_ms`, the request is refused with 503 ("audit backlog"), unless
//!   `audit.on_backlog = "drop"`, in which case it goes through and the lost event is counted;
//! - the writer commits what is queued as one transaction, gathering for at most 10 ms after the
//!   first event (so batches grow under load and a commit happens well within 250 ms of an event
//!   being queued);
//! - [`Audit::flush`] returns once everything queued before it is committed (clean shutdown), or
//!   after 30 s, logging and counting in `gatehouse_audit_lost_total` what is still queued;
//!   [`Audit::close`] also signs a final checkpoint;
//! - each event's leaf in the verifiable log is appended in the events' own transaction (by the
//!   store), and checkpoints are signed by this thread, never on the request path
//!   ([`crate::checkpoints::Checkpointer`]: after a commit when due, when idle with an unsigned
//!   tail whose interval has passed, and at [`Audit::close`]);
//! - a batch the store refuses (locked, full, read-only) is kept and committed again with growing
//!   pauses (200 ms doubling to 5 s), while the writer takes nothing new from the queue: the queue
//!   fills, requests are refused with 503, and `gatehouse_audit_store_failing` is 1 until the
//!   batch is in. Nothing is dropped, except with `audit.on_backlog = "drop"`, where a batch
//!   that failed twice is logged, counted in `gatehouse_audit_write_errors_total` and given up,
//!   its events counted in `gatehouse_audit_lost_total`.
//!
//! The writer also writes Squid's native access.log line for each event when configured.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::checkpoints::{Checkpointer, LogHealth, LogWriterStore};
use crate::codes::{ErrorCode, EventDecision};
use crate::config::{AuditSettings, OnBacklog};
use crate::metrics::Metrics;
use crate::store::{AuditRow, LogStore};

/// How far a request got; recorded with every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The request head was malformed.
    Parse,
    /// The destination could not be understood.
    Destination,
    /// Authentication was missing or failed.
    Authenticate,
    /// The policy decided (a refusal ends here).
    Decide,
    /// Name resolution or the address check.
    Resolve,
    /// Connecting to the origin.
    Connect,
    /// Forwarding or tunnelling.
    Forward,
    /// The gateway answered itself as the last hop (OPTIONS or TRACE with `Max-Forwards: 0`);
    /// nothing was connected to.
    Answered,
    /// The exchange completed.
    Done,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Destination => "destination",
            Stage::Authenticate => "authenticate",
            Stage::Decide => "decide",
            Stage::Resolve => "resolve",
            Stage::Connect => "connect",
            Stage::Forward => "forward",
            Stage::Answered => "answered",
            Stage::Done => "done",
        }
    }
}

/// One request's record. Built by the proxy, converted by hand into the stored row.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// When the request head was complete, in microseconds since the Unix epoch.
    pub ts_us: i64,
    pub principal: Option<Arc<str>>,
    /// The user name a failed proxy authentication tried (printable, bounded: see
    /// [`printable_name`]); `None` when authentication succeeded or named nobody.
    pub tried_principal: Option<Box<str>>,
    pub client: SocketAddr,
    pub method: String,
    /// The canonical destination, `host:port`.
    pub destination: String,
    /// The full URL for plain HTTP requests.
    pub url: Option<String>,
    pub decision: EventDecision,
    pub rule: String,
    pub status: u16,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Everything written to the client: `bytes_down` plus response heads and gatehouse's own
    /// pages (Squid's reply size; not stored in the audit table).
    pub reply_bytes: u64,
    pub duration_us: u64,
    pub stage: Stage,
    /// A stable error code when the request failed.
    pub error: Option<ErrorCode>,
    /// The origin address connected to, once a connection was made (for the Squid log's
    /// hierarchy field); `None` when nothing was reached, a failed connect included.
    pub origin: Option<SocketAddr>,
    /// The media type of the reply (`text/html`), as Squid logs it: the `Content-Type` value up
    /// to its parameters. `None` when the reply had none (tunnels, bodiless answers). Not stored
    /// in the audit table.
    pub content_type: Option<Box<str>>,
    /// What the decision depended on beyond principal and destination (empty until it was made).
    pub context: EventContext,
}

/// The facts a decision was made on, recorded so that `gatehouse policy replay` can decide the
/// request again under another configuration.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    pub terminal: Option<Arc<str>>,
    pub location: Option<Arc<str>>,
    pub session_id: Option<i64>,
    /// The principal's groups, comma-separated and sorted.
    pub groups: Option<Arc<str>>,
    pub tier: Option<&'static str>,
    pub role: Option<&'static str>,
    /// The version of the configuration in force (a hash of its files).
    pub policy_version: Option<Arc<str>>,
    /// The rule that refused the request once it was relaying (a reload, the location closing,
    /// the session ending): the connection was closed with the error `revoked`.
    pub revoked_by: Option<String>,
    /// The access grant that allowed the request.
    pub grant_id: Option<i64>,
}

/// The Squid log's *type* field for a `Content-Type` value: the media type without parameters
/// (Squid cuts at `;`, space or tab). `None` for an empty value or one with bytes that would break
/// the log's space-separated fields.
pub fn squid_content_type(value: &[u8]) -> Option<Box<str>> {
    let value = value.trim_ascii_start();
    let end = value
        .iter()
        .position(|&b| matches!(b, b';' | b' ' | b'\t'))
        .unwrap_or(value.len());
    let media = &value[..end];
    if media.is_empty() || media.len() > 128 || !media.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    std::str::from_utf8(media).ok().map(Into::into)
}

/// The longest tried user name recorded, in characters.
const TRIED_NAME_MAX: usize = 64;

/// A user name a client tried, as recorded: control characters (which would forge lines in a
/// terminal or a log) and the invisible characters that reorder or hide text (bidirectional
/// overrides, zero-width characters) become `?`, and a name longer than 64 characters is cut and
/// marked with `…`.
pub fn printable_name(name: &str) -> Box<str> {
    let mut out: String = name
        .chars()
        .take(TRIED_NAME_MAX)
        .map(|c| if hides_text(c) { '?' } else { c })
        .collect();
    if name.chars().nth(TRIED_NAME_MAX).is_some() {
        out.push('…');
    }
    out.into()
}

/// Whether `c` would change how the text around it reads without being seen: a control
/// character, a bidirectional embedding, override or isolate, a zero-width or invisible character,
/// a line or paragraph separator.
fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

impl AuditEvent {
    fn to_row(&self) -> AuditRow {
        AuditRow {
            id: 0,
            ts_us: self.ts_us,
            principal: self.principal.as_deref().map(str::to_string),
            tried_principal: self.tried_principal.as_deref().map(str::to_string),
            client: self.client.to_string(),
            method: self.method.clone(),
            destination: self.destination.clone(),
            url: self.url.clone(),
            decision: self.decision.as_str().to_string(),
            rule: self.rule.clone(),
            status: self.status,
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
            duration_us: self.duration_us,
            stage: self.stage.as_str().to_string(),
            error: self.error.map(|e| e.as_str().to_string()),
            terminal: self.context.terminal.as_deref().map(str::to_string),
            location: self.context.location.as_deref().map(str::to_string),
            session_id: self.context.session_id,
            groups: self.context.groups.as_deref().map(str::to_string),
            tier: self.context.tier.map(str::to_string),
            policy_version: self.context.policy_version.as_deref().map(str::to_string),
            revoked_by: self.context.revoked_by.clone(),
            role: self.context.role.map(str::to_string),
            grant_id: self.context.grant_id,
        }
    }

    /// Squid's native access.log format:
    /// `time elapsed client code/status bytes method URL user hierarchy/peer type`.
    pub fn squid_line(&self) -> String {
        let end_us = self.ts_us + self.duration_us as i64;
        // Squid's tags (its `LogTags::c_str`): a request that never became a proxy request is
        // `NONE_NONE`, tag and source both unset. A head that did not parse has method `NONE`
        // and URL `error:invalid-request` (`abortRequestParsing`); a parsed head whose target is
        // not a proxy request (`GET /`, `OPTIONS *`, a target that does not parse, a body broken
        // before anything was forwarded: all refused at the destination stage) keeps its
        // method and target as received (`ERR_INVALID_URL`, `setLogUriToRawUri`). `_ABORTED`
        // marks a transfer that ended in an error (client gone, origin failed, cut at shutdown).
        let unparsed = self.stage == Stage::Parse;
        let invalid =
            unparsed || (self.stage == Stage::Destination && self.decision == EventDecision::Error);
        let code = match (self.decision, self.method.as_str()) {
            _ if invalid => "NONE_NONE",
            (EventDecision::Deny, _) => "TCP_DENIED",
            (EventDecision::Error, _) => "TCP_MISS_ABORTED",
            (_, "CONNECT") if self.error.is_some() => "TCP_TUNNEL_ABORTED",
            (_, "CONNECT") => "TCP_TUNNEL",
            _ if self.error.is_some() => "TCP_MISS_ABORTED",
            _ => "TCP_MISS",
        };
        let (method, url) = if unparsed {
            ("NONE", "error:invalid-request")
        } else {
            (
                self.method.as_str(),
                self.url.as_deref().unwrap_or(&self.destination),
            )
        };
        let user = self.principal.as_deref().unwrap_or("-");
        // `HIER_DIRECT/<ip>` names the origin gatehouse connected to; a request refused, invalid
        // or whose connect failed reached none (`origin` is set only once connected).
        let hier = match self.origin {
            Some(a) if !invalid && self.decision != EventDecision::Deny => {
                format!("HIER_DIRECT/{}", a.ip())
            }
            _ => "HIER_NONE/-".to_string(),
        };
        format!(
            "{}.{:03} {:>6} {} {}/{:03} {} {} {} {} {} {}\n",
            end_us / 1_000_000,
            (end_us % 1_000_000) / 1000,
            self.duration_us / 1000,
            self.client.ip(),
            code,
            self.status,
            self.reply_bytes,
            method,
            url,
            user,
            hier,
            self.content_type.as_deref().unwrap_or("-")
        )
    }
}

enum Msg {
    Event(Box<AuditEvent>),
    /// Answer once everything queued before is committed (and, with `checkpoint`, signed).
    Flush {
        done: std::sync::mpsc::Sender<()>,
        checkpoint: bool,
    },
    /// Reopen the Squid log at its path (after log rotation moved the file away).
    Reopen,
}

/// A reserved place in the audit queue, filled when the request ends.
pub struct Slot(SlotInner);

enum SlotInner {
    Reserved(mpsc::OwnedPermit<Msg>),
    /// No place could be had and the configuration chose availability; the event will be counted lost.
    Dropped,
}

/// The queue was full for longer than the configured wait.
#[derive(Debug, thiserror::Error)]
#[error("the audit trail is backlogged")]
pub struct Backlog;

/// The audit trail's write handle, shared by every connection.
pub struct Audit {
    tx: mpsc::Sender<Msg>,
    settings: AuditSettings,
    metrics: Arc<Metrics>,
    capacity: usize,
}

impl Audit {
    /// Start the writer thread on its own store connection (any [`LogWriterStore`] backend),
    /// signing checkpoints with `log`.
    pub fn start(
        store: Box<dyn LogWriterStore>,
        settings: AuditSettings,
        squid_log: Option<PathBuf>,
        metrics: Arc<Metrics>,
        log: (Checkpointer, Arc<LogHealth>),
    ) -> std::io::Result<Audit> {
        let (tx, rx) = mpsc::channel(settings.queue_size);
        let squid = match squid_log {
            Some(path) => Some(SquidLog {
                file: open_squid_log(&path)?,
                path,
            }),
            None => None,
        };
        let writer = Writer {
            store,
            squid,
            metrics: metrics.clone(),
            log: log.0,
            health: log.1,
            on_backlog: settings.on_backlog,
            gave_up: false,
            rows: Vec::with_capacity(MAX_BATCH),
            hashes: Vec::with_capacity(MAX_BATCH),
            lines: String::new(),
            flushes: Vec::new(),
            sign_now: false,
            reopen: false,
        };
        std::thread::Builder::new()
            .name("gatehouse-audit".into())
            .spawn(move || writer.run(rx))?;
        Ok(Audit {
            tx,
            capacity: settings.queue_size,
            settings,
            metrics,
        })
    }

    /// Reserve a place for the event of a request about to be forwarded.
    pub async fn reserve(&self) -> Result<Slot, Backlog> {
        if let Ok(p) = self.tx.clone().try_reserve_owned() {
            return Ok(Slot(SlotInner::Reserved(p)));
        }
        let waited =
            tokio::time::timeout(self.settings.backlog_wait, self.tx.clone().reserve_owned()).await;
        match waited {
            Ok(Ok(p)) => Ok(Slot(SlotInner::Reserved(p))),
            _ => match self.settings.on_backlog {
                OnBacklog::Refuse => Err(Backlog),
                OnBacklog::Drop => Ok(Slot(SlotInner::Dropped)),
            },
        }
    }

    /// Fill a reserved place.
    pub fn commit(&self, slot: Slot, event: AuditEvent) {
        match slot.0 {
            SlotInner::Reserved(permit) => {
                permit.send(Msg::Event(Box::new(event)));
            }
            SlotInner::Dropped => {
                self.metrics.audit_dropped.inc();
            }
        }
    }

    /// Record an event that needed no reservation (refusals and errors): waits briefly for room
    /// and counts the event as dropped if none frees up.
    pub async fn record(&self, event: AuditEvent) {
        let wait = self.settings.backlog_wait;
        match tokio::time::timeout(wait, self.tx.reserve()).await {
            Ok(Ok(permit)) => permit.send(Msg::Event(Box::new(event))),
            _ => {
                self.metrics.audit_dropped.inc();
            }
        }
    }

    /// Reopen the Squid log at its configured path, after the events queued before this call
    /// (SIGHUP; `logrotate` moves the file away, then signals).
    pub async fn reopen_squid_log(&self) {
        if self.tx.send(Msg::Reopen).await.is_err() {
            tracing::error!("the audit writer is gone; cannot reopen the squid access log");
        }
    }

    /// Wait until every event queued before this call is committed, at most 30 s. Returns whether
    /// it was; if not, the events still queued are logged and counted as lost, because the process
    /// is about to exit without them.
    pub async fn flush(&self) -> bool {
        self.flush_and(false).await
    }

    /// [`Audit::flush`], then sign a checkpoint of everything committed: the end of a clean
    /// shutdown, so that a clean stop never leaves an unsigned tail.
    pub async fn close(&self) -> bool {
        self.flush_and(true).await
    }

    async fn flush_and(&self, checkpoint: bool) -> bool {
        let (done, done_rx) = std::sync::mpsc::channel();
        let flushed = match self.tx.send(Msg::Flush { done, checkpoint }).await {
            Ok(()) => matches!(
                tokio::task::spawn_blocking(move || {
                    done_rx.recv_timeout(Duration::from_secs(30))
                })
                .await,
                Ok(Ok(()))
            ),
            // The writer thread is gone.
            Err(_) => false,
        };
        if !flushed {
            let pending = self.depth();
            self.metrics.audit_lost.inc_by(pending as u64);
            tracing::error!(
                events = pending,
                "the audit writer did not confirm the flush; queued events may be lost"
            );
        }
        flushed
    }

    /// Events waiting for the writer.
    pub fn depth(&self) -> usize {
        self.capacity.saturating_sub(self.tx.capacity())
    }
}

/// The Squid-format log: its file, and the path it is reopened at.
struct SquidLog {
    path: PathBuf,
    file: std::fs::File,
}

/// Open (creating it readable by its owner only: it names people and what they visited) for appending.
fn open_squid_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The writer thread's state: its store connection, the batch being committed, the Squid log,
/// and the log's [`Checkpointer`].
struct Writer {
    store: Box<dyn LogWriterStore>,
    squid: Option<SquidLog>,
    metrics: Arc<Metrics>,
    log: Checkpointer,
    health: Arc<LogHealth>,
    on_backlog: OnBacklog,
    /// A batch was given up (`on_backlog = "drop"`) and no commit has succeeded since: the store
    /// still shows as failing until one does.
    gave_up: bool,
    rows: Vec<AuditRow>,
    /// The leaf hashes of `rows`, computed once per batch.
    hashes: Vec<auditlog::Hash>,
    lines: String,
    flushes: Vec<std::sync::mpsc::Sender<()>>,
    /// A flush asked for a checkpoint of everything committed (clean shutdown).
    sign_now: bool,
    reopen: bool,
}

/// The most events committed in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the writer gathers more events after the first of a batch.
const GATHER: Duration = Duration::from_millis(10);
/// The first pause before a failed batch is committed again; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        // The writer waits for events with a timeout (to sign an idle tail on time): a small
        // runtime of its own gives it tokio's timer without blocking a worker of the gateway's.
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "the audit writer cannot start its timer");
                return;
            }
        };
        loop {
            let first = match self.log.idle_wait() {
                None => rt.block_on(rx.recv()),
                // The timer is made inside the runtime (it registers with its driver).
                Some(wait) => {
                    match rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                        Ok(msg) => msg,
                        Err(_) => {
                            self.checkpoint();
                            continue;
                        }
                    }
                }
            };
            let Some(first) = first else {
                return;
            };
            self.gather(first, &mut rx);
            self.commit();
            self.write_squid();
            self.checkpoint();
            for done in self.flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }

    /// Take `first` and what follows it into the batch: everything queued, and what arrives
    /// within [`GATHER`] after it.
    fn gather(&mut self, first: Msg, rx: &mut mpsc::Receiver<Msg>) {
        let mut next = Some(first);
        let mut gathered_once = false;
        loop {
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Event(ev) => {
                        self.rows.push(ev.to_row());
                        if self.squid.is_some() {
                            self.lines.push_str(&ev.squid_line());
                        }
                    }
                    Msg::Flush { done, checkpoint } => {
                        self.flushes.push(done);
                        self.sign_now |= checkpoint;
                    }
                    Msg::Reopen => self.reopen = true,
                }
                // Events queued after a reopen request belong in the new file: the batch ends here.
                if self.rows.len() < MAX_BATCH && !self.reopen {
                    next = rx.try_recv().ok();
                }
            }
            // Under load, committing whatever is there at once means a transaction (and its
            // locks and WAL writes) per request. Gathering for a moment makes batches of hundreds
            // while still committing far within the 250 ms promise; a flush does not wait.
            if gathered_once
                || !self.flushes.is_empty()
                || self.reopen
                || self.rows.len() >= MAX_BATCH
            {
                return;
            }
            gathered_once = true;
            std::thread::sleep(GATHER);
            next = rx.try_recv().ok();
            if next.is_none() {
                return;
            }
        }
    }

    /// Commit the batch with its leaves. A batch the store refuses is kept and tried again with
    /// growing pauses, receiving nothing meanwhile, so that the queue fills and requests are
    /// refused rather than forwarded unrecorded; only with `on_backlog = "drop"` is it given up
    /// after one retry.
    fn commit(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        // Hashed before the write lock is taken (other writers wait less), once however often
        // the batch is tried, and kept for the checkpointer's tree.
        self.hashes
            .extend(self.rows.iter().map(crate::store::event_leaf));
        let mut pause = RETRY_FIRST;
        let mut failures = 0u32;
        loop {
            match self.store.append_hashed(&self.rows, &self.hashes) {
                Ok(first) => {
                    self.metrics.audit_written.inc_by(self.rows.len() as u64);
                    self.log.committed(self.store.as_ref(), first, &self.hashes);
                    if failures > 0 || std::mem::take(&mut self.gave_up) {
                        self.health.set_store_failing(false);
                        tracing::info!(
                            events = self.rows.len(),
                            failures,
                            "the audit store accepts events again; the kept batch is committed"
                        );
                    }
                    break;
                }
                Err(e) => {
                    failures += 1;
                    self.metrics.audit_write_errors.inc();
                    self.health.set_store_failing(true);
                    let drop = self.on_backlog == OnBacklog::Drop && failures >= 2;
                    // Logged the first time and then every tenth: a store down for hours must not
                    // flood the log.
                    if drop || failures % 10 == 1 {
                        tracing::error!(
                            error = %e,
                            events = self.rows.len(),
                            failures,
                            "cannot commit audit events; {}",
                            if drop { "dropped (audit.on_backlog = \"drop\")" } else { "kept, retrying" }
                        );
                    }
                    if drop {
                        // Given up: these events are lost, and the count says how many.
                        self.metrics.audit_lost.inc_by(self.rows.len() as u64);
                        self.gave_up = true;
                        break;
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
        self.rows.clear();
        self.hashes.clear();
    }

    /// Write the batch's Squid lines, then reopen the file when asked.
    fn write_squid(&mut self) {
        if let Some(log) = self.squid.as_mut() {
            if !self.lines.is_empty() {
                if let Err(e) = log.file.write_all(self.lines.as_bytes()) {
                    tracing::error!(error = %e, "cannot write the squid access log");
                }
                self.lines.clear();
            }
            if self.reopen {
                // Lines before the signal went to the old file, lines after it go to the new one.
                match open_squid_log(&log.path) {
                    Ok(file) => log.file = file,
                    Err(e) => tracing::error!(
                        error = %e,
                        path = %log.path.display(),
                        "cannot reopen the squid access log; still writing to the old file"
                    ),
                }
            }
        }
        self.reopen = false;
    }

    /// Sign a checkpoint when one is due, or asked for.
    fn checkpoint(&mut self) {
        if self.sign_now || self.log.due() {
            let store: &mut dyn LogStore = self.store.as_mut();
            self.log.sign(store);
        }
        self.sign_now = false;
    }
}

#[cfg(test)]
mod tests {
    use super::{printable_name, squid_content_type};

    #[test]
    fn a_tried_name_is_recorded_printable_and_bounded() {
        assert_eq!(&*printable_name("ada"), "ada");
        assert_eq!(&*printable_name("a\x1b[2Jb\nc"), "a?[2Jb?c");
        assert_eq!(&*printable_name("\u{202E}live\u{200B}"), "?live?");
        let long = "é".repeat(500);
        let kept = printable_name(&long);
        assert_eq!(kept.chars().count(), 65);
        assert!(kept.ends_with('…'));
    }

    #[test]
    fn squid_type_is_the_media_type_without_parameters() {
        let t = |v: &[u8]| squid_content_type(v).map(|s| s.to_string());
        assert_eq!(t(b"text/html; charset=utf-8").as_deref(), Some("text/html"));
        assert_eq!(
            t(b"  application/json").as_deref(),
            Some("application/json")
        );
        assert_eq!(t(b"text/plain\tcharset=x").as_deref(), Some("text/plain"));
        assert_eq!(t(b"image/png ;q").as_deref(), Some("image/png"));
        // Nothing that would break the log's fields, and nothing empty.
        assert_eq!(t(b""), None);
        assert_eq!(t(b"; charset=utf-8"), None);
        assert_eq!(t(b"text/\x01html"), None);
        assert_eq!(t("text/h\u{e9}ml".as_bytes()), None);
        assert_eq!(t(&[b'a'; 200]), None);
    }
}
