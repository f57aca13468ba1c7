//! The single error type of the crate, [`DestinationError`].
//!
//! Guarantees: every variant has a stable snake_case [`DestinationError::code`] that callers may
//! log or match on; messages are lower case without a final period; user input is shown in
//! backticks, truncated and with control characters escaped so that an error
//! message can be logged without letting a client forge log lines. Userinfo is never echoed,
//! because it usually carries a password.

use std::fmt::Write as _;

/// Longest piece of user input (in characters) repeated inside an error message.
const SHOWN_MAX_CHARS: usize = 128;

/// Why a destination, network or request target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationError {
    /// The host part is empty (``, `:80`, `http:///`).
    #[error("empty host")]
    EmptyHost,
    /// The host is not a valid domain name or IP address after canonicalisation.
    #[error("invalid host `{input}`: {reason}")]
    BadHost {
        /// The offending input, escaped and truncated.
        input: String,
        /// Lower-case explanation.
        reason: String,
    },
    /// The authority carries userinfo (`user:pass@host`); it is never echoed.
    #[error("userinfo (`user@` or `user:password@`) is not allowed in a destination")]
    UserInfo,
    /// The port is not a decimal number in `1..=65535`.
    #[error("invalid port `{input}`: {reason}")]
    BadPort {
        /// The offending port text, escaped and truncated.
        input: String,
        /// Lower-case explanation.
        reason: &'static str,
    },
    /// No port was given and there is no default.
    #[error("missing port in `{0}`")]
    MissingPort(String),
    /// The authority is malformed in a way not covered by a more specific variant.
    #[error("invalid authority `{input}`: {reason}")]
    BadAuthority {
        /// The offending input, escaped and truncated.
        input: String,
        /// Lower-case explanation.
        reason: &'static str,
    },
    /// An absolute-form target with a scheme other than `http`.
    #[error("unsupported scheme `{0}`: only `http` is proxied in absolute form")]
    UnsupportedScheme(String),
    /// The request target carries a `#fragment`.
    #[error("fragment not allowed in request target `{0}`")]
    Fragment(String),
    /// The request target is not a valid absolute-form target.
    #[error("invalid request target `{input}`: {reason}")]
    BadTarget {
        /// The offending input, escaped and truncated.
        input: String,
        /// Lower-case explanation.
        reason: &'static str,
    },
    /// A network (CIDR or single address) could not be parsed.
    #[error("invalid network `{input}`: {reason}")]
    BadNet {
        /// The offending input, escaped and truncated.
        input: String,
        /// Lower-case explanation.
        reason: &'static str,
    },
    /// A CIDR has bits set after the prefix, e.g. `10.0.0.1/8`.
    #[error("`{input}` has host bits set; did you mean `{suggestion}`")]
    HostBitsSet {
        /// The offending input, escaped and truncated.
        input: String,
        /// The same network with the host bits cleared.
        suggestion: String,
    },
}

impl DestinationError {
    /// Stable short snake_case code for the variant, suitable for metrics labels and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyHost => "empty_host",
            Self::BadHost { .. } => "bad_host",
            Self::UserInfo => "userinfo",
            Self::BadPort { .. } => "bad_port",
            Self::MissingPort(_) => "missing_port",
            Self::BadAuthority { .. } => "bad_authority",
            Self::UnsupportedScheme(_) => "unsupported_scheme",
            Self::Fragment(_) => "fragment",
            Self::BadTarget { .. } => "bad_target",
            Self::BadNet { .. } => "bad_net",
            Self::HostBitsSet { .. } => "host_bits_set",
        }
    }

    pub(crate) fn bad_host(input: &str, reason: impl Into<String>) -> Self {
        Self::BadHost {
            input: shown(input),
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_port(input: &str, reason: &'static str) -> Self {
        Self::BadPort {
            input: shown(input),
            reason,
        }
    }

    pub(crate) fn bad_authority(input: &str, reason: &'static str) -> Self {
        Self::BadAuthority {
            input: shown(input),
            reason,
        }
    }

    pub(crate) fn bad_target(input: &str, reason: &'static str) -> Self {
        Self::BadTarget {
            input: shown(input),
            reason,
        }
    }

    pub(crate) fn bad_net(input: &str, reason: &'static str) -> Self {
        Self::BadNet {
            input: shown(input),
            reason,
        }
    }
}

/// Render user input for an error message: control characters, whitespace other than the plain
/// space, and invisible or bidi-control characters are escaped (`\n`, `\u{7f}`, `\u{202e}`),
/// and the text is cut after
/// [`SHOWN_MAX_CHARS`] characters with a trailing `...`.
pub(crate) fn shown(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(SHOWN_MAX_CHARS + 8));
    for (i, c) in input.chars().enumerate() {
        if i == SHOWN_MAX_CHARS {
            out.push_str("...");
            break;
        }
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            let _ = write!(out, "{}", c.escape_default());
        } else if !c.is_ascii() && c.escape_debug().len() > 1 {
            // invisible or direction-changing characters (U+200D, U+202E, combining marks)
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown("a\nb\r\t`x`"), "a\\nb\\r\\t`x`");
        assert_eq!(shown("\u{7f}\u{85}\u{2028}"), "\\u{7f}\\u{85}\\u{2028}");
        let long = "a".repeat(500);
        let s = shown(&long);
        assert_eq!(s.len(), SHOWN_MAX_CHARS + 3);
        assert!(s.ends_with("..."));
        assert_eq!(shown("bücher.de"), "bücher.de");
        assert_eq!(shown("a\u{200d}b\u{202e}c"), "a\\u{200d}b\\u{202e}c");
        assert_eq!(shown("例え.テスト"), "例え.テスト");
    }

    #[test]
    fn codes_are_distinct_snake_case() {
        let all = [
            DestinationError::EmptyHost,
            DestinationError::bad_host("x", "r"),
            DestinationError::UserInfo,
            DestinationError::bad_port("x", "r"),
            DestinationError::MissingPort("x".into()),
            DestinationError::bad_authority("x", "r"),
            DestinationError::UnsupportedScheme("x".into()),
            DestinationError::Fragment("x".into()),
            DestinationError::bad_target("x", "r"),
            DestinationError::bad_net("x", "r"),
            DestinationError::HostBitsSet {
                input: "x".into(),
                suggestion: "y".into(),
            },
        ];
        let mut codes: Vec<_> = all.iter().map(DestinationError::code).collect();
        for c in &codes {
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{c}"
            );
        }
        for e in &all {
            let m = e.to_string();
            assert!(!m.ends_with('.'), "{m}");
            assert!(m.chars().next().is_some_and(|c| !c.is_uppercase()), "{m}");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
