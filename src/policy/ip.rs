//! Named IP lists compiled into a compact, sorted range set, plus the strict parsers that feed it.
//!
//! What this module is for:
//! - parsing the entries of an IP list in the policy file ([`parse_entry`]) and client IPs taken from request
//!   headers ([`parse_client_ip`]) with one strict grammar: full dotted-quad decimal IPv4 without leading zeros,
//!   RFC 4291 IPv6 text without zone ids or brackets, optional `/prefix` (entries only) written in plain decimal;
//! - compiling any number of networks into an [`IpSet`] ([`IpSetBuilder`]): two little-endian blobs of sorted,
//!   merged, inclusive ranges (plus, for lists of 256 ranges or more, a small first-level index per family) that
//!   can be written to disk at build time and loaded back with [`IpSet::from_static`] /
//!   [`IpSet::from_static_with_index`] in O(1) (no copy, no scan);
//! - answering "is this client address in the list" ([`IpSet::contains`]) with a branch-light binary search over
//!   the blob (over one index bucket when there is an index), without allocating.
//!
//! What it must never do:
//! - accept a textual form that some other parser would read as a different address (leading zeros that could be
//!   octal, hex octets, shorthand `127.1`, zone ids, ports, surrounding or embedded whitespace): a lenient parse
//!   of a list entry or of a client IP is a filter bypass;
//! - panic, on any input (entries, header values and blobs are all treated as untrusted);
//! - allocate or scan on the per-request path ([`parse_client_ip`], [`IpSet::contains`] and friends), or scan the
//!   data when loading a static blob.
//!
//! Address canonicalisation: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is the same host as
//! the IPv4 address `a.b.c.d`, so client IPs and [`IpSet::contains`] map it to IPv4 first, and an IPv6 list entry
//! that intersects `::ffff:0:0/96` also adds the matching IPv4 range. IPv4-compatible addresses (`::a.b.c.d`,
//! deprecated by RFC 4291 §2.5.5.1) and translation prefixes such as NAT64 `64:ff9b::/96` are NOT mapped: they are
//! plain IPv6 addresses.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Width in bytes of one IPv4 record in [`IpSet::v4_bytes`]: start `u32` LE then end `u32` LE.
pub const V4_RECORD_LEN: usize = 8;
/// Width in bytes of one IPv6 record in [`IpSet::v6_bytes`]: start `u128` LE then end `u128` LE.
pub const V6_RECORD_LEN: usize = 32;

/// First address of `::ffff:0:0/96`, the IPv4-mapped IPv6 block.
const MAPPED_START: u128 = 0xffff_0000_0000;
/// Last address of `::ffff:0:0/96`.
const MAPPED_END: u128 = 0xffff_ffff_ffff;

// ---------------------------------------------------------------------------------------------------------------
// Error display helper
// ---------------------------------------------------------------------------------------------------------------

/// Maximum number of input bytes kept in an [`Excerpt`].
const EXCERPT_MAX: usize = 64;

/// The offending input, as quoted in an error message.
///
/// Stored inline (no allocation, so a flood of bad header values costs nothing extra) and capped at the first 64
/// bytes (cut on a character boundary). When displayed, printable ASCII and the space are written as they are;
/// tab, newline and carriage return are written as `\t`, `\n`, `\r`, and every other character (control
/// characters, non-ASCII whitespace, bidi controls, any non-ASCII text) as `\u{..}`, so an error message can be
/// logged without letting the input forge log lines. A cut input ends with `...`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Excerpt {
    buf: [u8; EXCERPT_MAX],
    len: u8,
    truncated: bool,
}

impl Excerpt {
    fn new(s: &str) -> Self {
        let mut end = s.len().min(EXCERPT_MAX);
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; EXCERPT_MAX];
        if let (Some(dst), Some(src)) = (buf.get_mut(..end), s.as_bytes().get(..end)) {
            dst.copy_from_slice(src);
        }
        Self {
            buf,
            len: u8::try_from(end).unwrap_or(0),
            truncated: end < s.len(),
        }
    }

    /// The kept part of the input, unescaped (at most 64 bytes).
    pub fn as_str(&self) -> &str {
        self.buf
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// True when the input was longer than what is kept.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        for c in self.as_str().chars() {
            match c {
                ' ' => f.write_char(' ')?,
                c if c.is_ascii_graphic() => f.write_char(c)?,
                '\t' => f.write_str("\\t")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
        }
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Excerpt({:?}", self.as_str())?;
        if self.truncated {
            f.write_str(", truncated")?;
        }
        f.write_str(")")
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/// Why a policy-file IP list entry was refused by [`parse_entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpEntryError {
    /// The entry is the empty string.
    #[error("the IP entry is empty")]
    Empty,
    /// The entry contains whitespace anywhere (entries are never trimmed).
    #[error("`{0}` contains whitespace")]
    Whitespace(Excerpt),
    /// The entry contains `[` or `]`.
    #[error("`{0}` has brackets; write an IPv6 address without `[` and `]`")]
    Brackets(Excerpt),
    /// The entry has an IPv6 zone id (`%eth0`).
    #[error("`{0}` has an IPv6 zone id (`%...`), which is not allowed")]
    ZoneId(Excerpt),
    /// The entry looks like `a.b.c.d:port`.
    #[error("`{0}` has a port; write the address without `:port`")]
    Port(Excerpt),
    /// An IPv4 octet has a leading zero (`010`), which some parsers read as octal.
    #[error("`{0}` has a leading zero in an octet")]
    LeadingZeroOctet(Excerpt),
    /// An IPv4 octet is written in hexadecimal (`0x7f`).
    #[error("`{0}` has a hexadecimal octet; write IPv4 addresses as four decimal octets")]
    HexOctet(Excerpt),
    /// An IPv4 address has fewer than four octets (`10.1`, `127.1`, `2130706433`).
    #[error("`{0}` has fewer than four octets; write IPv4 addresses as four decimal octets")]
    ShorthandIpv4(Excerpt),
    /// An IPv4 octet is above 255.
    #[error("`{0}` has an octet greater than 255")]
    OctetOutOfRange(Excerpt),
    /// The address has two or more colons but is not valid IPv6 text.
    #[error("`{0}` is not a valid IPv6 address")]
    InvalidIpv6(Excerpt),
    /// Anything else that is not an address (`abc`, `1.2.3.4.5`, `1..2.3`, `/24`).
    #[error("`{0}` is not an IP address or network")]
    Invalid(Excerpt),
    /// Nothing after the `/`.
    #[error("`{0}` has an empty prefix length after `/`")]
    EmptyPrefix(Excerpt),
    /// The prefix length starts with `+` or `-`.
    #[error("`{0}` has a sign in the prefix length")]
    PrefixSign(Excerpt),
    /// The prefix length has a leading zero (`/024`, `/00`; `/0` itself is fine).
    #[error("`{0}` has a leading zero in the prefix length")]
    PrefixLeadingZero(Excerpt),
    /// The prefix length is not a decimal number (`/8a`, `/24/8`).
    #[error("`{0}` has a prefix length that is not a decimal number")]
    PrefixNotNumber(Excerpt),
    /// The prefix length is above 32 (IPv4) or 128 (IPv6).
    #[error("`{entry}` has a prefix length greater than {max}")]
    PrefixOutOfRange {
        /// The entry as written.
        entry: Excerpt,
        /// 32 or 128.
        max: u8,
    },
}

/// Why a client IP header value was refused by [`parse_client_ip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientIpError {
    /// Nothing left after trimming spaces and tabs.
    #[error("the client IP is empty")]
    Empty,
    /// Whitespace inside the value, or whitespace other than space/tab around it.
    #[error("`{0}` contains whitespace")]
    Whitespace(Excerpt),
    /// The value contains `[` or `]`.
    #[error("`{0}` has brackets; a client IP is a bare address")]
    Brackets(Excerpt),
    /// The value has an IPv6 zone id.
    #[error("`{0}` has an IPv6 zone id (`%...`), which is not allowed")]
    ZoneId(Excerpt),
    /// The value looks like `a.b.c.d:port`.
    #[error("`{0}` has a port; a client IP is a bare address")]
    Port(Excerpt),
    /// The value has a `/prefix`.
    #[error("`{0}` has a prefix length; a client IP is a single address")]
    HasPrefix(Excerpt),
    /// An IPv4 octet has a leading zero.
    #[error("`{0}` has a leading zero in an octet")]
    LeadingZeroOctet(Excerpt),
    /// An IPv4 octet is written in hexadecimal.
    #[error("`{0}` has a hexadecimal octet; an IPv4 client IP must be four decimal octets")]
    HexOctet(Excerpt),
    /// An IPv4 address has fewer than four octets.
    #[error("`{0}` has fewer than four octets; an IPv4 client IP must be four decimal octets")]
    ShorthandIpv4(Excerpt),
    /// An IPv4 octet is above 255.
    #[error("`{0}` has an octet greater than 255")]
    OctetOutOfRange(Excerpt),
    /// Two or more colons but not valid IPv6 text.
    #[error("`{0}` is not a valid IPv6 address")]
    InvalidIpv6(Excerpt),
    /// Anything else (`unknown`, `1.2.3.4,5.6.7.8`, ...).
    #[error("`{0}` is not an IP address")]
    Invalid(Excerpt),
}

/// Why blobs were refused by [`IpSet::from_static`] or [`IpSet::from_static_with_index`] (O(1) checks only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpSetBytesError {
    /// The IPv4 range blob length is not a multiple of 8.
    #[error("the IPv4 range data is {len} bytes long, which is not a multiple of 8")]
    V4Length {
        /// Length of the blob in bytes.
        len: usize,
    },
    /// The IPv6 range blob length is not a multiple of 32.
    #[error("the IPv6 range data is {len} bytes long, which is not a multiple of 32")]
    V6Length {
        /// Length of the blob in bytes.
        len: usize,
    },
    /// The IPv4 index blob does not have the length (or the first/last entries) that the IPv4 range blob
    /// requires: it was produced for different range data.
    #[error("the IPv4 index ({len} bytes) does not belong to the IPv4 range data (expected {expected} bytes)")]
    V4Index {
        /// Length of the index blob in bytes.
        len: usize,
        /// Length the index must have for this range data.
        expected: usize,
    },
    /// Same as [`IpSetBytesError::V4Index`] for IPv6.
    #[error("the IPv6 index ({len} bytes) does not belong to the IPv6 range data (expected {expected} bytes)")]
    V6Index {
        /// Length of the index blob in bytes.
        len: usize,
        /// Length the index must have for this range data.
        expected: usize,
    },
}

/// Why [`IpSet::validate`] found a set inconsistent (only possible for blobs that were not produced by
/// [`IpSetBuilder::build`] of this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IpSetCheckError {
    /// IPv4 range `index` ends before it starts, or does not start at least two addresses after the previous
    /// range's end (unsorted, overlapping or adjacent).
    #[error("the IPv4 range data is not sorted and merged at range {index}")]
    V4NotCanonical {
        /// Zero-based range index.
        index: usize,
    },
    /// Same as [`IpSetCheckError::V4NotCanonical`] for IPv6.
    #[error("the IPv6 range data is not sorted and merged at range {index}")]
    V6NotCanonical {
        /// Zero-based range index.
        index: usize,
    },
    /// The IPv4 index is present but differs from the one computed from the IPv4 ranges.
    #[error("the IPv4 index does not match the IPv4 range data")]
    V4IndexMismatch,
    /// The IPv6 index is present but differs from the one computed from the IPv6 ranges.
    #[error("the IPv6 index does not match the IPv6 range data")]
    V6IndexMismatch,
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------------------------

/// Address-level failure shared by both parsers; mapped to the public enums with the input attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddrError {
    Empty,
    Whitespace,
    Brackets,
    ZoneId,
    Port,
    LeadingZero,
    Hex,
    Shorthand,
    OctetRange,
    InvalidV6,
    Invalid,
}

impl AddrError {
    fn for_entry(self, input: &str) -> IpEntryError {
        let e = Excerpt::new(input);
        match self {
            Self::Empty => IpEntryError::Empty,
            Self::Whitespace => IpEntryError::Whitespace(e),
            Self::Brackets => IpEntryError::Brackets(e),
            Self::ZoneId => IpEntryError::ZoneId(e),
            Self::Port => IpEntryError::Port(e),
            Self::LeadingZero => IpEntryError::LeadingZeroOctet(e),
            Self::Hex => IpEntryError::HexOctet(e),
            Self::Shorthand => IpEntryError::ShorthandIpv4(e),
            Self::OctetRange => IpEntryError::OctetOutOfRange(e),
            Self::InvalidV6 => IpEntryError::InvalidIpv6(e),
            Self::Invalid => IpEntryError::Invalid(e),
        }
    }

