//! Every response the gateway produces itself: refusals (403), authentication challenges (407),
//! malformed requests (400/414/431/505), upstream failures (502/504) and unavailability (503),
//! plus the two answers it gives as the last hop of an allowed request (`Max-Forwards: 0`).
//!
//! One type, [`Outcome`], carries blame (client, policy, upstream, internal) and a stable code; one
//! function, [`render`], turns it into bytes. A refusal page says which rule refused, the principal's
//! tier, the destination as gatehouse understood it, and how to ask for access. Scripts read the
//! `X-Gatehouse-Decision` and `X-Gatehouse-Rule` headers instead. [`Answer`] and
//! [`render_answer`] are the 200 answers to OPTIONS and TRACE, with the same headers.

use std::fmt::Write as _;

use http1::RequestHead;
use policy::Tier;

use crate::identity::authenticate::AUTH_THROTTLED;
use crate::identity::AuthFailure;

/// Why the gateway answers a request itself.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The policy (or an identity rule such as a disabled principal) refused the request.
    Refused {
        rule: String,
        /// The rule's identifier without a category name, for metrics labels.
        static_rule: &'static str,
        explanation: &'static str,
        principal: Option<String>,
        tier: Option<Tier>,
        destination: String,
    },
    /// No or wrong proxy credentials.
    AuthRequired { rule: &'static str },
    /// Too many recent authentication failures for the name or the client address: refused with
    /// `429` and `Retry-After`, without a password check (rule `auth-throttled`).
    AuthThrottled { retry_after_secs: u64 },
    /// The request was malformed (blame: client).
    BadRequest {
        status: u16,
        code: &'static str,
        message: String,
    },
    /// The origin could not be reached or answered badly (blame: upstream).
    Upstream {
        status: u16,
        code: &'static str,
        message: String,
    },
    /// The gateway cannot take the request now (blame: gateway), e.g. an audit backlog.
    Unavailable { code: &'static str, message: String },
}

impl Outcome {
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Refused { .. } => 403,
            Outcome::AuthRequired { .. } => 407,
            Outcome::AuthThrottled { .. } => 429,
            Outcome::BadRequest { status, .. } | Outcome::Upstream { status, .. } => *status,
            Outcome::Unavailable { .. } => 503,
        }
    }

    /// `deny` for decisions about the person (policy, authentication); `error` for failures.
    pub fn decision(&self) -> &'static str {
        match self {
            Outcome::Refused { .. }
            | Outcome::AuthRequired { .. }
            | Outcome::AuthThrottled { .. } => "deny",
            _ => "error",
        }
    }

    /// The rule or stable error code recorded and sent in `X-Gatehouse-Rule`.
    pub fn rule(&self) -> &str {
        match self {
            Outcome::Refused { rule, .. } => rule,
            Outcome::AuthRequired { rule } => rule,
            Outcome::AuthThrottled { .. } => AUTH_THROTTLED,
            Outcome::BadRequest { code, .. }
            | Outcome::Upstream { code, .. }
            | Outcome::Unavailable { code, .. } => code,
        }
    }

    /// A stable error code for failures (not for decisions).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Outcome::BadRequest { code, .. }
            | Outcome::Upstream { code, .. }
            | Outcome::Unavailable { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The static part of the rule, for metrics labels.
    pub fn metric_rule(&self) -> &'static str {
        match self {
            Outcome::Refused { static_rule, .. } => static_rule,
            Outcome::AuthRequired { rule } => rule,
            Outcome::AuthThrottled { .. } => AUTH_THROTTLED,
            Outcome::BadRequest { code, .. }
            | Outcome::Upstream { code, .. }
            | Outcome::Unavailable { code, .. } => code,
        }
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
        400 => "Bad Request",
        403 => "Forbidden",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
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

/// The `Content-Type` of the page `render` writes for `outcome`: HTML for a browser's refusal or
/// authentication challenge, plain text otherwise.
pub fn page_content_type(outcome: &Outcome, html: bool) -> &'static str {
    if html
        && matches!(
            outcome,
            Outcome::Refused { .. } | Outcome::AuthRequired { .. } | Outcome::AuthThrottled { .. }
        )
    {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    }
}

