//! Client addresses: which field of an event holds the caller's IP. The ranges to look it up
//! in are [`modelward_event::ip::CidrSet`]s.

use std::net::IpAddr;

use modelward_event::fields::SOURCE_IP;
use modelward_event::ip::{parse_ip, unmapped};
use modelward_event::Event;

/// The caller's address: the first of the address fields ([`SOURCE_IP`]: `source.ip`, else
/// `client.ip`) the event has; IPv4-mapped IPv6 addresses as IPv4. None when that field
/// holds no address (Azure's masked `203.0.113.***` is not one).
pub fn client_ip(event: &Event) -> Option<IpAddr> {
    let address = SOURCE_IP.iter().find_map(|f| event.get_str(f))?;
    parse_ip(address).map(unmapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
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
