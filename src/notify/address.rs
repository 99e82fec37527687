//! Which addresses a submission's `notify_url` may reach: public ones, and
//! those the lab's configuration allows (`notify_allow`). Anything else
//! (this workstation, the lab's private networks, link-local, multicast,
//! broadcast, unspecified and reserved addresses) is refused, so that a
//! submitter cannot make the server post, with a path and query of their
//! choosing, to services only it can reach: its own `/queue/pause`, a
//! printer's admin page, a cloud's metadata service.
//!
//! The URL is checked twice. At submission, a host that is an address, in any
//! spelling a resolver takes (`127.1`, `0x7f000001`, `2130706433`,
//! `0177.0.0.1`, `0`, `[::ffff:127.0.0.1]`), and `localhost` names, are
//! refused at once. At each delivery the host is resolved, every address is
//! checked, and the connection goes to an address that was checked, never
//! to the name again, so a name that answers differently the second time
//! (DNS rebinding) reaches nothing it should not.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::endpoint::Endpoint;

/// How long resolving a receiver's name may take: what a resolver with a
/// retry or two takes to give up on a dead name server.
pub const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the lab allows beyond public addresses: networks (`10.0.0.0/8`,
/// `127.0.0.1`, `fd00::/8`) and host names (`lab-bot.lab.example.org`,
/// whatever it resolves to).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowance {
    entries: Vec<Allowed>,
}

/// One entry of `notify_allow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Addresses within `prefix` bits of `network`.
    Network { network: IpAddr, prefix: u8 },
    /// A host name, lowercase, without a trailing dot.
    Host(String),
}

impl Allowed {
    /// Reads one entry: a network in CIDR form, an address, or a host name.
    pub fn parse(text: &str) -> Result<Allowed, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "'{text}' is not a network, an address or a host name; give one such as \
                 10.0.0.0/8, 192.168.1.20, fd00::/8 or lab-bot.lab.example.org"
            )
        };
        if let Some((address, prefix)) = text.split_once('/') {
            let network: IpAddr = address.parse().map_err(|_| bad())?;
            let most = if network.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|&prefix| prefix <= most)
                .ok_or_else(bad)?;
            return Ok(Allowed::Network {
                network: network.to_canonical(),
                prefix,
            });
        }
        if let Ok(address) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
            let address = address.to_canonical();
            return Ok(Allowed::Network {
                network: address,
                prefix: if address.is_ipv4() { 32 } else { 128 },
            });
        }
        let name = text.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        // A name that reads as a number is an address in another spelling.
        if valid && !matches!(literal(&name), Ok(Some(_)) | Err(_)) {
            Ok(Allowed::Host(name))
        } else {
            Err(bad())
        }
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self, address.to_canonical()) {
            (Allowed::Network { network, prefix }, address) => within(address, *network, *prefix),
            (Allowed::Host(_), _) => false,
        }
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Allowed::Network { network, prefix } => write!(f, "{network}/{prefix}"),
            Allowed::Host(name) => f.write_str(name),
        }
    }
}

/// Whether `address` is within the first `prefix` bits of `network`.
fn within(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    let (address, network, width) = match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let shift = width - u32::from(prefix);
    shift >= width || (address >> shift) == (network >> shift)
}

impl Allowance {
    pub fn new(entries: Vec<Allowed>) -> Allowance {
        Allowance { entries }
    }

    pub fn entries(&self) -> &[Allowed] {
        &self.entries
    }

