//! `gatehouse audit`: list and filter the audit trail, as a table for people or JSON lines.
//!
//! Reads through [`AuditStore`]; only opening it picks the SQLite backend. Times are parsed here
//! into microseconds, client addresses into a [`ClientFilter`]: the store sees typed filters only.
//! The JSON field names are a stable format. An event allowed by an access grant shows the grant
//! and its purpose next to the traffic (joined by the store's read, [`AuditStore::audit_trail`]).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::common::{check_given_config, format_ts, print_table, Common, OutputFormat};
use crate::store::{AuditQuery, AuditStore, ClientFilter, Store, TrailEvent};

#[derive(Args, Debug)]
pub(super) struct AuditFilter {
    /// Only events of this principal.
    #[arg(long)]
    principal: Option<String>,
    /// Only events for this destination host or its subdomains (`example.com` matches `www.example.com`).
    #[arg(long)]
    destination: Option<String>,
    /// Only events with this decision: `allow` (the policy allowed; a transfer that then failed,
    /// e.g. DNS or connect, is still `allow`, with its error code in the event), `deny` (refused by
    /// a rule or by authentication), `error` (gatehouse could not decide: malformed request,
    /// timeout before a decision, audit backlog).
    #[arg(long, value_parser = ["allow", "deny", "error"])]
    decision: Option<String>,
    /// Only events with exactly this rule or error code (the RULE column, e.g. `tier-filtered`).
    #[arg(long)]
    rule: Option<String>,
    /// Only events answered with this HTTP status (`0`: no response head was sent).
    #[arg(long, value_name = "CODE")]
    status: Option<u16>,
    /// Only events from this client: an IP address matches every connection from it
    /// (`192.0.2.7`, `2001:db8::7`), an address with a port one connection (`192.0.2.7:50312`,
    /// `[2001:db8::7]:50312`). An IPv4 address also matches the same client seen through a
    /// dual-stack listener (`::ffff:192.0.2.7`).
    #[arg(long, value_name = "ADDR", value_parser = parse_client)]
    client: Option<ClientFilter>,
    /// Only events from this registered terminal (its name in the configuration).
    #[arg(long)]
    terminal: Option<String>,
    /// Only events from terminals at this location.
    #[arg(long)]
    location: Option<String>,
    /// Events at or after this time: a date (`2026-12-07`, meaning midnight UTC at its start), an
    /// RFC 3339 time (`2026-12-07T10:00:00Z`, `2026-12-07T11:00:00+01:00`) or an age counted back
    /// from now (`90s`, `15m`, `2h`, `7d`).
    #[arg(long)]
    since: Option<String>,
    /// Events before this time (same forms as --since; a date means midnight UTC at its start, so
    /// `--since 2026-12-07 --until 2026-12-08` is that whole day in UTC).
    #[arg(long)]
    until: Option<String>,
    /// At most this many events (the newest ones); `0` means no limit.
    #[arg(long, default_value_t = 1000)]
    limit: u64,
    /// `table` for people, `json` for one JSON object per line (stable field names).
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
}

impl AuditFilter {
    /// Whether any listing option was given (a subcommand takes none of them).
    pub(super) fn given(&self) -> bool {
        self.principal.is_some()
            || self.destination.is_some()
            || self.decision.is_some()
            || self.rule.is_some()
            || self.status.is_some()
            || self.client.is_some()
            || self.terminal.is_some()
            || self.location.is_some()
            || self.since.is_some()
            || self.until.is_some()
            || self.limit != 1000
            || self.format != OutputFormat::Table
    }
}

/// `--client`: an address (any port) or an address with a port.
fn parse_client(s: &str) -> Result<ClientFilter, String> {
    if let Ok(socket) = s.parse::<SocketAddr>() {
        return Ok(ClientFilter::Socket(socket));
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>().map(ClientFilter::Address).map_err(|_| {
        format!("`{s}` is not an IP address or an address with a port (`192.0.2.7`, `192.0.2.7:50312`, `[2001:db8::7]:50312`)")
    })
}

/// Parse `--since`/`--until`: a date (midnight UTC), RFC 3339, or an age such as `15m` counted
/// back from `now_us`.
pub(super) fn parse_time(s: &str, now_us: i64) -> anyhow::Result<i64> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_microsecond());
    }
    // Only the plain `YYYY-MM-DD` shape: a date-time without an offset is ambiguous and refused.
    let is_date = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if is_date {
        let date: jiff::civil::Date = s
            .parse()
            .map_err(|e| anyhow::anyhow!("`{s}` is not a date: {e}"))?;
        let midnight = date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp();
        return Ok(midnight.as_microsecond());
    }
    let not_a_time = || {
        anyhow::anyhow!("`{s}` is not a time: use a date (`2026-12-07`, midnight UTC), an RFC 3339 time (`2026-12-07T10:00:00Z`) or an age (`15m`, `2h`, `3d`)")
    };
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| not_a_time())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ if unit.chars().all(|c| c.is_ascii_alphabetic()) => {
            bail!("`{s}`: the unit of an age is one of `s`, `m`, `h`, `d`")
        }
        _ => return Err(not_a_time()),
    };
    Ok(now_us.saturating_sub(n.saturating_mul(secs * 1_000_000)))
}

