//! Client addresses: which field of an event holds the caller's IP, and sets of addresses
//! and CIDR ranges to look it up in.

use std::collections::HashMap;
use std::net::IpAddr;

use modelward_event::Event;

/// The caller's address: `source.ip`, else `client.ip`; IPv4-mapped IPv6 addresses as IPv4.
/// None when neither field holds an address (Azure's masked `203.0.113.***` is not one).
pub fn client_ip(event: &Event) -> Option<IpAddr> {
    let address = event
        .get_str("source.ip")
        .or_else(|| event.get_str("client.ip"))?;
    let ip: IpAddr = address.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// A CIDR range: its network address as an integer (IPv4 in the low 32 bits) and prefix.
fn network(ip: IpAddr, prefix: u8) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            (false, u128::from(bits & mask))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            (true, bits & mask)
        }
    }
}

/// Addresses and CIDR ranges, each with a value (e.g. the list and label naming it).
/// Lookup tries each prefix length present, longest first, so it costs one hash probe per
/// distinct prefix length of the set, not one per range.
#[derive(Debug, Clone)]
pub struct CidrSet<V> {
    /// (is IPv6, prefix length, network) -> value.
    ranges: HashMap<(bool, u8, u128), V>,
    /// Prefix lengths present, longest first, per family.
    v4_prefixes: Vec<u8>,
    v6_prefixes: Vec<u8>,
}

impl<V> Default for CidrSet<V> {
    fn default() -> Self {
        CidrSet {
            ranges: HashMap::new(),
            v4_prefixes: Vec::new(),
            v6_prefixes: Vec::new(),
        }
    }
}

impl<V> CidrSet<V> {
    /// Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::/32` (brackets allowed around IPv6).
    pub fn parse_range(text: &str) -> Result<(IpAddr, u8), String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let ip: IpAddr = addr
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR range"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        Ok((ip, prefix))
    }

    /// Adds a range; a range already present keeps its first value.
    pub fn insert(&mut self, ip: IpAddr, prefix: u8, value: V) {
        let (v6, net) = network(ip, prefix);
        self.ranges.entry((v6, prefix, net)).or_insert(value);
        let prefixes = if v6 {
            &mut self.v6_prefixes
        } else {
            &mut self.v4_prefixes
        };
        if let Err(at) = prefixes.binary_search_by(|p| prefix.cmp(p)) {
            prefixes.insert(at, prefix);
        }
    }

    /// The value of the most specific range holding `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<(u8, &V)> {
        let prefixes = if ip.is_ipv4() {
            &self.v4_prefixes
        } else {
            &self.v6_prefixes
        };
        prefixes.iter().find_map(|&prefix| {
            let (v6, net) = network(ip, prefix);
            self.ranges.get(&(v6, prefix, net)).map(|v| (prefix, v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn most_specific_range_wins_in_both_families() {
        let mut set = CidrSet::default();
        for (range, label) in [
            ("203.0.113.0/24", "net"),
            ("203.0.113.7", "host"),
            ("0.0.0.0/0", "all"),
            ("2001:db8::/32", "v6"),
            ("[2001:db8::1]", "v6 host"),
        ] {
            let (addr, prefix) = CidrSet::<()>::parse_range(range).unwrap();
            set.insert(addr, prefix, label);
        }
        assert_eq!(set.get(ip("203.0.113.7")), Some((32, &"host")));
        assert_eq!(set.get(ip("203.0.113.8")), Some((24, &"net")));
        assert_eq!(set.get(ip("198.51.100.1")), Some((0, &"all")));
        assert_eq!(set.get(ip("2001:db8::1")), Some((128, &"v6 host")));
        assert_eq!(set.get(ip("2001:db8:ffff::9")), Some((32, &"v6")));
        assert_eq!(set.get(ip("2001:db9::1")), None);
    }

    #[test]
    fn bad_ranges_are_errors() {
        assert!(CidrSet::<()>::parse_range("10.0.0.0/33").is_err());
        assert!(CidrSet::<()>::parse_range("10.0.0/8").is_err());
        assert!(CidrSet::<()>::parse_range("2001:db8::/129").is_err());
        assert!(CidrSet::<()>::parse_range("host.example").is_err());
        assert_eq!(
            CidrSet::<()>::parse_range("10.1.2.3/8").unwrap(),
            (ip("10.1.2.3"), 8)
        );
    }

    #[test]
    fn client_ip_reads_source_then_client_and_unmaps_v4() {
        let ev = |j: &str| Event::from_json(j).unwrap();
        assert_eq!(
            client_ip(&ev(r#"{"source":{"ip":"::ffff:198.51.100.4"}}"#)),
            Some(ip("198.51.100.4"))
        );
        assert_eq!(
            client_ip(&ev(r#"{"client":{"ip":"2001:db8::1"}}"#)),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(client_ip(&ev(r#"{"source":{"ip":"203.0.113.***"}}"#)), None);
    }
}
