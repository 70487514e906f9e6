//! The benchmark workloads, shared by `benches/engine.rs` (native, criterion) and `benches/engine_wasm.rs` (Wasm under
//! Node, wasm-bindgen-test's criterion), so both measure exactly the same inputs with the same budgets.
//!
//! Each harness implements [`Harness`] and calls the group functions ([`parse`], [`compile`], [`execute`], [`ip`],
//! [`origin`], [`startup`], and the async [`token`], [`verify`], [`decision`]), which name every benchmark
//! `group/name`. Signatures are checked with the target's own [`Verifier`]: RustCrypto natively, WebCrypto in Wasm. Setup is never measured and runs only for
//! benchmarks that run (natively criterion's filter applies before it; the Wasm runner filters whole groups); the
//! expensive fixtures (the 1M-prefix sets, the 100k-CIDR policy) are built once per process and shared.
//!
//! Everything is deterministic: inputs come from a fixed-seed xorshift generator, so two runs (or the two targets)
//! see the same prefixes, addresses and requests.
//!
//! This is `benches/workload/mod.rs` rather than `benches/workload.rs` because Cargo would build the latter as a
//! benchmark target of its own.

use std::cell::RefCell;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edge_access::engine::{
    DecidedBy, Effect, HeaderList, NoLimits, NoTokens, RequestFacts, UnixTime,
};
use edge_access::policy::file::PolicyFile;
use edge_access::policy::ip::{self, IpSet, IpSetBuilder};
use edge_access::policy::origin::{parse_request_origin, OriginList};
use edge_access::policy::KeySource;
use edge_access::policy::{Policy, PrecompiledIpList};
use edge_access::token::jwk::{parse_jwk, VerifyKey};
use edge_access::token::jwt;
use edge_access::token::Algorithm;
use edge_access::verify::request::{verify_tokens, KeyStore, Keys, TokenResults, VerifiedCache};
use edge_access::verify::{now_or_never, SignatureVerifier};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

/// What a harness must provide: run one benchmark, and show a line of context.
pub trait Harness {
    /// Benchmarks `routine` (built by `setup`, which is not measured and runs only if the benchmark is selected) as
    /// `group/name`, one call of the routine per iteration.
    fn bench<S, R, O>(&mut self, group: &str, name: &str, budget: Budget, setup: S)
    where
        S: FnOnce() -> R,
        R: FnMut() -> O;

    /// As [`Harness::bench`] for a routine that returns a future: each iteration awaits it. Natively the futures
    /// are ready at once (RustCrypto); in Wasm they await WebCrypto's promises.
    fn bench_async<S, R, F, O>(
        &mut self,
        group: &str,
        name: &str,
        budget: Budget,
        setup: S,
    ) -> impl std::future::Future<Output = ()>
    where
        S: FnOnce() -> R,
        R: FnMut() -> F + Clone + 'static,
        F: std::future::Future<Output = O>;

    /// Prints a line about the workload (sizes, hit ratios), where the harness prints.
    fn note(&mut self, line: &str);
}

/// Sampling budget of one benchmark, the same on both targets.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub sample_size: usize,
    pub warm_up: Duration,
    pub measurement: Duration,
}

/// Quick mode (`EDGE_ACCESS_BENCH_QUICK` set when the benchmarks are built, as `BENCH_QUICK=1 make bench` does):
/// every budget shrinks to 10 samples and about a quarter of the time. For a smoke run, not for the record.
pub const QUICK: bool = option_env!("EDGE_ACCESS_BENCH_QUICK").is_some();

impl Budget {
    /// This budget, shrunk in quick mode.
    pub fn effective(self) -> Budget {
        if QUICK {
            Budget {
                sample_size: 10,
                warm_up: self.warm_up / 3,
                measurement: self.measurement / 4,
            }
        } else {
            self
        }
    }
}

/// Bootstrap resamples for the statistics (criterion's default of 100 000 costs seconds per benchmark in Wasm).
pub const RESAMPLES: usize = 10_000;

/// Nanosecond-scale routines (lookups, matches, decisions).
pub const FAST: Budget = Budget {
    sample_size: 40,
    warm_up: Duration::from_millis(300),
    measurement: Duration::from_millis(1_000),
};

/// Microsecond- to millisecond-scale routines (startup, small parses).
pub const MEDIUM: Budget = Budget {
    sample_size: 20,
    warm_up: Duration::from_millis(300),
    measurement: Duration::from_millis(1_500),
};

/// Routines of about ten milliseconds (parsing the JSON of 100k CIDRs).
pub const SLOW: Budget = Budget {
    sample_size: 10,
    warm_up: Duration::from_millis(500),
    measurement: Duration::from_millis(3_000),
};

/// Routines of up to 150 ms (compiling 100k CIDRs): 10 linear samples take 55 iterations, so 10 s.
pub const HEAVY: Budget = Budget {
    sample_size: 10,
    warm_up: Duration::from_millis(500),
    measurement: Duration::from_millis(10_000),
};

/// The caller's clock for `Policy::evaluate` (no tokens in these policies, so its value does not matter).
pub const NOW: UnixTime = UnixTime(1_700_000_000);

// ---------------------------------------------------------------------------------------------------------------
// Deterministic inputs
// ---------------------------------------------------------------------------------------------------------------

/// xorshift64 (Marsaglia): tiny, deterministic, good enough to scatter addresses.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // The state must never be zero; mix the seed so that small seeds do not start in a low-entropy state.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    pub fn next_u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }

    /// Uniform-enough in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn coin(&mut self) -> bool {
        self.next_u64() & (1 << 40) != 0
    }
}

