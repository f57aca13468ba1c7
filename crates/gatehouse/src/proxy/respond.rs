//! Every response the gateway produces itself: refusals (403), authentication challenges (407),
//! malformed requests (400/414/431/505), upstream failures (502/504) and unavailability (503),
//! plus the two answers it gives as the last hop of an allowed request (`Max-Forwards: 0`).
//!
//! One type, [`Outcome`], says why gatehouse answers itself: a refusal (by a rule), a challenge, or
//! a failure with a stable [`ErrorCode`] that carries its blame. One function, [`page`], turns any
//! [`Reply`] (an outcome or a last-hop answer) into bytes, and one function, [`send`], writes it
//! to the client and counts it in the request's [`Progress`]. A refusal page says which rule
//! refused, why, the principal's tier, the destination as gatehouse understood it, and how to ask.
//! Scripts read the `X-Gatehouse-Decision`, `X-Gatehouse-Rule` and `X-Gatehouse-Error` headers
//! instead; they report the request's decision as the audit trail records it, so a request that
//! was allowed and then failed (DNS, connect) says `allow`, the allowing rule, and the error.
//!
//! A new page goes here: a variant of [`Outcome`] (or [`Answer`]) and its lines in `describe`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use http1::RequestHead;
use policy::{Ask, Tier};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::exchange::Progress;
use crate::codes::{Blame, ErrorCode, EventDecision};
use crate::identity::authenticate::AUTH_THROTTLED;
use crate::identity::AuthFailure;

/// Why the gateway answers a request itself.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The policy (or an identity rule such as a disabled principal) refused the request.
    Refused(Refusal),
    /// No or wrong proxy credentials.
    AuthRequired { rule: &'static str },
    /// Too many recent authentication failures for the name or the client address: refused with
    /// `429` and `Retry-After`, without a password check (rule `auth-throttled`).
    AuthThrottled { retry_after_secs: u64 },
    /// The request failed; the code says why and whom to blame.
    Failed {
        status: u16,
        code: ErrorCode,
        message: String,
    },
}

/// A refusal by a rule, with everything its page shows.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub rule: String,
    /// The rule's identifier without a category name, for metrics labels.
    pub static_rule: &'static str,
    pub explanation: String,
    /// What the person can ask for.
    pub ask: Ask,
    pub principal: Option<String>,
    pub tier: Option<Tier>,
    pub destination: String,
}

impl Outcome {
    /// A failure with status 400.
    pub fn bad_request(code: ErrorCode, message: String) -> Outcome {
        Outcome::Failed {
            status: 400,
            code,
            message,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Outcome::Refused(_) => 403,
            Outcome::AuthRequired { .. } => 407,
            Outcome::AuthThrottled { .. } => 429,
            Outcome::Failed { status, .. } => *status,
        }
    }

    /// `deny` for decisions about the person (policy, authentication); `error` for failures.
    pub fn decision(&self) -> EventDecision {
        match self {
            Outcome::Refused(_) | Outcome::AuthRequired { .. } | Outcome::AuthThrottled { .. } => {
                EventDecision::Deny
            }
            Outcome::Failed { .. } => EventDecision::Error,
        }
    }

    /// The rule or stable error code recorded and sent in `X-Gatehouse-Rule`.
    pub fn rule(&self) -> &str {
        match self {
            Outcome::Refused(r) => &r.rule,
            Outcome::AuthRequired { rule } => rule,
            Outcome::AuthThrottled { .. } => AUTH_THROTTLED,
            Outcome::Failed { code, .. } => code.as_str(),
        }
    }

    /// A stable error code for failures (not for decisions).
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Outcome::Failed { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The static part of the rule, for metrics labels.
    pub fn metric_rule(&self) -> &'static str {
        match self {
            Outcome::Refused(r) => r.static_rule,
            Outcome::AuthRequired { rule } => rule,
            Outcome::AuthThrottled { .. } => AUTH_THROTTLED,
            Outcome::Failed { code, .. } => code.as_str(),
        }
    }

