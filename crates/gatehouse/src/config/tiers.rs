//! `[tiers.*]`: what the `filtered` tier's categories are and what the `intranet` tier's zones and
//! networks are. The `open` and `none` tiers have nothing to configure.

use ::lists::{CategorySet, Lists};
use destination::net::NetSet;
use destination::DomainName;
use serde::Deserialize;
use toml::Spanned;

use super::lists::categories;
use super::validator::Validator;

/// `[tiers]`: the `filtered` tier's allowed categories (`[tiers.filtered] allow`) and the
/// `intranet` tier's zones and networks (`[tiers.intranet]`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTiers {
    filtered: RawFiltered,
    intranet: RawIntranet,
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

/// `[tiers.filtered]` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawFiltered {
    allow: Vec<Spanned<String>>,
}
