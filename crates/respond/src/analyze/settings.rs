//! What the analysis needs to know about the organisation: who is internal, which callers
//! are approved, which models are regulated. From `[respond]` in the configuration.

use modelward_event::ip::{parse_ip, CidrSet, IpRange, IpRangeError};

use crate::grouping::GroupingSettings;

/// Settings of the response side, resolved.
#[derive(Debug, Clone)]
pub struct RespondSettings {
    pub grouping: GroupingSettings,
    /// Principals of the organisation (globs: [`modelward_event::glob`]).
    pub internal_principals: Vec<String>,
    /// Address ranges of the organisation.
    pub internal_networks: CidrSet<()>,
    /// Principals whose spikes are explained: approved load tests, known partners (globs).
    pub approved_principals: Vec<String>,
    /// Models under regulation (finance, health), as model names or object paths (globs).
    pub regulated_models: Vec<String>,
    /// Width of the call-volume buckets, ms.
    pub volume_bucket_ms: i64,
}

impl Default for RespondSettings {
    fn default() -> RespondSettings {
        RespondSettings {
            grouping: GroupingSettings::default(),
            internal_principals: Vec::new(),
            internal_networks: CidrSet::default(),
            approved_principals: Vec::new(),
            regulated_models: Vec::new(),
            volume_bucket_ms: 3_600_000,
        }
    }
}

/// Whether `ip` is in one of the organisation's networks.
pub fn internal_address(settings: &RespondSettings, ip: &str) -> bool {
    parse_ip(ip).is_some_and(|ip| settings.internal_networks.contains(ip))
}

/// Reads address ranges (`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`).
pub fn networks(ranges: &[String]) -> Result<CidrSet<()>, IpRangeError> {
    ranges.iter().map(|r| r.parse::<IpRange>()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_networks() {
        let settings = RespondSettings {
            internal_networks: networks(&["10.0.0.0/8".into(), "2001:db8::/32".into()]).unwrap(),
            ..RespondSettings::default()
        };
        assert!(internal_address(&settings, "10.2.3.4"));
        assert!(!internal_address(&settings, "11.2.3.4"));
        assert!(internal_address(&settings, "2001:db8::1"));
        assert!(internal_address(&settings, "[2001:db8::1]"));
        assert!(internal_address(&settings, "::ffff:10.2.3.4"));
        assert!(!internal_address(&settings, "not an address"));
        assert!(networks(&["10.0.0.0/33".into()]).is_err());
    }
}