    /// Whether the page for this outcome is HTML when the client asked for HTML: refusals and
    /// challenges are read by people; failures by whoever debugs them.
    fn has_html_page(&self) -> bool {
        !matches!(self, Outcome::Failed { .. })
    }
}

impl From<AuthFailure> for Outcome {
    fn from(failure: AuthFailure) -> Outcome {
        match failure {
            AuthFailure::Throttled { retry_after, .. } => Outcome::AuthThrottled {
                // Rounded up: a client that waits this long is let in.
                retry_after_secs: retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0),
            },
            other => Outcome::AuthRequired { rule: other.rule() },
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Header values must not carry CR/LF or other controls; rule ids and codes never do, but be sure.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// The `Content-Type` of the page for `outcome`: HTML for a browser's refusal or authentication
/// challenge, plain text otherwise.
pub fn page_content_type(outcome: &Outcome, html: bool) -> &'static str {
    if html && outcome.has_html_page() {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// How a page is rendered for this request and configuration.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    /// The client asked for HTML (`Accept: text/html…`).
    pub html: bool,
    /// Add `Connection: close`.
    pub close: bool,
    /// `proxy.via`.
    pub via: &'a str,
    /// `proxy.contact`: whom to ask.
    pub contact: &'a str,
    /// The portal's address (`[portal] public_url`, or `http://` and its bound address) when the
    /// portal runs: a refusal of a destination then links to its request form.
    pub portal: Option<&'a str>,
}

/// What gatehouse answers itself.
pub enum Reply<'a> {
    /// A refusal, challenge or failure. `allowed_by` is the rule that allowed the request when it
    /// failed after the decision: the page then reports `allow` and that rule, as the audit
    /// trail does, with the error in `X-Gatehouse-Error`.
    Outcome {
        outcome: &'a Outcome,
        allowed_by: Option<&'a str>,
    },
    /// The last hop's answer to an allowed OPTIONS or TRACE, with the allowing rule.
    Answer { answer: Answer<'a>, rule: &'a str },
}

/// Render a reply: the bytes and how many of them are body.
pub fn page(reply: &Reply<'_>, style: &Style<'_>) -> (Vec<u8>, u64) {
    match reply {
        Reply::Outcome {
            outcome,
            allowed_by,
        } => outcome_page(outcome, *allowed_by, style),
        Reply::Answer { answer, rule } => answer_page(answer, rule, style),
    }
}

/// Write a reply to the client within `idle`, counting it in `progress` (its head and page bytes
/// as head bytes; a last-hop answer's body as bytes down). Returns whether it was written.
pub async fn send<W: AsyncWrite + Unpin>(
    client: &mut W,
    reply: &Reply<'_>,
    style: &Style<'_>,
    idle: Duration,
    progress: &Progress,
) -> bool {
    let (bytes, body_len) = page(reply, style);
    progress.begin();
    let sent = matches!(
        tokio::time::timeout(idle, client.write_all(&bytes)).await,
        Ok(Ok(()))
    );
    if !sent {
        return false;
    }
    let status = match reply {
        Reply::Outcome { outcome, .. } => {
            progress.sent_content_type(page_content_type(outcome, style.html).as_bytes());
            progress
                .head_bytes
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            outcome.status()
        }
        Reply::Answer { answer, .. } => {
            if matches!(answer, Answer::Trace(_)) {
                progress.sent_content_type(b"message/http");
            }
            progress.bytes_down.fetch_add(body_len, Ordering::Relaxed);
            progress
                .head_bytes
                .fetch_add(bytes.len() as u64 - body_len, Ordering::Relaxed);
            200
        }
    };
    progress.sent_head(status);
    true
}

fn outcome_page(outcome: &Outcome, allowed_by: Option<&str>, style: &Style<'_>) -> (Vec<u8>, u64) {
    let status = outcome.status();
    let (title, mut lines) = describe(outcome);
    if let (Outcome::Refused(r), Some(portal)) = (outcome, style.portal) {
        if matches!(r.ask, Ask::Destination) {
            lines.push((
                "ask in the portal",
                Value::Link(crate::asking::form_link(portal, &r.destination)),
            ));
        }
    }
    let body = if style.html && outcome.has_html_page() {
        html_page(status, &title, &lines, style.contact)
    } else {
        let mut t = format!("{status} {}: {title}\n", reason_phrase(status));
        for (k, v) in &lines {
            let _ = writeln!(t, "{k}: {}", v.text(style.contact));
        }
        t
    };
    let challenge = match outcome {
        Outcome::AuthRequired { .. } => {
            "Proxy-Authenticate: Basic realm=\"gatehouse\", charset=\"UTF-8\"\r\n".to_string()
        }
        Outcome::AuthThrottled { retry_after_secs } => {
            format!("Retry-After: {retry_after_secs}\r\n")
        }
        _ => String::new(),
    };
    let (decision, rule) = match allowed_by {
        Some(rule) if outcome.error_code().is_some() => (EventDecision::Allow, rule),
        _ => (outcome.decision(), outcome.rule()),
    };
    let head = Head {
        status,
        before: &challenge,
        decision,
        rule,
        error: outcome.error_code(),
        content_type: Some(page_content_type(outcome, style.html)),
    };
    (head.assemble(style, body.as_bytes()), body.len() as u64)
}

/// The head every page of gatehouse's has, in this order: status line, `before`, decision, rule,
/// error, `Via`, `Cache-Control`, type, length, close.
struct Head<'a> {
    status: u16,
    before: &'a str,
    decision: EventDecision,
    rule: &'a str,
    error: Option<ErrorCode>,
    content_type: Option<&'a str>,
}

