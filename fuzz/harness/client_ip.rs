//! `client_ip`: request headers (one `name:value` per line) through client-IP extraction, under a policy that
//! reads only `CF-Connecting-IP` and one that reads `X-Forwarded-For` behind trusted proxies.
//!
//! Checks: never a panic; the address a decision uses is one present in the input (the connecting address or
//! an `X-Forwarded-For` element, canonicalised as [`parse_client_ip`] does) and agrees with a naive reference of
//! the README's rules (right to left past trusted proxies, the leftmost when all are trusted, at most 32 hops,
//! any bad element refuses); no address means a `client_ip_*` precheck denial. Each header value is also read as
//! an IP-list entry: an address that parses as a client IP parses as an entry whose set contains it.

use std::net::IpAddr;
use std::sync::LazyLock;

use edge_access::engine::{
    HeaderList, HeaderSource, NoLimits, NoTokens, RequestFacts, UnixTime, MAX_FORWARDED_HOPS,
};
use edge_access::policy::ip::{parse_client_ip, parse_entry, IpSetBuilder};
use edge_access::policy::{codes, Policy};

/// Trusted proxies, as (network, prefix length); IPv4 entries also cover their IPv4-mapped spelling.
const TRUSTED: &[(&str, u8)] = &[
    ("10.0.0.0", 8),
    ("192.0.2.0", 24),
    ("2001:db8::", 32),
    ("fe80::", 10),
];

static CF_ONLY: LazyLock<Policy> =
    LazyLock::new(|| compile(r#""client_ip": { "source": "cf-connecting-ip" },"#));
static FORWARDED: LazyLock<Policy> = LazyLock::new(|| {
    compile(r#""client_ip": { "source": "x-forwarded-for", "trusted_proxies": ["proxies"] },"#)
});

fn compile(client_ip: &str) -> Policy {
    let proxies: Vec<String> = TRUSTED
        .iter()
        .map(|(a, p)| format!("\"{a}/{p}\""))
        .collect();
    let text = format!(
        r#"{{ "version": 1, {client_ip}
            "ip_lists": {{ "proxies": [{}], "blocked": ["198.51.100.0/24", "2001:db8:bad::/48"] }},
            "rules": [ {{ "id": "blocked", "action": "deny", "when": {{ "client_ip_in": "blocked" }} }} ],
            "default": {{ "action": "allow" }} }}"#,
        proxies.join(", ")
    );
    Policy::compile(&text, "client_ip.json")
        .unwrap_or_else(|e| panic!("fixed policy: {e}"))
        .policy
}

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = text
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .collect();
    let headers = HeaderList::from_pairs(pairs.iter().copied());
    for (_, value) in &pairs {
        check_entry(value);
    }
    let facts = RequestFacts {
        method: "GET",
        host: "api.example.com",
        path: "/",
        query: None,
        headers: &headers,
        country: None,
        asn: None,
        tokens: &NoTokens,
        limits: &NoLimits,
    };
    let want_cf = reference(&headers, false);
    let want_fwd = reference(&headers, true);
    for (policy, want) in [(&*CF_ONLY, want_cf), (&*FORWARDED, want_fwd)] {
        let decision = policy.evaluate(&facts, UnixTime(1_800_000_000));
        match want {
            Ok(ip) => {
                assert_eq!(decision.client_ip, Some(ip), "headers {pairs:?}");
                assert!(present(&headers, ip), "{ip} not in the input {pairs:?}");
                assert_ne!(decision.code, codes::CLIENT_IP_MISSING);
                assert_ne!(decision.code, codes::CLIENT_IP_INVALID);
            }
            Err(code) => {
                assert_eq!(decision.code, code, "headers {pairs:?}");
                assert_eq!(decision.client_ip, None);
            }
        }
    }
}

/// The README's rules, written plainly.
fn reference(headers: &HeaderList, forwarded: bool) -> Result<IpAddr, &'static str> {
    let peer = headers
        .get("cf-connecting-ip")
        .ok_or(codes::CLIENT_IP_MISSING)?;
    let peer = parse_client_ip(peer).map_err(|_| codes::CLIENT_IP_INVALID)?;
    if !forwarded || !trusted(peer) {
        return Ok(peer);
    }
    let Some(xff) = headers.get("x-forwarded-for") else {
        return Ok(peer);
    };
    let elements: Vec<&str> = xff.split(',').collect();
    let mut last = peer;
    for (hop, element) in elements.iter().rev().enumerate() {
        if hop >= MAX_FORWARDED_HOPS {
            return Err(codes::CLIENT_IP_INVALID);
        }
        let addr = parse_client_ip(element).map_err(|_| codes::CLIENT_IP_INVALID)?;
        if !trusted(addr) {
            return Ok(addr);
        }
        last = addr;
    }
    Ok(last)
}

fn trusted(ip: IpAddr) -> bool {
    TRUSTED
        .iter()
        .any(|(net, len)| match (net.parse::<IpAddr>().unwrap(), ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
}

/// Whether `ip` is the connecting address or an `X-Forwarded-For` element of the input.
fn present(headers: &HeaderList, ip: IpAddr) -> bool {
    let cf = headers.get("cf-connecting-ip").into_iter();
    let xff = headers
        .get("x-forwarded-for")
        .into_iter()
        .flat_map(|v| v.split(','));
    cf.chain(xff).any(|v| parse_client_ip(v).ok() == Some(ip))
}

fn check_entry(value: &str) {
    let entry = parse_entry(value);
    if let Ok(ip) = parse_client_ip(value) {
        let trimmed = value.trim_matches([' ', '\t']);
        let entry = parse_entry(trimmed)
            .unwrap_or_else(|e| panic!("`{value}` is a client IP but not an entry: {e}"));
        let mut builder = IpSetBuilder::default();
        builder.insert(entry.net);
        assert!(
            builder.build().contains(ip),
            "entry `{value}` does not contain {ip}"
        );
    } else {
        let _ = entry;
    }
}
