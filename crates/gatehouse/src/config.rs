//! Configuration in two stages: the raw TOML tree (`serde`, unknown keys refused, spans kept) and the
//! validated runtime form ([`Config`]) that the rest of the server uses.
//!
//! Every error names the file, line, column and key, and all errors of a file are reported at once.
//! Configurations can be read from memory (`Config::from_toml`) so tests build them without files.
//! Every default is written in `docs/configuration.md` next to the key that changes it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use destination::net::{parse_net, NetSet};
use destination::{DomainName, Host};
use lists::{Format, Lists, ListsBuilder, LoadStats};
use policy::{Policy, Tier};
use serde::Deserialize;
use toml::Spanned;

/// The configuration compiled into the binary: what `gatehouse serve` runs without `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");
pub const DEFAULT_CONFIG_NAME: &str = "<built-in gatehouse.toml>";

// ---------------------------------------------------------------------------------------------
// Stage one: the raw tree.

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    proxy: RawProxy,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    lists: BTreeMap<String, Spanned<RawList>>,
    #[serde(default)]
    tiers: RawTiers,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProxy {
    listen: Option<Spanned<String>>,
    via: Option<Spanned<String>>,
    contact: Option<Spanned<String>>,
    x_forwarded_for: Option<bool>,
    connect_ports: Option<Vec<u16>>,
    max_connections: Option<usize>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    tunnel_idle_timeout_secs: Option<u64>,
    tunnel_half_close_timeout_secs: Option<u64>,
    upstream_connect_timeout_secs: Option<u64>,
    upstream_response_timeout_secs: Option<u64>,
    max_head_bytes: Option<usize>,
    max_headers: Option<usize>,
    max_uri_bytes: Option<usize>,
    shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    queue_size: Option<usize>,
    on_backlog: Option<Spanned<String>>,
    backlog_wait_ms: Option<u64>,
    squid_log: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDns {
    #[serde(default)]
    hosts: BTreeMap<String, Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    deny: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    format: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    #[serde(default)]
    lenient: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTiers {
    #[serde(default)]
    filtered: RawFiltered,
    #[serde(default)]
    intranet: RawIntranet,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFiltered {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIntranet {
    #[serde(default)]
    zones: Vec<Spanned<String>>,
    #[serde(default)]
    networks: Vec<Spanned<String>>,
}

// ---------------------------------------------------------------------------------------------
// Stage two: the runtime form.

/// What to do when the audit writer cannot keep up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBacklog {
    /// Refuse the request with 503 ("audit backlog"): nothing goes through unrecorded.
    Refuse,
    /// Let the request through and count the lost event.
    Drop,
}

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub listen: SocketAddr,
    pub via: String,
    /// Who to ask for access, named on refusal pages.
    pub contact: String,
    pub x_forwarded_for: bool,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub tunnel_idle_timeout: Duration,
    /// How long a tunnel stays open for one direction after the other has ended.
    pub tunnel_half_close_timeout: Duration,
    pub upstream_connect_timeout: Duration,
    pub upstream_response_timeout: Duration,
    pub limits: http1::Limits,
    pub shutdown_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub queue_size: usize,
    pub on_backlog: OnBacklog,
    pub backlog_wait: Duration,
    /// Where to write Squid's native access.log lines, if anywhere (relative to the data directory).
    pub squid_log: Option<PathBuf>,
}

/// The validated configuration. Listener addresses and audit settings are read at start; the rest
/// (policy, lists, DNS table, limits) is swapped whole on reload.
#[derive(Clone)]
pub struct Config {
    pub source: String,
    pub proxy: ProxySettings,
    pub admin_listen: SocketAddr,
    pub audit: AuditSettings,
    pub dns_hosts: Arc<BTreeMap<DomainName, Vec<IpAddr>>>,
    pub lists: Arc<Lists>,
    /// The policy without the gateway's own sockets (those are known only once listeners are bound).
    pub policy: Policy,
    /// What each list file loaded, and what it skipped (shown by `check-config`, logged by `serve`).
    pub list_loads: Vec<ListLoad>,
}

impl ListLoad {
    /// One line, e.g. ``list `ads`: 1200 domains from `/etc/ads.txt`, 14 entries skipped (…)``.
    pub fn summary(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut line = format!(
            "list `{}`: {} from `{}`",
            self.category,
            plural(self.stats.domains, "domain", "domains"),
            self.path.display()
        );
        if self.stats.skipped > 0 {
            line.push_str(&format!(
                ", {} skipped (IP addresses, AdBlock rules other than `||domain^`, local names)",
                plural(self.stats.skipped, "entry", "entries")
            ));
            if self.stats.invalid > 0 {
                line.push_str(&format!(
                    ", {} of them invalid (lenient)",
                    self.stats.invalid
                ));
            }
        }
        line
    }
}

/// What one list file (or UT1 category file) contributed.
#[derive(Debug, Clone)]
pub struct ListLoad {
    /// The category (for UT1 folders `<list>/<category>`).
    pub category: String,
    pub path: PathBuf,
    pub stats: LoadStats,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("source", &self.source)
            .field("proxy", &self.proxy)
            .field("admin_listen", &self.admin_listen)
            .field("lists", &self.lists.len())
            .finish_non_exhaustive()
    }
}

/// One problem in a configuration file, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: key `{}`: {}",
            self.file, self.line, self.column, self.key, self.message
        )
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Read and validate a configuration file. Relative list paths are relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![Problem {
                file: name.clone(),
                line: 0,
                column: 0,
                key: "-".into(),
                message: format!("cannot read the file: {e}"),
            }],
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Config::from_toml(&text, &name, &base)
    }

    /// The built-in configuration.
    pub fn builtin() -> Result<Config, ConfigError> {
        Config::from_toml(DEFAULT_CONFIG, DEFAULT_CONFIG_NAME, Path::new("."))
    }

    /// Validate a configuration held in memory. `name` is used in error messages; `base` resolves
    /// relative list paths.
    pub fn from_toml(text: &str, name: &str, base: &Path) -> Result<Config, ConfigError> {
        let loc = Locator { text, file: name };
        let raw: Raw = toml::from_str(text).map_err(|e| ConfigError {
            problems: vec![loc.toml_problem(&e)],
        })?;
        let mut v = Validator {
            loc,
            problems: Vec::new(),
            list_loads: Vec::new(),
        };
        let config = v.validate(raw, base);
        match config {
            Some(c) if v.problems.is_empty() => Ok(c),
            _ => Err(ConfigError {
                problems: v.problems,
            }),
        }
    }
}