impl Head<'_> {
    fn assemble(&self, style: &Style<'_>, body: &[u8]) -> Vec<u8> {
        let status = self.status;
        let mut head = format!(
            "HTTP/1.1 {status} {}\r\n{}X-Gatehouse-Decision: {}\r\nX-Gatehouse-Rule: {}\r\n",
            reason_phrase(status),
            self.before,
            self.decision,
            header_safe(self.rule),
        );
        if let Some(code) = self.error {
            let _ = write!(head, "X-Gatehouse-Error: {code}\r\n");
        }
        let _ = write!(
            head,
            "Via: 1.1 {}\r\nCache-Control: no-store\r\n",
            header_safe(style.via)
        );
        if let Some(t) = self.content_type {
            let _ = write!(head, "Content-Type: {t}\r\n");
        }
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
        if style.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        out
    }
}

/// What gatehouse answers as the last hop of an allowed request (RFC 9110 §7.6.2: an OPTIONS or
/// TRACE whose Max-Forwards is 0).
pub enum Answer<'a> {
    /// 200 with `Allow` and no body (§9.3.7).
    Options,
    /// 200 with the request head as received, as `message/http` (§9.3.8), minus the fields that
    /// carry credentials ([`TRACE_EXCLUDED`]).
    Trace(&'a RequestHead),
}

/// The methods named in `Allow`: those RFC 9110 and RFC 5789 define for resources. gatehouse
/// forwards any method token, but it cannot know what the origin supports, so it names the
/// standard ones it carries.
pub const ALLOW: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH";

/// Fields never echoed by TRACE: the proxy credentials gatehouse consumed, and the origin
/// credentials and cookies the client sent. RFC 9110 §9.3.8 asks the final recipient to exclude
/// fields likely to hold sensitive data; echoing them is what made cross-site tracing work.
pub const TRACE_EXCLUDED: [&str; 3] = ["proxy-authorization", "authorization", "cookie"];