    fn for_client(self, input: &str) -> ClientIpError {
        let e = Excerpt::new(input);
        match self {
            Self::Empty => ClientIpError::Empty,
            Self::Whitespace => ClientIpError::Whitespace(e),
            Self::Brackets => ClientIpError::Brackets(e),
            Self::ZoneId => ClientIpError::ZoneId(e),
            Self::Port => ClientIpError::Port(e),
            Self::LeadingZero => ClientIpError::LeadingZeroOctet(e),
            Self::Hex => ClientIpError::HexOctet(e),
            Self::Shorthand => ClientIpError::ShorthandIpv4(e),
            Self::OctetRange => ClientIpError::OctetOutOfRange(e),
            Self::InvalidV6 => ClientIpError::InvalidIpv6(e),
            Self::Invalid => ClientIpError::Invalid(e),
        }
    }
}

/// Checks that apply to the whole text before it is split into address and prefix.
fn check_text(s: &str) -> Result<(), AddrError> {
    if s.is_empty() {
        return Err(AddrError::Empty);
    }
    if s.chars().any(char::is_whitespace) {
        return Err(AddrError::Whitespace);
    }
    if s.contains(['[', ']']) {
        return Err(AddrError::Brackets);
    }
    if s.contains('%') {
        return Err(AddrError::ZoneId);
    }
    Ok(())
}

/// Strict dotted-quad IPv4: exactly four octets of 1-3 ASCII decimal digits, value <= 255, no leading zero.
///
/// std's `Ipv4Addr::from_str` also refuses leading zeros, shorthand and hex (since Rust 1.55), but it does not say
/// why, and its behaviour is not part of our contract: this parser makes every rule explicit.
fn parse_v4(s: &str) -> Result<Ipv4Addr, AddrError> {
    if s.split('.')
        .any(|p| p.starts_with("0x") || p.starts_with("0X"))
    {
        return Err(AddrError::Hex);
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(AddrError::Invalid);
    }
    if s.split('.').any(str::is_empty) {
        return Err(AddrError::Invalid);
    }
    match s.split('.').count() {
        4 => {}
        n if n < 4 => return Err(AddrError::Shorthand),
        _ => return Err(AddrError::Invalid),
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(s.split('.')) {
        if part.len() > 1 && part.starts_with('0') {
            return Err(AddrError::LeadingZero);
        }
        if part.len() > 3 {
            return Err(AddrError::OctetRange);
        }
        let value: u16 = part.parse().map_err(|_| AddrError::Invalid)?;
        *slot = u8::try_from(value).map_err(|_| AddrError::OctetRange)?;
    }
    Ok(Ipv4Addr::from(octets))
}

/// RFC 4291 IPv6 text (std's grammar: up to 4 hex digits per group, one `::`, optional dotted-quad tail), with the
/// dotted-quad tail held to the same strict IPv4 rules as [`parse_v4`].
fn parse_v6(s: &str) -> Result<Ipv6Addr, AddrError> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return Err(AddrError::InvalidV6);
    }
    if let Some((_, tail)) = s.rsplit_once(':') {
        if tail.contains('.') {
            parse_v4(tail)?;
        }
    }
    s.parse::<Ipv6Addr>().map_err(|_| AddrError::InvalidV6)
}

/// One address, no prefix. Already passed [`check_text`].
fn parse_addr(s: &str) -> Result<IpAddr, AddrError> {
    match s.bytes().filter(|&b| b == b':').count() {
        0 => parse_v4(s).map(IpAddr::V4),
        1 => match s.split_once(':') {
            Some((host, port))
                if host.contains('.')
                    && !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Err(AddrError::Port)
            }
            _ => Err(AddrError::Invalid),
        },
        _ => parse_v6(s).map(IpAddr::V6),
    }
}

/// Prefix-length failure; mapped to [`IpEntryError`].
enum PrefixError {
    Empty,
    Sign,
    LeadingZero,
    NotNumber,
    OutOfRange,
}

fn parse_prefix(p: &str, max: u8) -> Result<u8, PrefixError> {
    if p.is_empty() {
        return Err(PrefixError::Empty);
    }
    if p.starts_with(['+', '-']) {
        return Err(PrefixError::Sign);
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PrefixError::NotNumber);
    }
    if p.len() > 1 && p.starts_with('0') {
        return Err(PrefixError::LeadingZero);
    }
    if p.len() > 3 {
        return Err(PrefixError::OutOfRange);
    }
    let value: u16 = p.parse().map_err(|_| PrefixError::NotNumber)?;
    match u8::try_from(value) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(PrefixError::OutOfRange),
    }
}

/// One parsed entry of an IP list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedEntry {
    /// The network, always truncated: `192.0.2.1/24` becomes `192.0.2.0/24`. A bare address is a `/32` or
    /// `/128`. IPv6 text stays IPv6 here (`::ffff:192.0.2.0/120` is a `V6` net); [`IpSetBuilder::insert`] adds the
    /// matching IPv4 range.
    pub net: IpNet,
    /// True when the text had host bits set below the prefix (the caller should warn: `192.0.2.1/24` usually
    /// means a typo for `192.0.2.1/32` or `192.0.2.0/24`).
    pub host_bits_cleared: bool,
}

/// Parses one entry of an IP list in the policy file.
///
/// Accepted: `192.0.2.0/24`, `192.0.2.7`, `2001:db8::/32`, `2001:db8::1`, `::ffff:192.0.2.0/120`, and networks
/// with host bits set (`192.0.2.1/24`, normalised, with [`ParsedEntry::host_bits_cleared`] set). IPv6 follows
/// RFC 4291 text (case-insensitive hex, 1-4 digits per group, `::`, optional dotted-quad tail).
/// `::192.0.2.1` (IPv4-compatible) is a plain IPv6 address, not an IPv4 one.
///
/// Refused, each with its own [`IpEntryError`] variant: the empty string, any whitespace (nothing is trimmed),
/// brackets, zone ids, ports, IPv4 octets with a leading zero, hex octets, fewer than four octets, octets above
/// 255, invalid IPv6, other garbage, and prefix lengths that are empty, signed, zero-padded, non-decimal or above
/// 32/128.
pub fn parse_entry(s: &str) -> Result<ParsedEntry, IpEntryError> {
    check_text(s).map_err(|e| e.for_entry(s))?;
    let (addr_text, prefix_text) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = parse_addr(addr_text).map_err(|e| e.for_entry(s))?;
    let max: u8 = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let excerpt = || Excerpt::new(s);
    let len = match prefix_text {
        None => max,
        Some(p) => parse_prefix(p, max).map_err(|e| match e {
            PrefixError::Empty => IpEntryError::EmptyPrefix(excerpt()),
            PrefixError::Sign => IpEntryError::PrefixSign(excerpt()),
            PrefixError::LeadingZero => IpEntryError::PrefixLeadingZero(excerpt()),
            PrefixError::NotNumber => IpEntryError::PrefixNotNumber(excerpt()),
            PrefixError::OutOfRange => IpEntryError::PrefixOutOfRange {
                entry: excerpt(),
                max,
            },
        })?,
    };
    let net = IpNet::new(addr, len).map_err(|_| IpEntryError::PrefixOutOfRange {
        entry: excerpt(),
        max,
    })?;
    let truncated = net.trunc();
    Ok(ParsedEntry {
        net: truncated,
        host_bits_cleared: truncated != net,
    })
}

/// Parses a client IP from a header value (`CF-Connecting-IP`, or one element of `X-Forwarded-For` after the
/// caller split on `,`).
///
/// Only surrounding spaces and tabs (HTTP optional whitespace) are trimmed; any other whitespace, inner or outer,
/// is refused. The grammar is that of [`parse_entry`] without a prefix. Returns the canonical address: an
/// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, `::ffff:c000:201`) comes back as IPv4 `192.0.2.1`;
/// IPv4-compatible `::192.0.2.1` stays IPv6. Does not allocate, on success or on error.
pub fn parse_client_ip(s: &str) -> Result<IpAddr, ClientIpError> {
    let t = s.trim_matches([' ', '\t']);
    check_text(t).map_err(|e| e.for_client(t))?;
    if t.contains('/') {
        return Err(ClientIpError::HasPrefix(Excerpt::new(t)));
    }
    parse_addr(t).map(canonical).map_err(|e| e.for_client(t))
}

/// Maps an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) to IPv4; every other address is returned unchanged
/// (including IPv4-compatible `::a.b.c.d`, NAT64 and 6to4 addresses).
#[inline]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        IpAddr::V4(_) => ip,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Range words, search, merge, index
// ---------------------------------------------------------------------------------------------------------------

/// Width in bytes of one entry of an index blob ([`IpSet::v4_index_bytes`], [`IpSet::v6_index_bytes`]).
pub const INDEX_ENTRY_LEN: usize = 4;
/// Lists with fewer ranges than this get no index (a plain binary search over a few KiB is already cache-hot).
const INDEX_MIN_RANGES: usize = 256;
/// At most 2^16 buckets: a 256 KiB index, about 1/32 of the data of a 1M-range IPv4 list.
const INDEX_MAX_BITS: u32 = 16;

/// An address width stored in a blob (`u32` for IPv4, `u128` for IPv6).
trait Word: Copy + Ord {
    /// Bytes per value; a record is two values.
    const LEN: usize;
    const BITS: u32;
    const MAX: Self;
    /// Reads the little-endian value at byte `off`; `None` when out of bounds.
    fn read(b: &[u8], off: usize) -> Option<Self>;
    fn push(self, out: &mut Vec<u8>);
    fn saturating_succ(self) -> Self;
    /// The value shifted right by `shift` bits (0 when `shift >= BITS`), as a bucket number.
    fn shr_to_usize(self, shift: u32) -> usize;
}

impl Word for u32 {
    const LEN: usize = 4;
    const BITS: u32 = 32;
    const MAX: Self = u32::MAX;
    #[inline(always)]
    fn read(b: &[u8], off: usize) -> Option<Self> {
        b.get(off..)
            .and_then(<[u8]>::first_chunk::<4>)
            .map(|c| u32::from_le_bytes(*c))
    }
    fn push(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn saturating_succ(self) -> Self {
        self.saturating_add(1)
    }
    #[inline(always)]
    fn shr_to_usize(self, shift: u32) -> usize {
        usize::try_from(self.checked_shr(shift).unwrap_or(0)).unwrap_or(usize::MAX)
    }
}

impl Word for u128 {
    const LEN: usize = 16;
    const BITS: u32 = 128;
    const MAX: Self = u128::MAX;
    #[inline(always)]
    fn read(b: &[u8], off: usize) -> Option<Self> {
        b.get(off..)
            .and_then(<[u8]>::first_chunk::<16>)
            .map(|c| u128::from_le_bytes(*c))
    }
    fn push(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn saturating_succ(self) -> Self {
        self.saturating_add(1)
    }
    #[inline(always)]
    fn shr_to_usize(self, shift: u32) -> usize {
        usize::try_from(self.checked_shr(shift).unwrap_or(0)).unwrap_or(usize::MAX)
    }
}

/// Binary search over a record blob for the last record whose start is <= `ip`, then one end check.
///
/// The loop always runs ceil(log2(n)) iterations with a data-dependent select and no early exit, which compiles
/// to a conditional move / wasm `select` instead of an unpredictable branch.
#[inline(always)]
fn search<T: Word>(b: &[u8], ip: T) -> bool {
    let rec = 2 * T::LEN;
    let mut size = b.len() / rec;
    if size == 0 {
        return false;
    }
    let mut base = 0usize;
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        // `mid < n`, so the read is in bounds; the fallback only keeps this total.
        let start = T::read(b, mid * rec).unwrap_or(T::MAX);
        base = if start <= ip { mid } else { base };
        size -= half;
    }
    let off = base * rec;
    match (T::read(b, off), T::read(b, off + T::LEN)) {
        (Some(start), Some(end)) => start <= ip && ip <= end,
        _ => false,
    }
}

/// Index bits for a list of `n` ranges: `None` (no index) below [`INDEX_MIN_RANGES`], else about 8 ranges per
/// bucket, capped at [`INDEX_MAX_BITS`]. A pure function of `n`, so a loader knows the index length to expect.
fn index_bits(n: usize) -> Option<u32> {
    if n < INDEX_MIN_RANGES || u32::try_from(n).is_err() {
        return None;
    }
    Some((n.ilog2() - 3).min(INDEX_MAX_BITS))
}

/// Expected index blob length in bytes for `n` ranges (0 when no index).
fn index_len(n: usize) -> usize {
    match index_bits(n) {
        None => 0,
        Some(k) => ((1usize << k) + 1) * INDEX_ENTRY_LEN,
    }
}

/// Index blob for a record blob: entry `b` (u32 LE) is the number of ranges whose start is below the first
/// address of bucket `b` (the top `k` address bits equal `b`); there are 2^k + 1 entries, the last one is `n`.
fn build_index<T: Word>(data: &[u8]) -> Vec<u8> {
    let n = data.len() / (2 * T::LEN);
    let Some(k) = index_bits(n) else {
        return Vec::new();
    };
    let shift = T::BITS - k;
    let buckets = 1usize << k;
    let mut out = Vec::with_capacity((buckets + 1) * INDEX_ENTRY_LEN);
    let mut starts = records::<T>(data)
        .map(|(start, _)| start.shr_to_usize(shift))
        .peekable();
    let mut below = 0u32;
    for bucket in 0..=buckets {
        while starts.next_if(|&s| s < bucket).is_some() {
            below = below.saturating_add(1);
        }
        out.extend_from_slice(&below.to_le_bytes());
    }
    out
}

/// O(1) plausibility check of an index blob against its data: exact length, first entry 0, last entry `n`.
fn index_plausible(index: &[u8], n: usize) -> bool {
    let expected = index_len(n);
    if index.len() != expected {
        return false;
    }
    if expected == 0 {
        return true;
    }
    let first = u32::read(index, 0);
    let last = u32::read(index, expected - INDEX_ENTRY_LEN);
    first == Some(0) && last.and_then(|l| usize::try_from(l).ok()) == Some(n)
}

/// Lookup through the index when there is one: the bucket's entries bound the window of records that can hold
/// the last start <= `ip` (the window starts one record early, for a range that spans into the bucket). Any
/// inconsistency (impossible for blobs from this module) falls back to the full binary search, never to a
/// guessed answer.
#[inline(always)]
fn lookup<T: Word>(data: &[u8], index: &[u8], ip: T) -> bool {
    if index.is_empty() {
        return search(data, ip);
    }
    let rec = 2 * T::LEN;
    let buckets = (index.len() / INDEX_ENTRY_LEN).saturating_sub(1);
    let k = buckets.trailing_zeros();
    let bucket = ip.shr_to_usize(T::BITS.saturating_sub(k));
    let window = bucket
        .checked_mul(INDEX_ENTRY_LEN)
        .and_then(|off| {
            Some((
                u32::read(index, off)?,
                u32::read(index, off.checked_add(INDEX_ENTRY_LEN)?)?,
            ))
        })
        .and_then(|(lo, hi)| {
            let lo = usize::try_from(lo)
                .ok()?
                .saturating_sub(1)
                .checked_mul(rec)?;
            let hi = usize::try_from(hi).ok()?.checked_mul(rec)?;
            data.get(lo..hi)
        });
    match window {
        Some(w) => search(w, ip),
        None => search(data, ip),
    }
}

fn records<T: Word>(b: &[u8]) -> impl Iterator<Item = (T, T)> + '_ {
    b.chunks_exact(2 * T::LEN)
        .filter_map(|c| Some((T::read(c, 0)?, T::read(c, T::LEN)?)))
}