struct Locator<'a> {
    text: &'a str,
    file: &'a str,
}

impl Locator<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
        (line, column)
    }

    fn problem(&self, span: std::ops::Range<usize>, key: &str, message: String) -> Problem {
        let (line, column) = self.line_col(span.start);
        Problem {
            file: self.file.to_string(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }

    /// The dotted key at a byte offset: the `[table]` header and the `key =` whose value holds
    /// the offset, found by a light scan that tracks brackets and strings, so that an error on
    /// the fourth line of a multi-line array still names the array's key.
    fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let mut table: Option<String> = None;
        let mut key = String::new();
        let mut depth = 0usize;
        // Inside a multi-line string (`"""` or `'''`), lines are text, not keys or brackets.
        let mut multiline: Option<&str> = None;
        for line in self.text[..end].split('\n') {
            if let Some(delim) = multiline {
                if line.contains(delim) {
                    multiline = None;
                }
                continue;
            }
            multiline = ["\"\"\"", "'''"]
                .into_iter()
                .find(|d| line.matches(d).count() % 2 == 1);
            let trimmed = line.trim();
            if depth == 0 {
                if trimmed.starts_with('[') {
                    let name = trimmed.split('#').next().unwrap_or("").trim();
                    table = Some(
                        name.trim_matches(|c| c == '[' || c == ']')
                            .trim()
                            .to_string(),
                    );
                    key.clear();
                } else if let Some((k, _)) = trimmed.split_once('=') {
                    key = k.trim().trim_matches('"').to_string();
                }
            }
            depth = bracket_depth(line, depth, trimmed.starts_with('[') && depth == 0);
        }
        match table {
            Some(t) if !key.is_empty() => format!("{t}.{key}"),
            Some(t) => t,
            None => key,
        }
    }

    fn toml_problem(&self, e: &toml::de::Error) -> Problem {
        let span = e.span().unwrap_or(0..0);
        let key = self.key_at(span.start);
        let message = plain_message(&e.message().trim().replace('\n', " "));
        self.problem(span, if key.is_empty() { "-" } else { &key }, message)
    }
}

