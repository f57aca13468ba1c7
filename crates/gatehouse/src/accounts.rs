//! The checks an account change passes before the store, whoever makes it (the command line's
//! `gatehouse user|guest|token` or the portal's admin pages and API), so that both refuse the
//! same input with the same words: a principal's or group's name, a password's length, a tier and
//! a role by name, a list of groups, an expiry (a duration from now or a time, never in the
//! past); and service-account tokens: minted from 32 random bytes, stored as their BLAKE3 hash.
//!
//! Guarantees: a token is `gh_` and 43 characters of URL-safe base64 (32 bytes from the system's
//! random number generator); only [`token_hash`] of it is ever stored.

use std::time::Duration;

use crate::config::parse_duration;
use crate::store::Role;

/// The prefix of a service-account token.
pub const TOKEN_PREFIX: &str = "gh_";

/// Why an account change was refused before the store.
#[derive(Debug, thiserror::Error)]
pub enum AccountCheck {
    #[error("`{0}` is not a valid name: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`")]
    Name(String),
    #[error("the password is too short: it has {has} characters, the minimum is {min}")]
    ShortPassword { has: usize, min: usize },
    #[error("`{0}` is not a tier: use one of `open`, `filtered`, `intranet`, `none`")]
    Tier(String),
    #[error("`{0}` is not a role: use one of `user`, `approver`, `admin`")]
    Role(String),
    #[error("`{text}` is not an expiry for {field}: write a duration (`90d`, `3d`, `12h`) or a time (`2026-12-24T18:00:00Z`)")]
    Expiry { field: &'static str, text: String },
    #[error("{field} `{text}` is in the past: it must be later than now")]
    Past { field: &'static str, text: String },
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

/// A principal's or group's name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn valid_name(name: &str) -> Result<(), AccountCheck> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    match ok {
        true => Ok(()),
        false => Err(AccountCheck::Name(name.to_string())),
    }
}

/// Refuse a password with fewer than `min_chars` Unicode scalar values (never echoing it).
pub fn check_password_length(password: &str, min_chars: usize) -> Result<(), AccountCheck> {
    let has = password.chars().count();
    if has < min_chars {
        return Err(AccountCheck::ShortPassword {
            has,
            min: min_chars,
        });
    }
    Ok(())
}

pub fn tier_of(text: &str) -> Result<policy::Tier, AccountCheck> {
    policy::Tier::parse(text.trim()).ok_or_else(|| AccountCheck::Tier(text.to_string()))
}

pub fn role_of(text: &str) -> Result<Role, AccountCheck> {
    Role::parse(text.trim()).ok_or_else(|| AccountCheck::Role(text.to_string()))
}

/// Group names separated by commas or spaces, each a valid name; empty: none.
pub fn groups_of(text: &str) -> Result<Vec<String>, AccountCheck> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(|g| valid_name(g).map(|()| g.to_string()))
        .collect()
}

/// When something given `text` for `field` ends: a duration from `now_us` (`3d`) or a time
/// (RFC 3339, or a UTC date and time `2026-12-24T18:00`), later than `now_us`; microseconds.
pub fn expiry_of(field: &'static str, text: &str, now_us: i64) -> Result<i64, AccountCheck> {
    let t = text.trim();
    let bad = || AccountCheck::Expiry {
        field,
        text: text.to_string(),
    };
    let at = if let Some(d) = parse_duration(t) {
        now_us.saturating_add(i64::try_from(d.as_micros()).map_err(|_| bad())?)
    } else if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        ts.as_microsecond()
    } else if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp()
            .as_microsecond()
    } else {
        return Err(bad());
    };
    if at <= now_us {
        return Err(AccountCheck::Past {
            field,
            text: text.to_string(),
        });
    }
    Ok(at)
}

/// How long from `now_us` until `at_us` (both microseconds), for what takes a duration.
pub fn lasting(now_us: i64, at_us: i64) -> Duration {
    Duration::from_micros(at_us.saturating_sub(now_us).max(0).unsigned_abs())
}

/// A new service-account token and the hash the store keeps of it.
pub fn mint_token() -> Result<(String, String), AccountCheck> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AccountCheck::Random(e.to_string()))?;
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// What the store keeps of a service-account token.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_durations_or_times_and_never_past() {
        let now = jiff::Timestamp::from_second(1_800_000_000)
            .unwrap()
            .as_microsecond();
        assert_eq!(expiry_of("x", "1h", now).unwrap(), now + 3_600_000_000);
        let later = "2030-01-01T00:00:00Z";
        assert!(expiry_of("x", later, now).unwrap() > now);
        assert!(expiry_of("x", "2030-01-01T00:00", now).unwrap() > now);
        let past = expiry_of("the expiry", "2020-01-01T00:00:00Z", now).unwrap_err();
        assert_eq!(
            past.to_string(),
            "the expiry `2020-01-01T00:00:00Z` is in the past: it must be later than now"
        );
        assert!(matches!(
            expiry_of("x", "soon", now),
            Err(AccountCheck::Expiry { .. })
        ));
    }

    #[test]
    fn tokens_have_their_shape_and_differ() {
        let (t, h) = mint_token().unwrap();
        assert!(t.starts_with(TOKEN_PREFIX));
        assert_eq!(t.len(), 3 + 43);
        assert_eq!(h, token_hash(&t));
        assert_ne!(t, mint_token().unwrap().0);
        assert_eq!(groups_of("a, b c").unwrap(), ["a", "b", "c"]);
        assert!(groups_of("a,b!").is_err());
        assert!(valid_name("").is_err());
    }
}
