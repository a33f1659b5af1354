//! IP addresses and CIDR ranges, in one address space as Elasticsearch's `ip` type has it:
//! an IPv4 address is its IPv4-mapped IPv6 address (`10.1.2.3` is `::ffff:10.1.2.3`). So
//! `10.0.0.0/8` holds `::ffff:10.1.2.3`, `::ffff:10.0.0.0/104` holds `10.1.2.3`, and an IPv6
//! range that covers `::ffff:0:0/96` (`::/0`, for one) holds every IPv4 address.
//!
//! One range type, [`IpRange`], and one set of ranges, [`CidrSet`], for ES|QL's
//! `CIDR_MATCH`, Sigma's `|cidr`, exceptions' `ips`, the suspicious-IP lists and the
//! responder's internal networks.
//!
//! ```
//! use modelward_event::ip::{parse_ip, CidrSet, IpRange};
//! let range: IpRange = "10.0.0.0/8".parse().unwrap();
//! assert!(range.contains(parse_ip("10.200.3.4").unwrap()));
//! assert!(range.contains(parse_ip("::ffff:10.1.2.3").unwrap()));
//! let mut set = CidrSet::default();
//! set.insert(range, "internal");
//! set.insert("2001:db8::/32".parse().unwrap(), "lab");
//! assert_eq!(set.get(parse_ip("[2001:db8::1]").unwrap()), Some(&"lab"));
//! assert_eq!(set.get(parse_ip("192.0.2.1").unwrap()), None);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// An address as text: IPv4, IPv6, IPv4-mapped IPv6, IPv6 in brackets (`[2001:db8::1]`);
/// white space around it is ignored.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    text.parse().ok()
}

/// An IPv4-mapped IPv6 address as IPv4; any other address as it is.
pub fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address as 128 bits, IPv4 mapped into IPv6.
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The mask of a prefix of `len` (0 to 128) bits.
fn mask(len: u32) -> u128 {
    u128::MAX.checked_shl(128 - len).unwrap_or(0)
}

/// A text that is not an address or range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpRangeError {
    #[error("`{0}` is not an IP address or CIDR range")]
    NotAnAddress(String),
    #[error("`{text}`: the prefix length must be 0 to {max}")]
    Prefix { text: String, max: u8 },
}

/// An address or a CIDR range, IPv4 or IPv6: `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`,
/// `[2001:db8::1]`. The address may have host bits set (`10.1.2.3/8` is `10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    pub address: IpAddr,
    /// Bits of the prefix: 0 to 32 for an IPv4 address, to 128 for IPv6.
    pub prefix: u8,
}

impl IpRange {
    /// The range of one address.
    pub fn host(address: IpAddr) -> IpRange {
        IpRange {
            address,
            prefix: if address.is_ipv4() { 32 } else { 128 },
        }
    }

    /// The prefix length in the 128-bit space (an IPv4 prefix plus the 96 bits of the
    /// mapping).
    fn wide_prefix(&self) -> u32 {
        let (max, mapping) = if self.address.is_ipv4() {
            (32, 96)
        } else {
            (128, 0)
        };
        u32::from(self.prefix).min(max) + mapping
    }

    /// Whether the range holds `ip` (see the module's note on IPv4 in IPv6).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let m = mask(self.wide_prefix());
        bits(ip) & m == bits(self.address) & m
    }

    /// Whether the address has bits set after the prefix (`10.1.2.3/8`), which a strict
    /// reader (pySigma's `|cidr`) refuses.
    pub fn has_host_bits(&self) -> bool {
        bits(self.address) & !mask(self.wide_prefix()) != 0
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;

    /// `address` or `address/prefix`; white space around either part is ignored.
    fn from_str(text: &str) -> Result<IpRange, IpRangeError> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address =
            parse_ip(address).ok_or_else(|| IpRangeError::NotAnAddress(text.to_string()))?;
        let host = IpRange::host(address);
        let Some(prefix) = prefix else {
            return Ok(host);
        };
        let prefix = prefix
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= host.prefix)
            .ok_or_else(|| IpRangeError::Prefix {
                text: text.to_string(),
                max: host.prefix,
            })?;
        Ok(IpRange { address, prefix })
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl<'de> Deserialize<'de> for IpRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IpRange, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = IpRange;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an IP address or CIDR range as a string, e.g. \"10.0.0.0/8\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IpRange, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}

