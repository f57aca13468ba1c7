//! `[network]`: the non-global networks every tier may reach once its tier allowed the name.

use destination::net::NetSet;
use serde::Deserialize;
use toml::Spanned;

use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

impl RawNetwork {
    pub(super) fn validate(&self, v: &mut Validator<'_>) -> NetSet {
        v.nets(&self.allow, "network.allow")
    }
}
