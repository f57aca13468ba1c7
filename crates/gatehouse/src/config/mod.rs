//! Configuration in two stages: the raw TOML tree (`serde`, unknown keys refused, spans kept) and the
//! validated runtime form ([`Config`]) that the rest of the server uses.
//!
//! Every error names the file, line, column and key, and all errors of a file are reported at once.
//! Configurations can be read from memory (`Config::from_toml`) so tests build them without files.
//! Every default is written in `docs/configuration.md` next to the key that changes it.
//!
//! Each section has a file of its own that holds its raw struct and its validation into the
//! runtime form: `proxy`, `admin`, `portal`, `audit`, `accounts`, `dns`, `network`, `lists`, `tiers`,
//! `policy` (which compiles the decision's rules with `policy::Policy::compile`), `grants`
//! (`[grants]`: access requests' and grants' limits), `notify` (`[notify]`: the webhook) and `places`
//! (`[places]`, `[[locations]]`, `[[terminals]]`, `[[schedules]]`, built with
//! `places::Places::build`). This file holds
//! the whole: [`Config`], the raw tree, the entry points and the order the sections are validated
//! in. `files` reads the configuration and rule files under their size limit,
//! `problems` holds [`Problem`] and [`ConfigError`], `validator` the [`Validator`] that collects
//! problems and the checks sections share, and `locator` turns byte offsets into `line:column` and
//! key. No part imports from this file.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use ::lists::Lists;
use ::policy::Policy;
use destination::DomainName;
use serde::Deserialize;
use toml::Spanned;

mod accounts;
mod admin;
mod audit;
mod dns;
mod files;
mod grants;
mod lists;
mod locator;
mod network;
mod notify;
mod places;
mod policy;
mod portal;
mod problems;
mod proxy;
mod rules;
mod tiers;
mod validator;

pub use accounts::AccountSettings;
pub use audit::{AuditSettings, OnBacklog};
pub use files::MAX_CONFIG_BYTES;
pub use grants::{GrantSettings, Limits, ScopeLimits};
pub use lists::ListLoad;
pub use notify::{NotifySettings, Webhook, MAX_BACKOFF as MAX_NOTIFY_BACKOFF};
pub use places::summary as places_summary;
pub use portal::PortalSettings;
pub use problems::{ConfigError, Problem, MAX_PROBLEMS_SHOWN};
pub use proxy::ProxySettings;
pub use rules::RulesLoaded;
pub use validator::parse_duration;

use locator::Locator;
use validator::Validator;

/// The configuration compiled into the binary: what `gatehouse serve` runs without `--config`.
pub const DEFAULT_CONFIG: &str = include_str!("../default.toml");
pub const DEFAULT_CONFIG_NAME: &str = "<built-in gatehouse.toml>";

/// Stage one: the raw tree, one field per section; each section's file owns its raw struct.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    proxy: proxy::RawProxy,
    #[serde(default)]
    admin: admin::RawAdmin,
    #[serde(default)]
    audit: audit::RawAudit,
    #[serde(default)]
    portal: portal::RawPortal,
    #[serde(default)]
    accounts: accounts::RawAccounts,
    #[serde(default)]
    dns: dns::RawDns,
    #[serde(default)]
    network: network::RawNetwork,
    #[serde(default)]
    policy: policy::RawPolicy,
    #[serde(default)]
    lists: BTreeMap<String, Spanned<lists::RawList>>,
    #[serde(default)]
    tiers: tiers::RawTiers,
    #[serde(default)]
    rules: rules::RawRules,
    #[serde(default)]
    places: places::RawPlaces,
    #[serde(default)]
    locations: Vec<places::RawLocation>,
    #[serde(default)]
    terminals: Vec<places::RawTerminal>,
    #[serde(default)]
    schedules: Vec<places::RawSchedule>,
    #[serde(default)]
    grants: grants::RawGrants,
    #[serde(default)]
    notify: notify::RawNotify,
}