/// A random IPv4 prefix between /8 and /32. The length is geometric: /32 half the time, each bit shorter half as
/// often (/24 about 1 in 500, /16 about 1 in 130 000), so every length adds about the same address coverage and
/// even 1M prefixes cover well under 1% of the space (as in real blocklists: mostly hosts, some networks). With
/// uniform lengths a few thousand /8-/12 entries would cover most of the space and merge 1M prefixes into a handful
/// of ranges.
pub fn v4_prefix(rng: &mut XorShift) -> Ipv4Net {
    let len = 32 - rng.next_u64().trailing_zeros().min(24) as u8;
    let addr = Ipv4Addr::from(rng.next_u32());
    Ipv4Net::new(addr, len).expect("len <= 32").trunc()
}

/// A random IPv6 prefix between /32 and /128, uniform length, inside global unicast `2000::/3` (so the top bits are
/// as concentrated as in real lists: the lookup index uses the top 16 bits).
pub fn v6_prefix(rng: &mut XorShift) -> Ipv6Net {
    let len = 32 + rng.below(97) as u8;
    Ipv6Net::new(random_v6_unicast(rng), len)
        .expect("len <= 128")
        .trunc()
}

fn random_v6_unicast(rng: &mut XorShift) -> Ipv6Addr {
    Ipv6Addr::from((0x2000_u128 << 112) | (rng.next_u128() >> 3))
}

/// A random address inside `net`.
fn inside(net: IpNet, rng: &mut XorShift) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = rng.next_u32() & u32::from(n.hostmask());
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()) | host))
        }
        IpNet::V6(n) => {
            let host = rng.next_u128() & u128::from(n.hostmask());
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()) | host))
        }
    }
}

/// Copies bytes into a `'static` slice, as `include_bytes!` provides them in the Worker.
pub fn leak(bytes: &[u8]) -> &'static [u8] {
    Box::leak(bytes.to_vec().into_boxed_slice())
}

/// The set reloaded the way the Worker loads bundled lists: zero-copy from its four blobs.
pub fn bundled_copy(set: &IpSet) -> IpSet {
    let bundled = IpSet::from_static_with_index(
        leak(set.v4_bytes()),
        leak(set.v6_bytes()),
        leak(set.v4_index_bytes()),
        leak(set.v6_index_bytes()),
    )
    .expect("blobs from IpSetBuilder load");
    assert!(bundled == *set, "bundled copy differs from the built set");
    bundled
}

// ---------------------------------------------------------------------------------------------------------------
// ip: IpSet::contains
// ---------------------------------------------------------------------------------------------------------------

/// Lookups per rotation (a power of two). Each is a different random address, so consecutive lookups touch
/// unrelated index buckets and records: with 1M prefixes the data (8 MB v4, 32 MB v6) is far larger than the caches.
pub const LOOKUPS: usize = 4096;

/// List sizes, in prefixes.
pub const SIZES: [(&str, usize); 4] = [
    ("1k", 1_000),
    ("10k", 10_000),
    ("100k", 100_000),
    ("1m", 1_000_000),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }
}

/// One IP list size: the set as built, the same set loaded from its blobs, and the addresses looked up.
pub struct IpFixture {
    pub prefixes: usize,
    pub built: IpSet,
    pub bundled: IpSet,
    /// About half drawn from inside random listed prefixes (hits), half uniformly random (nearly all misses),
    /// chosen at random so the hit/miss sequence is not predictable.
    pub lookups: Vec<IpAddr>,
    pub hits: usize,
}

/// The fixture for `family` at `SIZES[size]`, built on first use and kept for the process.
pub fn ip_fixture(family: Family, size: usize) -> &'static IpFixture {
    static FIXTURES: [OnceLock<IpFixture>; 8] = [const { OnceLock::new() }; 8];
    let slot = match family {
        Family::V4 => size,
        Family::V6 => SIZES.len() + size,
    };
    FIXTURES[slot].get_or_init(|| build_ip_fixture(family, SIZES[size].1))
}

/// The `n` prefixes of the `family` fixture, and the generator positioned after them.
fn fixture_nets(family: Family, n: usize) -> (Vec<IpNet>, XorShift) {
    let seed = match family {
        Family::V4 => 0x0004_0000,
        Family::V6 => 0x0006_0000,
    } + n as u64;
    let mut rng = XorShift::new(seed);
    let nets: Vec<IpNet> = (0..n)
        .map(|_| match family {
            Family::V4 => IpNet::V4(v4_prefix(&mut rng)),
            Family::V6 => IpNet::V6(v6_prefix(&mut rng)),
        })
        .collect();
    (nets, rng)
}

fn build_ip_fixture(family: Family, n: usize) -> IpFixture {
    let (nets, mut rng) = fixture_nets(family, n);
    let mut builder = IpSetBuilder::default();
    builder.extend(nets.iter().copied());
    let built = builder.build();
    let bundled = bundled_copy(&built);
    let lookups: Vec<IpAddr> = (0..LOOKUPS)
        .map(|_| {
            if rng.coin() {
                inside(nets[rng.below(nets.len())], &mut rng)
            } else {
                match family {
                    Family::V4 => IpAddr::V4(Ipv4Addr::from(rng.next_u32())),
                    Family::V6 => IpAddr::V6(random_v6_unicast(&mut rng)),
                }
            }
        })
        .collect();
    let hits = lookups.iter().filter(|&&a| built.contains(a)).count();
    assert!(
        lookups
            .iter()
            .all(|&a| built.contains(a) == bundled.contains(a)),
        "bundled set answers differently"
    );
    IpFixture {
        prefixes: n,
        built,
        bundled,
        lookups,
        hits,
    }
}

/// A routine that looks up the next address of the rotation in `set`.
fn lookup_routine(set: &'static IpSet, addrs: &'static [IpAddr]) -> impl FnMut() -> bool {
    let mask = addrs.len() - 1;
    assert!(addrs.len().is_power_of_two());
    let mut i = 0usize;
    move || {
        i = (i + 1) & mask;
        set.contains(black_box(addrs[i]))
    }
}