/// serde's wording in the words of this reference: Rust type names become the values they
/// stand for, and quoted input goes in backticks like every other message.
fn plain_message(message: &str) -> String {
    const TYPES: [(&str, &str); 7] = [
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected u64", "expected a whole number, 0 or more"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in TYPES {
        if let Some(head) = out.strip_suffix(rust) {
            out = format!("{head}{plain}");
        }
    }
    // `invalid type: string "lots", expected …` → `invalid type: string `lots`, expected …`
    if let Some(start) = out.find("string \"") {
        let open = start + "string ".len();
        if let Some(len) = out[open + 1..].find('"') {
            let close = open + 1 + len;
            out.replace_range(close..=close, "`");
            out.replace_range(open..=open, "`");
        }
    }
    out
}

/// The bracket depth (`[`/`{` open, `]`/`}` close) after `line`, outside strings and comments.
/// A `[table]` header line opens and closes its own brackets.
fn bracket_depth(line: &str, mut depth: usize, header: bool) -> usize {
    if header {
        return depth;
    }
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' => break,
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    depth
}

struct Validator<'a> {
    loc: Locator<'a>,
    problems: Vec<Problem>,
    list_loads: Vec<ListLoad>,
}

impl Validator<'_> {
    fn err<T>(&mut self, s: &Spanned<T>, key: &str, message: String) {
        let p = self.loc.problem(s.span(), key, message);
        self.problems.push(p);
    }

    fn socket(&mut self, s: &Option<Spanned<String>>, key: &str, default: &str) -> SocketAddr {
        let fallback: SocketAddr = default
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
        match s {
            None => fallback,
            Some(v) => match v.get_ref().parse() {
                Ok(a) => a,
                Err(_) => {
                    self.err(
                        v,
                        key,
                        format!(
                            "`{}` is not a socket address; write it as `127.0.0.1:3128` or `[::1]:3128`",
                            v.get_ref()
                        ),
                    );
                    fallback
                }
            },
        }
    }

    /// Text that ends up in response heads or pages: printable ASCII only (no CR/LF injection);
    /// `token` additionally refuses spaces (a `Via` pseudonym).
    fn header_text(
        &mut self,
        s: &Option<Spanned<String>>,
        key: &str,
        default: &str,
        token: bool,
    ) -> String {
        let Some(v) = s else {
            return default.to_string();
        };
        let text = v.get_ref();
        let ok = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_graphic() || (!token && c == ' '));
        if !ok {
            let what = if token {
                "printable ASCII without spaces"
            } else {
                "printable ASCII"
            };
            self.err(v, key, format!("`{}` must be {what}", text.escape_debug()));
            return default.to_string();
        }
        text.clone()
    }

    fn nets(&mut self, items: &[Spanned<String>], key: &str) -> NetSet {
        let mut nets = Vec::new();
        for item in items {
            match parse_net(item.get_ref()) {
                Ok(n) => nets.push(n),
                Err(e) => self.err(item, key, e.to_string()),
            }
        }
        NetSet::new(nets)
    }

    fn validate(&mut self, raw: Raw, base: &Path) -> Option<Config> {
        let p = &raw.proxy;
        let defaults = http1::Limits::default();
        let limits = http1::Limits {
            max_head_bytes: p.max_head_bytes.unwrap_or(defaults.max_head_bytes),
            max_headers: p.max_headers.unwrap_or(defaults.max_headers),
            max_uri_bytes: p.max_uri_bytes.unwrap_or(defaults.max_uri_bytes),
        };
        let proxy = ProxySettings {
            listen: self.socket(&p.listen, "proxy.listen", "127.0.0.1:3128"),
            via: self.header_text(&p.via, "proxy.via", "gatehouse", true),
            contact: self.header_text(
                &p.contact,
                "proxy.contact",
                "your gatehouse administrator",
                false,
            ),
            x_forwarded_for: p.x_forwarded_for.unwrap_or(false),
            max_connections: p.max_connections.unwrap_or(10_000).max(1),
            header_read_timeout: Duration::from_secs(p.header_read_timeout_secs.unwrap_or(10)),
            idle_timeout: Duration::from_secs(p.idle_timeout_secs.unwrap_or(60)),
            tunnel_idle_timeout: Duration::from_secs(p.tunnel_idle_timeout_secs.unwrap_or(600)),
            tunnel_half_close_timeout: Duration::from_secs(
                p.tunnel_half_close_timeout_secs.unwrap_or(30),
            ),
            upstream_connect_timeout: Duration::from_secs(
                p.upstream_connect_timeout_secs.unwrap_or(10),
            ),
            upstream_response_timeout: Duration::from_secs(
                p.upstream_response_timeout_secs.unwrap_or(60),
            ),
            limits,
            shutdown_grace: Duration::from_secs(p.shutdown_grace_secs.unwrap_or(30)),
        };
        let admin_listen = self.socket(&raw.admin.listen, "admin.listen", "127.0.0.1:9090");
        if admin_listen == proxy.listen && admin_listen.port() != 0 {
            if let Some(v) = raw.admin.listen.as_ref().or(raw.proxy.listen.as_ref()) {
                self.err(
                    v,
                    "admin.listen",
                    format!(
                        "`{admin_listen}` is also `proxy.listen`; the admin port needs an address of its own"
                    ),
                );
            }
        }

        let on_backlog = match &raw.audit.on_backlog {
            None => OnBacklog::Refuse,
            Some(s) => match s.get_ref().as_str() {
                "refuse" => OnBacklog::Refuse,
                "drop" => OnBacklog::Drop,
                other => {
                    self.err(
                        s,
                        "audit.on_backlog",
                        format!("`{other}` is not one of `refuse`, `drop`"),
                    );
                    OnBacklog::Refuse
                }
            },
        };
        let audit = AuditSettings {
            queue_size: raw.audit.queue_size.unwrap_or(65_536).max(1),
            on_backlog,
            backlog_wait: Duration::from_millis(raw.audit.backlog_wait_ms.unwrap_or(100)),
            squid_log: raw.audit.squid_log.as_ref().map(PathBuf::from),
        };

        let mut dns_hosts = BTreeMap::new();
        for (name, addrs) in &raw.dns.hosts {
            let key = format!("dns.hosts.{name}");
            let domain = match Host::parse(name) {
                Ok(Host::Domain(d)) => d,
                Ok(_) => {
                    self.err(addrs, &key, format!("`{name}` is an address, not a name"));
                    continue;
                }
                Err(e) => {
                    self.err(addrs, &key, e.to_string());
                    continue;
                }
            };
            let mut ips = Vec::new();
            if addrs.get_ref().is_empty() {
                self.err(addrs, &key, format!("`{name}` has no addresses"));
            }
            for a in addrs.get_ref() {
                match a.parse::<IpAddr>() {
                    // One form per address, as for resolver answers (`::ffff:a.b.c.d` is a.b.c.d).
                    Ok(ip) => ips.push(destination::net::canonical_ip(ip)),
                    Err(_) => self.err(addrs, &key, format!("`{a}` is not an IP address")),
                }
            }
            dns_hosts.insert(domain, ips);
        }

        let allow_networks = self.nets(&raw.network.allow, "network.allow");
        let intranet_networks = self.nets(&raw.tiers.intranet.networks, "tiers.intranet.networks");
        let mut intranet_zones = Vec::new();
        for z in &raw.tiers.intranet.zones {
            match Host::parse(z.get_ref()) {
                Ok(Host::Domain(d)) => intranet_zones.push(d),
                Ok(_) => self.err(
                    z,
                    "tiers.intranet.zones",
                    format!(
                        "`{}` is an address; put addresses in `tiers.intranet.networks`",
                        z.get_ref()
                    ),
                ),
                Err(e) => self.err(z, "tiers.intranet.zones", e.to_string()),
            }
        }

        let lists = self.lists(&raw.lists, base)?;
        let mut policy = Policy {
            connect_ports: p.connect_ports.clone().unwrap_or_else(|| vec![443]),
            allow_networks,
            intranet_zones,
            ..Policy::default()
        };
        policy.tier_networks[Tier::Intranet.index()] = intranet_networks;
        for d in &raw.policy.deny {
            match lists.category_id(d.get_ref()) {
                Some(id) => {
                    policy.global_deny.insert(id);
                }
                None => self.err(d, "policy.deny", unknown_category(d.get_ref(), &lists)),
            }
        }
        for a in &raw.tiers.filtered.allow {
            match lists.category_id(a.get_ref()) {
                Some(id) => {
                    policy.filtered_allow.insert(id);
                }
                None => self.err(
                    a,
                    "tiers.filtered.allow",
                    unknown_category(a.get_ref(), &lists),
                ),
            }
        }

        Some(Config {
            source: self.loc.file.to_string(),
            proxy,
            admin_listen,
            audit,
            dns_hosts: Arc::new(dns_hosts),
            list_loads: std::mem::take(&mut self.list_loads),
            lists: Arc::new(lists),
            policy,
        })
    }

    fn lists(&mut self, raw: &BTreeMap<String, Spanned<RawList>>, base: &Path) -> Option<Lists> {
        let mut builder = ListsBuilder::new();
        for (name, list) in raw {
            let key = format!("lists.{name}");
            let l = list.get_ref();
            let format = match &l.format {
                None => None,
                Some(f) => match f.get_ref().as_str() {
                    "hosts" => Some(ListFormat::Flat(Format::Hosts)),
                    "plain" => Some(ListFormat::Flat(Format::Plain)),
                    "adblock" => Some(ListFormat::Flat(Format::Adblock)),
                    "ut1" => Some(ListFormat::Ut1),
                    other => {
                        self.err(
                            f,
                            &format!("{key}.format"),
                            format!("`{other}` is not one of `hosts`, `plain`, `adblock`, `ut1`"),
                        );
                        continue;
                    }
                },
            };
            builder.set_lenient(l.lenient);
            match (&l.path, format) {
                (Some(path), Some(ListFormat::Ut1)) => {
                    let dir = base.join(path.get_ref());
                    match builder.add_ut1_dir(name, &dir) {
                        Ok(loaded) => {
                            for (cat, stats) in loaded {
                                self.list_loads.push(ListLoad {
                                    category: builder.category_name(cat).unwrap_or(name).to_string(),
                                    path: dir.clone(),
                                    stats,
                                });
                            }
                        }
                        Err(e) => self.err(path, &format!("{key}.path"), e.to_string()),
                    }
                }
                (Some(path), Some(ListFormat::Flat(format))) => {
                    let file = base.join(path.get_ref());
                    let result = builder
                        .category(name)
                        .and_then(|cat| builder.add_file(cat, format, &file));
                    match result {
                        Ok(stats) => self.list_loads.push(ListLoad {
                            category: name.clone(),
                            path: file,
                            stats,
                        }),
                        Err(e) => self.err(path, &format!("{key}.path"), e.to_string()),
                    }
                }
                (Some(path), None) => self.err(
                    path,
                    &format!("{key}.format"),
                    "a list with a `path` needs a `format`: one of `hosts`, `plain`, `adblock`, `ut1`"
                        .into(),
                ),
                (None, Some(_)) => self.err(
                    list,
                    &format!("{key}.path"),
                    "a list with a `format` needs a `path`".into(),
                ),
                (None, None) => {}
            }
            if !l.domains.is_empty() || l.path.is_none() {
                let cat = match builder.category(name) {
                    Ok(c) => c,
                    Err(e) => {
                        self.err(list, &key, e.to_string());
                        continue;
                    }
                };
                for d in &l.domains {
                    if let Err(e) = builder.add_domain(cat, d.get_ref()) {
                        self.err(d, &format!("{key}.domains"), e.to_string());
                    }
                }
            }
        }
        match builder.build() {
            Ok(lists) => Some(lists),
            Err(e) => {
                self.problems.push(Problem {
                    file: self.loc.file.to_string(),
                    line: 0,
                    column: 0,
                    key: "lists".into(),
                    message: e.to_string(),
                });
                None
            }
        }
    }
}

