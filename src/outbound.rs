//! Fetching what hosts and integrators point us at (calendar feeds, a tenant's payment provider
//! API base, later webhooks) without
//! letting them point us at ourselves: only public addresses unless an operator allows a range
//! (`STAYBASE_OUTBOUND_ALLOW`), the address checked is the address connected to, no redirects,
//! bounded time and size.

use std::{net::IpAddr, time::Duration};

use futures_util::StreamExt;
use ipnet::IpNet;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("only http and https URLs can be fetched")]
    Scheme,
    #[error("the host could not be resolved")]
    Unresolvable,
    #[error("the URL points to a private or reserved address")]
    Forbidden,
    #[error("the server answered {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("fetching failed: {0}")]
    Transport(String),
}

#[derive(Debug, Clone, Default)]
pub struct Outbound {
    allowed: Vec<IpNet>,
}

/// Parses `STAYBASE_OUTBOUND_ALLOW`: comma-separated CIDRs, e.g. `127.0.0.0/8`.
pub fn parse_allow(value: &str) -> Result<Vec<IpNet>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|cidr| !cidr.is_empty())
        .map(|cidr| {
            cidr.parse::<IpNet>()
                .map_err(|_| format!("{cidr} is not a CIDR range like 127.0.0.0/8"))
        })
        .collect()
}

/// Whether an address is on the public internet (not loopback, private, link-local, shared,
/// reserved, documentation or multicast).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let [first, second, ..] = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && second == 0x0db8)
                // Teredo (2001::/32) hides its IPv4 addresses; NAT64 for local use
                // (64:ff9b:1::/48) translates to private networks.
                || (first == 0x2001 && second == 0)
                || (first == 0x64 && second == 0xff9b && v6.segments()[2] == 1))
        }
    }
}

/// The IPv4 address an IPv6 transition form carries, which decides where a connection goes:
/// IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`), NAT64's well-known prefix
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let segments = v6.segments();
    let octets = v6.octets();
    let last_four = || std::net::Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(last_four()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last_four()),
        [0x2002, ..] => Some(std::net::Ipv4Addr::new(
            octets[2], octets[3], octets[4], octets[5],
        )),
        _ => None,
    }
}

impl Outbound {
    pub fn new(allowed: Vec<IpNet>) -> Self {
        Self { allowed }
    }

    fn may_reach(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Resolves the URL's host and returns the address to connect to, if every address it
    /// resolves to may be reached.
    pub async fn check(&self, url: &reqwest::Url) -> Result<std::net::SocketAddr, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme);
        }
        let host = url.host_str().ok_or(FetchError::Unresolvable)?;
        let port = url
            .port_or_known_default()
            .ok_or(FetchError::Unresolvable)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<_> = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((host, port)),
        )
        .await
        .map_err(|_| FetchError::Unresolvable)?
        .map_err(|_| FetchError::Unresolvable)?
        .collect();
        let first = *addresses.first().ok_or(FetchError::Unresolvable)?;
        if addresses.iter().all(|address| self.may_reach(address.ip())) {
            Ok(first)
        } else {
            Err(FetchError::Forbidden)
        }
    }

    /// A client that connects only to the checked address of `url`'s host (a second DNS
    /// answer cannot send it elsewhere), follows no redirects and gives up after `timeout`.
    pub async fn client_for(
        &self,
        url: &reqwest::Url,
        timeout: Duration,
    ) -> Result<reqwest::Client, FetchError> {
        let address = self.check(url).await?;
        let host = url.host_str().ok_or(FetchError::Unresolvable)?;
        reqwest::Client::builder()
            .resolve(host, address)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("Staybase/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| FetchError::Transport(err.to_string()))
    }

    /// GETs the URL, connecting only to the checked address, within `max_bytes`.
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        let url = reqwest::Url::parse(url).map_err(|_| FetchError::Scheme)?;
        let client = self.client_for(&url, Duration::from_secs(15)).await?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| FetchError::Transport(err.to_string()))?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        read_limited(response, max_bytes).await
    }
}

/// A response's body, refused once it grows past `max_bytes`.
pub async fn read_limited(
    response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| FetchError::Transport(err.to_string()))?;
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_reserved_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
            "198.18.0.1",
            // IPv6 forms that carry a private IPv4 address.
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "64:ff9b:1::a00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "64:ff9b::101:101",
            "2002:101:101::1",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn operators_can_allow_ranges() {
        let outbound = Outbound::new(parse_allow("127.0.0.0/8, 10.0.0.0/8").unwrap());
        assert!(outbound.may_reach("127.0.0.1".parse().unwrap()));
        assert!(!outbound.may_reach("192.168.0.1".parse().unwrap()));
        assert!(parse_allow("localhost").is_err());
        assert_eq!(parse_allow("").unwrap(), vec![]);
    }
}