/// Stage two: the validated configuration. Listener addresses and audit settings are read at
/// start; the rest (policy, lists, DNS table, limits) is swapped whole on reload.
#[derive(Clone)]
pub struct Config {
    pub source: String,
    pub proxy: ProxySettings,
    pub admin_listen: SocketAddr,
    /// `[portal]`: the portal's listener and its sessions.
    pub portal: PortalSettings,
    pub audit: AuditSettings,
    pub accounts: AccountSettings,
    pub dns_hosts: Arc<BTreeMap<DomainName, Vec<IpAddr>>>,
    pub lists: Arc<Lists>,
    /// The policy without the gateway's own sockets (those are known only once listeners are bound).
    pub policy: Policy,
    /// What each list file loaded, and what it skipped (shown by `check-config`, logged by `serve`).
    pub list_loads: Vec<ListLoad>,
    /// Locations, terminals and schedules (`[places]`, `[[locations]]`, `[[terminals]]`,
    /// `[[schedules]]`); empty when none are configured.
    pub places: Arc<::places::Places>,
    /// The rules (`[rules] files`), with what `gatehouse policy check` needs to compile them again.
    pub rules: RulesLoaded,
    /// The policy version recorded with every decision (a hash of the configuration and rule files).
    pub version: Arc<str>,
    /// Access requests and grants (`[grants]`).
    pub grants: GrantSettings,
    /// The webhook for notifications (`[notify]`); read at start.
    pub notify: NotifySettings,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("source", &self.source)
            .field("proxy", &self.proxy)
            .field("admin_listen", &self.admin_listen)
            .field("portal", &self.portal)
            .field("lists", &self.lists.len())
            .field("locations", &self.places.locations().len())
            .field("terminals", &self.places.terminals().len())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Read and validate a configuration file. Relative list paths are relative to the file's folder.
    /// A file larger than [`MAX_CONFIG_BYTES`] is refused before it is read.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        // The size is checked before a byte is read: a file of junk costs a `stat`.
        let text = files::read_text(path).map_err(|reason| ConfigError {
            problems: vec![Problem::unplaced(format!("cannot read {name}: {reason}"))],
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
        };
        let config = validate(&mut v, &raw, base);
        match config {
            Some(c) if v.problems.is_empty() => Ok(c),
            _ => Err(ConfigError {
                problems: v.problems,
            }),
        }
    }
}

/// The validation of a whole file: each section validates itself with the shared [`Validator`];
/// a new section is one more call here.
///
/// The order of the calls is the order problems are reported in.
fn validate(v: &mut Validator<'_>, raw: &Raw, base: &Path) -> Option<Config> {
    let proxy = raw.proxy.validate(v);
    let admin_listen = raw.admin.validate(v, (&raw.proxy.listen, proxy.listen));
    let portal = raw.portal.validate(
        v,
        [
            ("proxy.listen", proxy.listen),
            ("admin.listen", admin_listen),
        ],
    );
    let audit = raw.audit.validate(v);
    let accounts = raw.accounts.validate(v);
    let dns_hosts = raw.dns.validate(v);
    let allow_networks = raw.network.validate(v);
    let intranet = raw.tiers.intranet(v);
    let places = places::validate(
        v,
        places::RawSections {
            places: &raw.places,
            locations: &raw.locations,
            terminals: &raw.terminals,
            schedules: &raw.schedules,
        },
    );
    let (lists, list_loads) = lists::load(v, &raw.lists, base)?;
    let rules = rules::load(v, &raw.rules, base, &lists, &places);
    let done = policy::Validated {
        connect_ports: raw.proxy.connect_ports.as_deref(),
        allow_networks,
        intranet,
        places: &places,
        rules: rules.rules.clone(),
    };
    let policy = raw.policy.compile(v, &raw.tiers, &lists, done);
    let version = version_of(v.loc.text, &rules);
    let grants = raw.grants.validate(v);
    let notify = raw.notify.validate(v);
    Some(Config {
        source: v.loc.file.to_string(),
        proxy,
        admin_listen,
        portal,
        audit,
        accounts,
        dns_hosts: Arc::new(dns_hosts),
        lists: Arc::new(lists),
        policy,
        list_loads,
        places,
        rules,
        version,
        grants,
        notify,
    })
}

