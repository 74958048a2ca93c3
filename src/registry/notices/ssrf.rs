//! Server-side request forgery: a webhook URL is the customer's choice of where Subreg sends
//! requests, so it must not reach the organization's own network. Loopback, private,
//! link-local, shared (CGNAT), unspecified, multicast and documentation addresses are refused
//! unless the operator allows them (`--webhook-allow-private`). The dispatcher checks every
//! address a name resolves to at each attempt (see `crate::notices::webhook`), so a name that
//! later resolves elsewhere (DNS rebinding) is refused too.

use super::super::error::{RegistryError, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is an address webhooks may not be sent to (without the operator's leave).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => internal_v4(v4),
            None => internal_v6(v6),
        },
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // Shared address space (RFC 6598) and "this network".
        || (a == 100 && (64..128).contains(&b))
        || a == 0
        // Reserved for future use (240/4) and benchmarking (198.18/15).
        || a >= 240
        || (a == 198 && (b == 18 || b == 19))
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
}

/// Checks a webhook URL: http(s) with a host, https unless private targets are allowed, and
/// every address its host resolves to outside the internal ranges (unless allowed).
pub async fn check_target(field: &str, url: &str, allow_internal: bool) -> Result<url::Url> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
        .ok_or_else(|| RegistryError::invalid(field, "must be an https URL with a host"))?;
    if parsed.scheme() != "https" && !allow_internal {
        return Err(RegistryError::invalid(field, "must be an https URL"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(RegistryError::invalid(
            field,
            "must not carry credentials: the signature authenticates Subreg",
        ));
    }
    if allow_internal {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| RegistryError::invalid(field, format!("`{host}` does not resolve")))?
            .map(|a| a.ip())
            .collect(),
    };
    match addresses.iter().find(|ip| is_internal(**ip)) {
        Some(ip) => Err(RegistryError::invalid(
            field,
            format!(
                "`{host}` resolves to {ip}, an internal address: webhooks go to public addresses only"
            ),
        )),
        None if addresses.is_empty() => Err(RegistryError::invalid(
            field,
            format!("`{host}` does not resolve"),
        )),
        None => Ok(parsed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges_are_refused_and_public_ones_allowed() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.215.14", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn a_url_naming_an_internal_address_is_refused() {
        let err = check_target("url", "https://127.0.0.1/hook", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("internal address"), "{err}");
        let err = check_target("url", "http://example.com/hook", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        assert!(
            check_target("url", "https://[::1]:8443/", true)
                .await
                .is_ok()
        );
        assert!(
            check_target("url", "ftp://example.com/", true)
                .await
                .is_err()
        );
    }
}