fn answer_page(answer: &Answer<'_>, rule: &str, style: &Style<'_>) -> (Vec<u8>, u64) {
    let mut body = Vec::new();
    let before = match answer {
        Answer::Options => format!("Allow: {ALLOW}\r\n"),
        Answer::Trace(request) => {
            body.extend_from_slice(request.method().as_bytes());
            body.push(b' ');
            body.extend_from_slice(request.target().as_bytes());
            body.push(b' ');
            body.extend_from_slice(request.version().as_str().as_bytes());
            body.extend_from_slice(b"\r\n");
            for (name, value) in request.headers() {
                if TRACE_EXCLUDED.iter().any(|x| x.eq_ignore_ascii_case(name)) {
                    continue;
                }
                body.extend_from_slice(name.as_bytes());
                body.extend_from_slice(b": ");
                body.extend_from_slice(value);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"\r\n");
            // The echo is the client's own bytes; nosniff keeps a browser from reading it as a page.
            "Content-Type: message/http\r\nX-Content-Type-Options: nosniff\r\n".to_string()
        }
    };
    let head = Head {
        status: 200,
        before: &before,
        decision: EventDecision::Allow,
        rule,
        error: None,
        content_type: None,
    };
    (head.assemble(style, &body), body.len() as u64)
}

/// One value on a page: text, possibly naming the contact (a link in HTML when it is a URL).
enum Value {
    Text(String),
    /// `before`, the contact, `after`.
    WithContact(&'static str, &'static str),
    /// An address gatehouse built (a link in HTML).
    Link(String),
}

impl Value {
    fn text(&self, contact: &str) -> String {
        match self {
            Value::Text(t) => t.clone(),
            Value::WithContact(before, after) => format!("{before}{contact}{after}"),
            Value::Link(url) => url.clone(),
        }
    }

    fn html(&self, contact: &str) -> String {
        match self {
            Value::Text(t) => escape_html(t),
            Value::WithContact(before, after) => format!(
                "{}{}{}",
                escape_html(before),
                contact_html(contact),
                escape_html(after)
            ),
            Value::Link(url) => format!("<a href=\"{0}\">{0}</a>", escape_html(url)),
        }
    }
}

/// The contact in HTML: a link when it is a web address or a `mailto:` address (the scheme in any
/// case, something after it, no white space), escaped text otherwise.
fn contact_html(contact: &str) -> String {
    let after = |scheme: &str| {
        contact
            .get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &contact[scheme.len()..])
    };
    let shown = match (after("https://"), after("http://"), after("mailto:")) {
        (Some(rest), _, _) | (_, Some(rest), _) if !rest.is_empty() => Some(contact),
        (_, _, Some(address)) if !address.is_empty() => Some(address),
        _ => None,
    };
    match shown {
        Some(shown) if !contact.chars().any(char::is_whitespace) => format!(
            "<a href=\"{}\">{}</a>",
            escape_html(contact),
            escape_html(shown)
        ),
        _ => escape_html(contact),
    }
}