pub(super) fn audit(common: Common, f: AuditFilter) -> anyhow::Result<ExitCode> {
    check_given_config(&common)?;
    let store: Box<dyn AuditStore> = Box::new(Store::open_existing(&common.data_dir)?);
    let now = crate::store::now_us();
    let q = AuditQuery {
        principal: f.principal,
        destination: f
            .destination
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase()),
        decision: f.decision,
        rule: f.rule,
        status: f.status,
        client: f.client,
        terminal: f.terminal,
        location: f.location,
        since_us: f.since.as_deref().map(|s| parse_time(s, now)).transpose()?,
        until_us: f.until.as_deref().map(|s| parse_time(s, now)).transpose()?,
        limit: (f.limit > 0).then_some(f.limit),
    };
    if let (Some(since), Some(until)) = (q.since_us, q.until_us) {
        if until < since {
            anyhow::bail!(
                "`--until {}` is before `--since {}`: nothing can match",
                f.until.as_deref().unwrap_or_default(),
                f.since.as_deref().unwrap_or_default()
            );
        }
    }
    let events = store.audit_trail(&q)?;
    match f.format {
        OutputFormat::Json => {
            let mut out = std::io::stdout().lock();
            for e in &events {
                writeln!(out, "{}", audit_json(e))?;
            }
        }
        OutputFormat::Table => print_table(&audit_table(events)),
    }
    Ok(ExitCode::SUCCESS)
}

fn audit_table(events: Vec<TrailEvent>) -> Vec<Vec<String>> {
    let head = [
        "TIME",
        "PRINCIPAL",
        "CLIENT",
        "METHOD",
        "DESTINATION",
        "DECISION",
        "RULE",
        "STATUS",
        "STAGE",
        "ERROR",
        "UP",
        "DOWN",
        "MS",
        "GRANT",
    ];
    let mut table = vec![head.map(String::from).to_vec()];
    for TrailEvent { row: r, purpose } in events {
        table.push(vec![
            format_ts(r.ts_us),
            r.principal.unwrap_or_else(|| "-".into()),
            r.client,
            r.method,
            r.destination,
            r.decision,
            r.rule,
            r.status.to_string(),
            r.stage,
            r.error.unwrap_or_else(|| "-".into()),
            r.bytes_up.to_string(),
            r.bytes_down.to_string(),
            format!("{:.1}", r.duration_us as f64 / 1000.0),
            match r.grant_id {
                Some(id) => format!("{id} ({})", purpose.as_deref().unwrap_or("-")),
                None => "-".into(),
            },
        ]);
    }
    table
}

/// The JSON form of an audit event (one object per line). Field names are a stable format.
fn audit_json(e: &TrailEvent) -> serde_json::Value {
    let r = &e.row;
    serde_json::json!({
        "id": r.id,
        "time": format_ts(r.ts_us),
        "principal": r.principal,
        "tried_principal": r.tried_principal,
        "client": r.client,
        "method": r.method,
        "destination": r.destination,
        "url": r.url,
        "decision": r.decision,
        "rule": r.rule,
        "status": r.status,
        "bytes_up": r.bytes_up,
        "bytes_down": r.bytes_down,
        "duration_us": r.duration_us,
        "stage": r.stage,
        "error": r.error,
        "terminal": r.terminal,
        "location": r.location,
        "session": r.session_id,
        "groups": r.groups,
        "tier": r.tier,
        "policy_version": r.policy_version,
        "role": r.role,
        "revoked_by": r.revoked_by,
        "grant_id": r.grant_id,
        "purpose": e.purpose,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_dates_rfc3339_or_ages() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_time("15m", now).unwrap(), now - 900_000_000);
        assert_eq!(parse_time("3d", now).unwrap(), now - 3 * 86_400_000_000);
        assert_eq!(parse_time("1970-01-01T00:00:01Z", now).unwrap(), 1_000_000);
        assert_eq!(
            parse_time("1970-01-01T01:00:01+01:00", now).unwrap(),
            1_000_000
        );
        // A date is its midnight, UTC.
        assert_eq!(parse_time("1970-01-02", now).unwrap(), 86_400_000_000);
        assert_eq!(
            parse_time("2026-12-07", now).unwrap(),
            "2026-12-07T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_microsecond()
        );
        for bad in [
            "yesterday",
            "5w",
            "2026-13-01",
            "2026-12-7",
            "2026-12-07T10:00:00",
            "",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn clients_parse_as_addresses_or_sockets() {
        let ip = |s: &str| ClientFilter::Address(s.parse().unwrap());
        let sock = |s: &str| ClientFilter::Socket(s.parse().unwrap());
        assert_eq!(parse_client("192.0.2.7"), Ok(ip("192.0.2.7")));
        assert_eq!(parse_client("2001:db8::7"), Ok(ip("2001:db8::7")));
        assert_eq!(parse_client("[2001:db8::7]"), Ok(ip("2001:db8::7")));
        assert_eq!(parse_client("192.0.2.7:50312"), Ok(sock("192.0.2.7:50312")));
        assert_eq!(
            parse_client("[2001:db8::7]:50312"),
            Ok(sock("[2001:db8::7]:50312"))
        );
        for bad in ["example.com", "192.0.2", "192.0.2.7:", "%", "10.0.0.1_"] {
            assert!(parse_client(bad).is_err(), "{bad}");
        }
    }
}
