//! `[tiers.*]`: what the `filtered` tier's categories are and what the `intranet` tier's zones and
//! networks are. The `open` and `none` tiers have nothing to configure.

use ::lists::{CategorySet, Lists};
use destination::net::NetSet;
use destination::DomainName;
use serde::Deserialize;
use toml::Spanned;

use super::lists::categories;
use super::validator::Validator;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTiers {
    #[serde(default)]
    filtered: RawFiltered,
    #[serde(default)]
    intranet: RawIntranet,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawFiltered {
    allow: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawIntranet {
    zones: Vec<Spanned<String>>,
    networks: Vec<Spanned<String>>,
}

/// The `intranet` tier's zones and networks.
pub(super) struct Intranet {
    pub(super) zones: Vec<DomainName>,
    pub(super) networks: NetSet,
}

impl RawTiers {
    /// The `intranet` tier: needs nothing but the file.
    pub(super) fn intranet(&self, v: &mut Validator<'_>) -> Intranet {
        let networks = v.nets(&self.intranet.networks, "tiers.intranet.networks");
        let zones = v.domains(
            &self.intranet.zones,
            "tiers.intranet.zones",
            "is an address; put addresses in `tiers.intranet.networks`",
        );
        Intranet { zones, networks }
    }

    /// The `filtered` tier's categories, by name in the loaded lists.
    pub(super) fn filtered_allow(&self, v: &mut Validator<'_>, lists: &Lists) -> CategorySet {
        categories(v, &self.filtered.allow, "tiers.filtered.allow", lists)
    }
}
