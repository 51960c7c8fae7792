//! Where the push may send to. A subscriber's URL is given by a department's key, so the push
//! must not become a way into the service's own network: addresses that are loopback, private,
//! link-local, shared, unspecified or multicast are refused unless the operator allows their
//! network (`--push-allow-networks`). The check is made on the addresses the connection will
//! use: a host name's addresses are resolved, filtered, and only the allowed ones connected to,
//! so a name that resolves differently later (DNS rebinding) cannot reach a refused address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The networks an operator allows beyond the public Internet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks(Vec<IpNet>);

impl Networks {
    /// Reads `a.b.c.d/n` or `addr` items (IPv4 or IPv6).
    pub fn parse(items: &[String]) -> Result<Networks, String> {
        items
            .iter()
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is not an IP network (a.b.c.d/n) or address"))
            })
            .collect::<Result<_, _>>()
            .map(Networks)
    }

    /// Whether the push may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Checks a subscriber URL: `http` or `https`, a host, no user information, and, when the
    /// host is an address, one the push may connect to.
    pub fn check_url(&self, text: &str) -> Result<(), String> {
        let url = reqwest::Url::parse(text).map_err(|err| format!("is not a URL: {err}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("must be http or https, not `{}`", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        match url.host() {
            None => Err("must name a host".into()),
            Some(url::Host::Ipv4(ip)) => self.check_ip(ip.into()),
            Some(url::Host::Ipv6(ip)) => self.check_ip(ip.into()),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.allows(ip) {
            Ok(())
        } else {
            Err(format!("is on a network the push does not send to ({ip} is not public); an operator can allow it with --push-allow-networks"))
        }
    }
}

/// Whether an address is on the public Internet.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names with the system's resolver and keeps only the addresses the push may use.
pub struct Resolver(pub Arc<Networks>);

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let networks = Arc::clone(&self.0);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| networks.allows(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("`{host}` resolves to no address the push may send to").into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_unless_their_network_is_allowed() {
        let none = Networks::default();
        for refused in [
            "http://127.0.0.1:8080/hook",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(none.check_url(refused).is_err(), "{refused}");
        }
        assert!(none.check_url("https://8.8.8.8/hook").is_ok());
        assert!(none.check_url("https://hooks.example.gov.cn/x").is_ok());
        assert!(none.check_url("ftp://8.8.8.8/").is_err());
        assert!(none.check_url("http://user:pw@8.8.8.8/").is_err());
        let loopback = Networks::parse(&["127.0.0.0/8".into()]).unwrap();
        assert!(loopback.check_url("http://127.0.0.1:9/hook").is_ok());
        assert!(loopback.check_url("http://10.0.0.1/").is_err());
        assert!(Networks::parse(&["nonsense".into()]).is_err());
    }
}
