// Generates the inputs of the end-to-end race (scripts/race.sh) into one directory (default target/bench/race):
//
//   policy.json        the edge-access policy: the micro benchmarks' reference policy (benches/workload/mod.rs:
//                      100k CIDRs in three lists, 50 origins, 20 rules) plus an ES256 issuer with a bundled JWKS
//                      and one rule requiring its token on the API
//   jose/data.json     the same lists, origins, countries and public key, for the jose Worker to import
//   requests.lua       the benchmark requests for wrk, each with a freshly minted token (rewritten on every run)
//   expect.json        what the upstream must see, for a spot check
//
// The IP lists, origins and client addresses come from the same fixed-seed xorshift generator as
// benches/workload/mod.rs (ported here with BigInt), so the race and the micro benchmarks use the same prefixes.
// policy.json and jose/data.json are rewritten only when their content changes, so an unchanged policy does not
// rebuild the Worker (build.rs watches the file's mtime).
//
// Usage: node bench/gen.mjs [--out DIR] [--tokens N] [--sample-allowed X] [--no-token]
//   --tokens N          distinct tokens in the request rotation (default 64; edge-access caches up to 1024
//                       verified tokens per isolate, so N > 1024 makes every edge-access request verify a signature)
//   --sample-allowed X  the policy's logging.sample_allowed (default 0.01, the format's default: 1 allowed request
//                       in 100 logs a JSON line; 1 logs every one)
//   --no-token          a variant for finding where time goes: no issuer, no api-token rule, requests without
//                       tokens (the reference policy of the micro benchmarks as it is)
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importJWK, SignJWT } from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: resolve(here, '..', 'target', 'bench', 'race') },
    tokens: { type: 'string', default: '64' },
    'sample-allowed': { type: 'string', default: '0.01' },
    'no-token': { type: 'boolean', default: false },
  },
});
const out = resolve(opts.out);
const tokenCount = Number(opts.tokens);
const sampleAllowed = Number(opts['sample-allowed']);
const withToken = !opts['no-token'];
if (!Number.isInteger(tokenCount) || tokenCount < 1) throw new Error('--tokens must be a positive integer');
if (!(sampleAllowed >= 0 && sampleAllowed <= 1)) throw new Error('--sample-allowed must be in [0, 1]');

// --- xorshift64, as benches/workload/mod.rs -------------------------------------------------------------------
const M64 = (1n << 64n) - 1n;
class XorShift {
  constructor(seed) {
    this.s = ((BigInt(seed) * 0x9e3779b97f4a7c15n) & M64) | 1n;
  }
  nextU64() {
    let x = this.s;
    x ^= (x << 13n) & M64;
    x ^= x >> 7n;
    x ^= (x << 17n) & M64;
    this.s = x;
    return x;
  }
  nextU32() {
    return Number(this.nextU64() >> 32n);
  }
  nextU128() {
    const hi = this.nextU64();
    return (hi << 64n) | this.nextU64();
  }
  below(n) {
    return Number(this.nextU64() % BigInt(n));
  }
  coin() {
    return (this.nextU64() & (1n << 40n)) !== 0n;
  }
}

function trailingZeros64(x) {
  if (x === 0n) return 64;
  let n = 0;
  while ((x & 1n) === 0n) {
    x >>= 1n;
    n++;
  }
  return n;
}

// A prefix is { v: 4|6, addr: BigInt (network), len }.
function v4Prefix(rng) {
  const len = 32 - Math.min(trailingZeros64(rng.nextU64()), 24);
  const addr = BigInt(rng.nextU32());
  const mask = len === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - len)) - 1n);
  return { v: 4, addr: addr & mask, len };
}
const M128 = (1n << 128n) - 1n;
function randomV6Unicast(rng) {
  return (0x2000n << 112n) | (rng.nextU128() >> 3n);
}
function v6Prefix(rng) {
  const len = 32 + rng.below(97);
  const addr = randomV6Unicast(rng);
  const mask = M128 ^ ((1n << BigInt(128 - len)) - 1n);
  return { v: 6, addr: addr & mask, len };
}

