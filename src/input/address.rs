//! Peer addresses as CometBFT accepts them: host (IPv4, bracketed IPv6 or DNS name) and port 1–65535.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Host {
    Ip(IpAddr),
    /// A lowercase LDH name without trailing dot; CometBFT resolves it once, at node start.
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Endpoint {
    pub(crate) host: Host,
    pub(crate) port: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum AddressError {
    #[error("empty host")]
    EmptyHost,
    #[error(
        "{0:?} is an IPv6 address without brackets; write it as [{0}]:PORT, as CometBFT requires"
    )]
    UnbracketedIpv6(String),
    #[error(
        "{0} is not a usable peer address: CometBFT rejects unspecified, broadcast and 2001:db8::/32 (RFC 3849) addresses"
    )]
    UnusableIp(String),
    #[error("{host:?} is not a valid host name: {reason}")]
    BadName { host: String, reason: &'static str },
    #[error("port {0:?} is not a number from 1 to 65535")]
    BadPort(String),
    #[error("{0:?} has no port; expected HOST:PORT")]
    MissingPort(String),
    #[error("{0:?} is not HOST:PORT")]
    Malformed(String),
    #[error("{0:?} carries a URL scheme; a peer address is plain HOST:PORT")]
    Scheme(String),
}

impl Host {
    /// Parses a host as CometBFT's `NewNetAddressString` would see it (without brackets).
    pub(crate) fn parse(text: &str) -> Result<Host, AddressError> {
        if text.is_empty() {
            return Err(AddressError::EmptyHost);
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Host::from_ip(ip);
        }
        if text.contains(':') {
            return Err(AddressError::UnbracketedIpv6(text.to_owned()));
        }
        validate_name(text).map(Host::Name)
    }

    pub(crate) fn from_ip(ip: IpAddr) -> Result<Host, AddressError> {
        // Go's net.IP treats ::ffff:a.b.c.d as the IPv4 address, so CometBFT's checks apply to it.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let unusable = ip.is_unspecified()
            || ip == IpAddr::V4(Ipv4Addr::BROADCAST)
            || matches!(ip, IpAddr::V6(v6) if is_rfc3849(v6));
        if unusable {
            Err(AddressError::UnusableIp(ip.to_string()))
        } else {
            Ok(Host::Ip(ip))
        }
    }

    /// False for addresses CometBFT's `addr_book_strict` refuses (RFC 1918, loopback, link-local, ULA…).
    pub(crate) fn is_routable(&self) -> bool {
        match self {
            Host::Name(_) => true,
            Host::Ip(IpAddr::V4(v4)) => {
                !(v4.is_private()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64))
            }
            Host::Ip(IpAddr::V6(v6)) => {
                let first = v6.segments()[0];
                !(v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
            }
        }
    }
}

fn is_rfc3849(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    s[0] == 0x2001 && s[1] == 0x0db8
}

/// Letter-digit-hyphen names (RFC 1123), labels of 1–63 octets, at most 253 octets in all.
fn validate_name(text: &str) -> Result<String, AddressError> {
    let bad = |reason| AddressError::BadName {
        host: text.to_owned(),
        reason,
    };
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > 253 {
        return Err(bad("longer than 253 octets"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(bad("it has an empty label"));
        }
        if label.len() > 63 {
            return Err(bad("a label is longer than 63 octets"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(bad(
                "only letters, digits, hyphens and dots are allowed (LDH, RFC 1123)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label starts or ends with a hyphen"));
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("its last label is numeric but it is not an IP address"));
    }
    Ok(name.to_ascii_lowercase())
}

pub(crate) fn parse_port(text: &str) -> Result<u16, AddressError> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 && !text.starts_with('+') => Ok(p),
        _ => Err(AddressError::BadPort(text.to_owned())),
    }
}

/// Splits `host:port` / `[v6]:port`; the port part is `None` when absent.
pub(crate) fn split_host_port(text: &str) -> Result<(&str, Option<&str>), AddressError> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| AddressError::Malformed(text.to_owned()))?;
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or_else(|| AddressError::Malformed(text.to_owned())),
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => {
            let (h, p) = text.split_once(':').expect("one colon");
            Ok((h, Some(p)))
        }
        _ if text.contains("://") => Err(AddressError::Scheme(text.to_owned())),
        // Only text that reads as IPv6 (whole, or before a last `:port`) is told to add brackets.
        _ if text.parse::<Ipv6Addr>().is_ok()
            || text
                .rsplit_once(':')
                .is_some_and(|(h, _)| h.parse::<Ipv6Addr>().is_ok()) =>
        {
            Err(AddressError::UnbracketedIpv6(text.to_owned()))
        }
        _ => Err(AddressError::Malformed(text.to_owned())),
    }
}

impl Endpoint {
    /// Parses `host:port` where the port is mandatory.
    pub(crate) fn parse(text: &str) -> Result<Endpoint, AddressError> {
        let (host, port) = split_host_port(text)?;
        let port = port.ok_or_else(|| AddressError::MissingPort(text.to_owned()))?;
        let host = if text.starts_with('[') {
            match host.parse::<Ipv6Addr>() {
                Ok(v6) => Host::from_ip(IpAddr::V6(v6))?,
                Err(_) => return Err(AddressError::Malformed(text.to_owned())),
            }
        } else {
            Host::parse(host)?
        };
        Ok(Endpoint {
            host,
            port: parse_port(port)?,
        })
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// A host as written in files: parsed (and so validated) when read.
impl serde::Serialize for Host {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Host::Ip(ip) => s.collect_str(ip),
            Host::Name(n) => s.serialize_str(n),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Host {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Host, D::Error> {
        let text = String::deserialize(d)?;
        Host::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// As CometBFT writes it: `host:port`, IPv6 bracketed.
impl serde::Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Endpoint, D::Error> {
        let text = String::deserialize(d)?;
        Endpoint::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_cometbft_accepts() {
        assert_eq!(
            Endpoint::parse("203.0.113.10:26656").unwrap().to_string(),
            "203.0.113.10:26656"
        );
        assert_eq!(
            Endpoint::parse("[2001:470::1]:26656").unwrap().to_string(),
            "[2001:470::1]:26656"
        );
        assert_eq!(
            Endpoint::parse("Alice.Validators.com.:1")
                .unwrap()
                .to_string(),
            "alice.validators.com:1"
        );
    }

    #[test]
    fn rejects_what_cometbft_rejects() {
        for bad in [
            "0.0.0.0:26656",
            "255.255.255.255:26656",
            "[::]:26656",
            "[2001:db8::1]:26656",
            "[::ffff:0.0.0.0]:26656",
            "[::ffff:255.255.255.255]:26656",
            "2001:470::1:26656",
            "host:0",
            "host:65536",
            "host:+1",
            "host",
            ":26656",
            "ho st:1",
            "-host:1",
            "1.2.3.999:1",
            "[host]:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn routability() {
        assert!(!Host::parse("10.0.0.1").unwrap().is_routable());
        assert!(!Host::parse("fd00::1").unwrap().is_routable());
        assert!(!Host::parse("::ffff:127.0.0.1").unwrap().is_routable());
        assert!(Host::parse("203.0.113.10").unwrap().is_routable());
    }
}