/// `ip/{v4,v6}_{1k,10k,100k,1m}_{built,bundled}`: one `IpSet::contains` per iteration.
pub fn ip(h: &mut impl Harness) {
    for family in [Family::V4, Family::V6] {
        for (size, (label, _)) in SIZES.iter().enumerate() {
            for bundled in [false, true] {
                let name = format!(
                    "{}_{label}_{}",
                    family.name(),
                    if bundled { "bundled" } else { "built" }
                );
                let mut note = None;
                h.bench("ip", &name, FAST, || {
                    let fx = ip_fixture(family, size);
                    let set = if bundled { &fx.bundled } else { &fx.built };
                    note = Some(format!(
                        "ip/{name}: {} prefixes -> {} v4 + {} v6 ranges, index {} B, {} of {} lookups hit",
                        fx.prefixes,
                        set.v4_ranges(),
                        set.v6_ranges(),
                        set.v4_index_bytes().len() + set.v6_index_bytes().len(),
                        fx.hits,
                        fx.lookups.len()
                    ));
                    lookup_routine(set, &fx.lookups)
                });
                if let Some(line) = note {
                    h.note(&line);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// origin: parse_request_origin + OriginList::matches
// ---------------------------------------------------------------------------------------------------------------

/// The 50-entry origin list: 35 exact origins (a few with ports) and 15 subdomain wildcards.
pub fn origin_entries() -> Vec<String> {
    let mut out = vec![
        "https://app.example.com".to_owned(),
        "https://www.example.com".to_owned(),
        "https://admin.example.com".to_owned(),
        "http://localhost:3000".to_owned(),
        "http://localhost:8080".to_owned(),
    ];
    out.extend((0..30).map(|i| format!("https://app{i}.customer{i}.com")));
    out.extend((0..14).map(|i| format!("https://*.tenant{i}.example.org")));
    out.push("https://*.preview.example.com:8443".to_owned());
    assert_eq!(out.len(), 50);
    out
}

/// `Origin` header values (64 each) that hit an exact entry, hit a wildcard, or miss.
pub struct OriginHeaders {
    pub exact: Vec<String>,
    pub wildcard: Vec<String>,
    pub miss: Vec<String>,
}

pub fn origin_headers() -> OriginHeaders {
    let entries = origin_entries();
    let exact_entries: Vec<&String> = entries.iter().filter(|e| !e.contains('*')).collect();
    let exact = (0..64)
        .map(|i| exact_entries[(i * 7) % exact_entries.len()].clone())
        .collect();
    let wildcard = (0..64)
        .map(|i| match i % 8 {
            7 => format!("https://pr-{i}.preview.example.com:8443"),
            _ => format!("https://u{i}.eu.tenant{}.example.org", i % 14),
        })
        .collect();
    let miss = (0..64)
        .map(|i| match i % 8 {
            0 => format!("https://evil{i}.com"),
            1 => "https://app.example.com.evil.net".to_owned(),
            2 => "http://app.example.com".to_owned(),
            3 => format!("https://app{}.customer{}.com:8443", i % 30, i % 30),
            4 => format!("https://tenant{}.example.org", i % 14),
            5 => format!("https://x.tenant{}.example.org.attacker.io", i % 14),
            6 => "null".to_owned(),
            _ => format!("https://app{}.customer{}.com", i % 30 + 1, i % 30),
        })
        .collect();
    OriginHeaders {
        exact,
        wildcard,
        miss,
    }
}

fn origin_routine(list: &'static OriginList, headers: &'static [String]) -> impl FnMut() -> bool {
    let mask = headers.len() - 1;
    assert!(headers.len().is_power_of_two());
    let mut i = 0usize;
    move || {
        i = (i + 1) & mask;
        parse_request_origin(black_box(headers[i].as_str())).is_ok_and(|o| list.matches(&o))
    }
}

/// `origin/{hit_exact,hit_wildcard,miss}`: parse one `Origin` header and match it against the 50-entry list.
pub fn origin(h: &mut impl Harness) {
    static FIXTURE: OnceLock<(OriginList, OriginHeaders)> = OnceLock::new();
    let fixture = || {
        FIXTURE.get_or_init(|| {
            let list = OriginList::parse(origin_entries()).expect("valid origin list");
            let headers = origin_headers();
            let hits = |hs: &[String]| {
                hs.iter()
                    .filter(|h| parse_request_origin(h).is_ok_and(|o| list.matches(&o)))
                    .count()
            };
            assert_eq!(hits(&headers.exact), 64);
            assert_eq!(hits(&headers.wildcard), 64);
            assert_eq!(hits(&headers.miss), 0);
            (list, headers)
        })
    };
    h.bench("origin", "hit_exact", FAST, || {
        let (list, headers) = fixture();
        origin_routine(list, &headers.exact)
    });
    h.bench("origin", "hit_wildcard", FAST, || {
        let (list, headers) = fixture();
        origin_routine(list, &headers.wildcard)
    });
    h.bench("origin", "miss", FAST, || {
        let (list, headers) = fixture();
        origin_routine(list, &headers.miss)
    });
}

// ---------------------------------------------------------------------------------------------------------------
// The realistic policy
// ---------------------------------------------------------------------------------------------------------------

/// IP list sizes of the realistic policy (v4 prefixes, v6 prefixes): 100 000 CIDRs in all.
const REALISTIC_LISTS: [(&str, usize, usize); 3] = [
    ("blocklist", 64_000, 16_000),
    ("cloud", 15_000, 4_990),
    ("office", 8, 2),
];

/// The prefixes of `REALISTIC_LISTS[i]`, always the same.
fn realistic_list(i: usize) -> Vec<IpNet> {
    let (_, v4, v6) = REALISTIC_LISTS[i];
    let mut rng = XorShift::new(0x00B0_0000 + i as u64);
    let mut nets: Vec<IpNet> = (0..v4).map(|_| IpNet::V4(v4_prefix(&mut rng))).collect();
    nets.extend((0..v6).map(|_| IpNet::V6(v6_prefix(&mut rng))));
    nets
}

/// The realistic (reference) policy's JSON text: 100k CIDRs in three lists, 50 origins, 20 rules (every condition
/// kind but `asn_in`, allow / deny / require, one report-only, one requiring an ES256 token with a claim test),
/// one issuer, default deny.
pub fn realistic_policy_text() -> String {
    let mut ip_lists = serde_json::Map::new();
    for (i, (name, _, _)) in REALISTIC_LISTS.iter().enumerate() {
        let entries = realistic_list(i)
            .iter()
            .map(|net| Value::String(net.to_string()))
            .collect();
        ip_lists.insert((*name).to_owned(), Value::Array(entries));
    }
    let doc = json!({
        "version": 1,
        "ip_lists": ip_lists,
        "origin_lists": { "our_apps": origin_entries() },
        "issuers": { "users": reference_issuer() },
        "country_lists": {
            "sanctioned": ["CU", "IR", "KP", "SY", "BY"],
            "eu": ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"]
        },
        "rules": [
            { "id": "health", "action": "allow",
              "when": { "all": [ { "path_is": ["/health", "/ready"] }, { "method_is": ["GET", "HEAD"] } ] } },
            { "id": "blocklist", "action": "deny", "when": { "client_ip_in": "blocklist" } },
            { "id": "sanctioned-countries", "action": "deny", "when": { "country_in": "sanctioned" },
              "code": "geo_blocked" },
            { "id": "cloud-report", "action": "deny", "when": { "client_ip_in": "cloud" }, "report_only": true },
            { "id": "no-trace", "action": "deny", "when": { "method_is": ["TRACE", "CONNECT"] } },
            { "id": "admin-from-office", "action": "require", "when": { "path_under": ["/admin", "/internal"] },
              "require": { "client_ip_in": "office" }, "status": 404 },
            { "id": "browser-origins", "action": "require", "when": { "has_origin": true },
              "require": { "origin_in": "our_apps" } },
            { "id": "no-dotfiles", "action": "deny", "when": { "path_matches": ["/**/.git/**", "/**/.env"] },
              "status": 404 },
            { "id": "legacy-api-gone", "action": "deny",
              "when": { "all": [ { "host_is": ["api.example.com"] }, { "path_under": ["/v0"] } ] }, "status": 404 },
            { "id": "writes-need-origin-or-office", "action": "require",
              "when": { "all": [ { "method_is": ["POST", "PUT", "PATCH", "DELETE"] }, { "path_under": ["/v1"] } ] },
              "require": { "any": [ { "has_origin": true }, { "client_ip_in": "office" } ] } },
            { "id": "uploads-eu-only", "action": "require", "when": { "path_under": ["/v1/uploads"] },
              "require": { "country_in": "eu" }, "code": "region_denied" },
            { "id": "partner-export", "action": "require", "when": { "path_matches": ["/v1/*/export"] },
              "require": { "any": [ { "client_ip_in": "office" }, { "origin_in": "our_apps" } ] } },
            { "id": "static", "action": "allow",
              "when": { "all": [ { "host_is": ["static.example.com", "*.cdn.example.com"] },
                                 { "method_is": ["GET", "HEAD"] } ] } },
            { "id": "webhooks", "action": "allow",
              "when": { "all": [ { "host_is": ["hooks.example.com"] }, { "path_is": ["/stripe", "/github"] },
                                 { "method_is": ["POST"] } ] } },
            { "id": "staging-office-only", "action": "require", "when": { "host_is": ["*.staging.example.com"] },
              "require": { "client_ip_in": "office" }, "status": 404 },
            { "id": "no-wordpress", "action": "deny",
              "when": { "path_matches": ["/wp-admin/**", "/wp-login.php", "/xmlrpc.php"] }, "status": 404 },
            { "id": "docs", "action": "allow",
              "when": { "all": [ { "host_is": ["docs.example.com"] }, { "method_is": ["GET", "HEAD"] } ] } },
            { "id": "api-methods", "action": "deny",
              "when": { "all": [ { "host_is": ["api.example.com"] },
                                 { "not": { "method_is": ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"] } } ] } },
            { "id": "account-token", "action": "require",
              "when": { "all": [ { "host_is": ["api.example.com"] }, { "path_under": ["/v1/account"] } ] },
              "require": { "token": { "issuer": "users", "claims": [ { "claim": "roles", "contains": "admin" } ] } } },
            { "id": "api-v1", "action": "allow",
              "when": { "all": [ { "host_is": ["api.example.com"] }, { "path_under": ["/v1"] } ] } }
        ],
        "default": { "action": "deny", "status": 404, "code": "not_routed" }
    });
    doc.to_string()
}

/// The policy text as `build.rs` bundles it: every IP list emptied (the lists travel as precompiled blobs).
pub fn bundle_text(text: &str) -> String {
    let mut doc: Value = serde_json::from_str(text).expect("policy JSON");
    if let Some(lists) = doc.get_mut("ip_lists").and_then(Value::as_object_mut) {
        for entries in lists.values_mut() {
            *entries = Value::Array(Vec::new());
        }
    }
    doc.to_string()
}

/// The precompiled blobs of a compiled policy's IP lists, as `build.rs` embeds them (here leaked to `'static`).
pub fn precompiled(policy: &Policy) -> &'static [PrecompiledIpList] {
    let lists: Vec<PrecompiledIpList> = policy
        .ip_lists()
        .iter()
        .map(|l| PrecompiledIpList {
            name: Box::leak(l.name.clone().into_boxed_str()),
            v4: leak(l.set.v4_bytes()),
            v6: leak(l.set.v6_bytes()),
            v4_index: leak(l.set.v4_index_bytes()),
            v6_index: leak(l.set.v6_index_bytes()),
        })
        .collect();
    Box::leak(lists.into_boxed_slice())
}

/// One request's facts, owned.
pub struct Request {
    pub method: &'static str,
    pub host: String,
    pub path: String,
    pub headers: HeaderList,
    pub country: Option<&'static str>,
}

impl Request {
    pub fn facts(&self) -> RequestFacts<'_> {
        RequestFacts {
            method: self.method,
            host: &self.host,
            path: &self.path,
            query: None,
            headers: &self.headers,
            country: self.country,
            asn: None,
            // No tokens and no rate limits: the engine alone, without signature checks.
            tokens: &NoTokens,
            limits: &NoLimits,
        }
    }
}

/// The realistic policy compiled from its text, the same loaded the bundled way, and three request mixes.
pub struct Realistic {
    pub text: String,
    pub bundle_text: String,
    pub lists: &'static [PrecompiledIpList],
    pub compiled: Policy,
    pub bundled: Policy,
    /// Client IP in the blocklist: denied by the second rule.
    pub early_deny: Vec<Request>,
    /// An API call from a listed origin: every rule is considered, the last one allows.
    pub late_allow: Vec<Request>,
    /// A request no rule covers: every rule is considered, then the default denies.
    pub default: Vec<Request>,
    /// An account call with the ES256 token: the token rule checks it, the last rule allows.
    pub token: Vec<Request>,
}

/// Requests per mix (a power of two), rotated so consecutive decisions use different addresses and paths.
pub const REQUESTS: usize = 64;

pub fn realistic() -> &'static Realistic {
    static REALISTIC: OnceLock<Realistic> = OnceLock::new();
    REALISTIC.get_or_init(build_realistic)
}

fn build_realistic() -> Realistic {
    let text = realistic_policy_text();
    let compiled = Policy::compile(&text, "bench-policy.json")
        .expect("the realistic policy compiles")
        .policy;
    let bundle_text = bundle_text(&text);
    let lists = precompiled(&compiled);
    let bundled = Policy::from_bundle(
        &bundle_text,
        "bench-policy.json",
        compiled.fingerprint(),
        lists,
    )
    .expect("the bundled policy loads");

    let set = |name: &str| {
        &compiled
            .ip_lists()
            .iter()
            .find(|l| l.name == name)
            .expect("list exists")
            .set
    };
    let (blocklist, cloud, office) = (set("blocklist"), set("cloud"), set("office"));
    let origins = origin_headers();
    let mut rng = XorShift::new(0x00E0_0000);
    let unlisted = |rng: &mut XorShift| loop {
        let ip = if rng.below(4) == 0 {
            IpAddr::V6(random_v6_unicast(rng))
        } else {
            IpAddr::V4(Ipv4Addr::from(rng.next_u32()))
        };
        if !blocklist.contains(ip) && !cloud.contains(ip) && !office.contains(ip) {
            return ip;
        }
    };
    // Addresses inside the blocklist: picked inside its own prefixes.
    let blocked = realistic_list(0);

    let request = |method: &'static str,
                   host: &str,
                   path: String,
                   ip: IpAddr,
                   origin: Option<&str>,
                   country: &'static str| {
        let mut pairs = vec![("cf-connecting-ip", ip.to_string())];
        if let Some(o) = origin {
            pairs.push(("origin", o.to_owned()));
        }
        Request {
            method,
            host: host.to_owned(),
            path,
            headers: HeaderList::from_pairs(pairs),
            country: Some(country),
        }
    };
    let early_deny = (0..REQUESTS)
        .map(|i| {
            let ip = inside(blocked[rng.below(blocked.len())], &mut rng);
            request(
                "GET",
                "api.example.com",
                format!("/v1/users/{i}"),
                ip,
                Some(origins.exact[i].as_str()),
                "NL",
            )
        })
        .collect();
    let late_allow = (0..REQUESTS)
        .map(|i| {
            let origin = if i % 2 == 0 {
                &origins.exact[i]
            } else {
                &origins.wildcard[i]
            };
            request(
                if i % 4 == 3 { "POST" } else { "GET" },
                "api.example.com",
                format!("/v1/orders/{}/items", 1000 + i),
                unlisted(&mut rng),
                Some(origin.as_str()),
                "DE",
            )
        })
        .collect();
    let default = (0..REQUESTS)
        .map(|i| {
            request(
                "GET",
                "www.example.com",
                format!("/pricing/plan-{i}"),
                unlisted(&mut rng),
                None,
                "US",
            )
        })
        .collect();
    let bearer = format!("Bearer {}", es256_token());
    let token = (0..REQUESTS)
        .map(|i| {
            let mut r = request(
                "GET",
                "api.example.com",
                format!("/v1/account/{}/settings", 1000 + i),
                unlisted(&mut rng),
                Some(origins.exact[i].as_str()),
                "DE",
            );
            r.headers.append("authorization", &bearer);
            r
        })
        .collect();
    let r = Realistic {
        text,
        bundle_text,
        lists,
        compiled,
        bundled,
        early_deny,
        late_allow,
        default,
        token,
    };
    for policy in [&r.compiled, &r.bundled] {
        check(
            policy,
            &r.early_deny,
            Effect::Deny,
            DecidedBy::Rule("blocklist"),
        );
        check(
            policy,
            &r.late_allow,
            Effect::Allow,
            DecidedBy::Rule("api-v1"),
        );
        check(policy, &r.default, Effect::Deny, DecidedBy::Default);
        // Without its token an account call is refused by the token rule.
        check(
            policy,
            &r.token,
            Effect::Deny,
            DecidedBy::Rule("account-token"),
        );
    }
    r
}

fn check(policy: &Policy, requests: &[Request], effect: Effect, by: DecidedBy<'_>) {
    for r in requests {
        let d = policy.evaluate(&r.facts(), NOW);
        assert!(
            d.effect == effect && d.decided_by == by,
            "{:?} decided {:?} by {:?}, expected {effect:?} by {by:?}",
            r.facts(),
            d.effect,
            d.decided_by
        );
    }
}

fn evaluate_routine(policy: &'static Policy, requests: &'static [Request]) -> impl FnMut() -> bool {
    let mask = requests.len() - 1;
    assert!(requests.len().is_power_of_two());
    let mut i = 0usize;
    move || {
        i = (i + 1) & mask;
        policy
            .evaluate(black_box(&requests[i].facts()), NOW)
            .blocks()
    }
}

/// `execute/{early_deny,late_allow,default}[_bundled]`: one `Policy::evaluate` of the realistic policy per
/// iteration, compiled from its text or loaded the bundled way.
pub fn execute(h: &mut impl Harness) {
    for bundled in [false, true] {
        let suffix = if bundled { "_bundled" } else { "" };
        let policy = move || {
            let r = realistic();
            if bundled {
                &r.bundled
            } else {
                &r.compiled
            }
        };
        h.bench("execute", &format!("early_deny{suffix}"), FAST, || {
            evaluate_routine(policy(), &realistic().early_deny)
        });
        h.bench("execute", &format!("late_allow{suffix}"), FAST, || {
            evaluate_routine(policy(), &realistic().late_allow)
        });
        h.bench("execute", &format!("default{suffix}"), FAST, || {
            evaluate_routine(policy(), &realistic().default)
        });
    }
}

// ---------------------------------------------------------------------------------------------------------------
// startup, parse, compile
// ---------------------------------------------------------------------------------------------------------------

/// A bundle with one IP list `big` (the precompiled IPv4 set of `SIZES[size]`) and one rule using it.
fn one_list_bundle(size: usize) -> (String, &'static [PrecompiledIpList]) {
    let fx = ip_fixture(Family::V4, size);
    let set: &'static IpSet = &fx.bundled;
    let text = json!({
        "version": 1,
        "ip_lists": { "big": [] },
        "rules": [ { "id": "big-blocklist", "action": "deny", "when": { "client_ip_in": "big" } } ],
        "default": { "action": "allow" }
    })
    .to_string();
    let lists = vec![PrecompiledIpList {
        name: "big",
        v4: set.v4_bytes(),
        v6: set.v6_bytes(),
        v4_index: set.v4_index_bytes(),
        v6_index: set.v6_index_bytes(),
    }];
    (text, Box::leak(lists.into_boxed_slice()))
}

/// Loads the compiled form `build.rs` bundles, as a fresh isolate does (`Policy::from_compiled`).
fn from_compiled_routine(
    bytes: Vec<u8>,
    lists: &'static [PrecompiledIpList],
) -> impl FnMut() -> usize {
    move || {
        let policy = Policy::from_compiled(black_box(&bytes), lists).expect("the bundle loads");
        policy.ip_lists().len()
    }
}

/// What `build.rs` writes for a policy whose lists are `lists`: its compiled form.
fn compiled_bytes(bundle_text: &str, lists: &'static [PrecompiledIpList]) -> Vec<u8> {
    Policy::from_bundle(bundle_text, "bench-policy.json", "0", lists)
        .expect("the bundle loads")
        .to_compiled()
        .expect("the policy encodes")
}

/// `startup/*`: `Policy::from_compiled`, the cost of a fresh isolate before it can serve (the compiled policy
/// with the IP lists as precompiled blobs), for the realistic policy and for one list of 1k and of 1M prefixes.
pub fn startup(h: &mut impl Harness) {
    h.bench("startup", "realistic_from_compiled", MEDIUM, || {
        let r = realistic();
        from_compiled_routine(compiled_bytes(&r.bundle_text, r.lists), r.lists)
    });
    for (size, label) in [(0, "1k"), (3, "1m")] {
        h.bench(
            "startup",
            &format!("list_{label}_from_compiled"),
            MEDIUM,
            || {
                let (text, lists) = one_list_bundle(size);
                from_compiled_routine(compiled_bytes(&text, lists), lists)
            },
        );
    }
}

/// `parse/*`: deserializing policy JSON (no validation or compilation), and parsing one client IP header.
pub fn parse(h: &mut impl Harness) {
    h.bench("parse", "realistic_json", SLOW, || {
        let text = realistic().text.clone();
        move || {
            serde_json::from_str::<PolicyFile>(black_box(&text))
                .expect("policy JSON")
                .rules
                .len()
        }
    });
    h.bench("parse", "bundle_json", MEDIUM, || {
        let text = realistic().bundle_text.clone();
        move || {
            serde_json::from_str::<PolicyFile>(black_box(&text))
                .expect("policy JSON")
                .rules
                .len()
        }
    });
    h.bench("parse", "client_ip_v4", FAST, || {
        || ip::parse_client_ip(black_box("198.51.100.213")).is_ok()
    });
    h.bench("parse", "client_ip_v6", FAST, || {
        || ip::parse_client_ip(black_box("2001:db8:85a3::8a2e:370:7334")).is_ok()
    });
}

/// `compile/realistic`: `Policy::compile` of the full JSON (100k CIDRs): what `build.rs` does once per build.
pub fn compile(h: &mut impl Harness) {
    h.bench("compile", "realistic", HEAVY, || {
        let text = realistic().text.clone();
        move || {
            Policy::compile(black_box(&text), "bench-policy.json")
                .expect("the realistic policy compiles")
                .policy
                .rule_ids()
                .count()
        }
    });
}

// ---------------------------------------------------------------------------------------------------------------
// token, verify, decision: JWTs (the jose-minted fixtures of tests/fixtures/jwt)
// ---------------------------------------------------------------------------------------------------------------

/// The signature checker of this target: RustCrypto natively (the CLI's), WebCrypto in Wasm (the Worker's).
#[cfg(not(target_arch = "wasm32"))]
pub type Verifier = edge_access::verify::rustcrypto::RustCryptoVerifier;
#[cfg(target_arch = "wasm32")]
pub type Verifier = edge_access::verify::webcrypto::WebCryptoVerifier;

/// One verifier for the process, as the Worker keeps one per isolate (WebCrypto's imported keys stay cached).
pub fn verifier() -> &'static Verifier {
    thread_local! {
        static VERIFIER: &'static Verifier = Box::leak(Box::new(new_verifier()));
    }
    VERIFIER.with(|v| *v)
}

#[cfg(not(target_arch = "wasm32"))]
fn new_verifier() -> Verifier {
    edge_access::verify::rustcrypto::RustCryptoVerifier
}
#[cfg(target_arch = "wasm32")]
fn new_verifier() -> Verifier {
    edge_access::verify::webcrypto::WebCryptoVerifier::new()
}

const VECTORS: &str = include_str!("../../tests/fixtures/jwt/vectors.json");

/// Inside the fixtures' validity (iat 1800000000, exp 1800003600).
pub const TOKEN_NOW: UnixTime = UnixTime(1_800_000_100);

/// Every algorithm, in the order the report lists them.
pub const ALGS: [&str; 12] = [
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

fn vector(name: &str) -> Value {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors JSON");
    doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector `{name}`"))
        .clone()
}

/// The jose-minted ES256 token (iss `https://issuer.example`, aud `edge-access`, roles admin and dev).
pub fn es256_token() -> String {
    vector("jose-ES256-valid")["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

/// The reference policy's issuer: the ES256 fixture's public key, bundled.
fn reference_issuer() -> Value {
    json!({
        "issuer": "https://issuer.example",
        "audiences": ["edge-access"],
        "algorithms": ["ES256"],
        "jwks": { "keys": [vector("jose-ES256-valid")["jwk"].clone()] }
    })
}

/// One signature to check: the jose fixture of one algorithm.
pub struct SignatureCase {
    pub alg: Algorithm,
    pub key: VerifyKey,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// The `jose-<alg>-valid` fixture of each of [`ALGS`].
pub fn signature_cases() -> Vec<SignatureCase> {
    ALGS.iter()
        .map(|name| {
            let v = vector(&format!("jose-{name}-valid"));
            let token = v["token"].as_str().expect("token");
            let (input, sig) = token.rsplit_once('.').expect("compact JWS");
            let key = match v.get("secret") {
                Some(s) => VerifyKey::hmac(
                    &URL_SAFE_NO_PAD
                        .decode(s.as_str().expect("secret"))
                        .expect("base64url secret"),
                )
                .expect("HMAC key"),
                None => parse_jwk(&v["jwk"]).expect("JWK"),
            };
            SignatureCase {
                alg: Algorithm::from_name(name).expect("algorithm"),
                key,
                signing_input: input.to_owned(),
                signature: URL_SAFE_NO_PAD.decode(sig).expect("base64url signature"),
            }
        })
        .collect()
}

/// Bundled keys for every issuer of a policy.
pub struct BundledKeys(Vec<Vec<VerifyKey>>);

impl BundledKeys {
    pub fn of(policy: &Policy) -> BundledKeys {
        BundledKeys(
            policy
                .issuers()
                .iter()
                .map(|i| match &i.keys {
                    KeySource::Bundled(keys) => keys.clone(),
                    _ => Vec::new(),
                })
                .collect(),
        )
    }
}

impl KeyStore for BundledKeys {
    fn keys(&self, issuer: usize) -> Keys<'_> {
        match self.0.get(issuer) {
            Some(keys) if !keys.is_empty() => Keys::Ready(keys),
            _ => Keys::Unavailable,
        }
    }
}

/// Verifies a request's tokens against the reference policy, as the Worker does before evaluating.
pub async fn verify_request(
    request: &Request,
    keys: &BundledKeys,
    cache: &RefCell<VerifiedCache>,
) -> TokenResults {
    let policy = &realistic().bundled;
    verify_tokens(
        policy,
        &request.headers,
        None,
        TOKEN_NOW,
        keys,
        verifier(),
        cache,
    )
    .await
    .expect("keys are bundled")
}

/// A whole decision on the reference policy: the request's tokens verified (through `cache`), then evaluated.
/// Returns whether the request was allowed.
pub async fn decide(request: &Request, keys: &BundledKeys, cache: &RefCell<VerifiedCache>) -> bool {
    let tokens = verify_request(request, keys, cache).await;
    let facts = RequestFacts {
        tokens: &tokens,
        ..request.facts()
    };
    !realistic().bundled.evaluate(&facts, TOKEN_NOW).blocks()
}

/// What the `token` and `decision` groups share: the reference policy's keys and a warm verified-token cache.
pub struct TokenFixture {
    pub keys: BundledKeys,
    pub warm: RefCell<VerifiedCache>,
}

/// Built once; the warm cache is filled by [`warm_up`] (async: in Wasm the first verification awaits WebCrypto).
pub fn token_fixture() -> &'static TokenFixture {
    thread_local! {
        static FIXTURE: &'static TokenFixture = Box::leak(Box::new(TokenFixture {
            keys: BundledKeys::of(&realistic().bundled),
            warm: RefCell::new(VerifiedCache::default()),
        }));
    }
    FIXTURE.with(|f| *f)
}

/// Verifies the token mix once, filling the warm cache (one entry: every request carries the same token), and
/// checks each decision allows.
pub async fn warm_up() {
    let fx = token_fixture();
    for r in &realistic().token {
        assert!(decide(r, &fx.keys, &fx.warm).await, "token request refused");
    }
    assert_eq!(fx.warm.borrow().len(), 1, "one token, one cache entry");
}

/// `token/{parse_es256,claims_es256,cache_hit_es256}`: the ES256 token parsed with its algorithm pinned, its claims
/// checked against the issuer's rules, and a verified-token cache hit through the whole token driver (extract,
/// cache lookup, claim re-check; no signature check).
pub async fn token(h: &mut impl Harness) {
    warm_up().await;
    h.bench("token", "parse_es256", FAST, || {
        let token = es256_token();
        let issuer = &realistic().bundled.issuers()[0];
        move || {
            jwt::parse(
                black_box(&token),
                &issuer.algorithms,
                issuer.max_token_bytes,
            )
            .is_ok()
        }
    });
    h.bench("token", "claims_es256", FAST, || {
        let token = es256_token();
        let issuer = &realistic().bundled.issuers()[0];
        let claims = jwt::parse(&token, &issuer.algorithms, issuer.max_token_bytes)
            .expect("token parses")
            .claims;
        move || jwt::check_claims(black_box(&claims), &issuer.claim_rules, TOKEN_NOW.0).is_ok()
    });
    h.bench("token", "cache_hit_es256", FAST, || {
        let fx = token_fixture();
        let requests = &realistic().token;
        let mut i = 0usize;
        move || {
            i = (i + 1) % requests.len();
            now_or_never(verify_request(&requests[i], &fx.keys, &fx.warm))
                .expect("a cache hit never waits")
        }
    });
}

/// `decision/es256_{verify,cache_hit}`: a whole decision on the reference policy for a request carrying the ES256
/// token: the token driver (extract, parse, pin, key selection, signature check with [`Verifier`], claims), then
/// `Policy::evaluate` (20 rules, the token rule with a claim test), allowed by the last rule. `es256_verify` starts
/// each decision with an empty verified-token cache (a new token: one signature check); `es256_cache_hit` with the
/// token already verified (a client's repeated token: no signature check).
pub async fn decision(h: &mut impl Harness) {
    warm_up().await;
    h.bench_async("decision", "es256_verify", MEDIUM, || {
        let fx = token_fixture();
        let requests = &realistic().token;
        let mut i = 0usize;
        move || {
            i = (i + 1) % requests.len();
            let request = &requests[i];
            async move {
                let cache = RefCell::new(VerifiedCache::default());
                let allowed = decide(black_box(request), &fx.keys, &cache).await;
                assert!(allowed);
                allowed
            }
        }
    })
    .await;
    h.bench("decision", "es256_cache_hit", FAST, || {
        let fx = token_fixture();
        let requests = &realistic().token;
        let mut i = 0usize;
        move || {
            i = (i + 1) % requests.len();
            now_or_never(decide(black_box(&requests[i]), &fx.keys, &fx.warm))
                .expect("a cache hit never waits")
        }
    });
}

/// `verify/<alg>`: one signature check with [`Verifier`] on each algorithm's jose fixture (RSA 2048-bit keys, EC
/// P-256/P-384, Ed25519, HMAC 32/48/64-byte secrets). Keys are parsed outside the loop; WebCrypto imports each
/// key once (its verifier caches the `CryptoKey`, as in the Worker), which the first, checked, verification does.
pub async fn verify(h: &mut impl Harness) {
    let cases: &'static [SignatureCase] = Box::leak(signature_cases().into_boxed_slice());
    for case in cases {
        let ok = verifier()
            .verify(
                case.alg,
                &case.key,
                case.signing_input.as_bytes(),
                &case.signature,
            )
            .await;
        assert_eq!(ok, Ok(()), "{} fixture verifies", case.alg);
        h.bench_async("verify", case.alg.name(), MEDIUM, move || {
            move || {
                verifier().verify(
                    case.alg,
                    &case.key,
                    black_box(case.signing_input.as_bytes()),
                    black_box(&case.signature),
                )
            }
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Policy files for the startup benchmark (scripts/startup.sh)
// ---------------------------------------------------------------------------------------------------------------

/// Writes the policies the startup benchmark bundles, and one request for each with the answer the native engine
/// gives it, into `dir`: `reference.json` (the realistic policy: 100k CIDRs, 50 origins, 20 rules, one ES256
/// issuer), `list-1m.json` (the 1M IPv4 prefixes of `ip/v4_1m`, one deny rule, default allow) and
/// `requests.json`. Deterministic: the same files every time.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_startup_policies(dir: &std::path::Path) {
    use edge_access::engine::render;

    std::fs::create_dir_all(dir).expect("policy directory");
    let (nets, _) = fixture_nets(Family::V4, SIZES[3].1);
    let list_text = json!({
        "version": 1,
        "ip_lists": { "big": nets.iter().map(|n| n.to_string()).collect::<Vec<_>>() },
        "rules": [ { "id": "big-blocklist", "action": "deny", "when": { "client_ip_in": "big" } } ],
        "default": { "action": "allow" }
    })
    .to_string();
    let r = realistic();
    let reference = &r.default[0];
    let listed = nets[0].addr().to_string();
    let cases = [
        (
            "reference",
            r.text.clone(),
            reference.method,
            reference.host.clone(),
            reference.path.clone(),
            reference
                .headers
                .iter()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect::<Vec<_>>(),
            reference.country,
        ),
        (
            "list-1m",
            list_text,
            "GET",
            "www.example.com".to_owned(),
            "/".to_owned(),
            vec![("cf-connecting-ip".to_owned(), listed)],
            None,
        ),
    ];
    let mut requests = serde_json::Map::new();
    for (name, text, method, host, path, pairs, country) in cases {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, &text).expect("policy file written");
        let policy = Policy::compile(&text, &format!("{name}.json"))
            .expect("the policy compiles")
            .policy;
        let headers = HeaderList::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let facts = RequestFacts {
            method,
            host: &host,
            path: &path,
            query: None,
            headers: &headers,
            country,
            asn: None,
            tokens: &NoTokens,
            limits: &NoLimits,
        };
        let decision = policy.evaluate(&facts, NOW);
        let status = match render::plan(&decision, &policy, &host, "bench", false) {
            render::Plan::Respond { status, .. } => status,
            render::Plan::Forward { .. } => 200,
        };
        requests.insert(
            name.to_owned(),
            json!({
                "policy": file.file_name().and_then(|f| f.to_str()),
                "method": method,
                "url": format!("https://{host}{path}"),
                "headers": pairs.iter().flat_map(|(n, v)| [n.clone(), v.clone()]).collect::<Vec<_>>(),
                "country": country,
                "expect": format!("{status} {}", decision.code),
            }),
        );
    }
    std::fs::write(
        dir.join("requests.json"),
        serde_json::to_string_pretty(&requests).expect("JSON") + "\n",
    )
    .expect("requests written");
}