function v4String(a) {
  const n = Number(a);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
// RFC 5952: lower-case hex, no leading zeros, the longest run (>= 2) of zero groups compressed, the first if tied.
function v6String(a) {
  const g = [];
  for (let i = 7; i >= 0; i--) g.push(Number((a >> BigInt(16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs) => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}
const prefixString = (p) => `${p.v === 4 ? v4String(p.addr) : v6String(p.addr)}/${p.len}`;

// REALISTIC_LISTS: (name, v4 prefixes, v6 prefixes), 100 000 in all.
const LISTS = [
  ['blocklist', 64_000, 16_000],
  ['cloud', 15_000, 4_990],
  ['office', 8, 2],
];
function realisticList(i) {
  const [, v4, v6] = LISTS[i];
  const rng = new XorShift(0xb00000 + i);
  const nets = [];
  for (let k = 0; k < v4; k++) nets.push(v4Prefix(rng));
  for (let k = 0; k < v6; k++) nets.push(v6Prefix(rng));
  return nets;
}
const prefixes = LISTS.map((_, i) => realisticList(i));

function originEntries() {
  const out = [
    'https://app.example.com',
    'https://www.example.com',
    'https://admin.example.com',
    'http://localhost:3000',
    'http://localhost:8080',
  ];
  for (let i = 0; i < 30; i++) out.push(`https://app${i}.customer${i}.com`);
  for (let i = 0; i < 14; i++) out.push(`https://*.tenant${i}.example.org`);
  out.push('https://*.preview.example.com:8443');
  return out;
}
const origins = originEntries();

// --- the policy ---------------------------------------------------------------------------------------------
const ISSUER = 'https://auth.race.example/';
const AUDIENCE = 'api://edge';
const SCOPE = 'orders:read';
const privateJwk = JSON.parse(readFileSync(join(here, 'fixtures', 'TEST-ONLY-race-es256.private.jwk.json'), 'utf8'));
const { d: _private, ...publicJwk } = privateJwk;

const ipLists = Object.fromEntries(LISTS.map(([name], i) => [name, prefixes[i].map(prefixString)]));
const countryLists = {
  sanctioned: ['CU', 'IR', 'KP', 'SY', 'BY'],
  eu: ['AT', 'BE', 'DE', 'DK', 'ES', 'FI', 'FR', 'IE', 'IT', 'NL', 'PL', 'PT', 'SE'],
};
const rules = [
  { id: 'health', action: 'allow',
    when: { all: [{ path_is: ['/health', '/ready'] }, { method_is: ['GET', 'HEAD'] }] } },
  { id: 'blocklist', action: 'deny', when: { client_ip_in: 'blocklist' } },
  { id: 'sanctioned-countries', action: 'deny', when: { country_in: 'sanctioned' }, code: 'geo_blocked' },
  { id: 'cloud-report', action: 'deny', when: { client_ip_in: 'cloud' }, report_only: true },
  { id: 'no-trace', action: 'deny', when: { method_is: ['TRACE', 'CONNECT'] } },
  { id: 'admin-from-office', action: 'require', when: { path_under: ['/admin', '/internal'] },
    require: { client_ip_in: 'office' }, status: 404 },
  { id: 'browser-origins', action: 'require', when: { has_origin: true }, require: { origin_in: 'our_apps' } },
  { id: 'no-dotfiles', action: 'deny', when: { path_matches: ['/**/.git/**', '/**/.env'] }, status: 404 },
  { id: 'legacy-api-gone', action: 'deny',
    when: { all: [{ host_is: ['api.example.com'] }, { path_under: ['/v0'] }] }, status: 404 },
  { id: 'writes-need-origin-or-office', action: 'require',
    when: { all: [{ method_is: ['POST', 'PUT', 'PATCH', 'DELETE'] }, { path_under: ['/v1'] }] },
    require: { any: [{ has_origin: true }, { client_ip_in: 'office' }] } },
  { id: 'uploads-eu-only', action: 'require', when: { path_under: ['/v1/uploads'] },
    require: { country_in: 'eu' }, code: 'region_denied' },
  { id: 'partner-export', action: 'require', when: { path_matches: ['/v1/*/export'] },
    require: { any: [{ client_ip_in: 'office' }, { origin_in: 'our_apps' }] } },
  { id: 'static', action: 'allow',
    when: { all: [{ host_is: ['static.example.com', '*.cdn.example.com'] }, { method_is: ['GET', 'HEAD'] }] } },
  { id: 'webhooks', action: 'allow',
    when: { all: [{ host_is: ['hooks.example.com'] }, { path_is: ['/stripe', '/github'] }, { method_is: ['POST'] }] } },
  { id: 'staging-office-only', action: 'require', when: { host_is: ['*.staging.example.com'] },
    require: { client_ip_in: 'office' }, status: 404 },
  { id: 'no-wordpress', action: 'deny',
    when: { path_matches: ['/wp-admin/**', '/wp-login.php', '/xmlrpc.php'] }, status: 404 },
  { id: 'docs', action: 'allow',
    when: { all: [{ host_is: ['docs.example.com'] }, { method_is: ['GET', 'HEAD'] }] } },
  { id: 'api-methods', action: 'deny',
    when: { all: [{ host_is: ['api.example.com'] },
      { not: { method_is: ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] } }] } },
  { id: 'graphql', action: 'allow',
    when: { all: [{ host_is: ['api.example.com'] }, { path_is: ['/graphql'] }, { method_is: ['GET', 'POST'] }] } },
  // The one rule added to the reference policy: the API needs a valid token carrying the orders:read scope.
  withToken && { id: 'api-token', action: 'require',
    when: { all: [{ host_is: ['api.example.com'] }, { path_under: ['/v1'] }] },
    require: { token: { issuer: 'race', claims: [{ claim: 'scope', has_all: [SCOPE] }] } } },
  { id: 'api-v1', action: 'allow',
    when: { all: [{ host_is: ['api.example.com'] }, { path_under: ['/v1'] }] } },
].filter(Boolean);
const policy = {
  version: 1,
  ip_lists: ipLists,
  origin_lists: { our_apps: origins },
  country_lists: countryLists,
  issuers: withToken
    ? {
        race: {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          algorithms: ['ES256'],
          jwks: { keys: [publicJwk] },
          forward_claims: { sub: 'X-Auth-Subject' },
        },
      }
    : {},
  logging: { sample_allowed: sampleAllowed },
  rules,
  default: { action: 'deny', status: 404, code: 'not_routed' },
};

// --- the jose Worker's data: the same lists, origins, countries, issuer and key ------------------------------
const joseData = {
  ip_lists: ipLists,
  origins,
  countries: countryLists,
  issuer: withToken ? { issuer: ISSUER, audience: AUDIENCE, scope: SCOPE, leeway: 60, jwk: publicJwk } : null,
  logging: { sample_allowed: sampleAllowed },
};

// --- the benchmark requests: late_allow of the micro benchmarks (GET flavour) plus a token --------------------
// Client addresses in no list: a quarter IPv6, the rest IPv4, as benches/workload/mod.rs draws them. Membership is
// checked here with a plain sorted-range search over the same prefixes.
function rangesOf(nets) {
  const r = nets.map((p) => {
    const bits = p.v === 4 ? 32n : 128n;
    const size = 1n << (bits - BigInt(p.len));
    return [p.v, p.addr, p.addr + size - 1n];
  });
  return r;
}
const allRanges = prefixes.flatMap(rangesOf);
const listed = (v, a) => allRanges.some(([rv, lo, hi]) => rv === v && a >= lo && a <= hi);
const rng = new XorShift(0xe00000);
function unlisted() {
  for (;;) {
    const v6 = rng.below(4) === 0;
    const a = v6 ? randomV6Unicast(rng) : BigInt(rng.nextU32());
    if (!listed(v6 ? 6 : 4, a)) return v6 ? v6String(a) : v4String(a);
  }
}
const exactEntries = origins.filter((o) => !o.includes('*'));
const REQUESTS = 64;
const exact = Array.from({ length: REQUESTS }, (_, i) => exactEntries[(i * 7) % exactEntries.length]);
const wildcard = Array.from({ length: REQUESTS }, (_, i) =>
  i % 8 === 7 ? `https://pr-${i}.preview.example.com:8443` : `https://u${i}.eu.tenant${i % 14}.example.org`);
const base = Array.from({ length: REQUESTS }, (_, i) => ({
  path: `/v1/orders/${1000 + i}/items`,
  origin: i % 2 === 0 ? exact[i] : wildcard[i],
  ip: unlisted(),
}));

const key = await importJWK(privateJwk, 'ES256');
const now = Math.floor(Date.now() / 1000);
const count = withToken ? Math.max(tokenCount, REQUESTS) : REQUESTS;
const requests = [];
for (let i = 0; i < count; i++) {
  const b = base[i % REQUESTS];
  const t = i % tokenCount;
  const token = await new SignJWT({ scope: `${SCOPE} orders:write` })
    .setProtectedHeader({ alg: 'ES256', kid: privateJwk.kid, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(`user-${t}`)
    .setIssuedAt(now)
    .setExpirationTime(now + 3 * 3600)
    .sign(key);
  requests.push(withToken ? { ...b, token, sub: `user-${t}` } : b);
}

// --- write ----------------------------------------------------------------------------------------------------
function writeIfChanged(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  writeFileSync(path, text);
  return true;
}
const lua = (s) => JSON.stringify(s); // JSON string escapes are valid Lua for this ASCII content
const luaText =
  '-- generated by bench/gen.mjs: the race requests (host api.example.com)\nreturn {\n' +
  requests
    .map((r) => `  { path = ${lua(r.path)}, origin = ${lua(r.origin)}, ip = ${lua(r.ip)}${r.token ? `, token = ${lua(r.token)}` : ''} },`)
    .join('\n') +
  '\n}\n';
const changed = writeIfChanged(join(out, 'policy.json'), JSON.stringify(policy));
writeIfChanged(join(out, 'jose', 'data.json'), JSON.stringify(joseData));
writeFileSync(join(out, 'requests.lua'), luaText);
writeFileSync(join(out, 'expect.json'), JSON.stringify({ first: requests[0] }, null, 2));
const v4 = prefixes.flat().filter((p) => p.v === 4).length;
console.log(
  `gen: ${out}: policy ${changed ? 'written' : 'unchanged'} (${v4} v4 + ${prefixes.flat().length - v4} v6 prefixes, ` +
    `${origins.length} origins, ${rules.length} rules, sample_allowed ${sampleAllowed}); ` +
    `${requests.length} requests, ${withToken ? `${tokenCount} distinct tokens` : 'no tokens (--no-token)'}`,
);