/// Render the full response (head and body). `html` selects the browser page over plain text;
/// `close` adds `Connection: close`.
pub fn render(outcome: &Outcome, html: bool, close: bool, via: &str, contact: &str) -> Vec<u8> {
    let status = outcome.status();
    let (title, lines) = describe(outcome, contact);
    let body = if html
        && matches!(
            outcome,
            Outcome::Refused { .. } | Outcome::AuthRequired { .. } | Outcome::AuthThrottled { .. }
        ) {
        html_page(status, &title, &lines)
    } else {
        let mut t = format!("{status} {}: {title}\n", reason_phrase(status));
        for (k, v) in &lines {
            let _ = writeln!(t, "{k}: {v}");
        }
        t
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    match outcome {
        Outcome::AuthRequired { .. } => {
            head.push_str("Proxy-Authenticate: Basic realm=\"gatehouse\", charset=\"UTF-8\"\r\n")
        }
        Outcome::AuthThrottled { retry_after_secs } => {
            let _ = write!(head, "Retry-After: {retry_after_secs}\r\n");
        }
        _ => {}
    }
    let _ = write!(
        head,
        "X-Gatehouse-Decision: {}\r\nX-Gatehouse-Rule: {}\r\nVia: 1.1 {}\r\nCache-Control: no-store\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        outcome.decision(),
        header_safe(outcome.rule()),
        header_safe(via),
        page_content_type(outcome, html),
        body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
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

/// Render an [`Answer`]. Returns the bytes and the length of the body in them.
pub fn render_answer(answer: &Answer<'_>, rule: &str, close: bool, via: &str) -> (Vec<u8>, u64) {
    let mut body = Vec::new();
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    match answer {
        Answer::Options => {
            let _ = write!(head, "Allow: {ALLOW}\r\n");
        }
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
            head.push_str("Content-Type: message/http\r\nX-Content-Type-Options: nosniff\r\n");
        }
    }
    let _ = write!(
        head,
        "X-Gatehouse-Decision: allow\r\nX-Gatehouse-Rule: {}\r\nVia: 1.1 {}\r\nCache-Control: no-store\r\nContent-Length: {}\r\n",
        header_safe(rule),
        header_safe(via),
        body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let body_len = body.len() as u64;
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    (out, body_len)
}

fn describe(outcome: &Outcome, contact: &str) -> (String, Vec<(&'static str, String)>) {
    match outcome {
        Outcome::Refused {
            rule,
            explanation,
            principal,
            tier,
            destination,
            ..
        } => (
            "access refused".to_string(),
            vec![
                ("destination", destination.clone()),
                ("refused by rule", rule.clone()),
                ("why", explanation.to_string()),
                (
                    "principal",
                    principal.clone().unwrap_or_else(|| "-".to_string()),
                ),
                ("tier", tier.map_or("-".to_string(), |t| t.to_string())),
                (
                    "how to ask",
                    format!(
                        "ask {contact} for access to this destination, quoting the rule and the destination above; this decision is recorded in the audit trail, and every record about you can be shown to you"
                    ),
                ),
            ],
        ),
        Outcome::AuthRequired { rule } => (
            "proxy authentication required".to_string(),
            vec![
                ("rule", rule.to_string()),
                (
                    "what to do",
                    "sign in with your gatehouse user name and password (proxy Basic authentication)"
                        .to_string(),
                ),
            ],
        ),
        Outcome::AuthThrottled { retry_after_secs } => (
            "too many failed sign-ins".to_string(),
            vec![
                ("rule", AUTH_THROTTLED.to_string()),
                (
                    "why",
                    "too many wrong passwords were tried recently for this user name or from this address; sign-ins are paused without checking the password"
                        .to_string(),
                ),
                (
                    "when to try again",
                    format!("in {retry_after_secs} seconds"),
                ),
            ],
        ),
        Outcome::BadRequest { code, message, .. } => (
            message.clone(),
            vec![("code", code.to_string())],
        ),
        Outcome::Upstream { code, message, .. } => (
            message.clone(),
            vec![("code", code.to_string())],
        ),
        Outcome::Unavailable { code, message } => (
            message.clone(),
            vec![
                ("code", code.to_string()),
                ("what to do", "try again in a moment".to_string()),
            ],
        ),
    }
}

fn html_page(status: u16, title: &str, lines: &[(&'static str, String)]) -> String {
    let mut rows = String::new();
    for (k, v) in lines {
        let _ = write!(
            rows,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape_html(k),
            escape_html(v)
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
        Outcome::Refused {
            rule: "filtered-default".into(),
            static_rule: "filtered-default",
            explanation: "your tier allows only destinations on its allow lists, and this one is on none of them",
            principal: Some("ada".into()),
            tier: Some(Tier::Filtered),
            destination: "blocked.example:80".into(),
        }
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
        let o = Outcome::Refused {
            rule: "r".into(),
            static_rule: "r",
            explanation: "e",
            principal: Some("<script>".into()),
            tier: None,
            destination: "a\"b".into(),
        };
        let out = String::from_utf8(render(&o, true, true, "gatehouse", "x")).unwrap();
        assert!(out.contains("text/html"));
        assert!(out.contains("&lt;script&gt;"));
        assert!(out.contains("a&quot;b"));
        assert!(!out.contains("<script>"));
        assert!(out.contains("Connection: close\r\n"));
    }

    #[test]
    fn options_answer_names_the_methods_and_has_no_body() {
        let (out, len) = render_answer(&Answer::Options, "tier-open", false, "gatehouse");
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
        let (out, len) = render_answer(&Answer::Trace(&head), "r", true, "gatehouse");
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