/// Sorts, merges overlapping and adjacent ranges, and serialises.
fn merge_to_bytes<T: Word>(mut ranges: Vec<(T, T)>) -> Vec<u8> {
    ranges.sort_unstable();
    let mut out = Vec::with_capacity(ranges.len().saturating_mul(2 * T::LEN));
    let mut current: Option<(T, T)> = None;
    for (start, end) in ranges {
        current = match current {
            Some((cs, ce)) if start <= ce.saturating_succ() => Some((cs, ce.max(end))),
            Some((cs, ce)) => {
                cs.push(&mut out);
                ce.push(&mut out);
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((cs, ce)) = current {
        cs.push(&mut out);
        ce.push(&mut out);
    }
    out
}

/// Index of the first record breaking "start <= end, and start > previous end + 1".
fn first_non_canonical<T: Word>(b: &[u8]) -> Option<usize> {
    let mut prev_end: Option<T> = None;
    for (i, (start, end)) in records::<T>(b).enumerate() {
        let after_prev = match prev_end {
            None => true,
            Some(pe) => pe != T::MAX && start > pe.saturating_succ(),
        };
        if start > end || !after_prev {
            return Some(i);
        }
        prev_end = Some(end);
    }
    None
}

/// True when some range of `a` shares an address with some range of `b` (both sorted and disjoint).
fn walk_overlaps<T: Word>(a: &[u8], b: &[u8]) -> bool {
    let mut ai = records::<T>(a);
    let mut bi = records::<T>(b);
    let mut x = ai.next();
    let mut y = bi.next();
    while let (Some((a_start, a_end)), Some((b_start, b_end))) = (x, y) {
        if a_end < b_start {
            x = ai.next();
        } else if b_end < a_start {
            y = bi.next();
        } else {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------------------------
// IpSet
// ---------------------------------------------------------------------------------------------------------------

/// A compiled IP list: two blobs of inclusive ranges, plus an optional first-level index per family.
///
/// Range blob layout (the on-disk format of [`IpSet::v4_bytes`] / [`IpSet::v6_bytes`]): interleaved
/// little-endian inclusive ranges, v4 = `[start u32 LE][end u32 LE]*` (8-byte records), v6 =
/// `[start u128 LE][end u128 LE]*` (32-byte records), sorted by start, non-overlapping and non-adjacent (the
/// builder merges overlapping and adjacent ranges). No header, no alignment requirement.
///
/// Index blob layout ([`IpSet::v4_index_bytes`] / [`IpSet::v6_index_bytes`]): empty for lists under 256 ranges;
/// otherwise `2^k + 1` `u32` LE entries where `k = min(16, floor(log2(n)) - 3)` is fixed by the range count `n`;
/// entry `b` is the number of ranges that start below the first address whose top `k` bits equal `b`. A lookup
/// reads two index entries and binary-searches only that bucket (about 8-16 ranges) instead of the whole list.
///
/// The IPv4 blob also holds the IPv4 part of IPv6 entries inside `::ffff:0:0/96`, so [`IpSet::contains`] answers
/// for mapped clients by looking at the IPv4 blob only. The default value is the empty set. Equality compares the
/// ranges only (a set loaded without its index equals the built one).
#[derive(Clone, Default)]
pub struct IpSet {
    v4: Cow<'static, [u8]>,
    v6: Cow<'static, [u8]>,
    v4_index: Cow<'static, [u8]>,
    v6_index: Cow<'static, [u8]>,
}

impl PartialEq for IpSet {
    fn eq(&self, other: &Self) -> bool {
        self.v4 == other.v4 && self.v6 == other.v6
    }
}

impl Eq for IpSet {}

impl fmt::Debug for IpSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IpSet")
            .field("v4_ranges", &self.v4_ranges())
            .field("v6_ranges", &self.v6_ranges())
            .field("v4_indexed", &!self.v4_index.is_empty())
            .field("v6_indexed", &!self.v6_index.is_empty())
            .finish()
    }
}

impl IpSet {
    /// True when `ip` is in the set. IPv4-mapped IPv6 addresses are looked up as IPv4 (see [`canonical`]).
    /// No allocation; O(log n) (O(log bucket) with an index).
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match canonical(ip) {
            IpAddr::V4(v4) => self.contains_v4(u32::from(v4)),
            IpAddr::V6(v6) => self.contains_v6(u128::from(v6)),
        }
    }

    /// True when the IPv4 address (host-order `u32`, i.e. `u32::from(Ipv4Addr)`) is in the set.
    #[inline]
    pub fn contains_v4(&self, ip: u32) -> bool {
        lookup::<u32>(&self.v4, &self.v4_index, ip)
    }

    /// True when the IPv6 address (`u128::from(Ipv6Addr)`) is in the IPv6 ranges. Raw: no canonicalisation, so a
    /// mapped address only matches IPv6 entries, never IPv4 ones; use [`IpSet::contains`] for client IPs.
    #[inline]
    pub fn contains_v6(&self, ip: u128) -> bool {
        lookup::<u128>(&self.v6, &self.v6_index, ip)
    }

    /// The IPv4 range blob (see the type docs for the layout).
    pub fn v4_bytes(&self) -> &[u8] {
        &self.v4
    }

    /// The IPv6 range blob (see the type docs for the layout).
    pub fn v6_bytes(&self) -> &[u8] {
        &self.v6
    }

    /// The IPv4 index blob (empty when the set was loaded without one, or has under 256 IPv4 ranges).
    pub fn v4_index_bytes(&self) -> &[u8] {
        &self.v4_index
    }

    /// The IPv6 index blob (empty when the set was loaded without one, or has under 256 IPv6 ranges).
    pub fn v6_index_bytes(&self) -> &[u8] {
        &self.v6_index
    }

    /// Zero-copy load of range blobs produced by [`IpSet::v4_bytes`] / [`IpSet::v6_bytes`] at build time (for
    /// example written by `build.rs` and embedded with `include_bytes!`), without an index: lookups are a plain
    /// binary search over the whole list. Use [`IpSet::from_static_with_index`] for large lists.
    ///
    /// O(1): only checks that the lengths are multiples of 8 and 32; it does NOT scan the data. Blobs that do not
    /// come from this module never cause a panic but give wrong answers: check them once at build time with
    /// [`IpSet::validate`].
    pub fn from_static(v4: &'static [u8], v6: &'static [u8]) -> Result<IpSet, IpSetBytesError> {
        check_lengths(v4, v6)?;
        Ok(IpSet {
            v4: Cow::Borrowed(v4),
            v6: Cow::Borrowed(v6),
            v4_index: Cow::Borrowed(&[]),
            v6_index: Cow::Borrowed(&[]),
        })
    }

    /// Like [`IpSet::from_static`], plus the index blobs from [`IpSet::v4_index_bytes`] /
    /// [`IpSet::v6_index_bytes`] of the same set. Still O(1): each index must have exactly the length its range
    /// count requires, start with 0 and end with the range count (this catches an index paired with the wrong
    /// data); the entries in between are not scanned.
    pub fn from_static_with_index(
        v4: &'static [u8],
        v6: &'static [u8],
        v4_index: &'static [u8],
        v6_index: &'static [u8],
    ) -> Result<IpSet, IpSetBytesError> {
        check_lengths(v4, v6)?;
        let (n4, n6) = (v4.len() / V4_RECORD_LEN, v6.len() / V6_RECORD_LEN);
        if !index_plausible(v4_index, n4) {
            return Err(IpSetBytesError::V4Index {
                len: v4_index.len(),
                expected: index_len(n4),
            });
        }
        if !index_plausible(v6_index, n6) {
            return Err(IpSetBytesError::V6Index {
                len: v6_index.len(),
                expected: index_len(n6),
            });
        }
        Ok(IpSet {
            v4: Cow::Borrowed(v4),
            v6: Cow::Borrowed(v6),
            v4_index: Cow::Borrowed(v4_index),
            v6_index: Cow::Borrowed(v6_index),
        })
    }

    /// Full O(n) consistency check: every range has start <= end and starts at least two addresses after the
    /// previous range's end (sorted, disjoint, non-adjacent), and a present index equals the one computed from
    /// the ranges. Always `Ok` for sets built by [`IpSetBuilder`]; meant for `build.rs` and tests.
    pub fn validate(&self) -> Result<(), IpSetCheckError> {
        if let Some(index) = first_non_canonical::<u32>(&self.v4) {
            return Err(IpSetCheckError::V4NotCanonical { index });
        }
        if let Some(index) = first_non_canonical::<u128>(&self.v6) {
            return Err(IpSetCheckError::V6NotCanonical { index });
        }
        if !self.v4_index.is_empty() && *self.v4_index != *build_index::<u32>(&self.v4) {
            return Err(IpSetCheckError::V4IndexMismatch);
        }
        if !self.v6_index.is_empty() && *self.v6_index != *build_index::<u128>(&self.v6) {
            return Err(IpSetCheckError::V6IndexMismatch);
        }
        Ok(())
    }

    /// Number of IPv4 ranges (after merging).
    pub fn v4_ranges(&self) -> usize {
        self.v4.len() / V4_RECORD_LEN
    }

    /// Number of IPv6 ranges (after merging).
    pub fn v6_ranges(&self) -> usize {
        self.v6.len() / V6_RECORD_LEN
    }

    /// True when the set has no range at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// IPv4 ranges as inclusive `(start, end)`, in ascending order.
    pub fn iter_v4(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        records::<u32>(&self.v4)
    }

    /// IPv6 ranges as inclusive `(start, end)`, in ascending order.
    pub fn iter_v6(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        records::<u128>(&self.v6)
    }

    /// True when the two sets share at least one address (linear merge walk, O(n + m)). IPv4 and mapped IPv6
    /// entries are compared as IPv4, so `192.0.2.0/24` overlaps `::ffff:192.0.2.0/120`.
    pub fn overlaps(&self, other: &IpSet) -> bool {
        walk_overlaps::<u32>(&self.v4, &other.v4) || walk_overlaps::<u128>(&self.v6, &other.v6)
    }
}

fn check_lengths(v4: &[u8], v6: &[u8]) -> Result<(), IpSetBytesError> {
    if v4.len() % V4_RECORD_LEN != 0 {
        return Err(IpSetBytesError::V4Length { len: v4.len() });
    }
    if v6.len() % V6_RECORD_LEN != 0 {
        return Err(IpSetBytesError::V6Length { len: v6.len() });
    }
    Ok(())
}

/// Collects networks and compiles them into an [`IpSet`]. The default value is empty.
#[derive(Debug, Clone, Default)]
pub struct IpSetBuilder {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpSetBuilder {
    /// Adds a network (host bits are ignored: the range is network address to broadcast address).
    ///
    /// An IPv6 network that intersects `::ffff:0:0/96` also adds the intersection as an IPv4 range, so `::/0`
    /// covers every IPv4 client and `::ffff:192.0.2.0/120` covers `192.0.2.0/24`. The IPv6 range itself is kept
    /// as written. IPv4 networks are NOT added as mapped IPv6 ranges (lookups canonicalise to IPv4 instead).
    pub fn insert(&mut self, net: IpNet) {
        match net {
            IpNet::V4(n) => self
                .v4
                .push((u32::from(n.network()), u32::from(n.broadcast()))),
            IpNet::V6(n) => {
                let start = u128::from(n.network());
                let end = u128::from(n.broadcast());
                self.v6.push((start, end));
                let lo = start.max(MAPPED_START);
                let hi = end.min(MAPPED_END);
                if lo <= hi {
                    // Both lie in MAPPED_START..=MAPPED_END, so the offsets fit in 32 bits.
                    let lo4 = u32::try_from(lo - MAPPED_START).unwrap_or(u32::MAX);
                    let hi4 = u32::try_from(hi - MAPPED_START).unwrap_or(u32::MAX);
                    self.v4.push((lo4, hi4));
                }
            }
        }
    }

    /// Sorts the ranges, merges overlapping and adjacent ones (`10.0.0.0/24` + `10.0.1.0/24` becomes one range)
    /// and computes the indexes (for families with 256 ranges or more).
    pub fn build(self) -> IpSet {
        let v4 = merge_to_bytes(self.v4);
        let v6 = merge_to_bytes(self.v6);
        IpSet {
            v4_index: Cow::Owned(build_index::<u32>(&v4)),
            v6_index: Cow::Owned(build_index::<u128>(&v6)),
            v4: Cow::Owned(v4),
            v6: Cow::Owned(v6),
        }
    }
}

impl Extend<IpNet> for IpSetBuilder {
    fn extend<I: IntoIterator<Item = IpNet>>(&mut self, iter: I) {
        for net in iter {
            self.insert(net);
        }
    }
}

impl FromIterator<IpNet> for IpSet {
    fn from_iter<I: IntoIterator<Item = IpNet>>(iter: I) -> Self {
        let mut b = IpSetBuilder::default();
        b.extend(iter);
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }

    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn set_of(entries: &[&str]) -> IpSet {
        entries
            .iter()
            .map(|e| parse_entry(e).unwrap().net)
            .collect()
    }

    fn leak(b: &[u8]) -> &'static [u8] {
        Box::leak(b.to_vec().into_boxed_slice())
    }

    /// Exhaustive on purpose: a new variant must be added to the tables.
    fn entry_variant(e: &IpEntryError) -> &'static str {
        match e {
            IpEntryError::Empty => "Empty",
            IpEntryError::Whitespace(_) => "Whitespace",
            IpEntryError::Brackets(_) => "Brackets",
            IpEntryError::ZoneId(_) => "ZoneId",
            IpEntryError::Port(_) => "Port",
            IpEntryError::LeadingZeroOctet(_) => "LeadingZeroOctet",
            IpEntryError::HexOctet(_) => "HexOctet",
            IpEntryError::ShorthandIpv4(_) => "ShorthandIpv4",
            IpEntryError::OctetOutOfRange(_) => "OctetOutOfRange",
            IpEntryError::InvalidIpv6(_) => "InvalidIpv6",
            IpEntryError::Invalid(_) => "Invalid",
            IpEntryError::EmptyPrefix(_) => "EmptyPrefix",
            IpEntryError::PrefixSign(_) => "PrefixSign",
            IpEntryError::PrefixLeadingZero(_) => "PrefixLeadingZero",
            IpEntryError::PrefixNotNumber(_) => "PrefixNotNumber",
            IpEntryError::PrefixOutOfRange { .. } => "PrefixOutOfRange",
        }
    }

    fn client_variant(e: &ClientIpError) -> &'static str {
        match e {
            ClientIpError::Empty => "Empty",
            ClientIpError::Whitespace(_) => "Whitespace",
            ClientIpError::Brackets(_) => "Brackets",
            ClientIpError::ZoneId(_) => "ZoneId",
            ClientIpError::Port(_) => "Port",
            ClientIpError::HasPrefix(_) => "HasPrefix",
            ClientIpError::LeadingZeroOctet(_) => "LeadingZeroOctet",
            ClientIpError::HexOctet(_) => "HexOctet",
            ClientIpError::ShorthandIpv4(_) => "ShorthandIpv4",
            ClientIpError::OctetOutOfRange(_) => "OctetOutOfRange",
            ClientIpError::InvalidIpv6(_) => "InvalidIpv6",
            ClientIpError::Invalid(_) => "Invalid",
        }
    }

    enum Want {
        /// Expected truncated net (as ipnet displays it) and `host_bits_cleared`.
        Net(&'static str, bool),
        /// Expected variant name and exact message.
        Err(&'static str, &'static str),
    }
    use Want::{Err as E, Net as N};

    const ENTRY_CASES: &[(&str, Want)] = &[
        // valid
        ("192.0.2.0/24", N("192.0.2.0/24", false)),
        ("192.0.2.7", N("192.0.2.7/32", false)),
        ("192.0.2.7/32", N("192.0.2.7/32", false)),
        ("0.0.0.0", N("0.0.0.0/32", false)),
        ("0.0.0.0/0", N("0.0.0.0/0", false)),
        ("255.255.255.255", N("255.255.255.255/32", false)),
        ("10.0.0.0/8", N("10.0.0.0/8", false)),
        ("100.64.0.0/10", N("100.64.0.0/10", false)),
        ("2001:db8::/32", N("2001:db8::/32", false)),
        ("2001:db8::1", N("2001:db8::1/128", false)),
        ("2001:DB8::/32", N("2001:db8::/32", false)),
        ("2001:0db8:0000::/48", N("2001:db8::/48", false)),
        ("::/0", N("::/0", false)),
        ("::", N("::/128", false)),
        ("::1", N("::1/128", false)),
        ("::ffff:192.0.2.0/120", N("::ffff:192.0.2.0/120", false)),
        ("::ffff:192.0.2.7", N("::ffff:192.0.2.7/128", false)),
        ("1:2:3:4:5:6:1.2.3.4", N("1:2:3:4:5:6:102:304/128", false)),
        // IPv4-compatible: plain IPv6, not mapped to IPv4
        ("::192.0.2.1", N("::c000:201/128", false)),
        // host bits set: normalised, flagged
        ("192.0.2.1/24", N("192.0.2.0/24", true)),
        ("1.2.3.4/0", N("0.0.0.0/0", true)),
        ("2001:db8::1/32", N("2001:db8::/32", true)),
        ("::ffff:192.0.2.7/120", N("::ffff:192.0.2.0/120", true)),
        // empty and whitespace (no trimming at all)
        ("", E("Empty", "the IP entry is empty")),
        (" 192.0.2.1", E("Whitespace", "` 192.0.2.1` contains whitespace")),
        ("192.0.2.1 ", E("Whitespace", "`192.0.2.1 ` contains whitespace")),
        ("192.0.2.1\t", E("Whitespace", "`192.0.2.1\\t` contains whitespace")),
        ("192.0.2.1\n", E("Whitespace", "`192.0.2.1\\n` contains whitespace")),
        ("192.0. 2.1", E("Whitespace", "`192.0. 2.1` contains whitespace")),
        ("192.0.2.0/ 24", E("Whitespace", "`192.0.2.0/ 24` contains whitespace")),
        ("2001:db8:: /32", E("Whitespace", "`2001:db8:: /32` contains whitespace")),
        ("192.0.2.1\u{a0}", E("Whitespace", "`192.0.2.1\\u{a0}` contains whitespace")),
        ("\u{3000}192.0.2.1", E("Whitespace", "`\\u{3000}192.0.2.1` contains whitespace")),
        // zone ids, brackets, ports
        ("fe80::1%eth0", E("ZoneId", "`fe80::1%eth0` has an IPv6 zone id (`%...`), which is not allowed")),
        ("fe80::1%1/64", E("ZoneId", "`fe80::1%1/64` has an IPv6 zone id (`%...`), which is not allowed")),
        ("[::1]", E("Brackets", "`[::1]` has brackets; write an IPv6 address without `[` and `]`")),
        ("[::1]:80", E("Brackets", "`[::1]:80` has brackets; write an IPv6 address without `[` and `]`")),
        ("[2001:db8::]/32", E("Brackets", "`[2001:db8::]/32` has brackets; write an IPv6 address without `[` and `]`")),
        ("1.2.3.4:80", E("Port", "`1.2.3.4:80` has a port; write the address without `:port`")),
        ("192.0.2.0:443/24", E("Port", "`192.0.2.0:443/24` has a port; write the address without `:port`")),
        // leading zeros (octal-looking), hex, shorthand, range
        ("010.0.0.1", E("LeadingZeroOctet", "`010.0.0.1` has a leading zero in an octet")),
        ("00.0.0.0", E("LeadingZeroOctet", "`00.0.0.0` has a leading zero in an octet")),
        ("1.2.3.04", E("LeadingZeroOctet", "`1.2.3.04` has a leading zero in an octet")),
        ("0177.0.0.1", E("LeadingZeroOctet", "`0177.0.0.1` has a leading zero in an octet")),
        ("010.0.0.0/8", E("LeadingZeroOctet", "`010.0.0.0/8` has a leading zero in an octet")),
        ("::ffff:010.0.0.1", E("LeadingZeroOctet", "`::ffff:010.0.0.1` has a leading zero in an octet")),
        ("0x7f.0.0.1", E("HexOctet", "`0x7f.0.0.1` has a hexadecimal octet; write IPv4 addresses as four decimal octets")),
        ("0X7F.0.0.1", E("HexOctet", "`0X7F.0.0.1` has a hexadecimal octet; write IPv4 addresses as four decimal octets")),
        ("1.0x2.3.4", E("HexOctet", "`1.0x2.3.4` has a hexadecimal octet; write IPv4 addresses as four decimal octets")),
        ("0x7f000001", E("HexOctet", "`0x7f000001` has a hexadecimal octet; write IPv4 addresses as four decimal octets")),
        ("10.1", E("ShorthandIpv4", "`10.1` has fewer than four octets; write IPv4 addresses as four decimal octets")),
        ("127.1", E("ShorthandIpv4", "`127.1` has fewer than four octets; write IPv4 addresses as four decimal octets")),
        ("1.2.3", E("ShorthandIpv4", "`1.2.3` has fewer than four octets; write IPv4 addresses as four decimal octets")),
        ("2130706433", E("ShorthandIpv4", "`2130706433` has fewer than four octets; write IPv4 addresses as four decimal octets")),
        ("10.1/16", E("ShorthandIpv4", "`10.1/16` has fewer than four octets; write IPv4 addresses as four decimal octets")),
        ("::ffff:10.1", E("ShorthandIpv4", "`::ffff:10.1` has fewer than four octets; write IPv4 addresses as four decimal octets")),
        ("256.0.0.1", E("OctetOutOfRange", "`256.0.0.1` has an octet greater than 255")),
        ("1.2.3.1000", E("OctetOutOfRange", "`1.2.3.1000` has an octet greater than 255")),
        ("::ffff:1.2.3.256", E("OctetOutOfRange", "`::ffff:1.2.3.256` has an octet greater than 255")),
        // invalid IPv6
        ("1::2::3", E("InvalidIpv6", "`1::2::3` is not a valid IPv6 address")),
        ("12345::", E("InvalidIpv6", "`12345::` is not a valid IPv6 address")),
        ("::g", E("InvalidIpv6", "`::g` is not a valid IPv6 address")),
        (":::", E("InvalidIpv6", "`:::` is not a valid IPv6 address")),
        ("1:2:3:4:5:6:7:8:9", E("InvalidIpv6", "`1:2:3:4:5:6:7:8:9` is not a valid IPv6 address")),
        ("1:2:3:4:5:6:7:1.2.3.4", E("InvalidIpv6", "`1:2:3:4:5:6:7:1.2.3.4` is not a valid IPv6 address")),
        ("::0x1", E("InvalidIpv6", "`::0x1` is not a valid IPv6 address")),
        ("::-1", E("InvalidIpv6", "`::-1` is not a valid IPv6 address")),
        // garbage
        ("abc", E("Invalid", "`abc` is not an IP address or network")),
        ("localhost", E("Invalid", "`localhost` is not an IP address or network")),
        ("1.2.3.4.5", E("Invalid", "`1.2.3.4.5` is not an IP address or network")),
        ("1..2.3", E("Invalid", "`1..2.3` is not an IP address or network")),
        ("1.2.3.", E("Invalid", "`1.2.3.` is not an IP address or network")),
        (".1.2.3", E("Invalid", "`.1.2.3` is not an IP address or network")),
        ("/24", E("Invalid", "`/24` is not an IP address or network")),
        ("-1.2.3.4", E("Invalid", "`-1.2.3.4` is not an IP address or network")),
        ("+1.2.3.4", E("Invalid", "`+1.2.3.4` is not an IP address or network")),
        ("1.2.3.4,", E("Invalid", "`1.2.3.4,` is not an IP address or network")),
        ("1:2", E("Invalid", "`1:2` is not an IP address or network")),
        ("1.2.3.4:", E("Invalid", "`1.2.3.4:` is not an IP address or network")),
        ("\u{661}.\u{662}.\u{663}.\u{664}", E("Invalid", "`\\u{661}.\\u{662}.\\u{663}.\\u{664}` is not an IP address or network")),
        ("1.2.3.4\0", E("Invalid", "`1.2.3.4\\u{0}` is not an IP address or network")),
        // prefix
        ("1.2.3.4/", E("EmptyPrefix", "`1.2.3.4/` has an empty prefix length after `/`")),
        ("::/", E("EmptyPrefix", "`::/` has an empty prefix length after `/`")),
        ("1.2.3.4/+8", E("PrefixSign", "`1.2.3.4/+8` has a sign in the prefix length")),
        ("1.2.3.4/-8", E("PrefixSign", "`1.2.3.4/-8` has a sign in the prefix length")),
        ("1.2.3.4/024", E("PrefixLeadingZero", "`1.2.3.4/024` has a leading zero in the prefix length")),
        ("1.2.3.4/00", E("PrefixLeadingZero", "`1.2.3.4/00` has a leading zero in the prefix length")),
        ("::/0128", E("PrefixLeadingZero", "`::/0128` has a leading zero in the prefix length")),
        ("1.2.3.4/8a", E("PrefixNotNumber", "`1.2.3.4/8a` has a prefix length that is not a decimal number")),
        ("1.2.3.4/24/8", E("PrefixNotNumber", "`1.2.3.4/24/8` has a prefix length that is not a decimal number")),
        ("1.2.3.4/0x8", E("PrefixNotNumber", "`1.2.3.4/0x8` has a prefix length that is not a decimal number")),
        ("1.2.3.4/33", E("PrefixOutOfRange", "`1.2.3.4/33` has a prefix length greater than 32")),
        ("1.2.3.4/128", E("PrefixOutOfRange", "`1.2.3.4/128` has a prefix length greater than 32")),
        ("1.2.3.4/256", E("PrefixOutOfRange", "`1.2.3.4/256` has a prefix length greater than 32")),
        ("1.2.3.4/99999999999999999999", E("PrefixOutOfRange", "`1.2.3.4/99999999999999999999` has a prefix length greater than 32")),
        ("::/129", E("PrefixOutOfRange", "`::/129` has a prefix length greater than 128")),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn entry_parse_table() {
        for (input, want) in ENTRY_CASES {
            let got = parse_entry(input);
            match (want, &got) {
                (N(net, cleared), Ok(p)) => {
                    assert_eq!(p.net.to_string(), *net, "case {input:?}");
                    assert_eq!(p.host_bits_cleared, *cleared, "case {input:?}");
                    assert_eq!(p.net, p.net.trunc(), "case {input:?}");
                }
                (E(variant, message), Err(e)) => {
                    assert_eq!(entry_variant(e), *variant, "case {input:?}: {e}");
                    assert_eq!(e.to_string(), *message, "case {input:?}");
                }
                _ => panic!("case {input:?}: got {got:?}"),
            }
        }
    }

    /// (input, `Ok(canonical address)` or `Err((variant, message))`).
    type ClientCase = (
        &'static str,
        Result<&'static str, (&'static str, &'static str)>,
    );
    const CLIENT_CASES: &[ClientCase] = &[
        ("192.0.2.1", Ok("192.0.2.1")),
        (" 192.0.2.1", Ok("192.0.2.1")),
        ("192.0.2.1  ", Ok("192.0.2.1")),
        ("\t 192.0.2.1 \t", Ok("192.0.2.1")),
        ("0.0.0.0", Ok("0.0.0.0")),
        ("2001:db8::1", Ok("2001:db8::1")),
        (" 2001:DB8::1 ", Ok("2001:db8::1")),
        ("::1", Ok("::1")),
        // mapped -> IPv4, whichever way it is written
        ("::ffff:192.0.2.1", Ok("192.0.2.1")),
        ("::ffff:c000:201", Ok("192.0.2.1")),
        ("0:0:0:0:0:ffff:192.0.2.1", Ok("192.0.2.1")),
        // IPv4-compatible and NAT64 stay IPv6
        ("::192.0.2.1", Ok("::c000:201")),
        ("64:ff9b::192.0.2.1", Ok("64:ff9b::c000:201")),
        ("", Err(("Empty", "the client IP is empty"))),
        (" \t ", Err(("Empty", "the client IP is empty"))),
        ("1.2. 3.4", Err(("Whitespace", "`1.2. 3.4` contains whitespace"))),
        ("1.2.3.4\n", Err(("Whitespace", "`1.2.3.4\\n` contains whitespace"))),
        ("\r1.2.3.4", Err(("Whitespace", "`\\r1.2.3.4` contains whitespace"))),
        ("\u{a0}1.2.3.4", Err(("Whitespace", "`\\u{a0}1.2.3.4` contains whitespace"))),
        ("1.2.3.4, 5.6.7.8", Err(("Whitespace", "`1.2.3.4, 5.6.7.8` contains whitespace"))),
        ("1.2.3.4/32", Err(("HasPrefix", "`1.2.3.4/32` has a prefix length; a client IP is a single address"))),
        ("::/0", Err(("HasPrefix", "`::/0` has a prefix length; a client IP is a single address"))),
        ("fe80::1%eth0", Err(("ZoneId", "`fe80::1%eth0` has an IPv6 zone id (`%...`), which is not allowed"))),
        ("[::1]", Err(("Brackets", "`[::1]` has brackets; a client IP is a bare address"))),
        ("[2001:db8::1]:443", Err(("Brackets", "`[2001:db8::1]:443` has brackets; a client IP is a bare address"))),
        ("192.0.2.1:443", Err(("Port", "`192.0.2.1:443` has a port; a client IP is a bare address"))),
        ("010.0.0.1", Err(("LeadingZeroOctet", "`010.0.0.1` has a leading zero in an octet"))),
        ("::ffff:010.0.0.1", Err(("LeadingZeroOctet", "`::ffff:010.0.0.1` has a leading zero in an octet"))),
        ("0x7f.0.0.1", Err(("HexOctet", "`0x7f.0.0.1` has a hexadecimal octet; an IPv4 client IP must be four decimal octets"))),
        ("127.1", Err(("ShorthandIpv4", "`127.1` has fewer than four octets; an IPv4 client IP must be four decimal octets"))),
        ("2130706433", Err(("ShorthandIpv4", "`2130706433` has fewer than four octets; an IPv4 client IP must be four decimal octets"))),
        ("256.1.1.1", Err(("OctetOutOfRange", "`256.1.1.1` has an octet greater than 255"))),
        ("1::2::3", Err(("InvalidIpv6", "`1::2::3` is not a valid IPv6 address"))),
        ("unknown", Err(("Invalid", "`unknown` is not an IP address"))),
        ("1.2.3.4,5.6.7.8", Err(("Invalid", "`1.2.3.4,5.6.7.8` is not an IP address"))),
        ("\"1.2.3.4\"", Err(("Invalid", "`\"1.2.3.4\"` is not an IP address"))),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn client_ip_table() {
        for (input, want) in CLIENT_CASES {
            let got = parse_client_ip(input);
            match (want, &got) {
                (Ok(addr), Ok(a)) => assert_eq!(a.to_string(), *addr, "case {input:?}"),
                (Err((variant, message)), Err(e)) => {
                    assert_eq!(client_variant(e), *variant, "case {input:?}: {e}");
                    assert_eq!(e.to_string(), *message, "case {input:?}");
                }
                _ => panic!("case {input:?}: got {got:?}"),
            }
        }
    }

    const EXCERPT_CASES: &[(&str, &str, bool)] = &[
        // (input, displayed, truncated)
        ("1.2.3.4", "1.2.3.4", false),
        ("a\tb\nc\rd", "a\\tb\\nc\\rd", false),
        ("\u{202e}1.2.3.4", "\\u{202e}1.2.3.4", false),
        ("\u{1b}[31m", "\\u{1b}[31m", false),
        (
            "0123456789012345678901234567890123456789012345678901234567890123",
            "0123456789012345678901234567890123456789012345678901234567890123",
            false,
        ),
        (
            "01234567890123456789012345678901234567890123456789012345678901234",
            "0123456789012345678901234567890123456789012345678901234567890123...",
            true,
        ),
        // 63 ASCII bytes then a 2-byte char: the cut falls back to the char boundary at 63.
        (
            "012345678901234567890123456789012345678901234567890123456789012\u{e9}",
            "012345678901234567890123456789012345678901234567890123456789012...",
            true,
        ),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn excerpt_table() {
        for (input, shown, truncated) in EXCERPT_CASES {
            let e = Excerpt::new(input);
            assert_eq!(e.to_string(), *shown, "case {input:?}");
            assert_eq!(e.is_truncated(), *truncated, "case {input:?}");
            assert!(input.starts_with(e.as_str()), "case {input:?}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn canonical_cases() {
        const CASES: &[(&str, &str)] = &[
            ("192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("::ffff:0.0.0.0", "0.0.0.0"),
            ("::ffff:255.255.255.255", "255.255.255.255"),
            ("::192.0.2.1", "::c000:201"),
            ("::ffff:0:c000:201", "::ffff:0:c000:201"),
            ("::fffe:c000:201", "::fffe:c000:201"),
            ("2001:db8::1", "2001:db8::1"),
        ];
        for (input, want) in CASES {
            assert_eq!(canonical(ip(input)).to_string(), *want, "case {input:?}");
        }
    }

    /// (entries, expected IPv4 ranges, expected IPv6 ranges), ranges as inclusive first/last address text.
    type BuildCase = (
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
        &'static [(&'static str, &'static str)],
    );
    const BUILD_CASES: &[BuildCase] = &[
        (&[], &[], &[]),
        (&["10.0.0.0/24"], &[("10.0.0.0", "10.0.0.255")], &[]),
        // overlap
        (
            &["10.0.0.0/24", "10.0.0.128/25"],
            &[("10.0.0.0", "10.0.0.255")],
            &[],
        ),
        (
            &["10.0.0.0/23", "10.0.1.0/24"],
            &[("10.0.0.0", "10.0.1.255")],
            &[],
        ),
        // adjacency (blocks and single addresses)
        (
            &["10.0.0.0/24", "10.0.1.0/24"],
            &[("10.0.0.0", "10.0.1.255")],
            &[],
        ),
        (
            &["10.0.1.0/24", "10.0.0.0/24"],
            &[("10.0.0.0", "10.0.1.255")],
            &[],
        ),
        (
            &["10.0.0.255", "10.0.1.0"],
            &[("10.0.0.255", "10.0.1.0")],
            &[],
        ),
        // a one-address gap is kept
        (
            &["10.0.0.0", "10.0.0.2"],
            &[("10.0.0.0", "10.0.0.0"), ("10.0.0.2", "10.0.0.2")],
            &[],
        ),
        // containment, duplicates, unsorted input
        (
            &["10.0.0.0/8", "10.1.2.3", "10.255.0.0/16"],
            &[("10.0.0.0", "10.255.255.255")],
            &[],
        ),
        (
            &["10.0.0.0/24", "10.0.0.0/24"],
            &[("10.0.0.0", "10.0.0.255")],
            &[],
        ),
        (
            &["10.2.0.0/16", "192.0.2.0/24", "10.0.0.0/16", "10.1.0.0/16"],
            &[("10.0.0.0", "10.2.255.255"), ("192.0.2.0", "192.0.2.255")],
            &[],
        ),
        // ends of the address space
        (
            &["255.255.255.255", "255.255.255.254"],
            &[("255.255.255.254", "255.255.255.255")],
            &[],
        ),
        (
            &["0.0.0.0/0", "1.2.3.4"],
            &[("0.0.0.0", "255.255.255.255")],
            &[],
        ),
        (&["0.0.0.0", "0.0.0.1"], &[("0.0.0.0", "0.0.0.1")], &[]),
        // v4/v6 mix
        (
            &["2001:db8::/32", "10.0.0.0/8"],
            &[("10.0.0.0", "10.255.255.255")],
            &[("2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")],
        ),
        (
            &["2001:db8::/32", "2001:db9::/32"],
            &[],
            &[("2001:db8::", "2001:db9:ffff:ffff:ffff:ffff:ffff:ffff")],
        ),
        (
            &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::"],
            &[],
            &[
                ("::", "::"),
                (
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                ),
            ],
        ),
        // mapped entries also add IPv4
        (
            &["::ffff:192.0.2.0/120"],
            &[("192.0.2.0", "192.0.2.255")],
            &[("::ffff:192.0.2.0", "::ffff:192.0.2.255")],
        ),
        (
            &["::ffff:192.0.2.0/120", "192.0.3.0/24"],
            &[("192.0.2.0", "192.0.3.255")],
            &[("::ffff:192.0.2.0", "::ffff:192.0.2.255")],
        ),
        (
            &["::/0"],
            &[("0.0.0.0", "255.255.255.255")],
            &[("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")],
        ),
        // ::/80 contains ::ffff:0:0/96
        (
            &["::/80"],
            &[("0.0.0.0", "255.255.255.255")],
            &[("::", "::ffff:ffff:ffff")],
        ),
        // partial intersections with ::ffff:0:0/96
        (
            &["::fffe:0:0/95"],
            &[("0.0.0.0", "255.255.255.255")],
            &[("::fffe:0:0", "::ffff:ffff:ffff")],
        ),
        (
            &["::ffff:128.0.0.0/97"],
            &[("128.0.0.0", "255.255.255.255")],
            &[("::ffff:128.0.0.0", "::ffff:255.255.255.255")],
        ),
        // just outside the mapped block: no IPv4; adjacent IPv6 ranges merge
        (
            &["::fffe:0:0/96"],
            &[],
            &[("::fffe:0:0", "::fffe:ffff:ffff")],
        ),
        (
            &["::1:0:0:0/80"],
            &[],
            &[("::1:0:0:0", "::1:ffff:ffff:ffff")],
        ),
        (
            &["::ffff:0:0/96", "::1:0:0:0/80"],
            &[("0.0.0.0", "255.255.255.255")],
            &[("::ffff:0:0", "::1:ffff:ffff:ffff")],
        ),
        // IPv4-compatible is not mapped
        (
            &["::192.0.2.0/120"],
            &[],
            &[("::192.0.2.0", "::192.0.2.255")],
        ),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn build_merge_table() {
        for (entries, want4, want6) in BUILD_CASES {
            let set = set_of(entries);
            let got4: Vec<(u32, u32)> = set.iter_v4().collect();
            let got6: Vec<(u128, u128)> = set.iter_v6().collect();
            let exp4: Vec<(u32, u32)> = want4.iter().map(|(a, b)| (v4(a), v4(b))).collect();
            let exp6: Vec<(u128, u128)> = want6.iter().map(|(a, b)| (v6(a), v6(b))).collect();
            assert_eq!(got4, exp4, "case {entries:?}");
            assert_eq!(got6, exp6, "case {entries:?}");
            assert_eq!(set.v4_ranges(), exp4.len(), "case {entries:?}");
            assert_eq!(set.v6_ranges(), exp6.len(), "case {entries:?}");
            assert_eq!(
                set.is_empty(),
                exp4.is_empty() && exp6.is_empty(),
                "case {entries:?}"
            );
            assert_eq!(
                set.v4_bytes().len(),
                exp4.len() * V4_RECORD_LEN,
                "case {entries:?}"
            );
            assert_eq!(
                set.v6_bytes().len(),
                exp6.len() * V6_RECORD_LEN,
                "case {entries:?}"
            );
            assert_eq!(set.validate(), Ok(()), "case {entries:?}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn blob_layout_is_little_endian_interleaved() {
        let set = set_of(&["1.2.3.0/24", "::1"]);
        assert_eq!(set.v4_bytes(), &[0, 3, 2, 1, 255, 3, 2, 1]);
        let mut one = [0u8; 32];
        one[0] = 1;
        one[16] = 1;
        assert_eq!(set.v6_bytes(), &one);
    }

    const LOOKUP_ENTRIES: &[&str] = &[
        "0.0.0.0",
        "10.0.0.0/24",
        "192.0.2.7",
        "255.255.255.0/24",
        "2001:db8::/32",
        "::ffff:198.51.100.0/120",
    ];
    const LOOKUP_CASES: &[(&str, bool)] = &[
        ("0.0.0.0", true),
        ("0.0.0.1", false),
        ("9.255.255.255", false),
        ("10.0.0.0", true),
        ("10.0.0.128", true),
        ("10.0.0.255", true),
        ("10.0.1.0", false),
        ("192.0.2.6", false),
        ("192.0.2.7", true),
        ("192.0.2.8", false),
        ("255.255.254.255", false),
        ("255.255.255.0", true),
        ("255.255.255.255", true),
        ("198.51.99.255", false),
        ("198.51.100.0", true),
        ("198.51.100.255", true),
        ("198.51.101.0", false),
        // mapped clients are looked up as IPv4
        ("::ffff:10.0.0.5", true),
        ("::ffff:10.0.1.0", false),
        ("::ffff:0.0.0.0", true),
        ("::ffff:198.51.100.1", true),
        // IPv4-compatible is not IPv4
        ("::10.0.0.5", false),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2001:db8::", true),
        ("2001:db8:1234::1", true),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("2001:db9::", false),
        ("::", false),
        ("::1", false),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn lookup_table() {
        let set = set_of(LOOKUP_ENTRIES);
        let loaded = IpSet::from_static(leak(set.v4_bytes()), leak(set.v6_bytes())).unwrap();
        for (addr, want) in LOOKUP_CASES {
            assert_eq!(set.contains(ip(addr)), *want, "case {addr}");
            assert_eq!(loaded.contains(ip(addr)), *want, "case {addr} (loaded)");
        }
        // contains_v6 is raw: a mapped address only matches IPv6 entries.
        assert!(!set.contains_v6(v6("::ffff:10.0.0.5")));
        assert!(set.contains_v6(v6("::ffff:198.51.100.1")));
        assert!(set.contains_v4(v4("198.51.100.1")));
        let empty = IpSet::default();
        for (addr, _) in LOOKUP_CASES {
            assert!(!empty.contains(ip(addr)), "case {addr} (empty set)");
        }
    }

    /// Every size from 0 to 40 ranges (each step of the binary search), every address around each range.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn lookup_every_size_and_boundary() {
        for n in 0u32..=40 {
            let mut b = IpSetBuilder::default();
            for i in 0..n {
                // range i = [16i + 4, 16i + 4 + i % 5]
                let start = Ipv4Addr::from(16 * i + 4);
                for a in 0..=(i % 5) {
                    b.insert(IpNet::from(IpAddr::from(Ipv4Addr::from(
                        u32::from(start) + a,
                    ))));
                }
                b.insert(IpNet::from(IpAddr::from(Ipv6Addr::from(u128::from(
                    16 * i + 4,
                )))));
            }
            let set = b.build();
            assert_eq!(set.v4_ranges(), n as usize, "n={n}");
            for a in 0..(16 * n + 32) {
                let (i, off) = (a / 16, a % 16);
                let want = i < n && off >= 4 && off <= 4 + i % 5;
                assert_eq!(set.contains_v4(a), want, "n={n} addr={a}");
                let want6 = i < n && off == 4;
                assert_eq!(set.contains_v6(u128::from(a)), want6, "n={n} addr6={a}");
            }
        }
    }

    /// Ranges spread over the whole space (so the index has many buckets), some crossing bucket boundaries,
    /// one covering many buckets; the indexed lookup must agree with the plain one and with a linear scan.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn indexed_lookup_agrees() {
        for n in [255u32, 256, 300, 1000, 2100] {
            let mut ranges4: Vec<(u32, u32)> = Vec::new();
            let mut ranges6: Vec<(u128, u128)> = Vec::new();
            let step = u32::MAX / n;
            for i in 0..n {
                let start = i * step + (i % 7) * 3;
                // every 10th range straddles a multiple of 2^20 (a bucket boundary for every k <= 12)
                let (s, e) = if i % 10 == 0 {
                    let edge = (start >> 20 << 20).saturating_add(1 << 20);
                    (edge - 3, edge + 2)
                } else {
                    (start, start + i % 13)
                };
                ranges4.push((s, e));
                ranges6.push((u128::from(s) << 96, (u128::from(e) << 96) | 0xffff));
            }
            let mut b = IpSetBuilder::default();
            for &(s, e) in &ranges4 {
                for net in ipnet::Ipv4Subnets::new(s.into(), e.into(), 0) {
                    b.insert(net.into());
                }
            }
            for &(s, e) in &ranges6 {
                for net in ipnet::Ipv6Subnets::new(s.into(), e.into(), 0) {
                    b.insert(net.into());
                }
            }
            // one /6 covering several buckets at the top of the space
            b.insert(parse_entry("252.0.0.0/6").unwrap().net);
            ranges4.push((v4("252.0.0.0"), u32::MAX));
            let set = b.build();
            assert_eq!(set.validate(), Ok(()), "n={n}");
            assert_eq!(
                set.v4_index_bytes().is_empty(),
                set.v4_ranges() < 256,
                "n={n}"
            );
            assert_eq!(
                set.v6_index_bytes().is_empty(),
                set.v6_ranges() < 256,
                "n={n}"
            );
            let plain = IpSet::from_static(leak(set.v4_bytes()), leak(set.v6_bytes())).unwrap();
            let indexed = IpSet::from_static_with_index(
                leak(set.v4_bytes()),
                leak(set.v6_bytes()),
                leak(set.v4_index_bytes()),
                leak(set.v6_index_bytes()),
            )
            .unwrap();
            let mut probes4: Vec<u32> = vec![0, u32::MAX];
            for &(s, e) in &ranges4 {
                probes4.extend([s.wrapping_sub(1), s, e, e.wrapping_add(1)]);
            }
            for p in probes4 {
                let want = ranges4.iter().any(|&(s, e)| s <= p && p <= e);
                assert_eq!(set.contains_v4(p), want, "n={n} v4 {p}");
                assert_eq!(plain.contains_v4(p), want, "n={n} v4 {p} (plain)");
                assert_eq!(indexed.contains_v4(p), want, "n={n} v4 {p} (indexed)");
            }
            let mut probes6: Vec<u128> = vec![0, u128::MAX];
            for &(s, e) in &ranges6 {
                probes6.extend([s.wrapping_sub(1), s, e, e.wrapping_add(1)]);
            }
            for p in probes6 {
                let want = ranges6.iter().any(|&(s, e)| s <= p && p <= e);
                assert_eq!(set.contains_v6(p), want, "n={n} v6 {p:x}");
                assert_eq!(plain.contains_v6(p), want, "n={n} v6 {p:x} (plain)");
                assert_eq!(indexed.contains_v6(p), want, "n={n} v6 {p:x} (indexed)");
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn index_layout() {
        // 256 /32s at 0.0.0.0, 1.0.0.0, ..., 255.0.0.0: k = log2(256) - 3 = 5, 32 buckets of 8 ranges.
        let set: IpSet = (0u32..256)
            .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(i << 24))))
            .collect();
        let index = set.v4_index_bytes();
        assert_eq!(index.len(), 33 * INDEX_ENTRY_LEN);
        let entries: Vec<u32> = index
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let want: Vec<u32> = (0..=32).map(|b| b * 8).collect();
        assert_eq!(entries, want);
        assert!(set.v6_index_bytes().is_empty());
        // 255 ranges: no index
        let small: IpSet = (0u32..255)
            .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(i << 24))))
            .collect();
        assert!(small.v4_index_bytes().is_empty());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn bytes_round_trip() {
        let sets = [
            set_of(&[]),
            set_of(LOOKUP_ENTRIES),
            set_of(&["::/0"]),
            (0u32..1000)
                .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)))))
                .collect(),
        ];
        for set in sets {
            let loaded = IpSet::from_static(leak(set.v4_bytes()), leak(set.v6_bytes())).unwrap();
            assert_eq!(loaded, set, "{set:?}");
            assert_eq!(loaded.v4_bytes(), set.v4_bytes(), "{set:?}");
            assert_eq!(loaded.v6_bytes(), set.v6_bytes(), "{set:?}");
            assert!(loaded.v4_index_bytes().is_empty(), "{set:?}");
            assert_eq!(
                loaded.iter_v4().collect::<Vec<_>>(),
                set.iter_v4().collect::<Vec<_>>()
            );
            assert_eq!(
                loaded.iter_v6().collect::<Vec<_>>(),
                set.iter_v6().collect::<Vec<_>>()
            );
            assert_eq!(loaded.validate(), Ok(()));
            let indexed = IpSet::from_static_with_index(
                leak(set.v4_bytes()),
                leak(set.v6_bytes()),
                leak(set.v4_index_bytes()),
                leak(set.v6_index_bytes()),
            )
            .unwrap();
            assert_eq!(indexed.v4_index_bytes(), set.v4_index_bytes());
            assert_eq!(indexed.validate(), Ok(()));
            for (addr, _) in LOOKUP_CASES {
                assert_eq!(loaded.contains(ip(addr)), set.contains(ip(addr)), "{addr}");
                assert_eq!(indexed.contains(ip(addr)), set.contains(ip(addr)), "{addr}");
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn from_static_errors() {
        const LENGTH_CASES: &[(usize, usize, Option<IpSetBytesError>, &str)] = &[
            (0, 0, None, ""),
            (8, 32, None, ""),
            (
                7,
                0,
                Some(IpSetBytesError::V4Length { len: 7 }),
                "the IPv4 range data is 7 bytes long, which is not a multiple of 8",
            ),
            (
                9,
                0,
                Some(IpSetBytesError::V4Length { len: 9 }),
                "the IPv4 range data is 9 bytes long, which is not a multiple of 8",
            ),
            (
                0,
                31,
                Some(IpSetBytesError::V6Length { len: 31 }),
                "the IPv6 range data is 31 bytes long, which is not a multiple of 32",
            ),
            (
                0,
                16,
                Some(IpSetBytesError::V6Length { len: 16 }),
                "the IPv6 range data is 16 bytes long, which is not a multiple of 32",
            ),
        ];
        for (l4, l6, want, message) in LENGTH_CASES {
            let got = IpSet::from_static(leak(&vec![0; *l4]), leak(&vec![0; *l6])).err();
            assert_eq!(got, *want, "case {l4}/{l6}");
            assert_eq!(
                got.map(|e| e.to_string()).unwrap_or_default(),
                *message,
                "case {l4}/{l6}"
            );
        }

        let big: IpSet = (0u32..300)
            .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(i << 20))))
            .collect();
        let other: IpSet = (0u32..300)
            .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(i << 21))))
            .collect();
        let (v4, idx) = (leak(big.v4_bytes()), leak(big.v4_index_bytes()));
        assert_eq!(idx.len(), 33 * 4);
        // missing index, truncated index, index of a small set, index for the wrong family
        let cases: &[(&'static [u8], &'static [u8], IpSetBytesError, &str)] = &[
            (&[], &[], IpSetBytesError::V4Index { len: 0, expected: 132 },
                "the IPv4 index (0 bytes) does not belong to the IPv4 range data (expected 132 bytes)"),
            (idx.get(..128).unwrap(), &[], IpSetBytesError::V4Index { len: 128, expected: 132 },
                "the IPv4 index (128 bytes) does not belong to the IPv4 range data (expected 132 bytes)"),
            (idx, idx, IpSetBytesError::V6Index { len: 132, expected: 0 },
                "the IPv6 index (132 bytes) does not belong to the IPv6 range data (expected 0 bytes)"),
        ];
        for (i4, i6, want, message) in cases {
            let got = IpSet::from_static_with_index(v4, &[], i4, i6).unwrap_err();
            assert_eq!(got, *want);
            assert_eq!(got.to_string(), *message);
        }
        // last entry must be the range count
        let mut bad = idx.to_vec();
        bad[128] = 7;
        assert_eq!(
            IpSet::from_static_with_index(v4, &[], leak(&bad), &[]).unwrap_err(),
            IpSetBytesError::V4Index {
                len: 132,
                expected: 132
            }
        );
        // same length and end points, different data: passes the O(1) load, validate() catches it
        let swapped =
            IpSet::from_static_with_index(v4, &[], leak(other.v4_index_bytes()), &[]).unwrap();
        assert_eq!(swapped.validate(), Err(IpSetCheckError::V4IndexMismatch));
        assert_eq!(
            IpSetCheckError::V4IndexMismatch.to_string(),
            "the IPv4 index does not match the IPv4 range data"
        );
    }

    /// A corrupted index never panics, and an out-of-bounds window falls back to the full search.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn corrupt_index_is_total() {
        let set: IpSet = (0u32..300)
            .map(|i| IpNet::from(IpAddr::from(Ipv4Addr::from(i << 20))))
            .collect();
        let n = set.v4_ranges() as u32;
        let len = set.v4_index_bytes().len() / 4;
        let mut huge = Vec::new();
        for i in 0..len {
            let v = if i == 0 {
                0
            } else if i == len - 1 {
                n
            } else {
                u32::MAX
            };
            huge.extend_from_slice(&v.to_le_bytes());
        }
        let s = IpSet::from_static_with_index(leak(set.v4_bytes()), &[], leak(&huge), &[]).unwrap();
        for i in 0u32..300 {
            assert!(s.contains_v4(i << 20), "{i}");
            assert!(!s.contains_v4((i << 20) + 1), "{i}");
        }
        // descending garbage: arbitrary answers, but no panic
        let mut desc = Vec::new();
        for i in 0..len {
            let v = if i == 0 {
                0
            } else if i == len - 1 {
                n
            } else {
                (len - i) as u32 * 40
            };
            desc.extend_from_slice(&v.to_le_bytes());
        }
        let s = IpSet::from_static_with_index(leak(set.v4_bytes()), &[], leak(&desc), &[]).unwrap();
        for i in 0u32..4096 {
            let _ = s.contains_v4(i.wrapping_mul(1_048_573));
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn validate_table() {
        fn rec4(ranges: &[(u32, u32)]) -> Vec<u8> {
            ranges
                .iter()
                .flat_map(|(s, e)| [s.to_le_bytes(), e.to_le_bytes()])
                .flatten()
                .collect()
        }
        fn rec6(ranges: &[(u128, u128)]) -> Vec<u8> {
            ranges
                .iter()
                .flat_map(|(s, e)| [s.to_le_bytes(), e.to_le_bytes()])
                .flatten()
                .collect()
        }
        type Case<T> = (&'static [(T, T)], Option<usize>);
        const CASES4: &[Case<u32>] = &[
            (&[], None),
            (&[(5, 5)], None),
            (&[(0, 1), (3, 4)], None),
            (&[(6, 5)], Some(0)),
            (&[(0, 1), (2, 4)], Some(1)),
            (&[(0, 3), (2, 4)], Some(1)),
            (&[(3, 4), (0, 1)], Some(1)),
            (&[(0, 1), (3, 4), (3, 4)], Some(2)),
            (&[(0, u32::MAX), (0, 0)], Some(1)),
        ];
        for (ranges, want) in CASES4 {
            let s = IpSet::from_static(leak(&rec4(ranges)), &[]).unwrap();
            let want = want.map(|index| IpSetCheckError::V4NotCanonical { index });
            assert_eq!(s.validate().err(), want, "case {ranges:?}");
        }
        const CASES6: &[Case<u128>] = &[
            (&[(0, u128::MAX)], None),
            (&[(0, 1), (2, 4)], Some(1)),
            (&[(u128::MAX, u128::MAX), (0, 0)], Some(1)),
        ];
        for (ranges, want) in CASES6 {
            let s = IpSet::from_static(&[], leak(&rec6(ranges))).unwrap();
            let want = want.map(|index| IpSetCheckError::V6NotCanonical { index });
            assert_eq!(s.validate().err(), want, "case {ranges:?}");
        }
        assert_eq!(
            IpSetCheckError::V4NotCanonical { index: 3 }.to_string(),
            "the IPv4 range data is not sorted and merged at range 3"
        );
    }

    const OVERLAP_CASES: &[(&[&str], &[&str], bool)] = &[
        (&[], &[], false),
        (&[], &["0.0.0.0/0", "::/0"], false),
        (&["10.0.0.0/24"], &["10.0.1.0/24"], false),
        (&["10.0.0.0/24"], &["10.0.0.255"], true),
        (&["10.0.0.0/24"], &["10.0.0.0"], true),
        (&["10.0.0.0/8"], &["10.20.30.0/24"], true),
        (
            &["10.0.0.0/24", "10.0.2.0/24"],
            &["10.0.1.0/24", "10.0.3.0/24"],
            false,
        ),
        (
            &["10.0.0.0/24", "10.0.2.0/24", "10.0.4.0/24"],
            &["10.0.1.0/24", "10.0.4.128/25"],
            true,
        ),
        (&["192.0.2.0/24"], &["::ffff:192.0.2.128/121"], true),
        (&["::ffff:192.0.2.0/120"], &["192.0.2.77"], true),
        (&["192.0.2.0/24"], &["::192.0.2.0/120"], false),
        (&["::/0"], &["1.2.3.4"], true),
        (&["2001:db8::/32"], &["2001:db8:1::/48"], true),
        (&["2001:db8::/32"], &["2001:db9::/32"], false),
        (&["10.0.0.0/8"], &["2001:db8::/32"], false),
    ];

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn overlaps_table() {
        for (a, b, want) in OVERLAP_CASES {
            let (sa, sb) = (set_of(a), set_of(b));
            assert_eq!(sa.overlaps(&sb), *want, "case {a:?} / {b:?}");
            assert_eq!(sb.overlaps(&sa), *want, "case {b:?} / {a:?} (swapped)");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn debug_does_not_dump_data() {
        let set = set_of(LOOKUP_ENTRIES);
        assert_eq!(
            format!("{set:?}"),
            "IpSet { v4_ranges: 5, v6_ranges: 2, v4_indexed: false, v6_indexed: false }"
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    // clippy only recognises a plain `#[cfg(test)]` as test code; grant this module the same allowances.
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]

    use super::*;
    use ipnet::{Ipv4Net, Ipv6Net};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4_net() -> impl Strategy<Value = IpNet> {
        let addr = prop_oneof![
            any::<u32>(),
            (0u32..4096).prop_map(|x| 0x0a00_0000 | x),
            Just(0u32),
            Just(u32::MAX),
        ];
        let len = prop_oneof![0u8..=32, 20u8..=32];
        (addr, len)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc()))
    }

    fn v6_net() -> impl Strategy<Value = IpNet> {
        let addr = prop_oneof![
            any::<u128>(),
            (0u128..65536).prop_map(|x| (0x2001_0db8 << 96) | x),
            // mapped, anywhere and in the same region as the v4 nets
            any::<u32>().prop_map(|x| MAPPED_START | u128::from(x)),
            (0u32..4096).prop_map(|x| MAPPED_START | 0x0a00_0000 | u128::from(x)),
            // low addresses around the mapped block (IPv4-compatible, ::fffe:.., ::1:0:0:0)
            any::<u64>().prop_map(|x| u128::from(x) & 0x1_ffff_ffff_ffff),
        ];
        let len = prop_oneof![0u8..=128, 96u8..=128, 78u8..=98];
        (addr, len)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc()))
    }

    fn nets(max: usize) -> impl Strategy<Value = Vec<IpNet>> {
        prop::collection::vec(prop_oneof![v4_net(), v6_net()], 0..max)
    }

    /// Reference: linear scan over the input nets; an IPv4 address is also matched by an IPv6 net containing its
    /// mapped form.
    fn naive_contains(nets: &[IpNet], ip: IpAddr) -> bool {
        match canonical(ip) {
            IpAddr::V4(a) => nets.iter().any(|n| match n {
                IpNet::V4(n) => n.contains(&a),
                IpNet::V6(n) => n.contains(&a.to_ipv6_mapped()),
            }),
            IpAddr::V6(a) => nets.iter().any(|n| match n {
                IpNet::V6(n) => n.contains(&a),
                IpNet::V4(_) => false,
            }),
        }
    }

    /// Probe addresses: every net's first/last address and its two neighbours, as IPv4, IPv6 and mapped IPv6.
    fn probes(nets: &[IpNet], extra: &[u128]) -> Vec<IpAddr> {
        let mut out = Vec::new();
        let mut push6 = |x: u128| {
            // the low 32 bits as IPv4 and as mapped IPv6 (the IPv4 address itself for IPv4 nets)
            let x4 = Ipv4Addr::from(x as u32);
            out.extend([
                IpAddr::V6(Ipv6Addr::from(x)),
                IpAddr::V4(x4),
                IpAddr::V6(x4.to_ipv6_mapped()),
            ]);
        };
        for n in nets {
            let (s, e) = match n {
                IpNet::V4(n) => (
                    u128::from(u32::from(n.network())),
                    u128::from(u32::from(n.broadcast())),
                ),
                IpNet::V6(n) => (u128::from(n.network()), u128::from(n.broadcast())),
            };
            for x in [s.wrapping_sub(1), s, e, e.wrapping_add(1)] {
                push6(x);
            }
        }
        for &x in extra {
            push6(x);
        }
        for x in [
            0,
            u128::MAX,
            MAPPED_START,
            MAPPED_END,
            MAPPED_START - 1,
            MAPPED_END + 1,
        ] {
            push6(x);
        }
        out
    }

    fn assert_canonical_ranges(set: &IpSet) {
        assert_eq!(set.validate(), Ok(()));
        let r4: Vec<(u32, u32)> = set.iter_v4().collect();
        for w in r4.windows(2) {
            assert!(
                w[0].0 <= w[0].1 && u64::from(w[0].1) + 1 < u64::from(w[1].0),
                "{w:?}"
            );
        }
        let r6: Vec<(u128, u128)> = set.iter_v6().collect();
        for w in r6.windows(2) {
            assert!(
                w[0].0 <= w[0].1 && w[0].1 < u128::MAX && w[0].1 + 1 < w[1].0,
                "{w:?}"
            );
        }
    }

    fn leak(b: &[u8]) -> &'static [u8] {
        Box::leak(b.to_vec().into_boxed_slice())
    }

    type Intervals = (Vec<(u32, u32)>, Vec<(u128, u128)>);

    /// Interval form of a list for the overlap reference: CIDR blocks are nested or disjoint, so an IPv6 net either
    /// contains `::ffff:0:0/96`, lies inside it, or misses it.
    fn intervals(nets: &[IpNet]) -> Intervals {
        let mapped: Ipv6Net = "::ffff:0:0/96".parse().unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for n in nets {
            match n {
                IpNet::V4(n) => a.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => {
                    b.push((u128::from(n.network()), u128::from(n.broadcast())));
                    if n.contains(&mapped) {
                        a.push((0, u32::MAX));
                    } else if mapped.contains(n) {
                        let lo = n.network().to_ipv4_mapped().unwrap();
                        let hi = n.broadcast().to_ipv4_mapped().unwrap();
                        a.push((u32::from(lo), u32::from(hi)));
                    }
                }
            }
        }
        (a, b)
    }

    fn pairwise<T: Ord + Copy>(a: &[(T, T)], b: &[(T, T)]) -> bool {
        a.iter()
            .any(|&(s1, e1)| b.iter().any(|&(s2, e2)| s1 <= e2 && s2 <= e1))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn contains_agrees_with_linear_scan(list in nets(40), extra in prop::collection::vec(any::<u128>(), 0..16)) {
            let set: IpSet = list.iter().copied().collect();
            for p in probes(&list, &extra) {
                prop_assert_eq!(set.contains(p), naive_contains(&list, p), "probe {}", p);
            }
        }

        #[test]
        fn merged_ranges_are_canonical(list in nets(40)) {
            let set: IpSet = list.iter().copied().collect();
            assert_canonical_ranges(&set);
            // building from the merged ranges again is a fixed point
            let again: IpSet = set
                .iter_v4()
                .flat_map(|(s, e)| ipnet::Ipv4Subnets::new(s.into(), e.into(), 0).map(IpNet::V4))
                .chain(set.iter_v6().flat_map(|(s, e)| ipnet::Ipv6Subnets::new(s.into(), e.into(), 0).map(IpNet::V6)))
                .collect();
            prop_assert_eq!(again.v4_bytes(), set.v4_bytes());
        }

        #[test]
        fn from_static_round_trip_agrees(list in nets(40), extra in prop::collection::vec(any::<u128>(), 0..16)) {
            let set: IpSet = list.iter().copied().collect();
            let loaded = IpSet::from_static(leak(set.v4_bytes()), leak(set.v6_bytes())).unwrap();
            prop_assert_eq!(&loaded, &set);
            for p in probes(&list, &extra) {
                prop_assert_eq!(loaded.contains(p), set.contains(p), "probe {}", p);
            }
        }

        #[test]
        fn overlaps_agrees_with_pairwise(a in nets(12), b in nets(12)) {
            let (sa, sb): (IpSet, IpSet) = (a.iter().copied().collect(), b.iter().copied().collect());
            let ((a4, a6), (b4, b6)) = (intervals(&a), intervals(&b));
            let want = pairwise(&a4, &b4) || pairwise(&a6, &b6);
            prop_assert_eq!(sa.overlaps(&sb), want);
            prop_assert_eq!(sb.overlaps(&sa), want);
        }

        #[test]
        fn entry_display_round_trip(net in prop_oneof![v4_net(), v6_net()], host in any::<u128>()) {
            let parsed = parse_entry(&net.to_string()).unwrap();
            prop_assert_eq!(parsed, ParsedEntry { net, host_bits_cleared: false });
            // same prefix, host bits set from `host`
            let with_host = match net {
                IpNet::V4(n) => IpNet::V4(Ipv4Net::new(Ipv4Addr::from(u32::from(n.network()) | (host as u32 & !u32::from(n.netmask()))), n.prefix_len()).unwrap()),
                IpNet::V6(n) => IpNet::V6(Ipv6Net::new(Ipv6Addr::from(u128::from(n.network()) | (host & !u128::from(n.netmask()))), n.prefix_len()).unwrap()),
            };
            let parsed = parse_entry(&with_host.to_string()).unwrap();
            prop_assert_eq!(parsed, ParsedEntry { net, host_bits_cleared: with_host != net });
        }

        #[test]
        fn client_display_round_trip(a in any::<u32>(), b in any::<u128>()) {
            let v4 = Ipv4Addr::from(a);
            prop_assert_eq!(parse_client_ip(&v4.to_string()), Ok(IpAddr::V4(v4)));
            prop_assert_eq!(parse_client_ip(&format!(" \t{v4}\t ")), Ok(IpAddr::V4(v4)));
            prop_assert_eq!(parse_client_ip(&format!("::ffff:{v4}")), Ok(IpAddr::V4(v4)));
            let v6 = Ipv6Addr::from(b);
            prop_assert_eq!(parse_client_ip(&v6.to_string()), Ok(canonical(IpAddr::V6(v6))));
        }

        /// Never more lenient than std (and, for these alphabets, exactly as lenient).
        #[test]
        fn client_parse_matches_std(s in prop_oneof![
            "[0-9a-fA-FxX.:]{0,20}",
            prop::collection::vec(
                prop_oneof![
                    Just("0"), Just("1"), Just("01"), Just("00"), Just("255"), Just("256"), Just("ffff"),
                    Just("::"), Just(":"), Just("."), Just("0x1"), Just("1.2.3.4"), Just("::ffff:"), Just("fe80"),
                ],
                0..10,
            ).prop_map(|v| v.concat()),
        ]) {
            let ours = parse_client_ip(&s).ok();
            let std = s.parse::<IpAddr>().ok().map(canonical);
            prop_assert_eq!(ours, std, "input {:?}", s);
        }

        /// Never more lenient than ipnet's parser (which must not be used on policy input, see below).
        #[test]
        fn entry_parse_matches_ipnet(s in prop::collection::vec(
            prop_oneof![
                Just("0"), Just("1"), Just("01"), Just("24"), Just("255"), Just("33"), Just("128"), Just("ffff"),
                Just("::"), Just(":"), Just("."), Just("/"), Just("+"), Just("1.2.3.4"), Just("::ffff:"),
            ],
            0..10,
        ).prop_map(|v| v.concat())) {
            let ours = parse_entry(&s).ok().map(|p| p.net);
            let reference = if s.contains('/') {
                s.parse::<IpNet>().ok().map(|n| n.trunc())
            } else {
                s.parse::<IpAddr>().ok().map(IpNet::from)
            };
            match (ours, reference) {
                // never more lenient than ipnet, and the same net when both accept
                (Some(net), r) => prop_assert_eq!(Some(net), r, "input {:?}", s),
                // stricter only where documented: ipnet's `FromStr` accepts zero-padded prefixes (`::/01`) and
                // leading-zero octets, read as decimal (`010.0.0.1/32` is 10.0.0.1/32 to ipnet 2.12)
                (None, Some(_)) => prop_assert!(
                    matches!(
                        parse_entry(&s),
                        Err(IpEntryError::PrefixLeadingZero(_) | IpEntryError::LeadingZeroOctet(_))
                    ),
                    "input {:?}: {:?}", s, parse_entry(&s)
                ),
                (None, None) => {}
            }
        }

        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse_entry(&s);
            let _ = parse_client_ip(&s);
            let _ = Excerpt::new(&s).to_string();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Lists large enough to get an index.
        #[test]
        fn indexed_contains_agrees(
            list4 in prop::collection::vec((any::<u32>(), 16u8..=32), 256..1500),
            list6 in prop::collection::vec((any::<u64>(), 16u8..=64), 256..600),
            extra in prop::collection::vec(any::<u128>(), 0..64),
        ) {
            let mut list: Vec<IpNet> = list4
                .iter()
                .map(|&(a, l)| IpNet::V4(Ipv4Net::new(a.into(), l).unwrap().trunc()))
                .collect();
            list.extend(list6.iter().map(|&(a, l)| {
                IpNet::V6(Ipv6Net::new((u128::from(a) << 64).into(), l).unwrap().trunc())
            }));
            let set: IpSet = list.iter().copied().collect();
            prop_assert!(!set.v4_index_bytes().is_empty() || set.v4_ranges() < 256);
            assert_canonical_ranges(&set);
            let indexed = IpSet::from_static_with_index(
                leak(set.v4_bytes()),
                leak(set.v6_bytes()),
                leak(set.v4_index_bytes()),
                leak(set.v6_index_bytes()),
            )
            .unwrap();
            // boundaries of every 16th net (the linear reference is slow in debug builds)
            let sampled: Vec<IpNet> = list.iter().step_by(16).copied().collect();
            for p in probes(&sampled, &extra) {
                let want = naive_contains(&list, p);
                prop_assert_eq!(set.contains(p), want, "probe {}", p);
                prop_assert_eq!(indexed.contains(p), want, "probe {} (loaded)", p);
            }
        }
    }

    /// 1M random /24-/32 nets against a BTreeMap range query (start -> largest end), a few thousand lookups.
    ///
    /// A /24-/32 net never leaves its /24 block, so the reference only records (and the queries only hit) the
    /// blocks whose number is a multiple of 16: spread over the whole space, but 16 times fewer BTreeMap
    /// inserts, which keeps the test near 1 s in a debug build (most of it is sorting the 1M ranges).
    #[test]
    fn million_ranges_against_btreemap() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let selected = |ip: u32| (ip >> 8) % 16 == 0;
        let mut builder = IpSetBuilder::default();
        let mut reference: BTreeMap<u32, u32> = BTreeMap::new();
        let mut samples: Vec<(u32, u32)> = Vec::new();
        for _ in 0..1_000_000u32 {
            let r = next();
            let len = 24 + (r % 9) as u8;
            let net = Ipv4Net::new(Ipv4Addr::from((r >> 32) as u32), len)
                .unwrap()
                .trunc();
            let (s, e) = (u32::from(net.network()), u32::from(net.broadcast()));
            builder.insert(IpNet::V4(net));
            if selected(s) {
                let end = reference.entry(s).or_insert(e);
                *end = (*end).max(e);
                if samples.len() < 1000 {
                    samples.push((s, e));
                }
            }
        }
        let set = builder.build();
        assert!(set.v4_ranges() > 900_000, "{}", set.v4_ranges());
        assert_eq!(
            set.v4_index_bytes().len(),
            ((1 << 16) + 1) * INDEX_ENTRY_LEN
        );
        // a net containing `ip` starts at most 255 addresses below it
        let in_reference = |ip: u32| {
            reference
                .range(ip.saturating_sub(255)..=ip)
                .any(|(_, &e)| e >= ip)
        };
        let mut queries: Vec<u32> = (0..2000).map(|_| (next() >> 32) as u32 & !0xf00).collect();
        for (s, e) in samples {
            queries.extend([s.wrapping_sub(1), s, e, e.wrapping_add(1)]);
        }
        queries.retain(|&q| selected(q));
        assert!(queries.len() > 4000, "{}", queries.len());
        let mut hits = 0;
        for q in queries {
            let want = in_reference(q);
            hits += usize::from(want);
            assert_eq!(set.contains_v4(q), want, "{}", Ipv4Addr::from(q));
            assert_eq!(
                set.contains(IpAddr::V4(q.into())),
                want,
                "{}",
                Ipv4Addr::from(q)
            );
        }
        assert!(hits >= 2000, "{hits}");
    }
}
