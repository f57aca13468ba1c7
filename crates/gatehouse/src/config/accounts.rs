//! `[accounts]`: rules for the principals' credentials that the CLI applies when it sets them.

use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccounts {
    min_password_length: Option<Spanned<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// The fewest characters a new password may have (`user add`, `passwd`); at least 1.
    pub min_password_length: usize,
}

impl RawAccounts {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> AccountSettings {
        const DEFAULT: usize = 10;
        let min_password_length = match &self.min_password_length {
            None => DEFAULT,
            Some(n) if *n.get_ref() >= 1 => *n.get_ref(),
            Some(n) => {
                v.err(
                    n,
                    "accounts.min_password_length",
                    format!("expected a whole number, 1 or more, not `{}`", n.get_ref()),
                );
                DEFAULT
            }
        };
        AccountSettings {
            min_password_length,
        }
    }
}