fn describe(outcome: &Outcome) -> (String, Vec<(&'static str, Value)>) {
    match outcome {
        Outcome::Refused(r) => (
            "access refused".to_string(),
            vec![
                ("destination", Value::Text(r.destination.clone())),
                ("refused by rule", Value::Text(r.rule.clone())),
                ("why", Value::Text(r.explanation.to_string())),
                (
                    "principal",
                    Value::Text(r.principal.clone().unwrap_or_else(|| "-".to_string())),
                ),
                (
                    "tier",
                    Value::Text(r.tier.map_or("-".to_string(), |t| t.to_string())),
                ),
                ("how to ask", how_to_ask(r.ask)),
            ],
        ),
        Outcome::AuthRequired { rule } => (
            "proxy authentication required".to_string(),
            vec![
                ("rule", Value::Text(rule.to_string())),
                (
                    "what to do",
                    Value::Text(
                        "sign in with your gatehouse user name and password (proxy Basic authentication)"
                            .to_string(),
                    ),
                ),
            ],
        ),
        Outcome::AuthThrottled { retry_after_secs } => (
            "too many failed sign-ins".to_string(),
            vec![
                ("rule", Value::Text(AUTH_THROTTLED.to_string())),
                (
                    "why",
                    Value::Text(
                        "too many wrong passwords were tried recently for this user name or from this address; sign-ins are paused without checking the password"
                            .to_string(),
                    ),
                ),
                (
                    "when to try again",
                    Value::Text(format!("in {retry_after_secs} seconds")),
                ),
            ],
        ),
        Outcome::Failed { code, message, .. } => {
            let mut lines = vec![("code", Value::Text(code.to_string()))];
            if code.blame() == Blame::Gateway {
                lines.push(("what to do", Value::Text("try again in a moment".to_string())));
            }
            (message.clone(), lines)
        }
    }
}

fn how_to_ask(ask: Ask) -> Value {
    match ask {
        Ask::Destination => Value::WithContact(
            "ask ",
            " for access to this destination, quoting the rule and the destination above; this decision is recorded in the audit trail, and every record about you can be shown to you",
        ),
        Ask::Account => Value::WithContact(
            "your account is disabled: ask ",
            " about your account (asking for a destination will not help until it is enabled again); this decision is recorded in the audit trail, and every record about you can be shown to you",
        ),
    }
}

fn html_page(status: u16, title: &str, lines: &[(&'static str, Value)], contact: &str) -> String {
    let mut rows = String::new();
    for (k, v) in lines {
        let _ = write!(
            rows,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape_html(k),
            v.html(contact)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gatehouse: {title}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}}\
h1{{font-size:1.4rem}}th{{text-align:left;vertical-align:top;padding:.3rem 1rem .3rem 0;white-space:nowrap}}\
td{{padding:.3rem 0;overflow-wrap:anywhere}}.code{{color:#666}}</style></head>\
<body><h1>{status} — {title}</h1><table>{rows}</table>\
<p class=\"code\">gatehouse</p></body></html>\n",
        title = escape_html(title),
    )
}

/// Whether the client asked for HTML (browsers send `text/html` first in `Accept`).
pub fn wants_html(accept: Option<&[u8]>) -> bool {
    accept
        .and_then(|a| std::str::from_utf8(a).ok())
        .is_some_and(|a| a.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> Outcome {
        Outcome::Refused(Refusal {
            rule: "filtered-default".into(),
            static_rule: "filtered-default",
            explanation: "your tier allows only destinations on its allow lists, and this one is on none of them".into(),
            ask: Ask::Destination,
            principal: Some("ada".into()),
            tier: Some(Tier::Filtered),
            destination: "blocked.example:80".into(),
        })
    }

    fn render(outcome: &Outcome, html: bool, close: bool, via: &str, contact: &str) -> Vec<u8> {
        let style = Style {
            html,
            close,
            via,
            contact,
            portal: None,
        };
        let reply = Reply::Outcome {
            outcome,
            allowed_by: None,
        };
        page(&reply, &style).0
    }

    fn render_answer(answer: Answer<'_>, rule: &str, close: bool, via: &str) -> (Vec<u8>, u64) {
        let style = Style {
            html: false,
            close,
            via,
            contact: "-",
            portal: None,
        };
        page(&Reply::Answer { answer, rule }, &style)
    }

    #[test]
    fn plain_refusal_says_rule_tier_destination_and_how_to_ask() {
        let out = String::from_utf8(render(
            &refused(),
            false,
            false,
            "gatehouse",
            "the help desk",
        ))
        .unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(head.contains("X-Gatehouse-Decision: deny\r\n"));
        assert!(head.contains("X-Gatehouse-Rule: filtered-default\r\n"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(
            body,
            "403 Forbidden: access refused\n\
destination: blocked.example:80\n\
refused by rule: filtered-default\n\
why: your tier allows only destinations on its allow lists, and this one is on none of them\n\
principal: ada\n\
tier: filtered\n\
how to ask: ask the help desk for access to this destination, quoting the rule and the destination above; this decision is recorded in the audit trail, and every record about you can be shown to you\n"
        );
    }

    #[test]
    fn html_refusal_escapes_everything_it_echoes() {
        let o = Outcome::Refused(Refusal {
            rule: "r".into(),
            static_rule: "r",
            explanation: "e".into(),
            ask: Ask::Destination,
            principal: Some("<script>".into()),
            tier: None,
            destination: "a\"b".into(),
        });
        let out = String::from_utf8(render(&o, true, true, "gatehouse", "x")).unwrap();
        assert!(out.contains("text/html"));
        assert!(out.contains("&lt;script&gt;"));
        assert!(out.contains("a&quot;b"));
        assert!(!out.contains("<script>"));
        assert!(out.contains("Connection: close\r\n"));
    }

    #[test]
    fn a_refusal_links_to_the_portals_form_for_its_host_when_the_portal_runs() {
        let style = |portal| Style {
            html: false,
            close: true,
            via: "gatehouse",
            contact: "x",
            portal,
        };
        let reply = Reply::Outcome {
            outcome: &refused(),
            allowed_by: None,
        };
        let text =
            String::from_utf8(page(&reply, &style(Some("http://portal.test:8080/"))).0).unwrap();
        assert!(
            text.contains("ask in the portal: http://portal.test:8080/requests/new?destination=blocked.example\n"),
            "{text}"
        );
        let text = String::from_utf8(page(&reply, &style(None)).0).unwrap();
        assert!(!text.contains("ask in the portal"), "{text}");
        assert_eq!(
            crate::asking::form_link("http://p", "[::1]:443"),
            "http://p/requests/new?destination=%3A%3A1"
        );
        let html = Style {
            html: true,
            ..style(Some("http://p"))
        };
        let out = String::from_utf8(page(&reply, &html).0).unwrap();
        assert!(
            out.contains("<a href=\"http://p/requests/new?destination=blocked.example\">"),
            "{out}"
        );
    }

    #[test]
    fn options_answer_names_the_methods_and_has_no_body() {
        let (out, len) = render_answer(Answer::Options, "tier-open", false, "gatehouse");
        assert_eq!(len, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\n\
Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH\r\n\
X-Gatehouse-Decision: allow\r\n\
X-Gatehouse-Rule: tier-open\r\n\
Via: 1.1 gatehouse\r\n\
Cache-Control: no-store\r\n\
Content-Length: 0\r\n\
\r\n"
        );
    }

    #[test]
    fn trace_answer_echoes_the_head_without_credentials() {
        let request = b"TRACE http://h.test/p HTTP/1.1\r\nHost: h.test\r\nProxy-Authorization: Basic YTpi\r\nX-Mine: 1\r\nCOOKIE: s=1\r\nauthorization: Bearer t\r\nMax-Forwards: 0\r\n\r\n";
        let http1::Parsed::Complete { head, .. } =
            http1::parse_request_head(request, &http1::Limits::default()).unwrap()
        else {
            panic!("incomplete")
        };
        let (out, len) = render_answer(Answer::Trace(&head), "r", true, "gatehouse");
        let out = String::from_utf8(out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            body,
            "TRACE http://h.test/p HTTP/1.1\r\nHost: h.test\r\nX-Mine: 1\r\nMax-Forwards: 0\r\n\r\n"
        );
        assert_eq!(len, body.len() as u64);
        assert!(
            head.contains("\r\nContent-Type: message/http\r\n"),
            "{head}"
        );
        assert!(
            head.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(head.ends_with("\r\nConnection: close"), "{head}");
    }

    #[test]
    fn challenge_carries_proxy_authenticate() {
        let out = String::from_utf8(render(
            &Outcome::AuthRequired {
                rule: "auth-required",
            },
            false,
            false,
            "gatehouse",
            "x",
        ))
        .unwrap();
        assert!(out.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"));
        assert!(out.contains("Proxy-Authenticate: Basic realm=\"gatehouse\""));
    }

    #[test]
    fn a_disabled_account_is_told_to_ask_about_the_account_not_the_destination() {
        let Outcome::Refused(mut r) = refused() else {
            unreachable!()
        };
        r.rule = "principal-disabled".into();
        r.ask = Ask::Account;
        let out = String::from_utf8(render(
            &Outcome::Refused(r),
            false,
            true,
            "gatehouse",
            "the help desk",
        ))
        .unwrap();
        assert!(
            out.contains(
                "how to ask: your account is disabled: ask the help desk about your account"
            ),
            "{out}"
        );
        assert!(!out.contains("access to this destination"), "{out}");
    }

    #[test]
    fn the_contact_is_a_link_when_it_is_an_address_and_escaped_always() {
        let html = |contact: &str| {
            String::from_utf8(render(&refused(), true, false, "gatehouse", contact)).unwrap()
        };
        let out = html("https://help.example/ask?a=1&b=2");
        assert!(
            out.contains("ask <a href=\"https://help.example/ask?a=1&amp;b=2\">https://help.example/ask?a=1&amp;b=2</a> for access"),
            "{out}"
        );
        let out = html("mailto:desk@example.org");
        assert!(
            out.contains("<a href=\"mailto:desk@example.org\">desk@example.org</a>"),
            "{out}"
        );
        let out = html("MAILTO:Desk@Example.org");
        assert!(
            out.contains("<a href=\"MAILTO:Desk@Example.org\">Desk@Example.org</a>"),
            "{out}"
        );
        // A scheme with nothing after it is no address: no empty link.
        for bare in ["mailto:", "https://"] {
            let out = html(bare);
            assert!(!out.contains("<a "), "{out}");
            assert!(out.contains(&format!("ask {bare} for access")), "{out}");
        }
        let out = html("Bibliothèque <b>accueil</b> — poste 12");
        assert!(
            out.contains("ask Bibliothèque &lt;b&gt;accueil&lt;/b&gt; — poste 12 for access"),
            "{out}"
        );
        assert!(!out.contains("<b>"), "{out}");
        let text = String::from_utf8(render(
            &refused(),
            false,
            false,
            "gatehouse",
            "mailto:d@e.f",
        ))
        .unwrap();
        assert!(
            text.contains("how to ask: ask mailto:d@e.f for access"),
            "{text}"
        );
    }

    #[test]
    fn a_failure_after_an_allow_reports_the_allow_its_rule_and_the_error() {
        let outcome = Outcome::Failed {
            status: 502,
            code: ErrorCode::DnsFailed,
            message: "cannot resolve `x.test`".into(),
        };
        let style = Style {
            html: false,
            close: true,
            via: "gatehouse",
            contact: "-",
            portal: None,
        };
        let allowed = Reply::Outcome {
            outcome: &outcome,
            allowed_by: Some("tier-open"),
        };
        let out = String::from_utf8(page(&allowed, &style).0).unwrap();
        assert!(
            out.contains("X-Gatehouse-Decision: allow\r\nX-Gatehouse-Rule: tier-open\r\nX-Gatehouse-Error: dns_failed\r\n"),
            "{out}"
        );
        let unallowed = Reply::Outcome {
            outcome: &outcome,
            allowed_by: None,
        };
        let out = String::from_utf8(page(&unallowed, &style).0).unwrap();
        assert!(
            out.contains("X-Gatehouse-Decision: error\r\nX-Gatehouse-Rule: dns_failed\r\nX-Gatehouse-Error: dns_failed\r\n"),
            "{out}"
        );
    }

    #[test]
    fn throttle_page_says_when_to_try_again_and_does_not_challenge() {
        let outcome = Outcome::from(AuthFailure::Throttled {
            name: "ada".into(),
            retry_after: std::time::Duration::from_millis(299_001),
        });
        let out = String::from_utf8(render(&outcome, false, true, "gatehouse", "x")).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nRetry-After: 300\r\n"), "{head}");
        assert!(head.contains("\r\nX-Gatehouse-Decision: deny\r\n"));
        assert!(head.contains("\r\nX-Gatehouse-Rule: auth-throttled\r\n"));
        // A challenge would make a browser ask for the password again, to be refused again.
        assert!(!head.contains("Proxy-Authenticate"), "{head}");
        assert_eq!(
            body,
            "429 Too Many Requests: too many failed sign-ins\n\
rule: auth-throttled\n\
why: too many wrong passwords were tried recently for this user name or from this address; sign-ins are paused without checking the password\n\
when to try again: in 300 seconds\n"
        );
        let html = String::from_utf8(render(&outcome, true, true, "gatehouse", "x")).unwrap();
        assert!(html.contains("text/html") && html.contains("in 300 seconds"));
    }
}