/// Ranges, each with a value (the list and label naming it, or `()`). A lookup tries each
/// prefix length present, longest first, so it costs one hash probe per distinct prefix
/// length in the set, not one per range.
#[derive(Debug, Clone)]
pub struct CidrSet<V> {
    /// (prefix length in the 128-bit space, network bits) -> value.
    ranges: HashMap<(u32, u128), V>,
    /// The prefix lengths present (128-bit space), longest first.
    prefixes: Vec<u32>,
}

impl<V> Default for CidrSet<V> {
    fn default() -> Self {
        CidrSet {
            ranges: HashMap::new(),
            prefixes: Vec::new(),
        }
    }
}

impl<V> CidrSet<V> {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Adds a range; a range already present (in either spelling: `10.0.0.0/8`,
    /// `::ffff:10.0.0.0/104`) keeps its first value.
    pub fn insert(&mut self, range: IpRange, value: V) {
        let prefix = range.wide_prefix();
        self.ranges
            .entry((prefix, bits(range.address) & mask(prefix)))
            .or_insert(value);
        if let Err(at) = self.prefixes.binary_search_by(|p| prefix.cmp(p)) {
            self.prefixes.insert(at, prefix);
        }
    }

    /// The value of the most specific range holding `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<&V> {
        let ip = bits(ip);
        self.prefixes
            .iter()
            .find_map(|&prefix| self.ranges.get(&(prefix, ip & mask(prefix))))
    }

    /// Whether a range holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.get(ip).is_some()
    }
}