/// The policy version recorded with every decision: a hash of the configuration file and its
/// rule files (lists are named by the configuration; their contents are not part of it).
fn version_of(text: &str, rules: &RulesLoaded) -> Arc<str> {
    let mut h = blake3::Hasher::new();
    h.update(text.as_bytes());
    for s in &rules.sources {
        h.update(&(s.text.len() as u64).to_le_bytes());
        h.update(s.text.as_bytes());
    }
    Arc::from(&h.finalize().to_hex()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use destination::Host;

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
        assert_eq!(c.accounts.min_password_length, 10);
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

    #[test]
    fn accounts_min_password_length_defaults_to_10_and_is_at_least_1() {
        let c = Config::from_toml("", "test.toml", Path::new(".")).unwrap();
        assert_eq!(c.accounts.min_password_length, 10);
        let c = Config::from_toml(
            "[accounts]\nmin_password_length = 1\n",
            "test.toml",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.accounts.min_password_length, 1);
        assert_eq!(
            problems("[accounts]\nmin_password_length = 0\n"),
            ["test.toml:2:23: key `accounts.min_password_length`: expected a whole number, 1 or more, not `0`"]
        );
        assert_eq!(
            problems("[accounts]\nmin_password_length = -3\n"),
            ["test.toml:2:23: key `accounts.min_password_length`: invalid value: integer `-3`, expected a whole number, 0 or more"]
        );
        assert_eq!(
            problems("[accounts]\nmin_password = 12\n"),
            ["test.toml:2:1: key `accounts.min_password`: unknown field `min_password`, expected `min_password_length`"]
        );
    }

    #[test]
    fn contact_is_any_text_without_control_characters() {
        let contact = "Служба поддержки <help@example.org> — ext. 4711 & \"Desk\"";
        let c = Config::from_toml(
            &format!("[proxy]\ncontact = {contact:?}\n"),
            "test.toml",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.proxy.contact, contact);
        assert_eq!(
            problems("[proxy]\ncontact = \"the desk\\r\\nX-Injected: 1\"\n"),
            ["test.toml:2:11: key `proxy.contact`: `the desk\\r\\nX-Injected: 1` contains a control character (a line break or tab, for instance); write it on one line"]
        );
        assert_eq!(problems("[proxy]\ncontact = \"tab\\there\"\n").len(), 1);
        assert_eq!(
            problems("[proxy]\ncontact = \"  \"\n"),
            ["test.toml:2:11: key `proxy.contact`: is empty; name whom to ask for access (a person, a desk, an address)"]
        );
        // `via` goes into header lines and stays printable ASCII without spaces.
        assert_eq!(
            problems("[proxy]\nvia = \"gäte house\"\n"),
            ["test.toml:2:7: key `proxy.via`: `gäte house` must be printable ASCII without spaces"]
        );
    }

    #[test]
    fn a_missing_file_is_named_without_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nowhere.toml");
        let e = Config::from_file(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot read {}: No such file or directory", path.display())
        );
    }

    #[test]
    fn connect_port_rules_are_validated_and_located() {
        let ok = "[[policy.connect]]\nnetworks = [\"10.20.0.0/16\"]\nports = \"any\"\n\n\
                  [[policy.connect]]\ndomains = [\"Build.Corp.Example.\"]\nports = [8443, 9443]\n";
        let c = Config::from_toml(ok, "test.toml", Path::new(".")).unwrap();
        let host = Host::parse("x.build.corp.example").unwrap();
        let inputs = ::policy::Inputs {
            principal: "ada",
            groups: &[],
            disabled: false,
            tier: ::policy::Tier::Open,
            host: &host,
            port: 9443,
            connect: true,
            categories: Default::default(),
            role: "user",
            method: "CONNECT",
            place: ::policy::Place::unregistered(::policy::LocalTime {
                weekday: ::policy::Weekday::Mon,
                minute_of_day: 0,
                date: (2026, 12, 7),
            }),
            grants: None,
            now_us: 0,
        };
        assert!(::policy::decide(&c.policy, &inputs).is_allow());
        let at = |addr: &str| ::policy::check_address(&c.policy, &inputs, addr.parse().unwrap());
        assert!(at("93.184.216.34:9443").is_allow());
        let other = Host::parse("example.com").unwrap();
        let inputs = ::policy::Inputs {
            principal: "ada",
            groups: &[],
            disabled: false,
            host: &other,
            ..inputs
        };
        let at = |addr: &str| ::policy::check_address(&c.policy, &inputs, addr.parse().unwrap());
        assert_eq!(at("93.184.216.34:9443").rule, ::policy::Rule::ConnectPort);
        // Any port to 10.20/16 opens the port check only: the network itself is still refused.
        assert_eq!(
            at("10.20.0.1:9443").rule,
            ::policy::Rule::Address(destination::net::AddressClass::Private)
        );

        let p = problems(
            "[[policy.connect]]\nnetworks = [\"10.0.0.1/8\"]\ndomains = [\"10.1.2.3\"]\nports = [0, 70000, \"x\"]\n\
             [[policy.connect]]\nports = \"all\"\n\
             [[policy.connect]]\ndomains = [\"a.example\"]\n",
        );
        assert_eq!(
            p,
            [
                "test.toml:2:13: key `policy.connect.networks`: `10.0.0.1/8` has host bits set; did you mean `10.0.0.0/8`",
                "test.toml:3:12: key `policy.connect.domains`: `10.1.2.3` is an address; put addresses in `networks`",
                "test.toml:4:9: key `policy.connect.ports`: `0` is not a port; ports are whole numbers from 1 to 65535",
                "test.toml:4:9: key `policy.connect.ports`: `70000` is not a port; ports are whole numbers from 1 to 65535",
                "test.toml:4:9: key `policy.connect.ports`: `\"x\"` is not a port; ports are whole numbers from 1 to 65535",
                "test.toml:5:1: key `policy.connect`: a port rule needs `networks`, `domains` or both, to say where its ports are open",
                "test.toml:6:9: key `policy.connect.ports`: `\"all\"` is not a list of ports; write `ports = [8443, 9443]` or `ports = \"any\"`",
                "test.toml:7:1: key `policy.connect.ports`: a port rule needs `ports`: write `ports = [8443, 9443]` or `ports = \"any\"`",
            ]
        );
        assert_eq!(
            problems("[[policy.connect]]\ndomains = [\"a.example\"]\nport = 22\n"),
            ["test.toml:3:1: key `policy.connect.port`: unknown field `port`, expected one of `networks`, `domains`, `ports`"]
        );
    }
}