    /// Whether the lab allows `host` by name (whatever it resolves to).
    fn allows_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.entries
            .iter()
            .any(|entry| matches!(entry, Allowed::Host(name) if name.eq_ignore_ascii_case(host)))
    }

    /// Why notifications may not reach `address`; `None` when they may.
    fn refuses(&self, address: IpAddr) -> Option<&'static str> {
        let why = special(address)?;
        (!self.entries.iter().any(|entry| entry.contains(address))).then_some(why)
    }

    /// Checks a URL as it is submitted: a host that is an address (in any
    /// spelling) must be one notifications may reach, and a `localhost` name
    /// is this workstation. A name is resolved only when it is delivered to.
    pub fn check_at_submission(&self, url: &Endpoint) -> Result<(), String> {
        let host = url.host();
        if self.allows_name(host) {
            return Ok(());
        }
        match literal_host(url)? {
            Some(address) => match self.refuses(address) {
                Some(why) => Err(refusal(host, address, why)),
                None => Ok(()),
            },
            // Whatever the name servers say, it is this workstation.
            None if is_localhost(host) => match self.refuses(IpAddr::V4(Ipv4Addr::LOCALHOST)) {
                Some(why) => Err(format!(
                    "names {host}, {why}, which notifications may not reach; give the \
                     receiver's public address (the operator allows the lab's own networks \
                     with notify_allow)"
                )),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// The addresses to connect to for `url`, each checked: its host if
    /// that is an address, else those its name resolves to now that may be
    /// reached. `Refused` when none may be (which no later attempt
    /// changes), `Unresolved` when the name does not resolve now.
    pub async fn resolve(&self, url: &Endpoint) -> Result<Vec<SocketAddr>, Unreachable> {
        let host = url.host();
        let by_name = self.allows_name(host);
        if !by_name {
            self.check_at_submission(url)
                .map_err(Unreachable::Refused)?;
        }
        let found = lookup(url).await?;
        if by_name {
            return Ok(found);
        }
        let mut refused = None;
        let reachable: Vec<SocketAddr> = found
            .into_iter()
            .filter(|address| match self.refuses(address.ip()) {
                Some(why) => {
                    refused = refused.or(Some((address.ip(), why)));
                    false
                }
                None => true,
            })
            .collect();
        match refused {
            Some((address, why)) if reachable.is_empty() => {
                Err(Unreachable::Refused(refusal(host, address, why)))
            }
            _ => Ok(reachable),
        }
    }
}

/// The addresses `url` names, unchecked: its host if that is an address,
/// else what its name resolves to now (the lab's own URL, which the operator
/// gave, is taken as it is).
pub async fn lookup(url: &Endpoint) -> Result<Vec<SocketAddr>, Unreachable> {
    if let Some(address) = literal_host(url).map_err(Unreachable::Refused)? {
        return Ok(vec![SocketAddr::new(address, url.port())]);
    }
    let host = url.host();
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, url.port())))
        .await
        .map_err(|_| {
            Unreachable::Unresolved(format!(
                "{host} did not resolve within {} s",
                RESOLVE_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|err| Unreachable::Unresolved(format!("could not resolve {host}: {err}")))?;
    let found: Vec<SocketAddr> = found
        .map(|address| SocketAddr::new(address.ip().to_canonical(), address.port()))
        .collect();
    if found.is_empty() {
        return Err(Unreachable::Unresolved(format!(
            "{host} resolved to no address"
        )));
    }
    Ok(found)
}

/// The origin a URL posts to, as one receiver: its scheme, its host (an
/// address in one spelling, a name in lowercase) and its port.
pub fn origin(url: &Endpoint) -> String {
    let host = match literal_host(url) {
        Ok(Some(IpAddr::V6(v6))) => format!("[{v6}]"),
        Ok(Some(address)) => address.to_string(),
        _ => url.host().trim_end_matches('.').to_ascii_lowercase(),
    };
    format!("http://{host}:{}", url.port())
}

/// Why a receiver cannot be reached.
#[derive(Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Its address is one notifications may not reach.
    Refused(String),
    /// Its name does not resolve now (it may later).
    Unresolved(String),
}

fn refusal(host: &str, address: IpAddr, why: &str) -> String {
    let shown = if host.trim_matches(['[', ']']) == address.to_string() {
        format!("{address}")
    } else {
        format!("{host} ({address})")
    };
    format!(
        "names {shown}, {why}, which notifications may not reach; give the receiver's \
         public address (the operator allows the lab's own networks with notify_allow)"
    )
}

/// Whether `host` is a `localhost` name, which resolves to this workstation
/// whatever the name servers say (RFC 6761).
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// The address a URL's host is, if it is one.
fn literal_host(url: &Endpoint) -> Result<Option<IpAddr>, String> {
    if url.authority().starts_with('[') {
        return url
            .host()
            .parse::<Ipv6Addr>()
            .map(|address| Some(IpAddr::V6(address).to_canonical()))
            .map_err(|_| format!("names [{}], which is not an IPv6 address", url.host()));
    }
    literal(url.host()).map_err(|()| {
        format!(
            "names {}, which reads as a number but is no IPv4 address",
            url.host()
        )
    })
}

/// The IPv4 address a host name is, as URL parsers and resolvers read one:
/// one to four parts, each decimal, octal (a leading 0) or hexadecimal
/// (`0x`), the last filling the bytes left (the WHATWG URL Standard's IPv4
/// parser). `Ok(None)` for a name, `Err` for a number that is no address.
fn literal(host: &str) -> Result<Option<IpAddr>, ()> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    let numeric = |part: &str| {
        let part = part.to_ascii_lowercase();
        match part.strip_prefix("0x") {
            Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()),
        }
    };
    if !parts.last().is_some_and(|last| numeric(last)) {
        return Ok(None);
    }
    if parts.len() > 4 {
        return Err(());
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        let lower = part.to_ascii_lowercase();
        let (digits, radix) = match lower.strip_prefix("0x") {
            Some(hex) => (hex, 16),
            None if lower.len() > 1 && lower.starts_with('0') => (&lower[1..], 8),
            None => (lower.as_str(), 10),
        };
        let number = if part.is_empty() {
            return Err(());
        } else if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).map_err(|_| ())?
        };
        numbers.push(number);
    }
    let (last, first) = numbers.split_last().ok_or(())?;
    if first.iter().any(|&n| n > 255) || *last >= 256u64.pow(5 - numbers.len() as u32) {
        return Err(());
    }
    let mut address = *last;
    for (n, &part) in first.iter().enumerate() {
        address += part << (8 * (3 - n));
    }
    Ok(Some(IpAddr::V4(Ipv4Addr::from(address as u32))))
}