impl<V: Default> FromIterator<IpRange> for CidrSet<V> {
    fn from_iter<I: IntoIterator<Item = IpRange>>(ranges: I) -> Self {
        let mut set = CidrSet::default();
        for r in ranges {
            set.insert(r, V::default());
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        parse_ip(s).unwrap()
    }

    fn range(s: &str) -> IpRange {
        s.parse().unwrap()
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_ip(" 10.0.0.1 "), Some(ip("10.0.0.1")));
        assert_eq!(parse_ip("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(parse_ip("2001:db8::1"), Some(ip("[2001:db8::1]")));
        assert_eq!(parse_ip("[2001:db8::1"), None);
        assert_eq!(parse_ip("203.0.113.***"), None);
        assert_eq!(parse_ip("10.0.0"), None);
        assert_eq!(parse_ip("host.example"), None);
        assert_eq!(unmapped(ip("::ffff:198.51.100.4")), ip("198.51.100.4"));
        assert_eq!(unmapped(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(unmapped(ip("10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn parsing_ranges() {
        assert_eq!(
            range("10.1.2.3/8"),
            IpRange {
                address: ip("10.1.2.3"),
                prefix: 8
            }
        );
        assert_eq!(range("192.0.2.7").prefix, 32);
        assert_eq!(range("2001:db8::5").prefix, 128);
        assert_eq!(range("[2001:db8::]/32"), range("2001:db8::/32"));
        assert_eq!(range(" 10.0.0.0 / 8 "), range("10.0.0.0/8"));
        assert_eq!(range("0.0.0.0/0").prefix, 0);
        assert_eq!(range("::/0").prefix, 0);
        for (bad, message) in [
            (
                "10.0.0.0/33",
                "`10.0.0.0/33`: the prefix length must be 0 to 32",
            ),
            (
                "2001:db8::/129",
                "`2001:db8::/129`: the prefix length must be 0 to 128",
            ),
            (
                "10.0.0.0/-1",
                "`10.0.0.0/-1`: the prefix length must be 0 to 32",
            ),
            (
                "10.0.0.0/",
                "`10.0.0.0/`: the prefix length must be 0 to 32",
            ),
            ("10.0.0/8", "`10.0.0/8` is not an IP address or CIDR range"),
            (
                "host.example",
                "`host.example` is not an IP address or CIDR range",
            ),
            ("", "`` is not an IP address or CIDR range"),
        ] {
            assert_eq!(bad.parse::<IpRange>().unwrap_err().to_string(), message);
        }
        assert_eq!(range("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(range("2001:db8::/32").to_string(), "2001:db8::/32");
    }

    #[test]
    fn ipv4_ranges() {
        let r = range("10.0.0.0/8");
        assert!(r.contains(ip("10.0.0.0")));
        assert!(r.contains(ip("10.255.255.255")));
        assert!(!r.contains(ip("11.0.0.0")));
        assert!(!r.contains(ip("9.255.255.255")));
        assert!(range("10.1.2.3").contains(ip("10.1.2.3")));
        assert!(!range("10.1.2.3").contains(ip("10.1.2.4")));
        assert!(range("10.1.2.3/8").contains(ip("10.9.9.9")));
        assert!(range("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!range("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(range("192.168.0.0/16").contains(ip("192.168.77.1")));
        assert!(!range("192.168.0.0/16").contains(ip("192.169.0.1")));
    }

    #[test]
    fn ipv6_ranges() {
        let r = range("2001:db8::/32");
        assert!(r.contains(ip("2001:db8::1")));
        assert!(r.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!r.contains(ip("2001:db9::")));
        assert!(range("2001:db8:1::/48").contains(ip("2001:db8:1:ffff::1")));
        assert!(!range("2001:db8:1::/48").contains(ip("2001:db8:2::1")));
        assert!(range("[2001:db8::5]").contains(ip("2001:db8::5")));
        assert!(!range("[2001:db8::5]").contains(ip("2001:db8::6")));
        assert!(range("fe80::/10").contains(ip("febf::1")));
        assert!(!range("fe80::/10").contains(ip("fec0::1")));
        assert!(range("::/0").contains(ip("2001:db8::1")));
    }

    #[test]
    fn ipv4_in_the_ipv6_space() {
        // As Elasticsearch: an IPv4 address is its mapped IPv6 address.
        assert!(range("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(!range("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
        assert!(range("::ffff:10.0.0.0/104").contains(ip("10.1.2.3")));
        assert!(range("::ffff:0:0/96").contains(ip("198.51.100.1")));
        assert!(range("::/0").contains(ip("198.51.100.1")));
        assert!(!range("2001:db8::/32").contains(ip("198.51.100.1")));
        // IPv4-compatible (`::a.b.c.d`) is not IPv4-mapped.
        assert!(!range("10.0.0.0/8").contains(ip("::10.1.2.3")));
    }

    #[test]
    fn host_bits() {
        assert!(!range("10.0.0.0/8").has_host_bits());
        assert!(range("10.0.0.1/8").has_host_bits());
        assert!(!range("10.0.0.1").has_host_bits());
        assert!(!range("0.0.0.0/0").has_host_bits());
        assert!(range("2001:db8::1/32").has_host_bits());
        assert!(!range("2001:db8::/32").has_host_bits());
    }

    #[test]
    fn most_specific_range_wins_in_both_families() {
        let mut set = CidrSet::default();
        for (r, label) in [
            ("203.0.113.0/24", "net"),
            ("203.0.113.7", "host"),
            ("0.0.0.0/0", "all"),
            ("2001:db8::/32", "v6"),
            ("[2001:db8::1]", "v6 host"),
            ("203.0.113.0/24", "again"),
            ("::ffff:203.0.113.0/120", "mapped"),
        ] {
            set.insert(range(r), label);
        }
        assert_eq!(set.len(), 5);
        assert_eq!(set.get(ip("203.0.113.7")), Some(&"host"));
        assert_eq!(set.get(ip("203.0.113.8")), Some(&"net"));
        assert_eq!(set.get(ip("::ffff:203.0.113.8")), Some(&"net"));
        assert_eq!(set.get(ip("198.51.100.1")), Some(&"all"));
        assert_eq!(set.get(ip("2001:db8::1")), Some(&"v6 host"));
        assert_eq!(set.get(ip("2001:db8:ffff::9")), Some(&"v6"));
        assert_eq!(set.get(ip("2001:db9::1")), None);
        assert!(!set.contains(ip("2001:db9::1")));
        let empty = CidrSet::<()>::default();
        assert!(empty.is_empty() && !empty.contains(ip("10.0.0.1")));
        let set: CidrSet<()> = [range("10.0.0.0/8"), range("2001:db8::/32")]
            .into_iter()
            .collect();
        assert!(set.contains(ip("10.2.3.4")) && set.contains(ip("2001:db8::9")));
        assert!(!set.contains(ip("11.2.3.4")));
    }

    #[test]
    fn ranges_deserialize_from_strings() {
        let r: IpRange = serde_json::from_str("\"10.0.0.0/8\"").unwrap();
        assert_eq!(r, range("10.0.0.0/8"));
        let e = serde_json::from_str::<IpRange>("\"10.0.0.0/33\"").unwrap_err();
        assert!(e.to_string().contains("prefix length"), "{e}");
        let e = serde_json::from_str::<IpRange>("8").unwrap_err();
        assert!(e.to_string().contains("CIDR range as a string"), "{e}");
    }
}