enum ListFormat {
    Flat(Format),
    Ut1,
}

fn unknown_category(name: &str, lists: &Lists) -> String {
    let known: Vec<&str> = lists.categories().map(|(_, n)| n).collect();
    if known.is_empty() {
        format!("no list or category named `{name}`; define it under `[lists.{name}]`")
    } else {
        format!(
            "no list or category named `{name}`; known: {}",
            known
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match Config::from_toml(text, "test.toml", Path::new(".")) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn builtin_config_is_valid() {
        let c = Config::builtin().unwrap();
        assert_eq!(c.proxy.listen, "127.0.0.1:3128".parse().unwrap());
        assert_eq!(c.admin_listen, "127.0.0.1:9090".parse().unwrap());
        assert!(!c.lists.is_empty());
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let p = problems("[proxy]\nlisten = \"127.0.0.1:3128\"\nlisten_port = 3\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("test.toml:3:1: key `proxy.listen_port`: unknown field `listen_port`"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn every_validation_error_is_reported_at_once() {
        let p = problems(
            "[proxy]\nlisten = \"nonsense\"\n[network]\nallow = [\"10.0.0.1/8\"]\n[policy]\ndeny = [\"nope\"]\n",
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p[0].starts_with("test.toml:2:10: key `proxy.listen`: `nonsense`"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("test.toml:4:10: key `network.allow`:"),
            "{}",
            p[1]
        );
        assert!(
            p[2].contains("key `policy.deny`: no list or category named `nope`"),
            "{}",
            p[2]
        );
    }

    #[test]
    fn an_error_inside_a_multi_line_array_names_the_array() {
        let p = problems("[lists.r]\ndomains = [\n  \"a.org\",\n  5,\n]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("test.toml:4:3: key `lists.r.domains`"),
            "{}",
            p[0]
        );
        let p = problems("[proxy]\nconnect_ports = [\n  443, # ok\n  \"x]\",\n]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("test.toml:4:3: key `proxy.connect_ports`"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn a_multi_line_string_does_not_confuse_the_key_locator() {
        let p =
            problems("[proxy]\ncontact = \"\"\"\nsee = [ the desk\n\"\"\"\nmax_headers = \"x\"\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("test.toml:5:15: key `proxy.max_headers`"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn the_admin_port_needs_its_own_address() {
        let p = problems(
            "[proxy]\nlisten = \"127.0.0.1:4000\"\n[admin]\nlisten = \"127.0.0.1:4000\"\n",
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "test.toml:4:10: key `admin.listen`: `127.0.0.1:4000` is also `proxy.listen`"
            ),
            "{}",
            p[0]
        );
        assert!(
            problems("[proxy]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n")
                .is_empty()
        );
    }

    #[test]
    fn wrong_type_is_located() {
        let p = problems("[proxy]\nmax_connections = \"many\"\n");
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0],
            "test.toml:2:19: key `proxy.max_connections`: invalid type: string `many`, expected a whole number, 0 or more"
        );
        let p = problems("[proxy]\nconnect_ports = [70000]\n");
        assert_eq!(
            p,
            ["test.toml:2:18: key `proxy.connect_ports`: invalid value: integer `70000`, expected a whole number from 0 to 65535"]
        );
    }
}