/// What kind of address `address` is, when it is not a public one.
fn special(address: IpAddr) -> Option<&'static str> {
    match address.to_canonical() {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

/// The IPv4 special-purpose blocks (IANA's registry, RFC 6890) no receiver
/// of a submission lives at.
fn special_v4(address: Ipv4Addr) -> Option<&'static str> {
    const BLOCKS: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "an unspecified address"),
        ([10, 0, 0, 0], 8, "a private address (RFC 1918)"),
        (
            [100, 64, 0, 0],
            10,
            "a shared address (RFC 6598, carrier-grade NAT)",
        ),
        ([127, 0, 0, 0], 8, "a loopback address (this workstation)"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([172, 16, 0, 0], 12, "a private address (RFC 1918)"),
        ([192, 0, 0, 0], 24, "a reserved address (RFC 6890)"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([192, 88, 99, 0], 24, "a reserved address (6to4 relay)"),
        ([192, 168, 0, 0], 16, "a private address (RFC 1918)"),
        ([198, 18, 0, 0], 15, "a benchmarking address (RFC 2544)"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    BLOCKS
        .iter()
        .find(|(network, prefix, _)| {
            within(
                IpAddr::V4(address),
                IpAddr::V4(Ipv4Addr::from(*network)),
                *prefix,
            )
        })
        .map(|(_, _, why)| *why)
}

/// The IPv6 special-purpose blocks; an IPv4 address carried in one (mapped,
/// compatible, NAT64, 6to4) is judged as that IPv4 address.
fn special_v6(address: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(address);
    let segments = address.segments();
    let embedded = |at: u32| Ipv4Addr::from((bits >> at) as u32);
    if address.is_unspecified() {
        return Some("an unspecified address");
    }
    if address.is_loopback() {
        return Some("a loopback address (this workstation)");
    }
    // ::a.b.c.d, the old IPv4-compatible form.
    if bits >> 32 == 0 {
        return Some(special_v4(embedded(0)).unwrap_or("a reserved address (IPv4-compatible)"));
    }
    // 64:ff9b::/96, NAT64's well-known prefix, and 2002::/16, 6to4.
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return special_v4(embedded(0));
    }
    if segments[0] == 0x2002 {
        return special_v4(embedded(80));
    }
    const BLOCKS: &[(u128, u8, &str)] = &[
        (
            0x0064_ff9b_0001 << 80,
            48,
            "a reserved address (local NAT64)",
        ),
        (0x0100 << 112, 64, "a reserved address (discard-only)"),
        (0x2001_0db8 << 96, 32, "a documentation address"),
        (0xfc00 << 112, 7, "a unique-local address (fc00::/7)"),
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a site-local address"),
        (0xff00 << 112, 8, "a multicast address"),
    ];
    BLOCKS
        .iter()
        .find(|(network, prefix, _)| {
            within(
                IpAddr::V6(address),
                IpAddr::V6(Ipv6Addr::from(*network)),
                *prefix,
            )
        })
        .map(|(_, _, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Endpoint {
        Endpoint::parse(text).unwrap()
    }

    #[test]
    fn every_spelling_of_an_ipv4_address_reads_as_that_address() {
        let loopback = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for host in [
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "0x7f000001",
            "0X7F000001",
            "2130706433",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0x7f.1",
            "127.0.0.1.",
        ] {
            assert_eq!(literal(host), Ok(loopback), "{host}");
        }
        assert_eq!(literal("0"), Ok(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
        assert_eq!(literal("0x"), Ok(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
        for name in [
            "lab-bot.example.org",
            "localhost",
            "1.example",
            "x0",
            "0x1g",
        ] {
            assert_eq!(literal(name), Ok(None), "{name}");
        }
        for bad in [
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "4294967296",
            "08",
            "127..1",
        ] {
            assert_eq!(literal(bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_reached_unless_the_lab_allows_more() {
        let none = Allowance::default();
        for text in [
            "http://127.0.0.1:8000/queue/pause",
            "http://[::1]:8000/",
            "http://0x7f000001:8000/",
            "http://2130706433:8000/",
            "http://127.1:8000/",
            "http://0177.0.0.1:8000/",
            "http://localhost:8000/",
            "http://LocalHost.:8000/",
            "http://printer.localhost/",
            "http://[::ffff:127.0.0.1]:8000/",
            "http://[::ffff:7f00:1]:8000/",
            "http://0:8000/",
            "http://10.1.2.3/",
            "http://172.20.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[fe80::1]/",
            "http://[fd12:3456::1]/",
            "http://[ff02::1]/",
            "http://[::]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[::7f00:1]/",
        ] {
            let err = none.check_at_submission(&url(text)).unwrap_err();
            assert!(err.contains("notify_allow"), "{text}: {err}");
        }
        for text in [
            "http://192.0.43.10/",
            "http://[2001:4860:4860::8888]/",
            "http://lab-bot.example.org:9000/",
        ] {
            assert_eq!(none.check_at_submission(&url(text)), Ok(()), "{text}");
        }
        let lab = Allowance::new(
            [
                "127.0.0.1",
                "10.0.0.0/8",
                "fd00::/8",
                "lab-bot.local",
                "::1",
            ]
            .iter()
            .map(|text| Allowed::parse(text).unwrap())
            .collect(),
        );
        for text in [
            "http://127.0.0.1:8000/",
            "http://127.1:8000/",
            "http://[::ffff:127.0.0.1]:8000/",
            "http://10.200.0.7/",
            "http://[fd00::7]/",
            "http://[::1]/",
            "http://LAB-BOT.local./",
        ] {
            assert_eq!(lab.check_at_submission(&url(text)), Ok(()), "{text}");
        }
        for text in ["http://127.0.0.2/", "http://192.168.1.1/", "http://0/"] {
            assert!(lab.check_at_submission(&url(text)).is_err(), "{text}");
        }
        // localhost is this workstation: allowed with its loopback address.
        assert_eq!(
            lab.check_at_submission(&url("http://localhost:8000/")),
            Ok(())
        );
    }

    #[test]
    fn one_receiver_is_one_origin_however_it_is_spelled() {
        let origins = |texts: &[&str]| -> Vec<String> {
            texts.iter().map(|text| origin(&url(text))).collect()
        };
        assert_eq!(
            origins(&[
                "http://127.0.0.1:9/a",
                "http://127.1:9/b?c",
                "http://0x7f000001:9/"
            ]),
            ["http://127.0.0.1:9"; 3]
        );
        assert_eq!(
            origins(&[
                "http://Lab-Bot.example.org./x",
                "http://lab-bot.example.org:80/"
            ]),
            ["http://lab-bot.example.org:80"; 2]
        );
        assert_eq!(
            origin(&url("http://[::ffff:10.0.0.1]:8/")),
            "http://10.0.0.1:8"
        );
        assert_eq!(origin(&url("http://[fd00::1]:8/")), "http://[fd00::1]:8");
        assert_ne!(
            origin(&url("http://10.0.0.1:8/")),
            origin(&url("http://10.0.0.1:9/"))
        );
    }

    #[test]
    fn allowances_are_networks_addresses_or_names() {
        assert_eq!(
            Allowed::parse("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(Allowed::parse("[::1]").unwrap().to_string(), "::1/128");
        assert_eq!(
            Allowed::parse("Lab-Bot.example.org.").unwrap(),
            Allowed::Host("lab-bot.example.org".into())
        );
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "http://x/",
            "127.1",
            "0x7f000001",
            "",
            "a b",
        ] {
            assert!(Allowed::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_name_is_resolved_and_each_of_its_addresses_checked() {
        let none = Allowance::default();
        // Refused at submission, and at delivery whatever the resolver says.
        let err = none.resolve(&url("http://localhost:9/")).await.unwrap_err();
        assert!(matches!(err, Unreachable::Refused(_)), "{err:?}");
        let allowed = Allowance::new(vec![Allowed::parse("localhost").unwrap()]);
        let found = allowed.resolve(&url("http://localhost:9/")).await.unwrap();
        assert!(
            found.iter().all(|a| a.ip().is_loopback() && a.port() == 9),
            "{found:?}"
        );
        let loopback = Allowance::new(vec![Allowed::parse("127.0.0.0/8").unwrap()]);
        assert_eq!(
            loopback.resolve(&url("http://0x7f000001:9/")).await,
            Ok(vec!["127.0.0.1:9".parse().unwrap()])
        );
    }
}
